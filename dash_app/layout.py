"""The TV board's tiles as data: which figures a board shows, per queue, group or team, with text and level. Pure.

Theory of operation
-------------------
A *board* (stored through ``/api/v1/boards``, see ``wallboard.api.board_routes``) names its queues
(or queue groups of the site file; none: every queue), its tiles (figure keys of ``KPIS``; none: all
of them, the standard board) and optional rotation pages (each its own queues, shown in turn).
Two options add other kinds of tile:

* ``group_tiles``: one *combined* tile per queue group (``dash_app.groups.group_entry``: figures from
  the summed counters of the group's queues) for each of its ``groups`` (none and no ``queues``:
  every group, and the queues of no group on their own tiles), followed by its ``queues`` one by one.
  A figure's level is the worst of the group's queues on that metric; the tile's level is the worst
  open alert on any of its queues, whatever the metric (a problem in one queue shows on its group);
* ``team_tiles``: after those, one adherence tile per team of ``teams`` (none: every team of the
  snapshot) with the team's adherence figures (``teams[team]["adherence"]``: adherence %,
  agents out of adherence now over agents scheduled now, conformance, minutes late). Their level is
  the worst open ``adherence_pct`` alert on the team or on one of its agents.

:func:`tile_models` turns one snapshot, one board (and the page showing) into the tiles a TV shows:
per tile, each figure's text (``dash_app.figures``) and level (the worst open alert on that queue
and the figure's threshold metric), and the tile's level (the worst of its figures).
:func:`grid_shape` chooses columns and rows for a 16:9 screen.

The TV page renders in the browser, from the websocket, with ``dash_app/tv_assets/tv.js``. It gets
this module's catalogue (:func:`catalogue`: keys, labels, snapshot paths, formats, metrics) in the
page, so labels, paths and metric mapping have a single source; the formats, the group sums and the
grid shape are re-implemented there in a few lines, and ``tests/dash_app/test_tv.py`` checks that the
browser shows exactly :func:`tile_models` for a published snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dash_app.figures import ICONS, WORDS, Format, Level, alert_levels, fmt, team_levels, worst
from dash_app.groups import group_entry, snapshot_groups

TileKind = Literal["queue", "group", "team"]


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
    Kpi("waiting", "Waiting", ("waiting",), "count", "waiting", True),
    Kpi("longest_wait", "Longest wait", ("longest_wait_s",), "duration", "longest_wait_s", True),
    Kpi("sl_interval", "SL now", ("interval", "service_level_pct"), "percent", "service_level_pct", True),
    Kpi("sl_day", "SL today", ("day", "service_level_pct"), "percent", "service_level_day_pct", True),
    Kpi("asa", "ASA", ("interval", "asa_s"), "duration", "asa_s"),
    Kpi("aht", "AHT", ("interval", "aht_s"), "duration", "aht_s"),
    Kpi("abandon", "Abandoned", ("interval", "abandon_rate_pct"), "percent", "abandon_rate_pct"),
    Kpi("available", "Available", ("agents", "available"), "count", "agents_available"),
    Kpi("on_call", "On call", ("agents", "on_call"), "count"),
    Kpi("wrap_up", "Wrap-up", ("agents", "wrap_up"), "count"),
    Kpi("paused", "Paused", ("agents", "paused"), "count"),
    Kpi("logged_in", "Logged in", ("agents", "logged_in"), "count"),
    Kpi("needed", "Needed / staffed", ("required_agents",), "ratio", "agents_short", other=("agents", "logged_in")),
)
KPI_KEYS: tuple[str, ...] = tuple(kpi.key for kpi in KPIS)
# A team's adherence tile: paths into the snapshot's teams[team].
TEAM_KPIS: tuple[Kpi, ...] = (
    Kpi("adherence", "Adherence", ("adherence", "adherence_pct"), "percent", "adherence_pct", True),
    Kpi(
        "out_now",
        "Out now / scheduled",
        ("adherence", "out_now"),
        "ratio",
        "adherence_pct",
        True,
        other=("adherence", "scheduled_now"),
    ),
    Kpi("conformance", "Conformance", ("adherence", "conformance_pct"), "percent"),
    Kpi("minutes_late", "Minutes late", ("adherence", "minutes_late"), "count"),
)
_BY_KEY = {kpi.key: kpi for kpi in KPIS}
SL_KEYS = frozenset({"sl_interval", "sl_day"})  # their label carries the queue's target, "80/20"


@dataclass(frozen=True)
class KpiValue:
    key: str
    label: str
    text: str
    level: Level


@dataclass(frozen=True)
class Tile:
    kind: TileKind
    name: str  # the queue, group or team
    title: str  # the tile's heading
    level: Level
    icon: str
    word: str
    kpis: tuple[KpiValue, ...]


def dig(entry: Any, path: Sequence[str]) -> Any:
    """``entry[path[0]][path[1]]...``, None where a step is missing."""
    for step in path:
        entry = entry.get(step) if isinstance(entry, Mapping) else None
    return entry


def _number_text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return "?"


def kpi_label(kpi: Kpi, queue: Mapping[str, Any]) -> str:
    """The label under a figure; service levels carry the target, ``"SL now 80/20"``, when there is one (not for
    a queue missing from the snapshot, nor for a group whose queues differ in target or threshold)."""
    target, threshold = queue.get("sl_target_pct"), queue.get("sl_threshold_s")
    if kpi.key in SL_KEYS and target is not None and threshold is not None:
        return f"{kpi.label} {_number_text(target)}/{_number_text(threshold)}"
    return kpi.label


def board_queues(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[str]:
    """The queues a board shows: on a rotating board those of page ``page`` (modulo the pages), else its
    ``queues`` in order, else those of its ``groups``, else every queue sorted."""
    pages = board.get("pages") or ()
    if pages:
        return [str(name) for name in pages[page % len(pages)].get("queues") or ()]
    named = [str(name) for name in board.get("queues") or ()]
    if named:
        return named
    queues = snapshot.get("queues") or {}
    groups = set(board.get("groups") or ())
    return sorted(name for name, queue in queues.items() if not groups or dig(queue, ("group",)) in groups)


def board_kpis(board: Mapping[str, Any]) -> list[Kpi]:
    """The board's figures in catalogue order (all of them when it names none; unknown keys ignored)."""
    wanted = set(board.get("tiles") or KPI_KEYS)
    return [kpi for kpi in KPIS if kpi.key in wanted]


