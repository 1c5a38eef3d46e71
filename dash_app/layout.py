"""The TV board's tiles as data: which figures a board shows, per queue, group or team, with text and level. Pure.

Theory of operation
-------------------
A *board* (stored through ``/api/v1/boards``, see ``wallboard.api.board_routes``) names its queues
(or queue groups of the site file; none: every queue), its tiles (figure keys of ``KPIS``; none: all
of them, the standard board) and optional rotation pages (each its own queues, shown in turn).
Two options add other kinds of tile:

* ``group_tiles``: one *combined* tile per queue group and channel (``dash_app.groups.group_entry``: figures
  from the summed counters of the group's queues of that channel) for each of its ``groups`` (none and no ``queues``:
  every group, and the queues of no group on their own tiles), followed by its ``queues`` one by one.
  A figure's level is the worst of the group's queues on that metric; the tile's level is the worst
  open alert on any of its queues, whatever the metric (a problem in one queue shows on its group);
* ``team_tiles``: after those, one adherence tile per team of ``teams`` (none: every team of the
  snapshot) with the team's adherence figures (``teams[team]["adherence"]``: adherence %,
  agents out of adherence now over agents scheduled now, conformance, minutes late). Their level is
  the worst open ``adherence_pct`` alert on the team or on one of its agents;
* ``campaign_tiles``: last, one tile per outbound campaign of ``campaigns`` (none: every campaign of the
  snapshot, ``campaigns.<c>``). Its headline is the drop rate over the regulator's window against the legal
  limit, labelled with the window (``"Dropped 24 h"``, ``"1.8% / 3%"``: a tenth shown, so 2.96 % never reads as
  the limit); below it the site-local day's dialling (dialled, connected, connect rate, dropped of live answers,
  average talk), each label saying "today" (the window is the regulator's figure, today the floor's). Its level
  is alarm while ``over_limit`` (a legal matter, whatever the thresholds say), else the worst open alert on the
  campaign (``campaign_drop_rate_pct``); over the limit the heading says so in words too (``OVER LIMIT``).

A board's ``channels`` (none: every channel) keeps only the queues of those channels (the snapshot's
``queues.<q>.channel``, ``voice`` when it names none: ``dash_app.groups.queue_channel``) on its queue tiles, its
pages' and its groups' (:func:`board_channels`): with no ``queues``, every queue of those channels; with named
queues, those of them; a group tile combines the group's queues of those channels, and a group with none of them
has no tile. The snapshot decides, every time: a queue whose channel is learned later (the engine learns a chat
queue from its first chat event) joins a chat board then. Team and campaign tiles are not queues: unaffected.

Channels: a queue tile's heading carries a badge naming its channel when it is not voice (``Chat``, ``Email``,
``Callback``, ``Outbound``). Callback and outbound queues are phone queues: the voice figures mean what they say.
A chat or email queue (agents take several contacts at once, ``wallboard.core.channels``) shows its own figures
where the voice ones would mislead (``DIGITAL_KPIS``): *first response* (arrival to the agent's first reply, the
interval's ``avg_first_response_s``) in ASA's place, since being picked up by an agent is not being answered when
the agent has three chats open; *at capacity* for the agents counted ``on_call`` (they are at their capacity, not
on a call); and no *need / staffed* (Erlang C assumes one call per agent), *ringing* nor *wrap-up* (a digital
queue's members are never counted there). The rest (waiting, longest wait, SL against the queue's own threshold,
AHT, abandoned, available, paused, logged in) means the same for a chat. A group is never summed across
channels: a group with queues of several channels has one tile per channel (phone channels first), each titled
with the group, badged with its channel and showing that channel's figures (``dash_app.groups``).

:func:`tile_models` turns one snapshot, one board (and the page showing) into the tiles a TV shows:
per tile, each figure's label, text (``dash_app.figures``), level (the worst open alert on that queue
and the figure's threshold metric) and *pending* level (a worse level whose threshold is breached but
not yet for its ``for_s``, with its due time: the snapshot's ``pending``), and the tile's level (the
worst of its figures) and soonest pending level; a queue's tile is titled with its ``display_name`` (else its
name) and a badge for its channel, a campaign's likewise. The interval's SL label names the site's interval
length (``"SL 15 min"``, from the snapshot's ``interval.minutes``); the agents by state include
ringing, so they add up to the agents logged in.

Every text here is English, marked with :func:`dash_app.i18n.N_` (the labels, the headings' templates): the browser
translates them in the TV's language (tv.js, ``t(label)``; the catalogue carries the English message ids), and
:func:`tile_models` gives the English text the tests compare the page with.

The TV page renders in the browser, from the websocket, with ``dash_app/tv_assets/tv.js``. It gets
this module's catalogue (:func:`catalogue`: keys, labels, snapshot paths, formats, metrics) in the
page, so labels, paths and metric mapping have a single source; the formats and the group sums are
re-implemented there in a few lines, and ``tests/dash_app/test_tv.py`` checks that the browser shows
exactly :func:`tile_models` for a published snapshot. The grid of tiles and the font sizes are the
browser's alone: it knows the screen (tv.js ``fitBoard``: the columns, and per tile the figure columns,
that give the biggest figures; ``tests/dash_app/test_tv_readable.py`` measures them at four screen sizes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from dash_app.figures import (
    ICONS,
    LEVELS,
    PENDING_ICONS,
    PENDING_IN,
    PENDING_NOW,
    WORDS,
    Format,
    Level,
    Pending,
    alert_levels,
    fmt,
    number,
    pending_levels,
    sooner,
    team_levels,
    team_pending,
    worst,
)
from dash_app.groups import DIGITAL_CHANNELS, group_channels, group_entry, group_queues, queue_channel, snapshot_groups
from dash_app.i18n import N_, Nn_

TileKind = Literal["queue", "group", "team", "campaign"]
V = TypeVar("V")


@dataclass(frozen=True)
class Kpi:
    """One figure a tile can show: ``path`` into the queue's snapshot entry, ``other`` for a ratio."""

    key: str
    label: str
    path: tuple[str, ...]
    format: Format
    metric: str | None = None  # the threshold metric whose alerts colour it
    primary: bool = False  # shown big
    other: tuple[str, ...] = ()


