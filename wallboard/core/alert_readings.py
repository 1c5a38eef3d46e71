"""What each threshold's metric reads from a snapshot: one ``Reading`` per target (a queue, an agent, a team, a
campaign, the site, a collector), with the traffic that gates it and the words its reasons use.

Apart from the evaluator (``wallboard.core.alerts``: the state machine and the reasons) because it is the
snapshot-facing half: when the snapshot's schema (``wallboard.core.schema``) moves a figure, only this module
changes. What is read where is described in ``wallboard.core.alerts``' docstring ("Targets and values").

``Target`` is re-exported by ``wallboard.core.alerts`` and pickled in checkpoints (an evaluator's pending
statuses): its ``__module__`` stays ``wallboard.core.alerts`` (``PICKLED_MODULE``) so a checkpoint names it as it
always has, before and after this split.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wallboard.core.thresholds import Metric, Threshold

# where checkpoints look ``Target`` up; interned: the very string of that module's name, as pickle memoizes by
# identity (a checkpoint written after this split is then byte-identical to one written before it)
PICKLED_MODULE = sys.intern("wallboard.core.alerts")


@dataclass(frozen=True, slots=True)
class Target:
    """What a status is about: ``kind`` is queue, agent, team, site or component."""

    __module__ = PICKLED_MODULE

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class Reading:
    """One target's value for one threshold, with the traffic that gates it and words for reasons."""

    target: Target
    value: float | None
    offered: int | None = None  # offered calls in the metric's window (queue metrics)
    subject: str = ""  # agent display name, collector name
    detail: str | None = None  # the agent's pause reason


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 string or a number (str or bytes from a Redis hash)."""
    if isinstance(value, str) and ("T" in value or "-" in value[1:]):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return _number(value)


def _window(field: str, window: str = "interval") -> Callable[[Mapping[str, Any]], float | None]:
    return lambda queue: _number((queue.get(window) or {}).get(field))


def _short(queue: Mapping[str, Any]) -> float | None:
    required = _number(queue.get("required_agents"))
    staffed = _number((queue.get("agents") or {}).get("logged_in"))
    return None if required is None or staffed is None else required - staffed


_QUEUE_VALUE: dict[Metric, Callable[[Mapping[str, Any]], float | None]] = {
    Metric.WAITING: lambda queue: _number(queue.get("waiting")),
    Metric.LONGEST_WAIT_S: lambda queue: _number(queue.get("longest_wait_s")),
    Metric.SERVICE_LEVEL_PCT: _window("service_level_pct"),
    Metric.SERVICE_LEVEL_DAY_PCT: _window("service_level_pct", "day"),
    Metric.ABANDON_RATE_PCT: _window("abandon_rate_pct"),
    Metric.ASA_S: _window("asa_s"),
    Metric.AHT_S: _window("aht_s"),
    Metric.FIRST_RESPONSE_S: _window("avg_first_response_s"),
    Metric.AGENTS_AVAILABLE: lambda queue: _number((queue.get("agents") or {}).get("available")),
    Metric.AGENTS_SHORT: _short,
}


def readings(
    threshold: Threshold, skip: frozenset[str], snapshot: Mapping[str, Any], health: Mapping[str, Any], now: datetime
) -> Iterator[Reading]:
    """One reading per target of ``threshold`` in ``snapshot`` (``skip``: the site default's overridden names)."""
    target = threshold.spec.target
    if threshold.metric is Metric.AGENTS_AVAILABLE and threshold.scope.kind == "team":
        yield _team_reading(threshold, snapshot)
    elif target == "team":
        yield from _team_adherence_readings(threshold, skip, snapshot)
    elif target == "queue":
        yield from _queue_readings(threshold, skip, snapshot)
    elif target == "agent":
        yield from _agent_readings(threshold, skip, snapshot, now)
    elif target == "campaign":
        yield from _campaign_readings(threshold, skip, snapshot)
    elif threshold.metric is Metric.DATA_AGE_S:
        last = _last_event(snapshot, health)
        age = None if last is None else max(0.0, now.timestamp() - last)
        yield Reading(Target("site", str(snapshot.get("site") or "site")), age)
    else:
        for component, fields in sorted(health.items()):
            if str(component).startswith("collector:"):
                connected = _number(fields.get("connected")) if isinstance(fields, Mapping) else None
                yield Reading(
                    Target("component", str(component)), connected, subject=str(component).removeprefix("collector:")
                )


def _campaign_readings(threshold: Threshold, skip: frozenset[str], snapshot: Mapping[str, Any]) -> Iterator[Reading]:
    """Each campaign's drop rate over its regulator's window (no figure: no live answer in the window)."""
    campaigns: Mapping[str, Any] = snapshot.get("campaigns") or {}
    names = [threshold.scope.name] if threshold.scope.name is not None else [n for n in campaigns if n not in skip]
    for name in names:
        campaign = campaigns.get(name) or {}
        subject = str(campaign.get("display_name") or name)
        yield Reading(Target("campaign", name), _number(campaign.get("drop_rate_pct")), subject=subject)


def _team_reading(threshold: Threshold, snapshot: Mapping[str, Any]) -> Reading:
    name = threshold.scope.name or ""
    team = (snapshot.get("teams") or {}).get(name) or {}
    return Reading(Target("team", name), _number((team.get("agents") or {}).get("available")))


def _team_adherence_readings(
    threshold: Threshold, skip: frozenset[str], snapshot: Mapping[str, Any]
) -> Iterator[Reading]:
    """Each team's adherence % of the day so far (no figure: the team has nobody scheduled today)."""
    teams: Mapping[str, Any] = snapshot.get("teams") or {}
    names = [threshold.scope.name] if threshold.scope.name is not None else [n for n in teams if n not in skip]
    for name in names:
        figures = (teams.get(name) or {}).get("adherence") or {}
        yield Reading(Target("team", name), _number(figures.get("adherence_pct")), subject=name)


def _queue_readings(threshold: Threshold, skip: frozenset[str], snapshot: Mapping[str, Any]) -> Iterator[Reading]:
    queues: Mapping[str, Any] = snapshot.get("queues") or {}
    names = [threshold.scope.name] if threshold.scope.name is not None else [n for n in queues if n not in skip]
    value_of, window = _QUEUE_VALUE[threshold.metric], threshold.spec.window or "interval"
    channel = threshold.channel
    for name in names:
        queue = queues.get(name)
        if queue is None:
            yield Reading(Target("queue", name), None)
            continue
        if channel is not None and queue.get("channel", "voice") != channel:
            continue
        offered = _number((queue.get(window) or {}).get("offered"))
        yield Reading(Target("queue", name), value_of(queue), int(offered or 0))


def _agent_readings(
    threshold: Threshold, skip: frozenset[str], snapshot: Mapping[str, Any], now: datetime
) -> Iterator[Reading]:
    team_only = threshold.scope.name if threshold.scope.kind == "team" else None
    wanted = threshold.reason.casefold() if threshold.reason else None
    for agent_id, agent in (snapshot.get("agents") or {}).items():
        team = agent.get("team")
        if (team_only is not None and team != team_only) or (team_only is None and team in skip):
            continue
        if threshold.channel is not None and threshold.channel not in (agent.get("channels") or _VOICE_ONLY):
            continue
        name = str(agent.get("name") or agent_id)
        target = Target("agent", str(agent_id))
        if threshold.metric is Metric.AGENT_PAUSE_S:
            reason = agent.get("reason")
            paused = agent.get("state") == "paused" and (wanted is None or str(reason or "").casefold() == wanted)
            value = _pause_s(agent, now) if paused else 0.0
            yield Reading(target, value, subject=name, detail=str(reason) if paused and reason else None)
        elif threshold.metric is Metric.AGENT_ON_CALL_S:
            yield Reading(target, _on_call_s(agent, now), subject=name)
        elif threshold.metric is Metric.AGENT_CONCURRENCY_PCT:
            yield Reading(target, _concurrency_pct(agent, threshold.channel), subject=name)
        elif threshold.metric in AGENT_FIGURE:
            yield Reading(target, AGENT_FIGURE[threshold.metric](agent), subject=name)
        else:  # adherence: merged into the snapshot by the runner; detail says why there is none
            unscheduled = "adherence" in snapshot and agent.get("adherence") is None
            detail = "not scheduled today" if unscheduled else None
            yield Reading(target, _number(agent.get("adherence_pct")), subject=name, detail=detail)


def _calls_target_pct(agent: Mapping[str, Any]) -> float | None:
    """Calls handled today / the calls expected so far by the agent's target (None: no target, nothing expected)."""
    target = agent.get("target")
    return _number(target.get("calls_pct")) if isinstance(target, Mapping) else None


_VOICE_ONLY = {"voice": None}  # the channels of an agent without a ``channels`` entry


def _concurrency_pct(agent: Mapping[str, Any], channel: str | None) -> float | None:
    """Open contacts / capacity on ``channel`` (None: the agent's busiest channel); None: no channel entry."""
    loads = agent.get("channels")
    if not isinstance(loads, Mapping):
        return None
    figures = [_number(load.get("concurrency_pct")) for key, load in loads.items() if channel in (None, key)]
    known = [figure for figure in figures if figure is not None]
    return max(known) if known else None


# Agent metrics read from one figure of the agent's snapshot entry (None: no figure, e.g. no call yet).
AGENT_FIGURE: dict[Metric, Callable[[Mapping[str, Any]], float | None]] = {
    Metric.AGENT_CALLS_TARGET_PCT: _calls_target_pct,
    Metric.AGENT_MISSED_RINGS: lambda agent: _number(agent.get("missed_rings_today")),
    Metric.AGENT_AHT_S: lambda agent: _number(agent.get("aht_s")),
    Metric.AGENT_OCCUPANCY_PCT: lambda agent: _number(agent.get("occupancy_pct")),
}


def _pause_s(agent: Mapping[str, Any], now: datetime) -> float:
    """Time in the current pause episode: ``pause_since`` when the snapshot has it, else time in the paused state.

    The engine's paused state survives a change of reason without an unpause (Break -> Lunch), so
    ``time_in_state_s`` counts from the Break; ``pause_since`` (the episode start) is exact.
    """
    started = _epoch(agent.get("pause_since"))
    if started is not None:
        return max(0.0, now.timestamp() - started)
    return _number(agent.get("time_in_state_s")) or 0.0


def _on_call_s(agent: Mapping[str, Any], now: datetime) -> float:
    call = agent.get("call")
    started = _epoch(call.get("since")) if isinstance(call, Mapping) else None
    if started is not None:
        return max(0.0, now.timestamp() - started)
    if agent.get("state") == "on_call":
        return _number(agent.get("time_in_state_s")) or 0.0
    return 0.0


def _last_event(snapshot: Mapping[str, Any], health: Mapping[str, Any]) -> float | None:
    """Epoch of the last event: the snapshot's, else the engine's health, else the newest collector's."""
    own = _epoch(snapshot.get("last_event_ts"))
    if own is not None:
        return own
    engine = health.get("engine")
    if isinstance(engine, Mapping) and _epoch(engine.get("last_event_ts")) is not None:
        return _epoch(engine.get("last_event_ts"))
    stamps = [
        _epoch(fields.get("last_event_ts"))
        for component, fields in health.items()
        if str(component).startswith("collector:") and isinstance(fields, Mapping)
    ]
    return max((stamp for stamp in stamps if stamp is not None), default=None)
