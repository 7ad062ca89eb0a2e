"""The OCI image (Containerfile), built once for the module on a Debian base and run with
podman: it serves a signed staging, /healthz and /metrics; it runs as a user without
privileges; its state survives a restart in the /data volume; it stops within 10 s on SIGTERM;
`oeskit conform` from the image passes against the image; it stays under 250 MB."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from oeskit.testing.server import free_port
from tests.image.engine import Podman, build, missing_tools
from tests.reliability.support import PARTNER_HEADERS, STAGE_URL, signed_body

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/oeskit:test"
ADMIN = "image-admin-" + secrets.token_hex(4)
MAX_BYTES = 250 * 1000 * 1000

pytestmark = [
    pytest.mark.image,
    pytest.mark.slow,
    # One worker builds the image once (a module-scoped fixture) and runs every check on it.
    pytest.mark.xdist_group("image"),
    # The first test pays for the build: minutes on a cold cache, more on a loaded machine.
    pytest.mark.timeout(1800),
    pytest.mark.skipif(bool(missing_tools()), reason=f"not installed: {missing_tools()}"),
]


@dataclass
class Built:
    podman: Podman
    seconds: float


@dataclass
class Running:
    name: str
    base_url: str
    first_200_s: float


@pytest.fixture(scope="module")
def image() -> Built:
    podman = Podman.for_tests()
    seconds = build(podman, ROOT, TAG)
    print(f"\nimage built in {seconds:.1f} s ({podman.driver} storage)")
    return Built(podman, seconds)


def _start(image: Built, *extra: str, name: str | None = None) -> Running:
    """A container of the image on a free loopback port, once /healthz answers 200. Created
    first, then started: with vfs storage creating copies the whole image, which is storage
    work, not the server's start (`first_200_s` counts from `podman start`)."""
    name = name or "oeskit-test-" + secrets.token_hex(4)
    port = free_port()
    image.podman.run(
        "create",
        "--name",
        name,
        "--publish",
        f"127.0.0.1:{port}:8080",
        "--env",
        f"OESKIT_ADMIN_TOKEN={ADMIN}",
        *extra,
        TAG,
    )
    started = time.monotonic()
    image.podman.run("start", name)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return Running(name, base_url, time.monotonic() - started)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    logs = image.podman.run("logs", name, check=False)
    image.podman.remove(name)
    raise AssertionError(f"the container never answered /healthz: {logs.stdout}{logs.stderr}")


@pytest.fixture(scope="module")
def server(image: Built) -> Iterator[Running]:
    """One container for the tests that only talk to it (conform uses a namespace of its own)."""
    running = _start(image)
    yield running
    image.podman.remove(running.name)


@dataclass
class Stopped:
    """A container on a named volume that staged a settlement, then got SIGTERM."""

    volume: str
    settlement_id: str
    exit_code: str
    stop_seconds: float


@pytest.fixture(scope="module")
def stopped(image: Built) -> Iterator[Stopped]:
    """A container with a named volume at /data stages a settlement, gets SIGTERM and exits;
    the test of SIGTERM reads how, the test of the volume replaces it. (One container for both:
    with vfs storage each container costs a copy of the whole image, ~3 s here.)"""
    volume = "oeskit-test-data-" + secrets.token_hex(4)
    image.podman.run("volume", "create", volume)
    try:
        first = _start(image, "--volume", f"{volume}:/data")
        try:
            staged = httpx.post(
                first.base_url + STAGE_URL,
                headers=PARTNER_HEADERS,
                json=signed_body("image-restart"),
                timeout=30,
            )
            assert staged.status_code == 200, staged.text
            started = time.monotonic()
            image.podman.run("kill", "--signal", "TERM", first.name)
            code = image.podman.run("wait", first.name, timeout=30).stdout.strip()
            took = time.monotonic() - started
        finally:
            image.podman.remove(first.name)
        yield Stopped(volume, staged.json()["settlement"]["id"], code, took)
    finally:
        image.podman.run("volume", "rm", "--force", volume, check=False)


def test_image_is_small(image: Built) -> None:
    """The final image (base included) is at most 250 MB."""
    size = int(str(image.podman.inspect("image", TAG)["Size"]))
    print(f"\nimage size {size / 1e6:.0f} MB")
    assert size <= MAX_BYTES


