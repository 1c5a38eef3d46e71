"""The supervisor grid's live agent figures in a real headless Chromium, against published snapshots: handled
today, missed rings, occupancy, and idle time that ticks while the agent is available."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from browser import new_page
from playwright.async_api import Browser, expect

from dash_app.grid import agent_rows

pytestmark = pytest.mark.browser

ROW = '.ag-center-cols-container .ag-row[row-id="{}"]'
SHOW = "(column) => dash_ag_grid.getApi('sup-grid').ensureColumnVisible(column)"  # columns off screen are not drawn


def floor(now: datetime) -> dict[str, Any]:
    """Ana available for 60 s, idle 125 s since her last call ended; Ben on a call, idle 40 s before it; Cleo with
    no call yet."""

    def agent(ident: str, name: str, state: str, ago_s: float, **figures: Any) -> dict[str, Any]:
        since = (now - timedelta(seconds=ago_s)).isoformat()
        base = {"id": ident, "name": name, "team": "blue", "state": state, "reason": None, "since": since,
                "time_in_state_s": ago_s, "queues": ["support"], "paused_queues": [], "calls_today": 4,
                "aht_s": 200.0, "handled_today": 0, "missed_rings_today": 0, "idle_s": None,
                "last_call_end": None, "occupancy_pct": None}  # fmt: skip
        return base | figures

    ended = (now - timedelta(seconds=300)).isoformat()
    agents = [
        agent("a1", "Ana", "available", 60, handled_today=4, missed_rings_today=2, idle_s=125.0, last_call_end=ended)
        | {"occupancy_pct": 62.4},
        agent("a2", "Ben", "on_call", 30, handled_today=3, idle_s=40.0, last_call_end=ended, occupancy_pct=81.6),
        agent("a3", "Cleo", "available", 10),
    ]
    queues = {"support": {"name": "support", "waiting": 0, "waiting_calls": [], "interval": {}}}
    return {"site": "paris", "ts": now.isoformat(), "queues": queues, "agents": {a["id"]: a for a in agents}}


async def test_live_figures_columns_and_idle_ticking(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """Handled, missed and occupancy cells show the snapshot's figures; Ana's idle ticks between messages from
    2:05, Ben's stays at 0:40 while he is on a call, Cleo (no call yet) has none; the rows are grid.agent_rows."""
    published = time.monotonic()
    await publisher.publish(floor(datetime.now(UTC)))
    async with serve(port) as base:
        page = await new_page(browser, base)
        await page.goto(f"/supervisor/?token={token}")
        ana, ben, cleo = (page.locator(ROW.format(ident)) for ident in ("a1", "a2", "a3"))
        await expect(ana).to_be_visible()
        await page.evaluate(SHOW, "handled_today")
        await expect(ana.locator('[col-id="handled_today"]')).to_have_text("4")
        await page.evaluate(SHOW, "missed_rings_today")
        await expect(ana.locator('[col-id="missed_rings_today"]')).to_have_text("2")
        await page.evaluate(SHOW, "occupancy_pct")
        await expect(ana.locator('[col-id="occupancy_pct"]')).to_have_text("62 %")
        await expect(ben.locator('[col-id="occupancy_pct"]')).to_have_text("82 %")
        await expect(cleo.locator('[col-id="occupancy_pct"]')).to_have_text("")
        await page.evaluate(SHOW, "idle")
        idle = ana.locator('[col-id="idle"]')
        shown = re.fullmatch(r"(\d+):(\d\d)", await idle.inner_text())
        assert shown is not None  # 125 s when published, plus the time since (a loaded machine may take seconds)
        assert 125 <= int(shown[1]) * 60 + int(shown[2]) <= 125 + time.monotonic() - published + 1
        before = await idle.inner_text()
        await expect(idle).not_to_have_text(before, timeout=3_000)  # ticks with no new message
        await expect(ben.locator('[col-id="idle"]')).to_have_text("0:40")
        await expect(cleo.locator('[col-id="idle"]')).to_have_text("")
        held, rows = await page.evaluate("() => [window.wbSupervisor.snap, window.wbSupervisor.rows]")
        strip = ("since_ms", "out_since_ms")
        page_rows = [{k: v for k, v in r.items() if k not in strip} for r in sorted(rows, key=lambda r: r["name"])]
        assert page_rows == agent_rows(held)
        await page.close()
