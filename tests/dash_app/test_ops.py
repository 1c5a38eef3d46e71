"""The ops page in a real headless Chromium (Debian's, driven by Playwright) against the real API and Redis: log in
with Enter, edit thresholds (a typo is never saved), boards, display tokens, users, schedules and the audit trail."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from browser import chromium_page, screenshot_path
from playwright.async_api import Page, expect

from dash_app.ops import mount_ops_page
from dash_app.tv import mount_tv_page
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.config import Settings
from wallboard.core.events import AlertAction, parse_event
from wallboard.core.users import Passwords, Role
from wallboard.store import Store, connect

pytestmark = pytest.mark.browser

SITE = "paris"
PASSWORD = "correct horse battery"
FIRING = "waiting:queue:sales:1704099600"
ALERT = {
    "alert_id": FIRING,
    "threshold_id": "waiting",
    "target": {"kind": "queue", "name": "sales"},
    "metric": "waiting",
    "level": "alarm",
    "severity": "page",
    "state": "firing",
    "value": 12.0,
    "reason": "Calls waiting 12 > 10",
    "since": "2024-01-01T08:55:00+00:00",
    "label": "Sales queue",
}
SNAPSHOT = {
    "site": SITE,
    "seq": 1,
    "ts": "2024-01-01T09:00:00+00:00",
    "queues": {},
    "agents": {},
    "alerts": [ALERT],
}
SITE_FILE = """
site: paris
timezone: Europe/Paris
queues: {sales: {}, support: {}, chat: {channel: chat}}
agents: {a1: {name: Ann}, a2: {name: Bob}}
campaigns: {renewals: {display_name: Renewals}}
thresholds:
  - {id: sl-low, metric: service_level_pct, warn: 80, alarm: 70, label: Service level}
  - {id: waiting, metric: waiting, scope: "queue:sales", warn: 5, alarm: 10}
"""
SCHEDULE = (
    "agent,date,start,end,activity\n"
    "a1,2026-02-02,09:00,12:00,work\n"
    "zed,2026-02-02,09:00,12:00,work\n"
    "a2,2026-02-02,13:00,17:00,work\n"
)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    store = Store(client, site=SITE)
    await store.events.save_state(json.dumps(SNAPSHOT), None, "1-0", 1)
    yield store
    await client.aclose()


@pytest.fixture
async def base_url(store: Store, tmp_path: Path) -> AsyncIterator[str]:
    """The API with the ops and TV pages mounted, a site file with two thresholds, users ops1, admin1, planner1
    and viewer1."""
    (tmp_path / "site.yaml").write_text(SITE_FILE, encoding="utf-8")
    passwords = Passwords.cheap()
    app = create_app(Settings(site=SITE, site_file=tmp_path / "site.yaml"), store=store, passwords=passwords)
    mount_ops_page(app)
    mount_tv_page(app)
    accounts = Accounts(store.accounts, Hashing(passwords))
    for name, role in (
        ("ops1", Role.OPS),
        ("admin1", Role.ADMIN),
        ("planner1", Role.PLANNER),
        ("viewer1", Role.VIEWER),
    ):
        await accounts.add_user(name, role, PASSWORD, actor="test")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    async with serving(config) as base:
        yield base


@pytest.fixture
async def page(base_url: str) -> AsyncIterator[Page]:
    async with chromium_page(base_url) as page:
        yield page


async def log_in(page: Page, name: str) -> None:
    """Type the name and password and press Enter (no click: Enter submits the form)."""
    await page.goto("/ops/")
    await page.fill("#login-name", name)
    await page.fill("#login-password", PASSWORD)
    await page.press("#login-password", "Enter")
    await expect(page.locator("#whoami")).to_have_text(f"{name} ({name.rstrip('0123456789')})")


async def stored_thresholds(store: Store) -> dict[str, object]:
    return await store.config.load_config("thresholds") or {"version": 0}


async def test_login_with_enter_shows_only_the_sections_of_the_role(page: Page) -> None:
    """Enter in the password field logs in; ops sees thresholds, boards, tokens, alerts and audit but not users or
    schedules; the thresholds are loaded into labelled inputs."""
    await log_in(page, "ops1")
    await expect(page.locator("#ops-nav button")).to_have_text(
        ["Thresholds", "Boards", "Display tokens", "Alerts", "Audit trail"]
    )
    await expect(page.get_by_label("sl-low · warn")).to_have_value("80")
    await expect(page.get_by_label("waiting · scope")).to_have_value("queue:sales")


async def test_a_typo_in_a_level_is_never_saved(page: Page, store: Store) -> None:
    """Typing abc into a warn level and pressing Enter shows the reason next to the field and sends nothing: the
    stored version is unchanged and the level still there; fixing it saves version 1."""
    await log_in(page, "ops1")
    warn = page.get_by_label("sl-low · warn")
    await warn.fill("abc")
    await warn.press("Enter")
    await expect(page.locator("#th-sl-low-warn-error")).to_have_text("“abc” is not a number")
    await expect(warn).to_have_attribute("aria-invalid", "true")
    await expect(warn).to_be_focused()
    await expect(page.locator("#th-message")).to_have_text("not saved: fix the marked fields (nothing was sent)")
    assert (await stored_thresholds(store))["version"] == 0
    await page.click("#th-reload")
    await expect(warn).to_have_value("80")  # the level is still there

    await warn.fill("85")
    await page.click("#th-save")
    await expect(page.locator("#th-message")).to_have_text("saved: version 1")
    stored = await stored_thresholds(store)
    assert [(t["id"], t["warn"]) for t in stored["thresholds"]] == [("sl-low", 85), ("waiting", 5)]  # type: ignore[attr-defined]


async def test_the_apis_422_is_shown_at_the_field_it_names(page: Page, store: Store) -> None:
    """A warn level on the wrong side of the alarm level parses but the API refuses it (422 thresholds[0].alarm):
    the reason sits under that row's alarm input and nothing is stored."""
    await log_in(page, "ops1")
    await page.get_by_label("sl-low · warn").fill("65")
    await page.click("#th-save")
    await expect(page.locator("#th-sl-low-alarm-error")).to_have_text(_alarm_reason(70, 65))
    await expect(page.locator("#th-message")).to_have_text("not saved: fix the marked fields")
    assert (await stored_thresholds(store))["version"] == 0


