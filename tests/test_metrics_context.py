"""Context derived by the server (docs/metrics.md, "Context, visitors, bots")."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from metrics.context import (
    Agent,
    PageUrl,
    classify_user_agent,
    country_of,
    derive_channel,
    derive_source,
    known_source,
    parse_page_url,
    referrer_host,
    visitor_id,
)

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = IPHONE.replace("iPhone; CPU iPhone OS", "iPad; CPU OS")
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15"
)


@pytest.mark.parametrize(
    ("user_agent", "agent"),
    [
        (CHROME_WINDOWS, Agent("Chrome", "Windows", "desktop", bot=False)),
        (MAC_SAFARI, Agent("Safari", "Mac OS X", "desktop", bot=False)),
        (IPHONE, Agent("Mobile Safari", "iOS", "mobile", bot=False)),
        (IPAD, Agent("Mobile Safari", "iOS", "tablet", bot=False)),
        (ANDROID_PHONE, Agent("Chrome", "Android", "mobile", bot=False)),
        (ANDROID_TABLET, Agent("Chrome", "Android", "tablet", bot=False)),
        (HEADLESS, Agent("HeadlessChrome", "Linux", "desktop", bot=True)),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            Agent("Googlebot", None, "other", bot=True),
        ),
        ("facebookexternalhit/1.1", Agent("FacebookBot", None, "other", bot=True)),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", None),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", None),
        # Generic HTTP clients are how developers and servers call: not bots.
        ("curl/8.5.0", Agent("curl", None, "other", bot=False)),
        ("python-httpx/0.28.1", None),
        ("Python-urllib/3.11", None),
        ("Go-http-client/1.1", None),
        # ... unless the agent also names a crawler.
        ("curl/8.5.0 Googlebot", Agent("Googlebot", None, "other", bot=True)),
        ("", Agent(None, None, "other", bot=False)),
    ],
)
def test_user_agents(user_agent: str, agent: Agent | None) -> None:
    parsed = classify_user_agent(user_agent)
    if agent is None:  # only the bot flag is asserted: generic client or named crawler
        expected_bot = "bot" in user_agent.lower()
        assert parsed.bot is expected_bot
    else:
        assert parsed == agent


def test_visitor_id_is_a_keyed_hash_of_tenant_ip_and_agent() -> None:
    key = b"k" * 32
    expected = hmac.new(key, b"shop1|203.0.113.9|UA", hashlib.sha256).hexdigest()[:45]
    assert visitor_id(key, "shop1", "203.0.113.9", "UA") == expected
    assert len(expected) == 45
    assert visitor_id(key, "shop2", "203.0.113.9", "UA") != expected
    assert visitor_id(b"j" * 32, "shop1", "203.0.113.9", "UA") != expected


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        ("190.85.1.1", "CO"),
        ("2800:484::1", "CO"),
        ("::ffff:190.85.1.1", "CO"),
        ("127.0.0.1", None),
        ("::1", None),
        ("10.1.2.3", None),
        ("192.168.0.7", None),
        ("fe80::1", None),
        ("not an ip", None),
        ("", None),
        (None, None),
    ],
)
def test_country_from_the_bundled_database(ip: str | None, country: str | None) -> None:
    assert country_of(ip) == country


def test_page_url_keeps_host_path_and_utm_fields() -> None:
    url = (
        "https://shop.example/p/tee?color=red&utm_source=ig&utm_medium=paid_social"
        "&utm_campaign=bf&utm_term=t&utm_content=c&utm_source=second"
    )
    assert parse_page_url(url) == PageUrl(
        host="shop.example",
        page="/p/tee",
        utm={
            "utm_source": "ig",
            "utm_medium": "paid_social",
            "utm_campaign": "bf",
            "utm_term": "t",
            "utm_content": "c",
        },
    )
    assert parse_page_url("https://shop.example") == PageUrl("shop.example", "/", {})
    assert parse_page_url(None) == PageUrl(None, None, {})
    assert parse_page_url("http://[::1") == PageUrl(None, None, {})


@pytest.mark.parametrize(
    ("host", "source"),
    [
        ("www.google.com", "google"),
        ("www.google.com.co", "google"),
        ("duckduckgo.com", "duckduckgo"),
        ("search.yahoo.com", "yahoo"),
        ("www.bing.com", "bing"),
        ("l.instagram.com", "instagram"),
        ("m.facebook.com", "facebook"),
        ("t.co", "twitter"),
        ("youtu.be", "youtube"),
        ("wa.me", "whatsapp"),
        ("blog.example.org", None),
        ("googleusercontent.example", None),
        (None, None),
    ],
)
def test_known_sources(host: str | None, source: str | None) -> None:
    assert known_source(host) == source


def test_source_prefers_utm_then_a_known_referrer_never_the_store_itself() -> None:
    assert derive_source(utm_source="mail", referrer_host="www.google.com", own_host="s.co") == (
        "mail"
    )
    assert derive_source(utm_source=None, referrer_host="www.google.com", own_host="s.co") == (
        "google"
    )
    assert derive_source(utm_source=None, referrer_host="www.s.co", own_host="s.co") is None
    assert derive_source(utm_source=None, referrer_host="blog.example", own_host="s.co") is None
    assert derive_source(utm_source=None, referrer_host=None, own_host="s.co") is None
    assert referrer_host("https://www.google.com/search?q=x") == "www.google.com"
    assert referrer_host("") is None
    assert referrer_host("not a url") is None


@pytest.mark.parametrize(
    ("medium", "source", "referrer", "channel"),
    [
        ("cpc", "google", "www.google.com", "Paid"),
        ("paid_social", "instagram", None, "Paid"),
        ("display", None, None, "Paid"),
        ("Email", None, None, "Email"),
        ("newsletter", "mailchimp", None, "Email"),
        (None, "google", "www.google.com", "Organic Search"),
        (None, "bing", None, "Organic Search"),
        (None, "instagram", "l.instagram.com", "Social"),
        (None, None, "blog.example", "Referral"),
        (None, None, "s.co", "Direct"),  # the store's own pages
        (None, None, None, "Direct"),
    ],
)
def test_channels(
    medium: str | None, source: str | None, referrer: str | None, channel: str
) -> None:
    found = derive_channel(
        utm_medium=medium, source=source, referrer_host=referrer, own_host="s.co"
    )
    assert found == channel
