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
would queue behind it for up to 250 ms.) Every ``heartbeat_s`` it offers a heartbeat,
``{"type": "heartbeat", "ts": <the API's time>, "data_ts": <the ts of the snapshot last broadcast>}``.
Every message says how old its data is: a snapshot carries the engine's ``ts``, a delta and a
heartbeat ``data_ts``, so a page tells data that stopped moving (the engine stopped: heartbeats go
on) from live data, whatever its own clock says (``ts - data_ts`` is the age by the server's clocks).

Each client has an ``Outbox``: a bounded queue of encoded messages drained by the client's own
pump task, which awaits the socket (uvicorn's send blocks while the transport is paused, so a
client that does not read stops its pump, never the hub). When an offer finds the outbox full,
the pending messages are dropped and replaced by one full snapshot of what was just broadcast;
the deltas that follow build on it, so the client never sees a gap and server memory per client
stays at ``queue_size`` messages (the strings themselves are shared by all clients).

A snapshot message is always the state the hub last broadcast, never a newer copy, so that the
next delta's ``base`` is the ``seq`` the client holds. It is serialised at most once per broadcast
state, however many clients connect, resync or overflow.

Views: what a client is shown is the whole snapshot, or a part of it (``wallboard.core.scopes.narrow``) for a
display token bound to a board or a user scoped to teams and queues. A client connects under a *key* (the
security module names them: ``board:<name>``, ``user:<name>``) with the key's scope; the hub keeps one *view*
per key whose scope narrows anything: the narrowed snapshot as last broadcast, diffed and serialised once per
broadcast for all the key's clients, exactly as the whole-site view is for the others (a key whose scope is
None or everything shares the whole-site view). A view lives while it has clients. ``rescope`` changes a
key's scope (a board edited, a user's teams or queues changed): its clients move to the new view and get a
snapshot of it at once. Deltas of a view carry the site's ``seq``.

Board messages: the hub also holds each board's message (``board_message``, told by ``messages.MessageFeed``
from any API process) and pushes ``{"type": "board_message", "board", "message": {..., "expires_in_s"} | null}``
to every client that may read that board: a client confined to one board (a display token bound to it:
``connect(board=...)``) hears only its board's, the others every board's. A snapshot *restarts* a client's
messages too: when it may read any current message, the snapshot is preceded by
``{"type": "board_messages", "messages": {board: message}}`` (all of them; a board not in it has none), and a
snapshot without one before it means there is none (so a client that connects, resyncs, overflows or is
rescoped, whose pending frames were dropped, holds the current messages again; and a client with no message
gets exactly the frames it got before messages existed). ``expires_in_s`` is counted when the frame is made
(the TV counts down by its own clock); an expired message is left out, and nothing is pushed when one expires:
the TV takes it down itself.

Client messages: ``{"type": "resync"}`` replaces the client's pending messages with a snapshot;
anything else gets ``{"type": "error", "message": ...}`` and the connection stays open; a message
over ``max_message_bytes`` closes the connection with 1009 (message too big). ``serve_client`` also
closes the connection with the code and reason it is handed through ``ending`` (access revoked:
``wallboard.api.security.AccessWatch``).
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

