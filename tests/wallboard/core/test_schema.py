"""Tests for wallboard/core/schema.py: real snapshots (a replayed Asterisk queue_log, a simulated morning with a
schedule and alerts) fit the types and the generated JSON Schema, and a snapshot that breaks them does not."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, get_args

import jsonschema_rs  # a dependency of schemathesis (locked in uv.lock); the validator of the generated schema
import pytest
from fixture_paths import LIGHT
from pydantic import TypeAdapter, ValidationError

from collectors.ami.mapping import AmiMapper
from collectors.ami.protocol import AmiParser
from collectors.queue_log.parser import QueueLogMapper
from collectors.simulator.ami_format import AmiFormatter
from collectors.simulator.config import SchedulePolicy, build_config, site_config
from collectors.simulator.model import Simulation
from collectors.simulator.schedule import schedule_around
from wallboard.core import schema
from wallboard.core.adherence.tracker import AdherenceBook, merge_figures
from wallboard.core.agent_state import AgentState
from wallboard.core.alert_rules import WARN_SEVERITY
from wallboard.core.alerting import AlertBook
from wallboard.core.alerting import AlertState as AlertStates
from wallboard.core.alerts import FIRING
from wallboard.core.engine import State
from wallboard.core.events import AlertAction
from wallboard.core.site import SiteConfig, SlFormula
from wallboard.core.snapshots import STATES
from wallboard.core.thresholds import Metric, Severity, TargetKind
from wallboard.processes.replay import replay

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEP_S = 40
STEPS = 180  # two simulated hours
THRESHOLDS = [
    {"id": "waiting", "metric": "waiting", "warn": 1, "alarm": 3, "label": "Callers waiting"},
    {"id": "adherence", "metric": "adherence_pct", "warn": 99, "alarm": 95},
    {"id": "team-adherence", "metric": "team_adherence_pct", "warn": 99, "severity": "ticket"},
]
STATE_SNAPSHOT = TypeAdapter(schema.StateSnapshot)
SNAPSHOT = TypeAdapter(schema.Snapshot)


@cache
def validator() -> Any:
    return jsonschema_rs.validator_for(schema.snapshot_json_schema(), validate_formats=True)


def problems(snapshot: dict[str, Any]) -> list[str]:
    """Where ``snapshot`` breaks the generated JSON Schema."""
    return [f"{list(error.instance_path)}: {error.message}" for error in validator().iter_errors(snapshot)]


def as_json(value: Any) -> Any:
    """What a reader gets: the value through JSON (the runner publishes exactly this)."""
    return json.loads(json.dumps(value))


def published(figures: schema.StateSnapshot, alerts: list[schema.OpenAlert], seq: int) -> dict[str, Any]:
    """The runner's published body (wallboard.processes.engine: figures, open alerts, seq, stream id)."""
    snapshot: dict[str, Any] = as_json({**figures, "alerts": alerts, "seq": seq, "stream_id": f"{seq}-0"})
    return snapshot


# -- a real Asterisk 22 capture ----------------------------------------------------------------------


