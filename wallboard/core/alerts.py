"""Alerts: thresholds evaluated against engine snapshots, one small state machine per (target, threshold).

Theory of operation
-------------------
``Evaluator(thresholds, tz).evaluate(snapshot, now, health)`` reads each threshold's metric for
each of its targets (a queue, an agent, a team, the site, a collector) and returns one ``Status``
per pair: the value, the level and the reason in words ("SL 62 % < 70 % for 3 min"). It never reads
the clock and never does I/O: ``now`` is an argument, so replays and tests are deterministic.

The level of a pair is decided in this order (``_judge``)::

    outside the threshold's active hours           -> quiet
    offered calls in the window < min_offered      -> insufficient_traffic
    no value (no SL yet, no adherence, no health)  -> no_data
    otherwise                                      -> ok | warn | alarm, by the rules below

The three first levels are "not judged": they clear a firing level at once and forget any
pending breach, so judging starts afresh when they end.

Among ok, warn and alarm (``_advance``), each level L (warn, alarm) keeps the time its current
breach started:

* while L is not active, the breach starts at the first evaluation that sees the value strictly
  past L's level and is forgotten at the first one that does not; L is entered once a breach has
  lasted ``for_s`` (so a blip shorter than ``for_s`` never fires, and warn -> alarm escalates by the
  same rule);
* while L is active (the level is L or above), it holds until an evaluation sees the value back
  past L's clear point (``Threshold.warn_clear`` / ``alarm_clear``): hysteresis, so a value wobbling
  around the level does not flap. Clearing (and de-escalating alarm -> warn) is immediate.

The level is the highest L entered or held. A breach that has not yet lasted ``for_s`` is *pending*: the
status says which level is coming (``Status.pending``) and when it will be entered if the value stays
(``Status.due``, the breach's start plus ``for_s``); when warn and alarm are both pending, the one due
first (alarm when they are due together: it is the level that will show). ``Evaluator.pending_alerts()`` lists
the pending pairs of the latest ``evaluate`` as snapshot entries (``schema.PendingAlert``), so a wallboard can
show "warn in 0:40" on a figure still inside its delay. Every level change is recorded as a ``Change``
(``Evaluator.changes``, the changes of the latest ``evaluate``) so the engine can build the alert
lifecycle. A pair seen for the first time starts silently at its level unless that level fires.
A pair that disappears (a queue or agent gone from the snapshot, a threshold removed) is forgotten;
if it was firing, a change to ``no_data`` says so.

Targets and values (read by ``wallboard.core.alert_readings``; snapshot schema in ``wallboard.core.schema``):
queue metrics read
``queues[q]`` (``waiting``, ``longest_wait_s``, the ``interval``/``day`` windows, ``agents``,
``required_agents``; agents short = required - logged in); ``agents_available`` with a team scope
reads ``teams[t].agents.available``; ``campaign_drop_rate_pct`` reads ``campaigns[c].drop_rate_pct`` (the
regulator's window, ``wallboard.core.campaigns``); agent metrics read ``agents[id]``: time in the current pause
(``pause_since`` when the snapshot has it, else ``time_in_state_s``; optionally of one ``reason``),
time on the current call, and ``adherence_pct`` (merged by the runner from its adherence book,
``wallboard.core.adherence.tracker``; no_data without a schedule in force or for an agent not scheduled
today, which the reason says). Data age is ``now`` minus the last event: the snapshot's
``last_event_ts`` when it has one, else the engine's health hash ``last_event_ts``, else the newest
collector's. ``collector_connected`` reads the ``connected`` field of every ``collector:*`` health
hash. The evaluator is plain data and pickles with the engine's checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from wallboard.core import schema

# what each metric reads from a snapshot lives apart; Target stays importable (and pickled) from here
from wallboard.core.alert_readings import AGENT_FIGURE, Reading, readings
from wallboard.core.alert_readings import Target as Target
from wallboard.core.thresholds import Direction, Metric, Threshold, ThresholdSet, format_duration


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    ALARM = "alarm"
    NO_DATA = "no_data"
    QUIET = "quiet"
    INSUFFICIENT_TRAFFIC = "insufficient_traffic"


FIRING = frozenset({Level.WARN, Level.ALARM})
_JUDGED = frozenset({Level.OK, Level.WARN, Level.ALARM})  # the others are "not judged": they forget breaches
_RANK = {Level.WARN: 1, Level.ALARM: 2}  # every other level ranks 0


@dataclass(frozen=True, slots=True)
class Status:
    """One threshold's verdict on one target at one evaluation."""

    target: Target
    threshold_id: str
    metric: Metric
    value: float | None
    level: Level
    since: datetime  # when the current level started
    reason: str
    pending: Level | None = None  # the level a breach still inside its for_s delay is heading for
    due: datetime | None = None  # when ``pending`` is entered if the value stays past it

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": {"kind": self.target.kind, "name": self.target.name},
            "threshold_id": self.threshold_id,
            "metric": self.metric.value,
            "value": self.value,
            "level": self.level.value,
            "since": self.since.astimezone(UTC).isoformat(),
            "reason": self.reason,
        }
        if self.pending is not None and self.due is not None:
            out |= {"pending": self.pending.value, "due": self.due.astimezone(UTC).isoformat()}
        return out

    def pending_entry(self) -> schema.PendingAlert | None:
        """The snapshot's ``pending`` entry for this status, None when nothing is pending."""
        if self.pending is None or self.due is None:
            return None
        return {
            "target": {"kind": cast("schema.TargetKind", self.target.kind), "name": self.target.name},
            "threshold_id": self.threshold_id,
            "metric": self.metric.value,
            "level": cast("schema.AlertLevel", self.pending.value),  # warn or alarm
            "value": self.value,
            "due": self.due.astimezone(UTC).isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """A level change of one (target, threshold) pair, at the evaluation time ``at``."""

    target: Target
    threshold_id: str
    metric: Metric
    old: Level
    new: Level
    at: datetime
    value: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": {"kind": self.target.kind, "name": self.target.name},
            "threshold_id": self.threshold_id,
            "metric": self.metric.value,
            "old": self.old.value,
            "new": self.new.value,
            "at": self.at.astimezone(UTC).isoformat(),
            "value": self.value,
            "reason": self.reason,
        }


