"""`python -m bench [--duration S] [--quick] [--skip-prism] [--only a,c]`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import report, runner


def parse(argv: list[str] | None = None) -> tuple[runner.Options, Path]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the oeskit sandbox against Prism and against a floor (issue #4).",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of each load measurement (default 10; 2 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 2 s measurements: checks the runner, not the server",
    )
    parser.add_argument("--skip-prism", action="store_true", help="leave out the Prism column")
    parser.add_argument(
        "--only",
        default=",".join(runner.SECTIONS),
        help="comma-separated sections among a,b,c,d,e (default: all)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="stagings per big case (median; default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=report.RESULTS,
        help="directory of the JSON results (default bench/results)",
    )
    args = parser.parse_args(argv)
    only = frozenset(s.strip() for s in args.only.split(",") if s.strip())
    unknown = only - set(runner.SECTIONS)
    if unknown or not only:
        parser.error(f"--only takes sections among {','.join(runner.SECTIONS)}")
    duration = args.duration if args.duration is not None else (2.0 if args.quick else 10.0)
    if not 0 < duration <= 600:
        parser.error("--duration must be in (0, 600] seconds")
    options = runner.Options(
        duration=duration,
        quick=args.quick,
        skip_prism=args.skip_prism,
        only=only,
        repeats=args.repeats or (1 if args.quick else 3),
        cases=runner.QUICK_CASES if args.quick else runner.FULL_CASES,
    )
    return options, args.results


def main(argv: list[str] | None = None) -> int:
    options, results_dir = parse(argv)
    started = time.perf_counter()
    results = runner.run(options)
    print()
    print(report.table(results))
    path = report.write(results, results_dir)
    print(f"\nresults: {path}  ({time.perf_counter() - started:.0f} s)")
    return 0
