"""Tests for wallboard/core/alerting.py: the alert lifecycle, with the clock passed in for every transition.

The thresholds are evaluated by the real ``Evaluator`` (hysteresis, minimum duration, minimum traffic
come from it); expected ids, levels and states are worked out by hand from the thresholds below.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wallboard.core.alerting import ActionRejected, AlertBook, AlertState, Record, Transition
from wallboard.core.events import AlertAction
from wallboard.core.thresholds import load_thresholds

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
EPOCH0 = int(T0.timestamp())
# waiting: warn above 2, alarm above 4; warn clears at <= 1, so alarm de-escalates at <= 4 - (2 - 1) = 3.
WAITING = {"id": "waiting", "metric": "waiting", "scope": "queue:support", "warn": 2, "alarm": 4, "clear": 1}
SLOW = {"id": "slow", "metric": "longest_wait_s", "scope": "queue:sales", "warn": 60, "for_s": 30, "label": "Slow"}
ALERT_ID = f"waiting:queue:support:{EPOCH0}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snap(support: int = 0, sales_wait: float = 0.0, offered: int = 10) -> dict[str, Any]:
    """A snapshot with ``support`` callers waiting and the oldest sales caller waiting ``sales_wait`` s."""
    interval = {"offered": offered}
    return {
        "site": "paris",
        "queues": {
            "support": {"waiting": support, "longest_wait_s": None, "interval": interval},
            "sales": {"waiting": 1, "longest_wait_s": sales_wait, "interval": interval},
        },
        "agents": {},
    }


def book(*thresholds: dict[str, Any]) -> AlertBook:
    return AlertBook(load_thresholds(list(thresholds or (WAITING,))), "Europe/Paris")


def action(kind: str, seconds: float, alert_id: str = ALERT_ID, **fields: Any) -> AlertAction:
    return AlertAction(
        ts=at(seconds), source="api", alert_id=alert_id, action=kind, by=fields.pop("by", "alice"), **fields
    )


def fired(alerts: AlertBook, support: int = 3, seconds: float = 0) -> Record:
    (record,) = alerts.evaluate(snap(support), at(seconds))
    return record


def summary(records: list[Record]) -> list[tuple[str, str, str, bool]]:
    return [(r.transition.value, r.level.value, r.state.value, r.notify) for r in records]


def test_a_level_entering_warn_opens_an_alert_with_a_stable_id() -> None:
    """Waiting 3 > warn 2: one 'fired' record, and the snapshot lists the alert as firing warn since T0."""
    alerts = book()
    assert alerts.evaluate(snap(2), at(0)) == []  # 2 is not beyond 2
    record = fired(alerts, 3, seconds=5)
    alert_id = f"waiting:queue:support:{EPOCH0 + 5}"
    assert (record.alert_id, record.transition, record.level.value, record.state, record.notify) == (
        alert_id,
        Transition.FIRED,
        "warn",
        AlertState.FIRING,
        True,
    )
    assert record.key == f"{alert_id}:fired:1" and record.value == 3.0 and record.at == at(5)
    (listed,) = alerts.alerts()
    assert listed["alert_id"] == alert_id and listed["state"] == "firing" and listed["level"] == "warn"
    assert listed["since"] == at(5).isoformat() and listed["target"] == {"kind": "queue", "name": "support"}
    assert listed["severity"] == "warning" and "acknowledged_by" not in listed


def test_escalation_after_an_acknowledgement_notifies_again_and_drops_the_ack() -> None:
    """Acked at warn by alice; waiting 5 > alarm 4 escalates: notified, firing again, severity page."""
    alerts = book()
    fired(alerts)
    ack = alerts.apply(action("ack", 10, note="on it"))
    assert (ack.transition, ack.state, ack.by, ack.note, ack.notify) == (
        Transition.ACKNOWLEDGED,
        AlertState.ACKNOWLEDGED,
        "alice",
        "on it",
        True,
    )
    listed = alerts.alerts()[0]
    assert listed["acknowledged_by"] == "alice" and listed["acknowledged_at"] == at(10).isoformat()
    records = alerts.evaluate(snap(5), at(20))
    assert summary(records) == [("escalated", "alarm", "firing", True)]
    assert records[0].severity == "page" and records[0].key == f"{ALERT_ID}:escalated:3"
    listed = alerts.alerts()[0]
    assert listed["state"] == "firing" and listed["level"] == "alarm" and "acknowledged_by" not in listed
    assert listed["note"] == "on it"  # the note stays with the alert


def test_de_escalation_is_silent_and_keeps_the_acknowledgement() -> None:
    """Alarm acked; waiting 3 (<= alarm clear 3) drops to warn without a notification, still acknowledged."""
    alerts = book()
    assert summary(alerts.evaluate(snap(5), at(0))) == [("fired", "alarm", "firing", True)]
    alerts.apply(action("ack", 1))
    assert alerts.evaluate(snap(4), at(2)) == []  # 4 is past the alarm's clear point 3: held
    assert summary(alerts.evaluate(snap(3), at(3))) == [("deescalated", "warn", "acknowledged", False)]


def test_an_alert_resolves_only_once_the_value_crosses_the_clear_level() -> None:
    """Warn at 3, then 2 (at the warn level, above clear 1) holds it open; 1 resolves it, notified."""
    alerts = book()
    fired(alerts)
    assert alerts.evaluate(snap(2), at(10)) == []
    assert alerts.alerts()[0]["value"] == 2.0  # value and reason follow the evaluations
    records = alerts.evaluate(snap(1), at(20))
    assert summary(records) == [("resolved", "warn", "resolved", True)]
    assert records[0].value == 1.0 and records[0].since == at(0) and records[0].at == at(20)
    assert alerts.alerts() == [] and len(alerts) == 0 and alerts.is_resolved(ALERT_ID)


def test_a_breach_shorter_than_for_s_never_opens_an_alert() -> None:
    """Longest wait 90 s > 60 s for 20 s, then back: nothing; held 30 s: fired with the threshold's label."""
    alerts = book(SLOW)
    assert alerts.evaluate(snap(sales_wait=90), at(0)) == []
    assert alerts.evaluate(snap(sales_wait=95), at(20)) == []
    assert alerts.evaluate(snap(sales_wait=10), at(25)) == []
    assert alerts.evaluate(snap(sales_wait=90), at(100)) == []
    (record,) = alerts.evaluate(snap(sales_wait=121), at(130))
    assert record.alert_id == f"slow:queue:sales:{EPOCH0 + 130}" and record.label == "Slow"


