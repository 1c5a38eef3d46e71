"""Tests for collectors/ami/mapping.py: real Asterisk frames through the real parser into events."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import cast

import pytest
from fixture_paths import LIGHT, PUBLIC
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.ami.mapping import AmiMapper, make_drop_predicate
from collectors.ami.protocol import AmiParser, Frame, FrameKind
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
    CallHold,
    CallQueued,
    CallTransferred,
    Event,
    Snapshot,
    SourceReset,
    event_to_json,
    parse_event,
)

T0 = datetime(2026, 11, 22, 12, 33, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)

# The first call of the light run (ground_truth.json "light-0001"): support, answered by Alice Nguyen.
UID = "1795350761.1"
CALLER_CHANNEL = "Local/support@queue-entry-00000000;2"
AGENT_CHANNEL = "Local/agent01@agents-00000001;1"

# -- helpers ------------------------------------------------------------------------------------------


@cache
def transcript() -> bytes:
    return (LIGHT / "ami_transcript.txt").read_bytes()


@cache
def transcript_frames() -> tuple[Frame, ...]:
    parser = AmiParser()
    parser.receive_data(transcript())
    parser.receive_eof()
    assert list(parser.errors()) == []
    return tuple(parser.frames_received())


@cache
def receive_times() -> dict[int, datetime]:
    """Receive time of each frame of the transcript by byte offset (ami_frames.jsonl ``t``)."""
    times: dict[int, datetime] = {}
    for line in (LIGHT / "ami_frames.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "off" in row and "t" in row:
            times[row["off"]] = datetime.fromtimestamp(row["t"], UTC)
    return times


def real(name: str, **match: str) -> Frame:
    """The first frame of the light transcript named ``name`` whose fields equal ``match``."""
    for frame in transcript_frames():
        if frame.name == name and all(frame.get(k) == v for k, v in match.items()):
            return frame
    raise LookupError(f"no {name} frame with {match} in the transcript")


def parse(text: str) -> list[Frame]:
    """Frames of an AMI text written with ``\\n`` line ends (sent as CRLF, as on the wire)."""
    parser = AmiParser(expect_banner=False)
    parser.receive_data(text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n\r\n")
    parser.receive_eof()
    assert list(parser.errors()) == []
    return list(parser.frames_received())


def one(text: str) -> Frame:
    (frame,) = parse(text)
    return frame


def rebuild(frame: Frame, *, keep: Iterable[str] | None = None, **changes: str) -> Frame:
    """``frame`` re-parsed with only the ``keep`` headers (all by default) and ``changes`` applied or appended."""
    kept = set(keep) if keep is not None else None
    fields = [(k, changes.pop(k, v)) for k, v in frame.fields if kept is None or k in kept or k in changes]
    fields += list(changes.items())
    return one("\n".join(f"{k}: {v}" for k, v in fields))


def channel_part(frame: Frame) -> str:
    """The channel snapshot headers of a real Asterisk 22 queue event (Privilege .. Linkedid)."""
    lines = []
    for key, value in frame.fields[1:]:
        lines.append(f"{key}: {value}")
        if key == "Linkedid":
            break
    return "\n".join(lines)


def abandon_22(position: int, original: int, hold: int) -> Frame:
    """A QueueCallerAbandon of the first light call in Asterisk 22's layout (channel snapshot, then queue fields)."""
    leave = real("QueueCallerLeave", Uniqueid=UID)
    return one(
        f"Event: QueueCallerAbandon\n{channel_part(leave)}\n"
        f"Queue: support\nPosition: {position}\nOriginalPosition: {original}\nHoldTime: {hold}"
    )


def queuestatus_22(value: str) -> Frame:
    """The real VarSet layout of the first call's queue leg, setting QUEUESTATUS."""
    varset = real("VarSet", Uniqueid=UID, Variable="QUEUEPOSITION")
    return rebuild(varset, Variable="QUEUESTATUS", Value=value)


def feed_all(mapper: AmiMapper, frames: Sequence[Frame], start: datetime = T0) -> list[Event]:
    """Feed frames one second apart from ``start``; all events in order."""
    events: list[Event] = []
    for i, frame in enumerate(frames):
        events += mapper.feed(frame, start + i * SEC)
    return events


