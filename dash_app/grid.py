"""The supervisor's agent grid and queue detail as data: column definitions and rows from a snapshot. Pure.

Theory of operation
-------------------
The supervisor page (``dash_app.supervisor``) builds its rows in the browser from every snapshot
the websocket delivers, so it needs no server round trip per change. This module is the reference
for what those rows hold, and the page's script mirrors :func:`agent_row` field for field (the
browser test compares the grid with ``/api/v1/agents``). Everything the browser needs that is not
the snapshot itself comes from here: the ag-grid column definitions (:data:`COLUMN_DEFS`), the row
class rules (:data:`ROW_CLASS_RULES`) and which alert metric highlights a row
(:data:`HIGHLIGHT_METRICS`).

Rows (:func:`listed`: one per logged-in agent, state other than ``logged_out``, and per logged-out
agent who should be working, adherence status ``out`` or ``grace``: a late login or an early
logout is exactly an agent the supervisor must see)::

    {"id", "name", "team" (the team's display name, snapshot ``teams.<id>.name``, else the id), "team_id",
     "state", "reason", "since" (iso, the base the browser ticks time in state from), "time_in_state_s" (at the
     snapshot's ts), "queues" ("a, b": by id, each its ``display_name`` else the id, joined), "queue_ids" (sorted),
     "calls_today", "aht_s", "highlight",
     "handled_today", "missed_rings_today", "idle_s" (at the snapshot's ts), "last_call_end" (iso),
     "occupancy_pct",
     "channels" (chips, below), "channel_ids" (the channels of the agent's queues, sorted: the channel filter),
     "scheduled", "adherence", "adherence_status", "out_since", "exception"}   (below)

Channels (the agent's ``channels`` entry, present for an agent with a chat, email, callback or outbound queue or
contact, ``wallboard.core.channels``): :func:`channel_chips` lists every channel but voice (the phone state is the
voice channel) in :data:`CHANNELS`' order, ``{"channel", "open", "capacity", "state"}``; the "Channels" column shows
each as a chip, "Chat 2/3" after the state's cue (:data:`CHANNEL_CUES`: ○ can take more, ● at capacity, ‖ paused,
– logged out) and coloured by it. An odd count reads None (shown "?"), an unknown state ``""``: the chip stays.
An agent's ``channel_ids`` are its queues' ``channel`` (``voice`` when the snapshot does not say).

Idle (the time displayed available since the last call's end) ticks in the browser while the agent is
available: it grows with time in state, so the column shows ``idle_s - time_in_state_s`` plus the time
elapsed since ``since`` (:data:`IDLE_GETTER`), and the value as given otherwise.

Adherence (the agent's ``adherence`` entry, None when it has no slot today, see
``wallboard.core.adherence``): ``scheduled`` is the scheduled activity now (``""`` when none);
``adherence_status`` the raw status (in, grace, out, unscheduled) for the cell's colour and
``adherence`` the same with a non-colour cue (:data:`ADHERENCE_CUES`: ``"✖ out"``); ``out_since``
(iso or None) the base the browser ticks "out for" from, like time in state; ``exception`` the
exception in words (:func:`exception_words`: ``"late login"``, ``"unmapped reason: Smoke"``).

``highlight`` names the worst open alert on the agent whose metric is a long break
(``agent_pause_s``), a long call (``agent_on_call_s``) or adherence (``adherence_pct``):
``"long-break-warn"``, ``"long-call-alarm"``, ``"adherence-warn"``... or ``""``. An alarm wins over a warn.

Targets and escalations (the agent's ``target``, ``escalations_today`` and ``logged_in_s``, absent from older
snapshots): :func:`agent_figures` is the reference for what the "Target" and "Esc." columns and the cues of the
AHT, missed rings and occupancy cells show. The page's rows do not carry them: those columns read the agent of the
snapshot the page holds, by row id (``wbFigures`` in ``tv_assets/grid_figures.js``, which mirrors
:func:`agent_figures`). The target reads ``handled/expected pct`` with a non-colour cue (:data:`TARGET_CUES`:
▲ met, ● near, ▼ behind) and the TV's level classes (``lvl-ok``, ``lvl-warn``, ``lvl-alarm``,
:data:`TARGET_LEVELS`); AHT over its target, missed rings over their limit and occupancy outside its band get
the cue of :data:`FIGURE_CUES` (▲ over or high, ▼ low) and ``lvl-warn``.

Languages: the headers, tooltips and words here are English, marked ``N_`` (``dash_app.i18n``); the browser shows
them translated (the headers through :data:`HEADER_GETTER`, the state through :data:`STATE_NAMES` and
``wbStateWords``, the adherence and exception words through the columns' formatters), while the rows keep these
English words and raw values, so :func:`agent_rows` stays the reference of the page's rows.

Queue detail rows (:func:`waiting_rows`): the queue's waiting callers, oldest first, with their
position, caller, wait at the snapshot's ts and ``entered`` (iso: ts minus wait), the base the
browser ticks the wait from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dash_app.i18n import N_

__all__ = [
    "ADHERENCE_CUES",
    "COLUMN_DEFS",
    "FIGURE_CUES",
    "TARGET_CUES",
    "TARGET_LEVELS",
    "EXCEPTION_WORDS",
    "HEADER_GETTER",
    "HIGHLIGHT_METRICS",
    "IDLE_GETTER",
    "LEVELS",
    "PHONE_COLUMNS",
    "ROW_CLASS_RULES",
    "STATE_NAMES",
    "agent_figures",
    "agent_highlights",
    "agent_row",
    "agent_rows",
    "channel_chips",
    "CHANNELS",
    "CHANNEL_CUES",
    "CHANNEL_STATES",
    "CHANNEL_WORDS",
    "target_fields",
    "translated_headers",
    "exception_words",
    "listed",
    "queue_names",
    "waiting_rows",
]

HIGHLIGHT_METRICS: dict[str, str] = {
    "agent_pause_s": "long-break",
    "agent_on_call_s": "long-call",
    "adherence_pct": "adherence",
}
ADHERENCE_CUES: dict[str, str] = {
    "in": N_("✔ in"),
    "grace": N_("◔ grace"),
    "out": N_("✖ out"),
    "unscheduled": N_("– unscheduled"),
}
EXCEPTION_WORDS: dict[str, str] = {
    "late_login": N_("late login"),
    "early_logout": N_("early logout"),
    "wrong_activity": N_("wrong activity"),
    "unmapped_reason": N_("unmapped reason"),
}
UNMAPPED_PREFIX = "unmapped:"  # wallboard.core.adherence.policy.UNMAPPED_PREFIX
LEVELS = ("warn", "alarm")  # worst last
TARGET_CUES: dict[str, str] = {"met": "▲", "near": "●", "behind": "▼"}
TARGET_LEVELS: dict[str, str] = {"met": "ok", "near": "warn", "behind": "alarm"}  # the TV's lvl-* classes
FIGURE_CUES: dict[str, str] = {"over": "▲", "high": "▲", "low": "▼"}  # a figure outside its target: lvl-warn
FIGURES = ("aht", "missed_rings", "occupancy")  # the target's statuses that cue their cells
BASIS_WORDS: dict[str, str] = {"logged_in": "logged in", "scheduled": "scheduled"}
LOGGED_OUT = "logged_out"
# The agent states in words, as the grid's state column, the state filter and the totals show them (translated in
# the browser, wbStateWords); the rows and the filters keep the raw state.
STATE_NAMES: dict[str, str] = {
    "logged_out": N_("Logged out"),
    "available": N_("Available"),
    "ringing": N_("Ringing"),
    "on_call": N_("On call"),
    "wrap_up": N_("Wrap-up"),
    "paused": N_("Paused"),
}

# The channels in the order the page lists them (wallboard.core.events.CHANNELS; tests/dash_app/test_grid.py keeps them
# equal), their words, and the chips' cues per channel state (schema.AgentChannel.state) with their words.
CHANNELS: tuple[str, ...] = ("voice", "chat", "email", "callback", "outbound")
CHANNEL_WORDS: dict[str, str] = {
    "voice": N_("Voice"),
    "chat": N_("Chat"),
    "email": N_("Email"),
    "callback": N_("Callback"),
    "outbound": N_("Outbound"),
}
CHANNEL_CUES: dict[str, str] = {"available": "○", "busy": "●", "paused": "‖", "logged_out": "–"}
CHANNEL_STATES: dict[str, str] = {
    "available": N_("can take more"),
    "busy": N_("at capacity"),
    "paused": N_("paused"),
    "logged_out": N_("not in a queue of it"),
}

_SECONDS = {"function": "params.value == null ? '' : wbDuration(params.value)"}


def _levels(expression: str) -> dict[str, str]:
    """Cell class rules: the TV's ``lvl-<level>`` class when ``expression`` (a grid expression) names that level."""
    return {f"lvl-{level}": f"{expression} === '{level}'" for level in ("ok", "warn", "alarm")}


