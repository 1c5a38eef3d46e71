"""The event sink: collectors hand it batches of events, it appends them to the site's Redis stream.

Collectors know nothing of Redis: they hand batches of events to a sink. ``StreamSink`` is the
sink that appends them to the site's stream and survives a Redis outage: it retries with
backoff and never drops a batch (the collector's read loop waits meanwhile, which pushes back
on the PBX connection instead of growing memory). Every event carries an idempotency key, so a
retried append that had in fact succeeded is not counted twice by the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wallboard.core.backoff import Backoff
from wallboard.core.events import Event
from wallboard.core.positions import SourcePosition
from wallboard.store import Store

log = logging.getLogger(__name__)

TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)


BATCH = 1000


class StreamSink:
    """Appends event batches to the site's stream; retries through Redis outages, losing nothing."""

    def __init__(self, store: Store, *, backoff: Backoff | None = None) -> None:
        self._store = store
        self._backoff = backoff or Backoff(cap=5.0)
        self.appended = 0
        self.retries = 0
        self.connected = True

    async def __call__(self, events: Sequence[Event], position: SourcePosition | None = None) -> None:
        """Append ``events``; ``position`` (the source's resume point) goes with the last chunk, atomically."""
        starts = range(0, max(len(events), 1), BATCH)
        for start in starts:
            await self._append(events[start : start + BATCH], position if start == starts[-1] else None)

    async def _append(self, batch: Sequence[Event], position: SourcePosition | None) -> None:
        if not batch and position is None:
            return
        while True:
            try:
                await self._store.events.append_events(batch, position)
            except TRANSIENT as exc:
                self.connected = False
                self.retries += 1
                delay = next(self._backoff)
                log.warning("cannot append to Redis (%s): retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            if not self.connected:
                log.info("Redis is back: appending again")
            self.connected = True
            self._backoff.reset()
            self.appended += len(batch)
            return