@dataclass(slots=True)
class _Track:
    """The state of one pair: its level, since when, and when the current warn/alarm breach started."""

    metric: Metric
    level: Level
    since: datetime
    warn_from: datetime | None = None
    alarm_from: datetime | None = None
    seen: int = 0  # the evaluation that last saw this pair

    def forget(self) -> None:
        self.warn_from = self.alarm_from = None


Key = tuple[str, str, str]  # target kind, target name, threshold id


class Evaluator:
    """Evaluates a ``ThresholdSet`` against snapshots; keeps each pair's state between calls."""

    _pending: tuple[Status, ...] = ()  # the latest evaluation's pending statuses (a class default: old checkpoints)

    def __init__(self, thresholds: ThresholdSet | Iterable[Threshold], tz: ZoneInfo | str) -> None:
        self._tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._tracks: dict[Key, _Track] = {}
        self._round = 0
        self.changes: list[Change] = []
        self.set_thresholds(thresholds)

    @property
    def thresholds(self) -> ThresholdSet:
        return self._set

    def set_thresholds(self, thresholds: ThresholdSet | Iterable[Threshold]) -> None:
        """Use new thresholds; pairs of ids still present keep their state, the others leave at the next call."""
        self._set = thresholds if isinstance(thresholds, ThresholdSet) else ThresholdSet(thresholds=tuple(thresholds))
        self._skip = {t.id: self._set.overridden(t) for t in self._set.thresholds}

    def evaluate(
        self, snapshot: Mapping[str, Any], now: datetime, health: Mapping[str, Any] | None = None
    ) -> list[Status]:
        """Every (target, threshold) status at ``now``; the level changes are in ``self.changes`` afterwards."""
        self.changes = []
        self._round += 1
        statuses: list[Status] = []
        for threshold in self._set.thresholds:
            active = threshold.is_active(now, self._tz)
            for reading in readings(threshold, self._skip[threshold.id], snapshot, health or {}, now):
                statuses.append(self._judge(threshold, reading, active, now))
        self._forget_unseen(now)
        self._pending = tuple(status for status in statuses if status.pending is not None)
        return statuses

    def pending_alerts(self) -> list[schema.PendingAlert]:
        """The snapshot's ``pending``: the pairs of the latest ``evaluate`` whose breach is inside its ``for_s``,
        soonest due first."""
        entries = [entry for status in self._pending if (entry := status.pending_entry()) is not None]
        return sorted(entries, key=lambda entry: (entry["due"], entry["threshold_id"], str(entry["target"])))

    def _judge(self, threshold: Threshold, reading: Reading, active: bool, now: datetime) -> Status:
        target = reading.target
        key = (target.kind, target.name, threshold.id)
        track = self._tracks.get(key)
        first = track is None
        if track is None:
            track = self._tracks[key] = _Track(threshold.metric, Level.OK, now)
        track.seen = self._round
        value = reading.value
        if not active:
            level = Level.QUIET
        elif reading.offered is not None and reading.offered < threshold.min_offered:
            level = Level.INSUFFICIENT_TRAFFIC
        elif value is None:
            level = Level.NO_DATA
        else:
            level = _advance(track, threshold, value, now)
        if level not in _JUDGED:
            track.forget()
        reason = _reason(threshold, reading, track, level, now)
        pending, due = _pending(track, threshold, level) if level in _JUDGED else (None, None)
        if level is not track.level:
            if not first or level in FIRING:
                self.changes.append(
                    Change(target, threshold.id, threshold.metric, track.level, level, now, value, reason)
                )
            track.level, track.since = level, now
        return Status(target, threshold.id, threshold.metric, value, level, track.since, reason, pending, due)

    def _forget_unseen(self, now: datetime) -> None:
        for key in [key for key, track in self._tracks.items() if track.seen != self._round]:
            track = self._tracks.pop(key)
            if track.level in FIRING:
                reason = "target or threshold no longer present"
                target = Target(key[0], key[1])
                self.changes.append(Change(target, key[2], track.metric, track.level, Level.NO_DATA, now, None, reason))