def test_a_snoozed_alert_stays_silent_until_its_snooze_ends() -> None:
    """Snoozed for 5 min: the escalation is recorded silently; at the end it is firing again and notifies."""
    alerts = book()
    fired(alerts)
    snoozed = alerts.apply(action("snooze", 10, until=at(310)))
    assert (snoozed.transition, snoozed.state, snoozed.until, snoozed.notify) == (
        Transition.SNOOZED,
        AlertState.SNOOZED,
        at(310),
        True,
    )
    assert alerts.alerts()[0]["snoozed_until"] == at(310).isoformat()
    assert summary(alerts.evaluate(snap(6), at(100))) == [("escalated", "alarm", "snoozed", False)]
    assert alerts.evaluate(snap(6), at(309)) == []
    records = alerts.evaluate(snap(6), at(310))
    assert summary(records) == [("unsnoozed", "alarm", "firing", True)] and records[0].by is None
    assert "snoozed_until" not in alerts.alerts()[0]


def test_an_alert_that_clears_while_snoozed_resolves_and_says_so() -> None:
    """Snoozed, then waiting 0: resolved (notified: receivers close their incident)."""
    alerts = book()
    fired(alerts)
    alerts.apply(action("snooze", 1, until=at(600)))
    assert summary(alerts.evaluate(snap(0), at(2))) == [("resolved", "warn", "resolved", True)]


def test_unsnooze_by_hand_and_only_when_snoozed() -> None:
    """Unsnooze returns a snoozed alert to firing; on a firing alert it is refused as not_snoozed."""
    alerts = book()
    fired(alerts)
    with pytest.raises(ActionRejected) as refused:
        alerts.apply(action("unsnooze", 1))
    assert refused.value.reason == "not_snoozed"
    alerts.apply(action("snooze", 2, until=at(60)))
    record = alerts.apply(action("unsnooze", 3, by="bob"))
    assert (record.transition, record.state, record.by) == (Transition.UNSNOOZED, AlertState.FIRING, "bob")


def test_a_note_is_recorded_silently() -> None:
    """A note changes no state, is kept on the alert and is not notified."""
    alerts = book()
    fired(alerts)
    record = alerts.apply(action("note", 5, note="caller storm after the outage"))
    assert (record.transition, record.state, record.notify) == (Transition.NOTED, AlertState.FIRING, False)
    assert alerts.alerts()[0]["note"] == "caller storm after the outage"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: action("ack", 30, alert_id="waiting:queue:support:1"), "unknown_alert"),
        (lambda: action("ack", 30), "resolved_alert"),
        (lambda: action("note", 30, note="late"), "resolved_alert"),
    ],
    ids=["unknown", "resolved-ack", "resolved-note"],
)
def test_actions_on_unknown_or_resolved_alerts_are_refused_with_a_reason(make: Any, reason: str) -> None:
    """An id the book never had, or an alert that resolved: ActionRejected with the reason, nothing changes."""
    alerts = book()
    fired(alerts)
    alerts.evaluate(snap(0), at(10))
    fired(alerts, seconds=20)  # a new alert of the same pair is open meanwhile
    before = alerts.alerts()
    with pytest.raises(ActionRejected) as refused:
        alerts.apply(make())
    assert refused.value.reason == reason
    assert alerts.alerts() == before


