"""Targets of issue #4, the printed table and the JSON file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parent / "results"


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what it measures, the value, the limit and whether it holds (None = n/a)."""
    out: list[dict[str, Any]] = []

    def add(
        name: str, value: float | None, limit: float, op: str, unit: str = "", note: str = ""
    ) -> None:
        ok = None if value is None else (value >= limit if op == ">=" else value <= limit)
        out.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "op": op,
                "unit": unit,
                "ok": ok,
                "note": note,
            }
        )

    prism = _get(results, "a", "prism", "c32", "rps")
    one = _get(results, "a", "sandbox_1w", "c32")
    two = _get(results, "a", "sandbox_2w", "c32")
    no_prism = "" if prism else "Prism not measured"
    add(
        "small, 1 worker, 32 conns: req/s vs Prism",
        _ratio(one and one["rps"], prism),
        1.5,
        ">=",
        "x",
        no_prism,
    )
    add("small, 1 worker, 32 conns: p99", one and one["p99_ms"], 100, "<=", " ms")
    add(
        "small, 2 workers, 32 conns: req/s vs Prism",
        _ratio(two and two["rps"], prism),
        2.5,
        ">=",
        "x",
        no_prism,
    )
    cases = {c["role"]: c for c in _get(results, "c", "cases") or [] if c.get("role")}
    mid, large = cases.get("mid"), cases.get("large")
    add(f"{_label(mid)} staging / floor", mid and mid.get("ratio"), 2.0, "<=", "x")
    add(f"{_label(large)} staging / floor", large and large.get("ratio"), 2.5, "<=", "x")
    add(
        f"{_label(large)} / {_label(mid)} staging",
        _ratio(large and large["staging_ms"], mid and mid["staging_ms"]),
        6.0,
        "<=",
        "x",
    )
    add(
        f"replay of {_label(mid)} / its staging",
        _get(results, "c", "replay", "percent"),
        20,
        "<=",
        " %",
    )
    add(
        "start-up (oeskit serve, to first 200)", _get(results, "e", "startup_ms"), 1500, "<=", " ms"
    )
    rss = _get(results, "e", "rss_mb_1w_after_load")
    add("RSS, 1 worker, after the small load", rss, 120, "<=", " MB")
    # Issue #21: the store on PostgreSQL.
    pg_one = _get(results, "f", "replicas_1", "rps")
    pg_two = _get(results, "f", "replicas_2", "rps")
    add(
        "PostgreSQL, 1 replica, 32 conns vs SQLite",
        _ratio(pg_one, one and one["rps"]),
        0.6,
        ">=",
        "x",
        "" if one else "SQLite (section a) not measured",
    )
    add("PostgreSQL, 2 replicas vs 1 replica", _ratio(pg_two, pg_one), 1.0, ">=", "x")
    return out


