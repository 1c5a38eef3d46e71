"""The Prometheus collector on a fresh registry: values read back with get_sample_value, and the text renderer."""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixture_paths import PUBLIC
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.parser import text_string_to_metric_families

from collectors.queue_log.parser import QueueLogMapper
from wallboard.api.exporter import SiteReading, WallboardCollector, _Family, register, render
from wallboard.core.engine import State
from wallboard.core.events import event_from_dict
from wallboard.core.site import AgentConfig, SiteConfig

NOW = 1_700_000_100.0  # 2023-11-14T22:15:00Z
SNAPSHOT_TS = "2023-11-14T22:14:58+00:00"  # 2 s before NOW


def window(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(
        ["offered", "answered", "abandoned", "short_abandoned", "timed_out", "exited_other", "unknown"], 0
    )
    base.update(answered_within_sl=0, handled=0, talk_s=0.0, hold_s=0.0, wrap_s=0.0, wait_s_answered=0.0)
    base.update(dict.fromkeys(["service_level_pct", "asa_s", "aht_s", "abandon_rate_pct", "max_wait_s"]))
    base.update(values)
    return base


def queue(name: str, **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "waiting": 0,
        "longest_wait_s": 0.0,
        "waiting_beyond_sl": 0,
        "agents": {"logged_in": 0, "available": 0, "ringing": 0, "on_call": 0, "wrap_up": 0, "paused": 0},
        "required_agents": None,
        "interval": window(),
        "day": window(),
        "total": window(),
    }
    data.update(values)
    return data


def snapshot(**queues: dict[str, Any]) -> dict[str, Any]:
    agents = {
        "a1": {"id": "a1", "state": "on_call", "calls_today": 4},
        "a2": {"id": "a2", "state": "paused", "calls_today": 0},
    }
    return {"site": "paris", "ts": SNAPSHOT_TS, "seq": 42, "queues": queues, "agents": agents}


SUPPORT = queue(
    "support",
    waiting=3,
    longest_wait_s=47.5,
    waiting_beyond_sl=2,
    agents={"logged_in": 6, "available": 1, "ringing": 0, "on_call": 3, "wrap_up": 1, "paused": 1},
    required_agents=5,
    # 10 offered: 8 answered (6 within SL), 2 abandoned (1 short) -> SL = 6 / (10 - 1) = 66.67 %
    interval=window(offered=10, answered=8, answered_within_sl=6, service_level_pct=600 / 9, asa_s=12.0, aht_s=200.0),
    day=window(offered=40, answered=36, service_level_pct=90.0, abandon_rate_pct=2.5),
    total=window(
        offered=120,
        answered=100,
        answered_within_sl=85,
        abandoned=15,
        short_abandoned=4,
        timed_out=3,
        exited_other=1,
        unknown=1,
        talk_s=18_000.5,
        wait_s_answered=1_234.0,
    ),
)

HEALTH: dict[str, dict[str, str]] = {
    "collector:ami": {
        "connected": "1",
        "reconnects": "2",
        "records": "5000",
        "rejected": "7",
        "rejected_by_reason": json.dumps({"bad_field": 4, "unknown_event": 2}),
        "degraded_by_reason": json.dumps({"HoldTime": 3}),
        "last_event_ts": str(NOW - 1.5),
        "updated_ts": str(NOW - 3.0),
    },
    "engine": {"lag": "12", "updated_ts": str(NOW - 0.5), "anomalies": json.dumps({"implausible_wait": 2})},
}


def registry_with(
    readings: list[SiteReading], *, per_agent: bool = False
) -> tuple[CollectorRegistry, WallboardCollector]:
    registry = CollectorRegistry()
    collector = register(registry, lambda: readings, per_agent=per_agent)
    return registry, collector


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_queue_gauges_describe_now() -> None:
    """Waiting calls, longest wait, agents by state, staffed and required agents come from the queue."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)])
    q = {"site": "paris", "queue": "support"}
    assert value(registry, "wallboard_calls_waiting", **q) == 3
    assert value(registry, "wallboard_longest_wait_seconds", **q) == 47.5
    assert value(registry, "wallboard_calls_waiting_beyond_sl", **q) == 2
    assert value(registry, "wallboard_agents", **q, state="on_call") == 3
    assert value(registry, "wallboard_agents", **q, state="paused") == 1
    assert value(registry, "wallboard_agents_staffed", **q) == 6
    assert value(registry, "wallboard_required_agents", **q) == 5


def test_window_gauges_carry_the_window_label() -> None:
    """Service level, ASA, AHT and abandon rate are exported per window (interval, day)."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)])
    q = {"site": "paris", "queue": "support"}
    assert value(registry, "wallboard_service_level_percent", **q, window="interval") == pytest.approx(66.6667, 1e-4)
    assert value(registry, "wallboard_service_level_percent", **q, window="day") == 90.0
    assert value(registry, "wallboard_asa_seconds", **q, window="interval") == 12.0
    assert value(registry, "wallboard_aht_seconds", **q, window="interval") == 200.0
    assert value(registry, "wallboard_abandon_rate_percent", **q, window="day") == 2.5


def test_none_values_yield_no_sample() -> None:
    """A figure the engine reports as None (no calls yet) is absent, not a made-up zero."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT, sales=queue("sales")), {}, NOW)])
    assert value(registry, "wallboard_asa_seconds", site="paris", queue="support", window="day") is None
    assert value(registry, "wallboard_service_level_percent", site="paris", queue="sales", window="interval") is None
    assert value(registry, "wallboard_required_agents", site="paris", queue="sales") is None
    assert value(registry, "wallboard_calls_waiting", site="paris", queue="sales") == 0


def test_counters_come_from_the_total_window() -> None:
    """Every *_total counter is the engine's never-reset total window, so PromQL can take any range."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)])
    q = {"site": "paris", "queue": "support"}
    expected = {
        "wallboard_calls_offered_total": 120,
        "wallboard_calls_answered_total": 100,
        "wallboard_calls_answered_within_sl_total": 85,
        "wallboard_calls_abandoned_total": 15,
        "wallboard_calls_short_abandoned_total": 4,
        "wallboard_calls_timed_out_total": 3,
        "wallboard_calls_exited_other_total": 1,
        "wallboard_calls_unknown_total": 1,
        "wallboard_talk_seconds_total": 18_000.5,
        "wallboard_wait_seconds_answered_total": 1_234.0,
    }
    assert {name: value(registry, name, **q) for name in expected} == expected


def test_escalations_and_repeat_callers_are_counters_of_the_total_window() -> None:
    """escalations and repeat_callers of the total window become wallboard_calls_escalated_total and
    wallboard_calls_repeat_total; the windows' repeat_rate_pct is not a counter (the rules derive it)."""
    total = window(offered=120, answered=100, escalations=7, repeat_callers=18, repeat_rate_pct=15.0, missed_rings=5)
    day = window(offered=40, escalations=2, repeat_callers=6, repeat_rate_pct=15.0)
    support = queue("support", total=total, day=day)
    registry, _ = registry_with([SiteReading("paris", snapshot(support=support), {}, NOW)])
    q = {"site": "paris", "queue": "support"}
    assert value(registry, "wallboard_calls_escalated_total", **q) == 7
    assert value(registry, "wallboard_calls_repeat_total", **q) == 18
    assert value(registry, "wallboard_missed_rings_total", **q) == 5
    text = render(registry).decode()
    assert "# TYPE wallboard_calls_escalated_total counter" in text
    assert "# TYPE wallboard_calls_repeat_total counter" in text
    assert "repeat_rate" not in text


def test_a_snapshot_without_escalations_or_repeat_callers_yields_no_sample() -> None:
    """An older engine's snapshot (no escalations, repeat_callers or missed_rings field): no made-up 0, and the other
    counters are still exported."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)])
    q = {"site": "paris", "queue": "support"}
    for name in ("wallboard_calls_escalated_total", "wallboard_calls_repeat_total", "wallboard_missed_rings_total"):
        assert value(registry, name, **q) is None, name
    assert value(registry, "wallboard_calls_offered_total", **q) == 120


def test_snapshot_seq_and_age() -> None:
    """The snapshot's seq, and its age measured from its ts to the scrape's now."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)])
    assert value(registry, "wallboard_snapshot_seq", site="paris") == 42
    assert value(registry, "wallboard_snapshot_age_seconds", site="paris") == pytest.approx(2.0)


def test_pipeline_health_from_the_health_hashes() -> None:
    """Collector records, rejections by reason (rest as "other"), connection, reconnects, lag and ages."""
    registry, _ = registry_with([SiteReading("paris", None, HEALTH, NOW)])
    ami = {"site": "paris", "component": "collector:ami"}
    assert value(registry, "wallboard_events_ingested_total", **ami) == 5000
    assert value(registry, "wallboard_events_rejected_total", **ami, reason="bad_field") == 4
    assert value(registry, "wallboard_events_rejected_total", **ami, reason="unknown_event") == 2
    assert value(registry, "wallboard_events_rejected_total", **ami, reason="other") == 1  # 7 - 4 - 2
    assert value(registry, "wallboard_events_degraded_total", **ami, reason="HoldTime") == 3
    assert value(registry, "wallboard_engine_anomalies_total", site="paris", kind="implausible_wait") == 2
    assert value(registry, "wallboard_collector_connected", **ami) == 1
    assert value(registry, "wallboard_collector_reconnects_total", **ami) == 2
    assert value(registry, "wallboard_last_event_age_seconds", **ami) == pytest.approx(1.5)
    assert value(registry, "wallboard_health_age_seconds", **ami) == pytest.approx(3.0)
    assert value(registry, "wallboard_stream_lag", site="paris") == 12
    assert value(registry, "wallboard_collector_connected", site="paris", component="engine") is None
    assert value(registry, "wallboard_snapshot_seq", site="paris") is None


def test_unreadable_rejection_reasons_count_as_other(caplog: pytest.LogCaptureFixture) -> None:
    """A rejected_by_reason field that is not JSON is logged, and the rejected total still shows."""
    health = {"collector:queue_log": {"rejected": "3", "rejected_by_reason": "{not json"}}
    registry, _ = registry_with([SiteReading("paris", None, health, NOW)])
    labels = {"site": "paris", "component": "collector:queue_log", "reason": "other"}
    assert value(registry, "wallboard_events_rejected_total", **labels) == 3
    assert "rejected_by_reason" in caplog.text


def test_per_agent_series_are_opt_in() -> None:
    """agent_state and agent_calls_total exist only with per_agent=True."""
    reading = [SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)]
    plain, _ = registry_with(reading)
    assert value(plain, "wallboard_agent_state", site="paris", agent="a1", state="on_call") is None
    detailed, _ = registry_with(reading, per_agent=True)
    assert value(detailed, "wallboard_agent_state", site="paris", agent="a1", state="on_call") == 1
    assert value(detailed, "wallboard_agent_state", site="paris", agent="a2", state="paused") == 1
    assert value(detailed, "wallboard_agent_calls_total", site="paris", agent="a1") == 4


