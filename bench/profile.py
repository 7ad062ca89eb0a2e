"""cProfile of one big staging (and its replay) in-process, through the whole ASGI app.

    python -m bench.profile [--connections 10000] [--currencies 5] [--top 30] [--small 300]

The app is create_app() over a temp database, driven by httpx.ASGITransport: no socket, so the
profile shows the server's own costs (Guard, connexion, validation, domain, store). `--small N`
also profiles N small signed stagings one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench import fixtures
from bench.fixtures import EXCHANGE, EXCHANGE_ENTERPRISE, EXCHANGE_TOKEN, STAGE_PATH

ADMIN = "profile-admin-token"


def _stats(profile: cProfile.Profile, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def _main(connections: int, currencies: int, top: int, small: int, db: Path) -> None:
    from oeskit.http.app import create_app, open_store
    from oeskit.settings import Settings

    settings = Settings(db=str(db), admin_token=ADMIN, body_limit=200_000_000, run_jobs=False)
    store = open_store(settings)
    app = create_app(settings, store)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {EXCHANGE_TOKEN}", "Content-Type": "application/json"}
    url = STAGE_PATH.format(enterprise=EXCHANGE_ENTERPRISE)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench.test", timeout=600
    ) as client:
        world = fixtures.world(max(2, connections))
        response = await client.post(
            "/sandbox/world",
            content=orjson.dumps(world),
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text[:300]
        ids = fixtures.connection_ids(world, EXCHANGE)
        body = fixtures.signed_body("profile-big", fixtures.exchange_amounts(ids, currencies))
        print(f"body: {len(body) / 1e6:.1f} MB, {connections * currencies} transfers")
        for label in ("first staging", "identical replay"):
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            response = await client.post(url, content=body, headers=headers)
            profile.disable()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text[:300]
            print(f"\n===== {label}: {elapsed:,.0f} ms (under cProfile) =====")
            print(_stats(profile, top))
        if small:
            bodies = list(fixtures.small_bodies("profile-small", small))
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            for small_body in bodies:
                response = await client.post(url, content=small_body, headers=headers)
                assert response.status_code == 200, response.text[:300]
            profile.disable()
            elapsed = (time.perf_counter() - started) * 1000
            print(
                f"\n===== {small} small stagings: {elapsed / small:,.2f} ms each "
                "(under cProfile) ====="
            )
            print(_stats(profile, top))
    store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--currencies", type=int, default=5)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--small", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="oeskit-profile-") as tmp:
        asyncio.run(
            _main(args.connections, args.currencies, args.top, args.small, Path(tmp) / "profile.db")
        )


if __name__ == "__main__":
    main()
