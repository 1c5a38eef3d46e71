"""A real AMI server on a TCP port, speaking for the simulated contact center as Asterisk 22 would.

Theory of operation
-------------------
``SimulatedAmiServer(simulation)`` owns the ``Simulation``, an ``AmiFormatter`` (the PBX's wire
layout) and the connected sessions. Each session is a thin loop: read bytes -> feed an
``AmiParser(expect_banner=False)`` -> drain the actions -> answer. The model's clock moves in
one of two ways:

* ``speed`` (a float): a background task advances the model every ``tick_s`` of the event
  loop's monotonic clock, by that time x ``speed`` (1 = real time, 10 = ten times faster);
* ``speed=None`` (manual): nothing moves until a test awaits ``advance(seconds)``, which makes
  every run deterministic.

Each batch of model events is formatted once and written to every logged-in session whose event
mask allows each frame's class (``Events: off|on|<classes>``). A session's unsent bytes are the
transport's write buffer: when they pass ``max_buffer`` the session is dropped and logged, as
Asterisk drops a manager session that stops reading, so a slow client never grows memory.

Session behaviour copies main/manager.c: the banner on connect; only Login, Logoff and Challenge
before authentication (else ``Permission denied``); a failed login answers ``Authentication
failed`` after a delay and closes; a frame without Action gets ``Missing action in request``;
unknown actions ``Invalid/unknown command: <name>. ...``; Logoff says goodbye and closes.

Supervisor actions (QueueAdd, QueueRemove, QueuePause, Originate, Hangup: ``ami_actions``) need
the write class Asterisk registers them with; ``write`` is the simulated user's ``write=`` line of
manager.conf (default ``all``). Without the class the answer is ``Permission denied`` and a
``RequestNotAllowed`` security event. Otherwise the response goes to the asking session first,
then the events to every session, as Asterisk writes them. While a ChanSpy runs (``ami_spy``),
each model event is followed by the spy's own events (ChanSpyStart/Stop, its Hangup).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from collectors.ami.protocol import AmiParser, Frame
from collectors.simulator.ami_actions import AUTHORITY, SupervisorActions, header
from collectors.simulator.ami_format import AmiFormatter, CallerStyle
from collectors.simulator.ami_frames import (
    ALL_EVENTS,
    BANNER,
    EVENT_CLASSES,
    AmiEvent,
    fully_booted,
    request_not_allowed,
    response,
    successful_auth,
)
from collectors.simulator.ami_spy import Spies
from collectors.simulator.config import SchedulePolicy, SimConfig, build_config, site_config
from collectors.simulator.model import Simulation
from collectors.simulator.schedule import on_wall_clock, schedule_around, schedule_csv
from collectors.simulator.views import SimEvent
from wallboard.core.adherence.schedule import Schedule
from wallboard.errors import StartupError

logger = logging.getLogger(__name__)

_TRUE = frozenset(("yes", "true", "y", "t", "1", "on"))
_FALSE = frozenset(("no", "false", "n", "f", "0", "off"))
_PRE_AUTH = frozenset(("login", "logoff", "challenge"))


class AmiServerError(StartupError):
    """The server was used out of order (advance() with a running clock, port before start())."""


def event_mask(text: str) -> int | None:
    """Asterisk's ``strings_to_mask``: digits, on/off words, or a comma list of classes; None if empty."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if text.lower() in _FALSE:
        return 0
    if text.lower() in _TRUE:
        return ALL_EVENTS
    mask = 0
    for name in text.lower().split(","):
        mask |= ALL_EVENTS if name.strip() == "all" else EVENT_CLASSES.get(name.strip(), 0)
    return mask


@dataclass(eq=False)
class _Session:
    number: int
    writer: asyncio.StreamWriter
    peer: str
    local: str
    authenticated: bool = False
    account: str = ""
    mask: int = ALL_EVENTS
    dropped: str | None = None  # why the server aborted the session, once it did

    @property
    def closing(self) -> bool:
        return self.dropped is not None


