"""Simulation events as Asterisk 22 AMI bytes: layouts, per-call order (quirks 1, 3, 4, 5, 12) and noise."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from collectors.ami.mapping import AmiMapper
from collectors.ami.protocol import AmiParser, Frame
from collectors.simulator.ami_format import AmiFormatter, CallerStyle
from collectors.simulator.ami_frames import event_frame, list_complete, response
from collectors.simulator.config import CallbackPolicy, SimConfig, build_config, site_config
from collectors.simulator.model import Simulation
from collectors.simulator.views import SimEvent
from wallboard.core.engine import State

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
QUEUE_EVENTS = {"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect", "AgentComplete"}

# Field order of QueueMemberAdded/Pause/Status/Removed in the real Asterisk 22 transcript
# (tests/fixtures/asterisk22-light/ami_transcript.txt), after Event and Privilege.
REAL_MEMBER_FIELDS = [
    "Queue", "MemberName", "Interface", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall",
    "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Ringinuse", "Wrapuptime",
]  # fmt: skip
# QueueMember of a QueueStatus answer in the same transcript (Name/Location, no Ringinuse).
REAL_STATUS_MEMBER_FIELDS = [
    "Event", "Queue", "Name", "Location", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall",
    "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Wrapuptime", "ActionID",
]  # fmt: skip
CHANNEL_FIELDS = [
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
    "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid",
]  # fmt: skip


def _busy_config() -> SimConfig:
    """Few agents, heavy load, short timeouts: answers, abandons and timeouts within an hour."""
    config = build_config(6, 2, seed=11, load_factor=3.0)
    queues = tuple(q.model_copy(update={"timeout_s": 90.0, "autopause": True}) for q in config.queues)
    agents = tuple(a.model_copy(update={"no_answer_probability": 0.3}) for a in config.agents)
    return config.model_copy(update={"queues": queues, "agents": agents})


@cache
def _formatted(style: CallerStyle, bare: float = 0.03) -> tuple[tuple[SimEvent, ...], tuple[Frame, ...]]:
    config = _busy_config()
    sim = Simulation(config, start=START)
    formatter = AmiFormatter(config, seed=1, caller_style=style, bare_complete_probability=bare)
    events = sim.advance(START + timedelta(hours=1))
    parser = AmiParser(expect_banner=False)
    for event in events:
        for frame in formatter.events(event):
            parser.receive_data(frame.data)
    assert list(parser.errors()) == []
    return tuple(events), tuple(parser.frames_received())


def _keys(frame: Frame) -> list[str]:
    return [key for key, _ in frame.fields]


@pytest.mark.parametrize("style", ["pjsip", "local"])
def test_every_frame_parses_and_about_half_are_varset(style: CallerStyle) -> None:
    """The output parses without errors and, as on a real PBX, roughly half of the frames are VarSet."""
    _, frames = _formatted(style)
    names = Counter(frame.name for frame in frames)
    assert all(frame.kind == "event" for frame in frames)
    assert 0.4 <= names["VarSet"] / len(frames) <= 0.65
    assert all(_keys(frame)[:2] == ["Event", "Privilege"] for frame in frames)


@pytest.mark.parametrize("style", ["pjsip", "local"])
def test_per_call_order_matches_asterisk_22(style: CallerStyle) -> None:
    """Answered: Join, Leave, AgentConnect..AgentComplete; abandon: Abandon, Leave, Hangup; timeout adds QUEUESTATUS."""
    events, frames = _formatted(style)
    story: dict[str, list[str]] = defaultdict(list)
    for frame in frames:
        uid = frame.get("Uniqueid")
        if uid is None:
            continue
        if frame.name in QUEUE_EVENTS or frame.name == "Hangup":
            story[uid].append(frame.name)
        elif frame.name == "VarSet" and frame.get("Variable") == "QUEUESTATUS":
            story[uid].append(f"QUEUESTATUS={frame['Value']}")
    joined = [uid for uid, names in story.items() if names[:1] == ["QueueCallerJoin"]]
    shapes: Counter[str] = Counter()
    for uid in joined:
        names = story[uid]
        if "QueueCallerAbandon" in names:
            timeout = "QUEUESTATUS=TIMEOUT" in names
            expected = ["QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave"]
            expected += ["QUEUESTATUS=TIMEOUT", "Hangup"] if timeout else ["Hangup"]
            assert names == expected
            shapes["timeout" if timeout else "abandon"] += 1
        elif "AgentConnect" in names:
            assert names[:3] == ["QueueCallerJoin", "QueueCallerLeave", "AgentConnect"]
            assert names[3:] in ([], ["Hangup"], ["AgentComplete", "Hangup"])
            shapes["answered"] += 1
    kinds = Counter(event.kind for event in events)
    assert shapes["timeout"] == kinds["caller_timeout"] > 0
    assert shapes["abandon"] == kinds["caller_abandon"] > 0
    assert shapes["answered"] == kinds["agent_connect"] > 0


def test_leave_and_connect_are_adjacent_queue_events() -> None:
    """Quirk 12: the Leave of an answered caller comes right before its AgentConnect (only VarSets between)."""
    _, frames = _formatted("pjsip")
    for index, frame in enumerate(frames):
        if frame.name == "AgentConnect":
            before = [f for f in frames[max(index - 6, 0) : index] if f.name != "VarSet"]
            assert before[-1].name == "QueueCallerLeave"
            assert before[-1]["Uniqueid"] == frame["Uniqueid"]


def test_agent_events_carry_both_channels_and_ring_time_units() -> None:
    """AgentConnect has RingTime in s, AgentRingNoAnswer in ms (quirk 4); both carry the Dest channel block."""
    events, frames = _formatted("pjsip")
    timeout_ms = {str(round(q.ring_timeout_s * 1000)) for q in _busy_config().queues}
    connects = [f for f in frames if f.name == "AgentConnect"]
    rna = [f for f in frames if f.name == "AgentRingNoAnswer"]
    assert connects and rna
    for frame in connects:
        keys = _keys(frame)
        assert keys[2:16] == CHANNEL_FIELDS and keys[16:30] == [f"Dest{key}" for key in CHANNEL_FIELDS]
        assert keys[30:] == ["Queue", "Interface", "MemberName", "HoldTime", "RingTime"]
        assert 1 <= int(frame["RingTime"]) <= 6
    assert {frame["RingTime"] for frame in rna} <= timeout_ms
    assert all(_keys(frame)[-1] == "RingTime" for frame in rna)


def test_hold_time_and_talk_time_are_whole_seconds_of_the_call() -> None:
    """AgentComplete HoldTime/TalkTime are app_queue's whole-second differences of the join, connect and end."""
    events, frames = _formatted("pjsip")
    completes = [e for e in events if e.kind == "agent_complete"]
    wire = [f for f in frames if f.name == "AgentComplete"]
    assert len(wire) == len(completes) > 0
    for event, frame in zip(completes, wire, strict=True):
        assert event.caller is not None and event.connected_at is not None
        joined, connected, ended = (
            int(ts.timestamp()) for ts in (event.caller.joined_at, event.connected_at, event.ts)
        )
        assert frame["HoldTime"] == str(connected - joined)
        assert frame["TalkTime"] == str(ended - connected)
        assert frame["Reason"] == event.reason


