"""The benchmark runner's pieces that need no server: options, bounds, import budget, table."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench import queries, report, store
from bench.client import AdminClient, ImportBudgetExceeded
from core.vocabulary import Metric
from tests.conftest import Run


def test_days_and_import_budget_options() -> None:
    args = bench_main.parse_args(["--quick"])
    assert args.days == store.DAYS == 90
    assert args.import_budget == bench_main.IMPORT_BUDGET_S == 1800
    args = bench_main.parse_args(["--days", "365", "--import-budget", "60", "--sizes", "1000"])
    assert (args.days, args.import_budget, args.sizes) == (365, 60, [1000])
    with pytest.raises(SystemExit):
        bench_main.parse_args(["--days", "0"])


def test_worst_case_grows_with_sizes_and_budget() -> None:
    small = bench_main.worst_case_s(bench_main.parse_args(["--quick", "--import-budget", "10"]))
    large = bench_main.worst_case_s(bench_main.parse_args(["--quick", "--import-budget", "100"]))
    assert large["per_size"] - small["per_size"] == 90
    # Two sizes, then the shuffled import with a budget of its own.
    assert (
        small["total"]
        == small["sizes"] + small["ingest"]
        == 2 * small["per_size"] + 10 + small["ingest"]
    )
    none = bench_main.parse_args(["--quick", "--import-budget", "10", "--shuffled-import", "0"])
    assert bench_main.worst_case_s(none)["sizes"] == 2 * small["per_size"]
    skip = bench_main.worst_case_s(bench_main.parse_args(["--quick", "--skip-ingest"]))
    assert skip["ingest"] == 0


def test_import_stops_at_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    client = AdminClient("http://127.0.0.1:9", "token")
    calls: list[float | None] = []

    def slow(query: str, variables: Any = None, *, timeout: float | None = None) -> Any:
        calls.append(timeout)
        time.sleep(0.05)
        return {"importEvents": {"inserted": len(variables["events"]), "duplicates": 0}}

    monkeypatch.setattr(client, "execute", slow)
    events = [{"n": i} for i in range(50_000)]  # 50 calls of 1,000 if not stopped
    with pytest.raises(ImportBudgetExceeded, match=r"budget of 0\.12 s") as stopped:
        client.import_events(events, budget_s=0.12)
    assert 1 <= stopped.value.stats.calls < 50
    assert stopped.value.stats.events == 1000 * stopped.value.stats.calls
    assert all(t is not None and t <= 0.12 for t in calls)
    client.close()


def test_shuffled_import_sends_new_events_out_of_order(monkeypatch: pytest.MonkeyPatch) -> None:
    args = bench_main.parse_args(["--quick", "--shuffled-import", "2000", "--days", "365"])
    now = datetime(2026, 6, 15, tzinfo=UTC)
    stored = list(store.generate(500, seed=args.seed, now=now, days=args.days))
    client = AdminClient("http://127.0.0.1:9", "token")
    sent: list[dict[str, Any]] = []

    def record(query: str, variables: Any = None, *, timeout: float | None = None) -> Any:
        sent.extend(variables["events"])
        return {"importEvents": {"inserted": len(variables["events"]), "duplicates": 0}}

    monkeypatch.setattr(client, "execute", record)
    entry = bench_main.measure_shuffled_import(client, args, now, 500)
    client.close()
    assert entry["events"] == entry["inserted"] == len(sent) == 2000
    assert entry["store_events_before"] == 500 and "error" not in entry
    # The continuation of the stream: new sessions (but the one cut at 500), every event once.
    assert len({e["sessionId"] for e in sent} & {e["sessionId"] for e in stored}) <= 1
    continuation = list(store.generate(2500, seed=args.seed, now=now, days=args.days))[500:]
    key = lambda e: (e["createdAt"], e["sessionId"], e["eventType"])  # noqa: E731
    assert sorted(sent, key=key) == sorted(continuation, key=key)
    # Out of order, and over much of the year.
    times = [e["createdAt"] for e in sent]
    assert sum(a > b for a, b in itertools.pairwise(times)) > 500
    assert entry["days"] == len({t[:10] for t in times}) > 200


def test_table_shows_restart_columns() -> None:
    size = {
        "n": 1000,
        "store": {"sessions": 250, "orders": 5},
        "import": {"events_per_s": 4000.0},
        "memory_kib": {"VmHWM": 110 * 1024, "VmRSS": 109 * 1024},
        "restart_s": 1.25,
        "rss_after_restart_mib": 104.5,
        "restart": {"stop_clean": False, "same_answer": True},
    }
    text = report.render({"tool": "httpx", "sizes": [size]})
    header = next(line for line in text.splitlines() if line.startswith("N events"))
    assert "restart s" in header and "RSS after restart MiB" in header
    row = next(line for line in text.splitlines() if line.lstrip().startswith("1,000"))
    assert "1.25" in row and "104" in row and "yes" in row
    assert "did not exit on SIGTERM" in text


def _point(scenario: str, connections: int, rps: float, p99: float, **more: Any) -> dict[str, Any]:
    return {"scenario": scenario, "connections": connections, "rps": rps, "p99_ms": p99, **more}


def test_tracking_with_views_is_a_share_of_tracking_alone_at_the_same_concurrency() -> None:
    points = [
        _point(report.TRACK, 1, 400.0, 5.0),
        _point(report.TRACK, 16, 1000.0, 40.0),
        _point(
            report.TRACK_WITH_VIEWS, 16, 750.0, 90.0,
            views=30, views_per_s=3.0, view_p50_ms=120.0, view_max_ms=400.0, view_errors=0,
        ),
    ]  # fmt: skip
    mixed = report.tracking_with_views(points)
    assert mixed is not None
    assert (mixed["rps_alone"], mixed["rps_with_views"], mixed["rps_share"]) == (
        1000.0,
        750.0,
        0.75,
    )
    assert (mixed["p99_alone_ms"], mixed["p99_with_views_ms"]) == (40.0, 90.0)
    assert report.tracking_with_views(points[:2]) is None
    # Events stored during the phase: the mixed point's requests count too.
    stored = [
        {**_point(report.TRACK, 16, 0, 0), "requests": 10, "bad": 1},
        {**_point(report.TRACK_WITH_VIEWS, 16, 0, 0), "requests": 5, "bad": 0},
        {**_point(report.BATCH.format(batch=100), 16, 0, 0), "requests": 2, "bad": 3},
        {**_point(report.FLOOR_STRAWBERRY, 16, 0, 0), "requests": 50, "bad": 0},
    ]
    assert bench_main.tracked_events(stored) == 9 + 5 + 197


def test_bench_times_every_metric_over_30_days() -> None:
    assert set(queries.METRICS) == {metric.name for metric in Metric}
    for metric in Metric:
        query = queries.ADMIN_QUERIES[f"{metric.name.lower()}_30d"]
        assert f"metrics(metric: {metric.name}" in query


async def test_every_admin_query_answers_without_errors(run: Run) -> None:
    for name, query in queries.ADMIN_QUERIES.items():
        result = await run(query)
        assert result.errors is None, (name, result.errors)