def of(events: Iterable[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def replay(drop: bool) -> tuple[AmiMapper, list[Event]]:
    """The whole light transcript through AmiParser (+ the drop predicate) and AmiMapper, stamped as received."""
    parser = AmiParser(drop=make_drop_predicate() if drop else None)
    mapper = AmiMapper(site="light")
    data = transcript()
    times = receive_times()
    events: list[Event] = []
    for at in range(0, len(data), 4096):  # socket-sized reads
        parser.receive_data(data[at : at + 4096])
        for frame in parser.frames_received():
            events += mapper.feed(frame, times[frame.offset])
    parser.receive_eof()
    assert list(parser.errors()) == []
    events += mapper.finish(max(times.values()))
    return mapper, events


# -- time ---------------------------------------------------------------------------------------------


def test_event_time_is_received_at_without_timestamp_header() -> None:
    """A frame without Timestamp: (the default) is stamped with the time it was received."""
    (event,) = AmiMapper().feed(real("QueueCallerJoin", Uniqueid=UID), T0)
    assert event.ts == T0


def test_event_time_comes_from_timestamp_header() -> None:
    """With timestampevents=yes the PBX's epoch Timestamp: header (UTC) wins over the receive time."""
    frame = rebuild(real("QueueCallerJoin", Uniqueid=UID), Timestamp="1795350761.250000")
    (event,) = AmiMapper().feed(frame, T0)
    assert event.ts == datetime(2026, 11, 22, 12, 32, 41, 250000, tzinfo=UTC)


# -- waiting calls --------------------------------------------------------------------------------------


def test_queue_caller_join_maps_to_call_queued() -> None:
    """A real QueueCallerJoin (Asterisk 22) becomes CallQueued with the queue leg's Uniqueid and caller id."""
    mapper = AmiMapper(site="s1")
    events = mapper.feed(real("QueueCallerJoin", Uniqueid=UID), T0)
    assert events == [
        CallQueued(
            ts=T0,
            site="s1",
            source="ami",
            call_id=UID,
            queue="support",
            position=1,
            caller="5039815111",
            caller_name="Maria Garcia",
        )
    ]


def test_asterisk14_join_names_the_caller_in_callerid() -> None:
    """Asterisk 1.4's Event: Join (app_queue.c of 1.4) carries the number in ``CallerID``, not ``CallerIDNum``."""
    frame = one(
        "Event: Join\nPrivilege: call,all\nChannel: SIP/1000-08f3d2c8\nCallerID: 5550142\nCallerIDName: Ann\n"
        "Queue: sales\nPosition: 1\nCount: 1\nUniqueid: 1213452310.12"
    )
    (event,) = AmiMapper().feed(frame, T0)
    assert isinstance(event, CallQueued)
    assert (event.call_id, event.caller, event.caller_name) == ("1213452310.12", "5550142", "Ann")


def test_asterisk11_join_with_unknown_caller_name() -> None:
    """Asterisk 11's Event: Join maps like QueueCallerJoin; the '<unknown>' placeholder becomes ''."""
    frame = one(
        "Event: Join\nPrivilege: call,all\nChannel: SIP/1000-00000001\nCallerIDNum: 1000\n"
        "CallerIDName: <unknown>\nConnectedLineNum: <unknown>\nConnectedLineName: <unknown>\n"
        "Queue: sales\nPosition: 2\nCount: 2\nUniqueid: 1413823936.3729"
    )
    (event,) = AmiMapper().feed(frame, T0)
    assert isinstance(event, CallQueued)
    assert (event.call_id, event.queue, event.position, event.caller, event.caller_name) == (
        "1413823936.3729",
        "sales",
        2,
        "1000",
        "",
    )


@pytest.mark.parametrize(
    ("raw", "expected"), [("UNKNOWN", ""), ("unknown", ""), ("WIRELESS CALLER", "WIRELESS CALLER")]
)
def test_caller_name_placeholders(raw: str, expected: str) -> None:
    """'UNKNOWN'-style placeholders become '' while genuine CNAM text such as 'WIRELESS CALLER' is kept."""
    frame = rebuild(real("QueueCallerJoin", Uniqueid=UID), CallerIDName=raw)
    (event,) = AmiMapper().feed(frame, T0)
    assert isinstance(event, CallQueued)
    assert event.caller_name == expected


def test_abandon_is_told_by_the_hangup() -> None:
    """Quirk 1: QueueCallerAbandon -> Leave -> Hangup with no QUEUESTATUS is an abandon, decided at the Hangup."""
    mapper = AmiMapper()
    join = real("QueueCallerJoin", Uniqueid=UID)
    leave = real("QueueCallerLeave", Uniqueid=UID)
    hangup = real("Hangup", Uniqueid=UID)
    before_hangup = feed_all(mapper, [join, abandon_22(position=1, original=1, hold=37), leave])
    assert of(before_hangup, CallAbandoned) == []
    events = mapper.feed(hangup, T0 + 3 * SEC)
    assert events == [CallAbandoned(ts=T0 + SEC, source="ami", call_id=UID, queue="support", wait_s=37.0, position=1)]


def test_timeout_is_never_an_abandon() -> None:
    """Quirk 1: QueueCallerAbandon -> Leave -> VarSet QUEUESTATUS=TIMEOUT -> Hangup is CallExited('timeout')."""
    mapper = AmiMapper()
    frames = [
        real("QueueCallerJoin", Uniqueid=UID),
        abandon_22(position=1, original=1, hold=150),
        real("QueueCallerLeave", Uniqueid=UID),
        queuestatus_22("TIMEOUT"),
        real("Hangup", Uniqueid=UID),
    ]
    events = feed_all(mapper, frames)
    assert of(events, CallAbandoned) == []
    assert of(events, CallExited) == [
        CallExited(ts=T0 + SEC, source="ami", call_id=UID, queue="support", reason="timeout", wait_s=150.0, position=1)
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("FULL", "full"),
        ("JOINEMPTY", "empty"),
        ("LEAVEEMPTY", "empty"),
        ("JOINUNAVAIL", "empty"),
        ("LEAVEUNAVAIL", "empty"),
        ("WITHDRAW", "withdraw"),
        ("SOMETHINGNEW", "unknown"),
    ],
)
def test_queuestatus_values_map_to_exit_reasons(value: str, reason: str) -> None:
    """Each QUEUESTATUS value after a Leave maps to its exit reason; the wait is leave time minus join time."""
    mapper = AmiMapper()
    frames = [real("QueueCallerJoin", Uniqueid=UID), real("QueueCallerLeave", Uniqueid=UID), queuestatus_22(value)]
    events = feed_all(mapper, frames) + mapper.feed(real("Hangup", Uniqueid=UID), T0 + 9 * SEC)
    assert events[1:] == [
        CallExited(ts=T0 + SEC, source="ami", call_id=UID, queue="support", reason=reason, wait_s=1.0, position=1)
    ]


def test_queuestatus_continue_after_answer_is_ignored() -> None:
    """QUEUESTATUS=CONTINUE (an answered call continuing in the dialplan) emits nothing."""
    mapper = AmiMapper()
    feed_all(mapper, [real("QueueCallerLeave", Uniqueid=UID), real("AgentConnect", Uniqueid=UID)])
    assert mapper.feed(queuestatus_22("CONTINUE"), T0) == []
    assert mapper.ignored == 1


def test_queuestatus_for_a_call_never_queued_is_ignored() -> None:
    """A QUEUESTATUS (e.g. FULL at join time) for a Uniqueid never seen in a queue is not a call of the queue."""
    mapper = AmiMapper()
    assert mapper.feed(queuestatus_22("FULL"), T0) == []
    assert mapper.ignored == 1


def test_leave_without_outcome_then_hangup_is_unknown_exit() -> None:
    """A Leave with neither connect nor abandon, then a Hangup without QUEUESTATUS, is CallExited('unknown')."""
    mapper = AmiMapper()
    frames = [real("QueueCallerJoin", Uniqueid=UID), real("QueueCallerLeave", Uniqueid=UID)]
    events = feed_all(mapper, frames) + mapper.feed(real("Hangup", Uniqueid=UID), T0 + 30 * SEC)
    assert events[1:] == [
        CallExited(ts=T0 + SEC, source="ami", call_id=UID, queue="support", reason="unknown", wait_s=1.0, position=1)
    ]


def test_asterisk11_leave_and_abandon() -> None:
    """Asterisk 11 names (Join/Leave, QueueCallerAbandon with Position/OriginalPosition/HoldTime) give an abandon."""
    uid = "1413823936.3729"
    frames = parse(
        f"Event: Join\nChannel: SIP/1000-00000001\nCallerIDNum: 1000\nCallerIDName: Ann\nQueue: sales\n"
        f"Position: 1\nCount: 1\nUniqueid: {uid}\n\n"
        f"Event: QueueCallerAbandon\nQueue: sales\nUniqueid: {uid}\nPosition: 1\nOriginalPosition: 1\nHoldTime: 12\n\n"
        f"Event: Leave\nChannel: SIP/1000-00000001\nQueue: sales\nCount: 0\nPosition: 1\nUniqueid: {uid}\n\n"
        f"Event: Hangup\nChannel: SIP/1000-00000001\nUniqueid: {uid}\nCause: 16"
    )
    events = feed_all(AmiMapper(), frames)
    assert [type(e) for e in events] == [CallQueued, CallAbandoned]
    assert events[1] == CallAbandoned(ts=T0 + SEC, source="ami", call_id=uid, queue="sales", wait_s=12.0, position=1)


# -- answered calls -------------------------------------------------------------------------------------


def test_answered_call_real_sequence() -> None:
    """Quirk 12: Leave, then AgentConnect (RingTime in s) gives AgentRang + CallAnswered; AgentComplete ends it."""
    mapper = AmiMapper()
    frames = [
        real("QueueCallerJoin", Uniqueid=UID),
        real("QueueCallerLeave", Uniqueid=UID),
        real("AgentConnect", Uniqueid=UID),
        real("AgentComplete", Uniqueid=UID),
        real("Hangup", Uniqueid=UID),
    ]
    events = feed_all(mapper, frames)
    who = {"queue": "support", "agent": "Alice Nguyen", "interface": "Local/agent01@agents/n"}
    assert events[1:] == [
        AgentRang(
            ts=T0 + 2 * SEC, source="ami", call_id=UID, answered=True, ring_s=4.0, member_name="Alice Nguyen", **who
        ),
        CallAnswered(
            ts=T0 + 2 * SEC,
            source="ami",
            call_id=UID,
            wait_s=4.0,
            ring_s=4.0,
            agent_channel=AGENT_CHANNEL,
            member_name="Alice Nguyen",
            **who,
        ),
        CallEnded(
            ts=T0 + 3 * SEC,
            source="ami",
            call_id=UID,
            talk_s=35.0,
            wait_s=4.0,
            ended_by="caller",
            member_name="Alice Nguyen",
            **who,
        ),
    ]
    assert mapper.rejected == 0


def test_agent_connect_for_a_call_never_seen_joining() -> None:
    """A call that joined while we were away is still answered when its AgentConnect arrives."""
    events = AmiMapper().feed(real("AgentConnect", Uniqueid=UID), T0)
    assert [type(e) for e in events] == [AgentRang, CallAnswered]
    assert isinstance(events[1], CallAnswered) and events[1].call_id == UID


def test_agent_complete_without_channel_fields_matches_open_call() -> None:
    """Quirk 3: an AgentComplete with only Queue/Interface/MemberName/times/Reason closes the member's open call."""
    bare = rebuild(
        real("AgentComplete", Uniqueid=UID),
        keep=("Event", "Privilege", "Queue", "Interface", "MemberName", "HoldTime", "TalkTime", "Reason"),
    )
    assert "Uniqueid" not in bare
    mapper = AmiMapper()
    feed_all(mapper, [real("QueueCallerJoin", Uniqueid=UID), real("AgentConnect", Uniqueid=UID)])
    (ended,) = mapper.feed(bare, T0 + 5 * SEC)
    assert isinstance(ended, CallEnded)
    assert (ended.call_id, ended.agent, ended.talk_s, ended.ended_by) == (UID, "Alice Nguyen", 35.0, "caller")
    (unmatched,) = mapper.feed(bare, T0 + 6 * SEC)  # that call is closed now: the engine resolves this one
    assert isinstance(unmatched, CallEnded)
    assert unmatched.call_id is None


def test_agent_complete_reason_transfer_and_unknown() -> None:
    """AgentComplete Reason transfer is ended_by='transfer'; an unexpected reason is 'unknown'."""
    complete = real("AgentComplete", Uniqueid=UID)
    (transfer,) = AmiMapper().feed(rebuild(complete, Reason="transfer"), T0)
    (other,) = AmiMapper().feed(rebuild(complete, Reason="exploded"), T0)
    assert isinstance(transfer, CallEnded) and isinstance(other, CallEnded)
    assert (transfer.ended_by, other.ended_by) == ("transfer", "unknown")


def test_ring_no_answer_ring_time_is_milliseconds() -> None:
    """Quirk 4: AgentRingNoAnswer RingTime is in ms, so 12000 is a 12 s ring that was not answered."""
    called = real("AgentCalled", Uniqueid=UID)
    rna = rebuild(called, Event="AgentRingNoAnswer", RingTime="12000")
    (event,) = AmiMapper().feed(rna, T0)
    assert event == AgentRang(
        ts=T0,
        source="ami",
        call_id=UID,
        queue="support",
        agent="Alice Nguyen",
        answered=False,
        ring_s=12.0,
        interface="Local/agent01@agents/n",
        member_name="Alice Nguyen",
    )


def test_asterisk11_agent_connect_layout() -> None:
    """Asterisk 11's AgentConnect (Channel = agent channel, Member = interface) maps to CallAnswered."""
    frame = one(
        "Event: AgentConnect\nPrivilege: agent,all\nQueue: sales\nUniqueid: 1413823936.3729\n"
        "Channel: SIP/agent7-0000000a\nMember: SIP/agent7\nMemberName: Agent/407\nHoldTime: 9\n"
        "BridgedChannel: 1413823946.3731\nRingTime: 3"
    )
    rang, answered = AmiMapper().feed(frame, T0)
    assert isinstance(rang, AgentRang) and isinstance(answered, CallAnswered)
    assert (answered.agent, answered.interface, answered.agent_channel, answered.wait_s, answered.ring_s) == (
        "Agent/407",
        "SIP/agent7",
        "SIP/agent7-0000000a",
        9.0,
        3.0,
    )


# -- hold and transfer ----------------------------------------------------------------------------------


def _answered_mapper() -> AmiMapper:
    mapper = AmiMapper()
    feed_all(mapper, [real("QueueCallerJoin", Uniqueid=UID), real("AgentConnect", Uniqueid=UID)])
    return mapper


def test_hold_and_unhold_of_the_agent_channel() -> None:
    """Hold/Unhold (12+) on the agent's side (the ;2 half of its Local channel) are CallHold on that call."""
    mapper = _answered_mapper()
    phone = "Local/agent01@agents-00000001;2"
    snapshot = f"Privilege: call,all\nChannel: {phone}\nChannelState: 6\nUniqueid: 1795350761.3\nLinkedid: 1795350761.0"
    (held,) = mapper.feed(one(f"Event: Hold\n{snapshot}\nMusicClass: default"), T0)
    (unheld,) = mapper.feed(one(f"Event: Unhold\n{snapshot}"), T0 + SEC)
    assert held == CallHold(ts=T0, source="ami", call_id=UID, agent="Alice Nguyen", pbx_channel=phone, held=True)
    assert isinstance(unheld, CallHold)
    assert (unheld.call_id, unheld.held) == (UID, False)


def test_asterisk11_hold_status_off_and_unknown_channel() -> None:
    """Asterisk 11's Event: Hold with Status: Off is an unhold; a channel of no known call gives call_id None."""
    mapper = _answered_mapper()
    (off,) = mapper.feed(one(f"Event: Hold\nStatus: Off\nChannel: {CALLER_CHANNEL}\nUniqueid: {UID}"), T0)
    (stranger,) = mapper.feed(one("Event: Hold\nStatus: On\nChannel: SIP/9-1\nUniqueid: 9.9"), T0)
    assert isinstance(off, CallHold) and isinstance(stranger, CallHold)
    assert (off.call_id, off.held, stranger.call_id, stranger.held) == (UID, False, None, True)


def test_blind_transfer_of_an_answered_call() -> None:
    """A successful BlindTransfer whose transferer is the agent's channel is CallTransferred to exten@context."""
    mapper = _answered_mapper()
    frame = one(
        "Event: BlindTransfer\nPrivilege: call,all\nResult: Success\n"
        "TransfererChannel: Local/agent01@agents-00000001;2\nTransfererUniqueid: 1795350761.3\n"
        f"TransfereeChannel: {CALLER_CHANNEL}\nTransfereeUniqueid: {UID}\n"
        "IsExternal: No\nContext: agents\nExtension: agent05"
    )
    (event,) = mapper.feed(frame, T0)
    assert event == CallTransferred(
        ts=T0, source="ami", call_id=UID, queue="support", agent="Alice Nguyen", target="agent05@agents"
    )


def test_asterisk11_sip_transfer_of_an_answered_call() -> None:
    """Asterisk 11's chan_sip Transfer from the agent channel of an answered call is CallTransferred."""
    mapper = AmiMapper()
    connect = one(
        "Event: AgentConnect\nQueue: sales\nUniqueid: 5.1\nChannel: SIP/agent7-0000000a\nMember: SIP/agent7\n"
        "MemberName: Agent/407\nHoldTime: 9\nBridgedChannel: 5.2\nRingTime: 3"
    )
    transfer = one(
        "Event: Transfer\nTransferMethod: SIP\nTransferType: Blind\nChannel: SIP/agent7-0000000a\nUniqueid: 5.2\n"
        "TargetChannel: SIP/caller-00000009\nTargetUniqueid: 5.1\nTransferExten: 2001\nTransferContext: default"
    )
    feed_all(mapper, [connect])
    assert mapper.feed(transfer, T0) == [
        CallTransferred(ts=T0, source="ami", call_id="5.1", queue="sales", agent="Agent/407", target="2001@default")
    ]


def test_failed_or_unrelated_transfer_is_ignored() -> None:
    """A transfer that failed, or that touches no answered queue call, emits nothing."""
    mapper = _answered_mapper()
    failed = one(f"Event: AttendedTransfer\nResult: Fail\nOrigTransfererChannel: {AGENT_CHANNEL}")
    unrelated = one("Event: AttendedTransfer\nResult: Success\nOrigTransfererChannel: SIP/7-1\nTransfereeUniqueid: 7.7")
    assert mapper.feed(failed, T0) == [] and mapper.feed(unrelated, T0) == []
    assert mapper.ignored == 2


# -- members --------------------------------------------------------------------------------------------


def test_member_added_and_removed() -> None:
    """QueueMemberAdded/Removed (MemberName/Interface, raw UTF-8 names) are AgentLogin/AgentLogout."""
    mapper = AmiMapper()
    (login,) = mapper.feed(real("QueueMemberAdded", MemberName="José Álvarez", Queue="billing"), T0)
    (logout,) = mapper.feed(real("QueueMemberRemoved"), T0)
    assert login == AgentLogin(
        ts=T0,
        source="ami",
        agent="José Álvarez",
        queue="billing",
        interface="Local/agent08@agents/n",
        member_name="José Álvarez",
        wrapup_s=None,
        paused=False,
        reason="",
    )
    assert logout == AgentLogout(
        ts=T0,
        source="ami",
        agent="Chen Wei",
        queue="support",
        interface="Local/agent03@agents/n",
        member_name="Chen Wei",
    )


def test_member_pause_and_unpause_asterisk22() -> None:
    """QueueMemberPause with Paused: 1 is AgentPaused(reason=PausedReason); Paused: 0 is AgentUnpaused."""
    mapper = AmiMapper()
    (paused,) = mapper.feed(real("QueueMemberPause", MemberName="Bob Martinez", Paused="1", Queue="sales"), T0)
    (unpaused,) = mapper.feed(real("QueueMemberPause", MemberName="Bob Martinez", Paused="0", Queue="support"), T0)
    assert paused == AgentPaused(
        ts=T0,
        source="ami",
        agent="Bob Martinez",
        queue="sales",
        reason="Break",
        interface="Local/agent02@agents/n",
        member_name="Bob Martinez",
    )
    assert isinstance(unpaused, AgentUnpaused)
    assert (unpaused.agent, unpaused.queue) == ("Bob Martinez", "support")


def test_member_status_real_frame() -> None:
    """QueueMemberStatus maps Status 2 to in_use, with InCall, Paused and Wrapuptime (0 = queue default -> None)."""
    frame = real("QueueMemberStatus", MemberName="Grace Kim", Queue="billing")
    (event,) = AmiMapper().feed(frame, T0)
    assert event == AgentDevice(
        ts=T0,
        source="ami",
        agent="Grace Kim",
        queue="billing",
        device_state="in_use",
        in_call=False,
        paused=False,
        reason="",
        wrapup_s=None,
        interface="Local/agent07@agents/n",
        member_name="Grace Kim",
    )


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("0", "unknown"),
        ("1", "idle"),
        ("2", "in_use"),
        ("3", "busy"),
        ("4", "invalid"),
        ("5", "unavailable"),
        ("6", "ringing"),
        ("7", "ring_in_use"),
        ("8", "on_hold"),
        ("42", "unknown"),
    ],
)
def test_member_status_numeric_device_states(status: str, state: str) -> None:
    """Quirk 5: the numeric member Status is Asterisk's device state enum; unknown codes are 'unknown'."""
    frame = rebuild(real("QueueMemberStatus", MemberName="Grace Kim"), Status=status, Wrapuptime="5")
    (event,) = AmiMapper().feed(frame, T0)
    assert isinstance(event, AgentDevice)
    assert (event.device_state, event.wrapup_s) == (state, 5.0)


