"""Tests for wallboard/core/queues.py: a queue counts each call in every window at once, unknown figures apart."""

from __future__ import annotations

from datetime import UTC, datetime

from wallboard.core.metrics import Counters
from wallboard.core.queues import MAX_DURATION_S, Call, Queue, capped
from wallboard.core.site import QueueConfig, SiteConfig

SITE = SiteConfig(default_sl_threshold_s=15, queues={"support": QueueConfig(sl_threshold_s=20, wrapup_s=5)})


def test_configuration_comes_from_the_site_file_or_its_defaults() -> None:
    """A configured queue has its own threshold and wrap-up; another gets the site defaults."""
    support, other = Queue("support", SITE), Queue("other", SITE)
    assert (support.threshold, support.threshold_configured, support.wrapup_s) == (20, True, 5)
    assert (other.threshold, other.threshold_configured, other.wrapup_s) == (15, False, 0.0)


def test_answers_count_in_every_window_with_the_sl_rule() -> None:
    """A wait equal to the threshold is within SL; a longer one is not; the longest wait is kept."""
    queue = Queue("support", SITE)
    queue.count_answer(20)
    queue.count_answer(21)
    for window in queue.windows:
        assert (window.offered, window.answered, window.answered_within_sl) == (2, 2, 1)
        assert (window.wait_s_answered, window.max_wait_s) == (41, 21)


def test_outcomes_and_handled_calls_count_in_every_window() -> None:
    """An abandon (short or not), an unknown wait and a handled call each land in all three windows."""
    queue = Queue("support", SITE)
    queue.count_outcome("abandoned", 3, short=True)
    queue.count_outcome("timed_out", None)
    queue.count_handled((60, 5, 5))
    queue.count_handled(None)
    for window in queue.windows:
        assert (window.offered, window.abandoned, window.short_abandoned, window.timed_out) == (2, 1, 1, 1)
        assert (window.max_wait_s, window.handled, window.talk_s + window.hold_s + window.wrap_s) == (3, 2, 70)
        assert window.handle_unknown == 1


def test_an_unknown_wait_counts_the_answer_but_stays_out_of_asa_and_sl() -> None:
    """count_answer(None): offered and answered, not within SL, nothing added to the waits, counted as unknown."""
    queue = Queue("support", SITE)
    queue.count_answer(10)
    queue.count_answer(None)
    for window in queue.windows:
        assert (window.offered, window.answered, window.answered_within_sl, window.wait_unknown) == (2, 2, 1, 1)
        figures = window.as_dict("offered_minus_short", None)
        assert (figures["asa_s"], figures["service_level_pct"], figures["max_wait_s"]) == (10, 100.0, 10)


def test_capped_bounds_what_is_not_an_average() -> None:
    """capped() keeps a duration at most seven days (SL thresholds and enter times from PBX snapshots)."""
    assert MAX_DURATION_S == capped(1e12) == capped(float("inf"))
    assert capped(5.0) == 5.0


def test_new_windows_replace_interval_and_day_only() -> None:
    """set_windows swaps the interval and day windows; the total window runs on."""
    queue = Queue("support", SITE)
    queue.count_answer(1)
    total = queue.total
    queue.set_windows(Counters(), Counters())
    queue.count_answer(2)
    assert (queue.interval.offered, queue.day.offered, queue.total.offered) == (1, 1, 2)
    assert queue.windows == (queue.interval, queue.day, total)


def test_take_removes_a_waiting_or_uncertain_call() -> None:
    """take() finds a call in either list, removes it, and gives None for an unknown id."""
    queue = Queue("support", SITE)
    enter = datetime(2026, 1, 1, tzinfo=UTC)
    queue.waiting["a"], queue.uncertain["b"] = Call("support", "a", enter), Call("support", "b", None)
    taken = queue.take("a"), queue.take("b"), queue.take("c")
    assert [call.call_id if call else None for call in taken] == ["a", "b", None]
    assert queue.waiting == {} and queue.uncertain == {}
