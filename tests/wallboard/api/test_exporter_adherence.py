"""The adherence families of the Prometheus collector, from a snapshot the adherence book filled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from wallboard.api.exporter import SiteReading, register, render
from wallboard.core.adherence.schedule import Schedule, Slot
from wallboard.core.adherence.tracker import AdherenceBook, merge_figures
from wallboard.core.site import AgentConfig, SiteConfig, TeamConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SITE = SiteConfig(
    site="paris",
    teams={"care": TeamConfig()},
    agents={"a1": AgentConfig(team="care"), "a2": AgentConfig(team="care"), "a3": AgentConfig()},
)


def filled_snapshot() -> dict[str, Any]:
    """At 09:30: a1 in since 09:00, a2 never logged in, a3 (no team) on an unmapped pause since 09:20."""
    end = T0 + timedelta(hours=1)
    book = AdherenceBook(SITE, Schedule.of([Slot(a, T0, end, "work", T0.date()) for a in ("a1", "a2", "a3")]), 3)
    book.observe({}, T0 - timedelta(minutes=5))
    agents = {
        "a1": {"state": "available", "reason": None, "since": T0.isoformat()},
        "a3": {"state": "available", "reason": None, "since": T0.isoformat()},
    }
    book.observe(agents, T0)
    agents["a3"] = {"state": "paused", "reason": "Smoke", "since": (T0 + timedelta(minutes=20)).isoformat()}
    now = T0 + timedelta(minutes=30)
    book.observe(agents, now)
    snapshot: dict[str, Any] = {"agents": {a: dict(row) for a, row in agents.items()}, "teams": {"care": {}}}
    merge_figures(snapshot, book.figures(now), SITE)
    return snapshot


def registry_of(snapshot: dict[str, Any] | None, *, per_agent: bool = False) -> CollectorRegistry:
    registry = CollectorRegistry()
    register(registry, lambda: [SiteReading("paris", snapshot, {}, T0.timestamp())], per_agent=per_agent)
    return registry


def test_team_and_site_gauges() -> None:
    """Per team and site-wide: adherence, conformance, agents out and scheduled, minutes late."""
    registry = registry_of(filled_snapshot())
    team = {"site": "paris", "team": "care"}
    # care = a1 (30 of 30 min in) + a2 (0 of 30, out since 09:00): 30 / 60
    assert registry.get_sample_value("wallboard_team_adherence_percent", team) == 50.0
    assert registry.get_sample_value("wallboard_team_conformance_percent", team) == 50.0
    assert registry.get_sample_value("wallboard_team_agents_out_of_adherence", team) == 1.0
    assert registry.get_sample_value("wallboard_team_agents_scheduled", team) == 2.0
    assert registry.get_sample_value("wallboard_team_minutes_late", team) == 30.0
    site = {"site": "paris"}
    # plus a3: 20 in + 10 out (unmapped pause beyond the grace) -> (30 + 0 + 20) / 90
    assert registry.get_sample_value("wallboard_site_adherence_percent", site) == 50 / 90 * 100
    assert registry.get_sample_value("wallboard_site_agents_out_of_adherence", site) == 2.0
    assert registry.get_sample_value("wallboard_adherence_unmapped_total", {"site": "paris", "reason": "Smoke"}) == 1.0
    assert registry.get_sample_value("wallboard_agent_adherence_percent", {"site": "paris", "agent": "a1"}) is None


def test_per_agent_series_are_opt_in() -> None:
    """With per-agent series on: each agent's adherence and a 0/1 out-of-adherence gauge."""
    registry = registry_of(filled_snapshot(), per_agent=True)
    assert registry.get_sample_value("wallboard_agent_adherence_percent", {"site": "paris", "agent": "a1"}) == 100.0
    assert registry.get_sample_value("wallboard_agent_out_of_adherence", {"site": "paris", "agent": "a1"}) == 0.0
    assert registry.get_sample_value("wallboard_agent_out_of_adherence", {"site": "paris", "agent": "a2"}) == 1.0


def test_nothing_without_a_schedule_and_the_text_renders() -> None:
    """A snapshot without adherence exports no adherence sample; the text exposition names the families."""
    bare = registry_of({"agents": {}, "teams": {"care": {"agents": {}}}})
    assert bare.get_sample_value("wallboard_site_adherence_percent", {"site": "paris"}) is None
    text = render(registry_of(filled_snapshot())).decode()
    assert 'wallboard_team_adherence_percent{site="paris",team="care"} 50.0' in text
    assert "# TYPE wallboard_adherence_unmapped_total counter" in text
