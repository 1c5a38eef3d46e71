"""The exporter's issue-8 families (section "grafana"): handle-time counters, team states, pause reasons, per agent."""

from __future__ import annotations

from typing import Any

from prometheus_client.registry import CollectorRegistry

from wallboard.api.exporter import SiteReading, register


def snapshot() -> dict[str, Any]:
    total = {"handled": 4, "talk_s": 400.0, "hold_s": 30.0, "wrap_s": 50.0, "offered": 5}
    agents = {
        "a1": {"name": "Ann", "team": "red", "state": "paused", "reason": "Lunch", "aht_s": 120.0, "paused_s": 90.0},
        "a2": {"name": "Bob", "team": "red", "state": "paused", "reason": "Lunch", "aht_s": None, "paused_s": 10.0},
        "a3": {"name": "Cid", "team": None, "state": "paused", "reason": None, "paused_s": 5.0},
        "a4": {"name": "Dee", "team": "blue", "state": "available", "aht_s": 60.0, "paused_s": 0.0},
    }
    teams = {"red": {"agents": {"paused": 2, "available": 0}}, "blue": {"agents": {"available": 1}}}
    return {"site": "paris", "seq": 1, "queues": {"support": {"total": total}}, "agents": agents, "teams": teams}


def registry(per_agent: bool) -> CollectorRegistry:
    reg = CollectorRegistry()
    register(reg, lambda: [SiteReading("paris", snapshot())], per_agent=per_agent)
    return reg


def test_handle_counters_come_from_the_total_window() -> None:
    """handled 4, hold 30 s and wrap 50 s of the queue's total window are exported as counters."""
    reg = registry(per_agent=False)
    labels = {"site": "paris", "queue": "support"}
    assert reg.get_sample_value("wallboard_calls_handled_total", labels) == 4.0
    assert reg.get_sample_value("wallboard_hold_seconds_total", labels) == 30.0
    assert reg.get_sample_value("wallboard_wrap_seconds_total", labels) == 50.0


def test_team_states_and_paused_agents_by_reason() -> None:
    """Team counts are copied; two red agents on Lunch, one team-less agent paused without a reason."""
    reg = registry(per_agent=False)
    assert reg.get_sample_value("wallboard_team_agents", {"site": "paris", "team": "red", "state": "paused"}) == 2.0
    assert reg.get_sample_value("wallboard_agents_paused", {"site": "paris", "team": "red", "reason": "Lunch"}) == 2.0
    assert reg.get_sample_value("wallboard_agents_paused", {"site": "paris", "team": "", "reason": "none"}) == 1.0
    assert reg.get_sample_value("wallboard_agents_paused", {"site": "paris", "team": "blue", "reason": "none"}) is None


def test_per_agent_series_are_opt_in() -> None:
    """Without per-agent series there is no agent_info; with them, name/team info, AHT (when known), pause time."""
    info = {"site": "paris", "agent": "a1", "name": "Ann", "team": "red"}
    assert registry(per_agent=False).get_sample_value("wallboard_agent_info", info) is None
    reg = registry(per_agent=True)
    assert reg.get_sample_value("wallboard_agent_info", info) == 1.0
    assert reg.get_sample_value("wallboard_agent_aht_seconds", {"site": "paris", "agent": "a1"}) == 120.0
    assert reg.get_sample_value("wallboard_agent_aht_seconds", {"site": "paris", "agent": "a2"}) is None
    assert reg.get_sample_value("wallboard_agent_paused_seconds", {"site": "paris", "agent": "a2"}) == 10.0