KPIS: tuple[Kpi, ...] = (
    Kpi("waiting", N_("Waiting"), ("waiting",), "count", "waiting", True),
    Kpi("longest_wait", N_("Longest wait"), ("longest_wait_s",), "duration", "longest_wait_s", True),
    Kpi("sl_interval", N_("SL interval"), ("interval", "service_level_pct"), "percent", "service_level_pct", True),
    Kpi("sl_day", N_("SL today"), ("day", "service_level_pct"), "percent", "service_level_day_pct", True),
    # i18n: average speed of answer (a figure's label, keep it short)
    Kpi("asa", N_("ASA"), ("interval", "asa_s"), "duration", "asa_s"),
    # i18n: average handling time (a figure's label, keep it short)
    Kpi("aht", N_("AHT"), ("interval", "aht_s"), "duration", "aht_s"),
    Kpi("abandon", N_("Abandoned"), ("interval", "abandon_rate_pct"), "percent", "abandon_rate_pct"),
    Kpi("needed", N_("Need / staffed"), ("required_agents",), "ratio", "agents_short", other=("agents", "logged_in")),
    # The agents by state, in the order they add up: logged in = available + ringing + on call + wrap-up + paused.
    Kpi("logged_in", N_("Logged in"), ("agents", "logged_in"), "count"),
    Kpi("available", N_("Available"), ("agents", "available"), "count", "agents_available"),
    Kpi("ringing", N_("Ringing"), ("agents", "ringing"), "count"),
    Kpi("on_call", N_("On call"), ("agents", "on_call"), "count"),
    Kpi("wrap_up", N_("Wrap-up"), ("agents", "wrap_up"), "count"),
    Kpi("paused", N_("Paused"), ("agents", "paused"), "count"),
)
KPI_KEYS: tuple[str, ...] = tuple(kpi.key for kpi in KPIS)
# A team's adherence tile: paths into the snapshot's teams[team].
TEAM_KPIS: tuple[Kpi, ...] = (
    Kpi("adherence", N_("Adherence"), ("adherence", "adherence_pct"), "percent", "adherence_pct", True),
    Kpi(
        "out_now",
        N_("Out now / scheduled"),
        ("adherence", "out_now"),
        "ratio",
        "adherence_pct",
        True,
        other=("adherence", "scheduled_now"),
    ),
    Kpi("conformance", N_("Conformance"), ("adherence", "conformance_pct"), "percent"),
    Kpi("minutes_late", N_("Minutes late"), ("adherence", "minutes_late"), "count"),
)
# A chat or email queue's figures where the voice ones would mislead (see the module docstring): a key's
# replacement, or None for a figure such a queue does not show.
DIGITAL_KPIS: dict[str, Kpi | None] = {
    "asa": Kpi(
        "first_response",
        # i18n: a chat or email queue's average time from a contact's arrival to the agent's first reply (short)
        N_("First response"),
        ("interval", "avg_first_response_s"),
        "duration",
        "first_response_s",
    ),
    "needed": None,
    "ringing": None,
    # i18n: a chat or email queue's agents who have as many contacts open as they can take (keep short)
    "on_call": Kpi("on_call", N_("At capacity"), ("agents", "on_call"), "count"),
    "wrap_up": None,
}
# i18n: a queue tile's badge naming the queue's channel (voice queues have none; keep it short)
CHANNEL_BADGES: dict[str, str] = {
    "chat": N_("Chat"),
    "email": N_("Email"),
    "callback": N_("Callback"),
    "outbound": N_("Outbound"),
}
# An outbound campaign's tile: paths into the snapshot's campaigns[campaign] (schema.CampaignFigures).
CAMPAIGN_KPIS: tuple[Kpi, ...] = (
    Kpi(
        "drop_rate",
        # i18n: an outbound campaign's drop rate when its window is unknown (else "Dropped {hours} h")
        N_("Dropped"),
        ("window", "drop_rate_pct"),
        "limit",
        "campaign_drop_rate_pct",
        True,
        other=("limit_pct",),
    ),
    # i18n: an outbound campaign's calls dialled since midnight (keep short)
    Kpi("attempts", N_("Dialled today"), ("today", "attempts"), "count"),
    # i18n: an outbound campaign's calls answered by a person and taken by an agent since midnight (keep short)
    Kpi("connects", N_("Connected today"), ("today", "connects"), "count"),
    # i18n: an outbound campaign's connects over its dialled calls with an outcome, since midnight (keep short)
    Kpi("connect_rate", N_("Connect rate today"), ("today", "connect_rate_pct"), "percent"),
    # i18n: an outbound campaign's calls answered by a person and dropped by the dialer, over those answered by a
    # person, since midnight: "2 / 61" (keep short)
    Kpi("dropped", N_("Dropped / live today"), ("today", "dropped"), "ratio", other=("today", "live")),
    # i18n: an outbound campaign's average talk time of its connects since midnight (keep short)
    Kpi("avg_talk", N_("Avg talk today"), ("today", "avg_talk_s"), "duration"),
)
# i18n: an outbound campaign's drop rate over the regulator's rolling window of hours, "Dropped 24 h"
DROPPED_HOURS = N_("Dropped {hours} h")
# i18n: an outbound campaign's drop rate over the regulator's rolling window of days, "Dropped 30 d"
DROPPED_DAYS = N_("Dropped {days} d")
# i18n: a campaign tile's badge while its drop rate is over the regulator's legal limit (capitals, short)
OVER_LIMIT = N_("OVER LIMIT")
_BY_KEY = {kpi.key: kpi for kpi in KPIS}
SL_KEYS = frozenset({"sl_interval", "sl_day"})  # their label carries the queue's target, "80/20"
# i18n: the interval's service level, naming the interval's length: "SL 15 min" (SL: service level)
INTERVAL_LABEL = N_("SL {minutes} min")  # no length known: the label "SL interval"
# i18n: a queue group's tile heading: the group and how many queues it has, "care · 3 queues"
GROUP_TITLE = Nn_("{group} · {n} queue", "{group} · {n} queues")
# i18n: a team's adherence tile heading, "Adherence · Team A"
TEAM_TITLE = N_("Adherence · {team}")


