"""Reading a contract document for the contract tools, and following its local `$ref`s.

A source is a file path or `REV:PATH` (read with `git show`). Every failure is one
`DocumentError` whose message is a single line naming the source and the problem.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's C loader when present: the contract is ~2,000 lines and lint reads it several times.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class DocumentError(Exception):
    """A source that cannot be read as an OpenAPI 3 document; str() is one line."""


@dataclass(frozen=True, slots=True)
class Document:
    source: str
    data: dict[str, Any]


def load(source: str) -> Document:
    """The parsed OpenAPI 3 document at `source` (a path, or `REV:PATH` from git)."""
    text = _read_text(source)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DocumentError(f"{source}: not YAML or JSON{where}") from exc
    if not isinstance(data, dict):
        raise DocumentError(f"{source}: not an OpenAPI document (the top level is not a mapping)")
    version = data.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        found = "no `openapi` field" if version is None else f"`openapi: {version}`"
        raise DocumentError(f"{source}: not an OpenAPI 3 document ({found})")
    return Document(source, data)


def _read_text(source: str) -> str:
    path = Path(source)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(f"{source}: cannot be read ({exc.__class__.__name__})") from exc
    rev, sep, inner = source.partition(":")
    if sep and rev and inner:
        return _git_show(source)
    raise DocumentError(f"{source}: no such file")


def _git_show(source: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, the source is one argument
            ["git", "show", source],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DocumentError(f"{source}: git show failed ({exc.__class__.__name__})") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DocumentError(f"{source}: {reason[-1] if reason else 'git show failed'}")
    try:
        return done.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{source}: not UTF-8 text") from exc


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from the root through `parts`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def target(document: dict[str, Any], ref: str) -> Any:
    """What a local `$ref` points at, or None when it is not local or leads nowhere."""
    if not ref.startswith("#"):
        return None
    node: Any = document
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def deref(document: dict[str, Any], node: Any, limit: int = 32) -> tuple[Any, tuple[str, ...]]:
    """`node` after following `$ref` chains, with the refs followed (a chain is cut at `limit`)."""
    refs: list[str] = []
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and len(refs) < limit:
        ref = node["$ref"]
        if ref in refs:
            break
        refs.append(ref)
        node = target(document, ref)
    return node, tuple(refs)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation, in document order."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        item, _ = deref(document, item)
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield str(path), method, op


def parameters(
    document: dict[str, Any], path: str, method: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """The operation's parameters by (in, name), path-level ones overridden by its own."""
    item, _ = deref(document, document.get("paths", {}).get(path))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for owner in (item, item.get(method) if isinstance(item, dict) else None):
        listed = owner.get("parameters") if isinstance(owner, dict) else None
        for raw in listed if isinstance(listed, list) else []:
            param, _ = deref(document, raw)
            if isinstance(param, dict):
                out[(str(param.get("in")), str(param.get("name")))] = param
    return out


def rule_catalogues(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every rules catalogue at the root (`x-oeskit-rules`, `x-oeskit-client-rules`...)."""
    return {
        key: [rule for rule in value if isinstance(rule, dict)]
        for key, value in document.items()
        if isinstance(key, str)
        and key.startswith("x-oeskit-")
        and key.endswith("rules")
        and isinstance(value, list)
    }


def media_types(node: Any) -> dict[str, dict[str, Any]]:
    """The `content` map of a request body or response (media type -> media object), whatever
    shape the document gives it (diff and lint read odd documents without crashing)."""
    content = node.get("content") if isinstance(node, dict) else None
    if not isinstance(content, dict):
        return {}
    return {str(k): v if isinstance(v, dict) else {} for k, v in content.items()}


def as_mapping(value: Any) -> dict[str, Any]:
    """`value` as a dict with string keys, or {} when it is not a mapping."""
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}
