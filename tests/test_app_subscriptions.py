"""Live updates through the real ASGI app over a WebSocket (Starlette's test client).

Events are imported through the API with times before T0, and the live feeds'
clock is fixed at T0 (``resolvers.live.clock``), so every figure is hand-counted
from the events in each test. The tenant's zone is the Etc/GMT zone where T0 is
about noon: "today" then starts about 12 hours before T0, whatever the real time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from app.http import create_app
from core.settings import load_settings
from metrics.activity import activity_of
from resolvers import live
from tests.conftest import FREE, SECRET, TestClient, WebSocketTestSession, cost, token

PROTOCOL = "graphql-transport-ws"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
WAIT = 10.0  # seconds at most for anything expected to happen
ADMIN = f"Bearer {token(tenant='*')}"
IMPORT = """mutation($events: [ImportEventInput!]!, $t: ID) {
  importEvents(events: $events, tenantId: $t) { inserted } }"""
ALERTS = "subscription($t: ID) { alertsChanged(tenantId: $t) { type severity message value } }"
STATS = """subscription($t: ID, $i: Int!) { liveStats(tenantId: $t, intervalSeconds: $i) {
  at visitorsNow eventsLastMinute ordersToday revenueToday topPages { page visitors } } }"""
ALL_CLEAR = {
    "type": "ALL_CLEAR",
    "severity": "INFO",
    "message": "No anomalies detected at this time.",
    "value": None,
}


def noon_zone(moment: datetime) -> str:
    """An Etc/GMT zone in which ``moment`` falls between 11:00 and 13:00."""
    offset = 12 - moment.hour
    offset = offset - 24 if offset > 12 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def make_client(
    tmp_path: Path, app_wrapper: Callable[[ASGIApp], ASGIApp] | None = None, **env: str
) -> TestClient:
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "JWT_SECRET": SECRET,
            "EMBEDDED_QUERY_WORKERS": "0",
            "EMBEDDED_FSYNC_SECONDS": "0",
            # No query budget unless a test sets one: each message states the
            # subscription's cost, with no balance (schema.cost).
            "QUERY_BUDGET_POINTS": "0",
            **env,
        }
    )
    app: ASGIApp = create_app(settings)
    return TestClient(app_wrapper(app) if app_wrapper else app)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "clock", lambda: T0)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as test_client:
        post(
            test_client,
            'mutation($z: String) { upsertTenant(id: "shop", input: {timezone: $z}) { id } }',
            {"z": noon_zone(T0)},
        )
        yield test_client


def post(client: TestClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": ADMIN}
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body


def seed(client: TestClient, *events: dict[str, Any], tenant: str = "shop") -> None:
    found = post(client, IMPORT, {"events": list(events), "t": tenant})
    assert found["data"]["importEvents"]["inserted"] == len(events)


def ev(event_type: str, before: timedelta, **fields: Any) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "sessionId": fields.pop("sessionId", "s1"),
        "createdAt": (T0 - before).isoformat(),
        **fields,
    }


def connect(client: TestClient, authorization: str | None = ADMIN, **kwargs: Any) -> Any:
    return client.websocket_connect("/graphql", subprotocols=[PROTOCOL], **kwargs)


def init(ws: WebSocketTestSession, authorization: str | None = ADMIN) -> None:
    payload = {} if authorization is None else {"authorization": authorization}
    ws.send_json({"type": "connection_init", "payload": payload})
    assert ws.receive_json() == {"type": "connection_ack"}


def subscribe(ws: WebSocketTestSession, op: str, query: str, **variables: Any) -> None:
    ws.send_json(
        {"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


def closed(ws: WebSocketTestSession) -> tuple[int, str]:
    with pytest.raises(WebSocketDisconnect) as refused:
        ws.receive_json()
    return refused.value.code, refused.value.reason


def error_codes(message: dict[str, Any]) -> list[str]:
    assert message["type"] == "error", message
    return [error["extensions"]["code"] for error in message["payload"]]


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- connection_init -------------------------------------------------------------------


def test_an_admin_token_is_acknowledged(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


@pytest.mark.parametrize(
    ("authorization", "code", "reason"),
    [
        (None, 4401, "UNAUTHENTICATED: this field needs a bearer token"),
        ("Bearer garbage", 4401, "UNAUTHENTICATED: the bearer token is not a well-formed JWT"),
        (f"Bearer {token(admin=False)}", 4403, "FORBIDDEN: live updates need an admin token"),
    ],
)
def test_init_without_a_usable_admin_token_is_closed(
    client: TestClient, authorization: str | None, code: int, reason: str
) -> None:
    with connect(client) as ws:
        payload = {} if authorization is None else {"authorization": authorization}
        ws.send_json({"type": "connection_init", "payload": payload})
        got_code, got_reason = closed(ws)
        assert got_code == code
        assert got_reason.startswith(reason)


def test_a_tenant_outside_the_scope_is_forbidden(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws, f"Bearer {token(tenant='shop')}")
        subscribe(ws, "1", ALERTS, t="other")
        message = ws.receive_json()
        assert message["id"] == "1"
        assert error_codes(message) == ["FORBIDDEN"]
        # The connection stays usable: its own tenant answers.
        subscribe(ws, "2", ALERTS, t="shop")
        assert ws.receive_json()["payload"]["data"]["alertsChanged"] == [ALL_CLEAR]


# -- alertsChanged ---------------------------------------------------------------------


def test_alerts_now_then_only_when_they_change(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        subscribe(ws, "a", ALERTS, t="shop")
        assert ws.receive_json() == {
            "id": "a",
            "type": "next",
            "payload": {"data": {"alertsChanged": [ALL_CLEAR]}, "extensions": cost(1)},
        }
        # A page view changes no alert: recomputed, not sent.
        seed(client, ev("page_view", timedelta(minutes=3)))
        # Two payment errors in the last hour: PAYMENT_ERRORS, value 2. Had the page view
        # been sent, this would be a second ALL_CLEAR.
        seed(
            client,
            ev("payment_error", timedelta(minutes=10)),
            ev("payment_error", timedelta(minutes=20), sessionId="s2"),
        )
        assert ws.receive_json()["payload"]["data"]["alertsChanged"] == [
            {
                "type": "PAYMENT_ERRORS",
                "severity": "CRITICAL",
                "message": "2 payment errors detected in the last hour",
                "value": 2.0,
            }
        ]
        # A third one, an hour and a half ago, is outside the window: nothing changes;
        # a fourth inside it makes 3.
        seed(client, ev("payment_error", timedelta(minutes=90)))
        seed(client, ev("payment_error", timedelta(minutes=5)))
        assert ws.receive_json()["payload"]["data"]["alertsChanged"][0]["value"] == 3.0


def test_alerts_in_spanish_and_a_bad_lang(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        subscribe(
            ws, "es", 'subscription { alertsChanged(tenantId: "shop", lang: "es") { message } }'
        )
        assert ws.receive_json()["payload"]["data"]["alertsChanged"] == [
            {"message": "No se detectaron anomalías en este momento."}
        ]
        subscribe(ws, "xx", 'subscription { alertsChanged(lang: "xx") { message } }')
        assert error_codes(ws.receive_json()) == ["BAD_USER_INPUT"]


# -- liveStats -------------------------------------------------------------------------


def test_live_stats_hand_counted(client: TestClient) -> None:
    url = "https://shop.example"
    seed(
        client,
        ev("page_view", timedelta(seconds=30), visitorId="v1", url=f"{url}/"),
        ev("page_view", timedelta(minutes=2), visitorId="v2", url=f"{url}/"),
        ev("product_view", timedelta(minutes=3), visitorId="v2", url=f"{url}/p/tee"),
        ev("page_view", timedelta(minutes=4), visitorId="v3", url=f"{url}/p/tee"),
        # More than 5 minutes ago: out of visitorsNow and topPages.
        ev("page_view", timedelta(minutes=6), visitorId="v4", url=f"{url}/old"),
        # A crawler: counted nowhere.
        ev(
            "page_view",
            timedelta(seconds=20),
            visitorId="v5",
            url=f"{url}/",
            userAgent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ),
        # Order o1 (2 × 10) in the last minute; a 5 purchase 2 hours ago, today.
        ev(
            "purchase",
            timedelta(seconds=40),
            visitorId="v1",
            url=f"{url}/checkout",
            price=10,
            metadata={"quantity": 2, "order_id": "o1"},
        ),
        ev("purchase", timedelta(hours=2), visitorId="v6", price=5),
        # 13 hours before T0 is yesterday in the tenant's zone (T0 is about noon there).
        ev("purchase", timedelta(hours=13), visitorId="v7", price=100),
    )
    with connect(client) as ws:
        init(ws)
        subscribe(ws, "s", STATS, t="shop", i=1)
        first = ws.receive_json()
        assert first == {
            "id": "s",
            "type": "next",
            "payload": {
                "data": {
                    "liveStats": {
                        "at": T0.isoformat(),
                        "visitorsNow": 3,  # v1, v2, v3
                        "eventsLastMinute": 2,  # the 30 s page view, the 40 s purchase
                        "ordersToday": 2,  # o1, the 2-hour-old purchase
                        "revenueToday": 25.0,  # 2 × 10 + 5
                        "topPages": [
                            {"page": "/", "visitors": 2},  # v1, v2
                            {"page": "/p/tee", "visitors": 2},  # v2, v3
                            {"page": "/checkout", "visitors": 1},  # v1
                        ],
                    }
                },
                "extensions": cost(1),
            },
        }
        # Every interval again (the clock is fixed here: the same figures).
        assert ws.receive_json() == first


def test_the_producer_stops_when_the_last_subscriber_leaves(client: TestClient) -> None:
    with connect(client) as ws, connect(client) as other:
        init(ws)
        init(other)
        subscribe(ws, "1", STATS, t="shop", i=1)
        subscribe(other, "1", STATS, t="shop", i=1)
        assert ws.receive_json()["type"] == other.receive_json()["type"] == "next"
        (hub,) = [hub for _, hub in live.hub_of.made() if hub.feeds.running]
        (database,) = [db for db, h in live.hub_of.made() if h is hub]
        assert (hub.feeds.running, hub.feeds.started) == (1, 1)  # one producer for both
        ws.send_json({"id": "1", "type": "complete"})
        ws.send_json({"type": "ping"})
        while ws.receive_json()["type"] != "pong":  # a value may have been on its way
            pass
        assert hub.feeds.running == 1
        other.send_json({"id": "1", "type": "complete"})
        wait_until(lambda: hub.feeds.running == 0)
        subscribe(other, "2", ALERTS, t="shop")
        assert other.receive_json()["type"] == "next"
        assert activity_of(database).watched() == {"shop"}
    # Both sockets closed: nothing runs, nothing is computed any more.
    wait_until(lambda: hub.feeds.running == 0 and not activity_of(database).listening)
    assert hub.per_token == {}
    computed = database.pipelines_run
    time.sleep(1.5)  # more than the 1 s interval the stats producer had
    assert database.pipelines_run == computed


# -- limits ----------------------------------------------------------------------------


def test_at_most_n_subscriptions_per_token(tmp_path: Path) -> None:
    client = make_client(tmp_path, LIVE_SUBSCRIPTIONS_PER_TOKEN="2")
    with client, connect(client) as ws, connect(client) as other:
        init(ws)
        init(other)
        subscribe(ws, "1", ALERTS)
        subscribe(other, "1", STATS, i=60)  # the same token on another socket
        assert ws.receive_json()["type"] == other.receive_json()["type"] == "next"
        subscribe(ws, "2", ALERTS)
        refused = ws.receive_json()
        assert error_codes(refused) == ["RATE_LIMITED"]
        assert refused["payload"][0]["extensions"]["retryAfter"] == 60
        # Another token has its own count.
        with connect(client) as third:
            init(third, f"Bearer {token(email='other@example.com')}")
            subscribe(third, "1", ALERTS)
            assert third.receive_json()["type"] == "next"
        # Completing one frees its slot.
        other.send_json({"id": "1", "type": "complete"})
        hub = next(h for _, h in live.hub_of.made() if h.per_token)
        wait_until(lambda: sum(hub.per_token.values()) == 1)
        subscribe(ws, "3", ALERTS)
        assert ws.receive_json() == {
            "id": "3",
            "type": "next",
            "payload": {"data": {"alertsChanged": [ALL_CLEAR]}, "extensions": cost(1)},
        }


class StopsReading:
    """Middleware: after ``allowed`` messages to a WebSocket client, sending blocks, as
    when a client stops reading and the socket's buffers are full; closing still works."""

    def __init__(self, app: ASGIApp, allowed: int) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        sent = 0

        async def blocking_send(message: Message) -> None:
            nonlocal sent
            if message["type"] == "websocket.send":
                sent += 1
                if sent > self.allowed:
                    await asyncio.Event().wait()
            await send(message)

        await self.app(scope, receive, blocking_send)