def test_every_state_of_a_queue_log_replay_fits_the_types_and_the_schema() -> None:
    """The light queue_log replayed line by line: the snapshot after every event, and at the end of
    ``wallboard replay``, validates strictly against StateSnapshot and, published, against the schema."""
    site = SiteConfig(site="light")
    state, mapper = State(site), QueueLogMapper(site=site.site)
    lines = (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
    snapshots = []
    for lineno, line in enumerate(lines, 1):
        for event in mapper.feed_lines([line], lineno):
            state.apply(event)
            snapshots.append(as_json(state.snapshot(event.ts)))
    result = replay(LIGHT / "queue_log", "queue_log", site)
    snapshots.append(as_json(result.state.snapshot(result.last_ts or START)))
    for seq, snapshot in enumerate(snapshots, 1):
        STATE_SNAPSHOT.validate_json(json.dumps(snapshot), strict=True)
        assert problems(published(snapshot, [], seq)) == []
    assert len(snapshots) > 90 and state.anomalies["internal_error"] == 0
    assert any(q["waiting_calls"] for s in snapshots for q in s["queues"].values())
    assert {a["state"] for s in snapshots for a in s["agents"].values()} >= {"available", "on_call", "paused"}


# -- a simulated morning: schedule, adherence, alerts ------------------------------------------------


@cache
def simulated_morning() -> tuple[dict[str, Any], ...]:
    """Every published snapshot of two simulated hours (12 agents, 2 queues, overloaded, agents following a
    generated schedule with its seeded indiscipline), built as the runner builds them: the State's snapshot,
    the adherence book's figures merged in, the thresholds evaluated, the open alerts added. An operator
    acknowledges (with a note) and snoozes the first alerts."""
    config = build_config(12, 2, seed=5, load_factor=2.5, schedule=SchedulePolicy())
    base = site_config(config, "sim")
    site = SiteConfig.model_validate({**base.model_dump(), "thresholds": THRESHOLDS})
    simulation, formatter = Simulation(config, start=START), AmiFormatter(config, seed=1)
    parser, mapper, state = AmiParser(expect_banner=False), AmiMapper(site=site.site), State(site)
    book = AdherenceBook(site, schedule_around(config, site, START), 1)
    alerts = AlertBook(site.thresholds, site.tz)
    snapshots = []
    for seq in range(1, STEPS + 1):
        now = START + timedelta(seconds=STEP_S * seq)
        for happening in simulation.advance(now):
            for frame in formatter.events(happening):
                parser.receive_data(frame.data)
        for frame in parser.frames_received():
            for event in mapper.feed(frame, now):
                state.apply(event)
        figures = state.snapshot(now)
        book.observe(figures["agents"], now)
        merge_figures(figures, book.figures(now), site)
        alerts.evaluate(figures, now)
        if seq == STEPS // 2:
            first, second = (alert["alert_id"] for alert in alerts.alerts()[:2])
            common: dict[str, Any] = {"ts": now, "site": site.site, "source": "test", "by": "sup"}
            alerts.apply(AlertAction(alert_id=first, action="ack", note="calling them", **common))
            alerts.apply(AlertAction(alert_id=second, action="snooze", until=now + timedelta(hours=1), **common))
        snapshots.append(published(figures, alerts.alerts(), seq))
    assert state.anomalies["internal_error"] == 0 and mapper.rejected == 0
    return tuple(snapshots)


def test_every_snapshot_of_a_simulated_morning_fits_the_schema() -> None:
    """Each published snapshot validates against the generated JSON Schema and strictly against Snapshot."""
    for snapshot in simulated_morning():
        assert problems(snapshot) == [], snapshot["ts"]
        SNAPSHOT.validate_json(json.dumps(snapshot), strict=True)


def test_the_simulated_morning_reaches_every_optional_part() -> None:
    """The snapshots checked above hold what the schema makes optional or nullable: adherence in every status,
    exceptions, alerts with a label, an acknowledgement, a note and a snooze, calls waiting and talking."""
    snapshots = simulated_morning()
    agents = [agent for snapshot in snapshots for agent in snapshot["agents"].values()]
    alerts = [alert for snapshot in snapshots for alert in snapshot["alerts"]]
    assert {agent["state"] for agent in agents} == set(STATES)
    statuses = {agent["adherence"]["status"] for agent in agents if agent.get("adherence")}
    assert statuses == set(get_args(schema.AdherenceStatus))
    assert any(agent["call"] for agent in agents) and any(agent["adherence"]["next"] for agent in agents)
    assert any(snapshot["adherence"]["exceptions"] for snapshot in snapshots)
    assert any(q["waiting_calls"] for s in snapshots for q in s["queues"].values())
    assert any(q["previous_interval"] for s in snapshots for q in s["queues"].values())
    assert {"label", "acknowledged_by", "acknowledged_at", "note", "snoozed_until"} <= {k for a in alerts for k in a}
    assert {alert["level"] for alert in alerts} == {"warn", "alarm"}
    assert {alert["target"]["kind"] for alert in alerts} >= {"queue", "agent", "team"}


# -- what the schema refuses -------------------------------------------------------------------------


def broken(change: Any) -> dict[str, Any]:
    snapshot = copy.deepcopy(simulated_morning()[-1])
    change(snapshot)
    return snapshot


def _first(mapping: dict[str, Any]) -> Any:
    return next(iter(mapping.values()))


BREAKAGES = {
    "no seq": lambda s: s.pop("seq"),
    "no queues": lambda s: s.pop("queues"),
    "a window without offered": lambda s: _first(s["queues"])["interval"].pop("offered"),
    "an agent without state": lambda s: _first(s["agents"]).pop("state"),
    "an alert without since": lambda s: s["alerts"][0].pop("since"),
    "seq as a string": lambda s: s.update(seq="7"),
    "waiting as a float": lambda s: _first(s["queues"]).update(waiting=1.5),
    "an unknown agent state": lambda s: _first(s["agents"]).update(state="lunch"),
    "a null name": lambda s: _first(s["agents"]).update(name=None),
    "time in state as a string": lambda s: _first(s["agents"]).update(time_in_state_s="12"),
    "an undeclared key": lambda s: _first(s["queues"]).update(colour="red"),
    "a resolved alert": lambda s: s["alerts"][0].update(state="resolved"),
    "ts not a date-time": lambda s: s.update(ts="yesterday"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_snapshot_missing_a_key_or_with_a_wrong_value_fails(breakage: str) -> None:
    """The generated schema and the strict type both refuse a snapshot the engine could not have published."""
    snapshot = broken(BREAKAGES[breakage])
    assert problems(snapshot) != []
    if breakage != "ts not a date-time":  # a format is a JSON Schema assertion only (the type says str)
        with pytest.raises(ValidationError):
            SNAPSHOT.validate_json(json.dumps(snapshot), strict=True)


def test_optional_keys_may_be_absent() -> None:
    """Without a schedule there is no adherence anywhere, and an alert carries its optional keys only when set."""
    snapshot = broken(lambda s: s.pop("adherence"))
    for entry in [*snapshot["agents"].values(), *snapshot["teams"].values()]:
        entry.pop("adherence")
        entry.pop("adherence_pct", None)
    for alert in snapshot["alerts"]:
        for key in ("label", "acknowledged_by", "acknowledged_at", "note", "snoozed_until"):
            alert.pop(key, None)
    assert problems(snapshot) == []


# -- the schema itself -------------------------------------------------------------------------------


def test_closed_sets_mirror_the_code_that_writes_them() -> None:
    """Every Literal of the schema is exactly the set of values its producer can write."""
    assert set(get_args(schema.AgentStateName)) == {state.value for state in AgentState} == set(STATES)
    assert set(get_args(schema.MetricName)) == {metric.value for metric in Metric}
    assert set(get_args(schema.SlFormulaName)) == set(get_args(SlFormula))
    assert set(get_args(schema.TargetKind)) == set(get_args(TargetKind))
    assert set(get_args(schema.AlertSeverity)) == {*get_args(Severity), WARN_SEVERITY}
    assert set(get_args(schema.AlertLevel)) == {level.value for level in FIRING}
    assert set(get_args(schema.AlertState)) == {state.value for state in AlertStates} - {"resolved"}
    assert list(schema.QueueAgents.__annotations__) == ["logged_in", *STATES[1:]]  # State.snapshot's counts
    assert list(schema.TeamStates.__annotations__) == list(STATES)


def test_the_generated_schema_documents_every_object() -> None:
    """Draft 2020-12; the snapshot's required keys; every object closed and described."""
    generated = schema.snapshot_json_schema()
    assert generated["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert generated["title"] == "Snapshot"
    assert set(generated["required"]) == {*generated["properties"]} - {"adherence", "pending", "campaigns"}
    for name, definition in {"Snapshot": generated, **generated["$defs"]}.items():
        assert definition["additionalProperties"] is False, name
        assert definition["description"], name
    assert generated["$defs"]["Window"]["properties"]["asa_s"]["description"].endswith("seconds.")


def test_each_call_returns_a_schema_of_its_own() -> None:
    """The schema is generated once per process; callers get copies they may change."""
    first = schema.snapshot_json_schema()
    first["$defs"].clear()
    assert schema.snapshot_json_schema()["$defs"]
