"""The supervisor view's layout and floor figures in a real headless Chromium, against published snapshots: 40
agents fit a 1080p screen, the totals by state and team are dash_app.floor's, teams and queues show their display
names, the alert list, the sparklines' time axis and target line, browser notifications per alarm transition, and
a phone's layout (no horizontal scroll; name, state and time only). Screenshots go to /tmp/sup-shots/."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import new_page, screenshot_path
from playwright.async_api import Browser, Page, expect

from dash_app.floor import TOTALS, alert_rows, state_totals, team_totals

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/sup-shots")
TEAMS = {
    "support-team": "Support team",
    "sales-team": "Sales team",
    "billing-team": "Billing team",
    "tech-team": "Tech team",
}
QUEUES = ("billing", "sales", "support", "tech")
STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "on_call", "available", "on_call")
ROWS = "#sup-grid .ag-center-cols-container .ag-row"
# Rows drawn entirely inside both the window and the grid's scrolling body: what a supervisor sees without scrolling.
VISIBLE_ROWS = """() => {
  const body = document.querySelector('#sup-grid .ag-body-viewport').getBoundingClientRect();
  return [...document.querySelectorAll('#sup-grid .ag-center-cols-container .ag-row')].filter((row) => {
    const r = row.getBoundingClientRect();
    return r.height > 0 && r.top >= body.top && r.bottom <= body.bottom && r.bottom <= innerHeight && r.top >= 0;
  }).length;
}"""
OVERFLOW = (
    "() => [document.documentElement.scrollWidth, innerWidth, document.documentElement.scrollHeight, innerHeight]"
)


def alert(ident: str, level: str, kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"alert_id": ident, "threshold_id": ident.split(":")[0], "target": {"kind": kind, "name": name},
            "metric": extra.pop("metric", "service_level_pct"), "level": level,
            "severity": "page" if level == "alarm" else "warning", "state": "firing", "value": 60.0,
            "reason": extra.pop("reason", "SL 60 % below 70 %"), "since": "2024-05-06T09:00:00+00:00",
            **extra}  # fmt: skip


def floor(now: datetime, agents: int = 40, alerts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``agents`` agents over four named teams and queues; the teams' state counts are the agents'."""
    team_ids = list(TEAMS)
    entries: dict[str, Any] = {}
    teams: dict[str, Any] = {
        team: {"name": name, "agents": dict.fromkeys(("logged_out", "available", "ringing", "on_call", "wrap_up",
               "paused"), 0), "handled_today": 0, "escalations_today": 0} for team, name in TEAMS.items()
    }  # fmt: skip
    for n in range(agents):
        team, state = team_ids[n % 4], STATES[n % len(STATES)] if n < 38 else "logged_out"
        since = (now - timedelta(seconds=30 + n)).isoformat()
        entries[f"a{n:02d}"] = {"id": f"a{n:02d}", "name": f"Agent {n:02d}", "team": team, "state": state,
                                "reason": "Break" if state == "paused" else None, "since": since,
                                "time_in_state_s": 30.0 + n, "queues": [QUEUES[n % 4]], "paused_queues": [],
                                "calls_today": n, "aht_s": 200.0}  # fmt: skip
        teams[team]["agents"][state] += 1
    queues = {
        name: {"name": name, "waiting": 1, "waiting_calls": [], "sl_target_pct": 80.0 if name != "tech" else 90.0,
               "sl_threshold_s": 20.0, "interval": {"service_level_pct": 75.0}, "day": {}}
        for name in QUEUES
    }  # fmt: skip
    queues["support"]["display_name"] = "Customer care"
    return {"site": "paris", "ts": now.isoformat(), "queues": queues, "agents": entries, "teams": teams,
            "alerts": alerts if alerts is not None else []}  # fmt: skip


ALERTS = [
    alert("sl:queue:support:1", "alarm", "queue", "support"),
    alert("pause:agent:a04:1", "warn", "agent", "a04", metric="agent_pause_s", reason="paused 16 min"),
]


async def open_page(
    browser: Browser, base: str, token: str, viewport: dict[str, int] | None = None, query: str = ""
) -> Page:
    page = await new_page(browser, base, **({"viewport": viewport} if viewport else {}))  # type: ignore[arg-type]
    await page.goto(f"/supervisor/?token={token}{query}")
    if not query:  # in English: "live · <site>"
        await expect(page.locator("#sup-status")).to_contain_text("live")
    return page


