"""The server's Prometheus metrics: what is counted, under which names and labels, and their
text exposition. Labels are templated routes, statuses, outcomes and rule ids only: never a
raw path, an id, a token or a key.

One `Metrics` per application, with a registry of its own (no global state, so tests can build
many apps). With `serve --workers N`, prometheus-client's multiprocess mode is on (the CLI sets
its directory through `settings.py` before the workers start): each worker writes its counts
to files there and a scrape of any worker adds them all up.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds; a staging on the fast lane takes ~1 ms, a 50,000-transfer one several seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Staging outcomes (label `outcome` of oeskit_stagings_total).
CREATED = "created"
REPLAYED = "replayed"
REFUSED = "refused"
FAILED = "failed"


class Metrics:
    """Counters and histograms of one server (see the module docstring)."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        if multiprocess_dir and values.ValueClass.__name__ != "MmapedValue":
            # prometheus-client chose in-memory values when it was imported; the counts of
            # this process would never reach a scrape. `Settings.export` sets its variable.
            raise RuntimeError(
                "metrics directory given but prometheus-client is not in multiprocess mode"
            )
        self.multiprocess_dir = multiprocess_dir
        # In multiprocess mode the values live in files; the metrics are registered nowhere and
        # a scrape reads the files through a collector of its own.
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if multiprocess_dir else self.registry
        self.requests = Counter(
            "oeskit_http_requests",
            "HTTP requests answered, by method, templated route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "oeskit_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by method and templated route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.stagings = Counter(
            "oeskit_stagings",
            "v2 staging requests by outcome (created, replayed, refused, failed) and rule id.",
            ["outcome", "rule"],
            registry=registry,
        )
        self.jobs = Counter(
            "oeskit_jobs_run",
            "Finalisation jobs run (dispute-window close, execution), by job loop or clock.",
            registry=registry,
        )
        self.partner_calls = Counter(
            "oeskit_partner_calls",
            "Calls the sandbox made to partner-hosted endpoints, by status (an HTTP status, "
            "or timeout / refused / error when no answer came).",
            ["status"],
            registry=registry,
        )
        # The labelled children of the request metrics, looked up once per label set:
        # `labels()` takes a lock and builds a tuple on every call.
        self._request_children: dict[
            tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]
        ] = {}
        self._staging_children: dict[tuple[str, str], Callable[[], None]] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request (the Guard calls this for every request it sees)."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)).inc,
                self.latency.labels(method, route).observe,
            )
            self._request_children[key] = children
        children[0]()
        children[1](seconds)

    def staging(self, outcome: str, rule: str) -> None:
        """One v2 staging request's outcome and its rule id (OES-STG-001 when created)."""
        inc = self._staging_children.get((outcome, rule))
        if inc is None:
            inc = self._staging_children[(outcome, rule)] = self.stagings.labels(outcome, rule).inc
        inc()

    def jobs_run(self, count: int) -> None:
        if count:
            self.jobs.inc(count)

    def partner_call(self, status: int | str) -> None:
        """One outbound call to a partner's endpoint: its HTTP status, or `timeout`, `refused`
        or `error` when none came. For the sandbox's calls toward partner-hosted APIs."""
        self.partner_calls.labels(str(status)).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type, over every worker in multiprocess mode."""
        registry = self.registry
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
