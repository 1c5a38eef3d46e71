"""Access ends when it is revoked: open websockets are closed within 5 s, on every API process (real servers, Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from api_process import api_process
from api_stack import running_api
from waiting import poll_until
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws
from websockets.exceptions import ConnectionClosed

from wallboard.core.users import Role
from wallboard.store import Store

WAIT_S = 10.0
REVOKED_WITHIN_S = 5.0
SNAPSHOT = {
    "site": "paris",
    "ts": "2026-03-02T09:00:00+00:00",
    "queues": {"sales": {"name": "sales", "group": None, "waiting": 1}},
    "agents": {},
    "teams": {},
    "alerts": [],
    "seq": 1,
    "stream_id": "1-0",
}


@pytest.fixture
async def snapshot(store: Store) -> Store:
    """The site holds a snapshot, so a websocket gets one first."""
    await store.events.save_state(json.dumps(SNAPSHOT), None, "1-0", 1)
    return store


async def opened(url: str, headers: Mapping[str, str] | None = None) -> ClientConnection:
    """A websocket that received its first snapshot."""
    ws = await connect_ws(url, proxy=None, open_timeout=WAIT_S, additional_headers=dict(headers or {}))
    async with asyncio.timeout(WAIT_S):
        assert json.loads(await ws.recv())["type"] == "snapshot"
    return ws


async def closed_within(ws: ClientConnection, seconds: float) -> tuple[int, str]:
    """The close code and reason the server sends within ``seconds`` (failing otherwise)."""
    with pytest.raises(ConnectionClosed) as ended:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    frame = ended.value.rcvd
    assert frame is not None, "the connection ended without a close frame from the server"
    return frame.code, frame.reason


async def still_open(ws: ClientConnection, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False


async def test_a_revoked_tokens_sockets_close_on_every_api_process(
    snapshot: Store, redis_url: str, tmp_path: Path
) -> None:
    """Revoking a display token through one API closes its open websockets there and on a second
    `wallboard api` process on the same Redis, within 5 s, with 4401; a token nobody revoked stays open."""
    async with running_api(snapshot, display=True, ws_heartbeat_s=0.2) as a:
        kept, _ = await a.accounts.create_token(None, "kept", actor="test")
        with api_process(redis_url, tmp_path) as other:
            other_ws = other.base.replace("http://", "ws://", 1)
            here = await opened(f"{a.ws_base}/ws?token={a.display_token}")
            there = await opened(f"{other_ws}/ws?token={a.display_token}")
            survivor = await opened(f"{other_ws}/ws?token={kept}")
            token_id = (await a.http.get("/api/v1/tokens", headers=a.headers[Role.OPS])).json()
            revoked = next(t["id"] for t in token_id if t["label"] == "tv")
            response = await a.http.delete(f"/api/v1/tokens/{revoked}", headers=a.headers[Role.OPS])
            assert response.status_code == 204
            closes = await asyncio.gather(closed_within(here, REVOKED_WITHIN_S), closed_within(there, REVOKED_WITHIN_S))
            assert closes == [(4401, "display token revoked")] * 2
            assert await still_open(survivor, 0.5)
            refused = await opened_or_refused(f"{other_ws}/ws?token={a.display_token}")
            assert refused == 4401
            await survivor.close()


async def opened_or_refused(url: str) -> int | None:
    """The close code of a connection refused after its handshake (None if it got a snapshot)."""
    async with connect_ws(url, proxy=None, open_timeout=WAIT_S) as ws:
        try:
            async with asyncio.timeout(WAIT_S):
                json.loads(await ws.recv())
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else -1
    return None


async def test_a_token_removed_without_a_notice_is_caught_by_the_periodic_check(snapshot: Store) -> None:
    """A token deleted from Redis behind the API's back (no notice published) still closes its socket within 5 s."""
    async with running_api(snapshot, display=True, users=False) as a:
        ws = await opened(f"{a.ws_base}/ws?token={a.display_token}")
        (digest,) = await snapshot.accounts.list_tokens()
        await snapshot.client.hdel(snapshot.keys.tokens, digest)  # no access notice: only the re-check sees it
        assert await closed_within(ws, REVOKED_WITHIN_S) == (4401, "display token revoked")


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"disabled": True}, "user disabled"), ({"password": "another long password"}, "password changed")],
)
async def test_a_disabled_user_or_a_new_password_closes_their_sockets(
    snapshot: Store, change: dict[str, Any], reason: str
) -> None:
    """Disabling a user (or changing their password) closes the websockets of their sessions with 4401."""
    async with running_api(snapshot) as a:
        ws = await opened(f"{a.ws_base}/ws", a.headers["viewer1"])
        other = await opened(f"{a.ws_base}/ws", a.headers["supervisor1"])
        response = await a.http.patch("/api/v1/users/viewer1", json=change, headers=a.headers[Role.ADMIN])
        assert response.status_code == 200, response.text
        assert await closed_within(ws, REVOKED_WITHIN_S) == (4401, reason)
        assert await still_open(other, 0.5)
        await other.close()


async def test_a_removed_user_closes_their_sockets(snapshot: Store) -> None:
    """A user record removed from Redis closes the websockets of their sessions."""
    async with running_api(snapshot) as a:
        ws = await opened(f"{a.ws_base}/ws", a.headers["viewer1"])
        await snapshot.client.hdel(snapshot.keys.users, "viewer1")
        assert await closed_within(ws, REVOKED_WITHIN_S) == (4401, "user removed")


async def test_logging_out_closes_the_sessions_socket(snapshot: Store) -> None:
    """POST /api/v1/logout closes the websocket opened with that session (and only that one)."""
    async with running_api(snapshot, users={"viewer1": Role.VIEWER}) as a:
        other_session = await a.login("viewer1")
        ws = await opened(f"{a.ws_base}/ws", a.headers["viewer1"])
        other = await opened(f"{a.ws_base}/ws", other_session)
        assert (await a.http.post("/api/v1/logout", headers=a.headers["viewer1"])).status_code == 204
        assert await closed_within(ws, REVOKED_WITHIN_S) == (4401, "session ended (logged out or expired)")
        assert await still_open(other, 0.5)
        await other.close()


async def test_an_expiring_session_closes_its_socket(snapshot: Store) -> None:
    """A session that expires while its websocket is open (the socket does not keep it alive) closes it."""
    ttl_s = 1.5
    async with running_api(snapshot, users={"viewer1": Role.VIEWER}, sessions=False, session_ttl_s=ttl_s) as a:
        ws = await opened(f"{a.ws_base}/ws", await a.login("viewer1"))
        assert await closed_within(ws, ttl_s + REVOKED_WITHIN_S) == (4401, "session ended (logged out or expired)")


async def test_one_recheck_per_distinct_credential(snapshot: Store) -> None:
    """Fifty sockets on one token are one credential to re-check, and closing them leaves none under watch."""
    async with running_api(snapshot, display=True, users=False) as a:
        watch = a.runtime.sites["paris"].access
        sockets = [await opened(f"{a.ws_base}/ws?token={a.display_token}") for _ in range(50)]
        assert watch.credentials == 1
        for ws in sockets:
            await ws.close()
        await poll_until(lambda: watch.credentials == 0, "the closed sockets to leave the watch", WAIT_S)
