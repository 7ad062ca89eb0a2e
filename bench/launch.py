"""Start the sandbox for the benchmark: like `oeskit serve`, with a body limit of our choosing.

`oeskit serve` does not take a body limit for its single-worker path, so this builds Settings
itself, then runs uvicorn the way the CLI does (one worker: the app object; N workers: the
factory, which reads the same settings from OESKIT_* in every worker). Loopback only.

    python -m bench.launch --port 8123 --db /tmp/x.db --workers 2 --admin-token T
"""

from __future__ import annotations

import argparse
import os

from oeskit.settings import Settings, is_loopback

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

    import uvicorn

    from oeskit.http.app import create_app, open_store

    settings = Settings(
        host=args.host,
        port=args.port,
        db=args.db,
        world=args.world,
        workers=args.workers,
        admin_token=args.admin_token,
        body_limit=args.body_limit,
    )
    store = open_store(settings)  # migrate (and load the world) once, before any worker starts
    if args.workers == 1:
        uvicorn.run(
            create_app(settings, store),
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
        )
        return
    store.close()
    os.environ.update(settings.to_env())
    uvicorn.run(
        "oeskit.http.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
