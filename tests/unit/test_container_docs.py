"""The Containerfile and the README's container recipes say what the image tests check (those
need podman; these run everywhere)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = (ROOT / "Containerfile").read_text()
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def _yaml_blocks(text: str) -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def _steps() -> list[list[str]]:
    """The Containerfile's instructions, continuation lines joined: [keyword, arguments]."""
    lines = CONTAINERFILE.replace("\\\n", " ").splitlines()
    return [line.split(None, 1) for line in lines if line.strip() and line[0] != "#"]


def _instructions(name: str) -> list[str]:
    return [step[1] for step in _steps() if step[0] == name]


def test_containerfile_directives() -> None:
    """The dependencies' stage and oeskit's (on top of it) from ARG BASE, then the final one; each
    install of wheels after a COPY of their checksums (podman's cache of a RUN ignores the
    stage it bind-mounts); a numeric non-root user, port 8080, /data as volume, oeskit as
    entrypoint and the sandbox with the demo world as command, and a health check."""
    assert _instructions("ARG")[0].startswith("BASE=")
    assert _instructions("FROM") == ["${BASE} AS deps", "deps AS build", "${BASE}"]
    steps = _steps()
    final = steps[max(i for i, step in enumerate(steps) if step[:1] == ["FROM"]) :]
    installs = [i for i, step in enumerate(final) if step[0] == "RUN" and "install" in step[1]]
    assert len(installs) == 2
    for i in installs:
        assert final[i - 1][0] == "COPY" and final[i - 1][1].endswith(".sha256")
    (user,) = _instructions("USER")
    assert user == "${UID}:${UID}" and "ARG UID=10001" in CONTAINERFILE
    assert _instructions("EXPOSE") == ["8080"]
    assert _instructions("VOLUME") == ["/data"]
    assert json.loads(_instructions("ENTRYPOINT")[0]) == ["oeskit"]
    assert json.loads(_instructions("CMD")[0]) == ["serve", "--host", "0.0.0.0", "--world", "demo"]  # noqa: S104
    assert "/healthz" in _instructions("HEALTHCHECK")[0]


def test_readme_compose_runs_two_replicas_on_postgresql() -> None:
    """The compose example: two oeskit replicas on one PostgreSQL database, JSON logs."""
    compose = _yaml_blocks(_section("Run it as a container"))[0]
    oeskit = compose["services"]["oeskit"]
    assert oeskit["deploy"]["replicas"] == 2
    assert oeskit["environment"]["OESKIT_DB"].startswith("postgresql://")
    assert "postgres" in compose["services"]
    assert oeskit["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_readme_ci_service_recipes() -> None:
    """GitHub Actions and GitLab CI each attach the image as a service container with an admin
    token, and the tests point at it."""
    _, github, gitlab = _yaml_blocks(_section("Run it as a container"))
    service = github["jobs"]["test"]["services"]["oeskit"]
    assert service["ports"] == ["8080:8080"] and "OESKIT_ADMIN_TOKEN" in service["env"]
    assert "/readyz" in service["options"]
    (gitlab_service,) = gitlab["test"]["services"]
    assert gitlab_service["alias"] == "oeskit"
    assert any("http://oeskit:8080" in line for line in gitlab["test"]["script"])
