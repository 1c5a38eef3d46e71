"""The simulated AMI server over real loopback sockets: sessions, actions, events, drops and the clock."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.ami.protocol import AmiParser, Frame, encode_action
from collectors.simulator.ami_server import SimulatedAmiServer, event_mask, run_simulator, write_schedule_csv
from collectors.simulator.config import SchedulePolicy, build_config, site_config
from collectors.simulator.model import Simulation
from collectors.simulator.schedule import schedule_around
from wallboard.core.adherence.schedule import parse_csv

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WAIT = 5.0
CALL_EVENTS = (
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
)


class Client:
    """A minimal AMI client for tests: every byte the server sends goes through AmiParser."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = AmiParser()
        self.pending: list[Frame] = []
        self.eof = False

    @classmethod
    async def connect(cls, port: int) -> Client:
        async with asyncio.timeout(WAIT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, action: str, fields: dict[str, str] | None = None, action_id: str | None = None) -> None:
        self.writer.write(encode_action(action, fields or {}, action_id=action_id))
        await self.writer.drain()

    async def _fill(self) -> None:
        data = await self.reader.read(65536)
        if not data:
            self.eof = True
            self.parser.receive_eof()
        else:
            self.parser.receive_data(data)
        assert list(self.parser.errors()) == []
        self.pending.extend(self.parser.frames_received())

    async def until(self, done: Callable[[Frame], bool]) -> list[Frame]:
        """Every frame up to and including the first one for which ``done`` is true."""
        seen: list[Frame] = []
        async with asyncio.timeout(WAIT):
            while True:
                while self.pending:
                    frame = self.pending.pop(0)
                    seen.append(frame)
                    if done(frame):
                        return seen
                assert not self.eof, f"connection closed before the expected frame; got {[f.name for f in seen]}"
                await self._fill()

    async def response(self, action_id: str) -> list[Frame]:
        return await self.until(lambda f: f.kind == "response" and f.action_id == action_id)

    async def closed(self) -> list[Frame]:
        """Read until the server closes the connection; return what came before."""
        seen: list[Frame] = []
        async with asyncio.timeout(WAIT):
            while not self.eof:
                try:
                    await self._fill()
                except ConnectionResetError:
                    self.eof = True
                seen.extend(self.pending)
                self.pending.clear()
        return seen

    async def login(self, secret: str = "s3cret", events: str | None = None) -> list[Frame]:
        fields = {"Username": "wallboard", "Secret": secret}
        if events is not None:
            fields["Events"] = events
        await self.send("Login", fields, action_id="login")
        return await self.response("login")

    async def sync(self, tag: str) -> list[Frame]:
        """Everything the server wrote before answering a Ping: the events sent so far."""
        await self.send("Ping", action_id=tag)
        return (await self.response(tag))[:-1]

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def _simulation(agents: int = 8, queues: int = 2, load: float = 2.0) -> Simulation:
    return Simulation(build_config(agents, queues, seed=21, load_factor=load), start=START)


@pytest.fixture
async def server() -> AsyncIterator[SimulatedAmiServer]:
    srv = SimulatedAmiServer(_simulation(), username="wallboard", secret="s3cret", speed=None, auth_failure_delay=0)
    await srv.start()
    await srv.advance(0)
    yield srv
    await srv.close()


@pytest.fixture
async def client(server: SimulatedAmiServer) -> AsyncIterator[Client]:
    c = await Client.connect(server.port)
    yield c
    await c.aclose()


async def test_banner_then_login_is_accepted_and_fully_booted(client: Client) -> None:
    """A session starts with the Asterisk 22 banner; a good login gets accepted, FullyBooted, SuccessfulAuth."""
    frames = await client.login()
    assert client.parser.banner == "Asterisk Call Manager/11.0.0"
    assert frames[-1].fields == (("Response", "Success"), ("ActionID", "login"), ("Message", "Authentication accepted"))
    after = await client.until(lambda f: f.name == "SuccessfulAuth")
    assert [f.name for f in after] == ["FullyBooted", "SuccessfulAuth"]
    assert after[0]["Privilege"] == "system,all" and after[0]["Status"] == "Fully Booted"
    assert after[1]["AccountID"] == "wallboard"


