"""Tests for wallboard/core/deltas.py: diff/apply_diff round trips on any JSON-like dicts and on snapshots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_events import at, ended, login, outcomes, run_on
from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.core.deltas import DiffError, apply_diff, diff
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import QueueConfig, SiteConfig

SITE = SiteConfig(
    site="test",
    short_abandon_s=5,
    queues={
        "support": QueueConfig(sl_threshold_s=20, wrapup_s=5),
        "sales": QueueConfig(sl_threshold_s=30),
        "billing": QueueConfig(sl_threshold_s=20, sl_target_pct=80),
    },
)


def run(*events: Event, site: SiteConfig = SITE) -> State:
    return run_on(site, *events)


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
