"""The admin page in a real browser (Debian's Chromium, headless, through Playwright).

A real server holds the small store of ``tests/admin_seed.py``; the page signs in through
the ``/admin#token=...`` link. Every panel's figures are checked against the API's own
answer to the same question (and the headline ones against hand counts from the seed),
each panel's request against the fields it draws, the page against axe-core's checks,
and the browser's console for errors. The test writes its review screenshots,
admin-1280.png and admin-375.png, into tests/screenshots/ (not tracked); with
``ADMIN_SCREENSHOTS=docs`` into docs/, where the README shows them (so that an ordinary
run leaves the tree as it was: their clock and dates differ on every run).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from graphql import FieldNode, SelectionSetNode, parse

from auth.tokens import issue_token
from core.clock import utcnow
from tests.admin_seed import LANDING, SHOP, gql, seed
from tests.chromium import DESKTOP_CHROME, launched
from tests.live_server import Server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
AXE = Path(__file__).resolve().parent / "axe"
BUDGET = 300 * 1024  # the page's weight, gzipped (issue 12)
ZONE = "America/Bogota"

# What each panel's request selects: its operation name → the leaf fields it asks for.
KPI = ("value", "previous", "change")
SERIES = {
    "metrics.unit",
    "metrics.total",
    "metrics.change",
    "metrics.dataPoints.date",
    "metrics.dataPoints.value",
    "metrics.previous.total",
    "metrics.previous.dataPoints.value",
}
CHANNEL = ("key", "sessions", "orders", "revenue", "conversionRate")
SELECTIONS = {
    "AdminTenants": {f"tenants.{f}" for f in ("id", "name", "timezone", "currency")},
    "AdminLiveProbe": {"__type.fields.name"},
    "AdminOverview": {"overview.currency"}
    | {
        f"overview.{k}.{f}"
        for k in ("revenue", "orders", "averageOrderValue", "conversionRate", "visitors")
        for f in KPI
    },
    "AdminRevenueSeries": SERIES,
    "AdminOrdersSeries": SERIES,
    "AdminFunnel": {
        f"funnel.steps.{f}"
        for f in ("step", "count", "conversionFromPrevious", "conversionFromStart", "dropoff")
    },
    "AdminWeek": {
        *(
            f"dashboardStats.eventCounts.{f}"
            for f in ("productView", "addToCart", "beginCheckout", "purchase")
        ),
        *(
            f"dashboardStats.conversionRates.{f}"
            for f in ("visitToCart", "cartToCheckout", "checkoutToPurchase")
        ),
        "dashboardStats.abandonmentRate",
    },
    "AdminSources": {
        f"marketing.{list_}.{f}" for list_ in ("sources", "campaigns") for f in CHANNEL
    },
    "AdminBreakdown": {
        "breakdown.total",
        "breakdown.totalRows",
        "breakdown.rows.key",
        "breakdown.rows.value",
        "breakdown.rows.share",
    },
    "AdminWhatsapp": {
        f"marketing.whatsapp.{f}"
        for f in ("clicks", "sessions", "ordersAfterClick", "revenueAfterClick")
    },
    "AdminAlerts": {"alerts.type", "alerts.severity", "alerts.message"},
    # Subscriptions, over the WebSocket.
    "AdminAlertsChanged": {"alertsChanged.type", "alertsChanged.severity", "alertsChanged.message"},
    "AdminLiveStats": {
        *(
            f"liveStats.{f}"
            for f in ("at", "visitorsNow", "eventsLastMinute", "ordersToday", "revenueToday")
        ),
        "liveStats.topPages.page",
        "liveStats.topPages.visitors",
    },
    "AdminProducts": {"products.totalRows"}
    | {
        f"products.products.{f}"
        for f in (
            "slug",
            "name",
            "views",
            "addToCart",
            "purchases",
            "units",
            "revenue",
            "conversionRate",
        )
    },
    "AdminCustomers": {
        "customers.newCustomers",
        "customers.returningCustomers",
        "customers.lifetimeValue",
        "customers.cohorts.cohort",
        "customers.cohorts.customers",
        "customers.cohorts.retention",
    },
    "AdminRfm": {
        f"rfm.customers.{f}" for f in ("visitorId", "recency", "frequency", "monetary", "segment")
    },
    "AdminLanding": {
        *(
            f"landingStats.{f}"
            for f in (
                "visitorsToday",
                "visitorsWeek",
                "whatsappClicks",
                "callClicks",
                "currencyToggles",
                "qrScans",
                "productClicks",
                "avgTimeOnPage",
            )
        ),
        "landingStats.last7Days.date",
        "landingStats.last7Days.visitors",
    },
}
PANELS = [
    *("kpis", "revenue", "orders", "funnel", "week", "sources", "breakdown", "whatsapp"),
    *("alerts", "products", "customers", "rfm"),
]
# The panels that ask for a range (all but rfm, alerts, week and landing).
RANGED = {
    "AdminOverview",
    "AdminRevenueSeries",
    "AdminOrdersSeries",
    "AdminFunnel",
    "AdminSources",
    "AdminBreakdown",
    "AdminWhatsapp",
    "AdminProducts",
    "AdminCustomers",
}


# The page's number formats (app/admin/static/js/format.js), for the text it must show.
def count(n: float) -> str:
    return f"{n:,.0f}"


def money(n: float, currency: str = "USD") -> str:
    return f"{n:,.2f} {currency}"


def pct(n: float) -> str:
    return f"{n:,.1f}%"


def change(c: float | None) -> str:
    return "n/a" if c is None else f"{'+' if c > 0 else ''}{c:,.1f}%"


def selection(query: str) -> tuple[str, set[str]]:
    """The operation's name and the dotted paths of the leaf fields it selects."""
    (operation,) = parse(query).definitions
    leaves: set[str] = set()

    def walk(selections: SelectionSetNode, prefix: str) -> None:
        for node in selections.selections:
            assert isinstance(node, FieldNode), "no fragments in the page's queries"
            path = f"{prefix}{node.name.value}"
            if node.selection_set is None:
                leaves.add(path)
            else:
                walk(node.selection_set, f"{path}.")

    walk(operation.selection_set, "")  # type: ignore[attr-defined]
    return operation.name.value, leaves  # type: ignore[attr-defined]