async def test_add_and_delete_a_threshold(page: Page, store: Store) -> None:
    """Add threshold gives a new row to fill and save (version 1 holds it); Delete on a row and Save removes it."""
    await log_in(page, "ops1")
    await page.click("#th-add")
    await page.get_by_label("new 1 · id").fill("long-wait")
    await page.get_by_label("new 1 · metric").select_option("longest_wait_s")
    await page.get_by_label("new 1 · scope").fill("queue:support")
    await page.get_by_label("new 1 · warn").fill("60")
    await page.get_by_label("new 1 · alarm").fill("120")
    await page.get_by_label("new 1 · alarm").press("Enter")
    await expect(page.locator("#th-message")).to_have_text("saved: version 1")
    ids = [t["id"] for t in (await stored_thresholds(store))["thresholds"]]  # type: ignore[attr-defined]
    assert ids == ["sl-low", "waiting", "long-wait"]

    await page.get_by_role("button", name="Delete waiting").click()
    await page.click("#th-save")
    await expect(page.locator("#th-message")).to_have_text("saved: version 2")
    ids = [t["id"] for t in (await stored_thresholds(store))["thresholds"]]  # type: ignore[attr-defined]
    assert ids == ["sl-low", "long-wait"]
    await expect(page.locator("#th-rows tr")).to_have_count(2)


