"""The engine: counts and metrics from hand-built event sequences, corrections, windows, and properties
that hold for any order of events. Deltas, snapshot building, identities and per-queue counting have
their own test files (test_deltas.py, test_snapshots.py, test_agents.py, test_queues.py)."""

from __future__ import annotations

import io
import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from engine_events import answered, at, ended, ev, login, outcomes, queued, run_on
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wallboard.core.deltas import apply_diff, diff
from wallboard.core.engine import State
from wallboard.core.events import Event, event_from_dict
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig

SITE = SiteConfig(
    site="test",
    short_abandon_s=5,
    queues={
        "support": QueueConfig(sl_threshold_s=20, wrapup_s=5),
        "sales": QueueConfig(sl_threshold_s=30),
        "billing": QueueConfig(sl_threshold_s=20, sl_target_pct=80),
    },
)
COUNTS = ("offered", "answered", "abandoned", "short_abandoned", "timed_out", "exited_other", "unknown")


def run(*events: Event, site: SiteConfig = SITE) -> State:
    return run_on(site, *events)


# -- calls and metrics -------------------------------------------------------------------------------


def test_outcomes_are_counted_once_each() -> None:
    """Offered 5 = 2 answered + 2 abandoned (1 short: 3 s <= 5 s) + 1 timed out; a timeout is no abandon."""
    row = run(*outcomes()).totals()["queues"]["support"]
    assert {key: row[key] for key in COUNTS} == {
        "offered": 5,
        "answered": 2,
        "abandoned": 2,
        "short_abandoned": 1,
        "timed_out": 1,
        "exited_other": 0,
        "unknown": 0,
    }
    assert row["answered_within_sl"] == 1  # 10 s <= 20 s; 25 s is not
    assert row["asa_s"] == pytest.approx(17.5)  # (10 + 25) / 2
    assert row["max_wait_s"] == 60
    assert row["abandon_rate_pct"] == pytest.approx(25.0)  # (2 - 1) / (5 - 1)
    assert row["sl_threshold_s"] == 20


@pytest.mark.parametrize(
    ("formula", "expected"),
    [("offered_minus_short", 25.0), ("answered", 50.0), ("offered", 20.0)],
)
def test_service_level_by_formula(formula: str, expected: float) -> None:
    """1 answered within 20 s: 1/(5-1), 1/2 or 1/5 depending on the site's formula."""
    site = SITE.model_copy(update={"sl_formula": formula})
    assert run(*outcomes(), site=site).totals()["queues"]["support"]["service_level_pct"] == pytest.approx(expected)


def test_exit_reasons() -> None:
    """key, empty, full and withdraw are exited_other; unknown is unknown; all are offered."""
    reasons = ["key", "empty", "full", "withdraw", "unknown"]
    events = [ev("call_exited", 5, call_id=f"c{i}", queue="sales", reason=reason) for i, reason in enumerate(reasons)]
    row = run(*events).totals()["queues"]["sales"]
    assert (row["offered"], row["exited_other"], row["unknown"], row["abandoned"]) == (5, 4, 1, 0)


def test_aht_with_hold_and_wrap_from_member_and_queue() -> None:
    """AHT adds hold (from Hold events or hold_s) and wrap-up (the member's, else the queue's)."""
    # a1: talk 60 + hold 7 (20 s..27 s) + queue wrap-up 5; a2: talk 75 + hold_s 3 + member wrap-up 12
    # AHT = (60 + 7 + 5 + 75 + 3 + 12) / 2 = 81 s
    state = run(
        login(0, "a1"),
        login(0, "a2", wrapup_s=12),
        queued(0, "c1"),
        queued(0, "c2"),
        answered(10, "c1", "a1", 10, agent_channel="SIP/a1-0001"),
        answered(25, "c2", "a2", 25),
        ev("call_hold", 20, channel="SIP/a1-0001", held=True),
        ev("call_hold", 27, channel="SIP/a1-0001", held=False),
        ended(70, "c1", "a1", 60),
        ended(100, "c2", "a2", 75, hold_s=3),
    )
    total = state.snapshot(at(200))["queues"]["support"]["total"]
    assert (total["handled"], total["talk_s"], total["hold_s"], total["wrap_s"]) == (2, 135.0, 10.0, 17.0)
    assert total["aht_s"] == pytest.approx(81.0)
    assert total["avg_talk_s"] == pytest.approx(67.5)
    assert total["avg_hold_s"] == pytest.approx(5.0)
    assert total["avg_wrap_s"] == pytest.approx(8.5)
    assert state.totals()["queues"]["support"]["aht_s"] == pytest.approx(81.0)
    assert state.totals()["agents"]["a2"] == {"answered": 1, "talk_s": 75, "paused_s": 0.0, "pauses": {}}


