"""The statuses the server answers before any handler runs (the body limit, the media type)
are the ones the contract documents for each operation (issue #18 item 11: the signing routes
answered 413 and 415, and a GET with a huge body 413, undocumented)."""

from __future__ import annotations

import pytest

from oeskit import spec
from tests.api.conftest import SandboxFactory

pytestmark = pytest.mark.anyio
BEARER = {"Authorization": "Bearer demo-exchange-token"}
DOCUMENT = spec.contract()


def _rule(rule_id: str) -> dict[str, object]:
    return next(r for r in spec.rules_catalogue(DOCUMENT) if r["id"] == rule_id)


def _route(operation_id: str) -> tuple[str, str]:
    path, method, _ = spec.operation(DOCUMENT, operation_id)
    for name, value in (
        ("{enterpriseId}", "ent-exchange"),
        ("{settlementId}", "4b44a80b-871e-48fe-a8d3-331463871ce7"),
    ):
        path = path.replace(name, value)
    return method.upper(), path


def _documents(operation_id: str, status: int) -> bool:
    _, _, operation = spec.operation(DOCUMENT, operation_id)
    return str(status) in operation["responses"]


@pytest.mark.parametrize("rule_id", ["OES-REQ-003", "OES-REQ-007"])
def test_body_rules_cover_every_operation(rule_id: str) -> None:
    """The body limit and the body timeout apply to every operation, and each documents them."""
    rule = _rule(rule_id)
    every = [op["operationId"] for _, _, op in _operations()]
    assert rule["appliesTo"] == "every-operation"
    assert rule["operations"] == every
    assert all(_documents(op, int(str(rule["status"]))) for op in every)


def _operations() -> list[tuple[str, str, dict[str, object]]]:
    return [
        (path, method, op)
        for path, item in DOCUMENT["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


async def test_every_operation_answers_413_as_documented(make_sandbox: SandboxFactory) -> None:
    """A body over the limit is 413 OES-REQ-003 on every operation of the rule, a GET's
    included, and every one of them documents 413."""
    async with make_sandbox(body_limit=1024) as sb:
        for operation_id in _rule("OES-REQ-003")["operations"]:  # type: ignore[attr-defined]
            method, path = _route(operation_id)
            response = await sb.client.request(
                method,
                path,
                content=b"x" * 2048,
                headers={**BEARER, "Content-Type": "application/json"},
            )
            assert response.status_code == 413, (operation_id, response.text)
            assert response.json()["rule"] == "OES-REQ-003"
            assert _documents(operation_id, 413), operation_id


async def test_operations_with_a_body_answer_415_as_documented(
    make_sandbox: SandboxFactory,
) -> None:
    """A body that is not application/json is 415 OES-REQ-006 on each operation that takes a
    body (the v2 route, the signing POST and the two allocation updates), and each documents
    415."""
    async with make_sandbox() as sb:
        operations = _rule("OES-REQ-006")["operations"]
        assert operations == [
            "v2PartnerSettlementsPostRoute",
            "v1PartnerSettlementsSigningPostRoute",
            "v1PartnerAllocationsPutRoute",
            "V1PartnerDeallocationsPutRoute",
        ]
        for operation_id in operations:  # type: ignore[attr-defined]
            method, path = _route(operation_id)
            response = await sb.client.request(
                method, path, content=b"{}", headers={**BEARER, "Content-Type": "text/plain"}
            )
            assert response.status_code == 415, (operation_id, response.text)
            assert response.json()["rule"] == "OES-REQ-006"
            assert _documents(operation_id, 415), operation_id
