"""Security: every write endpoint refuses the unauthorised, /ws control messages change nothing, logins are
rate limited, secrets never leak into responses or logs, and a schemathesis run finds no 5xx."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import redis
import schemathesis
import uvicorn
import websockets
from api_stack import PASSWORD, SITE, running_api, save_snapshot
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error

from wallboard.admin.accounts import token_digest
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.config import Settings
from wallboard.core.users import Passwords
from wallboard.store import Store

SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {}, "agents": {}}
CLIENT_LOGGERS = ("httpx", "httpcore")  # the test's own HTTP client, which logs the URLs it asks for
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SESSION_ROUTES = {("POST", "/api/v1/login"), ("POST", "/api/v1/logout")}  # open by design; tested on their own
WAIT_S = 10.0


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


# users of every role, logged in by each test, and a display token for board floor-1
api = functools.partial(running_api, sessions=False, display="floor-1")


def write_endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation that can change something, path parameters filled in.

    Read from the app's OpenAPI document: this FastAPI keeps included routers behind private
    wrappers in ``app.routes``, while every operation it serves appears in the schema.
    """
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method in sorted(m.upper() for m in operations):
            if method in WRITES and (method, path) not in SESSION_ROUTES:
                found.append((method, re.sub(r"\{[^}]+\}", "abcdef123456", path)))
    return found


async def test_every_write_endpoint_refuses_no_token_a_display_token_and_a_viewer(store: Store) -> None:
    """No credential: 401. A display token (header or query) and a viewer session: 403. Nothing is written."""
    async with api(store) as a:
        endpoints = write_endpoints(a.app)
        viewer = await a.login("viewer1")
        display = {"Authorization": f"Bearer {a.display_token}"}
        audit_before = len(await store.accounts.read_audit(1000))
        outcomes = {}
        for method, path in endpoints:
            codes = []
            for headers, params in (({}, {}), (display, {}), ({}, {"token": a.display_token}), (viewer, {})):
                response = await a.http.request(method, path, headers=headers, params=params, json={})
                codes.append(response.status_code)
            outcomes[(method, path)] = codes
        audit_after = len(await store.accounts.read_audit(1000))
    mine = {"POST /api/v1/users", "PATCH /api/v1/users/abcdef123456", "POST /api/v1/tokens", "PUT /api/v1/thresholds"}
    assert mine | {"DELETE /api/v1/tokens/abcdef123456"} <= {f"{m} {p}" for m, p in endpoints}  # and any added later
    assert {endpoint: codes for endpoint, codes in outcomes.items() if codes != [401, 403, 403, 403]} == {}
    assert audit_after == audit_before  # nothing was changed (or audited)


async def test_logout_needs_a_session(store: Store) -> None:
    """Logout without a credential is 401, with a display token 403; any role may end its own session."""
    async with api(store) as a:
        anonymous = await a.http.post("/api/v1/logout")
        display = await a.http.post("/api/v1/logout", headers={"Authorization": f"Bearer {a.display_token}"})
        viewer = await a.http.post("/api/v1/logout", headers=await a.login("viewer1"))
    assert (anonymous.status_code, display.status_code, viewer.status_code) == (401, 403, 204)


async def test_a_session_token_is_refused_in_the_url(store: Store) -> None:
    """?token= takes display tokens only: a session token there is 401 (it would end up in access logs)."""
    async with api(store) as a:
        token = (await a.login("admin1"))["Authorization"].removeprefix("Bearer ")
        response = await a.http.get("/api/v1/snapshot", params={"token": token})
    assert response.status_code == 401


async def test_websocket_control_messages_from_a_display_token_change_nothing(store: Store) -> None:
    """Only resync is honoured; anything else gets an error message and the connection stays open."""
    async with api(store) as a:
        before = (await store.events.stream_length(), await store.client.keys("*"))
        url = a.ws_base + f"/ws?token={a.display_token}"
        async with websockets.connect(url) as ws:
            async with asyncio.timeout(WAIT_S):
                first = json.loads(await ws.recv())
                replies = []
                for message in (
                    {"type": "ack", "alert_id": "a1", "note": "done"},
                    {"type": "set_thresholds", "version": 0, "thresholds": []},
                    {"type": "snooze", "alert_id": "a1", "until": "2030-01-01T00:00:00Z"},
                    "not json",
                ):
                    await ws.send(message if isinstance(message, str) else json.dumps(message))
                    replies.append(json.loads(await ws.recv()))
                await ws.send(json.dumps({"type": "resync"}))
                resync = json.loads(await ws.recv())
        after = (await store.events.stream_length(), await store.client.keys("*"))
    assert first["type"] == "snapshot"
    assert [reply["type"] for reply in replies] == ["error"] * 4
    assert resync["type"] == "snapshot" and resync["seq"] == 1
    assert sorted(after[1]) == sorted(before[1]) and after[0] == before[0]


