"""Agent actions in the supervisor view, in a real headless Chromium against the real API.

The menu (``dash_app/tv_assets/actions.js``) is offered to a session that may act, never to a display token or a
viewer; it works from the keyboard. The published-snapshot tests run the API in-process with the page mounted
(``conftest.Publisher`` plays the engine runner).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import uvicorn
from browser import new_page, screenshot_path
from playwright.async_api import Browser, Page, Request, expect
from stack import AMI_SECRET, AMI_USER, LiveStack, live_stack, simulated_pbx, two_agent_site
from waiting import poll_until

from collectors.ami.client import AmiClient, AmiConfig
from collectors.simulator.config import QueueSpec
from dash_app.ops import mount_ops_page
from dash_app.supervisor import mount_supervisor_page
from wallboard.admin.accounts import Accounts
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.config import Settings
from wallboard.core.actions import FAMILIES
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.core.users import Passwords, Role
from wallboard.store import Store
from wallboard.store.sink import StreamSink

pytestmark = pytest.mark.browser

SITE = "paris"
PASSWORD = "correct horse battery"
BUTTON = '.ag-row[row-id="{}"] .wb-act-btn'
MENU = "#sup-actions-menu"
MAIN_MENU = ["Pause…", "Unpause", "Log out of…", "Log into a queue…", "Listen…", "Whisper…", "Barge…"]


def floor(now: datetime) -> dict[str, Any]:
    """Ana paused (Break) in support, Ben available in sales and support, Cleo on a call in sales."""

    def agent(ident: str, name: str, state: str, queues: list[str], reason: str | None = None) -> dict[str, Any]:
        since = (now - timedelta(seconds=120)).isoformat()
        return {"id": ident, "name": name, "team": "blue", "state": state, "reason": reason, "since": since,
                "time_in_state_s": 120.0, "queues": queues, "paused_queues": queues if state == "paused" else [],
                "calls_today": 3, "aht_s": 200.0}  # fmt: skip

    agents = [
        agent("a1", "Ana", "paused", ["support"], "Break"),
        agent("a2", "Ben", "available", ["sales", "support"]),
        agent("a3", "Cleo", "on_call", ["sales"]),
    ]
    queues: dict[str, Any] = {
        name: {"name": name, "waiting": 0, "waiting_calls": [], "interval": {}} for name in ("sales", "support")
    }
    return {"site": SITE, "ts": now.isoformat(), "queues": queues, "agents": {a["id"]: a for a in agents},
            "alerts": []}  # fmt: skip


@contextlib.asynccontextmanager
async def serving_api(store: Store, **settings: Any) -> AsyncIterator[str]:
    """The API with the supervisor and ops pages, agent actions of every kind enabled, on a free port."""
    config = Settings(_env={}, site=SITE, ws_heartbeat_s=1.0, actions="all", **settings)
    app = create_app(config, store=store, ws_interval_s=0.05, passwords=Passwords.cheap())
    mount_ops_page(app)
    mount_supervisor_page(app)
    server = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws_per_message_deflate=False)
    async with serving(server) as base:
        yield base


@pytest.fixture
async def base(store: Store, accounts: Accounts, publisher: Any) -> AsyncIterator[str]:
    """The API serving ``floor``, with the users viewer1 and supervisor1."""
    await publisher.publish(floor(datetime.now(UTC)))
    for name, role in (("viewer1", Role.VIEWER), ("supervisor1", Role.SUPERVISOR)):
        await accounts.add_user(name, role, PASSWORD, actor="test")
    async with serving_api(store) as url:
        yield url


async def logged_in(browser: Browser, base: str, name: str | None) -> Page:
    """A page whose context holds the session cookies of ``name`` (None: no login)."""
    page = await new_page(browser, base)
    if name is not None:
        response = await page.request.post("/api/v1/login", data={"name": name, "password": PASSWORD, "cookie": True})
        assert response.status == 200, await response.text()
    return page


async def actions_offered(page: Page) -> bool:
    """Whether the page decided to offer the actions (waits for it to decide)."""
    await expect(page.locator("#sup-status")).to_contain_text("live")
    offered: bool = await (await page.wait_for_function("() => window.wbSupervisor.actionsReady")).json_value()
    return offered


async def test_the_menu_is_offered_to_a_supervisor_session_only(browser: Browser, base: str, token: str) -> None:
    """A supervisor's session shows the "⋯ Actions" button on every row; a display token and a viewer's session
    show no actions column, no button and no menu."""
    supervisor = await logged_in(browser, base, "supervisor1")
    await supervisor.goto("/supervisor/")
    assert await actions_offered(supervisor) is True
    await expect(supervisor.locator(BUTTON.format("a1"))).to_have_text("⋯ Actions")
    await expect(supervisor.locator(".wb-act-btn")).to_have_count(3)

    for page, query in ((await logged_in(browser, base, None), f"?token={token}"),
                        (await logged_in(browser, base, "viewer1"), "")):  # fmt: skip
        await page.goto(f"/supervisor/{query}")
        assert await actions_offered(page) is False
        await expect(page.locator('.ag-row[row-id="a1"]').first).to_be_visible()
        assert await page.locator('.ag-header-cell[col-id="actions"]').count() == 0
        assert await page.locator(".wb-act-btn").count() == 0
        assert await page.locator(MENU).count() == 0


async def focused(page: Page) -> str:
    """The text of the element that has the keyboard focus."""
    text: str = await page.evaluate("() => document.activeElement.textContent")
    return text


async def test_the_menu_works_from_the_keyboard(browser: Browser, base: str) -> None:
    """The row's button takes the focus; Enter opens the menu on its first item, the arrow keys (and Home, End)
    move and wrap, Enter on "Pause…" shows the reasons, "‹ Back" returns, Escape closes the menu and gives the
    focus back to the button; Space opens it too, and so do Enter from the grid's focused cell."""
    page = await logged_in(browser, base, "supervisor1")
    await page.goto("/supervisor/")
    assert await actions_offered(page) is True
    button = page.locator(BUTTON.format("a2"))
    await button.focus()
    await page.keyboard.press("Enter")
    menu = page.locator(MENU)
    await expect(menu).to_be_visible()
    await expect(menu).to_have_attribute("aria-label", "Actions for Ben")
    await expect(button).to_have_attribute("aria-expanded", "true")
    items = await menu.locator("[role=menuitem]").all_inner_texts()
    assert items[:4] == ["Pause…", "Unpause", "Log out of…", "Log into a queue…"]
    assert await focused(page) == "Pause…"
    await page.keyboard.press("ArrowDown")
    assert await focused(page) == "Unpause"
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowUp")  # wraps to the last item
    assert await focused(page) == items[-1]
    await page.keyboard.press("Home")
    assert await focused(page) == "Pause…"
    await page.keyboard.press("Enter")
    await expect(menu.locator(".wb-menu-title")).to_have_text("Pause Ben: reason")
    assert await focused(page) == (await menu.locator("[role=menuitem]").first.inner_text())
    await page.keyboard.press("End")
    assert await focused(page) == "‹ Back"
    await page.keyboard.press("Enter")
    await expect(menu.locator(".wb-menu-title")).to_have_text("Ben")
    await page.keyboard.press("Escape")
    await expect(menu).to_be_hidden()
    assert await page.evaluate("() => document.activeElement.dataset.agent") == "a2"
    await expect(button).to_have_attribute("aria-expanded", "false")

    await page.keyboard.press("Space")
    await expect(menu).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(menu).to_be_hidden()
    cell = page.locator('.ag-row[row-id="a1"] .ag-cell[col-id="actions"]')
    await cell.focus()  # where the grid's arrow keys put the focus
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("aria-label", "Actions for Ana")
    await page.mouse.click(5, 5)  # a click elsewhere closes it
    await expect(menu).to_be_hidden()


