"""A realistic storefront history, generated deterministically from a seed.

Shape (tuned to look like a small fashion store, prices in COP):

* sessions start over the ``days`` days before ``now`` (``DAYS``, 90, by default),
  traffic growing towards now (density rising linearly, so the last day has about
  twice the average), and
  average about four events: a landing ``page_view``, then either nothing more
  (a bounce) or a few ``product_view``s of Zipf-popular products (~200),
  sometimes ``add_to_cart``;
* about 2% of sessions buy: ``begin_checkout``, ``checkout_started``,
  ``payment_info_entered``, one ``purchase`` line per product (price,
  ``metadata.quantity`` and ``metadata.order_id``), then ``order_completed``;
  some abandoned checkouts log a payment, checkout or address error;
* traffic sources: google, instagram, facebook, email, or none (direct);
* a third of buyers are logged in (``userId`` = an email) and about a third of
  those are returning customers, so RFM and retention have content;
* some sessions click the WhatsApp cart button, a few of them buy that way.

``generate(count, seed=..., now=..., days=...)`` yields exactly ``count`` events,
whole sessions first; a prefix of the stream is itself a ``days``-day store, so
sizes can be loaded cumulatively (the first 1,000, then the next 9,000, ...).
``days`` only stretches the time axis: with the same seed, the sessions are the
same, and ``days=90`` gives the stream this module always gave.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DAYS = 90
PRODUCTS = 200
ZIPF_EXPONENT = 1.1
# Shares of sessions by source; None is direct traffic.
SOURCES: tuple[tuple[str | None, float], ...] = (
    ("google", 0.35),
    ("instagram", 0.20),
    ("facebook", 0.12),
    (None, 0.25),
    ("email", 0.08),
)
BOUNCE = 0.3  # of sessions: a page_view or two, no product
ADD_TO_CART = 0.23  # of the other sessions
BEGIN_CHECKOUT = 0.27  # of carts
PURCHASE = 0.44  # of checkouts: 0.7 × 0.23 × 0.27 × 0.44 ≈ 2% of sessions buy
LOGGED_IN = 1 / 3  # of buyers
RETURNING = 0.35  # of logged-in buyers: an earlier customer buys again
CHECKOUT_ERROR = 0.30  # of abandoned checkouts
WHATSAPP = 0.15  # of carts click the WhatsApp button
WHATSAPP_PURCHASE = 0.20  # of WhatsApp clicks
ERROR_TYPES = (
    ("payment_error", "Card declined by issuer"),
    ("checkout_error", "Shipping quote unavailable"),
    ("address_error", "Address could not be validated"),
    ("payment_confirmation_error", "Payment confirmation timed out"),
)
GARMENTS = ("Tee", "Hoodie", "Jogger", "Cap", "Jacket", "Short", "Sneaker", "Sock", "Bag", "Vest")
COLOURS = ("Black", "White", "Olive", "Sand", "Navy", "Rust", "Grey", "Lilac", "Teal", "Coal")


@dataclass(frozen=True, slots=True)
class Product:
    slug: str
    name: str
    price: float


def catalogue(rng: random.Random) -> list[Product]:
    """``PRODUCTS`` products, most popular first; prices 29,900 to 399,900."""
    products = []
    for rank in range(PRODUCTS):
        garment = GARMENTS[rank % len(GARMENTS)]
        colour = COLOURS[(rank // len(GARMENTS)) % len(COLOURS)]
        price = float(rng.randrange(299, 4000) * 100)
        products.append(
            Product(f"{colour}-{garment}-{rank:03d}".lower(), f"{colour} {garment}", price)
        )
    return products


class _Store:
    """Generator state: the random stream, the catalogue and the customer list."""

    def __init__(self, seed: int, now: datetime, days: float = DAYS) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.products = catalogue(self.rng)
        weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(PRODUCTS)]
        self.cumulative = list(itertools.accumulate(weights))
        self.source_cumulative = list(itertools.accumulate(share for _, share in SOURCES))
        # Leave a minute of slack: the server refuses createdAt in its future.
        self.end = now.astimezone(UTC) - timedelta(minutes=1)
        self.customers: list[str] = []
        self.orders = 0

    def product(self) -> Product:
        point = self.rng.random() * self.cumulative[-1]
        return self.products[min(bisect.bisect(self.cumulative, point), PRODUCTS - 1)]

    def source(self) -> str | None:
        point = self.rng.random() * self.source_cumulative[-1]
        return SOURCES[min(bisect.bisect(self.source_cumulative, point), len(SOURCES) - 1)][0]

    def start(self) -> datetime:
        # Density rising linearly towards now: the inverse CDF of f(x) ∝ x is √u.
        back = self.days * (1 - math.sqrt(self.rng.random()))
        return self.end - timedelta(days=back)

    def buyer(self) -> str | None:
        if self.rng.random() >= LOGGED_IN:
            return None
        if self.customers and self.rng.random() < RETURNING:
            return self.customers[int(len(self.customers) * self.rng.random() ** 2)]
        email = f"customer{len(self.customers) + 1:05d}@example.com"
        self.customers.append(email)
        return email

    def session(self, number: int) -> list[dict[str, Any]]:
        """The events of one session, oldest first (GraphQL ``ImportEventInput`` objects)."""
        rng = self.rng
        session_id = f"bench-{number:07d}-{rng.getrandbits(32):08x}"
        source = self.source()
        moment = self.start()
        steps: list[tuple[str, dict[str, Any]]] = [("page_view", {})]
        if rng.random() < 0.3:
            steps.append(("page_view", {}))
        bounced = rng.random() < BOUNCE
        views = 0 if bounced else 1 + min(int(rng.expovariate(0.35)), 15)
        viewed = [self.product() for _ in range(views)]
        steps += [("product_view", {"product": product}) for product in viewed]
        if not bounced and rng.random() < ADD_TO_CART:
            cart = viewed[: 1 + int(rng.random() < 0.3) + int(rng.random() < 0.1)]
            for product in cart:
                steps.append(("add_to_cart", {"product": product, "quantity": self.quantity()}))
            steps += self.checkout(cart)
        events = []
        user_id = next((s[1]["user"] for s in steps if "user" in s[1]), None)
        for event_type, detail in steps:
            moment += timedelta(seconds=rng.uniform(4, 90))
            events.append(self.event(session_id, event_type, moment, source, user_id, detail))
        return events

    def quantity(self) -> int:
        return 1 + int(self.rng.random() < 0.2) + int(self.rng.random() < 0.05)

    def checkout(self, cart: list[Product]) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        steps: list[tuple[str, dict[str, Any]]] = []
        whatsapp = rng.random() < WHATSAPP
        if whatsapp:
            steps.append(("whatsapp_cart_click", {}))
            if rng.random() < WHATSAPP_PURCHASE:
                steps.append(("whatsapp_purchase", {}))
        if rng.random() >= BEGIN_CHECKOUT:
            return steps
        steps += [("begin_checkout", {}), ("checkout_started", {})]
        if rng.random() >= PURCHASE:
            if rng.random() < 0.4:
                steps.append(("payment_info_entered", {}))
            if rng.random() < CHECKOUT_ERROR:
                error_type, message = rng.choice(ERROR_TYPES)
                steps.append((error_type, {"message": message}))
            return steps
        self.orders += 1
        order_id = f"UB-{self.orders:06d}"
        user = self.buyer()
        steps.append(("payment_info_entered", {"user": user}))
        for product in cart:
            detail = {"product": product, "quantity": self.quantity(), "order": order_id}
            steps.append(("purchase", detail))
        steps.append(("order_completed", {"order": order_id}))
        return steps

    @staticmethod
    def event(
        session_id: str,
        event_type: str,
        moment: datetime,
        source: str | None,
        user_id: str | None,
        detail: dict[str, Any],
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "eventType": event_type,
            "sessionId": session_id,
            "createdAt": moment.isoformat(timespec="milliseconds"),
            "source": source,
        }
        if user_id is not None:
            event["userId"] = user_id
        product: Product | None = detail.get("product")
        if product is not None:
            event["productSlug"] = product.slug
            event["productName"] = product.name
            event["price"] = product.price
        metadata: dict[str, Any] = {}
        if "quantity" in detail:
            metadata["quantity"] = detail["quantity"]
        if "order" in detail:
            metadata["order_id"] = detail["order"]
        if metadata:
            event["metadata"] = metadata
        if "message" in detail:
            event["errorMessage"] = detail["message"]
        return event


def generate(
    count: int, *, seed: int, now: datetime, days: float = DAYS
) -> Iterator[dict[str, Any]]:
    """The first ``count`` events of the store seeded ``seed``, session by session.

    Sessions start within the ``days`` days before ``now``; every session ends
    before ``now`` (sessions that would run past it are shifted back), so the
    server accepts every ``createdAt``.
    """
    if days <= 0:
        raise ValueError("days must be positive")
    store = _Store(seed, now, days)
    produced = 0
    for number in itertools.count():
        events = store.session(number)
        last = datetime.fromisoformat(events[-1]["createdAt"])
        if last > store.end:
            shift = last - store.end
            for event in events:
                moment = datetime.fromisoformat(event["createdAt"]) - shift
                event["createdAt"] = moment.isoformat(timespec="milliseconds")
        for event in events:
            if produced == count:
                return
            yield event
            produced += 1


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts that show the store's shape (printed with the results)."""
    sessions = {e["sessionId"] for e in events}
    buyers = {e["sessionId"] for e in events if e["eventType"] == "purchase"}
    orders = {e["metadata"]["order_id"] for e in events if e["eventType"] == "purchase"}
    users = [e["userId"] for e in events if e["eventType"] == "purchase" and e.get("userId")]
    per_user: dict[str, set[str]] = {}
    for e in events:
        if e["eventType"] == "purchase" and e.get("userId"):
            per_user.setdefault(e["userId"], set()).add(e["metadata"]["order_id"])
    return {
        "events": len(events),
        "sessions": len(sessions),
        "events_per_session": round(len(events) / max(len(sessions), 1), 2),
        "buying_sessions_pct": round(100 * len(buyers) / max(len(sessions), 1), 2),
        "orders": len(orders),
        "logged_in_buyers": len(set(users)),
        "repeat_buyers": sum(1 for orders_ in per_user.values() if len(orders_) >= 2),
        "error_events": sum(1 for e in events if e["eventType"].endswith("_error")),
        "whatsapp_clicks": sum(1 for e in events if e["eventType"] == "whatsapp_cart_click"),
    }