async def test_lang_sets_the_page_language_and_the_page_still_renders(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """?lang=de makes the page German (<html lang="de">, i18n.js) and it renders as in English: the 40 rows, the
    totals, the grid's raw values (translations arrive later: a text without one stays English meanwhile)."""
    snap = floor(datetime.now(UTC), agents=40, alerts=ALERTS)
    for n in (38, 39):  # all 40 listed
        snap["agents"][f"a{n}"]["state"] = "available"
        snap["teams"][snap["agents"][f"a{n}"]["team"]]["agents"]["logged_out"] -= 1
        snap["teams"][snap["agents"][f"a{n}"]["team"]]["agents"]["available"] += 1
    await publisher.publish(snap)
    async with serve(port) as base:
        page = await open_page(browser, base, token, query="&lang=de")
        await expect(page.locator(ROWS)).to_have_count(40)
        assert await page.evaluate("() => [document.documentElement.lang, window.wbI18n.lang]") == ["de", "de"]
        held = await page.evaluate("() => window.wbSupervisor.snap")
        assert await page.evaluate("() => window.wbSupervisor.totals") == state_totals(held)
        assert await page.evaluate("() => window.wbSupervisor.teamTotals") == team_totals(held)
        assert {row["state"] for row in await page.evaluate("() => window.wbSupervisor.rows")} <= set(STATES)
        await expect(page.locator("#sup-alerts li.sup-alert")).to_have_count(2)
        await expect(page.locator("#sup-sparks .sup-spark-row")).to_have_count(len(QUEUES))
        await page.close()


async def test_forty_agents_fit_a_1080p_screen_with_totals_and_names(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """At 1920x1080 every one of 40 logged-in agents is drawn inside the screen with no page scroll; the totals by
    state and by team are dash_app.floor's of the snapshot held and add up; teams and queues show their display
    names; no "seq" anywhere; the sparklines have a time axis and the SL target line."""
    snap = floor(datetime.now(UTC), agents=40, alerts=ALERTS)
    for n in (38, 39):  # all 40 listed: the last two logged in too
        snap["agents"][f"a{n}"]["state"] = "available"
        snap["teams"][snap["agents"][f"a{n}"]["team"]]["agents"]["logged_out"] -= 1
        snap["teams"][snap["agents"][f"a{n}"]["team"]]["agents"]["available"] += 1
    await publisher.publish(snap)
    async with serve(port) as base:
        page = await open_page(browser, base, token)
        await expect(page.locator(ROWS)).to_have_count(40)
        assert await page.evaluate(VISIBLE_ROWS) == 40
        width, inner_w, height, inner_h = await page.evaluate(OVERFLOW)
        assert width <= inner_w and height <= inner_h  # the page itself does not scroll

        held = await page.evaluate("() => window.wbSupervisor.snap")
        site = state_totals(held)
        shown = {key: int(await page.locator(f'#sup-totals [data-total="{key}"] b').inner_text()) for key, _ in TOTALS}
        assert shown == site == await page.evaluate("() => window.wbSupervisor.totals")
        assert site["logged_in"] == 40 == sum(site[key] for key, _ in TOTALS[1:])
        teams = team_totals(held)
        assert await page.evaluate("() => window.wbSupervisor.teamTotals") == teams
        assert await page.locator("#sup-teams tbody tr td:first-child").all_inner_texts() == [t["name"] for t in teams]
        assert {key: sum(t[key] for t in teams) for key in site} == site

        team_cells = await page.locator(f'{ROWS} .ag-cell[col-id="team"]').all_inner_texts()
        assert set(team_cells) == set(TEAMS.values())
        await expect(page.locator("#sup-filter-queue")).to_contain_text("Customer care")
        await expect(page.locator("#sup-today")).to_contain_text("Customer care")  # calls.js: within half a second
        text = await page.evaluate("() => document.body.innerText")
        assert not re.search(r"\bseq\b", text, re.IGNORECASE) and "support-team" not in text
        await expect(page.locator("#sup-age")).to_have_text(re.compile(r"\d+ s ago"))

        support = page.locator('.sup-spark-row[data-queue="support"]')
        await expect(support.locator("svg.spark.sl text.tick")).to_have_text(["-60 min", "-45", "-30", "-15", "now"])
        await expect(support.locator("svg.spark.waiting text.tick")).to_have_count(5)
        await expect(support.locator("svg.spark.sl text.target-label")).to_have_text("target 80 %")
        await expect(page.locator('.sup-spark-row[data-queue="tech"] svg.spark.sl text.target-label')).to_have_text(
            "target 90 %"
        )
        panel = await page.locator("#sup-sparks").bounding_box()
        chart = await support.locator("svg.spark.waiting").bounding_box()
        assert panel and chart and chart["width"] >= panel["width"] / 2 - 20  # half the panel each, side by side

        items = page.locator("#sup-alerts li.sup-alert")
        await expect(items).to_have_count(2)
        assert await page.evaluate("() => window.wbSupervisor.alerts") == alert_rows(held)
        await expect(items.first).to_contain_text("✖ alarm")
        await expect(items.first).to_contain_text("queue Customer care")
        await expect(items.nth(1)).to_contain_text("agent Agent 04")
        await expect(page.locator("#sup-alerts-who")).to_contain_text("log in on /ops/")  # a display token
        await expect(page.locator(".sup-alert-ack")).to_have_count(0)
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SHOTS / "supervisor-1920x1080.png")


async def test_a_phone_shows_agents_and_alerts_without_horizontal_scroll(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """At 390x844 the page is no wider than the screen; the grid keeps name, state and time in state; the
    agents and the alerts are on the page."""
    await publisher.publish(floor(datetime.now(UTC), agents=40, alerts=ALERTS))
    async with serve(port) as base:
        page = await open_page(browser, base, token, {"width": 390, "height": 844})
        await expect(page.locator(ROWS).first).to_be_visible()
        columns = await page.locator("#sup-grid .ag-header-row-column .ag-header-cell").evaluate_all(
            "(cells) => cells.map((c) => c.getAttribute('col-id'))"
        )
        assert sorted(columns) == ["name", "state", "time_in_state"]
        await expect(page.locator(f"{ROWS} .ag-cell[col-id='name']").first).to_have_text(re.compile(r"Agent \d\d"))
        assert await page.evaluate(VISIBLE_ROWS) >= 10
        await page.wait_for_timeout(300)  # the sparklines re-drawn for the width
        width, inner_w, _, _ = await page.evaluate(OVERFLOW)
        assert width <= inner_w == 390
        await page.locator("#sup-alerts").scroll_into_view_if_needed()
        await expect(page.locator("#sup-alerts li.sup-alert")).to_have_count(2)
        await expect(page.locator("#sup-alerts li.sup-alert").first).to_be_in_viewport()
        box = await page.locator("#sup-alerts li.sup-alert").first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SHOTS / "supervisor-390x844.png")
        await page.screenshot(path=screenshot_path("supervisor-phone.png"))  # scripts/screenshot copies it to docs/
        await page.screenshot(path=SHOTS / "supervisor-390x844-full.png", full_page=True)


NOTIFICATION_STUB = """
window.Notification = class {
  constructor(title, options) {
    (window.shownNotifications = window.shownNotifications || []).push([title, options.tag]);
  }
  static requestPermission() { window.Notification.permission = 'granted'; return Promise.resolve('granted'); }
};
window.Notification.permission = 'default';
"""


async def test_one_notification_per_alarm_transition(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """None before the user enables them (a button click asks the permission); then one per alert reaching alarm:
    a new alarm, a warn become alarm; the same alarm again, or a warn, notifies nothing."""
    now = datetime.now(UTC)
    warn = alert("sl:queue:sales:1", "warn", "queue", "sales")
    await publisher.publish(floor(now, agents=8, alerts=[ALERTS[0]]))
    async with serve(port) as base:
        page = await new_page(browser, base)
        await page.add_init_script(NOTIFICATION_STUB)
        await page.goto(f"/supervisor/?token={token}")
        await expect(page.locator("#sup-alerts li.sup-alert")).to_have_count(1)
        await expect(page.locator("#sup-notify")).to_have_text("Enable alarm notifications")
        await page.click("#sup-notify")
        await expect(page.locator("#sup-notify")).to_have_text("Alarm notifications: on")
        await publisher.publish(floor(datetime.now(UTC), agents=8, alerts=[ALERTS[0], warn]))
        await expect(page.locator("#sup-alerts li.sup-alert")).to_have_count(2)
        await publisher.publish(floor(datetime.now(UTC), agents=8, alerts=[ALERTS[0], warn | {"level": "alarm"}]))
        await expect(page.locator("#sup-alerts li.sup-alert.lvl-alarm")).to_have_count(2)
        await publisher.publish(floor(datetime.now(UTC), agents=8, alerts=[ALERTS[0], warn | {"level": "alarm"}]))
        await page.wait_for_timeout(500)
        shown = await page.evaluate("() => window.shownNotifications || []")
        assert [tag for _, tag in shown] == ["sl:queue:sales:1"]  # the open alarm at load: known, not notified
        assert "queue sales" in shown[0][0]
        assert await page.evaluate("() => window.wbSupervisor.notified.length") == 1


GERMAN = {  # a few translations, served as the built catalogs would be (the real ones arrive later)
    "Agent": "Mitarbeiter",
    "On call": "Im Gespräch",
    "Supervisor": "Teamleitung",
    "all states": "alle Status",
    "Logged in": "Angemeldet",
    "{n} waiting": "{n} wartend",
    "Alerts ({n})": "Warnungen ({n})",
    "now": "jetzt",
}


async def test_a_translated_page_shows_words_and_keeps_raw_values(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str
) -> None:
    """With German translations the page shows them (shell, grid header, state words, filters, totals, alerts,
    sparkline axis) while the rows and the state filter keep the raw values; no script error."""
    await publisher.publish(floor(datetime.now(UTC), agents=12, alerts=ALERTS))
    async with serve(port) as base:
        page = await new_page(browser, base)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        catalogs = json.dumps({"de": GERMAN}, ensure_ascii=False)
        await page.route(
            re.compile(r"/i18n-catalogs\.js(\?.*)?$"),
            lambda route: route.fulfill(
                content_type="application/javascript",
                body=f'window.WB_LANGUAGES = {{"en": "English", "de": "Deutsch"}}; window.WB_CATALOGS = {catalogs};',
            ),
        )
        await page.goto(f"/supervisor/?token={token}&lang=de")
        await expect(page.locator(".sup-header h1")).to_have_text("Teamleitung")
        await expect(page.locator('#sup-grid .ag-header-cell[role=columnheader][col-id="name"]')).to_contain_text(
            "Mitarbeiter"
        )
        on_call = page.locator(f'{ROWS} .ag-cell[col-id="state"]:text-is("Im Gespräch")')
        await expect(on_call.first).to_be_visible()
        rows = await page.evaluate("() => window.wbSupervisor.rows")
        assert "on_call" in {row["state"] for row in rows} and "Im Gespräch" not in {row["state"] for row in rows}
        state_filter = page.locator("#sup-filter-state")
        await expect(state_filter.locator("option").first).to_have_text("alle Status")
        await expect(state_filter.locator('option[value="on_call"]')).to_have_text("Im Gespräch")
        await expect(page.locator('#sup-totals [data-total="logged_in"]')).to_contain_text("Angemeldet")
        await expect(page.locator("#sup-alerts-panel h2")).to_have_text("Warnungen (2)")
        await expect(page.locator("#sup-sparks svg.spark.sl text.tick").last).to_have_text("jetzt")
        await page.select_option("#sup-filter-state", "on_call")
        states = await page.locator(f'{ROWS} .ag-cell[col-id="state"]').all_inner_texts()
        assert states and set(states) == {"Im Gespräch"}

        await page.evaluate("() => window.wbI18n.setLanguage(['en'])")  # as a profile's language arriving later
        await expect(page.locator(".sup-header h1")).to_have_text("Supervisor")
        await expect(page.locator("#sup-grid .ag-pinned-left-header [role=columnheader][col-id=name]")).to_contain_text(
            "Agent"
        )
        await expect(page.locator("#sup-alerts-panel h2")).to_have_text("Alerts (2)")
        await expect(page.locator(f'{ROWS} .ag-cell[col-id="state"]').first).to_have_text("On call")
        await expect(page.locator('#sup-grid [col-id="actions"]')).to_have_count(0)  # still hidden (a token)
        assert not errors
        await page.close()
