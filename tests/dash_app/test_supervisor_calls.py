"""The supervisor view's call drill-down and target columns in a real headless Chromium against the real API.

A supervisor logs in on /ops/ (the session cookie), the page is served with the API in-process (``conftest.serve``)
and the call log holds records written as the engine runner writes them (staged with the snapshot it publishes).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import new_page, screenshot_path
from playwright.async_api import Browser, Page, expect

from dash_app.calls_view import export_url, kept_calls, query
from dash_app.grid import agent_figures
from wallboard.admin.accounts import Accounts
from wallboard.core.users import Role
from wallboard.store import CallsWrite, Store

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
ROW = '.ag-center-cols-container .ag-row[row-id="{}"]'
NAME = '#sup-grid .ag-pinned-left-cols-container .ag-row[row-id="{}"] [col-id="name"]'  # the pinned column
CALLS = "#sup-calls-grid .ag-center-cols-container .ag-row"
TARGET = {"basis": "logged_in", "basis_s": 12_300.0, "calls_expected": 15.4, "calls_pct": 77.9, "calls": "behind",
          "aht_target_s": 180.0, "aht": "over", "missed_rings_limit": 3, "missed_rings": "ok",
          "occupancy_band": [60.0, 85.0], "occupancy": "low"}  # fmt: skip
# call id, queue, outcome, agent, caller, wait
LOG = [
    ("c1", "sales", "answered", "a1", "0611110001", 5.0),
    ("c2", "sales", "answered", "a1", "0622220002", 45.0),
    ("c3", "sales", "abandoned", None, "0633330003", 30.0),
    ("c4", "sales", "short_abandon", None, "0644440004", 2.0),
    ("c5", "support", "answered", "a1", "0655550005", 8.0),
    ("c6", "sales", "answered", "a2", "0666660006", 12.0),
]


def snapshot(now: datetime) -> dict[str, Any]:
    """Ana (a1) with a target she is behind on and two escalations, Ben (a2) from an older engine (no target)."""

    def agent(ident: str, name: str, **extra: Any) -> dict[str, Any]:
        return {"id": ident, "name": name, "team": "blue", "state": "available", "reason": None,
                "since": (now - timedelta(seconds=60)).isoformat(), "time_in_state_s": 60.0, "queues": ["sales"],
                "paused_queues": [], "calls_today": 3, "aht_s": 200.0, "handled_today": 12,
                "missed_rings_today": 1, "occupancy_pct": 40.0} | extra  # fmt: skip

    day = {"offered": 4, "answered": 3, "answered_within_sl": 2, "wait_unknown": 0, "abandoned": 2,
           "short_abandoned": 1, "timed_out": 0, "exited_other": 0}  # fmt: skip
    queues = {
        name: {"name": name, "sl_threshold_s": 20.0, "waiting": 0, "waiting_calls": [], "interval": {}, "day": day}
        for name in ("sales", "support")
    }
    agents = [agent("a1", "Ana", target=TARGET, escalations_today=2, logged_in_s=12_300.0), agent("a2", "Ben")]
    return {"site": "paris", "ts": now.isoformat(), "queues": queues, "agents": {a["id"]: a for a in agents},
            "alerts": []}  # fmt: skip


def stage_log(store: Store, now: datetime) -> None:
    """The call log's records, finished today (UTC, the API's day without a site time zone) a few seconds apart."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = max(now - timedelta(minutes=30), midnight + timedelta(seconds=1))
    entries = []
    for n, (call_id, queue, outcome, agent, caller, wait) in enumerate(LOG, 1):
        finished = first + timedelta(seconds=n)
        row = {"site": "paris", "call_id": call_id, "queue": queue, "outcome": outcome, "agent": agent,
               "team": "blue" if agent else None, "caller": caller, "caller_name": "", "wait_s": wait,
               "entered": (finished - timedelta(seconds=wait)).isoformat(),
               "entered_local": (finished - timedelta(seconds=wait)).replace(tzinfo=None).isoformat(timespec="seconds"),
               "talk_s": 60.0 if outcome == "answered" else None, "missed_by": ["a2"] if call_id == "c2" else [],
               "transfer_target": "2001" if call_id == "c5" else None,
               "transfer_kind": "blind" if call_id == "c5" else None, "finished": finished.isoformat()}  # fmt: skip
        entries.append((f"{int(finished.timestamp() * 1000)}-0", n, json.dumps(row)))
    store.events.stage_calls(CallsWrite(entries))


async def call_ids(page: Page) -> list[str]:
    ids: list[str] = await page.evaluate("() => window.wbCalls.rows.map((r) => r.call_id).sort()")
    return ids


