"""The TV's message banner and alarm chime (``dash_app/tv_assets/banner.js``) in a real headless Chromium: a message
posted to a board shows on its TV within 2 s (pushed on the websocket: the REST fallback is slowed down to never)
and goes on DELETE; a tile entering alarm chimes once."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from browser import CHROMIUM
from playwright.async_api import Browser, Page, async_playwright, expect

from wallboard.admin.accounts import Accounts
from wallboard.core.users import Role
from wallboard.store import Store

pytestmark = pytest.mark.browser

SITE = "paris"  # conftest.SITE
PASSWORD = "correct horse battery"
BOARD = {"title": "Floor 1", "queues": ["sales"], "groups": [], "tiles": ["waiting"], "pages": [], "version": 1}
DELIVERY_MS = 2000
NO_POLL = "message_poll=3600"  # the banner's REST fallback read once, at load: a message must come on the socket
KIOSK_FLAGS = ["--autoplay-policy=no-user-gesture-required"]  # how the README starts a kiosk TV's Chromium


@pytest.fixture
async def kiosk_browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium started as a kiosk TV's: sound allowed without a user gesture."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap (Debian package chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=KIOSK_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


def snapshot(alarm: bool, waiting: int = 3) -> dict[str, Any]:
    alerts = [{"target": {"kind": "queue", "name": "sales"}, "metric": "waiting", "level": "alarm"}] if alarm else []
    queues = {"sales": {"name": "sales", "waiting": waiting}, "support": {"name": "support", "waiting": 1}}
    return {"site": SITE, "ts": "2024-01-01T09:00:00+00:00", "queues": queues, "agents": {}, "alerts": alerts}


async def login(http: httpx.AsyncClient, accounts: Accounts, name: str, role: Role) -> dict[str, str]:
    await accounts.add_user(name, role, PASSWORD, actor="test")
    response = await http.post("/api/v1/login", json={"name": name, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def open_tv(browser: Browser, base: str, path: str, queue: str = "sales") -> Page:
    page = await browser.new_page(base_url=base, viewport={"width": 1920, "height": 1080})
    page.set_default_timeout(15_000)
    await page.goto(path)
    await expect(page.locator(f'[data-queue="{queue}"]')).to_have_count(1)
    return page


async def test_a_message_reaches_its_boards_tv_within_two_seconds_and_goes_on_delete(
    browser: Browser, store: Store, accounts: Accounts, publisher: Any, serve: Any, port: int
) -> None:
    """A warn message posted to floor-1 shows on floor-1's TV within 2 s as text (markup shown, not run) with its
    word and glyph; floor-2's TV never gets it (it shows its own, posted after); DELETE takes it down within 2 s."""
    await publisher.publish(snapshot(alarm=False))
    await store.boards.write_board("floor-1", BOARD, {"actor": "test"})
    await store.boards.write_board("floor-2", {**BOARD, "queues": ["support"]}, {"actor": "test"})
    own, _ = await accounts.create_token("floor-1", "tv 1", actor="test")
    other, _ = await accounts.create_token("floor-2", "tv 2", actor="test")
    text = "Fire drill <b>at</b> 14:00"
    async with serve(port) as base, httpx.AsyncClient(base_url=base, timeout=10.0) as http:
        supervisor = await login(http, accounts, "sup1", Role.SUPERVISOR)
        page = await open_tv(browser, base, f"/tv/floor-1?token={own}&{NO_POLL}")
        elsewhere = await open_tv(browser, base, f"/tv/floor-2?token={other}&{NO_POLL}", queue="support")
        banner = page.locator("#tv-banner")
        body = {"text": text, "level": "warn", "expires_in_s": 600}
        posted = await http.post("/api/v1/boards/floor-1/message", json=body, headers=supervisor)
        assert posted.status_code == 200, posted.text
        started = time.monotonic()
        await expect(banner).to_be_visible(timeout=DELIVERY_MS)
        shown_after_s = time.monotonic() - started
        await expect(banner.locator(".wb-banner-text")).to_have_text(text)
        assert await banner.locator("b").count() == 0
        assert await banner.locator(".wb-banner-word").text_content() == "Warning"
        assert await banner.locator(".wb-banner-glyph").text_content() == "⚠"
        assert "lvl-warn" in (await banner.get_attribute("class") or "")
        # pushed after floor-1's on the same server: once floor-2's TV shows it, floor-1's would have come first
        lunch = {"text": "Lunch", "level": "info", "expires_in_s": 600}
        await http.post("/api/v1/boards/floor-2/message", json=lunch, headers=supervisor)
        await expect(elsewhere.locator("#tv-banner .wb-banner-text")).to_have_text("Lunch", timeout=DELIVERY_MS)
        assert await elsewhere.evaluate("wallboardClient.boardMessage('floor-1').message") is None
        cleared = await http.delete("/api/v1/boards/floor-1/message", headers=supervisor)
        assert cleared.status_code == 204
        started = time.monotonic()
        await expect(banner).to_be_hidden(timeout=DELIVERY_MS)
        hidden_after_s = time.monotonic() - started
    assert shown_after_s < DELIVERY_MS / 1000 and hidden_after_s < DELIVERY_MS / 1000


