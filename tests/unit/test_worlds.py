"""The world format (World in sandbox.yaml), the world fixtures, and the control-plane spec."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import coincurve
import jinja2
import nacl.signing
import pytest
import yaml
from openapi_spec_validator import validate as validate_openapi

from oeskit import schemas, worlds
from oeskit import spec as oeskit_spec
from oeskit.worlds import WorldError, load_world_file, validate_world

ROOT = Path(__file__).resolve().parents[2]
WORLDS = ROOT / "fixtures" / "worlds"
SANDBOX_SPEC = ROOT / "src" / "oeskit" / "http" / "sandbox.yaml"
WORLD_FILES = sorted(WORLDS.glob("*.yaml"))
METHODS = ("get", "put", "post", "delete", "patch")

EXCHANGE = "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001"
VECTOR_PUBLIC_KEY = "02f341e35ada43ac4743e304751321fd3f3eee5eb48c01366233a823234ed5b1cc"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SANDBOX_SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return load_world_file(WORLDS / "demo.yaml")


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = spec["components"][section][name]
    return node


def _examples(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    if "example" in media:
        return [media["example"]]
    return [_deref(spec, e)["value"] for e in media.get("examples", {}).values()]


# ---- fixtures and examples validate ----------------------------------------------------------


def test_there_are_world_files() -> None:
    """fixtures/worlds holds at least demo.yaml and minimal.yaml."""
    assert {"demo.yaml", "minimal.yaml"} <= {p.name for p in WORLD_FILES}


@pytest.mark.parametrize("path", WORLD_FILES, ids=lambda p: p.stem)
def test_world_file_validates(path: Path) -> None:
    """Every world fixture passes the World schema and the reference checks."""
    world = load_world_file(path)
    assert world["partners"], "a world without partners cannot stage anything"


@pytest.mark.parametrize("path", WORLD_FILES, ids=lambda p: p.stem)
def test_world_private_keys_match_public_keys(path: Path) -> None:
    """Each test private key in a world derives the public key registered beside it."""
    for partner in load_world_file(path)["partners"]:
        for key in partner["signingKeys"]:
            if "privateKey" not in key:
                continue
            private = bytes.fromhex(key["privateKey"])
            if key["scheme"] == "ed25519":
                derived = nacl.signing.SigningKey(private).verify_key.encode().hex()
            else:
                derived = coincurve.PrivateKey(private).public_key.format(compressed=True).hex()
            assert derived == key["publicKey"], f"{partner['name']} {key.get('label')}"


def test_world_examples_in_sandbox_spec_validate(spec: dict[str, Any]) -> None:
    """The World examples of POST /world validate as worlds."""
    media = spec["paths"]["/world"]["post"]["requestBody"]["content"]["application/json"]
    examples = _examples(spec, media)
    assert len(examples) >= 2
    for example in examples:
        validate_world(example)


def test_sandbox_spec_is_valid_openapi(spec: dict[str, Any]) -> None:
    """sandbox.yaml is a valid OpenAPI 3.0.3 document."""
    assert spec["openapi"] == "3.0.3"
    validate_openapi(spec)


def test_sandbox_spec_survives_jinja_rendering() -> None:
    """connexion renders the spec through Jinja2; rendering must not change it."""
    text = SANDBOX_SPEC.read_text(encoding="utf-8")
    assert jinja2.Template(text, keep_trailing_newline=True).render() == text


def test_sandbox_operation_ids(spec: dict[str, Any]) -> None:
    """The control plane has exactly the documented operations."""
    assert {op["operationId"] for _, op in _operations(spec)} == {
        "sandboxReset",
        "sandboxLoadWorld",
        "sandboxListNamespaces",
        "sandboxDeleteNamespace",
        "sandboxGetClock",
        "sandboxSetClock",
        "sandboxListJobs",
        "sandboxRunJobs",
        "sandboxRaiseDispute",
        "sandboxRetractDispute",
        "sandboxCloseDispute",
        "sandboxAdjustBalance",
        "sandboxAddFault",
        "sandboxListFaults",
        "sandboxClearFaults",
        "sandboxOutbox",
        "sandboxRequests",
        "sandboxSign",
        "sandboxBitgoKey",
        "sandboxSetHosted",
        "sandboxConnect",
        "sandboxAllocate",
        "sandboxDeallocate",
        "sandboxPartnerCalls",
    }


def test_sandbox_spec_guarded_by_admin_token(spec: dict[str, Any]) -> None:
    """adminAuth (http bearer) applies to every operation, and every operation documents 401."""
    assert spec["security"] == [{"adminAuth": []}]
    scheme = spec["components"]["securitySchemes"]["adminAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for name, operation in _operations(spec):
        assert "security" not in operation, name
        assert "401" in operation["responses"], name


def _exchanges(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every request body and response media type of the spec, named for test ids."""
    for name, operation in _operations(spec):
        if "requestBody" in operation:
            yield f"{name} request", operation["requestBody"]["content"]["application/json"]
        for status, response in operation["responses"].items():
            for media in _deref(spec, response).get("content", {}).values():
                yield f"{name} {status}", media