# -- end to end: the simulator's PBX, the AMI collector executing actions, the engine, the API ----------------------

SITE_CONFIG = SiteConfig(
    site=SITE,
    queues={"support": QueueConfig(), "sales": QueueConfig()},  # sales is the site file's, not the PBX's
    pause_reasons=("Break", "Coaching", "Lunch"),
)


@dataclass
class Floor:
    """The running pipeline, its base URL with the supervisor page, and the agent the tests act on."""

    base: str
    stack: LiveStack
    agent: str


@contextlib.asynccontextmanager
async def pbx_floor(redis_url: str, **settings: Any) -> AsyncIterator[Floor]:
    """Two agents on the simulator's support queue (no calls), the AMI collector executing every action kind, the
    engine, the API with the supervisor page, and the users supervisor1 (may monitor) and viewer1."""
    now = datetime.now(UTC)
    config = two_agent_site(now, QueueSpec(name="support", peak_rate_per_min=0.0))
    fields = {"actions": "all", "ws_heartbeat_s": 1.0, **settings}
    async with (
        simulated_pbx(config, start=now, speed=1.0) as pbx,
        live_stack(redis_url, SITE_CONFIG, settings=fields) as stack,
    ):
        collector = stack.store_for("collector")
        ami = AmiClient(
            AmiConfig("127.0.0.1", pbx.port, AMI_USER, AMI_SECRET, site=SITE),
            StreamSink(collector),
            actions=ActionFeed(AgentActions(collector.actions)),
            enabled=FAMILIES,
        )
        stack.start("collector", ami.run())
        mount_supervisor_page(stack.app)
        await stack.accounts.add_user("supervisor1", Role.SUPERVISOR, PASSWORD, actor="test")
        await stack.accounts.update_user("supervisor1", may_monitor=True, actor="test")
        members: list[str] = []

        async def two_available() -> bool:
            snapshot = await stack.http.get("/api/v1/snapshot", headers=await stack.login("supervisor1", PASSWORD))
            agents = snapshot.json().get("agents", {}) if snapshot.status_code == 200 else {}
            members[:] = sorted(a for a, v in agents.items() if v["state"] == "available" and v.get("queues"))
            return len(members) == 2

        await poll_until(two_available, "both simulated agents logged in and available", 15.0)
        yield Floor(stack.api_url, stack, members[0])


