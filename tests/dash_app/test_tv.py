"""The TV board in a real headless Chromium: layout agreement, live deltas, STALE and recovery, auth, the demo.

The page renders in the browser (``dash_app/tv_assets/tv.js``) from the websocket client it shares with the
supervisor page (``wallboard-client.js``); these tests hold it to the pure tile models of ``dash_app.layout`` for
the same snapshot, and run it against the real ``wallboard demo`` (simulator, AMI collector, engine, Redis, API)
for the screenshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import HD, WAIT_MS, new_page, screenshot_path
from playwright.async_api import Browser, Page, ViewportSize, expect
from stale_watch import RECOVERY_WAIT_MS, STALE_PROMISE_S, STALE_WAIT_MS, record_frames, stale_after_s, watch_banner

from dash_app.i18n import catalog
from dash_app.layout import tile_models
from wallboard.admin.accounts import Accounts
from wallboard.core.boards import default_board
from wallboard.core.users import Role
from wallboard.store import Store

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = "paris"  # conftest.SITE
PASSWORD = "correct horse battery"
UHD: ViewportSize = {"width": 3840, "height": 2160}
# The DOM as the tile models describe it: per tile its queue, title, badge, level and state text, per figure its
# texts and level.
READ_TILES = """() => [...document.querySelectorAll('#tv-tiles section')].map((t) => ({
  kind: t.dataset.kind, name: t.dataset.name, channel: t.dataset.channel || '',
  title: t.querySelector('.title .name').textContent,
  badge: t.querySelector('.title .badge').textContent,
  level: t.className.replace(`tile ${t.dataset.kind} lvl-`, ''), state: t.querySelector('.state').textContent,
  kpis: [...t.querySelectorAll('[data-kpi]')].map((k) => [k.dataset.kpi, k.querySelector('.l').textContent,
    k.querySelector('.v').textContent, k.className.replace('kpi lvl-', '')])}))"""


def queue(name: str, waiting: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "group": "care",
        "sl_threshold_s": 20,
        "sl_target_pct": 80,
        "waiting": waiting,
        "longest_wait_s": 75.4,
        "interval": {"service_level_pct": 72.5, "asa_s": 9.0, "aht_s": 250.0, "abandon_rate_pct": 4.4},
        "day": {"service_level_pct": 88.0, "asa_s": 7.0, "aht_s": 240.0, "abandon_rate_pct": 3.0},
        "agents": {"logged_in": 9, "available": 2, "ringing": 0, "on_call": 6, "wrap_up": 1, "paused": 0},
        "required_agents": 8,
        **extra,
    }


def snapshot(waiting: int) -> dict[str, Any]:
    alerts = [
        {"target": {"kind": "queue", "name": "support"}, "metric": "service_level_pct", "level": "warn"},
        {"target": {"kind": "queue", "name": "sales"}, "metric": "waiting", "level": "alarm"},
    ]
    queues = {"support": queue("support", waiting), "sales": queue("sales", 12, required_agents=None)}
    return {"site": SITE, "ts": "2024-01-01T09:00:00+00:00", "queues": queues, "agents": {}, "alerts": alerts}


def expected(snap: dict[str, Any], board: dict[str, Any], page: int = 0) -> list[dict[str, Any]]:
    """The pure tile models in the shape READ_TILES reads."""
    return [
        {
            "kind": tile.kind,
            "name": tile.name,
            "channel": tile.channel,
            "title": tile.title,
            "badge": tile.badge,
            "level": tile.level,
            "state": f"{tile.icon} {tile.word}",
            "kpis": [[k.key, k.label, k.text, k.level] for k in tile.kpis],
        }
        for tile in tile_models(snap, board, page)
    ]


async def open_page(browser: Browser, base: str, path: str, viewport: ViewportSize = HD) -> Page:
    page = await new_page(browser, base, viewport=viewport)
    await record_frames(page)
    await page.goto(path)
    return page


async def test_the_page_shows_the_tile_models_and_follows_deltas(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """The browser shows exactly layout.tile_models() of the published snapshot (texts, levels, icons), and a
    delta's new figures replace them without a reload."""
    await publisher.publish(snapshot(waiting=3))
    async with serve(port) as base:
        page = await open_page(browser, base, f"/?token={token}")  # the short URL moves on to /tv/default
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("3")
        assert page.url.endswith(f"/tv/default?token={token}")
        assert await page.evaluate(READ_TILES) == expected(snapshot(3), {})
        await page.evaluate("window.marker = 'no reload'")
        await publisher.publish(snapshot(waiting=17))
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("17")
        assert await page.evaluate(READ_TILES) == expected(snapshot(17), {})
        assert await page.evaluate("window.marker") == "no reload"


