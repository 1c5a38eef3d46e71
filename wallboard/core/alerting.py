"""Alert lifecycle: the alerts a site has open, built on the ``Evaluator``'s level changes and operators' actions.

Theory of operation
-------------------
An ``AlertBook`` owns an ``Evaluator`` (``wallboard.core.alerts``). ``evaluate(snapshot, now, health)``
runs it; each (target, threshold) pair whose level enters warn or alarm opens an *alert* with a
stable ``alert_id`` (``<threshold>:<target kind>:<target name>:<epoch of firing>``). The alert lives
until the pair's level leaves warn/alarm (ok, quiet, insufficient_traffic, no_data: the Evaluator
applies hysteresis and minimum durations, so a resolved alert really cleared) or the pair disappears
(queue, agent or threshold gone). Operators act on open alerts with ``apply(AlertAction)``: the
runner reads those actions from the event stream, so they are applied in order and exactly once
(a repeated idempotency ``key`` is refused as a duplicate).

The states and transitions, all of them here (``_TABLE`` names the states an action accepts)::

    from                   on                                   to              record        notify
    -                      level enters warn or alarm           firing          fired         yes
    firing, acknowledged   warn -> alarm                        firing          escalated     yes
    snoozed                warn -> alarm                        snoozed         escalated     no
    any open               alarm -> warn                        (same)          deescalated   no
    any open               ack (again: who and note updated)    acknowledged    acknowledged  yes
    any open               snooze until T (T after the action)  snoozed         snoozed       yes
    snoozed                unsnooze, or T passed at evaluate    firing          unsnoozed     yes
    any open               note                                 (same)          noted         no
    any open               level not warn/alarm, or pair gone   resolved        resolved      yes

So an escalation re-notifies even when the warn was acknowledged (the acknowledgement was of the
warn: it is dropped), while a snoozed alert stays silent until its snooze ends and then, if still
open, notifies again with its current level. Every transition yields one ``Record`` (the
``wb:{site}:alerts`` stream entry, read by the notifier and the alerts API) whose ``key``,
``<alert_id>:<transition>:<n>`` (n counts the alert's records from 1), is unique and lets a
webhook receiver drop a re-delivered notification. An action the book cannot apply raises
``ActionRejected`` with a reason (``unknown_alert``, ``resolved_alert``, ``duplicate``,
``not_snoozed``, ``until_not_after_action``); the book is unchanged.

``alerts()`` is the snapshot's ``alerts`` list: open alerts, alarms first, then by firing time.
Pure: no clock (``now`` and the actions' ``ts`` are the only times), no I/O, and the book pickles
with the engine's checkpoint.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from wallboard.core import schema
from wallboard.core.alert_rules import WARN_SEVERITY
from wallboard.core.alerts import FIRING, Change, Evaluator, Key, Level, Status, Target
from wallboard.core.events import AlertAction
from wallboard.core.thresholds import Metric, Threshold, ThresholdSet
from wallboard.errors import WallboardError

CLOSED_MEMORY = 10_000  # resolved alert ids remembered (actions on them are refused as resolved_alert)
ACTION_KEYS_MEMORY = 10_000  # idempotency keys of applied actions remembered
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


class AlertState(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Transition(StrEnum):
    FIRED = "fired"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    UNSNOOZED = "unsnoozed"
    NOTED = "noted"
    RESOLVED = "resolved"


_OPEN = frozenset({AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.SNOOZED})
# The states each action accepts (any other open state: the action is refused as not_snoozed).
_TABLE: dict[str, frozenset[AlertState]] = {
    "ack": _OPEN,
    "snooze": _OPEN,
    "unsnooze": frozenset({AlertState.SNOOZED}),
    "note": _OPEN,
}
_ACTION_TRANSITION = {
    "ack": Transition.ACKNOWLEDGED,
    "snooze": Transition.SNOOZED,
    "unsnooze": Transition.UNSNOOZED,
    "note": Transition.NOTED,
}


class AlertingError(WallboardError):
    """Base of this module's errors."""


class ActionRejected(AlertingError):
    """An operator action the book cannot apply; ``reason`` is a short code, the message says why in words."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(slots=True)
class Alert:
    """One open alert: what fired, its current level and value, and what operators did about it."""

    alert_id: str
    threshold_id: str
    target: Target
    metric: Metric
    level: Level
    state: AlertState
    value: float | None
    reason: str
    since: datetime  # when it fired
    severity: str
    label: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    note: str | None = None
    snoozed_until: datetime | None = None
    records: int = 0

    def as_dict(self) -> schema.OpenAlert:
        """The snapshot's entry for this alert (``wallboard.core.schema.OpenAlert``; optional fields only when set)."""
        entry: schema.OpenAlert = {
            "alert_id": self.alert_id,
            "threshold_id": self.threshold_id,
            "target": {"kind": cast("schema.TargetKind", self.target.kind), "name": self.target.name},
            "metric": self.metric.value,
            "level": cast("schema.AlertLevel", self.level.value),  # warn or alarm while open
            "severity": cast("schema.AlertSeverity", self.severity),
            "state": cast("schema.AlertState", self.state.value),  # never resolved while open
            "value": self.value,
            "reason": self.reason,
            "since": _iso(self.since),
        }
        if self.label:
            entry["label"] = self.label
        if self.acknowledged_by is not None:
            entry["acknowledged_by"] = self.acknowledged_by
        if self.acknowledged_at is not None:
            entry["acknowledged_at"] = _iso(self.acknowledged_at)
        if self.note is not None:
            entry["note"] = self.note
        if self.snoozed_until is not None:
            entry["snoozed_until"] = _iso(self.snoozed_until)
        return entry


