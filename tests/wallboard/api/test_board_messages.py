"""A board's message: who may post and clear it, its bounds, its audit, its expiry and who reads it (real Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_stack import PASSWORD, SITE, running_api, save_snapshot

from wallboard.core.users import Role
from wallboard.store import Store

SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {"sales": {}}, "agents": {}}
SITE_FILE = """
site: paris
queues: {support: {group: care}, sales: {group: revenue}, webchat: {channel: chat}}
"""
START = 1_700_000_000.0
MESSAGE = {"text": "Fire drill at 14:00", "level": "warn", "expires_in_s": 600}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    await store.boards.write_board("floor-1", {"title": "Floor 1", "queues": ["sales"], "version": 1}, {"a": "b"})
    await store.boards.write_board("floor-2", {"title": "Floor 2", "queues": ["support"], "version": 1}, {"a": "b"})
    return store


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.OPS, Role.ADMIN])
async def test_supervisors_ops_and_admins_post_and_clear(store: Store, site_file: Path, role: Role) -> None:
    """A supervisor, ops or admin posts a message (read back with the seconds it has left) and clears it."""
    async with running_api(store, site_file=site_file, clock=Clock()) as a:
        posted = await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE, headers=a.headers[role])
        read = await a.http.get("/api/v1/boards/floor-1/message", headers=a.headers[Role.VIEWER])
        cleared = await a.http.delete("/api/v1/boards/floor-1/message", headers=a.headers[role])
        after = await a.http.get("/api/v1/boards/floor-1/message", headers=a.headers[Role.VIEWER])
    assert posted.status_code == 200, posted.text
    message = read.json()["message"]
    assert (message["text"], message["level"], message["expires_in_s"]) == ("Fire drill at 14:00", "warn", 600)
    assert message["posted_by"] == f"{role.value}1"
    assert cleared.status_code == 204 and after.json() == {"message": None}


@pytest.mark.parametrize("who", [Role.VIEWER, Role.PLANNER, "display"])
async def test_others_and_display_tokens_may_not_post(store: Store, site_file: Path, who: Role | str) -> None:
    """A viewer, a planner and a display token (even the board's own) get 403 and nothing is stored."""
    async with running_api(store, site_file=site_file, display="floor-1") as a:
        posted = await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE, headers=a.headers[who])
        cleared = await a.http.delete("/api/v1/boards/floor-1/message", headers=a.headers[who])
    assert (posted.status_code, cleared.status_code) == (403, 403)
    assert await store.boards.get_message("floor-1") is None


async def test_anonymous_is_401(store: Store, site_file: Path) -> None:
    """No credential: 401."""
    async with running_api(store, site_file=site_file) as a:
        response = await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "\x1b\x07 \u202e\n"}, "text"),  # nothing left once cleaned
        ({"text": "x" * 281}, "text"),
        ({"text": "hi", "level": "alarm"}, "level"),
        ({"text": "hi", "expires_in_s": 59}, "expires_in_s"),
        ({"text": "hi", "expires_in_s": 86_401}, "expires_in_s"),
        ({"text": "hi", "colour": "red"}, "colour"),
    ],
)
async def test_invalid_messages_are_422_naming_the_field(
    store: Store, site_file: Path, body: dict[str, Any], field: str
) -> None:
    """Empty or too long text, an unknown level, an expiry out of 60..86400 s, unknown fields: 422 by field."""
    async with running_api(store, site_file=site_file) as a:
        response = await a.http.post("/api/v1/boards/floor-1/message", json=body, headers=a.headers[Role.OPS])
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert await store.boards.get_message("floor-1") is None


async def test_text_is_cleaned_and_level_defaults_to_info(store: Store, site_file: Path) -> None:
    """Control characters are dropped, line breaks become spaces; no level is info, no expiry one hour."""
    body = {"text": "  Lunch\nis\x1b[2J served \u202e "}
    async with running_api(store, site_file=site_file, clock=Clock()) as a:
        posted = await a.http.post("/api/v1/boards/floor-1/message", json=body, headers=a.headers[Role.SUPERVISOR])
    assert posted.status_code == 200, posted.text
    assert posted.json()["text"] == "Lunch is[2J served" and posted.json()["level"] == "info"
    assert posted.json()["expires_in_s"] == 3600