async def test_a_message_hides_at_its_expiry_by_the_pages_clock(
    browser: Browser, store: Store, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """A message pushed with 1.5 s left hides when they run out by the page's clock, although Redis keeps it for
    30 s and nothing more is pushed or read (the server sends nothing when a message expires)."""
    await publisher.publish(snapshot(alarm=False))
    await store.boards.write_board("floor-1", BOARD, {"actor": "test"})
    async with serve(port) as base:
        page = await open_tv(browser, base, f"/tv/floor-1?token={token}&{NO_POLL}")
        expires = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
        message = {"text": "short", "level": "info", "posted_ts": "t", "expires_ts": expires}
        await store.boards.write_message("floor-1", message, 30, {"actor": "test"})
        banner = page.locator("#tv-banner")
        await expect(banner).to_be_visible(timeout=DELIVERY_MS)
        assert await banner.locator(".wb-banner-word").text_content() == "Notice"
        await expect(banner).to_be_hidden(timeout=2500)
        kept = await store.boards.get_message("floor-1")
    assert kept is not None and json.dumps(kept) == json.dumps(message)


async def test_a_tile_entering_alarm_chimes_once_on_a_kiosk_tv(
    kiosk_browser: Browser, store: Store, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """On a kiosk board with sound, a tile turning to alarm plays one chime (window.wbSound.played) with no click;
    further updates that keep it in alarm play none; a board without sound never chimes."""
    await publisher.publish(snapshot(alarm=False))
    await store.boards.write_board("floor-1", {**BOARD, "sound": True, "kiosk": True}, {"actor": "test"})
    await store.boards.write_board("quiet", BOARD, {"actor": "test"})
    async with serve(port) as base:
        page = await open_tv(kiosk_browser, base, f"/tv/floor-1?token={token}")
        quiet = await open_tv(kiosk_browser, base, f"/tv/quiet?token={token}")
        await page.wait_for_function("window.wbSound.state() === 'running'")
        assert not await page.locator(".wb-sound-hint").is_visible()
        assert await page.evaluate("window.wbSound.played") == 0
        await publisher.publish(snapshot(alarm=True))
        await expect(page.locator('[data-queue="sales"]')).to_have_class(re.compile(r"\blvl-alarm\b"))
        await page.wait_for_function("window.wbSound.played === 1")
        seq = await page.evaluate("window.wallboardTv.seq()")
        await publisher.publish(snapshot(alarm=True, waiting=9))
        await expect(page.locator('[data-queue="sales"] [data-kpi="waiting"] .v')).to_have_text("9")
        await page.wait_for_function(f"window.wallboardTv.seq() > {seq + 1}")  # and a refresh of the runner
        await expect(quiet.locator('[data-queue="sales"]')).to_have_class(re.compile(r"\blvl-alarm\b"))
        assert await page.evaluate("window.wbSound.played") == 1
        assert await quiet.evaluate("[window.wbSound.enabled(), window.wbSound.played]") == [False, 0]


async def test_without_kiosk_the_tv_asks_for_a_gesture_before_it_chimes(
    browser: Browser, store: Store, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """A browser that needs a user gesture: the hint shows, the chime is held back (counted as blocked) until a
    click, after which the hint goes and a tile entering alarm chimes."""
    await publisher.publish(snapshot(alarm=False))
    await store.boards.write_board("floor-1", {**BOARD, "sound": True}, {"actor": "test"})
    async with serve(port) as base:
        page = await open_tv(browser, base, f"/tv/floor-1?token={token}")
        hint = page.locator(".wb-sound-hint")
        await expect(hint).to_be_visible()
        assert await page.evaluate("window.wbSound.chime()") is False
        await page.mouse.click(10, 10)
        await page.wait_for_function("window.wbSound.state() === 'running'")
        await expect(hint).to_be_hidden()
        await publisher.publish(snapshot(alarm=True))
        await page.wait_for_function("window.wbSound.played === 1")
        assert await page.evaluate("window.wbSound.blocked") == 1