@dataclass(frozen=True)
class KpiValue:
    key: str
    label: str
    text: str
    level: Level
    pending: Pending | None = None  # a worse level coming once its threshold's for_s has passed, and when


@dataclass(frozen=True)
class Tile:
    kind: TileKind
    name: str  # the queue, group or team
    title: str  # the tile's heading
    level: Level
    icon: str
    word: str
    kpis: tuple[KpiValue, ...]
    pending: Pending | None = None  # the soonest pending level of its figures
    badge: str = ""  # beside the title: a queue's or group's channel (not voice), a campaign over its limit
    channel: str = ""  # a group tile's channel (a group of several channels has one tile per channel)


def dig(entry: Any, path: Sequence[str]) -> Any:
    """``entry[path[0]][path[1]]...``, None where a step is missing."""
    for step in path:
        entry = entry.get(step) if isinstance(entry, Mapping) else None
    return entry


def _number_text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return "?"


def kpi_label(kpi: Kpi, queue: Mapping[str, Any], minutes: Any = None) -> str:
    """The label under a figure. The interval's service level names the site's interval length ``minutes``
    (the snapshot's ``interval.minutes``), ``"SL 15 min"``; service levels carry the target, ``"SL 15 min 80/20"``,
    when there is one (not for a queue missing from the snapshot, nor for a group whose queues differ in target or
    threshold)."""
    label = kpi.label
    if kpi.key == "sl_interval" and _number_text(minutes) != "?":
        label = INTERVAL_LABEL.format(minutes=_number_text(minutes))
    if kpi.key == "drop_rate":
        return window_label(queue.get("window_h"))
    target, threshold = queue.get("sl_target_pct"), queue.get("sl_threshold_s")
    if kpi.key in SL_KEYS and target is not None and threshold is not None:
        return f"{label} {_number_text(target)}/{_number_text(threshold)}"
    return label


