"""The alert evaluator: every rule shape with a clock passed in, against hand-built and real engine snapshots."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.core.alerts import Change, Evaluator, Level, Status, Target
from wallboard.core.engine import State
from wallboard.core.events import AgentLogin, AgentPaused, CallAnswered, CallQueued
from wallboard.core.site import SiteConfig
from wallboard.core.thresholds import Metric, Threshold, load_thresholds

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Paris
TZ = "Europe/Paris"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def evaluator(*rows: dict[str, Any]) -> Evaluator:
    return Evaluator(load_thresholds(list(rows)), TZ)


def queue(**fields: Any) -> dict[str, Any]:
    """A snapshot queue entry: top-level fields as given, window fields through interval=/day=."""
    base: dict[str, Any] = {"waiting": 0, "longest_wait_s": 0.0, "agents": {}, "required_agents": None}
    base["interval"] = {"offered": 10, **fields.pop("interval", {})}
    base["day"] = {"offered": 10, **fields.pop("day", {})}
    base.update(fields)
    return base


def snap(queues: dict[str, Any] | None = None, agents: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"site": "paris", "queues": queues or {}, "agents": agents or {}, "teams": {}, **extra}


def wait_snap(seconds: float, name: str = "sales") -> dict[str, Any]:
    return snap({name: queue(longest_wait_s=seconds, waiting=1)})


def one(statuses: list[Status]) -> Status:
    assert len(statuses) == 1, statuses
    return statuses[0]


def levels(ev: Evaluator, steps: Sequence[tuple[float, float]]) -> list[Level]:
    """Feed (second, longest wait) steps for queue sales; the level after each."""
    return [one(ev.evaluate(wait_snap(value), at(t))).level for t, value in steps]


# -- minimum duration -------------------------------------------------------------------------------


def test_a_blip_shorter_than_for_s_never_fires() -> None:
    """Breaches of 50 s with a 60 s minimum, separated by one good reading, stay ok."""
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60, "for_s": 60})
    steps = [(0, 70), (20, 70), (50, 70), (60, 30), (70, 70), (100, 70), (120, 70), (125, 10)]
    assert levels(ev, steps) == [Level.OK] * len(steps)


def test_a_level_fires_exactly_when_for_s_has_elapsed_and_only_once() -> None:
    """First breach at t=0, for_s 60: still ok at 59 s, warn at 60 s, one change recorded."""
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60, "for_s": 60})
    assert levels(ev, [(0, 70), (30, 75), (59, 80)]) == [Level.OK] * 3
    status = one(ev.evaluate(wait_snap(85), at(60)))
    assert (status.level, status.since) == (Level.WARN, at(60))
    assert ev.changes == [
        Change(Target("queue", "sales"), "wait", status.metric, Level.OK, Level.WARN, at(60), 85.0, status.reason)
    ]
    ev.evaluate(wait_snap(90), at(70))
    assert ev.changes == []


def test_pending_reason_says_how_long_and_when_it_fires() -> None:
    """A breach not yet long enough is ok, and the reason tells the wait so far and the minimum."""
    ev = evaluator({"id": "sl", "metric": "service_level_pct", "warn": 80, "alarm": 70, "for_s": 180})
    ev.evaluate(snap({"sales": queue(interval={"service_level_pct": 62.0})}), at(0))
    status = one(ev.evaluate(snap({"sales": queue(interval={"service_level_pct": 62.0})}), at(60)))
    assert status.level is Level.OK
    assert status.reason == "SL 62 % < 70 % for 60 s (alarm after 3 min)"


def test_sl_alarm_reason_in_words() -> None:
    """SL 62 % for 3 min against alarm 70 %: 'SL 62 % < 70 % for 3 min'."""
    ev = evaluator({"id": "sl", "metric": "service_level_pct", "warn": 80, "alarm": 70, "for_s": 180})
    for t in (0, 60, 120):
        ev.evaluate(snap({"sales": queue(interval={"service_level_pct": 62.0})}), at(t))
    status = one(ev.evaluate(snap({"sales": queue(interval={"service_level_pct": 62.0})}), at(180)))
    assert (status.level, status.value, status.reason) == (Level.ALARM, 62.0, "SL 62 % < 70 % for 3 min")


# -- hysteresis -------------------------------------------------------------------------------------


def test_hysteresis_holds_a_warn_until_the_value_is_back_past_clear() -> None:
    """warn 60, clear 45: wobbling between 46 and 61 stays warn; 45 clears; 50 does not re-fire."""
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60, "clear": 45})
    steps = [(0, 61), (10, 50), (20, 59), (30, 61), (40, 46), (50, 45), (60, 50), (70, 60), (80, 61)]
    expected = [Level.WARN] * 5 + [Level.OK] * 3 + [Level.WARN]
    assert levels(ev, steps) == expected


def test_hold_reason_says_where_it_clears() -> None:
    """In the hold band the reason gives the value and the clear point."""
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60, "clear": 45})
    ev.evaluate(wait_snap(61), at(0))
    status = one(ev.evaluate(wait_snap(50), at(10)))
    assert status.reason == "Longest wait 50 s, warn until <= 45 s"


def test_without_clear_a_level_clears_as_soon_as_it_is_no_longer_beyond() -> None:
    """Default clear = the level: 61 fires, exactly 60 clears."""
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60})
    assert levels(ev, [(0, 61), (10, 60), (20, 61)]) == [Level.WARN, Level.OK, Level.WARN]


def test_escalation_and_de_escalation() -> None:
    """warn 60, alarm 120, clear 45 (alarm clears at 105), for 30 s.

    130 from t=0 goes straight to alarm at 30 s; 110 holds the alarm; 100 drops to warn at once;
    130 again must last 30 s to re-escalate; 40 clears everything at once.
    """
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60, "alarm": 120, "clear": 45, "for_s": 30})
    steps = [(0, 130), (30, 130), (40, 110), (50, 100), (60, 130), (80, 130), (90, 130), (100, 40)]
    seen: list[tuple[float, Level, Level]] = []
    observed = []
    for t, value in steps:
        observed.append(one(ev.evaluate(wait_snap(value), at(t))).level)
        seen.extend(((change.at - T0).total_seconds(), change.old, change.new) for change in ev.changes)
    W, A, OK = Level.WARN, Level.ALARM, Level.OK
    assert observed == [OK, A, A, W, W, W, A, OK]
    assert seen == [(30, OK, A), (50, A, W), (90, W, A), (100, A, OK)]


def test_alarm_only_threshold_uses_clear_for_the_alarm() -> None:
    """With only an alarm level at 10 and clear 6, the alarm holds at 7 and clears at 6."""
    ev = evaluator({"id": "q", "metric": "waiting", "alarm": 10, "clear": 6})
    steps = [11, 7, 6]
    got = [one(ev.evaluate(snap({"sales": queue(waiting=v)}), at(i))).level for i, v in enumerate(steps)]
    assert got == [Level.ALARM, Level.ALARM, Level.OK]


# -- quiet hours ------------------------------------------------------------------------------------


def test_quiet_hours_across_midnight_and_a_firing_alarm_clears_as_quiet() -> None:
    """Active Fri 22:00-06:00 Paris (UTC+2): quiet at 21:59, alarm at 22:00, quiet again at Sat 06:00."""
    ev = evaluator(
        {
            "id": "night",
            "metric": "waiting",
            "alarm": 3,
            "active": [{"days": ["fri"], "start": "22:00", "end": "06:00"}],
        }
    )
    busy = snap({"sales": queue(waiting=5)})
    friday_2159 = datetime(2024, 5, 10, 19, 59, tzinfo=UTC)
    quiet = one(ev.evaluate(busy, friday_2159))
    assert quiet.level is Level.QUIET
    assert quiet.reason == "quiet hours (active Fri 22:00-06:00)"
    assert ev.changes == []  # a new pair starts silently when not firing
    assert one(ev.evaluate(busy, friday_2159 + timedelta(minutes=1))).level is Level.ALARM
    assert one(ev.evaluate(busy, datetime(2024, 5, 11, 3, 59, tzinfo=UTC))).level is Level.ALARM
    assert one(ev.evaluate(busy, datetime(2024, 5, 11, 4, 0, tzinfo=UTC))).level is Level.QUIET
    assert [(c.old, c.new) for c in ev.changes] == [(Level.ALARM, Level.QUIET)]


def test_quiet_hours_on_the_spring_dst_day_in_paris() -> None:
    """2024-03-31: 08:00 local is 06:00 UTC (CEST). A breach in quiet hours does not count towards for_s."""
    ev = evaluator(
        {"id": "q", "metric": "waiting", "alarm": 3, "for_s": 60, "active": [{"start": "08:00", "end": "20:00"}]}
    )
    busy = snap({"sales": queue(waiting=5)})
    assert one(ev.evaluate(busy, datetime(2024, 3, 31, 5, 59, tzinfo=UTC))).level is Level.QUIET
    assert one(ev.evaluate(busy, datetime(2024, 3, 31, 6, 0, tzinfo=UTC))).level is Level.OK
    assert one(ev.evaluate(busy, datetime(2024, 3, 31, 6, 1, tzinfo=UTC))).level is Level.ALARM
    # 20:00 CEST is 18:00 UTC
    assert one(ev.evaluate(busy, datetime(2024, 3, 31, 17, 59, tzinfo=UTC))).level is Level.ALARM
    assert one(ev.evaluate(busy, datetime(2024, 3, 31, 18, 0, tzinfo=UTC))).level is Level.QUIET


def test_quiet_hours_on_the_autumn_dst_day_in_paris() -> None:
    """2024-10-27: back to UTC+1 at 03:00 CEST; 08:00 local is 07:00 UTC, the day before 06:00 UTC."""
    ev = evaluator({"id": "q", "metric": "waiting", "alarm": 3, "active": [{"start": "08:00", "end": "20:00"}]})
    busy = snap({"sales": queue(waiting=5)})
    assert one(ev.evaluate(busy, datetime(2024, 10, 26, 6, 0, tzinfo=UTC))).level is Level.ALARM
    assert one(ev.evaluate(busy, datetime(2024, 10, 27, 6, 30, tzinfo=UTC))).level is Level.QUIET
    assert one(ev.evaluate(busy, datetime(2024, 10, 27, 7, 0, tzinfo=UTC))).level is Level.ALARM


# -- minimum traffic --------------------------------------------------------------------------------


def test_below_min_traffic_the_metric_is_not_judged() -> None:
    """SL 0 % on 4 offered calls is insufficient traffic; on 5 it alarms; a new empty interval clears it."""
    ev = evaluator({"id": "sl", "metric": "service_level_pct", "warn": 80, "alarm": 70})
    thin = one(ev.evaluate(snap({"sales": queue(interval={"offered": 4, "service_level_pct": 0.0})}), at(0)))
    assert (thin.level, thin.reason) == (
        Level.INSUFFICIENT_TRAFFIC,
        "4 offered this interval, fewer than 5: not judged",
    )
    enough = one(ev.evaluate(snap({"sales": queue(interval={"offered": 5, "service_level_pct": 60.0})}), at(60)))
    assert enough.level is Level.ALARM
    fresh = one(ev.evaluate(snap({"sales": queue(interval={"offered": 0, "service_level_pct": None})}), at(120)))
    assert fresh.level is Level.INSUFFICIENT_TRAFFIC
    assert [(c.old, c.new) for c in ev.changes] == [(Level.ALARM, Level.INSUFFICIENT_TRAFFIC)]


def test_day_sl_is_gated_by_the_day_offered_count() -> None:
    """service_level_day_pct reads the day window, and its traffic is the day's offered calls."""
    ev = evaluator({"id": "sld", "metric": "service_level_day_pct", "alarm": 70, "min_offered": 20})
    entry = queue(interval={"offered": 50, "service_level_pct": 90.0}, day={"offered": 19, "service_level_pct": 50.0})
    assert one(ev.evaluate(snap({"sales": entry}), at(0))).level is Level.INSUFFICIENT_TRAFFIC
    entry["day"]["offered"] = 20
    status = one(ev.evaluate(snap({"sales": entry}), at(1)))
    assert (status.level, status.value) == (Level.ALARM, 50.0)


