"""The live queue_log collector: follow the file, map its lines, hand the events to the sink.

Theory of operation
-------------------
A thin loop: poll the ``FileFollower`` (rotation, truncation, partial last lines and the start
position are its business: ``from_start=False`` begins at the end of the file, skipping what is
already there, ``from_start=True`` reads the file from its first line), feed each complete line
to the pure ``QueueLogMapper``, and hand what it releases to the sink in one batch per poll. When
a poll finds nothing new, the mapper's reorder window is flushed (``finish()``): nothing newer is
coming right now, and holding the last lines back would only delay the wallboard. A poll that
found lines is followed at once by another, so a backlog is drained without waiting.

The sink is awaited through ``collectors.stats.deliver``: a sink that raises is offered the same
batch again after a backoff, and the file is not read meanwhile (it just grows), so no line is
lost. A line the mapper cannot read is logged at WARNING and counted in ``stats.rejected``
(by reason); the mapper's messages name a line by its *byte offset* in the current file
("line 1234" is offset 1234), which the follower knows even when it started at the end of a
file. A line longer than the follower's ``max_line`` is dropped by the follower and counted as
rejected for ``too_long``.

``stop()`` ends ``run()`` gracefully: what has been written so far is read, the reorder window is
flushed to the sink, and the file is closed. Cancelling ``run()`` stops at once (the file is
closed too; lines held in the reorder window are not delivered).

Restart-safe, exactly once by position
--------------------------------------
Given ``load_position`` (the store's), the collector is restart-safe: every batch goes to the sink (a
``PositionedSink``) with the place in the file it has read up to, a ``FilePosition`` (identity,
offset, hash of the line ending there: ``position.py``), stored under ``queue_log:<absolute path>``
in the same transaction as the events. That place never claims a line whose events are not in the
sink yet: while the reorder window holds events, it is the offset of the first line whose events are
held (the mapper's line numbers are the follower's byte offsets), else the end of the last line read;
a poll that read only lines without events (ignored, rejected) moves it too, with an empty batch. A
rotation or truncation met while running flushes the reorder window first, so the place is always in
the file being read (its identity changes with the file).

On start, the stored position is loaded (retried with backoff while the store is unreachable) and
found again (``position.locate``): the same file, or the file it was rotated to while the collector
was down (renamed, or copied by ``copytruncate``), whose rest is read before the path's new file from
its start. A stored file that cannot be found is a WARNING, and the path is read from its start.
Killed at any moment and restarted with its defaults, the collector therefore delivers every line
once, plus, again, at most the lines of the reorder window and those of a batch the sink was writing
in several transactions (a poll reads at most ``read_budget`` bytes, some 600 lines, so that is rare
and small); their events carry the same idempotency keys, and the engine drops them.

``from_start`` matters only when no position is stored (the first start): with one, the lines before
it are never delivered again, however large the file, so reading a file twice counts nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from collectors.clock import DEFAULT_TOLERANCE_S, ClockGuard
from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.position import FilePosition, LoadPosition, locate, source_name
from collectors.queue_log.tail import FileFollower
from collectors.stats import CollectorStats, PositionedSink, Sink, deliver
from wallboard.core.backoff import Backoff
from wallboard.core.events import Event
from wallboard.core.positions import SourcePosition

__all__ = ["QueueLogCollector", "QueueLogStats", "Sink"]

log = logging.getLogger(__name__)

# Bytes read per poll: some 600 lines, so that a poll's batch usually fits in one transaction of the sink
# (``StreamSink`` writes 1000 events per MULTI, the position with the last), and a kill during a backlog
# leaves little appended past the stored position.
READ_BUDGET = 64 << 10


@dataclass
class QueueLogStats(CollectorStats):
    """The collector's health: ``reconnects`` counts PBX restarts (QUEUESTART), ``connected`` is 1 while running,
    ``following`` while a file is open (0: the path names no file yet)."""

    following: bool = False
    duplicates: int = 0
    rotations: int = 0
    truncations: int = 0


class QueueLogCollector:
    """Follows one queue_log file into ``sink`` until stopped or cancelled."""

    def __init__(
        self,
        path: Path,
        sink: Sink | PositionedSink,
        *,
        site: str = "default",
        from_start: bool = False,
        poll_interval: float = 0.25,
        reorder_window_s: int = 2,
        max_line: int = 1 << 20,
        read_budget: int = READ_BUDGET,
        load_position: LoadPosition | None = None,
        clock_tolerance_s: float = DEFAULT_TOLERANCE_S,
    ) -> None:
        """With ``load_position``, ``sink`` must take positions (``PositionedSink``): see the module docstring."""
        self._path = path
        self._follower = FileFollower(path, from_start=from_start, max_line=max_line, read_budget=read_budget)
        self._clock = ClockGuard(clock_tolerance_s)
        self._mapper = QueueLogMapper(site=site, reorder_window_s=reorder_window_s, clock=self._clock)
        self._caught_up = False  # the last poll found nothing new: the next lines were just written (live)
        self._sink = sink
        self._sink_backoff = Backoff(cap=30.0)
        self._poll_interval = poll_interval
        self._stopping = asyncio.Event()
        self._from_start = from_start
        self._load_position = load_position
        self._resumed = load_position is None  # the stored position was applied (or there is none to apply)
        self._saved: FilePosition | None = None
        self.source = source_name(path)
        self.stats = QueueLogStats()

    async def run(self) -> None:
        """Poll until ``stop()`` (then drain and flush) or cancellation; the file is closed either way."""
        self.stats.connected = True
        try:
            while not self._stopping.is_set():
                if not await self.poll_once():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_interval):
                            await self._stopping.wait()
            while await self.poll_once():
                pass  # drain what was written before stop(); the last, empty poll flushes the window
            log.info("stopped following %s", self._path)
        finally:
            self.stats.connected = self.stats.following = False
            self.close()

    def stop(self) -> None:
        """Ask ``run()`` to read what is left, flush the reorder window and return."""
        self._stopping.set()

    def close(self) -> None:
        """Close the file, delivering nothing more (for callers of ``poll_once``; ``run()`` closes it itself)."""
        self._follower.close()

    async def poll_once(self) -> bool:
        """Read what is new and deliver its events; True if any line was read (the caller polls again at once)."""
        if not self._resumed:
            await self._resume()
        lines = self._follower.poll()
        self._clock.live = self._caught_up  # only lines written after we caught up measure the PBX's clock
        self._caught_up = not lines
        switch = self._follower.new_file_at
        batch: list[Event] = []
        if switch is not None:  # what is held from the previous file goes out before the position leaves it
            batch.extend(self._feed(lines[:switch]))
            batch.extend(self._mapper.finish())
        batch.extend(self._feed(lines[switch:] if switch is not None else lines))
        if not lines:
            batch.extend(self._mapper.finish())
        self._update_stats()
        here = self._position()
        position = None if here is None else SourcePosition(self.source, here.value())
        await deliver(
            self._sink, batch, self.stats, self._sink_backoff, source=f"queue_log {self._path}", position=position
        )
        if here is not None:
            self._saved = here
        return bool(lines)

    def _feed(self, lines: list[tuple[bytes, int]]) -> list[Event]:
        batch: list[Event] = []
        for line, offset in lines:
            batch.extend(self._mapper.feed_line(line, offset))
        return batch

    async def _resume(self) -> None:
        """Load the stored position (retrying while the store fails) and start the follower there."""
        assert self._load_position is not None
        while True:
            try:
                stored = await self._load_position(self.source)
            except Exception as exc:  # the store is unreachable: wait for it, reading nothing meanwhile
                delay = next(self._sink_backoff)
                log.warning("%s: cannot load the stored position (%s): retrying in %.2f s", self.source, exc, delay)
                await asyncio.sleep(delay)
                continue
            break
        self._sink_backoff.reset()
        self._resumed = True
        position = FilePosition.from_value(stored) if stored is not None else None
        if position is None:
            where = "start" if self._from_start else "end"
            log.info("%s: no stored position: reading %s from its %s", self.source, self._path, where)
            return
        found = locate(str(self._path), position)
        if found is None:
            self._follower.read_from_start()
            return
        self._follower.resume(found)
        self._saved = position
        if position.offset > 0:
            self._mapper.continue_after()  # a QUEUESTART right after the stored position is a PBX restart

    def _position(self) -> FilePosition | None:
        """Where a restart should read from: the first line whose events are held, else past the last line read."""
        if self._load_position is None:
            return None
        held = self._mapper.held_from
        offset = held if held is not None else self._follower.line_end
        saved = self._saved
        if offset is None or (saved is not None and (saved.ident, saved.offset) == (self._follower.identity, offset)):
            return None
        return self._follower.position_at(offset)

    def _update_stats(self) -> None:
        stats, mapper, follower = self.stats, self._mapper, self._follower
        stats.following = follower.identity is not None
        stats.records = mapper.records + follower.dropped
        stats.ignored = mapper.ignored
        stats.duplicates = mapper.duplicates
        stats.reconnects = mapper.reconnects
        stats.rotations = follower.rotations
        stats.truncations = follower.truncations
        by_reason = dict(mapper.rejected_by_reason)
        if follower.dropped:
            by_reason["too_long"] = follower.dropped
        stats.rejected_by_reason = by_reason
        stats.rejected = mapper.rejected + follower.dropped
        stats.degraded_by_reason = dict(mapper.degraded_by_reason)
