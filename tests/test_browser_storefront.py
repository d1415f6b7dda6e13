"""A storefront in a real browser (Debian's Chromium, headless, through Playwright).

The shop's pages live on one origin (``http://localhost:<port>``, a tiny static server
here); the API on another (``http://127.0.0.1:<port>``, the real server). One page
loads ``tracker.js`` with a script tag, navigates as a single-page app, clicks a
``data-track`` button and closes; another calls the Urban Store REST route with
``fetch`` as that shop's frontend does. The stored events are read back from the
store, whole.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auth.tokens import issue_token
from storage.embedded import EmbeddedDatabase
from tests import chromium
from tests.chromium import DESKTOP_CHROME
from tests.live_server import Server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]


SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="{api}/tracker.js" data-tenant="shop1" data-flush-seconds="0.3" {extra} defer>
</script>
</head><body><h1>Shop</h1>
<button id="wa" data-track="whatsapp_cart_click" data-product-slug="tee">WhatsApp</button>
</body></html>"""

REST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cart</title>
</head><body><p id="result">pending</p><script>
fetch("{api}/api/analytics/track/", {{
  method: "POST",
  headers: {{"Content-Type": "application/json"}},
  body: JSON.stringify({{event_type: "add_to_cart", session_id: "rest-1",
                        product_slug: "tee", price: "19.90", metadata: {{quantity: 2}}}})
}}).then(async (r) => {{
  document.getElementById("result").textContent = r.status + " " + await r.text();
}}).catch((e) => {{ document.getElementById("result").textContent = "failed " + e; }});
</script></body></html>"""


class Shop:
    """The storefront's own origin: serves the two pages for any path (an SPA)."""

    def __init__(self, api: str) -> None:
        pages = {
            "/cart": REST_PAGE.format(api=api),
            "/private": SHOP_PAGE.format(api=api, extra="data-respect-dnt"),
        }
        default = SHOP_PAGE.format(api=api, extra="")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0], default).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://localhost:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def api(data_dir: Path) -> Iterator[Server]:
    server = Server(data_dir)
    yield server
    server.kill()


@pytest.fixture
def shop(api: Server) -> Iterator[Shop]:
    served = Shop(api.url)
    yield served
    served.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from chromium.launched()


def api_secret(data_dir: Path) -> str:
    """The secret the server generated in its DATA_DIR."""
    return (data_dir / "jwt_secret").read_text().strip()


def stored(data_dir: Path) -> list[dict[str, Any]]:
    """Every event in the (stopped) server's store, oldest first."""

    async def read() -> list[dict[str, Any]]:
        database = await EmbeddedDatabase.open(data_dir, fsync_seconds=0)
        try:
            return sorted(database.documents(), key=lambda d: (d["createdAt"], d["_id"]))
        finally:
            await database.close()

    # Playwright's sync API keeps an event loop running in this thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def wait_for_growth(path: Path, size: int) -> None:
    """Until ``path`` (the journal) grows past ``size``: a write was acknowledged."""
    for _ in range(100):  # bounded: 10 s
        if path.stat().st_size > size:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not grow: the beacon never arrived")


class Sent:
    """Counts the events the page sent that the API has answered (fetch or beacon)."""

    def __init__(self, context: Any) -> None:
        self.events = 0
        context.on("requestfinished", self._finished)

    def _finished(self, request: Any) -> None:
        if request.method == "POST" and request.url.endswith(("/graphql", "/collect")):
            body = json.loads(request.post_data or "{}")
            events = body.get("events") or (body.get("variables") or {}).get("e") or []
            self.events += len(events)

    def wait_for(self, page: Any, count: int) -> None:
        for _ in range(100):  # bounded: 10 s
            if self.events >= count:
                return
            page.wait_for_timeout(100)  # Playwright delivers events while it waits
        raise AssertionError(f"{self.events} of {count} events were answered")


