"""A queue group of the site file as one combined queue entry, from the snapshot's counters. Pure.

Theory of operation
-------------------
A board may show one tile per queue *group* (``QueueConfig.group``) instead of one per queue.
:func:`group_entry` builds, from one snapshot, an entry shaped like a queue's snapshot entry
(``wallboard.core.snapshots.queue_entry``) so the same tile figures read it. Every figure is recomputed
from summed counters, never averaged from the queues' percentages:

* ``waiting``, ``waiting_beyond_sl`` are sums; ``longest_wait_s`` the maximum;
* each window (``interval``, ``day``) sums the counters (offered, answered, abandoned,
  short_abandoned, answered_within_sl, handled, talk_s, hold_s, wrap_s, wait_s_answered) and
  derives service level, ASA, AHT and abandon rate from the sums exactly as ``wallboard.core.metrics``
  does for one queue. ``answered_within_sl`` of each queue counts against *that queue's* threshold,
  so the group's SL is "calls answered within their own queue's threshold" over the group's
  denominator. The SL denominator follows the site's ``sl_formula``: the snapshot's ``sl_formula``
  when it carries one, else the formula that reproduces every queue window's published SL from its
  counters (:func:`sl_formula`; the site default ``offered_minus_short`` first when several fit);
* ``sl_threshold_s`` / ``sl_target_pct``: the queues' common value, None when they differ (the
  tile's SL label then shows no target);
* ``agents`` by state counts each agent once, however many of the group's queues it is in, from the
  snapshot's ``agents`` (its ``queues`` and ``paused_queues``): busy states (ringing, on call,
  wrap-up) as they are, ``paused`` when paused in every queue of the group it is in, else
  ``available``. A snapshot without agent entries falls back to summing the queues' counts (an agent
  in two of the group's queues is then counted twice);
* ``required_agents`` (Erlang C) is the sum of the queues' needs (None when no queue has one).
  Queues staffed separately need exactly that; agents shared between the group's queues pool the
  traffic and need somewhat fewer, so the sum is the conservative figure.

A board limited to some channels (``channels``) combines only the group's queues of those channels: a queue's
channel is its snapshot entry's ``channel``, ``voice`` when it names none (:func:`queue_channel`).

Channels are never summed together: a group whose queues serve several channels (a care group with phone and
chat queues) is one entry per channel (:func:`group_channels`, ``group_entry(..., channel=)``), since three
chats waiting and two calls waiting are not five of anything. An entry names its ``channel``; one of a digital
channel (chat, email) also sums the first responses (``responded``, ``first_response_s``,
``first_response_unknown`` and their ``avg_first_response_s``) and counts its agents as a digital queue does
(``wallboard.core.channels``): ``paused`` when paused in every queue of the group it is in, ``on_call`` when at
capacity on that channel (the snapshot's ``agents.<id>.channels``), else ``available``, whatever the phone does.

``dash_app/tv_assets/tv.js`` mirrors this module (``groupEntry``); ``tests/dash_app/test_tv.py``
compares the browser's group tile with :func:`dash_app.layout.tile_models`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

__all__ = [
    "CHANNEL_ORDER",
    "COUNTERS",
    "DIGITAL_CHANNELS",
    "FORMULAS",
    "group_agents",
    "group_channels",
    "group_entry",
    "group_queues",
    "group_window",
    "queue_channel",
    "snapshot_groups",
    "sl_formula",
]

FORMULAS = ("offered_minus_short", "offered", "answered")  # the site default first
COUNTERS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_sl",
    "handled",
    "talk_s",
    "hold_s",
    "wrap_s",
    "wait_s_answered",
    "responded",
    "first_response_s",
    "first_response_unknown",
)
WINDOWS = ("interval", "day")
CHANNEL_ORDER = ("voice", "callback", "outbound", "chat", "email")  # a split group's tiles: phone channels first
DIGITAL_CHANNELS = frozenset({"chat", "email"})  # as wallboard.core.channels (agents take several contacts at once)
BUSY = ("ringing", "on_call", "wrap_up")
AGENT_KEYS = ("logged_in", "available", "ringing", "on_call", "wrap_up", "paused")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _count(window: Mapping[str, Any], key: str) -> float:
    return _number(window.get(key)) or 0.0


def _pct(numerator: float, denominator: float) -> float | None:
    """As ``wallboard.core.metrics._pct``: clamped to [0, 100], None when the denominator is <= 0."""
    if denominator <= 0:
        return None
    return min(100.0, max(0.0, 100.0 * numerator / denominator))


def _ratio(total: float, count: float) -> float | None:
    return None if count <= 0 else max(0.0, total / count)


def _denominator(window: Mapping[str, Any], formula: str) -> float:
    if formula == "answered":
        return _count(window, "answered")
    if formula == "offered":
        return _count(window, "offered")
    return _count(window, "offered") - _count(window, "short_abandoned")


def _fits(window: Mapping[str, Any], formula: str) -> bool:
    """Whether ``formula`` gives the window's published SL from its counters."""
    published = _number(window.get("service_level_pct"))
    computed = _pct(_count(window, "answered_within_sl"), _denominator(window, formula))
    if published is None or computed is None:
        return published is None and computed is None
    return abs(computed - published) <= 1e-6 * max(1.0, published)