def _public_frames(name: str) -> list[Frame]:
    parser = AmiParser()
    parser.receive_data((PUBLIC / name).read_bytes())
    parser.receive_eof()
    return list(parser.frames_received())


def test_asterisk11_member_events_use_location() -> None:
    """Quirk 5: Asterisk 11 QueueMemberPaused/Added/Status say Location; it fills interface."""
    mapper = AmiMapper()
    events: list[Event] = []
    for name in ("panoramisk_agent_not_in_pause.ami", "panoramisk_agent_loggued_in.ami"):
        events += feed_all(mapper, _public_frames(name))
    (unpaused,) = of(events, AgentUnpaused)
    assert isinstance(unpaused, AgentUnpaused)
    assert (unpaused.agent, unpaused.interface, unpaused.queue) == (
        "Agent/999",
        "Local/id-12@agentcallback",
        "maisonvoyance-tous",
    )
    (login,) = of(events, AgentLogin)
    assert isinstance(login, AgentLogin)
    assert (login.agent, login.interface) == ("Agent/402", "Local/id-3@agentcallback")
    devices = of(events, AgentDevice)
    assert len(devices) == 8  # 8 Event: QueueMemberStatus in the two captures
    assert all(isinstance(d, AgentDevice) and d.interface and d.interface.startswith("Local/id-") for d in devices)


