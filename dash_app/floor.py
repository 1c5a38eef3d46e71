"""What the supervisor page shows around its agent grid: totals by state and team, display names, the alert list and
the sparklines' time axis. Pure.

Theory of operation
-------------------
The page (``dash_app.supervisor``) renders in the browser from the snapshot its websocket holds; this module is the
reference its script (``tv_assets/supervisor.js``) mirrors, as ``dash_app.grid`` is for the rows:

* :func:`state_totals`: the site's agents by state, counted from the snapshot's ``agents`` (every agent not logged
  out is logged in): the strip in the header;
* :func:`team_totals`: one row per team of the snapshot's ``teams`` (its display ``name`` and its ``agents`` by
  state), by display name: the "By team" table;
* :func:`team_label` and :func:`queue_label`: a team's ``name`` and a queue's ``display_name`` (when the snapshot
  carries one), else the id;
* :func:`alert_rows`: the snapshot's open alerts as the list shows them: alarms first (the snapshot's order), the
  level with a non-colour cue (:data:`LEVEL_CUES`), the label else the metric in words (:data:`METRIC_WORDS`), the
  target in words with its display name, the state in words;
  acknowledge, snooze for one of :data:`SNOOZE_MINUTES` and a note are POSTs to ``/api/v1/alerts/{id}/...``
  (``tv_assets/actions.js``, with the session of a user allowed to, :data:`ALERT_ACTIONS`);
* :func:`spark_ticks`: the sparklines' time axis, minutes before now at each tick (``-60 min``, ``-30``, ``now``);
* channels: :func:`site_channels` are the channels of the snapshot's queues (``queues.<q>.channel``, ``voice`` when
  absent), in ``dash_app.grid.CHANNELS``' order: the channel filter offers them when there are two or more; a
  channel picked narrows the agent rows (an agent serving a queue of it, ``channel_ids``), the "Today" table and
  the sparklines (:func:`queue_cards`: each queue's channel and, for chat and email, the current interval's first
  response time, ``avg_first_response_s``, and ``responded``);
* :func:`campaign_rows`: the snapshot's outbound campaigns (``campaigns``, absent at a site without any), by
  display name: the drop rate over the regulator's window against the limit (over it: the cue
  :data:`OVER_LIMIT`, in words, and the alarm colour), and today's attempts, connects and connect rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dash_app.grid import CHANNELS
from dash_app.i18n import N_

__all__ = [
    "ALERT_ACTIONS",
    "LEVEL_CUES",
    "METRIC_WORDS",
    "SNOOZE_MINUTES",
    "TOTALS",
    "OVER_LIMIT",
    "alert_rows",
    "campaign_rows",
    "queue_cards",
    "queue_channel",
    "queue_label",
    "site_channels",
    "spark_ticks",
    "state_totals",
    "team_label",
    "team_totals",
]

# The strip's figures, in order: key and words. "logged_in" is every state but logged_out.
TOTALS: tuple[tuple[str, str], ...] = (
    ("logged_in", N_("Logged in")),
    ("available", N_("Available")),
    ("ringing", N_("Ringing")),
    ("on_call", N_("On call")),
    ("wrap_up", N_("Wrap-up")),
    ("paused", N_("Paused")),
)
LOGGED_OUT = "logged_out"
LEVEL_CUES: dict[str, str] = {"alarm": N_("✖ alarm"), "warn": N_("▲ warn")}
STATE_WORDS: dict[str, str] = {"firing": N_("firing"), "acknowledged": N_("acknowledged"), "snoozed": N_("snoozed")}
METRIC_WORDS: dict[str, str] = {
    "service_level_pct": N_("service level"),
    "longest_wait_s": N_("longest wait"),
    "waiting": N_("calls waiting"),
    "abandon_rate_pct": N_("abandon rate"),
    "agent_pause_s": N_("long break"),
    "agent_on_call_s": N_("long call"),
    "adherence_pct": N_("adherence"),
    "team_adherence_pct": N_("team adherence"),
    "first_response_s": N_("first response"),
    "agent_concurrency_pct": N_("concurrency"),
    "campaign_drop_rate_pct": N_("drop rate"),
}
FIRST_RESPONSE_CHANNELS = ("chat", "email")  # the channels whose queues show the first response time
OVER_LIMIT = N_("✖ over limit")
SNOOZE_MINUTES: tuple[int, ...] = (15, 30, 60)
ALERT_ACTIONS: dict[str, str] = {
    "permission": "ack_alerts",  # GET /api/v1/me lists it: the list offers acknowledge, snooze and note
    "path": "/api/v1/alerts",  # POST {path}/{alert id}/{ack|snooze|note}
}
TICK_EVERY_MIN = 15


def state_totals(snapshot: Mapping[str, Any]) -> dict[str, int]:
    """The site's agents by state (:data:`TOTALS`' keys), from the snapshot's ``agents``."""
    out = dict.fromkeys((key for key, _ in TOTALS), 0)
    for agent in (snapshot.get("agents") or {}).values():
        state = str(agent.get("state") or LOGGED_OUT)
        if state == LOGGED_OUT:
            continue
        out["logged_in"] += 1
        if state in out:
            out[state] += 1
    return out


