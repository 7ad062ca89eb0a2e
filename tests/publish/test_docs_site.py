"""`oeskit docs build`: the static site has every operation, an anchor per rule with its
scenarios, real signing examples for both schemes, links that resolve, nothing fetched from the
network, and it renders in headless Chromium without console errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from oeskit import signing, spec
from oeskit.cli import main
from oeskit.publish import website
from tests.publish import browser


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(main, ["docs", "build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src") and value is not None:
                self.refs.append((tag, value))


def _parsed(built: Path) -> Iterator[tuple[Path, _Links]]:
    for page in sorted(built.glob("*.html")):
        links = _Links()
        links.feed(page.read_text())
        yield page, links


def test_every_page_is_written(built: Path) -> None:
    """The five pages and the stylesheet are in the folder."""
    assert sorted(p.name for p in built.glob("*.html")) == sorted(website.PAGES)
    assert (built / "static" / "style.css").is_file()


def test_every_operation_is_documented(built: Path) -> None:
    """Each operationId of both documents has its section with its statuses and examples."""
    reference = (built / "reference.html").read_text()
    control = (built / "control-plane.html").read_text()
    for document, html in ((spec.contract(), reference), (spec.load(spec.sandbox_path()), control)):
        for path_item in document["paths"].values():
            for op in path_item.values():
                if isinstance(op, dict) and "operationId" in op:
                    assert f'id="op-{op["operationId"]}"' in html
    v2 = reference.split('id="op-v2PartnerSettlementsPostRoute"')[1].split('class="operation"')[0]
    for status in ("200", "400", "401", "403", "409", "413", "415", "422", "500", "503"):
        assert f">{status}</span>" in v2
    assert "settlement-2025-06-01" in v2 and "Example" in v2


def test_every_rule_has_an_anchor_and_its_scenarios(built: Path) -> None:
    """rules.html has id="rule-<id>" for every rule of both catalogues; OES-BAL-001 lists its
    status, statement, operation and a scenario that tests it."""
    html = (built / "rules.html").read_text()
    for document in (spec.contract(), spec.load(spec.sandbox_path())):
        for rule in spec.rules_catalogue(document):
            assert f'id="rule-{rule["id"]}"' in html
    section = html.split('id="rule-OES-BAL-001"')[1].split("</section>")[0]
    assert "422" in section and "allocated balance" in section
    assert 'href="reference.html#op-v2PartnerSettlementsPostRoute"' in section
    assert "(amounts.yaml)" in section or ".yaml)" in section


def test_signing_examples_are_real(built: Path) -> None:
    """Both worked examples carry a signature that verifies over the payload shown."""
    html = (built / "signing.html").read_text()
    from html import unescape

    payload = unescape(re.search(r"bytes \(the sandbox.*?<pre><code>(.*?)</code>", html, re.S)[1])
    for scheme in (signing.ED25519, signing.BITCOIN_MESSAGE):
        section = html.split(f'id="scheme-{scheme}"')[1].split("</section>")[0]
        codes = re.findall(r"<code[^>]*>([0-9a-f]+)</code>", section)
        _private, public, signature = codes[:3]
        assert signing.verify(payload, signature, signing.SigningKey(scheme, public))
        assert "<dd>yes</dd>" in section


def test_internal_links_resolve_and_nothing_is_fetched(built: Path) -> None:
    """Every href="#x" and relative file link points at an existing file and id; no page
    refers to a network URL for a stylesheet, script or image."""
    ids = {page.name: links.ids for page, links in _parsed(built)}
    checked = 0
    for page, links in _parsed(built):
        for tag, url in links.refs:
            parts = urlsplit(url)
            if parts.scheme:
                assert tag == "a", f"{page.name}: <{tag}> loads {url}"
                continue
            target = parts.path or page.name
            assert (built / target).is_file(), f"{page.name}: {url}"
            if parts.fragment:
                assert parts.fragment in ids[target], f"{page.name}: {url}"
            checked += 1
    assert checked > 300


def test_bad_spec_exits_2(tmp_path: Path) -> None:
    """--spec naming a file that is not OpenAPI is one line, exit 2, and writes nothing."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: text\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["docs", "build", "--spec", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert (
        result.output
        == f"oeskit docs build: {bad}: not an OpenAPI 3 document (no `openapi` field)\n"
    )
    assert not out.exists()


@pytest.mark.skipif(not browser.available(), reason=f"{browser.CHROMIUM} is not installed")
def test_site_renders_in_chromium(built: Path, tmp_path: Path) -> None:
    """Each page opens from the folder in headless Chromium with no console error; the
    screenshot of the overview is a PNG."""
    chrome = browser.Browser(tmp_path / "profile")
    try:
        page = chrome.page()
        for name in website.PAGES:
            page.open((built / name).as_uri())
            assert page.evaluate("document.querySelectorAll('main h1').length") == 1
            assert page.console_errors() == [], name
        page.open((built / "rules.html").as_uri() + "#rule-OES-BAL-001")
        assert page.evaluate("document.getElementById('rule-OES-BAL-001') !== null")
        shot = page.screenshot(tmp_path / "rules.png")
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    finally:
        chrome.close()


def test_markup_in_the_contract_is_escaped(tmp_path: Path) -> None:
    """Raw HTML in a description is shown as text, never injected into the page."""
    import yaml

    document = spec.read(spec.contract_path())
    document["info"]["description"] = "Hello <script>alert(1)</script> **bold**"
    source = tmp_path / "c.yaml"
    source.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper))
    website.build(tmp_path / "out", str(source))
    html = (tmp_path / "out" / "index.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>bold</strong>" in html
