"""Alerts acknowledged, snoozed and noted from the supervisor view, in a real headless Chromium against the real
demo stack (``wallboard demo``: simulator, collector, engine, API): the page POSTs with the session of the demo's
admin (logged in on /ops/) and the engine applies the action; the test checks it on ``GET /api/v1/alerts``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browser import chromium_page
from playwright.async_api import Page, expect
from waiting import poll_until

from dash_app.floor import alert_rows

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
ALERT_TIMEOUT_S = 60.0  # the strict threshold fires at the engine's next evaluation; the margin is a loaded machine's
PASSWORD = re.compile(r"user '(?P<user>[^']+)', password '(?P<password>[^']+)'")


@dataclass
class Demo:
    base: str
    token: str
    user: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo at speed 20 with its stderr in a file: the URL (stdout) and its admin's password (stderr)."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_") and k != "REDIS_URL"}
    env["HOME"] = str(home)
    argv = [sys.executable, "-m", "wallboard.cli", "demo", "--port", str(_free_port()), "--speed", "20"]
    out, err = home / "out.txt", home / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ((url := out.read_text().strip()) and (found := PASSWORD.search(err.read_text()))):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the demo announced no URL and password (exit code {process.poll()})")
            time.sleep(0.2)  # polling the demo's output under the deadline above, not a settle-sleep
        parts = urlsplit(url.splitlines()[0])
        yield Demo(f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["token"][0], found["user"],
                   found["password"])  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def page(demo: Demo) -> AsyncIterator[Page]:
    async with chromium_page(demo.base) as page:
        yield page


async def open_alerts(demo: Demo) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=demo.base, headers={"Authorization": f"Bearer {demo.token}"}) as http:
        alerts: list[dict[str, Any]] = (await http.get("/api/v1/alerts")).json()["alerts"]
        return alerts


async def alert_in_api(demo: Demo, alert_id: str, wanted: dict[str, Any], timeout_s: float = 20.0) -> dict[str, Any]:
    """The alert as GET /api/v1/alerts lists it once it has every field of ``wanted``."""
    found: dict[str, Any] = {}

    async def has_it() -> bool:
        found.clear()
        found.update(next((a for a in await open_alerts(demo) if a["alert_id"] == alert_id), {}))
        return all(found.get(key) == value for key, value in wanted.items())

    await poll_until(has_it, f"alert {alert_id} with {wanted}", timeout_s)
    return found


async def _strict_threshold(demo: Demo) -> None:
    """As ops would: add a threshold every queue breaches now (fewer than 1,000 agents available, no delay), so
    alerts fire within the engine's next evaluation instead of whenever the simulated floor gets busy enough."""
    async with httpx.AsyncClient(base_url=demo.base) as http:
        login = await http.post("/api/v1/login", json={"name": demo.user, "password": demo.password})
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        current = (await http.get("/api/v1/thresholds")).json()
        strict = {"id": "test-staffing", "metric": "agents_available", "direction": "below", "warn": 1000,
                  "alarm": 999, "for_s": 0, "severity": "ticket"}  # fmt: skip
        answer = await http.put(
            "/api/v1/thresholds", json={"version": current["version"], "thresholds": [*current["thresholds"], strict]}
        )
        assert answer.status_code == 200, answer.text


async def test_an_alert_is_acknowledged_snoozed_and_noted_from_the_page(page: Page, demo: Demo) -> None:
    """Logged in on /ops/ as the demo's admin, the supervisor view lists the open alerts with their tools; an
    alert acknowledged on the page is acknowledged by that user in the API, a note added there is on it, and an
    alert snoozed for 15 minutes is snoozed until about 15 minutes from now; the page shows the new state."""
    await page.goto("/ops/")
    await page.fill("#login-name", demo.user)
    await page.fill("#login-password", demo.password)
    await page.click("#login-button")
    await expect(page.locator("#whoami")).to_contain_text(demo.user)
    await page.goto("/supervisor/")
    await expect(page.locator("#sup-status")).to_contain_text("live")

    await _strict_threshold(demo)
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while len(firing := [a for a in await open_alerts(demo) if a["state"] == "firing"]) < 2:
        assert time.monotonic() < deadline, f"fewer than two alerts firing after {ALERT_TIMEOUT_S} s of the demo"
        await page.wait_for_timeout(2_000)
    first, second = firing[0]["alert_id"], firing[1]["alert_id"]
    item = page.locator(f'#sup-alerts li[data-alert-id="{first}"]')
    await expect(item.locator(".sup-alert-ack")).to_be_visible()
    held, shown = await page.evaluate("() => [window.wbSupervisor.snap, window.wbSupervisor.alerts]")
    assert shown == alert_rows(held)

    await item.locator(".sup-alert-ack").click()
    await expect(item.locator(".sup-alert-result")).to_have_text("acknowledged ✔")
    await alert_in_api(demo, first, {"state": "acknowledged", "acknowledged_by": demo.user})
    await expect(item.locator(".sup-alert-state")).to_contain_text(f"acknowledged by {demo.user}")

    await item.locator(".sup-alert-note").fill("calling the team lead")
    await item.locator(".sup-alert-save").click()
    await expect(item.locator(".sup-alert-result")).to_have_text("note added ✔")
    await alert_in_api(demo, first, {"note": "calling the team lead"})
    await expect(item.locator(".sup-alert-state")).to_contain_text("note: calling the team lead")

    other = page.locator(f'#sup-alerts li[data-alert-id="{second}"]')
    asked = time.time()
    await other.locator(".sup-alert-snooze").select_option("15")
    await expect(other.locator(".sup-alert-result")).to_have_text("snoozed 15 min ✔")
    snoozed = await alert_in_api(demo, second, {"state": "snoozed"})
    until = snoozed["snoozed_until"].replace("Z", "+00:00")
    assert abs(datetime.fromisoformat(until).timestamp() - (asked + 15 * 60)) < 60
    await expect(other.locator(".sup-alert-state")).to_contain_text("snoozed until")
    await page.screenshot(path="/tmp/sup-shots/supervisor-alerts.png")
