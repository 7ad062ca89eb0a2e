"""Scenario files (fixtures/scenarios/*.yaml): load them, check their shape and rule ids, and say
which capabilities each needs. Scenarios are data; executing a step is steps.py's job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from oeskit.conformance.profile import CAPABILITIES, fixtures_dir

# libyaml's safe loader when PyYAML has it (same documents, ~15x faster than the pure-Python one).
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SCENARIO_KEYS = {
    "id",
    "title",
    "rules",
    "tags",
    "world",
    "worldSet",
    "requires",
    "steps",
    "description",
}
_STEP_KEYS = {
    "name",
    "call",
    "sandbox",
    "as",
    "enterprise",
    "sign",
    "signAll",
    "body",
    "query",
    "tamper",
    "raw",
    "rawSize",
    "contentType",
    "headers",
    "headerSize",
    "replay",
    "expect",
    "save",
}
_EXPECT_KEYS = {
    "status",
    "rule",
    "json",
    "exists",
    "absent",
    "same",
    "notSame",
    "length",
    "contains",
    "all",
    "warn",
}
_TAMPER_KEYS = {"set", "remove", "payload", "payloadText", "signature", "signWith"}
# The control-plane route that needs each capability beyond `sandbox`.
_SANDBOX_CAPABILITY = {
    "/clock": "clock",
    "/disputes": "disputes",
    "/balances": "balances",
    "/faults": "faults",
    "/outbox": "outbox",
    "/jobs": "jobs",
    "/world": "worlds",
}


class ScenarioError(ValueError):
    """A scenario file that breaks the format; the message names the file, scenario and field."""


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    title: str
    rules: tuple[str, ...]
    tags: tuple[str, ...]
    world: str | None
    world_set: dict[str, Any]
    requires: frozenset[str]
    steps: tuple[dict[str, Any], ...]
    source: str

    def needs(self) -> frozenset[str]:
        """Every capability the target must declare to run this scenario."""
        needed = set(self.requires)
        if self.world:
            needed |= {"sandbox", "worlds"}
        for step in self.steps:
            if "sandbox" in step:
                needed.add("sandbox")
                path = str(step["sandbox"]).split()[-1]
                needed.update(
                    cap for prefix, cap in _SANDBOX_CAPABILITY.items() if path.startswith(prefix)
                )
        return frozenset(needed)


def scenarios_dir() -> Path:
    return fixtures_dir() / "scenarios"


def load_scenarios(
    directory: Path | None = None, known_rules: set[str] | None = None
) -> list[Scenario]:
    """Every scenario of every *.yaml file in `directory`, in file then file order."""
    out: list[Scenario] = []
    seen: set[str] = set()
    for path in sorted((directory or scenarios_dir()).glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_SAFE_LOADER) or []  # noqa: S506 - a safe loader
        if not isinstance(data, list):
            raise ScenarioError(f"{path.name}: a scenario file is a list of scenarios")
        for raw in data:
            scenario = parse_scenario(raw, path.name, known_rules)
            if scenario.id in seen:
                raise ScenarioError(f"{path.name}: duplicate scenario id {scenario.id}")
            seen.add(scenario.id)
            out.append(scenario)
    return out


def parse_scenario(raw: Any, source: str, known_rules: set[str] | None = None) -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: each scenario is a mapping")
    where = f"{source}: {raw.get('id', '?')}"
    _only(raw, _SCENARIO_KEYS, where)
    for key in ("id", "title", "rules", "steps"):
        if not raw.get(key):
            raise ScenarioError(f"{where}: `{key}` is required")
    rules = tuple(str(r) for r in raw["rules"])
    if known_rules is not None:
        unknown = [r for r in rules if r not in known_rules]
        if unknown:
            raise ScenarioError(f"{where}: rules not in x-oeskit-rules: {unknown}")
    requires = frozenset(str(c) for c in raw.get("requires") or ())
    if requires - set(CAPABILITIES):
        raise ScenarioError(f"{where}: unknown capabilities {sorted(requires)}")
    steps = raw["steps"]
    if not isinstance(steps, list):
        raise ScenarioError(f"{where}: steps is a list")
    for index, step in enumerate(steps):
        _check_step(step, f"{where}: step {index + 1}")
    return Scenario(
        str(raw["id"]),
        str(raw["title"]),
        rules,
        tuple(str(t) for t in raw.get("tags") or ()),
        raw.get("world"),
        dict(raw.get("worldSet") or {}),
        requires,
        tuple(steps),
        source,
    )


def _check_step(step: Any, where: str) -> None:
    if not isinstance(step, dict):
        raise ScenarioError(f"{where}: a step is a mapping")
    _only(step, _STEP_KEYS, where)
    if sum(k in step for k in ("call", "sandbox", "replay")) != 1:
        raise ScenarioError(f"{where}: a step has exactly one of call, sandbox, replay")
    target = step.get("call") or step.get("sandbox")
    if target is not None and len(str(target).split()) != 2:
        raise ScenarioError(f"{where}: call/sandbox is 'METHOD /path'")
    _only(step.get("expect") or {}, _EXPECT_KEYS, where + " expect")
    _only(step.get("tamper") or {}, _TAMPER_KEYS, where + " tamper")


def _only(mapping: Any, allowed: set[str], where: str) -> None:
    if not isinstance(mapping, dict):
        raise ScenarioError(f"{where}: expected a mapping")
    extra = set(mapping) - allowed
    if extra:
        raise ScenarioError(f"{where}: unknown keys {sorted(extra)} (allowed: {sorted(allowed)})")