def test_a_client_that_does_not_read_is_dropped(tmp_path: Path) -> None:
    # Sent: the ack and the first value; the second value never leaves.
    wrapper = lambda app: StopsReading(app, allowed=2)  # noqa: E731
    with (
        make_client(tmp_path, wrapper, REQUEST_TIMEOUT_SECONDS="0.5") as client,
        connect(client) as ws,
    ):
        init(ws)
        subscribe(ws, "1", STATS, i=1)
        assert ws.receive_json()["type"] == "next"
        assert closed(ws) == (4503, "slow consumer: messages were not read")
        hub = next(h for _, h in live.hub_of.made() if h.feeds.started)
        wait_until(lambda: hub.feeds.running == 0 and not hub.per_token)


# -- hostile input and the protocol ---------------------------------------------------


def test_interval_out_of_bounds(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        for op, interval in (("big", 10**9), ("zero", 0), ("over", 301)):
            subscribe(ws, op, STATS, i=interval)
            message = ws.receive_json()
            assert message["id"] == op
            assert error_codes(message) == ["BAD_USER_INPUT"]
        # Beyond a 32-bit Int, GraphQL's own coercion refuses it.
        subscribe(ws, "huge", STATS, i=10**12)
        assert error_codes(ws.receive_json()) == ["BAD_USER_INPUT"]


def test_only_subscriptions_run_here(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        subscribe(ws, "q", "{ alerts { type } }")
        assert error_codes(ws.receive_json()) == ["BAD_USER_INPUT"]


def test_subscribe_before_init_is_closed(client: TestClient) -> None:
    with connect(client) as ws:
        subscribe(ws, "1", ALERTS)
        assert closed(ws) == (4401, "Unauthorized")


def test_a_duplicate_id_is_closed(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        subscribe(ws, "1", ALERTS)
        assert ws.receive_json()["type"] == "next"
        subscribe(ws, "1", ALERTS)
        assert closed(ws) == (4409, "Subscriber for 1 already exists")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "WebSocket message must be valid JSON"),
        ('{"type": "bogus"}', "Unknown message type: bogus"),
        ('{"no": "type"}', "Failed to parse message"),
        ('{"type": "connection_init", "payload": "x"}', "Invalid connection init payload"),
    ],
)
def test_malformed_messages_are_closed(client: TestClient, frame: str, reason: str) -> None:
    with connect(client) as ws:
        ws.send_text(frame)
        assert closed(ws) == (4400, reason)


