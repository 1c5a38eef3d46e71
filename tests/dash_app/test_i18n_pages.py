"""Every page in every shipped language, in a real Chromium: ``<html lang>``, no text without a translation
(``wbI18n.missing``: what a page asked ``t()`` for and the catalog lacked), nothing wider than the screen.

The TV board is also measured for its sizes in every language by test_tv_readable.py (1080p here; all screens
with WALLBOARD_FULL_MATRIX=1, the README's command for the full matrix).
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from browser import new_page
from playwright.async_api import Browser, Page, expect

from dash_app.i18n import TRANSLATED, catalog

MISSING = "() => [...window.wbI18n.missing]"
WIDTH = "() => [document.documentElement.scrollWidth, innerWidth]"
COUNTS = (0, 1, 2, 3, 4, 5, 11, 21, 22, 1_000_000)
CALLS = "(counts) => counts.map((n) => window.wbI18n.tn('{n} call', '{n} calls', n))"


def calls(lang: str) -> list[str]:
    """What the page's tn() must give for "{n} call" and COUNTS: the catalog's form that the language's Plural-Forms
    (Babel's, read by Python's gettext) picks."""
    rule, forms = gettext.c2py(str(Catalog(locale=lang).plural_expr)), catalog(lang)["{n} call"]
    assert isinstance(forms, list)
    return [forms[rule(n)].format(n=n) for n in COUNTS]


def snapshot(now: datetime) -> dict[str, Any]:
    """Two queues, four agents in every state that shows words, an alert, a pending breach."""
    states = ("available", "on_call", "wrap_up", "paused", "ringing", "logged_out")
    agents = {
        f"a{n}": {"id": f"a{n}", "name": f"Agent {n}", "team": "red", "state": state,
                  "reason": "Break" if state == "paused" else None,
                  "since": (now - timedelta(seconds=40 + n)).isoformat(), "time_in_state_s": 40.0 + n,
                  "queues": ["support"], "paused_queues": [], "calls_today": n, "aht_s": 180.0}
        for n, state in enumerate(states)
    }  # fmt: skip
    window = {"offered": 12, "answered": 10, "abandoned": 2, "short_abandoned": 0, "service_level_pct": 75.0,
              "asa_s": 12.5, "aht_s": 240.0, "abandon_rate_pct": 16.7, "answered_within_sl": 8, "wait_unknown": 0,
              "timed_out": 0, "exited_other": 0}  # fmt: skip
    counts = {"logged_in": 5, "available": 1, "ringing": 1, "on_call": 1, "wrap_up": 1, "paused": 1}
    queues = {
        name: {"name": name, "sl_threshold_s": 20, "sl_target_pct": 80, "waiting": 2, "longest_wait_s": 65.0,
               "waiting_calls": [], "interval": window, "day": window, "agents": counts, "required_agents": 4}
        for name in ("support", "sales")
    }  # fmt: skip
    alert = {"alert_id": "sl:queue:support:1", "threshold_id": "sl", "target": {"kind": "queue", "name": "support"},
             "metric": "service_level_pct", "level": "alarm", "severity": "page", "state": "firing", "value": 60.0,
             "reason": "SL 60 % < 70 %", "since": (now - timedelta(minutes=3)).isoformat()}  # fmt: skip
    team_states = dict.fromkeys(("logged_out", "available", "ringing", "on_call", "wrap_up", "paused"), 1)
    red = {"name": "Red", "agents": team_states, "handled_today": 3, "escalations_today": 0}
    return {"site": "paris", "ts": now.isoformat(), "interval": {"minutes": 15}, "queues": queues,
            "agents": agents, "alerts": [alert], "teams": {"red": red}}  # fmt: skip


async def settled(page: Page) -> list[str]:
    """The texts the page has asked for without a translation, once its API reads are answered."""
    await page.wait_for_load_state("networkidle")
    return list(await page.evaluate(MISSING))


@pytest.mark.parametrize("lang", TRANSLATED)
async def test_the_tv_and_the_supervisor_view_have_every_text_in_the_language(
    browser: Browser, publisher: Any, serve: Any, port: int, token: str, lang: str
) -> None:
    await publisher.publish(snapshot(datetime.now(UTC)))
    async with serve(port) as base:
        for path, ready in ((f"/tv/default?token={token}&lang={lang}", '[data-kpi="waiting"] .v'),
                            (f"/supervisor/?token={token}&lang={lang}", "#sup-grid .ag-row")):  # fmt: skip
            page = await new_page(browser, base)
            await page.goto(path)
            await expect(page.locator(ready).first).to_be_visible()
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            await page.wait_for_function("(lang) => window.wbI18n && window.wbI18n.lang === lang", arg=lang)
            assert await settled(page) == [], path
            # a count takes the language's form: the built rule (JavaScript) agrees with Babel's (Python's gettext)
            assert await page.evaluate(CALLS, COUNTS) == calls(lang), path
            if lang == "cs":  # three forms: 1, 2-4, 5 and more
                assert await page.evaluate(CALLS, [1, 3, 5]) == ["1 hovor", "3 hovory", "5 hovorů"]
            width, screen = await page.evaluate(WIDTH)
            assert width <= screen, f"{path}: {width} px wide on a {screen} px screen"
            await page.close()


@pytest.mark.parametrize("lang", TRANSLATED)
async def test_the_ops_login_and_its_sections_have_every_text_in_the_language(
    browser: Browser, serve: Any, port: int, lang: str, accounts: Any
) -> None:
    """The login form, then (as admin) every section of the ops page opened once."""
    from wallboard.core.users import Role

    await accounts.add_user("lang-admin", Role.ADMIN, "correct horse battery staple", actor="test")
    async with serve(port) as base:
        page = await new_page(browser, base)
        await page.goto(f"/ops/?lang={lang}")
        await expect(page.locator("html")).to_have_attribute("lang", lang)
        await page.fill("#login-name", "lang-admin")
        await page.fill("#login-password", "correct horse battery staple")
        await page.keyboard.press("Enter")
        sections = page.locator("#ops-nav button")
        await expect(sections.first).to_be_visible()
        for n in range(await sections.count()):
            await sections.nth(n).click()
            await expect(sections.nth(n)).to_have_attribute("aria-current", "page")
            await expect(page.locator("#ops-root section:not([hidden])[data-loaded=true]")).to_have_count(1)
        assert list(await page.evaluate(MISSING)) == []
        width, screen = await page.evaluate(WIDTH)
        assert width <= screen
        await page.close()
