"""``metrics.rounding.round_half_away`` answers exactly what rounding the float's shortest
decimal form by hand answers (docs/metrics.md, "Rounding and empty data"), on its fast
path and off it."""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_UP, Context, Decimal

from metrics.rounding import average, money, percent, round_half_away


def by_hand(value: float, digits: int) -> float:
    """The definition: the shortest repr, rounded half up (away from zero) in decimal."""
    quantum = Decimal(1).scaleb(-digits)
    exact = Context(prec=400)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP, context=exact))


def same(a: float, b: float) -> bool:
    """Equal, and the same sign of zero (JSON writes -0.0 as -0.0)."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def test_halves_round_away_from_zero() -> None:
    assert money(2.675) == 2.68  # the float is 2.67499999…; its shortest form is 2.675
    assert money(-2.675) == -2.68
    assert money(0.125) == 0.13  # round() says 0.12
    assert percent(1, 16) == 6.3  # 6.25
    assert percent(1, 8) == 12.5
    assert average(1, 4) == 0.3  # 0.25
    assert average(-1, 4) == -0.3
    assert money(1.005) == 1.01
    assert money(1_234_567.125) == 1_234_567.13


def test_values_below_half_a_unit_keep_their_sign_of_zero() -> None:
    assert same(money(-0.001), -0.0)
    assert same(money(0.001), 0.0)
    assert same(money(-0.0), -0.0)
    assert same(percent(0, 5), 0.0)


def test_every_kind_of_value_rounds_as_by_hand() -> None:
    rng = random.Random(20261205)
    values: list[float] = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-300, 2.0**40, 2.0**53, 1e25]
    values += [1.7e308, -1.7e308]
    for _ in range(20_000):
        exponent = rng.uniform(-6, 16)
        value = rng.choice((1, -1)) * 10**exponent
        values.append(value)
        # Decimal halves and their neighbours, where a fast path would go wrong first.
        cents = rng.randrange(10 ** rng.randint(1, 13))
        half = (cents + 0.5) / 100
        values += [half, -half, math.nextafter(half, 0), math.nextafter(half, math.inf)]
        tenths = (rng.randrange(10 ** rng.randint(1, 12)) + 0.5) / 10
        values += [tenths, math.nextafter(tenths, math.inf)]
        # Sums of prices, as revenue is.
        values.append(math.fsum(rng.randrange(1, 10**6) / 100 for _ in range(rng.randint(1, 9))))
    for value in values:
        for digits in (0, 1, 2):
            got = round_half_away(value, digits)
            want = by_hand(value, digits)
            assert same(got, want), (value, digits, got, want)


def test_not_a_number_stays_not_a_number() -> None:
    assert math.isnan(round_half_away(math.nan, 2))
