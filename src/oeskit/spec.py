"""The contract files: where they are, and the rules catalogues they carry.

`openapi.yaml` at the repository root is the only schema of the settlements API, and
`partner-hosted.yaml` beside it the only schema of the endpoints partners host; a wheel carries
a copy of each inside the package. The control plane's spec is `http/sandbox.yaml`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml

_PACKAGE = Path(__file__).parent


def contract_path() -> Path:
    """openapi.yaml: packaged copy first (wheel installs), else the source checkout's root."""
    return _top_level("openapi.yaml")


def partner_hosted_path() -> Path:
    """partner-hosted.yaml (the endpoints BitGo calls on a partner), found like openapi.yaml."""
    return _top_level("partner-hosted.yaml")


def _top_level(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parents[1] / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name} not found beside the package or at the checkout root")


def sandbox_path() -> Path:
    return _PACKAGE / "http" / "sandbox.yaml"


def operations_path() -> Path:
    """The operator's routes (/healthz, /readyz, /metrics), outside both other specs."""
    return _PACKAGE / "http" / "operations.yaml"


# libyaml's C loader reads openapi.yaml ~10x faster than the pure-Python one (start-up time).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read(path: Path) -> dict[str, Any]:
    """A fresh parse of a spec file (callers may mutate it)."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_Loader)  # noqa: S506 - a safe loader
    assert isinstance(data, dict)
    return data


@cache
def load(path: Path) -> dict[str, Any]:
    """The parsed spec file, shared: do not mutate."""
    return read(path)


def fresh_copy(path: Path) -> dict[str, Any]:
    """A private copy of the parsed spec file for a caller that mutates it (connexion fills in
    defaults and resolves references in place): a JSON round trip of the shared parse, several
    times faster than parsing the YAML again. Keys become text, as in JSON."""
    copied = orjson.loads(orjson.dumps(load(path), option=orjson.OPT_NON_STR_KEYS))
    assert isinstance(copied, dict)
    return copied


def contract() -> dict[str, Any]:
    return load(contract_path())


def rules_catalogue(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("x-oeskit-rules", []))


def operation(document: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(path, method, operation object) of the operation with this operationId."""
    for path, item in document["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, method, op
    raise KeyError(operation_id)


def rule_statuses() -> dict[str, int]:
    """Every rule id of both catalogues with the HTTP status it produces."""
    out: dict[str, int] = {}
    for document in (contract(), load(sandbox_path())):
        for rule in rules_catalogue(document):
            out[rule["id"]] = int(rule["status"])
    return out
