"""The engine's output: the snapshot every reader sees and the whole-input totals, built from its state. Pure.

Theory of operation
-------------------
``wallboard.core.engine.State.snapshot(now)`` rolls its windows up to ``now`` and asks this module for the
parts: :func:`queue_entry` per queue, :func:`agent_entries` for every agent (which also adds each
agent to its queues' and team's state counts), and :func:`totals` for ``wallboard replay --json``.
Nothing here changes the state except the lazy end of an expired wrap-up and the agent's cached ISO
``since`` and last call end. An agent's live figures (missed rings, idle, occupancy) are defined in
``wallboard.core.agents``. Figures are unrounded; the window dicts are ``wallboard.core.metrics.Counters.as_dict``.

The snapshot's schema is :mod:`wallboard.core.schema`: ``State.snapshot(now)`` is a ``StateSnapshot``, the
published one a ``Snapshot`` (every field documented there, the JSON Schema generated from it). The dicts
built here are plain dicts typed as its ``QueueFigures`` and ``Agent``; nothing is validated at run time.

``totals()`` (what ``wallboard replay --json`` prints): per queue the ``total`` window's counts with
sl_threshold_s (int), service_level_pct, asa_s, avg_talk_s, aht_s, max_wait_s (int) and
abandon_rate_pct; per agent answered, talk_s (int), paused_s (up to the last event) and pauses by
reason. Agents are listed only with at least one answered call, pause or ring: in queue_log, members
log in under their interface and do everything else under their member name, so without site-file
aliases a login-only identity would list every agent twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from wallboard.core.agent_state import BUSY_STATES, AgentState
from wallboard.core.channels import DIGITAL_CHANNELS, ChannelView, agent_channels, digital_queue_state, shown_state
from wallboard.core.metrics import required_agents
from wallboard.core.schema import Agent as AgentEntry
from wallboard.core.schema import AgentCall, AgentStateName, AgentTarget, QueueAgents, QueueFigures
from wallboard.core.targets import progress

if TYPE_CHECKING:
    from wallboard.core.agents import Agent
    from wallboard.core.queues import Call, Queue
    from wallboard.core.site import SiteConfig, SlFormula

__all__ = ["STATES", "WAITING_CALLS_SHOWN", "agent_entries", "iso", "queue_entry", "totals"]

WAITING_CALLS_SHOWN = 50
STATES = tuple(state.value for state in AgentState)
_NAME: dict[AgentState, AgentStateName] = {state: state.value for state in AgentState}  # plain str: faster than .value
_TOTAL_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "timed_out",
    "exited_other",
    "unknown",
    "answered_within_sl",
    "wait_unknown",
    "handle_unknown",
)
_NEVER = datetime.min.replace(tzinfo=UTC)


def iso(ts: datetime) -> str:
    """``ts`` in ISO 8601, UTC."""
    return ts.astimezone(UTC).isoformat()


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def queue_entry(
    queue: Queue, now: datetime, agents: dict[str, int], formula: SlFormula, interval_start: datetime
) -> QueueFigures:
    """One queue of the snapshot; ``agents`` is its state counts from :func:`agent_entries`."""
    waiting = queue.waiting.values()
    waits = [_seconds(now, call.enter or now) for call in waiting]
    beyond = sum(1 for wait in waits if wait > queue.threshold)
    shown = heapq.nsmallest(WAITING_CALLS_SHOWN, waiting, key=lambda call: call.enter or now)
    return {
        "name": queue.name,
        "channel": queue.channel,
        "group": queue.group,
        "display_name": queue.display_name,
        "sl_threshold_s": queue.threshold,
        "sl_target_pct": queue.target,
        "waiting": len(waits),
        "longest_wait_s": max(waits, default=0.0),
        "waiting_beyond_sl": beyond,
        "waiting_calls": [
            {
                "call_id": call.call_id,
                "caller": call.caller,
                "caller_name": call.caller_name,
                "position": rank,
                "wait_s": _seconds(now, call.enter or now),
                "repeat": call.repeat,
            }
            for rank, call in enumerate(shown, 1)
        ],
        "agents": cast(QueueAgents, agents),  # the keys of QueueAgents: see State.snapshot
        "required_agents": _required(queue, now, interval_start),
        "interval": queue.interval.as_dict(formula, beyond),
        "day": queue.day.as_dict(formula, beyond),
        "total": queue.total.as_dict(formula, None),
        "previous_interval": None if queue.previous is None else queue.previous.as_dict(formula, None),
    }


def _required(queue: Queue, now: datetime, interval_start: datetime) -> int | None:
    interval = queue.interval
    elapsed = max(60.0, (now - interval_start).total_seconds())
    source = interval if interval.handled > interval.handle_unknown else queue.day
    timed = source.handled - source.handle_unknown
    if not interval.offered or timed <= 0:
        return None
    handle = (source.talk_s + source.hold_s + source.wrap_s) / timed
    return required_agents(interval.offered / elapsed, handle, queue.threshold, queue.target)


def agent_entries(
    agents: dict[str, Agent],
    site: SiteConfig,
    now: datetime,
    counts: dict[str, dict[str, int]],
    teams: dict[str, dict[str, int]],
    team_figures: dict[str, list[int]] | None = None,
    channels: ChannelView | None = None,
) -> dict[str, AgentEntry]:
    """Every agent's snapshot entry; adds each agent to its queues' and team's state counts, and its handled
    calls and escalations today to ``team_figures[team]`` ([handled, escalations]).

    ``channels`` (None: every queue is voice) names the queues of other channels: their agents get a per-channel
    ``channels`` entry, and a member of a chat or email queue counts there by its load on that channel
    (``wallboard.core.channels``).

    The hottest loop of a snapshot (10,000 agents): lookups are hoisted, nothing is called per
    agent that can be avoided. Per-queue states follow ``Presence.queue_state``.
    """
    out: dict[str, AgentEntry] = {}
    configured = site.agents
    wrap_up, paused_state = AgentState.WRAP_UP, AgentState.PAUSED
    targets_of = cache(site.agent_targets)
    for agent_id, agent in agents.items():
        presence = agent.presence
        if presence.state is wrap_up:
            presence.expire(now)
        state = presence.state
        name = _NAME[state]
        busy = state in BUSY_STATES
        memberships = presence.memberships
        paused_queues = []
        loads = agent_channels(agent_id, presence, agent.calls, name, channels) if channels is not None else None
        since = presence.since
        if since is not agent.since:
            agent.since, agent.since_iso = since, iso(since)
        since_iso = agent.since_iso
        if loads is not None:
            shown = shown_state(name, loads)  # a chat-only agent at capacity shows on_call (wallboard.core.channels)
            if shown != name:  # at capacity since its last open contact was taken: that is its time in this state
                since = max((c.answered_at for c in agent.calls.values() if c.answered_at is not None), default=since)
                since_iso = iso(since)
            elif (
                agent.freed_at is not None and agent.freed_at > since and shown == "available" and _digital_only(loads)
            ):
                since = agent.freed_at  # a chat-only agent is available since it was last freed from capacity
                since_iso = iso(since)
            name = shown
            busy = busy or name == "on_call"
        for queue, member in memberships.items():
            row = counts[queue]
            row["logged_in"] += 1
            medium = channels.queues.get(queue) if loads is not None and channels is not None else None
            if medium in DIGITAL_CHANNELS:
                row[digital_queue_state(member.paused, loads, medium)] += 1
                if member.paused:
                    paused_queues.append(queue)
            elif member.paused:
                paused_queues.append(queue)
                row[name if busy else "paused"] += 1
            else:
                row[name if busy else "available"] += 1
        config = configured.get(agent_id)
        team = config.team if config else None
        day = agent.day
        if team:
            team_row = teams.get(team)
            if team_row is None:
                team_row = teams[team] = dict.fromkeys(STATES, 0)
            team_row[name] += 1
            if team_figures is not None:
                sums = team_figures.get(team)
                if sums is None:
                    sums = team_figures[team] = [0, 0]
                sums[0] += day.handled
                sums[1] += day.escalations
        pause_since = presence.pause_since
        paused_s = presence.paused_day_s
        if pause_since is not None and now > pause_since:
            paused_s += (now - pause_since).total_seconds()
        ended = presence.last_call_end
        if ended is not agent.ended:
            agent.ended, agent.ended_iso = ended, None if ended is None else iso(ended)
        interval = presence.interval
        occupancy = presence.occupancy_day(now)
        logged_in_s = presence.logged_in_at(now)
        targets = targets_of(team)
        out[agent_id] = {
            "id": agent_id,
            "name": (config.name if config else None) or agent_id,
            "team": team,
            "state": name,
            "reason": presence.pause_reason if state is paused_state else None,
            "since": since_iso,
            "time_in_state_s": max(0.0, (now - since).total_seconds()),
            "queues": sorted(memberships) if len(memberships) > 1 else list(memberships),
            "paused_queues": sorted(paused_queues) if len(paused_queues) > 1 else paused_queues,
            "call": _call_entry(next(reversed(agent.calls.values())), now) if agent.calls else None,
            "calls_today": day.answered,
            "aht_s": day.aht_s,
            "talk_s": day.talk_s,
            "paused_s": paused_s,
            "handled_today": day.handled,
            "handled_interval": interval.handled,
            "missed_rings_today": day.missed_rings,
            "missed_rings_interval": interval.missed_rings,
            "transfers_today": day.transfers,
            "escalations_today": day.escalations,
            "logged_in_s": logged_in_s,
            "last_call_end": agent.ended_iso,
            "idle_s": presence.idle_at(now),
            "occupancy_pct": occupancy,
            "target": None
            if targets is None
            else cast(
                AgentTarget,
                progress(
                    targets,
                    handled=day.handled,
                    aht_s=day.aht_s,
                    missed_rings=day.missed_rings,
                    occupancy_pct=occupancy,
                    logged_in_s=logged_in_s,
                    scheduled_s=None,
                ),
            ),
        }
        if loads is not None:
            out[agent_id]["channels"] = loads
    return out


def _digital_only(loads: Mapping[str, Any]) -> bool:
    """Whether an agent's channels are all digital (no phone queue nor phone contact)."""
    return all(channel in DIGITAL_CHANNELS for channel in loads)


