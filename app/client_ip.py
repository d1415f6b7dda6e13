"""The caller's IP address: the socket peer, or, behind a trusted proxy, the first hop of
``X-Forwarded-For`` (read from the right) that is not itself a trusted proxy.

Reading from the right matters: the left end is whatever the client wrote; only the
entries appended by proxies we trust can be believed. The address feeds the visitor
hash and the country, and is never stored or logged.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

from core.settings import IPNetwork

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_HOPS = 32


@functools.lru_cache(maxsize=4096)  # a pure function of its text; addresses are immutable
def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def _trusted(address: Address, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_ip(scope: Scope, proxies: Sequence[IPNetwork]) -> str | None:
    client = scope.get("client")
    peer = _address(client[0]) if client else None
    if peer is None or not _trusted(peer, proxies):
        return None if peer is None else str(peer)
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(value.decode("latin-1").split(","))
    nearest: Address = peer
    for hop in reversed(hops[-MAX_HOPS:]):
        address = _address(hop)
        if address is None:
            break  # a malformed entry: trust nothing left of it
        nearest = address
        if not _trusted(address, proxies):
            break
    return str(nearest)