def team_label(snapshot: Mapping[str, Any], team: str) -> str:
    """A team's display name (the snapshot's ``teams.<id>.name``), else its id."""
    entry = (snapshot.get("teams") or {}).get(team) or {}
    return str(entry.get("name") or team)


def queue_label(snapshot: Mapping[str, Any], queue: str) -> str:
    """A queue's display name (``display_name`` of its snapshot entry, when present), else its id."""
    entry = (snapshot.get("queues") or {}).get(queue) or {}
    return str(entry.get("display_name") or queue)


def team_totals(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per team: ``id``, ``name`` and :data:`TOTALS`' figures of its ``agents`` by state; by name then id."""
    rows = []
    for team, entry in (snapshot.get("teams") or {}).items():
        states: Mapping[str, int] = (entry or {}).get("agents") or {}
        figures = {key: int(states.get(key) or 0) for key, _ in TOTALS if key != "logged_in"}
        logged_in = sum(int(count or 0) for state, count in states.items() if state != LOGGED_OUT)
        rows.append({"id": team, "name": team_label(snapshot, team), "logged_in": logged_in, **figures})
    return sorted(rows, key=lambda row: (row["name"], row["id"]))


def target_label(snapshot: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    """An alert's target in words: ``agent Ana``, ``queue Sales``, ``team Support team``, ``site``."""
    kind, name = str(target.get("kind") or ""), str(target.get("name") or "")
    if kind == "agent":
        agent = (snapshot.get("agents") or {}).get(name) or {}
        return f"agent {agent.get('name') or name}"
    if kind == "queue":
        return f"queue {queue_label(snapshot, name)}"
    if kind == "team":
        return f"team {team_label(snapshot, name)}"
    if kind == "campaign":
        return f"campaign {campaign_label(snapshot, name)}"
    return f"{kind} {name}".strip() if kind != "site" else "site"


def clock(moment: Any, tz: Any = None) -> str:
    """``HH:MM`` of an ISO time on the site's clock (``tz``, the snapshot's; UTC when unknown)."""
    try:
        parsed = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return str(moment)[11:16]
    try:
        zone = ZoneInfo(str(tz)) if tz else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return parsed.astimezone(zone).strftime("%H:%M")


def state_words(alert: Mapping[str, Any], tz: Any = None) -> str:
    """The alert's state in words: ``firing``, ``acknowledged by ops1``, ``snoozed until 10:45`` (site time)."""
    state = str(alert.get("state") or "firing")
    if state == "acknowledged" and alert.get("acknowledged_by"):
        return f"acknowledged by {alert['acknowledged_by']}"
    if state == "snoozed" and alert.get("snoozed_until"):
        return f"snoozed until {clock(alert['snoozed_until'], tz)}"
    return STATE_WORDS.get(state, state)


def metric_words(metric: str) -> str:
    """An alert's metric in words (:data:`METRIC_WORDS`, else the name with spaces)."""
    return METRIC_WORDS.get(metric, metric.replace("_", " "))


def alert_rows(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The open alerts as the list shows them, in the snapshot's order (alarms first, then the oldest)."""
    return [
        {
            "id": str(alert.get("alert_id") or ""),
            "level": str(alert.get("level") or ""),
            "cue": LEVEL_CUES.get(str(alert.get("level")), str(alert.get("level") or "")),
            "title": str(alert.get("label") or metric_words(str(alert.get("metric") or ""))),
            "target": target_label(snapshot, alert.get("target") or {}),
            "reason": str(alert.get("reason") or ""),
            "state": str(alert.get("state") or "firing"),
            "state_words": state_words(alert, snapshot.get("tz")),
            "note": str(alert.get("note") or ""),
            "since": clock(alert["since"], snapshot.get("tz")) if alert.get("since") else "",
        }
        for alert in snapshot.get("alerts") or []
    ]


def spark_ticks(minutes: int, every: int = TICK_EVERY_MIN) -> list[tuple[int, str]]:
    """The time axis of a ``minutes`` wide sparkline: (minutes before now, label), oldest first, ``now`` last."""
    step = every if minutes > every else max(1, minutes)
    ago = list(range(minutes, 0, -step))
    return [(-m, f"-{m} min" if m == minutes else f"-{m}") for m in ago] + [(0, N_("now"))]


def queue_channel(snapshot: Mapping[str, Any], queue: str) -> str:
    """A queue's channel (its snapshot entry's ``channel``), ``voice`` when the snapshot does not say."""
    entry = (snapshot.get("queues") or {}).get(queue) or {}
    return str(entry.get("channel") or "voice")


def site_channels(snapshot: Mapping[str, Any]) -> list[str]:
    """The channels of the snapshot's queues, in ``grid.CHANNELS``' order (an unknown one after, by name)."""
    found = {queue_channel(snapshot, queue) for queue in snapshot.get("queues") or {}}
    return [c for c in CHANNELS if c in found] + sorted(found - set(CHANNELS))


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def queue_cards(snapshot: Mapping[str, Any], channel: str = "") -> list[dict[str, Any]]:
    """Each queue of ``channel`` (``""``: every queue), by id: its display name, channel and, for chat and email,
    the current interval's average first response (seconds, None before the first) and contacts responded."""
    cards = []
    for queue in sorted(snapshot.get("queues") or {}):
        own = queue_channel(snapshot, queue)
        if channel and own != channel:
            continue
        interval = ((snapshot.get("queues") or {}).get(queue) or {}).get("interval") or {}
        digital = own in FIRST_RESPONSE_CHANNELS
        cards.append(
            {
                "id": queue,
                "name": queue_label(snapshot, queue),
                "channel": own,
                "first_response_s": _number(interval.get("avg_first_response_s")) if digital else None,
                "responded": _count(interval.get("responded")) if digital else None,
            }
        )
    return cards


def campaign_label(snapshot: Mapping[str, Any], campaign: str) -> str:
    """A campaign's display name (``campaigns.<c>.display_name``), else its name."""
    entry = (snapshot.get("campaigns") or {}).get(campaign) or {}
    return str(entry.get("display_name") or campaign)


def campaign_rows(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per campaign, by display name then name: the window's drop rate against the limit, whether it is
    over (the snapshot's ``over_limit``, else drop rate > limit), and today's attempts, connects and connect rate.
    A missing or odd figure reads None (shown "—")."""
    rows = []
    for name, entry in (snapshot.get("campaigns") or {}).items():
        entry = entry if isinstance(entry, Mapping) else {}
        found = entry.get("today")
        today: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        drop, limit = _number(entry.get("drop_rate_pct")), _number(entry.get("limit_pct"))
        over = entry.get("over_limit")
        if not isinstance(over, bool):
            over = drop is not None and limit is not None and drop > limit
        rows.append(
            {
                "id": str(name),
                "name": campaign_label(snapshot, str(name)),
                "window_h": _number(entry.get("window_h")),
                "limit_pct": limit,
                "drop_rate_pct": drop,
                "over_limit": over,
                "attempts": _count(today.get("attempts")),
                "connects": _count(today.get("connects")),
                "connect_rate_pct": _number(today.get("connect_rate_pct")),
            }
        )
    return sorted(rows, key=lambda row: (row["name"], row["id"]))