# -- lists ----------------------------------------------------------------------------------------------


def _list_frames(action_id: str) -> list[Frame]:
    return [f for f in transcript_frames() if f.action_id == action_id]


def test_queue_status_list_becomes_one_snapshot() -> None:
    """A real QueueStatus list (response, QueueParams, QueueMember, Complete) gives one Snapshot when complete."""
    frames = _list_frames("mon-00006")
    raw = transcript().decode()
    member_count = len(re.findall(r"Event: QueueMember\r\n(?:[^\r\n]+\r\n)*?ActionID: mon-00006\r\n", raw))
    mapper = AmiMapper()
    events = feed_all(mapper, frames)
    (snapshot,) = events
    assert isinstance(snapshot, Snapshot)
    assert {(q.name, q.sl_threshold_s, q.strategy) for q in snapshot.queues} == {
        ("billing", 30.0, "leastrecent"),
        ("support", 20.0, "rrmemory"),
        ("sales", 30.0, "ringall"),
    }
    assert len(snapshot.members) == member_count == 14
    alice = next(m for m in snapshot.members if m.queue == "billing" and m.agent == "Alice Nguyen")
    assert (alice.interface, alice.member_name, alice.device_state, alice.paused) == (
        "Local/agent01@agents/n",
        "Alice Nguyen",
        "idle",
        False,
    )
    assert snapshot.ts == T0 + (len(frames) - 1) * SEC


