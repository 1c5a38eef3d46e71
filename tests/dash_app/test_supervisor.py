"""The supervisor view in a real headless Chromium against the real demo stack (``wallboard demo`` as a subprocess).

The demo runs the simulator, the AMI collector, an embedded Redis, the engine and the API with every
page; it prints the TV URL with a display token on stdout. The page's websocket goes through
Playwright's websocket routing, so a test can stop the server's messages and see what the browser
does on its own.
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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Page, WebSocketRoute, async_playwright, expect

from dash_app.grid import agent_rows

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own browser download is not used
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "supervisor.png"
START_TIMEOUT_S = 30.0
WAIT_MS = 15_000
TWO_SAMPLES = "() => window.wbSupervisor && Object.values(window.wbSupervisor.trend).some((s) => s.length >= 2)"
CELL = '.ag-center-cols-container .ag-row[row-index="0"] .ag-cell[col-id="time_in_state"]'


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
    env["WALLBOARD_EMBEDDED_DIR"] = str(tmp_path_factory.mktemp("redis"))
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
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap (Debian package chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page(base_url=demo.base, viewport={"width": 1920, "height": 1080})
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            await browser.close()


async def grid_ids(page: Page) -> list[str]:
    ids: list[str] = await page.evaluate(
        "() => { const ids = []; dash_ag_grid.getApi('sup-grid').forEachNode((n) => ids.push(n.data.id));"
        " return ids.sort(); }"
    )
    return ids


async def logged_in(demo: Demo) -> list[str]:
    async with httpx.AsyncClient(base_url=demo.base, headers={"Authorization": f"Bearer {demo.token}"}) as http:
        agents = (await http.get("/api/v1/agents")).json()["agents"]
    return sorted(agent["id"] for agent in agents if agent["state"] != "logged_out")


async def test_the_grid_ticks_filters_and_shows_waiting_callers(page: Page, demo: Demo) -> None:
    """Every logged-in agent is listed; time in state ticks with the server silenced; a team filter narrows the
    rows to that team; a queue with callers lists them with their wait; a screenshot is saved."""
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
    # The page's rows are dash_app.grid's rows of the snapshot it holds (plus since_ms, the ticking base).
    held, rows = await page.evaluate("() => [window.wbSupervisor.snap, window.wbSupervisor.rows]")
    assert [{k: v for k, v in row.items() if k != "since_ms"} for row in sorted(rows, key=_by_name)] == agent_rows(held)
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

    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT))


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