def test_hold_matched_by_call_id_still_open_at_end() -> None:
    """Held at 30 s and never released: the hold runs until the end at 50 s (20 s)."""
    state = run(
        login(0, "a1", queue="sales"),
        answered(10, "c1", "a1", 2, queue="sales"),
        ev("call_hold", 30, call_id="c1", held=True),
        ended(50, "c1", "a1", 40, queue="sales"),
    )
    assert state.snapshot(at(60))["queues"]["sales"]["total"]["hold_s"] == pytest.approx(20.0)


def test_wrap_up_display_from_queue_time() -> None:
    """support wraps up 5 s: ended at 70 s -> wrap_up at 72 s, available (since 75 s) at 76 s."""
    events = [login(0, "a1"), queued(0, "c1"), answered(10, "c1", "a1", 10), ended(70, "c1", "a1", 60)]
    state = run(*events)
    agent = state.snapshot(at(72))["agents"]["a1"]
    assert (agent["state"], agent["since"]) == ("wrap_up", at(70).isoformat())
    assert state.snapshot(at(72))["queues"]["support"]["agents"]["wrap_up"] == 1
    agent = state.snapshot(at(76))["agents"]["a1"]
    assert (agent["state"], agent["since"], agent["time_in_state_s"]) == ("available", at(75).isoformat(), 1.0)


def test_waiting_calls_and_live_service_level() -> None:
    """At 45 s c1 waits 35 s (> 20 s) and c2 5 s: live SL 1 / (1 + 1) = 50 %, plain SL 100 %."""
    state = run(
        login(0, "a1"),
        queued(0, "c0"),
        answered(5, "c0", "a1", 5),
        queued(10, "c1", caller="5551234", caller_name="Dana"),
        queued(40, "c2"),
    )
    queue = state.snapshot(at(45))["queues"]["support"]
    assert (queue["waiting"], queue["longest_wait_s"], queue["waiting_beyond_sl"]) == (2, 35.0, 1)
    assert queue["waiting_calls"] == [
        {"call_id": "c1", "caller": "5551234", "caller_name": "Dana", "position": 1, "wait_s": 35.0, "repeat": False},
        {"call_id": "c2", "caller": "", "caller_name": "", "position": 2, "wait_s": 5.0, "repeat": False},
    ]
    assert queue["interval"]["service_level_pct"] == 100.0
    assert queue["interval"]["service_level_live_pct"] == 50.0
    assert queue["day"]["service_level_live_pct"] == 50.0
    assert queue["total"]["service_level_live_pct"] is None
    assert queue["total"]["offered"] == 1  # waiting calls are not offered yet


def test_end_without_call_id_closes_the_agents_open_call() -> None:
    """AgentComplete without Uniqueid closes a1's open support call; a later end of c1 is a duplicate."""
    state = run(
        login(0, "a1"),
        answered(10, "c1", "a1", 3),
        ended(40, None, "a1", 30),
        ended(41, "c1", "a1", 30),
        ended(42, None, "a2", 10),
    )
    total = state.snapshot(at(50))["queues"]["support"]["total"]
    assert (total["handled"], total["talk_s"]) == (1, 30.0)
    assert state.anomalies["duplicate_end"] == 1
    assert state.anomalies["end_without_call"] == 1


def test_call_first_seen_at_answer_or_at_end_is_counted() -> None:
    """Answered without a join (wait 12 s) and ended without an answer (wait 8 s / unknown: out of ASA and SL)."""
    state = run(
        answered(10, "c1", "a1", 12),
        ended(40, "c2", "a2", 30, wait_s=8),
        ended(50, "c3", "a3", 20),
    )
    row = state.totals()["queues"]["support"]
    assert (row["offered"], row["answered"], row["answered_within_sl"], row["wait_unknown"]) == (3, 3, 2, 1)
    assert row["asa_s"] == pytest.approx((12 + 8) / 2)
    assert row["service_level_pct"] == pytest.approx(100.0)


def test_implausible_durations_are_counted_and_never_averaged() -> None:
    """A wait or talk longer than the site's max_duration_s (a day by default) is an anomaly: the call counts in
    its outcome, the figure is taken from the call's own times when they are known, else left out of ASA/AHT."""
    state = run(
        queued(0, "c1"),
        answered(30, "c1", "a1", 1e30),  # enter seen: the wait is 30 s
        ended(90, "c1", "a1", 2e5),  # answer seen: the talk is 60 s
        answered(100, "c2", "a2", 1e30),  # never seen entering: the wait is unknown
        ended(160, "c2", "a2", 60),
    )
    row = state.totals()["queues"]["support"]
    assert (row["answered"], row["wait_unknown"], row["handle_unknown"]) == (2, 1, 0)
    assert row["asa_s"] == pytest.approx(30.0)
    assert row["avg_talk_s"] == pytest.approx(60.0)
    assert (state.anomalies["implausible_wait"], state.anomalies["implausible_talk"]) == (2, 1)
    short = run(queued(0, "c1"), answered(30, "c1", "a1", 3 * 3600.0), site=SiteConfig(max_duration_s=3600))
    assert short.anomalies["implausible_wait"] == 1
    assert short.totals()["queues"]["support"]["asa_s"] == pytest.approx(30.0)
    assert state.totals()["agents"]["a2"]["answered"] == 1