async def shown_states(page: Page, agent: str) -> list[str]:
    """Every action state the page showed on ``agent``'s row, in order."""
    texts: list[str] = await page.evaluate(
        "(agent) => window.wbActions.shown.filter(([a]) => a === agent).map(([, text]) => text)", agent
    )
    return texts


async def test_a_pause_with_a_reason_runs_on_the_pbx_and_shows_its_state(browser: Browser, redis_url: str) -> None:
    """Pause… then Coaching sends {"reason": "Coaching", "queue": null} with the CSRF header; the row shows
    "pausing…" until the PBX confirms, then "paused ✔"; the action is done in the API and the agent shows paused
    for Coaching in the grid, through the collector and the engine."""
    async with pbx_floor(redis_url) as floor:
        page = await logged_in(browser, floor.base, "supervisor1")
        posted: list[Request] = []
        page.on("request", lambda request: posted.append(request) if request.method == "POST" else None)
        await page.goto("/supervisor/")
        assert await actions_offered(page) is True
        await page.locator(BUTTON.format(floor.agent)).click()
        await page.locator(MENU).get_by_role("menuitem", name="Pause…").click()
        reasons = await page.locator(MENU).get_by_role("menuitem").all_inner_texts()
        assert reasons == ["Break", "Coaching", "Lunch", "‹ Back"]  # the site file's pause_reasons
        await page.locator(MENU).get_by_role("menuitem", name="Coaching").click()
        await expect(page.locator(MENU)).to_be_hidden()

        row = page.locator(f'.ag-row[row-id="{floor.agent}"]')
        await expect(row.locator(".wb-act-state")).to_have_text("paused ✔")
        assert await shown_states(page, floor.agent) == ["pausing…", "paused ✔"]
        (request,) = [r for r in posted if unquote(urlsplit(r.url).path) == f"/api/v1/agents/{floor.agent}/pause"]
        assert json.loads(request.post_data or "") == {"reason": "Coaching", "queue": None}
        assert request.headers.get("x-csrf-token")
        response = await request.response()
        assert response is not None and response.status == 202
        action = (await response.json())["id"]
        status = await page.request.get(f"/api/v1/actions/{action}")
        assert (await status.json())["state"] == "done"
        await expect(row.locator('.ag-cell[col-id="state"]')).to_have_text("Paused")
        await expect(row.locator('.ag-cell[col-id="reason"]')).to_have_text("Coaching")
        await expect(page.locator("#sup-action-notice")).to_contain_text("paused ✔")
        await page.locator(BUTTON.format(floor.agent)).click()  # the whole menu, monitoring included
        await expect(page.locator(MENU).get_by_role("menuitem")).to_have_text(MAIN_MENU)
        await page.screenshot(path=screenshot_path("supervisor-actions.png"))


