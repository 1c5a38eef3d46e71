"""A display token sees what its board shows: REST, /ws (snapshot and deltas), the pages (real servers, Redis)."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_process import api_process
from api_stack import running_api
from processes import clean_env, start, stop
from waiting import poll_until
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws

from wallboard.admin.accounts import Accounts, Hashing
from wallboard.core.deltas import diff
from wallboard.core.users import Passwords, Role
from wallboard.store import Store

WAIT_S = 10.0
FLOOR_1 = {"title": "Floor 1", "queues": ["sales"], "groups": [], "tiles": [], "pages": [], "teams": [], "version": 1}
RED_TEAM = {**FLOOR_1, "title": "Red team", "queues": [], "teams": ["red"]}


def agent(name: str, team: str, queues: list[str], state: str = "available", **extra: Any) -> dict[str, Any]:
    return {"id": name, "name": name.title(), "team": team, "state": state, "reason": None, "since": None,
            "time_in_state_s": 5.0, "queues": queues, "paused_queues": [], "call": None, **extra}  # fmt: skip


def alert(alert_id: str, kind: str, name: str) -> dict[str, Any]:
    return {"alert_id": alert_id, "threshold_id": "t", "target": {"kind": kind, "name": name}, "metric": "waiting",
            "level": "warn", "severity": "warning", "state": "firing", "value": 1.0, "reason": "r",
            "since": "2026-03-02T09:00:00+00:00"}  # fmt: skip


def site_snapshot(seq: int, sales: int = 1, support: int = 2) -> dict[str, Any]:
    """Sales (group front) and support; alice (red) in sales, bob (blue) in support on a call, carol (red) in both."""
    return {
        "site": "paris",
        "ts": f"2026-03-02T09:00:{seq:02d}+00:00",
        "queues": {
            "sales": {"name": "sales", "group": "front", "waiting": sales},
            "support": {"name": "support", "group": "back", "waiting": support},
        },
        "agents": {
            "alice": agent("alice", "red", ["sales"]),
            "bob": agent("bob", "blue", ["support"], "on_call", call={"call_id": "c9", "queue": "support"}),
            "carol": agent("carol", "red", ["sales", "support"], "paused", reason="lunch", paused_queues=["support"]),
        },
        "teams": {"red": {"name": "Red"}, "blue": {"name": "Blue"}},
        "alerts": [
            alert("w:queue:support", "queue", "support"),
            alert("w:agent:bob", "agent", "bob"),
            alert("age:site:paris", "site", "paris"),
        ],  # fmt: skip
        "seq": seq,
        "stream_id": f"{seq}-0",
    }


class Publisher:
    """Plays the engine runner: the snapshot key, then the delta from the previous one on the updates channel."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.last: dict[str, Any] | None = None

    async def publish(self, snapshot: dict[str, Any]) -> None:
        await self.store.events.save_state(json.dumps(snapshot), None, snapshot["stream_id"], snapshot["seq"])
        if self.last is not None:
            delta = {
                "type": "delta",
                "seq": snapshot["seq"],
                "base": self.last["seq"],
                "changes": diff(self.last, snapshot),
            }
            await self.store.events.publish_delta(delta)
        self.last = copy.deepcopy(snapshot)


@pytest.fixture
async def published(store: Store) -> Publisher:
    publisher = Publisher(store)
    await publisher.publish(site_snapshot(1))
    await store.boards.write_board("floor-1", FLOOR_1, {"action": "board.update"})
    await store.boards.write_board("red", RED_TEAM, {"action": "board.update"})
    return publisher


async def receive(ws: ClientConnection) -> tuple[dict[str, Any], str]:
    """The next message other than a heartbeat, decoded and as sent."""
    async with asyncio.timeout(WAIT_S):
        while True:
            text = str(await ws.recv())
            message: dict[str, Any] = json.loads(text)
            if message["type"] != "heartbeat":
                return message, text


