"""Which address is the caller's (docs/metrics.md, Context: TRUSTED_PROXIES)."""

from __future__ import annotations

import ipaddress

import pytest

from app.client_ip import client_ip

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def scope(peer: str | None, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": None if peer is None else (peer, 5000), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # An untrusted peer's header is ignored: it could say anything.
        ("203.0.113.9", ("198.51.100.1",), "203.0.113.9"),
        # Behind a trusted proxy: the first untrusted hop from the right.
        ("10.0.0.2", ("198.51.100.1",), "198.51.100.1"),
        ("10.0.0.2", ("6.6.6.6, 198.51.100.1, 10.0.0.7",), "198.51.100.1"),
        ("10.0.0.2", ("6.6.6.6", "198.51.100.1, 10.0.0.7"), "198.51.100.1"),
        ("fd00::2", ("2001:db8::1",), "2001:db8::1"),
        ("10.0.0.2", ("[2001:db8::1]:443",), "2001:db8::1"),
        ("10.0.0.2", ("198.51.100.1:8080",), "198.51.100.1"),
        # Every hop trusted: the farthest one is the caller.
        ("10.0.0.2", ("10.9.9.9, 10.0.0.7",), "10.9.9.9"),
        # A malformed hop: nothing left of it is believed.
        ("10.0.0.2", ("198.51.100.1, garbage, 10.0.0.7",), "10.0.0.7"),
        ("10.0.0.2", (), "10.0.0.2"),
        ("::ffff:10.0.0.2", ("198.51.100.1",), "198.51.100.1"),  # a dual-stack socket
        ("not-an-ip", ("198.51.100.1",), None),
        (None, ("198.51.100.1",), None),
    ],
)
def test_client_ip(peer: str | None, forwarded: tuple[str, ...], expected: str | None) -> None:
    assert client_ip(scope(peer, *forwarded), PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_ip(scope("10.0.0.2", "198.51.100.1"), ()) == "10.0.0.2"