async def test_bad_secret_fails_and_closes(client: Client) -> None:
    """A wrong secret gets Response: Error / Authentication failed, then the server closes the session."""
    frames = await client.login(secret="wrong")
    assert (frames[-1].name, frames[-1]["Message"]) == ("Error", "Authentication failed")
    assert await client.closed() == []


async def test_actions_before_login_are_denied(client: Client) -> None:
    """Before login only Login/Logoff/Challenge are allowed; others get Permission denied, the session stays."""
    await client.send("QueueStatus", action_id="early")
    denied = (await client.response("early"))[-1]
    assert denied.fields == (("Response", "Error"), ("ActionID", "early"), ("Message", "Permission denied"))
    assert (await client.login())[-1].name == "Success"


async def test_ping_answers_pong_with_a_timestamp(client: Client) -> None:
    """Ping -> Response: Success, Ping: Pong, Timestamp: <epoch>.<microseconds>."""
    await client.login()
    await client.send("Ping", action_id="p1")
    pong = (await client.response("p1"))[-1]
    assert [key for key, _ in pong.fields] == ["Response", "ActionID", "Ping", "Timestamp"]
    assert pong["Ping"] == "Pong" and re.fullmatch(r"\d{10}\.\d{6}", pong["Timestamp"])


async def test_logoff_says_goodbye_and_closes(client: Client) -> None:
    """Logoff -> Response: Goodbye, Message: Thanks for all the fish., then the connection closes."""
    await client.login()
    await client.send("Logoff", action_id="bye")
    frames = await client.response("bye")
    assert frames[-1].fields == (("Response", "Goodbye"), ("ActionID", "bye"), ("Message", "Thanks for all the fish."))
    await client.closed()


async def test_queue_status_is_a_complete_list(server: SimulatedAmiServer, client: Client) -> None:
    """QueueStatus: ack, one QueueParams per queue, QueueMember with Name/Location, Complete with ListItems."""
    await client.login()
    await server.advance(600)
    await client.send("QueueStatus", action_id="qs")
    await client.response("qs")
    items = await client.until(lambda f: f.name == "QueueStatusComplete")
    listed, complete = [f for f in items if f.action_id == "qs"][:-1], items[-1]
    state = server.simulation.state()
    assert complete["EventList"] == "Complete" and complete["ListItems"] == str(len(listed))
    assert [f.name for f in listed].count("QueueParams") == len(state.queues)
    members = [f for f in listed if f.name == "QueueMember"]
    assert len(members) == len(state.members) > 0
    assert all("Name" in f and "Location" in f and "MemberName" not in f for f in members)


async def test_queue_summary_is_a_complete_list(client: Client) -> None:
    """QueueSummary: ack, one QueueSummary per queue, QueueSummaryComplete with ListItems."""
    await client.login()
    await client.send("QueueSummary", {"Queue": "sales"}, action_id="sum")
    await client.response("sum")
    items = await client.until(lambda f: f.name == "QueueSummaryComplete")
    assert [f["Queue"] for f in items if f.name == "QueueSummary"] == ["sales"]
    assert items[-1]["ListItems"] == "1"