async def logged_in_supervisor(browser: Browser, base: str) -> Page:
    page = await new_page(browser, base)
    await page.goto("/ops/")
    await page.fill("#login-name", "sup1")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-button")
    # Logged in: the ops page says a supervisor may not edit thresholds, and the session cookie is set.
    await expect(page.get_by_role("status")).to_contain_text("sup1 (supervisor)")
    await page.goto("/supervisor/")
    await expect(page.locator("#sup-status")).to_contain_text("live")
    return page


async def test_drill_down_from_an_agent_and_a_queue_figure(
    browser: Browser, publisher: Any, serve: Any, port: int, accounts: Accounts, store: Store, tmp_path: Path
) -> None:
    """Logged in as a supervisor: Ana's row shows her target behind (▼, lvl-alarm) and two escalations; a click on
    her row lists the calls she answered, the caller search narrows them, Escape closes the panel and gives the focus
    back; the sales SL misses list the late answer and the abandon (not the short abandon), and their export is the
    server's CSV of exactly those calls."""
    now = datetime.now(UTC)
    await accounts.add_user("sup1", Role.SUPERVISOR, PASSWORD, actor="test")
    stage_log(store, now)
    held = snapshot(now)
    await publisher.publish(held)
    async with serve(port) as base:
        page = await logged_in_supervisor(browser, base)
        ana = page.locator(ROW.format("a1"))
        expected = agent_figures(held["agents"]["a1"])
        # ag-grid renders the columns in view only (the side column leaves the grid part of the width)
        await expect(ana).to_be_visible()
        await page.evaluate("() => dash_ag_grid.getApi('sup-grid').ensureColumnVisible('target')")
        await expect(ana.locator('[col-id="target"]')).to_have_text(expected["target"])
        assert expected["target"] == "▼ 12/15 78 %"
        await expect(ana.locator('[col-id="target"]')).to_have_class(re.compile(r"\blvl-alarm\b"))
        await expect(ana.locator('[col-id="escalations"]')).to_have_text("2")
        # ag-grid renders the columns in view only: bring the figures' columns into view
        await page.evaluate("() => dash_ag_grid.getApi('sup-grid').ensureColumnVisible('occupancy_pct')")
        await expect(ana.locator('[col-id="aht_s"]')).to_have_text("▲ 3:20")
        await expect(ana.locator('[col-id="aht_s"]')).to_have_class(re.compile(r"\blvl-warn\b"))
        await expect(ana.locator('[col-id="occupancy_pct"]')).to_have_text("▼ 40 %")
        await expect(page.locator(ROW.format("a2") + ' [col-id="target"]')).to_have_text("")
        page_figures = await page.evaluate(
            "(a) => window.wbGridFigures.agentFigures(a)", held["agents"]["a1"]
        )  # the browser's mirror
        assert page_figures == expected

        await page.locator(NAME.format("a1")).click()
        panel = page.locator("#sup-calls")
        await expect(panel).to_be_visible()
        await expect(page.locator("#sup-calls-title")).to_have_text("Calls answered today · Ana")
        await expect(page.locator(CALLS)).to_have_count(3)
        assert await call_ids(page) == ["c1", "c2", "c5"]
        await expect(page.locator("#sup-calls-caller")).to_be_focused()
        await page.locator("#sup-calls-caller").press_sequentially("0622")
        await expect(page.locator(CALLS)).to_have_count(1)
        c2 = page.locator(CALLS).first
        await expect(c2.locator('[col-id="caller"]')).to_have_text("0622220002")  # a supervisor sees numbers in full
        await expect(c2.locator('[col-id="missed_by"]')).to_have_text("a2")
        href = await page.locator("#sup-calls-export").get_attribute("href")
        assert href == export_url(query("agent", "a1", "0622"))
        await page.screenshot(path=screenshot_path("supervisor-calls-agent.png"))
        await page.keyboard.press("Escape")
        await expect(panel).to_be_hidden()
        await expect(page.locator(NAME.format("a1"))).to_be_focused()

        misses = page.locator('#sup-today button[data-kind="sl_misses"][data-queue="sales"]')
        await expect(misses).to_have_text("2")
        await misses.click()
        await expect(page.locator("#sup-calls-title")).to_have_text("SL misses today · sales")
        await expect(page.locator("#sup-calls-note")).to_contain_text("more than 20 s")
        await expect(page.locator(CALLS)).to_have_count(2)
        assert await call_ids(page) == ["c2", "c3"]
        async with page.expect_download() as info:
            await page.locator("#sup-calls-export").click()
        saved = tmp_path / "misses.csv"
        await (await info.value).save_as(saved)
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        async with httpx.AsyncClient(base_url=base, cookies=cookies) as http:
            server_csv = (await http.get(export_url(query("sl_misses", "sales")))).text
        assert saved.read_bytes().decode() == kept_calls(server_csv, ["c2", "c3"])
        await page.locator("#sup-calls-close").click()
        await expect(panel).to_be_hidden()
        await expect(misses).to_be_focused()
