"""The live queue_log collector on real files in tmp_path: appends, partial lines, rotation, truncation, stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from waiting import poll_until

from collectors.queue_log.collector import QueueLogCollector, QueueLogStats
from wallboard.core.events import CallQueued, Event

WAIT = 10.0


def enter(n: int, ts: int = 1_700_000_000) -> bytes:
    """The queue_log line of call c.<n> entering the support queue at ``ts`` (one CallQueued)."""
    return f"{ts}|c.{n}|support|NONE|ENTERQUEUE||50398151{n:02d}|1\n".encode()


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(data)


class Recorder:
    """A sink that keeps every batch it took."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    async def __call__(self, batch: list[Event]) -> None:
        self.batches.append(list(batch))

    @property
    def calls(self) -> list[str]:
        """The call ids of the CallQueued events taken, in order."""
        return [e.call_id for batch in self.batches for e in batch if isinstance(e, CallQueued)]


async def drain(collector: QueueLogCollector) -> None:
    """Poll until a poll finds nothing new (that last poll flushes the reorder window)."""
    while await collector.poll_once():
        pass


async def until(condition: Callable[[], bool], what: str) -> None:
    await poll_until(condition, what, WAIT)


@contextlib.asynccontextmanager
async def running(collector: QueueLogCollector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(collector.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors point at ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


async def test_lines_appended_while_running_arrive_as_events(tmp_path: Path) -> None:
    """Started at the end of the file, the running collector delivers exactly the lines appended afterwards."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1) + enter(2))
    sink = Recorder()
    collector = QueueLogCollector(path, sink, poll_interval=0.01)
    async with running(collector):
        await until(lambda: collector.stats.connected and open_descriptors(path) == 1, "the file to be open")
        append(path, enter(3) + enter(4) + enter(5))
        await until(lambda: len(sink.calls) == 3, "three events")
    assert sink.calls == ["c.3", "c.4", "c.5"]
    assert collector.stats.records == 3 and collector.stats.events == 3


async def test_from_start_reads_what_is_there_and_from_the_end_skips_it(tmp_path: Path) -> None:
    """from_start=True delivers the existing lines; the default starts at the end, skipping a partial last line."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1) + enter(2) + enter(3)[:10])
    from_start, from_end = Recorder(), Recorder()
    first = QueueLogCollector(path, from_start, from_start=True)
    second = QueueLogCollector(path, from_end)
    await drain(first)
    await drain(second)
    assert from_start.calls == ["c.1", "c.2"] and from_end.calls == []
    append(path, enter(3)[10:] + enter(4))
    await drain(first)
    await drain(second)
    assert from_start.calls == ["c.1", "c.2", "c.3", "c.4"]
    assert from_end.calls == ["c.4"]  # c.3 began before the start: its tail is skipped


async def test_a_partial_line_waits_for_the_rest(tmp_path: Path) -> None:
    """A line without its newline yields nothing; once completed it is one event."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    sink = Recorder()
    collector = QueueLogCollector(path, sink)
    await drain(collector)  # opens the (empty) file
    line = enter(1)
    append(path, line[:25])
    await drain(collector)
    assert sink.calls == [] and collector.stats.records == 0
    append(path, line[25:-1])
    await drain(collector)
    assert sink.calls == []
    append(path, b"\n")
    await drain(collector)
    assert sink.calls == ["c.1"] and collector.stats.rejected == 0


async def test_rotation_is_followed_without_loss_or_duplication(tmp_path: Path) -> None:
    """mv queue_log queue_log.1, a late write to the old file, then a new file: every line once, in order."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1) + enter(2))
    sink = Recorder()
    collector = QueueLogCollector(path, sink, from_start=True)
    await drain(collector)
    path.rename(tmp_path / "queue_log.1")
    append(tmp_path / "queue_log.1", enter(3))  # the PBX still writes the old file until it reopens
    await drain(collector)
    path.write_bytes(enter(4) + enter(5))
    await drain(collector)
    append(path, enter(6))
    await drain(collector)
    assert sink.calls == ["c.1", "c.2", "c.3", "c.4", "c.5", "c.6"]
    assert collector.stats.rotations == 1 and collector.stats.rejected == 0


async def test_truncation_is_followed_without_loss_or_duplication(tmp_path: Path) -> None:
    """copytruncate: the file shrinks under the read position; what is written after is read once."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1) + enter(2) + enter(3))
    sink = Recorder()
    collector = QueueLogCollector(path, sink, from_start=True)
    await drain(collector)
    with path.open("r+b") as stream:
        stream.truncate(0)
    append(path, enter(4))  # shorter than what was read: the follower sees the truncation
    await drain(collector)
    append(path, enter(5))
    await drain(collector)
    assert sink.calls == ["c.1", "c.2", "c.3", "c.4", "c.5"]
    assert collector.stats.truncations == 1


async def test_a_broken_line_is_rejected_with_its_position_and_the_rest_continue(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A line that is not queue_log is counted (by reason) and logged with its byte offset; its neighbours map."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "queue_log"
    broken = b"this is not a queue_log line\n"
    path.write_bytes(enter(1) + broken + enter(2) + b"1700000000|c.9|support|NONE|" + b"x" * 300 + b"\n" + enter(3))
    sink = Recorder()
    collector = QueueLogCollector(path, sink, from_start=True, max_line=200)
    await drain(collector)
    assert sink.calls == ["c.1", "c.2", "c.3"]
    stats = collector.stats
    assert stats.rejected == 2 and stats.rejected_by_reason == {"fields": 1, "too_long": 1}
    assert stats.records == 5
    broken_at = len(enter(1))
    too_long_at = broken_at + len(broken) + len(enter(2))
    assert f"line {broken_at}:" in caplog.text and "this is not a queue_log line" in caplog.text
    assert f"at offset {too_long_at}" in caplog.text


async def test_a_record_without_its_wait_is_delivered_and_counted_as_degraded(tmp_path: Path) -> None:
    """A CONNECT with an empty holdtime still answers its call; the health counts it under degraded_by_reason."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1) + b"1700000009|c.1|support|Alice|CONNECT||c.1b|1\n")
    sink = Recorder()
    collector = QueueLogCollector(path, sink, from_start=True)
    await drain(collector)
    kinds = [event.kind for batch in sink.batches for event in batch]
    assert kinds == ["call_queued", "call_answered"]
    assert (collector.stats.rejected, collector.stats.degraded_by_reason) == (0, {"holdtime": 1})
    assert collector.stats.as_fields()["degraded_by_reason"] == '{"holdtime": 1}'


async def test_the_reorder_window_is_flushed_when_the_file_is_idle(tmp_path: Path) -> None:
    """Lines within the reorder window are held only until a poll finds nothing new, then released sorted."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    sink = Recorder()
    collector = QueueLogCollector(path, sink, poll_interval=0.01, reorder_window_s=2)
    async with running(collector):
        await until(lambda: open_descriptors(path) == 1, "the file to be open")
        append(path, enter(1, ts=1_700_000_001) + enter(2, ts=1_700_000_000))  # one second out of order
        await until(lambda: len(sink.calls) == 2, "the held events")
        assert sink.calls == ["c.2", "c.1"]
        append(path, enter(3, ts=1_700_000_002))
        await until(lambda: len(sink.calls) == 3, "the last call, alone")


async def test_a_failing_sink_gets_the_same_batch_again_and_nothing_is_lost(tmp_path: Path) -> None:
    """A sink that raises is offered the same batch after a backoff; every line is delivered exactly once."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1) + enter(2))
    taken: list[Event] = []
    offered: list[list[Event]] = []

    async def sink(batch: list[Event]) -> None:
        offered.append(batch)
        if len(offered) == 1:
            raise ConnectionError("redis is away")
        taken.extend(batch)

    collector = QueueLogCollector(path, sink, from_start=True)
    await drain(collector)
    assert offered[0] == offered[1] == taken
    assert [e.call_id for e in taken if isinstance(e, CallQueued)] == ["c.1", "c.2"]
    assert collector.stats.sink_errors == 1 and collector.stats.events == 2


async def test_stop_delivers_what_is_left_and_closes_the_file(tmp_path: Path) -> None:
    """stop(): run() reads what was written, flushes the reorder window, closes the file and returns."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    sink = Recorder()
    collector = QueueLogCollector(path, sink, poll_interval=30.0)  # only stop() ends the wait
    task = asyncio.create_task(collector.run())
    await until(lambda: open_descriptors(path) == 1, "the file to be open")
    append(path, enter(1) + enter(2))
    collector.stop()
    async with asyncio.timeout(WAIT):
        await task
    assert sink.calls == ["c.1", "c.2"]
    assert open_descriptors(path) == 0 and not collector.stats.connected


async def test_cancelling_closes_the_file(tmp_path: Path) -> None:
    """Cancelling run() ends it at once and closes the file."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(1))
    collector = QueueLogCollector(path, Recorder(), poll_interval=30.0)
    async with running(collector):
        await until(lambda: open_descriptors(path) == 1, "the file to be open")
    assert open_descriptors(path) == 0 and not collector.stats.connected


def test_stats_fields_for_the_health_hash() -> None:
    """as_fields publishes the shared counters and the follower's own (rotations, truncations, duplicates)."""
    stats = QueueLogStats(connected=True, records=7, rejected_by_reason={"fields": 1}, rotations=2)
    fields = stats.as_fields()
    assert fields["connected"] == "1" and fields["records"] == "7" and fields["rotations"] == "2"
    assert fields["rejected_by_reason"] == '{"fields": 1}' and fields["last_event_ts"] == ""
    assert {"reconnects", "rejected", "ignored", "events", "truncations", "duplicates"} <= fields.keys()
