"""The operator's routes (http/operations.yaml): /healthz, /readyz and /metrics, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate as validate_openapi
from prometheus_client.parser import text_string_to_metric_families

from oeskit import schemas, spec
from oeskit.http.app import create_app, open_store
from oeskit.http.observe import RouteNames
from oeskit.store.sqlite import SqliteStore
from tests.conftest import ADMIN, ALPHA, Sandbox, make_settings

pytestmark = pytest.mark.anyio

STAGING_ROUTE = "/api/network/v2/enterprises/{enterpriseId}/partners/settlements"
ONE_ROUTE = "/api/network/v1/enterprises/{enterpriseId}/partners/settlements/{settlementId}"


def _schema(name: str) -> Any:
    document = spec.load(spec.operations_path())
    return schemas.compile(document, {"$ref": f"#/components/schemas/{name}"})


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, parsed by prometheus-client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, SqliteStore]]:
    settings = make_settings(tmp_path)
    store = open_store(settings)
    app = create_app(settings, store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as http:
        yield http, store
    store.close()


def test_operations_spec_is_valid_openapi() -> None:
    """operations.yaml is a valid OpenAPI 3.0.3 document."""
    document = spec.read(spec.operations_path())
    assert document["openapi"] == "3.0.3"
    validate_openapi(document)


async def test_healthz_answers_without_credentials(
    client: tuple[httpx.AsyncClient, SqliteStore],
) -> None:
    """GET /healthz is 200 {"status": "ok"} with no token, and HEAD has no body."""
    http, _ = client
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert _schema("Health").is_valid(response.json())
    head = await http.head("/healthz")
    assert head.status_code == 200 and head.content == b""


async def test_readyz_names_its_checks(client: tuple[httpx.AsyncClient, SqliteStore]) -> None:
    """GET /readyz is 200 when the database answers and the server's world is loaded."""
    http, _ = client
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "world": "loaded"}}
    assert _schema("Readiness").is_valid(response.json())


async def test_readyz_is_503_without_the_world(tmp_path: Path) -> None:
    """A server started with --world whose database is empty is not ready (503, world missing)."""
    settings = make_settings(tmp_path)
    store = SqliteStore(settings.db)  # migrated, but the world is never loaded
    app = create_app(settings, store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ops.test"
    ) as http:
        response = await http.get("/readyz")
    store.close()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "world": "missing"},
    }
    assert _schema("Readiness").is_valid(response.json())


async def test_readyz_is_503_when_the_database_fails(
    client: tuple[httpx.AsyncClient, SqliteStore],
) -> None:
    """A database that cannot be read makes the server unready, and the body names no cause."""
    http, store = client
    store.conn.close()
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unreachable"}}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_other_methods_are_405(
    client: tuple[httpx.AsyncClient, SqliteStore], path: str
) -> None:
    """POST on an operator route is refused 405 OES-REQ-005 with Allow: GET, HEAD."""
    http, _ = client
    response = await http.post(path, json={})
    assert response.status_code == 405
    assert response.json()["rule"] == "OES-REQ-005"
    assert response.headers["allow"] == "GET, HEAD"


async def test_operator_routes_are_not_namespaced(
    client: tuple[httpx.AsyncClient, SqliteStore],
) -> None:
    """/ns/{name}/healthz is an unknown path of that namespace (404 OES-REQ-004)."""
    http, _ = client
    response = await http.get("/ns/run-1/healthz")
    assert response.status_code == 404
    assert response.json()["rule"] == "OES-REQ-004"