@dataclass
class Sent:
    operation: str
    fields: set[str]
    variables: dict[str, Any]
    request: Any


@dataclass
class Recorder:
    """What the page sent and loaded, and what its console said."""

    origin: str
    graphql: list[Sent] = field(default_factory=list)
    subscribed: list[Sent] = field(default_factory=list)
    connection_init: list[dict[str, Any]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    loaded: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("websocket", self._websocket)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _request(self, request: Any) -> None:
        self.urls.append(request.url)
        if request.method == "POST" and request.url == f"{self.origin}/graphql":
            body = json.loads(request.post_data)
            name, fields = selection(body["query"])
            self.graphql.append(Sent(name, fields, body.get("variables") or {}, request))

    def _websocket(self, socket: Any) -> None:
        self.urls.append(socket.url)
        socket.on("framesent", self._frame)

    def _frame(self, frame: str | bytes) -> None:
        message = json.loads(frame)
        if message["type"] == "connection_init":
            self.connection_init.append(message["payload"])
        elif message["type"] == "subscribe":
            name, fields = selection(message["payload"]["query"])
            self.subscribed.append(Sent(name, fields, message["payload"]["variables"], None))

    def _response(self, response: Any) -> None:
        if response.request.method == "GET" and "/admin" in response.url:
            self.loaded.append(response)

    def since(self, mark: int) -> dict[str, Sent]:
        """The last request of each operation sent after the mark."""
        return {sent.operation: sent for sent in self.graphql[mark:]}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data_dir = tmp_path_factory.mktemp("admin") / "data"
    server = Server(data_dir)
    secret = (data_dir / "jwt_secret").read_text().strip()
    token = issue_token(secret, email="admin@localhost", admin=True, tenant="*")
    seed(server.url, token, datetime.now(UTC))
    yield server, secret
    server.kill()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    yield from launched()


def axe_source() -> str:
    """axe-core from tests/axe (``npm ci`` there unless the lock file's install is present)."""
    installed = AXE / "node_modules" / ".package-lock.json"
    lock = AXE / "package-lock.json"
    if not (installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime):
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI"):
                pytest.fail("CI must run axe-core: npm is not installed")
            pytest.skip("npm is not installed: axe-core cannot be installed")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=AXE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return (AXE / "node_modules" / "axe-core" / "axe.min.js").read_text()


def axe_violations(page: Any, source: str) -> list[dict[str, Any]]:
    # Through the DevTools protocol: the page's own policy allows no injected script.
    page.evaluate(source + "\n;undefined")
    return page.evaluate(
        """async () => (await axe.run(document)).violations.map(
            (v) => ({id: v.id, nodes: v.nodes.map((n) => n.target.join(" "))}))"""
    )


READY = """() => {
  const shown = [...document.querySelectorAll("section.panel")].filter((p) => !p.hidden);
  return shown.length > 0 && shown.every((p) => ["ready", "empty"].includes(p.dataset.state));
}"""


def wait_ready(page: Any) -> None:
    page.wait_for_function(READY, timeout=30_000)


def state(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("section.panel")]
            .filter((p) => !p.hidden).map((p) => [p.id.slice(6), p.dataset.state]))"""
    )


def rows(page: Any, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} tbody tr", "trs => trs.map(tr => [...tr.children].map(c => c.textContent))"
    )


def figures(page: Any, panel: str) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            f"#panel-{panel} .figures > div",
            "ds => ds.map(d => [d.querySelector('dt').textContent,"
            " d.querySelector('dd').textContent])",
        )
    )


def bars(page: Any, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} li",
        """lis => lis.map(li => [...li.querySelectorAll(
            '.bar-label, .bar-value, .funnel-rates')].map(s => s.textContent))""",
    )


def cards(page: Any, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} .card",
        """lis => lis.map(li => [li.querySelector('.card-label').textContent,
            li.querySelector('.card-value').textContent,
            li.querySelector('.card-change')?.textContent ?? ''])""",
    )


class Api:
    """The API's own answers, for the same questions the page asks."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def __call__(self, query: str) -> Any:
        return gql(self.url, self.token, query)


