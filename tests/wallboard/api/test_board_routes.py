"""The boards API: the default board, validated versioned writes, audit, the config notice, display tokens read."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest
from api_stack import SITE, running_api, save_snapshot
from pydantic import ValidationError

from wallboard.config import Settings
from wallboard.core.users import Role
from wallboard.store import Store

# b2b: a campaign only a dialer event named (not in the site file): known from the snapshot
SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {"sales": {}}, "agents": {},
            "campaigns": {"b2b": {}}}  # fmt: skip
SITE_FILE = """
site: paris
queues: {support: {group: care}, sales: {group: revenue}}
teams: {care-a: {}, care-b: {}}
campaigns: {renewals: {regulator: ofcom}}
"""
BOARD = {"title": "Floor 2", "queues": ["support"], "tiles": ["waiting", "sl_interval"]}
WAIT_S = 10.0


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


# auth on: a user of every role logged in, a display token for the default board
api = functools.partial(running_api, clock=lambda: 1_700_000_000.0, display="default")


async def test_default_board_for_a_display_token(store: Store, site_file: Path) -> None:
    """A display token of the default board reads it (every queue, standard tiles, version 0), and no other
    board (403); a board that is not stored is 404 to a user."""
    async with api(store, site_file=site_file) as a:
        default = await a.http.get("/api/v1/boards/default", params={"token": a.display_token})
        other = await a.http.get("/api/v1/boards/lobby", params={"token": a.display_token})
        missing = await a.http.get("/api/v1/boards/lobby", headers=a.headers[Role.VIEWER])
        anonymous = await a.http.get("/api/v1/boards/default")
    assert default.status_code == 200
    assert default.json()["version"] == 0 and default.json()["queues"] == [] and default.json()["tiles"] == []
    assert (default.json()["campaign_tiles"], default.json()["campaigns"]) == (True, [])  # every campaign
    assert other.status_code == 403 and missing.status_code == 404
    assert anonymous.status_code == 401


async def test_put_writes_version_audit_and_notice(store: Store, site_file: Path) -> None:
    """PUT stores version 1 with who wrote it, audits board.update and announces it on the config channel."""
    async with api(store, site_file=site_file) as a, store.config.subscribe_config() as notices:
        put = await a.http.put("/api/v1/boards/floor2", json=BOARD, headers=a.headers[Role.OPS])
        async with asyncio.timeout(WAIT_S):
            notice = await anext(aiter(notices))
        read = await a.http.get("/api/v1/boards/floor2", headers=a.headers[Role.VIEWER])
        listed = await a.http.get("/api/v1/boards", headers=a.headers[Role.OPS])
    assert put.status_code == 200, put.text
    assert read.json()["version"] == 1 and read.json()["updated_by"] == "ops1"
    assert read.json()["queues"] == ["support"] and read.json()["title"] == "Floor 2"
    assert set(listed.json()) == {"default", "floor2"}
    assert notice == {"type": "board", "name": "floor2", "version": 1}
    _, entry = (await store.accounts.read_audit(1))[0]
    assert entry["action"] == "board.update" and entry["actor"] == "ops1" and entry["target"] == "board:floor2"


async def test_stale_version_is_a_conflict(store: Store, site_file: Path) -> None:
    """A PUT naming a version other than the stored one is 409 and changes nothing."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        await a.http.put("/api/v1/boards/floor2", json=BOARD, headers=ops)
        second = await a.http.put("/api/v1/boards/floor2", json={**BOARD, "version": 1, "title": "B"}, headers=ops)
        stale = await a.http.put("/api/v1/boards/floor2", json={**BOARD, "version": 1, "title": "C"}, headers=ops)
        read = await a.http.get("/api/v1/boards/floor2", headers=ops)
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
        ({"campaign_tiles": True, "campaigns": ["renewals", "b2b", "winback"]}, "campaigns[2]"),
        ({"campaign_tiles": True, "campaigns": [""]}, "campaigns[0]"),
        ({"channels": ["chat", "fax"]}, "channels[1]"),
    ],
)
async def test_invalid_board_is_422_naming_the_field(
    store: Store, site_file: Path, body: dict[str, Any], field: str
) -> None:
    """Unknown queues, groups, tiles, too short pages and unknown fields are 422 with the field at fault."""
    async with api(store, site_file=site_file) as a:
        response = await a.http.put("/api/v1/boards/floor2", json=body, headers=a.headers[Role.OPS])
        stored = await store.boards.get_board("floor2")
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert stored is None


async def test_display_token_cannot_write(store: Store, site_file: Path) -> None:
    """A display token may read boards but not change them (403)."""
    async with api(store, site_file=site_file) as a:
        response = await a.http.put("/api/v1/boards/floor2", json=BOARD, params={"token": a.display_token})
    assert response.status_code == 403
    assert await store.boards.get_board("floor2") is None


