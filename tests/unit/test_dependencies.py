"""pyproject.toml declares what the package imports: every third-party import of src/oeskit
belongs to a runtime dependency, and the dev extra holds none of them (a wheel installed without
extras must run `oeskit serve` and `oeskit conform`)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "oeskit"
# Test tooling shipped in the package (a pytest plugin, helpers): their imports are the tests'.
EXEMPT = (PACKAGE / "pytest_plugin.py", PACKAGE / "testing")


def normalized(name: str) -> str:
    """PEP 503: `PyYAML`, `pyyaml` and `py_yaml` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    """`connexion[uvicorn]>=3.3,<4` -> `connexion`."""
    return {normalized(re.split(r"[\[<>=!~;\s]", r, maxsplit=1)[0]) for r in requirements}


@cache
def project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return dict(tomllib.load(handle)["project"])


def imported_modules() -> dict[str, str]:
    """Top-level third-party module -> one file of src/oeskit importing it."""
    out: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(path == e or e in path.parents for e in EXEMPT):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "oeskit" and top not in sys.stdlib_module_names:
                    out.setdefault(top, str(path.relative_to(ROOT)))
    return out


@cache
def _distributions() -> dict[str, list[str]]:
    """Every installed distribution's top-level modules: a scan of site-packages (~1 s each time
    here), done once per session instead of once per module looked up."""
    return dict(packages_distributions())


def distributions_of(module: str) -> set[str]:
    return {normalized(d) for d in _distributions().get(module, [])}


def test_every_import_is_a_runtime_dependency() -> None:
    """Each third-party module src/oeskit imports comes from a declared runtime dependency."""
    declared = requirement_names(project()["dependencies"])
    undeclared = {
        module: where
        for module, where in imported_modules().items()
        if not distributions_of(module) & declared
    }
    assert undeclared == {}


def test_dev_extra_holds_only_dev_tools() -> None:
    """No distribution that runtime code imports is declared only as a dev extra."""
    dev = requirement_names(project()["optional-dependencies"]["dev"])
    imported = set().union(*(distributions_of(m) for m in imported_modules()))
    assert imported & dev == set()


def test_the_check_sees_the_imports() -> None:
    """The scan finds the package's known third-party imports (a check that cannot fail is
    no check): connexion, jsonschema-rs and openapi-core among them."""
    assert {"connexion", "jsonschema_rs", "openapi_core", "schemathesis"} <= set(imported_modules())