def test_sites_are_labelled_apart() -> None:
    """Two sites in one scrape: the same queue name yields two series told apart by the site label."""
    lyon = {**snapshot(support=queue("support", waiting=7)), "site": "lyon"}
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT)), SiteReading("lyon", lyon)])
    assert value(registry, "wallboard_calls_waiting", site="paris", queue="support") == 3
    assert value(registry, "wallboard_calls_waiting", site="lyon", queue="support") == 7


def test_values_are_read_at_scrape_time() -> None:
    """The collector keeps nothing: a later scrape sees what the reader returns then."""
    current: list[Mapping[str, Any]] = [snapshot(support=SUPPORT)]
    registry = CollectorRegistry()
    register(registry, lambda: [SiteReading("paris", current[0], {}, NOW)])
    assert value(registry, "wallboard_calls_waiting", site="paris", queue="support") == 3
    current[0] = snapshot(support=queue("support", waiting=9))
    assert value(registry, "wallboard_calls_waiting", site="paris", queue="support") == 9


def test_registering_twice_on_one_registry_is_refused() -> None:
    """describe() names the families, so a registry detects a second collector with the same series."""
    registry, _ = registry_with([])
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        register(registry, lambda: [])


def _samples(text: str) -> set[tuple[str, str, str, tuple[tuple[str, str], ...], float]]:
    return {
        (family.name, family.type, sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_render_matches_prometheus_client_output() -> None:
    """render() exposes the same families, types, samples and escaped labels as generate_latest."""
    weird = 'q "quoted" \\ back\nslash'
    queues = {"support": SUPPORT, weird: queue(weird, waiting=1)}
    registry, _ = registry_with([SiteReading("paris", snapshot(**queues), HEALTH, NOW)])
    PromCounter("other_requests", "A standard counter on the same registry.", ["path"], registry=registry).labels(
        "/"
    ).inc()
    ours = render(registry).decode()
    assert _samples(ours) == _samples(generate_latest(registry).decode())
    assert 'queue="q \\"quoted\\" \\\\ back\\nslash"' in ours
    assert "# TYPE wallboard_calls_offered_total counter" in ours


def test_render_before_any_snapshot_has_only_headers() -> None:
    """Without a snapshot or health, a scrape succeeds and carries no wallboard sample."""
    registry, _ = registry_with([SiteReading("paris", None, {}, NOW)])
    assert not [line for line in render(registry).decode().splitlines() if not line.startswith("#")]


def test_a_scrape_creates_few_objects_for_the_garbage_collector() -> None:
    """A 300-queue scrape keeps its samples as shared label tuples and floats, not one tracked object (or more)
    per sample: scrapes must not set off full collections in an API process holding a large snapshot."""
    queues = {f"q{n:03d}": {**SUPPORT, "name": f"q{n:03d}"} for n in range(300)}
    registry, _ = registry_with([SiteReading("paris", snapshot(**queues), HEALTH, NOW)])
    gc.collect()
    before = len(gc.get_objects())
    families = list(registry.collect())
    tracked = len(gc.get_objects()) - before
    samples = sum(len(family.samples) for family in families)
    assert samples > 300 * 20  # 23 per queue here, plus the health families
    assert tracked < samples / 2


def test_samples_are_built_from_the_rows_added_so_far() -> None:
    """The samples view follows add(): values become floats, absent or unreadable ones are skipped, _total names."""
    registry, _ = registry_with([SiteReading("paris", snapshot(support=SUPPORT), {}, NOW)])
    (family,) = [f for f in registry.collect() if f.name == "wallboard_calls_offered"]
    assert isinstance(family, _Family)
    assert [(s.name, s.labels, s.value) for s in family.samples] == [
        ("wallboard_calls_offered_total", {"site": "paris", "queue": "support"}, 120.0)
    ]
    family.add(("paris", "sales"), "7")
    family.add(("paris", "billing"), None)
    family.add(("paris", "billing"), "n/a")
    assert [(s.labels["queue"], s.value) for s in family.samples] == [("support", 120.0), ("sales", 7.0)]


def test_agent_live_figures_are_opt_in() -> None:
    """Handled calls, missed rings and occupancy (as a ratio) per agent only with per_agent=True; no occupancy yet:
    no sample."""
    agents = {
        "a1": {"id": "a1", "state": "available", "handled_today": 5, "missed_rings_today": 2, "occupancy_pct": 62.5},
        "a2": {"id": "a2", "state": "paused", "handled_today": 0, "missed_rings_today": 0, "occupancy_pct": None},
    }
    reading = [SiteReading("paris", {**snapshot(support=SUPPORT), "agents": agents}, {}, NOW)]
    names = ("wallboard_agent_handled_total", "wallboard_agent_missed_rings_total", "wallboard_agent_occupancy_ratio")
    plain, _ = registry_with(reading)
    assert [value(plain, name, site="paris", agent="a1") for name in names] == [None, None, None]
    detailed, _ = registry_with(reading, per_agent=True)
    assert [value(detailed, name, site="paris", agent="a1") for name in names] == [5, 2, 0.625]
    assert [value(detailed, name, site="paris", agent="a2") for name in names] == [0, 0, None]


def test_agent_transfers_and_escalations_are_opt_in_counters_of_the_day() -> None:
    """transfers_today and escalations_today become wallboard_agent_transfers_total and
    wallboard_agent_escalations_total with per_agent=True only; an agent entry without them (older engine): no
    sample. No series carries a caller's number."""
    agents = {
        "a1": {"id": "a1", "state": "on_call", "transfers_today": 3, "escalations_today": 1, "logged_in_s": 3600.0},
        "a2": {"id": "a2", "state": "available", "transfers_today": 0, "escalations_today": 0, "logged_in_s": 60.0},
        "a3": {"id": "a3", "state": "paused"},
    }
    reading = [SiteReading("paris", {**snapshot(support=SUPPORT), "agents": agents}, {}, NOW)]
    names = ("wallboard_agent_transfers_total", "wallboard_agent_escalations_total")
    plain, _ = registry_with(reading)
    assert [value(plain, name, site="paris", agent="a1") for name in names] == [None, None]
    detailed, _ = registry_with(reading, per_agent=True)
    assert [value(detailed, name, site="paris", agent="a1") for name in names] == [3, 1]
    assert [value(detailed, name, site="paris", agent="a2") for name in names] == [0, 0]
    assert [value(detailed, name, site="paris", agent="a3") for name in names] == [None, None]
    text = render(detailed).decode()
    assert "# TYPE wallboard_agent_escalations_total counter" in text
    labels = {name for family in detailed.collect() for sample in family.samples for name in sample.labels}
    assert labels <= {"site", "queue", "window", "state", "team", "reason", "agent", "name", "channel"}


def test_missed_rings_of_a_replayed_capture_per_queue_and_agent() -> None:
    """The asterisk2slack queue_log through the real parser and engine: wallboard_missed_rings_total per queue
    (always) and wallboard_agent_missed_rings_total per member equal the capture's RINGNOANSWER lines."""
    lines = (PUBLIC / "asterisk2slack_queue_log.txt").read_text(encoding="utf-8").splitlines()
    rings = [line.split("|") for line in set(lines) if line.split("|")[4:5] == ["RINGNOANSWER"]]
    mapper, state = QueueLogMapper(), State(SiteConfig(site="slack"))
    events = [event for n, line in enumerate(lines, 1) for event in mapper.feed_line(line, n)] + mapper.finish()
    for event in events:
        state.apply(event)
    data = dict(state.snapshot(max(event.ts for event in events)))
    registry, _ = registry_with([SiteReading("slack", data, {}, NOW)], per_agent=True)
    by_queue, by_agent = Counter(ring[2] for ring in rings), Counter(ring[3] for ring in rings)
    assert sum(by_queue.values()) == 3
    for queue_name in data["queues"]:
        got = value(registry, "wallboard_missed_rings_total", site="slack", queue=queue_name)
        assert got == by_queue.get(queue_name, 0), queue_name
    for agent_id in data["agents"]:
        got = value(registry, "wallboard_agent_missed_rings_total", site="slack", agent=agent_id)
        assert got == by_agent.get(agent_id, 0), agent_id


# -- channels ---------------------------------------------------------------------------------------


def _chat_snapshot() -> dict[str, Any]:
    """An engine snapshot: a voice queue and a chat queue whose agent a1 has two chats open, one first reply."""
    t0 = datetime(2023, 11, 14, 22, 0, tzinfo=UTC)
    state = State(SiteConfig(site="paris", agents={"a1": AgentConfig(capacity={"chat": 3})}))
    rows: list[dict[str, Any]] = [
        {"kind": "agent_login", "agent": "a1", "queue": "webchat"},
        {"kind": "call_queued", "call_id": "v1", "queue": "support"},
        *({"kind": "call_queued", "call_id": c, "queue": "webchat", "channel": "chat"} for c in ("k1", "k2")),
        *({"kind": "call_answered", "call_id": c, "queue": "webchat", "channel": "chat", "agent": "a1", "wait_s": 2}
          for c in ("k1", "k2")),
        {"kind": "contact_responded", "call_id": "k1", "queue": "webchat", "channel": "chat", "response_s": 30},
    ]  # fmt: skip
    for n, row in enumerate(rows):
        state.apply(event_from_dict({"ts": t0 + timedelta(seconds=n), "source": "test", **row}))
    return {**state.snapshot(t0 + timedelta(seconds=60)), "seq": 1}


def test_the_channel_is_one_info_series_per_queue_and_the_figures_keep_their_labels() -> None:
    """wallboard_queue_info{channel} joins the queue figures (which carry no channel label); first response time
    per window and contacts responded come from the windows; per-agent channel loads only when opted in."""
    reading = [SiteReading("paris", _chat_snapshot(), {}, NOW)]
    registry, _ = registry_with(reading)
    assert value(registry, "wallboard_queue_info", site="paris", queue="webchat", channel="chat") == 1
    assert value(registry, "wallboard_queue_info", site="paris", queue="support", channel="voice") == 1
    assert value(registry, "wallboard_queue_info", site="paris", queue="webchat", channel="voice") is None
    assert value(registry, "wallboard_calls_waiting", site="paris", queue="support") == 1
    assert value(registry, "wallboard_first_response_seconds", site="paris", queue="webchat", window="day") == 30
    assert value(registry, "wallboard_first_response_seconds", site="paris", queue="support", window="day") is None
    assert value(registry, "wallboard_contacts_responded_total", site="paris", queue="webchat") == 1
    for family in registry.collect():
        if family.name != "wallboard_queue_info":
            assert all("channel" not in sample.labels for sample in family.samples), family.name
    detailed, _ = registry_with(reading, per_agent=True)
    assert value(detailed, "wallboard_agent_channel_contacts", site="paris", agent="a1", channel="chat") == 2
    assert value(detailed, "wallboard_agent_channel_capacity", site="paris", agent="a1", channel="chat") == 3
    assert value(registry, "wallboard_agent_channel_contacts", site="paris", agent="a1", channel="chat") is None