class SimulatedAmiServer:
    """Serves a ``Simulation`` over AMI on loopback (or any host) to any number of sessions."""

    def __init__(
        self,
        simulation: Simulation,
        *,
        username: str = "wallboard",
        secret: str = "wallboard",
        speed: float | None = 1.0,
        tick_s: float = 0.05,
        max_buffer: int = 4 * 1024 * 1024,
        auth_failure_delay: float = 1.0,
        caller_style: CallerStyle = "pjsip",
        formatter: AmiFormatter | None = None,
        write: str = "all",
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive (or None for a manual clock), got {speed}")
        self._sim = simulation
        self._fmt = formatter or AmiFormatter(simulation.config, seed=simulation.seed, caller_style=caller_style)
        self._username, self._secret = username, secret
        self._write = event_mask(write) or 0
        self._spies = Spies(self._fmt)
        self._actions = SupervisorActions(simulation, self._fmt, self._spies)
        self._speed, self._tick = speed, tick_s
        self._max_buffer = max_buffer
        self._auth_delay = auth_failure_delay
        self._server: asyncio.Server | None = None
        self._clock: asyncio.Task[None] | None = None
        self._sessions: dict[_Session, asyncio.Task[None] | None] = {}
        self._counter = 0
        self._booted = simulation.current_time
        self.dropped_slow = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port) and start the clock unless it is manual."""
        self._server = await asyncio.start_server(self._serve, host, port)
        if self._speed is not None:
            self._clock = asyncio.create_task(self._run_clock(self._speed), name="ami-sim-clock")
            self._clock.add_done_callback(self._clock_stopped)
        logger.info("simulated AMI server listening on %s:%d (speed %s)", host, self.port, self._speed or "manual")

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise AmiServerError("the server is not listening: call start() first")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def simulation(self) -> Simulation:
        return self._sim

    @property
    def spies(self) -> Spies:
        """The channels Originate created and the ChanSpy sessions they run."""
        return self._spies

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
            raise AmiServerError("advance() needs a manual clock (speed=None); this server runs its own")
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

    @staticmethod
    def _clock_stopped(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("the simulation clock stopped", exc_info=task.exception())

    def _publish(self, events: list[SimEvent]) -> None:
        frames: list[AmiEvent] = []
        for event in events:
            frames += self._fmt.events(event)
            if self._spies.active:
                frames += self._spies.update()
        if frames:
            self._broadcast(frames)

    def _broadcast(self, frames: list[AmiEvent]) -> None:
        by_mask: dict[int, bytes] = {}
        for session in list(self._sessions):
            if not session.authenticated or not session.mask:
                continue
            data = by_mask.get(session.mask)
            if data is None:
                data = by_mask[session.mask] = b"".join(f.data for f in frames if f.privilege & session.mask)
            if data:
                self._send(session, data)

    # ------------------------------------------------------------------ sessions

    def _send(self, session: _Session, data: bytes) -> None:
        if session.closing:
            return
        session.writer.write(data)
        pending = session.writer.transport.get_write_buffer_size()
        if pending > self._max_buffer:
            self.dropped_slow += 1
            logger.warning(
                "dropping AMI session %d from %s: %d bytes unsent, more than the %d allowed (client too slow)",
                session.number,
                session.peer,
                pending,
                self._max_buffer,
            )
            self._abort(session, f"dropped: {pending} bytes unsent (client too slow)")

    @staticmethod
    def _abort(session: _Session, why: str) -> None:
        if session.dropped is None:
            session.dropped = why
            session.writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._counter += 1
        peer, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
        session = _Session(self._counter, writer, f"{peer[0]}:{peer[1]}", f"{local[0]}/{local[1]}")
        self._sessions[session] = asyncio.current_task()
        logger.info("AMI session %d connected from %s", session.number, session.peer)
        reason = "closed by the client"
        try:
            writer.write(BANNER)
            reason = await self._read_loop(session, reader)
        except (ConnectionError, OSError) as exc:
            reason = f"connection lost ({exc.__class__.__name__})"
        finally:
            del self._sessions[session]
            reason = session.dropped or reason
            session.dropped = reason
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            logger.info("AMI session %d from %s disconnected: %s", session.number, session.peer, reason)

    async def _read_loop(self, session: _Session, reader: asyncio.StreamReader) -> str:
        parser = AmiParser(expect_banner=False)
        while not session.closing:
            data = await reader.read(65536)
            if not data:
                return "closed by the client"
            parser.receive_data(data)
            for error in parser.errors():
                logger.debug("AMI session %d sent an unusable frame: %s", session.number, error)
                self._send(session, response("Error", None, [("Message", "Missing action in request")]))
            for frame in parser.frames_received():
                outcome = await self._handle(session, frame)
                if outcome:
                    return outcome
        return "dropped by the server"

    async def _handle(self, session: _Session, frame: Frame) -> str | None:
        """Answer one action; return why the session must end, or None to keep it."""
        action, action_id = header(frame, "Action"), header(frame, "ActionID") or None
        name = action.lower()
        if not action:
            self._send(session, response("Error", action_id, [("Message", "Missing action in request")]))
        elif name == "logoff":
            self._send(session, response("Goodbye", action_id, [("Message", "Thanks for all the fish.")]))
            return "logged off"
        elif name == "login":
            return await self._login(session, frame, action_id)
        elif not session.authenticated:
            self._send(session, response("Error", action_id, [("Message", "Permission denied")]))
        else:
            self._action(session, name, action, frame, action_id)
        return None

    async def _login(self, session: _Session, frame: Frame, action_id: str | None) -> str | None:
        if session.authenticated:
            self._send(session, response("Success", action_id, [("Message", "Already authenticated")]))
            return None
        username, secret = header(frame, "Username"), header(frame, "Secret")
        if username != self._username or secret != self._secret:
            logger.info("AMI session %d from %s: authentication failed for %r", session.number, session.peer, username)
            await asyncio.sleep(self._auth_delay)
            self._send(session, response("Error", action_id, [("Message", "Authentication failed")]))
            return "authentication failed"
        mask = event_mask(header(frame, "Events"))
        session.authenticated, session.account = True, username
        session.mask = ALL_EVENTS if mask is None else mask
        self._send(session, response("Success", action_id, [("Message", "Authentication accepted")]))
        if session.mask & EVENT_CLASSES["system"]:
            uptime = int((self._sim.current_time - self._booted).total_seconds())
            self._send(session, fully_booted(uptime).data)
        auth = successful_auth(self._sim.current_time, username, self._session_id(session),
                               session.local, session.peer.replace(":", "/"))  # fmt: skip
        self._broadcast([auth])
        return None

    def _action(self, session: _Session, name: str, action: str, frame: Frame, action_id: str | None) -> None:
        if name == "ping":
            now = self._sim.current_time
            stamp = f"{int(now.timestamp())}.{now.microsecond:06d}"
            self._send(session, response("Success", action_id, [("Ping", "Pong"), ("Timestamp", stamp)]))
        elif name == "events":
            mask = event_mask(header(frame, "EventMask"))
            if mask is None:
                self._send(session, response("Error", action_id, [("Message", "Invalid event mask")]))
                return
            session.mask = mask
            self._send(session, response("Success", action_id, [("Events", "On" if mask else "Off")]))
        elif name == "queuestatus":
            state = self._sim.state()
            queue, member = header(frame, "Queue") or None, header(frame, "Member") or None
            self._send(session, self._fmt.queue_status(state, action_id, queue, member))
        elif name == "queuesummary":
            self._send(session, self._fmt.queue_summary(self._sim.state(), action_id, header(frame, "Queue") or None))
        elif name in AUTHORITY:
            self._supervise(session, name, action, frame, action_id)
        else:
            message = f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
            self._send(session, response("Error", action_id, [("Message", message)]))

    def _supervise(self, session: _Session, name: str, action: str, frame: Frame, action_id: str | None) -> None:
        """A supervisor action: permission as manager.c checks it, then the PBX's response and events."""
        if not self._write & AUTHORITY[name]:
            self._send(session, response("Error", action_id, [("Message", "Permission denied")]))
            denied = request_not_allowed(self._sim.current_time, session.account, self._session_id(session),
                                         session.local, session.peer.replace(":", "/"), action)  # fmt: skip
            self._broadcast([denied])
            return
        outcome = self._actions.run(name, frame, action_id)
        if outcome.before:
            self._broadcast(outcome.before)
        self._send(session, outcome.response)
        self._publish(outcome.events)
        if outcome.after:
            self._broadcast(outcome.after)

    @staticmethod
    def _session_id(session: _Session) -> int:
        return 0x7F6190000000 + session.number * 0x1000