def group_title(group: str, queues: int) -> str:
    """A group tile's heading: ``"care · 3 queues"``."""
    return f"{group} · {queues} queue{'' if queues == 1 else 's'}"


def board_units(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[tuple[TileKind, str]]:
    """The board's tiles as (kind, name), in order (see the module docstring)."""
    units: list[tuple[TileKind, str]]
    if board.get("group_tiles") and not board.get("pages"):
        groups = [str(name) for name in board.get("groups") or ()]
        named = [str(name) for name in board.get("queues") or ()]
        if not groups and not named:
            groups = snapshot_groups(snapshot)
            named = sorted(n for n, q in (snapshot.get("queues") or {}).items() if not dig(q, ("group",)))
        units = [("group", name) for name in groups] + [("queue", name) for name in named]
    else:
        units = [("queue", name) for name in board_queues(snapshot, board, page)]
    if board.get("team_tiles"):
        teams = [str(name) for name in board.get("teams") or ()] or sorted(snapshot.get("teams") or {})
        units += [("team", name) for name in teams]
    return units


def _values(kpis: Sequence[Kpi], entry: Mapping[str, Any], level_of: Mapping[str, Level]) -> tuple[KpiValue, ...]:
    return tuple(
        KpiValue(
            kpi.key,
            kpi_label(kpi, entry),
            fmt(kpi.format, dig(entry, kpi.path), dig(entry, kpi.other)),
            level_of.get(kpi.metric, "ok") if kpi.metric else "ok",
        )
        for kpi in kpis
    )


def _tile(kind: TileKind, name: str, title: str, values: tuple[KpiValue, ...], *extra: Level) -> Tile:
    level = worst([*(value.level for value in values), *extra])
    return Tile(kind, name, title, level, ICONS[level], WORDS[level], values)


def _by_name(levels: Mapping[tuple[str, str], Level]) -> dict[str, dict[str, Level]]:
    out: dict[str, dict[str, Level]] = {}
    for (name, metric), level in levels.items():
        out.setdefault(name, {})[metric] = level
    return out


def tile_models(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[Tile]:
    """The tiles of ``board`` (its page ``page`` when it rotates) for ``snapshot`` (see the module docstring)."""
    alerts = snapshot.get("alerts") or ()
    by_queue = _by_name(alert_levels(alerts))
    by_team = _by_name(team_levels(alerts, snapshot))
    kpis = board_kpis(board)
    tiles = []
    for kind, name in board_units(snapshot, board, page):
        if kind == "team":
            entry = dig(snapshot, ("teams", name)) or {}
            title = f"Adherence · {entry.get('name') or name}"  # the site file's display name of the team
            tiles.append(_tile(kind, name, title, _values(TEAM_KPIS, entry, by_team.get(name, {}))))
        elif kind == "group":
            entry = group_entry(snapshot, name)
            members = [by_queue.get(queue_name, {}) for queue_name in entry["queues"]]
            merged = {kpi.metric: worst(m.get(kpi.metric, "ok") for m in members) for kpi in kpis if kpi.metric}
            title = group_title(name, len(entry["queues"]))
            tiles.append(_tile(kind, name, title, _values(kpis, entry, merged), *(worst(m.values()) for m in members)))
        else:
            entry = dig(snapshot, ("queues", name)) or {}
            tiles.append(_tile(kind, name, name, _values(kpis, entry, by_queue.get(name, {}))))
    return tiles


def grid_shape(tiles: int) -> tuple[int, int]:
    """(columns, rows) for ``tiles`` tiles on a 16:9 screen: 1, 2 side by side, then about 16:9."""
    if tiles <= 2:
        return max(tiles, 1), 1
    columns = math.ceil(math.sqrt(tiles * 16 / 9 / 2))  # tiles are about twice as wide as tall
    columns = max(2, min(columns, tiles))
    return columns, math.ceil(tiles / columns)


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
        "icons": ICONS,
        "words": WORDS,
    }


def kpi_by_key(key: str) -> Kpi:
    return _BY_KEY[key]
