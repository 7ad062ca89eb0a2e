"""The sandbox serves people too: a landing page at /, the docs site at /docs/, Swagger UI at
/ui/ from the swagger-ui-bundle package, and a control-plane signing helper so that Swagger UI's
"Try it out" on the v2 POST reaches a 200 without the browser holding a private key."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oeskit import signing, spec
from tests.conftest import (
    ADMIN,
    ALPHA,
    EXCHANGE,
    STAGE,
    LiveServer,
    Sandbox,
    start_server,
    stop_server,
)
from tests.publish import browser

FIELDS = {
    "externalId": "try-it-1",
    "notes": "signed by the sandbox",
    "settlementAmounts": {ALPHA: {"BTC": "-100"}},
    "cutoffAt": "2026-11-01T00:00:00.000Z",
}
SIGN = "/sign?enterpriseId=ent-exchange"
V2 = STAGE.format(enterprise="ent-exchange")


@pytest.mark.anyio
async def test_landing_page_links_everything(sandbox: Sandbox) -> None:
    """GET / is an HTML page linking the docs, Swagger UI, openapi.json and the control plane,
    and saying where the credentials come from."""
    answer = await sandbox.client.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    for href in ("/docs/", "/ui/", "/openapi.json", "/sandbox/ui/", "/docs/control-plane.html"):
        assert f'href="{href}"' in answer.text
    assert "demo-exchange-token" in answer.text and "admin token" in answer.text


@pytest.mark.anyio
async def test_docs_site_is_served(sandbox: Sandbox) -> None:
    """/docs/ serves the built site: the rules page with its anchors and the stylesheet;
    an unknown page is the API's 404 with its rule id."""
    rules = await sandbox.client.get("/docs/rules.html")
    assert rules.status_code == 200 and 'id="rule-OES-BAL-001"' in rules.text
    assert (await sandbox.client.get("/docs/static/style.css")).status_code == 200
    assert (await sandbox.client.get("/docs")).headers["location"] == "docs/"
    missing = await sandbox.client.get("/docs/nope.html")
    assert missing.status_code == 404 and missing.json()["rule"] == "OES-REQ-004"