def test_malformed_subscribe_messages_are_closed(client: TestClient) -> None:
    for payload in ({}, {"query": 1}, "x"):
        with connect(client) as ws:
            init(ws)
            ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
            assert closed(ws)[0] == 4400


def test_a_syntax_error_is_closed(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        subscribe(ws, "1", "subscription {")
        assert closed(ws)[0] == 4400


def test_a_second_init_is_closed(client: TestClient) -> None:
    with connect(client) as ws:
        init(ws)
        ws.send_json({"type": "connection_init", "payload": {"authorization": ADMIN}})
        assert closed(ws) == (4429, "Too many initialisation requests")


def test_the_legacy_protocol_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        assert closed(ws) == (4406, "Subprotocol not acceptable")


def test_browsers_from_other_origins_are_refused_unless_allowed(tmp_path: Path) -> None:
    shop = {"origin": "https://admin.example"}
    with make_client(tmp_path, CORS_ORIGINS="https://admin.example") as client:
        with connect(client, headers=shop) as ws:
            init(ws)
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            connect(client, headers={"origin": "https://evil.example"}),
        ):
            pass
        assert refused.value.code == 1008
        # The server's own origin (the admin page it serves) is always allowed.
        with connect(client, headers={"origin": "http://testserver"}) as ws:
            init(ws)


