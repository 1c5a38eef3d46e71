"""Tests for collectors/queue_log/reorder.py: batches in reading order out sorted by second, stable, never lost."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.reorder import ReorderBuffer
from wallboard.core.events import CallQueued, Event


def _run(lines: Iterable[str | bytes], mapper: QueueLogMapper | None = None) -> tuple[QueueLogMapper, list[Event]]:
    mapper = mapper or QueueLogMapper()
    events: list[Event] = []
    for lineno, line in enumerate(lines, 1):
        events.extend(mapper.feed_line(line, lineno))
    events.extend(mapper.finish())
    return mapper, events


# --- through the mapper -------------------------------------------------------------------------------


def _enter(epoch: int, call: str) -> str:
    return f"{epoch}|{call}|support|NONE|ENTERQUEUE||555|1"


def test_events_are_held_until_a_record_more_than_the_window_newer() -> None:
    """With a 2 s window, an event at t is released when a record newer than t + 2 arrives."""
    mapper = QueueLogMapper(reorder_window_s=2)
    assert mapper.feed_line(_enter(100, "a"), 1) == []
    assert mapper.feed_line(_enter(102, "b"), 2) == []
    released = mapper.feed_line(_enter(103, "c"), 3)
    assert [e.call_id for e in released if isinstance(e, CallQueued)] == ["a"]
    assert mapper.pending == 2
    assert [e.call_id for e in mapper.finish() if isinstance(e, CallQueued)] == ["b", "c"]
    assert mapper.pending == 0


def test_out_of_order_lines_come_out_sorted_and_stable_within_the_window() -> None:
    """Lines a second or two out of order are released sorted by time, ties in reading order."""
    order = [(101, "a"), (100, "b"), (102, "c"), (100, "d"), (103, "e"), (101, "f"), (110, "g")]
    _, events = _run([_enter(epoch, call) for epoch, call in order], QueueLogMapper(reorder_window_s=2))
    expected = [call for _, call in sorted(order, key=lambda item: item[0])]  # sorted() is stable
    assert [e.call_id for e in events if isinstance(e, CallQueued)] == expected


def test_records_older_than_released_ones_pass_through_immediately() -> None:
    """A record older than what was already released is released at once, never dropped."""
    mapper = QueueLogMapper(reorder_window_s=2)
    mapper.feed_line(_enter(100, "a"), 1)
    assert [e.call_id for e in mapper.feed_line(_enter(200, "b"), 2) if isinstance(e, CallQueued)] == ["a"]
    late = mapper.feed_line(_enter(50, "late"), 3)
    assert [e.call_id for e in late if isinstance(e, CallQueued)] == ["late"]


def test_feeding_may_continue_after_finish() -> None:
    """finish() releases everything held; later records are mapped as usual."""
    mapper = QueueLogMapper()
    mapper.feed_line(_enter(100, "a"), 1)
    assert len(mapper.finish()) == 1
    assert mapper.feed_line(_enter(101, "b"), 2) == []
    assert [e.call_id for e in mapper.finish() if isinstance(e, CallQueued)] == ["b"]


def test_window_zero_releases_each_second_once_the_next_starts() -> None:
    """reorder_window_s=0 holds only records of the newest second."""
    mapper = QueueLogMapper(reorder_window_s=0)
    assert mapper.feed_line(_enter(100, "a"), 1) == []
    assert len(mapper.feed_line(_enter(101, "b"), 2)) == 1


def test_constructor_rejects_negative_window_and_empty_dedup_memory() -> None:
    """Nonsense settings fail at construction."""
    with pytest.raises(ValueError, match="reorder_window_s"):
        QueueLogMapper(reorder_window_s=-1)
    with pytest.raises(ValueError, match="dedup_memory"):
        QueueLogMapper(dedup_memory=0)


# --- the buffer itself --------------------------------------------------------------------------------


def test_late_batch_goes_after_the_held_batches_of_its_second() -> None:
    """A late batch is placed after every held batch of its second, before the newer ones."""
    buffer: ReorderBuffer[str] = ReorderBuffer(5)
    for second, item in [(10, "a"), (12, "b"), (11, "c"), (10, "d"), (12, "e"), (11, "f")]:
        assert buffer.push(second, [item]) == []
    assert len(buffer) == 6
    assert buffer.flush() == ["a", "d", "c", "f", "b", "e"]
    assert len(buffer) == 0 and buffer.flush() == []


def test_negative_window_is_refused() -> None:
    """A window below zero seconds makes no sense."""
    with pytest.raises(ValueError, match="window_s"):
        ReorderBuffer(-1)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4), st.lists(st.integers(min_value=0, max_value=30), max_size=40))
def test_buffer_releases_what_a_heap_model_releases(window: int, seconds: list[int]) -> None:
    """Each push releases exactly what a (second, arrival) priority queue released once newer input arrives."""
    buffer: ReorderBuffer[int] = ReorderBuffer(window)
    model: list[tuple[int, int]] = []  # (second, arrival) held, the reference
    newest = released = -1
    for arrival, second in enumerate(seconds):
        got = buffer.push(second, [arrival])
        newest = max(newest, second)
        if second < released:
            assert got == [arrival]
            continue
        model.append((second, arrival))
        ready = sorted(item for item in model if item[0] < newest - window)
        model = [item for item in model if item[0] >= newest - window]
        assert got == [item[1] for item in ready]
        if ready:
            released = ready[-1][0]
    assert buffer.flush() == [item[1] for item in sorted(model)]
