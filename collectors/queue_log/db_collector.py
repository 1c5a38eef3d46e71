"""The live queue_log table collector: follow new rows by id, map them, store events and position together.

Theory of operation
-------------------
A thin loop over a :class:`~collectors.queue_log.table.QueueLogTable` (blocking calls, run in a
thread): at start, check the table's layout and find where to begin, then poll ``rows after the last
id`` page by page. Each row becomes a record (``database.parse_row``) fed to the pure
``QueueLogMapper``; a row that cannot be read is logged at WARNING with its id and counted in
``stats.rejected`` (by reason), and reading goes on.

Position: the last id whose events were delivered, stored by the sink *with* those events in one
transaction (``SourcePosition``, ``StreamSink(events, position)``). At the end of every page the
mapper's reorder window is flushed (rows arrive in id order, i.e. in the order Asterisk wrote them),
so the id stored never claims a row whose events are still held. A page whose rows gave no event
still moves the position. A restart resumes after the stored id: nothing is lost or delivered twice.
With no stored position the collector starts at the table's current largest id (like ``tail``; that
start is stored at once, so a restart before the next row does not skip it), or at the first row with
``from_start``.

Delivery: a sink that raises is offered the *same* events and position again after a backoff, and the
table is not read meanwhile (``collectors.stats.deliver``'s rule, with the position added).

Outages: a failed database call (the server restarting, the network gone) is logged, counted in
``stats.reconnects``, and retried after a backoff that resets once a poll succeeds; the next attempt
checks the layout again and goes on after the last id delivered. Fatal, raised out of ``run()``: a
table that is not Asterisk's (``UnknownSchema``, exit 2) and a refused login (``DatabaseLoginError``,
exit 1).

``stop()`` ends ``run()`` gracefully: the rows written so far are read and delivered. Cancelling
``run()`` stops at once, but for a query already running in its thread: it is let finish (the
drivers' timeouts bound it) so its connection is closed with the others.

Known limit: a row is read once the ids before it were read. Asterisk inserts one row per statement,
in autocommit, so ids are committed in order but for two inserts racing by a few milliseconds; a row
committed after a higher id was already read would be passed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from collectors.queue_log.database import MalformedRow, TableLayout, parse_row
from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.table import QueueLogTable
from collectors.stats import CollectorStats, PositionedSink
from wallboard.core.backoff import Backoff
from wallboard.core.events import Event
from wallboard.core.positions import SourcePosition

__all__ = ["QueueLogDbCollector", "QueueLogDbStats"]

log = logging.getLogger(__name__)

LoadPosition = Callable[[str], Awaitable[Mapping[str, Any] | None]]
OUTAGES = (SQLAlchemyError, OSError)
T = TypeVar("T")


@dataclass
class QueueLogDbStats(CollectorStats):
    """The collector's health: ``reconnects`` counts database outages, ``last_id`` the last row delivered."""

    duplicates: int = 0
    last_id: int | None = None
    restarts: int = 0  # QUEUESTART after other rows: PBX restarts


