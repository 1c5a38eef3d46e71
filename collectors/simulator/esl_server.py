"""A real FreeSWITCH event socket (mod_event_socket, inbound mode) on a TCP port, for the simulated contact center.

Theory of operation
-------------------
``SimulatedEslServer(simulation, password=...)`` owns the ``Simulation``, an ``EslFormatter`` (mod_callcenter:
``collectors.simulator.esl_format``) and the connected sessions. The clock works as the AMI server's (both are a
``server_base.SimulatedServer``): ``speed`` advances the model in the background every ``tick_s`` (``speed``
simulated seconds per second), ``speed=None`` waits for a test to ``await advance(seconds)``. Every batch of model
events becomes callcenter::info events, formatted once per format (plain, JSON) and written to each session
subscribed to them; a ``HEARTBEAT`` goes out every 20 simulated seconds, as the switch's core sends it.

A session is what mod_event_socket does with an inbound connection: ``auth/request``; ``auth <password>``
answered ``+OK accepted`` or ``-ERR invalid`` then the disconnect notice; before that every other command is
``-ERR command not found``. Then ``event plain|json <names>`` (``ALL``, event names, ``CUSTOM <subclass>...``:
every token after ``CUSTOM`` is a subclass, as mod_event_socket reads it), ``noevents``, ``api <command>``
(``api/response``), ``bgapi <command>`` (``+OK Job-UUID: ...`` at once, then a ``BACKGROUND_JOB`` event with
the result to the sessions subscribed to it), ``exit``. The api commands are ``status``, ``version`` and
``callcenter_config`` ``queue list``, ``queue list members <queue>``, ``queue count members <queue>``,
``agent list``, ``tier list`` and ``agent set status <agent> '<status>'``: ``On Break`` and ``Available`` (the
model pauses or unpauses the agent in every queue; a logged-out agent is logged in to the queues of its tiers
first), ``Logged Out`` (the agent leaves every queue); other statuses are refused. ``originate <dial string>
<application>`` answers at once (``+OK <uuid>``: the supervisor's phone auto-answers) for a ``user/`` dial string
(its ``{...}`` variables first) whose application is ``&eavesdrop(<uuid>)`` or ``&three_way(<uuid>)`` of a call
leg the switch has, else ``-ERR`` as the switch words it (``CHAN_NOT_IMPLEMENTED``, ``NO_ROUTE``, ``-ERR no such
channel``). Replies keep the real switch's framing (``collectors.simulator.esl_frames``). A session whose unsent
bytes pass ``max_buffer`` is dropped and logged; a client that disconnects only ends its own session.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collectors.simulator.config import SchedulePolicy, build_config
from collectors.simulator.esl_format import EslFormatter
from collectors.simulator.esl_frames import (
    AUTH_REQUEST,
    Pairs,
    api_response,
    command_reply,
    core_headers,
    disconnect_notice,
    json_event,
    plain_event,
    status_text,
)
from collectors.simulator.model import Simulation
from collectors.simulator.server_base import ServerSession, SimulatedServer
from collectors.simulator.views import SimEvent
from wallboard.errors import StartupError

logger = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
MAX_COMMAND = 64 * 1024


class EslServerError(StartupError):
    """The server was used out of order (advance() with a running clock, port before start())."""


@dataclass(eq=False)
class _Session(ServerSession):
    authenticated: bool = False
    format: str = ""  # "plain" or "json" once subscribed
    names: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)

    def wants(self, name: str, subclass: str | None) -> bool:
        if not self.format:
            return False
        if "ALL" in self.names:
            return True
        if subclass is not None:
            return subclass in self.subclasses or ("CUSTOM" in self.names and not self.subclasses)
        return name in self.names


class SimulatedEslServer(SimulatedServer[_Session]):
    """Serves a ``Simulation`` over the FreeSWITCH event socket to any number of sessions."""

    _error = EslServerError
    _label = "ESL"
    _listening = "simulated FreeSWITCH event socket on"
    _clock_name = "esl-sim-clock"
    _clock_failed = "the simulated FreeSWITCH could not publish a batch"
    _greeting = AUTH_REQUEST
    _lost = (ConnectionError, OSError, asyncio.LimitOverrunError)
    _log = logger

    def __init__(
        self,
        simulation: Simulation,
        *,
        password: str = "ClueCon",
        speed: float | None = 1.0,
        tick_s: float = 0.05,
        max_buffer: int = 4 * 1024 * 1024,
    ) -> None:
        super().__init__(simulation, speed=speed, tick_s=tick_s, max_buffer=max_buffer)
        self._fmt = EslFormatter(simulation.config, simulation.state(), seed=simulation.seed)
        self._password = password
        self._jobs = 0
        self._zone = ZoneInfo(simulation.config.timezone)
        self._heartbeat = self._booted + timedelta(seconds=HEARTBEAT_S)

    @property
    def formatter(self) -> EslFormatter:
        return self._fmt

    def _publish(self, events: list[SimEvent]) -> None:
        batch = [pairs for event in events for pairs in self._fmt.events(event)]
        now = self._sim.current_time
        while now >= self._heartbeat:
            batch.append(self._heartbeat_event(self._heartbeat))
            self._heartbeat += timedelta(seconds=HEARTBEAT_S)
        if batch:
            self._broadcast(batch)

    def _heartbeat_event(self, ts: datetime) -> Pairs:
        uptime = int((ts - self._booted).total_seconds() * 1000)
        head = core_headers(
            ts,
            self._zone,
            self._fmt.next_sequence(),
            ("switch_core.c", "send_heartbeat", 95),
            "HEARTBEAT",
            subclass=False,
        )
        return [
            *head,
            ("Event-Info", "System Ready"),
            ("Up-Time", status_text(self._booted, ts, 0, 0).split("\n")[0][3:]),
            ("FreeSWITCH-Version", "1.10.12-release~64bit"),
            ("Uptime-msec", str(uptime)),
            ("Session-Count", str(len(self._sim.state().entries))),
            ("Max-Sessions", "1000"),
            ("Session-Per-Sec", "200"),
            ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"),
            ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", "0"),
            ("Session-Peak-Max", "0"),
            ("Session-Peak-FiveMin", "0"),
            ("Idle-CPU", "99.000000"),
        ]

    def _broadcast(self, events: list[Pairs], body: str | None = None) -> None:
        cache: dict[tuple[str, int], bytes] = {}
        for session in list(self._sessions):
            if not session.authenticated or not session.format:
                continue
            chunks = []
            for index, pairs in enumerate(events):
                head = dict(pairs[:2])
                subclass = head.get("Event-Subclass")
                name = head.get("Event-Name", "")
                if not session.wants(name, subclass):
                    continue
                key = (session.format, index)
                if key not in cache:
                    cache[key] = (plain_event if session.format == "plain" else json_event)(pairs, body)
                chunks.append(cache[key])
            if chunks:
                self._send(session, b"".join(chunks))

    # ------------------------------------------------------------------ sessions

    def _new_session(self, number: int, writer: asyncio.StreamWriter, peer: str) -> _Session:
        return _Session(number, writer, peer)

    async def _read_loop(self, session: _Session, reader: asyncio.StreamReader) -> str:
        buffer = b""
        while session.dropped is None:
            data = await reader.read(65536)
            if not data:
                return "closed by the client"
            buffer += data.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                lines = block.decode("utf-8", "replace").strip("\n").split("\n")
                if not lines or not lines[0].strip():
                    continue
                outcome = await self._handle(session, lines[0].strip(), lines[1:])
                if outcome:
                    return outcome
            if len(buffer) > MAX_COMMAND:
                return "a command over 64 KiB"
        return "dropped by the server"

    async def _handle(self, session: _Session, line: str, extra: list[str]) -> str | None:
        """Answer one command; return why the session must end, or None to keep it."""
        verb, _, rest = line.partition(" ")
        verb = verb.lower()
        if verb == "auth":
            if rest.strip() == self._password:
                session.authenticated = True
                self._send(session, command_reply("+OK accepted"))
                return None
            self._send(session, command_reply("-ERR invalid") + disconnect_notice())
            return "authentication failed"
        if verb == "exit":
            self._send(session, command_reply("+OK bye") + disconnect_notice())
            return "exit"
        if not session.authenticated:
            self._send(session, command_reply("-ERR command not found"))
        elif verb == "event":
            self._subscribe(session, rest)
        elif verb == "noevents":
            session.format, session.names, session.subclasses = "", set(), set()
            self._send(session, command_reply("+OK no longer listening for events"))
        elif verb == "api":
            self._send(session, api_response(self.api(rest.strip())))
        elif verb == "bgapi":
            self._bgapi(session, rest.strip(), extra)
        else:
            self._send(session, command_reply("-ERR command not found"))
        return None

    def _subscribe(self, session: _Session, rest: str) -> None:
        tokens = rest.split()
        if not tokens or tokens[0].lower() not in ("plain", "json"):
            self._send(session, command_reply("-ERR invalid format"))
            return
        session.format = tokens[0].lower()
        custom = False
        for token in tokens[1:]:
            if custom:
                session.subclasses.add(token)
            elif token.upper() == "CUSTOM":
                custom = True
                session.names.add("CUSTOM")
            else:
                session.names.add(token.upper())
        self._send(session, command_reply(f"+OK event listener enabled {session.format}"))

    def _bgapi(self, session: _Session, command: str, extra: list[str]) -> None:
        headers = dict(line.split(": ", 1) for line in extra if ": " in line)
        self._jobs += 1
        job = headers.get("Job-UUID") or f"{self._jobs:08x}-0000-4000-8000-{self._jobs:012x}"
        self._send(session, command_reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)))
        result = self.api(command)
        name, _, arg = command.partition(" ")
        ts = self._sim.current_time
        head = core_headers(
            ts,
            self._zone,
            self._fmt.next_sequence(),
            ("mod_event_socket.c", "api_exec", 1572),
            "BACKGROUND_JOB",
            subclass=False,
        )
        event = [*head, ("Job-UUID", job), ("Job-Command", name), ("Job-Command-Arg", arg)]
        self._broadcast([event], body=result)

    # ------------------------------------------------------------------ api

    def api(self, command: str) -> str:
        """The reply text to ``api <command>``."""
        name, _, rest = command.partition(" ")
        if name == "status":
            calls = len(self._sim.state().entries)
            return status_text(self._booted, self._sim.current_time, calls, calls)
        if name == "version":
            return "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
        if name == "callcenter_config":
            return self._callcenter(rest.strip())
        if name == "originate":
            return self._originate(rest.strip())
        return f"-ERR {name} Command not found!\n"

    def _originate(self, rest: str) -> str:
        # the arguments split at spaces outside single quotes, as switch_separate_string does ('Caller 01')
        found_split = re.match(r"((?:'[^']*'|[^ '])+) +(.*)", rest)
        if found_split is None:
            return "-ERR INVALID_GATEWAY\n"
        dial, application = found_split[1], found_split[2]
        if dial.startswith("{"):
            dial = dial[dial.find("}") + 1 :]
        if not dial.startswith("user/"):
            return "-ERR CHAN_NOT_IMPLEMENTED\n" if not dial.startswith(("sofia/", "loopback/")) else "-ERR NO_ROUTE\n"
        found = re.fullmatch(r"&(eavesdrop|three_way)\(([\w-]+)\)", application.strip())
        if found is None:
            return "-ERR INVALID_GATEWAY\n"
        if found[2] not in self._fmt.live_legs():
            return "-ERR no such channel\n"
        self._jobs += 1
        return f"+OK {self._jobs:08x}-5157-4000-8000-{self._jobs:012x}\n"

    def _callcenter(self, rest: str) -> str:
        try:
            words = shlex.split(rest)
        except ValueError:
            return "-ERR Invalid quoting\n"
        fmt = self._fmt
        match words:
            case ["agent", "list"]:
                return fmt.agent_list()
            case ["tier", "list"]:
                return fmt.tier_list()
            case ["queue", "list"]:
                return fmt.queue_list()
            case ["queue", "list", "members", queue]:
                return fmt.member_list(queue) or "-ERR Queue not found!\n"
            case ["queue", "count", "members", queue]:
                return f"{fmt.member_count(queue)}\n" if queue in fmt.queue_names() else "-ERR Queue not found!\n"
            case ["agent", "set", "status", agent, status]:
                return self._set_status(agent, status)
        return "-ERR Unknown Command\n"

    def _set_status(self, agent: str, status: str) -> str:
        interface = self._fmt.interface_of(agent)
        if interface is None:
            return "-ERR Invalid Agent!\n"
        if status not in ("On Break", "Available", "Logged Out"):
            return "-ERR Invalid Status!\n"
        if status == "Logged Out":
            _, events = self._sim.log_out(interface)
            self._publish(events)
            return "+OK\n"
        paused = status == "On Break"
        for queue in self._fmt.tier_queues(agent):  # logged out of a queue: in again, with the status asked
            outcome, events = self._sim.add_member(queue, interface, paused=paused, reason=status if paused else "")
            self._publish(events)
        _, events = self._sim.pause_member(interface, paused, None, status if paused else "")
        self._publish(events)
        return "+OK\n"


async def run_esl_simulator(
    host: str,
    port: int,
    *,
    agents: int,
    queues: int,
    speed: float,
    seed: int,
    password: str,
    timezone: str = "UTC",
    day_hour: float | None = None,
    schedule: SchedulePolicy | None = None,
) -> None:
    """Serve a generated contact center over the FreeSWITCH event socket until cancelled
    (``wallboard simulate --protocol esl``); ``day_hour`` and ``schedule`` as for the AMI simulator."""
    now = datetime.now(UTC)
    offset = 0.0
    if day_hour is not None:
        local = now.astimezone(ZoneInfo(timezone))
        offset = day_hour - (local.hour + local.minute / 60 + local.second / 3600)
    config = build_config(agents, queues, seed=seed, timezone=timezone, hour_offset=offset, schedule=schedule)
    server = SimulatedEslServer(Simulation(config, seed, start=now), password=password, speed=speed)
    await server.start(host, port)
    logger.info("simulating %d agents in %d queues over ESL (seed %d, speed x%g)", agents, queues, seed, speed)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
