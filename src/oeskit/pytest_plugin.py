"""The pytest plugin (entry point `pytest11`): the `oeskit_sandbox` fixture, the `oeskit_world`
marker and the `--oeskit-world` / `--oeskit-dir` / `--oeskit-url` options.

One `oeskit serve` process per test session (per xdist worker: each worker is a session of its
own), started the first time a test asks for the fixture; each test then gets a fresh state by
reloading its world through the control plane. With `--oeskit-url` no process is started: each
session takes a namespace of its own on that server (`/ns/pytest-<worker>-<random>`), deleted
when the session ends, so many runs and workers share one sandbox without meeting. A run that
never uses the fixture starts nothing and imports nothing heavy: this module is loaded by every
pytest run where oeskit is installed.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from oeskit import fixtures

if TYPE_CHECKING:
    from oeskit.testing.sandbox import LoadedWorld, OeskitSandbox, SandboxServer

_MARKER = "oeskit_world"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oeskit", "oeskit sandbox fixture")
    group.addoption(
        "--oeskit-world",
        default=None,
        metavar="NAME|FILE",
        help="World the oeskit_sandbox fixture loads (default: demo; a marker overrides it).",
    )
    group.addoption(
        "--oeskit-dir",
        default=None,
        metavar="DIR",
        help="Where the sandbox server writes its database and log (default: pytest's temp dir).",
    )
    group.addoption(
        "--oeskit-url",
        default=None,
        metavar="URL",
        help="Use the `oeskit serve` running at URL instead of starting one: each session (each "
        "xdist worker) works in a namespace of its own there. Needs its admin token.",
    )
    group.addoption(
        "--oeskit-admin-token",
        default=None,
        metavar="TOKEN",
        help="Admin token of the server of --oeskit-url (default: $OESKIT_ADMIN_TOKEN).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(world): the world oeskit_sandbox loads for this test "
        "(a packaged name such as minimal, or a file path)",
    )
    if config.getoption("--oeskit-url") and not _admin_token(config):
        raise pytest.UsageError(
            "--oeskit-url needs the server's admin token: --oeskit-admin-token or "
            "OESKIT_ADMIN_TOKEN"
        )
    world = config.getoption("--oeskit-world")
    if world is not None:
        try:
            fixtures.world_path(world)
        except fixtures.UnknownWorld as exc:
            raise pytest.UsageError(f"--oeskit-world: {exc}") from None


class _Worlds:
    """Each world read and validated once per session, by the argument that named it."""

    def __init__(self, default: str) -> None:
        self.default = default
        self._cache: dict[str, LoadedWorld] = {}

    def get(self, world: str | Path | None) -> LoadedWorld:
        from oeskit.testing.sandbox import LoadedWorld

        key = str(world if world is not None else self.default)
        if key not in self._cache:
            self._cache[key] = LoadedWorld.read(fixtures.world_path(key))
        return self._cache[key]


@pytest.fixture(scope="session")
def _oeskit_worlds(pytestconfig: pytest.Config) -> _Worlds:
    return _Worlds(pytestconfig.getoption("--oeskit-world") or "demo")


def _workdir(config: pytest.Config, factory: pytest.TempPathFactory) -> Path:
    """A new folder for this session's server, or a clear failure naming where it must write."""
    chosen = config.getoption("--oeskit-dir")
    where = Path(chosen) if chosen else None
    try:
        if where is None:
            where = factory.getbasetemp()
        return Path(tempfile.mkdtemp(prefix="oeskit-sandbox-", dir=where))
    except OSError as exc:
        place = where if where is not None else Path(tempfile.gettempdir())
        pytest.fail(
            f"oeskit_sandbox needs to write its database and server log under {place}, "
            f"which is not writable ({exc.strerror or exc}); point --oeskit-dir (or --basetemp, "
            "or TMPDIR) at a writable folder",
            pytrace=False,
        )


def _admin_token(config: pytest.Config) -> str | None:
    from oeskit.settings import admin_token_from_env

    token = config.getoption("--oeskit-admin-token") or admin_token_from_env()
    return str(token) if token else None


def _shared(config: pytest.Config, url: str) -> SandboxServer:
    """A namespace of its own for this session on the server at `url`."""
    from oeskit.testing.sandbox import SandboxServer, SharedNamespace

    token = _admin_token(config)
    assert token is not None  # pytest_configure refused the run otherwise
    # pytest-xdist hands each worker its id in `workerinput`; the controller has none.
    worker = str(getattr(config, "workerinput", {}).get("workerid", "main")).lower()
    name = f"pytest-{worker}-{secrets.token_hex(4)}"[:40]
    owner = SandboxServer(SharedNamespace(url, name, token), token, loaded="")
    try:
        owner.control("GET", "/clock")  # creates the namespace; says early if the URL is wrong
    except Exception as exc:
        owner.close()
        pytest.fail(f"--oeskit-url {url}: the sandbox did not answer as expected: {exc}")
    return owner


@pytest.fixture(scope="session")
def _oeskit_server(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    _oeskit_worlds: _Worlds,
) -> Iterator[SandboxServer]:
    """The session's `oeskit serve` on the run's world (the first test using it pays start-up),
    or, with `--oeskit-url`, a namespace of its own on that server."""
    from oeskit.testing.server import READY_PATH, start_serve

    url = pytestconfig.getoption("--oeskit-url")
    if url:
        shared = _shared(pytestconfig, url)
        yield shared
        shared.close()
        return

    workdir = _workdir(pytestconfig, tmp_path_factory)
    path = fixtures.world_path(_oeskit_worlds.default)
    admin = secrets.token_urlsafe(18)
    server = start_serve(
        workdir,
        workdir / "sandbox.db",
        admin=admin,
        world=path,
        fresh=True,
        name="oeskit-serve",
        poll=0.01,
        command=(sys.executable, "-u", "-m", "oeskit"),
        wait=False,
    )
    try:
        from oeskit.testing.sandbox import SandboxServer

        # Import the client side and validate the world while the server boots.
        _oeskit_worlds.get(None)
        server.wait_ready(READY_PATH, timeout=60.0, poll=0.01)
    except BaseException:
        server.stop()
        raise
    owner = SandboxServer(server, admin, loaded=str(path))
    yield owner
    owner.close()


@pytest.fixture
def oeskit_sandbox(
    request: pytest.FixtureRequest, _oeskit_server: SandboxServer, _oeskit_worlds: _Worlds
) -> OeskitSandbox:
    """A fresh oeskit sandbox for this test (demo world unless `@pytest.mark.oeskit_world(...)`
    or `--oeskit-world` says otherwise); the server process is shared by the session.

    It offers `url`, `client`, `token`, `enterprise_id`, `partner_id`, `connections`,
    `stage_path`, `world`, `sign(body)`, `advance(minutes=...)`, `reset()` and
    `arm(fault, **options)`, which arms one of the sandbox's faults for this test:
    `fail_after_commit` (external_id, enterprise_id, count), `hold` (milliseconds,
    external_id, enterprise_id, count), `busy` (retry_after_seconds, external_id,
    enterprise_id, count) or `latency` (milliseconds, count); see `OeskitSandbox.arm`.
    """
    marker = request.node.get_closest_marker(_MARKER)
    name = marker.args[0] if marker is not None and marker.args else None
    try:
        world = _oeskit_worlds.get(name)
    except (fixtures.UnknownWorld, ValueError) as exc:
        pytest.fail(f"@pytest.mark.{_MARKER}({name!r}): {exc}", pytrace=False)
    return _oeskit_server.fresh(world)