def check_kpis(page: Any, api: Api, args: str) -> dict[str, Any]:
    kpi = "{ value previous change }"
    overview = api(
        f"{{ overview({args}) {{ currency revenue {kpi} orders {kpi} averageOrderValue {kpi} "
        f"conversionRate {kpi} visitors {kpi} }} }}"
    )["overview"]
    currency = overview["currency"]
    shown = {
        "revenue": ("Revenue", lambda n: money(n, currency)),
        "orders": ("Orders", count),
        "averageOrderValue": ("Average order", lambda n: money(n, currency)),
        "conversionRate": ("Conversion", pct),
        "visitors": ("Visitors", count),
    }
    assert cards(page, "#panel-kpis") == [
        [
            label,
            fmt(overview[key]["value"]),
            f"{change(overview[key]['change'])} vs {fmt(overview[key]['previous'])} before",
        ]
        for key, (label, fmt) in shown.items()
    ]
    return overview


def check_series(page: Any, api: Api, args: str, panel: str, metric: str, grain: str) -> None:
    series = api(
        f"{{ metrics(metric: {metric}, compare: PREVIOUS_PERIOD, granularity: {grain}, {args}) "
        "{ unit total change dataPoints { date value } previous { total dataPoints { value } } } }"
    )["metrics"]
    unit = series["unit"]

    def fmt(n: float) -> str:
        return count(n) if unit == "count" else money(n, unit)

    before = [p["value"] for p in series["previous"]["dataPoints"]]
    assert page.text_content(f"#panel-{panel} .totals") == (
        f"{fmt(series['total'])} {change(series['change'])} vs "
        f"{fmt(series['previous']['total'])} in the previous period"
    )
    assert grain == "DAY"  # a day's label is its local date, the start of its ISO instant
    assert rows(page, f"#panel-{panel}") == [
        [p["date"][:10], fmt(p["value"]), fmt(before[k]) if k < len(before) else "–"]
        for k, p in enumerate(series["dataPoints"])
    ]


def check_funnel(page: Any, api: Api, args: str, extra: str = "") -> list[int]:
    steps = api(
        f"{{ funnel({args}{extra}) {{ steps {{ step count conversionFromPrevious "
        "conversionFromStart dropoff } } }"
    )["funnel"]["steps"]
    assert bars(page, "#panel-funnel .funnel") == [
        [
            s["step"],
            count(s["count"]),
            "start"
            if k == 0
            else f"{pct(s['conversionFromPrevious'])} of previous · "
            f"{pct(s['conversionFromStart'])} of start · {count(s['dropoff'])} dropped",
        ]
        for k, s in enumerate(steps)
    ]
    return [s["count"] for s in steps]


