"""Generated requests (schemathesis, seeded and bounded) against the in-process app: no server
error, no undocumented status, every response matching its schema. A signing hook gives the v2
body a real signature and every request the exchange's token, so generated data gets past
authentication and the signature check to the business rules (and, often enough, to 200)."""

from __future__ import annotations

import collections
import contextlib
import copy
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from oeskit import signing, spec
from oeskit.clock import utcnow
from oeskit.http.app import create_app, open_store
from oeskit.store import world_loader
from oeskit.worlds import validate_world
from tests.api.conftest import GAMMA
from tests.conftest import ALPHA, BETA, EXCHANGE, Sandbox, make_settings, partner_key

STAGE_OPERATION = "v2PartnerSettlementsPostRoute"
OPERATIONS = sorted(
    operation["operationId"]
    for methods in spec.contract()["paths"].values()
    for operation in methods.values()
    if isinstance(operation, dict) and "operationId" in operation
)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
CONNECTIONS = (ALPHA, BETA, GAMMA)
MAX_EXAMPLES = 50


def with_uuid_client_ids(world: dict[str, Any]) -> dict[str, Any]:
    """The demo world with UUID client ids, as the contract's `clientId` format demands (the
    demo's own `client-alpha`... do not: see test_demo_client_ids_are_uuids)."""
    world = copy.deepcopy(world)
    ids = {c["id"]: str(uuid.uuid5(uuid.NAMESPACE_URL, c["id"])) for c in world["clients"]}
    for client in world["clients"]:
        client["id"] = ids[client["id"]]
    for connection in world["connections"]:
        connection["clientId"] = ids[connection["clientId"]]
    return world


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, demo_world: dict[str, Any]
) -> Iterator[tuple[Any, dict[str, Any], collections.Counter[int]]]:
    """The contract as the app serves it (/openapi.json), bound to a fresh demo sandbox."""
    settings = make_settings(Path(tmp_path_factory.mktemp("fuzz")))
    store = open_store(settings)
    world_loader.load_world(
        store, validate_world(with_uuid_client_ids(demo_world)), utcnow(), settings.clock
    )
    app = create_app(settings, store)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        operations[operation.definition.raw["operationId"]] = operation
    yield operations, demo_world, collections.Counter()
    store.close()


def _sign(case: Any, world: dict[str, Any]) -> None:
    """The signing hook: real connections for the outer keys, then a real signature."""
    body = case.body
    if not isinstance(body, dict):
        return
    fields = {k: v for k, v in body.items() if k not in ("payload", "signature")}
    amounts = fields.get("settlementAmounts")
    if isinstance(amounts, dict):
        fields["settlementAmounts"] = {
            conn: value
            for conn, value in zip(
                CONNECTIONS * (len(amounts) // len(CONNECTIONS) + 1), amounts.values(), strict=False
            )
        }
    with contextlib.suppress(TypeError, ValueError):  # not JSON-expressible: send it unsigned
        case.body = signing.sign_body(fields, partner_key(world, EXCHANGE))


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_generated_requests_conform(operation_id: str, api: Any) -> None:
    """Every generated request answers a documented status with a body matching its schema,
    and never a server error."""
    operations, world, statuses = api
    operation = operations[operation_id]
    seen: collections.Counter[int] = collections.Counter()

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def probe(case: Any) -> None:
        if case.path_parameters and "enterpriseId" in case.path_parameters:
            case.path_parameters["enterpriseId"] = "ent-exchange"
        if operation_id == STAGE_OPERATION:
            _sign(case, world)
        headers = {"Authorization": "Bearer demo-exchange-token"}
        response = case.call(headers=headers)
        seen[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    probe()
    statuses.update(seen)
    assert sum(seen.values()) > 0
    if operation_id == STAGE_OPERATION:
        assert seen[200] > 0, f"no generated staging reached 200: {dict(seen)}"


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.anyio
async def test_balances_route_conforms_with_named_clients(sandbox: Sandbox) -> None:
    """Worlds may name clients (`client-alpha`): the contract declares client ids as opaque
    strings, so the balances route answers 200 under response validation for them."""
    response = await sandbox.get("/api/network/v1/enterprises/ent-exchange/partners/balances")
    assert response.status_code == 200, response.text
    client_ids = {entry["clientId"] for entry in response.json()["networkBalances"].values()}
    assert "client-alpha" in client_ids and not all(UUID.fullmatch(c) for c in client_ids)