async def test_a_bound_token_reads_only_its_boards_queues_and_agents_over_rest(published: Publisher) -> None:
    """floor-1 (queues: sales) reads sales, the agents in sales (naming sales only), every team, and no alert about
    support or bob; support and bob are 404 to it. A board naming only teams reads every queue and that team."""
    async with running_api(published.store, display="floor-1") as a:
        red, _ = await a.accounts.create_token("red", "red tv", actor="test")
        token = {"token": a.display_token}
        snapshot = (await a.http.get("/api/v1/snapshot", params=token)).json()
        queues = (await a.http.get("/api/v1/queues", params=token)).json()["queues"]
        agents = (await a.http.get("/api/v1/agents", params=token)).json()["agents"]
        hidden = [await a.http.get(path, params=token) for path in ("/api/v1/queues/support", "/api/v1/agents/bob")]
        seen = await a.http.get("/api/v1/agents/carol", params=token)
        alerts = (await a.http.get("/api/v1/alerts", params=token)).json()["alerts"]
        by_team = (await a.http.get("/api/v1/snapshot", params={"token": red})).json()
        everything = (await a.http.get("/api/v1/snapshot", headers=a.headers[Role.VIEWER])).json()
    assert set(snapshot["queues"]) == {"sales"} and [q["name"] for q in queues] == ["sales"]
    assert set(snapshot["agents"]) == {"alice", "carol"} and {x["id"] for x in agents} == {"alice", "carol"}
    assert snapshot["agents"]["carol"]["queues"] == ["sales"] and snapshot["agents"]["carol"]["paused_queues"] == []
    assert snapshot["agents"]["carol"]["state"] == "paused" and snapshot["agents"]["carol"]["reason"] == "lunch"
    assert [alert["alert_id"] for alert in snapshot["alerts"]] == [alert["alert_id"] for alert in alerts]
    assert [alert["alert_id"] for alert in alerts] == ["age:site:paris"]
    assert "support" not in json.dumps(snapshot) and "bob" not in json.dumps(snapshot)
    assert [response.status_code for response in hidden] == [404, 404] and seen.status_code == 200
    assert set(by_team["queues"]) == {"sales", "support"} and set(by_team["agents"]) == {"alice", "carol"}
    assert set(by_team["teams"]) == {"red"}
    assert set(everything["agents"]) == {"alice", "bob", "carol"}


async def test_a_queue_that_appears_later_is_on_a_board_naming_no_queues(published: Publisher) -> None:
    """A board whose queue list is empty shows every queue, including one the site gets after the token connected."""
    async with running_api(published.store, display="red", users=False) as a:
        later = site_snapshot(2)
        later["queues"]["returns"] = {"name": "returns", "group": None, "waiting": 0}
        await published.publish(later)
        await poll_until(lambda: a.runtime.sites["paris"].feed.seq == 2, "the feed to take seq 2", WAIT_S)
        shown = (await a.http.get("/api/v1/snapshot", params={"token": a.display_token})).json()
    assert set(shown["queues"]) == {"sales", "support", "returns"} and set(shown["agents"]) == {"alice", "carol"}


