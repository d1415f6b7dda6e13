"""Derived figures (ratios, growth with N) and the printed tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

TRACK = "trackEvent"
FLOOR_STRAWBERRY = "floor: do-nothing strawberry"
FLOOR_STARLETTE = "floor: plain starlette"
BATCH = "trackEvents ×{batch}"
TRACK_WITH_VIEWS = "trackEvent while views run"


def tracking_with_views(points: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """trackEvent while admin views run, against trackEvent alone at the same concurrency."""
    mixed = next((p for p in points if p["scenario"] == TRACK_WITH_VIEWS), None)
    if mixed is None:
        return None
    alone = next(
        (p for p in points if p["scenario"] == TRACK and p["connections"] == mixed["connections"]),
        None,
    )
    return {
        "connections": mixed["connections"],
        "rps_alone": alone["rps"] if alone else None,
        "rps_with_views": mixed["rps"],
        "rps_share": _ratio(mixed, alone, "rps"),
        "p99_alone_ms": alone["p99_ms"] if alone else None,
        "p99_with_views_ms": mixed["p99_ms"],
        "views_per_s": mixed.get("views_per_s"),
        "view_p50_ms": mixed.get("view_p50_ms"),
        "view_max_ms": mixed.get("view_max_ms"),
        "view_errors": mixed.get("view_errors"),
    }


def ingest_ratios(points: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per concurrency: trackEvent throughput and p50 relative to each floor."""
    by_key = {(p["scenario"], p["connections"]): p for p in points}
    ratios: dict[str, dict[str, float | None]] = {}
    for connections in sorted({p["connections"] for p in points}):
        track = by_key.get((TRACK, connections))
        row: dict[str, float | None] = {}
        for label, floor in (("strawberry", FLOOR_STRAWBERRY), ("starlette", FLOOR_STARLETTE)):
            other = by_key.get((floor, connections))
            row[f"rps_vs_{label}"] = _ratio(track, other, "rps")
            row[f"p50_vs_{label}"] = _ratio(track, other, "p50_ms")
            row[f"cpu_vs_{label}"] = _ratio(track, other, "server_cpu_ms")
        ratios[str(connections)] = row
    return ratios


def _ratio(top: dict[str, Any] | None, bottom: dict[str, Any] | None, key: str) -> float | None:
    if not top or not bottom or not bottom.get(key):
        return None
    return float(top[key]) / float(bottom[key])