def check_week(page: Any, api: Api, mode: str) -> str:
    stats = api(
        f'{{ dashboardStats(mode: {mode}, tenantId: "{SHOP}", timezone: "{ZONE}") '
        "{ eventCounts { productView addToCart beginCheckout purchase } "
        "conversionRates { visitToCart cartToCheckout checkoutToPurchase } abandonmentRate } }"
    )["dashboardStats"]
    counts, rates = stats["eventCounts"], stats["conversionRates"]
    assert figures(page, "week") == {
        "Product views": count(counts["productView"]),
        "Add to cart": count(counts["addToCart"]),
        "Checkouts begun": count(counts["beginCheckout"]),
        "Purchases": count(counts["purchase"]),
    }
    assert page.text_content("#panel-week .muted") == (
        f"View → cart {pct(rates['visitToCart'])} · cart → checkout "
        f"{pct(rates['cartToCheckout'])} · checkout → purchase "
        f"{pct(rates['checkoutToPurchase'])} · abandonment {pct(stats['abandonmentRate'])}"
    )
    return figures(page, "week")["Product views"]


def check_marketing(page: Any, api: Api, args: str) -> None:
    row = "{ key sessions orders revenue conversionRate }"
    report = api(
        f"{{ marketing({args}) {{ sources {row} campaigns {row} "
        "whatsapp { clicks sessions ordersAfterClick revenueAfterClick } } }"
    )["marketing"]

    def table(items: list[dict[str, Any]]) -> list[list[str]]:
        return [
            [
                r["key"],
                count(r["sessions"]),
                count(r["orders"]),
                money(r["revenue"]),
                pct(r["conversionRate"]),
            ]
            for r in items
        ]

    assert rows(page, '#panel-sources [aria-label="Sessions per source"]') == table(
        report["sources"]
    )
    assert rows(page, '#panel-sources [aria-label="Sessions per campaign"]') == table(
        report["campaigns"]
    )
    whatsapp = report["whatsapp"]
    assert figures(page, "whatsapp") == {
        "Clicks": count(whatsapp["clicks"]),
        "Sessions with a click": count(whatsapp["sessions"]),
        "Orders after a click": count(whatsapp["ordersAfterClick"]),
        "Revenue after a click": money(whatsapp["revenueAfterClick"]),
    }


def check_breakdown(page: Any, api: Api, args: str, by: str) -> None:
    result = api(
        f"{{ breakdown(metric: SESSIONS, by: {by}, limit: 10, {args}) "
        "{ total totalRows rows { key value share } } }"
    )["breakdown"]
    assert page.text_content("#panel-breakdown .totals") == (
        f"{count(result['total'])} sessions in all, {count(result['totalRows'])} keys"
    )
    assert bars(page, "#panel-breakdown .bars") == [
        [r["key"], f"{count(r['value'])} ({pct(r['share'])})"] for r in result["rows"]
    ]


def check_alerts(page: Any, api: Api, lang: str, tenant: str = SHOP) -> list[list[str]]:
    alerts = api(f'{{ alerts(tenantId: "{tenant}", lang: "{lang}") {{ type severity message }} }}')
    shown = page.eval_on_selector_all(
        "#panel-alerts .alert",
        """lis => lis.map(li => [li.dataset.type, li.querySelector('.badge').textContent,
            li.querySelector('.message').textContent])""",
    )
    assert shown == [[a["type"], a["severity"], a["message"]] for a in alerts["alerts"]]
    return shown


def check_products(page: Any, api: Api, args: str) -> list[str]:
    report = api(
        f"{{ products(limit: 20, {args}) {{ totalRows products {{ slug name views addToCart "
        "purchases units revenue conversionRate } } }"
    )["products"]
    assert rows(page, "#panel-products") == [
        [
            p["name"],
            count(p["views"]),
            count(p["addToCart"]),
            count(p["purchases"]),
            count(p["units"]),
            money(p["revenue"]),
            pct(p["conversionRate"]),
        ]
        for p in report["products"]
    ]
    return [p["slug"] for p in report["products"]]


