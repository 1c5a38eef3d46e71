"""The /ws fan-out: one hub per site turns the site's snapshot copy into coalesced deltas for every client.

Theory of operation
-------------------
The app keeps one up-to-date snapshot per site (``app.SiteFeed``) and calls ``Hub.notify()``
whenever it changes. The hub's task wakes on that, diffs the snapshot it last *broadcast*
against the current one with ``deltas.diff``, serialises ``{"type": "delta", "seq", "base",
"changes"}`` once, and offers the same string to every client. Broadcasts *start* at least
``interval_s`` (250 ms) apart, so however fast the runner publishes, a client gets at most four
deltas a second, each covering everything that changed meanwhile. The spacing is counted from
the start of the previous broadcast, not from its end: the runner publishes every 250 ms plus its
own work, so an update normally finds the hub ready and goes out at once. (Counted from the end,
the hub's period would be 250 ms plus its work, slightly longer than the runner's, and updates
would queue behind it for up to 250 ms.) Every ``heartbeat_s`` it offers a heartbeat.

Each client has an ``Outbox``: a bounded queue of encoded messages drained by the client's own
pump task, which awaits the socket (uvicorn's send blocks while the transport is paused, so a
client that does not read stops its pump, never the hub). When an offer finds the outbox full,
the pending messages are dropped and replaced by one full snapshot of what was just broadcast;
the deltas that follow build on it, so the client never sees a gap and server memory per client
stays at ``queue_size`` messages (the strings themselves are shared by all clients).

A snapshot message is always the state the hub last broadcast, never a newer copy, so that the
next delta's ``base`` is the ``seq`` the client holds. It is serialised at most once per broadcast
state, however many clients connect, resync or overflow.

Client messages: ``{"type": "resync"}`` replaces the client's pending messages with a snapshot;
anything else gets ``{"type": "error", "message": ...}`` and the connection stays open; a message
over ``max_message_bytes`` closes the connection with 1009 (message too big).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from wallboard.core.deltas import diff as snapshot_diff

log = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
Snapshot = dict[str, Any]
Diff = Callable[[Snapshot, Snapshot], Any]


class SnapshotSource(Protocol):
    """What the hub reads: the site's current snapshot (None until the first one is known)."""

    @property
    def snapshot(self) -> Snapshot | None: ...