# -- the state machine ------------------------------------------------------------------------------


def _advance(track: _Track, threshold: Threshold, value: float, now: datetime) -> Level:
    """The ok/warn/alarm level after seeing ``value`` at ``now`` (module docstring: rules)."""
    rank = _RANK.get(track.level, 0)
    if threshold.warn is not None:
        track.warn_from = _breach(
            track.warn_from, rank >= 1, threshold, value, threshold.warn, threshold.warn_clear, now
        )
    if threshold.alarm is not None:
        track.alarm_from = _breach(
            track.alarm_from, rank >= 2, threshold, value, threshold.alarm, threshold.alarm_clear, now
        )
    if track.alarm_from is not None and (rank >= 2 or _lasted(track.alarm_from, now, threshold.for_s)):
        return Level.ALARM
    if track.warn_from is not None and (rank >= 1 or _lasted(track.warn_from, now, threshold.for_s)):
        return Level.WARN
    return Level.OK


def _pending(track: _Track, threshold: Threshold, level: Level) -> tuple[Level | None, datetime | None]:
    """The level a breach inside its ``for_s`` heads for and when it is due (module docstring), else (None, None)."""
    rank = _RANK.get(level, 0)
    delay = timedelta(seconds=threshold.for_s)
    coming = [
        (start + delay, -_RANK[name], name)
        for name, start in ((Level.WARN, track.warn_from), (Level.ALARM, track.alarm_from))
        if start is not None and _RANK[name] > rank
    ]
    if not coming:
        return None, None
    due, _, name = min(coming)
    return name, due


def _breach(
    start: datetime | None,
    active: bool,
    threshold: Threshold,
    value: float,
    level: float,
    clear: float | None,
    now: datetime,
) -> datetime | None:
    """When the breach of one level started, or None: held past ``clear`` while active, else past ``level``."""
    bound = clear if active and clear is not None else level
    if not threshold.beyond(value, bound):
        return None
    return start or now


def _lasted(start: datetime, now: datetime, seconds: float) -> bool:
    return (now - start).total_seconds() >= seconds


# -- reasons in words -------------------------------------------------------------------------------

# Metrics whose value is itself a duration: their reasons need no "for 3 min" suffix.
_DURATION_VALUED = frozenset({Metric.LONGEST_WAIT_S, Metric.AGENT_PAUSE_S, Metric.AGENT_ON_CALL_S, Metric.DATA_AGE_S})


def _show(threshold: Threshold, value: float) -> str:
    unit = threshold.spec.unit
    if unit == "seconds":
        return format_duration(value)
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text} %" if unit == "percent" else text


def _op(threshold: Threshold) -> str:
    return ">" if threshold.direction is Direction.ABOVE else "<"


