"""The boards API: the default board, validated versioned writes, audit, the config notice, display tokens read."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.config import Settings
from wallboard.core.users import Passwords, Role
from wallboard.store import Store, connect

SITE = "paris"
PASSWORD = "correct horse battery"
SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {"sales": {}}, "agents": {}}
SITE_FILE = """
site: paris
queues: {support: {group: care}, sales: {group: revenue}}
teams: {care-a: {}, care-b: {}}
"""
BOARD = {"title": "Floor 2", "queues": ["support"], "tiles": ["waiting", "sl_interval"]}
WAIT_S = 10.0


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    store = Store(client, site=SITE)
    await store.save_state(json.dumps(SNAPSHOT), None, "1-0", 1)
    yield store
    await client.aclose()


@contextlib.asynccontextmanager
async def api(store: Store, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    """The API with the site file: (client, ops headers, a display token)."""
    (tmp_path / "site.yaml").write_text(SITE_FILE, encoding="utf-8")
    passwords = Passwords.cheap()
    settings = Settings(site=SITE, site_file=tmp_path / "site.yaml")
    app = create_app(settings, store=store, passwords=passwords, clock=lambda: 1_700_000_000.0)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    async with serving(config) as base, httpx.AsyncClient(base_url=base, timeout=WAIT_S) as http:
        accounts = Accounts(store, Hashing(passwords))
        await accounts.add_user("ops1", Role.OPS, PASSWORD, actor="test")
        token, _ = await accounts.create_token("default", "tv", actor="test")
        login = await http.post("/api/v1/login", json={"name": "ops1", "password": PASSWORD})
        yield http, {"Authorization": f"Bearer {login.json()['token']}"}, token


async def test_default_board_for_a_display_token(store: Store, tmp_path: Path) -> None:
    """A display token reads the default board (every queue, standard tiles, version 0); others are 404."""
    async with api(store, tmp_path) as (http, _, token):
        default = await http.get("/api/v1/boards/default", params={"token": token})
        missing = await http.get("/api/v1/boards/lobby", params={"token": token})
        anonymous = await http.get("/api/v1/boards/default")
    assert default.status_code == 200
    assert default.json()["version"] == 0 and default.json()["queues"] == [] and default.json()["tiles"] == []
    assert missing.status_code == 404
    assert anonymous.status_code == 401


async def test_put_writes_version_audit_and_notice(store: Store, tmp_path: Path) -> None:
    """PUT stores version 1 with who wrote it, audits board.update and announces it on the config channel."""
    async with api(store, tmp_path) as (http, ops, token), store.subscribe_config() as notices:
        put = await http.put("/api/v1/boards/floor2", json=BOARD, headers=ops)
        async with asyncio.timeout(WAIT_S):
            notice = await anext(aiter(notices))
        read = await http.get("/api/v1/boards/floor2", params={"token": token})
        listed = await http.get("/api/v1/boards", headers=ops)
    assert put.status_code == 200, put.text
    assert read.json()["version"] == 1 and read.json()["updated_by"] == "ops1"
    assert read.json()["queues"] == ["support"] and read.json()["title"] == "Floor 2"
    assert set(listed.json()) == {"default", "floor2"}
    assert notice == {"type": "board", "name": "floor2", "version": 1}
    _, entry = (await store.read_audit(1))[0]
    assert entry["action"] == "board.update" and entry["actor"] == "ops1" and entry["target"] == "board:floor2"


async def test_stale_version_is_a_conflict(store: Store, tmp_path: Path) -> None:
    """A PUT naming a version other than the stored one is 409 and changes nothing."""
    async with api(store, tmp_path) as (http, ops, _):
        await http.put("/api/v1/boards/floor2", json=BOARD, headers=ops)
        second = await http.put("/api/v1/boards/floor2", json={**BOARD, "version": 1, "title": "B"}, headers=ops)
        stale = await http.put("/api/v1/boards/floor2", json={**BOARD, "version": 1, "title": "C"}, headers=ops)
        read = await http.get("/api/v1/boards/floor2", headers=ops)
    assert second.status_code == 200 and second.json()["version"] == 2
    assert stale.status_code == 409
    assert read.json()["title"] == "B"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"queues": ["nope"]}, "queues[0]"),
        ({"groups": ["care", "ghosts"]}, "groups[1]"),
        ({"tiles": ["waiting", "weather"]}, "tiles[1]"),
        ({"pages": [{"queues": ["sales"], "seconds": 1}]}, "pages[0].seconds"),
        ({"pages": [{"queues": ["sales", "x"], "seconds": 10}]}, "pages[0].queues[1]"),
        ({"colour": "red"}, "colour"),
        ({"team_tiles": True, "teams": ["care-a", "night-shift"]}, "teams[1]"),
    ],
)
async def test_invalid_board_is_422_naming_the_field(
    store: Store, tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    """Unknown queues, groups, tiles, too short pages and unknown fields are 422 with the field at fault."""
    async with api(store, tmp_path) as (http, ops, _):
        response = await http.put("/api/v1/boards/floor2", json=body, headers=ops)
        stored = await store.get_board("floor2")
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert stored is None


async def test_display_token_cannot_write(store: Store, tmp_path: Path) -> None:
    """A display token may read boards but not change them (403)."""
    async with api(store, tmp_path) as (http, _, token):
        response = await http.put("/api/v1/boards/floor2", json=BOARD, params={"token": token})
    assert response.status_code == 403
    assert await store.get_board("floor2") is None


async def test_delete_falls_back_and_audits(store: Store, tmp_path: Path) -> None:
    """DELETE removes a stored board (audited); deleting it again is 404, and 'default' falls back."""
    async with api(store, tmp_path) as (http, ops, _):
        await http.put("/api/v1/boards/default", json=BOARD, headers=ops)
        deleted = await http.delete("/api/v1/boards/default", headers=ops)
        again = await http.delete("/api/v1/boards/default", headers=ops)
        read = await http.get("/api/v1/boards/default", headers=ops)
    assert deleted.status_code == 204 and again.status_code == 404
    assert read.json()["version"] == 0 and read.json()["queues"] == []
    _, entry = (await store.read_audit(1))[0]
    assert entry["action"] == "board.delete"


async def test_group_and_team_tiles_round_trip(store: Store, tmp_path: Path) -> None:
    """A board asking for group tiles and team adherence tiles of known teams is stored as sent and read back."""
    board = {**BOARD, "group_tiles": True, "team_tiles": True, "teams": ["care-b"]}
    async with api(store, tmp_path) as (http, ops, token):
        put = await http.put("/api/v1/boards/floor2", json=board, headers=ops)
        read = await http.get("/api/v1/boards/floor2", params={"token": token})
    assert put.status_code == 200, put.text
    shown = read.json()
    assert (shown["group_tiles"], shown["team_tiles"], shown["teams"]) == (True, True, ["care-b"])


async def test_board_writes_need_manage_boards(store: Store, tmp_path: Path) -> None:
    """A supervisor (no manage_boards permission) gets 403 and nothing is stored; ops may write."""
    async with api(store, tmp_path) as (http, ops, _):
        accounts = Accounts(store, Hashing(Passwords.cheap()))
        await accounts.add_user("sup1", Role.SUPERVISOR, PASSWORD, actor="test")
        login = await http.post("/api/v1/login", json={"name": "sup1", "password": PASSWORD})
        supervisor = {"Authorization": f"Bearer {login.json()['token']}"}
        refused = await http.put("/api/v1/boards/floor2", json=BOARD, headers=supervisor)
        stored = await store.get_board("floor2")
    assert refused.status_code == 403
    assert stored is None
