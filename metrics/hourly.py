"""The hour summaries the heavy views read (``metrics.summaries``).

* ``TypeCounts``: events per type (totalSales, salesByDay, eventsTimeline,
  errorsTimeline, the TOTAL eventCounts).
* ``ProductActivity``: per product role (or other type) and slug, events, units,
  the sessions, and the latest name (topViewedProducts, productPerformance,
  unconverted products).
* ``SessionActivity``: per session, its events, its earliest source and the
  roles it played, optionally for one source only (sessionStats, trafficSources,
  the UNIQUE eventCounts, the funnel, abandoned carts, stuck sessions).
* ``LineValues``: the lineValue of each purchase and refund (totalRevenue).
* ``BuyerActivity``: per logged-in buyer, purchase lines, orders and the latest
  purchase (retentionMetrics, rfm).
* ``Checkouts``: identifiers that began checkout and that bought (abandonmentRate,
  HIGH_ABANDONMENT).
* ``WhatsappActivity``: per session, its latest WhatsApp cart click and whether it
  bought on WhatsApp (the whatsapp* fields of dashboardStats).

Partial states hold sets and maps of session ids, so merging pieces is set union
and map update: exact distinct counts over any range, in C-speed operations.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from core.roles import Role, in_role, in_roles, role_expression, role_flag, role_of, types_of
from core.vocabulary import EventType
from metrics.dashboard_pipelines import (
    PRODUCT_ROLES,
    TIME_KEY_WIDTH,
    keyed_text,
    text_after_time_key,
)
from metrics.lines import LINE_VALUE, QUANTITY
from metrics.summaries import M, P, Summary, after_time, time_keyed
from storage.database import Pipeline

WHATSAPP_PURCHASE = EventType.WHATSAPP_PURCHASE.value
# The roles whose sessions SessionActivity keeps.
SESSION_ROLES: tuple[Role, ...] = (
    Role.PAGE_VIEW,
    Role.PRODUCT_VIEW,
    Role.ADD_TO_CART,
    Role.BEGIN_CHECKOUT,
    Role.PURCHASE,
)


V = TypeVar("V")
T = TypeVar("T")


def overlay(partials: Sequence[dict[str, V]], join: Callable[[V, V], V]) -> dict[str, V]:
    """Maps of consecutive pieces as one: the biggest copied (its values shared, read-only),
    the others laid over it, ``join`` making a new value where a key is in both.

    Only for states whose ``join`` does not depend on the pieces' order (a minimum, a
    maximum, a union, a sum, values summed exactly later).
    """
    if not partials:
        return {}
    biggest = max(partials, key=len)
    merged = dict(biggest)
    for partial in partials:
        if partial is biggest:
            continue
        for key, value in partial.items():
            known = merged.get(key)
            merged[key] = value if known is None else join(known, value)
    return merged


class TypeCounts(Summary[Counter[str], Counter[str]]):
    """Events per type."""

    name = "types"

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        return [{"$group": {"_id": time_keyed(time_key, "$eventType"), "count": {"$sum": 1}}}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> Counter[str]:
        return Counter({after_time(row["_id"]): int(row["count"]) for row in rows})

    def merge(self, partials: Sequence[Counter[str]]) -> Counter[str]:
        total: Counter[str] = Counter()
        for partial in partials:
            total.update(partial)
        return total

    def combine(self, partials: Sequence[Counter[str]]) -> Counter[str]:
        return self.merge(partials)

    def weight(self, partial: Counter[str]) -> int:
        return len(partial)


@dataclass(slots=True)
class ProductRow:
    """One ``role|slug`` of a piece (product roles; other types keep their type, only name it)."""

    events: int = 0
    units: int = 0
    keyed_name: str | None = None  # "time key|name" of its latest named event
    sessions: set[str] = field(default_factory=set)


@dataclass(slots=True)
class ProductTotals:
    """One ``role|slug`` over a range: its pieces' rows merged."""

    events: int
    units: int
    keyed_name: str | None
    sessions: int  # distinct sessions