def test_missing_value_is_no_data() -> None:
    """ASA None (nothing answered yet) with enough offered calls is no_data, not ok."""
    ev = evaluator({"id": "asa", "metric": "asa_s", "warn": 30, "min_offered": 0})
    status = one(ev.evaluate(snap({"sales": queue(interval={"asa_s": None})}), at(0)))
    assert (status.level, status.reason) == (Level.NO_DATA, "no ASA figure yet")


# -- scopes -----------------------------------------------------------------------------------------


def test_queue_threshold_replaces_the_site_default_for_that_queue() -> None:
    """Sales is judged by its own 30 s limit only; support by the site's 60 s limit."""
    ev = evaluator(
        {"id": "wait", "metric": "longest_wait_s", "warn": 60},
        {"id": "wait-sales", "metric": "longest_wait_s", "warn": 30, "scope": "queue:sales"},
    )
    statuses = ev.evaluate(snap({"sales": queue(longest_wait_s=40.0), "support": queue(longest_wait_s=40.0)}), at(0))
    got = {(s.target.name, s.threshold_id): s.level for s in statuses}
    assert got == {("support", "wait"): Level.OK, ("sales", "wait-sales"): Level.WARN}


def test_a_scoped_queue_missing_from_the_snapshot_is_no_data() -> None:
    """A threshold for a queue the snapshot lacks reports no_data rather than nothing."""
    ev = evaluator({"id": "w", "metric": "waiting", "warn": 1, "scope": "queue:billing"})
    status = one(ev.evaluate(snap({"sales": queue()}), at(0)))
    assert (status.target, status.level) == (Target("queue", "billing"), Level.NO_DATA)