def sl_formula(snapshot: Mapping[str, Any]) -> str:
    """The site's SL formula: the snapshot's ``sl_formula``, else the first that fits every queue window."""
    given = snapshot.get("sl_formula")
    if given in FORMULAS:
        return str(given)
    windows = [
        queue[name]
        for queue in (snapshot.get("queues") or {}).values()
        if isinstance(queue, Mapping)
        for name in WINDOWS
        if isinstance(queue.get(name), Mapping)
    ]
    return next((f for f in FORMULAS if all(_fits(w, f) for w in windows)), FORMULAS[0])


def group_window(windows: Iterable[Mapping[str, Any]], formula: str) -> dict[str, Any]:
    """The summed counters of ``windows`` and the figures derived from the sums."""
    sums = dict.fromkeys(COUNTERS, 0.0)
    for window in windows:
        for key in COUNTERS:
            sums[key] += _count(window, key)
    short = sums["short_abandoned"]
    return {
        **sums,
        "service_level_pct": _pct(sums["answered_within_sl"], _denominator(sums, formula)),
        "asa_s": _ratio(sums["wait_s_answered"], sums["answered"]),
        "aht_s": _ratio(sums["talk_s"] + sums["hold_s"] + sums["wrap_s"], sums["handled"]),
        "abandon_rate_pct": _pct(sums["abandoned"] - short, sums["offered"] - short),
        "avg_first_response_s": _ratio(sums["first_response_s"], sums["responded"] - sums["first_response_unknown"]),
    }


def snapshot_groups(snapshot: Mapping[str, Any]) -> list[str]:
    """The groups of the snapshot's queues, sorted."""
    queues = (snapshot.get("queues") or {}).values()
    return sorted({str(q["group"]) for q in queues if isinstance(q, Mapping) and q.get("group")})


def queue_channel(queue: Any) -> str:
    """A snapshot queue entry's channel; ``voice`` when it names none (a snapshot from before channels, a queue
    missing from the snapshot), as its tile shows it (no badge)."""
    channel = queue.get("channel") if isinstance(queue, Mapping) else None
    return str(channel) if channel else "voice"


def group_queues(snapshot: Mapping[str, Any], group: str, channels: Collection[str] = ()) -> list[str]:
    """The names of the snapshot's queues in ``group`` (of ``channels``; none: every channel), sorted."""
    queues = snapshot.get("queues") or {}
    return sorted(
        name
        for name, q in queues.items()
        if isinstance(q, Mapping) and q.get("group") == group and (not channels or queue_channel(q) in channels)
    )


