"""The supervisor view's channels and campaigns in a real headless Chromium, against published snapshots (one page):
chat agents get channel chips beside their phone state and count in the totals by that state, the channel filter
narrows the agents, the "Today" table and the sparklines, a chat queue's card says its channel and first response,
the campaigns panel shows the drop rate against the limit with a cue in words; a voice-only site shows none of it.
The page's figures are dash_app.grid's and dash_app.floor's of the snapshot it holds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import new_page
from playwright.async_api import Browser, Page, expect

from dash_app.floor import campaign_rows, queue_cards, state_totals
from dash_app.grid import agent_rows

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/sup-shots")
ROW = '.ag-center-cols-container .ag-row[row-id="{}"]'
TICKING = ("since_ms", "out_since_ms")


def chat(open_: int, state: str, capacity: int = 3) -> dict[str, Any]:
    return {"open": open_, "capacity": capacity, "concurrency_pct": 100.0 * open_ / capacity, "state": state}


def site(now: datetime, *, channels: bool = True) -> dict[str, Any]:
    """Voice agents v1 (on a call) and v2 in sales; chat agents c1 (two chats of three: available) and c2 (three:
    busy, its phone available) in chat; m1 in both, on a voice call with one chat; two campaigns, renewals over its
    limit. Without ``channels``: the voice queue and agents only, no campaign (an older, voice-only site)."""

    def agent(ident: str, state: str, queues: list[str], load: dict[str, Any] | None = None) -> dict[str, Any]:
        entry = {"id": ident, "name": f"Agent {ident}", "team": "care", "state": state, "reason": None,
                 "since": (now - timedelta(seconds=40)).isoformat(), "time_in_state_s": 40.0, "queues": queues,
                 "paused_queues": [], "calls_today": 1, "aht_s": 100.0}  # fmt: skip
        return entry | ({"channels": load} if load else {})

    agents = {
        "v1": agent("v1", "on_call", ["sales"]),
        "v2": agent("v2", "available", ["sales"]),
        "c1": agent("c1", "available", ["chat"], {"chat": chat(2, "available")}),
        "c2": agent("c2", "available", ["chat"], {"chat": chat(3, "busy")}),
        "m1": agent("m1", "on_call", ["chat", "sales"], {"voice": chat(1, "busy", 1), "chat": chat(1, "available")}),
    }
    queues: dict[str, Any] = {
        "sales": {"name": "sales", "channel": "voice", "waiting": 2, "waiting_calls": [], "sl_target_pct": 80.0,
                  "sl_threshold_s": 20.0, "interval": {"service_level_pct": 75.0}, "day": {"offered": 9}},
        "chat": {"name": "chat", "channel": "chat", "display_name": "Web chat", "waiting": 1, "waiting_calls": [],
                 "sl_target_pct": 80.0, "sl_threshold_s": 60.0,
                 "interval": {"service_level_pct": 90.0, "avg_first_response_s": 42.4, "responded": 5},
                 "day": {"offered": 4}},
    }  # fmt: skip
    span = {"attempts": 150, "connects": 60, "connect_rate_pct": 42.9}
    campaigns = {
        "renewals": {"name": "renewals", "display_name": "Renewals", "regulator": "ofcom", "window_h": 24.0,
                     "limit_pct": 3.0, "drop_rate_pct": 4.5, "over_limit": True, "today": span},
        "winback": {"name": "winback", "display_name": None, "regulator": "fcc", "window_h": 720.0,
                    "limit_pct": 3.0, "drop_rate_pct": 1.2, "over_limit": False, "today": span | {"attempts": 20}},
    }  # fmt: skip
    snap: dict[str, Any] = {"site": "paris", "ts": now.isoformat(), "queues": queues, "agents": agents,
                            "teams": {"care": {"name": "Care", "agents": {}}}, "alerts": []}  # fmt: skip
    if channels:
        snap["campaigns"] = campaigns
        return snap
    snap["queues"] = {"sales": queues["sales"] | {"channel": None}}  # an older snapshot: no channel, voice
    snap["agents"] = {key: agent(key, a["state"], ["sales"]) for key, a in agents.items() if key.startswith("v")}
    return snap


async def shown_ids(page: Page) -> list[str]:
    ids: list[str] = await page.evaluate(
        "() => { const ids = []; dash_ag_grid.getApi('sup-grid').forEachNode((n) => ids.push(n.data.id));"
        " return ids.sort(); }"
    )
    return ids


async def test_channel_chips_filter_first_response_and_campaigns(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    await publisher.publish(site(datetime.now(UTC)))
    async with serve(port) as base:
        page = await new_page(browser, base)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"/supervisor/?token={token}")
        await expect(page.locator("#sup-status")).to_contain_text("live")
        await expect(page.locator(ROW.format("c1"))).to_be_visible()

        # The rows, totals, cards and campaigns are dash_app's of the snapshot held.
        held, rows = await page.evaluate("() => [window.wbSupervisor.snap, window.wbSupervisor.rows]")
        assert [
            {k: v for k, v in row.items() if k not in TICKING} for row in sorted(rows, key=lambda r: r["name"])
        ] == (agent_rows(held))
        totals = state_totals(held)  # chat agents by their phone state: c1, c2 available, m1 on a call
        assert await page.evaluate("() => window.wbSupervisor.totals") == totals
        assert (totals["available"], totals["on_call"]) == (3, 2)
        assert "phone state" in (await page.locator("#sup-totals").get_attribute("title") or "")

        # Chips beside the phone state: the channel's state as a glyph and a class; none for a voice agent.
        chips = page.locator(f'{ROW.format("c1")} .ag-cell[col-id="channels"] .wb-chip')
        await expect(chips).to_have_text(["○ Chat 2/3"])
        await expect(chips).to_have_class(re.compile(r"\bwb-ch-available\b"))
        busy = page.locator(f'{ROW.format("c2")} .ag-cell[col-id="channels"] .wb-chip')
        await expect(busy).to_have_text("● Chat 3/3")
        await expect(busy).to_have_class(re.compile(r"\bwb-ch-busy\b"))
        assert "at capacity" in (await busy.get_attribute("title") or "")
        await expect(page.locator(f'{ROW.format("m1")} .ag-cell[col-id="channels"] .wb-chip')).to_have_text(
            ["○ Chat 1/3"]  # voice is the phone state: no chip
        )
        await expect(page.locator(f'{ROW.format("v1")} .ag-cell[col-id="channels"] .wb-chip')).to_have_count(0)

        # The chat queue's card: its channel and first response; the campaigns with the over-limit cue in words.
        card = page.locator('.sup-spark-row[data-queue="chat"] .sup-spark-head')
        await expect(card.locator(".sup-channel")).to_have_text("Chat")
        await expect(card.locator(".first")).to_have_text("first response 0:42")
        await expect(page.locator('.sup-spark-row[data-queue="sales"] .first')).to_have_count(0)
        assert await page.evaluate("() => window.wbSupervisor.cards") == queue_cards(held)
        await expect(page.locator("#sup-campaigns-panel")).to_be_visible()
        assert await page.evaluate("() => window.wbSupervisor.campaigns") == campaign_rows(held)
        over = page.locator('#sup-campaigns tr[data-campaign="renewals"]')
        await expect(over).to_contain_text("4.5 % / 3 %")
        await expect(over.locator("td.sup-drop")).to_have_class(re.compile(r"\blvl-alarm\b"))
        await expect(over.locator(".sup-over")).to_have_text("✖ over limit")
        assert await over.locator("td.sup-drop").get_attribute("title") == "over the last 24 h"
        under = page.locator('#sup-campaigns tr[data-campaign="winback"]')
        await expect(under.locator(".sup-over")).to_have_count(0)
        await expect(under.locator("td.sup-drop")).to_have_attribute("title", "over the last 30 days")
        await expect(page.locator("#sup-campaigns tbody th")).to_have_text(["Renewals", "winback"])

        # The channel filter: the agents serving a queue of it, its queues only in "Today" and the sparklines.
        await expect(page.locator("#sup-filter-channel option")).to_have_text(["all channels", "Voice", "Chat"])
        await page.select_option("#sup-filter-channel", "chat")
        assert await shown_ids(page) == ["c1", "c2", "m1"]
        await expect(page.locator("#sup-today tbody tr")).to_have_count(1)
        await expect(page.locator("#sup-today tbody tr th")).to_have_text("Web chat")
        await expect(page.locator("#sup-sparks .sup-spark-row")).to_have_count(1)
        await expect(page.locator("#sup-filter-queue option")).to_have_text(["all queues", "Web chat"])
        assert await page.evaluate("() => window.wbSupervisor.cards") == queue_cards(held, "chat")
        await page.select_option("#sup-filter-channel", "voice")
        assert await shown_ids(page) == ["m1", "v1", "v2"]
        await expect(page.locator("#sup-today tbody tr th")).to_have_text(["sales"])
        await page.select_option("#sup-filter-channel", "")
        assert await shown_ids(page) == ["c1", "c2", "m1", "v1", "v2"]
        await expect(page.locator("#sup-today tbody tr")).to_have_count(2)
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SHOTS / "supervisor-channels-1920x1080.png")

        # A voice-only site (an older snapshot): no channel filter, no chips column, no campaigns panel.
        await publisher.publish(site(datetime.now(UTC), channels=False))
        await expect(page.locator(ROW.format("c1"))).to_have_count(0)
        await expect(page.locator("#sup-filter-channel-label")).to_be_hidden()
        await expect(page.locator("#sup-campaigns-panel")).to_be_hidden()
        await expect(page.locator('#sup-grid .ag-header-cell[col-id="channels"]')).to_have_count(0)
        await expect(page.locator('.sup-spark-row[data-queue="sales"] .sup-channel')).to_have_text("Voice")
        assert not errors
        await page.close()