class ProductActivity(Summary[dict[str, ProductRow], dict[str, ProductTotals]]):
    """Per ``role|slug``: events, units, sessions, latest name.

    A range's rows count their distinct sessions without building their union
    (``distinct_count``): the cached span's big sets are only read.
    """

    name = "products"

    def conditions(self) -> dict[str, Any]:
        return {"productSlug": {"$ne": None}}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {
            "_id": time_keyed(time_key, role_expression(PRODUCT_ROLES), "|", "$productSlug"),
            "events": {"$sum": 1},
            "units": {"$sum": QUANTITY},
            "name": {"$max": keyed_text("productName")},
            "sessions": {"$addToSet": "$sessionId"},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, ProductRow]:
        return {
            after_time(row["_id"]): ProductRow(
                events=int(row["events"]),
                units=int(row["units"]),
                keyed_name=row["name"],
                sessions=set(row["sessions"]),
            )
            for row in rows
        }

    def merge(self, partials: Sequence[dict[str, ProductRow]]) -> dict[str, ProductTotals]:
        return {
            key: ProductTotals(
                events=sum(row.events for row in rows),
                units=sum(row.units for row in rows),
                keyed_name=_latest_name(rows),
                sessions=distinct_count([row.sessions for row in rows]),
            )
            for key, rows in _rows_by_key(partials).items()
        }

    def combine(self, partials: Sequence[dict[str, ProductRow]]) -> dict[str, ProductRow]:
        """Read-only rows: a key only one piece holds keeps that piece's row."""
        combined: dict[str, ProductRow] = {}
        for key, rows in _rows_by_key(partials).items():
            if len(rows) == 1:
                combined[key] = rows[0]
                continue
            combined[key] = ProductRow(
                events=sum(row.events for row in rows),
                units=sum(row.units for row in rows),
                keyed_name=_latest_name(rows),
                sessions=union(row.sessions for row in rows),
            )
        return combined

    def weight(self, partial: dict[str, ProductRow]) -> int:
        return sum(1 + len(row.sessions) for row in partial.values())


def _rows_by_key(partials: Sequence[dict[str, ProductRow]]) -> dict[str, list[ProductRow]]:
    """Each key's rows, oldest first."""
    by_key: defaultdict[str, list[ProductRow]] = defaultdict(list)
    for partial in partials:
        for key, row in partial.items():
            by_key[key].append(row)
    return by_key


def _latest_name(rows: Sequence[ProductRow]) -> str | None:
    names = [row.keyed_name for row in rows if row.keyed_name is not None]
    return max(names) if names else None


def slug_of(key: str) -> tuple[str, str]:
    """``(role or type, slug)`` of a ProductActivity key."""
    role, _, slug = key.partition("|")
    return role, slug


@dataclass(slots=True)
class Sessions:
    """Sessions of one piece (or span): events per session, earliest source, sessions per role."""

    events: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # only sessions with a source
    roles: dict[Role, set[str]] = field(default_factory=lambda: {r: set() for r in SESSION_ROLES})
    event_total: int = 0
    source_counts: Counter[str] | None = None  # sessions per source, counted when first asked
    busy: dict[int, list[str]] | None = None  # sessions above n events, by n, when first asked

    def counts_by_source(self) -> Counter[str]:
        if self.source_counts is None:
            self.source_counts = Counter(self.sources.values())
        return self.source_counts

    def sessions_above(self, events: int) -> list[str]:
        """Sessions of this piece with more than ``events`` events in it."""
        if self.busy is None:
            self.busy = {}
        found = self.busy.get(events)
        if found is None:
            found = self.busy[events] = [s for s, n in self.events.items() if n > events]
        return found


def _earliest_sources(pieces: Sequence[Sessions]) -> dict[str, str]:
    """Each session's source in the earliest of ``pieces`` (oldest first) that has one."""
    merged: dict[str, str] = {}
    for piece in reversed(pieces):  # newest first, each overwritten
        merged.update(piece.sources)
    return merged


