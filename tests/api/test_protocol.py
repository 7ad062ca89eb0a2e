"""HTTP-level answers the independent tools checked (issue 10): framework errors keep their 4xx
and get a rule, 500s name the request id they were logged under, 401s challenge, 405s carry
`Allow`, and the spec files are served as written."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import yaml

from oeskit import spec
from tests.api.conftest import BALANCES, DISPUTES, SETTLEMENTS
from tests.conftest import ADMIN, ALPHA, Sandbox

pytestmark = pytest.mark.anyio

BEARER = {"Authorization": "Bearer demo-exchange-token"}
ADMIN_BEARER = {"Authorization": f"Bearer {ADMIN}"}
MULTIPART = {"Content-Type": "multipart/form-data"}  # no boundary: Starlette cannot parse it
SAMPLE = {
    "enterpriseId": "ent-exchange",
    "settlementId": "4b44a80b-871e-48fe-a8d3-331463871ce7",
    "disputeId": "af1ef7a9-59d0-4a1c-8468-353f09a9798c",
    "name": "run-42",
    "partnerId": "5a1f7f0e-0c1d-4f7e-9a0b-7d0d6b1e0001",
    "connectionId": "09684b38-49ed-4cf6-a28e-c3a459494c69",
}
VERBS = ("get", "post", "put", "patch", "delete")


def _routes() -> list[tuple[str, set[str]]]:
    """(concrete path, methods it offers) for every path of both specs and the spec files."""
    routes = []
    for document, prefix in ((spec.contract(), ""), (spec.load(spec.sandbox_path()), "/sandbox")):
        for template, item in document["paths"].items():
            path = prefix + re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], template)
            routes.append((path, {m.upper() for m in item if m in VERBS}))
    for name in (
        "/openapi.json",
        "/openapi.yaml",
        "/sandbox/openapi.json",
        "/sandbox/openapi.yaml",
    ):
        routes.append((name, {"GET"}))
    return routes


GETS = [
    ("settlements", SETTLEMENTS, BEARER),
    ("settlement", f"{SETTLEMENTS}/{SAMPLE['settlementId']}", BEARER),
    ("balances", BALANCES, BEARER),
    ("disputes", DISPUTES, BEARER),
    ("clock", "/sandbox/clock", ADMIN_BEARER),
]


@pytest.mark.parametrize(("name", "path", "auth"), GETS, ids=[g[0] for g in GETS])
async def test_content_type_without_a_body_is_ignored(
    sb: Sandbox, name: str, path: str, auth: dict[str, str]
) -> None:
    """A bodiless GET declaring `multipart/form-data` without a boundary is answered as if it
    declared nothing: the Content-Type describes a body there is not."""
    response = await sb.client.get(path, headers={**auth, **MULTIPART})
    assert response.status_code == 200, response.text
    assert "rule" not in response.json()


async def test_delete_faults_ignores_content_type_without_a_body(sb: Sandbox) -> None:
    """`DELETE /sandbox/faults` with a boundary-less multipart Content-Type clears the faults."""
    response = await sb.client.delete("/sandbox/faults", headers={**ADMIN_BEARER, **MULTIPART})
    assert (response.status_code, response.json()) == (200, {"faults": []})


@pytest.mark.parametrize(
    ("path", "auth", "rule"),
    [(BALANCES, BEARER, "OES-REQ-002"), ("/sandbox/clock", ADMIN_BEARER, "OES-SBX-002")],
    ids=["partner", "control-plane"],
)
async def test_framework_4xx_stays_4xx_with_a_rule(
    sb: Sandbox, path: str, auth: dict[str, str], rule: str
) -> None:
    """A body Starlette refuses to parse (multipart without boundary) is its 400, with the
    route's request rule, not a 500."""
    response = await sb.client.request(
        "GET", path, headers={**auth, **MULTIPART}, content=b"--x\r\n\r\n"
    )
    assert response.status_code == 400, response.text
    assert response.json()["rule"] == rule
    assert "boundary" in response.json()["error"]


