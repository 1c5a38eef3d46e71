"""Real output of several Asterisk versions through the real parsers: every record accounted for, no genuine
record rejected, and each version's layout mapped the same way.

Captures (each folder's PROVENANCE.md says whence, under which licence, and how the version is known):

* Asterisk 22.10.1 — ``asterisk22-light``: queue_log and the AMI transcript of our own run.
* Asterisk 13 or later — ``asterisk-versions/cacofonisk-13``: AMI events of queue calls (abandon, attended
  and blind transfer) recorded on VoIPGRID's production platform, JSON, filtered to a few event types.
* Asterisk 11.11 — ``public/panoramisk_*.ami``: AMI streams of a XiVO PBX (``Location``, ``QueueMemberPaused``).
* FreePBX, 2018 — ``public/asterisk2slack_queue_log*.txt``: a queue_log extract (CONNECT with ringtime,
  member names in the agent column, a vendor ``DID`` verb, repeated lines).

Expected figures are computed from the captures themselves (verbs and headers counted here), never copied
from what the mappers produced.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixture_paths import FIXTURES, LIGHT, PUBLIC

from collectors.ami.mapping import AmiMapper
from collectors.ami.protocol import AmiParser, Frame, TruncatedFrame
from collectors.queue_log.parser import QueueLogMapper
from wallboard.core.events import (
    AgentDevice,
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallQueued,
    CallTransferred,
    Event,
    Snapshot,
    SourceReset,
    event_to_json,
    parse_event,
)

VERSIONS = FIXTURES / "asterisk-versions"
CACOFONISK = VERSIONS / "cacofonisk-13"
T0 = datetime(2020, 3, 27, 14, 15, 0, tzinfo=UTC)

# -- queue_log ---------------------------------------------------------------------------------------------

QUEUE_LOGS = {
    "asterisk-22.10.1": LIGHT / "queue_log",
    "freepbx-2018": PUBLIC / "asterisk2slack_queue_log.txt",
    "freepbx-2018-v1": PUBLIC / "asterisk2slack_queue_log_v1.txt",
}
# Verbs app_queue (and FreePBX's dialplan) write that carry nothing a wallboard shows.
NOTHING_VERBS = frozenset(
    "RINGCANCELED CONFIGRELOAD SYSCOMPAT INFO DID AGENTDUMP PENALTY RINGINUSE OUTCALL".split()
)  # fmt: skip
TRANSFER_VERBS = frozenset({"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"})
EXIT_VERBS = frozenset({"EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY", "WITHDRAW", "FULL", "JOINEMPTY", "JOINUNAVAIL"})


@dataclass
class QueueLogRun:
    """A queue_log capture, read by the test (``lines``, ``verbs``) and by the mapper (``mapper``, ``events``)."""

    lines: list[str]
    distinct: list[list[str]]  # the columns of each line not repeated earlier in the file
    mapper: QueueLogMapper
    events: list[Event]
    verbs: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.verbs = Counter(columns[4] for columns in self.distinct)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def run_queue_log(path: Path) -> QueueLogRun:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    seen: set[str] = set()
    distinct: list[list[str]] = []
    for line in lines:
        canonical = line.rstrip("|")  # the mapper drops trailing empty fields before it compares
        if canonical not in seen:
            seen.add(canonical)
            distinct.append(canonical.split("|"))
    mapper = QueueLogMapper(site="versions")
    events = mapper.feed_lines(text.splitlines(), 1) + mapper.finish()
    return QueueLogRun(lines, distinct, mapper, events)


@pytest.fixture(params=sorted(QUEUE_LOGS), scope="module")
def queue_log(request: pytest.FixtureRequest) -> QueueLogRun:
    return run_queue_log(QUEUE_LOGS[request.param])


def test_every_queue_log_line_is_accounted_for(queue_log: QueueLogRun) -> None:
    """Each line is read once: accepted, ignored (a verb with nothing to show) or a repeat; none rejected."""
    mapper, verbs = queue_log.mapper, queue_log.verbs
    assert mapper.records == len(queue_log.lines)
    assert mapper.duplicates == len(queue_log.lines) - len(queue_log.distinct)
    assert (mapper.rejected, mapper.rejected_by_reason) == (0, {})
    first_start = int(queue_log.distinct[0][4] == "QUEUESTART")
    silent = sum(n for verb, n in verbs.items() if verb in NOTHING_VERBS) + first_start
    assert mapper.ignored == silent
    accepted = mapper.records - mapper.rejected - mapper.ignored - mapper.duplicates
    assert accepted == len(queue_log.distinct) - silent


def test_queue_log_verbs_give_their_events(queue_log: QueueLogRun) -> None:
    """One event per verb occurrence: calls, rings, logins and pauses (PAUSEALL too), transfers end their call."""
    verbs = queue_log.verbs
    kinds = Counter(type(e) for e in queue_log.events)
    transfers = sum(verbs[v] for v in TRANSFER_VERBS)
    assert kinds[CallQueued] == verbs["ENTERQUEUE"]
    assert kinds[CallAnswered] == verbs["CONNECT"]
    assert kinds[CallEnded] == verbs["COMPLETEAGENT"] + verbs["COMPLETECALLER"] + transfers
    assert kinds[CallTransferred] == transfers
    assert kinds[CallAbandoned] == verbs["ABANDON"]
    assert kinds[CallExited] == sum(verbs[v] for v in EXIT_VERBS)
    assert kinds[AgentRang] == verbs["RINGNOANSWER"]
    assert kinds[AgentLogin] == verbs["ADDMEMBER"]
    assert kinds[AgentLogout] == verbs["REMOVEMEMBER"]
    assert kinds[AgentPaused] == verbs["PAUSE"] + verbs["PAUSEALL"]
    assert kinds[AgentUnpaused] == verbs["UNPAUSE"] + verbs["UNPAUSEALL"]
    assert kinds[SourceReset] == verbs["QUEUESTART"] - int(queue_log.distinct[0][4] == "QUEUESTART")
    assert all(parse_event(event_to_json(e)) == e for e in queue_log.events)


def test_connect_wait_and_ring_come_from_the_line(queue_log: QueueLogRun) -> None:
    """CONNECT holdtime|member-uniqueid|ringtime: the answer's wait and ring are the line's seconds, per call."""
    answered = {e.call_id: e for e in queue_log.of(CallAnswered) if isinstance(e, CallAnswered)}
    connects = [c for c in queue_log.distinct if c[4] == "CONNECT"]
    assert connects and len(answered) == len(connects)
    for _ts, call_id, queue, agent, _verb, hold, _peer, *ring in connects:
        event = answered[call_id]
        assert (event.queue, event.agent, event.wait_s) == (queue, agent, float(hold))
        assert event.ring_s == (float(ring[0]) if ring else None)
        assert event.agent_channel is None  # the second field is the member's Uniqueid, not a channel


def test_complete_talk_and_wait_come_from_the_line(queue_log: QueueLogRun) -> None:
    """COMPLETEAGENT/COMPLETECALLER holdtime|talktime|origposition end the call with those seconds and that side."""
    ended = [e for e in queue_log.of(CallEnded) if isinstance(e, CallEnded)]
    completes = [c for c in queue_log.distinct if c[4] in ("COMPLETEAGENT", "COMPLETECALLER")]
    expected = sorted(
        (c[1], float(c[6]), float(c[5]), "agent" if c[4] == "COMPLETEAGENT" else "caller") for c in completes
    )
    assert sorted((e.call_id or "", e.talk_s, e.wait_s, e.ended_by) for e in ended) == expected


def test_ring_no_answer_is_milliseconds(queue_log: QueueLogRun) -> None:
    """RINGNOANSWER's ringtime is milliseconds in 1.6 to 22 alike: 2000 is a two-second ring."""
    rang = sorted((e.call_id or "", e.agent, e.ring_s) for e in queue_log.of(AgentRang) if isinstance(e, AgentRang))
    lines = [c for c in queue_log.distinct if c[4] == "RINGNOANSWER"]
    assert rang == sorted((c[1], c[3], int(c[5]) / 1000) for c in lines)


