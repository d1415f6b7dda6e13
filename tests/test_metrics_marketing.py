"""metrics.marketing: rows per session source and campaign, WhatsApp attribution; hand-counted.

On 2026-06-10 (UTC):

    S1  v1  page_view 09:00 (no source), product_view 09:05 google/summer, purchase 09:30 o1 10.00
    S2  v2  page_view 10:00 instagram, purchase 10:01 o2 5.00, whatsapp_cart_click 10:05,
            purchase 10:10 o3 7.00, click_whatsapp 10:20
    S3  v1  page_view 11:00 (no source: direct)
    S4  v3  page_view 12:00 google/summer
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from metrics.marketing import ChannelRow, WhatsappAttribution, marketing_report
from metrics.ranges import parse_range
from storage.documents import EventDocument
from storage.embedded import EmbeddedDatabase
from tests.conftest import NOW, event, store


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 10, hour, minute, tzinfo=UTC)


def seen(doc: EventDocument, visitor: str, campaign: str | None = None) -> EventDocument:
    doc["visitorId"] = visitor
    if campaign is not None:
        doc["utmCampaign"] = campaign
    return doc


def journeys() -> list[EventDocument]:
    return [
        seen(event("page_view", at=at(9), session="S1"), "v1"),
        seen(event("product_view", at=at(9, 5), session="S1", source="google"), "v1", "summer"),
        seen(event("purchase", at=at(9, 30), session="S1", price=10.0, order="o1"), "v1"),
        seen(event("page_view", at=at(10), session="S2", source="instagram"), "v2"),
        seen(event("purchase", at=at(10, 1), session="S2", price=5.0, order="o2"), "v2"),
        seen(event("whatsapp_cart_click", at=at(10, 5), session="S2"), "v2"),
        seen(event("purchase", at=at(10, 10), session="S2", price=7.0, order="o3"), "v2"),
        seen(event("click_whatsapp", at=at(10, 20), session="S2"), "v2"),
        seen(event("page_view", at=at(11), session="S3"), "v1"),
        seen(event("page_view", at=at(12), session="S4", source="google"), "v3", "summer"),
    ]


async def test_sources_campaigns_and_whatsapp(database: EmbeddedDatabase) -> None:
    await store(database, *journeys())
    window = parse_range(
        None,
        date(2026, 6, 10),
        date(2026, 6, 10),
        now=NOW,
        zone=ZoneInfo("UTC"),
        retention_days=365,
    )
    for _ in range(2):  # cold, then warm
        report = await marketing_report(database, tenant="default", window=window, now=NOW)
        google = ChannelRow("google", 2, 2, 1, 10.0, 50.0)  # S1 and S4: v1, v3; o1
        assert report.sources == [
            google,
            ChannelRow("direct", 1, 1, 0, 0.0, 0.0),  # S3
            ChannelRow("instagram", 1, 1, 2, 12.0, 100.0),  # S2: o2 and o3
        ]
        assert report.campaigns == [ChannelRow("summer", 2, 2, 1, 10.0, 50.0)]
        # S2 clicked twice; only o3 came after its first click.
        assert report.whatsapp == WhatsappAttribution(
            clicks=2, sessions=1, orders_after_click=1, revenue_after_click=7.0
        )