def group_channels(snapshot: Mapping[str, Any], group: str, channels: Collection[str] = ()) -> list[str]:
    """The channels of the group's queues (of ``channels``; none: every channel), in ``CHANNEL_ORDER`` (any other
    after them, sorted)."""
    found = {
        queue_channel((snapshot.get("queues") or {}).get(name)) for name in group_queues(snapshot, group, channels)
    }
    return sorted(found, key=lambda c: (CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else len(CHANNEL_ORDER), c))


def _digital_state(agent: Mapping[str, Any], mine: set[str], channel: str) -> str:
    """A member's state in a digital group: paused in every queue of it, else on_call at capacity, else available."""
    if mine <= set(agent.get("paused_queues") or ()):
        return "paused"
    entry = (agent.get("channels") or {}).get(channel)
    if isinstance(entry, Mapping):
        count, cap = _number(entry.get("open")), _number(entry.get("capacity"))
        if count is not None and cap is not None and count >= cap:
            return "on_call"
    return "available"


def group_agents(snapshot: Mapping[str, Any], queues: Iterable[str], channel: str = "voice") -> dict[str, int]:
    """Agents of the group's ``queues`` (all of ``channel``) by state, each agent once (see the module docstring)."""
    members = set(queues)
    out = dict.fromkeys(AGENT_KEYS, 0)
    agents = snapshot.get("agents") or {}
    if not agents:  # no agent entries: the queues' own counts, summed
        for name in members:
            counts = ((snapshot.get("queues") or {}).get(name) or {}).get("agents") or {}
            for key in AGENT_KEYS:
                out[key] += int(_number(counts.get(key)) or 0)
        return out
    for agent in agents.values():
        mine = members.intersection(agent.get("queues") or ())
        if not mine or agent.get("state") == "logged_out":
            continue
        out["logged_in"] += 1
        state = agent.get("state")
        if channel in DIGITAL_CHANNELS:
            out[_digital_state(agent, mine, channel)] += 1
        elif state in BUSY:
            out[str(state)] += 1
        elif mine <= set(agent.get("paused_queues") or ()):
            out["paused"] += 1
        else:
            out["available"] += 1
    return out


def _common(values: Iterable[Any]) -> Any:
    found = set(values)
    return found.pop() if len(found) == 1 else None


def group_entry(
    snapshot: Mapping[str, Any], group: str, channels: Collection[str] = (), channel: str | None = None
) -> dict[str, Any]:
    """``group`` as a queue-shaped entry (see the module docstring) of its queues of ``channel`` (none: its first
    channel of ``channels``, by :func:`group_channels`); its ``queues`` lists them, ``channel`` names it."""
    if channel is None:
        channel = next(iter(group_channels(snapshot, group, channels)), "voice")
    if channels and channel not in channels:
        names: list[str] = []
    else:
        names = group_queues(snapshot, group, (channel,))
    entries = [snapshot["queues"][name] for name in names]
    formula = sl_formula(snapshot)
    needs = [n for n in (_number(q.get("required_agents")) for q in entries) if n is not None]
    waits = [w for w in (_number(q.get("longest_wait_s")) for q in entries) if w is not None]
    entry: dict[str, Any] = {
        "name": group,
        "group": group,
        "channel": channel,
        "queues": names,
        "sl_threshold_s": _common(q.get("sl_threshold_s") for q in entries),
        "sl_target_pct": _common(q.get("sl_target_pct") for q in entries),
        "waiting": sum(int(_number(q.get("waiting")) or 0) for q in entries),
        "longest_wait_s": max(waits, default=None),
        "waiting_beyond_sl": sum(int(_number(q.get("waiting_beyond_sl")) or 0) for q in entries),
        "agents": group_agents(snapshot, names, channel),
        "required_agents": int(sum(needs)) if needs else None,
    }
    for window in WINDOWS:
        entry[window] = group_window((q.get(window) or {} for q in entries), formula)
    return entry