def test_some_agent_completes_have_no_channel_fields() -> None:
    """Quirk 3: an AgentComplete may carry only Queue, Interface, MemberName, HoldTime, TalkTime, Reason."""
    _, frames = _formatted("pjsip", bare=1.0)
    completes = [f for f in frames if f.name == "AgentComplete"]
    assert completes
    for frame in completes:
        assert _keys(frame) == [
            "Event",
            "Privilege",
            "Queue",
            "Interface",
            "MemberName",
            "HoldTime",
            "TalkTime",
            "Reason",
        ]


def test_member_events_use_the_real_field_layout() -> None:
    """QueueMember* events use MemberName/Interface in the order Asterisk 22 writes them (quirk 5)."""
    _, frames = _formatted("local")
    member = [f for f in frames if f.name.startswith("QueueMember")]
    assert {f.name for f in member} >= {"QueueMemberAdded", "QueueMemberPause", "QueueMemberStatus"}
    for frame in member:
        assert _keys(frame)[2:] == REAL_MEMBER_FIELDS
        assert frame["Privilege"] == "agent,all"


def test_channels_and_uniqueids_look_like_asterisk() -> None:
    """Uniqueids are epoch.counter and unique per channel; a call's channels share the first one's Linkedid."""
    _, frames = _formatted("local")
    by_channel: dict[str, str] = {}
    for frame in frames:
        if frame.name == "Newchannel":
            assert re.fullmatch(r"\d{10}\.\d+", frame["Uniqueid"])
            assert frame["Channel"] not in by_channel
            by_channel[frame["Channel"]] = frame["Uniqueid"]
    assert len(set(by_channel.values())) == len(by_channel)
    names = set(by_channel)
    assert any(re.fullmatch(r"Local/support@queue-entry-[0-9a-f]{8};2", name) for name in names)
    assert any(re.fullmatch(r"PJSIP/10\d\d-[0-9a-f]{8}", name) for name in names)
    assert any(re.fullmatch(r"Local/agent\d\d@agents-[0-9a-f]{8};1", name) for name in names)
    for frame in frames:
        if frame.name == "AgentConnect":
            assert frame["DestLinkedid"] == frame["Linkedid"] != frame["DestUniqueid"]


