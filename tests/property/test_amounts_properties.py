"""Property tests of oeskit.domain.amounts.parse_amount: the strict canonical grammar of
domain.md §3.4 (base units `-?digits`, full units `-?digits(.digits)?` within the currency's
decimals; zero, exponents, `+`, hex and whitespace refused)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from oeskit.domain import rules
from oeskit.domain.amounts import MAX_AMOUNT_LENGTH, parse_amount
from oeskit.errors import RuleViolation

FORMATS = st.sampled_from(["baseUnits", "fullUnits"])
DECIMALS = st.integers(min_value=0, max_value=18)
NON_ZERO = st.integers(min_value=-(10**40), max_value=10**40).filter(bool)
WHITESPACE = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\ufeff"])
FAST = settings(max_examples=150, deadline=None)


def parse(text: str, amount_format: str = "baseUnits", decimals: int = 8) -> int:
    return parse_amount(text, amount_format=amount_format, decimals=decimals, where="amount")


def rule_of(text: str, amount_format: str, decimals: int) -> str:
    with pytest.raises(RuleViolation) as caught:
        parse(text, amount_format, decimals)
    assert caught.value.message.startswith("amount: ")
    return caught.value.rule


@st.composite
def full_units(draw: st.DrawFn) -> tuple[str, int, int]:
    """(text, decimals, expected base units) for a decimal within the currency's decimals."""
    decimals = draw(DECIMALS)
    whole = draw(st.integers(min_value=0, max_value=10**30))
    digits = draw(st.integers(min_value=0, max_value=decimals))
    fraction = draw(st.text(alphabet="0123456789", min_size=digits, max_size=digits))
    negative = draw(st.booleans())
    text = ("-" if negative else "") + str(whole) + (f".{fraction}" if fraction else "")
    value = whole * 10**decimals + (
        int(fraction) * 10 ** (decimals - len(fraction)) if fraction else 0
    )
    return text, decimals, -value if negative else value


@st.composite
def valid_amounts(draw: st.DrawFn) -> tuple[str, str, int]:
    """(text, format, decimals) of an amount that parses (non-zero, in its format)."""
    if draw(st.booleans()):
        return str(draw(NON_ZERO)), "baseUnits", draw(DECIMALS)
    text, decimals, _ = draw(full_units().filter(lambda t: t[2] != 0))
    return text, "fullUnits", decimals


@FAST
@given(value=NON_ZERO, decimals=DECIMALS)
def test_canonical_base_units_round_trip(value: int, decimals: int) -> None:
    """Any non-zero integer, written canonically, parses back to itself in base units."""
    assert parse(str(value), "baseUnits", decimals) == value


@FAST
@given(case=full_units())
@example(case=("0.5", 8, 50_000_000))
@example(case=("-12.25", 6, -12_250_000))
@example(case=("1", 0, 1))
def test_full_units_scale_by_the_currency_decimals(case: tuple[str, int, int]) -> None:
    """A decimal with at most `decimals` fractional digits is its value times 10**decimals."""
    text, decimals, expected = case
    if expected == 0:
        assert rule_of(text, "fullUnits", decimals) == rules.AMT_ZERO
    else:
        assert parse(text, "fullUnits", decimals) == expected


@FAST
@given(case=full_units(), extra=st.text(alphabet="0123456789", min_size=1, max_size=5))
def test_trailing_zeros_do_not_change_a_full_unit_amount(
    case: tuple[str, int, int], extra: str
) -> None:
    """ "0.5" and "0.50" are the same amount when both fit the currency's decimals."""
    text, decimals, expected = case
    padded = text + ("" if "." in text else ".") + "0" * len(extra)
    if expected == 0 or len(padded.partition(".")[2]) > decimals:
        return
    assert parse(padded, "fullUnits", decimals) == expected


@FAST
@given(
    decimals=DECIMALS,
    whole=st.integers(min_value=0, max_value=10**6),
    fraction=st.text(alphabet="0123456789", min_size=1, max_size=30),
)
def test_too_many_decimals_is_refused(decimals: int, whole: int, fraction: str) -> None:
    """More fractional digits than the currency has is AMT-006 (even if they are zeros)."""
    if len(fraction) <= decimals:
        return
    assert rule_of(f"{whole}.{fraction}", "fullUnits", decimals) == rules.AMT_DECIMALS


@FAST
@given(decimals=DECIMALS, value=NON_ZERO)
def test_decimals_in_base_units_are_refused(decimals: int, value: int) -> None:
    """A base-units partner's amounts are integers: any '.' is AMT-004."""
    assert rule_of(f"{value}.0", "baseUnits", decimals) == rules.AMT_FORMAT