def check_customers(page: Any, api: Api, args: str) -> None:
    report = api(
        f"{{ customers({args}) {{ newCustomers returningCustomers lifetimeValue "
        "cohorts { cohort customers retention } } }"
    )["customers"]
    assert figures(page, "customers") == {
        "New customers": count(report["newCustomers"]),
        "Returning customers": count(report["returningCustomers"]),
        "Lifetime value": money(report["lifetimeValue"]),
    }
    months = max((len(c["retention"]) for c in report["cohorts"]), default=0)
    assert rows(page, "#panel-customers .cohorts") == [
        [
            c["cohort"][:7],
            count(c["customers"]),
            *(pct(r) for r in c["retention"]),
            *["–"] * (months - len(c["retention"])),
        ]
        for c in report["cohorts"]
    ]


def check_rfm(page: Any, api: Api) -> None:
    customers = api(
        f'{{ rfm(tenantId: "{SHOP}") {{ customers {{ visitorId recency frequency monetary '
        "segment } } }"
    )["rfm"]["customers"]
    names = {"VIP": "VIP", "LOYAL": "Loyal", "AT_RISK": "At risk", "LOST": "Lost"}
    assert cards(page, "#panel-rfm") == [
        [name, count(sum(c["segment"] == key for c in customers)), ""]
        for key, name in names.items()
    ]
    assert rows(page, "#panel-rfm") == [
        [
            c["visitorId"],
            names[c["segment"]],
            count(c["recency"]),
            count(c["frequency"]),
            money(c["monetary"]),
        ]
        for c in customers
    ]


def check_landing(page: Any, api: Api) -> None:
    stats = api(
        f'{{ landingStats(tenantId: "{LANDING}", timezone: "UTC") {{ visitorsToday '
        "visitorsWeek whatsappClicks callClicks currencyToggles qrScans productClicks "
        "avgTimeOnPage last7Days { date visitors } } }"
    )["landingStats"]
    assert figures(page, "landing") == {
        "Visitors today": count(stats["visitorsToday"]),
        "Visitors this week": count(stats["visitorsWeek"]),
        "WhatsApp clicks": count(stats["whatsappClicks"]),
        "Call clicks": count(stats["callClicks"]),
        "Currency toggles": count(stats["currencyToggles"]),
        "QR scans": count(stats["qrScans"]),
        "Product clicks": count(stats["productClicks"]),
        "Average time on page": f"{stats['avgTimeOnPage']:.1f} s",
    }
    assert rows(page, "#panel-landing") == [
        [d["date"], count(d["visitors"])] for d in stats["last7Days"]
    ]
    # Hand counts (tests/admin_seed.py): three visitors, one click, one scan, (30 + 11) / 2 s.
    assert (stats["visitorsWeek"], stats["whatsappClicks"], stats["qrScans"]) == (3, 1, 1)
    assert stats["avgTimeOnPage"] == 20.5


