"""An event's context, derived by the server (docs/metrics.md, "Context, visitors, bots").

From what the request carries (client IP, user agent, Referer) and what the event says
(``url``, ``referrer``, ``source``), ingest derives: the keyed visitor hash, the parsed
user agent, the country, the referrer's host, the page, the UTM fields, the source and
channel, and whether the caller is a bot. The raw IP is used here and dropped: it is
never stored, returned or logged.

User agents are parsed by ua-parser and checked by crawlerdetect; both are cached per
distinct user agent (a shop sees few), so the tracking path pays a dict lookup.
Countries come from geoip2fast's bundled database (IPv4 and IPv6), loaded on first use.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from crawlerdetect import CrawlerDetect
from ua_parser import parse as parse_user_agent

from storage.documents import StoredContext

MAX_USER_AGENT = 512
MAX_URL = 2048
VISITOR_ID_LENGTH = 45
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

# Referrer hosts with a known source name: a host matches a name when one of its
# dot-separated labels is the name's domain label (www.google.com.co → google).
SEARCH_ENGINES = ("google", "bing", "duckduckgo", "yahoo")
SOCIAL_SITES = (
    "instagram",
    "facebook",
    "tiktok",
    "twitter",
    "youtube",
    "whatsapp",
    "pinterest",
    "linkedin",
)
_HOST_ALIASES = {
    "t.co": "twitter",
    "x.com": "twitter",
    "fb.com": "facebook",
    "fb.me": "facebook",
    "m.me": "facebook",
    "youtu.be": "youtube",
    "wa.me": "whatsapp",
    "lnkd.in": "linkedin",
    "pin.it": "pinterest",
    "l.instagram.com": "instagram",
}
DESKTOP_SYSTEMS = ("windows", "mac os", "linux", "ubuntu", "fedora", "debian", "chrome os")
PAID_MEDIUMS = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_social", "display"})
EMAIL_MEDIUMS = frozenset({"email", "newsletter"})

# crawlerdetect lists generic HTTP clients too; docs/metrics.md counts them as people
# (developers and server-side senders call with them). These are its matches for them.
GENERIC_CLIENTS = frozenset(
    {
        "curl",
        "wget",
        "python-httpx",
        "python-urllib",
        "python-requests",
        "aiohttp",
        "go-http-client",
        "node-fetch",
        "axios",
        "undici",
        "okhttp",
        "java",
        "httpie",
        "libwww-perl",
    }
)


class Channel:
    PAID = "Paid"
    EMAIL = "Email"
    ORGANIC_SEARCH = "Organic Search"
    SOCIAL = "Social"
    REFERRAL = "Referral"
    DIRECT = "Direct"


@dataclass(frozen=True, slots=True)
class Agent:
    """What a user agent string says."""

    browser: str | None
    os: str | None
    device: str  # desktop, mobile, tablet or other
    bot: bool


@dataclass(frozen=True, slots=True)
class PageUrl:
    host: str | None
    page: str | None
    utm: dict[str, str]


_crawlers = threading.local()


def _crawler_detect() -> CrawlerDetect:
    # CrawlerDetect keeps the last match on the instance: one per thread.
    detector: CrawlerDetect | None = getattr(_crawlers, "detector", None)
    if detector is None:
        detector = _crawlers.detector = CrawlerDetect()
    return detector


def _is_bot(user_agent: str) -> bool:
    """crawlerdetect's verdict, except for generic HTTP clients (and only for them:
    ``curl/8 Googlebot`` is still a bot)."""
    detector = _crawler_detect()
    text = user_agent
    for _ in range(len(GENERIC_CLIENTS) + 1):  # each pass removes one client's name
        if not detector.isCrawler(text):
            return False
        match = str(detector.getMatches() or "")
        if not match or match.lower().rstrip("/") not in GENERIC_CLIENTS:
            return True
        text = re.sub(re.escape(match), " ", text, flags=re.IGNORECASE)
    return True


def _device(os_family: str | None, device_family: str | None, user_agent: str) -> str:
    device = (device_family or "").lower()
    os_name = (os_family or "").lower()
    if "ipad" in device or "tablet" in device or "kindle" in device:
        return "tablet"
    if os_name == "android":  # Android phones say "Mobile"; tablets do not
        return "mobile" if "Mobile" in user_agent else "tablet"
    if device in {"iphone", "ipod"} or os_name in {"ios", "windows phone", "kaios"}:
        return "mobile"
    if os_name.startswith(DESKTOP_SYSTEMS):
        return "desktop"
    return "other"


@functools.lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str) -> Agent:
    """Browser, OS, device class and bot flag of a user agent (≤ 512 characters)."""
    if not user_agent:
        return Agent(browser=None, os=None, device="other", bot=False)
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else None
    os_family = parsed.os.family if parsed.os else None
    device_family = parsed.device.family if parsed.device else None
    return Agent(
        browser=None if browser in (None, "Other") else browser,
        os=None if os_family in (None, "Other") else os_family,
        device=_device(os_family, device_family, user_agent),
        bot=_is_bot(user_agent),
    )


class _Countries:
    """geoip2fast's database, loaded once on first use (about 0.4 s, 40 MB)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._database: Any = None

    def load(self) -> Any:
        """The database, loaded once; the server calls this at start-up, in a thread,
        so that no request pays the load on the event loop."""
        if self._database is None:
            with self._lock:
                if self._database is None:
                    from geoip2fast import GeoIP2Fast

                    self._database = GeoIP2Fast(
                        geoip2fast_data_file="geoip2fast-ipv6.dat.gz", verbose=False
                    )
        return self._database

    def lookup(self, ip: str) -> str | None:
        result = self.load().lookup(ip)
        code = getattr(result, "country_code", "") or ""
        return code if len(code) == 2 and code.isalpha() and code.isupper() else None