def test_a_repeated_idempotency_key_is_applied_once() -> None:
    """The API retried: the second action with the same key is refused as a duplicate."""
    alerts = book()
    fired(alerts)
    alerts.apply(action("note", 1, note="first", key="k1"))
    with pytest.raises(ActionRejected) as refused:
        alerts.apply(action("note", 2, note="second", key="k1"))
    assert refused.value.reason == "duplicate" and alerts.alerts()[0]["note"] == "first"


def test_a_snooze_must_end_after_the_action() -> None:
    """Until at (or before) the action's time is refused."""
    alerts = book()
    fired(alerts)
    with pytest.raises(ActionRejected) as refused:
        alerts.apply(action("snooze", 10, until=at(10)))
    assert refused.value.reason == "until_not_after_action"


def test_not_judged_levels_resolve_alerts() -> None:
    """Fewer offered calls than min_offered is insufficient traffic: the open alert resolves."""
    alerts = book({**WAITING, "min_offered": 5})
    fired(alerts)
    records = alerts.evaluate(snap(3, offered=4), at(10))
    assert summary(records) == [("resolved", "warn", "resolved", True)]
    assert "fewer than 5" in records[0].reason


def test_removing_a_threshold_resolves_its_alerts() -> None:
    """New thresholds without 'waiting': its alert resolves at the next evaluation; others are untouched."""
    alerts = book(WAITING, SLOW)
    alerts.evaluate(snap(3, sales_wait=90), at(0))
    alerts.evaluate(snap(3, sales_wait=90), at(40))
    assert sorted(a["threshold_id"] for a in alerts.alerts()) == ["slow", "waiting"]
    alerts.set_thresholds(load_thresholds([SLOW]))
    records = alerts.evaluate(snap(3, sales_wait=90), at(50))
    assert [(r.alert_id, r.transition) for r in records] == [(ALERT_ID, Transition.RESOLVED)]
    assert [a["threshold_id"] for a in alerts.alerts()] == ["slow"]


def test_alarms_are_listed_first_then_the_oldest() -> None:
    """A later alarm comes before an earlier warn."""
    alerts = book(WAITING, SLOW)
    alerts.evaluate(snap(0, sales_wait=90), at(0))
    alerts.evaluate(snap(0, sales_wait=90), at(30))  # slow fires (warn) at 30
    alerts.evaluate(snap(5, sales_wait=90), at(40))  # waiting fires straight at alarm at 40
    assert [(a["threshold_id"], a["level"]) for a in alerts.alerts()] == [("waiting", "alarm"), ("slow", "warn")]


def test_a_pair_firing_twice_in_one_second_gets_two_ids() -> None:
    """Fired, resolved and fired again within the same second: the second id carries a suffix."""
    alerts = book()
    first = fired(alerts, seconds=0)
    alerts.evaluate(snap(0), at(0.2))
    second = fired(alerts, seconds=0.5)
    assert (first.alert_id, second.alert_id) == (ALERT_ID, f"{ALERT_ID}-2")


def test_the_book_pickles_mid_breach_and_goes_on_identically() -> None:
    """A book with an acked alert and a pending breach, pickled and restored, yields the same records after."""
    alerts = book(WAITING, SLOW)
    fired(alerts)
    alerts.apply(action("ack", 5, key="k"))
    alerts.evaluate(snap(3, sales_wait=90), at(10))  # slow's breach starts at 10, fires at 40
    restored = pickle.loads(pickle.dumps(alerts, protocol=5))
    assert restored.alerts() == alerts.alerts()
    later = [(snap(5, sales_wait=95), at(40)), (snap(0, sales_wait=0), at(50))]
    expected = [alerts.evaluate(s, t) for s, t in later]
    assert [restored.evaluate(s, t) for s, t in later] == expected
    assert [r.transition.value for batch in expected for r in batch] == ["escalated", "fired", "resolved", "resolved"]
    with pytest.raises(ActionRejected):
        restored.apply(action("ack", 60, key="k"))  # the idempotency memory survived too


def test_record_keys_are_unique_and_name_the_transition() -> None:
    """Every record of an alert has key <alert_id>:<transition>:<n>, n counting from 1."""
    alerts = book()
    records = [fired(alerts)]
    records.append(alerts.apply(action("ack", 1)))
    records += alerts.evaluate(snap(5), at(2))
    records += alerts.evaluate(snap(3), at(3))
    records += alerts.evaluate(snap(0), at(4))
    names = ["fired", "acknowledged", "escalated", "deescalated", "resolved"]
    assert [r.key for r in records] == [f"{ALERT_ID}:{name}:{n}" for n, name in enumerate(names, start=1)]
    assert records[-1].as_dict()["state"] == "resolved" and records[1].as_dict()["by"] == "alice"