async def test_websocket_refuses_without_a_credential(store: Store) -> None:
    """A websocket without a token is closed with 4401 after the handshake."""
    async with api(store) as a:
        async with websockets.connect(a.ws_base + "/ws") as ws:
            async with asyncio.timeout(WAIT_S):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_websocket_accepts_the_ops_session_cookie(store: Store) -> None:
    """The supervisor page, signed in with the HttpOnly session cookie, opens /ws with it and gets the snapshot."""
    async with api(store) as a:
        login = await a.http.post("/api/v1/login", json={"name": "supervisor1", "password": PASSWORD, "cookie": True})
        assert login.status_code == 200, login.text
        session = login.cookies.get("wb_session")
        assert session
        url = a.ws_base + "/ws"
        async with websockets.connect(url, additional_headers={"Cookie": f"wb_session={session}"}) as ws:
            async with asyncio.timeout(WAIT_S):
                first = json.loads(await ws.recv())
        async with websockets.connect(url, additional_headers={"Cookie": "wb_session=wbs_forged"}) as ws:
            async with asyncio.timeout(WAIT_S):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
    assert first["type"] == "snapshot" and first["seq"] == 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.parametrize("name", ["ops1", "ghost"])
async def test_login_is_rate_limited_per_name_and_address(store: Store, name: str) -> None:
    """After N failures for a name from one address, known name or not, the next attempt from there waits
    (429 with Retry-After), right password too; another name from the same address does not."""
    async with api(store, login_max_failures=3, login_window_s=60) as a:
        failures = [
            (await a.http.post("/api/v1/login", json={"name": name, "password": f"wrong password {i}"})).status_code
            for i in range(3)
        ]
        throttled = await a.http.post("/api/v1/login", json={"name": name, "password": PASSWORD})
        other = await a.http.post("/api/v1/login", json={"name": "admin1", "password": PASSWORD})
        (blocked,) = [e for _, e in await store.accounts.read_audit(100) if e["action"] == "login.throttled"]
    assert failures == [401, 401, 401]
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"  # the first wait; each further failure doubles it
    assert other.status_code == 200  # another name from the same address is not locked out
    assert blocked["target"] == f"user:{name}"


async def test_concurrent_guesses_cannot_overrun_the_limit(store: Store) -> None:
    """Ten guesses at once for one name: only the first three are checked (401), the others get 429."""
    async with api(store, login_max_failures=3, login_window_s=60) as a:
        guesses = [{"name": "ops1", "password": f"guess number {i}"} for i in range(10)]
        responses = await asyncio.gather(*(a.http.post("/api/v1/login", json=guess) for guess in guesses))
    assert sorted(response.status_code for response in responses) == [401] * 3 + [429] * 7


async def test_login_is_rate_limited_per_address(store: Store) -> None:
    """Failures spread over many names from one address hit the per-address limit."""
    async with api(store, login_max_failures=3, login_max_failures_per_ip=5, login_window_s=60) as a:
        codes = [
            (await a.http.post("/api/v1/login", json={"name": f"user{i}", "password": "wrong password"})).status_code
            for i in range(6)
        ]
        admin = await a.http.post("/api/v1/login", json={"name": "admin1", "password": PASSWORD})
    assert codes == [401] * 5 + [429]
    assert admin.status_code == 429


async def test_secrets_never_appear_in_responses_or_logs(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """Over login, user and token creation, use and listing: no password, hash, session or display token
    appears in a response (but the one that hands it out) or in any log line; the audit stream holds none."""
    caplog.set_level(logging.DEBUG)
    new_password = "a brand new passphrase"
    async with api(store) as a:
        login = await a.http.post("/api/v1/login", json={"name": "admin1", "password": PASSWORD, "cookie": False})
        session = login.json()["token"]
        admin = {"Authorization": f"Bearer {session}"}
        created = await a.http.post(
            "/api/v1/users", json={"name": "erin", "role": "ops", "password": new_password}, headers=admin
        )
        token = (await a.http.post("/api/v1/tokens", json={"board": "b2"}, headers=admin)).json()["token"]
        shown = [
            created,
            await a.http.get("/api/v1/users", headers=admin),
            await a.http.patch("/api/v1/users/erin", json={"password": new_password + "!"}, headers=admin),
            await a.http.get("/api/v1/tokens", headers=admin),
            await a.http.get("/api/v1/snapshot", params={"token": token}),
            await a.http.post("/api/v1/login", json={"name": "erin", "password": "wrong password"}),
            await a.http.get("/api/v1/me", headers=admin),
            await a.http.get("/api/v1/audit", params={"count": 1000}, headers=admin),
            await a.http.post("/api/v1/logout", headers=admin),
        ]
        audit = json.dumps(await store.accounts.read_audit(1000))
        hashes = [info["password_hash"] for info in (await store.accounts.list_users()).values()]
    secrets = [PASSWORD, new_password, session, token, a.display_token, *hashes]
    server_logs = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith(CLIENT_LOGGERS)
    )
    texts = {"logs": server_logs, "audit": audit, **{f"{r.request.method} {r.request.url.path}": r.text for r in shown}}
    assert {
        where: [s for s in secrets if s in text] for where, text in texts.items() if any(s in text for s in secrets)
    } == {}
    assert {where for where, text in texts.items() if "$argon2" in text} == set()
    assert "GET /api/v1/snapshot?token=*** HTTP/1.1" in server_logs  # the access log line, redacted
    assert all(response.status_code < 500 for response in shown)


