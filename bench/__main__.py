"""``python -m bench``: load a generated store into the real server and measure it.

Phases, all against servers started here on 127.0.0.1:

1. for each N (cumulative): import the first N events of the seeded store
   (spread over ``--days`` days) through ``importEvents`` within
   ``--import-budget`` seconds, then time the admin queries and read the
   server's peak memory, then restart the server on the same data directory
   (clean stop, start, time to a healthy ``/healthz``, memory right after) and
   go on with the next N on the restarted server;
2. on the largest store, just restarted: ``--shuffled-import`` more events of the
   same generator (the stream's continuation: new sessions), in random order, so
   each call writes into days all over the range, as a history import that is
   not sorted would;
3. on the largest store: ``trackEvent`` load next to the two floors (a
   do-nothing Strawberry mutation, a plain Starlette route) at each concurrency,
   then ``trackEvents`` in batches of 100.

A failing query or phase is reported and the run goes on; results go to
``--out`` as JSON and a table is printed. Every phase has a time budget: the
worst-case run time they add up to is printed before the run starts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, store
from bench.client import QUERY_TIMEOUT_S, AdminClient, GraphQLFailure, ImportBudgetExceeded
from bench.load import LoadResult, Scenario, load_tool, run_point
from bench.mixed import ViewLoop
from bench.proc import machine_busy_seconds, own_seconds
from bench.queries import ADMIN_QUERIES, track_event_body, track_events_body
from bench.server import REPO, STOP_TIMEOUT, ServerProcess, admin_token, api_env

DEFAULT_OUT = Path("bench/results/latest.json")
BATCH = 100
QUERY_BUDGET_S = 60.0  # per query and N: stop repeating past this
MIXED_CONNECTIONS = 16  # trackEvent while admin views run (bench.mixed)
IMPORT_BUDGET_S = 1800.0  # per N, default of --import-budget
# A restart replays the whole journal: allow it far longer than a first start.
RESTART_STOP_TIMEOUT_S = 60.0
RESTART_START_TIMEOUT_S = 600.0
# A restart's stop (SIGTERM, then SIGKILL after STOP_TIMEOUT) and start, at most.
RESTART_BOUND_S = RESTART_STOP_TIMEOUT_S + STOP_TIMEOUT + RESTART_START_TIMEOUT_S
CHECK_TIMEOUT_S = 60.0  # the query compared before and after a restart
CHECK_QUERY = "dashboard_total_sales"
LOAD_SLACK_S = 60.0  # a load run's own timeout beyond its duration (bench/load.py)


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def _connections(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1 or max(values) > 1000:
        raise argparse.ArgumentTypeError("connections must be between 1 and 1000")
    return values


# Defaults of a full run, and of --quick (a smoke run of every phase in ~30 s).
# An option given on the command line wins over both.
FULL = {
    "sizes": [1000, 10_000, 100_000],
    "duration": 10.0,
    "warmup": 1.0,
    "connections": [1, 16, 64],
    "repeats": 5,
    "rounds": 3,
    "shuffled_import": 20_000,
}
QUICK = {
    "sizes": [500, 2000],
    "duration": 2.0,
    "warmup": 0.5,
    "connections": [1, 16, 64],
    "repeats": 2,
    "rounds": 1,
    "shuffled_import": 1000,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add(
        "--sizes",
        type=_sizes,
        help="store sizes N, loaded cumulatively (default 1000,10000,100000)",
    )
    add("--duration", type=float, help="seconds per load point (default 10)")
    add("--warmup", type=float, help="seconds of unrecorded load before each point (default 1)")
    add("--connections", type=_connections, help="trackEvent concurrency (default 1,16,64)")
    add(
        "--batch-connections",
        type=int,
        default=16,
        help="connections for trackEvents batches of 100 (default 16)",
    )
    add("--repeats", type=int, help="timed runs per admin query and N, after a warm-up (default 5)")
    add("--rounds", type=int, help="rounds per load point; the fastest is reported (default 3)")
    add(
        "--shuffled-import",
        type=int,
        help="events imported in random order into the largest store after its restart "
        "(default 20000; 0: none)",
    )
    add("--seed", type=int, default=20260615, help="store generator seed")
    add(
        "--days",
        type=float,
        default=store.DAYS,
        help=f"days of history the store spans (default {store.DAYS}; e.g. 365 for a year)",
    )
    add(
        "--import-budget",
        type=float,
        default=IMPORT_BUDGET_S,
        help=f"seconds allowed for the import of each size (default {IMPORT_BUDGET_S:.0f}); "
        "past it the import stops, is reported, and no larger size is loaded",
    )
    add("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    add(
        "--quick",
        action="store_true",
        help="smoke run: sizes 500,2000, 2 s points, 2 repeats (explicit options still win)",
    )
    add("--skip-ingest", action="store_true", help="only the admin queries")
    add("--keep", action="store_true", help="keep the temporary data directory and server logs")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not 0 < args.duration <= 120 or args.warmup < 0 or args.repeats < 1 or args.rounds < 1:
        parser.error("--duration must be in (0, 120], --warmup >= 0, --repeats and --rounds >= 1")
    if args.batch_connections < 1:
        parser.error("--batch-connections must be at least 1")
    if args.days <= 0 or args.import_budget <= 0:
        parser.error("--days and --import-budget must be positive")
    if args.shuffled_import < 0:
        parser.error("--shuffled-import must be 0 or more")
    return args


def say(message: str) -> None:
    print(f"· {message}", flush=True)


def git_state() -> dict[str, Any]:
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def worst_case_s(args: argparse.Namespace) -> dict[str, float]:
    """The run time every phase's budget and timeouts add up to, at most, in seconds.

    Per size: the import budget, each admin query's budget plus the one run that
    may start just before it ends, the restart (stop, start, the query compared
    before and after it). The ingest phase: every load run, warm-ups included,
    with its own timeout. Generating the store in this process is not bounded.
    """
    per_query = QUERY_BUDGET_S + QUERY_TIMEOUT_S
    restart = RESTART_BOUND_S + 2 * CHECK_TIMEOUT_S
    per_size = args.import_budget + len(ADMIN_QUERIES) * per_query + restart
    shuffled = args.import_budget if args.shuffled_import else 0.0
    runs = len(args.connections) * args.rounds * 3 + 2 * args.rounds
    per_run = args.duration + LOAD_SLACK_S + (args.warmup + LOAD_SLACK_S if args.warmup else 0)
    ingest = 0.0 if args.skip_ingest else runs * per_run
    sizes = len(args.sizes) * per_size + shuffled
    return {"per_size": per_size, "sizes": sizes, "ingest": ingest, "total": sizes + ingest}


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def restart_server(api: ServerProcess, admin: AdminClient, entry: dict[str, Any]) -> None:
    """Restart ``api`` on its data; record the times, the memory, and whether it answers alike."""
    query = ADMIN_QUERIES[CHECK_QUERY]
    before: dict[str, Any] | str
    try:
        before = admin.execute(query, timeout=CHECK_TIMEOUT_S)
    except GraphQLFailure as failure:
        before = f"error {failure}"
    say(f"  N={entry['n']:,} restarting the server on the same data directory")
    restart = api.restart(RESTART_STOP_TIMEOUT_S, RESTART_START_TIMEOUT_S)
    admin.reconnect()
    after: dict[str, Any] | str
    try:
        after = admin.execute(query, timeout=CHECK_TIMEOUT_S)
    except GraphQLFailure as failure:
        after = f"error {failure}"
    rss = restart["memory_kib"].get("VmRSS")
    restart["same_answer"] = isinstance(before, dict) and before == after
    restart["check_query"] = CHECK_QUERY
    if not restart["same_answer"]:
        restart["answers"] = {"before": before, "after": after}
    entry["restart"] = restart
    entry["restart_s"] = restart["start_s"]
    entry["rss_after_restart_mib"] = None if rss is None else round(rss / 1024, 1)
    say(
        f"  N={entry['n']:,} restart: stop {restart['stop_s']:.2f} s"
        f"{'' if restart['stop_clean'] else ' (killed: no clean exit)'}, "
        f"start {restart['start_s']:.2f} s, VmRSS {entry['rss_after_restart_mib']} MiB, "
        f"{CHECK_QUERY} {'unchanged' if restart['same_answer'] else 'CHANGED'}"
    )


def measure_sizes(
    api: ServerProcess, admin: AdminClient, args: argparse.Namespace, now: datetime
) -> list[dict[str, Any]]:
    """Phase 1: grow the store to each N, time the admin queries, read memory, restart."""
    events = list(store.generate(args.sizes[-1], seed=args.seed, now=now, days=args.days))
    results: list[dict[str, Any]] = []
    loaded = 0
    for n in args.sizes:
        entry: dict[str, Any] = {"n": n, "store": store.summary(events[:n])}
        results.append(entry)
        try:
            # Sorted by time, as an export from an existing store would be.
            increment = sorted(events[loaded:n], key=lambda e: e["createdAt"])
            say(f"importing events {loaded + 1:,}..{n:,} (budget {args.import_budget:,.0f} s)")
            stats = admin.import_events(increment, budget_s=args.import_budget)
            loaded = n
            entry["import"] = {**asdict(stats), "events_per_s": stats.events_per_s}
            if stats.duplicates:
                say(f"  {stats.duplicates} duplicates reported by importEvents")
        except ImportBudgetExceeded as over:
            entry["import"] = {**asdict(over.stats), "events_per_s": over.stats.events_per_s}
            entry["error"] = f"import stopped at N={n:,}: {over}"
            say(f"  {entry['error']}; no larger size is loaded")
            break
        except GraphQLFailure as failure:
            entry["error"] = f"import failed: {failure}"
            say(entry["error"])
            break
        entry["queries"] = {}
        for name, query in ADMIN_QUERIES.items():
            if not api.alive():
                entry["error"] = "server died"
                return results
            timing = admin.time_query(
                name, query, repeats=args.repeats, budget_s=QUERY_BUDGET_S, server_cpu=api.cpu
            )
            entry["queries"][name] = {
                "p50_ms": timing.p50_ms,
                "max_ms": timing.max_ms,
                "server_cpu_ms": timing.server_cpu_ms,
                "first_ms": timing.first_ms,
                "runs_ms": [round(ms, 2) for ms in timing.runs_ms],
                "error": timing.error,
            }
            shown = f"error {timing.error}" if timing.error else f"p50 {timing.p50_ms:.1f} ms"
            say(f"  N={n:,} {name}: {shown}")
        entry["total_sales_over_full"] = report.total_sales_share(entry)
        entry["memory_kib"] = api.memory()
        try:
            restart_server(api, admin, entry)
        except RuntimeError as error:
            entry["error"] = f"restart failed: {error}"
            say(entry["error"])
            break
    return results


def measure_shuffled_import(
    admin: AdminClient, args: argparse.Namespace, now: datetime, stored: int
) -> dict[str, Any]:
    """Phase 2: import the next ``--shuffled-import`` events of the stream, shuffled.

    The events after the first ``stored`` are new sessions spread over the whole
    range; shuffled (seeded), consecutive events of a call land on random days.
    """
    count = args.shuffled_import
    stream = store.generate(stored + count, seed=args.seed, now=now, days=args.days)
    events = list(itertools.islice(stream, stored, None))
    random.Random(args.seed).shuffle(events)
    days = {event["createdAt"][:10] for event in events}
    say(f"importing {count:,} more events in random order over {len(days)} days into {stored:,}")
    entry: dict[str, Any] = {"events": count, "days": len(days), "store_events_before": stored}
    try:
        stats = admin.import_events(events, budget_s=args.import_budget)
        entry.update(asdict(stats), events_per_s=stats.events_per_s)
        say(f"  {stats.events_per_s:,.0f} events/s, {stats.duplicates} duplicates")
    except ImportBudgetExceeded as over:
        entry.update(asdict(over.stats), events_per_s=over.stats.events_per_s)
        entry["error"] = f"stopped: {over}"
    except GraphQLFailure as failure:
        entry["error"] = f"failed: {failure}"
    if "error" in entry:
        say(f"  shuffled import {entry['error']}")
    return entry


def measure_point(
    scenario: Scenario, connections: int, server: ServerProcess, args: argparse.Namespace
) -> dict[str, Any]:
    """One load point (after an unrecorded warm-up), with the server's CPU and the host's."""
    if args.warmup > 0:
        run_point(scenario, connections=connections, duration=args.warmup)
    before = (time.monotonic(), server.cpu(), machine_busy_seconds(), own_seconds())
    result: LoadResult = run_point(scenario, connections=connections, duration=args.duration)
    after = (time.monotonic(), server.cpu(), machine_busy_seconds(), own_seconds())
    wall, server_s, machine_s, own_s = (b - a for a, b in zip(before, after, strict=True))
    point = {
        **asdict(result),
        # What the server spent per request, and how busy it and the rest were.
        "server_cpu_ms": server_s * 1000 / max(result.requests, 1),
        "server_cores": server_s / wall,
        "other_cores": max(0.0, machine_s - server_s - own_s) / wall,
    }
    say(
        f"  {result.rps:,.0f} req/s, {result.items_per_s:,.0f} events/s, "
        f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
        f"server CPU {point['server_cpu_ms']:.2f} ms/req, "
        f"other load {point['other_cores']:.2f} cores, bad {result.errors + result.bad}"
    )
    return point


def measure_ingest(
    api: ServerProcess, floors: ServerProcess, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Phase 2: trackEvent and its floors side by side, then trackEvents batches.

    Each concurrency runs ``--rounds`` rounds of the three targets back to back;
    per target the fastest round is reported: on a shared 2-core host, noise
    (other processes, the hypervisor's neighbours, the scheduler placing the
    load generator next to the server) only ever slows a round down.
    Returns (reported points, every point).
    """
    single = track_event_body()
    targets = [
        Scenario(report.TRACK, f"{api.base_url}/graphql", single),
        Scenario(report.FLOOR_STRAWBERRY, f"{floors.base_url}/graphql", single),
        Scenario(report.FLOOR_STARLETTE, f"{floors.base_url}/plain", single, marker=""),
    ]
    batch = Scenario(
        report.BATCH.format(batch=BATCH),
        f"{api.base_url}/graphql",
        track_events_body(BATCH),
        marker='"code"',
        items=BATCH,
    )
    plan = [
        (target, c, round_)
        for c in args.connections
        for round_ in range(args.rounds)
        for target in targets
    ]
    plan += [(batch, args.batch_connections, round_) for round_ in range(args.rounds)]
    mixed = Scenario(report.TRACK_WITH_VIEWS, f"{api.base_url}/graphql", single)
    plan += [(mixed, MIXED_CONNECTIONS, round_) for round_ in range(args.rounds)]
    every: list[dict[str, Any]] = []
    for scenario, connections, round_ in plan:
        server = floors if scenario.name.startswith("floor") else api
        say(f"load: {scenario.name} at {connections} connections, round {round_ + 1}")
        if scenario is mixed:
            point = measure_with_views(scenario, connections, api, args)
        else:
            point = measure_point(scenario, connections, server, args)
        every.append({**point, "round": round_ + 1})
    fastest: dict[tuple[str, int], dict[str, Any]] = {}
    for point in every:
        key = (point["scenario"], point["connections"])
        if key not in fastest or point["rps"] > fastest[key]["rps"]:
            fastest[key] = point
    return list(fastest.values()), every


