"""Runtime settings: one frozen object built once and passed down.

This is the only module that reads the environment (the CLI hands options to uvicorn's worker
processes through it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

ENV_PREFIX = "OESKIT_"
# 32 MiB: a 50,000-connection x 5-currency settlement is about 9 MB of JSON.
DEFAULT_BODY_LIMIT = 32 * 1024 * 1024
# Seconds a request body may take to arrive (plus one per 64 KiB received), rule OES-REQ-007.
DEFAULT_BODY_TIMEOUT_S = 10.0
# Seconds a connection may take to send a request's line and headers (rule OES-REQ-008).
DEFAULT_HEADER_TIMEOUT_S = 10.0
# Namespaces (`/ns/{name}/`) one server holds at most; one SQLite file each.
DEFAULT_MAX_NAMESPACES = 64
# Seconds the sandbox waits for one answer of a partner's hosted endpoint before it retries.
DEFAULT_PARTNER_TIMEOUT_S = 5.0
# Seconds a stopping server (SIGTERM) gives the requests in flight before it cancels them.
DEFAULT_SHUTDOWN_TIMEOUT_S = 10.0
# prometheus-client's own variable: where worker processes keep the counters a scrape of any
# one of them adds up (its multiprocess mode, for `serve --workers N`).
PROMETHEUS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "oeskit.db"
    world: str | None = None
    workers: int = 1
    admin_token: str | None = None
    clock: str = "wall"  # wall | frozen | speed=N
    body_limit: int = DEFAULT_BODY_LIMIT
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    validate_responses: bool = False
    busy_timeout_ms: int = 5000
    job_interval_s: float = 0.5
    run_jobs: bool = True
    max_namespaces: int = DEFAULT_MAX_NAMESPACES
    # BitGo's side toward partner-hosted endpoints: a PEM file with BitGo's RSA private key
    # (default: one kept per database), and the seconds one call to a partner may take.
    bitgo_key: str | None = None
    partner_timeout_s: float = DEFAULT_PARTNER_TIMEOUT_S
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    # The directory of prometheus-client's multiprocess mode (set by `serve --workers N`).
    metrics_dir: str | None = None

    @property
    def control_plane_enabled(self) -> bool:
        return self.admin_token is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from OESKIT_* variables (how `serve --workers N` reaches its workers)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _coerce(f.type, raw)
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[ENV_PREFIX + f.name.upper()] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        return out

    def export(self) -> None:
        """Hand these settings to worker processes started after this call (uvicorn --workers).
        prometheus-client picks its multiprocess mode from its own variable when imported."""
        os.environ.update(self.to_env())
        if self.metrics_dir:
            os.environ[PROMETHEUS_DIR_ENV] = self.metrics_dir

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _coerce(type_name: object, raw: str) -> object:
    text = str(type_name)
    if text.startswith("bool"):
        return raw.lower() in {"1", "true", "yes", "on"}
    if text.startswith("int"):
        return int(raw)
    if text.startswith("float"):
        return float(raw)
    return raw


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_var(option: str) -> str:
    """The environment variable of a `serve` option: `--body-limit` reads OESKIT_BODY_LIMIT."""
    return ENV_PREFIX + option.lstrip("-").replace("-", "_").upper()


def env_value(name: str) -> str | None:
    """Environment variable `name`, unset or empty as None: how the CLI's options read theirs
    (`cli/options.py`), so a flag on the command line wins and `--help` can name it."""
    return os.environ.get(name) or None


def admin_token_from_env() -> str | None:
    """`OESKIT_ADMIN_TOKEN`, the admin token tools other than `oeskit serve` (whose click option
    reads it itself) take when none is given, e.g. the pytest plugin's `--oeskit-url` mode."""
    return os.environ.get(ENV_PREFIX + "ADMIN_TOKEN") or None


def package_file(name: str) -> Path:
    """A data file shipped inside the package (specs), found without reading the environment."""
    return Path(__file__).parent / name


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a process oeskit starts on the user's behalf (the client under
    `oeskit client-test`): this process's own, plus `extra`."""
    return {**os.environ, **extra}


_HYPOTHESIS_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"


@contextlib.contextmanager
def hypothesis_storage_in_our_cache() -> Iterator[None]:
    """For `oeskit conform`: the fuzz pass's Hypothesis keeps what it computes once (the
    characters each text codec can encode: ~1.4 s of CPU) under `.hypothesis/` in the current
    folder, so a run from a fresh folder (CI, a new checkout) paid for it every time and left
    that folder behind. During the run it is pointed at `$XDG_CACHE_HOME/oeskit/hypothesis`
    (`~/.cache/...`) instead, unless HYPOTHESIS_STORAGE_DIRECTORY already says where (or
    Hypothesis already chose, as under pytest). Nothing else is stored there: the fuzz pass
    keeps no example database."""
    if os.environ.get(_HYPOTHESIS_STORAGE):
        yield
        return
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    os.environ[_HYPOTHESIS_STORAGE] = str(Path(cache) / "oeskit" / "hypothesis")
    try:
        yield
    finally:
        os.environ.pop(_HYPOTHESIS_STORAGE, None)
