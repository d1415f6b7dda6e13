"""docs/metrics.md "Rounding and empty data": half away from zero; ratio over 0 is 0."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal

PERCENT_DIGITS = 1
MONEY_DIGITS = 2
AVERAGE_DIGITS = 1
# Enough digits for any finite double (at most 309 before the point) and the
# decimals kept: the default context's 28 digits fail on sums past 10^26.
_EXACT = Context(prec=320)
# GraphQL's Int is a signed 32-bit integer; a count past it is answered as its largest.
INT_MAX = 2**31 - 1


# Below 2^40 units of the last decimal kept, the scaled float and the shortest repr
# scaled differ by under 2^-11 of a unit: a value more than 1/1,000 of a unit from
# a half rounds to the same whole number of units either way.
_FAST_BELOW = 2.0**40
_NEAR_HALF = 1e-3


def round_half_away(value: float, digits: int) -> float:
    """Round to ``digits`` decimals, halves away from zero (Python's round() is banker's)."""
    scale = 10**digits
    scaled = value * scale
    if -_FAST_BELOW < scaled < _FAST_BELOW:
        units = round(scaled)
        # Far from a half, the nearest whole number of units is the answer whatever
        # the tie rule; int / int is correctly rounded, as float(Decimal) is.
        if abs(abs(scaled - units) - 0.5) > _NEAR_HALF:
            return units / scale if units else math.copysign(0.0, value)
    # str() first: the float's shortest repr is what a person would round by hand.
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP, context=_EXACT))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0


def percent(numerator: float, denominator: float) -> float:
    """numerator / denominator × 100, 1 decimal; 0 when the denominator is 0."""
    return round_half_away(ratio(numerator, denominator) * 100, PERCENT_DIGITS)


def money(value: float) -> float:
    return round_half_away(value, MONEY_DIGITS)


def average(numerator: float, denominator: float) -> float:
    return round_half_away(ratio(numerator, denominator), AVERAGE_DIGITS)


def bounded_count(value: int) -> int:
    """A sum of quantities as the API's Int can carry it: capped at 2,147,483,647."""
    return min(value, INT_MAX)