def test_every_panel_shows_the_api_figures_and_asks_only_for_them(
    api: tuple[Server, str], chromium: Any
) -> None:
    server, secret = api
    token = issue_token(secret, email="admin@localhost", admin=True, tenant="*")
    ask = Api(server.url, token)
    axe = axe_source()
    context = chromium.new_context(
        user_agent=DESKTOP_CHROME, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    record = Recorder(server.url)
    record.attach(page)

    page.goto(f"{server.url}/admin#token={token}")
    wait_ready(page)
    # The link's token moved to sessionStorage and left the address bar.
    assert page.url == f"{server.url}/admin"
    assert page.evaluate("sessionStorage.getItem('storefront-admin-token')") == token
    # Stores: the configured ones and, for a '*' token, default; the first is shown.
    options = page.eval_on_selector_all("#tenant option", "os => os.map(o => o.textContent)")
    assert options == ["Landing Seven (7)", "default", "Shop One (shop1)"]
    assert not page.is_hidden("#panel-landing")
    check_landing(page, ask)

    page.select_option("#tenant", SHOP)
    wait_ready(page)
    assert page.input_value("#timezone") == ZONE  # the store's own zone
    assert page.is_hidden("#panel-landing")  # shop1 is not a landing page
    assert state(page) == {**dict.fromkeys(PANELS, "ready"), "live": "ready"}
    page.wait_for_selector('#panel-live[data-live="live"]')
    # Nothing stored in the last minutes: the seed's events are days old.
    assert figures(page, "live") == {
        "Visitors now": "0",
        "Events in the last minute": "0",
        "Orders today": "0",
        "Revenue today": "0.00 USD",
    }

    args = f'tenantId: "{SHOP}", timezone: "{ZONE}", period: "30d"'
    overview = check_kpis(page, ask, args)
    # Hand counts: revenue 20 × 2 + 15 + 20 against s6's 30; orders o1-o3 against o0;
    # sessions s1-s5 (three buying) against s6.
    assert [overview[k]["value"] for k in ("revenue", "orders", "visitors")] == [75, 3, 5]
    assert (overview["revenue"]["previous"], overview["revenue"]["change"]) == (30, 150)
    assert overview["conversionRate"]["value"] == 60
    check_series(page, ask, args, "revenue", "REVENUE", "DAY")
    check_series(page, ask, args, "orders", "ORDERS", "DAY")
    assert check_funnel(page, ask, args) == [5, 5, 3, 2, 3]
    assert check_week(page, ask, "TOTAL") == "3"  # s1's two views and s5's one
    check_marketing(page, ask, args)
    assert rows(page, '#panel-sources [aria-label="Sessions per source"]') == [
        ["direct", "2", "1", "20.00 USD", "50.0%"],
        ["instagram", "2", "1", "40.00 USD", "50.0%"],
        ["google", "1", "1", "15.00 USD", "100.0%"],
    ]
    assert figures(page, "whatsapp")["Revenue after a click"] == "15.00 USD"
    check_breakdown(page, ask, args, "CHANNEL")
    check_alerts(page, ask, "en")
    assert check_products(page, ask, args) == ["tee", "cap", "mug"]
    assert rows(page, "#panel-products")[0] == [
        "Tee",
        "3",
        "1",
        "2",
        "3",
        "60.00 USD",
        "66.7%",
    ]
    check_customers(page, ask, args)
    assert figures(page, "customers") == {
        "New customers": "2",  # ana, ben
        "Returning customers": "1",  # cleo, first bought 40 days ago
        "Lifetime value": "35.00 USD",  # (40 + 15 + 50) / 3
    }
    check_rfm(page, ask)
    assert len(rows(page, "#panel-rfm")) == 3

    # The review screenshots, at a desktop width and a phone's.
    shots = ROOT / (
        "docs" if os.environ.get("ADMIN_SCREENSHOTS") == "docs" else "tests/screenshots"
    )
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "admin-1280.png"), full_page=True)
    assert axe_violations(page, axe) == []
    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_timeout(300)  # the charts refit to the narrower panels
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways page
    page.screenshot(path=str(shots / "admin-375.png"), full_page=True)
    assert axe_violations(page, axe) == []
    page.set_viewport_size({"width": 1280, "height": 900})

    # Panel tools ask again for their panel only.
    mark = len(record.graphql)
    page.select_option("#week-mode", "UNIQUE")
    wait_ready(page)
    assert set(record.since(mark)) == {"AdminWeek"}
    assert check_week(page, ask, "UNIQUE") == "2"  # sessions s1 and s5

    mark = len(record.graphql)
    page.fill("#funnel-steps", "product_view, add_to_cart, purchase")
    page.click("#panel-funnel button[type=submit]")
    wait_ready(page)
    steps = '"product_view", "add_to_cart", "purchase"'
    assert check_funnel(page, ask, args, f", steps: [{steps}]") == [5, 3, 3]
    page.check("#funnel-ordered")
    wait_ready(page)
    # In order: s1 and s2 view, cart, buy; s4 stops at the cart; s3 and s5 at the view.
    assert check_funnel(page, ask, args, f", steps: [{steps}], ordered: true") == [5, 3, 2]
    assert {s.operation for s in record.graphql[mark:]} == {"AdminFunnel"}

    page.select_option("#breakdown-by", "SOURCE")
    wait_ready(page)
    check_breakdown(page, ask, args, "SOURCE")

    page.select_option("#alerts-lang", "es")
    wait_ready(page)
    check_alerts(page, ask, "es")

    # Sorting the products is the page's own: no request.
    mark = len(record.graphql)
    page.click('#panel-products button[data-column="views"]')
    assert [r[0] for r in rows(page, "#panel-products")] == ["Cap", "Tee", "Mug"]  # 3, 3, 1
    assert page.get_attribute("#panel-products th:nth-child(2)", "aria-sort") == "descending"
    page.click('#panel-products button[data-column="views"]')
    assert [r[0] for r in rows(page, "#panel-products")] == ["Mug", "Cap", "Tee"]
    assert page.get_attribute("#panel-products th:nth-child(2)", "aria-sort") == "ascending"
    assert record.graphql[mark:] == []

    # A new range asks again, every ranged panel and only those, for the new range.
    mark = len(record.graphql)
    page.select_option("#range", "7d")
    wait_ready(page)
    sent = record.since(mark)
    assert set(sent) == RANGED
    assert all(s.variables["period"] == "7d" for s in sent.values())
    args = f'tenantId: "{SHOP}", timezone: "{ZONE}", period: "7d"'
    overview = check_kpis(page, ask, args)
    # s1 and s5 (40 + 20) against s2 (15) the 7 days before.
    assert [overview["revenue"][k] for k in ("value", "previous", "change")] == [60, 15, 300]
    # The sort chosen stays across ranges; by revenue again, the rows are the API's order.
    assert [r[0] for r in rows(page, "#panel-products")] == ["Cap", "Tee"]  # views 1, 2
    page.click('#panel-products button[data-column="revenue"]')
    assert check_products(page, ask, args) == ["tee", "cap"]

    # Dates instead of a period.
    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    start, end = (today - timedelta(days=13)).isoformat(), today.isoformat()
    mark = len(record.graphql)
    page.select_option("#range", "custom")
    page.fill("#start", start)
    page.fill("#end", end)
    page.dispatch_event("#end", "change")
    wait_ready(page)
    sent = record.since(mark)
    assert set(sent) == RANGED
    assert sent["AdminOverview"].variables == {
        "tenantId": SHOP,
        "timezone": ZONE,
        "start": start,
        "end": end,
    }
    check_kpis(page, ask, f'tenantId: "{SHOP}", timezone: "{ZONE}", start: "{start}", end: "{end}"')

    # Every request: one panel's operation, exactly the fields that panel draws, the
    # token in the Authorization header only, nothing from another origin.
    seen = set()
    for sent_one in record.graphql:
        assert sent_one.fields == SELECTIONS[sent_one.operation], sent_one.operation
        assert sent_one.request.all_headers()["authorization"] == f"Bearer {token}"
        seen.add(sent_one.operation)
    for sent_one in record.subscribed:
        assert sent_one.fields == SELECTIONS[sent_one.operation], sent_one.operation
        assert sent_one.variables["tenantId"] in (LANDING, SHOP)
        seen.add(sent_one.operation)
    assert seen == set(SELECTIONS)
    # The socket's token is in connection_init only (one socket for both subscriptions).
    assert record.connection_init == [{"authorization": f"Bearer {token}"}]
    socket = server.url.replace("http://", "ws://") + "/graphql"
    for url in record.urls:
        assert url.startswith(f"{server.url}/") or url in ("data:,", socket), url
        assert token not in url.split("#")[0], url
    # The page's weight: every file it loaded, gzipped.
    weight = sum(len(gzip.compress(r.body(), 9)) for r in record.loaded)
    assert any(r.url.endswith("/uPlot.esm.js") for r in record.loaded)
    assert weight <= BUDGET, weight
    assert record.errors == []
    context.close()