class SessionSpan:
    """Sessions of consecutive pieces, each figure merged when first asked for.

    A funnel needs only the role counts, the dashboard counts and sources, the
    stuck-sessions alert events per session: nobody pays for what it does not
    read. Sets and maps are merged in C (``set.union``, ``dict.update``).

    The counts start from the piece with the most sessions (a cached span,
    usually: ``metrics.summaries``) and look only at the other pieces' sessions,
    so a warm range costs what its raw edges hold, not what the whole range does.
    """

    def __init__(self, pieces: Sequence[Sessions]) -> None:
        self._pieces = pieces
        self._roles: dict[Role, set[str]] = {}
        biggest = max(range(len(pieces)), key=lambda index: len(pieces[index].events), default=-1)
        self._base = pieces[biggest] if pieces else Sessions()
        self._before = pieces[:biggest] if pieces else []
        self._after = pieces[biggest + 1 :] if pieces else []

    @cached_property
    def _touched(self) -> set[str]:
        """Sessions of the pieces other than the base."""
        return set().union(*(piece.events for piece in (*self._before, *self._after)))

    @cached_property
    def sessions(self) -> set[str]:
        return set().union(*(piece.events for piece in self._pieces))

    @cached_property
    def session_count(self) -> int:
        return len(self._base.events) + len(self._touched.difference(self._base.events))

    @cached_property
    def events(self) -> int:
        return sum(piece.event_total for piece in self._pieces)

    @cached_property
    def events_by_session(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for piece in self._pieces:
            counts.update(piece.events)
        return counts

    def sessions_above(self, events: int) -> set[str]:
        """Sessions with more than ``events`` events over the span: the base's own (kept
        with it), then those the other pieces touch, counted in full."""
        base = self._base.events
        elsewhere: Counter[str] = Counter()
        for piece in (*self._before, *self._after):
            elsewhere.update(piece.events)
        found = {s for s in self._base.sessions_above(events) if s not in elsewhere}
        found.update(s for s, n in elsewhere.items() if n + base.get(s, 0) > events)
        return found

    @cached_property
    def sources(self) -> dict[str, str]:
        """Each session's source in its earliest piece that has one."""
        return _earliest_sources(self._pieces)

    @cached_property
    def source_counts(self) -> Counter[str]:
        """Sessions per (earliest) source; sessions without a source are not counted."""
        counts = Counter(self._base.counts_by_source())
        base = self._base.sources
        before, after = _earliest_sources(self._before), _earliest_sources(self._after)
        for session in self._touched:
            old = base.get(session)
            new = before.get(session)
            if new is None:
                new = old if old is not None else after.get(session)
            if new != old:
                if old is not None:
                    counts[old] -= 1
                if new is not None:
                    counts[new] += 1
        return +counts  # without the sources that lost their last session

    def role(self, role: Role) -> set[str]:
        """Sessions with an event of ``role`` (one of ``SESSION_ROLES``)."""
        found = self._roles.get(role)
        if found is None:
            found = self._roles[role] = union(piece.roles[role] for piece in self._pieces)
        return found

    def role_count(self, role: Role) -> int:
        """How many sessions had an event of ``role``."""
        base = self._base.roles[role]
        rest = union(piece.roles[role] for piece in (*self._before, *self._after))
        return len(base) + len(rest.difference(base))


class SessionActivity(Summary[Sessions, SessionSpan]):
    """Per session: events, earliest source, roles (of the events ``where`` keeps)."""

    name = "sessions"

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {
            "_id": time_keyed(time_key, "$sessionId"),
            "events": {"$sum": 1},
            "source": {"$min": keyed_text("source")},
            "types": {"$addToSet": "$eventType"},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> Sessions:
        state = Sessions()
        for row in rows:
            session = after_time(row["_id"])
            state.events[session] = events = int(row["events"])
            state.event_total += events
            if row["source"] is not None:
                state.sources[session] = text_after_time_key(row["source"])
            for event_type in row["types"]:
                role = role_of(event_type)
                if role in state.roles:
                    state.roles[role].add(session)
        return state

    def merge(self, partials: Sequence[Sessions]) -> SessionSpan:
        return SessionSpan(partials)

    def combine(self, partials: Sequence[Sessions]) -> Sessions:
        span = SessionSpan(partials)
        return Sessions(
            events=dict(span.events_by_session),
            sources=span.sources,
            roles={role: span.role(role) for role in SESSION_ROLES},
            event_total=span.events,
        )

    def weight(self, partial: Sessions) -> int:
        return (
            len(partial.events)
            + len(partial.sources)
            + sum(len(sessions) for sessions in partial.roles.values())
        )


@dataclass(slots=True)
class BuyerLines:
    """One logged-in buyer's purchase lines in a span."""

    last_purchase: datetime  # naive UTC
    orders: set[Any]  # metadata.order_id, else the purchase event's own _id
    line_values: list[float]  # price × quantity of each line
    # What metrics.customers derived from these lines (its Buyer), kept with them:
    # cached lines never change, and a span's are asked for again and again.
    derived: Any = field(default=None, compare=False, repr=False)


class BuyerActivity(Summary[dict[str, BuyerLines], dict[str, BuyerLines]]):
    """Per logged-in buyer (``userId``): purchase-role lines, orders, latest purchase.

    The line values themselves are kept (a buyer has few), so a span's monetary
    value is ``math.fsum`` of all of them: the same to the last bit however the
    span is cut into pieces.
    """

    name = "buyers"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_role(Role.PURCHASE), "userId": {"$ne": None}}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {
            "_id": time_keyed(time_key, "$userId"),
            "lastPurchase": {"$max": "$createdAt"},
            "orders": {"$addToSet": {"$ifNull": ["$orderId", "$_id"]}},
            "lines": {"$push": LINE_VALUE},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, BuyerLines]:
        return {
            after_time(row["_id"]): BuyerLines(
                last_purchase=row["lastPurchase"],
                orders=set(row["orders"]),
                line_values=[float(value) for value in row["lines"]],
            )
            for row in rows
        }

    def merge(self, partials: Sequence[dict[str, BuyerLines]]) -> dict[str, BuyerLines]:
        """Read-only lines: a buyer only one piece holds keeps that piece's lines.

        Nothing depends on the order of pieces (a maximum, a union, an exact
        sum), so the biggest piece is copied first and the others laid over it.
        """
        return overlay(
            partials,
            lambda known, lines: BuyerLines(
                max(known.last_purchase, lines.last_purchase),
                known.orders | lines.orders,
                known.line_values + lines.line_values,
            ),
        )

    def combine(self, partials: Sequence[dict[str, BuyerLines]]) -> dict[str, BuyerLines]:
        """By userId: a range's merge starts from its biggest piece (a cached span, most
        often), so what reads buyers in order sorts a list almost in order (one pass)."""
        return dict(sorted(self.merge(partials).items()))

    def weight(self, partial: dict[str, BuyerLines]) -> int:
        return sum(len(lines.orders) + len(lines.line_values) for lines in partial.values())


class LineValues(Summary[dict[str, list[float]], dict[str, list[float]]]):
    """Per purchase- or refund-role type, each event's lineValue (price × quantity).

    The values themselves are kept (a few in a hundred events are purchases), so a
    span's sum is ``math.fsum`` of all of them, whatever pieces it was read in.
    """

    name = "lines"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_roles([Role.PURCHASE, Role.REFUND])}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        return [
            {"$group": {"_id": time_keyed(time_key, "$eventType"), "lines": {"$push": LINE_VALUE}}}
        ]

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
        return {after_time(row["_id"]): [float(v) for v in row["lines"]] for row in rows}

    def merge(self, partials: Sequence[dict[str, list[float]]]) -> dict[str, list[float]]:
        merged: dict[str, list[float]] = {}
        for partial in partials:
            for event_type, values in partial.items():
                merged.setdefault(event_type, []).extend(values)
        return merged

    def combine(self, partials: Sequence[dict[str, list[float]]]) -> dict[str, list[float]]:
        return self.merge(partials)

    def weight(self, partial: dict[str, list[float]]) -> int:
        return sum(len(values) for values in partial.values())


