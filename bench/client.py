"""The admin side of the benchmark: import the store, time the admin queries."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.queries import IMPORT_EVENTS

IMPORT_BATCH = 1000  # the server's limit per importEvents call
QUERY_TIMEOUT_S = 300.0


class GraphQLFailure(Exception):
    """A GraphQL answer with errors, or an HTTP failure; the message says which."""


class ImportBudgetExceeded(Exception):
    """``import_events`` ran past its budget; ``stats`` holds what was sent by then."""

    def __init__(self, budget_s: float, stats: ImportStats) -> None:
        super().__init__(
            f"import over its budget of {budget_s:g} s: stopped after "
            f"{stats.events:,} events in {stats.seconds:,.1f} s"
        )
        self.stats = stats


@dataclass(frozen=True)
class _Deadline:
    """An import's budget and the monotonic instant it runs out."""

    budget_s: float
    at: float

    def left(self) -> float:
        return self.at - time.monotonic()


@dataclass
class ImportStats:
    events: int = 0
    inserted: int = 0
    duplicates: int = 0
    calls: int = 0
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class QueryTiming:
    """Wall-clock times of one admin query, as seen by a client on loopback."""

    name: str
    runs_ms: list[float] = field(default_factory=list)
    server_cpu_ms: float | None = None  # mean server CPU per timed run
    error: str | None = None
    # The untimed first run: right after an import, whose history version bump leaves
    # the tenant's hour summaries cold, so this is what a cold range costs.
    first_ms: float | None = None

    @property
    def p50_ms(self) -> float | None:
        return statistics.median(self.runs_ms) if self.runs_ms else None

    @property
    def max_ms(self) -> float | None:
        return max(self.runs_ms) if self.runs_ms else None


class AdminClient:
    """A keep-alive client carrying the admin bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers={"authorization": f"Bearer {token}"},
            timeout=QUERY_TIMEOUT_S,
        )

    def close(self) -> None:
        self.http.close()

    def reconnect(self) -> None:
        """Drop the kept-alive connections (after a server restart)."""
        old = self.http
        self.http = httpx.Client(base_url=old.base_url, headers=old.headers, timeout=old.timeout)
        old.close()

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``data`` of the answer; ``GraphQLFailure`` on any error.

        ``timeout`` (seconds) replaces the client's ``QUERY_TIMEOUT_S`` for this call.
        """
        limit = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout)
        try:
            answer = self.http.post(
                "/graphql", json={"query": query, "variables": variables}, timeout=limit
            )
        except httpx.HTTPError as error:
            raise GraphQLFailure(f"{type(error).__name__}: {error}") from None
        try:
            payload = answer.json()
        except ValueError:
            raise GraphQLFailure(f"HTTP {answer.status_code}: {answer.text[:200]}") from None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if answer.status_code != 200 or errors or not isinstance(payload, dict):
            if errors:
                first = errors[0]
                code = (first.get("extensions") or {}).get("code", "?")
                raise GraphQLFailure(f"{code}: {first.get('message', '')[:200]}")
            raise GraphQLFailure(f"HTTP {answer.status_code}: {answer.text[:200]}")
        data: dict[str, Any] = payload["data"]
        return data

    def import_events(
        self, events: Iterable[dict[str, Any]], *, budget_s: float | None = None
    ) -> ImportStats:
        """Send ``events`` through ``importEvents``, ``IMPORT_BATCH`` per call.

        With ``budget_s``, ``ImportBudgetExceeded`` once that many seconds have
        passed: no call starts after it, and the call under way is cut at it.
        """
        stats = ImportStats()
        deadline = None if budget_s is None else _Deadline(budget_s, time.monotonic() + budget_s)
        batch: list[dict[str, Any]] = []
        for event in events:
            batch.append(event)
            if len(batch) == IMPORT_BATCH:
                self._import(batch, stats, deadline)
                batch = []
        if batch:
            self._import(batch, stats, deadline)
        return stats

    def _import(
        self,
        batch: Sequence[dict[str, Any]],
        stats: ImportStats,
        deadline: _Deadline | None,
    ) -> None:
        timeout = None
        if deadline is not None:
            left = deadline.left()
            if left <= 0:
                raise ImportBudgetExceeded(deadline.budget_s, stats)
            timeout = min(left, QUERY_TIMEOUT_S)
        started = time.perf_counter()
        try:
            answer = self.execute(IMPORT_EVENTS, {"events": list(batch)}, timeout=timeout)
        except GraphQLFailure:
            if deadline is not None and deadline.left() <= 0:
                stats.seconds += time.perf_counter() - started
                raise ImportBudgetExceeded(deadline.budget_s, stats) from None
            raise
        result = answer["importEvents"]
        stats.seconds += time.perf_counter() - started
        stats.calls += 1
        stats.events += len(batch)
        stats.inserted += result["inserted"]
        stats.duplicates += result["duplicates"]

    def time_query(
        self,
        name: str,
        query: str,
        *,
        repeats: int,
        budget_s: float,
        server_cpu: Callable[[], float],
    ) -> QueryTiming:
        """Run ``query`` ``repeats`` times (at least once, fewer if over ``budget_s``).

        The first run is a warm-up (parser and validation caches) and not kept
        unless it is the only one. A failing query is recorded and not retried.
        ``server_cpu`` reads the server's CPU seconds, so the timing also says
        what the server spent, which other load on the machine hardly changes.
        """
        timing = QueryTiming(name)
        deadline = time.monotonic() + budget_s
        cpu_start = server_cpu()
        for run in range(repeats + 1):
            started = time.perf_counter()
            try:
                self.execute(query)
            except GraphQLFailure as failure:
                timing.error = str(failure)
                return timing
            elapsed_ms = (time.perf_counter() - started) * 1000
            if run == 0:
                timing.first_ms = elapsed_ms
            if run == 0 and time.monotonic() < deadline:
                cpu_start = server_cpu()  # the warm-up is not counted
                continue
            timing.runs_ms.append(elapsed_ms)
            if time.monotonic() >= deadline:
                break
        timing.server_cpu_ms = (server_cpu() - cpu_start) * 1000 / len(timing.runs_ms)
        return timing