def test_pauseall_pauses_every_queue_of_the_member() -> None:
    """Asterisk 22 writes PAUSEALL/UNPAUSEALL with queue NONE before the per-queue lines: queue None, same reason."""
    run = run_queue_log(QUEUE_LOGS["asterisk-22.10.1"])
    for verb, kind in (("PAUSEALL", AgentPaused), ("UNPAUSEALL", AgentUnpaused)):
        lines = [c for c in run.distinct if c[4] == verb]
        assert lines and all(c[2] == "NONE" for c in lines)
        global_events = [e for e in run.of(kind) if isinstance(e, AgentPaused | AgentUnpaused) and e.queue is None]
        expected = sorted((c[3], c[5] if len(c) > 5 else "") for c in lines)
        assert sorted((e.agent, e.reason) for e in global_events) == expected


def test_member_column_is_interface_for_addmember_and_name_elsewhere() -> None:
    """ADDMEMBER/REMOVEMEMBER name the interface, every other verb the member name (Asterisk 22 defaults)."""
    run = run_queue_log(QUEUE_LOGS["asterisk-22.10.1"])
    logins = [e for e in run.of(AgentLogin) + run.of(AgentLogout) if isinstance(e, AgentLogin | AgentLogout)]
    assert logins and all(e.interface == e.agent and e.member_name is None for e in logins)
    answered = [e for e in run.of(CallAnswered) if isinstance(e, CallAnswered)]
    assert all(e.member_name == e.agent and e.interface is None for e in answered)