@dataclass(frozen=True, slots=True)
class Record:
    """One lifecycle transition: an entry of the ``wb:{site}:alerts`` stream and the payload of a notification."""

    key: str  # <alert_id>:<transition>:<n>, unique: the receivers' idempotency key
    alert_id: str
    transition: Transition
    threshold_id: str
    target: Target
    metric: Metric
    level: Level
    severity: str
    state: AlertState
    value: float | None
    reason: str
    at: datetime
    since: datetime
    notify: bool
    label: str = ""
    by: str | None = None
    note: str | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "key": self.key,
            "alert_id": self.alert_id,
            "transition": self.transition.value,
            "threshold_id": self.threshold_id,
            "target": {"kind": self.target.kind, "name": self.target.name},
            "metric": self.metric.value,
            "level": self.level.value,
            "severity": self.severity,
            "state": self.state.value,
            "value": self.value,
            "reason": self.reason,
            "at": _iso(self.at),
            "since": _iso(self.since),
            "notify": self.notify,
        }
        if self.label:
            record["label"] = self.label
        if self.by is not None:
            record["by"] = self.by
        if self.note is not None:
            record["note"] = self.note
        if self.until is not None:
            record["until"] = _iso(self.until)
        return record


@dataclass(slots=True)
class _Memory:
    """A set that remembers its last ``size`` items."""

    size: int
    order: deque[str] = field(default_factory=deque)
    items: set[str] = field(default_factory=set)

    def add(self, item: str) -> None:
        if item in self.items:
            return
        self.order.append(item)
        self.items.add(item)
        if len(self.order) > self.size:
            self.items.discard(self.order.popleft())


