"""``python -m bench.inprocess``: time ingest calls in process, without HTTP, for profiling.

The real app (``app.http.create_app``, fast path on unless ``--slow``) on an embedded
store in a temporary ``DATA_DIR`` (or ``--data``, kept and reused), called through
httpx's ASGI transport: no sockets, no wrk, one process that cProfile can see whole.

1. ``--stored`` events of the seeded bench store (``bench.store``, ``--days``) are
   imported first, in time order, 1,000 per ``importEvents`` call (skipped for a
   ``--data`` directory that already holds them);
2. then ``--calls`` calls of the measured ``--mode``:

   * ``track``: ``trackEvents`` with 100 copies of the bench's load event;
   * ``import``: ``importEvents`` of the next events of the store, in time order;
   * ``import-spread``: the same, in the generator's order (sessions spread over
     ``--days`` days: out of order for the time index);
   * ``track-one``: ``trackEvent`` with the load event;
   * ``view``: the bench's admin query ``--view`` (``bench.queries.ADMIN_QUERIES``),
     twice unmeasured (the first is the cold run), then ``--calls`` times.

Prints calls, events per second and the time per call; ``--profile N`` prints the
N functions that cost most (cProfile, own time) over the measured calls.
The figures of record are the real bench's (``python -m bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import store
from bench.queries import ADMIN_QUERIES, IMPORT_EVENTS, LOAD_EVENT, TRACK_EVENT, TRACK_EVENTS

SECRET = "inprocess-bench-secret-0123456789abcdef"
IMPORT_BATCH = 1000
TRACK_BATCH = 100
MODES = ("track", "import", "import-spread", "track-one", "view")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inprocess", description=__doc__.split("\n")[0]
    )
    add = parser.add_argument
    add("--mode", choices=MODES, default="track")
    add("--stored", type=int, default=100_000, help="events imported before (default 100k)")
    add("--calls", type=int, default=200, help="measured calls (default 200)")
    add("--days", type=float, default=365.0, help="days the store spans (default 365)")
    add("--view", choices=sorted(ADMIN_QUERIES), default="rfm", help="the query of --mode view")
    add("--seed", type=int, default=20260615)
    add("--data", type=Path, help="DATA_DIR to use and keep (default: a temporary one)")
    add("--slow", action="store_true", help="turn the tracking fast path off")
    add("--profile", type=int, default=0, metavar="N", help="print the N costliest functions")
    return parser.parse_args(argv)


async def _post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    answer: dict[str, Any] = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise SystemExit(f"failed: {response.status_code} {json.dumps(answer)[:300]}")
    return answer


async def run(args: argparse.Namespace) -> None:
    # Imported here: ``--help`` needs none of the app.
    import app.http
    from auth.tokens import issue_token
    from core.settings import load_settings
    from metrics.context import COUNTRIES
    from storage.embedded import EmbeddedDatabase

    with tempfile.TemporaryDirectory(prefix="bench-inprocess-") as scratch:
        data = args.data or Path(scratch) / "data"
        settings = load_settings(
            {
                "DATA_DIR": str(data),
                "JWT_SECRET": SECRET,
                "TENANT_RATE_LIMIT_PER_MINUTE": "0",
                "QUERY_BUDGET_POINTS": "0",
            }
        )
        COUNTRIES.load()
        database = await EmbeddedDatabase.open(data, fsync_seconds=1.0)
        application = app.http.create_app(settings, database=database, fast_tracking=not args.slow)
        admin = issue_token(SECRET, email="bench@example.com", admin=True, tenant="*")
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 4000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await _measure(args, client, database, admin)
        finally:
            await database.close()


async def _measure(
    args: argparse.Namespace, client: httpx.AsyncClient, database: Any, admin: str
) -> None:
    wanted_import = args.calls * IMPORT_BATCH if args.mode.startswith("import") else 0
    now = datetime.now(UTC)
    events = list(
        store.generate(args.stored + wanted_import, seed=args.seed, now=now, days=args.days)
    )
    held = await database.count_events()
    if held < args.stored:
        preload = sorted(events[held : args.stored], key=lambda e: e["createdAt"])
        started = time.perf_counter()
        for i in range(0, len(preload), IMPORT_BATCH):
            await _post(client, IMPORT_EVENTS, {"events": preload[i : i + IMPORT_BATCH]}, admin)
        took = time.perf_counter() - started
        print(f"imported {len(preload):,} events in {took:.1f} s ({len(preload) / took:,.0f}/s)")
    print(f"store holds {await database.count_events():,} events")

    bodies: list[tuple[str, dict[str, Any], str | None, int]] = []
    if args.mode == "track":
        bodies = [(TRACK_EVENTS, {"events": [LOAD_EVENT] * TRACK_BATCH}, None, TRACK_BATCH)]
        bodies *= args.calls
    elif args.mode == "track-one":
        bodies = [(TRACK_EVENT, {"input": LOAD_EVENT}, None, 1)] * args.calls
    elif args.mode == "view":
        # Two more than asked: the first two runs (the cold one) are not measured.
        bodies = [(ADMIN_QUERIES[args.view], {}, admin, 1)] * (args.calls + 2)
    else:
        fresh = events[args.stored :]
        if args.mode == "import":
            fresh.sort(key=lambda e: e["createdAt"])
        for i in range(0, len(fresh), IMPORT_BATCH):
            batch = fresh[i : i + IMPORT_BATCH]
            bodies.append((IMPORT_EVENTS, {"events": batch}, admin, len(batch)))
    # Two unmeasured calls: the fast path learns the document on the first.
    for query, variables, token, _ in bodies[:2]:
        await _post(client, query, variables, token)
    bodies = bodies[2:]

    profiler = cProfile.Profile() if args.profile else None
    sent = 0
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for query, variables, token, count in bodies:
        await _post(client, query, variables, token)
        sent += count
    if profiler is not None:
        profiler.disable()
    took = time.perf_counter() - started
    print(
        f"{args.mode}: {len(bodies)} calls, {sent:,} events in {took:.2f} s: "
        f"{sent / took:,.0f} events/s, {1000 * took / max(len(bodies), 1):.2f} ms per call"
        + (" (profiled: slower)" if profiler is not None else "")
    )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
