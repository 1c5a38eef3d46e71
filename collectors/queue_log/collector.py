"""The live queue_log collector: follow the file, map its lines, hand the events to the sink.

A thin loop: poll the follower (rotation and truncation are its business), feed each complete
line to the pure mapper, and when a poll finds nothing new, flush the mapper's reorder buffer:
nothing newer is coming right now, so holding lines back would only delay the wallboard.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.tail import FileFollower
from wallboard.events import Event

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], Awaitable[None]]


@dataclass
class QueueLogStats:
    records: int = 0
    rejected: int = 0
    ignored: int = 0
    reconnects: int = 0
    events: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    last_event_ts: float | None = None

    def as_fields(self) -> dict[str, str]:
        return {
            "connected": "1",
            "reconnects": str(self.reconnects),
            "records": str(self.records),
            "events": str(self.events),
            "rejected": str(self.rejected),
            "ignored": str(self.ignored),
            "rejected_by_reason": json.dumps(self.rejected_by_reason, sort_keys=True),
            "last_event_ts": "" if self.last_event_ts is None else f"{self.last_event_ts:.3f}",
        }


class QueueLogCollector:
    """Follows one queue_log file into ``sink`` until cancelled."""

    def __init__(
        self,
        path: Path,
        sink: Sink,
        *,
        site: str = "default",
        from_start: bool = False,
        poll_interval: float = 0.25,
    ) -> None:
        self._follower = FileFollower(path, from_start=from_start)
        self._mapper = QueueLogMapper(site=site)
        self._sink = sink
        self._poll_interval = poll_interval
        self.stats = QueueLogStats()

    async def run(self) -> None:
        try:
            while True:
                if not await self.poll_once():
                    await asyncio.sleep(self._poll_interval)
        finally:
            self._follower.close()

    async def poll_once(self) -> bool:
        """Read what is new; True if any line was read (the caller polls again at once)."""
        lines = self._follower.poll()
        batch: list[Event] = []
        for line, offset in lines:
            batch.extend(self._mapper.feed_line(line, offset))
        if not lines:
            batch.extend(self._mapper.finish())
        self._update_stats()
        if batch:
            self.stats.events += len(batch)
            self.stats.last_event_ts = batch[-1].ts.timestamp()
            await self._sink(batch)
        return bool(lines)

    def _update_stats(self) -> None:
        m = self._mapper
        self.stats.records = m.records
        self.stats.rejected = m.rejected
        self.stats.ignored = m.ignored
        self.stats.reconnects = m.reconnects
        self.stats.rejected_by_reason = dict(m.rejected_by_reason)