COUNTRIES = _Countries()


@functools.lru_cache(maxsize=8192)  # a request's events, and a visitor's requests, share one
def country_of(ip: str | None) -> str | None:
    """ISO 3166 alpha-2 country of ``ip``; None when unknown, private or loopback."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global:
        return None
    return COUNTRIES.lookup(str(address))


@functools.lru_cache(maxsize=8192)
def visitor_id(key: bytes, tenant: str, ip: str, user_agent: str) -> str:
    """First 45 hex characters of HMAC-SHA256(key, tenant|ip|user agent)."""
    message = f"{tenant}|{ip}|{user_agent}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:VISITOR_ID_LENGTH]


@functools.lru_cache(maxsize=4096)  # the returned PageUrl is shared: never mutate it
def parse_page_url(url: str | None) -> PageUrl:
    """The host, path and UTM parameters of a page URL (anything unparsable: none)."""
    if not url:
        return PageUrl(host=None, page=None, utm={})
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=False, max_num_fields=64)
    except ValueError:
        return PageUrl(host=None, page=None, utm={})
    utm = {
        name: values[0][:256]
        for name in UTM_FIELDS
        if (values := query.get(name)) and "\x00" not in values[0]  # %00 decodes to NUL
    }
    return PageUrl(
        host=(parts.hostname or None),
        page=(parts.path or "/") if parts.scheme or parts.netloc else (parts.path or None),
        utm=utm,
    )


@functools.lru_cache(maxsize=4096)
def referrer_host(referrer: str | None) -> str | None:
    if not referrer:
        return None
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    return host or None


def known_source(host: str | None) -> str | None:
    """The source name of a referrer host, if it is a known search engine or social site."""
    if not host:
        return None
    host = host.lower().removeprefix("www.")
    if host in _HOST_ALIASES:
        return _HOST_ALIASES[host]
    labels = host.split(".")
    for name in (*SEARCH_ENGINES, *SOCIAL_SITES):
        if name in labels:
            return name
    return None


def derive_source(
    *, utm_source: str | None, referrer_host: str | None, own_host: str | None
) -> str | None:
    """utm_source, else the known name of the referrer's host (not the store's own)."""
    if utm_source:
        return utm_source
    if referrer_host is None or _same_site(referrer_host, own_host):
        return None
    return known_source(referrer_host)


def derive_channel(
    *,
    utm_medium: str | None,
    source: str | None,
    referrer_host: str | None,
    own_host: str | None,
) -> str:
    medium = (utm_medium or "").lower()
    if medium in PAID_MEDIUMS:
        return Channel.PAID
    if medium in EMAIL_MEDIUMS:
        return Channel.EMAIL
    name = (source or "").lower()
    if name in SEARCH_ENGINES:
        return Channel.ORGANIC_SEARCH
    if name in SOCIAL_SITES:
        return Channel.SOCIAL
    if referrer_host is not None and not _same_site(referrer_host, own_host):
        return Channel.REFERRAL
    return Channel.DIRECT


def _same_site(host: str, own_host: str | None) -> bool:
    if own_host is None:
        return False
    return host.lower().removeprefix("www.") == own_host.lower().removeprefix("www.")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the HTTP layer knows of the caller; the raw IP never leaves ingest."""

    client_ip: str | None = None
    user_agent: str | None = None
    referer: str | None = None  # the Referer header
    origin: str | None = None  # the Origin header: a browser page's origin
    trusted: bool = False  # a token whose claims allow ingestion: never a bot


