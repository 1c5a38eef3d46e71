"""Tests for collectors/queue_log/parser.py with a ClockGuard: records stamped ahead of the clock are rejected."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from collectors.clock import ClockGuard
from collectors.queue_log.parser import QueueLogMapper
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import SiteConfig

NOW = 1_770_000_000  # the collector's clock (2026-02-02 02:40 UTC)
TWO_DAYS = 2 * 86_400


def call(epoch: int, n: int) -> list[str]:
    """Call c.<n>: enters at ``epoch``, answered 5 s later, ends after 60 s of talk."""
    return [
        f"{epoch}|c.{n}|support|NONE|ENTERQUEUE||555|1",
        f"{epoch + 5}|c.{n}|support|Alice|CONNECT|5|b.{n}|2",
        f"{epoch + 65}|c.{n}|support|Alice|COMPLETECALLER|5|60|1",
    ]


def feed(mapper: QueueLogMapper, lines: list[str]) -> list[Event]:
    events: list[Event] = []
    for lineno, line in enumerate(lines, 1):
        events += mapper.feed_line(line, lineno)
    return events + mapper.finish()


def test_a_line_dated_two_days_ahead_is_rejected_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Between two live calls, one ENTERQUEUE two days ahead: rejected as clock_ahead with its line, the rest mapped."""
    guard = ClockGuard(900, lambda: float(NOW))
    guard.live = True
    future = f"{NOW + TWO_DAYS}|c.9|support|NONE|ENTERQUEUE||555|1"
    lines = [*call(NOW - 200, 1), future, *call(NOW - 100, 2)]
    mapper = QueueLogMapper(site="paris", clock=guard)
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        events = feed(mapper, lines)
    assert {event.call_id for event in events if hasattr(event, "call_id")} == {"c.1", "c.2"}  # type: ignore[attr-defined]
    assert len(events) == 6
    assert (mapper.records, mapper.rejected, mapper.rejected_by_reason) == (7, 1, {"clock_ahead": 1})
    [message] = [r.getMessage() for r in caplog.records if "clock_ahead" in r.getMessage() or "ahead" in r.getMessage()]
    assert "line 4" in message and f"{NOW + TWO_DAYS}|c.9" in message


def test_without_a_guard_nothing_is_rejected_for_its_time() -> None:
    """A replay (no guard) maps the same future line: deciding is then the engine's business."""
    mapper = QueueLogMapper(site="paris")
    events = feed(mapper, [*call(NOW - 200, 1), f"{NOW + TWO_DAYS}|c.9|support|NONE|ENTERQUEUE||555|1"])
    assert (len(events), mapper.rejected) == (4, 0)


def test_the_engine_fed_by_a_guarded_mapper_keeps_its_day() -> None:
    """Eighteen calls read live, a call dated two days ahead, three more: the day counts 21 calls and stays today."""
    clock = [float(NOW)]
    guard = ClockGuard(900, lambda: clock[0])
    guard.live = True
    mapper = QueueLogMapper(site="paris", clock=guard)
    real = [line for n in range(21) for line in call(NOW + 100 * n, n)]
    future = call(NOW + TWO_DAYS, 99)
    lines = real[: 18 * 3] + future + real[18 * 3 :]
    state = State(SiteConfig(site="paris"))
    for lineno, line in enumerate(lines, 1):
        epoch = int(line.partition("|")[0])
        if epoch < NOW + TWO_DAYS:
            clock[0] = epoch + 1.0  # read live, a second after it was written
        for event in mapper.feed_line(line, lineno):
            state.apply(event)
    for event in mapper.finish():
        state.apply(event)
    assert mapper.rejected_by_reason == {"clock_ahead": 3}
    snapshot = state.snapshot(datetime.fromtimestamp(clock[0], UTC))
    day = snapshot["queues"]["support"]["day"]
    assert (day["offered"], day["answered"], day["handled"]) == (21, 21, 21)
    assert snapshot["day"]["start"] == "2026-02-02T00:00:00+00:00"