def test_call_ended_first_for_a_waiting_call_derives_the_wait() -> None:
    """Joined at 0 s, ended at 100 s after 70 s of talk, answer never seen: wait 30 s."""
    state = run(queued(0, "c1"), ended(100, "c1", "a1", 70))
    assert state.totals()["queues"]["support"]["asa_s"] == pytest.approx(30.0)
    assert state.snapshot(at(100))["queues"]["support"]["waiting"] == 0


def test_duplicates_are_ignored_and_counted() -> None:
    """A second join, answer, end or abandon of the same call changes nothing but the anomaly counts."""
    state = run(
        queued(0, "c1"),
        queued(1, "c1"),
        answered(5, "c1", "a1", 5),
        answered(6, "c1", "a1", 6),
        ended(30, "c1", "a1", 24),
        ended(31, "c1", "a1", 24),
        ev("call_abandoned", 32, call_id="c1", queue="support"),
        queued(40, "c1"),
        queued(50, "c2"),
        ev("call_abandoned", 60, call_id="c2", queue="support"),
        ev("call_exited", 61, call_id="c2", queue="support", reason="timeout"),
    )
    row = state.totals()["queues"]["support"]
    assert (row["offered"], row["answered"], row["abandoned"], row["timed_out"]) == (2, 1, 1, 0)
    assert state.anomalies["duplicate_queued"] == 2
    assert state.anomalies["duplicate_answer"] == 1
    assert state.anomalies["duplicate_end"] == 1
    assert state.anomalies["duplicate_outcome"] == 2


def test_outcome_for_a_talking_call_is_ignored() -> None:
    """An abandon for a call already answered and still in talk is an anomaly, not an abandon."""
    state = run(answered(5, "c1", "a1", 5), ev("call_abandoned", 6, call_id="c1", queue="support"))
    assert state.totals()["queues"]["support"]["abandoned"] == 0
    assert state.anomalies["outcome_after_answer"] == 1


def test_idempotency_keys() -> None:
    """The same record replayed (same key) is applied once; keyless duplicates fall to call rules."""
    first = queued(0, "c1", key="ql:1")
    state = run(first, first, answered(5, "c1", "a1", 5, key="ql:2"), answered(5, "c1", "a1", 5, key="ql:2"))
    assert state.anomalies["duplicate_key"] == 2
    assert state.anomalies["duplicate_answer"] == 0
    assert state.applied == 2
    assert state.totals()["queues"]["support"]["answered"] == 1


# -- agents ------------------------------------------------------------------------------------------


def test_multi_queue_agent_paused_in_one_queue() -> None:
    """Paused in billing only: shown available, counted paused in billing and available in support."""
    state = run(login(0, "a1"), login(0, "a1", queue="billing"), ev("agent_paused", 5, agent="a1", queue="billing"))
    snapshot = state.snapshot(at(10))
    agent = snapshot["agents"]["a1"]
    assert (agent["state"], agent["queues"], agent["paused_queues"]) == (
        "available",
        ["billing", "support"],
        ["billing"],
    )
    assert snapshot["queues"]["support"]["agents"] == {
        "logged_in": 1,
        "available": 1,
        "ringing": 0,
        "on_call": 0,
        "wrap_up": 0,
        "paused": 0,
    }
    assert snapshot["queues"]["billing"]["agents"]["paused"] == 1
    assert snapshot["queues"]["billing"]["agents"]["available"] == 0


def pause_all(seconds: float, agent: str, reason: str, queues: tuple[str, ...], paused: bool = True) -> list[Event]:
    """queue_log style: PAUSEALL (queue None) then one PAUSE per queue, all in the same second."""
    kind = "agent_paused" if paused else "agent_unpaused"
    return [ev(kind, seconds, agent=agent, reason=reason, queue=queue) for queue in (None, *queues)]


def test_pause_episodes_from_queue_log_lines() -> None:
    """PAUSEALL + PAUSE per queue is one pause, a new reason is another; login-only identities are not listed."""
    # Bob (logged in under his interface): Break 40-85 s, Break 230 s, Lunch 250 s, unpause 290 s:
    # Break twice, Lunch once, 45 + 60 = 105 s paused
    both = ("support", "sales")
    state = run(
        login(0, "Local/agent02@agents/n", interface="Local/agent02@agents/n"),
        login(0, "Local/agent02@agents/n", queue="sales", interface="Local/agent02@agents/n"),
        *pause_all(40, "Bob", "Break", both),
        *pause_all(85, "Bob", "", both, paused=False),
        *pause_all(230, "Bob", "Break", both),
        *pause_all(250, "Bob", "Lunch", both),
        *pause_all(290, "Bob", "", both, paused=False),
    )
    state.finish(at(300))
    agents = state.totals()["agents"]
    assert agents == {"Bob": {"answered": 0, "talk_s": 0, "paused_s": 105.0, "pauses": {"Break": 2, "Lunch": 1}}}