def test_agents_short_and_team_agents_available() -> None:
    """Agents short = Erlang C required - logged in; a team scope reads the team's available count."""
    ev = evaluator(
        {"id": "short", "metric": "agents_short", "warn": 1, "alarm": 3},
        {"id": "avail", "metric": "agents_available", "alarm": 2, "scope": "team:care"},
    )
    snapshot = snap({"sales": queue(required_agents=9, agents={"logged_in": 5, "available": 1})})
    snapshot["teams"] = {"care": {"agents": {"available": 1, "on_call": 4}}}
    statuses = {s.threshold_id: s for s in ev.evaluate(snapshot, at(0))}
    assert (statuses["short"].value, statuses["short"].level) == (4.0, Level.ALARM)
    assert statuses["short"].reason == "Agents short 4 > 3"
    assert (statuses["avail"].target, statuses["avail"].level) == (Target("team", "care"), Level.ALARM)


# -- agents -----------------------------------------------------------------------------------------


def agent(
    state: str, seconds: float, reason: str | None = None, team: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"name": "Alice", "team": team, "state": state, "reason": reason, "time_in_state_s": seconds, **extra}


def test_agent_pause_is_filtered_by_reason() -> None:
    """A Lunch limit of 45 min fires for 47 min in Lunch (any case), not for 50 min in Break."""
    ev = evaluator({"id": "lunch", "metric": "agent_pause_s", "reason": "lunch", "warn": 2700})
    statuses = ev.evaluate(
        snap(agents={"alice": agent("paused", 2820, "Lunch"), "bob": agent("paused", 3000, "Break") | {"name": "Bob"}}),
        at(0),
    )
    got = {s.target.name: (s.level, s.value, s.reason) for s in statuses}
    assert got["alice"] == (Level.WARN, 2820.0, "Alice in Lunch for 47 min > 45 min")
    assert got["bob"] == (Level.OK, 0.0, "Bob not in lunch, within limits (warn > 45 min)")