async def test_a_threshold_limited_to_a_channel_and_one_on_a_campaign_round_trip(page: Page, store: Store) -> None:
    """The Channel column: a first-response threshold limited to chat and a campaign's drop rate
    (``campaign:renewals``) are saved; a channel on a campaign metric is the API's 422 at that row's channel; after
    a reload the select shows the stored channel; "any channel" removes it; a threshold without one never gains
    one. The new metrics are offered."""
    await log_in(page, "ops1")
    offered = await page.locator("#th-sl-low-metric option").evaluate_all("(o) => o.map((x) => x.value)")
    assert {"first_response_s", "agent_concurrency_pct", "campaign_drop_rate_pct"} <= set(offered)
    await expect(page.locator("#th-waiting-channel option")).to_have_text(
        ["any channel", "Voice", "Chat", "Email", "Callback", "Outbound"]
    )
    await page.click("#th-add")
    await page.get_by_label("new 1 · id").fill("chat-first")
    await page.get_by_label("new 1 · metric").select_option("first_response_s")
    await page.get_by_label("new 1 · channel").select_option("chat")
    await page.get_by_label("new 1 · warn").fill("60")
    await page.get_by_label("new 1 · alarm").fill("120")
    await page.click("#th-add")
    await page.get_by_label("new 2 · id").fill("drop")
    await page.get_by_label("new 2 · metric").select_option("campaign_drop_rate_pct")
    await page.get_by_label("new 2 · scope").fill("campaign:renewals")
    await page.get_by_label("new 2 · channel").select_option("chat")
    await page.get_by_label("new 2 · warn").fill("2.5")
    await page.get_by_label("new 2 · alarm").fill("3")
    await page.click("#th-save")
    await expect(page.locator("#th-new_2-channel-error")).to_contain_text("a channel limits queue and agent metrics")
    assert (await stored_thresholds(store))["version"] == 0

    await page.get_by_label("new 2 · channel").select_option("")
    await page.click("#th-save")
    await expect(page.locator("#th-message")).to_have_text("saved: version 1")
    stored = {t["id"]: t for t in (await stored_thresholds(store))["thresholds"]}  # type: ignore[attr-defined]
    assert (stored["chat-first"]["channel"], stored["chat-first"]["metric"]) == ("chat", "first_response_s")
    assert (stored["drop"]["scope"], "channel" in stored["drop"]) == ("campaign:renewals", False)
    assert "channel" not in stored["waiting"] and "channel" not in stored["sl-low"]

    await page.click("#th-reload")
    await expect(page.get_by_label("chat-first · channel")).to_have_value("chat")
    await expect(page.get_by_label("drop · scope")).to_have_value("campaign:renewals")
    await expect(page.get_by_label("waiting · channel")).to_have_value("")
    await page.get_by_label("chat-first · channel").select_option("")
    await page.click("#th-save")
    await expect(page.locator("#th-message")).to_have_text("saved: version 2")
    stored = {t["id"]: t for t in (await stored_thresholds(store))["thresholds"]}  # type: ignore[attr-defined]
    assert "channel" not in stored["chat-first"] and stored["chat-first"]["warn"] == 60


async def test_a_board_is_created_with_inline_problems_and_previewed(page: Page, store: Store) -> None:
    """A new board naming an unknown queue gets the API's reason under the queues field; fixed, it is stored with
    its tiles, campaign tiles, channels and rotation (read back into the form, kept when saved again), and the preview
    shows /tv/<board>."""
    await log_in(page, "ops1")
    await page.click("#nav-boards")
    await page.click("#board-new")
    await page.fill("#board-name", "floor2")
    await page.fill("#board-title", "Floor 2")
    await page.fill("#board-queues", "sales, nope")
    await page.fill("#board-campaigns", "renewals")
    await page.check("#board-campaign-tiles")
    await page.check("#board-tile-waiting")
    await page.check("#board-tile-sl_interval")
    await page.check("#board-channel-email")
    await page.check("#board-channel-chat")
    await page.click("#board-add-page")
    await page.fill("#board-page-0-queues", "sales")
    await page.fill("#board-page-0-seconds", "abc")
    await page.press("#board-title", "Enter")
    await expect(page.locator("#board-page-0-seconds-error")).to_have_text("“abc” is not a whole number of seconds")
    await page.fill("#board-page-0-seconds", "20")
    await page.click("#board-save")
    await expect(page.locator("#board-queues-error")).to_have_text("unknown queue 'nope'")
    await page.fill("#board-queues", "sales, support")
    await page.click("#board-save")
    await expect(page.locator("#board-message")).to_have_text("saved board floor2: version 1")
    board = await store.boards.get_board("floor2")
    assert board is not None
    assert (board["title"], board["queues"], board["tiles"]) == (
        "Floor 2",
        ["sales", "support"],
        ["waiting", "sl_interval"],
    )
    assert board["pages"] == [{"title": "", "queues": ["sales"], "seconds": 20}]
    assert (board["campaign_tiles"], board["campaigns"], board["channels"]) == (True, ["renewals"], ["chat", "email"])
    await page.click("#nav-thresholds")  # the form filled again from the stored board
    await page.click("#nav-boards")
    await expect(page.locator("#board-campaigns")).to_have_value("renewals")
    await expect(page.locator("#board-campaign-tiles")).to_be_checked()
    await expect(page.locator("#board-channel-chat")).to_be_checked()
    await expect(page.locator("#board-channel-voice")).not_to_be_checked()
    await page.click("#board-save")  # saved again as read: the channels stay
    await expect(page.locator("#board-message")).to_have_text("saved board floor2: version 2")
    again = await store.boards.get_board("floor2")
    assert again is not None and again["channels"] == ["chat", "email"]
    await expect(page.locator("#board-preview iframe")).to_have_attribute("src", _starts_with("/tv/floor2?"))