def lines_total(states: Sequence[dict[str, list[float]]], *, less_refunds: bool) -> float:
    """Σ lineValue of the purchase-role lines of ``states`` (``LineValues``), less the
    refund-role lines' if ``less_refunds`` (NET_REVENUE): one exactly rounded sum."""
    values = [v for state in states for t in types_of(Role.PURCHASE) for v in state.get(t, ())]
    if less_refunds:
        values += [-v for state in states for t in types_of(Role.REFUND) for v in state.get(t, ())]
    return math.fsum(values)


def role_total(lines: dict[str, list[float]], role: Role) -> float:
    """Σ lineValue of ``role``'s events, exactly rounded."""
    return math.fsum(value for t in types_of(role) for value in lines.get(t, ()))


@dataclass(slots=True)
class CheckoutIdentifiers:
    """Identifiers (``userId``, else ``sessionId``) that began checkout, and that bought."""

    checked_out: set[str] = field(default_factory=set)
    purchased: set[str] = field(default_factory=set)


class Checkouts(Summary[CheckoutIdentifiers, CheckoutIdentifiers]):
    """Per identifier: did it begin checkout, did it buy (roles); abandonment reads it."""

    name = "checkouts"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_roles([Role.BEGIN_CHECKOUT, Role.PURCHASE])}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {
            "_id": time_keyed(time_key, {"$ifNull": ["$userId", "$sessionId"]}),
            "checkedOut": {"$max": role_flag(Role.BEGIN_CHECKOUT)},
            "purchased": {"$max": role_flag(Role.PURCHASE)},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> CheckoutIdentifiers:
        state = CheckoutIdentifiers()
        for row in rows:
            identifier = after_time(row["_id"])
            if row["checkedOut"]:
                state.checked_out.add(identifier)
            if row["purchased"]:
                state.purchased.add(identifier)
        return state

    def merge(self, partials: Sequence[CheckoutIdentifiers]) -> CheckoutIdentifiers:
        return CheckoutIdentifiers(
            checked_out=union(partial.checked_out for partial in partials),
            purchased=union(partial.purchased for partial in partials),
        )

    def combine(self, partials: Sequence[CheckoutIdentifiers]) -> CheckoutIdentifiers:
        return self.merge(partials)

    def weight(self, partial: CheckoutIdentifiers) -> int:
        return len(partial.checked_out) + len(partial.purchased)


@dataclass(slots=True)
class WhatsappSessions:
    """Sessions that clicked the WhatsApp cart button (with their latest click), that bought."""

    last_clicks: dict[str, datetime] = field(default_factory=dict)  # naive UTC
    buyers: set[str] = field(default_factory=set)  # with a whatsapp_purchase


class WhatsappActivity(Summary[WhatsappSessions, WhatsappSessions]):
    """Per session: its latest ``whatsapp_cart_click`` (role), whether it bought on WhatsApp."""

    name = "whatsapp"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": {"$in": [*types_of(Role.WHATSAPP_CART_CLICK), WHATSAPP_PURCHASE]}}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        is_click = {"$in": ["$eventType", list(types_of(Role.WHATSAPP_CART_CLICK))]}
        group = {
            "_id": time_keyed(time_key, "$sessionId"),
            "lastClick": {"$max": {"$cond": [is_click, "$createdAt", None]}},
            "purchased": {"$max": {"$cond": [{"$eq": ["$eventType", WHATSAPP_PURCHASE]}, 1, 0]}},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> WhatsappSessions:
        state = WhatsappSessions()
        for row in rows:
            session = after_time(row["_id"])
            if row["lastClick"] is not None:
                state.last_clicks[session] = row["lastClick"]
            if row["purchased"]:
                state.buyers.add(session)
        return state

    def merge(self, partials: Sequence[WhatsappSessions]) -> WhatsappSessions:
        merged = WhatsappSessions(buyers=union(partial.buyers for partial in partials))
        clicks = merged.last_clicks
        for partial in partials:
            for session, clicked in partial.last_clicks.items():
                if session not in clicks or clicked > clicks[session]:
                    clicks[session] = clicked
        return merged

    def combine(self, partials: Sequence[WhatsappSessions]) -> WhatsappSessions:
        return self.merge(partials)

    def weight(self, partial: WhatsappSessions) -> int:
        return len(partial.last_clicks) + len(partial.buyers)


def union(sets: Iterable[AbstractSet[T]]) -> set[T]:
    """A new set of every item of ``sets``: a copy of the biggest, then the others added
    (a copy keeps the set's table; ``set().union`` inserts a big set item by item, about
    twice the time, and a cached span's set is usually the big one)."""
    pieces = list(sets)
    if not pieces:
        return set()
    biggest = max(pieces, key=len)
    merged = set(biggest)
    for items in pieces:
        if items is not biggest:
            merged |= items
    return merged


def distinct_count(sets: Sequence[set[str]]) -> int:
    """How many distinct items ``sets`` hold: the biggest's own, then the others' it lacks."""
    if not sets:
        return 0
    biggest = max(sets, key=len)
    rest = union(items for items in sets if items is not biggest)
    return len(biggest) + len(rest.difference(biggest))


class Visitors(Summary[set[str], list[set[str]]]):
    """The distinct visitors (``visitorId``, else ``sessionId``); merged, the pieces' sets.

    Count a merge with ``distinct_count``: it does not copy the biggest set (a
    cached span of a long range, usually).
    """

    name = "visitors"

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        visitor = {"$ifNull": ["$visitorId", "$sessionId"]}
        return [{"$group": {"_id": time_keyed(time_key, visitor)}}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        return {after_time(row["_id"]) for row in rows}

    def merge(self, partials: Sequence[set[str]]) -> list[set[str]]:
        return list(partials)

    def combine(self, partials: Sequence[set[str]]) -> set[str]:
        return union(partials)

    def weight(self, partial: set[str]) -> int:
        return len(partial)


def _earliest(partials: Sequence[dict[str, datetime]]) -> dict[str, datetime]:
    """Each key's earliest time over ``partials``."""
    return overlay(partials, min)


class _Earliest(Summary[dict[str, datetime], dict[str, datetime]]):
    """Per key, the time of its earliest event (naive UTC)."""

    def merge(self, partials: Sequence[dict[str, datetime]]) -> dict[str, datetime]:
        return _earliest(partials)

    def combine(self, partials: Sequence[dict[str, datetime]]) -> dict[str, datetime]:
        return _earliest(partials)

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, datetime]:
        return {after_time(row["_id"]): row["first"] for row in rows}

    def weight(self, partial: dict[str, datetime]) -> int:
        return len(partial)


class Orders(_Earliest):
    """Per order of purchase-role events, its earliest line.

    An order is ``metadata.order_id`` (``o:`` + it), else the purchase event
    itself (``e:`` + its ``_id``).
    """

    name = "orders"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_role(Role.PURCHASE)}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {"_id": time_keyed(time_key, ORDER_KEY), "first": {"$min": "$createdAt"}}
        return [{"$group": group}]


class FirstPurchases(_Earliest):
    """Per logged-in buyer (``userId``), the time of its earliest purchase-role event."""

    name = "first_purchases"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_role(Role.PURCHASE), "userId": {"$ne": None}}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {"_id": time_keyed(time_key, "$userId"), "first": {"$min": "$createdAt"}}
        return [{"$group": group}]


