"""The adherence classes a checkpoint pickles keep the module path they were pickled under.

``wallboard.core.adherence.tracker`` was split (the per-agent machinery moved to ``track``); the site book's
checkpoint holds the ``AdherenceBook`` and with it ``_Days``, ``_Nexts``, ``_Episode`` and ``_Track``, named by
module and qualified name. The moved ones set their ``__module__`` back to ``tracker``, which re-exports them, so a
checkpoint written before the split loads after it, one written after it loads in an engine from before it, and
the bytes are the same (the module name is one memoized string, as it was when every class lived in ``tracker``).
"""

from __future__ import annotations

import io
import pickle
import sys
from datetime import UTC, date, datetime
from typing import Any

import pytest

from wallboard.core.adherence import track, tracker
from wallboard.core.adherence.schedule import Schedule, Slot
from wallboard.core.adherence.tracker import AdherenceBook
from wallboard.core.site import AgentConfig, SiteConfig, TeamConfig

OLD = "wallboard.core.adherence.tracker"
DAY = date(2026, 3, 2)
MOVED = [track._Days, track._Nexts, track._Episode, track._Track]


class _Names(pickle.Unpickler):
    """Records every (module, name) a pickle looks up."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(io.BytesIO(payload))
        self.found: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.found.add((module, name))
        return super().find_class(module, name)


def at(hhmm: str) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hours, minutes, tzinfo=UTC)


def shift(agent: str) -> list[Slot]:
    spans = [("09:00", "11:00", "work"), ("11:00", "11:15", "break"), ("11:15", "13:00", "work")]
    return [Slot(agent, at(start), at(end), activity, DAY) for start, end, activity in spans]


@pytest.mark.parametrize("cls", [*MOVED, AdherenceBook])
def test_a_pickled_class_is_found_under_its_old_module(cls: type) -> None:
    """Each class names the old module, by the very string object the book's class does, and that module hands
    back the very class."""
    assert cls.__module__ == OLD
    assert cls.__module__ is AdherenceBook.__module__
    assert getattr(sys.modules[OLD], cls.__qualname__) is cls
    assert getattr(tracker, cls.__name__) is cls


def test_a_book_pickles_with_the_old_module_names_only_and_round_trips() -> None:
    """A book mid-day, with a closed exception (late login) and an open one (late return from break), names only
    the modules it always named, each adherence class under ``tracker``, and goes on with the same figures."""
    site = SiteConfig(
        timezone="UTC",
        teams={"care": TeamConfig(name="Care")},
        agents={"a1": AgentConfig(name="Alice", team="care"), "a2": AgentConfig(name="Bob", team="care")},
    )
    book = AdherenceBook(site, Schedule.of(shift("a1") + shift("a2")), 4)
    agents: dict[str, dict[str, Any]] = {}
    moves = [
        ("08:55", "a1", "available", None),
        ("09:20", "a2", "available", None),  # 20 min late: an exception, closed at the login
        ("11:00", "a1", "paused", "Break"),
        ("11:00", "a2", "paused", "Break"),
        ("11:15", "a1", "available", None),  # a2 stays on break: out from 11:15, still open at 11:40
    ]
    for hhmm, agent, state, reason in moves:
        agents[agent] = {"state": state, "reason": reason, "since": at(hhmm).isoformat()}
        book.observe(agents, at(hhmm))
    book.observe(agents, at("11:40"))
    figures = book.figures(at("11:40"))
    assert [(e["agent"], e["kind"], e["end"] is None) for e in figures["exceptions"]] == [
        ("a2", "wrong_activity", True),
        ("a2", "late_login", False),
    ]

    payload = pickle.dumps(book, protocol=5)
    names = _Names(payload)
    loaded = names.load()
    ours = {(module, name) for module, name in names.found if module.startswith("wallboard.core.adherence")}
    assert ours == {
        (OLD, "AdherenceBook"),
        (OLD, "_Days"),
        (OLD, "_Nexts"),
        (OLD, "_Episode"),
        (OLD, "_Track"),
        ("wallboard.core.adherence.schedule", "Schedule"),
        ("wallboard.core.adherence.schedule", "Slot"),
        ("wallboard.core.adherence.policy", "AdherencePolicy"),
    }
    assert payload.count(OLD.encode()) == 1  # one memoized module name, as before the split: the same bytes

    later = at("12:10")
    agents["a2"] = {"state": "available", "reason": None, "since": at("11:50").isoformat()}
    for one in (book, loaded):
        one.observe(agents, later)
    assert loaded.figures(later) == book.figures(later)
    assert book.figures(later)["site"]["adherence_pct"] is not None
