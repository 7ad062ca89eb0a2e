"""Where the shipped worlds, scenarios and profiles are, and what a world name means.

The files live in the repository's `fixtures/` folder; a wheel carries a copy inside the package
(`oeskit/data/`, see pyproject's force-include; not `oeskit/fixtures/`, which this module's name
would shadow). The packaged copy wins, as for openapi.yaml in
`spec.contract_path()`. Resolution only: reading and validating a world is `worlds.py`'s job.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).parent


class UnknownWorld(ValueError):
    """A world argument that is neither a packaged world's name nor an existing file."""


def root() -> Path:
    """The fixtures folder: packaged copy first (wheel installs), else the checkout's."""
    for candidate in (_PACKAGE / "data", _PACKAGE.parents[1] / "fixtures"):
        if (candidate / "worlds").is_dir():
            return candidate
    raise FileNotFoundError(
        "the fixtures folder is neither in the package nor at the checkout root"
    )


def scenarios_dir() -> Path:
    return root() / "scenarios"


def profile_path(name: str) -> Path:
    return root() / "profiles" / f"{name}.yaml"


def shipped(path: str | Path) -> Path:
    """`path`, or, when it does not exist and names a file of the repository's `fixtures/`
    (`fixtures/worlds/demo.yaml`, `fixtures/profiles/example.yaml`), the copy shipped in the
    package: the docs' commands then work from any folder where oeskit is installed."""
    given = Path(path)
    if given.exists():
        return given
    parts = given.parts
    if len(parts) >= 3 and parts[-3] == "fixtures":
        candidate = root() / parts[-2] / parts[-1]
        if candidate.is_file():
            return candidate
    return given


def world_names() -> list[str]:
    """The packaged worlds, by name (the file stem)."""
    return sorted(p.stem for p in (root() / "worlds").glob("*.yaml"))


def world_path(world: str | Path) -> Path:
    """A world given by name (`demo`) or by path (`my/world.yaml`).

    A bare name (no folder, no suffix) is a packaged world first; anything else is a path, which
    must exist (or be a `fixtures/worlds/` path of a shipped world, see `shipped`). Either way
    the error lists the packaged names, so a typo shows what would work.
    """
    text = str(world)
    is_name = "/" not in text and "\\" not in text and not Path(text).suffix
    if is_name and text in world_names():
        return root() / "worlds" / f"{text}.yaml"
    path = shipped(text)
    if path.is_file():
        return path
    what = "no packaged world" if is_name else "no world file"
    raise UnknownWorld(
        f"{what} {text!r}; packaged worlds: {', '.join(world_names())} (or give a file path)"
    )
