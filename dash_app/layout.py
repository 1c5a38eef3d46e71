"""The TV board's tiles as data: which figures a board shows, per queue, with their text and level. Pure.

Theory of operation
-------------------
A *board* (stored through ``/api/v1/boards``, see ``wallboard.api.board_routes``) names its queues
(or queue groups of the site file; none: every queue), its tiles (figure keys of ``KPIS``; none: all
of them, the standard board) and optional rotation pages (each its own queues, shown in turn).
:func:`tile_models` turns one snapshot, one board (and the page showing) into the tiles a TV shows:
per queue, each figure's text (``dash_app.figures``) and level (the worst open alert on that queue
and the figure's threshold metric), and the tile's level (the worst of its figures).
:func:`grid_shape` chooses columns and rows for a 16:9 screen.

The TV page renders in the browser, from the websocket, with ``dash_app/tv_assets/tv.js``. It gets
this module's catalogue (:func:`catalogue`: keys, labels, snapshot paths, formats, metrics) in the
page, so labels, paths and metric mapping have a single source; the formats and the grid shape are
re-implemented there in a few lines, and ``tests/dash_app/test_tv.py`` checks that the browser shows
exactly :func:`tile_models` for a published snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash_app.figures import ICONS, WORDS, Format, Level, alert_levels, fmt, worst


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
    queue: str
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
    """The label under a figure; service levels carry the target: ``"SL now 80/20"``."""
    if kpi.key in SL_KEYS:
        return f"{kpi.label} {_number_text(queue.get('sl_target_pct'))}/{_number_text(queue.get('sl_threshold_s'))}"
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


def tile_models(snapshot: Mapping[str, Any], board: Mapping[str, Any], page: int = 0) -> list[Tile]:
    """The tiles of ``board`` (its page ``page`` when it rotates) for ``snapshot`` (see the module docstring)."""
    levels = alert_levels(snapshot.get("alerts") or ())
    kpis = board_kpis(board)
    tiles = []
    for name in board_queues(snapshot, board, page):
        queue = dig(snapshot, ("queues", name)) or {}
        values = tuple(
            KpiValue(
                kpi.key,
                kpi_label(kpi, queue),
                fmt(kpi.format, dig(queue, kpi.path), dig(queue, kpi.other)),
                levels.get((name, kpi.metric), "ok") if kpi.metric else "ok",
            )
            for kpi in kpis
        )
        level = worst(value.level for value in values)
        tiles.append(Tile(name, level, ICONS[level], WORDS[level], values))
    return tiles


def grid_shape(tiles: int) -> tuple[int, int]:
    """(columns, rows) for ``tiles`` tiles on a 16:9 screen: 1, 2 side by side, then about 16:9."""
    if tiles <= 2:
        return max(tiles, 1), 1
    columns = math.ceil(math.sqrt(tiles * 16 / 9 / 2))  # tiles are about twice as wide as tall
    columns = max(2, min(columns, tiles))
    return columns, math.ceil(tiles / columns)


def catalogue() -> dict[str, Any]:
    """What the browser script needs from this module (JSON-ready)."""
    return {
        "kpis": [
            {
                "key": kpi.key,
                "label": kpi.label,
                "path": list(kpi.path),
                "other": list(kpi.other),
                "format": kpi.format,
                "metric": kpi.metric,
                "primary": kpi.primary,
                "sl": kpi.key in SL_KEYS,
            }
            for kpi in KPIS
        ],
        "icons": ICONS,
        "words": WORDS,
    }


def kpi_by_key(key: str) -> Kpi:
    return _BY_KEY[key]