async def run_simulator(
    host: str,
    port: int,
    *,
    agents: int,
    queues: int,
    speed: float,
    seed: int,
    username: str,
    secret: str,
    timezone: str = "UTC",
    load_factor: float = 1.0,
    day_hour: float | None = None,
    schedule: SchedulePolicy | None = None,
    schedule_out: Path | None = None,
    write: str = "all",
) -> None:
    """Serve a generated contact center over AMI until cancelled (``wallboard simulate``).

    Model time is wall time. ``day_hour`` (e.g. 10.0) plays the simulated day from that local hour
    whatever the clock says, for a busy demo at night; None follows the real time of day. With
    ``schedule`` the agents follow their generated schedule; ``schedule_out`` writes it first as CSV
    (the days before, of and after the start, on the wall clock of a run at ``speed``). ``write`` is
    the AMI user's write classes (``agent,originate`` lets supervisors pause, log in and listen).
    """
    now = datetime.now(UTC)
    offset = 0.0
    if day_hour is not None:
        local = now.astimezone(ZoneInfo(timezone))
        offset = day_hour - (local.hour + local.minute / 60 + local.second / 3600)
    config = build_config(
        agents, queues, seed=seed, load_factor=load_factor, timezone=timezone, hour_offset=offset, schedule=schedule
    )
    if schedule_out is not None:
        write_schedule_csv(schedule_out, config, now, speed)
    simulation = Simulation(config, seed, start=now)
    server = SimulatedAmiServer(simulation, username=username, secret=secret, speed=speed, write=write)
    await server.start(host, port)
    logger.info("simulating %d agents in %d queues (seed %d, speed x%g)", agents, queues, seed, speed)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def write_schedule_csv(path: Path, config: SimConfig, start: datetime, speed: float = 1.0) -> Schedule:
    """Write the schedule a simulation started at ``start`` follows (on the wall clock of a run at ``speed``)."""
    schedule = on_wall_clock(schedule_around(config, site_config(config), start), start, speed, config.timezone)
    path.write_text(schedule_csv(schedule, config.timezone), encoding="utf-8")
    logger.info("wrote the schedule of %d agents (%d slots) to %s", len(schedule.agents()), len(schedule.slots), path)
    return schedule
