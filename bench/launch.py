"""Start the sandbox for the benchmark: exactly `oeskit serve`, with a body limit big enough
for the 50,000-connection settlements. Loopback only.

    python -m bench.launch --port 8123 --db /tmp/x.db --workers 2 --admin-token T
"""

from __future__ import annotations

import argparse
import os

from oeskit.settings import is_loopback

BODY_LIMIT = 200_000_000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.launch")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--world", default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument(
        "--body-limit", type=int, default=int(os.environ.get("OESKIT_BODY_LIMIT", BODY_LIMIT))
    )
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error("the benchmark binds to loopback only")

    from oeskit.cli import main as oeskit

    command = [
        "serve",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--db",
        args.db,
        "--workers",
        str(args.workers),
        "--admin-token",
        args.admin_token,
        "--body-limit",
        str(args.body_limit),
    ]
    if args.world:
        command += ["--world", args.world]
    oeskit(command, standalone_mode=True)


if __name__ == "__main__":
    main()
