"""AdherenceBook fed by the real engine: State.apply(event), then a snapshot at each event time -> observe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from engine_events import T0, answered, at, ended, ev, login, queued

from wallboard.core.adherence.schedule import Schedule, Slot
from wallboard.core.adherence.tracker import AdherenceBook, merge_figures
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig

SITE = SiteConfig(
    site="test",
    queues={"support": QueueConfig(sl_threshold_s=20, wrapup_s=30)},
    teams={"care": TeamConfig()},
    agents={"a1": AgentConfig(name="Alice", team="care"), "a2": AgentConfig(name="Bob", team="care")},
)
DAY = T0.date()  # 2026-03-02, the site is in UTC


def slot(agent: str, start_min: int, end_min: int, activity: str) -> Slot:
    """A slot from ``start_min`` to ``end_min`` minutes after 09:00 UTC."""
    return Slot(agent, T0 + timedelta(minutes=start_min), T0 + timedelta(minutes=end_min), activity, DAY)


SCHEDULE = Schedule.of(
    [
        slot("a1", 0, 60, "work"),  # 09:00-10:00
        slot("a1", 60, 75, "break"),  # 10:00-10:15
        slot("a1", 75, 120, "work"),  # 10:15-11:00
        slot("a2", 0, 120, "work"),  # 09:00-11:00
    ]
)


def drive(events: list[Event], until_s: float) -> tuple[AdherenceBook, dict[str, Any]]:
    """Apply the events in time order, observing a snapshot at each event time, then at ``until_s``."""
    state, book = State(SITE), AdherenceBook(SITE, SCHEDULE, 1)
    book.observe(state.snapshot(at(-60))["agents"], at(-60))
    for event in sorted(events, key=lambda event: event.ts):
        state.apply(event)
        book.observe(state.snapshot(event.ts)["agents"], event.ts)
    snapshot = state.snapshot(at(until_s))
    book.observe(snapshot["agents"], at(until_s))
    merge_figures(snapshot, book.figures(at(until_s)), SITE)
    assert state.anomalies["internal_error"] == 0
    return book, snapshot


EVENTS = [
    login(0, "a1"),  # 09:00 on time
    queued(590, "c1"),
    answered(600, "c1", "a1", 10),  # on_call, then wrap-up, then available: all "work"
    ended(900, "c1", "a1", 300),
    ev("agent_paused", 3600, agent="a1", queue="support", reason="Break"),  # 10:00 on time
    ev("agent_unpaused", 4800, agent="a1", queue="support"),  # 10:20: back 5 min late
    login(900, "a2"),  # 09:15: 15 min late
    ev("agent_logout", 5400, agent="a2", queue="support"),  # 10:30: 30 min early
]


def test_engine_day_with_break_late_return_late_login_and_early_logout() -> None:
    """Hand-computed figures at 10:40 for an engine-driven morning."""
    _, snapshot = drive(EVENTS, 6000)  # 10:40
    a1, a2 = (snapshot["agents"][agent]["adherence"] for agent in ("a1", "a2"))
    # a1: scheduled 09:00-10:40 = 100 min; out 10:15-10:20 (late return, 300 s > 120 s) -> 95 / 100
    assert a1["adherence_pct"] == pytest.approx(95.0)
    assert a1["conformance_pct"] == pytest.approx(100.0)  # logged in 100 min / working 100 min
    assert (a1["status"], a1["minutes_late"]) == ("in", 0.0)
    # a2: out 09:00-09:15 (late login) + 10:30-10:40 (early logout, 600 s > 120 s) = 25 -> 75 / 100
    assert a2["adherence_pct"] == pytest.approx(75.0)
    assert a2["conformance_pct"] == pytest.approx(75.0)  # logged in 09:15-10:30 = 75 min / 100
    assert a2["minutes_late"] == pytest.approx(15.0)
    assert (a2["status"], a2["exception"], a2["out_for_s"]) == ("out", "early_logout", 600.0)
    assert snapshot["agents"]["a2"]["adherence_pct"] == pytest.approx(75.0)
    care = snapshot["teams"]["care"]["adherence"]
    # (95 + 75) / 200 in; logged (100 + 75) / 200 working
    assert care["adherence_pct"] == pytest.approx(85.0)
    assert care["conformance_pct"] == pytest.approx(87.5)
    assert (care["scheduled_now"], care["out_now"], care["minutes_late"]) == (2, 1, pytest.approx(15.0))
    kinds = [(e["agent"], e["kind"], e["minutes"]) for e in snapshot["adherence"]["exceptions"]]
    assert kinds == [
        ("a2", "early_logout", pytest.approx(10.0)),
        ("a1", "wrong_activity", pytest.approx(5.0)),
        ("a2", "late_login", pytest.approx(15.0)),
    ]


def test_engine_state_changes_within_work_are_no_transitions() -> None:
    """Ringing, on a call and wrap-up are all "work": a busy agent stays in adherence with no exception."""
    _, snapshot = drive(
        [login(0, "a1"), queued(590, "c1"), answered(600, "c1", "a1", 10), ended(900, "c1", "a1", 300)], 1800
    )
    a1 = snapshot["agents"]["a1"]["adherence"]
    assert (a1["status"], a1["adherence_pct"], a1["actual"]) == ("in", pytest.approx(100.0), "work")
    assert [e["agent"] for e in snapshot["adherence"]["exceptions"]] == ["a2"]  # a2 never logged in
