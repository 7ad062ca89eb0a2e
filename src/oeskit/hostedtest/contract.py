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


def contract_path() -> Path:
    return spec.partner_hosted_path()


def document() -> dict[str, Any]:
    return spec.load(contract_path())


def catalogue() -> list[dict[str, Any]]:
    return spec.rules_catalogue(document())


def rule_ids() -> set[str]:
    return {r["id"] for r in catalogue()}


def capabilities() -> dict[str, str]:
    """What a partner may declare in its profile (x-oeskit-capabilities), with what each means."""
    return {str(k): str(v) for k, v in (document().get("x-oeskit-capabilities") or {}).items()}


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