def test_paused_time_runs_to_the_last_event() -> None:
    """Still paused at the end: paused_s counts up to finish(now), and the snapshot shows the reason."""
    state = run(login(0, "a1"), ev("agent_paused", 10, agent="a1", reason="Lunch"), queued(70, "c1"))
    assert state.totals()["agents"]["a1"]["paused_s"] == 60.0  # up to the last event
    state.finish(at(100))
    assert state.totals()["agents"]["a1"]["paused_s"] == 90.0
    agent = state.snapshot(at(100))["agents"]["a1"]
    assert (agent["state"], agent["reason"], agent["paused_s"]) == ("paused", "Lunch", 90.0)


def test_paused_during_a_call_is_paused_when_it_ends() -> None:
    """Paused at 20 s while on a call: on_call until the end at 30 s, then paused (not wrap-up)."""
    state = run(login(0, "a1"), answered(10, "c1", "a1", 2), ev("agent_paused", 20, agent="a1", reason="Break"))
    assert state.snapshot(at(25))["agents"]["a1"]["state"] == "on_call"
    state.apply(ended(30, "c1", "a1", 20))
    agent = state.snapshot(at(31))["agents"]["a1"]
    assert (agent["state"], agent["reason"], agent["since"]) == ("paused", "Break", at(30).isoformat())


def test_device_states() -> None:
    """Device ringing/busy/idle drive the display; idle keeps a stale open call for its late end."""
    state = run(login(0, "a1"), ev("agent_device", 5, agent="a1", queue="support", device_state="ringing"))
    assert state.snapshot(at(6))["queues"]["support"]["agents"]["ringing"] == 1
    state.apply(ev("agent_rang", 7, agent="a1", queue="support", answered=False, call_id="c1"))
    assert state.snapshot(at(8))["agents"]["a1"]["state"] == "available"
    state.apply(ev("agent_device", 9, agent="a1", device_state="in_use"))
    assert state.snapshot(at(10))["agents"]["a1"]["state"] == "on_call"
    state.apply(ev("agent_device", 11, agent="a1", device_state="idle"))
    state.apply(answered(20, "c2", "a1", 4))
    state.apply(ev("agent_device", 30, agent="a1", device_state="idle"))
    agent = state.snapshot(at(31))["agents"]["a1"]
    assert (agent["state"], agent["call"]) == (
        "available",
        {"call_id": "c2", "queue": "support", "since": at(20).isoformat()},
    )
    state.apply(ended(40, "c2", "a1", 20))
    assert state.snapshot(at(50))["queues"]["support"]["total"]["handled"] == 1
    assert state.totals()["agents"]["a1"]["answered"] == 1


def test_site_aliases_and_teams() -> None:
    """Site-file aliases make the interface and the member name one agent with its display name and team."""
    site = SITE.model_copy(
        update={
            "teams": {"care": TeamConfig(name="Care"), "empty": TeamConfig()},
            "agents": {
                "agent01": AgentConfig(name="Alice Nguyen", team="care", aliases=("Local/agent01@agents/n",)),
            },
        }
    )
    state = run(login(0, "Local/agent01@agents/n"), answered(10, "c1", "Alice Nguyen", 3), site=site)
    snapshot = state.snapshot(at(11))
    agent = snapshot["agents"]["agent01"]
    assert (agent["name"], agent["team"], agent["state"], agent["calls_today"]) == (
        "Alice Nguyen",
        "care",
        "on_call",
        1,
    )
    assert snapshot["teams"]["care"]["agents"]["on_call"] == 1
    assert sum(snapshot["teams"]["empty"]["agents"].values()) == 0


def test_logout_during_a_call_still_counts_the_call() -> None:
    """Removed from the queue while talking: the call is still handled.

    Quirk 2 of tests/fixtures/asterisk22-light/PROVENANCE.md.
    """
    state = run(login(0, "a1"), answered(10, "c1", "a1", 3), ev("agent_logout", 20, agent="a1", queue="support"))
    assert state.snapshot(at(21))["agents"]["a1"]["state"] == "logged_out"
    state.apply(ended(40, "c1", "a1", 30))
    assert state.snapshot(at(41))["queues"]["support"]["total"]["handled"] == 1
    assert state.snapshot(at(41))["agents"]["a1"]["state"] == "logged_out"
    state.apply(ev("agent_logout", 50, agent="a1", queue="support"))
    assert state.anomalies["logout_without_login"] == 1


# -- corrections -------------------------------------------------------------------------------------