# -- AMI ---------------------------------------------------------------------------------------------------

# Events that tell a wallboard something about queues: none of them may be ignored or rejected. (The items of a
# QueueStatus list count as ignored until the list completes: they are checked through the Snapshot instead.)
QUEUE_EVENTS = frozenset(
    """
    QueueCallerJoin Join QueueCallerLeave Leave QueueCallerAbandon AgentConnect AgentComplete AgentRingNoAnswer
    QueueMemberAdded QueueMemberRemoved QueueMemberPause QueueMemberPaused QueueMemberStatus
    """.split()
)


def json_capture(path: Path) -> bytes:
    """A cacofonisk JSON capture as AMI bytes: ``Event`` first, then the other headers in file order, CRLF."""
    wire = bytearray()
    for obj in json.loads(path.read_text(encoding="utf-8")):
        headers = [("Event", obj["Event"])] + [(k, v) for k, v in obj.items() if k not in ("Event", "content")]
        wire += b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n"
    return bytes(wire)


AMI_CAPTURES: dict[str, tuple[Path, bool]] = {  # name -> (file, starts with a banner)
    "asterisk-22.10.1-light": (LIGHT / "ami_transcript.txt", True),
    **{f"asterisk-13-{p.stem}": (p, False) for p in sorted(CACOFONISK.glob("*.json"))},
    **{f"asterisk-11.11-{p.stem}": (p, True) for p in sorted(PUBLIC.glob("panoramisk_*.ami"))},
}


def capture_bytes(path: Path) -> bytes:
    return json_capture(path) if path.suffix == ".json" else path.read_bytes()


def frames_of(path: Path, banner: bool) -> list[Frame]:
    """Every frame of a capture; the only error allowed is a last frame cut by the end of the file."""
    data = capture_bytes(path)
    parser = AmiParser(expect_banner=banner)
    parser.receive_data(data)
    parser.receive_eof()
    errors = list(parser.errors())
    # panoramisk_agent_not_in_pause.ami ends inside an "Event: Registry" frame (no blank line after it)
    assert all(isinstance(e, TruncatedFrame) and e.offset + e.size == len(data) for e in errors)
    assert all(not data[e.offset :].startswith(b"Event: Queue") for e in errors)
    return list(parser.frames_received())


