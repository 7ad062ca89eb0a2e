"""The conformance suite's response check (oeskit.conformance.contract.check_response, through
openapi-core): status, content type, headers and body with formats. No server: responses are
built from the contract's own examples and then broken one way each."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from oeskit import spec
from oeskit.conformance.contract import check_response

V2 = "/api/network/v2/enterprises/ent-exchange/partners/settlements"
JSON = {"content-type": "application/json"}


def staged_example() -> dict[str, Any]:
    """The 200 example of the v2 staging route (test_spec proves it matches its schema)."""
    _, _, operation = spec.operation(spec.contract(), "v2PartnerSettlementsPostRoute")
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    return copy.deepcopy(example)


def check_staged(settlement_change: dict[str, Any]) -> list[str]:
    body = staged_example()
    body["settlement"].update(settlement_change)
    return check_response("POST", V2, 200, json.dumps(body).encode(), JSON)


def test_documented_response_passes() -> None:
    """The contract's own example, as a 200 with a JSON content type, has no problem."""
    assert check_staged({}) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"id": "not-a-uuid"}, "settlement/id: 'not-a-uuid' is not a 'uuid'"),
        (
            {"createdAt": "2026-02-30T00:00:00Z"},
            "settlement/createdAt: '2026-02-30T00:00:00Z' is not a 'date-time'",
        ),
        ({"externalId": None}, "settlement/externalId: None for not nullable"),
    ],
    ids=["id-not-uuid", "impossible-date-time", "null-not-nullable"],
)
def test_body_breaking_a_format_or_nullable_is_a_problem(
    change: dict[str, Any], expected: str
) -> None:
    """A body whose field breaks its `format` (uuid, date-time) or is null where the contract
    does not allow null is reported at that field."""
    assert f"response breaks the schema at {expected}" in check_staged(change)


def test_undocumented_content_type_is_a_problem() -> None:
    """A JSON body labelled text/html breaks the documented media type."""
    body = json.dumps(staged_example()).encode()
    problems = check_response("POST", V2, 200, body, {"content-type": "text/html"})
    assert problems == [
        "content type 'text/html' is not documented for this status (documented: application/json)"
    ]


def test_body_that_is_not_json_is_a_problem() -> None:
    """A documented JSON response whose body does not parse is reported as such."""
    assert check_response("POST", V2, 200, b"<html>", JSON) == ["response body is not JSON"]


def test_header_breaking_its_schema_is_a_problem() -> None:
    """A 503's Retry-After must be an integer of at least 1 (the contract's header schema)."""
    error = json.dumps({"error": "busy", "rule": "OES-SRV-002"}).encode()
    problems = check_response("POST", V2, 503, error, {**JSON, "Retry-After": "0"})
    assert problems == ["response header Retry-After: 0 is less than the minimum of 1"]
    assert check_response("POST", V2, 503, error, {**JSON, "Retry-After": "1"}) == []


def test_undocumented_status_is_a_problem() -> None:
    """A status the operation does not document is named with the documented ones."""
    (problem,) = check_response("POST", V2, 418, b"{}", JSON)
    assert problem.startswith("status 418 is not documented for v2PartnerSettlementsPostRoute")


def test_unknown_route_is_checked_against_not_found() -> None:
    """A route outside the contract must answer 404 with the NotFound body (rule required)."""
    good = json.dumps({"error": "no such route", "rule": "OES-REQ-005"}).encode()
    assert check_response("GET", "/nope", 404, good, JSON) == []
    assert check_response("GET", "/nope", 404, b'{"error": "x"}', JSON) == [
        'response breaks the schema at (root): "rule" is a required property'
    ]
    assert check_response("GET", "/nope", 200, good, JSON) == [
        "GET /nope is no route: status 200 is not the documented 404"
    ]


def test_control_plane_is_not_checked() -> None:
    """/sandbox/ routes are test tooling, not the contract: nothing is reported."""
    assert check_response("GET", "/sandbox/anything", 418, b"", {}) == []
