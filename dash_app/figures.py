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
* ``limit``    -> a rate to a tenth against its limit, ``"1.8% / 3%"`` (a campaign's drop rate: 2.96 % must not
  read as the 3 % limit).

Levels come from the snapshot's open ``alerts`` (``wallboard.core.alerting``): the worst level of the
alerts on one queue (or campaign: ``kind``) and metric (:func:`alert_levels`), or on one team and metric, an
agent's alert counting for the agent's team (:func:`team_levels`, for the adherence tiles). Colour is never the
only cue: each level has an icon (``ICONS``: ● ok, ▲ warn, ■ alarm) and a word, shown beside the colour.

Every word here is English and marked with :func:`dash_app.i18n.N_` (the level words, the seconds of a short
duration, the pending cue's templates): the browser translates them (tv.js, ``t(word)``); these functions give the
English text the tests compare the page with.

A threshold breached but not yet for its ``for_s`` is *pending* (the snapshot's ``pending``, from
``wallboard.core.alerts.Evaluator.pending_alerts``): :func:`pending_levels` / :func:`team_pending` give per
(queue or team, metric) the level coming and when, the soonest; the TV shows it with a hollow icon
(``PENDING_ICONS``: △ warn, □ alarm) and the time left, :func:`pending_text` ("WARN in 0:42").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from dash_app.i18n import N_

Level = Literal["ok", "warn", "alarm"]
Format = Literal["count", "duration", "percent", "ratio", "limit"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "alarm")  # worst last
ICONS: dict[Level, str] = {"ok": "●", "warn": "▲", "alarm": "■"}
# i18n: a tile's level, beside its colour and glyph (short, capitals: read from 5 m)
WORDS: dict[Level, str] = {"ok": N_("OK"), "warn": N_("WARN"), "alarm": N_("ALARM")}
PENDING_ICONS: dict[Level, str] = {"ok": "", "warn": "△", "alarm": "□"}
Pending = tuple[Level, str]  # the level coming and when it is due (ISO 8601)
MISSING = "—"
# i18n: a duration under a minute, "42s" (longer ones are m:ss)
SECONDS = N_("{seconds}s")
# i18n: a tile's pending cue: the level coming ("WARN") and the time left ("0:42"), "WARN in 0:42"
PENDING_IN = N_("{level} in {time}")
# i18n: a tile's pending cue once due: the level coming ("WARN"), "WARN now"
PENDING_NOW = N_("{level} now")


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
    return f"{minutes}:{secs:02d}" if minutes else SECONDS.format(seconds=secs)


def fmt_percent(value: Any) -> str:
    found = number(value)
    return MISSING if found is None else f"{math.floor(found + 0.5)}%"


def fmt_ratio(needed: Any, staffed: Any) -> str:
    return f"{fmt_count(needed)} / {fmt_count(staffed)}"


def fmt_limit(rate: Any, limit: Any) -> str:
    """``"1.8% / 3%"``: ``rate`` to a tenth (half up), ``limit`` as it is (``"2.5%"``); a missing one a dash."""
    found, most = number(rate), number(limit)
    shown = MISSING if found is None else f"{math.floor(found * 10 + 0.5) / 10:.1f}%"
    return f"{shown} / {MISSING if most is None else f'{most:g}%'}"


def fmt(format_name: Format, value: Any, other: Any = None) -> str:
    """The text of ``value`` in ``format_name`` (``other`` is the second number of a ratio, a limit's limit)."""
    if format_name == "ratio":
        return fmt_ratio(value, other)
    if format_name == "limit":
        return fmt_limit(value, other)
    return {"count": fmt_count, "duration": fmt_duration, "percent": fmt_percent}[format_name](value)


def worst(levels: Iterable[Level]) -> Level:
    """The worst of ``levels`` (ok for none)."""
    return max(levels, key=LEVELS.index, default="ok")


def alert_levels(alerts: Iterable[Mapping[str, Any]], kind: str = "queue") -> dict[tuple[str, str], Level]:
    """The worst open level per (queue, metric) among the snapshot's ``alerts`` (per campaign: ``kind``)."""
    out: dict[tuple[str, str], Level] = {}
    for alert in alerts:
        target = alert.get("target") or {}
        level = alert.get("level")
        if target.get("kind") != kind or level not in ("warn", "alarm"):
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


def sooner(a: Pending | None, b: Pending | None) -> Pending | None:
    """The pending level due first (the worse one when due together); None counts as never."""
    if a is None or b is None:
        return a or b
    key_a, key_b = (_instant(a[1]), -LEVELS.index(a[0])), (_instant(b[1]), -LEVELS.index(b[0]))
    return a if key_a <= key_b else b


def _instant(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return math.inf


def _pending(
    entries: Iterable[Mapping[str, Any]], owner: Callable[[Mapping[str, Any]], str | None]
) -> dict[tuple[str, str], Pending]:
    out: dict[tuple[str, str], Pending] = {}
    for entry in entries:
        level, due, name = entry.get("level"), entry.get("due"), owner(entry.get("target") or {})
        if level not in ("warn", "alarm") or not isinstance(due, str) or not name:
            continue
        metric = str(entry.get("metric"))
        key = (name, TEAM_METRIC_SHOWN_AS.get(metric, metric))
        out[key] = sooner(out.get(key), (level, due)) or (level, due)
    return out


def pending_levels(entries: Iterable[Mapping[str, Any]], kind: str = "queue") -> dict[tuple[str, str], Pending]:
    """The soonest pending level per (queue, metric) among the snapshot's ``pending`` entries (campaign: ``kind``)."""
    return _pending(entries, lambda target: str(target.get("name")) if target.get("kind") == kind else None)


def team_pending(entries: Iterable[Mapping[str, Any]], snapshot: Mapping[str, Any]) -> dict[tuple[str, str], Pending]:
    """The soonest pending level per (team, metric): on a team, or on an agent for the agent's team."""
    agents = snapshot.get("agents") or {}

    def owner(target: Mapping[str, Any]) -> str | None:
        if target.get("kind") == "team":
            return str(target.get("name"))
        if target.get("kind") == "agent":
            team = (agents.get(str(target.get("name"))) or {}).get("team")
            return str(team) if team else None
        return None

    return _pending(entries, owner)


def pending_text(level: Level, due: str, now: float) -> str:
    """``"WARN in 0:42"``: the level coming and the whole seconds left (rounded up) until ``due``, from ``now``
    (epoch seconds, the server's clock); ``"WARN now"`` once due."""
    left = _instant(due) - now
    if not math.isfinite(left) or left <= 0:
        return PENDING_NOW.format(level=WORDS[level])
    return PENDING_IN.format(level=WORDS[level], time=fmt_duration(math.ceil(left)))