async def choose(page: Page, agent: str, *items: str) -> None:
    """Open ``agent``'s menu and click ``items`` in turn."""
    await page.locator(BUTTON.format(agent)).click()
    for name in items:
        await page.locator(MENU).get_by_role("menuitem", name=name, exact=True).click()


async def test_refusals_confirmations_and_the_remembered_extension(browser: Browser, redis_url: str) -> None:
    """Listening to an agent on no call shows the API's 409 on the row, and the extension typed is kept in the
    profile and prefilled next time; a login into a queue the PBX lacks shows the PBX's message; log out and barge
    ask first (nothing is sent before); a monitor grant withdrawn shows the 403, too many actions the 429."""
    async with pbx_floor(redis_url, actions_per_minute=2) as floor:
        agent, name = floor.agent, floor.agent  # the simulated agents' names are their ids
        page = await logged_in(browser, floor.base, "supervisor1")
        posted: list[str] = []
        page.on("request", lambda r: posted.append(unquote(urlsplit(r.url).path)) if r.method == "POST" else None)
        await page.goto("/supervisor/")
        assert await actions_offered(page) is True
        state = page.locator(f'.ag-row[row-id="{agent}"] .wb-act-state')

        await choose(page, agent, "Listen…")
        extension = page.locator("#sup-monitor-extension")
        await expect(extension).to_have_value("")
        await extension.fill("PJSIP/2001")
        await extension.press("Enter")
        await expect(state).to_have_text(f"failed: agent {agent} is on no call: there is nothing to listen to")
        profile = await page.request.get("/api/v1/me/profile")
        assert (await profile.json())["extension"] == "PJSIP/2001"
        await choose(page, agent, "Listen…")
        await expect(extension).to_have_value("PJSIP/2001")
        await page.keyboard.press("Escape")

        await choose(page, agent, "Log into a queue…", "sales")
        await expect(state).to_have_text("failed: Unable to add interface to queue: No such queue")

        await choose(page, agent, "Log out of…", "All queues")
        await expect(page.locator(f"{MENU} .wb-menu-title")).to_have_text(f"Log {name} out of all queues?")
        await page.locator(MENU).get_by_role("menuitem", name="Cancel").click()
        await expect(page.locator(f"{MENU} .wb-menu-title")).to_have_text(name)
        await page.keyboard.press("Escape")
        await choose(page, agent, "Barge…", "Barge from this extension")
        question = f"Barge into {name}'s call from PJSIP/2001?"
        await expect(page.locator(f"{MENU} .wb-menu-title")).to_have_text(question)
        await page.keyboard.press("Escape")
        await expect(page.locator(MENU)).to_be_hidden()
        prefix = f"/api/v1/agents/{agent}/"
        assert posted == [prefix + "monitor", prefix + "login"]  # nothing for the logout and the barge

        await floor.stack.accounts.update_user("supervisor1", may_monitor=False, actor="test")
        await choose(page, agent, "Whisper…", "Whisper from this extension")
        await expect(state).to_have_text(re.compile(r"^failed: not allowed: supervisor1 may not monitor calls"))
        await choose(page, agent, "Unpause")
        await expect(state).to_have_text("unpaused ✔")
        await choose(page, agent, "Pause…", "Break")
        too_many = "failed: too many actions: supervisor1 asked for more than 2 actions this minute"
        await expect(state).to_have_text(re.compile(rf"^{re.escape(too_many)}"))
        await expect(page.locator("#sup-action-notice")).to_contain_text(too_many)