def _call_entry(call: Call, now: datetime) -> AgentCall:
    return {"call_id": call.call_id, "queue": call.queue, "since": iso(call.answered_at or now)}


def totals(
    queues: dict[str, Queue], agents: dict[str, Agent], formula: SlFormula, last: datetime | None
) -> dict[str, Any]:
    """Whole-input totals (``wallboard replay --json``) up to ``last`` (the last event's time)."""
    out: dict[str, Any] = {}
    for name, queue in queues.items():
        window: Mapping[str, Any] = queue.total.as_dict(formula, None)  # read by key name
        row = {key: window[key] for key in _TOTAL_COUNTS}
        row["sl_threshold_s"] = round(queue.threshold)
        for key in ("service_level_pct", "asa_s", "avg_talk_s", "aht_s"):
            row[key] = window[key]
        row["max_wait_s"] = None if queue.total.max_wait_s is None else round(queue.total.max_wait_s)
        row["abandon_rate_pct"] = window["abandon_rate_pct"]
        out[name] = row
    until = last or _NEVER
    listed: dict[str, Any] = {}
    for agent_id, agent in agents.items():
        presence = agent.presence
        if agent.total.answered or presence.pauses_total or agent.rang:
            listed[agent_id] = {
                "answered": agent.total.answered,
                "talk_s": round(agent.total.talk_s),
                "paused_s": presence.paused_s(until, day=False),
                "pauses": dict(sorted(presence.pauses_total.items())),
            }
    return {"queues": out, "agents": listed}
