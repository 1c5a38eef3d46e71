"""Supervisor actions on the simulated AMI server over real loopback sockets, checked against a real Asterisk 22.

The reference is tests/fixtures/asterisk22-light/ami_control_transcript.txt (QueueAdd, QueueRemove,
QueuePause with and without a queue, Originate, Hangup answered by Asterisk 22.10.1): every response
and event the simulator writes for these actions must have the real frame's field names in the real
order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from fixture_paths import LIGHT

from collectors.ami.protocol import AmiParser, Frame, encode_action
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.ami_spy import chanspy_options, parse_callerid
from collectors.simulator.config import AgentSpec, BreakPolicy, QueueSpec, SimConfig
from collectors.simulator.model import Simulation

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WAIT = 5.0
ALICE = "Local/agent01@agents/n"  # support (0) and sales (1), all day
BOB = "PJSIP/1002"  # support (0), all day
CAROL = "PJSIP/1003"  # a static member of sales (queues.conf)


def _real_frames() -> list[Frame]:
    parser = AmiParser()
    parser.receive_data((LIGHT / "ami_control_transcript.txt").read_bytes())
    parser.receive_eof()
    return list(parser.frames_received())


REAL = _real_frames()


def _keys(frame: Frame) -> list[str]:
    return [key for key, _ in frame.fields]


def real_keys(name: str, where: Callable[[Frame], bool] = lambda frame: True) -> list[str]:
    """The field names, in order, of the first real frame called ``name`` that ``where`` accepts."""
    return _keys(next(frame for frame in REAL if frame.name == name and where(frame)))


class Client:
    """An AMI session for tests: every byte the server sends goes through the project's AmiParser."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = AmiParser()
        self.pending: list[Frame] = []

    @classmethod
    async def login(cls, port: int) -> Client:
        async with asyncio.timeout(WAIT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        assert (await client.act("Login", {"Username": "wallboard", "Secret": "s3cret"}, "login"))["Message"] == (
            "Authentication accepted"
        )
        await client.sync("booted")
        return client

    async def _until(self, done: Callable[[Frame], bool]) -> list[Frame]:
        seen: list[Frame] = []
        async with asyncio.timeout(WAIT):
            while True:
                while self.pending:
                    seen.append(self.pending.pop(0))
                    if done(seen[-1]):
                        return seen
                data = await self.reader.read(65536)
                assert data, f"connection closed; got {[f.name for f in seen]}"
                self.parser.receive_data(data)
                self.pending.extend(self.parser.frames_received())

    async def act(self, action: str, fields: dict[str, str], action_id: str) -> Frame:
        """Send an action and return its response (frames written before it are dropped)."""
        self.writer.write(encode_action(action, fields, action_id=action_id))
        await self.writer.drain()
        return (await self._until(lambda f: f.kind == "response" and f.action_id == action_id))[-1]

    async def sync(self, tag: str) -> list[Frame]:
        """Every event the server wrote before answering a Ping."""
        self.writer.write(encode_action("Ping", action_id=tag))
        await self.writer.drain()
        return (await self._until(lambda f: f.kind == "response" and f.action_id == tag))[:-1]

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def _config() -> SimConfig:
    queues = (
        QueueSpec(name="support", strategy="rrmemory", peak_rate_per_min=6.0, talk_median_s=40.0, wrapup_s=2.0),
        QueueSpec(name="sales", strategy="ringall", peak_rate_per_min=3.0, talk_median_s=40.0, wrapup_s=2.0),
    )
    day = {"shift_start_h": 0.0, "shift_end_h": 23.99, "no_answer_probability": 0.0}
    agents = (
        AgentSpec(
            agent_id="agent01", name="Alice Nguyen", interface=ALICE, skills=(("support", 0), ("sales", 1)), **day
        ),
        AgentSpec(agent_id="agent02", name="Bob Martinez", interface=BOB, skills=(("support", 0),), **day),
        AgentSpec(agent_id="agent03", name="Carol Diaz", interface=CAROL, skills=(("sales", 0),), static=True, **day),
    )
    return SimConfig(agents=agents, queues=queues, breaks=BreakPolicy(enabled=False), bursts_per_hour=0)


async def _server(write: str = "all") -> SimulatedAmiServer:
    sim = Simulation(_config(), seed=5, start=START)
    srv = SimulatedAmiServer(sim, username="wallboard", secret="s3cret", speed=None, auth_failure_delay=0, write=write)
    await srv.start()
    await srv.advance(0)
    return srv


@pytest.fixture
async def server() -> AsyncIterator[SimulatedAmiServer]:
    srv = await _server()
    yield srv
    await srv.close()


@pytest.fixture
async def client(server: SimulatedAmiServer) -> AsyncIterator[Client]:
    c = await Client.login(server.port)
    yield c
    await c.aclose()


async def _run_until(server: SimulatedAmiServer, client: Client, done: Callable[[Frame], bool]) -> list[Frame]:
    """Advance the manual clock 5 s at a time (at most 2 simulated hours) until an event satisfies ``done``."""
    seen: list[Frame] = []
    for step in range(1440):
        await server.advance(5)
        seen += await client.sync(f"run-{step}")
        if any(done(frame) for frame in seen):
            return seen
    pytest.fail("the awaited event never came in 2 simulated hours")


def _reply(frame: Frame) -> tuple[tuple[str, str], ...]:
    return frame.fields


def _called(frames: list[Frame], interface: str, queue: str | None = None) -> list[Frame]:
    return [
        f
        for f in frames
        if f.name == "AgentCalled" and f["Interface"] == interface and (queue is None or f["Queue"] == queue)
    ]


# ---------------------------------------------------------------------- QueuePause


async def test_queue_pause_without_a_queue_pauses_every_membership_as_asterisk(client: Client) -> None:
    """QueuePause without Queue: Asterisk's ack, then one QueueMemberPause per queue with the real field layout."""
    reply = await client.act("QueuePause", {"Interface": ALICE, "Paused": "true", "Reason": "Break"}, "p1")
    assert _reply(reply) == (("Response", "Success"), ("ActionID", "p1"), ("Message", "Interface paused successfully"))
    assert _keys(reply) == real_keys("Success", lambda f: f.get("Message") == "Interface paused successfully")
    events = [f for f in await client.sync("s1") if f.name == "QueueMemberPause"]
    assert [f["Queue"] for f in events] == ["support", "sales"]
    assert all(_keys(f) == real_keys("QueueMemberPause") for f in events)
    assert {(f["Paused"], f["PausedReason"], f["MemberName"], f["Membership"]) for f in events} == {
        ("1", "Break", "Alice Nguyen", "dynamic")
    }
    assert events[0]["LastPause"] == str(int(START.timestamp()))

    reply = await client.act("QueuePause", {"Interface": ALICE, "Paused": "false"}, "p2")
    assert reply["Message"] == "Interface unpaused successfully"
    assert _keys(reply) == real_keys("Success", lambda f: f.get("Message") == "Interface unpaused successfully")
    events = [f for f in await client.sync("s2") if f.name == "QueueMemberPause"]
    assert [(f["Queue"], f["Paused"], f["PausedReason"]) for f in events] == [("support", "0", ""), ("sales", "0", "")]
    assert events[0]["LastPause"] == str(int(START.timestamp()))  # an unpause keeps the time of the last pause


async def test_queue_pause_with_a_queue_pauses_only_that_membership(client: Client) -> None:
    """QueuePause with Queue changes that queue only (case-insensitive name), as the real `Queue: billing` pause."""
    reply = await client.act(
        "QueuePause", {"Interface": ALICE, "Paused": "1", "Queue": "SALES", "Reason": "Training"}, "q"
    )
    assert reply["Message"] == "Interface paused successfully"
    events = [f for f in await client.sync("s") if f.name.startswith("QueueMember")]
    assert [(f.name, f["Queue"], f["PausedReason"]) for f in events] == [("QueueMemberPause", "sales", "Training")]
    assert _keys(events[0]) == real_keys("QueueMemberPause", lambda f: f.get("PausedReason") == "Training")


async def test_queue_pause_of_an_unknown_interface_is_not_found(client: Client) -> None:
    """An interface in no queue (or not in the given queue) answers Asterisk's `Interface not found`."""
    for action_id, fields in [
        ("u1", {"Interface": "PJSIP/9999", "Paused": "true"}),
        ("u2", {"Interface": BOB, "Paused": "true", "Queue": "sales"}),
        ("u3", {"Interface": BOB, "Paused": "true", "Queue": "nosuchqueue"}),
    ]:
        reply = await client.act("QueuePause", fields, action_id)
        assert _reply(reply) == (("Response", "Error"), ("ActionID", action_id), ("Message", "Interface not found"))
    assert [f.name for f in await client.sync("s") if f.name.startswith("QueueMember")] == []
    reply = await client.act("QueuePause", {"Interface": BOB}, "u4")
    assert reply["Message"] == "Need 'Interface' and 'Paused' parameters."


async def test_a_paused_member_gets_no_calls_until_unpaused(server: SimulatedAmiServer, client: Client) -> None:
    """While Bob is paused an hour of traffic never rings him (Alice takes support); once unpaused he is rung again."""
    await client.act("QueuePause", {"Interface": BOB, "Paused": "true", "Reason": "Coaching"}, "p")
    paused_hour: list[Frame] = []
    for step in range(12):
        await server.advance(300)
        paused_hour += await client.sync(f"h{step}")
    assert len(_called(paused_hour, ALICE, "support")) > 5
    assert _called(paused_hour, BOB) == []
    assert [m.paused for m in server.simulation.state().members if m.interface == BOB] == [True]

    await client.act("QueuePause", {"Interface": BOB, "Paused": "false"}, "u")
    after = await _run_until(server, client, lambda f: f.name == "AgentCalled" and f["Interface"] == BOB)
    assert _called(after, BOB, "support")


# ---------------------------------------------------------------------- QueueAdd / QueueRemove


async def test_queue_remove_then_add_back_as_asterisk(server: SimulatedAmiServer, client: Client) -> None:
    """QueueRemove: ack and QueueMemberRemoved; the member gets no call of that queue; QueueAdd brings it back."""
    reply = await client.act("QueueRemove", {"Queue": "support", "Interface": BOB}, "r")
    assert _reply(reply) == (("Response", "Success"), ("ActionID", "r"), ("Message", "Removed interface from queue"))
    assert _keys(reply) == real_keys("Success", lambda f: f.get("Message") == "Removed interface from queue")
    removed = [f for f in await client.sync("s1") if f.name == "QueueMemberRemoved"]
    assert [(f["Queue"], f["Interface"], f["Membership"]) for f in removed] == [("support", BOB, "dynamic")]
    assert _keys(removed[0]) == real_keys("QueueMemberRemoved")
    assert BOB not in {m.interface for m in server.simulation.state().members}

    hour: list[Frame] = []
    for step in range(12):
        await server.advance(300)
        hour += await client.sync(f"h{step}")
    assert _called(hour, BOB) == [] and len(_called(hour, ALICE, "support")) > 5

    fields = {"Queue": "support", "Interface": BOB, "Penalty": "2", "Paused": "false", "MemberName": "Bob M."}
    reply = await client.act("QueueAdd", {**fields, "StateInterface": BOB}, "a")
    assert _reply(reply) == (("Response", "Success"), ("ActionID", "a"), ("Message", "Added interface to queue"))
    assert _keys(reply) == real_keys("Success", lambda f: f.get("Message") == "Added interface to queue")
    added = [f for f in await client.sync("s2") if f.name == "QueueMemberAdded"]
    assert _keys(added[0]) == real_keys("QueueMemberAdded")
    assert (added[0]["MemberName"], added[0]["Penalty"], added[0]["Paused"], added[0]["Membership"]) == (
        "Bob M.",
        "2",
        "0",
        "dynamic",
    )
    assert added[0]["LoginTime"] == str(int(server.simulation.current_time.timestamp()))
    after = await _run_until(server, client, lambda f: f.name == "AgentCalled" and f["Interface"] == BOB)
    assert _called(after, BOB, "support")


async def test_queue_add_and_remove_errors_are_asterisks(client: Client) -> None:
    """Already there, no such queue, not there, a static member: app_queue.c's own messages, nothing emitted."""
    cases = [
        ("QueueAdd", {"Queue": "support", "Interface": ALICE}, "Unable to add interface: Already there"),
        ("QueueAdd", {"Queue": "nosuch", "Interface": ALICE}, "Unable to add interface to queue: No such queue"),
        ("QueueAdd", {"Interface": ALICE}, "'Queue' not specified."),
        ("QueueRemove", {"Queue": "sales", "Interface": BOB}, "Unable to remove interface: Not there"),
        ("QueueRemove", {"Queue": "nosuch", "Interface": BOB}, "Unable to remove interface from queue: No such queue"),
        ("QueueRemove", {"Queue": "sales", "Interface": CAROL}, "Member not dynamic"),
        ("QueueRemove", {"Queue": "sales"}, "Need 'Queue' and 'Interface' parameters."),
    ]
    for index, (action, fields, message) in enumerate(cases):
        reply = await client.act(action, fields, f"e{index}")
        assert _reply(reply) == (("Response", "Error"), ("ActionID", f"e{index}"), ("Message", message))
    assert [f.name for f in await client.sync("s") if f.name.startswith("QueueMember")] == []


async def test_static_members_say_so_in_queue_status_and_member_events(
    server: SimulatedAmiServer, client: Client
) -> None:
    """A queues.conf member reports Membership: static in QueueStatus and in its QueueMember* events."""
    await client.act("QueueStatus", {"Queue": "sales"}, "qs")
    listed = await client.sync("s1")
    members = {f["Location"]: f["Membership"] for f in listed if f.name == "QueueMember"}
    assert members == {ALICE: "dynamic", CAROL: "static"}
    await client.act("QueuePause", {"Interface": CAROL, "Paused": "true"}, "p")
    pause = [f for f in await client.sync("s2") if f.name == "QueueMemberPause"]
    assert [(f["Interface"], f["Membership"], f["PausedReason"]) for f in pause] == [(CAROL, "static", "")]


async def test_queue_add_of_an_interface_the_site_does_not_know_takes_calls(
    server: SimulatedAmiServer, client: Client
) -> None:
    """QueueAdd of a new interface makes a member that is rung for the queue's calls (MemberName defaults to it)."""
    reply = await client.act("QueueAdd", {"Queue": "support", "Interface": "PJSIP/1099"}, "a")
    assert reply["Message"] == "Added interface to queue"
    added = [f for f in await client.sync("s") if f.name == "QueueMemberAdded"]
    assert [(f["MemberName"], f["StateInterface"]) for f in added] == [("PJSIP/1099", "PJSIP/1099")]
    await _run_until(server, client, lambda f: f.name == "AgentConnect" and f["Interface"] == "PJSIP/1099")


# ---------------------------------------------------------------------- Originate / ChanSpy


def _originate(data: str, channel: str = "PJSIP/2001") -> dict[str, str]:
    return {
        "Channel": channel,
        "Application": "ChanSpy",
        "Data": data,
        "CallerID": '"Listen" <2001>',
        "Timeout": "30000",
        "Async": "true",
    }


async def test_chanspy_listens_to_the_agents_call_until_it_ends(server: SimulatedAmiServer, client: Client) -> None:
    """Originate ChanSpy on a live call: queued, the spy channel answered, OriginateResponse, ChanSpyStart; the
    agent's hangup gives ChanSpyStop and (option E) the spy's Hangup. Layouts are the real frames'."""
    frames = await _run_until(server, client, lambda f: f.name == "AgentConnect" and f["Interface"] == ALICE)
    agent_channel = next(f for f in frames if f.name == "AgentConnect" and f["Interface"] == ALICE)["DestChannel"]
    reply = await client.act("Originate", _originate(f"{agent_channel},qES"), "spy")
    assert _reply(reply) == (("Response", "Success"), ("ActionID", "spy"), ("Message", "Originate successfully queued"))
    setup = await client.sync("s1")
    names = [f.name for f in setup]
    assert names[:4] == ["Newchannel", "Newexten", "NewCallerid", "NewConnectedLine"]
    assert names[-2:] == ["OriginateResponse", "ChanSpyStart"]
    for frame in setup:
        if frame.name in ("Newchannel", "Newexten", "NewCallerid", "NewConnectedLine", "DialBegin", "DialEnd"):
            assert _keys(frame) == real_keys(frame.name, lambda f: f.name != "DialBegin" or "Channel" not in f)
    response = setup[-2]
    real = real_keys("OriginateResponse")
    assert _keys(response) == [{"Context": "Application", "Exten": "Data"}.get(key, key) for key in real]
    spy_channel = response["Channel"]
    assert spy_channel.startswith("PJSIP/2001-") and setup[0]["Channel"] == spy_channel
    assert (response["Response"], response["Reason"], response["Application"], response["Data"]) == (
        "Success",
        "4",
        "ChanSpy",
        f"{agent_channel},qES",
    )
    assert (response["CallerIDNum"], response["CallerIDName"], response["ActionID"]) == ("2001", "Listen", "spy")
    start = setup[-1]
    assert (start["SpyerChannel"], start["SpyeeChannel"]) == (spy_channel, agent_channel)
    channel_keys = real_keys("Newchannel")[2:]  # a channel snapshot, after Event and Privilege
    assert _keys(start) == [
        "Event",
        "Privilege",
        *(f"Spyer{k}" for k in channel_keys),
        *(f"Spyee{k}" for k in channel_keys),
    ]
    assert server.spies.spyee(spy_channel) is not None

    ended = await _run_until(server, client, lambda f: f.name == "Hangup" and f["Channel"] == spy_channel)
    order = [f.name for f in ended if f.get("Channel") == agent_channel or f.name == "ChanSpyStop"]
    assert order[-2:] == ["Hangup", "ChanSpyStop"]  # the agent's channel hangs up, then the spy stops
    stop = next(f for f in ended if f.name == "ChanSpyStop")
    assert (stop["SpyerChannel"], stop["SpyeeChannel"]) == (spy_channel, agent_channel)
    hangup = next(f for f in ended if f.name == "Hangup" and f["Channel"] == spy_channel)
    assert _keys(hangup) == real_keys("Hangup")
    assert server.spies.channels() == []


async def test_chanspy_with_nobody_to_spy_on_and_option_s_ends_at_once(client: Client) -> None:
    """An idle agent: the originate still succeeds (the supervisor answered) and the spy call hangs up at once."""
    reply = await client.act("Originate", _originate("Local/agent01@agents-,qES"), "idle")
    assert reply["Message"] == "Originate successfully queued"
    frames = await client.sync("s")
    names = [f.name for f in frames]
    assert "ChanSpyStart" not in names and "ChanSpyStop" not in names
    response = next(f for f in frames if f.name == "OriginateResponse")
    assert response["Response"] == "Success"
    assert [f["Channel"] for f in frames if f.name == "Hangup"] == [response["Channel"]]


async def test_chanspy_without_option_s_waits_for_the_next_call_and_hangup_ends_it(
    server: SimulatedAmiServer, client: Client
) -> None:
    """ChanSpy keeps scanning: Bob's next call starts the spy; the Hangup action stops it with Asterisk's events."""
    await client.act("QueuePause", {"Interface": BOB, "Paused": "true"}, "p")
    await client.act("Originate", _originate(f"{BOB},qE", channel="PJSIP/2002"), "wait")
    frames = await client.sync("s1")
    spy_channel = next(f for f in frames if f.name == "OriginateResponse")["Channel"]
    assert "ChanSpyStart" not in [f.name for f in frames] and server.spies.channels()
    await client.act("QueuePause", {"Interface": BOB, "Paused": "false"}, "u")
    frames = await _run_until(server, client, lambda f: f.name == "ChanSpyStart")
    start = next(f for f in frames if f.name == "ChanSpyStart")
    assert start["SpyerChannel"] == spy_channel and start["SpyeeChannel"].startswith(f"{BOB}-")

    reply = await client.act("Hangup", {"Channel": spy_channel}, "h")
    assert _reply(reply) == (("Response", "Success"), ("ActionID", "h"), ("Message", "Channel Hungup"))
    assert _keys(reply) == real_keys("Success", lambda f: f.get("Message") == "Channel Hungup")
    frames = await client.sync("s2")
    assert [f.name for f in frames if f.name != "DeviceStateChange"] == ["SoftHangupRequest", "ChanSpyStop", "Hangup"]
    assert _keys(frames[0]) == real_keys("SoftHangupRequest")
    reply = await client.act("Hangup", {"Channel": spy_channel}, "h2")
    assert _reply(reply) == (("Response", "Error"), ("ActionID", "h2"), ("Message", "No such channel"))


async def test_originate_failures_are_asterisks(client: Client) -> None:
    """An unknown technology is queued then fails (Reason 0, Uniqueid <unknown>); a name without '/' is invalid."""
    reply = await client.act("Originate", _originate("PJSIP/1002,qES", channel="Bogus/2001"), "bad")
    assert reply["Message"] == "Originate successfully queued"
    response = next(f for f in await client.sync("s") if f.name == "OriginateResponse")
    assert [(k, v) for k, v in response.fields if k not in ("Event", "Privilege")] == [
        ("ActionID", "bad"),
        ("Response", "Failure"),
        ("Channel", "Bogus/2001"),
        ("Application", "ChanSpy"),
        ("Data", "PJSIP/1002,qES"),
        ("Reason", "0"),
        ("Uniqueid", "<unknown>"),
        ("CallerIDNum", "2001"),
        ("CallerIDName", "Listen"),
    ]
    reply = await client.act("Originate", {"Channel": "nochannel", "Application": "ChanSpy"}, "inv")
    assert _reply(reply) == (("Response", "Error"), ("ActionID", "inv"), ("Message", "Invalid channel"))
    reply = await client.act("Originate", {"Application": "ChanSpy"}, "none")
    assert reply["Message"] == "Channel not specified"


async def test_originate_to_an_extension_answers_with_the_real_layout(client: Client) -> None:
    """Originate with Context/Exten (as the capture's driver sent): the OriginateResponse is the real one's shape."""
    fields = {"Channel": "Local/support@queue-entry/n", "Context": "caller-phone", "Exten": "s", "Priority": "1"}
    reply = await client.act("Originate", {**fields, "CallerID": '"Maria Garcia" <5039815111>', "Async": "true"}, "x")
    assert _keys(reply) == real_keys("Success", lambda f: f.get("Message") == "Originate successfully queued")
    response = next(f for f in await client.sync("s") if f.name == "OriginateResponse")
    assert _keys(response) == real_keys("OriginateResponse")
    assert response["Channel"].startswith("Local/support@queue-entry-") and response["Channel"].endswith(";1")
    assert (response["Context"], response["Exten"], response["Reason"], response["CallerIDName"]) == (
        "caller-phone",
        "s",
        "4",
        "Maria Garcia",
    )


# ---------------------------------------------------------------------- permission


@pytest.mark.parametrize(
    ("write", "allowed"),
    [("call,system", set()), ("agent", {"QueuePause"}), ("agent,originate", {"QueuePause", "Originate"})],
)
async def test_actions_need_the_users_write_class(write: str, allowed: set[str]) -> None:
    """Without `write=agent` QueuePause, without `originate` Originate answer `Permission denied` (and a
    RequestNotAllowed security event); read-only actions still work."""
    srv = await _server(write=write)
    client = await Client.login(srv.port)
    try:
        actions = {
            "QueuePause": {"Interface": ALICE, "Paused": "true"},
            "Originate": _originate("PJSIP/1002,qES"),
        }
        denied: list[Frame] = []
        for action, fields in actions.items():
            reply = await client.act(action, fields, action)
            if action in allowed:
                assert reply.name == "Success"
            else:
                assert _reply(reply) == (("Response", "Error"), ("ActionID", action), ("Message", "Permission denied"))
            denied += [f for f in await client.sync(f"after-{action}") if f.name == "RequestNotAllowed"]
        assert [f["RequestType"] for f in denied] == [f"Action: {a}" for a in actions if a not in allowed]
        assert all(f["Privilege"] == "security,all" and f["AccountID"] == "wallboard" for f in denied)
        assert (await client.act("QueueSummary", {}, "sum"))["Message"] == "Queue summary will follow"
        assert [m.paused for m in srv.simulation.state().members if m.interface == ALICE] == [
            "QueuePause" in allowed
        ] * 2
    finally:
        await client.aclose()
        await srv.close()


# ---------------------------------------------------------------------- pure helpers


def test_callerid_and_chanspy_options_are_read_as_asterisk_does() -> None:
    """CallerID forms and ChanSpy's `prefix,options` (option arguments in parentheses are not options)."""
    assert parse_callerid('"Maria Garcia" <5039815111>') == ("5039815111", "Maria Garcia")
    assert parse_callerid("Supervisor <2001>") == ("2001", "Supervisor")
    assert parse_callerid("(212) 558-7202") == ("2125587202", "")
    assert parse_callerid("ACME") == ("", "ACME")
    assert chanspy_options("PJSIP/1002-0000001b,qESw") == ("PJSIP/1002-0000001b", {"q", "E", "S", "w"})
    assert chanspy_options("Local/agent01@agents,qv(-4)B") == ("Local/agent01@agents", {"q", "v", "B"})
    assert chanspy_options("") == ("", set())


async def test_a_synchronous_originate_answers_after_the_call_without_originate_response(client: Client) -> None:
    """Async false: the channel's events come first, then the ack; an unknown technology is `Originate failed`."""
    fields = _originate("PJSIP/1002,qES")
    client.writer.write(encode_action("Originate", {**fields, "Async": "false"}, action_id="sync"))
    await client.writer.drain()
    frames = await client.sync("s1")
    names = [f.name for f in frames]
    assert names[0] == "Newchannel" and "OriginateResponse" not in names
    reply = next(f for f in frames if f.kind == "response" and f.action_id == "sync")
    assert reply["Message"] == "Originate successfully queued"
    assert names.index("DialEnd") < frames.index(reply)
    reply = await client.act("Originate", {**fields, "Channel": "Bogus/1", "Async": "no"}, "fail")
    assert _reply(reply) == (("Response", "Error"), ("ActionID", "fail"), ("Message", "Originate failed"))


def test_the_model_obeys_pause_add_and_remove_between_advances() -> None:
    """Model level: an unpause's reason shows in its event only; a member removed during a call finishes it."""
    sim = Simulation(_config(), seed=5, start=START)
    sim.advance(START)
    found, events = sim.pause_member(ALICE.upper(), False, reason="Back from coaching")
    assert found and [(e.kind, e.member.reason if e.member else None) for e in events] == [
        ("member_unpaused", "Back from coaching"),
        ("member_unpaused", "Back from coaching"),
    ]
    assert {m.reason for m in sim.state().members if m.interface == ALICE} == {""}
    while not any(m.in_call for m in sim.state().members if m.interface == BOB):
        sim.advance(sim.current_time + timedelta(seconds=5))
    outcome, events = sim.remove_member("Support", BOB)
    assert outcome == "removed" and [e.kind for e in events] == ["member_removed"]
    later = sim.advance(sim.current_time + timedelta(minutes=30))
    completes = [e for e in later if e.kind == "agent_complete" and e.member and e.member.interface == BOB]
    assert len(completes) == 1 and not [
        e for e in later if e.kind == "agent_called" and e.member and e.member.interface == BOB
    ]
    assert sim.add_member("support", BOB)[0] == "added" and sim.add_member("support", BOB)[0] == "already_there"