def test_queue_status_lists_every_item_with_its_action_id() -> None:
    """QueueStatus: ack, QueueParams/QueueMember (Name/Location)/QueueEntry, then ListItems = items sent."""
    config = _busy_config()
    sim = Simulation(config, start=START)
    formatter = AmiFormatter(config)
    for event in sim.advance(START + timedelta(minutes=20)):
        formatter.events(event)
    state = sim.state()
    parser = AmiParser(expect_banner=False)
    parser.receive_data(formatter.queue_status(state, "qs-1"))
    frames = list(parser.frames_received())
    assert [(f.kind, f.name) for f in frames[:1]] == [("response", "Success")]
    assert frames[0].fields == (
        ("Response", "Success"),
        ("ActionID", "qs-1"),
        ("EventList", "start"),
        ("Message", "Queue status will follow"),
    )
    items, complete = frames[1:-1], frames[-1]
    assert complete.name == "QueueStatusComplete" and complete["ListItems"] == str(len(items))
    assert all(item.action_id == "qs-1" for item in items)
    names = Counter(item.name for item in items)
    expected = {"QueueParams": len(state.queues), "QueueMember": len(state.members), "QueueEntry": len(state.entries)}
    assert names == +Counter(expected)
    assert all(_keys(f) == REAL_STATUS_MEMBER_FIELDS for f in items if f.name == "QueueMember")
    entries = [f for f in items if f.name == "QueueEntry"]
    assert len(entries) == len(state.entries) > 0
    assert all(re.fullmatch(r"PJSIP/trunk-[0-9a-f]{8}", f["Channel"]) for f in entries)


def test_queue_status_and_summary_honour_the_queue_filter() -> None:
    """A Queue: filter keeps one queue's items; QueueSummary has one QueueSummary per queue."""
    config = _busy_config()
    sim = Simulation(config, start=START)
    sim.advance(START + timedelta(minutes=5))
    formatter = AmiFormatter(config)
    parser = AmiParser(expect_banner=False)
    parser.receive_data(formatter.queue_status(sim.state(), None, queue="SALES"))
    frames = list(parser.frames_received())
    assert {f.get("Queue") for f in frames[1:-1]} == {"sales"}
    assert all("ActionID" not in f for f in frames)
    parser.receive_data(formatter.queue_summary(sim.state(), "s"))
    summary = list(parser.frames_received())
    assert [f.name for f in summary[1:-1]] == ["QueueSummary"] * len(config.queues)
    assert summary[-1].fields[-2:] == (("EventList", "Complete"), ("ListItems", str(len(config.queues))))