async def test_posting_and_clearing_are_audited(store: Store, site_file: Path) -> None:
    """board.message with the message, board.message_clear with the old one, by the user who did it."""
    async with running_api(store, site_file=site_file, clock=Clock()) as a:
        await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE, headers=a.headers[Role.SUPERVISOR])
        await a.http.delete("/api/v1/boards/floor-1/message", headers=a.headers[Role.OPS])
        audit = await a.accounts.audit_entries(2)
    cleared, posted = audit[0], audit[1]
    assert (posted["action"], posted["actor"], posted["target"]) == ("board.message", "supervisor1", "board:floor-1")
    assert posted["new"]["text"] == MESSAGE["text"] and posted["old"] is None
    assert (cleared["action"], cleared["actor"]) == ("board.message_clear", "ops1")
    assert cleared["old"]["text"] == MESSAGE["text"] and cleared["new"] is None


async def test_a_message_expires_by_the_apis_clock_and_in_redis(store: Store, site_file: Path) -> None:
    """The message is read until its expiry by the API's clock, then null; Redis drops it then too (its TTL)."""
    clock = Clock()
    body = {**MESSAGE, "expires_in_s": 60}
    async with running_api(store, site_file=site_file, clock=clock) as a:
        await a.http.post("/api/v1/boards/floor-1/message", json=body, headers=a.headers[Role.OPS])
        clock.now = START + 59.5
        before = (await a.http.get("/api/v1/boards/floor-1/message", headers=a.headers[Role.OPS])).json()
        clock.now = START + 60.0
        after = (await a.http.get("/api/v1/boards/floor-1/message", headers=a.headers[Role.OPS])).json()
        ttl = await store.client.ttl(store.keys.config("message:floor-1"))
    assert before["message"]["expires_in_s"] == pytest.approx(0.5)
    assert after == {"message": None}
    assert 0 < ttl <= 60


async def test_a_display_token_of_another_board_never_sees_it(store: Store, site_file: Path) -> None:
    """floor-1's message: its own display token reads it, floor-2's token gets 403, and floor-2 has no message."""
    async with running_api(store, site_file=site_file, display="floor-1", clock=Clock()) as a:
        other, _ = await a.accounts.create_token("floor-2", "tv 2", actor="test")
        await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE, headers=a.headers[Role.OPS])
        own = await a.http.get("/api/v1/boards/floor-1/message", params={"token": a.display_token})
        refused = await a.http.get("/api/v1/boards/floor-1/message", params={"token": other})
        theirs = await a.http.get("/api/v1/boards/floor-2/message", params={"token": other})
    assert own.status_code == 200 and own.json()["message"]["text"] == MESSAGE["text"]
    assert refused.status_code == 403 and MESSAGE["text"] not in refused.text
    assert theirs.status_code == 200 and theirs.json() == {"message": None}


async def test_a_message_for_a_board_that_does_not_exist_is_404(store: Store, site_file: Path) -> None:
    """No stored board (and not default): 404, nothing stored; the default board takes messages."""
    async with running_api(store, site_file=site_file, clock=Clock()) as a:
        ops = a.headers[Role.OPS]
        missing = await a.http.post("/api/v1/boards/lobby/message", json=MESSAGE, headers=ops)
        default = await a.http.post("/api/v1/boards/default/message", json=MESSAGE, headers=ops)
    assert missing.status_code == 404 and default.status_code == 200
    assert await store.boards.get_message("lobby") is None