def window_label(hours: Any) -> str:
    """A campaign's drop rate label naming its window: ``"Dropped 24 h"``, whole days from 48 h (``"Dropped 30 d"``);
    no window known: ``"Dropped"``."""
    found = number(hours)
    if found is None or found <= 0:
        return CAMPAIGN_KPIS[0].label
    if found >= 48 and found % 24 == 0:
        return DROPPED_DAYS.format(days=_number_text(found / 24))
    return DROPPED_HOURS.format(hours=_number_text(found))


def channel_kpis(kpis: Sequence[Kpi], channel: Any) -> list[Kpi]:
    """The figures a queue of ``channel`` shows for the board's ``kpis`` (``DIGITAL_KPIS`` for chat and email)."""
    if channel not in DIGITAL_CHANNELS:
        return list(kpis)
    return [shown for kpi in kpis if (shown := DIGITAL_KPIS.get(kpi.key, kpi)) is not None]


def board_channels(board: Mapping[str, Any]) -> frozenset[str]:
    """The channels whose queues the board shows (empty: every channel)."""
    return frozenset(str(channel) for channel in board.get("channels") or ())


def of_channels(snapshot: Mapping[str, Any], names: Iterable[str], channels: frozenset[str]) -> list[str]:
    """``names`` in order, keeping only the queues of ``channels`` as the snapshot has them (empty: all of them)."""
    queues = snapshot.get("queues") or {}
    return [name for name in names if not channels or queue_channel(queues.get(name)) in channels]


