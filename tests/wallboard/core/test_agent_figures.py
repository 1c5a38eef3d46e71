"""An agent's live figures in the snapshot: missed rings from real captures (queue_log and AMI), handled calls,
transfers, idle time since the last call, occupancy today, and checkpoints written before they existed."""

from __future__ import annotations

import pickle
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_events import answered, at, ended, ev, login, queued, run_on
from fixture_paths import LIGHT, PUBLIC

from collectors.ami.mapping import AmiMapper
from collectors.ami.protocol import AmiParser, Frame
from collectors.queue_log.parser import QueueLogMapper
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.core.snapshots import iso

SITE = SiteConfig(site="test", queues={"support": QueueConfig(sl_threshold_s=20, wrapup_s=5)})
DAY = timedelta(days=1)


def _replay(events: list[Event]) -> State:
    state = run_on(SiteConfig(site="replay"), *events)
    state.finish(max(event.ts for event in events))
    return state


def _missed(state: State, now: datetime) -> dict[str, int]:
    agents = state.snapshot(now)["agents"]
    return {agent_id: entry["missed_rings_today"] for agent_id, entry in agents.items() if entry["missed_rings_today"]}


# -- missed rings from the captures -----------------------------------------------------------------


def test_missed_rings_of_a_real_queue_log_are_counted_per_agent_and_queue() -> None:
    """Each RINGNOANSWER line of the asterisk2slack capture is one missed ring of its member and its queue."""
    text = (PUBLIC / "asterisk2slack_queue_log.txt").read_text(encoding="utf-8")
    rings = {line for line in text.splitlines() if line.split("|")[4:5] == ["RINGNOANSWER"]}
    expected = Counter(line.split("|")[3] for line in rings)
    assert sum(expected.values()) == 3  # the capture's three rings, to three members
    mapper = QueueLogMapper()
    events = [event for n, line in enumerate(text.splitlines(), 1) for event in mapper.feed_line(line, n)]
    events += mapper.finish()
    state = _replay(events)
    last = max(event.ts for event in events)
    assert _missed(state, last) == dict(expected)
    queues = Counter(line.split("|")[2] for line in rings)
    snapshot = state.snapshot(last)
    assert {name: q["day"]["missed_rings"] for name, q in snapshot["queues"].items() if q["day"]["missed_rings"]} == (
        dict(queues)
    )
    assert {name: q["total"]["missed_rings"] for name, q in snapshot["queues"].items()} == {
        name: queues.get(name, 0) for name in snapshot["queues"]
    }


def _rung_in_vain(frame: Frame) -> Frame:
    """A real AgentCalled frame of the light run told as the AgentRingNoAnswer of the same ring (15 s)."""
    fields = "".join(f"{key}: {value}\r\n" for key, value in frame.fields[1:])
    parser = AmiParser(expect_banner=False)
    parser.receive_data(f"Event: AgentRingNoAnswer\r\n{fields}RingTime: 15000\r\n\r\n".encode())
    (ring,) = parser.frames_received()
    return ring


def test_missed_rings_from_ami_agent_ring_no_answer_match_the_transcript() -> None:
    """Every AgentCalled ring of the real AMI transcript, told as not answered: each member's count equals the
    transcript's, rings followed by the member's own answer of the same call included."""
    text = (LIGHT / "ami_transcript.txt").read_bytes().decode()  # CRLF kept
    called = re.findall(r"Event: AgentCalled\r\n(?:[^\r\n]+\r\n)*?MemberName: ([^\r\n]+)\r\n", text)
    expected = Counter(called)
    assert sum(expected.values()) == text.count("Event: AgentCalled\r\n") > 0
    parser, mapper = AmiParser(), AmiMapper(site="light")
    parser.receive_data(text.encode())
    parser.receive_eof()
    events: list[Event] = []
    start = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    for n, frame in enumerate(parser.frames_received()):
        ts = start + timedelta(milliseconds=n)  # the frames' order, one millisecond apart
        events += mapper.feed(_rung_in_vain(frame) if frame.name == "AgentCalled" else frame, ts)
    state = _replay(events)
    last = max(event.ts for event in events)
    assert _missed(state, last) == dict(expected)
    agents = state.snapshot(last)["agents"]
    assert any(agents[name]["calls_today"] and agents[name]["missed_rings_today"] for name in expected)
    answered_after_ring = [e for e in events if e.kind == "agent_rang" and e.answered]  # AgentConnect's rings
    assert answered_after_ring  # a ring answered is not missed: the counts above equal the AgentCalled frames only


