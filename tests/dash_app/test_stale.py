"""The TV judges the data's age, not the connection's: a stopped engine (its API still beating) shows STALE with the
age and dims the figures; fresh data brings it back. A revoked token shows "not authorised" and is retried slowly,
so a token made valid again brings the page back without a reload.

Real parts: redis-server, ``wallboard engine`` as a child process (SIGSTOP/SIGCONT), the API with the pages
(``conftest.serve``), Debian's Chromium.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser import new_page
from playwright.async_api import Browser, expect
from processes import clean_env, start, stop
from stale_watch import RECOVERY_WAIT_MS, STALE_PROMISE_S, STALE_WAIT_MS, record_frames, stale_after_s, watch_banner

from wallboard.admin.accounts import token_digest
from wallboard.core.events import CallQueued
from wallboard.store import Store

pytestmark = pytest.mark.browser

STALE_WITHIN_MS = 8_000  # from SIGSTOP: the 6 s threshold on data at most a second old, and a margin
SITE_FILE = "site: paris\nqueues:\n  support: {sl_threshold_s: 20}\n"
WAITING = '[data-queue="support"] [data-kpi="waiting"] .v'
API_CLOCK_BEHIND_S = 2.5


@pytest.fixture
def engine(redis_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``wallboard engine`` for site paris (one queue, support) on the test's Redis, as its own process."""
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE_FILE, encoding="utf-8")
    env = clean_env(tmp_path, {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_SITE": "paris",
                               "WALLBOARD_SITE_FILE": str(site_file), "PYTHONUNBUFFERED": "1"})  # fmt: skip
    process = start("engine", env=env, log=tmp_path / "engine.log")
    try:
        yield process
    finally:
        os.kill(process.pid, signal.SIGCONT)
        stop(process)


async def test_a_stopped_engine_shows_stale_with_dimmed_figures_then_live_again(
    browser: Browser, store: Store, token: str, serve: Any, port: int, engine: subprocess.Popen[bytes]
) -> None:
    """SIGSTOP of the engine under an open TV: heartbeats go on, yet STALE shows with the data's age within 8 s, the
    figures stay visible but dimmed; after SIGCONT a new event's figure shows live, undimmed, without a reload."""
    async with serve(port) as base:
        page = await new_page(browser, base)
        await page.goto(f"/tv/default?token={token}")
        await expect(page.locator(WAITING)).to_have_text("0")
        await expect(page.locator("#tv-stale")).to_be_hidden()
        await page.evaluate("window.marker = 'no reload'")
        os.kill(engine.pid, signal.SIGSTOP)
        try:
            await expect(page.locator("#tv-stale")).to_be_visible(timeout=STALE_WITHIN_MS)
            await expect(page.locator("#tv-stale")).to_contain_text(re.compile(r"STALE — no data for \d+ s"))
            await expect(page.locator("#tv-root")).to_have_class(re.compile(r"\bstale\b"))
            await expect(page.locator(WAITING)).to_be_visible()
            assert await page.locator(WAITING).text_content() == "0"
            assert await page.evaluate("window.wallboardTv.seq()") is not None
        finally:
            os.kill(engine.pid, signal.SIGCONT)
        now = datetime.now(UTC)
        await store.events.append_events(
            [CallQueued(ts=now, call_id="c1", queue="support", site="paris", source="test")]
        )
        await expect(page.locator(WAITING)).to_have_text("1")
        await expect(page.locator("#tv-stale")).to_be_hidden()
        await expect(page.locator("#tv-root")).not_to_have_class(re.compile(r"\bstale\b"))
        assert await page.evaluate("window.marker") == "no reload"


def tv_snapshot() -> dict[str, Any]:
    queue = {"name": "support", "waiting": 3, "interval": {}, "day": {}, "agents": {}}
    return {"site": "paris", "ts": datetime.now(UTC).isoformat(), "queues": {"support": queue}, "agents": {}}


async def test_a_revoked_token_shows_not_authorised_and_comes_back_once_valid(
    browser: Browser, store: Store, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """Refused with 4401 (its token revoked), the TV says "not authorised" and keeps trying (every ?denied_retry
    seconds, 30 by default); once the token is valid again the board comes back live, without a reload."""
    await publisher.publish(tv_snapshot())
    async with serve(port) as base:
        page = await new_page(browser, base)
        await page.goto(f"/tv/default?token={token}&denied_retry=1")
        await expect(page.locator(WAITING)).to_have_text("3")
        await page.evaluate("window.marker = 'no reload'")
        digest = token_digest(token)
        record = await store.accounts.get_token(digest)
        assert record is not None and await store.accounts.revoke_token(digest)
    async with serve(port):  # the page reconnects to a server that no longer knows its token: 4401
        await expect(page.locator("#tv-denied")).to_be_visible(timeout=RECOVERY_WAIT_MS)
        await expect(page.locator("#tv-denied")).to_contain_text("Not authorised")
        await expect(page.locator("#tv-stale")).to_be_hidden()
        held = await page.evaluate("window.wallboardTv.seq()")
        await store.accounts.add_token(digest, record)
        await expect(page.locator("#tv-denied")).to_be_hidden()
        await expect(page.locator(WAITING)).to_have_text("3")
        assert held is not None  # the snapshot it held stayed in memory meanwhile
        assert await page.evaluate("window.marker") == "no reload"


async def test_an_api_clock_behind_the_engines_does_not_delay_stale(
    browser: Browser, token: str, publisher: Any, serve: Any, port: int
) -> None:
    """The API's host clock 2.5 s behind the engine's: the page's estimate of the server's time (from heartbeats) is
    2.5 s behind the data's clock, so the server-clock age alone would show STALE 2.5 s late. The age is also at least
    the time since the page first heard of the data: STALE within 6 s of the last message (page clock), not 8.5 s.
    (A heartbeat handled late by a TV stick busy drawing makes the same error.)"""
    await publisher.publish(tv_snapshot())
    async with serve(port, clock=lambda: time.time() - API_CLOCK_BEHIND_S) as base:
        page = await new_page(browser, base)
        await record_frames(page)
        await page.goto(f"/tv/default?token={token}")
        await expect(page.locator(WAITING)).to_have_text("3")
        await page.wait_for_function("() => window.__heartbeats >= 1")  # the page has its (wrong) clock offset
        await expect(page.locator("#tv-stale")).to_be_hidden()
        await watch_banner(page, "#tv-stale")
    await expect(page.locator("#tv-stale")).to_be_visible(timeout=STALE_WAIT_MS)
    assert await stale_after_s(page) <= STALE_PROMISE_S