# -- the real server ---------------------------------------------------------------------


def test_the_real_server_pushes_a_tracked_visitor(tmp_path: Path) -> None:
    """uvicorn and a WebSocket client: a live event shows in liveStats within its interval."""
    import httpx
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    from tests.live_server import Server

    server = Server(tmp_path / "data", env={"JWT_SECRET": SECRET})
    try:
        url = server.url.replace("http://", "ws://") + "/graphql"
        with ws_connect(url, subprotocols=[PROTOCOL], open_timeout=WAIT) as ws:
            ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": ADMIN}}))
            assert json.loads(ws.recv(WAIT)) == {"type": "connection_ack"}
            query = "subscription { liveStats(intervalSeconds: 1) { visitorsNow } }"
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            first = json.loads(ws.recv(WAIT))
            assert first["payload"]["data"] == {"liveStats": {"visitorsNow": 0}}
            tracked = httpx.post(
                f"{server.url}/graphql",
                json={
                    "query": 'mutation { trackEvent(input: {eventType: "page_view"}) { status } }'
                },
                headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"},
            )
            assert tracked.json() == {"data": {"trackEvent": {"status": "OK"}}, "extensions": FREE}
            deadline = time.monotonic() + WAIT
            while True:
                message = json.loads(ws.recv(WAIT))
                if message["payload"]["data"] == {"liveStats": {"visitorsNow": 1}}:
                    break
                assert time.monotonic() < deadline
        # The legacy protocol is refused on the real server too.
        with ws_connect(url, subprotocols=["graphql-ws"], open_timeout=WAIT) as legacy:
            with pytest.raises(ConnectionClosed) as refused:
                legacy.recv(WAIT)
            assert refused.value.rcvd is not None
            assert refused.value.rcvd.code == 4406
    finally:
        server.kill()


def test_a_subscription_spends_its_cost_once_when_it_starts(tmp_path: Path) -> None:
    # Budgets of 2 points that take 1,000 s to get one back (schema.cost).
    client = make_client(tmp_path, QUERY_BUDGET_POINTS="2", QUERY_BUDGET_REFILL_PER_SECOND="0.001")
    with client, connect(client) as ws:
        init(ws)
        subscribe(ws, "1", ALERTS)
        subscribe(ws, "2", STATS, i=1)
        firsts = {ws.receive_json()["id"] for _ in range(2)}
        assert firsts == {"1", "2"}
        subscribe(ws, "3", ALERTS)  # 2 points spent: the third waits for one back
        while (refused := ws.receive_json())["id"] != "3":
            pass  # liveStats' next values
        assert error_codes(refused) == ["RATE_LIMITED"]
        assert refused["payload"][0]["extensions"]["retryAfter"] == 1000
        # Another tenant's budget is whole.
        subscribe(ws, "4", ALERTS, t="shop")
        while (other := ws.receive_json())["id"] != "4":
            pass
        assert other["type"] == "next"
