"""The TV readable in every part: every text of the demo's boards measured in a real Chromium at four
screens (1080p, 4K, 720p, portrait 1080x1920), no text overflowing its box, the agents by state adding up, and a
threshold breached inside its for_s shown as pending with the time left.

Sizes are measured against the screen's short side (its height on a landscape TV, its width on a portrait one):
headline figures >= 6 %, secondary figures >= 3.5 %, any text >= 2.2 % (24 px at 1080p). Screenshots of each
board at each size go to /tmp/tv-shots/ (and build/screenshots/).

Longer languages must fit too: the adherence board is loaded again at 1080p in Czech, German and Finnish
(``?lang=``), the page saying so in ``<html lang>``; and both boards, already open, are switched to every shipped
language in turn (``wbI18n.setLanguage``: no page load) and measured with the language's widest pending cue
("△ WARN in 00:00", or the short "△ 00:00" where tv.js chose it) in every tile, which tv.js keeps room for whether
or not a threshold is pending at that moment. The demo's own cues come and go; these do not.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import WAIT_MS, new_page, screenshot_path
from playwright.async_api import Browser, Page, ViewportSize, expect

from dash_app.i18n import TRANSLATED
from dash_app.layout import tile_models

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = "paris"  # conftest.SITE
SHOTS = Path("/tmp/tv-shots")
SCREENS: dict[str, ViewportSize] = {
    "1080p": {"width": 1920, "height": 1080},
    "4k": {"width": 3840, "height": 2160},
    "720p": {"width": 1280, "height": 720},
    "portrait": {"width": 1080, "height": 1920},
}
TEXT_MIN, HEADLINE_MIN, SECONDARY_MIN = 0.022, 0.06, 0.035  # of the screen's short side
# The full matrix (every language at every screen) with WALLBOARD_FULL_MATRIX=1 (the README's command); by default
# three of the longest languages at 1080p, every language being checked for its texts by test_i18n_pages.py.
FULL_MATRIX = os.environ.get("WALLBOARD_FULL_MATRIX") == "1"
LANGUAGES = TRANSLATED if FULL_MATRIX else ("cs", "de", "fi")
# loaded with ?lang= (the default board is measured in every language by switching the open page: CUES)
LANGUAGE_BOARDS = ("default", "adherence") if FULL_MATRIX else ("adherence",)
# Every visible piece of text on the page (an element with a text node of its own, or a ::before/::after glyph):
# its font size and its glyphs' (a level's glyph is half a figure's size: held to the floor of any text), whether it
# overflows its box, whether it leaves its tile, and what it is.
MEASURE = """() => {
  const out = [], visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
    && getComputedStyle(el).visibility !== 'hidden'; };
  for (const el of document.querySelectorAll('#tv-root *')) {
    if (!visible(el)) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const glyphs = ['::before', '::after'].map((p) => getComputedStyle(el, p))
      .filter((s) => s.content && s.content !== 'none' && s.content !== 'normal' && s.content !== '""');
    if (!own && !glyphs.length) continue;
    const tile = el.closest('section.tile'), r = el.getBoundingClientRect(), t = tile && tile.getBoundingClientRect();
    out.push({
      text: el.textContent.trim().slice(0, 40), cls: el.className, kpi: el.parentElement.dataset.kpi || null,
      box: el.parentElement.parentElement.className, tile: tile ? tile.dataset.name : null,
      size: parseFloat(getComputedStyle(el).fontSize),
      glyph: glyphs.length ? Math.min(...glyphs.map((s) => parseFloat(s.fontSize))) : null,
      overflow: own && el.scrollWidth > el.clientWidth + 0.5 && getComputedStyle(el).display !== 'inline',
      outside: Boolean(t) && (r.right > t.right + 0.5 || r.bottom > t.bottom + 0.5 || r.left < t.left - 0.5),
      offscreen: r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5,
    });
  }
  return {texts: out, scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight]};
}"""
# Every tile given the widest pending cue of the page's language, as tv.js would write it (the full or the short
# form, whichever its fit chose), in one task with the measuring: the page's next render puts back its own.
CUES = """() => {
  const cat = JSON.parse(document.getElementById('tv-root').dataset.catalogue), t = window.wbI18n.t;
  const times = ['0:00', '00:00', t('{seconds}s', {seconds: '00'})];
  for (const tile of document.querySelectorAll('#tv-tiles section.tile')) {
    const cue = tile.querySelector('.pending'), widths = [];
    for (const [level, icon] of Object.entries(cat.pending_icons)) {
      const word = t(cat.words[level]);
      const texts = tile.dataset.cue === 'short' ? times
        : [t(cat.pending_now, {level: word}), ...times.map((time) => t(cat.pending_in, {level: word, time}))];
      for (const text of texts) {
        cue.textContent = `${icon} ${text}`;
        cue.className = `pending lvl-${level}`;
        widths.push([cue.getBoundingClientRect().width, cue.textContent, cue.className]);
      }
    }
    const [, text, className] = widths.sort((a, b) => b[0] - a[0])[0];
    [cue.textContent, cue.className] = [text, className];
  }
}"""
SWITCH = """(lang) => { window.wbI18n.setLanguage([lang]); return document.documentElement.lang; }"""
STATES = ("available", "ringing", "on_call", "wrap_up", "paused")  # they add up to logged_in


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


async def start_demo(port: int) -> tuple[asyncio.subprocess.Process, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WALLBOARD_") and k.upper() != "REDIS_URL"}
    env |= {"WALLBOARD_SITE": SITE, "PYTHONUNBUFFERED": "1", "WALLBOARD_WS_HEARTBEAT_S": "1"}
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wallboard.cli", "demo", "--port", str(port), "--speed", "60",
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert demo.stdout is not None
    async with asyncio.timeout(45):
        url = (await demo.stdout.readline()).decode().strip()
    found = re.fullmatch(r"(http://[\d.]+:\d+)/\?token=([\w-]+)", url)
    assert found, url
    return demo, found[1], found[2]


@pytest.fixture
async def demo(port: int) -> AsyncIterator[tuple[str, str]]:
    process, base, token = await start_demo(port)
    try:
        yield base, token
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()


async def settle(page: Page) -> None:
    """Two animation frames: the resize observer has refitted the board and the browser has laid it out."""
    await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def problems(measured: dict[str, Any], viewport: ViewportSize) -> list[str]:
    base = min(viewport["width"], viewport["height"])
    out = (
        [f"page scrolls: {measured['scroll']}"] if measured["scroll"] > [viewport["width"], viewport["height"]] else []
    )
    for text in measured["texts"]:
        least = TEXT_MIN
        if text["cls"] == "v" and "primary" in text["box"]:
            least = HEADLINE_MIN
        elif text["cls"] == "v" and "secondary" in text["box"]:
            least = SECONDARY_MIN
        if text["size"] < least * base - 0.01:
            out.append(f"{text['text']!r} ({text['cls']}) {text['size']:.1f}px < {least * base:.1f}px")
        # a level's glyph beside a figure (▲ ■ △ □) is half its size: text, held to the floor of any text
        if text["glyph"] is not None and text["glyph"] < TEXT_MIN * base - 0.01:
            out.append(f"{text['text']!r} ({text['cls']}) glyph {text['glyph']:.1f}px < {TEXT_MIN * base:.1f}px")
        for flaw in ("overflow", "outside", "offscreen"):
            if text[flaw]:
                out.append(f"{text['text']!r} ({text['cls']} of tile {text['tile']}): {flaw}")
    return out


async def test_every_text_of_the_demo_boards_is_readable_at_every_screen(
    browser: Browser, demo: tuple[str, str], shots: Path
) -> None:
    """Default and adherence boards at 1080p, 4K, 720p and portrait: every text at least 2.2 % of the short side,
    headline figures 6 %, secondary ones 3.5 %, nothing overflowing its box or its tile, no scrolling; the agents by
    state add up to those logged in (on the standard board's tiles of the demo's queues); the interval's SL says its
    length; the default board has the demo's chat queue (its badge) and its campaign's tile."""
    base, token = demo
    pages: dict[str, Page] = {}
    for board in ("default", "adherence"):
        page = pages[board] = await new_page(browser, base)
        await page.goto(f"/tv/{board}?token={token}")
        await expect(page.locator('[data-kpi="waiting"] .v').first).not_to_have_text("—")
    await expect(pages["adherence"].locator('#tv-tiles section[data-kind="team"]').first).to_be_visible()
    await expect(pages["default"].locator('[data-campaign="renewals"] [data-kpi="drop_rate"] .l')).to_have_text(
        "Dropped 24 h"
    )
    await expect(pages["default"].locator('[data-queue="chat"] .badge')).to_have_text("Chat")
    await expect(pages["default"].locator('[data-kpi="sl_interval"] .l').first).to_have_text(re.compile(r"^SL \d+ min"))
    # the demo's default board shows ten figures (wallboard.processes.demo.DEMO_BOARDS): the standard board's tiles
    # for the demo's queues must add up (a chat queue's have no ringing nor wrap-up: never counted there)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        queues = (await http.get("/api/v1/queues")).json()["queues"]
    for tile in tile_models({"queues": {queue["name"]: queue for queue in queues}}, {}):
        shown = {kpi.key: int(kpi.text) for kpi in tile.kpis if kpi.key in ("logged_in", *STATES)}
        assert shown.pop("logged_in") == sum(shown.values()), (tile.name, shown)
    found: dict[str, list[str]] = {}
    for screen, viewport in SCREENS.items():
        for board, page in pages.items():
            await page.set_viewport_size(viewport)
            await settle(page)
            measured = await page.evaluate(MEASURE)
            assert len(measured["texts"]) > 20, measured  # the tiles are there and measured
            flaws = problems(measured, viewport)
            found[f"{board} at {screen}"] = (
                [*flaws, str(await page.evaluate("window.wallboardTv.fit()"))] if flaws else []
            )
            await page.screenshot(path=shots / f"tv-{board}-{screen}.png")
            await page.screenshot(path=screenshot_path(f"wallboard-tv-{board}-{screen}.png"))
    # both boards in every language at 1080p, every tile with the widest pending cue (no page load: a language switch)
    for board, page in pages.items():
        await page.set_viewport_size(SCREENS["1080p"])
        for lang in TRANSLATED:
            assert await page.evaluate(SWITCH, lang) == lang
            await settle(page)
            if board == "default" and lang == "de":  # the README's non-English TV, before the cues are forced
                await page.screenshot(path=screenshot_path(f"wallboard-tv-{board}-1080p-{lang}.png"))
            measured = await page.evaluate(f"() => {{ ({CUES})(); return ({MEASURE})(); }}")
            assert sum(text["cls"].startswith("pending") for text in measured["texts"]) > 1, measured
            flaws = problems(measured, SCREENS["1080p"])
            fit = await page.evaluate("window.wallboardTv.fit()")
            found[f"{board} at 1080p in {lang}, every tile's cue pending"] = [*flaws, str(fit)] if flaws else []
            if board == "default" and lang in ("cs", "el", "fi"):
                await page.screenshot(path=shots / f"tv-{board}-1080p-{lang}-pending.png")
        assert list(await page.evaluate("() => [...window.wbI18n.missing]")) == []
    screens = SCREENS if FULL_MATRIX else {"1080p": SCREENS["1080p"]}
    for lang in LANGUAGES:
        for board in LANGUAGE_BOARDS:
            page = await new_page(browser, base, viewport=SCREENS["1080p"])
            await page.goto(f"/tv/{board}?token={token}&lang={lang}")
            await expect(page.locator('[data-kpi="waiting"] .v').first).not_to_have_text("—")
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            assert await page.evaluate("document.documentElement.lang") == lang
            for screen, viewport in screens.items():
                await page.set_viewport_size(viewport)
                await settle(page)
                measured = await page.evaluate(MEASURE)
                assert len(measured["texts"]) > 20, measured
                flaws = problems(measured, viewport)
                missing = await page.evaluate("() => [...window.wbI18n.missing]")
                found[f"{board} at {screen} in {lang}"] = [*flaws, *(f"untranslated: {text!r}" for text in missing)] + (
                    [str(await page.evaluate("window.wallboardTv.fit()"))] if flaws else []
                )
                await page.screenshot(path=shots / f"tv-{board}-{screen}-{lang}.png")
                await page.screenshot(path=screenshot_path(f"wallboard-tv-{board}-{screen}-{lang}.png"))
            await page.close()
    assert {where: flaws for where, flaws in found.items() if flaws} == {}


def pending_snapshot(due: str) -> dict[str, Any]:
    agents = {"logged_in": 9, "available": 2, "ringing": 1, "on_call": 5, "wrap_up": 1, "paused": 0}
    window = {"service_level_pct": 72.5, "asa_s": 9.0, "aht_s": 250.0, "abandon_rate_pct": 4.4}
    support = {"name": "support", "sl_threshold_s": 20, "sl_target_pct": 80, "waiting": 3, "longest_wait_s": 75.0,
               "interval": window, "day": window, "agents": agents, "required_agents": 8}  # fmt: skip
    pending = [
        {"target": {"kind": "queue", "name": "support"}, "threshold_id": "sl", "metric": "service_level_pct",
         "level": "warn", "value": 72.5, "due": due, "reason": "SL 72 % < 80 % for 20 s (warn after 1 min)"},
    ]  # fmt: skip
    return {"site": SITE, "ts": "2024-01-01T09:00:00+00:00", "interval": {"minutes": 30},
            "queues": {"support": support}, "agents": {}, "alerts": [], "pending": pending}  # fmt: skip


async def test_a_breach_inside_its_delay_shows_pending_with_the_time_left(
    browser: Browser, token: str, publisher: Any, serve: Any, port: int, shots: Path
) -> None:
    """A snapshot with a pending warn on support's SL: the tile stays OK (● OK) and says "△ WARN in m:ss", counting
    down by the server's clock; the figure carries the pending level; the label names the 30 min interval."""
    due = (datetime.now(UTC) + timedelta(seconds=90)).isoformat()
    await publisher.publish(pending_snapshot(due))
    async with serve(port) as base:
        page = await new_page(browser, base)
        await page.goto(f"/tv/default?token={token}")
        tile = page.locator('[data-queue="support"]')
        await expect(tile.locator(".state")).to_have_text("● OK")
        await expect(tile.locator(".pending")).to_have_text(re.compile(r"^△ WARN in 1:[23]\d$"))
        first = await tile.locator(".pending").text_content()
        await expect(tile.locator(".pending")).not_to_have_text(first or "", timeout=WAIT_MS)  # it counts down
        kpi = tile.locator('[data-kpi="sl_interval"]')
        assert await kpi.get_attribute("data-pending") == "warn" and await kpi.get_attribute("class") == "kpi lvl-ok"
        await expect(kpi.locator(".l")).to_have_text("SL 30 min 80/20")
        await expect(tile.locator('[data-kpi="ringing"] .v')).to_have_text("1")
        measured = await page.evaluate(MEASURE)
        assert problems(measured, {"width": 1920, "height": 1080}) == []
        await page.screenshot(path=SHOTS / "tv-pending-1080p.png")