def test_response_and_event_helpers_write_crlf_frames() -> None:
    """Helpers write Key: value CRLF lines and a blank line; ActionID only when the action had one."""
    assert (
        response("Error", None, [("Message", "Permission denied")])
        == b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
    )
    assert list_complete("X", "7", 2) == b"Event: X\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
    frame = event_frame("Hold", "call", [("Channel", "PJSIP/1001-00000001")])
    assert frame.data == b"Event: Hold\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\n\r\n"
    assert frame.privilege == 2


def test_the_collector_mapping_reads_the_outcomes_back() -> None:
    """End to end: the AMI mapper turns the simulator's bytes into the outcomes the model produced."""
    mapping = pytest.importorskip("collectors.ami.mapping")
    if not hasattr(mapping, "AmiMapper"):
        pytest.skip("collectors.ami.mapping.AmiMapper is not written yet")
    events, frames = _formatted("local")
    mapper = mapping.AmiMapper()
    mapped = [out for frame in frames for out in mapper.feed(frame, START)]
    counts = Counter(out.kind for out in mapped)
    kinds = Counter(event.kind for event in events)
    assert counts["call_queued"] == kinds["caller_join"]
    assert counts["call_answered"] == kinds["agent_connect"]
    assert counts["call_ended"] == kinds["agent_complete"]
    assert counts["call_abandoned"] == kinds["caller_abandon"]
    assert counts["call_exited"] == kinds["caller_timeout"]
    assert {out.reason for out in mapped if out.kind == "call_exited"} == {"timeout"}
    assert mapper.rejected == 0


# -- transfers and repeat callers ------------------------------------------------------------------------

BRIDGE_FIELDS = [
    "BridgeUniqueid", "BridgeType", "BridgeTechnology", "BridgeCreator", "BridgeName", "BridgeNumChannels",
    "BridgeVideoSourceMode",
]  # fmt: skip


def _transfer_config() -> SimConfig:
    """The busy site with a transfer in three calls and callers calling back within minutes."""
    config = _busy_config()
    queues = tuple(q.model_copy(update={"transfer_share": 0.3}) for q in config.queues)
    callbacks = CallbackPolicy(
        after_abandon_p=0.8, after_answer_p=0.1, abandon_delay_median_s=300.0, answer_delay_median_s=900.0
    )
    return config.model_copy(update={"queues": queues, "callbacks": callbacks})


@cache
def _transfer_run(bare: float = 0.0) -> tuple[tuple[SimEvent, ...], tuple[tuple[datetime, Frame], ...]]:
    """Two hours of the transfer site as frames, each with the time of the simulation event it came from."""
    config = _transfer_config()
    sim = Simulation(config, start=START)
    formatter = AmiFormatter(config, seed=2, bare_complete_probability=bare)
    events = sim.advance(START + timedelta(hours=2))
    parser = AmiParser(expect_banner=False)
    frames: list[tuple[datetime, Frame]] = []
    for event in events:
        for frame in formatter.events(event):
            parser.receive_data(frame.data)
        frames.extend((event.ts, parsed) for parsed in parser.frames_received())
    assert list(parser.errors()) == []
    return tuple(events), tuple(frames)


