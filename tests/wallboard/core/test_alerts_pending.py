"""A breach inside its for_s delay is *pending*: the status and the snapshot's ``pending`` say which level is coming
and when (wallboard.core.alerts), so a wallboard can show it before the level fires."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from wallboard.core.alerts import Evaluator, Level
from wallboard.core.schema import PendingAlert
from wallboard.core.thresholds import load_thresholds

T0 = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
WAIT = {"id": "wait", "metric": "longest_wait_s", "warn": 60, "alarm": 120, "clear": 45, "for_s": 30}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def wait_snap(seconds: float) -> dict[str, Any]:
    queue = {"waiting": 1, "longest_wait_s": seconds, "agents": {}, "interval": {"offered": 10}, "day": {}}
    return {"site": "paris", "queues": {"sales": queue}, "agents": {}, "teams": {}}


def test_a_breach_inside_for_s_is_pending_with_its_due_time() -> None:
    ev = Evaluator(load_thresholds([WAIT]), "Europe/Paris")
    (status,) = ev.evaluate(wait_snap(70), at(0))
    assert (status.level, status.pending, status.due) == (Level.OK, Level.WARN, at(30))
    assert status.as_dict()["pending"] == "warn" and status.as_dict()["due"] == at(30).isoformat()
    (status,) = ev.evaluate(wait_snap(75), at(10))
    assert status.due == at(30)  # the breach's start, not the latest evaluation, sets the due time
    assert ev.pending_alerts() == [
        {
            "target": {"kind": "queue", "name": "sales"},
            "threshold_id": "wait",
            "metric": "longest_wait_s",
            "level": "warn",
            "value": 75,
            "due": at(30).isoformat(),
            "reason": status.reason,
        }
    ]
    TypeAdapter(list[PendingAlert]).validate_python(ev.pending_alerts())  # the schema's entry, closed


def test_a_firing_warn_shows_a_pending_alarm_and_nothing_once_it_fires() -> None:
    ev = Evaluator(load_thresholds([WAIT]), "Europe/Paris")
    ev.evaluate(wait_snap(70), at(0))
    (status,) = ev.evaluate(wait_snap(130), at(30))  # warn fires; the alarm breach starts now
    assert (status.level, status.pending, status.due) == (Level.WARN, Level.ALARM, at(60))
    (status,) = ev.evaluate(wait_snap(130), at(60))
    assert (status.level, status.pending, status.due) == (Level.ALARM, None, None)
    assert ev.pending_alerts() == [] and "pending" not in status.as_dict()


def test_warn_and_alarm_pending_together_show_the_one_due_first() -> None:
    ev = Evaluator(load_thresholds([WAIT]), "Europe/Paris")
    (status,) = ev.evaluate(wait_snap(130), at(0))  # past both at once: due together, the alarm shows
    assert (status.pending, status.due) == (Level.ALARM, at(30))
    ev = Evaluator(load_thresholds([WAIT]), "Europe/Paris")
    ev.evaluate(wait_snap(70), at(0))
    (status,) = ev.evaluate(wait_snap(130), at(10))  # warn due at 30 s, alarm at 40 s
    assert (status.pending, status.due) == (Level.WARN, at(30))


def test_a_blip_back_inside_forgets_the_pending_level() -> None:
    ev = Evaluator(load_thresholds([WAIT]), "Europe/Paris")
    ev.evaluate(wait_snap(70), at(0))
    (status,) = ev.evaluate(wait_snap(10), at(5))
    assert (status.pending, status.due) == (None, None) and ev.pending_alerts() == []


def test_no_delay_means_nothing_pending_and_old_checkpoints_still_work() -> None:
    ev = Evaluator(load_thresholds([{**WAIT, "for_s": 0}]), "Europe/Paris")
    (status,) = ev.evaluate(wait_snap(70), at(0))
    assert (status.level, status.pending) == (Level.WARN, None)
    restored = pickle.loads(pickle.dumps(ev))
    del restored.__dict__["_pending"]  # a checkpoint written before pending existed
    assert restored.pending_alerts() == []