def test_agent_pause_counts_from_the_episode_start_when_the_snapshot_has_it() -> None:
    """Break 10 min then Lunch without unpause: with pause_since the Lunch counts 20 min, not 30."""
    ev = evaluator({"id": "lunch", "metric": "agent_pause_s", "reason": "Lunch", "warn": 1500})
    alice = agent("paused", 1800, "Lunch", pause_since=at(-1200).isoformat())
    status = one(ev.evaluate(snap(agents={"alice": alice}), at(0)))
    assert (status.value, status.level) == (1200.0, Level.OK)


def test_agent_pause_without_reason_counts_any_pause_and_teams_override() -> None:
    """No reason: any pause; a team-scoped threshold replaces the site one for that team's agents."""
    ev = evaluator(
        {"id": "pause", "metric": "agent_pause_s", "warn": 1200},
        {"id": "pause-night", "metric": "agent_pause_s", "warn": 3600, "scope": "team:night"},
    )
    agents = {"alice": agent("paused", 1500, "Break", team="day"), "nina": agent("paused", 1500, "", team="night")}
    statuses = {(s.target.name, s.threshold_id): s.level for s in ev.evaluate(snap(agents=agents), at(0))}
    assert statuses == {("alice", "pause"): Level.WARN, ("nina", "pause-night"): Level.OK}


