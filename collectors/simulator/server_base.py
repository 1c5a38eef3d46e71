"""What the simulated AMI and FreeSWITCH servers share: listening, the model's clock and session bookkeeping.

Both servers own a ``Simulation`` and serve it to any number of TCP sessions; only the wire protocol differs. This
base keeps the parts that must behave the same for both, so a fix to one (a session dropped for being too slow, the
clock logging why it stopped, ``close()`` ordering) cannot drift from the other:

* the clock: ``speed`` (a float) advances the model every ``tick_s`` of the event loop's monotonic clock by that
  time x ``speed``; ``speed=None`` waits for a test to ``await advance(seconds)``. A clock that dies logs why;
* sessions: each connection gets a numbered session, the protocol's greeting and its read loop; a session whose
  unsent bytes (the transport's write buffer) pass ``max_buffer`` is aborted and counted in ``dropped_slow``, as a
  PBX drops a client that stops reading, so a slow client never grows memory.

A subclass names its protocol (class attributes: error class, log label, logger, greeting) and implements
``_new_session``, ``_read_loop`` (one session's commands) and ``_publish`` (one batch of model events). Log lines go
to the subclass's logger, so they keep their module's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar, Generic, TypeVar

from collectors.simulator.model import Simulation
from collectors.simulator.views import SimEvent
from wallboard.errors import StartupError


@dataclass(eq=False)
class ServerSession:
    """One connection: its number (for the logs), its writer and peer, and why the server dropped it, once it did."""

    number: int
    writer: asyncio.StreamWriter
    peer: str
    dropped: str | None = field(default=None, kw_only=True)

    @property
    def closing(self) -> bool:
        return self.dropped is not None


S = TypeVar("S", bound=ServerSession)


class SimulatedServer(ABC, Generic[S]):
    """Serves a ``Simulation`` on a TCP port: the lifecycle, the clock and the sessions of one protocol."""

    _error: ClassVar[type[StartupError]]  # raised when the server is used out of order
    _label: ClassVar[str]  # "AMI", "ESL": the sessions' name in the logs
    _listening: ClassVar[str]  # the log line's start once listening ("simulated AMI server listening on")
    _clock_name: ClassVar[str]  # the clock task's name
    _clock_failed: ClassVar[str]  # the log line when the clock stops on an error
    _greeting: ClassVar[bytes]  # written to each session on connect
    _lost: ClassVar[tuple[type[Exception], ...]] = (ConnectionError, OSError)  # errors that end a session
    _log: ClassVar[logging.Logger]

    def __init__(self, simulation: Simulation, *, speed: float | None, tick_s: float, max_buffer: int) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive (or None for a manual clock), got {speed}")
        self._sim = simulation
        self._speed, self._tick = speed, tick_s
        self._max_buffer = max_buffer
        self._server: asyncio.Server | None = None
        self._clock: asyncio.Task[None] | None = None
        self._sessions: dict[S, asyncio.Task[None] | None] = {}
        self._counter = 0
        self._booted = simulation.current_time
        self.dropped_slow = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port) and start the clock unless it is manual."""
        self._server = await asyncio.start_server(self._serve, host, port)
        if self._speed is not None:
            self._clock = asyncio.create_task(self._run_clock(self._speed), name=self._clock_name)
            self._clock.add_done_callback(self._clock_stopped)
        self._log.info("%s %s:%d (speed %s)", self._listening, host, self.port, self._speed or "manual")

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise self._error("the server is not listening: call start() first")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def simulation(self) -> Simulation:
        return self._sim

    async def close(self) -> None:
        """Stop the clock, stop listening and drop every session."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        if self._server is not None:
            self._server.close()
        await self.drop_sessions()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def drop_sessions(self) -> None:
        """Abort every connected session at once (a PBX restart or network cut, for reconnect tests)."""
        sessions = list(self._sessions.items())
        for session, _ in sessions:
            self._abort(session, "dropped by drop_sessions()")
        tasks = [task for _, task in sessions if task is not None and task is not asyncio.current_task()]
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ clock

    async def advance(self, seconds: float) -> list[SimEvent]:
        """Manual clock: move the model ``seconds`` forward, send what happened; return the model events."""
        if self._speed is not None:
            raise self._error("advance() needs a manual clock (speed=None); this server runs its own")
        events = self._sim.advance(self._sim.current_time + timedelta(seconds=seconds))
        self._publish(events)
        await asyncio.sleep(0)  # let sessions read and write between batches, as a clock tick would
        return events

    async def _run_clock(self, speed: float) -> None:
        loop = asyncio.get_running_loop()
        origin_mono, origin_model = loop.time(), self._sim.current_time
        while True:
            await asyncio.sleep(self._tick)
            target = origin_model + timedelta(seconds=(loop.time() - origin_mono) * speed)
            self._publish(self._sim.advance(target))

    def _clock_stopped(self, task: asyncio.Task[None]) -> None:
        """A bug in one batch ends the clock: say so, or the model would freeze silently."""
        if not task.cancelled() and task.exception() is not None:
            self._log.error(self._clock_failed, exc_info=task.exception())

    @abstractmethod
    def _publish(self, events: list[SimEvent]) -> None:
        """Send one batch of model events to the sessions that want them."""

    # ------------------------------------------------------------------ sessions

    def _send(self, session: S, data: bytes) -> None:
        if session.closing:
            return
        session.writer.write(data)
        pending = session.writer.transport.get_write_buffer_size()
        if pending > self._max_buffer:
            self.dropped_slow += 1
            self._log.warning(
                "dropping %s session %d from %s: %d bytes unsent, more than the %d allowed (client too slow)",
                self._label,
                session.number,
                session.peer,
                pending,
                self._max_buffer,
            )
            self._abort(session, f"dropped: {pending} bytes unsent (client too slow)")

    @staticmethod
    def _abort(session: ServerSession, why: str) -> None:
        if session.dropped is None:
            session.dropped = why
            session.writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._counter += 1
        peer = writer.get_extra_info("peername")
        session = self._new_session(self._counter, writer, f"{peer[0]}:{peer[1]}")
        self._sessions[session] = asyncio.current_task()
        self._log.info("%s session %d connected from %s", self._label, session.number, session.peer)
        reason = "closed by the client"
        try:
            writer.write(self._greeting)
            reason = await self._read_loop(session, reader)
        except self._lost as exc:
            reason = f"connection lost ({exc.__class__.__name__})"
        finally:
            del self._sessions[session]
            reason = session.dropped or reason
            session.dropped = reason
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            self._log.info("%s session %d from %s disconnected: %s", self._label, session.number, session.peer, reason)

    @abstractmethod
    def _new_session(self, number: int, writer: asyncio.StreamWriter, peer: str) -> S:
        """The protocol's session state for a new connection."""

    @abstractmethod
    async def _read_loop(self, session: S, reader: asyncio.StreamReader) -> str:
        """Read and answer the session's commands until it must end; return why."""
