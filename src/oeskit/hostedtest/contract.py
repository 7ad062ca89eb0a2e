"""partner-hosted.yaml as the hosted-test grader reads it: its rules catalogue, its operations
and each response checked with openapi-core (through conformance.contract). Reads the document,
never the implementation."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import httpx
from openapi_core import OpenAPI

from oeskit import spec
from oeskit.conformance import contract as shared
from oeskit.conformance.contract import Operation

FILENAME = "partner-hosted.yaml"
_PACKAGE = Path(spec.__file__).parent


def contract_path() -> Path:
    """partner-hosted.yaml: the packaged copy first (wheel installs), else the checkout's root."""
    for candidate in (_PACKAGE / FILENAME, _PACKAGE.parents[1] / FILENAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{FILENAME} not found beside the package or at the checkout root")


def document() -> dict[str, Any]:
    return spec.load(contract_path())


def catalogue() -> list[dict[str, Any]]:
    return spec.rules_catalogue(document())


def rule_ids() -> set[str]:
    return {r["id"] for r in catalogue()}


@cache
def operations() -> tuple[Operation, ...]:
    return shared.operations_in(document())


@cache
def _openapi() -> OpenAPI:
    return shared.openapi_of(document())


def operation(method: str, path: str) -> Operation | None:
    """The contract's operation serving `method path` (the path inside the partner's base URL)."""
    for op in operations():
        if op.method == method.upper() and op.pattern.match(path):
            return op
    return None


def check_response(
    method: str, path: str, status: int, body: bytes, headers: httpx.Headers
) -> list[str]:
    """What partner-hosted.yaml does not allow in this response (nothing for routes it lacks)."""
    op = operation(method, path)
    if op is None:
        return []
    return shared.response_problems(_openapi(), op, path, status, body, headers)
