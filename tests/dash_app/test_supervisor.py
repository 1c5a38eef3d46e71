"""The supervisor view in a real headless Chromium, against the real demo stack and against published snapshots.

The demo (``wallboard demo`` as a subprocess) runs the simulator, the AMI collector, an embedded
Redis, the engine and the API with every page; it prints the TV URL with a display token on stdout.
The page's websocket goes through Playwright's websocket routing, so a test can stop the server's
messages and see what the browser does on its own. The other tests publish hand-built snapshots
(``conftest.Publisher``) to the API served in-process (``serve``), which a test can stop and restart.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browser import chromium_page, new_page, screenshot_path
from playwright.async_api import Browser, Page, WebSocketRoute, expect
from stale_watch import RECOVERY_WAIT_MS, STALE_PROMISE_S, STALE_WAIT_MS, record_frames, stale_after_s, watch_banner

from dash_app.grid import agent_rows, listed
from wallboard.admin.accounts import Accounts
from wallboard.core.users import Role

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
TWO_SAMPLES = "() => window.wbSupervisor && Object.values(window.wbSupervisor.trend).some((s) => s.length >= 2)"
# Time in state of a logged-in agent's row (a scheduled agent the engine never saw is listed logged out, with no
# state start to tick from).
CELL = (
    '.ag-center-cols-container .ag-row:not(:has(.ag-cell[col-id="state"]:text-is("Logged out")))'
    ' .ag-cell[col-id="time_in_state"] >> nth=0'
)


@dataclass
class Demo:
    base: str
    token: str


@dataclass
class Gate:
    """Relays the page's websocket to the server; ``open`` False drops what the server sends."""

    open: bool = True
    relayed: int = 0
    sockets: list[WebSocketRoute] = field(default_factory=list)

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if self.open:
                self.relayed += 1
                ws.send(message)

        server.on_message(to_page)
        ws.on_message(lambda message: server.send(message))
        self.sockets.append(ws)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _announced_url(process: subprocess.Popen[str]) -> str:
    """The first stdout line of the demo (its URL), waiting at most START_TIMEOUT_S."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            line = process.stdout.readline()
            if line.startswith("http"):
                return line.strip()
            if not line and process.poll() is not None:
                break
    raise RuntimeError(f"the demo announced no URL within {START_TIMEOUT_S} s (exit code {process.poll()})")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_") and k != "REDIS_URL"}
    env["HOME"] = str(tmp_path_factory.mktemp("home"))  # the demo's own throwaway Redis: nothing of the user's
    argv = [sys.executable, "-m", "wallboard.cli", "demo", "--port", str(_free_port()), "--speed", "20"]
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
    )
    try:
        url = urlsplit(_announced_url(process))
        yield Demo(f"{url.scheme}://{url.netloc}", parse_qs(url.query)["token"][0])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
async def page(demo: Demo) -> AsyncIterator[Page]:
    async with chromium_page(demo.base) as page:
        yield page


async def grid_ids(page: Page) -> list[str]:
    ids: list[str] = await page.evaluate(
        "() => { const ids = []; dash_ag_grid.getApi('sup-grid').forEachNode((n) => ids.push(n.data.id));"
        " return ids.sort(); }"
    )
    return ids


async def logged_in(demo: Demo) -> list[str]:
    async with httpx.AsyncClient(base_url=demo.base, headers={"Authorization": f"Bearer {demo.token}"}) as http:
        agents = (await http.get("/api/v1/agents")).json()["agents"]
    return sorted(agent["id"] for agent in agents if listed(agent))  # logged in, or late for their shift


async def test_the_grid_ticks_filters_and_shows_waiting_callers(page: Page, demo: Demo) -> None:
    """Every logged-in agent (and any logged out out of adherence) is listed; time in state ticks with the server
    silenced; a team filter narrows the rows to that team; a queue with callers lists them with their wait; a
    screenshot is saved (build/screenshots)."""
    gate = Gate()
    await page.route_web_socket(re.compile(r"/ws\?"), gate.route)
    await page.goto(f"/supervisor/?token={demo.token}")
    await expect(page.locator("#sup-status")).to_contain_text("live")

    deadline = time.monotonic() + 10
    while (shown := await grid_ids(page)) != (expected := await logged_in(demo)) and time.monotonic() < deadline:
        await page.wait_for_timeout(200)  # agents log in and out while the simulator runs: compare again
    assert shown == expected and len(shown) > 10

    gate.open = False
    relayed = gate.relayed
    before = await page.locator(CELL).inner_text()
    await expect(page.locator(CELL)).not_to_have_text(before, timeout=3_000)
    assert re.fullmatch(r"\d+:\d\d(:\d\d)?", await page.locator(CELL).inner_text())
    assert gate.relayed == relayed  # ticked with no message from the server
    # The page's rows are dash_app.grid's rows of the snapshot it holds (plus since_ms and out_since_ms, the
    # ticking bases).
    held, rows = await page.evaluate("() => [window.wbSupervisor.snap, window.wbSupervisor.rows]")
    ticking = ("since_ms", "out_since_ms")
    assert [{k: v for k, v in row.items() if k not in ticking} for row in sorted(rows, key=_by_name)] == agent_rows(
        held
    )
    gate.open = True

    team = (await page.locator("#sup-filter-team option").all_inner_texts())[1]
    await page.select_option("#sup-filter-team", team)
    teams: list[str] = await page.evaluate(
        "() => { const t = []; dash_ag_grid.getApi('sup-grid').forEachNode((n) => t.push(n.data.team)); return t; }"
    )
    assert teams and set(teams) == {team} and len(teams) < len(shown)
    await page.select_option("#sup-filter-team", "")

    await page.wait_for_function(TWO_SAMPLES, timeout=25_000)  # the runner samples every 10 s
    busiest = await _queue_with_callers(page)
    await page.select_option("#sup-queue-select", busiest)
    first = page.locator("#sup-callers tbody tr").first
    await expect(first.locator("td").first).to_have_text("1")
    assert re.fullmatch(r"\d+:\d\d", await first.locator("td.wait").inner_text())

    await page.screenshot(path=screenshot_path("supervisor.png"))  # scripts/screenshot copies it to docs/


async def test_the_sparkline_history_survives_a_reload(page: Page, demo: Demo) -> None:
    """After a reload the page holds samples from before it loaded (from /api/v1/trend), the same the API serves."""
    await page.goto(f"/supervisor/?token={demo.token}")
    await page.wait_for_function(TWO_SAMPLES, timeout=25_000)
    await page.reload()
    loaded = time.time()
    handle = await page.wait_for_function(
        "() => window.wbSupervisor && Object.keys(window.wbSupervisor.trend).length"
        " && Math.min(...Object.values(window.wbSupervisor.trend).map((s) => s[0][0]))"
    )
    oldest: float = await handle.json_value()
    async with httpx.AsyncClient(base_url=demo.base, headers={"Authorization": f"Bearer {demo.token}"}) as http:
        served = (await http.get("/api/v1/trend")).json()
    assert oldest < loaded - 5
    assert oldest == min(series[0][0] for series in served.values())
    await expect(page.locator(".sup-spark-row[data-queue] svg.spark.waiting polyline").first).to_have_attribute(
        "points", re.compile(r"\S+ \S+")
    )


def _by_name(row: dict[str, Any]) -> tuple[str, str]:
    return (str(row["name"]), str(row["id"]))


async def _queue_with_callers(page: Page) -> str:
    """A queue that has callers waiting now (as the page holds it), waiting for one if need be."""
    handle = await page.wait_for_function(
        "() => { const s = window.wbSupervisor && window.wbSupervisor.snap; if (!s) return null;"
        " const q = Object.values(s.queues).filter((q) => q.waiting > 0).sort((a, b) => b.waiting - a.waiting);"
        " return q.length ? q[0].name : null; }"
    )
    name: str = await handle.json_value()
    return name


async def test_a_wrong_token_is_not_authorised(page: Page) -> None:
    """A token the server does not know shows "Not authorised" instead of the grid."""
    await page.goto("/supervisor/?token=not-a-token")
    await expect(page.locator("#sup-denied")).to_contain_text("Not authorised")
    await expect(page.locator("#sup-main")).to_be_hidden()


# -- published snapshots (no demo): highlights, filters, STALE, the session cookie ----------------------------------

PASSWORD = "correct horse battery"
ROW = '.ag-center-cols-container .ag-row[row-id="{}"]'


def floor(now: datetime, on_call: str = "a4") -> dict[str, Any]:
    """Agents of teams blue and red: a1 on a long break (warn) and out of adherence, a2 on a longer one (alarm)
    in its grace with an unmapped reason, a5 logged out, a6 logged out and late for its shift."""

    def agent(ident: str, name: str, team: str, state: str, queues: list[str], ago_s: float, reason: str | None = None):
        since = (now - timedelta(seconds=ago_s)).isoformat()
        return {"id": ident, "name": name, "team": team, "state": state, "reason": reason, "since": since,
                "time_in_state_s": ago_s, "queues": queues, "paused_queues": queues if state == "paused" else [],
                "calls_today": 3, "aht_s": 200.0}  # fmt: skip

    out_since = (now - timedelta(seconds=300)).isoformat()
    adherence = {"scheduled": "available", "actual": "Break", "status": "out", "out_since": out_since,
                 "out_for_s": 300.0, "exception": "wrong_activity", "adherence_pct": 91.0}  # fmt: skip
    agents = [
        agent("a1", "Ana", "blue", "paused", ["support"], 900, "Break") | {"adherence": adherence},
        agent("a2", "Ben", "blue", "paused", ["support"], 2400, "Smoke")
        | {
            "adherence": {
                "scheduled": "available",
                "actual": "unmapped:Smoke",
                "status": "grace",
                "out_since": None,
                "exception": "unmapped_reason",
            }
        },  # fmt: skip
        agent("a3", "Cleo", "red", "on_call" if on_call == "a3" else "available", ["sales"], 30),
        agent("a4", "Dan", "red", "on_call" if on_call == "a4" else "available", ["sales", "support"], 60),
        agent("a5", "Eve", "red", "logged_out", [], 5000),
        agent("a6", "Fay", "red", "logged_out", [], 0)
        | {"since": None, "adherence": adherence | {"actual": "offline", "exception": "late_login"}},
    ]
    alerts = [
        {"target": {"kind": "agent", "name": "a1"}, "metric": "agent_pause_s", "level": "warn"},
        {"target": {"kind": "agent", "name": "a2"}, "metric": "agent_pause_s", "level": "alarm"},
    ]
    queues = {name: {"name": name, "waiting": 0, "waiting_calls": [], "interval": {}} for name in ("sales", "support")}
    return {"site": "paris", "ts": now.isoformat(), "queues": queues, "agents": {a["id"]: a for a in agents},
            "alerts": alerts}  # fmt: skip


async def open_supervisor(browser: Browser, base: str, query: str = "") -> Page:
    page = await new_page(browser, base)
    await record_frames(page)
    await page.goto(f"/supervisor/{query}")
    return page


async def test_alert_highlights_with_an_icon(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """An agent with a long-break warn alert is highlighted warn with the ▲ icon, one with an alarm alarm with ✖;
    an agent without alert is not highlighted."""
    await publisher.publish(floor(datetime.now(UTC)))
    async with serve(port) as base:
        page = await open_supervisor(browser, base, f"?token={token}")
        await expect(page.locator(ROW.format("a1"))).to_have_class(re.compile(r"\bwb-long-break-warn\b"))
        await expect(page.locator(ROW.format("a2"))).to_have_class(re.compile(r"\bwb-long-break-alarm\b"))
        assert "wb-long" not in (await page.locator(ROW.format("a3")).get_attribute("class") or "")
        icons = await page.evaluate(
            """(ids) => ids.map((id) => getComputedStyle(document.querySelector(
                 `.ag-center-cols-container .ag-row[row-id="${id}"] .ag-cell[col-id="state"]`), "::before").content)""",
            ["a1", "a2", "a3"],
        )
        assert "▲" in icons[0] and "✖" in icons[1] and icons[2] in ("none", "normal", "")


async def test_team_queue_and_state_filters(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """Choosing a team lists only its agents; a queue only its members; team and state together both."""
    await publisher.publish(floor(datetime.now(UTC)))
    async with serve(port) as base:
        page = await open_supervisor(browser, base, f"?token={token}")
        await expect(page.locator(ROW.format("a4"))).to_be_visible()
        assert await grid_ids(page) == ["a1", "a2", "a3", "a4", "a6"]  # a5 is logged out, a6 late for work
        assert await page.locator("#sup-filter-team option").all_inner_texts() == ["all teams", "blue", "red"]
        await page.select_option("#sup-filter-team", "blue")
        assert await grid_ids(page) == ["a1", "a2"]
        await page.select_option("#sup-filter-team", "")
        await page.select_option("#sup-filter-queue", "sales")
        assert await grid_ids(page) == ["a3", "a4"]
        await page.select_option("#sup-filter-queue", "")
        await page.select_option("#sup-filter-team", "red")
        await page.select_option("#sup-filter-state", "on_call")
        assert await grid_ids(page) == ["a4"]


async def test_stale_banner_and_recovery_without_reload(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """Stopping the server shows STALE with the data's age within 6 s; starting it again clears it and shows the
    new data, and the page was never reloaded."""
    await publisher.publish(floor(datetime.now(UTC)))
    async with serve(port) as base:
        page = await open_supervisor(browser, base, f"?token={token}")
        await expect(page.locator("#sup-status")).to_contain_text("live")
        await expect(page.locator("#sup-stale")).to_be_hidden()
        await page.evaluate("window.marker = 'no reload'")
        await watch_banner(page, "#sup-stale")
    await expect(page.locator("#sup-stale")).to_be_visible(timeout=STALE_WAIT_MS)
    assert await stale_after_s(page) <= STALE_PROMISE_S
    await expect(page.locator("#sup-stale")).to_contain_text(re.compile(r"STALE — no data for \d+ s"))
    await page.screenshot(path=screenshot_path("supervisor-stale.png"))
    await publisher.publish(floor(datetime.now(UTC), on_call="a3"))
    async with serve(port):
        await expect(page.locator("#sup-stale")).to_be_hidden(timeout=RECOVERY_WAIT_MS)
        await expect(page.locator(ROW.format("a3") + ' .ag-cell[col-id="state"]')).to_have_text("On call")
        assert await page.evaluate("window.marker") == "no reload"


async def test_the_ops_session_cookie_opens_the_page(
    browser: Browser, publisher: Any, serve: Any, port: int, accounts: Accounts
) -> None:
    """Logged in on /ops/, /supervisor/ without ?token= is live with the grid; with no credential at all it shows
    "Not authorised" and says how to get in."""
    await publisher.publish(floor(datetime.now(UTC)))
    await accounts.add_user("ops1", Role.OPS, PASSWORD, actor="test")
    async with serve(port) as base:
        page = await open_supervisor(browser, base)
        await expect(page.locator("#sup-denied")).to_contain_text("Not authorised: log in on /ops/")
        await expect(page.locator("#sup-main")).to_be_hidden()
        await page.goto("/ops/")
        await page.fill("#login-name", "ops1")
        await page.fill("#login-password", PASSWORD)
        await page.click("#login-button")
        await expect(page.locator("#whoami")).to_have_text("ops1 (ops)")
        await page.goto("/supervisor/")
        await expect(page.locator("#sup-status")).to_contain_text("live")
        await expect(page.locator(ROW.format("a4"))).to_be_visible()
        assert await grid_ids(page) == ["a1", "a2", "a3", "a4", "a6"]


async def test_adherence_columns(browser: Browser, publisher: Any, serve: Any, port: int, token: str) -> None:
    """The grid shows the scheduled activity, the status with its cue, "out for" ticking from out_since, and the
    exception in words; the page's rows are dash_app.grid's rows of the snapshot it holds."""
    await publisher.publish(floor(datetime.now(UTC)))
    async with serve(port) as base:
        page = await open_supervisor(browser, base, f"?token={token}")
        row, ben = page.locator(ROW.format("a1")), page.locator(ROW.format("a2"))
        await expect(row.locator('[col-id="adherence"]')).to_have_text("✖ out")
        await expect(row.locator('[col-id="scheduled"]')).to_have_text("available")
        await expect(row.locator('[col-id="exception"]')).to_have_text("wrong activity")
        await expect(row.locator('[col-id="adherence"]')).to_have_class(re.compile(r"\bwb-adh-out\b"))
        out_for = row.locator('[col-id="out_for"]')
        assert re.fullmatch(r"5:0\d", await out_for.inner_text())  # out for 300 s when published
        before = await out_for.inner_text()
        await expect(out_for).not_to_have_text(before, timeout=3_000)  # ticks with no new message
        await expect(ben.locator('[col-id="adherence"]')).to_have_text("◔ grace")
        await expect(ben.locator('[col-id="exception"]')).to_have_text("unmapped reason: Smoke")
        assert await ben.locator('[col-id="out_for"]').inner_text() == ""
        await expect(page.locator(ROW.format("a3") + ' [col-id="adherence"]')).to_have_text("")
        fay = page.locator(ROW.format("a6"))
        await expect(fay.locator('[col-id="state"]')).to_have_text(
            "Logged out"
        )  # the state in words; the row keeps "logged_out"
        await expect(fay.locator('[col-id="exception"]')).to_have_text("late login")
        held, rows = await page.evaluate("() => [window.wbSupervisor.snap, window.wbSupervisor.rows]")
        strip = ("since_ms", "out_since_ms")
        page_rows = [{k: v for k, v in r.items() if k not in strip} for r in sorted(rows, key=_by_name)]
        assert page_rows == agent_rows(held)
        await page.screenshot(path=screenshot_path("supervisor-adherence.png"))
