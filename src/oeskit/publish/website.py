"""`oeskit docs build`: the static reference site, rendered with Jinja2 from package templates.

Pages: overview, API reference, rules catalogue (an anchor per rule), signing guide, control
plane, partner-hosted endpoints. Assets are copied from the package; nothing is fetched when the
site is viewed. Markdown in descriptions is rendered with raw HTML disabled, so a contract cannot
inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from oeskit import spec
from oeskit.publish.documents import Document, load, operations
from oeskit.publish.signing_guide import guide
from oeskit.publish.views import operation_views

PAGES = (
    "index.html",
    "reference.html",
    "rules.html",
    "signing.html",
    "control-plane.html",
    "partner-hosted.html",
)
_V2_POST = "v2PartnerSettlementsPostRoute"


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    status: str
    statement: str
    operations: tuple[str, ...] | None  # None: the rule names none, so it covers them all
    scenarios: tuple[tuple[str, str, str], ...]  # (id, title, file)
    catalogue: str  # page of the operations it names


def build(
    out: Path, spec_source: str | None = None, hosted_source: str | None = None
) -> list[Path]:
    """Write the site into `out` (created if missing); return the files written."""
    files = render(spec_source, hosted_source)
    out.mkdir(parents=True, exist_ok=True)
    (out / "static").mkdir(exist_ok=True)
    written = []
    for name, data in files.items():
        (out / name).write_bytes(data)
        written.append(out / name)
    return written


def render(spec_source: str | None = None, hosted_source: str | None = None) -> dict[str, bytes]:
    """Every file of the site by relative path (`index.html`, `static/style.css`, ...)."""
    contract = load(spec_source or str(spec.contract_path()))
    control = load(str(spec.sandbox_path()))
    hosted = load(hosted_source or str(spec.partner_hosted_path()))
    env = _environment()
    context = _context(contract, control, hosted)
    files = {
        page: env.get_template(page).render(page=page, **context).encode("utf-8") for page in PAGES
    }
    for asset in (resources.files("oeskit.publish") / "static").iterdir():
        if asset.is_file():
            files[f"static/{asset.name}"] = asset.read_bytes()
    return files


def landing(control_plane: bool) -> bytes:
    """The sandbox's page at `/`: what it is and where everything is."""
    contract = load(str(spec.contract_path()))
    page = _environment().get_template("landing.html")
    return page.render(info=contract.data.get("info") or {}, control_plane=control_plane).encode()


def _environment() -> jinja2.Environment:
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("oeskit.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Safe to mark: markdown-it escapes any raw HTML in the text ({"html": False}).
    env.filters["markdown"] = lambda text: Markup(markdown.render(str(text)))  # noqa: S704
    return env


def _context(contract: Document, control: Document, hosted: Document) -> dict[str, Any]:
    scenarios = _scenarios()
    rules = [
        *_rules(contract.data, scenarios, "reference.html"),
        *_rules(control.data, scenarios, "control-plane.html"),
        *_rules(hosted.data, scenarios, "partner-hosted.html"),
    ]
    return {
        "info": contract.data.get("info") or {},
        "control_info": control.data.get("info") or {},
        "hosted_info": hosted.data.get("info") or {},
        "operations": operation_views(contract.data),
        "control_operations": operation_views(control.data, base="/sandbox"),
        "hosted_operations": operation_views(hosted.data),
        "rules": rules,
        "rule_ids": {rule.id for rule in rules},
        "guide": guide(_v2_request_example(contract.data)),
    }


def _rules(
    document: dict[str, Any], scenarios: dict[str, list[tuple[str, str, str]]], page: str
) -> list[RuleView]:
    out = []
    for rule in document.get("x-oeskit-rules") or []:
        if not isinstance(rule, dict):
            continue
        rule_id = str(rule.get("id"))
        out.append(
            RuleView(
                id=rule_id,
                status=str(rule.get("status")),
                statement=str(rule.get("title") or ""),
                operations=(
                    tuple(str(op) for op in rule["operations"])
                    if isinstance(rule.get("operations"), list)
                    else None
                ),
                scenarios=tuple(scenarios.get(rule_id, ())),
                catalogue=page,
            )
        )
    return out


def _scenarios() -> dict[str, list[tuple[str, str, str]]]:
    """Rule id -> (scenario id, title, file) of the scenarios naming it, when at hand."""
    from oeskit.conformance.scenario import load_scenarios, scenarios_dir

    if not scenarios_dir().is_dir():
        return {}
    out: dict[str, list[tuple[str, str, str]]] = {}
    for scenario in load_scenarios():
        for rule in scenario.rules:
            out.setdefault(rule, []).append((scenario.id, scenario.title, scenario.source))
    return out


def _v2_request_example(document: dict[str, Any]) -> dict[str, Any]:
    """The request example of the v2 POST (the fields the guide signs); a fixed one without it."""
    for _, _, op in operations(document):
        if op.get("operationId") == _V2_POST:
            content = (op.get("requestBody") or {}).get("content") or {}
            example = (content.get("application/json") or {}).get("example")
            if isinstance(example, dict):
                return example
    return {
        "externalId": "settlement-1",
        "settlementAmounts": {"09684b38-49ed-4cf6-a28e-c3a459494c69": {"BTC": "-100"}},
        "nonce": "1",
        "cutoffAt": "2025-06-01T00:00:00.000Z",
    }
