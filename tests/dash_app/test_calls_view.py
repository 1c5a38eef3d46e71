"""Tests for dash_app/calls_view.py: what each drill-down lists and asks of the call log, the SL-miss rule, the CSV
export and today's figures per queue."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dash_app.calls_view import (
    CALLS_PATH,
    LIMIT,
    UNANSWERED_MISSES,
    calls_config,
    calls_url,
    export_url,
    is_sl_miss,
    kept_calls,
    note,
    query,
    queue_figures,
    shown,
    title,
)
from wallboard.core.calls import OUTCOMES, calls_csv


def row(call_id: str, outcome: str, wait_s: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"call_id": call_id, "queue": "sales", "outcome": outcome, "wait_s": wait_s, **extra}


def test_a_queue_figure_asks_for_its_outcomes_today() -> None:
    """Offered: the queue only; abandoned: abandoned and short abandons; SL misses: answered and the unanswered
    misses; no from/to (today) and the panel's limit."""
    assert query("offered", "sales") == [("queue", "sales"), ("limit", str(LIMIT))]
    assert query("abandoned", "sales") == [
        ("queue", "sales"),
        ("outcome", "abandoned"),
        ("outcome", "short_abandon"),
        ("limit", str(LIMIT)),
    ]
    outcomes = [value for key, value in query("sl_misses", "sales") if key == "outcome"]
    assert outcomes == ["answered", "abandoned", "timed_out", "exited_key", "exited_empty", "exited_full",
                        "exited_withdraw"]  # fmt: skip
    assert set(outcomes) <= set(OUTCOMES) and "short_abandon" not in outcomes and "unknown" not in outcomes


def test_an_agent_asks_for_its_calls_and_the_search_adds_caller() -> None:
    """An agent filters on agent=; the caller text is trimmed, cut to the API's 40 characters, left out blank."""
    assert query("agent", "a1", "  0142 ") == [("agent", "a1"), ("caller", "0142"), ("limit", str(LIMIT))]
    assert ("caller", "9" * 40) in query("agent", "a1", "9" * 45)
    assert all(key != "caller" for key, _ in query("agent", "a1", "   "))


def test_the_url_and_the_csv_export_are_the_same_request() -> None:
    """The export is the listed request plus format=csv, its parameters encoded."""
    params = query("abandoned", "sales & co", "+33 1")
    url = urlsplit(calls_url(params))
    assert url.path == CALLS_PATH and parse_qsl(url.query) == params
    exported = export_url(params)
    assert parse_qsl(urlsplit(exported).query) == [*params, ("format", "csv")]
    assert "sales+%26+co" in exported and "%2B33+1" in exported


def test_sl_misses_are_late_answers_and_unanswered_calls_but_short_abandons() -> None:
    """Answered after more than T (not at T, not with an unknown wait), abandoned, timed out and exited are misses;
    short abandons and unknown outcomes are not."""
    assert is_sl_miss(row("c1", "answered", 20.5), 20.0)
    assert not is_sl_miss(row("c2", "answered", 20.0), 20.0)
    assert not is_sl_miss(row("c3", "answered", None), 20.0)
    assert all(is_sl_miss(row("c", outcome, 1.0), 20.0) for outcome in UNANSWERED_MISSES)
    assert not is_sl_miss(row("c4", "short_abandon", 2.0), 20.0)
    assert not is_sl_miss(row("c5", "unknown", 90.0), 20.0)


def test_the_panel_shows_every_row_but_only_misses_for_sl_misses() -> None:
    """shown() filters SL misses only; other kinds list what the API sent."""
    rows = [row("c1", "answered", 5.0), row("c2", "answered", 45.0), row("c3", "abandoned", 30.0)]
    assert [r["call_id"] for r in shown("sl_misses", rows, 20.0)] == ["c2", "c3"]
    assert shown("offered", rows, 20.0) == rows and shown("agent", rows, None) == rows


def test_the_sl_miss_export_keeps_the_servers_csv_of_the_calls_shown() -> None:
    """kept_calls keeps the server's header and the records of the calls shown, byte for byte (quoted cells with
    commas, quotes and line ends included)."""
    rows = [row("c1", "answered", 45.0, caller="•••••0142", caller_name='Ada "A",\nLtd', missed_by=["a2", "a3"]),
            row("c2", "answered", 5.0), row("c3", "abandoned", 30.0, agent=None)]  # fmt: skip
    assert kept_calls(calls_csv(rows), ["c1", "c3"]) == calls_csv([rows[0], rows[2]])
    assert kept_calls(calls_csv(rows), []) == calls_csv([])
    assert kept_calls("", ["c1"]) == ""


def test_titles_and_notes_say_what_is_listed() -> None:
    """The heading names the queue or agent; the SL note names the threshold in whole seconds."""
    assert title("sl_misses", "sales") == "SL misses today · sales"
    assert title("agent", "Ana") == "Calls answered today · Ana"
    assert "more than 20 s" in note("sl_misses", 19.5) and "short abandons" in note("sl_misses", 20)


def test_todays_queue_figures() -> None:
    """Offered and abandoned (short included) of the day; SL misses: answered beyond T with a known wait, plus
    abandoned beyond the short ones, timed out and exited; a queue without a day window counts zeros."""
    day = {"offered": 40, "answered": 30, "answered_within_sl": 22, "wait_unknown": 1, "abandoned": 6,
           "short_abandoned": 2, "timed_out": 3, "exited_other": 1, "unknown": 0}  # fmt: skip
    snapshot = {"queues": {"support": {"sl_threshold_s": 30.0}, "sales": {"sl_threshold_s": 20.0, "day": day}}}
    assert queue_figures(snapshot) == [
        {"queue": "sales", "offered": 40, "abandoned": 6, "sl_misses": 7 + 8, "threshold_s": 20.0},
        {"queue": "support", "offered": 0, "abandoned": 0, "sl_misses": 0, "threshold_s": 30.0},
    ]


def test_the_browser_config_carries_the_rules() -> None:
    """The page's script gets the path, limit, outcomes per kind, the misses, titles, notes and CSV columns."""
    config = calls_config()
    assert config["path"] == CALLS_PATH and config["limit"] == LIMIT
    assert config["outcomes"]["abandoned"] == ("abandoned", "short_abandon")