async def test_advancing_the_manual_clock_sends_calls_in_asterisk_order(
    server: SimulatedAmiServer, client: Client
) -> None:
    """Advancing model time sends QueueCallerJoin ... Leave, AgentConnect ... AgentComplete per queue leg."""
    await client.login()
    events = await server.advance(1800)
    frames = await client.sync("after")
    per_call: dict[str, list[str]] = {}
    for frame in frames:
        if frame.name in CALL_EVENTS and "Uniqueid" in frame:
            per_call.setdefault(frame["Uniqueid"], []).append(frame.name)
    completed = [names for names in per_call.values() if "AgentComplete" in names]
    bare = [f for f in frames if f.name == "AgentComplete" and "Uniqueid" not in f]  # quirk 3
    assert len(completed) + len(bare) == sum(e.kind == "agent_complete" for e in events) > 0
    for names in completed:
        core = [name for name in names if name != "AgentCalled"]
        assert core == ["QueueCallerJoin", "QueueCallerLeave", "AgentConnect", "AgentComplete"]
        assert names.index("AgentCalled") < names.index("AgentConnect")


async def test_two_sessions_receive_the_same_events(server: SimulatedAmiServer) -> None:
    """Every logged-in session gets every event, byte for byte the same frames in the same order."""
    first, second = await Client.connect(server.port), await Client.connect(server.port)
    try:
        await first.login()
        await second.login()
        await first.sync("a0")
        await second.sync("b0")
        await server.advance(900)
        got_first = [f for f in await first.sync("a1") if f.kind == "event"]
        got_second = [f for f in await second.sync("b1") if f.kind == "event"]
        assert len(got_first) > 100
        assert [f.fields for f in got_first] == [f.fields for f in got_second]
    finally:
        await first.aclose()
        await second.aclose()


async def test_events_off_on_and_class_masks(server: SimulatedAmiServer, client: Client) -> None:
    """Events: off silences a session; EventMask: agent lets only agent-class events through; on restores all."""
    await client.login(events="off")
    await server.advance(300)
    assert [f.name for f in await client.sync("s1")] == []
    await client.send("Events", {"EventMask": "agent"}, action_id="mask")
    assert (await client.response("mask"))[-1]["Events"] == "On"
    await server.advance(300)
    agent_only = await client.sync("s2")
    assert agent_only and {f["Privilege"] for f in agent_only} == {"agent,all"}
    await client.send("Events", {"EventMask": "on"}, action_id="on")
    await client.response("on")
    await server.advance(300)
    assert "VarSet" in {f.name for f in await client.sync("s3")}


async def test_unknown_action_gets_an_error_and_the_session_stays_usable(client: Client) -> None:
    """An unknown action is answered with Asterisk's Invalid/unknown command error; Ping still works after."""
    await client.login()
    await client.send("FlyToTheMoon", action_id="x")
    error = (await client.response("x"))[-1]
    assert error.name == "Error"
    assert error["Message"].startswith("Invalid/unknown command: FlyToTheMoon.")
    await client.send("Ping", action_id="still")
    assert (await client.response("still"))[-1]["Ping"] == "Pong"


async def test_garbage_does_not_kill_the_server(server: SimulatedAmiServer, client: Client) -> None:
    """Malformed frames get 'Missing action in request'; the session and the server keep working."""
    await client.login()
    client.writer.write(b"\x00\xff\xfe this is not a header\r\n\r\nNoAction: here\r\n\r\n" + b"A" * 70000 + b"\r\n\r\n")
    await client.writer.drain()
    errors = await client.until(lambda f: f.kind == "response" and f.get("Message") == "Missing action in request")
    assert errors
    await client.send("Ping", action_id="alive")
    assert (await client.response("alive"))[-1]["Ping"] == "Pong"
    other = await Client.connect(server.port)
    try:
        assert (await other.login())[-1].name == "Success"
    finally:
        await other.aclose()


async def test_drop_sessions_closes_clients_and_they_can_reconnect(server: SimulatedAmiServer) -> None:
    """drop_sessions() aborts every session; a reconnecting client gets a new banner and can log in."""
    first, second = await Client.connect(server.port), await Client.connect(server.port)
    await first.login()
    await second.login()
    await server.drop_sessions()
    assert server.session_count == 0
    await first.closed()
    await second.closed()
    again = await Client.connect(server.port)
    try:
        assert (await again.login())[-1]["Message"] == "Authentication accepted"
        assert again.parser.banner == "Asterisk Call Manager/11.0.0"
    finally:
        for c in (first, second, again):
            await c.aclose()


