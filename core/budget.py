"""Query budgets: what admin reads a token may still spend, per tenant (README, Query budget).

A budget is a bucket of ``capacity`` points that refills at ``refill_per_second``
points a second, up to ``capacity``. An operation names what it would spend from
each budget (its fields' ``@cost`` points, grouped by the tenant each reads); it
runs only when every one of those budgets holds enough, and then spends from all
of them at once, so a refused operation spends nothing.

Budgets live in the process: the cost is work on this process's event loop,
which is what the budget protects. A full budget is the same as none, so full
ones are forgotten first once more than ``max_budgets`` are held; then the least
recently used ones, down to 90 % (one comes back full: a gift bounded by the
number of distinct admin tokens × tenants in use).

One event loop, no awaits inside: each call is atomic.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from time import monotonic

MAX_BUDGETS = 100_000


@dataclass(frozen=True, slots=True)
class Spending:
    """What ``QueryBudgets.spend`` decided."""

    granted: bool
    # Whole points left in the lowest of the budgets spent from (after spending).
    remaining: int
    # Refused: whole seconds until every budget holds enough (at least 1).
    retry_after: int = 0


class QueryBudgets:
    def __init__(
        self,
        capacity: int,
        refill_per_second: float,
        *,
        clock: Callable[[], float] | None = None,
        max_budgets: int = MAX_BUDGETS,
    ) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("a budget needs a positive capacity and refill rate")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        # Looked up here, not at import: tests put a clock of their own in its place.
        self.clock = clock or monotonic
        self.max_budgets = max_budgets
        # key -> (points held, clock reading they were counted at)
        self._held: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def level(self, key: Hashable, now: float | None = None) -> float:
        """Points ``key``'s budget holds now."""
        now = self.clock() if now is None else now
        held = self._held.get(key)
        if held is None:
            return float(self.capacity)
        points, at = held
        return min(float(self.capacity), points + max(0.0, now - at) * self.refill_per_second)

    def spend(self, charges: Mapping[Hashable, int]) -> Spending:
        """Spend ``charges[key]`` points from each key's budget, all or none.

        An empty ``charges`` is granted with ``remaining`` = capacity. A charge
        above ``capacity`` is never granted; the caller refuses it before asking.
        """
        now = self.clock()
        levels = {key: self.level(key, now) for key in charges}
        short = [
            (charges[key] - level) / self.refill_per_second
            for key, level in levels.items()
            if level < charges[key]
        ]
        if short:
            remaining = min(levels.values())
            return Spending(False, math.floor(remaining), max(1, math.ceil(max(short))))
        for key, level in levels.items():
            self._held[key] = (level - charges[key], now)
            self._held.move_to_end(key)
        self._forget(now)
        left = min((level - charges[key] for key, level in levels.items()), default=self.capacity)
        return Spending(True, math.floor(left))

    def _forget(self, now: float) -> None:
        # Down to 90 % at once, so that the scan is paid once per many new budgets.
        if len(self._held) <= self.max_budgets:
            return
        for key in [key for key in self._held if self.level(key, now) >= self.capacity]:
            del self._held[key]
        while len(self._held) > self.max_budgets * 9 // 10:
            self._held.popitem(last=False)