def test_agent_on_one_call_reads_the_call_start() -> None:
    """Time on the current call is now minus the call's since; no call is 0."""
    ev = evaluator({"id": "call", "metric": "agent_on_call_s", "warn": 1800})
    call = {"call_id": "c1", "queue": "sales", "since": at(-1900).isoformat()}
    agents = {"alice": agent("on_call", 5, call=call), "bob": agent("available", 4000) | {"name": "Bob"}}
    got = {s.target.name: (s.value, s.level) for s in ev.evaluate(snap(agents=agents), at(0))}
    assert got == {"alice": (1900.0, Level.WARN), "bob": (0.0, Level.OK)}


def test_adherence_is_no_data_until_the_snapshot_has_it() -> None:
    """adherence_pct reads agents[id].adherence_pct; absent, the level is no_data with a reason."""
    ev = evaluator({"id": "adh", "metric": "adherence_pct", "warn": 90})
    status = one(ev.evaluate(snap(agents={"alice": agent("available", 10)}), at(0)))
    assert (status.level, status.reason) == (Level.NO_DATA, "no adherence figure (schedules are not loaded)")
    status = one(ev.evaluate(snap(agents={"alice": agent("available", 10, adherence_pct=85.0)}), at(1)))
    assert status.level is Level.WARN


# -- pipeline health --------------------------------------------------------------------------------


def test_data_age_from_the_engine_health_hash() -> None:
    """last_event_ts 125 s ago with warn 60: warn, 'No event for 2 min 05 s > 60 s'."""
    ev = evaluator({"id": "age", "metric": "data_age_s", "warn": 60, "alarm": 300})
    health = {"engine": {"last_event_ts": str(at(-125).timestamp()), "connected": "1"}}
    status = one(ev.evaluate(snap(), at(0), health))
    assert (status.target, status.level, status.value) == (Target("site", "paris"), Level.WARN, 125.0)
    assert status.reason == "No event for 2 min 05 s > 60 s"


def test_data_age_prefers_the_snapshot_then_the_newest_collector() -> None:
    """A snapshot last_event_ts wins; without engine health the newest collector counts; nothing is no_data."""
    ev = evaluator({"id": "age", "metric": "data_age_s", "warn": 60})
    health = {
        "engine": {"last_event_ts": str(at(-500).timestamp())},
        "collector:ami": {"last_event_ts": str(at(-30).timestamp())},
    }
    assert one(ev.evaluate(snap(last_event_ts=at(-10).isoformat()), at(0), health)).value == 10.0
    del health["engine"]
    health["collector:queue_log"] = {"last_event_ts": str(at(-90).timestamp())}
    assert one(ev.evaluate(snap(), at(1), health)).value == 31.0
    assert one(ev.evaluate(snap(), at(2), {})).level is Level.NO_DATA


def test_collector_disconnected() -> None:
    """Each collector:* health hash is a target; connected 0 alarms, 1 clears."""
    ev = evaluator({"id": "conn", "metric": "collector_connected", "alarm": 1, "for_s": 30})
    down = {"collector:ami": {"connected": "0"}, "engine": {"connected": "1"}}
    assert one(ev.evaluate(snap(), at(0), down)).level is Level.OK
    status = one(ev.evaluate(snap(), at(30), down))
    assert (status.target, status.level) == (Target("component", "collector:ami"), Level.ALARM)
    assert status.reason == "Collector ami disconnected for 30 s"
    assert one(ev.evaluate(snap(), at(40), {"collector:ami": {"connected": "1"}})).level is Level.OK


