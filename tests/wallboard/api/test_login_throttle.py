"""Login throttling through the API served as production serves it (``uvicorn_config``), from several real
loopback addresses: waits per (name, client) pair and per client that grow and never lock a user out, the
client address taken from X-Forwarded-For only through a trusted proxy, failures audited and counted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from api_stack import PASSWORD
from starlette.requests import Request
from waiting import poll_until

from wallboard.admin.accounts import Accounts, Hashing, UserExistsError
from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.api.clients import client_address
from wallboard.config import Settings
from wallboard.core.users import Passwords, Role
from wallboard.store import Store

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 10.0
LOCAL, PEER_A, PEER_B = "127.0.0.1", "127.0.0.2", "127.0.0.3"  # uvicorn trusts 127.0.0.1 by default: not us


@contextlib.asynccontextmanager
async def serve(store: Store, **values: Any) -> AsyncIterator[str]:
    """The API for ``store``'s site on 127.0.0.1:0 with ``uvicorn_config``, user ``admin`` there; its base URL."""
    settings = Settings(_env={}, site=store.site, **values)
    passwords = Passwords.cheap()
    with contextlib.suppress(UserExistsError):  # a test's second server
        await Accounts(store.accounts, Hashing(passwords)).add_user("admin", Role.ADMIN, PASSWORD, actor="test")
    app = create_app(settings, store=store, passwords=passwords)
    async with serving(uvicorn_config(app, settings, host=LOCAL, port=0)) as base:
        yield base


@contextlib.asynccontextmanager
async def client_from(base: str, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose connections come from ``address`` (any 127.0.0.0/8 address is this machine)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=WAIT_S) as http:
        yield http


