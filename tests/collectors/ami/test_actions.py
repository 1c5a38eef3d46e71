"""Supervisor actions on the AMI side: the runner against real Asterisk 22 answers and hand-written failures
(sans-I/O), then the client against a scripted AMI server replaying real answers, through a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fixture_paths import FIXTURES, LIGHT
from waiting import poll_until

from collectors.ami.actions import ActionRunner, Outcome
from collectors.ami.client import AmiClient, AmiConfig
from collectors.ami.protocol import AmiParser, Frame, encode_action
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.core.actions import FAMILIES, AgentAction
from wallboard.store import Store, connect
from wallboard.store.sink import StreamSink

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
HAND = FIXTURES / "asterisk-hand" / "ami_action_failures.txt"
KINDS = {"QueueAdd": "login", "QueueRemove": "logout"}


def _frames(path: str = "ami_control_transcript.txt") -> list[tuple[float, Frame]]:
    """The control session's frames with their receive times (``ami_control_frames.jsonl``)."""
    parser = AmiParser()
    parser.receive_data((LIGHT / path).read_bytes())
    parser.receive_eof()
    times = {}
    for line in (LIGHT / "ami_control_frames.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "off" in record:
            times[record["off"]] = record["t"]
    return [(times.get(frame.offset, 0.0), frame) for frame in parser.frames_received()]


def _sent() -> list[dict[str, str | float]]:
    return [json.loads(line) for line in (LIGHT / "ami_control_sent.jsonl").read_text().splitlines()]


def _fields(raw: bytes | str) -> dict[str, str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return dict(line.split(": ", 1) for line in text.split("\r\n") if ": " in line)


def _agent_action(fields: dict[str, str], action_id: str) -> AgentAction:
    """The supervisor action that makes the runner send the recorded AMI action ``fields``."""
    interface = fields["Interface"]
    agent = interface.split("/")[1].split("@")[0]  # Local/agent01@agents/n -> agent01
    if fields["Action"] == "QueuePause":
        kind = "pause" if fields["Paused"] == "true" else "unpause"
    else:
        kind = KINDS[fields["Action"]]
    return AgentAction(
        id=action_id,
        kind=kind,  # type: ignore[arg-type]
        agent=agent,
        names=(fields.get("MemberName", agent), interface),
        by="sup1",
        requested=AT.isoformat(),
        queue=fields.get("Queue"),
        reason=fields.get("Reason"),
        penalty=int(fields["Penalty"]) if "Penalty" in fields else None,
    )


def test_recorded_actions_are_sent_as_recorded_and_done_by_the_real_answers() -> None:
    """Replayed in time order, each recorded QueueAdd/QueueRemove/QueuePause is rebuilt header for header and
    the real Asterisk 22 answer makes it done with Asterisk's message."""
    runner = ActionRunner(FAMILIES)
    frames = _frames()
    fed = 0
    outcomes: list[Outcome] = []
    expected: dict[str, str] = {}
    messages = {f.action_id: f.get("Message") for _, f in frames if f.kind == "response"}
    for sent in _sent():
        if sent["action"] not in ("QueueAdd", "QueueRemove", "QueuePause"):
            continue
        while fed < len(frames) and frames[fed][0] < float(sent["t"]):  # what was received before it was sent
            outcomes += runner.observe(frames[fed][1])
            fed += 1
        recorded = _fields(str(sent["raw"]))
        action_id = str(sent["actionid"])
        data, refused = runner.start(_agent_action(recorded, action_id), AT, 0.0, iter([action_id]).__next__)
        assert refused == []
        built = _fields(data)
        if "StateInterface" not in built:  # an agent the PBX had not shown yet: its state interface is unknown
            recorded.pop("StateInterface", None)
        assert built == recorded
        expected[action_id] = str(messages[action_id])
    for _, frame in frames[fed:]:
        outcomes += runner.observe(frame)
    assert len(expected) == 26  # 14 QueueAdd, 1 QueueRemove, 11 QueuePause
    assert {o.action.id: (o.state, o.message) for o in outcomes} == {k: ("done", m) for k, m in expected.items()}
    assert runner.open == 0


def test_monitor_is_done_by_the_real_originate_response_and_ended_by_its_hangup() -> None:
    """An agent on a call (real AgentConnect), a ChanSpy Originate on its exact channel; Asterisk 22's real
    "Originate successfully queued" and OriginateResponse Success make it done, the channel's Hangup ended."""
    frames = [frame for _, frame in _frames()]
    connect_frame = next(f for f in frames if f.name == "AgentConnect" and f.get("MemberName") == "Grace Kim")
    runner = ActionRunner(FAMILIES)
    for frame in frames[: frames.index(connect_frame) + 1]:
        runner.observe(frame)
    action = AgentAction(
        id="m1", kind="monitor", agent="Grace Kim", by="sup1", requested=AT.isoformat(), mode="barge",
        extension="PJSIP/2001",
    )  # fmt: skip
    data, refused = runner.start(action, AT, 0.0, lambda: "con-00014")
    assert refused == []
    assert _fields(data) == {
        "Action": "Originate",
        "ActionID": "con-00014",
        "Channel": "PJSIP/2001",
        "Application": "ChanSpy",
        "Data": f"{connect_frame['DestChannel']},qESB",
        "CallerID": '"barge: Grace Kim"',
        "Timeout": "30000",
        "Async": "true",
    }
    answered = [f for f in frames if f.action_id == "con-00014"]
    assert [f.kind for f in answered] == ["response", "event"]
    outcomes = [o for f in answered for o in runner.observe(f)]
    assert [(o.state, o.message) for o in outcomes] == [
        ("done", "spy call answered on Local/support@queue-entry-00000000;1 (barge)")
    ]
    hangup = next(f for f in frames if f.name == "Hangup" and f.get("Uniqueid") == answered[1]["Uniqueid"])
    assert [(o.action.id, o.state) for o in runner.observe(hangup)] == [("m1", "ended")]


def _hand_frames() -> list[Frame]:
    parser = AmiParser()
    parser.receive_data(HAND.read_bytes())
    parser.receive_eof()
    assert list(parser.errors()) == []
    return list(parser.frames_received())


@pytest.mark.parametrize(
    ("action_id", "kind", "message"),
    [
        ("fail-01", "pause", "Interface not found"),
        ("fail-02", "login", "Unable to add interface: Already there"),
        ("fail-03", "login", "Unable to add interface to queue: No such queue"),
        ("fail-04", "logout", "Unable to remove interface: Not there"),
        ("fail-05", "logout", "Member not dynamic"),
        ("fail-06", "logout", "Unable to remove interface from queue: No such queue"),
        ("fail-07", "pause", "Permission denied"),
        ("fail-08", "monitor", "OriginateResponse: Failure, Reason: 5 (PJSIP/2001: busy)"),
        (
            "fail-09",
            "monitor",
            "OriginateResponse: Failure, Reason: 0 (PJSIP/2999: the channel could not be created "
            "(unknown technology or device, or not reachable))",
        ),
        ("fail-10", "monitor", "Permission denied"),
    ],
)
def test_hand_written_failures_fail_with_the_pbx_message(action_id: str, kind: str, message: str) -> None:
    """Each failure Asterisk's source can answer (tests/fixtures/asterisk-hand) fails the action with its text."""
    runner = ActionRunner(FAMILIES)
    runner.observe(Frame("event", "AgentConnect", (("Interface", "PJSIP/1001"), ("MemberName", "Alice Nguyen"),
                                                    ("DestChannel", "PJSIP/1001-00000007"))))  # fmt: skip
    monitor, pause = kind == "monitor", kind == "pause"
    action = AgentAction(
        id=action_id, kind=kind, agent="alice", names=("Alice Nguyen", "PJSIP/1001"), by="sup1",  # type: ignore[arg-type]
        requested=AT.isoformat(), queue=None if pause else "support", reason="Break" if pause else None,
        mode="listen" if monitor else None, extension="PJSIP/2001" if monitor else None,
    )  # fmt: skip
    data, refused = runner.start(action, AT, 0.0, lambda: action_id)
    assert data and refused == []
    outcomes = [o for frame in _hand_frames() for o in runner.observe(frame)]
    assert [(o.action.id, o.state, o.message) for o in outcomes] == [(action_id, "failed", message)]


def _member(interface: str, name: str, queue: str, membership: str) -> Frame:
    fields = (("Queue", queue), ("Name", name), ("Location", interface), ("StateInterface", interface),
              ("Membership", membership))  # fmt: skip
    return Frame("event", "QueueMember", fields)


def _logout(queue: str | None = None) -> AgentAction:
    return AgentAction(
        id="l1", kind="logout", agent="bob", names=("Bob",), by="s", requested=AT.isoformat(), queue=queue
    )


def test_logout_removes_only_dynamic_memberships_and_refuses_a_static_one() -> None:
    """A logout from every queue sends QueueRemove for the dynamic ones; a static membership fails, unsent."""
    runner = ActionRunner(FAMILIES)
    for queue, membership in (("sales", "dynamic"), ("support", "static"), ("billing", "dynamic")):
        runner.observe(_member("PJSIP/1002", "Bob", queue, membership))
    ids = iter(["a1", "a2"])
    data, refused = runner.start(_logout(), AT, 0.0, lambda: next(ids))
    assert refused == []
    assert [_fields(part)["Queue"] for part in data.decode().split("\r\n\r\n") if part] == ["billing", "sales"]
    outcomes = runner.observe(
        Frame("response", "Success", (("ActionID", "a1"), ("Message", "Removed interface from queue")))
    )
    assert outcomes == []  # one of two answered
    outcomes = runner.observe(
        Frame("response", "Success", (("ActionID", "a2"), ("Message", "Removed interface from queue")))
    )
    assert [(o.state, o.message) for o in outcomes] == [("done", "Removed interface from queue (billing, sales)")]
    data, refused = runner.start(_logout("support"), AT, 0.0, lambda: "a3")
    assert data == b""
    assert [(o.state, o.message) for o in refused] == [
        ("failed", "bob is a static member of support (queues.conf): it cannot be removed")
    ]


def test_no_answer_late_actions_and_a_lost_connection_fail() -> None:
    """No answer within the limit, an action read too late and the end of the connection each fail it."""
    runner = ActionRunner(FAMILIES, answer_timeout_s=10.0)
    pause = AgentAction(id="p1", kind="pause", agent="PJSIP/1001", by="s", requested=AT.isoformat(), reason="Break")
    runner.start(pause, AT, 100.0, lambda: "x1")
    assert runner.expire(109.9) == []
    assert [(o.state, o.message) for o in runner.expire(110.0)] == [("failed", "no answer from the PBX within 10 s")]
    _, refused = runner.start(pause, AT + timedelta(seconds=11), 0.0, lambda: "x2")
    assert refused[0].state == "failed" and "not sent" in refused[0].message
    runner.start(pause.model_copy(update={"id": "p2"}), AT, 0.0, lambda: "x3")
    assert [(o.action.id, o.state) for o in runner.lost()] == [("p2", "failed")]
    _, refused = ActionRunner(("login",)).start(pause, AT, 0.0, lambda: "x4")
    assert refused[0].message == "pause actions are not enabled on this collector"


# -- the client, a scripted AMI server replaying real answers, a real Redis --------------------------------------

PAUSE_ANSWER = "Response: Success\r\nActionID: {id}\r\nMessage: Interface paused successfully\r\n\r\n"


def _recorded(name: str, **match: str) -> bytes:
    """A real frame of the control transcript, as bytes."""
    raw = (LIGHT / "ami_control_transcript.txt").read_bytes()
    frame = next(f for _, f in _frames() if f.name == name and all(f.get(k) == v for k, v in match.items()))
    return raw[frame.offset : frame.offset + frame.size]


@contextlib.asynccontextmanager
async def scripted_pbx(received: list[dict[str, str]]) -> AsyncIterator[int]:
    """An AMI server: banner, accepts the login, answers QueueStatus with one real QueueMember event and a
    QueuePause with Asterisk 22's real answer followed by the real QueueMemberPause event."""
    member = _recorded("QueueMemberAdded", MemberName="Bob Martinez", Queue="support")
    pause_event = _recorded("QueueMemberPause", MemberName="Bob Martinez", Queue="support", PausedReason="Break")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = AmiParser(expect_banner=False)
        try:
            await _answer(reader, writer, parser)
        finally:
            writer.close()

    async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser) -> None:
        while data := await reader.read(65536):
            parser.receive_data(data)
            for frame in parser.frames_received():
                fields = dict(frame.fields)
                received.append(fields)
                answer = f"Response: Success\r\nActionID: {frame.action_id}\r\nMessage: ok\r\n\r\n".encode()
                if frame.name == "QueueStatus":
                    answer += member
                elif frame.name == "QueuePause":
                    answer = PAUSE_ANSWER.format(id=frame.action_id).encode() + pause_event
                writer.write(answer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    try:
        yield Store(client, site="paris")
    finally:
        await client.aclose()


async def test_client_executes_a_queued_pause_once_and_records_it(store: Store) -> None:
    """A pause queued in Redis is sent once as QueuePause of the member's interface, done by the PBX's answer,
    audited with its result, and the collector republishes its member directory for the API."""
    received: list[dict[str, str]] = []
    actions = AgentActions(store.actions)
    async with scripted_pbx(received) as port:
        config = AmiConfig("127.0.0.1", port, "wallboard", "secret", site="paris")
        client = AmiClient(config, StreamSink(store), actions=ActionFeed(actions), enabled=FAMILIES)
        task = asyncio.create_task(client.run())
        try:
            await poll_until(lambda: client.stats.connected, "the collector logs in", 10)
            await poll_until(store.actions.members, "the member directory is published", 10)
            now = datetime.now(UTC).isoformat()
            await actions.request(AgentAction(id="abc1", kind="pause", agent="Bob Martinez", by="sup1",
                                              requested=now, reason="Coaching"))  # fmt: skip

            async def done() -> bool:
                status = await actions.get("abc1")
                return status is not None and status.state == "done"

            await poll_until(done, "the pause is done", 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    pauses = [fields for fields in received if fields.get("Action") == "QueuePause"]
    assert [(p["Interface"], p["Paused"], p["Reason"], "Queue" in p) for p in pauses] == [
        ("Local/agent02@agents/n", "true", "Coaching", False)
    ]
    status = await actions.get("abc1")
    assert status is not None and status.message == "Interface paused successfully"
    audit = [fields for _, fields in await store.accounts.read_audit(10)]
    assert [(a["action"], a["actor"], a["target"]) for a in audit] == [
        ("agent.pause.result", "sup1", "agent:Bob Martinez"),
        ("agent.pause", "sup1", "agent:Bob Martinez"),
    ]
    assert json.loads(audit[0]["new"])["state"] == "done"
    members = await store.actions.members()
    assert members["Local/agent02@agents/n"]["queues"] == {"support": "dynamic"}
    assert client.stats.actions_by_result == {"pause:done": 1}
    pending = await store.client.xpending(store.keys.actions, "ami")
    assert pending["pending"] == 0


async def test_an_action_left_unacknowledged_by_a_previous_run_fails_and_is_not_sent(store: Store) -> None:
    """An action taken but never settled (the collector died) is failed at the next start, never sent twice."""
    actions = AgentActions(store.actions)
    now = datetime.now(UTC).isoformat()
    await store.actions.ensure_group()
    await actions.request(AgentAction(id="old1", kind="pause", agent="x", by="s", requested=now, reason="Break"))
    assert len(await store.actions.read_group("ami", ">", 10, None)) == 1  # taken, then the process died
    feed = ActionFeed(actions)
    assert await feed.take(0.01) == []
    status = await actions.get("old1")
    assert status is not None and status.state == "failed" and "not sent again" in (status.message or "")


def test_encode_action_refuses_injection_through_a_reason() -> None:
    """A reason cannot smuggle a header (the API cleans it; the encoder refuses line breaks anyway)."""
    with pytest.raises(ValueError):
        encode_action("QueuePause", {"Reason": "x\r\nAction: Originate"})