def _said(threshold: Threshold, reading: Reading, value: float) -> str:
    """The value in words: "SL 62 %", "Alice in Lunch for 47 min", "No event for 2 min"."""
    shown = _show(threshold, value)
    metric, who = threshold.metric, reading.subject
    if metric is Metric.AGENT_PAUSE_S:
        if not value:
            return f"{who} not in {threshold.reason or 'a pause'}"
        return f"{who} in {reading.detail} for {shown}" if reading.detail else f"{who} paused for {shown}"
    if metric is Metric.AGENT_ON_CALL_S:
        return f"{who} on one call for {shown}" if value else f"{who} not on a call"
    if metric in AGENT_FIGURE:
        return f"{who}: {threshold.spec.words.lower()} {shown}"
    if metric is Metric.ADHERENCE_PCT:
        return f"{who} adherence {shown}"
    if metric is Metric.TEAM_ADHERENCE_PCT:
        return f"Team {who} adherence {shown}"
    if metric is Metric.DATA_AGE_S:
        return f"No event for {shown}"
    if metric is Metric.CAMPAIGN_DROP_RATE_PCT:
        return f"Campaign {who}: drop rate {shown}"
    if metric is Metric.COLLECTOR_CONNECTED:
        return f"Collector {who} {'connected' if value >= 1 else 'disconnected'}"
    return f"{threshold.spec.words} {shown}"


def _compared(threshold: Threshold, reading: Reading, value: float, level: float) -> str:
    if threshold.metric is Metric.COLLECTOR_CONNECTED:
        return _said(threshold, reading, value)
    return f"{_said(threshold, reading, value)} {_op(threshold)} {_show(threshold, level)}"


def _reason(threshold: Threshold, reading: Reading, track: _Track, level: Level, now: datetime) -> str:
    value = reading.value
    if level is Level.QUIET:
        return f"quiet hours (active {threshold.active_text()})"
    if level is Level.INSUFFICIENT_TRAFFIC:
        window = "today" if threshold.spec.window == "day" else "this interval"
        return f"{reading.offered} offered {window}, fewer than {threshold.min_offered}: not judged"
    if value is None:
        if threshold.metric is Metric.ADHERENCE_PCT:
            return f"no adherence figure ({reading.detail or 'schedules are not loaded'})"
        if threshold.metric is Metric.TEAM_ADHERENCE_PCT:
            return "no adherence figure (nobody of the team is scheduled today, or schedules are not loaded)"
        words = threshold.spec.words
        return f"no {words if words.split()[0].isupper() else words.lower()} figure yet"
    if level in FIRING:
        return _firing_reason(threshold, reading, track, level, value, now)
    pending = track.alarm_from or track.warn_from
    if pending is not None:
        name = "alarm" if track.alarm_from is not None else "warn"
        bound = threshold.alarm if name == "alarm" else threshold.warn
        assert bound is not None
        lasted = _for(now, pending)
        return (
            f"{_compared(threshold, reading, value, bound)}{lasted} ({name} after {format_duration(threshold.for_s)})"
        )
    return f"{_said(threshold, reading, value)}, within limits ({_limits(threshold)})"


def _firing_reason(
    threshold: Threshold, reading: Reading, track: _Track, level: Level, value: float, now: datetime
) -> str:
    alarm = level is Level.ALARM
    bound = threshold.alarm if alarm else threshold.warn
    clear = threshold.alarm_clear if alarm else threshold.warn_clear
    start = track.alarm_from if alarm else track.warn_from
    assert bound is not None and clear is not None
    lasted = _for(now, start) if threshold.metric not in _DURATION_VALUED else ""
    if threshold.beyond(value, bound) or threshold.metric is Metric.COLLECTOR_CONNECTED:
        return f"{_compared(threshold, reading, value, bound)}{lasted}"
    back = "<=" if threshold.direction is Direction.ABOVE else ">="
    return f"{_said(threshold, reading, value)}, {level} until {back} {_show(threshold, clear)}{lasted}"


def _for(now: datetime, start: datetime | None) -> str:
    """ " for 3 min" since ``start``; empty under a second (a level entered with for_s 0)."""
    if start is None or (now - start).total_seconds() < 1:
        return ""
    return f" for {format_duration((now - start).total_seconds())}"


@lru_cache(maxsize=1024)
def _limits(threshold: Threshold) -> str:
    op = _op(threshold)
    parts = [
        f"{name} {op} {_show(threshold, level)}"
        for name, level in (("warn", threshold.warn), ("alarm", threshold.alarm))
        if level is not None
    ]
    return ", ".join(parts)