async def test_a_chat_boards_token_reads_no_voice_queue_nor_its_agents(published: Publisher) -> None:
    """A board naming only ``channels: [chat]`` shows every chat queue, including one that becomes a chat queue later
    (the engine learns it from its first chat event), and nothing of the voice queues: not their figures, not their
    agents, not their alerts; its socket's snapshot says the same."""
    chat = site_snapshot(2)
    chat["queues"]["webchat"] = {"name": "webchat", "group": None, "channel": "chat", "waiting": 4}
    chat["agents"]["dana"] = agent("dana", "blue", ["webchat", "support"])
    await published.publish(chat)
    board = {**FLOOR_1, "title": "Chat", "queues": [], "channels": ["chat"]}
    await published.store.boards.write_board("chat", board, {"action": "board.update"})
    async with running_api(published.store, display="chat", users=False) as a:
        await poll_until(lambda: a.runtime.sites["paris"].feed.seq == 2, "the feed to take seq 2", WAIT_S)
        token = {"token": a.display_token}
        shown = (await a.http.get("/api/v1/snapshot", params=token)).json()
        hidden = await a.http.get("/api/v1/queues/support", params=token)
        async with connect_ws(f"{a.ws_base}/ws?token={a.display_token}", proxy=None, open_timeout=WAIT_S) as ws:
            first, _ = await receive(ws)
            while first["type"] != "snapshot":
                first, _ = await receive(ws)
        later = site_snapshot(3)
        later["queues"] |= {
            "webchat": chat["queues"]["webchat"],
            "sales": {**later["queues"]["sales"], "channel": "chat"},
        }
        await published.publish(later)
        await poll_until(lambda: a.runtime.sites["paris"].feed.seq == 3, "the feed to take seq 3", WAIT_S)
        learned = (await a.http.get("/api/v1/snapshot", params=token)).json()
    assert set(shown["queues"]) == {"webchat"} and set(first["queues"]) == {"webchat"}
    assert set(shown["agents"]) == {"dana"} and shown["agents"]["dana"]["queues"] == ["webchat"]
    assert [alert["alert_id"] for alert in shown["alerts"]] == ["age:site:paris"] and hidden.status_code == 404
    assert set(learned["queues"]) == {"sales", "webchat"} and set(learned["agents"]) == {"alice", "carol"}


async def test_a_bound_tokens_websocket_gets_its_board_in_the_snapshot_and_the_deltas(published: Publisher) -> None:
    """Over /ws floor-1's token gets only sales and its agents, first and in every delta (a change of support or
    bob alone reaches it as nothing of theirs); an unbound token on the same API gets everything."""
    async with running_api(published.store, display="floor-1", users=False) as a:
        unbound, _ = await a.accounts.create_token(None, "any", actor="test")
        async with (
            connect_ws(f"{a.ws_base}/ws?token={a.display_token}", proxy=None, open_timeout=WAIT_S) as board,
            connect_ws(f"{a.ws_base}/ws?token={unbound}", proxy=None, open_timeout=WAIT_S) as whole,
        ):
            first, first_text = await receive(board)
            assert first["type"] == "snapshot" and set(first["queues"]) == {"sales"}
            assert set(first["agents"]) == {"alice", "carol"}
            assert set((await receive(whole))[0]["queues"]) == {"sales", "support"}
            changed = site_snapshot(2, sales=4, support=9)
            changed["agents"]["bob"]["state"] = "wrap_up"
            changed["agents"]["alice"]["state"] = "on_call"
            await published.publish(changed)
            delta, delta_text = await receive(board)
            assert delta["type"] == "delta" and delta["seq"] == 2 and delta["base"] == 1
            assert delta["changes"]["queues"] == {"sales": {"waiting": 4}}
            assert delta["changes"]["agents"] == {"alice": {"state": "on_call"}}
            full, _ = await receive(whole)
            assert full["changes"]["queues"] == {"sales": {"waiting": 4}, "support": {"waiting": 9}}
            assert "bob" in full["changes"]["agents"]
    for text in (first_text, delta_text):
        assert "support" not in text and "bob" not in text


async def test_editing_a_board_changes_what_its_open_sockets_see_at_once(published: Publisher) -> None:
    """PUT a board with another queue: its open sockets get a snapshot of the new view without reconnecting."""
    async with running_api(published.store, display="floor-1") as a:
        async with connect_ws(f"{a.ws_base}/ws?token={a.display_token}", proxy=None, open_timeout=WAIT_S) as ws:
            assert set((await receive(ws))[0]["queues"]) == {"sales"}
            body = {"title": "Floor 1", "queues": ["support"]}
            response = await a.http.put("/api/v1/boards/floor-1", json=body, headers=a.headers[Role.OPS])
            assert response.status_code == 200, response.text
            message, _ = await receive(ws)
    assert message["type"] == "snapshot" and set(message["queues"]) == {"support"}
    assert set(message["agents"]) == {"bob", "carol"}