async def test_a_board_change_shows_without_a_reload(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """A board stored in Redis picks its queues and figures; the page's periodic board read shows a new version."""
    await publisher.publish(snapshot(waiting=3))
    board = {"title": "Floor 2", "queues": ["sales"], "groups": [], "tiles": ["waiting", "needed"], "pages": []}
    await store.boards.write_board("floor2", {**board, "version": 1}, {"actor": "test"})
    async with serve(port) as base:
        page = await open_page(browser, base, f"/tv/floor2?token={token}&refresh=1")
        await expect(page.locator("#tv-title")).to_have_text("Floor 2")
        assert await page.evaluate(READ_TILES) == expected(snapshot(3), board)
        assert await page.locator('[data-kpi="needed"] .v').text_content() == "— / 9"
        await page.evaluate("window.marker = 'no reload'")
        changed = {**board, "title": "Floor 2 east", "queues": ["support", "sales"], "tiles": ["sl_day"]}
        await store.boards.write_board("floor2", {**changed, "version": 2}, {"actor": "test"})
        await expect(page.locator("#tv-title")).to_have_text("Floor 2 east")
        assert await page.evaluate(READ_TILES) == expected(snapshot(3), changed)
        assert await page.evaluate("window.marker") == "no reload"


def grouped_snapshot() -> dict[str, Any]:
    """Two queues of group care (different thresholds), one of revenue, agents in several queues, and the teams'
    adherence figures (the shape the engine publishes) with an adherence alert on one agent of team blue."""
    support = queue("support", 3, required_agents=4)
    support["interval"] |= {"offered": 10, "answered": 8, "abandoned": 2, "short_abandoned": 1}
    support["interval"] |= {"answered_within_sl": 6, "service_level_pct": 100 * 6 / 9}
    billing = queue("billing", 2, sl_threshold_s=30, required_agents=None, longest_wait_s=80.0)
    billing["interval"] |= {"offered": 5, "answered": 5, "answered_within_sl": 2, "service_level_pct": 40.0}
    sales = queue("sales", 12, group="revenue")
    webchat = queue("webchat", 4, group="revenue", channel="chat", required_agents=None)  # never summed with sales
    webchat["interval"] |= {"responded": 6, "first_response_s": 93.0, "first_response_unknown": 1}
    agents = {
        "a1": {"id": "a1", "team": "blue", "state": "on_call", "queues": ["billing", "support"], "paused_queues": []},
        "a2": {"id": "a2", "team": "blue", "state": "paused", "queues": ["billing"], "paused_queues": ["billing"]},
        "a3": {"id": "a3", "team": "red", "state": "available", "queues": ["sales"], "paused_queues": []},
        "a4": {"id": "a4", "team": "red", "state": "available", "queues": ["webchat"], "paused_queues": [],
               "channels": {"chat": {"open": 3, "capacity": 3, "concurrency_pct": 100.0, "state": "busy"}}},
    }  # fmt: skip
    adherence = {"adherence_pct": 87.4, "conformance_pct": 101.2, "scheduled_now": 14, "out_now": 2, "minutes_late": 7}
    teams = {"blue": {"agents": {}, "adherence": adherence}, "red": {"agents": {}, "adherence": None}}
    alerts = [
        {"target": {"kind": "queue", "name": "billing"}, "metric": "waiting", "level": "warn"},
        {"target": {"kind": "agent", "name": "a2"}, "metric": "adherence_pct", "level": "alarm"},
    ]
    queues = {"support": support, "billing": billing, "sales": sales, "webchat": webchat}
    return {"site": SITE, "ts": "2024-01-01T09:00:00+00:00", "queues": queues, "agents": agents, "teams": teams,
            "alerts": alerts}  # fmt: skip


async def put_board(http: httpx.AsyncClient, user: str, board: dict[str, Any]) -> httpx.Response:
    login = await http.post("/api/v1/login", json={"name": user, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    return await http.put("/api/v1/boards/groups", json=board, headers=headers)


async def test_group_and_team_tiles(
    browser: Browser, token: str, publisher: Any, serve: Any, port: int, accounts: Accounts
) -> None:
    """A board with group_tiles and team_tiles (written through the API: MANAGE_BOARDS, so ops but not a
    supervisor; an unknown team is 422) shows one combined tile per group (sums, agents once) and one adherence
    tile per team, exactly as tile_models() computes them; a group of voice and chat queues has one tile per
    channel (three calls and two chats waiting are not five of anything), the chat one with the chat figures; a
    screenshot is saved."""
    snap = grouped_snapshot()
    await publisher.publish(snap)
    await accounts.add_user("ops1", Role.OPS, PASSWORD, actor="test")
    await accounts.add_user("sup1", Role.SUPERVISOR, PASSWORD, actor="test")
    board = {"title": "Groups", "group_tiles": True, "team_tiles": True}
    async with serve(port) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await put_board(http, "sup1", board)).status_code == 403
            ghost = await put_board(http, "ops1", {**board, "teams": ["blue", "ghost"]})
            assert ghost.status_code == 422 and ghost.json()["detail"][0]["field"] == "teams[1]"
            stored = await put_board(http, "ops1", board)
            assert stored.status_code == 200, stored.text
        board = stored.json()
        page = await open_page(browser, base, f"/tv/groups?token={token}")
        await expect(page.locator('[data-group="care"] [data-kpi="waiting"] .v')).to_have_text("5")
        shown = await page.evaluate(READ_TILES)
        assert shown == expected(snap, board)
        assert [(t["kind"], t["name"], t["channel"], t["badge"]) for t in shown] == [
            ("group", "care", "voice", ""),
            ("group", "revenue", "voice", ""),
            ("group", "revenue", "chat", "Chat"),
            ("team", "blue", "", ""),
            ("team", "red", "", ""),
        ]
        chat = {kpi[0]: kpi[1:] for kpi in shown[2]["kpis"]}
        assert chat["waiting"][1] == "4" and chat["first_response"][1] == "18s"  # 93 s over 5 known: 18.6
        assert chat["on_call"][:2] == ["At capacity", "1"] and "needed" not in chat
        assert {kpi[0]: kpi[1:] for kpi in shown[1]["kpis"]}["waiting"][1] == "12"
        care = {kpi[0]: kpi[1:] for kpi in shown[0]["kpis"]}
        assert care["sl_interval"] == [
            "SL interval",
            "57%",
            "ok",
        ]  # 8 of 14 from the summed counters (no interval length in this snapshot)
        assert care["needed"][1] == "4 / 2" and shown[0]["level"] == "warn"  # a1 counted once
        blue = {kpi[0]: kpi[1:] for kpi in shown[3]["kpis"]}
        assert blue["adherence"] == ["Adherence", "87%", "alarm"] and blue["out_now"][1] == "2 / 14"
        await assert_fits(page, HD)
        await page.screenshot(path=screenshot_path("wallboard-tv-groups.png"))


# A German catalog for a test (the real ones are filled by translators): longer words, placeholders kept.
GERMAN = {
    "Waiting": "Wartende Anrufer",
    "WARN": "WARNUNG",
    "ALARM": "ALARM",
    "SL {minutes} min": "SL {minutes} Min.",
    "{group} · {n} queue": ["{group} · {n} Warteschlange", "{group} · {n} Warteschlangen"],
    "data {age}": "Daten {age}",
    "{seconds} s ago": "vor {seconds} s",
    "Not authorised": "Nicht berechtigt",
}
# i18n-catalogs.js assigns window.WB_CATALOGS; this keeps the test's German under whatever it assigns.
WITH_GERMAN = """(german) => { let built = {};
  Object.defineProperty(window, 'WB_CATALOGS', { configurable: true,
    get: () => ({ ...built, de: { ...(built.de || {}), ...german } }), set: (value) => { built = value; } }); }"""
# The messages the page asks for, in the language it shows (none translated: each is recorded as missing).
ASKED = {
    "Waiting", "SL today", "Need / staffed", "OK", "WARN", "ALARM", "{level} in {time}", "data {age}",
    "{seconds} s ago", "{seconds} s", "STALE — no data for {age}", "Not authorised",
    "This display token is missing, wrong or revoked.", "Sound is on for this board: click or press a key to allow it",
}  # fmt: skip


async def test_the_tv_speaks_its_boards_language(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """The board's language is the TV's (``?lang=`` wins over it; a new one applies at the next board read, without
    a reload), shown in ``<html lang>``; every text of the page goes through the translations (with a language
    the Finnish catalog has, none missing), and with a catalog the labels,
    words, headings and the data's age show translated, numbers in the language's format, the board still fitting."""
    snap = snapshot(waiting=3)
    snap["interval"] = {"minutes": 15}
    snap["queues"]["support"]["sl_target_pct"] = 80.5
    await publisher.publish(snap)
    board = {"title": "Floor 2", "queues": ["support", "sales"], "groups": [], "tiles": [], "pages": []}
    await store.boards.write_board("floor2", {**board, "language": "fi", "version": 1}, {"actor": "test"})
    async with serve(port) as base:
        page = await open_page(browser, base, f"/tv/floor2?token={token}&refresh=1")
        await expect(page.locator("html")).to_have_attribute("lang", "fi")
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("3")
        await expect(page.locator('[data-queue="support"] [data-kpi="sl_day"] .l')).to_have_text(
            f"{catalog('fi')['SL today']} 80,5/20"
        )
        await expect(page.locator("#tv-data")).to_have_text(re.compile(r"\d"))  # the age drawn: its texts asked for
        assert await page.evaluate("[...window.wbI18n.missing]") == []  # the Finnish catalog has every text
        assert ASKED <= set(catalog("fi"))
        await page.evaluate("window.marker = 'no reload'")
        await store.boards.write_board("floor2", {**board, "language": "en", "version": 2}, {"actor": "test"})
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator('[data-queue="support"] [data-kpi="sl_day"] .l')).to_have_text("SL today 80.5/20")
        assert await page.evaluate("window.marker") == "no reload"

        german = await new_page(browser, base)
        await german.add_init_script(script=f"({WITH_GERMAN})({json.dumps(GERMAN)})")
        await german.goto(f"/tv/floor2?token={token}&lang=de")  # ?lang= wins over the board's
        await expect(german.locator("html")).to_have_attribute("lang", "de")
        support = german.locator('[data-queue="support"]')
        await expect(support.locator('[data-kpi="waiting"] .l')).to_have_text("Wartende Anrufer")
        await expect(support.locator(".state")).to_have_text("▲ WARNUNG")
        await expect(support.locator('[data-kpi="sl_interval"] .l')).to_have_text("SL 15 Min. 80,5/20")
        await expect(german.locator("#tv-data")).to_have_text(re.compile(r"^Daten vor \d+ s$"))
        assert await german.locator("#tv-denied h1").text_content() == "Nicht berechtigt"
        await assert_fits(german, HD)


def channels_snapshot() -> dict[str, Any]:
    """A voice queue, a chat queue (display name, first response, agents at capacity) and two outbound campaigns,
    one over its legal limit, the other with a drop-rate warn open and an alarm pending."""
    chat = queue("chat", 2, channel="chat", display_name="Web chat", group=None, required_agents=3)
    chat["interval"] |= {"avg_first_response_s": 47.0}
    chat["agents"] = {"logged_in": 4, "available": 1, "ringing": 0, "on_call": 3, "wrap_up": 0, "paused": 0}
    today = {"attempts": 310, "connects": 121, "live": 124, "dropped": 3, "connect_rate_pct": 41.3, "avg_talk_s": 96.0}
    renewals = {"name": "renewals", "display_name": "Renewals", "configured": True, "regulator": "ofcom",
                "window_h": 24.0, "limit_pct": 3.0, "drop_rate_pct": 3.25, "over_limit": True,
                "window": {"drop_rate_pct": 3.25, "live": 400, "dropped": 13}, "today": today}  # fmt: skip
    winback = {**renewals, "name": "winback", "display_name": None, "regulator": "fcc", "window_h": 720.0,
               "drop_rate_pct": 2.54, "over_limit": False, "window": {"drop_rate_pct": 2.54}}  # fmt: skip
    due = "2024-01-01T09:05:00+00:00"
    alerts = [{"target": {"kind": "campaign", "name": "winback"}, "metric": "campaign_drop_rate_pct", "level": "warn"}]
    pending = [{"target": {"kind": "campaign", "name": "winback"}, "metric": "campaign_drop_rate_pct",
                "level": "alarm", "due": due}]  # fmt: skip
    return {"site": SITE, "ts": "2024-01-01T09:00:00+00:00", "interval": {"minutes": 15},
            "queues": {"support": queue("support", 3), "chat": chat}, "agents": {}, "alerts": alerts,
            "pending": pending, "campaigns": {"renewals": renewals, "winback": winback}}  # fmt: skip


async def test_channels_and_campaigns_on_the_default_board(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """The default board (none stored) shows a chat queue with its badge and its own figures and a tile per
    campaign, exactly as tile_models() computes them: over the limit says so in words; the board still fits. In
    Czech a group's heading takes the language's plural form (2-4: "fronty"), and the badges are translated; a board
    of voice and chat leaves the email queues out, on their own tiles and in their group's, as tile_models() does."""
    snap = channels_snapshot()
    await publisher.publish(snap)
    async with serve(port) as base:
        page = await open_page(browser, base, f"/tv/default?token={token}")
        await expect(page.locator('[data-campaign="renewals"] .badge')).to_have_text("OVER LIMIT")
        shown = await page.evaluate(READ_TILES)
        assert shown == expected(snap, default_board())
        chat = shown[0]
        assert (chat["name"], chat["title"], chat["badge"]) == ("chat", "Web chat", "Chat")
        assert [k[:3] for k in chat["kpis"] if k[0] in ("first_response", "on_call")] == [
            ["first_response", "First response", "47s"],
            ["on_call", "At capacity", "3"],
        ]
        renewals, winback = shown[2], shown[3]
        assert (renewals["state"], renewals["kpis"][0]) == (
            "■ ALARM",
            ["drop_rate", "Dropped 24 h", "3.3% / 3%", "alarm"],
        )
        assert (winback["title"], winback["badge"], winback["state"]) == ("winback", "", "▲ WARN")
        assert winback["kpis"][0][1:3] == ["Dropped 30 d", "2.5% / 3%"]
        await expect(page.locator('[data-campaign="winback"] .pending')).to_have_text(re.compile(r"^□ ALARM "))
        await assert_fits(page, HD)
        await page.screenshot(path=screenshot_path("wallboard-tv-channels.png"))

        grouped = {**default_board(), "group_tiles": True, "channels": ["voice", "chat"]}
        await store.boards.write_board("groups", {**grouped, "version": 1}, {"actor": "test"})
        czech = await open_page(browser, base, f"/tv/groups?token={token}&lang=cs")
        await expect(czech.locator('[data-group="care"] .title .name')).to_have_text("care · 1 fronta")
        emails = {"mail": queue("mail", 5, channel="email"), "inbox": queue("inbox", 4, channel="email", group=None)}
        wider = {**snap, "queues": {**snap["queues"], "billing": queue("billing", 1), **emails}}
        await publisher.publish(wider)
        await expect(czech.locator('[data-group="care"] .title .name')).to_have_text("care · 2 fronty")  # not mail
        tiles = [(t["kind"], t["name"], t["kpis"][0][2]) for t in await czech.evaluate(READ_TILES)]
        assert [tile[:2] for tile in tiles] == [(t.kind, t.name) for t in tile_models(wider, grouped)]
        assert tiles[:2] == [("group", "care", "4"), ("queue", "chat", "2")]  # 3 + 1 waiting; no inbox tile
        await expect(czech.locator('[data-queue="chat"] .badge')).to_have_text(catalog("cs")["Chat"])
        await expect(czech.locator('[data-campaign="renewals"] .badge')).to_have_text(catalog("cs")["OVER LIMIT"])
        assert await czech.evaluate("[...window.wbI18n.missing]") == []


async def test_a_rotating_board_turns_its_pages(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """A board with pages shows each page's queues in turn, as tile_models() of that page says."""
    await publisher.publish(snapshot(waiting=3))
    pages = [{"title": "", "queues": ["support"], "seconds": 1}, {"title": "", "queues": ["sales"], "seconds": 1}]
    board = {"title": "Rotating", "queues": [], "groups": [], "tiles": ["waiting", "sl_day"], "pages": pages}
    await store.boards.write_board(
        "lobby", {**board, "version": 1}, {"actor": "test"}
    )  # 1 s pages: under the API's 5 s
    async with serve(port) as base:
        page = await open_page(browser, base, f"/tv/lobby?token={token}")
        for shown in (0, 1, 0):
            want = expected(snapshot(3), board, shown)
            async with asyncio.timeout(WAIT_MS / 1000):
                while await page.evaluate(READ_TILES) != want:
                    await page.wait_for_timeout(50)


async def test_stale_within_six_seconds_and_recovery_without_reload(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """Stopping the server shows STALE with the age within 6 s; starting it again clears it, with the new data,
    and the page was never reloaded."""
    await publisher.publish(snapshot(waiting=3))
    async with serve(port) as base:
        page = await open_page(browser, base, f"/tv/?token={token}")  # no board name: the default board
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("3")
        await expect(page.locator("#tv-stale")).to_be_hidden()
        await page.evaluate("window.marker = 'no reload'")
        await watch_banner(page, "#tv-stale")
    await expect(page.locator("#tv-stale")).to_be_visible(timeout=STALE_WAIT_MS)
    assert await stale_after_s(page) <= STALE_PROMISE_S
    await expect(page.locator("#tv-stale")).to_contain_text(re.compile(r"STALE — no data for \d+ s"))
    await publisher.publish(snapshot(waiting=5))
    async with serve(port):
        await expect(page.locator("#tv-stale")).to_be_hidden(timeout=RECOVERY_WAIT_MS)
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("5")
        assert await page.evaluate("window.marker") == "no reload"


async def test_a_wrong_token_shows_not_authorised(browser: Browser, publisher: Any, serve: Any, port: int) -> None:
    """A wrong display token gets the "not authorised" page and no tiles."""
    await publisher.publish(snapshot(waiting=3))
    async with serve(port) as base:
        page = await open_page(browser, base, "/tv/default?token=wrong")
        await expect(page.locator("#tv-denied")).to_be_visible()
        await expect(page.locator("#tv-denied")).to_contain_text("Not authorised")
        assert await page.locator("#tv-tiles section").count() == 0


async def read_state(page: Page) -> tuple[int | None, list[dict[str, Any]]]:
    seq, tiles = await page.evaluate(f"() => [window.wallboardTv.seq(), ({READ_TILES})()]")
    return seq, tiles


async def test_the_demo_on_a_tv(browser: Browser, port: int) -> None:
    """Against `wallboard demo`: the board shows the simulator's numbers (same seq as /api/v1/queues, same
    figures), they change as events arrive, it fits 1920×1080 and 3840×2160 without scrolling, with values at
    least 6 % of the screen height; screenshots are saved under build/screenshots (scripts/screenshot copies
    wallboard-tv.png to docs/, the README's)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WALLBOARD_") and k.upper() != "REDIS_URL"}
    env |= {"WALLBOARD_SITE": SITE, "PYTHONUNBUFFERED": "1", "WALLBOARD_WS_HEARTBEAT_S": "1"}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wallboard.cli", "demo", "--port", str(port), "--speed", "60",
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        async with asyncio.timeout(45):
            url = (await demo.stdout.readline()).decode().strip()
        base, token = re.fullmatch(r"(http://[\d.]+:\d+)/\?token=([\w-]+)", url).groups()  # type: ignore[union-attr]
        page = await open_page(browser, base, f"/tv/default?token={token}")
        await expect(page.locator('[data-kpi="waiting"] .v').first).not_to_have_text("—")
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            await agree_with_rest(page, http)
        _, before = await read_state(page)
        async with asyncio.timeout(WAIT_MS / 1000):  # events keep arriving: the figures change
            while await figures_of(page) == figures(before):
                await page.wait_for_timeout(50)
        with contextlib.suppress(TimeoutError):  # a README picture with traffic in most queues, if it comes soon
            async with asyncio.timeout(25):
                while "—" in await page.locator('[data-kpi="sl_day"] .v').all_text_contents():
                    await page.wait_for_timeout(200)
        await page.screenshot(path=screenshot_path("wallboard-tv.png"))  # scripts/screenshot copies it to docs/
        await assert_fits(page, HD)
        await page.set_viewport_size(UHD)
        await assert_fits(page, UHD)
        await page.screenshot(path=screenshot_path("wallboard-tv-uhd.png"))
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await demo.wait()


def figures(tiles: list[dict[str, Any]]) -> list[list[str]]:
    return [[kpi[2] for kpi in tile["kpis"]] for tile in tiles]


async def figures_of(page: Page) -> list[list[str]]:
    return figures((await read_state(page))[1])


async def agree_with_rest(page: Page, http: httpx.AsyncClient) -> None:
    """Wait until the page and /api/v1/queues hold the same seq, then their figures must be the same."""
    async with asyncio.timeout(WAIT_MS / 1000):
        while True:
            response = (await http.get("/api/v1/queues")).json()
            seq, tiles = await read_state(page)
            if seq == response["seq"]:
                break
    rest = {"queues": {q["name"]: q for q in response["queues"]}}
    board = (await http.get("/api/v1/boards/default")).json()  # the demo's: ten figures, and its campaign
    queues = [tile for tile in tiles if tile["kind"] == "queue"]
    assert figures(queues) == figures(expected(rest, {**board, "campaign_tiles": False}))
    assert [tile["name"] for tile in queues] == sorted(rest["queues"])
    assert [tile["kind"] for tile in tiles[len(queues) :]] == ["campaign"]


async def assert_fits(page: Page, viewport: ViewportSize) -> None:
    """No scrolling, and the big values are at least 6 % of the screen height."""
    fit = await page.evaluate(
        """() => ({scroll: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
          inner: innerHeight, innerW: innerWidth,
          value: parseFloat(getComputedStyle(document.querySelector('.primary .v')).fontSize)})"""
    )
    assert fit["scroll"] <= fit["inner"] == viewport["height"], fit
    assert fit["width"] <= fit["innerW"], fit
    assert fit["value"] >= 0.06 * viewport["height"], fit