async def test_delete_falls_back_and_audits(store: Store, site_file: Path) -> None:
    """DELETE removes a stored board (audited); deleting it again is 404, and 'default' falls back."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        await a.http.put("/api/v1/boards/default", json=BOARD, headers=ops)
        deleted = await a.http.delete("/api/v1/boards/default", headers=ops)
        again = await a.http.delete("/api/v1/boards/default", headers=ops)
        read = await a.http.get("/api/v1/boards/default", headers=ops)
    assert deleted.status_code == 204 and again.status_code == 404
    assert read.json()["version"] == 0 and read.json()["queues"] == []
    _, entry = (await store.accounts.read_audit(1))[0]
    assert entry["action"] == "board.delete"


async def test_group_and_team_tiles_round_trip(store: Store, site_file: Path) -> None:
    """A board asking for group tiles and team adherence tiles of known teams is stored as sent and read back."""
    board = {**BOARD, "group_tiles": True, "team_tiles": True, "teams": ["care-b"]}
    async with api(store, site_file=site_file) as a:
        put = await a.http.put("/api/v1/boards/floor2", json=board, headers=a.headers[Role.OPS])
        read = await a.http.get("/api/v1/boards/floor2", headers=a.headers[Role.VIEWER])
    assert put.status_code == 200, put.text
    shown = read.json()
    assert (shown["group_tiles"], shown["team_tiles"], shown["teams"]) == (True, True, ["care-b"])


async def test_campaign_tiles_round_trip_and_an_older_board_reads_without(store: Store, site_file: Path) -> None:
    """Campaigns of the site file and of the snapshot (a dialer's own) may be named; the board is stored, versioned
    and read back as sent; a board stored before the field existed reads without campaign tiles."""
    board = {**BOARD, "campaign_tiles": True, "campaigns": ["renewals", "b2b"]}
    async with api(store, site_file=site_file) as a:
        put = await a.http.put("/api/v1/boards/floor2", json=board, headers=a.headers[Role.OPS])
        again = await a.http.put("/api/v1/boards/floor2", json={**board, "version": 1}, headers=a.headers[Role.OPS])
        await store.boards.write_board("old", {"title": "Old", "queues": [], "version": 3}, {"action": "test"})
        read = await a.http.get("/api/v1/boards/floor2", headers=a.headers[Role.VIEWER])
        old = await a.http.get("/api/v1/boards/old", headers=a.headers[Role.VIEWER])
    assert put.status_code == 200, put.text
    assert again.json()["version"] == 2
    shown = read.json()
    assert (shown["campaign_tiles"], shown["campaigns"], shown["version"]) == (True, ["renewals", "b2b"], 2)
    assert (old.json()["campaign_tiles"], old.json()["campaigns"]) == (False, [])


async def test_channels_round_trip_and_an_older_board_reads_every_channel(store: Store, site_file: Path) -> None:
    """A board of chat and email queues is stored, versioned and read back as sent (in the API's list too); a board
    stored before the field existed, and the default board, read ``[]``: every channel."""
    board = {**BOARD, "channels": ["chat", "email"]}
    async with api(store, site_file=site_file) as a:
        put = await a.http.put("/api/v1/boards/floor2", json=board, headers=a.headers[Role.OPS])
        again = await a.http.put("/api/v1/boards/floor2", json={**board, "version": 1}, headers=a.headers[Role.OPS])
        await store.boards.write_board("old", {"title": "Old", "queues": [], "version": 3}, {"action": "test"})
        listed = await a.http.get("/api/v1/boards", headers=a.headers[Role.VIEWER])
        old = await a.http.get("/api/v1/boards/old", headers=a.headers[Role.VIEWER])
    assert put.status_code == 200, put.text
    assert (put.json()["channels"], again.json()["version"]) == (["chat", "email"], 2)
    assert (listed.json()["floor2"]["channels"], listed.json()["floor2"]["version"]) == (["chat", "email"], 2)
    every_channel = (old.json(), listed.json()["old"], listed.json()["default"])
    assert [shown["channels"] for shown in every_channel] == [[], [], []]


async def test_board_writes_need_manage_boards(store: Store, site_file: Path) -> None:
    """A supervisor (no manage_boards permission) gets 403 and nothing is stored; ops may write."""
    async with api(store, site_file=site_file) as a:
        refused = await a.http.put("/api/v1/boards/floor2", json=BOARD, headers=a.headers[Role.SUPERVISOR])
        stored = await store.boards.get_board("floor2")
    assert refused.status_code == 403
    assert stored is None


async def test_sound_and_kiosk_round_trip_and_default_to_off(store: Store, site_file: Path) -> None:
    """A board asking for sound on a kiosk TV is stored as sent; a board without them (or an older one) reads false."""
    async with api(store, site_file=site_file) as a:
        put = await a.http.put(
            "/api/v1/boards/floor2", json={**BOARD, "sound": True, "kiosk": True}, headers=a.headers[Role.OPS]
        )
        await store.boards.write_board("old", {"title": "Old", "queues": [], "version": 3}, {"action": "test"})
        read = await a.http.get("/api/v1/boards/floor2", headers=a.headers[Role.VIEWER])
        old = await a.http.get("/api/v1/boards/old", headers=a.headers[Role.VIEWER])
        default = await a.http.get("/api/v1/boards/default", headers=a.headers[Role.VIEWER])
    assert put.status_code == 200, put.text
    assert (read.json()["sound"], read.json()["kiosk"]) == (True, True)
    assert (old.json()["sound"], old.json()["kiosk"], default.json()["sound"]) == (False, False, False)


async def test_a_boards_display_token_comes_with_its_tv_url_and_qr_code(store: Store, site_file: Path) -> None:
    """POST .../tokens: 201 with the token, the TV's URL holding it and that URL as an SVG QR code; the token opens
    that board only; it is listed under its board and no other, revoked there (404 from another board's path)."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        await a.http.put("/api/v1/boards/floor2", json={**BOARD, "kiosk": True}, headers=ops)
        made = await a.http.post("/api/v1/boards/floor2/tokens", json={"label": "lobby\x1b TV"}, headers=ops)
        assert made.status_code == 201, made.text
        body = made.json()
        own = await a.http.get("/api/v1/boards/floor2", params={"token": body["token"]})
        other = await a.http.get("/api/v1/boards/default", params={"token": body["token"]})
        listed = (await a.http.get("/api/v1/boards/floor2/tokens", headers=ops)).json()
        elsewhere = (await a.http.get("/api/v1/boards/default/tokens", headers=ops)).json()
        wrong_board = await a.http.delete(f"/api/v1/boards/default/tokens/{body['id']}", headers=ops)
        revoked = await a.http.delete(f"/api/v1/boards/floor2/tokens/{body['id']}", headers=ops)
        after = await a.http.get("/api/v1/boards/floor2", params={"token": body["token"]})
        audit = await a.accounts.audit_entries(10)
    assert body["board"] == "floor2" and body["label"] == "lobby TV"
    assert body["url"] == f"{a.base}/tv/floor2?token={body['token']}&kiosk=1"
    assert body["qr"].startswith("data:image/svg+xml") and "<svg" in body["qr"].replace("%3C", "<")
    assert own.status_code == 200 and other.status_code == 403
    assert [token["id"] for token in listed] == [body["id"]] and "token" not in listed[0]
    assert [token["id"] for token in elsewhere if token["id"] == body["id"]] == []
    assert wrong_board.status_code == 404 and revoked.status_code == 204 and after.status_code == 401
    assert {"token.create", "token.revoke"} <= {entry["action"] for entry in audit}


async def test_board_tokens_need_manage_tokens_and_a_board(store: Store, site_file: Path) -> None:
    """A supervisor may not make, list or revoke board tokens (403); a token for a board that is not there is 404."""
    async with api(store, site_file=site_file) as a:
        sup, ops = a.headers[Role.SUPERVISOR], a.headers[Role.OPS]
        made = await a.http.post("/api/v1/boards/default/tokens", json={}, headers=sup)
        listed = await a.http.get("/api/v1/boards/default/tokens", headers=sup)
        missing = await a.http.post("/api/v1/boards/lobby/tokens", json={}, headers=ops)
    assert (made.status_code, listed.status_code, missing.status_code) == (403, 403, 404)
    assert [token for token in await a.accounts.list_tokens() if token.board == "lobby"] == []


async def test_a_display_tokens_url_uses_the_public_url_or_a_trusted_proxys_address(
    store: Store, site_file: Path
) -> None:
    """WALLBOARD_PUBLIC_URL starts the TV's URL (and its QR) when set, whatever the request says; without it the
    X-Forwarded-Proto/-Host of a trusted proxy do, and those of any other client are ignored."""
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "wall.example.net"}
    urls: dict[str, tuple[str, str, str]] = {}
    cases: dict[str, dict[str, Any]] = {
        "public": {"public_url": "https://tv.example.net/wallboard/"},
        "proxied": {"trusted_proxies": "127.0.0.1"},
        "direct": {},
    }
    for name, values in cases.items():
        async with api(store, site_file=site_file, users=not urls, **values) as a:  # the users: made once
            headers = {**await a.login("ops1"), **forwarded}
            made = await a.http.post("/api/v1/boards/default/tokens", json={}, headers=headers)
            assert made.status_code == 201, made.text
            urls[name] = made.json()["url"].partition("?")[0], made.json()["qr"], a.base
    assert urls["public"][0] == "https://tv.example.net/wallboard/tv/default"
    assert urls["proxied"][0] == "https://wall.example.net/tv/default"
    assert urls["direct"][0] == f"{urls['direct'][2]}/tv/default"
    assert urls["public"][1] != urls["direct"][1]  # the QR code holds the URL


@pytest.mark.parametrize("value", ["ftp://tv.example.net", "https://", "https://tv.example.net/?a=1", "tv.example"])
def test_a_public_url_that_is_not_one_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValidationError, match="WALLBOARD_PUBLIC_URL"):
        Settings(_env={"WALLBOARD_PUBLIC_URL": value})
