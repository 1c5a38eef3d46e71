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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.tail import FileFollower
from collectors.stats import CollectorStats, Sink, deliver
from wallboard.core.backoff import Backoff
from wallboard.core.events import Event

__all__ = ["QueueLogCollector", "QueueLogStats", "Sink"]

log = logging.getLogger(__name__)


@dataclass
class QueueLogStats(CollectorStats):
    """The collector's health: ``reconnects`` counts PBX restarts (QUEUESTART), ``connected`` is 1 while running."""

    duplicates: int = 0
    rotations: int = 0
    truncations: int = 0


class QueueLogCollector:
    """Follows one queue_log file into ``sink`` until stopped or cancelled."""

    def __init__(
        self,
        path: Path,
        sink: Sink,
        *,
        site: str = "default",
        from_start: bool = False,
        poll_interval: float = 0.25,
        reorder_window_s: int = 2,
        max_line: int = 1 << 20,
    ) -> None:
        self._path = path
        self._follower = FileFollower(path, from_start=from_start, max_line=max_line)
        self._mapper = QueueLogMapper(site=site, reorder_window_s=reorder_window_s)
        self._sink = sink
        self._sink_backoff = Backoff(cap=30.0)
        self._poll_interval = poll_interval
        self._stopping = asyncio.Event()
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
            self.stats.connected = False
            self._follower.close()

    def stop(self) -> None:
        """Ask ``run()`` to read what is left, flush the reorder window and return."""
        self._stopping.set()

    async def poll_once(self) -> bool:
        """Read what is new and deliver its events; True if any line was read (the caller polls again at once)."""
        lines = self._follower.poll()
        batch: list[Event] = []
        for line, offset in lines:
            batch.extend(self._mapper.feed_line(line, offset))
        if not lines:
            batch.extend(self._mapper.finish())
        self._update_stats()
        await deliver(self._sink, batch, self.stats, self._sink_backoff, source=f"queue_log {self._path}")
        return bool(lines)

    def _update_stats(self) -> None:
        stats, mapper, follower = self.stats, self._mapper, self._follower
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