class ProductRevenue(LineValues):
    """Per product slug, the lineValue of each of its purchase-role events."""

    name = "product_revenue"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_role(Role.PURCHASE), "productSlug": {"$ne": None}}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {"_id": time_keyed(time_key, "$productSlug"), "lines": {"$push": LINE_VALUE}}
        return [{"$group": group}]


def step_types(steps: Sequence[str]) -> list[frozenset[str]]:
    """The event types each step matches: the step itself as a type, and its role's types."""
    found = []
    for step in steps:
        role = Role._value2member_map_.get(step)
        found.append(frozenset({step, *(types_of(role) if isinstance(role, Role) else ())}))
    return found


class _StepSummary(Summary[P, M]):
    """A summary of the events matching any of ``steps`` (each an event type or a role)."""

    def __init__(self, steps: Sequence[str], where: Mapping[str, Any] | None = None) -> None:
        super().__init__(where)
        self.steps = tuple(steps)
        self.matches = step_types(steps)

    def key(self) -> Hashable:
        return (super().key(), self.steps)

    def conditions(self) -> dict[str, Any]:
        return {"eventType": {"$in": sorted(union(self.matches))}}

    def mask(self, event_type: str) -> int:
        """Bit i set when ``event_type`` matches step i."""
        return sum(1 << i for i, types in enumerate(self.matches) if event_type in types)