from wallboard.admin.boards import shown_message
from wallboard.core.deltas import diff as snapshot_diff
from wallboard.core.scopes import EVERYTHING, BoardScope, narrow

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

    def replace(self, *messages: str) -> None:
        """Drop every pending message and queue ``messages`` alone (whatever the limit)."""
        self.dropped += len(self._items)
        self._items.clear()
        self._items.extend(messages)
        self._ready.set()

    async def get(self) -> str:
        """The next message, waiting for one if needed."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class _View:
    """One way of looking at the site (all of it, or a board's scope) and the clients looking that way."""

    def __init__(self, scope: BoardScope | None) -> None:
        self.scope = scope
        self.clients: set[Outbox] = set()
        self.shown: Snapshot | None = None  # what its clients have been brought to
        self._text: str | None = None

    def adopt(self, snapshot: Snapshot) -> Snapshot | None:
        """Show ``snapshot`` (narrowed to the scope) from now on; returns what was shown before."""
        before, self._text = self.shown, None
        self.shown = snapshot if self.scope is None else narrow(snapshot, self.scope)
        return before

    def snapshot_message(self) -> str | None:
        """The snapshot message of what the view shows, serialised once per state."""
        if self.shown is None:
            return None
        if self._text is None:
            self._text = _encode({"type": "snapshot", **self.shown, "alerts": self.shown.get("alerts", [])})
        return self._text


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
        self._site = _View(None)  # the whole snapshot
        self._boards: dict[str, _View] = {}  # key -> its narrowed view, while it has clients
        self._views: dict[Outbox, _View] = {}  # every client -> the view it is shown
        self._keys: dict[str, set[Outbox]] = {}  # key -> its clients (in its own view or the whole-site one)
        self._key_of: dict[Outbox, str] = {}  # a client connected under a key -> that key
        self._board_of: dict[Outbox, str] = {}  # a client confined to one board's messages -> that board
        self._messages: dict[str, Mapping[str, Any]] = {}  # board -> its current message, as stored
        self._sent: Snapshot | None = None
        self._sent_seq: int | None = None
        self._dirty = asyncio.Event()
        self.broadcasts = 0
        self.overflows = 0

    @property
    def clients(self) -> frozenset[Outbox]:
        return frozenset(self._views)

    @property
    def keys(self) -> list[str]:
        """The keys some client is connected under now (their scopes are kept current with ``rescope``)."""
        return list(self._keys)

    def scope(self, key: str) -> BoardScope | None:
        """The scope the hub shows ``key``'s clients with (None: the whole site, or no client)."""
        view = self._boards.get(key)
        return view.scope if view is not None else None

    @property
    def sent_seq(self) -> int | None:
        """The seq of the state the clients have been brought to (None before the first snapshot)."""
        return self._sent_seq

    def notify(self) -> None:
        """The source changed: the hub's task broadcasts at its next opportunity."""
        self._dirty.set()

    def connect(self, key: str | None = None, scope: BoardScope | None = None, board: str | None = None) -> Outbox:
        """A new client, shown the whole site, or the site narrowed to ``scope`` under ``key`` (the key's scope in
        use wins if another client is connected under it already), hearing only ``board``'s messages when given.
        Its outbox starts with the current board messages (if any) and the view's last snapshot."""
        outbox = Outbox(self._queue_size)
        if board is not None:
            self._board_of[outbox] = board
        view = self._site
        if key is not None:
            clients = self._keys.setdefault(key, set())
            if not clients or key in self._boards:
                view = self._view(key, scope)
            clients.add(outbox)
            self._key_of[outbox] = key
        view.clients.add(outbox)
        self._views[outbox] = view
        if self._sent is None:
            self.tick()
        elif (text := view.snapshot_message()) is not None:
            self._start(outbox, view, text)
        return outbox

    def disconnect(self, outbox: Outbox) -> None:
        view = self._views.pop(outbox, None)
        self._board_of.pop(outbox, None)
        if view is None:
            return
        view.clients.discard(outbox)
        key = self._key_of.pop(outbox, None)
        if key is not None and (clients := self._keys.get(key)) is not None:
            clients.discard(outbox)
            if not clients:
                del self._keys[key]
        if view is not self._site and not view.clients:
            self._boards = {name: kept for name, kept in self._boards.items() if kept is not view}

    def resync(self, outbox: Outbox) -> None:
        """The client asked for a snapshot: it replaces whatever the client had pending."""
        view = self._views.get(outbox)
        if view is not None:
            self._restart(outbox, view)

    def rescope(self, key: str, scope: BoardScope | None) -> None:
        """``key``'s clients are now shown ``scope``: they get a snapshot of the new view at once (nothing if
        unchanged)."""
        clients = self._keys.get(key)
        if not clients:
            return
        old = self._boards.get(key)
        if (old.scope if old is not None else None) == _narrowing(scope):
            return
        if old is not None:
            del self._boards[key]
        view = self._view(key, scope)
        if old is not None:
            view.clients |= old.clients
            old.clients.clear()
        elif view is not self._site:
            self._site.clients -= clients
            view.clients |= clients
        for outbox in clients:
            self._views[outbox] = view
        if view.snapshot_message() is not None:
            for outbox in clients:
                self._restart(outbox, view)

    def board_message(self, board: str, message: Mapping[str, Any] | None) -> None:
        """``board``'s message is now ``message`` (as stored; None: none): pushed at once to every client that
        may read the board."""
        if message is None:
            self._messages.pop(board, None)
        else:
            self._messages[board] = message
        shown = shown_message(message, self._now())
        text = _encode({"type": "board_message", "board": board, "message": shown})
        for outbox, view in self._views.items():
            if self._board_of.get(outbox, board) == board and not outbox.offer(text):
                self.overflows += 1
                self._restart(outbox, view)

    def tick(self) -> bool:
        """Bring every client from the state last broadcast to the source's current one; True if anything was sent."""
        current = self._source.snapshot
        if current is None or current is self._sent:
            return False
        seq = _seq(current)
        if seq is not None and seq == self._sent_seq:
            return False
        base = self._sent_seq
        restart = self._sent is None or base is None or seq is None or seq < base
        self._sent, self._sent_seq = current, seq
        sent = False
        for view in (self._site, *self._boards.values()):
            before = view.adopt(current)
            if not view.clients:
                continue  # nobody to bring along: adopting the state is enough
            sent = True
            if restart or before is None or view.shown is None:
                # First snapshot, or the runner started over: everyone gets the whole state.
                text = view.snapshot_message() or ""
                for outbox in view.clients:
                    self._start(outbox, view, text)
            else:
                changes = self._diff(before, view.shown)
                delta = {"type": "delta", "seq": seq, "base": base, "changes": changes, "data_ts": current.get("ts")}
                self._fan_out(view, _encode(delta))
        self.broadcasts += sent
        return sent

    def heartbeat(self) -> None:
        stamp = datetime.fromtimestamp(self._clock(), UTC).isoformat().replace("+00:00", "Z")
        data_ts = self._sent.get("ts") if self._sent is not None else None  # the age of what the clients hold
        message = _encode({"type": "heartbeat", "ts": stamp, "data_ts": data_ts})
        for view in (self._site, *self._boards.values()):
            self._fan_out(view, message)

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

    def _view(self, key: str, scope: BoardScope | None) -> _View:
        """``key``'s view: the one in use, a new one narrowed to ``scope``, or the whole site (nothing to narrow)."""
        view = self._boards.get(key)
        if view is not None:
            return view
        narrowing = _narrowing(scope)
        if narrowing is None:
            return self._site
        view = self._boards[key] = _View(narrowing)
        if self._sent is not None:
            view.adopt(self._sent)
        return view

    def _fan_out(self, view: _View, message: str) -> None:
        for outbox in view.clients:
            if not outbox.offer(message):
                self.overflows += 1
                self._restart(outbox, view, message)

    def _start(self, outbox: Outbox, view: _View, snapshot: str) -> None:
        """Queue ``snapshot`` after the board messages ``outbox``'s client may read (if any); all pending
        messages are replaced by them when they do not fit."""
        frames = [frame for frame in (self._messages_message(outbox), snapshot) if frame is not None]
        if len(outbox) + len(frames) > outbox.limit:
            self.overflows += 1
            outbox.replace(*frames)
            return
        for frame in frames:
            outbox.offer(frame)

    def _restart(self, outbox: Outbox, view: _View, fallback: str | None = None) -> None:
        """Replace what ``outbox`` has pending with the board messages it may read (if any) and the view's snapshot
        (else ``fallback``): whatever was dropped, the client holds the current state again."""
        frames = (self._messages_message(outbox), view.snapshot_message() or fallback)
        outbox.replace(*(frame for frame in frames if frame is not None))

    def _messages_message(self, outbox: Outbox) -> str | None:
        """``{"type": "board_messages", "messages": {...}}``: every current message ``outbox``'s client may read
        (None: there is none)."""
        board, now = self._board_of.get(outbox), self._now()
        messages = {
            name: shown
            for name, message in self._messages.items()
            if (board is None or name == board) and (shown := shown_message(message, now)) is not None
        }
        return _encode({"type": "board_messages", "messages": messages}) if messages else None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


async def serve_client(
    websocket: WebSocket,
    hub: Hub,
    *,
    max_message_bytes: int,
    key: str | None = None,
    scope: BoardScope | None = None,
    board: str | None = None,
    ending: asyncio.Future[tuple[int, str]] | None = None,
) -> None:
    """Serve one accepted websocket until either side closes it, or ``ending`` gives the close to make.

    ``key`` and ``scope``: the client is shown that part of the site; ``board``: it hears only that board's
    messages (see ``Hub.connect``).
    """
    outbox = hub.connect(key, scope, board)
    pump = asyncio.create_task(_pump(websocket, outbox))
    receiver = asyncio.create_task(_receive(websocket, hub, outbox, pump, max_message_bytes))
    try:
        waits: set[asyncio.Future[Any]] = {receiver} if ending is None else {receiver, ending}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if receiver.done():
            receiver.result()  # the client left (or broke the rules): anything unexpected propagates
        elif ending is not None:
            code, reason = ending.result()
            for task in (receiver, pump):
                task.cancel()
            await asyncio.gather(receiver, pump, return_exceptions=True)
            log.info("closing a websocket client with %d: %s", code, reason)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await websocket.close(code, reason)
    finally:
        hub.disconnect(outbox)
        for task in (receiver, pump):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
            await pump
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
            await receiver


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


def _narrowing(scope: BoardScope | None) -> BoardScope | None:
    """``scope``, or None when it lets everything through."""
    return None if scope is None or scope == EVERYTHING else scope


def _error(text: str) -> str:
    return _encode({"type": "error", "message": text})


def _seq(snapshot: Snapshot) -> int | None:
    seq = snapshot.get("seq")
    return seq if isinstance(seq, int) else None


def _encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
