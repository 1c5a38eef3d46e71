"""Tests for wallboard/core/snapshots.py: the snapshot and totals built from the engine's state."""

from __future__ import annotations

import json
from typing import Any

from engine_events import answered, at, ended, ev, login, outcomes, queued, run_on

from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig
from wallboard.core.snapshots import WAITING_CALLS_SHOWN

SITE = SiteConfig(
    site="test",
    short_abandon_s=5,
    queues={
        "support": QueueConfig(sl_threshold_s=20, wrapup_s=5),
        "sales": QueueConfig(sl_threshold_s=30),
        "billing": QueueConfig(sl_threshold_s=20, sl_target_pct=80),
    },
)


def run(*events: Event, site: SiteConfig = SITE) -> State:
    return run_on(site, *events)


def test_required_agents_from_the_interval() -> None:
    """10 calls in the first 600 s (1/60 per s), AHT 120 s: A = 2 erlangs, 80/20 needs 4 agents."""
    events = []
    for i in range(10):
        events += [queued(60 * i, f"c{i}", "billing"), answered(60 * i, f"c{i}", "a1", 0, "billing")]
    events += [ended(60 * i + 120, f"c{i}", "a1", 120, "billing") for i in range(3)]
    queue = run(*events).snapshot(at(600))["queues"]["billing"]
    assert queue["required_agents"] == 4
    assert run().snapshot(at(600))["queues"]["billing"]["required_agents"] is None


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return type(value) in (str, int, float, bool, type(None))


def test_snapshot_is_plain_json() -> None:
    """Only str/int/float/bool/None/list/dict, and a JSON round trip gives it back unchanged."""
    state = run(*outcomes(), login(0, "a1"), ev("agent_paused", 1, agent="a1", reason="Break"))
    snapshot = state.snapshot(at(100))
    assert _plain(snapshot)
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["counters"]["events_applied"] == 12
    assert set(snapshot["queues"]["support"]["interval"]) >= {"offered", "service_level_live_pct", "aht_s"}


def test_waiting_calls_are_listed_oldest_first_and_bounded() -> None:
    """At most WAITING_CALLS_SHOWN waiting calls are listed, oldest first, ranked from 1; all are counted."""
    count = WAITING_CALLS_SHOWN + 5
    state = run(*(queued(count - i, f"c{i}") for i in range(count)))  # c0 entered last
    queue = state.snapshot(at(100))["queues"]["support"]
    listed = queue["waiting_calls"]
    assert queue["waiting"] == count and len(listed) == WAITING_CALLS_SHOWN
    assert [call["call_id"] for call in listed[:2]] == [f"c{count - 1}", f"c{count - 2}"]
    assert [call["position"] for call in listed[:2]] == [1, 2]
    assert listed[0]["wait_s"] == 100 - 1 and queue["longest_wait_s"] == 100 - 1


def test_team_and_queue_state_counts() -> None:
    """A configured agent counts in its team; each membership counts in its queue by the queue's pause flag."""
    site = SITE.model_copy(update={"teams": {"care": TeamConfig()}, "agents": {"a1": AgentConfig(team="care")}})
    state = run(
        login(0, "a1", "support"),
        login(0, "a1", "sales"),
        ev("agent_paused", 5, agent="a1", queue="sales", reason="Break"),
        site=site,
    )
    snapshot = state.snapshot(at(10))
    assert snapshot["teams"]["care"]["agents"]["available"] == 1
    assert snapshot["queues"]["support"]["agents"]["available"] == 1
    assert snapshot["queues"]["sales"]["agents"]["paused"] == 1
    assert snapshot["agents"]["a1"]["paused_queues"] == ["sales"]


def test_totals_list_agents_with_calls_pauses_or_rings_only() -> None:
    """An agent who only logged in is not listed in totals; one with an answered call is, rounded."""
    state = run(*outcomes(), login(0, "idle"), ended(70, "c1", "a1", 59.6))
    totals = state.totals()
    assert set(totals["agents"]) == {"a1", "a2"}
    assert totals["agents"]["a1"] == {"answered": 1, "talk_s": 60, "paused_s": 0.0, "pauses": {}}
    support = totals["queues"]["support"]
    assert (support["offered"], support["answered"], support["max_wait_s"], support["sl_threshold_s"]) == (5, 2, 60, 20)
