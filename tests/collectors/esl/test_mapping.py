"""mod_callcenter events as the project's events, checked against the real FreeSWITCH 1.10.12 run's ground truth.

The light run has no ring that failed (``bridge-agent-fail``) and no key exit: those cases are fed as real
frames of the run with the fields of the failing case (as QUIRKS.md describes them), generated here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from fixture_paths import FREESWITCH

from collectors.esl.mapping import EslMapper, tiers_of
from collectors.esl.protocol import EslFrame, EslParser, callcenter_only, encoded
from wallboard.core.engine import State
from wallboard.core.events import AgentLogin, AgentPaused, AgentRang, CallExited, Event
from wallboard.core.site import SiteConfig

T0 = datetime(2026, 12, 6, 21, 55, 39, tzinfo=UTC)


@cache
def ground_truth() -> dict[str, Any]:
    return json.loads((FREESWITCH / "ground_truth.json").read_text())


def frames(name: str = "esl_transcript.txt") -> list[EslFrame]:
    parser = EslParser(drop=callcenter_only)
    parser.receive_data((FREESWITCH / name).read_bytes())
    parser.receive_eof()
    return parser.frames_received()


def control_tiers() -> list[tuple[str, str]]:
    """The tier list the driver's control connection read (its ``>>>`` lines are what it sent)."""
    text = (FREESWITCH / "esl_control_transcript.txt").read_bytes()
    parser = EslParser()
    parser.receive_data(b"".join(line + b"\n" for line in text.split(b"\n") if not line.startswith(b">>> ")))
    return [pair for frame in parser.frames_received() for pair in tiers_of(frame.text)]


def mapped(name: str = "esl_transcript.txt", *, tiers: bool = True) -> tuple[EslMapper, list[Event]]:
    mapper = EslMapper(site="fs")
    events = mapper.learn_tiers(control_tiers(), T0) if tiers else []
    for frame in frames(name):
        events += mapper.feed(frame, T0)
    return mapper, events


def replayed(events: list[Event]) -> State:
    state = State(SiteConfig(site="fs"), calls=True)
    for event in events:
        state.apply(event)
    state.finish(max(event.ts for event in events))
    return state


@pytest.mark.parametrize("tiers", [True, False])
@pytest.mark.parametrize("name", ["esl_transcript.txt", "esl_transcript_cc_json.txt"])
def test_every_queue_s_outcomes_equal_the_ground_truth(name: str, tiers: bool) -> None:
    """Plain or JSON, with or without the tier list: offered, answered, abandoned, timed out per queue."""
    mapper, events = mapped(name, tiers=tiers)
    assert mapper.rejected == {}
    totals = replayed(events).totals()["queues"]
    for queue, truth in ground_truth()["queues"].items():
        figures = {key: totals[queue][key] for key in ("offered", "answered", "abandoned", "timed_out", "unknown")}
        assert figures == {key: truth[key] for key in figures}, queue


def test_each_call_s_wait_talk_agent_and_caller_match_the_ground_truth() -> None:
    """Waits and talks from the events' microsecond timestamps equal the ground truth's (same clock)."""
    state = replayed(mapped()[1])
    rows = {row["call_id"]: row for _, row in state.drain_call_records()}
    for call in ground_truth()["calls"]:
        row = rows[call["member_uuid"]]
        outcome = {"answered": "answered", "abandoned": "abandoned", "timed_out": "timed_out"}[call["outcome"]]
        assert (row["queue"], row["outcome"], row["agent"], row["caller"], row["caller_name"]) == (
            call["queue"],
            outcome,
            call["agent"],
            call["caller_id_number"],
            call["caller_id_name"],
        )
        assert row["wait_s"] == pytest.approx(call["wait_s_event_timestamps"], abs=0.01)
        if call["talk_s_event_timestamps"] is not None:
            assert row["talk_s"] == pytest.approx(call["talk_s_event_timestamps"], abs=0.01)
    assert len(rows) == len(ground_truth()["calls"])