class QueueLogDbCollector:
    """Follows one queue_log table into ``sink`` until stopped or cancelled."""

    def __init__(
        self,
        table: QueueLogTable,
        sink: PositionedSink,
        load_position: LoadPosition,
        *,
        source: str,
        tz: tzinfo,
        site: str = "default",
        from_start: bool = False,
        poll_interval: float = 0.5,
        reorder_window_s: int = 2,
    ) -> None:
        self._table = table
        self._sink = sink
        self._load_position = load_position
        self.source = source
        self._tz = tz
        self._from_start = from_start
        self._poll_interval = poll_interval
        self._mapper = QueueLogMapper(site=site, source="queue_log_db", reorder_window_s=reorder_window_s)
        self._layout: TableLayout | None = None
        self._last_id: int | None = None
        self._started = False
        self._unreadable: dict[str, int] = {}
        self._backoff = Backoff(cap=30.0)
        self._sink_backoff = Backoff(cap=30.0)
        self._stopping = asyncio.Event()
        self._in_flight: asyncio.Future[Any] | None = None
        self.stats = QueueLogDbStats()

    async def run(self) -> None:
        """Poll until ``stop()`` (then read what is left) or cancellation; outages are retried with backoff."""
        try:
            while not self._stopping.is_set():
                try:
                    await self._follow()
                except OUTAGES as exc:
                    await self._outage(exc)
        finally:
            self.stats.connected = False
            if self._in_flight is not None:  # cancelled during a query: let its thread hand the connection back
                await asyncio.wait([self._in_flight])
            self._table.dispose()
        log.info("stopped following %s", self.source)

    def stop(self) -> None:
        """Ask ``run()`` to read what has been written so far, deliver it and return."""
        self._stopping.set()

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` in a thread; a cancelled caller leaves it running, and ``run()`` waits for it."""
        future = asyncio.ensure_future(asyncio.to_thread(call, *args))
        self._in_flight = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._in_flight = None

    async def _follow(self) -> None:
        self._layout = await self._blocking(self._table.layout)
        if not self._started:
            await self._start()
        self.stats.connected = True
        if self.stats.reconnects:
            log.info("%s: reading again after row id %s", self.source, self._last_id)
        while not self._stopping.is_set():
            if not await self.poll_once():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._stopping.wait()
        while await self.poll_once():
            pass  # what was written before stop()

    async def _start(self) -> None:
        """Where to begin: after the stored id, else the table's end (stored at once) or its first row."""
        stored = await self._load_position(self.source)
        if stored is not None and isinstance(stored.get("id"), int):
            self._last_id = stored["id"]
            log.info("%s: resuming after row id %d", self.source, self._last_id)
        elif self._from_start:
            log.info("%s: reading from the first row", self.source)
        else:
            self._last_id = await self._blocking(self._table.max_id)
            log.info("%s: following new rows after row id %s", self.source, self._last_id)
            if self._last_id is not None:
                await self._deliver([], SourcePosition(self.source, {"id": self._last_id}))
        self.stats.last_id = self._last_id
        self._started = True

    async def poll_once(self) -> bool:
        """Read one page of new rows and deliver its events with its last id; True if any row was read."""
        rows = await self._blocking(self._table.rows_after, self._last_id)
        if self._backoff.attempt:
            self._backoff.reset()
        if not rows:
            return False
        events: list[Event] = []
        for row in rows:
            events += self._feed(row)
        events += self._mapper.finish()
        last_id = int(rows[-1]["id"])
        await self._deliver(events, SourcePosition(self.source, {"id": last_id}))
        self._last_id = self.stats.last_id = last_id
        self._update_stats()
        return True

    def _feed(self, row: Mapping[str, Any]) -> list[Event]:
        assert self._layout is not None
        try:
            record = parse_row(row, self._layout, self._tz)
        except MalformedRow as exc:
            self._unreadable[exc.reason] = self._unreadable.get(exc.reason, 0) + 1
            log.warning("rejected %s %s", self.source, exc)
            return []
        return self._mapper.feed(record)

    async def _deliver(self, events: list[Event], position: SourcePosition) -> None:
        """Hand events and position to the sink, retrying the same pair with backoff until it takes them."""
        while True:
            try:
                await self._sink(events, position)
            except Exception as exc:  # any sink failure: keep the batch, push back on the table
                self.stats.sink_errors += 1
                delay = next(self._sink_backoff)
                log.warning(
                    "%s: the sink failed on %d events up to row id %s (%s: %s): retrying in %.2f s",
                    self.source,
                    len(events),
                    position.value.get("id"),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self._sink_backoff.reset()
            if events:
                self.stats.events += len(events)
                self.stats.last_event_ts = events[-1].ts.timestamp()
            return

    async def _outage(self, exc: BaseException) -> None:
        self.stats.connected = False
        self.stats.reconnects += 1
        delay = next(self._backoff)
        log.warning(
            "%s: the database failed (%s: %s): reconnecting in %.1f s",
            self.source,
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
            delay,
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stopping.wait()

    def _update_stats(self) -> None:
        stats, mapper = self.stats, self._mapper
        unreadable = sum(self._unreadable.values())
        stats.records = mapper.records + unreadable
        stats.ignored = mapper.ignored
        stats.duplicates = mapper.duplicates
        stats.restarts = mapper.reconnects
        by_reason = dict(mapper.rejected_by_reason)
        for reason, count in self._unreadable.items():
            by_reason[reason] = by_reason.get(reason, 0) + count
        stats.rejected_by_reason = by_reason
        stats.rejected = mapper.rejected + unreadable