def measure_with_views(
    scenario: Scenario, connections: int, api: ServerProcess, args: argparse.Namespace
) -> dict[str, Any]:
    """A trackEvent point while admin views run back to back (``bench.mixed``)."""
    started = time.monotonic()
    with ViewLoop(api.base_url, admin_token(api.env)) as views:
        point = measure_point(scenario, connections, api, args)
    point.update(views.summary(time.monotonic() - started))
    say(
        f"  meanwhile {point['views']} views ({point['views_per_s']:.1f}/s), "
        f"p50 {point['view_p50_ms'] or 0:.0f} ms, max {point['view_max_ms'] or 0:.0f} ms, "
        f"errors {point['view_errors']}"
    )
    return point


def tracked_events(points: Sequence[dict[str, Any]]) -> int:
    """Events the API server stored during the ingest phase (warm-ups not counted)."""
    batches = report.BATCH.format(batch=BATCH)
    api_scenarios = (report.TRACK, report.TRACK_WITH_VIEWS, batches)
    return sum(
        p["requests"] * (BATCH if p["scenario"] == batches else 1) - p["bad"]
        for p in points
        if p["scenario"] in api_scenarios
    )


def failed_queries(results: dict[str, Any]) -> bool:
    return any(
        timing.get("error")
        for size in results.get("sizes", [])
        for timing in size.get("queries", {}).values()
    )


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict[str, Any] = {
        "command": command,
        "started_at": now.isoformat(timespec="seconds"),
        "git": git_state(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "options": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        "tool": load_tool(),
        "load1_at_start": os.getloadavg()[0],
        "scratch": str(scratch),
    }
    env = api_env(scratch / "data", secrets.token_hex(32))
    api = ServerProcess("api", ["main.py"], env, scratch / "api.log")
    floors = ServerProcess("floors", ["-m", "bench.floors"], env, scratch / "floors.log")
    admin: AdminClient | None = None
    try:
        say(f"starting the API server on port {api.port} (data in {scratch / 'data'})")
        api.start()
        admin = AdminClient(api.base_url, admin_token(api.env))
        results["sizes"] = measure_sizes(api, admin, args, now)
        results["growth"] = report.growth(results["sizes"])
        if not api.alive():
            raise RuntimeError("the API server is not running after the sizes phase")
        loaded = max((s["n"] for s in results["sizes"] if "import" in s), default=0)
        complete = not any("error" in s for s in results["sizes"])
        if args.shuffled_import and complete:
            shuffled = measure_shuffled_import(admin, args, now, loaded)
            results["shuffled_import"] = shuffled
            loaded += shuffled.get("inserted", 0)
        if not args.skip_ingest:
            say(f"starting the floors server on port {floors.port}")
            floors.start()
            ingest: dict[str, Any] = {"store_events_at_start": loaded}
            results["ingest"] = ingest
            try:
                ingest["points"], ingest["all_points"] = measure_ingest(api, floors, args)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                ingest["error"] = str(error)
            ingest["ratios"] = report.ingest_ratios(ingest.get("points", []))
            ingest["store_events_at_end"] = loaded + tracked_events(ingest.get("all_points", []))
            results["memory_after_ingest_kib"] = api.memory()
            results["floors_memory_kib"] = floors.memory()
    except (RuntimeError, GraphQLFailure, subprocess.SubprocessError) as error:
        results["error"] = str(error)
        say(f"run stopped: {error}")
    finally:
        if admin is not None:
            admin.close()
        floors.stop()
        api.stop()
        if not api.alive() and api.process is not None:
            results["api_exit_code"] = api.process.returncode
        if args.keep or results.get("error") or failed_queries(results):
            # Unexpected errors are masked in answers: the traces are in these logs.
            results["logs"] = {"api": str(api.log_path), "floors": str(floors.log_path)}
            say(f"server logs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    print(f"$ {command}", flush=True)
    bound = worst_case_s(args)
    say(
        f"store: {args.sizes[-1]:,} events over {args.days:g} days; "
        f"run time at most ~{_hours(bound['total'])} by the budgets "
        f"(per size ≤ {_hours(bound['per_size'])}: import {args.import_budget:,.0f} s, "
        f"{len(ADMIN_QUERIES)} queries × ({QUERY_BUDGET_S:.0f} s + one run ≤ "
        f"{QUERY_TIMEOUT_S:.0f} s), restart ≤ "
        f"{RESTART_BOUND_S:.0f} s; "
        f"ingest ≤ {_hours(bound['ingest'])}), plus generating the store"
    )
    started = time.monotonic()
    results = run(args, command)
    results["worst_case_s"] = bound
    results["wall_s"] = round(time.monotonic() - started, 1)
    print(f"\n$ {command}")
    print(
        f"commit {results['git']['commit'][:12]}{' (dirty)' if results['git']['dirty'] else ''}, "
        f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        f"load tool {results['tool']}, {results['wall_s']}s"
    )
    print(report.render(results))
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {out}")
    # A size that could not be loaded (import over budget or failing), or a
    # failed restart, fails the run too, after everything else is reported.
    stopped = [size["error"] for size in results.get("sizes", []) if size.get("error")]
    for error in stopped:
        print(f"SIZE ERROR: {error}")
    return 1 if results.get("error") or stopped else 0


if __name__ == "__main__":
    sys.exit(main())