def growth(sizes: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per admin query: p50 at the smallest and largest N, their ratio, the factor per 10×.

    ``steps`` holds the factor between each pair of consecutive sizes: at small
    N a fixed cost hides the slope, so the last step shows the trend best.
    """
    measured = [s for s in sizes if s.get("queries")]
    if len(measured) < 2:
        return {}
    first, last = measured[0], measured[-1]
    decades = math.log10(last["n"] / first["n"])
    result: dict[str, dict[str, Any]] = {}
    for name in last["queries"]:
        p50s = [s["queries"].get(name, {}).get("p50_ms") for s in measured]
        low, high = p50s[0], p50s[-1]
        total = high / low if low and high else None
        result[name] = {
            "from_n": first["n"],
            "to_n": last["n"],
            "from_ms": low,
            "to_ms": high,
            "factor": total,
            "per_10x": total ** (1 / decades) if total and decades > 0 else None,
            "steps": [
                {"from_n": a["n"], "to_n": b["n"], "factor": y / x if x and y else None}
                for a, b, x, y in zip(measured, measured[1:], p50s, p50s[1:], strict=False)
            ],
        }
    return result


def total_sales_share(size: dict[str, Any]) -> float | None:
    """p50 of ``dashboardStats { totalSales }`` over p50 of the full dashboard."""
    queries = size.get("queries", {})
    alone = queries.get("dashboard_total_sales", {}).get("p50_ms")
    full = queries.get("dashboard_full", {}).get("p50_ms")
    return alone / full if alone and full else None


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table, numbers right-aligned."""
    text_rows = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in header]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in text_rows:
        cells = [
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or cell[0] in "-.") and cell != "-"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def render(results: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    out: list[str] = []
    tool = results["tool"]
    ingest = results.get("ingest", {})
    points = ingest.get("points", [])
    if points:
        options = results["options"]
        rounds = options.get("rounds", 1)
        out.append(
            f"\nINGEST over loopback ({tool}, {options['duration']}s per point"
            + (f", fastest of {rounds} rounds" if rounds > 1 else "")
            + f"; store held {ingest.get('store_events_at_start', '?'):,} events at start)"
        )
        rows: list[Sequence[object]] = [
            (p["scenario"], p["connections"], p["rps"], p["items_per_s"], p["p50_ms"],
             p["p99_ms"], p.get("server_cpu_ms"), p.get("server_cores"), p.get("other_cores"),
             p["requests"], p["errors"] + p["bad"])
            for p in points
        ]  # fmt: skip
        header = ["target", "conns", "req/s", "events/s", "p50 ms", "p99 ms", "CPU ms/req"]
        header += ["server cores", "other cores", "requests", "bad"]
        out.append(table(header, rows))
        ratio_rows: list[Sequence[object]] = [
            (c, _x(r["rps_vs_strawberry"]), _x(r["rps_vs_starlette"]),
             _x(r["p50_vs_strawberry"]), _x(r["p50_vs_starlette"]),
             _x(r.get("cpu_vs_strawberry")), _x(r.get("cpu_vs_starlette")))
            for c, r in ingest.get("ratios", {}).items()
        ]  # fmt: skip
        out.append(
            "\ntrackEvent ÷ floor, per concurrency (req/s: <1 = slower; p50 and server CPU "
            "per request: >1 = costlier)"
        )
        header = ["conns", "req/s ÷ strawberry", "req/s ÷ starlette", "p50 ÷ strawberry"]
        header += ["p50 ÷ starlette", "CPU ÷ strawberry", "CPU ÷ starlette"]
        out.append(table(header, ratio_rows))
        mixed = tracking_with_views(points)
        if mixed:
            out.append(
                "\ntrackEvent while the full dashboard, funnel and alerts run back to back "
                f"(one admin client), {mixed['connections']} connections"
            )
            header = ["req/s alone", "req/s with views", "share", "p99 alone ms"]
            header += ["p99 with views ms", "views/s", "view p50 ms", "view max ms", "view errors"]
            row = [
                mixed["rps_alone"], mixed["rps_with_views"], _x(mixed["rps_share"]),
                mixed["p99_alone_ms"], mixed["p99_with_views_ms"], mixed["views_per_s"],
                mixed["view_p50_ms"], mixed["view_max_ms"], mixed["view_errors"],
            ]  # fmt: skip
            out.append(table(header, [row]))
        busiest = max((p.get("other_cores") or 0.0) for p in points)
        if busiest > 0.25:
            out.append(
                f"NOTE: other processes used up to {busiest:.2f} of the 2 cores during these "
                "points; wall-clock figures are contended there, CPU ms/req much less so."
            )
    if ingest.get("error"):
        out.append(f"\nINGEST ERROR: {ingest['error']}")
    sizes = results.get("sizes", [])
    if sizes:
        out.append("\nADMIN QUERIES (client wall time over loopback; p50 / max of the runs)")
        names = list(dict.fromkeys(name for s in sizes for name in s.get("queries", {})))
        rows = []
        for name in names:
            row: list[object] = [name]
            for size in sizes:
                timing = size.get("queries", {}).get(name)
                if timing is None:
                    row.append(None)
                elif timing.get("error"):
                    row.append("ERROR")
                else:
                    row.append(f"{timing['p50_ms']:.1f} / {timing['max_ms']:.1f}")
            rows.append(row)
        out.append(table(["query (ms)", *[f"N={s['n']:,}" for s in sizes]], rows))
        rows = [
            [name, *(size.get("queries", {}).get(name, {}).get("server_cpu_ms") for size in sizes)]
            for name in names
        ]
        out.append("\nADMIN QUERIES: server CPU ms per run (mean of the timed runs)")
        out.append(table(["query", *[f"N={s['n']:,}" for s in sizes]], rows))
        rows = [
            [name, *(size.get("queries", {}).get(name, {}).get("first_ms") for size in sizes)]
            for name in names
        ]
        out.append(
            "\nADMIN QUERIES: the first run, ms (after the import: cold summaries, unless an "
            "earlier query in this list built them)"
        )
        out.append(table(["query", *[f"N={s['n']:,}" for s in sizes]], rows))
        errors = [
            (s["n"], name, t["error"])
            for s in sizes
            for name, t in s.get("queries", {}).items()
            if t.get("error")
        ]
        for n, name, error in errors:
            out.append(f"  error at N={n:,}: {name}: {error}")
        grown = results.get("growth", {})
        if grown:
            out.append("\nGROWTH WITH N (p50)")
            rows = [
                (name, g["from_ms"], g["to_ms"], _x(g["factor"]), _x(g["per_10x"]),
                 *(_x(step["factor"]) for step in g["steps"]))
                for name, g in grown.items()
            ]  # fmt: skip
            some = next(iter(grown.values()))
            header = ["query", f"ms @ {some['from_n']:,}", f"ms @ {some['to_n']:,}", "factor"]
            header += ["per 10× N", *(_span(step) for step in some["steps"])]
            out.append(table(header, rows))
        shares = [(s["n"], s.get("total_sales_over_full")) for s in sizes]
        out.append(
            "\ntotalSales alone ÷ full dashboard (p50): "
            + ", ".join(f"N={n:,}: {_x(share)}" for n, share in shares)
        )
        out.append("\nSTORE AND SERVER MEMORY")
        rows = [
            (
                s["n"],
                s.get("store", {}).get("sessions"),
                s.get("store", {}).get("orders"),
                s.get("import", {}).get("events_per_s"),
                _mib(s.get("memory_kib", {}).get("VmHWM")),
                _mib(s.get("memory_kib", {}).get("VmRSS")),
                s.get("restart_s"),
                s.get("rss_after_restart_mib"),
                _same(s.get("restart")),
            )
            for s in sizes
        ]
        header = ["N events", "sessions", "orders", "import ev/s", "VmHWM MiB", "VmRSS MiB"]
        header += ["restart s", "RSS after restart MiB", "same answer"]
        out.append(table(header, rows))
        out.append(
            "(restart: clean stop, then spawn to a healthy /healthz on the same DATA_DIR; "
            "VmRSS right after; same answer = dashboardStats { totalSales } before and after)"
        )
        for s in sizes:
            restart = s.get("restart") or {}
            if restart and not restart.get("stop_clean", True):
                out.append(f"  at N={s['n']:,} the server did not exit on SIGTERM: killed")
            if s.get("error"):
                out.append(f"  error at N={s['n']:,}: {s['error']}")
    shuffled = results.get("shuffled_import")
    if shuffled:
        out.append(
            f"\nIMPORT IN RANDOM ORDER: {shuffled.get('events', 0):,} events over "
            f"{shuffled.get('days', 0)} days into {shuffled.get('store_events_before', 0):,} "
            f"stored, {_cell(shuffled.get('events_per_s'))} events/s"
            + (f" ({shuffled['error']})" if shuffled.get("error") else "")
        )
    after = results.get("memory_after_ingest_kib")
    if after:
        out.append(
            f"after the ingest phase: VmHWM {_cell(_mib(after.get('VmHWM')))} MiB "
            f"(store ~{ingest.get('store_events_at_end', 0):,} events)"
        )
    floors = results.get("floors_memory_kib")
    if floors:
        out.append(f"floors server: VmHWM {_cell(_mib(floors.get('VmHWM')))} MiB")
    if results.get("logs"):
        out.append(f"\nserver logs (error traces): {results['logs']['api']}")
    if results.get("error"):
        out.append(f"\nRUN STOPPED: {results['error']}")
    return "\n".join(out)


def _same(restart: dict[str, Any] | None) -> str | None:
    if not restart:
        return None
    return "yes" if restart.get("same_answer") else "NO"


def _span(step: dict[str, Any]) -> str:
    return f"{_short(step['from_n'])}→{_short(step['to_n'])}"


def _short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024
