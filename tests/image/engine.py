"""Podman for the image tests, set up so that nothing on the machine changes: a containers.conf
of our own (CONTAINERS_CONF), storage of our own under ~/.cache/oeskit, the runtime settings a
bare machine without systemd needs. Also the base image built from Debian's packages (no
registry is reachable) and the machine's pip settings passed to the build.

Storage is overlay where this machine lets podman mount it (a rebuild after a change to the
sources takes seconds, a container starts without copying the image), else vfs (a full copy of
the image for every layer and every container: about a minute a rebuild).
OESKIT_TEST_STORAGE_DRIVER=vfs (or overlay) forces one.

Everything cached lives in ~/.cache/oeskit (the base tarball, pip's cache, podman's storage, so
a rerun reuses the layers of an unchanged build); a missing cache is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CACHE = Path.home() / ".cache" / "oeskit"
BASE_TAR = CACHE / "base-bookworm.tar"
BASE_IMAGE = "localhost/oeskit-test-base:bookworm"
MIRROR = "http://deb.debian.org/debian"
CA_IN_BUILD = "/run/oeskit-build/ca.crt"
# Debian bookworm's python3 (3.11) and venv, without the documentation, translations, iconv
# modules and perl (usrmerge pulls it in and the image never needs it).
MMDEBSTRAP = [
    "mmdebstrap",
    "--variant=essential",
    "--include=usr-is-merged,python3,python3-venv",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-include=/usr/share/locale/locale.alias",
    "--dpkgopt=path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*",
    '--customize-hook=chroot "$1" dpkg --purge usrmerge libfile-find-rule-perl '
    "libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36",
    '--customize-hook=rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/*',
]
CONF = """\
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
"""


def missing_tools() -> list[str]:
    return [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]


DRIVER_VARIABLE = "OESKIT_TEST_STORAGE_DRIVER"


@dataclass
class Podman:
    """`podman` with our own configuration and storage."""

    home: Path
    driver: str = "vfs"
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_tests(cls) -> Podman:
        """overlay storage if it works here (or is asked for), else vfs."""
        forced = os.environ.get(DRIVER_VARIABLE, "").strip()
        if forced:
            return cls(CACHE / ("podman" if forced == "vfs" else f"podman-{forced}"), forced)
        overlay = cls(CACHE / "podman-overlay", "overlay")
        try:
            base = base_image(overlay)
            if overlay.run("run", "--rm", base, "true", check=False).returncode == 0:
                return overlay
        except (AssertionError, OSError, subprocess.SubprocessError):
            pass
        return cls(CACHE / "podman", "vfs")

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        conf = self.home / "containers.conf"
        conf.write_text(CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def argv(self, *args: str) -> list[str]:
        return [
            "podman",
            "--root",
            str(self.home / "root"),
            "--runroot",
            str(self.home / "run"),
            "--storage-driver",
            self.driver,
            *args,
        ]

    def run(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.argv(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {result.returncode}\n{result.stderr}")
        return result

    def inspect(self, kind: str, name: str) -> dict[str, object]:
        data = json.loads(self.run(kind, "inspect", name).stdout)
        assert isinstance(data, list)
        first = data[0]
        assert isinstance(first, dict)
        return first

    def remove(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.run("rm", "--force", "--time", "0", name, check=False)


def base_tarball() -> Path:
    """Debian bookworm's python3 as a root file system tarball, built once and cached."""
    if BASE_TAR.is_file():
        return BASE_TAR
    CACHE.mkdir(parents=True, exist_ok=True)
    # mmdebstrap picks its output format from the name: keep `.tar` at the end.
    partial = BASE_TAR.with_name(f"base-bookworm.{os.getpid()}.partial.tar")
    made = subprocess.run(
        [*MMDEBSTRAP, "bookworm", str(partial), MIRROR],
        check=False,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,  # mmdebstrap reads sources from a stdin that is not a tty
        timeout=900,
    )
    if made.returncode != 0:
        partial.unlink(missing_ok=True)
        raise AssertionError(f"mmdebstrap failed ({made.returncode}): {made.stderr[-3000:]}")
    partial.replace(BASE_TAR)
    return BASE_TAR


