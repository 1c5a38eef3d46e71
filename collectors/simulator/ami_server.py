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

The lifecycle, clock and session bookkeeping are ``server_base.SimulatedServer``'s, shared with the ESL server.
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
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
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
from collectors.simulator.server_base import ServerSession, SimulatedServer
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
class _Session(ServerSession):
    local: str
    authenticated: bool = False
    account: str = ""
    mask: int = ALL_EVENTS


class SimulatedAmiServer(SimulatedServer[_Session]):
    """Serves a ``Simulation`` over AMI on loopback (or any host) to any number of sessions."""

    _error = AmiServerError
    _label = "AMI"
    _listening = "simulated AMI server listening on"
    _clock_name = "ami-sim-clock"
    _clock_failed = "the simulation clock stopped"
    _greeting = BANNER
    _log = logger

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
        super().__init__(simulation, speed=speed, tick_s=tick_s, max_buffer=max_buffer)
        self._fmt = formatter or AmiFormatter(simulation.config, seed=simulation.seed, caller_style=caller_style)
        self._username, self._secret = username, secret
        self._write = event_mask(write) or 0
        self._spies = Spies(self._fmt)
        self._actions = SupervisorActions(simulation, self._fmt, self._spies)
        self._auth_delay = auth_failure_delay

    @property
    def spies(self) -> Spies:
        """The channels Originate created and the ChanSpy sessions they run."""
        return self._spies

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

    def _new_session(self, number: int, writer: asyncio.StreamWriter, peer: str) -> _Session:
        local = writer.get_extra_info("sockname")
        return _Session(number, writer, peer, f"{local[0]}/{local[1]}")

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