def _label(case: dict[str, Any] | None) -> str:
    if not case:
        return "?"
    n = case["connections"]
    size = f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)
    return f"{size}x{case['currencies']} {case['shape']}"


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}{unit}"
    return f"{value:,.2f}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    a = results.get("a") or {}
    if a:
        lines.append("a. small signed settlement (2 conns x 2 currencies, unique externalId)")
        lines.append(
            f"   {'server':<14}{'conns':>6}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
            f"{'errors':>8}{'ratio vs Prism':>16}"
        )
        prism = _get(results, "a", "prism")
        for name in ("sandbox_1w", "sandbox_2w", "prism"):
            server = a.get(name)
            if not server:
                if name == "prism":
                    lines.append(f"   {'prism':<14}  skipped: {a.get('prism_skipped', '?')}")
                continue
            for conns in ("c1", "c32"):
                m = server.get(conns)
                if not m:
                    continue
                base = prism and prism.get(conns) and prism[conns]["rps"]
                ratio = _fmt(_ratio(m["rps"], base), "x") if name != "prism" else ""
                lines.append(
                    f"   {name:<14}{conns[1:]:>6}{_fmt(m['rps']):>10}"
                    f"{_fmt(m['p50_ms']):>10}{_fmt(m['p99_ms']):>10}{m['errors']:>8}"
                    f"{ratio:>16}"
                )
    b = results.get("b")
    if b:
        lines.append(
            f"b. identical replay, 32 conns: {_fmt(b['rps'])} req/s, p50 "
            f"{_fmt(b['p50_ms'])} ms, p99 {_fmt(b['p99_ms'])} ms, errors {b['errors']}"
        )
    c = results.get("c")
    if c and c.get("cases"):
        lines.append(
            "c. big settlements: client send -> 200 received, vs floor "
            "(parse + verify + rows + executemany)"
        )
        lines.append(
            f"   {'case':<24}{'transfers':>10}{'MB':>7}{'staging ms':>12}"
            f"{'floor ms':>10}{'ratio':>8}{'world load s':>14}"
        )
        for case in c["cases"]:
            floor = case.get("floor") or {}
            lines.append(
                f"   {_label(case):<24}{case['transfers']:>10,}"
                f"{case['body_bytes'] / 1e6:>7.1f}{_fmt(case['staging_ms']):>12}"
                f"{_fmt(floor.get('total_ms')):>10}{_fmt(case.get('ratio'), 'x'):>8}"
                f"{case['world_load_ms'] / 1000:>14.1f}"
            )
        replay = c.get("replay")
        if replay:
            lines.append(
                f"   replay of {replay['case']}: {_fmt(replay['replay_ms'])} ms = "
                f"{_fmt(replay['percent'])} % of its staging"
            )
    d = results.get("d")
    if d:
        lines.append("d. reads (median ms)")
        for key, value in d.items():
            if isinstance(value, (int, float)):
                lines.append(f"   {key:<44}{_fmt(value):>10}")
    e = results.get("e")
    if e:
        lines.append("e. start-up and memory")
        for key, value in e.items():
            if isinstance(value, (int, float)):
                lines.append(f"   {key:<44}{_fmt(value):>10}")
    f = results.get("f")
    if f:
        lines.extend(_postgres_lines(f, results))
    env = results.get("environment") or {}
    if env:
        lines.append(
            f"machine: {env.get('cpus')} CPUs, load average {env.get('loadavg_start')} "
            f"at start, {env.get('loadavg_end')} at end (other load skews every number)"
        )
    lines.append("")
    lines.append("targets (issue #4)")
    for t in results.get("targets", []):
        mark = {True: "✓", False: "✗", None: "·"}[t["ok"]]
        value = _fmt(t["value"], t["unit"])
        limit = _fmt(t["limit"], t["unit"])
        note = f"  ({t['note']})" if t["note"] else ""
        lines.append(f"   {mark} {t['target']:<46}{value:>12}  {t['op']} {limit}{note}")
    if results.get("quick"):
        lines.append("   (--quick: tiny sizes, indicative only)")
    return "\n".join(lines)


def _postgres_lines(f: dict[str, Any], results: dict[str, Any]) -> list[str]:
    if f.get("skipped"):
        return [f"f. PostgreSQL: skipped ({f['skipped']})"]
    lines = ["f. PostgreSQL store (one throwaway server on this machine)"]
    sqlite = _get(results, "a", "sandbox_1w", "c32")
    for key, label in (("replicas_1", "1 replica"), ("replicas_2", "2 replicas")):
        m = f.get(key)
        if m:
            lines.append(
                f"   {label:<14}{m['connections']:>6}{_fmt(m['rps']):>10}"
                f"{_fmt(m['p50_ms']):>10}{_fmt(m['p99_ms']):>10}{m['errors']:>8}"
            )
    if sqlite:
        lines.append(f"   (SQLite, 1 worker, 32 conns, section a: {_fmt(sqlite['rps'])} req/s)")
    big = f.get("big")
    if big:
        sqlite_big = next(
            (
                c
                for c in _get(results, "c", "cases") or []
                if c.get("role") == "mid" and c.get("shape") == "exchange"
            ),
            None,
        )
        beside = f" (SQLite {_fmt(sqlite_big['staging_ms'])} ms)" if sqlite_big else ""
        lines.append(
            f"   big staging {big['connections']:,}x{big['currencies']} "
            f"({big['transfers']:,} transfers): {_fmt(big['staging_ms'])} ms{beside}"
        )
    return lines


def write(results: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path