async def test_a_bound_token_is_refused_other_boards_and_what_no_tv_shows(published: Publisher) -> None:
    """floor-1's token: 403 on another board and on schedules, audit, users, tokens and history; its own board and
    the list (holding only it) are readable. An unbound token reads every board, and is refused the same routes."""
    refused = ["/api/v1/schedules", "/api/v1/audit", "/api/v1/users", "/api/v1/tokens", "/api/v1/history/queues",
               "/api/v1/history/agents", "/api/v1/alerts/history", "/api/v1/boards/red"]  # fmt: skip
    async with running_api(published.store, display="floor-1", users=False) as a:
        unbound, _ = await a.accounts.create_token(None, "any", actor="test")
        token = {"token": a.display_token}
        statuses = {path: (await a.http.get(path, params=token)).status_code for path in refused}
        own = await a.http.get("/api/v1/boards/floor-1", params=token)
        listed = await a.http.get("/api/v1/boards", params=token)
        boards = [await a.http.get(f"/api/v1/boards/{name}", params={"token": unbound}) for name in ("floor-1", "red")]
        unbound_refused = {path: (await a.http.get(path, params={"token": unbound})).status_code for path in refused}
    assert statuses == dict.fromkeys(refused, 403)
    assert own.status_code == 200 and set(listed.json()) == {"floor-1"}
    assert [response.status_code for response in boards] == [200, 200]
    assert unbound_refused == {**dict.fromkeys(refused, 403), "/api/v1/boards/red": 200}


async def test_the_pages_open_the_tokens_own_board(published: Publisher, redis_url: str, tmp_path: Path) -> None:
    """`wallboard api`: /tv/<other board> is 403 to floor-1's token, /tv/floor-1 opens, and /?token= moves the
    browser to /tv/floor-1 (an unbound token: /tv/default)."""
    floor, _ = await _token(published.store, "floor-1")
    unbound, _ = await _token(published.store, None)
    with api_process(redis_url, tmp_path) as api:
        async with httpx.AsyncClient(base_url=api.base, timeout=WAIT_S) as http:
            other = await http.get("/tv/red", params={"token": floor})
            own = await http.get("/tv/floor-1", params={"token": floor})
            any_board = await http.get("/tv/red", params={"token": unbound})
            root = await http.get("/", params={"token": floor})
            root_unbound = await http.get("/", params={"token": unbound})
    assert other.status_code == 403 and "floor-1" in other.text
    assert own.status_code == 200 and any_board.status_code == 200
    assert '"/tv/floor-1"' in root.text and floor not in root.text
    assert '"/tv/default"' in root_unbound.text


async def _token(store: Store, board: str | None) -> tuple[str, str]:
    token, shown = await Accounts(store.accounts, Hashing(Passwords.cheap())).create_token(board, "tv", actor="test")
    return token, shown.id


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[str]:
    """A real `wallboard demo` on a free port; yields the URL it announces."""
    log = tmp_path / "demo.log"
    process = start("demo", "--port", "0", "--speed", "20", env=clean_env(tmp_path), log=log)
    try:
        await poll_until(lambda: _announced(log) or process.poll() is not None, "the demo's URL", 60)
        url = _announced(log)
        assert url is not None, log.read_text(errors="replace")[-2000:]
        yield url
    finally:
        stop(process)


def _announced(log: Path) -> str | None:
    found = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", log.read_text(errors="replace"))
    return found.group(0) if found else None


async def test_the_demo_token_opens_every_demo_board(demo: str) -> None:
    """The token the demo prints is bound to no board: it reads `default` and `adherence`, their pages open."""
    base, token = demo.split("/?token=")
    async with httpx.AsyncClient(base_url=base, timeout=WAIT_S) as http:
        me = await http.get("/api/v1/me", params={"token": token})
        boards = [
            await http.get(f"/api/v1/boards/{name}", params={"token": token}) for name in ("default", "adherence")
        ]
        pages = [await http.get(f"/tv/{name}", params={"token": token}) for name in ("default", "adherence")]
    assert me.status_code == 200 and me.json()["board"] is None
    assert [response.status_code for response in boards + pages] == [200] * 4