def snapshot_event(
    seconds: float, queues: list[dict[str, Any]], members: list[dict[str, Any]], entries: list[dict[str, Any]]
) -> Event:
    return ev("snapshot", seconds, queues=queues, members=members, entries=entries)


def test_snapshot_corrects_members_and_waiting_calls_without_counting() -> None:
    """a2 missing -> logged out, a1 paused, a3 added; c1 missing -> uncertain; c7 added (enter 48 s)."""
    state = run(
        login(0, "a1"),
        login(0, "a2"),
        queued(0, "c1"),
        queued(5, "c2"),
        snapshot_event(
            60,
            [{"name": "support", "sl_threshold_s": 30}, {"name": "overflow", "sl_threshold_s": 45}],
            [
                {"queue": "support", "agent": "a1", "paused": True, "reason": "Lunch"},
                {"queue": "support", "agent": "a3"},
            ],
            [
                {"queue": "support", "call_id": "c2", "wait_s": 55},
                {"queue": "support", "call_id": "c7", "wait_s": 12},
            ],
        ),
    )
    snapshot = state.snapshot(at(60))
    support = snapshot["queues"]["support"]
    assert support["agents"]["logged_in"] == 2
    assert snapshot["agents"]["a2"]["state"] == "logged_out"
    assert (snapshot["agents"]["a1"]["state"], snapshot["agents"]["a1"]["reason"]) == ("paused", "Lunch")
    assert snapshot["agents"]["a3"]["state"] == "available"
    assert [call["call_id"] for call in support["waiting_calls"]] == ["c2", "c7"]
    assert support["waiting_calls"][1]["wait_s"] == 12.0
    assert support["total"]["offered"] == 0
    assert support["sl_threshold_s"] == 20  # the site file wins over the PBX
    assert snapshot["queues"]["overflow"]["sl_threshold_s"] == 45  # learned from QueueParams
    state.finish(at(100))
    row = state.totals()["queues"]["support"]
    assert (row["offered"], row["unknown"]) == (1, 1)  # c1 never settled


def test_reconnect_then_snapshot() -> None:
    """After a reconnect, events and the next snapshot settle the uncertain calls; the rest end unknown."""
    # c1 listed again -> waiting; c2 answered meanwhile -> settled by its events; c3 never heard of
    # again -> unknown at finish; a2's call answered before the reconnect, while the snapshot says a2
    # is in no call -> dropped, not handled.
    state = run(
        login(0, "a1"),
        login(0, "a2"),
        queued(0, "c1"),
        queued(0, "c2"),
        queued(0, "c3"),
        queued(0, "c4"),
        answered(5, "c4", "a2", 5),
        ev("source_reset", 10, reason="reconnect"),
    )
    assert state.snapshot(at(10))["queues"]["support"]["waiting"] == 0
    state.apply(answered(15, "c2", "a1", 15))
    state.apply(
        snapshot_event(
            20,
            [{"name": "support"}],
            [{"queue": "support", "agent": "a1", "in_call": True}, {"queue": "support", "agent": "a2"}],
            [{"queue": "support", "call_id": "c1", "wait_s": 20}],
        )
    )
    snapshot = state.snapshot(at(20))
    assert [call["call_id"] for call in snapshot["queues"]["support"]["waiting_calls"]] == ["c1"]
    assert snapshot["agents"]["a2"]["call"] is None
    assert state.anomalies["call_end_lost"] == 1
    state.apply(ended(50, "c2", "a1", 35))
    state.apply(ended(51, "c4", "a2", 46))
    assert state.anomalies["duplicate_end"] == 1
    state.finish(at(60))
    row = state.totals()["queues"]["support"]
    assert {key: row[key] for key in ("offered", "answered", "unknown")} == {"offered": 3, "answered": 2, "unknown": 1}
    assert state.snapshot(at(60))["queues"]["support"]["total"]["handled"] == 1
    assert state.snapshot(at(60))["queues"]["support"]["waiting"] == 1


def test_restart_closes_calls_as_unknown() -> None:
    """A PBX restart closes waiting and uncertain calls as unknown and ends calls in talk."""
    # restart at 40 s: uncertain c1 (wait 5 s) and waiting c2 (wait 34 s) become unknown; c3 in talk
    # since 10 s is ended with 30 s of talk and no wrap-up; a1 stays logged in, available.
    state = run(
        login(0, "a1"),
        queued(0, "c1"),
        queued(0, "c3"),
        ev("source_reset", 5, reason="reconnect"),
        queued(6, "c2"),
        answered(10, "c3", "a1", 10),
        ev("source_reset", 40, reason="restart"),
    )
    row = state.totals()["queues"]["support"]
    assert {key: row[key] for key in ("offered", "answered", "unknown", "max_wait_s")} == {
        "offered": 3,
        "answered": 1,
        "unknown": 2,
        "max_wait_s": 34,
    }
    assert (row["avg_talk_s"], row["aht_s"]) == (30.0, 30.0)
    snapshot = state.snapshot(at(41))
    assert (snapshot["agents"]["a1"]["state"], snapshot["agents"]["a1"]["queues"]) == ("available", ["support"])
    assert snapshot["queues"]["support"]["waiting"] == 0
    state.apply(ended(45, "c3", "a1", 35))
    assert state.anomalies["duplicate_end"] == 1