def _off_target(figure: str) -> dict[str, str]:
    """Cell class rules: ``lvl-warn`` while the agent's ``figure`` is off its target (wbFigures' ``<figure>_cue``)."""
    return {"lvl-warn": f"wbFigures(params.data.id).{figure}_cue !== ''"}


def _cued(figure: str, text: str) -> dict[str, str]:
    """A value formatter: the figure's cue (none while on target) before ``text`` (a grid expression)."""
    return {"function": f"wbCued(wbFigures(params.data.id).{figure}_cue, {text})"}


IDLE_GETTER = (
    "params.data.state === 'available' && params.data.idle_s != null"
    " ? params.data.idle_s - params.data.time_in_state_s + wbElapsed(params.data.since_ms)"
    " : params.data.idle_s"
)
COLUMN_DEFS: list[dict[str, Any]] = [
    {"field": "name", "headerName": N_("Agent"), "pinned": "left", "minWidth": 170},
    {
        # The agent actions: a button opening the page's menu, then the row's action state. Hidden until the page
        # learns that the session may act (dash_app/tv_assets/actions.js); never shown to a display token or a
        # viewer. WbActions is a dashAgGridComponentFunctions component, wbActionText and wbActionKey functions.
        "colId": "actions",
        "headerName": N_("Actions"),
        "hide": True,
        "pinned": "left",
        "width": 230,
        "valueGetter": {"function": "wbActionText(params.data.id)"},
        "cellRenderer": "WbActions",
        "suppressKeyboardEvent": {"function": "wbActionKey(params)"},
        "sortable": False,
        "filter": False,
        "suppressHeaderMenuButton": True,
    },
    {"field": "team", "headerName": N_("Team"), "filter": "agTextColumnFilter", "width": 120},
    {
        # The state in words (wbStateWords: STATE_NAMES, translated); filters and sorting keep the raw value.
        "field": "state",
        "headerName": N_("State"),
        "valueFormatter": {"function": "wbStateWords(params.value)"},
        "filter": "agTextColumnFilter",
        "width": 110,
    },
    {
        # Beside the phone state: the agent's other channels as chips, "○ Chat 2/3" (channel_chips); hidden by
        # supervisor.js while no row has one. The value (filter, sort) is the chips' text, wbChannelText.
        "colId": "channels",
        "headerName": N_("Channels"),
        "headerTooltip": N_(
            "Contacts open / capacity per channel besides the phone: ○ can take more, ● at capacity, ‖ paused,"
            " – not in a queue of it. The totals count agents by their phone state."
        ),
        "valueGetter": {"function": "wbChannelText(params.data.channels)"},
        "cellRenderer": "WbChannels",
        "filter": "agTextColumnFilter",
        "width": 150,
    },
    {"field": "reason", "headerName": N_("Reason"), "filter": "agTextColumnFilter", "width": 100},
    {
        # Ticks in the browser: the value is recomputed from ``since_ms`` (the row's ``since`` on the
        # browser's clock) each time the page's timer refreshes this column; no server message needed.
        # wbElapsed and wbDuration are the page's dashAgGridFunctions (dash_app/tv_assets/supervisor.js).
        "colId": "time_in_state",
        "headerName": N_("Time in state"),
        "valueGetter": {"function": "wbElapsed(params.data.since_ms)"},
        "valueFormatter": _SECONDS,
        "filter": "agNumberColumnFilter",
        "width": 110,
    },
    {"field": "scheduled", "headerName": N_("Scheduled"), "filter": "agTextColumnFilter", "width": 105},
    {
        "field": "adherence",
        "headerName": N_("Adherence"),
        "valueFormatter": {"function": "wbTr(params.value)"},  # ADHERENCE_CUES' words, translated
        "filter": "agTextColumnFilter",
        "width": 120,
        "cellClassRules": {
            f"wb-adh-{status}": f"params.data.adherence_status === '{status}'" for status in ADHERENCE_CUES
        },
    },
    {
        # Ticks like time in state, from ``out_since_ms`` (the row's ``out_since`` on the browser's clock).
        "colId": "out_for",
        "headerName": N_("Out for"),
        "valueGetter": {"function": "wbElapsed(params.data.out_since_ms)"},
        "valueFormatter": _SECONDS,
        "filter": "agNumberColumnFilter",
        "width": 90,
    },
    {
        "field": "exception",
        "headerName": N_("Exception"),
        "valueFormatter": {"function": "wbExceptionWords(params.value)"},  # EXCEPTION_WORDS, translated
        "filter": "agTextColumnFilter",
        "width": 170,
    },
    {"field": "queues", "headerName": N_("Queues"), "filter": "agTextColumnFilter", "flex": 1, "minWidth": 130},
    {"field": "calls_today", "headerName": N_("Calls today"), "filter": "agNumberColumnFilter", "width": 95},
    {"field": "handled_today", "headerName": N_("Handled today"), "filter": "agNumberColumnFilter", "width": 110},
    {
        # "handled/expected pct" with the target's cue; sorts and filters on the percent. wbFigures (the agent of the
        # snapshot the page holds, dash_app/tv_assets/grid_figures.js) mirrors agent_figures.
        "colId": "target",
        "headerName": N_("Target"),
        "headerTooltip": N_("Handled today / calls expected by now, percent: ▲ met, ● near, ▼ behind"),
        "valueGetter": {"function": "wbFigures(params.data.id).target_pct"},
        "valueFormatter": {"function": "wbFigures(params.data.id).target"},
        "tooltipValueGetter": {"function": "wbFigures(params.data.id).target_title"},
        "cellClassRules": _levels("wbFigures(params.data.id).target_level"),
        "filter": "agNumberColumnFilter",
        "width": 130,
    },
    {
        "colId": "escalations",
        "headerName": N_("Esc."),
        "headerTooltip": N_("Escalations today"),
        "valueGetter": {"function": "wbFigures(params.data.id).escalations"},
        "filter": "agNumberColumnFilter",
        "width": 80,
    },
    {
        "field": "missed_rings_today",
        "headerName": N_("Missed rings"),
        "headerTooltip": N_("Rings not answered today; ▲ over the agent's limit"),
        "valueFormatter": _cued("missed_rings", "params.value"),
        "cellClassRules": _off_target("missed_rings"),
        "filter": "agNumberColumnFilter",
        "width": 130,
    },
    {
        "field": "aht_s",
        "headerName": N_("AHT"),
        "headerTooltip": N_("Average handle time today; ▲ over the agent's AHT target"),
        "valueFormatter": _cued("aht", "(params.value == null ? '' : wbDuration(params.value))"),
        "cellClassRules": _off_target("aht"),
        "filter": "agNumberColumnFilter",
        "width": 110,
    },
    {
        # Ticks while the agent is available (IDLE_GETTER), refreshed with time in state.
        "colId": "idle",
        "headerName": N_("Idle"),
        "headerTooltip": N_("Time available since the last call ended"),
        "valueGetter": {"function": IDLE_GETTER},
        "valueFormatter": _SECONDS,
        "filter": "agNumberColumnFilter",
        "width": 110,
    },
    {
        "field": "occupancy_pct",
        "headerName": N_("Occupancy"),
        "headerTooltip": N_("Today: (on call + wrap-up) / (on call + wrap-up + available); ▲ above, ▼ below its band"),
        "valueFormatter": _cued("occupancy", "(params.value == null ? '' : wbPercent(params.value))"),
        "cellClassRules": _off_target("occupancy"),
        "filter": "agNumberColumnFilter",
        "width": 120,
    },
]