class AlertBook:
    """The open alerts of one site, kept from evaluation to evaluation (see the module docstring)."""

    def __init__(self, thresholds: ThresholdSet | Iterable[Threshold], tz: ZoneInfo | str) -> None:
        self.evaluator = Evaluator(thresholds, tz)
        self._open: dict[str, Alert] = {}
        self._by_pair: dict[Key, str] = {}
        self._closed = _Memory(CLOSED_MEMORY)
        self._action_keys = _Memory(ACTION_KEYS_MEMORY)

    @property
    def thresholds(self) -> ThresholdSet:
        return self.evaluator.thresholds

    def set_thresholds(self, thresholds: ThresholdSet | Iterable[Threshold]) -> None:
        """Use new thresholds; alerts of removed thresholds resolve at the next ``evaluate``."""
        self.evaluator.set_thresholds(thresholds)

    def get(self, alert_id: str) -> Alert | None:
        return self._open.get(alert_id)

    def is_resolved(self, alert_id: str) -> bool:
        """Whether ``alert_id`` was an alert of this book that resolved (among the last CLOSED_MEMORY)."""
        return alert_id in self._closed.items

    def __len__(self) -> int:
        return len(self._open)

    def alerts(self) -> list[schema.OpenAlert]:
        """The snapshot's ``alerts``: open alerts, alarms first, then oldest first."""
        ordered = sorted(self._open.values(), key=lambda a: (a.level is not Level.ALARM, a.since, a.alert_id))
        return [alert.as_dict() for alert in ordered]

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(
        self, snapshot: Mapping[str, Any], now: datetime, health: Mapping[str, Any] | None = None
    ) -> list[Record]:
        """Evaluate the thresholds at ``now``; returns the records of every transition, in order."""
        statuses = self.evaluator.evaluate(snapshot, now, health)
        records = [record for change in self.evaluator.changes if (record := self._on_change(change)) is not None]
        self._refresh(statuses)
        records.extend(self._end_snoozes(now))
        return records

    def _on_change(self, change: Change) -> Record | None:
        pair = (change.target.kind, change.target.name, change.threshold_id)
        alert_id = self._by_pair.get(pair)
        alert = self._open.get(alert_id) if alert_id is not None else None
        if alert is None:
            return self._fire(pair, change) if change.new in FIRING else None
        alert.value, alert.reason = change.value, change.reason
        if change.new not in FIRING:
            return self._resolve(pair, alert, change.at)
        alert.level = change.new
        alert.severity = self._severity(change.threshold_id, change.new, alert.severity)
        if change.new is Level.ALARM:
            silent = alert.state is AlertState.SNOOZED
            if not silent:
                alert.state, alert.acknowledged_by, alert.acknowledged_at = AlertState.FIRING, None, None
            return self._record(alert, Transition.ESCALATED, change.at, notify=not silent)
        return self._record(alert, Transition.DEESCALATED, change.at, notify=False)

    def _fire(self, pair: Key, change: Change) -> Record:
        threshold = self.evaluator.thresholds.get(change.threshold_id)
        alert = Alert(
            alert_id=self._new_id(change),
            threshold_id=change.threshold_id,
            target=change.target,
            metric=change.metric,
            level=change.new,
            state=AlertState.FIRING,
            value=change.value,
            reason=change.reason,
            since=change.at,
            severity=self._severity(change.threshold_id, change.new, WARN_SEVERITY),
            label=threshold.label if threshold is not None else "",
        )
        self._open[alert.alert_id] = alert
        self._by_pair[pair] = alert.alert_id
        return self._record(alert, Transition.FIRED, change.at, notify=True)

    def _new_id(self, change: Change) -> str:
        name = _UNSAFE.sub("_", change.target.name)
        base = f"{change.threshold_id}:{change.target.kind}:{name}:{int(change.at.timestamp())}"
        alert_id, counter = base, 2
        while alert_id in self._open or alert_id in self._closed.items:
            alert_id, counter = f"{base}-{counter}", counter + 1
        return alert_id

    def _severity(self, threshold_id: str, level: Level, current: str) -> str:
        threshold = self.evaluator.thresholds.get(threshold_id)
        if threshold is None:
            return current
        return threshold.severity if level is Level.ALARM else WARN_SEVERITY

    def _resolve(self, pair: Key, alert: Alert, at: datetime) -> Record:
        del self._open[alert.alert_id]
        del self._by_pair[pair]
        self._closed.add(alert.alert_id)
        alert.state = AlertState.RESOLVED
        return self._record(alert, Transition.RESOLVED, at, notify=True)

    def _refresh(self, statuses: list[Status]) -> None:
        """Keep each open alert's value and reason current (no record: the level did not change)."""
        if not self._open:
            return
        for status in statuses:
            alert_id = self._by_pair.get((status.target.kind, status.target.name, status.threshold_id))
            if alert_id is not None:
                alert = self._open[alert_id]
                alert.value, alert.reason = status.value, status.reason

    def _end_snoozes(self, now: datetime) -> list[Record]:
        records = []
        for alert in self._open.values():
            if alert.state is AlertState.SNOOZED and alert.snoozed_until is not None and alert.snoozed_until <= now:
                alert.state, alert.snoozed_until = AlertState.FIRING, None
                records.append(self._record(alert, Transition.UNSNOOZED, now, notify=True))
        return records

    # -- operators' actions -------------------------------------------------------------------

    def apply(self, action: AlertAction) -> Record:
        """Apply an operator's action; raises ActionRejected (and changes nothing) when it cannot apply."""
        alert = self._check(action)
        if action.key is not None:
            self._action_keys.add(action.key)
        at, transition = action.ts, _ACTION_TRANSITION[action.action]
        if action.note is not None:
            alert.note = action.note
        if action.action == "ack":
            alert.state, alert.acknowledged_by, alert.acknowledged_at = AlertState.ACKNOWLEDGED, action.by, at
            alert.snoozed_until = None
        elif action.action == "snooze":
            alert.state, alert.snoozed_until = AlertState.SNOOZED, action.until
        elif action.action == "unsnooze":
            alert.state, alert.snoozed_until = AlertState.FIRING, None
        notify = transition is not Transition.NOTED
        return self._record(alert, transition, at, notify=notify, by=action.by, note=action.note, until=action.until)

    def _check(self, action: AlertAction) -> Alert:
        if action.key is not None and action.key in self._action_keys.items:
            raise ActionRejected("duplicate", f"action {action.key!r} was already applied")
        alert = self._open.get(action.alert_id)
        if alert is None:
            if self.is_resolved(action.alert_id):
                raise ActionRejected("resolved_alert", f"alert {action.alert_id!r} is resolved")
            raise ActionRejected("unknown_alert", f"no open alert {action.alert_id!r}")
        if alert.state not in _TABLE[action.action]:
            raise ActionRejected("not_snoozed", f"alert {action.alert_id!r} is {alert.state}, not snoozed")
        if action.until is not None and action.until <= action.ts:
            raise ActionRejected(
                "until_not_after_action",
                f"snooze until {_iso(action.until)} is not after the action ({_iso(action.ts)})",
            )
        return alert

    # -- records ------------------------------------------------------------------------------

    def _record(
        self,
        alert: Alert,
        transition: Transition,
        at: datetime,
        *,
        notify: bool,
        by: str | None = None,
        note: str | None = None,
        until: datetime | None = None,
    ) -> Record:
        alert.records += 1
        return Record(
            key=f"{alert.alert_id}:{transition}:{alert.records}",
            alert_id=alert.alert_id,
            transition=transition,
            threshold_id=alert.threshold_id,
            target=alert.target,
            metric=alert.metric,
            level=alert.level,
            severity=alert.severity,
            state=alert.state,
            value=alert.value,
            reason=alert.reason,
            at=at,
            since=alert.since,
            notify=notify,
            label=alert.label,
            by=by,
            note=note,
            until=until,
        )