# -- generated events -------------------------------------------------------------------------------


def _morning() -> list[Event]:
    """a1: logs in at 0, misses c1's ring at 5, answers c1 at 10, ends it at 70 (5 s wrap-up), pauses 100-160.
    a2: answers c2 at 20 and transfers it at 50."""
    return [
        login(0, "a1"),
        login(0, "a2"),
        queued(0, "c1"),
        queued(0, "c2"),
        ev("agent_rang", 5, call_id="c1", queue="support", agent="a1", answered=False, ring_s=5),
        ev("agent_rang", 10, call_id="c1", queue="support", agent="a1", answered=True),
        answered(10, "c1", "a1", 10),
        answered(20, "c2", "a2", 20),
        ended(50, "c2", "a2", 30, ended_by="transfer"),
        ended(70, "c1", "a1", 60, ended_by="agent"),
        ev("agent_paused", 100, queue="support", agent="a1", reason="Coffee"),
        ev("agent_unpaused", 160, queue="support", agent="a1"),
    ]


def test_handled_missed_and_transfers_today_and_this_interval() -> None:
    """A ring not answered counts even when its agent answers the call; an answered ring does not."""
    state = run_on(SITE, *_morning())
    a1, a2 = (state.snapshot(at(200))["agents"][agent] for agent in ("a1", "a2"))
    assert (a1["handled_today"], a1["handled_interval"], a1["missed_rings_today"], a1["missed_rings_interval"]) == (
        1,
        1,
        1,
        1,
    )
    assert (a1["transfers_today"], a2["transfers_today"], a2["handled_today"], a2["missed_rings_today"]) == (0, 1, 1, 0)
    later = state.snapshot(at(15 * 60 + 10))  # the next interval
    a1 = later["agents"]["a1"]
    assert (a1["handled_today"], a1["handled_interval"], a1["missed_rings_today"], a1["missed_rings_interval"]) == (
        1,
        0,
        1,
        0,
    )
    support = later["queues"]["support"]
    assert (support["interval"]["missed_rings"], support["day"]["missed_rings"]) == (0, 1)
    assert support["previous_interval"] is not None and support["previous_interval"]["missed_rings"] == 1


def test_idle_counts_available_time_since_the_last_call_end() -> None:
    """Idle = available time since the call ended at 70: wrap-up (70-75) and the pause (100-160) are not idle."""
    state = run_on(SITE, *_morning())
    a1 = state.snapshot(at(200))["agents"]["a1"]
    assert a1["last_call_end"] == iso(at(70))
    assert a1["idle_s"] == pytest.approx((100 - 75) + (200 - 160))
    assert state.snapshot(at(300))["agents"]["a1"]["idle_s"] == pytest.approx(25 + 140)  # ticking while available
    fresh = run_on(SITE, login(0, "a3")).snapshot(at(60))["agents"]["a3"]
    assert (fresh["last_call_end"], fresh["idle_s"]) == (None, None)  # no call yet: no idle figure


def test_idle_restarts_at_the_next_call_end_and_freezes_while_busy() -> None:
    """Answering stops idle; the next call's end starts it again from zero."""
    events = [*_morning(), queued(200, "c3"), answered(210, "c3", "a1", 10)]
    state = run_on(SITE, *events)
    assert state.snapshot(at(250))["agents"]["a1"]["idle_s"] == pytest.approx(25 + 50)
    state.apply(ended(260, "c3", "a1", 50))
    a1 = state.snapshot(at(280))["agents"]["a1"]
    assert (a1["last_call_end"], a1["idle_s"]) == (iso(at(260)), pytest.approx(280 - 265))