# -- schemathesis: fuzz every operation of the OpenAPI schema as every role and credential; never a 5xx -------


@pytest.fixture(scope="module")
def live_api(redis_server: Any) -> Iterator[str]:
    """A real uvicorn (in a thread, with its own event loop) on port 0 in front of the module's Redis."""
    settings = Settings(
        site=SITE,
        redis_url=redis_server.url,
        login_max_failures=10**6,
        login_max_failures_per_ip=10**6,
        ready_snapshot_max_age_s=1e10,  # the fuzzed /readyz judges Redis, not this fixed snapshot's age
    )
    with redis.Redis.from_url(redis_server.url) as client:
        client.set(f"wb:{{{SITE}}}:snapshot", json.dumps(SNAPSHOT))
    app = create_app(settings, passwords=Passwords.cheap())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on", access_log=False)
    ready, box = threading.Event(), {}

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        box["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
        async with serving(config) as base:
            box["base"] = base
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="live-api")
    thread.start()
    assert ready.wait(WAIT_S), "the API did not start"
    try:
        yield box["base"]
    finally:
        box["stop"]()
        thread.join(WAIT_S)


CREDENTIALS = ["admin", "ops", "supervisor", "planner", "viewer", "display-any", "display-floor-1", "none"]


@pytest.fixture
def credentials(live_api: str, redis_server: Any) -> dict[str, dict[str, str]]:
    """The headers of each credential of ``CREDENTIALS``, made afresh for each test (other tests flush Redis)."""
    return {credential: _credential_headers(credential, live_api, redis_server.url) for credential in CREDENTIALS}


def _credential_headers(credential: str, live_api: str, redis_url: str) -> dict[str, str]:
    """A user of that role seeded directly in Redis (the fuzzer may change it) and logged in, a display token
    (any board, or bound to floor-1) written the way the CLI writes it, or nothing."""
    if credential == "none":
        return {}
    with redis.Redis.from_url(redis_url) as client:
        if credential.startswith("display"):
            token = f"fuzz-{credential}-token-0123456789abcdef"
            board = None if credential == "display-any" else "floor-1"
            info = {"role": "display", "board": board, "created": "2024-01-01T00:00:00+00:00", "label": "fuzz"}
            client.hset(f"wb:{{{SITE}}}:tokens", token_digest(token), json.dumps(info))
            return {"Authorization": f"Bearer {token}"}
        passwords = Passwords.cheap()
        record = {"role": credential, "password_hash": passwords.hash(PASSWORD), "created": "2024-01-01T00:00:00+00:00"}
        client.hset(f"wb:{{{SITE}}}:users", f"fuzz-{credential}", json.dumps({**record, "disabled": False}))
    response = httpx.post(
        f"{live_api}/api/v1/login", json={"name": f"fuzz-{credential}", "password": PASSWORD}, timeout=WAIT_S
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def api_schema(live_api: str, request: pytest.FixtureRequest) -> Any:
    # schemathesis 4.32's lazy loader renames the test node through ``node._nodeid``, which pytest 9 no
    # longer has: give it one (it only shapes the report's test names).
    request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_url(f"{live_api}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/api/v1/logout")  # keep the session


@schema.parametrize()
@hypothesis.settings(
    max_examples=20, deadline=None, suppress_health_check=list(hypothesis.HealthCheck), derandomize=True
)
def test_schemathesis_finds_no_server_error(case: Any, credentials: dict[str, dict[str, str]]) -> None:
    """Whatever the schema allows (and some it does not), no role, display token or anonymous caller gets a 5xx:
    each generated request is sent once per credential."""
    for headers in credentials.values():
        case.call_and_validate(headers=headers, checks=[not_a_server_error])