def base_image(podman: Podman) -> str:
    """The base imported into our storage (again whenever the tarball is newer)."""
    tarball = base_tarball()
    exists = podman.run("image", "exists", BASE_IMAGE, check=False).returncode == 0
    if exists:
        created = str(podman.inspect("image", BASE_IMAGE).get("Created", ""))
        if created and _parse_podman_time(created) >= tarball.stat().st_mtime:
            return BASE_IMAGE
    podman.run("import", str(tarball), BASE_IMAGE, timeout=600)
    return BASE_IMAGE


def _parse_podman_time(text: str) -> float:
    from datetime import datetime

    trimmed = text[:26].rstrip("Z")  # 2026-12-04T15:53:55.123456
    try:
        return datetime.fromisoformat(trimmed + "+00:00").timestamp()
    except ValueError:
        return 0.0


def pip_build_options() -> list[str]:
    """This machine's pip settings (`pip config list`: files and PIP_* variables) as build
    arguments, with the local directories and CA bundle they name mounted read-only."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in ("cert", "index-url", "extra-index-url", "find-links"):
            settings[name] = value.strip().strip("'\"")
    options: list[str] = []
    mounted: set[str] = set()

    def mount(path: str) -> None:
        if path not in mounted and Path(path).exists():
            mounted.add(path)
            options.extend(["--volume", f"{path}:{path}:ro"])

    for name in ("index-url", "extra-index-url", "find-links"):
        if name not in settings:
            continue
        kept = []
        for item in settings[name].split():
            local = urlparse(item).path if item.startswith("file:") else item
            if "://" in item and not item.startswith("file:"):
                kept.append(item)
            elif Path(local).exists():
                # A local "simple" index links to files beside it (../files/...).
                root = Path(local).parent if Path(local).name == "simple" else Path(local)
                mount(str(root))
                kept.append(item)
        if kept:
            options += ["--build-arg", f"PIP_{name.upper().replace('-', '_')}={' '.join(kept)}"]
    cert = settings.get("cert")
    if cert and Path(cert).is_file():
        options += [
            "--volume",
            f"{cert}:{CA_IN_BUILD}:ro",
            "--build-arg",
            f"PIP_CERT={CA_IN_BUILD}",
        ]
    pip_cache = CACHE / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    options += ["--volume", f"{pip_cache}:/root/.cache/pip"]
    return options


# What the Containerfile copies (see .containerignore): a build is skipped when none of it, nor
# the base, changed since the image under the tag was built.
CONTEXT = (
    "Containerfile",
    "pyproject.toml",
    "README.md",
    "openapi.yaml",
    "partner-hosted.yaml",
    "src",
    "fixtures",
)
CONTEXT_LABEL = "org.oeskit.test.context"


def context_digest(context: Path, base: str) -> str:
    digest = hashlib.sha256(base.encode())
    for name in CONTEXT:
        top = context / name
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build(podman: Podman, context: Path, tag: str) -> float:
    """Build the Containerfile at `context` on the Debian base, unless the image under `tag`
    was built from the same files and base; seconds taken (0 when skipped)."""
    started = time.monotonic()
    base = base_image(podman)
    base_id = str(podman.inspect("image", base)["Id"])
    digest = context_digest(context, base_id)
    if podman.run("image", "exists", tag, check=False).returncode == 0:
        labels = podman.inspect("image", tag).get("Labels") or {}
        if isinstance(labels, dict) and labels.get(CONTEXT_LABEL) == digest:
            return 0.0
    common = [
        "--format",
        "docker",  # keeps the HEALTHCHECK
        "--build-arg",
        f"BASE={base}",
        *pip_build_options(),
        "--file",
        str(context / "Containerfile"),
    ]
    # The dependencies' stage gets a tag of its own, so the prune below keeps its layers (the
    # wheels) for the next run; the second build finds every layer of it in the cache. oeskit's
    # own wheel is rebuilt each time (seconds), which is what a change to the sources needs.
    podman.run(
        "build", *common, "--target", "deps", "--tag", tag + "-deps", str(context), timeout=1800
    )
    podman.run(
        "build",
        *common,
        "--label",
        f"{CONTEXT_LABEL}={digest}",
        "--tag",
        tag,
        str(context),
        timeout=1800,
    )
    podman.run("image", "prune", "--force", check=False)  # the previous builds' layers
    return time.monotonic() - started
