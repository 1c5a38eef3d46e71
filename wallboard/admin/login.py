"""The parts of login that hold no account state: password hashing off the event loop, the throttling policy,
and the failure subjects an attempt is counted under (``wallboard.admin.accounts`` explains the throttling).

Failure subjects are ``pair:<sha256([name, client])>``, ``client:<sha256(client)>`` and
``account:<sha256(name)>``: what an attacker types becomes a fixed-size key.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass

from wallboard.admin.tokens import token_digest
from wallboard.core.users import Passwords, Verified

HASHES_IN_FLIGHT = 2


class Hashing:
    """``Passwords`` run in worker threads, at most HASHES_IN_FLIGHT at once (argon2 is CPU and memory bound)."""

    def __init__(self, passwords: Passwords, limit: int = HASHES_IN_FLIGHT) -> None:
        self.passwords = passwords
        self._gate = asyncio.Semaphore(limit)

    async def hash(self, password: str) -> str:
        async with self._gate:
            return await asyncio.to_thread(self.passwords.hash, password)

    async def verify(self, password_hash: str, password: str) -> Verified:
        async with self._gate:
            return await asyncio.to_thread(self.passwords.verify, password_hash, password)

    async def waste_time(self, password: str) -> None:
        async with self._gate:
            await asyncio.to_thread(self.passwords.waste_time, password)


@dataclass(frozen=True)
class LoginPolicy:
    """Sessions and login throttling (see ``wallboard.admin.accounts``; the API's come from ``Settings.login_*``)."""

    session_ttl_s: float = 12 * 3600.0
    max_failures: int = 5  # free failures of one (user name, client) pair
    max_failures_per_ip: int = 20  # free failures of one client over all names
    window_s: float = 300.0  # failures are forgotten this long after the wait of the last one ends
    max_delay_s: float = 300.0  # the longest wait
    alert_failures_per_user: int = 100  # failures of one name from every client that write login.targeted
    first_delay_s: float = 1.0  # the wait after the first failure past the free ones; doubled by each next one


@dataclass(frozen=True)
class Attempt:
    """A login attempt counted up front as a failure: who, from where, and the counts it brought."""

    name: str
    client: str | None
    throttled_as: str
    pair_failures: int
    client_failures: int
    name_failures: int


def throttle_client(client: str | None) -> str:
    """The client as login throttling counts it: an IPv4 address, an IPv6 /64 (one site's LAN), else the text."""
    if not client:
        return "?"
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def login_subjects(name: str, client: str | None) -> tuple[str, str, str]:
    """The failure counters of a login attempt: its (name, client) pair, its client, its name."""
    key = throttle_client(client)
    pair = json.dumps([name.lower(), key], separators=(",", ":"))
    return f"pair:{token_digest(pair)}", f"client:{token_digest(key)}", f"account:{token_digest(name.lower())}"
