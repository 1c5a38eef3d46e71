"""Tests for collectors/clock.py: the guard against records stamped ahead of the collector's clock."""

from __future__ import annotations

import pytest

from collectors.clock import ClockGuard

NOW = 1_770_000_000.0


class Clock:
    """The collector's clock, moved by the test."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def live_lines(guard: ClockGuard, clock: Clock, offsets: list[float], *, step: float = 1.0) -> None:
    """Lines read at the live end, each stamped ``offset`` seconds after the collector's clock."""
    guard.live = True
    for offset in offsets:
        clock.now += step
        assert not guard.ahead(clock.now + offset)


def test_without_a_measured_skew_the_tolerance_is_counted_from_the_collectors_clock() -> None:
    """Tolerance 900 s, no skew yet: 900 s ahead passes, 901 s ahead is ahead, the past always passes."""
    guard = ClockGuard(900, Clock())
    assert not guard.ahead(NOW + 900)
    assert guard.ahead(NOW + 901)
    assert not guard.ahead(NOW - 86_400)
    assert guard.skew_s == 0.0


def test_the_skew_is_the_median_offset_of_live_lines() -> None:
    """A PBX 10 min ahead: once five live lines are seen, a line 20 min ahead passes and one 27 min ahead does not."""
    clock = Clock()
    guard = ClockGuard(900, clock)
    live_lines(guard, clock, [598.0, 600.0, 601.0, 600.0, 603.0])
    assert guard.skew_s == 600.0
    assert not guard.ahead(clock.now + 1200)
    assert guard.ahead(clock.now + 1620)


def test_a_backlog_teaches_nothing() -> None:
    """Lines read while catching up (live False) are checked but never observed: old lines say nothing of the clocks."""
    clock = Clock()
    guard = ClockGuard(900, clock)
    for age in range(3600, 0, -10):
        assert not guard.ahead(clock.now - age)
    assert (guard.samples, guard.skew_s) == (0, 0.0)


def test_the_skew_is_trusted_only_after_enough_live_lines() -> None:
    """Four live lines 10 min ahead are not a skew yet (0 s); the fifth makes it one."""
    clock = Clock()
    guard = ClockGuard(900, clock, min_samples=5)
    live_lines(guard, clock, [600.0] * 4)
    assert guard.skew_s == 0.0
    live_lines(guard, clock, [600.0])
    assert guard.skew_s == 600.0


def test_one_future_line_among_live_ones_moves_nothing() -> None:
    """Nine live lines on time and one 30 min ahead: the median stays 0, and the next such line is still ahead."""
    clock = Clock()
    guard = ClockGuard(900, clock)
    live_lines(guard, clock, [0.0] * 4)
    guard.live = True
    assert guard.ahead(clock.now + 1800)  # observed (within max_skew) but outvoted
    live_lines(guard, clock, [0.0] * 5)
    assert guard.skew_s == 0.0
    assert guard.ahead(clock.now + 1800)


def test_first_live_lines_far_in_the_future_never_become_the_skew() -> None:
    """The first live lines stamped two days ahead: all rejected, none observed (beyond max_skew_s)."""
    clock = Clock()
    guard = ClockGuard(900, clock)
    guard.live = True
    for _ in range(20):
        clock.now += 1
        assert guard.ahead(clock.now + 2 * 86_400)
    assert (guard.samples, guard.skew_s) == (0, 0.0)


def test_memory_is_bounded_and_follows_the_clock() -> None:
    """Only the last ``memory`` offsets count: a skew that changes is followed, the old offsets forgotten."""
    clock = Clock()
    guard = ClockGuard(900, clock, memory=11)
    live_lines(guard, clock, [0.0] * 11)
    live_lines(guard, clock, [300.0] * 6)
    assert (guard.samples, guard.skew_s) == (11, 300.0)


def test_bad_parameters_are_refused() -> None:
    """A tolerance of 0 and min_samples above the memory are programming errors."""
    with pytest.raises(ValueError, match="tolerance_s"):
        ClockGuard(0)
    with pytest.raises(ValueError, match="min_samples"):
        ClockGuard(900, memory=3, min_samples=4)