class Outbox:
    """A client's bounded queue of encoded messages; full means "drop them all, send a snapshot"."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.dropped = 0  # messages dropped because the client did not keep up
        self._items: deque[str] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, message: str) -> bool:
        """Queue ``message``; False (and nothing queued) when the outbox is full."""
        if len(self._items) >= self.limit:
            return False
        self._items.append(message)
        self._ready.set()
        return True

    def replace(self, message: str) -> None:
        """Drop every pending message and queue ``message`` alone."""
        self.dropped += len(self._items)
        self._items.clear()
        self._items.append(message)
        self._ready.set()

    async def get(self) -> str:
        """The next message, waiting for one if needed."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class Hub:
    """Broadcasts one site's snapshot changes to its clients' outboxes (see the module docstring)."""

    def __init__(
        self,
        source: SnapshotSource,
        *,
        interval_s: float = 0.25,
        heartbeat_s: float = 5.0,
        queue_size: int = 8,
        clock: Callable[[], float] = time.time,
        diff: Diff = snapshot_diff,
    ) -> None:
        self._source = source
        self._interval_s = interval_s
        self._heartbeat_s = heartbeat_s
        self._queue_size = queue_size
        self._clock = clock
        self._diff = diff
        self._clients: set[Outbox] = set()
        self._sent: Snapshot | None = None
        self._sent_seq: int | None = None
        self._snapshot_text: str | None = None
        self._dirty = asyncio.Event()
        self.broadcasts = 0
        self.overflows = 0

    @property
    def clients(self) -> frozenset[Outbox]:
        return frozenset(self._clients)

    @property
    def sent_seq(self) -> int | None:
        """The seq of the state the clients have been brought to (None before the first snapshot)."""
        return self._sent_seq

    def notify(self) -> None:
        """The source changed: the hub's task broadcasts at its next opportunity."""
        self._dirty.set()

    def connect(self) -> Outbox:
        """A new client: its outbox starts with the snapshot last broadcast (if there is one yet)."""
        outbox = Outbox(self._queue_size)
        self._clients.add(outbox)
        if self._sent is None:
            self.tick()
        elif (text := self._snapshot_message()) is not None:
            outbox.offer(text)
        return outbox

    def disconnect(self, outbox: Outbox) -> None:
        self._clients.discard(outbox)

    def resync(self, outbox: Outbox) -> None:
        """The client asked for a snapshot: it replaces whatever the client had pending."""
        text = self._snapshot_message()
        if text is not None:
            outbox.replace(text)

    def tick(self) -> bool:
        """Bring every client from the state last broadcast to the source's current one; True if anything was sent."""
        current = self._source.snapshot
        if current is None or current is self._sent:
            return False
        seq = _seq(current)
        if seq is not None and seq == self._sent_seq:
            return False
        previous, base = self._sent, self._sent_seq
        self._sent, self._sent_seq, self._snapshot_text = current, seq, None
        if not self._clients:
            return False  # nobody to bring along: adopting the state is enough
        self.broadcasts += 1
        if previous is None or base is None or seq is None or seq < base:
            # First snapshot, or the runner started over: everyone gets the whole state.
            self._fan_out(self._snapshot_message() or "")
            return True
        changes = self._diff(previous, current)
        self._fan_out(_encode({"type": "delta", "seq": seq, "base": base, "changes": changes}))
        return True

    def heartbeat(self) -> None:
        stamp = datetime.fromtimestamp(self._clock(), UTC).isoformat().replace("+00:00", "Z")
        self._fan_out(_encode({"type": "heartbeat", "ts": stamp}))

    async def run(self) -> None:
        """Tick on changes (broadcasts start at least ``interval_s`` apart) and beat every ``heartbeat_s``.

        Runs until cancelled. Scheduling uses the event loop's monotonic time; the injected clock only
        stamps heartbeats.
        """
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._heartbeat_s
        next_tick = loop.time()  # the earliest start of the next broadcast
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(next_beat):
                    await self._dirty.wait()
            if self._dirty.is_set():
                if loop.time() < next_tick:
                    await asyncio.sleep(next_tick - loop.time())  # changes meanwhile join this broadcast
                self._dirty.clear()
                started = loop.time()
                if self.tick():
                    next_tick = started + self._interval_s
            if loop.time() >= next_beat:
                self.heartbeat()
                next_beat = loop.time() + self._heartbeat_s

    def _fan_out(self, message: str) -> None:
        for outbox in self._clients:
            if not outbox.offer(message):
                self.overflows += 1
                outbox.replace(self._snapshot_message() or message)

    def _snapshot_message(self) -> str | None:
        """The snapshot message for the state last broadcast, serialised once per state."""
        if self._sent is None:
            return None
        if self._snapshot_text is None:
            self._snapshot_text = _encode(
                {"type": "snapshot", **self._sent, "alerts": self._sent.get("alerts", [])},
            )
        return self._snapshot_text


async def serve_client(websocket: WebSocket, hub: Hub, *, max_message_bytes: int) -> None:
    """Serve one accepted websocket until either side closes it."""
    outbox = hub.connect()
    pump = asyncio.create_task(_pump(websocket, outbox))
    try:
        await _receive(websocket, hub, outbox, pump, max_message_bytes)
    finally:
        hub.disconnect(outbox)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
            await pump


async def _pump(websocket: WebSocket, outbox: Outbox) -> None:
    while True:
        await websocket.send_text(await outbox.get())


async def _receive(
    websocket: WebSocket, hub: Hub, outbox: Outbox, pump: asyncio.Task[None], max_message_bytes: int
) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data: str | bytes = message.get("text") or message.get("bytes") or b""
        size = len(data.encode()) if isinstance(data, str) else len(data)
        if size > max_message_bytes:
            pump.cancel()
            reason = f"message of {size} bytes, expected at most {max_message_bytes}"
            log.info("closing a websocket client: %s", reason)
            await websocket.close(CLOSE_TOO_BIG, reason)
            return
        reply = _handle(data, hub, outbox)
        if reply is not None and not outbox.offer(reply):
            hub.resync(outbox)


def _handle(data: str | bytes, hub: Hub, outbox: Outbox) -> str | None:
    """Act on one client message; the reply to queue, if any."""
    try:
        request = json.loads(data)
    except ValueError:
        return _error("expected a JSON object with a 'type'")
    kind = request.get("type") if isinstance(request, dict) else None
    if kind == "resync":
        hub.resync(outbox)
        return None
    return _error(f"unknown message type {kind!r}; expected 'resync'")


def _error(text: str) -> str:
    return _encode({"type": "error", "message": text})


def _seq(snapshot: Snapshot) -> int | None:
    seq = snapshot.get("seq")
    return seq if isinstance(seq, int) else None


def _encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