def test_tracker_in_a_real_browser(api: Server, shop: Shop, browser: Any, data_dir: Path) -> None:
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    sent = Sent(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{shop.url}/?utm_source=ig&utm_campaign=bf")
    page.wait_for_function("window.storefrontAnalytics !== undefined")
    page.wait_for_timeout(1200)  # visible time on the first page
    page.evaluate("history.pushState({}, '', '/p/tee')")  # SPA navigation
    page.click("#wa")
    page.wait_for_timeout(1200)
    page.evaluate("history.back()")  # popstate, back to /
    page.wait_for_url(f"{shop.url}/?utm_source=ig&utm_campaign=bf")
    page.wait_for_timeout(1200)
    sent.wait_for(page, 6)
    journal = data_dir / "events.journal"
    before = journal.stat().st_size
    page.close(run_before_unload=True)  # pagehide: the last time on page leaves as a beacon
    wait_for_growth(journal, before)
    context.close()
    api.kill()
    events = [e for e in stored(data_dir) if e["tenantId"] == "shop1"]
    assert errors == []
    summary = [
        (e["eventType"], e.get("page"), e.get("productSlug"), (e["metadata"] or {}).get("seconds"))
        for e in events
    ]
    seconds = [s for (_, _, _, s) in summary if s is not None]
    assert all(isinstance(s, int) and 1 <= s <= 3 for s in seconds), summary
    assert [(t, p, slug) for (t, p, slug, _) in summary] == [
        ("page_view", "/", None),
        ("time_on_page", "/", None),
        ("page_view", "/p/tee", None),
        ("whatsapp_cart_click", "/p/tee", "tee"),
        ("time_on_page", "/p/tee", None),
        ("page_view", "/", None),
        ("time_on_page", "/", None),
    ]
    first = events[0]
    assert {k: first.get(k) for k in ("utmSource", "utmCampaign", "source", "channel")} == {
        "utmSource": "ig",
        "utmCampaign": "bf",
        "source": "ig",
        "channel": "Direct",
    }
    for event in events:
        assert (event.get("browser"), event.get("os"), event.get("device")) == (
            "Chrome",
            "Linux",
            "desktop",
        )
        assert "bot" not in event and "country" not in event  # loopback: no country
        assert event["userAgent"] == DESKTOP_CHROME
    assert len({e["sessionId"] for e in events}) == 1
    assert len({e["visitorId"] for e in events}) == 1
    assert len({e["dedupeKey"] for e in events}) == 7  # one idempotency key per fire


def test_urban_store_fetch_from_another_origin(
    api: Server, shop: Shop, browser: Any, data_dir: Path
) -> None:
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    page = context.new_page()
    page.goto(f"{shop.url}/cart")
    page.wait_for_function("document.getElementById('result').textContent !== 'pending'")
    assert page.inner_text("#result") == '201 {"status":"ok"}'
    context.close()
    api.kill()
    (event,) = stored(data_dir)
    assert {
        k: event[k] for k in ("eventType", "sessionId", "productSlug", "price", "quantity")
    } == {
        "eventType": "add_to_cart",
        "sessionId": "rest-1",
        "productSlug": "tee",
        "price": 19.9,
        "quantity": 2,
    }
    assert event["browser"] == "Chrome" and event["tenantId"] == "default"


BLOCKED_STORAGE = """Object.defineProperty(window, "localStorage", {
  get() { throw new DOMException("blocked", "SecurityError"); } });"""


def test_tracker_api_identify_blocked_storage_and_do_not_track(
    api: Server, shop: Shop, browser: Any, data_dir: Path
) -> None:
    shopper = issue_token(api_secret(data_dir), email="ana@shop.co")
    context = browser.new_context(user_agent=DESKTOP_CHROME)
    context.add_init_script(BLOCKED_STORAGE)
    sent = Sent(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{shop.url}/p/cap")
    page.wait_for_function("window.storefrontAnalytics !== undefined")
    page.evaluate(
        """(token) => {
        const sa = window.storefrontAnalytics;
        sa.identify(token);
        // A price as text is a number; a key the API does not know is left out.
        sa.track("add_to_cart",
                 {productSlug: "cap", price: "12.5", colour: "red", metadata: {quantity: 2}});
        sa.track("odd", {metadata: {n: 10n}});  // cannot be sent: dropped alone, not thrown
        sa.track(42);            // ignored, never thrown
        sa.track("Bad Type");    // refused by the API, reported per item, not thrown
        sa.flush();
    }""",
        shopper,
    )
    sent.wait_for(page, 3)
    # Do-Not-Track honoured where the tag asks: nothing is sent at all.
    private = context.new_page()
    private.add_init_script(
        "Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})"
    )
    private.goto(f"{shop.url}/private")
    private.wait_for_function("window.storefrontAnalytics !== undefined")
    private.evaluate(
        "window.storefrontAnalytics.track('add_to_cart'); window.storefrontAnalytics.flush()"
    )
    private.wait_for_timeout(500)
    context.close()
    api.kill()
    assert errors == []
    events = [
        (e["eventType"], e.get("productSlug"), e["userId"], e["price"], e["quantity"])
        for e in stored(data_dir)
        if e["eventType"] != "time_on_page"  # timing: see test_tracker_in_a_real_browser
    ]
    # identify() applies to every event not yet sent: the queued page view too.
    assert events == [
        ("page_view", None, "ana@shop.co", None, 1),
        ("add_to_cart", "cap", "ana@shop.co", 12.5, 2),
    ]
    assert sent.events == 3  # page_view, add_to_cart and the refused one; none from /private
