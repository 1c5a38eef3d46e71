"""Who is at the other end: the client address (and scheme) of a request, honouring only trusted proxies.

Theory of operation
-------------------
The TCP peer is the client, unless the peer is one of ``settings.trusted_proxies`` (IP addresses or
networks; none by default, loopback included). Only then is ``X-Forwarded-For`` read, and read from
the right: each proxy appends the address it received the request from, so the rightmost hop that
is not itself a trusted proxy is the first address no one we trust could have made up. Anything to
its left was written by the client and is ignored. When every hop is trusted, the leftmost is the
client. The same rule gives the scheme (``X-Forwarded-Proto``, for the Secure flag of cookies) and the host the
client asked for (``X-Forwarded-Host``, for the TV URLs of new display tokens when ``WALLBOARD_PUBLIC_URL`` is
not set).

Every user of the client address (login throttling and its audit entries, the loopback check of
``/metrics``) calls ``client_address``; nothing else reads the forwarding headers. The server must
not rewrite the peer itself: ``wallboard.api.app.uvicorn_config`` turns uvicorn's own proxy
handling off (it trusts ``X-Forwarded-For`` from loopback peers by default).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from starlette.requests import HTTPConnection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = "x-forwarded-for"
FORWARDED_PROTO = "x-forwarded-proto"
FORWARDED_HOST = "x-forwarded-host"
HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
MAX_HOP_CHARS = 64  # what is kept of a hop that is not an address (it names the client in logs and keys)
SCHEMES = frozenset({"http", "https"})

__all__ = ["client_address", "client_base_url", "client_scheme", "parse_address"]


def parse_address(text: str) -> IPAddress | None:
    """The IP address in ``text`` (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, IPv4-mapped IPv6 as IPv4); else None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress | None, proxies: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(connection: HTTPConnection, proxies: Sequence[IPNetwork]) -> str | None:
    """The client of a request or websocket: the TCP peer, or through trusted ``proxies`` the rightmost
    untrusted ``X-Forwarded-For`` hop (see the module docstring); None when the server knows no peer."""
    peer = connection.client.host if connection.client else None
    if peer is None or not _trusted(parse_address(peer), proxies):
        return peer
    hops = [hop.strip() for value in connection.headers.getlist(FORWARDED_FOR) for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        address = parse_address(hop)
        if not _trusted(address, proxies):
            return str(address) if address is not None else hop[:MAX_HOP_CHARS]
    return str(parse_address(hops[0])) if hops else peer


def client_scheme(connection: HTTPConnection, proxies: Sequence[IPNetwork]) -> str:
    """``http`` or ``https`` as the client used it: the trusted proxy's ``X-Forwarded-Proto``, else the server's own."""
    peer = connection.client.host if connection.client else None
    forwarded = connection.headers.get(FORWARDED_PROTO, "").rpartition(",")[2].strip().lower()
    if peer is not None and forwarded in SCHEMES and _trusted(parse_address(peer), proxies):
        return forwarded
    return "https" if connection.url.scheme in ("https", "wss") else "http"


def client_base_url(connection: HTTPConnection, proxies: Sequence[IPNetwork]) -> str:
    """The base URL the client used (``scheme://host[:port]/root/``): through a trusted proxy its
    ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` (the rightmost; one that is not a host[:port] is ignored),
    else the request's own."""
    base = connection.base_url
    peer = connection.client.host if connection.client else None
    host = base.netloc
    if peer is not None and _trusted(parse_address(peer), proxies):
        forwarded = connection.headers.get(FORWARDED_HOST, "").rpartition(",")[2].strip()
        host = forwarded if HOST.match(forwarded) else host
    return str(base.replace(scheme=client_scheme(connection, proxies), netloc=host))
