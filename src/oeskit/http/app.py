"""Build the ASGI application: connexion serving openapi.yaml (and sandbox.yaml), our
validators, security and error mapping, the pages for people (/, /docs/, Swagger UI at /ui/),
the guard, the sandbox's fault layer, the spec files as written, and the background job
runner."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType
from typing import Any

import connexion
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.spec import OpenAPISpecification
from starlette.exceptions import HTTPException

from oeskit import spec
from oeskit.errors import RuleViolation, StoreUnavailable
from oeskit.http.allocation_routes import PartnerApiRoutes
from oeskit.http.documents import Documents
from oeskit.http.errors import ErrorMapper, route_methods
from oeskit.http.fastlane import FastLane
from oeskit.http.faults import Faults
from oeskit.http.guard import Guard
from oeskit.http.handlers import PartnerRoutes
from oeskit.http.namespaces import Namespaces
from oeskit.http.observe import Observer, RouteNames
from oeskit.http.operations import Operations
from oeskit.http.pages import Pages
from oeskit.http.query import ExplodedArrayParser
from oeskit.http.sandbox import SandboxRoutes
from oeskit.http.security import admin_bearer, partner_bearer
from oeskit.http.services import NamespaceOpener, Services, open_store
from oeskit.http.validation import validator_map
from oeskit.metrics import Metrics
from oeskit.settings import Settings
from oeskit.store.sqlite import SqliteStore

__all__ = ["create_app", "create_app_from_env", "freeze_startup_objects", "open_store"]

log = logging.getLogger("oeskit")


def _resolver(routes: object) -> Resolver:
    return Resolver(function_resolver=lambda operation_id: getattr(routes, operation_id))


def create_app(settings: Settings, store: SqliteStore | None = None) -> Operations:
    """The ASGI application: Operations -> Namespaces -> Guard -> Faults -> Documents ->
    FastLane -> Pages -> connexion (see ARCHITECTURE.md)."""
    store = store or open_store(settings)
    specs = [(spec.contract(), "")]
    if settings.admin_token:
        specs.append((spec.load(spec.sandbox_path()), "/sandbox"))
    mapper = ErrorMapper(spec.rule_statuses(), route_methods(specs))
    metrics = Metrics(settings.metrics_dir)
    services = Services(settings, store, mapper, metrics=metrics)
    # Built first so the lifespan can release held requests and the control plane can list
    # and delete namespaces; wired around the rest below.
    namespaces = Namespaces(
        None, services, NamespaceOpener(settings, mapper, metrics, store), mapper
    )
    faults = Faults(None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        services.start_background()
        namespaces.open_existing()
        try:
            with _on_shutdown_signal(faults.release_held):
                yield
        finally:
            namespaces.close()
            services.stop_background()
            await asyncio.sleep(0)  # one turn of the loop: the cancelled job loops finish

    # The spec files are served as written by `Documents` (/openapi.json, /openapi.yaml), not
    # connexion's resolved copy; Swagger UI at /ui/ (and /sandbox/ui/) reads them, from the
    # swagger-ui-bundle package: nothing is fetched from a CDN.
    app = connexion.AsyncApp(
        __name__,
        lifespan=lifespan,
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True, serve_spec=False),
    )
    partner_routes = PartnerApiRoutes()
    # Parsed dicts, not paths: connexion would re-read each file with the pure-Python YAML
    # loader and render it through Jinja2 (neither is needed; start-up time).
    with _trusted_specs():
        _add_apis(app, settings, partner_routes, namespaces)
    app.add_error_handler(RuleViolation, mapper.rule_violation)
    app.add_error_handler(StoreUnavailable, mapper.store_unavailable)
    app.add_error_handler(connexion.ProblemException, mapper.problem)
    app.add_error_handler(HTTPException, mapper.problem_from_http)
    app.add_error_handler(404, mapper.not_found)
    app.add_error_handler(405, mapper.method_not_allowed)
    app.add_error_handler(Exception, mapper.internal)
    pages = Pages(app, control_plane=bool(settings.admin_token))
    lane = FastLane(pages, partner_routes, validate_responses=settings.validate_responses)
    faults.app = Documents(lane, mapper, control_plane=settings.control_plane_enabled)
    namespaces.app = Guard(faults, Observer(RouteNames.from_specs(specs), metrics))
    return Operations(namespaces, services, metrics, mapper)


def _add_apis(
    app: connexion.AsyncApp,
    settings: Settings,
    partner_routes: PartnerRoutes,
    namespaces: Namespaces,
) -> None:
    """openapi.yaml at the root and, with the control plane on, sandbox.yaml under /sandbox."""
    app.add_api(
        spec.fresh_copy(spec.contract_path()),
        resolver=_resolver(partner_routes),
        validate_responses=settings.validate_responses,
        strict_validation=True,
        security_map={"bearer": partner_bearer()},
        validator_map=validator_map(),
        uri_parser_class=ExplodedArrayParser,
    )
    if settings.admin_token:
        app.add_api(
            spec.fresh_copy(spec.sandbox_path()),
            base_path="/sandbox",
            resolver=_resolver(SandboxRoutes(namespaces)),
            validate_responses=settings.validate_responses,
            strict_validation=True,
            security_map={"bearer": admin_bearer(settings.admin_token)},
            validator_map=validator_map(),
            uri_parser_class=ExplodedArrayParser,
        )


@contextlib.contextmanager
def _trusted_specs() -> Iterator[None]:
    """While connexion reads our two specs, skip its check of each against the OpenAPI 3.0
    schema: with Python jsonschema it took ~0.25 s of every start (a third of `create_app`),
    for files that ship inside the package and are checked where they are written: by the test
    suite (`tests/unit/test_spec.py`, openapi-spec-validator), `oeskit lint` and CI. connexion
    has no option for this, so its classmethod is swapped for the duration of `add_api` and put
    back after; nothing else in the process is affected."""
    own = OpenAPISpecification.__dict__.get("_validate_spec")  # None: inherited
    OpenAPISpecification._validate_spec = classmethod(lambda cls, spec: None)
    try:
        yield
    finally:
        if own is None:
            del OpenAPISpecification._validate_spec
        else:
            OpenAPISpecification._validate_spec = own


@contextlib.contextmanager
def _on_shutdown_signal(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` as soon as SIGTERM or SIGINT arrives, then let the server's own handler
    run. uvicorn waits for every open request before it tells the application it is stopping,
    so a request held by a latency fault would otherwise keep the process alive for its whole
    delay. Signals can only be caught on the main thread; elsewhere (tests) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        chained = previous.get(signum)
        if callable(chained):
            chained(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for caught, chained in previous.items():
            signal.signal(caught, chained)


def create_app_from_env() -> Operations:
    """uvicorn's factory for `serve --workers N`: each worker reads the CLI's settings."""
    return freeze_startup_objects(create_app(Settings.from_env()))


def freeze_startup_objects(app: Operations) -> Operations:
    """Move everything built at start-up (the resolved specs alone are ~10^5 objects) out of
    the garbage collector's reach: full collections walked them all and showed up as 50-100 ms
    stalls in the p99 of the small-settlement benchmark. Only for a serving process; tests build
    many apps and want them collected.

    Also collect the youngest generation every 20,000 allocations instead of 700: a staging
    allocates several hundred objects, so the default ran a collection about every request
    (measured with wrk at 32 connections: ~7 % less server CPU per staging; the requests make
    almost no cycles, so memory does not grow, see `make soak`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    return app