async def test_metrics_count_routes_stagings_and_jobs(sandbox: Sandbox) -> None:
    """/metrics counts requests by templated route and status, stagings by outcome and rule,
    and jobs run; prometheus-client's parser reads it; no id, token or key is in it."""
    first = sandbox.sign(sandbox.fields())
    created = await sandbox.stage(first)
    assert created.status_code == 200
    assert (await sandbox.stage(first)).status_code == 200  # the replay
    changed = sandbox.sign({**sandbox.fields(), "externalId": first["externalId"], "notes": "x"})
    conflict = await sandbox.stage(changed)
    assert conflict.json()["rule"] == "OES-IDEM-002"
    forged = {**sandbox.sign(sandbox.fields()), "signature": "00" * 64}
    assert (await sandbox.stage(forged)).json()["rule"] == "OES-SIG-004"
    settlement_id = created.json()["settlement"]["id"]
    one = "/api/network/v1/enterprises/ent-exchange/partners/settlements/" + settlement_id
    assert (await sandbox.get(one)).status_code == 200
    clock = await sandbox.admin("POST", "/clock", json={"advanceMinutes": 60 * 24 * 30})
    assert clock.status_code == 200

    response = await sandbox.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    requests = "oeskit_http_requests_total"
    assert _value(samples, requests, method="POST", route=STAGING_ROUTE, status="200") == 2
    assert _value(samples, requests, method="POST", route=STAGING_ROUTE, status="409") == 1
    assert _value(samples, requests, method="POST", route=STAGING_ROUTE, status="401") == 1
    assert _value(samples, requests, method="GET", route=ONE_ROUTE, status="200") == 1
    latency = "oeskit_http_request_duration_seconds_count"
    assert _value(samples, latency, method="POST", route=STAGING_ROUTE) == 4
    stagings = "oeskit_stagings_total"
    assert _value(samples, stagings, outcome="created", rule="OES-STG-001") == 1
    assert _value(samples, stagings, outcome="replayed", rule="OES-IDEM-001") == 1
    assert _value(samples, stagings, outcome="refused", rule="OES-IDEM-002") == 1
    assert _value(samples, stagings, outcome="refused", rule="OES-SIG-004") == 1
    assert _value(samples, "oeskit_jobs_run_total") >= 2  # window close and execution
    for secret in (settlement_id, "ent-exchange", ALPHA, "demo-exchange-token", ADMIN):
        assert secret not in response.text
    assert first["signature"] not in response.text


async def test_metrics_skip_the_operator_routes(
    client: tuple[httpx.AsyncClient, SqliteStore],
) -> None:
    """Probes and scrapes are not requests of the sandbox: they are not counted."""
    http, _ = client
    for _ in range(3):
        await http.get("/healthz")
    samples = _samples((await http.get("/metrics")).text)
    assert not [key for key in samples if ("route", "/healthz") in key[1]]


async def test_partner_calls_are_counted_by_status(tmp_path: Path) -> None:
    """`Metrics.partner_call` (for the sandbox's outbound calls) shows up by status."""
    settings = make_settings(tmp_path)
    store = open_store(settings)
    app = create_app(settings, store)
    app.metrics.partner_call(503)
    app.metrics.partner_call("timeout")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ops.test"
    ) as http:
        samples = _samples((await http.get("/metrics")).text)
    store.close()
    assert _value(samples, "oeskit_partner_calls_total", status="503") == 1
    assert _value(samples, "oeskit_partner_calls_total", status="timeout") == 1


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/api/network/v2/enterprises/ent-1/partners/settlements", STAGING_ROUTE),
        (
            "/api/network/v1/enterprises/e/partners/settlements/4b44a80b-871e-48fe",
            ONE_ROUTE,
        ),
        (
            "/api/network/v1/enterprises/e/partners/settlements-signing",
            "/api/network/v1/enterprises/{enterpriseId}/partners/settlements-signing",
        ),
        ("/sandbox/clock", "/sandbox/clock"),
        ("/docs/index.html", "/docs/*"),
        ("/openapi.json", "/openapi.json"),
        ("/api/network/v1/enterprises/e/partners/nope/42", "unmatched"),
    ],
    ids=["staging", "one-settlement", "signing", "control-plane", "docs", "document", "unknown"],
)
def test_route_names_are_templates(path: str, route: str) -> None:
    """A path is named by the template of the route that serves it, never with its ids."""
    names = RouteNames.from_specs(
        [(spec.contract(), ""), (spec.load(spec.sandbox_path()), "/sandbox")]
    )
    assert names.of(path) == route
