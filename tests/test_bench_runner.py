"""The benchmark runner's pieces that need no server: options, bounds, import budget, table."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench import report, store
from bench.client import AdminClient, ImportBudgetExceeded


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
    assert (
        small["total"]
        == small["sizes"] + small["ingest"]
        == 2 * small["per_size"] + small["ingest"]
    )
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