@st.composite
def mangled(draw: st.DrawFn) -> tuple[str, str, int]:
    """A valid amount spoiled by an exponent, a plus sign, hex or whitespace."""
    text, amount_format, decimals = draw(valid_amounts())
    how = draw(
        st.sampled_from(
            [
                "exponent",
                "plus",
                "hex",
                "space-before",
                "space-after",
                "space-inside",
                "non-ascii-digit",
            ]
        )
    )
    if how == "exponent":
        text += draw(st.sampled_from(["e3", "E3", "e-2", "e+1", "e0"]))
    elif how == "plus":
        text = "+" + text.lstrip("-")
    elif how == "hex":
        text = draw(st.sampled_from(["0x", "0X", "-0x"])) + draw(
            st.from_regex(r"[0-9a-fA-F]{1,8}", fullmatch=True)
        )
    elif how == "space-before":
        text = draw(WHITESPACE) + text
    elif how == "space-after":
        text = text + draw(WHITESPACE)
    elif how == "space-inside":
        cut = draw(st.integers(min_value=1, max_value=max(1, len(text) - 1)))
        text = text[:cut] + draw(WHITESPACE) + text[cut:]
    else:
        text = text + draw(st.sampled_from(["\u0661", "\u06f1", "\u0967", "\uff11", "\u00b2"]))
    return text, amount_format, decimals


@FAST
@given(case=mangled())
@example(case=("1e3", "baseUnits", 8))
@example(case=("+5", "baseUnits", 8))
@example(case=("0x1f", "baseUnits", 8))
@example(case=(" 12", "baseUnits", 8))
@example(case=("1e-3", "fullUnits", 8))
@example(case=(".5", "fullUnits", 8))
@example(case=("5.", "fullUnits", 8))
@example(case=("-", "baseUnits", 8))
@example(case=("", "fullUnits", 8))
@example(case=("NaN", "fullUnits", 8))
@example(case=("Infinity", "baseUnits", 8))
@example(case=("--5", "baseUnits", 8))
def test_non_canonical_numbers_are_refused(case: tuple[str, str, int]) -> None:
    """Exponents, '+', hex, whitespace and non-ASCII digits are AMT-004 in either format."""
    text, amount_format, decimals = case
    assert rule_of(text, amount_format, decimals) == rules.AMT_FORMAT


@st.composite
def zeros(draw: st.DrawFn) -> tuple[str, str, int]:
    """Zero in every spelling the grammar admits: signs, padding, zero fractions."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = "0" * draw(st.integers(min_value=1, max_value=6))
    if draw(st.booleans()):
        return sign + whole, "baseUnits", draw(DECIMALS)
    decimals = draw(DECIMALS)
    places = draw(st.integers(min_value=0, max_value=decimals))
    return sign + whole + ("." + "0" * places if places else ""), "fullUnits", decimals


@FAST
@given(case=zeros())
@example(case=("0", "baseUnits", 8))
@example(case=("-0", "baseUnits", 8))
@example(case=("0.000", "fullUnits", 8))
@example(case=("-0.0", "fullUnits", 18))
def test_zero_is_refused(case: tuple[str, str, int]) -> None:
    """Every spelling of zero is AMT-005: transfers are non-zero amounts."""
    text, amount_format, decimals = case
    assert rule_of(text, amount_format, decimals) == rules.AMT_ZERO


@FAST
@given(
    amount_format=FORMATS,
    length=st.integers(min_value=MAX_AMOUNT_LENGTH + 1, max_value=MAX_AMOUNT_LENGTH + 10_000),
)
def test_absurdly_long_numbers_are_refused_not_crashed(amount_format: str, length: int) -> None:
    """A number longer than any amount (Python's int() would refuse it) is AMT-004."""
    assert rule_of("9" * length, amount_format, 8) == rules.AMT_FORMAT


@FAST
@given(case=valid_amounts())
@example(case=("123456789012345678901234567890.123456789012345678", "fullUnits", 18))
def test_parsing_agrees_with_python_on_valid_amounts(case: tuple[str, str, int]) -> None:
    """Valid amounts parse to the same value Python's Decimal gives them, scaled."""
    text, amount_format, decimals = case
    scale = decimals if amount_format == "fullUnits" else 0
    with localcontext(prec=200):  # the default 28 digits would round 10**30-sized amounts
        expected = int(Decimal(text).scaleb(scale))
    assert parse(text, amount_format, decimals) == expected
