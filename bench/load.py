"""Closed-loop HTTP load: ``wrk`` when installed, else a bounded httpx loop.

A load point POSTs one JSON body template over ``connections`` keep-alive
connections for ``duration`` seconds. Every ``@SEQ@`` in the template is replaced
by a fresh number per occurrence, so each tracked event has its own sessionId.
A response counts as *bad* when its status is not 200 or its body contains the
scenario's ``marker`` (e.g. ``"errors"``): throughput is only meaningful if the
server actually did the work, so bad responses are reported next to it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

SEQ = "@SEQ@"
WRK_TIMEOUT_S = 10
MAX_FALLBACK_REQUESTS = 1_000_000

# wrk runs one thread (-t1): on 2 cores the other one belongs to the server.
# Per-thread counters are summed in done() through the thread handles.
WRK_SCRIPT = r"""
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  template = file:read("*a")
  file:close()
  marker = args[2]
  counter = 0
  bad = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function fresh()
  counter = counter + 1
  return id .. "-" .. counter
end

function request()
  local body = template:gsub("@SEQ@", fresh)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or (marker ~= "" and body:find(marker, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":%d,"bad":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, total_bad))
end
"""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of request: where it goes, its body, what marks a failed answer."""

    name: str
    url: str
    body: str  # JSON with @SEQ@ placeholders
    marker: str = '"errors"'
    items: int = 1  # events carried by one request


@dataclass(frozen=True, slots=True)
class LoadResult:
    scenario: str
    tool: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    items_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # transport errors: connect, read, write, timeout
    bad: int  # non-200 answers or answers containing the marker


def wrk_path() -> str | None:
    return shutil.which("wrk")


def load_tool() -> str:
    return "wrk" if wrk_path() else "httpx"


def run_point(scenario: Scenario, *, connections: int, duration: float) -> LoadResult:
    """One load point with the best tool available."""
    wrk = wrk_path()
    if wrk is not None:
        return _run_wrk(wrk, scenario, connections=connections, duration=duration)
    return asyncio.run(_run_httpx(scenario, connections=connections, duration=duration))


def _run_wrk(wrk: str, scenario: Scenario, *, connections: int, duration: float) -> LoadResult:
    seconds = max(1, math.ceil(duration))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        script, body = Path(scratch) / "post.lua", Path(scratch) / "body.json"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        body.write_text(scenario.body, encoding="utf-8")
        argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT_S}s"]
        argv += ["-s", str(script), scenario.url, "--", str(body), scenario.marker]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"^BENCH (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    figures = json.loads(found.group(1))
    elapsed = figures["duration_us"] / 1e6
    requests = figures["requests"]
    return LoadResult(
        scenario=scenario.name,
        tool="wrk",
        connections=connections,
        duration_s=round(elapsed, 3),
        requests=requests,
        rps=requests / elapsed,
        items_per_s=requests * scenario.items / elapsed,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        errors=figures["errors"],
        bad=figures["bad"],
    )


def _bodies(template: str) -> Iterator[bytes]:
    """Bodies from ``template``, each ``@SEQ@`` replaced by a fresh number."""
    parts = template.split(SEQ)
    counter = itertools.count(1)
    while True:
        pieces = [parts[0]]
        for part in parts[1:]:
            pieces += (f"h-{next(counter)}", part)
        yield "".join(pieces).encode()


async def _run_httpx(scenario: Scenario, *, connections: int, duration: float) -> LoadResult:
    """The fallback: ``connections`` asyncio workers on one client, until the deadline."""
    latencies: list[float] = []
    errors = bad = 0
    bodies = _bodies(scenario.body)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=WRK_TIMEOUT_S) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker() -> None:
            nonlocal errors, bad
            while time.perf_counter() < deadline and len(latencies) < MAX_FALLBACK_REQUESTS:
                sent = time.perf_counter()
                try:
                    answer = await client.post(scenario.url, content=next(bodies), headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if answer.status_code != 200 or (
                    scenario.marker and scenario.marker in answer.text
                ):
                    bad += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return LoadResult(
        scenario=scenario.name,
        tool="httpx",
        connections=connections,
        duration_s=round(elapsed, 3),
        requests=len(latencies),
        rps=len(latencies) / elapsed,
        items_per_s=len(latencies) * scenario.items / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] * 1000,
        max_ms=ordered[-1] * 1000,
        errors=errors,
        bad=bad,
    )