def test_queue_entries_in_a_snapshot() -> None:
    """QueueEntry items become EntryInfo: Uniqueid (else Channel) as call_id, Position, Wait, caller id."""
    frames = parse(
        "Response: Success\nActionID: q1\nEventList: start\nMessage: Queue status will follow\n\n"
        "Event: QueueParams\nQueue: support\nStrategy: rrmemory\nServiceLevel: 0\nActionID: q1\n\n"
        "Event: QueueEntry\nQueue: support\nPosition: 1\nChannel: PJSIP/a-1\nUniqueid: 11.1\n"
        "CallerIDNum: 555\nCallerIDName: <unknown>\nWait: 42\nPriority: 0\nActionID: q1\n\n"
        "Event: QueueEntry\nQueue: support\nPosition: 2\nChannel: PJSIP/b-2\nCallerIDNum: 556\n"
        "CallerIDName: Bo\nWait: 7\nActionID: q1\n\n"
        "Event: QueueStatusComplete\nActionID: q1\nEventList: Complete\nListItems: 3"
    )
    (snapshot,) = feed_all(AmiMapper(), frames)
    assert isinstance(snapshot, Snapshot)
    assert snapshot.queues[0].sl_threshold_s is None  # ServiceLevel 0 means unset
    assert [(e.call_id, e.position, e.wait_s, e.caller, e.caller_name) for e in snapshot.entries] == [
        ("11.1", 1, 42.0, "555", ""),
        ("PJSIP/b-2", 2, 7.0, "556", "Bo"),
    ]