async def test_a_display_token_is_shown_once_and_revoked(page: Page, base_url: str) -> None:
    """Create a token bound to a board: the token, the TV's URL and its QR code are shown once; the list holds it;
    Revoke (twice: armed, then confirmed) removes it and the token no longer reads the board."""
    await log_in(page, "ops1")
    await page.click("#nav-tokens")
    await page.select_option("#token-board", "default")
    await page.fill("#token-label", "floor 2 TV")
    await page.press("#token-label", "Enter")
    token = (await page.locator("#token-value").text_content()) or ""
    await expect(page.locator("#token-url")).to_contain_text(f"/tv/default?token={token}")
    await expect(page.locator("#token-qr")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    row = page.locator("#token-rows tr", has_text="floor 2 TV")
    await expect(row).to_have_count(1)
    async with httpx.AsyncClient(base_url=base_url) as http:
        before = await http.get("/api/v1/boards/default", headers={"Authorization": f"Bearer {token}"})
        await row.get_by_role("button").click()
        await row.get_by_role("button").click()
        await expect(page.locator("#token-message")).to_contain_text("revoked token")
        await expect(page.locator("#token-rows tr", has_text="floor 2 TV")).to_have_count(0)
        after = await http.get("/api/v1/boards/default", headers={"Authorization": f"Bearer {token}"})
    assert (before.status_code, after.status_code) == (200, 401)


async def test_an_admin_adds_a_scoped_user_and_the_audit_shows_it(page: Page, store: Store) -> None:
    """A too-short password is refused next to its field; a user with teams and queues is added (listed with its
    scope), its role changed; the audit trail lists both writes."""
    await log_in(page, "admin1")
    await page.click("#nav-users")
    await page.fill("#user-name", "sup9")
    await page.select_option("#user-role", "supervisor")
    await page.fill("#user-password", "short")
    await page.fill("#user-teams", "care-a")
    await page.fill("#user-queues", "sales, support")
    await page.press("#user-queues", "Enter")
    await expect(page.locator("#user-password-error")).to_have_text("at least 12 characters")
    await page.fill("#user-password", PASSWORD)
    await page.click("#user-add")
    row = page.locator('#user-rows tr[data-user="sup9"]')
    await expect(row).to_contain_text("teams care-a · queues sales, support")
    await page.get_by_role("button", name="Edit sup9").click()
    await page.select_option("#user-sup9-role", "planner")
    await page.get_by_role("button", name="Save sup9").click()
    await expect(row.locator("td").nth(1)).to_have_text("planner")
    user = await Accounts(store.accounts, Hashing(Passwords.cheap())).get_user("sup9")
    assert user is not None and (user.role, sorted(user.queues or ())) == (Role.PLANNER, ["sales", "support"])

    await page.click("#nav-audit")
    await expect(page.locator("#audit-rows tr").first).to_contain_text("admin1")
    actions = await page.locator("#audit-rows tr td:nth-child(3)").all_text_contents()
    assert actions[:2] == ["user.update", "user.create"]


async def test_a_schedule_with_a_bad_row_lists_the_row_and_stores_nothing(page: Page, store: Store) -> None:
    """A planner uploads a CSV with an unknown agent: that row is listed with its line and the API's reason, nothing
    is stored; the good file imports."""
    await log_in(page, "planner1")
    await page.click("#nav-schedules")
    await expect(page.locator("#sched-current")).to_have_text("No schedule imported yet.")
    await page.set_input_files("#sched-file", files=[_csv("bad.csv", SCHEDULE)])
    await page.click("#sched-upload")
    rows = page.locator("#sched-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows.locator("td").nth(0)).to_have_text("2")
    await expect(rows.locator("td").nth(1)).to_have_text("zed,2026-02-02,09:00,12:00,work")
    await expect(rows.locator("td").nth(2)).to_contain_text("zed")
    assert (await store.schedules.read_schedules() or {}).get("version", 0) == 0

    good = SCHEDULE.replace("zed,2026-02-02,09:00,12:00,work\n", "")
    await page.set_input_files("#sched-file", files=[_csv("good.csv", good)])
    await page.click("#sched-upload")
    await expect(page.locator("#sched-message")).to_contain_text("imported: version 1, 2 slots, 2 agents")
    await expect(page.locator("#sched-problems")).to_be_hidden()


async def test_the_audit_trail_shows_the_pages_writes(page: Page) -> None:
    """ops saves thresholds and a board; its audit section lists both, newest first, with who and what."""
    await log_in(page, "ops1")
    await page.get_by_label("waiting · warn").fill("6")
    await page.click("#th-save")
    await expect(page.locator("#th-message")).to_have_text("saved: version 1")
    await page.click("#nav-boards")
    await page.click("#board-new")
    await page.fill("#board-name", "lobby")
    await page.click("#board-save")
    await expect(page.locator("#board-message")).to_have_text("saved board lobby: version 1")
    await page.click("#nav-audit")
    first = page.locator("#audit-rows tr").nth(0)
    await expect(first).to_contain_text("board.update")
    await expect(first).to_contain_text("board:lobby")
    await expect(page.locator("#audit-rows tr").nth(1)).to_contain_text("ops1")
    await page.fill("#audit-action", "board.update")
    await page.press("#audit-action", "Enter")
    await expect(page.locator("#audit-rows tr")).to_have_count(1)


async def test_an_alert_is_acknowledged_and_snoozed(page: Page, store: Store) -> None:
    """The open alert is listed with its level in words; Acknowledge and Snooze (60 min) append the operator's actions
    to the event stream for the engine."""
    await log_in(page, "ops1")
    await page.click("#nav-alerts")
    row = page.locator(f'#alert-rows tr[data-alert="{FIRING}"]')
    await expect(row).to_contain_text("■ alarm")
    await expect(row).to_contain_text("Calls waiting 12 > 10")
    await row.get_by_role("button", name="Acknowledge Sales queue").click()
    await expect(page.locator("#alert-message")).to_contain_text("ack sent for Sales queue")
    await row.get_by_label("snooze Sales queue for").select_option("60")
    await row.get_by_role("button", name="Snooze Sales queue").click()
    await expect(page.locator("#alert-message")).to_contain_text("snooze sent for Sales queue")
    events = [parse_event(entry.data or b"") for entry in await store.events.read_range()]
    actions = [(e.alert_id, e.action, e.by) for e in events if isinstance(e, AlertAction)]
    assert actions == [(FIRING, "ack", "ops1"), (FIRING, "snooze", "ops1")]


async def test_the_session_cookie_is_out_of_the_scripts_reach(page: Page, base_url: str) -> None:
    """After logging in, the session sits in an HttpOnly SameSite=Strict cookie that page scripts cannot read."""
    await log_in(page, "ops1")
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


async def test_a_viewer_is_told_it_may_use_no_section(page: Page) -> None:
    """A viewer's login works but no section is shown, with the reason; Log out brings the login back."""
    await log_in(page, "viewer1")
    await expect(page.locator("#status")).to_have_text("viewer1 (viewer) may use none of this page's sections")
    await expect(page.locator("#ops-nav")).to_have_count(0)
    await page.click("#logout-button")
    await expect(page.locator("#status")).to_have_text("logged out")
    await expect(page.locator("#login-name")).to_be_focused()


def _csv(name: str, text: str) -> dict[str, object]:
    return {"name": name, "mimeType": "text/csv", "buffer": text.encode()}


def _starts_with(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


def _alarm_reason(alarm: int, warn: int) -> str:
    """The model's words for an alarm level on the good side of the warn level of a "below" metric."""
    return (
        f"alarm {alarm} is above warn {warn}: with direction below the alarm level must be "
        "the same as or further below than the warn level"
    )


async def test_screenshots_of_the_sections(page: Page) -> None:
    """The thresholds (with a typo refused), the board editor with its preview and the token shown once, at
    1920x1080, saved to build/screenshots/ops-*.png."""
    await log_in(page, "ops1")
    await page.get_by_label("sl-low · warn").fill("abc")
    await page.click("#th-save")
    await expect(page.locator("#th-sl-low-warn-error")).to_be_visible()
    await page.screenshot(path=screenshot_path("ops-thresholds.png"))
    await page.click("#nav-boards")
    await expect(page.locator("#board-preview iframe")).to_be_attached()
    await page.frame_locator("#board-preview iframe").locator(".tv-header").wait_for()
    await page.screenshot(path=screenshot_path("ops-boards.png"))
    await page.click("#nav-tokens")
    await page.fill("#token-label", "lobby TV")
    await page.press("#token-label", "Enter")
    await expect(page.locator("#token-qr")).to_be_visible()
    await page.screenshot(path=screenshot_path("ops-tokens.png"))


async def test_the_language_picker_switches_the_page_and_keeps_it_in_the_profile(page: Page) -> None:
    """Choosing Suomi in the header's picker sets <html lang="fi"> at once, re-renders the sections and PATCHes the
    profile (GET /api/v1/me/profile says fi); the next visit opens in fi, and ?lang=de outranks the profile."""
    await log_in(page, "ops1")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    names = await page.locator("#ops-language option").all_text_contents()
    assert names[:2] == ["English", "Suomi"] and "Ελληνικά" in names
    async with page.expect_response(lambda r: r.url.endswith("/api/v1/me/profile") and r.request.method == "PATCH"):
        await page.select_option("#ops-language", "fi")
    await expect(page.locator("html")).to_have_attribute("lang", "fi")
    profile = await page.request.get("/api/v1/me/profile")
    assert profile.ok and (await profile.json())["language"] == "fi"
    await expect(page.locator("#ops-nav button")).to_have_count(5)  # rebuilt in the new language
    await expect(page.get_by_label(re.compile(r"^sl-low · "))).to_have_count(12)

    await page.goto("/ops/")
    await expect(page.locator("#ops-nav button")).to_have_count(5)
    assert await page.evaluate("document.documentElement.lang") == "fi"
    await expect(page.locator("#ops-language")).to_have_value("fi")
    await page.goto("/ops/?lang=de")
    await expect(page.locator("#ops-nav button")).to_have_count(5)
    assert await page.evaluate("document.documentElement.lang") == "de"


async def test_a_board_keeps_the_language_its_tvs_show(page: Page, store: Store) -> None:
    """The board editor's Language select stores the board's language (fi reads back from the API and in the
    editor); the TV's browser is null."""
    await log_in(page, "ops1")
    await page.click("#nav-boards")
    await page.click("#board-new")
    await page.fill("#board-name", "lobby-fi")
    await expect(page.locator("#board-language")).to_have_value("")
    await page.select_option("#board-language", "fi")
    await page.click("#board-save")
    await expect(page.locator("#board-message")).to_have_text("saved board lobby-fi: version 1")
    read = await page.request.get("/api/v1/boards/lobby-fi")
    assert read.ok and (await read.json())["language"] == "fi"
    board = await store.boards.get_board("lobby-fi")
    assert board is not None and board["language"] == "fi"
    await page.reload()
    await page.click("#nav-boards")
    await page.click('#board-list button[data-board="lobby-fi"]')
    await expect(page.locator("#board-language")).to_have_value("fi")
    await page.select_option("#board-language", "")
    await page.click("#board-save")
    await expect(page.locator("#board-message")).to_have_text("saved board lobby-fi: version 2")
    board = await store.boards.get_board("lobby-fi")
    assert board is not None and board.get("language") is None


# A pseudo-translation: every message of "fi" becomes ⟦message⟧, so a text the page wrote without t() shows.
PSEUDO_FI = """
Object.defineProperty(window, "WB_CATALOGS", { configurable: true, get() { return this.wbPseudo; }, set(value) {
  const real = value.fi || {};  // a count's message (tn) has its forms: as many pseudo-forms
  const fi = new Proxy({}, { get: (_, key) => (typeof key !== "string" ? undefined
    : Array.isArray(real[key]) ? real[key].map(() => `⟦${key}⟧`) : `⟦${key}⟧`) });
  this.wbPseudo = { ...value, fi };
} });
"""
UNTRANSLATED = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector("#ops-root").parentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (!/[A-Za-z]{2}/.test(text) || text.includes("⟦") || !parent.checkVisibility()) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
    for (const name of ["aria-label", "placeholder"]) {
      const text = el.getAttribute(name);
      if (text && /[A-Za-z]{2}/.test(text) && !text.includes("⟦")) out.push(`${name}=${text}`);
    }
  }
  return [...new Set(out)];
}"""


async def test_every_text_of_the_page_goes_through_the_translations(page: Page) -> None:
    """Under a pseudo-translation (each message shown as ⟦message⟧) neither the login nor any section shows an
    English word of its own: what is left are values (names, ids, the API's data, dates)."""
    await page.add_init_script(PSEUDO_FI)
    await page.goto("/ops/?lang=fi")
    await expect(page.locator("#login-button")).to_have_text("⟦Log in⟧")
    assert await page.evaluate(UNTRANSLATED) == []
    await page.fill("#login-name", "admin1")
    await page.fill("#login-password", PASSWORD)
    await page.press("#login-password", "Enter")
    await expect(page.locator("#whoami")).to_have_text("admin1 (admin)")
    data = {"admin1 (admin)", "default", "admin1", "ops1", "planner1", "viewer1"}
    data |= {"Sales queue", "queue:sales", "Calls waiting 12 > 10"}  # the alert as the engine wrote it
    for key in ("thresholds", "boards", "tokens", "users", "schedules", "alerts"):
        await page.click(f"#nav-{key}")
        await expect(page.locator(f"#sec-{key}")).to_have_attribute("data-loaded", "true")  # its reads drawn
        left = [text for text in await page.evaluate(UNTRANSLATED) if text not in data and not text[0].isdigit()]
        assert (key, left) == (key, [])


async def test_levels_are_written_and_read_as_the_language_writes_numbers(page: Page, store: Store) -> None:
    """In Finnish a level with decimals is typed 82,5 (82.5 is read too) and shown back as 82,5; a word is still
    refused (the texts themselves are the fi catalog's: the controls are found by id)."""
    await page.goto("/ops/?lang=fi")
    await page.fill("#login-name", "ops1")
    await page.fill("#login-password", PASSWORD)
    await page.press("#login-password", "Enter")
    warn = page.locator("#th-sl-low-warn")
    await expect(warn).to_have_value("80")
    await warn.fill("82,5")
    await page.fill("#th-waiting-warn", "5.5")
    await page.click("#th-save")
    await expect(page.locator("#th-message")).to_have_class(re.compile(r"\bok\b"))
    stored = await stored_thresholds(store)
    assert [t["warn"] for t in stored["thresholds"]] == [82.5, 5.5]  # type: ignore[attr-defined]
    await expect(warn).to_have_value("82,5")
    await warn.fill("abc")
    await page.click("#th-save")
    await expect(warn).to_have_attribute("aria-invalid", "true")
    assert (await stored_thresholds(store))["version"] == 1


async def test_a_language_picked_before_logging_in_is_kept(page: Page) -> None:
    """Picking Deutsch on the login form switches it at once (the name typed stays); logging in with a profile
    that names no language keeps Deutsch."""
    await page.goto("/ops/")
    await page.fill("#login-name", "admin1")
    await page.select_option("#ops-language", "de")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("#login-name")).to_have_value("admin1")
    await page.fill("#login-password", PASSWORD)
    await page.press("#login-password", "Enter")
    await expect(page.locator("#whoami")).to_have_text("admin1 (admin)")
    await expect(page.locator("#ops-nav button")).to_have_count(7)
    assert await page.evaluate("document.documentElement.lang") == "de"