def test_a_refused_token_says_so_and_asks_for_another(
    api: tuple[Server, str], chromium: Any
) -> None:
    server, secret = api
    axe = axe_source()
    context = chromium.new_context(user_agent=DESKTOP_CHROME)
    page = context.new_page()
    record = Recorder(server.url)
    record.attach(page)
    expired = issue_token(
        secret, email="admin@localhost", admin=True, tenant="*", now=utcnow() - timedelta(days=31)
    )
    page.goto(f"{server.url}/admin#token={expired}")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.url == f"{server.url}/admin"
    assert page.text_content("#sign-in-message") == (
        "The token was refused: the bearer token has expired: issue a new one. "
        "Paste a valid admin token."
    )
    assert page.evaluate("sessionStorage.getItem('storefront-admin-token')") is None
    assert axe_violations(page, axe) == []

    # A token that expires while the page is open: the next request says so.
    short = issue_token(secret, email="admin@localhost", admin=True, tenant=SHOP, days=12 / 86400)
    expires = time.time() + 12
    page.fill("#token", short)
    page.click("#sign-in-form button[type=submit]")
    wait_ready(page)
    assert page.eval_on_selector_all("#tenant option", "os => os.map(o => o.value)") == [SHOP]
    assert page.is_hidden("#sign-in")
    page.wait_for_timeout(max(0, expires - time.time() + 1.5) * 1000)
    page.select_option("#range", "7d")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.text_content("#sign-in-message") == (
        "The token was refused: the bearer token has expired: issue a new one. "
        "Paste a valid admin token."
    )
    assert page.is_hidden("#dashboard")

    # A valid one pasted in brings the page back.
    page.fill("#token", issue_token(secret, email="admin@localhost", admin=True, tenant="*"))
    page.click("#sign-in-form button[type=submit]")
    wait_ready(page)
    assert page.get_attribute("#panel-kpis", "data-state") == "ready"
    # The browser logs nothing as an error: refusals are answers (HTTP 200), not faults.
    assert record.errors == []
    context.close()