@dataclass
class AmiRun:
    frames: list[Frame]
    mapper: AmiMapper
    events: list[Event]
    used: list[Frame]  # frames a handler took (events or state), neither ignored nor rejected
    ignored: list[Frame]

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def run_ami(path: Path, banner: bool) -> AmiRun:
    frames = frames_of(path, banner)
    mapper = AmiMapper(site="versions")
    events: list[Event] = []
    used: list[Frame] = []
    ignored: list[Frame] = []
    for i, frame in enumerate(frames):
        before = (mapper.ignored, mapper.rejected)
        events += mapper.feed(frame, T0 + timedelta(seconds=i))
        if mapper.ignored > before[0]:
            ignored.append(frame)
        elif mapper.rejected == before[1]:
            used.append(frame)
    events += mapper.finish(T0 + timedelta(seconds=len(frames)))
    return AmiRun(frames, mapper, events, used, ignored)


@pytest.mark.parametrize("name", sorted(AMI_CAPTURES))
def test_every_ami_frame_is_accounted_for(name: str) -> None:
    """Every frame of a genuine capture is used or ignored, none rejected, and no queue event is ignored."""
    path, banner = AMI_CAPTURES[name]
    run = run_ami(path, banner)
    assert run.mapper.rejected == 0
    assert len(run.used) + len(run.ignored) == len(run.frames)
    assert [f.name for f in run.ignored if f.kind == "event" and f.name in QUEUE_EVENTS] == []
    lists_ended = [f for f in run.frames if f.name == "QueueStatusComplete" and f.action_id is not None]
    assert len(run.of(Snapshot)) == len(lists_ended)
    assert all(parse_event(event_to_json(e)) == e for e in run.events)


def _member_frames(name: str, event: str) -> list[Frame]:
    path, banner = AMI_CAPTURES[name]
    return [f for f in frames_of(path, banner) if f.kind == "event" and f.name == event]


@pytest.mark.parametrize(
    ("name", "location_key"),
    [
        ("asterisk-22.10.1-light", "Interface"),
        ("asterisk-11.11-panoramisk_agent_loggued_in", "Location"),
        ("asterisk-11.11-panoramisk_agent_not_in_pause", "Location"),
    ],
)
def test_queue_member_status_location_maps_like_interface(name: str, location_key: str) -> None:
    """QueueMemberStatus names the member by ``Location`` up to 11, ``Interface`` from 12: both give the interface."""
    path, banner = AMI_CAPTURES[name]
    frames = _member_frames(name, "QueueMemberStatus")
    assert frames and all(location_key in f for f in frames)
    devices = [e for e in run_ami(path, banner).of(AgentDevice) if isinstance(e, AgentDevice)]
    expected = [(f.get(location_key), f.get("MemberName") or None, f.get("Queue")) for f in frames]
    assert [(e.interface, e.member_name, e.queue) for e in devices] == expected
    assert all(e.agent == (e.member_name or e.interface) for e in devices)


def test_asterisk11_queue_member_paused_and_added() -> None:
    """Asterisk 11's QueueMemberPaused and QueueMemberAdded (``Location``) pause and log in the named member."""
    for name, event, kind in (
        ("asterisk-11.11-panoramisk_agent_not_in_pause", "QueueMemberPaused", (AgentPaused, AgentUnpaused)),
        ("asterisk-11.11-panoramisk_agent_loggued_in", "QueueMemberAdded", (AgentLogin,)),
    ):
        frames = _member_frames(name, event)
        path, banner = AMI_CAPTURES[name]
        got = [e for e in run_ami(path, banner).events if isinstance(e, kind)]
        assert frames and len(got) == len(frames)
        for frame, ev in zip(frames, got, strict=True):
            assert isinstance(ev, AgentPaused | AgentUnpaused | AgentLogin)
            assert (ev.interface, ev.queue) == (frame.get("Location"), frame.get("Queue"))
            if isinstance(ev, AgentPaused | AgentUnpaused):
                assert isinstance(ev, AgentPaused) == (frame.get("Paused") == "1")


