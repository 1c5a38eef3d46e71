"""How a TV tile shows a figure: value formats and the ok/warn/alarm level with its non-colour cue. Pure.

Theory of operation
-------------------
A figure reaches the TV as a number (or None when the window has no traffic). ``fmt`` turns it into
the text on the tile by its *format* name, and ``dash_app/tv_assets/tv.js`` has one function per
format name doing the same (``tests/dash_app/test_tv.py`` compares the browser's text with
:func:`dash_app.layout.tile_models` for the same snapshot, so the two cannot drift apart unseen):

* ``count``    -> ``"7"``; ``duration`` -> ``"42s"``, ``"3:07"``, ``"1:02:03"`` (whole seconds, truncated
  like a clock); ``percent`` -> ``"87%"`` (rounded half up); a missing value -> ``"—"``.
* ``ratio``    -> ``"needed / staffed"``, e.g. ``"5 / 7"`` (the Erlang C figure beside agents logged in).

Levels come from the snapshot's open ``alerts`` (``wallboard.core.alerting``): the worst level of the
alerts on one queue and metric (:func:`alert_levels`), or on one team and metric, an agent's alert
counting for the agent's team (:func:`team_levels`, for the adherence tiles). Colour is never the
only cue: each level has an icon (``ICONS``: ● ok, ▲ warn, ■ alarm) and a word, shown beside the colour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Level = Literal["ok", "warn", "alarm"]
Format = Literal["count", "duration", "percent", "ratio"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "alarm")  # worst last
ICONS: dict[Level, str] = {"ok": "●", "warn": "▲", "alarm": "■"}
WORDS: dict[Level, str] = {"ok": "OK", "warn": "WARN", "alarm": "ALARM"}
MISSING = "—"


def number(value: Any) -> float | None:
    """``value`` as a finite float, None for anything else (None, text, NaN, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def fmt_count(value: Any) -> str:
    found = number(value)
    return MISSING if found is None else str(math.floor(found + 0.5))


def fmt_duration(value: Any) -> str:
    found = number(value)
    if found is None:
        return MISSING
    seconds = max(0, math.floor(found))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}" if minutes else f"{secs}s"


def fmt_percent(value: Any) -> str:
    found = number(value)
    return MISSING if found is None else f"{math.floor(found + 0.5)}%"


def fmt_ratio(needed: Any, staffed: Any) -> str:
    return f"{fmt_count(needed)} / {fmt_count(staffed)}"


def fmt(format_name: Format, value: Any, other: Any = None) -> str:
    """The text of ``value`` in ``format_name`` (``other`` is the second number of a ratio)."""
    if format_name == "ratio":
        return fmt_ratio(value, other)
    return {"count": fmt_count, "duration": fmt_duration, "percent": fmt_percent}[format_name](value)


def worst(levels: Iterable[Level]) -> Level:
    """The worst of ``levels`` (ok for none)."""
    return max(levels, key=LEVELS.index, default="ok")


def alert_levels(alerts: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Level]:
    """The worst open level per (queue, metric) among the snapshot's ``alerts``."""
    out: dict[tuple[str, str], Level] = {}
    for alert in alerts:
        target = alert.get("target") or {}
        level = alert.get("level")
        if target.get("kind") != "queue" or level not in ("warn", "alarm"):
            continue
        key = (str(target.get("name")), str(alert.get("metric")))
        out[key] = worst([out.get(key, "ok"), level])
    return out


# A team's own adherence threshold colours the same KPI as its agents' adherence thresholds.
TEAM_METRIC_SHOWN_AS = {"team_adherence_pct": "adherence_pct"}


def team_levels(alerts: Iterable[Mapping[str, Any]], snapshot: Mapping[str, Any]) -> dict[tuple[str, str], Level]:
    """The worst open level per (team, metric): alerts on a team, and on an agent for the agent's team
    (``snapshot["agents"][agent]["team"]``; an agent of no team counts for none)."""
    agents = snapshot.get("agents") or {}
    out: dict[tuple[str, str], Level] = {}
    for alert in alerts:
        target = alert.get("target") or {}
        level = alert.get("level")
        if level not in ("warn", "alarm"):
            continue
        if target.get("kind") == "team":
            team = target.get("name")
        elif target.get("kind") == "agent":
            team = (agents.get(str(target.get("name"))) or {}).get("team")
        else:
            continue
        if team:
            metric = str(alert.get("metric"))
            key = (str(team), TEAM_METRIC_SHOWN_AS.get(metric, metric))
            out[key] = worst([out.get(key, "ok"), level])
    return out
