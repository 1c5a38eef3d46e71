"""The classes an engine checkpoint pickles keep the module path they were pickled under.

``wallboard.core.thresholds`` and ``wallboard.core.alerts`` were split (``threshold_metrics``, ``threshold_hours``,
``alert_readings``); a checkpoint names a class by module and qualified name, so the moved ones set their
``__module__`` back to the old module, which re-exports them. A checkpoint written before the split then
loads after it, and one written after it loads in an engine from before it.
"""

from __future__ import annotations

import io
import pickle
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wallboard.core import alerts, thresholds
from wallboard.core.alerting import AlertBook
from wallboard.core.thresholds import load_thresholds

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # a Monday, inside the active hours below


class _Names(pickle.Unpickler):
    """Records every (module, name) a pickle looks up."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(io.BytesIO(payload))
        self.found: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.found.add((module, name))
        return super().find_class(module, name)


@pytest.mark.parametrize(
    "cls",
    [
        thresholds.Metric,
        thresholds.Direction,
        thresholds.ActiveWindow,
        thresholds.Scope,
        thresholds.Threshold,
        thresholds.ThresholdSet,
        alerts.Level,
        alerts.Target,
        alerts.Status,
        alerts.Change,
        alerts.Evaluator,
    ],
)
def test_a_pickled_class_is_found_under_its_old_module(cls: type) -> None:
    """Each class names the old module, and that module hands back the very class."""
    old = thresholds if cls.__module__ == "wallboard.core.thresholds" else alerts
    assert cls.__module__ in ("wallboard.core.thresholds", "wallboard.core.alerts")
    assert getattr(sys.modules[cls.__module__], cls.__qualname__) is cls
    assert getattr(old, cls.__name__) is cls


def test_an_alert_book_pickles_with_the_old_module_names_only_and_round_trips() -> None:
    """A book with a firing warn, a pending alarm and active hours names only the modules it always named."""
    book = AlertBook(
        load_thresholds(
            [
                {"id": "waiting", "metric": "waiting", "scope": "queue:support", "warn": 2, "alarm": 4, "for_s": 60},
                {
                    "id": "hours",
                    "metric": "longest_wait_s",
                    "warn": 60,
                    "active": [{"days": "mon-fri", "start": "08:00", "end": "20:00"}],
                },
            ]
        ),
        "Europe/Paris",
    )
    snapshot = {
        "site": "paris",
        "queues": {"support": {"waiting": 6, "longest_wait_s": 90, "interval": {"offered": 10}}},
        "agents": {},
    }
    book.evaluate(snapshot, T0)
    book.evaluate(snapshot, T0 + timedelta(seconds=30))
    assert [alert["threshold_id"] for alert in book.alerts()] == ["hours"]  # 90 s > 60 s in active hours
    assert [entry["level"] for entry in book.evaluator.pending_alerts()] == ["alarm"]  # 6 > 4, due at T0 + 60 s
    payload = pickle.dumps(book, protocol=5)
    names = _Names(payload)
    loaded = names.load()
    ours = {module for module, _ in names.found if module.startswith("wallboard.")}
    assert ours == {"wallboard.core.alerting", "wallboard.core.alerts", "wallboard.core.thresholds"}
    assert ("wallboard.core.thresholds", "ActiveWindow") in names.found
    assert ("wallboard.core.alerts", "Target") in names.found
    assert loaded.evaluator.thresholds == book.evaluator.thresholds
    assert loaded.evaluator.pending_alerts() == book.evaluator.pending_alerts()
    assert loaded.alerts() == book.alerts()