async def test_500_is_logged_under_the_request_id_it_names(
    sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 (here a fail-after-commit fault) names a request id in its body and X-Request-Id;
    the log line with the traceback carries the same id."""
    fields = sb.fields({ALPHA: {"BTC": "-1000"}})
    armed = await sb.admin(
        "POST", "/faults", json={"kind": "fail_after_commit", "externalId": fields["externalId"]}
    )
    assert armed.status_code == 200, armed.text
    with caplog.at_level(logging.ERROR, logger="oeskit"):
        response = await sb.stage(sb.sign(fields))
    assert (response.status_code, response.json()["rule"]) == (500, "OES-SRV-001")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{12}", request_id)
    assert f"logged as request {request_id}" in response.json()["error"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


@pytest.mark.parametrize(("path", "offered"), _routes(), ids=[r[0] for r in _routes()])
async def test_405_lists_the_allowed_methods(sb: Sandbox, path: str, offered: set[str]) -> None:
    """A method a path does not offer is answered 405 (OES-REQ-005) with an `Allow` header
    naming the methods it does offer, and the message says the same."""
    method = next(m.upper() for m in VERBS if m.upper() not in offered)
    response = await sb.client.request(method, path, headers=BEARER)
    assert response.status_code == 405, response.text
    assert response.json()["rule"] == "OES-REQ-005"
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed - {"HEAD"} == offered
    assert response.json()["error"] == (
        f"method {method} is not allowed on this route; "
        f"allowed methods are {response.headers['allow']}"
    )


async def test_405_example_matches_the_server() -> None:
    """The contract's MethodNotAllowed example is what the server says for GET on the v2
    route (the v2 route offers POST alone)."""
    example = spec.contract()["components"]["responses"]["MethodNotAllowed"]["content"][
        "application/json"
    ]["example"]
    assert example["error"] == "method GET is not allowed on this route; allowed methods are POST"


async def test_401_for_a_non_member_carries_www_authenticate(sb: Sandbox) -> None:
    """OES-AUTH-003 (a valid token, not a member of the enterprise) challenges like
    OES-AUTH-001 does."""
    response = await sb.get(
        "/api/network/v1/enterprises/ent-broker/partners/balances", token="demo-exchange-token"
    )
    assert (response.status_code, response.json()["rule"]) == (401, "OES-AUTH-003")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_401_for_a_bad_signature_carries_www_authenticate(sb: Sandbox) -> None:
    """OES-SIG-004 (the signature verifies with no key) is a 401 with a challenge too."""
    body = sb.sign(sb.fields({ALPHA: {"BTC": "-1000"}}))
    forged = {**body, "signature": body["signature"][:-4] + "0000"}
    response = await sb.stage(forged)
    assert (response.status_code, response.json()["rule"]) == (401, "OES-SIG-004")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_path_parameter_with_a_slash_is_the_documented_404(sb: Sandbox) -> None:
    """An enterpriseId holding `/` (sent as %2F) matches no route: 404 OES-REQ-004, a status
    every operation declares (components.responses.NotFound)."""
    response = await sb.get("/api/network/v1/enterprises/ent%2Fexchange/partners/balances")
    assert (response.status_code, response.json()["rule"]) == (404, "OES-REQ-004")
    assert "cannot contain '/'" in response.json()["error"]
    for _, _, operation in _operations():
        assert "404" in operation["responses"], operation["operationId"]


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec.contract()["paths"].items()
        for method, operation in item.items()
        if method in VERBS
    ]


@pytest.mark.parametrize(
    ("url", "path"),
    [("/openapi.yaml", spec.contract_path()), ("/sandbox/openapi.yaml", spec.sandbox_path())],
    ids=["contract", "control-plane"],
)
async def test_yaml_spec_is_the_file(sb: Sandbox, url: str, path: Any) -> None:
    """The served YAML is the file's bytes."""
    response = await sb.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.content == path.read_bytes()


@pytest.mark.parametrize(
    ("url", "path"),
    [("/openapi.json", spec.contract_path()), ("/sandbox/openapi.json", spec.sandbox_path())],
    ids=["contract", "control-plane"],
)
async def test_json_spec_is_the_same_document(sb: Sandbox, url: str, path: Any) -> None:
    """The served JSON is the file's document as written: `$ref`s kept, `servers` unchanged."""
    response = await sb.client.get(url)
    assert response.status_code == 200
    document = response.json()
    assert document == _json_keys(yaml.safe_load(path.read_text()))
    assert document["servers"] == [{"url": "/"}] or url.startswith("/sandbox")
    assert '"$ref"' in response.text


def _json_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _json_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_keys(v) for v in node]
    return node


def test_every_component_is_referenced() -> None:
    """Every reusable component of the contract is `$ref`erenced somewhere (the linters' unused
    component rule)."""
    document = spec.contract()
    text = repr(document)
    unused = [
        f"{kind}/{name}"
        for kind, entries in document["components"].items()
        if kind != "securitySchemes"
        for name in entries
        if f"'#/components/{kind}/{name}'" not in text
    ]
    assert unused == []


def test_info_names_license_and_contact() -> None:
    """`info.license` and `info.contact` are set (both linters ask for them)."""
    info = spec.contract()["info"]
    assert info["license"]["name"] and info["contact"]["name"]