def test_queue_summary_list_and_items_outside_lists_are_ignored() -> None:
    """A QueueSummary list (EWMA figures, quirk 13) and QueueMember frames without a list emit nothing."""
    mapper = AmiMapper()
    summary = _list_frames("mon-00003")
    assert {f.name for f in summary} == {"Success", "QueueSummary", "QueueSummaryComplete"}
    stray = rebuild(real("QueueMember"), keep=[k for k, _ in real("QueueMember").fields if k != "ActionID"])
    assert feed_all(mapper, [*summary, stray]) == []
    assert mapper.ignored == len(summary) + 1


def test_asterisk11_queue_status_snapshot() -> None:
    """Asterisk 11's QueueStatus (no EventList headers, Name/Location members, ServiceLevel 0) is one Snapshot."""
    text = (PUBLIC / "panoramisk_queue_status.ami").read_text()
    mapper = AmiMapper()
    (snapshot,) = feed_all(mapper, _public_frames("panoramisk_queue_status.ami"))
    assert isinstance(snapshot, Snapshot)
    assert [(q.name, q.sl_threshold_s, q.strategy) for q in snapshot.queues] == [
        ("xxxxxxxxxxxxxxxx-tous", None, "ringall")
    ]
    assert len(snapshot.members) == text.count("Event: QueueMember\n")
    agent999 = next(m for m in snapshot.members if m.agent == "Agent/999")
    assert (agent999.interface, agent999.device_state, agent999.paused) == (
        "Local/id-12@agentcallback",
        "unavailable",
        True,
    )


# -- reconnects and end of input --------------------------------------------------------------------------


def test_first_banner_emits_nothing_and_second_is_a_reconnect() -> None:
    """The first banner is silent; a later one closes pending outcomes as unknown (never abandoned) and resets."""
    banner = transcript_frames()[0]
    assert banner.kind == "banner"
    mapper = AmiMapper()
    assert mapper.feed(banner, T0) == []
    frames = [real("QueueCallerJoin", Uniqueid=UID), abandon_22(1, 1, 20), real("QueueCallerLeave", Uniqueid=UID)]
    feed_all(mapper, frames, start=T0 + SEC)
    events = mapper.feed(banner, T0 + 10 * SEC)
    assert events == [
        CallExited(
            ts=T0 + 2 * SEC, source="ami", call_id=UID, queue="support", reason="unknown", wait_s=20.0, position=1
        ),
        SourceReset(ts=T0 + 10 * SEC, source="ami", reason="reconnect"),
    ]
    assert mapper.reconnects == 1
    assert mapper.feed(real("Hangup", Uniqueid=UID), T0 + 11 * SEC) == []  # tracking was cleared


def test_connection_lost_then_banner_resets_once() -> None:
    """connection_lost() acts like a new banner; the banner of the next connection then emits nothing more."""
    mapper = AmiMapper()
    banner = transcript_frames()[0]
    feed_all(mapper, [banner, real("QueueCallerJoin", Uniqueid=UID), real("QueueCallerLeave", Uniqueid=UID)])
    lost = mapper.connection_lost(T0 + 5 * SEC)
    assert [type(e) for e in lost] == [CallExited, SourceReset]
    assert mapper.connection_lost(T0 + 6 * SEC) == []
    assert mapper.feed(banner, T0 + 7 * SEC) == []
    assert mapper.reconnects == 1


def test_reconnect_drops_partial_lists() -> None:
    """A QueueStatus list cut by a reconnect never becomes a snapshot, even if its tail arrives later."""
    frames = _list_frames("mon-00006")
    mapper = AmiMapper()
    feed_all(mapper, frames[:3])
    mapper.connection_lost(T0)
    assert feed_all(mapper, frames[3:]) == []


def test_finish_closes_pending_outcomes_only() -> None:
    """finish(): a call whose outcome was pending is CallExited('unknown'); a call still waiting stays open."""
    other = rebuild(real("QueueCallerJoin", Uniqueid=UID), Uniqueid="2.2")
    mapper = AmiMapper()
    feed_all(mapper, [real("QueueCallerJoin", Uniqueid=UID), real("QueueCallerLeave", Uniqueid=UID), other])
    events = mapper.finish(T0 + 9 * SEC)
    assert [(type(e), e.call_id) for e in events if isinstance(e, CallExited)] == [(CallExited, UID)]
    assert len(events) == 1
    assert mapper.finish(T0 + 10 * SEC) == []


# -- ignored and rejected frames ---------------------------------------------------------------------------


def test_session_frames_are_ignored() -> None:
    """Login/Goodbye, Pong, FullyBooted, SuccessfulAuth, OriginateResponse, Newexten, command output: ignored."""
    frames = [
        *_list_frames("mon-00001"),
        real("FullyBooted"),
        real("SuccessfulAuth"),
        real("Newexten"),
        *_list_frames("mon-00021"),
        *_list_frames("mon-00022"),
        one("Response: Success\nActionID: p1\nPing: Pong\nTimestamp: 1409169929.412068"),
        one("Event: OriginateResponse\nResponse: Success\nChannel: Local/x@y\nUniqueid: 1.5"),
        one("Action: Ping\nActionID: p2"),
    ]
    mapper = AmiMapper()
    assert feed_all(mapper, frames) == []
    assert (mapper.ignored, mapper.rejected) == (len(frames), 0)


