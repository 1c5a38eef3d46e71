"""The campaign families of the Prometheus collector, from a snapshot the engine made of dialer events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from wallboard.api.exporter import SiteReading, register, render
from wallboard.core.engine import State
from wallboard.core.events import DialAttempt, DialResult
from wallboard.core.site import SiteConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def dialled_snapshot() -> dict[str, Any]:
    """renew: 4 attempts; 2 connects (60 s and 90 s of talk), 1 dropped, 1 machine. calm: configured, no call."""
    state = State(SiteConfig(site="paris", campaigns={"renew": {"regulator": "fcc"}, "calm": {}}))
    for n, (result, talk) in enumerate([("answered", 60.0), ("answered", 90.0), ("dropped", None), ("machine", None)]):
        state.apply(DialAttempt(ts=T0, source="dialer", campaign="renew", call_id=str(n)))
        state.apply(DialResult(ts=T0, source="dialer", campaign="renew", call_id=str(n), result=result, talk_s=talk))  # type: ignore[arg-type]
    return dict(state.snapshot(T0 + timedelta(minutes=1)))


def registry_of(snapshot: dict[str, Any]) -> CollectorRegistry:
    registry = CollectorRegistry()
    register(registry, lambda: [SiteReading("paris", snapshot, {}, T0.timestamp())])
    return registry


def test_counters_of_the_total_and_gauges_of_the_window() -> None:
    registry = registry_of(dialled_snapshot())
    renew = {"site": "paris", "campaign": "renew"}
    assert registry.get_sample_value("wallboard_campaign_dial_attempts_total", renew) == 4.0
    results = {r: registry.get_sample_value("wallboard_campaign_dial_results_total", {**renew, "result": r})
               for r in ("answered", "dropped", "machine", "busy", "no_answer")}  # fmt: skip
    assert results == {"answered": 2.0, "dropped": 1.0, "machine": 1.0, "busy": 0.0, "no_answer": 0.0}
    assert registry.get_sample_value("wallboard_campaign_talk_seconds_total", renew) == 150.0
    assert registry.get_sample_value("wallboard_campaign_drop_rate_percent", renew) == 100 / 3
    assert registry.get_sample_value("wallboard_campaign_connect_rate_percent", renew) == 50.0
    assert registry.get_sample_value("wallboard_campaign_drop_limit_percent", renew) == 3.0
    assert registry.get_sample_value("wallboard_campaign_over_limit", renew) == 1.0
    calm = {"site": "paris", "campaign": "calm"}
    assert registry.get_sample_value("wallboard_campaign_drop_rate_percent", calm) is None  # no live answer yet
    assert registry.get_sample_value("wallboard_campaign_over_limit", calm) == 0.0


def test_nothing_without_campaigns_and_the_text_renders() -> None:
    bare = registry_of({"queues": {}, "agents": {}, "teams": {}})
    assert bare.get_sample_value("wallboard_campaign_over_limit", {"site": "paris", "campaign": "renew"}) is None
    text = render(registry_of(dialled_snapshot())).decode()
    assert 'wallboard_campaign_dial_results_total{site="paris",campaign="renew",result="dropped"} 1.0' in text
    assert "# TYPE wallboard_campaign_drop_rate_percent gauge" in text