@pytest.mark.anyio
async def test_swagger_ui_is_served_from_the_package(sandbox: Sandbox) -> None:
    """/ui/ loads Swagger UI's script and styles from the server itself, never a CDN."""
    page = await sandbox.client.get("/ui/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "./swagger-ui-bundle.js" in assets
    assert not [a for a in assets if "//" in a]
    script = await sandbox.client.get("/ui/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


@pytest.mark.anyio
async def test_sign_helper_answers_a_body_that_stages(sandbox: Sandbox) -> None:
    """POST /sandbox/sign signs with the world's key; the answer verifies and stages (200)."""
    signed = await sandbox.admin("POST", SIGN, json=FIELDS)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    key = signing.SigningKey("ed25519", _demo_key(sandbox.world)["publicKey"])
    assert signing.verify(body["payload"], body["signature"], key)
    assert {k: body[k] for k in FIELDS} == FIELDS and body["nonce"]
    staged = await sandbox.client.post(
        V2, json=body, headers={"Authorization": "Bearer demo-exchange-token"}
    )
    assert staged.status_code == 200, staged.text
    assert staged.json()["settlement"]["externalId"] == "try-it-1"


@pytest.mark.anyio
async def test_sign_helper_signs_bitcoin_message_too(sandbox: Sandbox) -> None:
    """scheme=bitcoin-message signs with the world's secp256k1 key (65-byte signature)."""
    signed = await sandbox.admin("POST", SIGN + "&scheme=bitcoin-message", json=FIELDS)
    assert signed.status_code == 200, signed.text
    assert signing.scheme_of(signed.json()["signature"]) == signing.BITCOIN_MESSAGE


@pytest.mark.anyio
async def test_sign_helper_without_private_key_is_409(sandbox: Sandbox) -> None:
    """A world that holds no private key for the partner answers 409 OES-SBX-005."""
    world = copy.deepcopy(sandbox.world)
    for partner in world["partners"]:
        for key in partner.get("signingKeys", []):
            key.pop("privateKey", None)
    assert (await sandbox.admin("POST", "/world", json=world)).status_code == 200
    answer = await sandbox.admin("POST", SIGN, json=FIELDS)
    assert answer.status_code == 409
    assert answer.json()["rule"] == "OES-SBX-005" and EXCHANGE in answer.json()["error"]


@pytest.mark.anyio
async def test_sign_helper_unknown_enterprise_is_404(sandbox: Sandbox) -> None:
    """An enterprise without a partner answers 404 OES-SBX-003."""
    answer = await sandbox.admin("POST", "/sign?enterpriseId=nobody", json=FIELDS)
    assert answer.status_code == 404 and answer.json()["rule"] == "OES-SBX-003"


@pytest.mark.anyio
async def test_sign_helper_needs_the_admin_token(sandbox: Sandbox) -> None:
    """Without the admin token the helper answers 401 OES-SBX-001 and signs nothing."""
    answer = await sandbox.client.post(
        "/sandbox" + SIGN, json=FIELDS, headers={"Authorization": "Bearer demo-exchange-token"}
    )
    assert answer.status_code == 401 and answer.json()["rule"] == "OES-SBX-001"


@pytest.mark.anyio
async def test_private_keys_appear_on_no_read_route(sandbox: Sandbox) -> None:
    """The world's private keys, now kept for the helper, leak through no partner route."""
    secrets = [k["privateKey"] for p in sandbox.world["partners"] for k in p["signingKeys"]]
    for path in (
        "/api/network/v1/enterprises/ent-exchange/partners/balances",
        "/api/network/v1/enterprises/ent-exchange/partners/settlements",
    ):
        text = (await sandbox.get(path)).text
        assert not [s for s in secrets if s in text]


def _demo_key(world: dict[str, Any]) -> dict[str, str]:
    partner = next(p for p in world["partners"] if p["id"] == EXCHANGE)
    key: dict[str, str] = next(
        k for k in partner["signingKeys"] if k.get("scheme", "ed25519") == "ed25519"
    )
    return key


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("ui"))
    yield server
    stop_server(server)


# Drives Swagger UI as a person would: Authorize with the partner token, open the v2 POST,
# Try it out, fill the path parameter and the body, Execute. React inputs only notice a value
# set through the native setter followed by an input event; Swagger UI debounces parameter
# inputs and flushes them on blur (focusout), which Execute would otherwise outrun.
_SET_VALUE = """
window.__set = (el, value) => {
  const proto = Object.getPrototypeOf(el);
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  el.dispatchEvent(new FocusEvent('focusout', {bubbles: true}));
};
window.__v2 = () => [...document.querySelectorAll('.opblock-post')]
  .find(b => b.querySelector('.opblock-summary-path').textContent.includes('/v2/'));
true
"""


@pytest.mark.slow
@pytest.mark.skipif(not browser.available(), reason=f"{browser.CHROMIUM} is not installed")
def test_try_it_out_reaches_200(live: LiveServer, tmp_path: Path) -> None:
    """In headless Chromium, Swagger UI's Try it out on the v2 POST, with a body signed by the
    control plane's helper, answers 200 with a pending settlement."""
    chrome = browser.Browser(tmp_path / "profile")
    try:
        page = chrome.page()
        page.open(live.base_url + "/ui/")
        page.wait_for("document.querySelectorAll('.opblock').length > 0")
        page.evaluate(_SET_VALUE)
        # The signing helper, called from the page with the admin token: the page receives a
        # signed body, never a key.
        request = json.dumps(
            {
                "method": "POST",
                "headers": {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
                "body": json.dumps({**FIELDS, "externalId": "try-it-browser"}),
            }
        )
        signed = page.evaluate(
            f"fetch('/sandbox/sign?enterpriseId=ent-exchange', {request}).then(r => r.text())"
        )
        assert '"signature"' in signed and "privateKey" not in signed
        page.evaluate("document.querySelector('.btn.authorize').click(); true")
        page.wait_for("!!document.querySelector('.modal-ux input')")
        page.evaluate(
            "__set(document.querySelector('.modal-ux input'), 'demo-exchange-token');"
            "document.querySelector('.modal-ux .auth-btn-wrapper .authorize').click(); true"
        )
        page.wait_for("!!document.querySelector('.modal-ux .btn-done')")
        page.evaluate("document.querySelector('.modal-ux .btn-done').click(); true")
        page.wait_for("!document.querySelector('.modal-ux')")
        page.evaluate("__v2().querySelector('.opblock-summary-control').click(); true")
        page.wait_for("!!__v2().querySelector('.try-out__btn')")
        page.evaluate("__v2().querySelector('.try-out__btn').click(); true")
        page.wait_for("!!__v2().querySelector('textarea.body-param__text')")
        page.evaluate(
            "__set(__v2().querySelector('input[placeholder=\"enterpriseId\"]'), 'ent-exchange');"
            f"__set(__v2().querySelector('textarea.body-param__text'), {json.dumps(signed)}); true"
        )
        page.evaluate("__v2().querySelector('.execute').click(); true")
        status = page.wait_for(
            "(__v2().querySelector('.live-responses-table tbody .response-col_status') || {})"
            ".textContent",
            timeout=30,
        )
        body = page.evaluate(
            "__v2().querySelector('.live-responses-table .microlight, "
            ".live-responses-table pre').textContent"
        )
        url = page.evaluate("__v2().querySelector('.request-url pre').textContent")
        page.evaluate("__v2().querySelector('.live-responses-table').scrollIntoView(); true")
        page.screenshot(tmp_path / "try-it-out.png")
        assert "/enterprises/ent-exchange/" in url
        assert status.strip().startswith("200"), body
        assert '"try-it-browser"' in body and '"pending"' in body
    finally:
        chrome.close()


@pytest.mark.anyio
async def test_docs_footer_names_the_contract_not_a_server_path(sandbox: Sandbox) -> None:
    """Every page of /docs/ (served without credentials) ends with the contract's title and
    version, never the absolute path of the file on the server."""
    info = spec.contract()["info"]
    where = str(spec.contract_path().parent)
    for page in ("index.html", "reference.html", "rules.html"):
        answer = await sandbox.client.get(f"/docs/{page}")
        footer = answer.text[answer.text.index("<footer>") :]
        assert where not in answer.text, page
        assert info["title"] in footer and info["version"] in footer, footer
