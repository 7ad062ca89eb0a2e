"""What the server tells its operator about each finished request: the metrics and, when the
log level asks for it, one access line (`oeskit.access`, INFO). Both name the route by its
template (`/api/network/v1/enterprises/{enterpriseId}/...`), never the raw path: ids in labels
would grow the metrics without bound and put partners' identifiers in dashboards.

Runs in the Guard's `finally` for every request, so it is kept to a regex match, two dict
lookups and the counters (see CHANGELOG, Performance)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from oeskit import metrics
from oeskit.domain import rules
from oeskit.http.errors import REQUEST_ID
from oeskit.http.request_log import REPLAYED, is_staging
from oeskit.metrics import Metrics

ACCESS = logging.getLogger("oeskit.access")
UNMATCHED = "unmatched"
# Paths served outside the specs (pages and documents), as their route names.
_FIXED = ("/", "/openapi.yaml", "/openapi.json", "/sandbox/openapi.yaml", "/sandbox/openapi.json")
_PREFIXES = ("/docs/", "/ui/", "/sandbox/ui/", "/sandbox/docs/")
_PARAMETER = re.compile(r"\\\{[^/}]+\\\}")


class RouteNames:
    """Path -> the templated route of the spec that serves it, or `unmatched`."""

    def __init__(self, templates: Iterable[str]) -> None:
        ordered = sorted(set(templates), key=lambda t: (t.count("{"), t))  # literals first
        self.names: dict[str, str] = {}
        parts = []
        for index, template in enumerate(ordered):
            group = f"r{index}"
            self.names[group] = template
            parts.append(f"(?P<{group}>{_PARAMETER.sub('[^/]+', re.escape(template))})")
        self.pattern = re.compile("|".join(parts)) if parts else None
        self.fixed = frozenset(_FIXED)

    @classmethod
    def from_specs(cls, specs: Iterable[tuple[Mapping[str, Any], str]]) -> RouteNames:
        """Every path of each (spec, prefix) pair, under its prefix."""
        return cls(prefix + path for document, prefix in specs for path in document["paths"])

    def of(self, path: str) -> str:
        if self.pattern is not None:
            match = self.pattern.fullmatch(path)
            if match is not None and match.lastgroup is not None:
                return self.names[match.lastgroup]
        if path in self.fixed:
            return path
        for prefix in _PREFIXES:
            if path.startswith(prefix):
                return prefix + "*"
        return UNMATCHED


class Observer:
    """Counts and logs each finished request (called by the Guard)."""

    def __init__(self, routes: RouteNames, counters: Metrics) -> None:
        self.routes = routes
        self.metrics = counters

    def finished(self, scope: Mapping[str, Any], seen: Mapping[str, Any], seconds: float) -> None:
        method: str = scope.get("method", "")
        path: str = scope.get("path", "")
        route = self.routes.of(path)
        status = int(seen["status"])
        rule = seen["rule"]
        self.metrics.request(method, route, status, seconds)
        if is_staging(method, path):
            self.metrics.staging(*_staging_outcome(status, rule, seen.get(REPLAYED, False)))
        if ACCESS.isEnabledFor(logging.INFO):
            extensions = scope.get("extensions") or {}
            ACCESS.info(
                "%s %s %d %.1f ms%s",
                method,
                route,
                status,
                seconds * 1000,
                f" {rule}" if rule else "",
                extra={
                    "requestId": extensions.get(REQUEST_ID),
                    "method": method,
                    "route": route,
                    "status": status,
                    "durationMs": round(seconds * 1000, 3),
                    "rule": rule,
                },
            )


def _staging_outcome(status: int, rule: str | None, replayed: bool) -> tuple[str, str]:
    if status == 200:
        if replayed:
            return metrics.REPLAYED, rules.IDEM_REPLAY
        return metrics.CREATED, rules.STG_CREATED
    if status >= 500:
        return metrics.FAILED, rule or rules.SRV_INTERNAL
    return metrics.REFUSED, rule or "none"