# The headers in the page's language: wbHeader (supervisor.js) translates the English headerName (an N_ text).
HEADER_GETTER = {"function": "wbHeader(params.colDef.headerName)"}


def translated_headers(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``columns`` whose headers the browser translates (:data:`HEADER_GETTER` on each one with a headerName)."""
    return [{**column, "headerValueGetter": HEADER_GETTER} if "headerName" in column else column for column in columns]


COLUMN_DEFS = translated_headers(COLUMN_DEFS)
PHONE_COLUMNS = ["name", "state", "time_in_state"]  # the columns kept on a phone (narrower than PHONE_MAX_PX)

ROW_CLASS_RULES: dict[str, str] = {
    f"wb-{kind}-{level}": f"params.data.highlight === '{kind}-{level}'"
    for kind in HIGHLIGHT_METRICS.values()
    for level in LEVELS
}


def agent_highlights(alerts: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """agent id -> the highlight of its worst long-break or long-call alert (alarm beats warn)."""
    out: dict[str, str] = {}
    for alert in alerts:
        target = alert.get("target") or {}
        kind = HIGHLIGHT_METRICS.get(str(alert.get("metric")))
        level = alert.get("level")
        if target.get("kind") != "agent" or kind is None or level not in LEVELS:
            continue
        agent = str(target.get("name"))
        current = out.get(agent)
        if current is None or (current.endswith("-warn") and level == "alarm"):
            out[agent] = f"{kind}-{level}"
    return out


def exception_words(adherence: Mapping[str, Any], reason: Any = None) -> str:
    """The adherence exception in words; an unmapped reason names the reason (from the actual activity
    ``"unmapped:<reason>"``, else the agent's pause ``reason``)."""
    kind = adherence.get("exception")
    if not kind:
        return ""
    if kind == "unmapped_reason":
        actual = str(adherence.get("actual") or "")
        found = actual[len(UNMAPPED_PREFIX) :] if actual.startswith(UNMAPPED_PREFIX) else str(reason or "?")
        return f"{EXCEPTION_WORDS[kind]}: {found}"
    return EXCEPTION_WORDS.get(str(kind), str(kind).replace("_", " "))


def adherence_fields(agent: Mapping[str, Any]) -> dict[str, Any]:
    """The row's adherence columns (see the module docstring); blanks for an agent with no slot today."""
    adherence = agent.get("adherence") or {}
    status = str(adherence.get("status") or "")
    return {
        "scheduled": adherence.get("scheduled") or "",
        "adherence": ADHERENCE_CUES.get(status, status),
        "adherence_status": status,
        "out_since": adherence.get("out_since"),
        "exception": exception_words(adherence, agent.get("reason")),
    }


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def channel_chips(agent: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The agent's channels but voice, in :data:`CHANNELS`' order (others after, by name): its chips."""
    entries = agent.get("channels")
    if not isinstance(entries, Mapping):
        return []
    rank = {channel: n for n, channel in enumerate(CHANNELS)}
    chips = []
    for channel in sorted(entries, key=lambda c: (rank.get(str(c), len(CHANNELS)), str(c))):
        if channel == "voice":
            continue
        entry = entries[channel] if isinstance(entries[channel], Mapping) else {}
        state = entry.get("state")
        chips.append(
            {
                "channel": str(channel),
                "open": _count(entry.get("open")),
                "capacity": _count(entry.get("capacity")),
                "state": state if state in CHANNEL_CUES else "",
            }
        )
    return chips


def agent_row(
    agent: Mapping[str, Any],
    highlight: str = "",
    teams: Mapping[str, str] | None = None,
    queues: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One grid row for a snapshot agent entry; ``teams`` and ``queues`` map ids to display names (else the id),
    ``channels`` queue ids to their channel (else voice)."""
    team = str(agent.get("team") or "")
    ids = sorted(agent.get("queues") or [])
    return {
        "id": agent["id"],
        "name": agent.get("name") or agent["id"],
        "team": (teams or {}).get(team, team),
        "team_id": team,
        "state": agent["state"],
        "reason": agent.get("reason") or "",
        "since": agent.get("since"),
        "time_in_state_s": agent.get("time_in_state_s"),
        "queues": ", ".join((queues or {}).get(queue, queue) for queue in ids),
        "queue_ids": ids,
        "calls_today": agent.get("calls_today") or 0,
        "aht_s": agent.get("aht_s"),
        "highlight": highlight,
        "handled_today": agent.get("handled_today") or 0,
        "missed_rings_today": agent.get("missed_rings_today") or 0,
        "idle_s": agent.get("idle_s"),
        "last_call_end": agent.get("last_call_end"),
        "occupancy_pct": agent.get("occupancy_pct"),
        "channels": channel_chips(agent),
        "channel_ids": sorted({str((channels or {}).get(queue) or "voice") for queue in ids}),
        **adherence_fields(agent),
    }


def _rounded(value: float) -> int:
    """``value`` rounded half up, as the browser's ``Math.round`` does (Python's round() rounds half to even)."""
    return math.floor(value + 0.5)


def _hours(seconds: float) -> str:
    """``h:mm`` of ``seconds`` (whole minutes, truncated)."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}"


def target_fields(agent: Mapping[str, Any]) -> dict[str, Any]:
    """The "Target" cell of ``agent``: percent (its value), text with cue, level and tooltip; blanks without one."""
    target = agent.get("target") or {}
    expected = target.get("calls_expected")
    if not isinstance(expected, int | float):
        return {"target_pct": None, "target": "", "target_level": "", "target_title": ""}
    handled = agent.get("handled_today") or 0
    pct = target.get("calls_pct")
    pct = pct if isinstance(pct, int | float) else None
    status = str(target.get("calls") or "")
    cue = TARGET_CUES.get(status)
    text = f"{handled}/{_rounded(expected)}" + ("" if pct is None else f" {_rounded(pct)} %")
    basis = BASIS_WORDS.get(str(target.get("basis")), str(target.get("basis") or ""))
    basis_s = target.get("basis_s")
    span = f" for {_hours(basis_s)} {basis}" if isinstance(basis_s, int | float) else ""
    return {
        "target_pct": pct,
        "target": f"{cue} {text}" if cue else text,
        "target_level": TARGET_LEVELS.get(status, ""),
        "target_title": f"{handled} handled, {_rounded(expected)} expected{span}" + (f": {status}" if cue else ""),
    }


def agent_figures(agent: Mapping[str, Any]) -> dict[str, Any]:
    """What the target columns show of a snapshot ``agent`` (see the module docstring); blanks where the snapshot
    has no ``target`` or ``escalations_today``."""
    target = agent.get("target") or {}
    escalations = agent.get("escalations_today")
    return {
        **target_fields(agent),
        "escalations": escalations if isinstance(escalations, int) else None,
        **{f"{figure}_cue": FIGURE_CUES.get(str(target.get(figure)), "") for figure in FIGURES},
    }


def listed(agent: Mapping[str, Any]) -> bool:
    """Whether the grid lists ``agent``: logged in, or logged out while out of adherence (or in its grace)."""
    if agent.get("state") != LOGGED_OUT:
        return True
    return (agent.get("adherence") or {}).get("status") in ("out", "grace")


def agent_rows(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of every :func:`listed` agent of ``snapshot``, by name then id."""
    highlights = agent_highlights(snapshot.get("alerts") or [])
    teams = {str(team): str((entry or {}).get("name") or team) for team, entry in (snapshot.get("teams") or {}).items()}
    queues = {
        str(queue): str((entry or {}).get("display_name") or queue)
        for queue, entry in (snapshot.get("queues") or {}).items()
    }
    channels = {
        str(queue): str((entry or {}).get("channel") or "voice")
        for queue, entry in (snapshot.get("queues") or {}).items()
    }
    rows = [
        agent_row(agent, highlights.get(str(agent["id"]), ""), teams, queues, channels)
        for agent in (snapshot.get("agents") or {}).values()
        if listed(agent)
    ]
    return sorted(rows, key=lambda row: (str(row["name"]), str(row["id"])))


def queue_names(snapshot: Mapping[str, Any]) -> list[str]:
    """The snapshot's queues, sorted."""
    return sorted(snapshot.get("queues") or {})


def waiting_rows(snapshot: Mapping[str, Any], queue: str) -> list[dict[str, Any]]:
    """The waiting callers of ``queue`` (oldest first); [] for a queue the snapshot does not have."""
    entry = (snapshot.get("queues") or {}).get(queue)
    if entry is None:
        return []
    now = datetime.fromisoformat(str(snapshot["ts"]))
    return [
        {
            "call_id": call["call_id"],
            "position": call["position"],
            "caller": call.get("caller_name") or call.get("caller") or "unknown",
            "repeat": bool(call.get("repeat")),
            "wait_s": call["wait_s"],
            "entered": (now - timedelta(seconds=float(call["wait_s"]))).astimezone(UTC).isoformat(),
        }
        for call in sorted(entry.get("waiting_calls") or [], key=lambda call: int(call["position"]))
    ]
