"""Tracking while admin views run: the full dashboard, the funnel and the alerts in a loop.

A thread of the bench process sends the views back to back over its own
keep-alive client, one at a time (an admin page reloading without pause), while
the load tool sends ``trackEvent`` as in the alone point. What matters is what
tracking keeps: its req/s as a share of the alone point's, and its p99.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from bench.client import AdminClient, GraphQLFailure
from bench.queries import ADMIN_QUERIES

VIEWS = ("dashboard_full", "funnel", "alerts")


@dataclass
class ViewLoop:
    """Views back to back in a thread, from ``__enter__`` to ``__exit__``."""

    base_url: str
    token: str
    runs_ms: list[float] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _loop(self) -> None:
        client = AdminClient(self.base_url, self.token)
        try:
            while not self._stop.is_set():
                for name in VIEWS:
                    started = time.perf_counter()
                    try:
                        client.execute(ADMIN_QUERIES[name])
                    except GraphQLFailure:
                        self.errors += 1
                    self.runs_ms.append((time.perf_counter() - started) * 1000)
                    if self._stop.is_set():
                        break
        finally:
            client.close()

    def __enter__(self) -> ViewLoop:
        self._thread = threading.Thread(target=self._loop, name="admin-views", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self, seconds: float) -> dict[str, Any]:
        """Views completed per second, their p50 and max (ms), and failures."""
        runs = self.runs_ms
        return {
            "views": len(runs),
            "views_per_s": len(runs) / seconds if seconds > 0 else 0.0,
            "view_p50_ms": statistics.median(runs) if runs else None,
            "view_max_ms": max(runs) if runs else None,
            "view_errors": self.errors,
        }