def test_image_metadata(image: Built) -> None:
    """Non-root user, port 8080, the /data volume, `oeskit` as entrypoint, the sandbox with the
    demo world as default command, and a health check."""
    inspected = image.podman.inspect("image", TAG)
    config = inspected["Config"]
    assert isinstance(config, dict)
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    assert config["Entrypoint"] == ["oeskit"]
    assert config["Cmd"] == ["serve", "--host", "0.0.0.0", "--world", "demo"]  # noqa: S104
    assert "OESKIT_DB=/data/oeskit.db" in config["Env"]
    health = inspected["Healthcheck"]  # podman keeps it beside Config (docker format only)
    assert isinstance(health, dict) and "/healthz" in " ".join(health["Test"])


# The digest of a tree of .py files: each file's path below the package and its bytes.
_DIGEST = """
import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
digest = hashlib.sha256()
for path in sorted(root.rglob("*.py")):
    digest.update(str(path.relative_to(root)).encode() + b"\\0" + path.read_bytes())
print(digest.hexdigest())
"""


def test_the_image_holds_this_checkouts_oeskit(image: Built, server: Running) -> None:
    """Every Python file of the installed package is the checkout's, byte for byte: a build
    must never reuse a layer that installed older wheels (podman reuses a cached RUN whose
    bind-mounted stage changed; the Containerfile's checksum COPYs are what prevent it)."""
    here = subprocess.run(
        [sys.executable, "-c", _DIGEST, str(ROOT / "src" / "oeskit")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    where = "import oeskit, pathlib; print(pathlib.Path(oeskit.__file__).parent)"
    package = image.podman.run("exec", server.name, "python3", "-c", where).stdout.strip()
    there = image.podman.run("exec", server.name, "python3", "-c", _DIGEST, package)
    assert there.stdout.split() == here


def test_runs_as_non_root(image: Built, server: Running) -> None:
    """The server process in the container (PID 1) is not root, a command run in it is not
    either (the image's user), and that user owns /data."""
    out = image.podman.run(
        "exec", server.name, "sh", "-c", "stat -c %u /proc/1; id -u; stat -c %u /data"
    )
    server_uid, uid, owner = out.stdout.split()
    assert server_uid == uid == owner == "10001"


def test_answers_a_signed_staging_healthz_readyz_and_metrics(image: Built, server: Running) -> None:
    """A signed staging gets 200 pending; /readyz is ready; /metrics counts it; the health
    check of the image passes."""
    print(f"\nfirst 200 after {server.first_200_s:.2f} s")
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        before = _created(http.get("/metrics").text)
        staged = http.post(STAGE_URL, headers=PARTNER_HEADERS, json=signed_body("image-1"))
        assert staged.status_code == 200, staged.text
        assert staged.json()["settlement"]["status"] == "pending"
        ready = http.get("/readyz")
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "world": "loaded"}}
        after = _created(http.get("/metrics").text)
    assert after - before == 1
    assert image.podman.run("healthcheck", "run", server.name, check=False).returncode == 0


def _created(text: str) -> float:
    """oeskit_stagings_total{outcome="created"} in an exposition (prometheus-client's parser)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "oeskit_stagings_total" and sample.labels.get("outcome") == "created"
    )


def test_state_survives_a_restart_in_the_volume(image: Built, stopped: Stopped) -> None:
    """A settlement staged before the container is replaced is still there after, on the same
    volume."""
    second = _start(image, "--volume", f"{stopped.volume}:/data")
    try:
        path = STAGE_URL.replace("/v2/", "/v1/") + "/" + stopped.settlement_id
        again = httpx.get(second.base_url + path, headers=PARTNER_HEADERS, timeout=30)
    finally:
        image.podman.remove(second.name)
    assert again.status_code == 200, again.text
    assert again.json()["settlement"]["id"] == stopped.settlement_id


def test_stops_within_10_seconds_on_sigterm(stopped: Stopped) -> None:
    """SIGTERM to the container (one that served a staging): it exits 0, well within 10 s."""
    assert stopped.exit_code == "0"
    assert stopped.stop_seconds < 10


def test_conform_from_the_image_passes_against_the_image(image: Built, server: Running) -> None:
    """`oeskit conform` run in the image (in the shared container, beside its server) passes
    against the image's server, in a namespace of its own."""
    result = image.podman.run(
        "exec",
        server.name,
        "oeskit",
        "conform",
        "--target",
        "http://127.0.0.1:8080/ns/conform",
        "--sandbox-token",
        ADMIN,
        "--max-examples",
        "3",
        "--report-dir",
        "/tmp/conform",
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # The verdicts and the summary on stdout, as everywhere (#18 item 19).
    assert " 0 failed" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