class StepSessions(_StepSummary[list[set[str]], list[list[set[str]]]]):
    """Per step, the sessions with an event matching it (an unordered custom funnel)."""

    name = "step_sessions"

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {"_id": time_keyed(time_key, "$sessionId"), "types": {"$addToSet": "$eventType"}}
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> list[set[str]]:
        sessions: list[set[str]] = [set() for _ in self.steps]
        for row in rows:
            session = after_time(row["_id"])
            mask = 0
            for event_type in row["types"]:
                mask |= self.mask(event_type)
            for index in range(len(self.steps)):
                if mask >> index & 1:
                    sessions[index].add(session)
        return sessions

    def merge(self, partials: Sequence[list[set[str]]]) -> list[list[set[str]]]:
        """Per step, the pieces' sets (count each with ``distinct_count``)."""
        return [[partial[index] for partial in partials] for index in range(len(self.steps))]

    def combine(self, partials: Sequence[list[set[str]]]) -> list[set[str]]:
        return [union(sets) for sets in self.merge(partials)]

    def weight(self, partial: list[set[str]]) -> int:
        return sum(len(sessions) for sessions in partial)


Timeline = list[tuple[int, int]]  # (milliseconds, step mask) of a session's events, by time


@dataclass(slots=True)
class StepTimelines:
    """Each session's matching events in time order; answers of ``reach`` kept per span."""

    events: dict[str, Timeline] = field(default_factory=dict)
    # (steps, window) → (each session's level if ≥ 1, sessions per level)
    reached: dict[tuple[int, int | None], tuple[dict[str, int], list[int]]] = field(
        default_factory=dict
    )