def board_queues(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[str]:
    """The queues a board shows: on a rotating board those of page ``page`` (modulo the pages), else its
    ``queues`` in order, else those of its ``groups``, else every queue sorted; each time only those of its
    ``channels``."""
    pages = board.get("pages") or ()
    channels = board_channels(board)
    if pages:
        return of_channels(snapshot, (str(name) for name in pages[page % len(pages)].get("queues") or ()), channels)
    named = [str(name) for name in board.get("queues") or ()]
    if named:
        return of_channels(snapshot, named, channels)
    queues = snapshot.get("queues") or {}
    groups = set(board.get("groups") or ())
    every = sorted(name for name, queue in queues.items() if not groups or dig(queue, ("group",)) in groups)
    return of_channels(snapshot, every, channels)


def board_kpis(board: Mapping[str, Any]) -> list[Kpi]:
    """The board's figures in catalogue order (all of them when it names none; unknown keys ignored)."""
    wanted = set(board.get("tiles") or KPI_KEYS)
    return [kpi for kpi in KPIS if kpi.key in wanted]


def group_title(group: str, queues: int) -> str:
    """A group tile's heading: ``"care · 3 queues"`` (English's plural: the browser's ``tn`` the language's)."""
    return GROUP_TITLE[queues != 1].format(group=group, n=queues)


Unit = tuple[TileKind, str, str]  # kind, name, and a group tile's channel ("" for the other kinds)


def board_units(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[Unit]:
    """The board's tiles as (kind, name, channel), in order (see the module docstring)."""
    units: list[Unit]
    if board.get("group_tiles") and not board.get("pages"):
        groups = [str(name) for name in board.get("groups") or ()]
        named = [str(name) for name in board.get("queues") or ()]
        if not groups and not named:
            groups = snapshot_groups(snapshot)
            named = sorted(n for n, q in (snapshot.get("queues") or {}).items() if not dig(q, ("group",)))
        channels = board_channels(board)
        if channels:  # a group with no queue of those channels has no tile
            groups = [name for name in groups if group_queues(snapshot, name, channels)]
            named = of_channels(snapshot, named, channels)
        units = [
            ("group", name, channel)
            for name in groups
            for channel in group_channels(snapshot, name, channels) or ["voice"]  # no queue yet: one empty tile
        ]
        units += [("queue", name, "") for name in named]
    else:
        units = [("queue", name, "") for name in board_queues(snapshot, board, page)]
    if board.get("team_tiles"):
        teams = [str(name) for name in board.get("teams") or ()] or sorted(snapshot.get("teams") or {})
        units += [("team", name, "") for name in teams]
    if board.get("campaign_tiles"):
        campaigns = [str(name) for name in board.get("campaigns") or ()] or sorted(snapshot.get("campaigns") or {})
        units += [("campaign", name, "") for name in campaigns]
    return units


def _values(
    kpis: Sequence[Kpi],
    entry: Mapping[str, Any],
    level_of: Mapping[str, Level],
    pending_of: Mapping[str, Pending],
    minutes: Any,
) -> tuple[KpiValue, ...]:
    out = []
    for kpi in kpis:
        level = level_of.get(kpi.metric, "ok") if kpi.metric else "ok"
        coming = pending_of.get(kpi.metric) if kpi.metric else None
        if coming is not None and LEVELS.index(coming[0]) <= LEVELS.index(level):
            coming = None  # already there
        text = fmt(kpi.format, dig(entry, kpi.path), dig(entry, kpi.other))
        out.append(KpiValue(kpi.key, kpi_label(kpi, entry, minutes), text, level, coming))
    return tuple(out)


def _tile(
    kind: TileKind,
    name: str,
    title: str,
    values: tuple[KpiValue, ...],
    *extra: Level,
    badge: str = "",
    channel: str = "",
) -> Tile:
    level = worst([*(value.level for value in values), *extra])
    coming: Pending | None = None
    for value in values:
        coming = sooner(coming, value.pending)
    return Tile(kind, name, title, level, ICONS[level], WORDS[level], values, coming, badge, channel)


def _campaign_tile(snapshot: Mapping[str, Any], name: str, minutes: Any) -> Tile:
    """A campaign's tile: alarm while over its limit, else its worst open alert (see the module docstring)."""
    entry = dig(snapshot, ("campaigns", name)) or {}
    alerts = _by_name(alert_levels(snapshot.get("alerts") or (), "campaign")).get(name, {})
    coming = _by_name(pending_levels(snapshot.get("pending") or (), "campaign")).get(name, {})
    over = entry.get("over_limit") is True
    levels: dict[str, Level] = {**alerts, "campaign_drop_rate_pct": "alarm"} if over else alerts
    values = _values(CAMPAIGN_KPIS, entry, levels, coming, minutes)
    title = str(entry.get("display_name") or name)
    return _tile("campaign", name, title, values, *alerts.values(), badge=OVER_LIMIT if over else "")


def _by_name(levels: Mapping[tuple[str, str], V]) -> dict[str, dict[str, V]]:
    out: dict[str, dict[str, V]] = {}
    for (name, metric), level in levels.items():
        out.setdefault(name, {})[metric] = level
    return out


def _merged(members: Sequence[Mapping[str, Pending]], metrics: Iterable[str]) -> dict[str, Pending]:
    """Per metric the soonest pending level of the group's queues."""
    out: dict[str, Pending] = {}
    for metric in metrics:
        coming: Pending | None = None
        for member in members:
            coming = sooner(coming, member.get(metric))
        if coming is not None:
            out[metric] = coming
    return out


def tile_models(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[Tile]:
    """The tiles of ``board`` (its page ``page`` when it rotates) for ``snapshot`` (see the module docstring)."""
    alerts, pending = snapshot.get("alerts") or (), snapshot.get("pending") or ()
    minutes = dig(snapshot, ("interval", "minutes"))
    by_queue, coming = _by_name(alert_levels(alerts)), _by_name(pending_levels(pending))
    kpis = board_kpis(board)
    tiles = []
    for kind, name, channel in board_units(snapshot, board, page):
        if kind == "team":
            entry = dig(snapshot, ("teams", name)) or {}
            title = TEAM_TITLE.format(team=entry.get("name") or name)  # the site file's display name of the team
            levels, team_soon = _by_name(team_levels(alerts, snapshot)), _by_name(team_pending(pending, snapshot))
            values = _values(TEAM_KPIS, entry, levels.get(name, {}), team_soon.get(name, {}), minutes)
            tiles.append(_tile(kind, name, title, values))
        elif kind == "group":
            entry = group_entry(snapshot, name, board_channels(board), channel)
            members = [by_queue.get(queue_name, {}) for queue_name in entry["queues"]]
            shown = channel_kpis(kpis, channel)
            metrics = [kpi.metric for kpi in shown if kpi.metric]
            merged = {metric: worst(m.get(metric, "ok") for m in members) for metric in metrics}
            soon = _merged([coming.get(queue_name, {}) for queue_name in entry["queues"]], metrics)
            title = group_title(name, len(entry["queues"]))
            values = _values(shown, entry, merged, soon, minutes)
            badge = CHANNEL_BADGES.get(channel, "")
            worst_of = (worst(m.values()) for m in members)
            tiles.append(_tile(kind, name, title, values, *worst_of, badge=badge, channel=channel))
        elif kind == "campaign":
            tiles.append(_campaign_tile(snapshot, name, minutes))
        else:
            entry = dig(snapshot, ("queues", name)) or {}
            shown = channel_kpis(kpis, entry.get("channel"))
            values = _values(shown, entry, by_queue.get(name, {}), coming.get(name, {}), minutes)
            title = str(entry.get("display_name") or name)
            tiles.append(_tile(kind, name, title, values, badge=CHANNEL_BADGES.get(str(entry.get("channel")), "")))
    return tiles


def _described(kpi: Kpi) -> dict[str, Any]:
    return {
        "key": kpi.key,
        "label": kpi.label,
        "path": list(kpi.path),
        "other": list(kpi.other),
        "format": kpi.format,
        "metric": kpi.metric,
        "primary": kpi.primary,
        "sl": kpi.key in SL_KEYS,
    }


def catalogue() -> dict[str, Any]:
    """What the browser script needs from this module (JSON-ready)."""
    return {
        "kpis": [_described(kpi) for kpi in KPIS],
        "team_kpis": [_described(kpi) for kpi in TEAM_KPIS],
        "campaign_kpis": [_described(kpi) for kpi in CAMPAIGN_KPIS],
        "digital_kpis": {key: None if kpi is None else _described(kpi) for key, kpi in DIGITAL_KPIS.items()},
        "digital_channels": sorted(DIGITAL_CHANNELS),
        "channel_badges": CHANNEL_BADGES,
        "icons": ICONS,
        "words": WORDS,
        "pending_icons": PENDING_ICONS,
        "interval_label": INTERVAL_LABEL,
        # the headings' and cues' templates (English message ids, translated in the browser)
        "group_title": list(GROUP_TITLE),  # [singular, plural]: tn() in the browser
        "team_title": TEAM_TITLE,
        "dropped_hours": DROPPED_HOURS,
        "dropped_days": DROPPED_DAYS,
        "over_limit": OVER_LIMIT,
        "pending_in": PENDING_IN,
        "pending_now": PENDING_NOW,
    }


def kpi_by_key(key: str) -> Kpi:
    return _BY_KEY[key]