def test_every_body_and_response_has_an_example(spec: dict[str, Any]) -> None:
    """Each request body and response of the control plane carries an example."""
    missing = [name for name, media in _exchanges(spec) if not _examples(spec, media)]
    assert missing == []


def test_every_example_matches_its_schema(spec: dict[str, Any]) -> None:
    """Each example validates against its schema (OpenAPI 3.0 semantics, formats checked)."""
    failures = []
    for name, media in _exchanges(spec):
        validator = schemas.compile(spec, media["schema"])
        for example in _examples(spec, media):
            failures += [f"{name}: {p.where}: {p.message}" for p in validator.problems(example)]
    assert failures == []


def test_sandbox_rules_catalogue(spec: dict[str, Any]) -> None:
    """x-oeskit-rules lists the nine sandbox rules, and error examples only use them."""
    rules = {rule["id"]: rule["status"] for rule in spec["x-oeskit-rules"]}
    assert rules == {
        "OES-SBX-001": 401,
        "OES-SBX-002": 400,
        "OES-SBX-003": 404,
        "OES-SBX-004": 409,
        "OES-SBX-005": 409,
        "OES-SBX-006": 400,
        "OES-SBX-007": 409,
        "OES-SBX-008": 502,
        "OES-SBX-009": 422,
    }
    assert all(rule["title"] for rule in spec["x-oeskit-rules"])
    # A write the database cannot take is the server's rule (the contract's OES-SRV-...).
    known = {**rules, **oeskit_spec.rule_statuses()}
    for name, response in spec["components"]["responses"].items():
        example = response["content"]["application/json"]["example"]
        status = {
            "BadRequest": 400,
            "Unauthorized": 401,
            "NotFound": 404,
            "Conflict": 409,
            "PartnerFailed": 502,
            "StorageUnavailable": 503,
        }[name]
        assert known[example["rule"]] == status, name


def test_world_objects_refuse_unknown_fields() -> None:
    """Every object of the World schema with fixed fields sets additionalProperties: false."""
    lax: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False:
                lax.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(worlds._world_schema(), "World")
    assert lax == []


# ---- bad worlds ------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets `a.b[0].c` style `path` to `value` (None deletes it)."""

    def mutate(world: dict[str, Any]) -> None:
        *parents, last = _split(path)
        node: Any = world
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.replace("]", "").split("."):
        name, *indexes = chunk.split("[")
        parts += [name, *(int(i) for i in indexes)]
    return parts