# -- lifecycle, state, output -----------------------------------------------------------------------


def test_a_vanished_firing_target_leaves_as_no_data() -> None:
    """When a firing queue disappears from the snapshot, a change to no_data is recorded and its state dropped."""
    ev = evaluator({"id": "w", "metric": "waiting", "warn": 1})
    ev.evaluate(snap({"sales": queue(waiting=3)}), at(0))
    assert ev.evaluate(snap(), at(10)) == []
    got = [(c.target, c.metric, c.old, c.new) for c in ev.changes]
    assert got == [(Target("queue", "sales"), Metric.WAITING, Level.WARN, Level.NO_DATA)]


def test_set_thresholds_keeps_the_state_of_remaining_ids() -> None:
    """Replacing the thresholds keeps a pending breach of an id still present; a removed firing id leaves."""
    rows = [
        {"id": "wait", "metric": "longest_wait_s", "warn": 60, "for_s": 60},
        {"id": "busy", "metric": "waiting", "warn": 0},
    ]
    ev = evaluator(*rows)
    ev.evaluate(wait_snap(70), at(0))
    ev.set_thresholds(load_thresholds(rows[:1]))
    assert one(ev.evaluate(wait_snap(70), at(60))).level is Level.WARN
    assert {(c.threshold_id, c.new) for c in ev.changes} == {("wait", Level.WARN), ("busy", Level.NO_DATA)}


def test_the_evaluator_pickles_mid_breach_and_resumes() -> None:
    """A pickled evaluator with a pending breach fires at the same time as the original."""
    ev = evaluator({"id": "wait", "metric": "longest_wait_s", "warn": 60, "for_s": 60})
    ev.evaluate(wait_snap(70), at(0))
    restored: Evaluator = pickle.loads(pickle.dumps(ev))
    assert one(restored.evaluate(wait_snap(70), at(59))).level is Level.OK
    assert one(restored.evaluate(wait_snap(70), at(60))).level is Level.WARN
    assert one(ev.evaluate(wait_snap(70), at(60))).level is Level.WARN


def test_statuses_and_changes_are_json_ready() -> None:
    """as_dict() output survives json.dumps with ISO times and plain strings."""
    ev = evaluator({"id": "w", "metric": "waiting", "warn": 1})
    status = one(ev.evaluate(snap({"sales": queue(waiting=2)}), at(0)))
    data = json.loads(json.dumps(status.as_dict()))
    assert data["target"] == {"kind": "queue", "name": "sales"}
    assert (data["level"], data["since"], data["reason"]) == ("warn", at(0).isoformat(), "Calls waiting 2 > 1")
    assert json.loads(json.dumps(ev.changes[0].as_dict()))["new"] == "warn"


def test_real_engine_snapshot() -> None:
    """The engine's snapshot shape feeds the evaluator: longest wait, pause reason, agents short fields."""
    site = SiteConfig(
        site="paris", timezone=TZ, queues={"sales": {}}, agents={"alice": {"name": "Alice", "team": "care"}}
    )
    state = State(site)
    state.apply(AgentLogin(ts=at(0), source="sim", agent="alice", queue="sales"))
    state.apply(AgentPaused(ts=at(0), source="sim", agent="alice", reason="Lunch"))
    state.apply(CallQueued(ts=at(0), source="sim", call_id="c1", queue="sales"))
    state.apply(CallQueued(ts=at(10), source="sim", call_id="c2", queue="sales"))
    state.apply(CallAnswered(ts=at(20), source="sim", call_id="c2", queue="sales", agent="bob", wait_s=10))
    ev = evaluator(
        {"id": "wait", "metric": "longest_wait_s", "warn": 60, "alarm": 120},
        {"id": "lunch", "metric": "agent_pause_s", "reason": "Lunch", "warn": 2700},
        {"id": "waiting", "metric": "waiting", "warn": 0},
    )
    now = at(2820)
    got = {(s.threshold_id, s.target.name): (s.level, s.value) for s in ev.evaluate(state.snapshot(now), now)}
    assert got[("wait", "sales")] == (Level.ALARM, 2820.0)
    assert got[("lunch", "alice")] == (Level.WARN, 2820.0)
    assert got[("waiting", "sales")] == (Level.WARN, 1.0)