def test_occupancy_today_spans_the_day_s_intervals_and_resets_at_midnight() -> None:
    """(on call + wrap-up) / (that + available) over every interval of the day; paused time is out of it."""
    state = run_on(SITE, *_morning())
    handling, available = 60 + 5, 10 + 25 + 40
    assert state.snapshot(at(200))["agents"]["a1"]["occupancy_pct"] == pytest.approx(
        100 * handling / (handling + available)
    )
    later = 15 * 60 + 10  # one interval closed: its time still counts today
    assert state.snapshot(at(later))["agents"]["a1"]["occupancy_pct"] == pytest.approx(
        100 * handling / (handling + available + later - 200)
    )
    tomorrow = state.snapshot(at(0) + DAY + timedelta(minutes=1))["agents"]["a1"]
    assert (tomorrow["occupancy_pct"], tomorrow["handled_today"], tomorrow["missed_rings_today"]) == (0.0, 0, 0)
    assert run_on(SITE, login(0, "a3")).snapshot(at(0))["agents"]["a3"]["occupancy_pct"] is None


def test_history_rows_carry_the_interval_s_missed_rings() -> None:
    """The closed interval's agent row and queue row count the missed ring."""
    state = run_on(SITE, *_morning())
    state.snapshot(at(15 * 60 + 1))
    rows = {row["agent"]: row for row in state.drain_closed_agent_intervals()}
    assert (rows["a1"]["missed_rings"], rows["a2"]["missed_rings"]) == (1, 0)
    (queue_row,) = state.drain_closed_intervals()
    assert queue_row["missed_rings"] == 1


def test_merged_identities_add_their_figures() -> None:
    """A member name and an interface found to be one agent: the missed rings and transfers of both add up."""
    events = [
        ev("agent_rang", 5, call_id="c1", queue="support", agent="Local/101", answered=False),
        ev("agent_rang", 6, call_id="c2", queue="support", agent="Alice", answered=False),
        ev("agent_login", 7, queue="support", agent="Alice", interface="Local/101", member_name="Alice"),
    ]
    agents = run_on(SITE, *events).snapshot(at(10))["agents"]
    assert {agent_id: entry["missed_rings_today"] for agent_id, entry in agents.items()} == {"Alice": 2}


def _as_old_checkpoint(state: State) -> State:
    """``state`` pickled as a checkpoint written before the live figures existed, then loaded."""
    for agent in state._agents.values():  # shaping an old checkpoint
        for stats in (agent.day, agent.total):
            del stats.missed_rings, stats.transfers
        del agent.presence.interval.missed_rings, agent.ended, agent.ended_iso
        for name in ("last_call_end", "idle_s", "day_state_s"):
            del agent.presence.__dict__[name]
    for queue in state._queues.values():
        for window in queue.windows:
            del window.missed_rings
    return pickle.loads(pickle.dumps(state))


def test_a_checkpoint_from_before_the_figures_loads_and_counts_on() -> None:
    """Old checkpoints start the new figures at zero (idle: none until the next call ends) and keep counting."""
    state = run_on(SITE, *_morning())
    loaded = _as_old_checkpoint(state)
    a1 = loaded.snapshot(at(200))["agents"]["a1"]
    assert (a1["missed_rings_today"], a1["transfers_today"], a1["last_call_end"], a1["idle_s"]) == (0, 0, None, None)
    assert a1["handled_today"] == 1  # an existing figure survives
    loaded.apply(ev("agent_rang", 210, call_id="c9", queue="support", agent="a1", answered=False))
    assert loaded.snapshot(at(220))["agents"]["a1"]["missed_rings_today"] == 1