@pytest.mark.parametrize(
    "frame",
    [
        rebuild(real("QueueCallerJoin", Uniqueid=UID), keep=("Event", "Channel", "Uniqueid", "Position")),
        rebuild(real("QueueCallerJoin", Uniqueid=UID), Uniqueid=""),
    ],
    ids=["join-no-queue", "join-empty-uniqueid"],
)
def test_unusable_frames_are_rejected_and_logged(frame: Frame, caplog: pytest.LogCaptureFixture) -> None:
    """A frame missing what names its call or meaning is logged (name, offset), counted, and skipped."""
    mapper = AmiMapper()
    with caplog.at_level(logging.WARNING, logger="collectors.ami.mapping"):
        assert mapper.feed(frame, T0) == []
    assert mapper.rejected == 1
    assert f"{frame.name} frame at offset {frame.offset}" in caplog.text


@pytest.mark.parametrize(
    ("frame", "kind", "figure", "reason"),
    [
        (rebuild(real("AgentConnect", Uniqueid=UID), HoldTime="soon"), CallAnswered, "wait_s", "HoldTime"),
        (rebuild(real("AgentConnect", Uniqueid=UID), HoldTime="1e30"), CallAnswered, "wait_s", "HoldTime"),
        (rebuild(real("AgentConnect", Uniqueid=UID), HoldTime="-inf"), CallAnswered, "wait_s", "HoldTime"),
        (rebuild(real("AgentComplete", Uniqueid=UID), TalkTime="-3"), CallEnded, "talk_s", "TalkTime"),
        (rebuild(real("AgentComplete", Uniqueid=UID), TalkTime="9" * 5000), CallEnded, "talk_s", "TalkTime"),
        (rebuild(real("AgentComplete", Uniqueid=UID), TalkTime="NaN"), CallEnded, "talk_s", "TalkTime"),
        (
            rebuild(
                real("AgentComplete", Uniqueid=UID), keep=("Event", "Queue", "Uniqueid", "Interface", "MemberName")
            ),
            CallEnded,
            "talk_s",
            "TalkTime",
        ),
    ],
    ids=[
        "holdtime-text",
        "holdtime-1e30",
        "holdtime-minus-inf",
        "talktime-negative",
        "talktime-5000-digits",
        "talktime-nan",
        "talktime-missing",
    ],
)
def test_a_garbled_or_missing_figure_degrades_the_frame_not_the_call(
    frame: Frame, kind: type[Event], figure: str, reason: str
) -> None:
    """A HoldTime or TalkTime that is absent, text, negative, NaN or absurd costs that figure (None, counted as
    degraded by reason), never the call: the answer or end is still emitted."""
    mapper = AmiMapper()
    events = [event for event in mapper.feed(frame, T0) if isinstance(event, kind)]
    assert len(events) == 1 and getattr(events[0], figure) is None
    assert (mapper.rejected, mapper.degraded, mapper.degraded_by_reason) == (0, 1, {reason: 1})


@pytest.mark.parametrize(
    "frame",
    [
        rebuild(real("AgentConnect", Uniqueid=UID), RingTime="1e308"),
        rebuild(real("QueueCallerJoin", Uniqueid=UID), Position="first"),
        rebuild(real("QueueCallerJoin", Uniqueid=UID), Position="9" * 5000),
        rebuild(real("QueueMemberStatus"), Status="busy"),
    ],
    ids=["ringtime-1e308", "position-text", "position-5000-digits", "status-text"],
)
def test_a_garbled_ring_time_position_or_status_is_unknown(frame: Frame) -> None:
    """A garbled RingTime or Position is unknown (None); the frame still maps, nothing is rejected or raised."""
    mapper = AmiMapper()
    events = mapper.feed(frame, T0)
    assert events and mapper.rejected == 0
    assert all(
        getattr(event, "ring_s", None) is None and getattr(event, "position", 1) in (1, None) for event in events
    )


def test_call_map_is_bounded() -> None:
    """Beyond max_calls tracked calls the oldest is dropped and counted, so lost Hangups cannot leak memory."""
    join = real("QueueCallerJoin", Uniqueid=UID)
    mapper = AmiMapper(max_calls=3)
    feed_all(mapper, [rebuild(join, Uniqueid=f"1.{i}") for i in range(5)])
    assert mapper.evicted == 2
    assert mapper.feed(rebuild(real("Hangup", Uniqueid=UID), Uniqueid="1.0"), T0) == []  # forgotten
    assert mapper.feed(rebuild(real("QueueCallerLeave", Uniqueid=UID), Uniqueid="1.4"), T0) == []
    assert [e.call_id for e in mapper.finish(T0) if isinstance(e, CallExited)] == ["1.4"]


# -- drop predicate ----------------------------------------------------------------------------------------


def _raw(frame: Frame) -> bytes:
    return transcript()[frame.offset : frame.offset + frame.size]


@pytest.mark.parametrize(
    ("name", "match", "dropped"),
    [
        ("VarSet", {"Variable": "QUEUEPOSITION"}, True),
        ("Newexten", {}, True),
        ("DeviceStateChange", {}, True),
        ("DialBegin", {}, True),
        ("BridgeEnter", {}, True),
        ("LocalBridge", {}, True),
        ("SoftHangupRequest", {}, True),
        ("Hangup", {}, False),
        ("QueueCallerJoin", {}, False),
        ("QueueCallerLeave", {}, False),
        ("AgentConnect", {}, False),
        ("AgentComplete", {}, False),
        ("QueueMemberPause", {}, False),
        ("QueueMemberStatus", {}, False),
        ("QueueParams", {}, False),
        ("QueueStatusComplete", {}, False),
        ("FullyBooted", {}, False),
    ],
)
def test_drop_predicate_on_real_frames(name: str, match: dict[str, str], dropped: bool) -> None:
    """The predicate drops the chatter the mapper never needs and keeps every frame it maps."""
    assert make_drop_predicate()(_raw(real(name, **match))) is dropped


def test_drop_predicate_keeps_queuestatus_varset() -> None:
    """A VarSet setting QUEUESTATUS survives the predicate (with CRLF or LF line ends)."""
    raw = _raw(real("VarSet", Uniqueid=UID, Variable="QUEUEPOSITION"))
    crlf = raw.replace(b"Variable: QUEUEPOSITION", b"Variable: QUEUESTATUS").replace(b"Value: 1", b"Value: TIMEOUT")
    predicate = make_drop_predicate()
    assert predicate(crlf) is False
    assert predicate(crlf.replace(b"\r\n", b"\n")) is False