async def login(http: httpx.AsyncClient, name: str, password: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return await http.post("/api/v1/login", json={"name": name, "password": password}, headers=headers)


async def checked_attempt(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    """The answer to the first attempt that is not throttled (429), tried again until the wait is over."""
    answers: list[httpx.Response] = []

    async def checked() -> bool:
        answers.append(await login(http, name, password))
        return answers[-1].status_code != 429

    await poll_until(checked, f"a login attempt for {name} that is not throttled", WAIT_S)
    return answers[-1]


async def audited(store: Store, action: str) -> list[tuple[str, dict[str, Any]]]:
    """(target, new) of the audit entries of ``action``, oldest first."""
    entries = await store.accounts.read_audit(1000)
    return [
        (fields["target"], json.loads(fields["new"])) for _, fields in reversed(entries) if fields["action"] == action
    ]


async def test_an_attacker_failing_for_admin_does_not_keep_admin_out_from_another_address(store: Store) -> None:
    """Fifty guesses for admin from one address: five are checked, the rest wait (429, Retry-After: 1), the
    right password from that address waits too; admin logs in from another address at once."""
    async with serve(store) as base, client_from(base, PEER_A) as attacker, client_from(base, PEER_B) as owner:
        checked = [(await login(attacker, "admin", f"guess number {i}")).status_code for i in range(5)]
        throttled = await asyncio.gather(*(login(attacker, "admin", f"guess number {i}") for i in range(5, 50)))
        theirs = await login(attacker, "admin", PASSWORD)
        mine = await login(owner, "admin", PASSWORD)
    assert mine.status_code == 200, mine.text
    assert checked == [401] * 5
    assert {(response.status_code, response.headers.get("retry-after")) for response in throttled} == {(429, "1")}
    assert theirs.status_code == 429


async def test_the_failing_pair_waits_twice_as_long_after_each_failure(store: Store) -> None:
    """Past the free failures, each checked failure of one (name, address) pair doubles its wait: 1, 2, 4 s."""
    async with serve(store, login_max_failures=1) as base, client_from(base, PEER_A) as attacker:
        first = await login(attacker, "admin", "guess number 0")
        waits = []
        for i in range(1, 3):
            waits.append((await login(attacker, "admin", PASSWORD)).headers.get("retry-after"))
            assert (await checked_attempt(attacker, "admin", f"guess number {i}")).status_code == 401
        last = await login(attacker, "admin", PASSWORD)
    assert first.status_code == 401 and last.status_code == 429
    assert [*waits, last.headers.get("retry-after")] == ["1", "2", "4"]


async def test_an_address_failing_over_many_names_waits_whatever_x_forwarded_for_says(store: Store) -> None:
    """Failures spread over names from one address use up its free ones; a new X-Forwarded-For on each request
    changes nothing (no proxy is trusted, loopback included); another address is not slowed."""
    async with (
        serve(store, login_max_failures_per_ip=5) as base,
        client_from(base, LOCAL) as sprayer,
        client_from(base, PEER_B) as owner,
    ):
        codes = [(await login(sprayer, f"user{i}", "a wrong password", f"203.0.113.{i}")).status_code for i in range(5)]
        sixth = await login(sprayer, "user5", "a wrong password", "203.0.113.99")
        admin_there = await login(sprayer, "admin", PASSWORD, "198.51.100.1")
        admin_elsewhere = await login(owner, "admin", PASSWORD)
        throttled = await audited(store, "login.throttled")
    assert codes == [401] * 5
    assert (sixth.status_code, sixth.headers.get("retry-after")) == (429, "1")
    assert admin_there.status_code == 429
    assert admin_elsewhere.status_code == 200
    assert throttled == [(f"client:{LOCAL}", {"failures": 5, "client": LOCAL})]


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(store: Store) -> None:
    """Through a trusted proxy the client is the rightmost X-Forwarded-For hop that is not a trusted proxy (what
    the audit records, and what throttling counts); from any other peer, loopback included, it is the peer."""
    chain = "198.51.100.1, 203.0.113.7, 10.1.2.3"  # forged by the client, then added by two proxies
    async with (
        serve(store, trusted_proxies=f"{PEER_A}, 10.0.0.0/8", login_max_failures=2) as base,
        client_from(base, PEER_A) as proxy,
        client_from(base, LOCAL) as direct,
    ):
        for http, forwarded in ((proxy, chain), (direct, chain), (proxy, None)):
            assert (await login(http, "admin", PASSWORD, forwarded)).status_code == 200
        logins = [new["client"] for _, new in await audited(store, "session.login")]
        failing = [(await login(proxy, "admin", "a wrong password", "203.0.113.8")).status_code for _ in range(3)]
        others = await login(proxy, "admin", PASSWORD, "203.0.113.9")
    assert logins == ["203.0.113.7", LOCAL, PEER_A]
    assert failing == [401, 401, 429]  # one client behind the proxy waits...
    assert others.status_code == 200  # ...another one behind the same proxy does not


async def test_metrics_open_to_loopback_judge_the_client_not_a_forwarded_header(store: Store) -> None:
    """/metrics is open to a loopback client: X-Forwarded-For from an untrusted loopback peer changes nothing, and
    through a trusted loopback proxy a forwarded outside client needs a credential."""
    outsider = {"X-Forwarded-For": "198.51.100.7"}
    async with serve(store) as base, client_from(base, LOCAL) as local:
        untrusted = await local.get("/metrics", headers=outsider)
    async with serve(store, trusted_proxies=LOCAL) as base, client_from(base, LOCAL) as proxy:
        forwarded = await proxy.get("/metrics", headers=outsider)
        own = await proxy.get("/metrics")
    assert (untrusted.status_code, forwarded.status_code, own.status_code) == (200, 401, 200)


async def test_failures_are_audited_once_per_burst_and_counted_in_prometheus(store: Store) -> None:
    """The failure that uses up a pair's free ones writes one login.throttled entry; failures of one name from
    every client reaching the alert level write one login.targeted entry and slow no one; Prometheus counts
    every failure by reason."""
    policy = {"login_max_failures": 3, "login_alert_failures_per_user": 4}
    async with (
        serve(store, **policy) as base,
        client_from(base, PEER_A) as attacker,
        client_from(base, PEER_B) as owner,
        client_from(base, LOCAL) as prometheus,
    ):
        codes = [(await login(attacker, "admin", f"guess number {i}")).status_code for i in range(5)]
        typo = await login(owner, "admin", "a typo in it")
        right = await login(owner, "admin", PASSWORD)
        text = (await prometheus.get("/metrics")).text
        throttled, targeted = await audited(store, "login.throttled"), await audited(store, "login.targeted")
    assert codes == [401, 401, 401, 429, 429]
    assert (typo.status_code, right.status_code) == (401, 200)
    assert throttled == [("user:admin", {"failures": 3, "client": PEER_A})]
    assert targeted == [("user:admin", {"failures": 4, "client": PEER_B, "window_s": 300.0})]
    assert 'wallboard_login_failures_total{site="paris",reason="bad_password"} 4.0' in text
    assert 'wallboard_login_failures_total{site="paris",reason="throttled"} 2.0' in text


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", "203.0.113.7", "127.0.0.1"),  # loopback is not a trusted proxy unless named
        ("10.0.0.2", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the rightmost untrusted hop
        ("10.0.0.2", "203.0.113.7:4431, 10.0.0.3", "203.0.113.7"),  # trusted hops skipped, a port dropped
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:10.0.0.2", "203.0.113.7", "203.0.113.7"),  # an IPv4-mapped peer is its IPv4 address
        ("10.0.0.2", "10.0.0.9, 10.0.0.3", "10.0.0.9"),  # every hop trusted: the leftmost
        ("10.0.0.2", "unknown", "unknown"),  # what the proxy wrote, though not an address
        ("10.0.0.2", None, "10.0.0.2"),  # no header: the proxy itself
    ],
)
def test_the_client_is_the_rightmost_hop_not_a_trusted_proxy(peer: str, forwarded: str | None, client: str) -> None:
    """client_address reads X-Forwarded-For from a trusted peer only, right to left, past trusted hops."""
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    request = Request({"type": "http", "client": (peer, 50000), "headers": headers})
    assert client_address(request, (ip_network("10.0.0.0/8"),)) == client


def test_the_compose_api_trusts_exactly_its_proxy_which_forwards_the_client() -> None:
    """docker-compose.yml: the API trusts the proxy's fixed address (inside the network's subnet), and nginx
    sends X-Forwarded-For (appended) and X-Forwarded-Proto on every location it proxies."""
    defaults = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", (ROOT / "docker-compose.yml").read_text())
    compose = yaml.safe_load(re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", r"<\1>", defaults))
    proxy_ip = ip_address(compose["services"]["proxy"]["networks"]["default"]["ipv4_address"])
    subnet = ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    trusted = compose["services"]["api"]["environment"]["WALLBOARD_TRUSTED_PROXIES"]
    assert Settings(_env={"WALLBOARD_TRUSTED_PROXIES": trusted}).trusted_proxies == (ip_network(proxy_ip),)
    assert proxy_ip in subnet
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    locations = re.findall(r"location [^{]*\{([^}]*)\}", nginx)
    proxied = [body for body in locations if "proxy_pass" in body]
    assert len(proxied) == 2
    for body in proxied:
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in body
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in body