def _add_dispute(**overrides: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(world: dict[str, Any]) -> None:
        dispute = {**copy.deepcopy(world["disputes"][0]), **overrides}
        dispute["id"] = "00000000-0000-4000-8000-000000000099"
        dispute.pop("closure", None)
        world["disputes"].append(dispute)

    return mutate


BAD_WORLDS = [
    pytest.param(
        _set("partners[0].clientDisputeWindowMinutes", "abc"),
        "partners[0].clientDisputeWindowMinutes: 'abc' is not of type 'integer'",
        id="wrong-type-window",
    ),
    pytest.param(
        _set("enterprises[0].oesLicense", "yes"),
        "enterprises[0].oesLicense: 'yes' is not of type 'boolean'",
        id="wrong-type-license",
    ),
    pytest.param(
        _set("partners[0].tradingAcountId", "typo"),
        "partners[0].tradingAcountId: unknown field",
        id="unknown-field-partner",
    ),
    pytest.param(_set("planets", []), "planets: unknown field", id="unknown-field-top-level"),
    pytest.param(
        _set("connections[0].balances.ofcbtc.reserved", "0"),
        "connections[0].balances.ofcbtc.reserved: unknown field",
        id="unknown-field-balance",
    ),
    pytest.param(_set("partners[0].name", None), "partners[0].name: required", id="missing-field"),
    pytest.param(
        _set("partners[0].signingKeys", []),
        "partners[0].signingKeys: [] should be non-empty",
        id="no-signing-key",
    ),
    pytest.param(
        _set("partners[0].signingKeys[0].scheme", "rsa"),
        "partners[0].signingKeys[0].scheme: 'rsa' is not one of ['ed25519', 'bitcoin-message']",
        id="unknown-key-scheme",
    ),
    pytest.param(
        _set("partners[0].signingKeys[1].publicKey", "04abcdef"),
        "partners[0].signingKeys[1].publicKey: '04abcdef' does not match",
        id="bad-bitcoin-public-key",
    ),
    pytest.param(
        _set("partners[0].id", "exchange-1"),
        "partners[0].id: 'exchange-1' does not match",
        id="partner-id-not-uuid",
    ),
    pytest.param(
        _set("partners[0].currencies[0].bitgoCurrency", "btc"),
        "partners[0].currencies[0].bitgoCurrency: 'btc' does not match",
        id="bad-bitgo-currency",
    ),
    pytest.param(
        _set("partners[0].currencies[0].decimals", 31),
        "partners[0].currencies[0].decimals: 31 is greater than the maximum of 30",
        id="too-many-decimals",
    ),
    pytest.param(
        _set("partners[0].amountFormat", "cents"),
        "partners[0].amountFormat: 'cents' is not one of ['baseUnits', 'fullUnits']",
        id="bad-amount-format",
    ),
    pytest.param(
        _set("connections[0].balances.ofcbtc.available", "1.5"),
        "connections[0].balances.ofcbtc.available: '1.5' does not match",
        id="amount-decimal",
    ),
    pytest.param(
        _set("connections[0].balances.ofcbtc.available", "-1"),
        "connections[0].balances.ofcbtc.available: '-1' does not match",
        id="amount-negative",
    ),
    pytest.param(
        _set("partners[0].balances.ofcbtc", 100),
        "partners[0].balances.ofcbtc: 100 is not of type 'string'",
        id="amount-not-string",
    ),
    pytest.param(
        _set("settlements[0].transfers[0].quantity", "0"),
        "settlements[0].transfers[0].quantity: '0' does not match",
        id="amount-zero-transfer",
    ),
    pytest.param(
        _set("disputes[0].closure.adjustedTransfers.ofcbtc", "-3.5"),
        "disputes[0].closure.adjustedTransfers.ofcbtc: '-3.5' does not match",
        id="amount-bad-adjustment",
    ),
    pytest.param(
        _set("settlements[0].createdAt", "yesterday"),
        "settlements[0].createdAt: 'yesterday' does not match",
        id="bad-date-time",
    ),
    pytest.param(
        _set("settlements[0].cutoffAt", "2026-02-30T00:00:00Z"),
        "settlements[0].cutoffAt: '2026-02-30T00:00:00Z' is not a 'date-time'",
        id="impossible-date",
    ),
    pytest.param(
        _set("tokens[0].user", "user-nobody"),
        "tokens[0].user: unknown user 'user-nobody'",
        id="dangling-token-user",
    ),
    pytest.param(
        _set("users[0].enterprises[0]", "ent-nowhere"),
        "users[0].enterprises[0]: unknown enterprise 'ent-nowhere'",
        id="dangling-user-enterprise",
    ),
    pytest.param(
        _set("partners[0].enterpriseId", "ent-nowhere"),
        "partners[0].enterpriseId: unknown enterprise 'ent-nowhere'",
        id="dangling-partner-enterprise",
    ),
    pytest.param(
        _set("connections[0].partnerId", "00000000-0000-4000-8000-000000000001"),
        "connections[0].partnerId: unknown partner '00000000-0000-4000-8000-000000000001'",
        id="dangling-connection-partner",
    ),
    pytest.param(
        _set("connections[0].clientId", "client-nobody"),
        "connections[0].clientId: unknown client 'client-nobody'",
        id="dangling-connection-client",
    ),
    pytest.param(
        _set("disputes[0].settlementId", "00000000-0000-4000-8000-000000000002"),
        "disputes[0].settlementId: unknown settlement '00000000-0000-4000-8000-000000000002'",
        id="dangling-dispute-settlement",
    ),
    pytest.param(
        _set("disputes[0].connectionId", "00000000-0000-4000-8000-000000000003"),
        "disputes[0].connectionId: unknown connection '00000000-0000-4000-8000-000000000003'",
        id="dangling-dispute-connection",
    ),
    pytest.param(
        _set("disputes[0].connectionId", "68620590-8722-4d72-9abc-86634b871a09"),
        "disputes[0].connectionId: connection 68620590-8722-4d72-9abc-86634b871a09 is not a "
        f"connection of partner {EXCHANGE}",
        id="dispute-on-foreign-connection",
    ),
    pytest.param(
        _set(
            "settlements[0].transfers[0].destinationConnectionId",
            "d42fc7c5-207f-49ee-91d5-5f4ffa821036",
        ),
        "settlements[0].transfers[0].destinationConnectionId: connection "
        "d42fc7c5-207f-49ee-91d5-5f4ffa821036 is not a connection of partner",
        id="transfer-to-foreign-connection",
    ),
    pytest.param(
        _set("connections[1].id", "09684b38-49ed-4cf6-a28e-c3a459494c69"),
        "connections[1].id: duplicate '09684b38-49ed-4cf6-a28e-c3a459494c69' "
        "(also at connections[0].id)",
        id="duplicate-connection-id",
    ),
    pytest.param(
        _set("tokens[1].token", "demo-exchange-token"),
        "tokens[1].token: duplicate 'demo-exchange-token'",
        id="duplicate-token",
    ),
    pytest.param(
        _set("enterprises[1].id", "ent-exchange"),
        "enterprises[1].id: duplicate 'ent-exchange'",
        id="duplicate-enterprise-id",
    ),
    pytest.param(
        _set("partners[0].currencies[1].code", "BTC"),
        "partners[0].currencies[1].code: duplicate 'BTC'",
        id="duplicate-currency-code",
    ),
    pytest.param(
        _set("connections[1].networkAccountId", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        "connections[1].networkAccountId: duplicate",
        id="duplicate-network-account",
    ),
    pytest.param(
        _set("partners[1].enterpriseId", "ent-exchange"),
        "partners[1].enterpriseId: duplicate 'ent-exchange'",
        id="two-partners-one-enterprise",
    ),
    pytest.param(
        _set("connections[0].balances.ofcsol", {"available": "1", "held": "0"}),
        f"connections[0].balances.ofcsol: 'ofcsol' is not a currency of partner {EXCHANGE}",
        id="balance-in-unknown-currency",
    ),
    pytest.param(
        _set("settlements[0].transfers[0].currency", "ofcdoge"),
        "settlements[0].transfers[0].currency: 'ofcdoge' is not a currency of partner",
        id="transfer-in-unknown-currency",
    ),
    pytest.param(
        _set("settlements[0].status", "failed"),
        "settlements[0].reason: required when status is 'failed'",
        id="failed-without-reason",
    ),
    pytest.param(
        _add_dispute(), "disputes[1]: a second non-retracted dispute", id="second-open-dispute"
    ),
    pytest.param(
        _set("disputes[0].settledInSettlementId", "00000000-0000-4000-8000-000000000004"),
        "disputes[0].settledInSettlementId: unknown settlement",
        id="dangling-settled-in",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_WORLDS)
def test_bad_world_names_the_field(
    demo: dict[str, Any], mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    """A broken world raises WorldError whose message names the bad field and the problem."""
    world = copy.deepcopy(demo)
    mutate(world)
    with pytest.raises(WorldError) as caught:
        validate_world(world)
    assert expected in str(caught.value)


def test_retracted_disputes_do_not_count_as_a_second_dispute(demo: dict[str, Any]) -> None:
    """A retracted dispute may sit beside an open one on the same settlement and connection."""
    world = copy.deepcopy(demo)
    _add_dispute(retracted=True)(world)
    validate_world(world)


def test_world_error_is_a_value_error() -> None:
    """WorldError is a ValueError, so callers that only know ValueError still catch it."""
    assert issubclass(WorldError, ValueError)
    with pytest.raises(ValueError, match=r"^world: \[\] is not of type 'object'$"):
        validate_world([])


def test_world_error_lists_several_problems(demo: dict[str, Any]) -> None:
    """All problems of a world are reported at once, not only the first."""
    world = copy.deepcopy(demo)
    world["partners"][0]["name"] = 1
    world["connections"][0]["active"] = "yes"
    with pytest.raises(WorldError) as caught:
        validate_world(world)
    assert "partners[0].name" in str(caught.value)
    assert "connections[0].active" in str(caught.value)


# ---- what validate_world returns -------------------------------------------------------------


def test_validate_world_fills_defaults_without_mutating_input() -> None:
    """Absent lists become [] and schema defaults are filled in a copy; the input is untouched."""
    data: dict[str, Any] = {"enterprises": [{"id": "ent-a"}]}
    world = validate_world(data)
    assert world["enterprises"] == [{"id": "ent-a", "oesLicense": False}]
    assert world["partners"] == []
    assert world["disputes"] == []
    assert data == {"enterprises": [{"id": "ent-a"}]}


def test_validate_world_accepts_the_empty_world() -> None:
    """An empty world is valid: it is the state after a reset."""
    assert validate_world({})["connections"] == []


# ---- loading files ---------------------------------------------------------------------------


def test_load_world_file_reads_json(tmp_path: Path) -> None:
    """A .json world loads like its YAML twin."""
    data = yaml.safe_load((WORLDS / "minimal.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "minimal.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_world_file(path) == load_world_file(WORLDS / "minimal.yaml")


def test_load_world_file_keeps_unquoted_timestamps_as_strings(tmp_path: Path) -> None:
    """An unquoted YAML timestamp stays the string the schema expects, not a datetime."""
    path = tmp_path / "clock.yaml"
    path.write_text("clock: 2026-11-01T00:00:00Z\n", encoding="utf-8")
    assert load_world_file(path)["clock"] == "2026-11-01T00:00:00Z"


def test_load_world_file_answers_a_fresh_copy_and_sees_a_changed_file(tmp_path: Path) -> None:
    """Loading the same file again is answered from memory (by content): a caller changing its
    world does not change the next caller's, and a file rewritten in place is read anew."""
    path = tmp_path / "clock.yaml"
    path.write_text("clock: 2026-11-01T00:00:00Z\n", encoding="utf-8")
    first = load_world_file(path)
    first["clock"] = "changed by the caller"
    first["users"].append({"id": "added-by-the-caller"})
    again = load_world_file(path)
    assert (again["clock"], again["users"]) == ("2026-11-01T00:00:00Z", [])
    path.write_text("clock: 2026-12-01T00:00:00Z\n", encoding="utf-8")  # same size, new text
    assert load_world_file(path)["clock"] == "2026-12-01T00:00:00Z"


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        pytest.param(".yaml", "enterprises: []\nenterprises: []\n", id="yaml"),
        pytest.param(".json", '{"enterprises": [], "enterprises": []}', id="json"),
    ],
)
def test_load_world_file_refuses_duplicate_keys(tmp_path: Path, suffix: str, text: str) -> None:
    """A key written twice is an error, not a silent overwrite."""
    path = tmp_path / f"twice{suffix}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorldError, match="duplicate key 'enterprises'"):
        load_world_file(path)


def test_load_world_file_names_the_file(tmp_path: Path) -> None:
    """Errors from a file start with its name, then the field path."""
    path = tmp_path / "broken.yaml"
    path.write_text("tokens: [{token: abcdefgh, user: ghost, scopes: []}]\n", encoding="utf-8")
    with pytest.raises(
        WorldError, match=r"^broken\.yaml: tokens\[0\]\.user: unknown user 'ghost'$"
    ):
        load_world_file(path)


# ---- demo.yaml has what a demo needs ---------------------------------------------------------


def _partner(world: dict[str, Any], partner_id: str) -> dict[str, Any]:
    return next(p for p in world["partners"] if p["id"] == partner_id)


def _decimals(world: dict[str, Any], partner: dict[str, Any]) -> dict[str, int]:
    return {c["bitgoCurrency"]: c["decimals"] for c in partner["currencies"]}


def _exchange_connections(world: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in world["connections"] if c["partnerId"] == EXCHANGE]


def _token(world: dict[str, Any], token: str) -> dict[str, Any]:
    return next(t for t in world["tokens"] if t["token"] == token)


def _partner_of_token(world: dict[str, Any], token: str) -> dict[str, Any]:
    user = next(u for u in world["users"] if u["id"] == _token(world, token)["user"])
    return next(p for p in world["partners"] if p["enterpriseId"] in user["enterprises"])


def _closed_unassigned(world: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        d
        for d in world["disputes"]
        if d.get("closure", {}).get("status") == "approved" and "settledInSettlementId" not in d
    ]


BOTH_SCOPES = ["settlement_network_read", "settlement_network_write"]

DEMO_REQUIREMENTS: list[Any] = [
    pytest.param(
        lambda w: (
            _partner(w, EXCHANGE)["clientDisputeWindowMinutes"] == 60
            and _partner(w, EXCHANGE)["topUpWindowMinutes"] == 30
            and _partner(w, EXCHANGE)["amountFormat"] == "baseUnits"
            and not _partner(w, EXCHANGE)["broker"]
        ),
        id="exchange-partner-windows",
    ),
    pytest.param(
        lambda w: (
            {
                (c["code"], c["bitgoCurrency"], c["decimals"])
                for c in _partner(w, EXCHANGE)["currencies"]
            }
            >= {("BTC", "ofcbtc", 8), ("ETH", "ofceth", 18), ("USDC", "ofcusdc", 6)}
        ),
        id="exchange-currencies",
    ),
    pytest.param(
        lambda w: (
            {k["scheme"] for k in _partner(w, EXCHANGE)["signingKeys"] if "privateKey" in k}
            == {"ed25519", "bitcoin-message"}
        ),
        id="exchange-both-key-schemes",
    ),
    pytest.param(
        lambda w: any(
            k["publicKey"] == VECTOR_PUBLIC_KEY for k in _partner(w, EXCHANGE)["signingKeys"]
        ),
        id="exchange-test-vector-key",
    ),
    pytest.param(
        lambda w: any(
            p["broker"]
            and p["clientDisputeWindowMinutes"] is not None
            and p["amountFormat"] == "fullUnits"
            for p in w["partners"]
        ),
        id="broker-partner",
    ),
    pytest.param(
        lambda w: any(
            not e["oesLicense"] and any(p["enterpriseId"] == e["id"] for p in w["partners"])
            for e in w["enterprises"]
        ),
        id="unlicensed-enterprise-with-partner",
    ),
    pytest.param(lambda w: any(not p["active"] for p in w["partners"]), id="inactive-partner"),
    pytest.param(
        lambda w: any(p["clientDisputeWindowMinutes"] is None for p in w["partners"]),
        id="partner-without-disputes",
    ),
    pytest.param(lambda w: len(_exchange_connections(w)) >= 3, id="three-exchange-connections"),
    pytest.param(
        lambda w: any(
            len(c["balances"]) >= 3
            and any(_decimals(w, _partner(w, EXCHANGE))[k] == 18 for k in c["balances"])
            for c in _exchange_connections(w)
        ),
        id="balances-in-three-currencies",
    ),
    pytest.param(
        lambda w: any(
            0 < int(c["balances"].get("ofceth", {"available": "0"})["available"]) < 10**18
            for c in _exchange_connections(w)
        ),
        id="small-ofceth-balance",
    ),
    pytest.param(
        lambda w: int(_partner(w, EXCHANGE)["balances"]["ofcbtc"]) >= 10**10,
        id="exchange-well-funded",
    ),
    pytest.param(
        lambda w: any(
            s["status"] == "completed" and s["partnerId"] == EXCHANGE for s in w["settlements"]
        ),
        id="past-completed-settlement",
    ),
    pytest.param(
        lambda w: any(
            d["closure"]["closedBy"] == "admin"
            and any(int(v) < 0 for v in d["closure"]["adjustedTransfers"].values())
            for d in _closed_unassigned(w)
        ),
        id="closed-approved-unassigned-dispute",
    ),
    pytest.param(
        lambda w: (
            _token(w, "demo-exchange-token")["scopes"] == BOTH_SCOPES
            and _partner_of_token(w, "demo-exchange-token")["id"] == EXCHANGE
        ),
        id="token-exchange",
    ),
    pytest.param(
        lambda w: _token(w, "demo-readonly-token")["scopes"] == ["settlement_network_read"],
        id="token-readonly",
    ),
    pytest.param(lambda w: _partner_of_token(w, "demo-broker-token")["broker"], id="token-broker"),
    pytest.param(
        lambda w: (
            "ent-exchange"
            not in next(
                u for u in w["users"] if u["id"] == _token(w, "demo-outsider-token")["user"]
            )["enterprises"]
        ),
        id="token-outsider",
    ),
    pytest.param(
        lambda w: (
            not next(
                e
                for e in w["enterprises"]
                if e["id"] == _partner_of_token(w, "demo-unlicensed-token")["enterpriseId"]
            )["oesLicense"]
        ),
        id="token-unlicensed",
    ),
    pytest.param(
        lambda w: not _partner_of_token(w, "demo-inactive-token")["active"], id="token-inactive"
    ),
    pytest.param(
        lambda w: (
            _partner_of_token(w, "demo-nodispute-token")["clientDisputeWindowMinutes"] is None
        ),
        id="token-nodispute",
    ),
]


@pytest.mark.parametrize("requirement", DEMO_REQUIREMENTS)
def test_demo_world_has(
    demo: dict[str, Any], requirement: Callable[[dict[str, Any]], bool]
) -> None:
    """demo.yaml holds each entity a demo of the staging route needs (see the test id)."""
    assert requirement(demo)
