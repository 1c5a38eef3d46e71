"""Display tokens: hashing, where a token is read from, REST 401 / ws 4401, /metrics access, no token in logs."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from typing import Any

import httpx
import pytest
import websockets
from api_stack import running_api, save_snapshot
from pydantic import SecretStr
from waiting import poll_until
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from wallboard.admin.accounts import create_display_token
from wallboard.api import create_app
from wallboard.api.auth import (
    GRANT_TTL_S,
    LOOKUPS_IN_FLIGHT,
    Authenticator,
    fingerprint,
    is_loopback,
    presented_token,
    redact,
    token_digest,
)
from wallboard.config import Settings
from wallboard.store import Store

WAIT_S = 10.0
STATIC = "static-token-from-the-environment"
SNAPSHOT = {"site": "paris", "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {}, "agents": {}}


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


def settings(**values: Any) -> Settings:
    return Settings(site="paris", display_tokens=(SecretStr(STATIC),), **values)


# auth on, no users; SNAPSHOT is stamped 2024-01-01: readiness's freshness check is told to accept it
api = functools.partial(running_api, users=False, display_tokens=(SecretStr(STATIC),), ready_snapshot_max_age_s=1e10)


async def recv(ws: ClientConnection) -> str | bytes:
    async with asyncio.timeout(WAIT_S):
        return await ws.recv()


def test_token_digest_is_sha256_hex() -> None:
    """Tokens are stored under their sha256 hex digest; logs may show its first 8 digits."""
    assert token_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert fingerprint("abc") == hashlib.sha256(b"abc").hexdigest()[:8]


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer tok1"}, {}, "tok1"),
        ({"authorization": "bearer  tok2 "}, {"token": "ignored"}, "tok2"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, {"token": "tok3"}, "tok3"),
        ({}, {"token": "tok4"}, "tok4"),
        ({"authorization": "Bearer "}, {}, None),
        ({}, {"token": ""}, None),
    ],
)
def test_presented_token_prefers_the_bearer_header(
    headers: dict[str, str], query: dict[str, str], expected: str | None
) -> None:
    """The token comes from Authorization: Bearer, else ?token=; empty values count as no token."""
    assert presented_token(headers, query) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True)]
    + [("10.0.0.1", False), ("::ffff:10.0.0.1", False), ("localhost", False), (None, False)],
)
def test_loopback_detection(host: str | None, expected: bool) -> None:
    """Only literal loopback addresses count (names are not resolved)."""
    assert is_loopback(host) is expected


async def test_create_display_token_stores_only_its_hash(store: Store) -> None:
    """The new token is 43 url-safe characters; Redis holds its digest with the metadata, never the token."""
    token = await create_display_token(store.accounts, board="floor-2", label="lobby TV")
    assert len(token) == 43
    stored = await store.accounts.list_tokens()
    assert list(stored) == [token_digest(token)]
    assert stored[token_digest(token)]["board"] == "floor-2" and stored[token_digest(token)]["label"] == "lobby TV"
    raw = await store.client.hgetall(store.keys.tokens)
    assert not [item for pair in raw.items() for item in pair if token in str(item)]


async def test_authenticator_accepts_settings_and_redis_tokens(store: Store) -> None:
    """A settings token and a stored token are granted; an unknown one and no token are not."""
    auth = Authenticator(settings())
    stored = await create_display_token(store.accounts, board="wall")
    assert (await auth.check(STATIC, [store.accounts])) is not None
    grant = await auth.check(stored, [store.accounts])
    assert grant is not None and grant.board == "wall" and grant.source == "redis"
    assert await auth.check("not-a-token", [store.accounts]) is None
    assert await auth.check(None, [store.accounts]) is None


async def test_authenticator_open_when_auth_disabled(store: Store) -> None:
    """With auth_enabled=False every request is granted."""
    grant = await Authenticator(settings(auth_enabled=False)).check(None, [store.accounts])
    assert grant is not None and grant.source == "open"


class SlowStore:
    """A token store whose lookups wait until released; counts lookups and the most in flight at once."""

    def __init__(self, tokens: dict[str, dict[str, Any]]) -> None:
        self.tokens = tokens
        self.release = asyncio.Event()
        self.lookups = self.in_flight = self.most_in_flight = 0
        self.fail: Exception | None = None

    async def get_token(self, token_hash: str) -> dict[str, Any] | None:
        self.lookups += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            if self.fail is not None:
                raise self.fail
            return self.tokens.get(token_hash)
        finally:
            self.in_flight -= 1

    async def add_token(self, token_hash: str, info: Any) -> None:
        self.tokens[token_hash] = dict(info)


async def until_waiting(store: SlowStore, lookups: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while store.in_flight < lookups:
            await asyncio.sleep(0)


async def test_concurrent_checks_of_one_token_share_one_lookup() -> None:
    """A thousand TVs presenting the same token at once cost the store one lookup, and all are granted."""
    store = SlowStore({token_digest("tv-token"): {"role": "display", "board": "wall"}})
    auth = Authenticator(settings())
    checks = [asyncio.ensure_future(auth.check("tv-token", [store])) for _ in range(1000)]
    await until_waiting(store, 1)
    store.release.set()
    grants = await asyncio.gather(*checks)
    assert store.lookups == 1
    assert {(grant.board if grant else None) for grant in grants} == {"wall"}


async def test_lookups_in_flight_are_bounded() -> None:
    """Checks of many different tokens at once wait their turn: at most LOOKUPS_IN_FLIGHT reach the store."""
    store = SlowStore({})
    auth = Authenticator(settings())
    checks = [asyncio.ensure_future(auth.check(f"guess-{n}", [store])) for n in range(3 * LOOKUPS_IN_FLIGHT)]
    await until_waiting(store, LOOKUPS_IN_FLIGHT)
    for _ in range(10):
        await asyncio.sleep(0)  # give any lookup past the bound a chance to start (none may)
    assert store.in_flight == LOOKUPS_IN_FLIGHT
    store.release.set()
    assert await asyncio.gather(*checks) == [None] * (3 * LOOKUPS_IN_FLIGHT)
    assert (store.lookups, store.most_in_flight) == (3 * LOOKUPS_IN_FLIGHT, LOOKUPS_IN_FLIGHT)


async def test_a_found_token_is_remembered_for_its_ttl_and_unknown_ones_never() -> None:
    """A grant is reused within GRANT_TTL_S and looked up again after it (a revocation shows); an unknown
    token is looked up every time, so one created after a refused check works at once."""
    now = [100.0]
    store = SlowStore({token_digest("known"): {"role": "display"}})
    store.release.set()
    auth = Authenticator(settings(), clock=lambda: now[0])
    assert await auth.check("known", [store]) is not None
    now[0] += GRANT_TTL_S - 0.1
    assert await auth.check("known", [store]) is not None
    assert store.lookups == 1
    del store.tokens[token_digest("known")]  # revoked
    now[0] += 0.2
    assert await auth.check("known", [store]) is None
    assert await auth.check("later", [store]) is None
    store.tokens[token_digest("later")] = {"role": "display"}  # created after the refusal
    assert await auth.check("later", [store]) is not None
    assert store.lookups == 4


async def test_a_failed_lookup_reaches_every_waiter_and_is_not_remembered() -> None:
    """A store error is raised to each check that waited on the lookup; the next check asks again."""
    store = SlowStore({token_digest("tv-token"): {"role": "display"}})
    store.fail = ConnectionError("Redis unreachable")
    auth = Authenticator(settings())
    checks = [asyncio.ensure_future(auth.check("tv-token", [store])) for _ in range(3)]
    await until_waiting(store, 1)
    store.release.set()
    results = await asyncio.gather(*checks, return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError] * 3
    store.fail = None
    assert await auth.check("tv-token", [store]) is not None
    assert store.lookups == 2


async def test_metrics_access_rule(store: Store) -> None:
    """/metrics: loopback is open; a remote client needs a token unless metrics_public."""
    closed, public = Authenticator(settings()), Authenticator(settings(metrics_public=True))
    assert await closed.allow_metrics("127.0.0.1", None, [store.accounts])
    assert not await closed.allow_metrics("198.51.100.7", None, [store.accounts])
    assert await closed.allow_metrics("198.51.100.7", STATIC, [store.accounts])
    assert await public.allow_metrics("198.51.100.7", None, [store.accounts])


async def test_rest_without_or_with_a_bad_token_is_401_json(store: Store) -> None:
    """No token and a wrong token get 401 with a JSON body and a Bearer challenge; /healthz stays open."""
    async with api(store) as a:
        missing = await a.http.get("/api/v1/snapshot")
        wrong = await a.http.get("/api/v1/snapshot", headers={"Authorization": "Bearer wrong"})
        health = await a.http.get("/healthz")
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json() == {"detail": "missing or unknown credentials"}
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert health.status_code == 200


async def test_rest_with_a_token_in_header_or_query(store: Store) -> None:
    """A stored token works as a Bearer header and as ?token=; a settings token works too."""
    token = await create_display_token(store.accounts)
    async with api(store) as a:
        await _wait_ready(a.http)
        by_header = await a.http.get("/api/v1/snapshot", headers={"Authorization": f"Bearer {token}"})
        by_query = await a.http.get("/api/v1/queues", params={"token": token})
        by_settings = await a.http.get("/api/v1/agents", params={"token": STATIC})
    assert [r.status_code for r in (by_header, by_query, by_settings)] == [200, 200, 200]


async def _wait_ready(http: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        return (await http.get("/readyz")).status_code == 200

    await poll_until(ready, "/readyz to answer 200", WAIT_S)


async def test_websocket_with_a_bad_token_closes_4401(store: Store) -> None:
    """/ws without a valid token is accepted then closed with 4401; with ?token= it gets the snapshot."""
    token = await create_display_token(store.accounts)
    async with api(store) as a:
        url = a.ws_base + "/ws"
        for bad in (url, f"{url}?token=wrong"):
            async with websockets.connect(bad, proxy=None, open_timeout=WAIT_S) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await recv(ws)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        async with websockets.connect(f"{url}?token={token}", proxy=None, open_timeout=WAIT_S) as ws:
            assert json.loads(await recv(ws))["type"] == "snapshot"


async def test_websocket_accepts_a_bearer_header(store: Store) -> None:
    """A client that can set headers may send Authorization: Bearer on the upgrade request."""
    async with api(store) as a:
        url = a.ws_base + "/ws"
        headers = {"Authorization": f"Bearer {STATIC}"}
        async with websockets.connect(url, proxy=None, open_timeout=WAIT_S, additional_headers=headers) as ws:
            assert json.loads(await recv(ws))["type"] == "snapshot"


async def test_metrics_from_a_remote_address_needs_a_token(store: Store) -> None:
    """Seen from a non-loopback client address, /metrics is 401 without a token and 200 with one."""
    app = create_app(settings(), store=store)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://wallboard") as http,
    ):
        denied = await http.get("/metrics")
        allowed = await http.get("/metrics", headers={"Authorization": f"Bearer {STATIC}"})
    assert (denied.status_code, allowed.status_code) == (401, 200)


def test_redact_masks_token_query_values() -> None:
    """Every token= value in a logged path is masked; other parameters are kept."""
    assert (
        redact('1.2.3.4 - "GET /ws?site=a&token=s3cr3t&x=1 HTTP/1.1"')
        == '1.2.3.4 - "GET /ws?site=a&token=***&x=1 HTTP/1.1"'
    )
    assert redact("/api/v1/snapshot?TOKEN=abc") == "/api/v1/snapshot?TOKEN=***"
    assert redact("no secrets here") == "no secrets here"


async def test_tokens_never_reach_the_logs(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """Creating and presenting tokens (REST and /ws, query and header) logs at most a digest prefix."""
    caplog.set_level(logging.DEBUG)
    token = await create_display_token(store.accounts, label="tv")
    wrong = "wrong-token-value-0123456789"
    async with api(store) as a:
        await a.http.get("/api/v1/snapshot", params={"token": wrong})
        await a.http.get("/api/v1/snapshot", headers={"Authorization": f"Bearer {token}"})
        url = a.ws_base + f"/ws?token={token}"
        async with websockets.connect(url, proxy=None, open_timeout=WAIT_S) as ws:
            await recv(ws)
    client_side = ("websockets.client", "httpx", "httpcore")  # the test's own clients log what they send
    server_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(client_side))
    assert "WebSocket /ws?token=***" in server_log  # uvicorn's accept line, masked
    assert fingerprint(token) in server_log and fingerprint(wrong) in server_log
    assert token not in server_log and wrong not in server_log