def event_context(
    *,
    facts: RequestFacts,
    visitor_key: bytes,
    tenant: str,
    url: str | None,
    referrer: str | None,
    source: str | None,
    utm: Mapping[str, str] | None = None,
    known_visitor: str | None = None,
) -> tuple[StoredContext, str | None]:
    """The context fields stored with a tracked event (only those that have a value),
    and its source: the caller's, else one derived from the UTM fields or the referrer.

    Of ``url`` only the path and the UTM parameters are kept (a query string may
    carry anything).
    ``source`` is the caller's (None when it gave none). An import may carry its own
    ``utm`` fields (over those of ``url``) and the visitor its old system knew.
    """
    user_agent = (facts.user_agent or "")[:MAX_USER_AGENT]
    agent = classify_user_agent(user_agent)
    page = parse_page_url(url)
    if utm:
        page = PageUrl(host=page.host, page=page.page, utm={**page.utm, **utm})
    # Bounded before any cache sees it: a Referer header may be 64 KiB.
    referrer = ((referrer if referrer is not None else facts.referer) or "")[:MAX_URL] or None
    from_host = referrer_host(referrer)
    # Without a url (legacy REST clients), the page calling us is the store itself.
    own_host = page.host or referrer_host((facts.origin or "")[:MAX_URL] or None)
    derived = source or derive_source(
        utm_source=page.utm.get("utm_source"), referrer_host=from_host, own_host=own_host
    )
    fields: dict[str, Any] = {
        "visitorId": known_visitor
        or (
            visitor_id(visitor_key, tenant, facts.client_ip, user_agent)
            if facts.client_ip
            else None
        ),
        "userAgent": user_agent or None,
        "browser": agent.browser,
        "os": agent.os,
        "device": agent.device if user_agent else None,
        "country": country_of(facts.client_ip),
        "referrer": referrer,
        "referrerHost": from_host,
        "page": page.page,
        "utmSource": page.utm.get("utm_source"),
        "utmMedium": page.utm.get("utm_medium"),
        "utmCampaign": page.utm.get("utm_campaign"),
        "utmTerm": page.utm.get("utm_term"),
        "utmContent": page.utm.get("utm_content"),
        "channel": derive_channel(
            utm_medium=page.utm.get("utm_medium"),
            source=derived,
            referrer_host=from_host,
            own_host=own_host,
        ),
        "bot": True if agent.bot and not facts.trusted else None,
    }
    stored = {name: value for name, value in fields.items() if value is not None}
    return cast(StoredContext, stored), derived
