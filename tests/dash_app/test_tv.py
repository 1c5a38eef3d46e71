"""The TV board in a real headless Chromium: layout agreement, live deltas, STALE and recovery, auth, the demo.

The page renders in the browser from the websocket (``dash_app/tv_assets/tv.js``); these tests hold
it to the pure tile models of ``dash_app.layout`` for the same snapshot, and run it against the real
``wallboard demo`` (simulator, AMI collector, engine, Redis, API) for the screenshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect

from dash_app.layout import tile_models
from dash_app.tv import mount_tv_page
from wallboard.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.api.page import mount_board_page
from wallboard.config import Settings
from wallboard.deltas import diff
from wallboard.store import Store, connect
from wallboard.users import Passwords

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SITE = "paris"
WAIT_MS = 15_000
HD = {"width": 1920, "height": 1080}
UHD = {"width": 3840, "height": 2160}
# The DOM as the tile models describe it: per tile its queue, level and state text, per figure its texts and level.
READ_TILES = """() => [...document.querySelectorAll('#tv-tiles section')].map((t) => ({
  queue: t.dataset.queue, level: t.className.replace('tile lvl-', ''), state: t.querySelector('.state').textContent,
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
            "queue": tile.queue,
            "level": tile.level,
            "state": f"{tile.icon} {tile.word}",
            "kpis": [[k.key, k.label, k.text, k.level] for k in tile.kpis],
        }
        for tile in tile_models(snap, board, page)
    ]


class Publisher:
    """Plays the runner: writes the snapshot key, then publishes the delta from the previous publish."""

    def __init__(self, store: Store) -> None:
        self.store, self.seq = store, 0
        self.published: dict[str, Any] = {}

    async def publish(self, snap: dict[str, Any]) -> None:
        self.seq += 1
        full = {**snap, "seq": self.seq, "stream_id": f"{self.seq}-0"}
        await self.store.save_state(json.dumps(full), None, full["stream_id"], self.seq)
        changes = diff(self.published, full)
        await self.store.publish_delta({"type": "delta", "seq": self.seq, "base": self.seq - 1, "changes": changes})
        self.published = full


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site=SITE)
    await client.aclose()


@pytest.fixture
async def token(store: Store) -> str:
    made, _ = await Accounts(store, Hashing(Passwords.cheap())).create_token("default", "tv", actor="test")
    return made


@contextlib.asynccontextmanager
async def api(store: Store, port: int) -> AsyncIterator[str]:
    """The API with the TV page on a fixed port (so a test can stop it and start it again there)."""
    app = create_app(Settings(site=SITE, ws_heartbeat_s=1.0), store=store, ws_interval_s=0.05)
    mount_board_page(app)
    mount_tv_page(app)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws_per_message_deflate=False
    )
    async with serving(config, start_timeout_s=WAIT_MS / 1000) as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap (Debian package chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Browser, base: str, path: str, viewport: dict[str, int] = HD) -> Page:
    page = await browser.new_page(base_url=base, viewport=viewport)  # type: ignore[arg-type]
    page.set_default_timeout(WAIT_MS)
    await page.goto(path)
    return page


async def test_the_page_shows_the_tile_models_and_follows_deltas(browser: Browser, store: Store, token: str) -> None:
    """The browser shows exactly layout.tile_models() of the published snapshot (texts, levels, icons), and a
    delta's new figures replace them without a reload."""
    publisher = Publisher(store)
    await publisher.publish(snapshot(waiting=3))
    async with api(store, free_port()) as base:
        page = await open_page(browser, base, f"/?token={token}")  # the short URL moves on to /tv/default
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("3")
        assert page.url.endswith(f"/tv/default?token={token}")
        assert await page.evaluate(READ_TILES) == expected(snapshot(3), {})
        await page.evaluate("window.marker = 'no reload'")
        await publisher.publish(snapshot(waiting=17))
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("17")
        assert await page.evaluate(READ_TILES) == expected(snapshot(17), {})
        assert await page.evaluate("window.marker") == "no reload"


async def test_a_board_change_shows_without_a_reload(browser: Browser, store: Store, token: str) -> None:
    """A board stored in Redis picks its queues and figures; the page's periodic board read shows a new version."""
    await Publisher(store).publish(snapshot(waiting=3))
    board = {"title": "Floor 2", "queues": ["sales"], "groups": [], "tiles": ["waiting", "needed"], "pages": []}
    await store.write_board("floor2", {**board, "version": 1}, {"actor": "test"})
    async with api(store, free_port()) as base:
        page = await open_page(browser, base, f"/tv/floor2?token={token}&refresh=1")
        await expect(page.locator("#tv-title")).to_have_text("Floor 2")
        assert await page.evaluate(READ_TILES) == expected(snapshot(3), board)
        assert await page.locator('[data-kpi="needed"] .v').text_content() == "— / 9"
        await page.evaluate("window.marker = 'no reload'")
        changed = {**board, "title": "Floor 2 east", "queues": ["support", "sales"], "tiles": ["sl_day"]}
        await store.write_board("floor2", {**changed, "version": 2}, {"actor": "test"})
        await expect(page.locator("#tv-title")).to_have_text("Floor 2 east")
        assert await page.evaluate(READ_TILES) == expected(snapshot(3), changed)
        assert await page.evaluate("window.marker") == "no reload"