# -- windows -----------------------------------------------------------------------------------------

PARIS_SITE = SiteConfig(site="paris", timezone="Europe/Paris", queues={"support": QueueConfig(sl_threshold_s=20)})


def call_at(ts: datetime, call_id: str, wait_s: float) -> list[Event]:
    common = {"source": "test", "call_id": call_id, "queue": "support"}
    return [
        event_from_dict({"kind": "call_queued", "ts": ts, **common}),
        event_from_dict(
            {"kind": "call_answered", "ts": ts + timedelta(seconds=wait_s), "agent": "a1", "wait_s": wait_s, **common}
        ),
    ]


def test_windows_on_the_autumn_dst_day() -> None:
    """Intervals and days follow Paris local time across the autumn DST change, with closed intervals."""
    # 02:20 CEST and 02:20 CET are different intervals; a gap gives an empty previous interval, the
    # next contiguous one keeps its figures; the local midnight starts a new day.
    first = datetime(2026, 10, 25, 0, 20, tzinfo=UTC)  # 02:20 CEST
    second = datetime(2026, 10, 25, 1, 20, tzinfo=UTC)  # 02:20 CET
    state = State(PARIS_SITE)
    for event in call_at(first, "c1", 60):
        state.apply(event)
    assert state.drain_closed_intervals() == []
    state.set_wall_clock(second)  # live: the clock vouches for a call after a quiet hour (else held for the next)
    for event in call_at(second, "c2", 5):
        state.apply(event)
    rows = state.drain_closed_intervals()
    assert [(row["queue"], row["start"], row["end"], row["offered"], row["answered_within_sl"]) for row in rows] == [
        ("support", "2026-10-25T00:15:00+00:00", "2026-10-25T00:30:00+00:00", 1, 0)
    ]
    assert state.drain_closed_intervals() == []
    snapshot = state.snapshot(second + timedelta(minutes=1))
    assert snapshot["interval"] == {
        "start": "2026-10-25T01:15:00+00:00",
        "end": "2026-10-25T01:30:00+00:00",
        "minutes": 15,
    }
    assert snapshot["day"] == {"start": "2026-10-24T22:00:00+00:00"}
    queue = snapshot["queues"]["support"]
    assert (queue["interval"]["offered"], queue["day"]["offered"], queue["previous_interval"]["offered"]) == (1, 2, 0)
    later = state.snapshot(datetime(2026, 10, 25, 1, 31, tzinfo=UTC))["queues"]["support"]
    assert (later["interval"]["offered"], later["previous_interval"]["offered"]) == (0, 1)
    assert later["previous_interval"]["service_level_pct"] == 100.0
    next_day = datetime(2026, 10, 25, 23, 5, tzinfo=UTC)  # 00:05 CET on the 26th
    state.set_wall_clock(next_day)
    for event in call_at(next_day, "c3", 1):
        state.apply(event)
    snapshot = state.snapshot(next_day + timedelta(seconds=2))
    assert snapshot["day"] == {"start": "2026-10-25T23:00:00+00:00"}
    queue = snapshot["queues"]["support"]
    assert (queue["day"]["offered"], queue["total"]["offered"]) == (1, 3)
    assert snapshot["agents"]["a1"]["calls_today"] == 1
    closed = [(row["start"], row["offered"]) for row in state.drain_closed_intervals()]
    assert closed == [("2026-10-25T01:15:00+00:00", 1), ("2026-10-25T01:30:00+00:00", 0)]


def test_stale_event_counts_in_the_current_window() -> None:
    """A call finishing 20 min ago, applied after the interval rolled, counts now and in total."""
    abandoned = ev("call_abandoned", 10, call_id="c1", queue="support", wait_s=10)  # 990 s before the last event
    state = run(queued(0, "c1"), queued(500, "c3"), queued(1000, "c2"), abandoned)
    assert state.anomalies["stale_event"] == 1
    queue = state.snapshot(at(1001))["queues"]["support"]
    assert (queue["interval"]["abandoned"], queue["total"]["abandoned"]) == (1, 1)


def test_day_rollover_closes_uncertain_calls_in_the_old_day() -> None:
    """An uncertain call at midnight is closed as unknown in the day it belonged to."""
    state = run(queued(0, "c1"), ev("source_reset", 10, reason="reconnect"), queued(86400, "c2"), queued(86401, "c3"))
    assert state.drain_closed_intervals()[0]["unknown"] == 1
    queue = state.snapshot(at(86401))["queues"]["support"]
    assert (queue["day"]["unknown"], queue["total"]["unknown"]) == (0, 1)