def test_a_blind_transfer_is_framed_as_asterisk_22_writes_it() -> None:
    """BlindTransfer (agent's bridged channel -> caller's queue leg, the bridge, exten@context), then AgentComplete
    Reason transfer, the caller leaving the bridge, the agent hanging up, the caller dialling the target."""
    events, frames = _transfer_run()
    transfers = [e for e in events if e.kind == "agent_complete" and e.reason == "transfer"]
    wire = [frame for _, frame in frames if frame.name == "BlindTransfer"]
    assert len(wire) == len(transfers) > 10
    for event, frame in zip(transfers, wire, strict=True):
        assert _keys(frame) == [
            "Event", "Privilege", "Result", *(f"Transferer{key}" for key in CHANNEL_FIELDS),
            *(f"Transferee{key}" for key in CHANNEL_FIELDS), *BRIDGE_FIELDS, "IsExternal", "Context", "Extension",
        ]  # fmt: skip
        assert event.member is not None and event.caller is not None
        assert (frame["Result"], frame["Privilege"], frame["BridgeNumChannels"]) == ("Success", "call,all", "2")
        assert f"{frame['Extension']}@{frame['Context']}" == event.target
        assert frame["TransfererChannel"].startswith(event.member.interface.removesuffix("/n"))
        assert frame["IsExternal"] == ("Yes" if event.member.interface.startswith("PJSIP/") else "No")
        assert frame["TransfereeCallerIDNum"] == event.caller.number
    for index, (_, frame) in enumerate(frames):
        if frame.name != "BlindTransfer":
            continue
        uid, agent_uid = frame["TransfereeUniqueid"], frame["TransfererUniqueid"]
        after = [
            f
            for _, f in frames[index + 1 :]
            if f.name != "VarSet" and uid in (f.get("Uniqueid"), f.get("DestUniqueid"))
        ]
        names = [f.name for f in after[: after.index(next(f for f in after if f.name.startswith("Hangup")))]]
        assert names[:2] == ["AgentComplete", "BridgeLeave"] and names[-1] == "Newexten"
        complete, dial = after[0], after[len(names) - 1]
        assert (complete["Reason"], complete["DestUniqueid"]) == ("transfer", agent_uid)
        assert (dial["Context"], dial["Exten"], dial["Application"]) == (frame["Context"], frame["Extension"], "Dial")
        agent_hangup = next(i for i, (_, f) in enumerate(frames) if f.name == "Hangup" and f["Uniqueid"] == agent_uid)
        caller_hangup = next(i for i, (_, f) in enumerate(frames) if f.name == "Hangup" and f["Uniqueid"] == uid)
        assert index < agent_hangup < caller_hangup


def test_transfers_escalations_and_repeat_callers_reach_the_wallboard() -> None:
    """End to end: the simulator's bytes through the real AMI mapper into the engine with the generated site file
    count every transfer, the escalations per agent and per queue, and the repeat callers."""
    events, frames = _transfer_run(bare=0.03)
    config = _transfer_config()
    mapper, state = AmiMapper(site="sim"), State(site_config(config))
    for ts, frame in frames:
        for event in mapper.feed(frame, ts):
            state.apply(event)
    assert mapper.rejected == 0
    snapshot = state.snapshot(START + timedelta(hours=2))
    transfers = [e for e in events if e.kind == "agent_complete" and e.reason == "transfer"]
    escalation = f"{config.transfers.escalation_extension}@{config.transfers.context}"
    escalated = Counter(e.member.agent_id for e in transfers if e.target == escalation and e.member)
    transferred = Counter(e.member.agent_id for e in transfers if e.member)
    agents = snapshot["agents"]
    assert {a: agents[a]["escalations_today"] for a in agents if agents[a]["escalations_today"]} == escalated
    assert {a: agents[a]["transfers_today"] for a in agents if agents[a]["transfers_today"]} == transferred
    assert 0 < sum(escalated.values()) < len(transfers)
    queues = snapshot["queues"]
    by_queue = Counter(e.queue for e in transfers if e.target == escalation)
    assert {q: queues[q]["day"]["escalations"] for q in queues if queues[q]["day"]["escalations"]} == by_queue
    callbacks = [e for e in events if e.kind == "caller_join" and e.caller and e.caller.attempt > 1]
    repeats = sum(queues[q]["total"]["repeat_callers"] for q in queues)
    assert 0 < repeats <= len(callbacks)