async def test_a_rotating_board_turns_its_pages(browser: Browser, store: Store, token: str) -> None:
    """A board with pages shows each page's queues in turn, as tile_models() of that page says."""
    await Publisher(store).publish(snapshot(waiting=3))
    pages = [{"title": "", "queues": ["support"], "seconds": 1}, {"title": "", "queues": ["sales"], "seconds": 1}]
    board = {"title": "Rotating", "queues": [], "groups": [], "tiles": ["waiting", "sl_day"], "pages": pages}
    await store.write_board("lobby", {**board, "version": 1}, {"actor": "test"})  # 1 s pages: under the API's 5 s
    async with api(store, free_port()) as base:
        page = await open_page(browser, base, f"/tv/lobby?token={token}")
        for shown in (0, 1, 0):
            want = expected(snapshot(3), board, shown)
            async with asyncio.timeout(WAIT_MS / 1000):
                while await page.evaluate(READ_TILES) != want:
                    await page.wait_for_timeout(50)


async def test_stale_within_six_seconds_and_recovery_without_reload(browser: Browser, store: Store, token: str) -> None:
    """Stopping the server shows STALE with the age within 6 s; starting it again clears it, with the new data,
    and the page was never reloaded."""
    publisher = Publisher(store)
    await publisher.publish(snapshot(waiting=3))
    port = free_port()
    async with api(store, port) as base:
        page = await open_page(browser, base, f"/tv/?token={token}")  # no board name: the default board
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("3")
        await expect(page.locator("#tv-stale")).to_be_hidden()
        await page.evaluate("window.marker = 'no reload'")
    await expect(page.locator("#tv-stale")).to_be_visible(timeout=6_000)
    await expect(page.locator("#tv-stale")).to_contain_text(re.compile(r"STALE — no data for \d+ s"))
    await publisher.publish(snapshot(waiting=5))
    async with api(store, port):
        await expect(page.locator("#tv-stale")).to_be_hidden()
        await expect(page.locator('[data-queue="support"] [data-kpi="waiting"] .v')).to_have_text("5")
        assert await page.evaluate("window.marker") == "no reload"


async def test_a_wrong_token_shows_not_authorised(browser: Browser, store: Store) -> None:
    """A wrong display token gets the "not authorised" page and no tiles."""
    await Publisher(store).publish(snapshot(waiting=3))
    async with api(store, free_port()) as base:
        page = await open_page(browser, base, "/tv/default?token=wrong")
        await expect(page.locator("#tv-denied")).to_be_visible()
        await expect(page.locator("#tv-denied")).to_contain_text("Not authorised")
        assert await page.locator("#tv-tiles section").count() == 0


async def read_state(page: Page) -> tuple[int | None, list[dict[str, Any]]]:
    seq, tiles = await page.evaluate(f"() => [window.wallboardTv.seq(), ({READ_TILES})()]")
    return seq, tiles


async def test_the_demo_on_a_tv(browser: Browser, tmp_path: Path) -> None:
    """Against `wallboard demo`: the board shows the simulator's numbers (same seq as /api/v1/queues, same
    figures), they change as events arrive, it fits 1920×1080 and 3840×2160 without scrolling, with values at
    least 6 % of the screen height; screenshots are saved (docs/wallboard-tv.png is the README's)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WALLBOARD_") and k.upper() != "REDIS_URL"}
    env |= {"WALLBOARD_SITE": SITE, "PYTHONUNBUFFERED": "1", "WALLBOARD_WS_HEARTBEAT_S": "1"}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wallboard.cli", "demo", "--port", str(free_port()), "--speed", "60",
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
        await page.screenshot(path=str(ROOT / "docs" / "wallboard-tv.png"))
        await assert_fits(page, HD)
        await page.set_viewport_size(UHD)  # type: ignore[arg-type]
        await assert_fits(page, UHD)
        await page.screenshot(path=str(tmp_path / "wallboard-tv-uhd.png"))
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
    assert figures(tiles) == figures(expected(rest, {}))
    assert [tile["queue"] for tile in tiles] == sorted(rest["queues"])


async def assert_fits(page: Page, viewport: dict[str, int]) -> None:
    """No scrolling, and the big values are at least 6 % of the screen height."""
    fit = await page.evaluate(
        """() => ({scroll: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth,
          inner: innerHeight, innerW: innerWidth,
          value: parseFloat(getComputedStyle(document.querySelector('.primary .v')).fontSize)})"""
    )
    assert fit["scroll"] <= fit["inner"] == viewport["height"], fit
    assert fit["width"] <= fit["innerW"], fit
    assert fit["value"] >= 0.06 * viewport["height"], fit