# -- output shape --------------------------------------------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return type(value) in (str, int, float, bool, type(None))


def test_absurd_values_cannot_break_the_output() -> None:
    """Events stamped in year 9999 or 1900 are ignored; an infinite talk or hold time is an anomaly, counted and
    left out of the sums and averages (valid JSON, never clamped into the figures)."""
    far = {"source": "test", "call_id": "c9", "queue": "support"}
    state = run(
        event_from_dict({"kind": "call_queued", "ts": datetime(9999, 12, 31, tzinfo=UTC), **far}),
        queued(0, "c1"),
        event_from_dict({"kind": "call_queued", "ts": datetime(1900, 1, 1, tzinfo=UTC), **far}),
        answered(5, "c1", "a1", 5),
        ended(10, "c1", "a1", float("inf"), hold_s=float("inf")),
    )
    assert state.anomalies["bad_timestamp"] == 2
    snapshot = state.snapshot(at(20))
    json.dumps(snapshot, allow_nan=False)
    json.dumps(state.totals(), allow_nan=False)
    total = snapshot["queues"]["support"]["total"]
    assert (total["handled"], total["handle_unknown"], total["talk_s"], total["aht_s"]) == (1, 1, 0.0, None)
    assert (state.anomalies["implausible_talk"], state.anomalies["implausible_hold"]) == (1, 1)
    state.apply(ev("agent_paused", 30, agent="a1", reason="Break"))
    state.finish(datetime(9999, 12, 31, tzinfo=UTC))  # a replay whose last record was absurd
    assert state.totals()["agents"]["a1"]["paused_s"] == 0.0  # flushed up to the last applied event (30 s)


def test_state_survives_a_pickle_round_trip() -> None:
    """The runner checkpoints the State with pickle: a restored copy reports and continues identically."""
    state = run(*outcomes(), login(0, "a1"), ev("agent_paused", 50, agent="a1", reason="Break"), queued(70, "c9"))
    restored = pickle.loads(pickle.dumps(state, protocol=5))
    for copy in (state, restored):
        copy.apply(answered(80, "c9", "a1", 10))
        copy.apply(queued(81, "c1"))
    assert restored.snapshot(at(90)) == state.snapshot(at(90))
    assert restored.totals() == state.totals()
    assert restored.anomalies["duplicate_queued"] == 1


def test_a_checkpoint_names_the_engine_classes_in_the_engine_module() -> None:
    """State is assembled from mixins in engine_*.py, yet a pickled State names every engine class under
    ``wallboard.core.engine``: older checkpoints load, and newer ones load in an engine from before the split."""
    state = run(*outcomes(), login(0, "a1"), queued(70, "c9"))
    state.snapshot(at(3600))  # closes the interval: closed rows of the queues and of the agent wait in the State
    found: set[tuple[str, str]] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found.add((module, name))
            return super().find_class(module, name)

    restored = Recording(io.BytesIO(pickle.dumps(state, protocol=5))).load()
    classes = ("State", "_Bounded", "_ClosedInterval", "_ClosedAgentInterval")
    assert {pair for pair in found if "engine" in pair[0]} == {("wallboard.core.engine", c) for c in classes}
    rows = restored.drain_closed_intervals()
    assert rows and rows == state.drain_closed_intervals()
    agent_rows = restored.drain_closed_agent_intervals()
    assert agent_rows and agent_rows == state.drain_closed_agent_intervals()


# -- any order of events -----------------------------------------------------------------------------

BASE = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # 23:30 in Paris, the night before the DST change
QUEUES = ("support", "sales")
CALL_IDS = ("c1", "c2", "c3")
AGENTS = ("a1", "a2", "SIP/1")
PROPERTY_SITE = SiteConfig(
    timezone="Europe/Paris",
    interval_minutes=15,
    queues={"support": QueueConfig(sl_threshold_s=20, wrapup_s=4)},
)

ABSURD_TIMES = (datetime(1900, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))
stamp = st.integers(0, 3 * 3600).map(lambda s: BASE + timedelta(seconds=s))
any_stamp = st.one_of(stamp, stamp, stamp, stamp, stamp, st.sampled_from(ABSURD_TIMES))
seconds = st.one_of(st.floats(0, 400), st.just(float("inf")))
maybe_seconds = st.none() | seconds
queue = st.sampled_from(QUEUES)
call_id = st.sampled_from(CALL_IDS)
agent = st.sampled_from(AGENTS)
names = st.fixed_dictionaries(
    {}, optional={"interface": st.just("SIP/1"), "member_name": st.sampled_from(("a1", "a2"))}
)
key = st.none() | st.sampled_from(("k1", "k2", "k3"))
device = st.sampled_from(("unknown", "idle", "in_use", "busy", "ringing", "unavailable", "on_hold"))


def kind(name: str, **fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"kind": st.just(name), "ts": any_stamp, "source": st.just("p"), "key": key, **fields})


