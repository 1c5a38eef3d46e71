"""The ops page in a real headless Chromium (Debian's, driven by Playwright): log in, edit, save, see 422 reasons."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from browser import chromium_page
from playwright.async_api import Page, expect

from dash_app.ops import mount_ops_page
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.config import Settings
from wallboard.core.users import Passwords, Role
from wallboard.store import Store, connect

pytestmark = pytest.mark.browser

SITE = "paris"
PASSWORD = "correct horse battery"
SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {}, "agents": {}}
SITE_FILE = """
site: paris
queues: {sales: {}}
thresholds:
  - {id: sl-low, metric: service_level_pct, warn: 80, alarm: 70, label: Service level}
  - {id: waiting, metric: waiting, scope: "queue:sales", warn: 5, alarm: 10}
"""


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    store = Store(client, site=SITE)
    await store.events.save_state(json.dumps(SNAPSHOT), None, "1-0", 1)
    yield store
    await client.aclose()


@pytest.fixture
async def base_url(store: Store, tmp_path: Path) -> AsyncIterator[str]:
    """The API with the ops page mounted, a site file with two thresholds, and users ops1 and viewer1."""
    (tmp_path / "site.yaml").write_text(SITE_FILE, encoding="utf-8")
    passwords = Passwords.cheap()
    app = create_app(Settings(site=SITE, site_file=tmp_path / "site.yaml"), store=store, passwords=passwords)
    mount_ops_page(app)
    accounts = Accounts(store.accounts, Hashing(passwords))
    await accounts.add_user("ops1", Role.OPS, PASSWORD, actor="test")
    await accounts.add_user("viewer1", Role.VIEWER, PASSWORD, actor="test")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    async with serving(config) as base:
        yield base


@pytest.fixture
async def page(base_url: str) -> AsyncIterator[Page]:
    async with chromium_page(base_url) as page:
        yield page


async def log_in(page: Page, name: str) -> None:
    await page.goto("/ops/")
    await page.fill("#login-name", name)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-button")


async def edit_cell(page: Page, row_id: str, column: str, value: str) -> None:
    """Click a grid cell (single-click editing), type the value, press Enter."""
    await page.click(f'.ag-row[row-id="{row_id}"] .ag-cell[col-id="{column}"]')
    editor = page.locator(f'.ag-row[row-id="{row_id}"] .ag-cell[col-id="{column}"] input')
    await editor.fill(value)
    await editor.press("Enter")
    await expect(page.locator(f'.ag-row[row-id="{row_id}"] .ag-cell[col-id="{column}"]')).to_have_text(value)


async def test_ops_changes_a_warn_level_and_sees_a_422_reason(page: Page, store: Store) -> None:
    """Log in as ops, raise the SL warn level, save (version 1 stored and audited), then an invalid level is
    refused with the reason shown by row and field, and nothing more is stored."""
    await log_in(page, "ops1")
    await expect(page.locator("#whoami")).to_have_text("ops1 (ops)")
    await expect(page.locator("#version-text")).to_have_text("0")
    await expect(page.locator('.ag-row[row-id="sl-low"] .ag-cell[col-id="warn"]')).to_have_text("80")

    await edit_cell(page, "sl-low", "warn", "85")
    await page.click("#save-button")
    await expect(page.locator("#status")).to_have_text("saved: version 1")
    await expect(page.locator("#version-text")).to_have_text("1")
    stored = await store.config.load_config("thresholds") or {}
    assert (stored["version"], stored["updated_by"]) == (1, "ops1")
    assert [(t["id"], t["warn"]) for t in stored["thresholds"]] == [("sl-low", 85), ("waiting", 5)]

    await edit_cell(page, "sl-low", "warn", "65")  # below the alarm level 70 of a "below" metric
    await page.click("#save-button")
    await expect(page.locator("#status")).to_have_text("not saved: fix these")
    await expect(page.locator("#problems li")).to_have_text(["sl-low · alarm: " + _alarm_reason(70, 65)])
    assert (await store.config.load_config("thresholds") or {})["version"] == 1


async def test_the_session_cookie_is_out_of_the_scripts_reach(page: Page, base_url: str) -> None:
    """After logging in, the session sits in an HttpOnly SameSite=Strict cookie that page scripts cannot read."""
    await log_in(page, "ops1")
    await expect(page.locator("#whoami")).to_have_text("ops1 (ops)")
    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    visible = await page.evaluate("document.cookie")
    assert cookies["wb_session"]["httpOnly"] is True and cookies["wb_session"]["sameSite"] == "Strict"
    assert "wb_session" not in visible and "wb_csrf=" in visible
    jar = {"wb_session": cookies["wb_session"]["value"], "wb_csrf": cookies["wb_csrf"]["value"]}
    async with httpx.AsyncClient(base_url=base_url, cookies=jar) as http:  # the cookies without the CSRF header
        forged = await http.put("/api/v1/thresholds", json={"version": 0, "thresholds": []})
        wrong = await http.put(
            "/api/v1/thresholds", json={"version": 0, "thresholds": []}, headers={"X-CSRF-Token": "guessed"}
        )
    assert forged.status_code == wrong.status_code == 403


async def test_a_viewer_is_told_it_may_not_edit(page: Page) -> None:
    """A viewer's login works but the editor stays hidden, with the reason."""
    await log_in(page, "viewer1")
    await expect(page.locator("#status")).to_have_text("viewer1 (viewer) may not edit thresholds")
    await expect(page.locator("#editor-panel")).to_be_hidden()


def _alarm_reason(alarm: int, warn: int) -> str:
    """The model's words for an alarm level on the good side of the warn level of a "below" metric."""
    return (
        f"alarm {alarm} is above warn {warn}: with direction below the alarm level must be "
        "the same as or further below than the warn level"
    )
