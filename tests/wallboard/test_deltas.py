"""Tests for wallboard/deltas.py: diff/apply_diff round trips on any JSON-like dicts and on snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.deltas import DiffError, apply_diff, diff
from wallboard.engine import State
from wallboard.events import Event, event_from_dict
from wallboard.site import QueueConfig, SiteConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a quarter-hour boundary
SITE = SiteConfig(
    site="test",
    short_abandon_s=5,
    queues={
        "support": QueueConfig(sl_threshold_s=20, wrapup_s=5),
        "sales": QueueConfig(sl_threshold_s=30),
        "billing": QueueConfig(sl_threshold_s=20, sl_target_pct=80),
    },
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, **fields: Any) -> Event:
    return event_from_dict({"kind": kind, "ts": at(seconds), "source": "test", **fields})


def queued(seconds: float, call_id: str, queue: str = "support", **fields: Any) -> Event:
    return ev("call_queued", seconds, call_id=call_id, queue=queue, **fields)


def answered(seconds: float, call_id: str, agent: str, wait_s: float, queue: str = "support", **fields: Any) -> Event:
    return ev("call_answered", seconds, call_id=call_id, queue=queue, agent=agent, wait_s=wait_s, **fields)


def ended(
    seconds: float, call_id: str | None, agent: str, talk_s: float, queue: str = "support", **fields: Any
) -> Event:
    return ev("call_ended", seconds, call_id=call_id, queue=queue, agent=agent, talk_s=talk_s, **fields)


def login(seconds: float, agent: str, queue: str = "support", **fields: Any) -> Event:
    return ev("agent_login", seconds, agent=agent, queue=queue, **fields)


def run(*events: Event, site: SiteConfig = SITE) -> State:
    state = State(site)
    for event in events:
        state.apply(event)
    assert state.anomalies["internal_error"] == 0
    return state


def outcomes() -> list[Event]:
    """Five support calls: answered at 10 s and 25 s, abandoned at 3 s (short) and 40 s, timed out at 60 s."""
    return [
        *(queued(0, call_id) for call_id in ("c1", "c2", "c3", "c4", "c5")),
        answered(10, "c1", "a1", 10),
        answered(25, "c2", "a2", 25),
        ev("call_abandoned", 3, call_id="c3", queue="support"),
        ev("call_abandoned", 40, call_id="c4", queue="support", wait_s=40),
        ev("call_exited", 60, call_id="c5", queue="support", reason="timeout", wait_s=60),
    ]


# -- deltas ------------------------------------------------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=3)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=4),
    max_leaves=12,
)
json_dict = st.dictionaries(st.text(max_size=2), json_value, max_size=5)


@settings(max_examples=200, deadline=None)
@given(json_dict, json_dict)
def test_apply_diff_of_diff_gives_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    """apply_diff(old, diff(old, new)) == new, old is left untouched, and a dict equal to itself has no diff."""
    frozen = json.dumps(old, sort_keys=True)
    assert apply_diff(old, diff(old, new)) == new
    assert json.dumps(old, sort_keys=True) == frozen
    assert diff(new, new) == {}


def test_diff_encoding() -> None:
    """Removed -> None, None and lists wrapped, nested dicts diffed, unchanged keys omitted."""
    old = {"a": 1, "b": {"x": 1, "y": 2}, "c": 5, "d": [1], "e": None}
    new = {"b": {"x": 1, "y": 3}, "c": None, "d": [1, 2], "e": {"k": None}}
    assert diff(old, new) == {"a": None, "b": {"y": 3}, "c": [None], "d": [[1, 2]], "e": {"k": [None]}}
    with pytest.raises(DiffError, match="list of 2 items"):
        apply_diff(old, {"d": [1, 2]})


def test_diff_between_engine_snapshots() -> None:
    """A delta between two snapshots rebuilds the second one exactly."""
    state = run(*outcomes()[:3], login(0, "a1"))
    before = state.snapshot(at(12))
    state.apply(ended(20, "c1", "a1", 10))
    after = state.snapshot(at(30))
    assert apply_diff(before, diff(before, after)) == after