async def test_a_client_that_stops_reading_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """A session whose unsent bytes pass max_buffer is dropped (and logged) instead of growing memory."""
    srv = SimulatedAmiServer(
        _simulation(40, 4, 1.0), secret="s3cret", speed=None, auth_failure_delay=0, max_buffer=64 * 1024
    )
    await srv.start()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", srv.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    slow = Client(reader, writer)
    try:
        await slow.login()
        await slow.until(lambda f: f.name == "SuccessfulAuth")
        with caplog.at_level(logging.WARNING, logger="collectors.simulator.ami_server"):
            async with asyncio.timeout(WAIT):
                while not srv.dropped_slow:
                    await srv.advance(60)
                while srv.session_count:
                    await asyncio.sleep(0)
        assert srv.dropped_slow == 1
        assert "too slow" in caplog.text
    finally:
        await slow.aclose()
        await srv.close()


async def test_the_running_clock_moves_the_model_by_itself() -> None:
    """With a speed, the server advances the model on its own timer: calls arrive without advance()."""
    srv = SimulatedAmiServer(_simulation(load=4.0), secret="s3cret", speed=2000.0, tick_s=0.01)
    await srv.start()
    client = await Client.connect(srv.port)
    try:
        await client.login()
        frames = await client.until(lambda f: f.name == "QueueCallerJoin")
        assert frames[-1]["Queue"] in {"support", "sales"}
        assert srv.simulation.current_time > START
    finally:
        await client.aclose()
        await srv.close()


async def test_run_simulator_listens_until_cancelled() -> None:
    """run_simulator() logs where it listens, serves AMI there, and stops cleanly when cancelled."""
    listening = asyncio.Event()
    port: list[int] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", record.getMessage())
            if found:
                port.append(int(found.group(1)))
                listening.set()

    spy = Spy(level=logging.INFO)
    log = logging.getLogger("collectors.simulator.ami_server")
    log.addHandler(spy)
    old_level = log.level
    log.setLevel(logging.INFO)
    task = asyncio.create_task(
        run_simulator("127.0.0.1", 0, agents=4, queues=1, speed=1.0, seed=1, username="u", secret="p")
    )
    try:
        async with asyncio.timeout(WAIT):
            await listening.wait()
        client = await Client.connect(port[0])
        await client.send("Login", {"Username": "u", "Secret": "p"}, action_id="l")
        assert (await client.response("l"))[-1]["Message"] == "Authentication accepted"
        await client.aclose()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        log.removeHandler(spy)
        log.setLevel(old_level)


def test_event_mask_reads_asterisk_forms() -> None:
    """Events/EventMask values: on/off words, digits, comma lists of classes; empty is invalid (None)."""
    assert event_mask("off") == 0 and event_mask("no") == 0
    assert event_mask("42") == 42
    assert event_mask("agent,call") == (1 << 5) | (1 << 1)
    assert event_mask("on") == event_mask("all") != 0
    assert event_mask("  ") is None


def test_write_schedule_csv_writes_what_the_importer_reads(tmp_path: Path) -> None:
    """`simulate --schedule-out`: the CSV parses back to the schedule the agents follow, squeezed at speed 4."""
    config = build_config(6, 2, seed=3, schedule=SchedulePolicy())
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    path = tmp_path / "schedule.csv"
    written = write_schedule_csv(path, config, start, speed=4.0)
    assert path.read_text(encoding="utf-8").startswith("agent,date,start,end,activity\n")
    assert parse_csv(path.read_text(encoding="utf-8"), site_config(config)) == written
    plain = schedule_around(config, site_config(config), start)
    assert len(written.slots) == len(plain.slots)
    assert written.slots[0].start - start == (plain.slots[0].start - start) / 4