def test_asterisk11_queue_status_members_use_name_and_location() -> None:
    """Asterisk 11's QueueStatus list (``Name``/``Location``) becomes one snapshot holding every member."""
    name = "asterisk-11.11-panoramisk_queue_status"
    path, banner = AMI_CAPTURES[name]
    items = _member_frames(name, "QueueMember")
    (snapshot,) = [e for e in run_ami(path, banner).events if isinstance(e, Snapshot)]
    assert [(m.interface, m.member_name, m.queue) for m in snapshot.members] == [
        (f.get("Location"), f.get("Name"), f.get("Queue")) for f in items
    ]


def test_asterisk13_abandon_is_told_by_the_hangup() -> None:
    """A 12+ QueueCallerAbandon then the caller's Hangup (no QUEUESTATUS between) is an abandon with its HoldTime."""
    name = "asterisk-13-queue_a_cancel"
    path, banner = AMI_CAPTURES[name]
    (abandon,) = _member_frames(name, "QueueCallerAbandon")
    uid = abandon["Uniqueid"]
    frames = frames_of(path, banner)
    names_after = [f.name for f in frames[frames.index(abandon) + 1 :] if f.get("Uniqueid") == uid]
    assert names_after[-1] == "Hangup" and "VarSet" not in names_after
    run = run_ami(path, banner)
    assert [
        (e.call_id, e.queue, e.wait_s, e.position) for e in run.of(CallAbandoned) if isinstance(e, CallAbandoned)
    ] == [(uid, abandon["Queue"], float(abandon["HoldTime"]), int(abandon["Position"]))]
    assert run.of(CallExited) == []


@pytest.mark.parametrize(
    ("stem", "event"), [("queue_attn_xfer", "AttendedTransfer"), ("queue_blind_xfer", "BlindTransfer")]
)
def test_asterisk13_transfer_of_a_call_never_seen_answered_is_not_invented(stem: str, event: str) -> None:
    """A 12+ transfer of a queue call whose AgentConnect the capture lacks is ignored: no CallTransferred, no reject."""
    name = f"asterisk-13-{stem}"
    path, banner = AMI_CAPTURES[name]
    (transfer,) = _member_frames(name, event)
    assert transfer.get("Result") == "Success"
    run = run_ami(path, banner)
    assert transfer in run.ignored
    assert run.of(CallTransferred) == []


def _pairs(frames: Sequence[Frame], *names: str) -> Iterator[Frame]:
    return (f for f in frames if f.kind == "event" and f.name in names)


def test_asterisk22_agent_connect_and_complete_figures_come_from_the_frames() -> None:
    """Asterisk 22 AgentConnect (Channel = caller, DestChannel = agent) and AgentComplete keep HoldTime/TalkTime."""
    path, banner = AMI_CAPTURES["asterisk-22.10.1-light"]
    run = run_ami(path, banner)
    connects = list(_pairs(run.frames, "AgentConnect"))
    answered = [e for e in run.of(CallAnswered) if isinstance(e, CallAnswered)]
    assert [(e.call_id, e.wait_s, e.ring_s, e.agent_channel) for e in answered] == [
        (f["Uniqueid"], float(f["HoldTime"]), float(f["RingTime"]), f["DestChannel"]) for f in connects
    ]
    completes = list(_pairs(run.frames, "AgentComplete"))
    ended = [e for e in run.of(CallEnded) if isinstance(e, CallEnded)]
    assert [(e.talk_s, e.wait_s, e.ended_by) for e in ended] == [
        (float(f["TalkTime"]), float(f["HoldTime"]), f["Reason"]) for f in completes
    ]