def test_drop_predicate_parity_on_light_transcript() -> None:
    """The events are identical with and without the drop predicate, which removes most frames."""
    plain_mapper, plain = replay(drop=False)
    dropped_mapper, dropped = replay(drop=True)
    assert dropped == plain
    assert (plain_mapper.rejected, dropped_mapper.rejected) == (0, 0)


# -- whole captures ----------------------------------------------------------------------------------------


def test_light_transcript_totals() -> None:
    """The light run gives the ground truth's calls, waits and talk times per queue and a snapshot per QueueStatus."""
    mapper, events = replay(drop=True)
    truth = json.loads((LIGHT / "ground_truth.json").read_text())["calls"]
    by_kind = Counter(type(e).__name__ for e in events)
    assert (by_kind["CallQueued"], by_kind["CallAnswered"], by_kind["CallEnded"]) == (17, 17, 17)
    assert (by_kind["CallAbandoned"], by_kind["CallExited"], by_kind["SourceReset"]) == (0, 0, 0)
    assert by_kind["Snapshot"] == transcript().count(b"Event: QueueStatusComplete\r\n") == 7
    assert by_kind["AgentDevice"] == transcript().count(b"Event: QueueMemberStatus\r\n")
    answered = [e for e in events if isinstance(e, CallAnswered)]
    ended = [e for e in events if isinstance(e, CallEnded)]
    for queue, count, wait, talk in (("support", 8, 31, 365), ("sales", 7, 26, 349), ("billing", 2, 3, 106)):
        calls = [c for c in truth if c["queue"] == queue]
        assert len(calls) == count
        assert sum(float(c["connect_holdtime"]) for c in calls) == wait  # PROVENANCE.md: ASA x answered
        assert sum(float(c["agent_complete_talktime"]) for c in calls) == talk  # PROVENANCE.md: avg talk x answered
        assert sum(1 for e in answered if e.queue == queue) == count
        assert sum(e.wait_s for e in answered if e.queue == queue) == wait
        assert sum(e.talk_s for e in ended if e.queue == queue) == talk
    assert {e.call_id for e in answered} == {e.call_id for e in ended} == {c["queue_leg_uniqueid"] for c in truth}
    assert Counter(e.ended_by for e in ended) == Counter(c["agent_complete_reason"] for c in truth)
    assert (mapper.rejected, mapper.reconnects) == (0, 0)


@pytest.mark.parametrize("name", sorted(p.name for p in PUBLIC.glob("panoramisk_*.ami")))
def test_asterisk11_captures_map_without_errors(name: str) -> None:
    """Every public Asterisk 11 capture maps with no rejected frame and only valid events."""
    mapper = AmiMapper()
    events = feed_all(mapper, _public_frames(name)) + mapper.finish(T0)
    assert mapper.rejected == 0
    assert all(parse_event(event_to_json(e)) == e for e in events)


# -- property ----------------------------------------------------------------------------------------------

_NAMES = (
    "QueueCallerJoin",
    "Join",
    "QueueCallerAbandon",
    "QueueCallerLeave",
    "Leave",
    "VarSet",
    "Hangup",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "QueueMemberPaused",
    "QueueMemberStatus",
    "Hold",
    "Unhold",
    "BlindTransfer",
    "AttendedTransfer",
    "QueueParams",
    "QueueMember",
    "QueueEntry",
    "QueueStatusComplete",
    "QueueSummary",
    "Newexten",
)
_KEYS = (
    "Uniqueid",
    "Queue",
    "Channel",
    "DestChannel",
    "Position",
    "HoldTime",
    "RingTime",
    "TalkTime",
    "Reason",
    "Interface",
    "MemberName",
    "Location",
    "Name",
    "Status",
    "Paused",
    "Variable",
    "Value",
    "ActionID",
    "Result",
    "TransfereeUniqueid",
    "Wait",
    "ServiceLevel",
    "Timestamp",
    "CallerIDName",
)
_VALUES = ("1.1", "1.2", "q", "", "Local/a@b;1", "0", "1", "7", "-1", "x", "nan", "1e400", "QUEUESTATUS", "TIMEOUT")
_FRAME: st.SearchStrategy[tuple[str, str, list[tuple[str, str]]]] = st.one_of(
    st.tuples(
        st.just("event"),
        st.sampled_from(_NAMES),
        st.lists(st.tuples(st.sampled_from(_KEYS), st.sampled_from(_VALUES)), max_size=10),
    ),
    st.tuples(
        st.just("response"),
        st.sampled_from(("Success", "Error")),
        st.lists(
            st.sampled_from([("ActionID", "1"), ("EventList", "start"), ("Message", "Queue status will follow")]),
            max_size=3,
        ),
    ),
    st.tuples(st.just("banner"), st.just("Asterisk Call Manager/11.0.0"), st.just([])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_FRAME, max_size=40), st.booleans())
def test_any_frame_sequence_never_raises_and_yields_valid_events(
    specs: list[tuple[str, str, list[tuple[str, str]]]], lose: bool
) -> None:
    """Frames built from a small alphabet of names and fields never make feed() raise or yield an invalid event."""
    mapper = AmiMapper(max_calls=4)
    events: list[Event] = []
    for i, (kind, name, fields) in enumerate(specs):
        head = {"event": "Event", "response": "Response"}.get(kind)
        frame = Frame(cast(FrameKind, kind), name, (((head, name),) if head else ()) + tuple(fields), offset=i * 100)
        events += mapper.feed(frame, T0 + i * SEC)
    if lose:
        events += mapper.connection_lost(T0 + 100 * SEC)
    events += mapper.finish(T0 + 101 * SEC)
    assert all(parse_event(event_to_json(e)) == e for e in events)
    abandons = sum(1 for kind, name, _ in specs if name == "QueueCallerAbandon")
    assert len(of(events, CallAbandoned)) <= abandons
    assert mapper.ignored + mapper.rejected <= len(specs)
