"""Property tests of oeskit.signing: round trips and payload binding over arbitrary fields."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oeskit import signing

# Hypothesis' default text excludes surrogates, which is what a UTF-8 request body can carry.
text = st.text(max_size=40)
amount = st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,8})?", fullmatch=True)
settlement_amounts = st.dictionaries(
    keys=text, values=st.dictionaries(keys=text, values=amount, max_size=4), max_size=4
)


@st.composite
def request_fields(draw: st.DrawFn) -> dict[str, object]:
    """Signed fields with the optional ones sometimes absent."""
    fields: dict[str, object] = {
        "externalId": draw(text),
        "settlementAmounts": draw(settlement_amounts),
        "nonce": draw(text),
    }
    if draw(st.booleans()):
        fields["notes"] = draw(text)
    if draw(st.booleans()):
        fields["cutoffAt"] = draw(text)
    return fields


@pytest.fixture(scope="module", params=signing.SCHEMES)
def key(request: pytest.FixtureRequest) -> signing.SigningKey:
    """One generated key per scheme."""
    return signing.generate(request.param)


@settings(max_examples=60, deadline=None)
@given(fields=request_fields())
def test_sign_body_round_trip(key: signing.SigningKey, fields: dict[str, object]) -> None:
    """A signed body verifies with its key and its payload binds to its fields."""
    body = signing.sign_body(fields, key)
    payload, signature = body["payload"], body["signature"]
    assert isinstance(payload, str) and isinstance(signature, str)
    assert signing.verify(payload, signature, key)
    assert signing.verify_any(payload, signature, [key]) == key
    assert signing.payload_mismatches(signing.parse_payload(payload), body) == []


@settings(max_examples=60, deadline=None)
@given(fields=request_fields(), extra=st.text(min_size=1, max_size=5))
def test_tampered_payload_fails(
    key: signing.SigningKey, fields: dict[str, object], extra: str
) -> None:
    """Any change to the signed payload string makes verification fail."""
    body = signing.sign_body(fields, key)
    payload, signature = str(body["payload"]), str(body["signature"])
    assert not signing.verify(payload + extra, signature, key)


@given(fields=request_fields())
def test_canonical_payload_parses_back_to_fields(fields: dict[str, object]) -> None:
    """The canonical payload is JSON whose signed fields equal the input."""
    assert json.loads(signing.canonical_payload(fields)) == fields


@given(fields=request_fields())
def test_canonical_payload_is_compact(fields: dict[str, object]) -> None:
    """The canonical payload equals Python's compact, non-ASCII-preserving dump in that order."""
    ordered = {name: fields[name] for name in signing.SIGNED_FIELDS if name in fields}
    expected = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
    # The two agree except for JavaScript's integer-key ordering, so skip those objects.
    amounts = fields["settlementAmounts"]
    assert isinstance(amounts, dict)
    keys = list(amounts) + [k for inner in amounts.values() for k in inner]
    if not any(k.isdecimal() for k in keys):
        assert signing.canonical_payload(fields) == expected


@st.composite
def fields_and_changed_field(
    draw: st.DrawFn,
) -> tuple[dict[str, object], dict[str, object], str]:
    """Fields, a copy with exactly one signed field changed (or added/removed), and its name."""
    fields = draw(request_fields())
    name = draw(st.sampled_from(signing.SIGNED_FIELDS))
    changed = dict(fields)
    action = draw(st.sampled_from(["replace", "toggle"]))
    if action == "toggle" and name in ("notes", "cutoffAt"):
        if name in changed:
            del changed[name]
        else:
            changed[name] = draw(text)
    elif name == "settlementAmounts":
        changed[name] = draw(settlement_amounts.filter(lambda v: v != fields[name]))
    else:
        changed[name] = draw(text.filter(lambda v: v != fields.get(name)))
    return fields, changed, name


@given(case=fields_and_changed_field())
def test_single_field_change_is_a_mismatch(
    case: tuple[dict[str, object], dict[str, object], str],
) -> None:
    """Changing any one signed field in the body is reported as exactly that field."""
    fields, changed, name = case
    payload = signing.parse_payload(signing.canonical_payload(fields))
    assert signing.payload_mismatches(payload, changed) == [name]