member = st.fixed_dictionaries(
    {"queue": queue, "agent": agent, "paused": st.booleans(), "in_call": st.booleans(), "device_state": device},
    optional={"reason": st.sampled_from(("", "Break")), "interface": st.just("SIP/1"), "member_name": st.just("a2")},
)
entry = st.fixed_dictionaries({"queue": queue, "call_id": call_id, "wait_s": seconds})
raw_event = st.one_of(
    kind("call_queued", call_id=call_id, queue=queue),
    kind("call_answered", call_id=call_id, queue=queue, agent=agent, wait_s=seconds).flatmap(
        lambda d: names.map(lambda n: {**d, **n})
    ),
    kind(
        "call_ended",
        call_id=st.none() | call_id,
        queue=queue,
        agent=agent,
        talk_s=seconds,
        hold_s=maybe_seconds,
        wait_s=maybe_seconds,
    ),
    kind("call_abandoned", call_id=call_id, queue=queue, wait_s=maybe_seconds),
    kind("call_exited", call_id=call_id, queue=queue, reason=st.sampled_from(("timeout", "key", "unknown", "full"))),
    kind("call_transferred", call_id=call_id, queue=queue, agent=agent),
    kind("call_hold", call_id=st.none() | call_id, agent=st.none() | agent, held=st.booleans()),
    kind("agent_rang", call_id=call_id, queue=queue, agent=agent, answered=st.booleans()),
    kind("agent_login", agent=agent, queue=queue, paused=st.booleans(), wrapup_s=maybe_seconds).flatmap(
        lambda d: names.map(lambda n: {**d, **n})
    ),
    kind("agent_logout", agent=agent, queue=queue),
    kind("agent_paused", agent=agent, queue=st.none() | queue, reason=st.sampled_from(("", "Break", "Lunch"))),
    kind("agent_unpaused", agent=agent, queue=st.none() | queue),
    kind("agent_device", agent=agent, queue=st.none() | queue, device_state=device, in_call=st.none() | st.booleans()),
    kind(
        "snapshot",
        queues=st.lists(st.fixed_dictionaries({"name": queue}), max_size=2),
        members=st.lists(member, max_size=3),
        entries=st.lists(entry, max_size=3),
    ),
    kind("source_reset", reason=st.sampled_from(("reconnect", "restart"))),
)
events = st.lists(raw_event.map(event_from_dict), max_size=40)


def check_window(window: dict[str, Any]) -> None:
    for name in (*COUNTS, "answered_within_sl", "handled"):
        assert window.get(name, 0) >= 0, name
    parts = ("answered", "abandoned", "timed_out", "exited_other", "unknown")
    assert window["offered"] == sum(window[name] for name in parts)
    for name in ("service_level_pct", "abandon_rate_pct", "service_level_live_pct"):
        value = window.get(name)
        assert value is None or 0.0 <= value <= 100.0, name
    for name in ("talk_s", "hold_s", "wrap_s", "wait_s_answered", "asa_s", "aht_s", "max_wait_s"):
        value = window.get(name)
        assert value is None or value >= 0.0, name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, stamp)
def test_any_event_order_keeps_counts_sane(sequence: list[Event], now: datetime) -> None:
    """Any events in any order: no error, no negative count, percentages in 0..100, offered adds up."""
    state = State(PROPERTY_SITE)
    for event in sequence:
        state.apply(event)
    snapshots = [state.snapshot(now)]
    state.finish(max([now, *(event.ts for event in sequence)]))
    snapshots.append(state.snapshot(now + timedelta(hours=1)))
    assert state.anomalies["internal_error"] == 0
    assert apply_diff(snapshots[0], diff(snapshots[0], snapshots[1])) == snapshots[1]
    for snapshot in snapshots:
        assert _plain(snapshot)
        json.dumps(snapshot, allow_nan=False)
        for row in snapshot["queues"].values():
            for name in ("interval", "day", "total", "previous_interval"):
                if row[name] is not None:
                    check_window(row[name])
            assert row["waiting"] >= 0 and row["longest_wait_s"] >= 0 and row["waiting_beyond_sl"] >= 0
            counts = row["agents"]
            assert min(counts.values()) >= 0
            assert counts["logged_in"] == sum(value for name, value in counts.items() if name != "logged_in")
        for agent_row in snapshot["agents"].values():
            assert agent_row["time_in_state_s"] >= 0 and agent_row["paused_s"] >= 0 and agent_row["talk_s"] >= 0
            assert agent_row["calls_today"] >= 0
    for closed in state.drain_closed_intervals():
        check_window(closed)
    totals = state.totals()
    for row in totals["queues"].values():
        check_window(row)
    for agent_totals in totals["agents"].values():
        assert agent_totals["answered"] >= 0 and agent_totals["talk_s"] >= 0 and agent_totals["paused_s"] >= 0
        assert min(agent_totals["pauses"].values(), default=1) >= 1