# -- property: no change without crossing ----------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Threshold, list[tuple[int, int]]]:
    direction = draw(st.sampled_from(["above", "below"]))
    low, high = sorted(draw(st.lists(st.integers(-10, 10), min_size=2, max_size=2)))
    band = draw(st.integers(0, 4))
    warn, alarm = (low, high) if direction == "above" else (high, low)
    used = draw(st.sampled_from(["both", "warn", "alarm"]))
    first = warn if used != "alarm" else alarm
    clear = first - band if direction == "above" else first + band
    row: dict[str, Any] = {"id": "p", "metric": "agents_short", "direction": direction, "clear": clear}
    row["for_s"] = draw(st.sampled_from([0, 10, 30]))
    if used != "alarm":
        row["warn"] = warn
    if used != "warn":
        row["alarm"] = alarm
    steps = draw(st.lists(st.tuples(st.integers(1, 20), st.integers(-14, 14)), min_size=1, max_size=40))
    return Threshold.model_validate(row), steps


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_level_never_changes_without_crossing_its_boundary(scenario: tuple[Threshold, list[tuple[int, int]]]) -> None:
    """Entering a level needs the value beyond it for for_s; leaving needs it back past the clear point."""
    threshold, steps = scenario
    ev = Evaluator([threshold], TZ)
    bounds = {Level.WARN: threshold.warn, Level.ALARM: threshold.alarm}
    clears = {Level.WARN: threshold.warn_clear, Level.ALARM: threshold.alarm_clear}
    rank = {Level.OK: 0, Level.WARN: 1, Level.ALARM: 2}
    history: list[tuple[int, int]] = []
    level, t = Level.OK, 0
    for dt, value in steps:
        t += dt
        history.append((t, value))
        entry = {"required_agents": value, "agents": {"logged_in": 0}, "interval": {"offered": 0}}
        new = one(ev.evaluate({"queues": {"q": entry}}, at(t))).level
        if rank[new] > rank[level]:
            bound = bounds[new]
            assert bound is not None
            streak = [v for when, v in history if when >= t - threshold.for_s]
            earlier = [when for when, v in history if when <= t - threshold.for_s]
            assert all(threshold.beyond(v, bound) for v in streak)
            assert earlier, "a level was entered before for_s had elapsed"
            start = max(earlier)
            assert all(threshold.beyond(v, bound) for when, v in history if when >= start)
        elif rank[new] < rank[level]:
            clear = clears[level]
            assert clear is not None
            assert not threshold.beyond(value, clear)
        level = new


def test_team_adherence_is_judged_per_team_with_its_own_threshold_winning() -> None:
    """A site-wide team adherence threshold judges every team except one with its own; no figure is no_data."""
    ev = evaluator(
        {"id": "team-adh", "metric": "team_adherence_pct", "warn": 90, "alarm": 80},
        {"id": "care-adh", "metric": "team_adherence_pct", "scope": {"team": "care"}, "warn": 70},
    )
    snapshot = {
        "teams": {
            "care": {"adherence": {"adherence_pct": 75.0}},
            "sales": {"adherence": {"adherence_pct": 85.0}},
            "night": {"adherence": None},
        }
    }
    statuses = ev.evaluate(snapshot, T0)
    by_target = {(s.threshold_id, s.target.name): s for s in statuses}
    assert by_target[("team-adh", "sales")].level.value == "warn"  # 85 < 90, above the 80 alarm
    assert by_target[("care-adh", "care")].level.value == "ok"  # 75 >= its own 70
    assert ("team-adh", "care") not in by_target
    assert by_target[("team-adh", "night")].level.value == "no_data"
    assert "Team sales adherence 85" in by_target[("team-adh", "sales")].reason