async def test_a_scoped_supervisor_posts_only_on_boards_within_their_scope(store: Store, site_file: Path) -> None:
    """A supervisor scoped to sales posts and clears on a board of sales (named or by its group); a board showing
    support, every queue (default) or every team is 403 naming why, checked before the body (an invalid body is
    403 too); a supervisor scoped to team red may not post on a board showing every team."""
    await store.boards.write_board("revenue", {"title": "R", "groups": ["revenue"], "version": 1}, {"a": "b"})
    await store.boards.write_board("care", {"title": "C", "groups": ["care"], "version": 1}, {"a": "b"})
    async with running_api(store, site_file=site_file, clock=Clock()) as a:
        await a.accounts.add_user("sam", Role.SUPERVISOR, PASSWORD, actor="test", queues=["sales"])
        await a.accounts.add_user("rita", Role.SUPERVISOR, PASSWORD, actor="test", teams=["red"])
        sam, rita = await a.login("sam"), await a.login("rita")
        allowed = [
            (await a.http.post(f"/api/v1/boards/{name}/message", json=MESSAGE, headers=sam)).status_code
            for name in ("floor-1", "revenue")
        ]
        cleared = await a.http.delete("/api/v1/boards/floor-1/message", headers=sam)
        refused = {
            name: await a.http.post(f"/api/v1/boards/{name}/message", json=MESSAGE, headers=sam)
            for name in ("floor-2", "care", "default")
        }
        invalid = await a.http.post("/api/v1/boards/floor-2/message", json={"text": ""}, headers=sam)
        clear_refused = await a.http.delete("/api/v1/boards/floor-2/message", headers=sam)
        by_team = await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE, headers=rita)
        ops = await a.http.post("/api/v1/boards/floor-2/message", json=MESSAGE, headers=a.headers[Role.OPS])
    assert allowed == [200, 200] and cleared.status_code == 204
    assert {name: r.status_code for name, r in refused.items()} == {"floor-2": 403, "care": 403, "default": 403}
    assert "queue(s) support outside sales" in refused["floor-2"].json()["detail"]
    assert "queue(s) support outside sales" in refused["care"].json()["detail"]
    assert "shows every queue" in refused["default"].json()["detail"]
    assert (invalid.status_code, clear_refused.status_code) == (403, 403)
    assert by_team.status_code == 403 and "shows every team" in by_team.json()["detail"]
    assert ops.status_code == 200  # ops post on any board
    assert await store.boards.get_message("default") is None


async def test_a_supervisor_of_the_chat_queues_posts_on_the_chat_board(store: Store, site_file: Path) -> None:
    """A board naming only ``channels: [chat]`` shows the chat queues (webchat, from the site file): a supervisor
    scoped to webchat may post there, one scoped to sales may not (naming webchat); a board naming sales and webchat
    but only the chat channel shows webchat alone, so webchat's supervisor may post there too."""
    await store.boards.write_board("chat", {"title": "Chat", "channels": ["chat"], "version": 1}, {"a": "b"})
    mixed = {"title": "Mixed", "queues": ["sales", "webchat"], "channels": ["chat"], "version": 1}
    await store.boards.write_board("mixed", mixed, {"a": "b"})
    async with running_api(store, site_file=site_file, clock=Clock()) as a:
        await a.accounts.add_user("cleo", Role.SUPERVISOR, PASSWORD, actor="test", queues=["webchat"])
        await a.accounts.add_user("sam", Role.SUPERVISOR, PASSWORD, actor="test", queues=["sales"])
        cleo, sam = await a.login("cleo"), await a.login("sam")
        posted = [
            (await a.http.post(f"/api/v1/boards/{name}/message", json=MESSAGE, headers=cleo)).status_code
            for name in ("chat", "mixed")
        ]
        refused = await a.http.post("/api/v1/boards/chat/message", json=MESSAGE, headers=sam)
        voice = await a.http.post("/api/v1/boards/floor-1/message", json=MESSAGE, headers=cleo)
    assert posted == [200, 200]
    assert refused.status_code == 403 and "queue(s) webchat outside sales" in refused.json()["detail"]
    assert voice.status_code == 403