INTERVAL_SECONDS = 5  # the live panel's liveStats(intervalSeconds)


def track(url: str, event: dict[str, Any]) -> None:
    response = httpx.post(
        f"{url}/graphql",
        json={
            "query": "mutation($e: TrackEventInput!) { trackEvent(input: $e) { status } }",
            "variables": {"e": event},
        },
        headers={"User-Agent": DESKTOP_CHROME},
        timeout=10,
    )
    assert response.json()["data"] == {"trackEvent": {"status": "OK"}}


def test_live_panel_and_alerts_change_without_a_reload(tmp_path: Path, chromium: Any) -> None:
    server = Server(tmp_path / "data")
    try:
        secret = (tmp_path / "data" / "jwt_secret").read_text().strip()
        token = issue_token(secret, email="admin@localhost", admin=True, tenant="*")
        ask = Api(server.url, token)
        context = chromium.new_context(user_agent=DESKTOP_CHROME)
        page = context.new_page()
        record = Recorder(server.url)
        record.attach(page)
        page.goto(f"{server.url}/admin#token={token}")
        wait_ready(page)
        # An empty store: every panel says so (the KPIs show zeros, alerts ALL_CLEAR).
        assert state(page) == {
            **dict.fromkeys(PANELS, "empty"),
            "kpis": "ready",
            "alerts": "ready",
            "live": "ready",
        }
        assert page.text_content("#panel-funnel .status") == (
            "No sessions reached any step in this range."
        )
        assert page.get_attribute("#panel-live", "data-live") == "live"
        assert figures(page, "live") == {
            "Visitors now": "0",
            "Events in the last minute": "0",
            "Orders today": "0",
            "Revenue today": "0.00 COP",
        }
        assert check_alerts(page, ask, "en", tenant="default") == [
            ["ALL_CLEAR", "INFO", "No anomalies detected at this time."]
        ]
        page.evaluate("window.notReloaded = true")

        # A visitor's page view and purchase reach the live panel within its interval.
        track(
            server.url, {"eventType": "page_view", "sessionId": "v1", "url": "https://s.co/p/tee"}
        )
        track(
            server.url,
            {"eventType": "purchase", "sessionId": "v1", "productSlug": "tee", "price": 12.5},
        )
        page.wait_for_function(
            """() => [...document.querySelectorAll('#panel-live dd')].map(d => d.textContent)
                .join('|') === '1|2|1|12.50 COP'""",
            timeout=(INTERVAL_SECONDS + 5) * 1000,
        )
        assert page.eval_on_selector_all(
            "#panel-live .pages li", "lis => lis.map(li => li.textContent)"
        ) == ["/p/tee1"]

        # A payment error: the PAYMENT_ERRORS alert appears, pushed by alertsChanged.
        track(server.url, {"eventType": "payment_error", "sessionId": "v1"})
        page.wait_for_selector(
            '#panel-alerts .alert[data-type="PAYMENT_ERRORS"]',
            timeout=(INTERVAL_SECONDS + 5) * 1000,
        )
        shown = check_alerts(page, ask, "en", tenant="default")
        assert ["PAYMENT_ERRORS", "CRITICAL", "1 payment errors detected in the last hour"] in shown
        assert page.evaluate("window.notReloaded") is True
        # Both came over the socket, not from asking again over HTTP.
        assert [s.operation for s in record.graphql].count("AdminAlerts") == 1
        assert record.errors == []
        context.close()
    finally:
        server.kill()