def reach(events: Timeline, steps: int, window: int | None) -> int:
    """How many steps of an ordered funnel ``events`` reach (docs/metrics.md, funnel wave 2).

    Step k is reached by events t1 < t2 < ... < tk (strictly increasing times), ti
    matching step i, tk − t1 ≤ ``window`` (milliseconds; None: no limit). For each
    level the latest start of a chain reaching it is kept: a later start leaves more
    of the window for the steps after, so it dominates. Events of one instant are
    weighed together, against the chains of earlier instants only. O(events × steps).
    """
    latest = [-1] * steps  # per level, the latest start of a chain reaching it
    best = 0
    index, count = 0, len(events)
    while index < count:
        moment = events[index][0]
        end = index
        while end < count and events[end][0] == moment:
            end += 1
        updates: list[tuple[int, int]] = []
        for _, mask in events[index:end]:
            if mask & 1:
                updates.append((0, moment))
            for level in range(1, steps):
                if mask >> level & 1:
                    start = latest[level - 1]
                    if start >= 0 and (window is None or moment - start <= window):
                        updates.append((level, start))
        for level, start in updates:
            if start > latest[level]:
                latest[level] = start
                best = max(best, level + 1)
        index = end
    return best


class StepEvents(_StepSummary[StepTimelines, list[StepTimelines]]):
    """Per session, its events matching a step, as (time, step mask), in time order."""

    name = "step_events"

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        group = {
            "_id": time_keyed(time_key, "$sessionId"),
            "events": {"$push": keyed_text("eventType")},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> StepTimelines:
        state = StepTimelines()
        for row in rows:
            timeline = sorted(
                (int(text[:TIME_KEY_WIDTH]), self.mask(text_after_time_key(text)))
                for text in row["events"]
            )
            state.events[after_time(row["_id"])] = timeline
        return state

    def merge(self, partials: Sequence[StepTimelines]) -> list[StepTimelines]:
        return list(partials)

    def combine(self, partials: Sequence[StepTimelines]) -> StepTimelines:
        merged: dict[str, Timeline] = {}
        for partial in partials:  # oldest first: each list stays in time order
            for session, timeline in partial.events.items():
                known = merged.get(session)
                merged[session] = timeline if known is None else known + timeline
        return StepTimelines(events=merged)

    def weight(self, partial: StepTimelines) -> int:
        return sum(len(timeline) for timeline in partial.events.values())


REACHED_KEPT = 8  # (steps, window) answers kept per span


def ordered_counts(pieces: Sequence[StepTimelines], steps: int, window: int | None) -> list[int]:
    """Sessions reaching each step of an ordered funnel over consecutive ``pieces``.

    Each session's level over the biggest piece (a cached span, usually) is kept
    with it, so a warm range recomputes only the sessions its other pieces hold.
    """
    counts = [0] * steps
    if not pieces:
        return counts
    base = max(pieces, key=lambda piece: len(piece.events))
    key = (steps, window)
    known = base.reached.get(key)
    if known is None:
        levels = {}
        for session, timeline in base.events.items():
            if level := reach(timeline, steps, window):
                levels[session] = level
        per_level = [sum(1 for level in levels.values() if level > k) for k in range(steps)]
        if len(base.reached) >= REACHED_KEPT:
            base.reached.pop(next(iter(base.reached)))
        known = base.reached[key] = (levels, per_level)
    levels, per_level = known
    counts = list(per_level)
    others = [piece for piece in pieces if piece is not base]
    touched = set().union(*(piece.events for piece in others))
    for session in touched:
        merged: Timeline = []
        for piece in pieces:  # oldest first
            merged += piece.events.get(session, ())
        old, new = levels.get(session, 0), reach(merged, steps, window)
        for k in range(old):
            counts[k] -= 1
        for k in range(new):
            counts[k] += 1
    return counts


@dataclass(slots=True)
class Journey:
    """One session's attribution and WhatsApp clicks over a span."""

    source: str | None = None  # "time key|value" of its earliest event with one
    channel: str | None = None
    campaign: str | None = None
    visitors: set[str] = field(default_factory=set)  # visitor(e) of its events
    first_click: datetime | None = None  # its earliest WhatsApp cart click
    clicks: int = 0


def _earlier(a: Any, b: Any) -> Any:
    """The smaller of two values, either of which may be missing (None)."""
    if a is None:
        return b
    return a if b is None or a <= b else b


class SessionJourneys(Summary[dict[str, Journey], dict[str, Journey]]):
    """Per session: its earliest source, channel and campaign, visitors, WhatsApp clicks.

    Attribution is the session's (docs/metrics.md, breakdown): its earliest event in
    the range that has one, so states merge by the smallest "time key|value".
    """

    name = "journeys"

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        is_click = {"$in": ["$eventType", list(types_of(Role.WHATSAPP_CART_CLICK))]}
        group = {
            "_id": time_keyed(time_key, "$sessionId"),
            "source": {"$min": keyed_text("source")},
            "channel": {"$min": keyed_text("channel")},
            "campaign": {"$min": keyed_text("utmCampaign")},
            "visitors": {"$addToSet": {"$ifNull": ["$visitorId", "$sessionId"]}},
            "firstClick": {"$min": {"$cond": [is_click, "$createdAt", None]}},
            "clicks": {"$sum": {"$cond": [is_click, 1, 0]}},
        }
        return [{"$group": group}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, Journey]:
        return {
            after_time(row["_id"]): Journey(
                source=row["source"],
                channel=row["channel"],
                campaign=row["campaign"],
                visitors=set(row["visitors"]),
                first_click=row["firstClick"],
                clicks=int(row["clicks"]),
            )
            for row in rows
        }

    def merge(self, partials: Sequence[dict[str, Journey]]) -> dict[str, Journey]:
        """Read-only journeys: a session only one piece holds keeps that piece's."""
        return overlay(
            partials,
            lambda known, journey: Journey(
                source=_earlier(known.source, journey.source),
                channel=_earlier(known.channel, journey.channel),
                campaign=_earlier(known.campaign, journey.campaign),
                visitors=known.visitors | journey.visitors,
                first_click=_earlier(known.first_click, journey.first_click),
                clicks=known.clicks + journey.clicks,
            ),
        )

    def combine(self, partials: Sequence[dict[str, Journey]]) -> dict[str, Journey]:
        return self.merge(partials)

    def weight(self, partial: dict[str, Journey]) -> int:
        return sum(1 + len(journey.visitors) for journey in partial.values())


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    at: datetime  # naive UTC
    order: str  # "o:" + metadata.order_id, else "e:" + the event's _id
    value: float  # price × quantity


ORDER_KEY: dict[str, Any] = {
    "$cond": [
        {"$eq": [{"$ifNull": ["$orderId", None]}, None]},
        {"$concat": ["e:", {"$toString": "$_id"}]},
        {"$concat": ["o:", "$orderId"]},
    ]
}


class SessionPurchases(Summary[dict[str, list[PurchaseLine]], dict[str, list[PurchaseLine]]]):
    """Per session, its purchase-role lines: time, order and value."""

    name = "session_purchases"

    def conditions(self) -> dict[str, Any]:
        return {"eventType": in_role(Role.PURCHASE)}

    def stages(self, time_key: dict[str, Any]) -> Pipeline:
        line = {"at": "$createdAt", "order": ORDER_KEY, "value": LINE_VALUE}
        return [{"$group": {"_id": time_keyed(time_key, "$sessionId"), "lines": {"$push": line}}}]

    def partial(self, rows: Sequence[dict[str, Any]]) -> dict[str, list[PurchaseLine]]:
        return {
            after_time(row["_id"]): [
                PurchaseLine(line["at"], line["order"], float(line["value"]))
                for line in row["lines"]
            ]
            for row in rows
        }

    def merge(
        self, partials: Sequence[dict[str, list[PurchaseLine]]]
    ) -> dict[str, list[PurchaseLine]]:
        merged: dict[str, list[PurchaseLine]] = {}
        for partial in partials:
            for session, lines in partial.items():
                known = merged.get(session)
                merged[session] = lines if known is None else known + lines
        return merged

    def combine(
        self, partials: Sequence[dict[str, list[PurchaseLine]]]
    ) -> dict[str, list[PurchaseLine]]:
        return self.merge(partials)

    def weight(self, partial: dict[str, list[PurchaseLine]]) -> int:
        return sum(len(lines) for lines in partial.values())