def test_agents_follow_their_status_and_tiers() -> None:
    """1004 logged out at the end; the others available in their tiers' queues; breaks are pauses 'On Break'."""
    _, events = mapped()
    state = replayed(events)
    agents = state.snapshot(max(event.ts for event in events))["agents"]
    assert agents["1004@default"]["state"] == "logged_out"
    assert agents["1003@default"]["queues"] == ["sales@default", "support@default"]
    assert {agent for agent, entry in agents.items() if entry["state"] == "available"} == {
        "1001@default",
        "1002@default",
        "1003@default",
        "1005@default",
    }
    pauses = [event for event in events if isinstance(event, AgentPaused)]
    assert {event.agent for event in pauses} == {"1001@default", "1002@default", "1003@default", "1005@default"}
    assert {event.reason for event in pauses} == {"On Break"}
    handled = {agent: entry["handled_today"] for agent, entry in agents.items()}
    answered = [call["agent"] for call in ground_truth()["calls"] if call["outcome"] == "answered"]
    assert handled == {agent: answered.count(agent) for agent in handled}


def test_without_the_tier_list_an_agent_joins_a_queue_when_an_event_names_both() -> None:
    mapper, events = mapped(tiers=False)
    logins = [event for event in events if isinstance(event, AgentLogin)]
    assert logins and all(event.ts >= T0 for event in logins)
    learned = {(queue, agent) for agent, queues in mapper.tiers.items() for queue in queues}
    answered = {(call["queue"], call["agent"]) for call in ground_truth()["calls"] if call["agent"]}
    assert answered <= learned <= set(control_tiers())


def _custom(action: str, **fields: str) -> EslFrame:
    """A real bridge-agent-start frame of the run re-told as ``action`` with ``fields`` (plain, URL-encoded)."""
    real = next(f for f in frames() if f.event and f.event.get("CC-Action") == "bridge-agent-start")
    assert real.event is not None
    event = {**real.event, "CC-Action": action, **fields}
    body = "".join(f"{key}: {encoded(value)}\n" for key, value in event.items()).encode()
    parser = EslParser()
    parser.receive_data(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)
    (frame,) = parser.frames_received()
    return frame


def test_a_failed_ring_is_a_missed_ring_unless_the_caller_left() -> None:
    mapper = EslMapper()
    timeout = mapper.feed(_custom("bridge-agent-fail", **{"CC-Hangup-Cause": "ALLOTTED_TIMEOUT"}), T0)
    busy = mapper.feed(_custom("bridge-agent-fail", **{"CC-Hangup-Cause": "USER_BUSY"}), T0)
    cancelled = mapper.feed(_custom("bridge-agent-fail", **{"CC-Hangup-Cause": "ORIGINATOR_CANCEL"}), T0)
    rings = [event for event in [*timeout, *busy, *cancelled] if isinstance(event, AgentRang)]
    assert [ring.answered for ring in rings] == [False, False]
    assert len({ring.key for ring in rings}) == 2  # two attempts of one member: two missed rings


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("TIMEOUT", "timeout"), ("EXIT_WITH_KEY", "key"), ("NO_AGENT_TIMEOUT", "empty"), ("SOMETHING_NEW", "unknown")],
)
def test_a_cancelled_member_exits_by_its_cancel_reason(reason: str, expected: str) -> None:
    frame = _custom("member-queue-end", **{"CC-Cause": "Cancel", "CC-Cancel-Reason": reason})
    (event,) = EslMapper().feed(frame, T0)
    assert isinstance(event, CallExited) and event.reason == expected


def test_an_event_without_its_fields_is_rejected_and_counted() -> None:
    mapper = EslMapper()
    frame = _custom("member-queue-start", **{"CC-Queue": ""})
    assert mapper.feed(frame, T0) == [] and mapper.rejected == {"member-queue-start: missing fields": 1}


def test_a_terminated_member_whose_bridge_end_was_missed_still_ends_the_call() -> None:
    mapper = EslMapper()
    frame = _custom("member-queue-end", **{"CC-Cause": "Terminated"})
    assert frame.event is not None
    leaving = str(int(frame.event["CC-Agent-Answered-Time"]) + 4)
    (end,) = mapper.feed(
        _custom("member-queue-end", **{"CC-Cause": "Terminated", "CC-Member-Leaving-Time": leaving}), T0
    )
    assert end.kind == "call_ended" and end.talk_s == 4.0  # from the whole seconds: the answer was not seen
    assert mapper.feed(frame, T0) == []  # once
