"""The benchmark's store generator: its ``days`` parameter (no server needed)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from bench import store

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
# sha256 of the JSON of generate(n, seed=seed, now=NOW) computed with the code
# before ``days`` existed (commit 9fbc26f): days=90 must give the same stream.
BEFORE_DAYS = {
    (5000, 20260615): "2266aa6c4561c36ff6a9a5bc352f2c5754f2e68a5745464cfe64e7f3401719d8",
    (3000, 7): "31af2bd431177e2a9daec82833702abd0b87df9469c6a4f8d692843d5a79774d",
}


def _digest(events: list[dict[str, object]]) -> str:
    return hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize(("count", "seed"), sorted(BEFORE_DAYS))
def test_days_90_is_the_stream_from_before(count: int, seed: int) -> None:
    assert store.DAYS == 90
    default = list(store.generate(count, seed=seed, now=NOW))
    explicit = list(store.generate(count, seed=seed, now=NOW, days=90))
    assert _digest(default) == _digest(explicit) == BEFORE_DAYS[count, seed]


@pytest.mark.parametrize("days", [7, 90, 365])
def test_every_event_is_within_the_last_days(days: int) -> None:
    events = list(store.generate(4000, seed=11, now=NOW, days=days))
    assert len(events) == 4000
    moments = [datetime.fromisoformat(e["createdAt"]) for e in events]
    assert min(moments) >= NOW - timedelta(days=days)
    assert max(moments) < NOW
    # The range is actually used: the oldest event is in the first tenth of it.
    assert min(moments) < NOW - timedelta(days=days * 0.9)


def test_days_stretches_time_only() -> None:
    short = list(store.generate(2000, seed=3, now=NOW, days=90))
    year = list(store.generate(2000, seed=3, now=NOW, days=365))
    strip = [{k: v for k, v in e.items() if k != "createdAt"} for e in short]
    assert strip == [{k: v for k, v in e.items() if k != "createdAt"} for e in year]


def test_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="days"):
        list(store.generate(10, seed=1, now=NOW, days=0))
