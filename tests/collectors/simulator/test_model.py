"""The seeded contact-center model: determinism, conservation of callers, and the rules agents follow."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from collectors.simulator.config import (
    AgentSpec,
    BreakPolicy,
    CallerPolicy,
    Indiscipline,
    QueueSpec,
    SchedulePolicy,
    SimConfig,
    build_config,
)
from collectors.simulator.model import Simulation, SimulationError, extension_of
from collectors.simulator.names import profile_rate
from collectors.simulator.schedule import shift_slots
from collectors.simulator.views import SimEvent
from wallboard.core.adherence.schedule import Slot

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def _run(
    config: SimConfig, start: datetime, hours: float, seed: int | None = None
) -> tuple[Simulation, list[SimEvent]]:
    sim = Simulation(config, seed, start=start)
    return sim, sim.advance(start + timedelta(hours=hours))


@cache
def _day() -> tuple[SimConfig, Simulation, tuple[SimEvent, ...]]:
    """One full seeded day of the default 40-agent, 4-queue site (shared by the read-only tests)."""
    config = build_config(40, 4, seed=7)
    sim, events = _run(config, MONDAY, 24)
    return config, sim, tuple(events)


def _one_queue(**queue: object) -> SimConfig:
    """One agent (9:00-17:00) in one queue: every expectation below follows from these few numbers."""
    spec = QueueSpec(name="support", peak_rate_per_min=2.0, **queue)
    agent = AgentSpec(
        agent_id="agent01",
        name="José Álvarez",
        interface="PJSIP/1001",
        skills=(("support", 0),),
        shift_start_h=9.0,
        shift_end_h=17.0,
        no_answer_probability=0.0,
    )
    return SimConfig(
        agents=(agent,),
        queues=(spec,),
        breaks=BreakPolicy(enabled=False),
        profile=((0.0, 1.0), (24.0, 1.0)),
        bursts_per_hour=0,
    )


def test_same_seed_gives_the_same_history() -> None:
    """Two runs with one seed produce identical event sequences; another seed does not."""
    config = build_config(12, 3, seed=3)
    start = MONDAY + timedelta(hours=9)
    _, first = _run(config, start, 2)
    _, again = _run(config, start, 2)
    _, other = _run(config, start, 2, seed=4)
    assert len(first) > 100
    assert first == again
    assert first != other


def test_advancing_in_steps_equals_advancing_at_once() -> None:
    """Time is the model's own: many small advances give the events of one big advance."""
    config = build_config(8, 2, seed=5)
    start = MONDAY + timedelta(hours=10)
    _, at_once = _run(config, start, 1)
    sim = Simulation(config, start=start)
    stepped = [event for minute in range(1, 61) for event in sim.advance(start + timedelta(minutes=minute))]
    assert stepped == at_once


def test_events_come_in_time_order() -> None:
    """advance() returns events sorted by time, all inside the advanced window."""
    _, sim, events = _day()
    stamps = [event.ts for event in events]
    assert stamps == sorted(stamps)
    assert MONDAY <= stamps[0] and stamps[-1] <= MONDAY + timedelta(hours=24) == sim.current_time


def test_every_caller_ends_exactly_once_or_is_still_waiting() -> None:
    """Conservation: each joined caller is answered, abandons or times out once, or still waits."""
    _, sim, events = _day()
    joined = [e.caller.call_id for e in events if e.kind == "caller_join" and e.caller]
    ends = Counter(
        e.caller.call_id for e in events if e.kind in ("agent_connect", "caller_abandon", "caller_timeout") and e.caller
    )
    waiting = {entry.caller.call_id for entry in sim.state().entries}
    assert len(joined) == len(set(joined)) > 1000
    assert set(ends) <= set(joined)
    assert max(ends.values()) == 1
    assert set(joined) == set(ends) | waiting
    assert not (set(ends) & waiting)


def test_a_busy_day_has_waits_abandons_and_stays_mostly_within_service_level() -> None:
    """The default site is busy but mostly within SL, and its bursts make callers wait and give up."""
    config, _, events = _day()
    answered = [e for e in events if e.kind == "agent_connect"]
    within = [e for e in answered if e.wait_s <= config.queue(e.queue).servicelevel_s]
    abandoned = [e for e in events if e.kind == "caller_abandon"]
    assert 0.75 <= len(within) / len(answered) < 0.99
    assert max(e.wait_s for e in answered) > 60
    assert 0 < len(abandoned) < 0.1 * len(answered)


def test_distributions_stay_within_broad_bounds() -> None:
    """Talk, ring and patience follow their configured distributions over a long run."""
    config, _, events = _day()
    policy = config.callers
    talk_ratio = [e.talk_s / config.queue(e.queue).talk_median_s for e in events if e.kind == "agent_complete"]
    assert 0.8 <= statistics.median(talk_ratio) <= 1.3
    rings = [e.ring_s for e in events if e.kind == "agent_connect"]
    assert policy.ring_s[0] <= min(rings) and max(rings) <= policy.ring_s[1]
    patience = [e.caller.patience_s for e in events if e.kind == "caller_join" and e.caller]
    assert 0.85 <= statistics.median(patience) / policy.patience_median_s <= 1.15
    for event in events:
        if event.kind == "agent_ring_no_answer":
            assert event.ring_s == pytest.approx(config.queue(event.queue).ring_timeout_s)


def test_abandons_and_timeouts_follow_patience_and_the_queue_timeout() -> None:
    """A caller abandons after exactly its patience, or times out at the queue timeout when patience is longer."""
    config, _, events = _day()
    seen: Counter[str] = Counter()
    for event in events:
        if event.kind == "caller_abandon" and event.caller:
            assert event.wait_s == pytest.approx(event.caller.patience_s)
            seen["abandon"] += 1
        elif event.kind == "caller_timeout" and event.caller:
            timeout = config.queue(event.queue).timeout_s
            assert event.wait_s == pytest.approx(timeout) and event.caller.patience_s >= timeout
            seen["timeout"] += 1
    assert seen["abandon"] > 0


def test_agents_never_take_two_calls_and_are_never_rung_while_busy() -> None:
    """An agent is rung only when free (no call, no ring, wrap-up over) and talks to one caller at a time."""
    config, _, events = _day()
    on_call: dict[str, str] = {}
    ringing: dict[str, str] = {}
    free_at: dict[str, datetime] = {}
    for event in events:
        agent = event.member.agent_id if event.member else ""
        call = event.caller.call_id if event.caller else ""
        if event.kind == "agent_called":
            assert agent not in on_call and agent not in ringing
            assert event.ts >= free_at.get(agent, MONDAY)
            ringing[agent] = call
        elif event.kind in ("agent_ring_no_answer", "agent_ring_cancelled"):
            assert ringing.pop(agent) == call
        elif event.kind == "agent_connect":
            assert ringing.pop(agent) == call and agent not in on_call
            on_call[agent] = call
        elif event.kind == "agent_complete":
            assert on_call.pop(agent) == call
            free_at[agent] = event.ts + timedelta(seconds=config.queue(event.queue).wrapup_s)
    assert free_at


def test_paused_or_logged_out_members_are_never_called() -> None:
    """agent_called goes only to members logged in to that queue and not paused there."""
    _, _, events = _day()
    paused: dict[tuple[str, str], bool] = {}
    called = 0
    for event in events:
        if event.member is None:
            continue
        key = (event.member.agent_id, event.queue)
        if event.kind in ("member_added", "member_paused", "member_unpaused"):
            paused[key] = event.member.paused
        elif event.kind == "member_removed":
            del paused[key]
        elif event.kind == "agent_called":
            assert paused[key] is False
            called += 1
    assert called > 1000
    kinds = Counter(e.kind for e in events)
    assert kinds["member_paused"] > 0 and kinds["member_unpaused"] > 0


def test_pause_reasons_include_breaks_lunch_training_and_auto_pause() -> None:
    """Over a day agents pause for Break, Lunch and Training, and autopause queues pause on no-answer."""
    config, _, events = _day()
    reasons = {e.reason for e in events if e.kind == "member_paused"}
    assert {"Break", "Lunch"} <= reasons
    autopause = {q.name for q in config.queues if q.autopause}
    for event in events:
        if event.kind == "member_paused" and event.reason == "Auto-Pause":
            assert event.queue in autopause


def test_time_of_day_profile_changes_the_arrival_rate() -> None:
    """The afternoon peak brings many times the arrivals of the night, as the profile says."""
    _, _, events = _day()
    joins = Counter(e.ts.hour for e in events if e.kind == "caller_join")
    night = joins[2] + joins[3]
    peak = joins[14] + joins[15]
    ratio = (profile_rate(14.5) + profile_rate(15.5)) / (profile_rate(2.5) + profile_rate(3.5))
    assert peak > night * ratio / 3 > 0


def test_profile_interpolates_between_points() -> None:
    """profile_rate is piecewise linear and wraps at midnight."""
    points = ((0.0, 0.2), (6.0, 0.2), (12.0, 1.0), (24.0, 0.2))
    assert profile_rate(3.0, points) == pytest.approx(0.2)
    assert profile_rate(9.0, points) == pytest.approx(0.6)
    assert profile_rate(18.0, points) == pytest.approx(0.6)
    assert profile_rate(33.0, points) == pytest.approx(0.6)


def test_agents_log_in_and_out_with_their_shifts() -> None:
    """Members are added near their shift start and removed after their shift end (or after the call)."""
    config, _, events = _day()
    specs = {agent.agent_id: agent for agent in config.agents}
    for event in events:
        if event.kind == "member_added" and event.member and event.ts > MONDAY:
            hour = event.ts.hour + event.ts.minute / 60
            start = specs[event.member.agent_id].shift_start_h
            assert min(abs(hour - start), 24 - abs(hour - start)) <= 8 / 60 + 1e-6
    added = Counter(e.member.agent_id for e in events if e.kind == "member_added" and e.member)
    removed = Counter(e.member.agent_id for e in events if e.kind == "member_removed" and e.member)
    assert added and removed


def test_state_lists_queues_members_and_waiting_callers() -> None:
    """state() matches the events: members logged in now, callers waiting in position order."""
    _, sim, events = _day()
    state = sim.state()
    logged: set[tuple[str, str]] = set()
    for event in events:
        if event.member and event.kind == "member_added":
            logged.add((event.member.agent_id, event.queue))
        elif event.member and event.kind == "member_removed":
            logged.discard((event.member.agent_id, event.queue))
    assert {(m.agent_id, m.queue) for m in state.members} == logged
    for view in state.queues:
        positions = [e.position for e in state.entries if e.queue == view.spec.name]
        assert positions == list(range(1, view.calls + 1))
    assert sum(view.completed for view in state.queues) > 0


def test_queue_counters_count_timeouts_as_abandoned() -> None:
    """A caller that nobody answers times out (EXITWITHTIMEOUT) and app_queue counts it as abandoned."""
    config = _one_queue(timeout_s=30.0, talk_median_s=3000.0, talk_sigma=0.0)
    config = config.model_copy(update={"callers": CallerPolicy(patience_median_s=10_000.0, patience_sigma=0.0)})
    sim, events = _run(config, MONDAY + timedelta(hours=10), 0.5)
    kinds = Counter(e.kind for e in events)
    assert kinds["agent_connect"] == 1
    assert kinds["caller_timeout"] >= 10 and kinds["caller_abandon"] == 0
    (queue,) = sim.state().queues
    assert queue.abandoned == kinds["caller_timeout"]
    assert all(e.wait_s == pytest.approx(30.0) for e in events if e.kind == "caller_timeout")


def test_ring_no_answer_auto_pauses_and_the_queue_tries_again() -> None:
    """A member who never answers gets ring-no-answers after the ring timeout and is auto-paused, then unpaused."""
    config = _one_queue(ring_timeout_s=12.0, retry_s=2.0, autopause=True)
    never = config.agents[0].model_copy(update={"no_answer_probability": 1.0})
    config = config.model_copy(update={"agents": (never,)})
    _, events = _run(config, MONDAY + timedelta(hours=10), 0.5)
    rna = [e for e in events if e.kind == "agent_ring_no_answer"]
    assert rna and all(e.ring_s == pytest.approx(12.0) for e in rna)
    kinds = [e.kind for e in events if e.kind in ("agent_ring_no_answer", "member_paused", "member_unpaused")]
    assert kinds[:3] == ["agent_ring_no_answer", "member_paused", "member_unpaused"]
    assert all(e.reason == "Auto-Pause" for e in events if e.kind == "member_paused")
    assert not any(e.kind == "agent_connect" for e in events)


def test_holds_are_inside_their_call_and_add_up() -> None:
    """Every hold is followed by an unhold before the call completes; hold_s is their total."""
    _, _, events = _day()
    held_since: dict[str, datetime] = {}
    total: dict[str, float] = defaultdict(float)
    checked = 0
    for event in events:
        call = event.caller.call_id if event.caller else ""
        if event.kind == "call_hold":
            held_since[call] = event.ts
        elif event.kind == "call_unhold":
            total[call] += (event.ts - held_since.pop(call)).total_seconds()
        elif event.kind == "agent_complete":
            assert call not in held_since
            assert event.hold_s == pytest.approx(total.get(call, 0.0), abs=1e-6)
            checked += event.hold_s > 0
    assert checked > 10


def test_a_member_can_be_removed_while_on_a_call() -> None:
    """Asterisk quirk 2: a member removed mid-call still completes that call afterwards."""
    config = _one_queue(talk_median_s=3600.0, talk_sigma=0.0, timeout_s=60.0)
    config = config.model_copy(update={"breaks": BreakPolicy(enabled=False, removed_during_call_probability=1.0)})
    _, events = _run(config, MONDAY + timedelta(hours=16, minutes=50), 1.5)
    removed = next(e for e in events if e.kind == "member_removed")
    complete = next(e for e in events if e.kind == "agent_complete")
    assert removed.member is not None and removed.member.in_call
    assert removed.ts < complete.ts


def test_time_never_goes_back_and_start_must_be_aware() -> None:
    """advance() into the past and a naive start are refused with SimulationError."""
    config = build_config(2, 1)
    sim = Simulation(config, start=MONDAY)
    sim.advance(MONDAY + timedelta(minutes=5))
    with pytest.raises(SimulationError):
        sim.advance(MONDAY)
    with pytest.raises(SimulationError):
        Simulation(config, start=datetime(2026, 3, 2))
    with pytest.raises(SimulationError):
        sim.advance(datetime(2026, 3, 3))


def test_hour_offset_plays_the_day_ahead_of_the_clock() -> None:
    """hour_offset=12 makes 03:00 behave like 15:00: the afternoon crew is in and calls flow."""
    plain = build_config(20, 2, seed=9)
    shifted = plain.model_copy(update={"hour_offset": 12.0})
    night = MONDAY + timedelta(hours=3)
    quiet_sim, quiet = _run(plain, night, 1)
    busy_sim, busy = _run(shifted, night, 1)
    assert len(busy_sim.state().members) > 3 * max(len(quiet_sim.state().members), 1)
    joins = [sum(e.kind == "caller_join" for e in events) for events in (quiet, busy)]
    assert joins[1] > 5 * max(joins[0], 1)


# ---------------------------------------------------------------------- following a generated schedule

PARIS_MONDAY = datetime(2026, 3, 2, tzinfo=ZoneInfo("Europe/Paris"))
Transition = tuple[datetime, str, str]


def _scheduled(indiscipline: Indiscipline, *agents: AgentSpec, **fields: object) -> SimConfig:
    """No callers (load 0), so every logout happens when planned instead of after a call in progress."""
    return SimConfig(
        agents=agents,
        queues=(QueueSpec(name="support"),),
        timezone="Europe/Paris",
        load_factor=0.0,
        schedule=SchedulePolicy(indiscipline=indiscipline),
        **fields,
    )


def _spec(agent_id: str, start_h: float, end_h: float) -> AgentSpec:
    return AgentSpec(
        agent_id=agent_id,
        name=agent_id,
        interface=f"PJSIP/{agent_id}",
        skills=(("support", 0),),
        shift_start_h=start_h,
        shift_end_h=end_h,
    )


def _transitions(events: list[SimEvent], agent: str) -> list[Transition]:
    kinds = {"member_added": "login", "member_removed": "logout", "member_paused": "pause", "member_unpaused": "back"}
    return [
        (event.ts, kinds[event.kind], event.reason)
        for event in events
        if event.kind in kinds and event.member is not None and event.member.agent_id == agent
    ]


def _planned(slots: tuple[Slot, ...], start: datetime, until: datetime) -> list[Transition]:
    """What a punctual agent does for ``slots`` seen from a simulation started at ``start``: the rules of the issue."""
    reasons = {"break": "Break", "lunch": "Lunch"}
    plan = [(max(slots[0].start, start), "login", "")]
    for slot in slots:
        if slot.activity in reasons and slot.end > start:
            plan += [(max(slot.start, start), "pause", reasons[slot.activity]), (slot.end, "back", "")]
    plan.append((slots[-1].end, "logout", ""))
    return [step for step in plan if step[0] <= until]


def test_punctual_agents_follow_their_schedule_to_the_second() -> None:
    """Indiscipline.none(): in at the shift's start, pause Break/Lunch at slot starts, back at ends, out at the end."""
    config = _scheduled(Indiscipline.none(), _spec("day", 9, 17), _spec("night", 22, 6), _spec("late", 12, 20.5))
    start = PARIS_MONDAY + timedelta(hours=10)  # inside the day shift and the night shift is over
    until = start + timedelta(hours=44)
    events = Simulation(config, start=start).advance(until)
    for spec in config.agents:
        expected: list[Transition] = []
        for day in (date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)):
            shift = shift_slots(config, spec, day)
            if shift[-1].end > start:
                expected += _planned(shift, start, until)
        assert _transitions(events, spec.agent_id) == expected, spec.agent_id
    assert len(_transitions(events, "day")) == 2 * (1 + 3 * 2 + 1)  # Monday (joined at 10:00) and Tuesday
    assert _transitions(events, "night")[-1] == (until, "logout", "")  # Tuesday's night shift ends at `until`


def test_a_simulation_starting_in_a_lunch_logs_in_already_at_lunch() -> None:
    """Started inside a lunch slot, the agent logs in and pauses Lunch at once, and is back at the slot's end."""
    config = _scheduled(Indiscipline.none(), _spec("day", 9, 17))
    lunch = next(s for s in shift_slots(config, config.agents[0], date(2026, 3, 2)) if s.activity == "lunch")
    start = lunch.start + timedelta(minutes=10)
    events = Simulation(config, start=start).advance(lunch.end)
    assert _transitions(events, "day") == [(start, "login", ""), (start, "pause", "Lunch"), (lunch.end, "back", "")]


ALWAYS = Indiscipline(
    late_login_p=1, late_login_minutes=(2, 4), late_return_p=1, late_return_s=(150, 300), early_logout_p=1,
    early_logout_minutes=(10, 20), unscheduled_pause_p=1, unscheduled_pause_minutes=(5, 6),
)  # fmt: skip


def test_undisciplined_agents_stray_only_as_far_as_configured() -> None:
    """Every probability 1: logins 2-4 min late, returns 150-300 s late, logouts 10-20 min early, one Personal pause."""
    config = _scheduled(ALWAYS, *(_spec(f"a{n}", 8 + n / 2, 16 + n / 2) for n in range(6)))
    start = PARIS_MONDAY + timedelta(hours=6)
    events = Simulation(config, start=start).advance(start + timedelta(hours=18))
    for spec in config.agents:
        slots = shift_slots(config, spec, date(2026, 3, 2))
        steps = _transitions(events, spec.agent_id)
        logins = [ts for ts, kind, _ in steps if kind == "login"]
        logouts = [ts for ts, kind, _ in steps if kind == "logout"]
        assert len(logins) == len(logouts) == 1
        assert 120 <= (logins[0] - slots[0].start).total_seconds() <= 240
        assert 600 <= (slots[-1].end - logouts[0]).total_seconds() <= 1200
        pauses = [(ts, reason) for ts, kind, reason in steps if kind == "pause"]
        backs = [ts for ts, kind, _ in steps if kind == "back"]
        scheduled = [s for s in slots if s.activity != "work"]
        assert [reason for _, reason in pauses if reason != "Personal"] == ["Break", "Lunch", "Break"]
        assert [ts for ts, reason in pauses if reason != "Personal"] == [s.start for s in scheduled]
        for slot in scheduled:
            back = next(ts for ts in backs if ts > slot.start)
            assert 150 <= (back - slot.end).total_seconds() <= 300
        personal = [ts for ts, reason in pauses if reason == "Personal"]
        assert len(personal) == 1
        back = next(ts for ts in backs if ts > personal[0])
        assert 300 <= (back - personal[0]).total_seconds() <= 360
        assert not any(s.start <= personal[0] < s.end for s in scheduled)


def test_a_seed_gives_one_history_and_the_indiscipline_seed_changes_only_the_conduct() -> None:
    """One seed, one history; another Indiscipline.seed keeps the plan (pause starts) but changes the lateness."""
    config = _scheduled(ALWAYS, *(_spec(f"a{n}", 8 + n, 16 + n) for n in range(3)))
    start = PARIS_MONDAY + timedelta(hours=6)
    first, again = (Simulation(config, start=start).advance(start + timedelta(hours=16)) for _ in range(2))
    assert first == again
    reseeded = config.model_copy(
        update={"schedule": SchedulePolicy(indiscipline=ALWAYS.model_copy(update={"seed": 99}))}
    )
    other = Simulation(reseeded, start=start).advance(start + timedelta(hours=16))
    pause_starts = [
        [ts for ts, kind, r in _transitions(run, "a1") if kind == "pause" and r != "Personal"] for run in (first, other)
    ]
    assert pause_starts[0] == pause_starts[1]
    assert _transitions(first, "a1") != _transitions(other, "a1")


def test_scheduled_agents_still_take_calls_and_are_never_called_while_paused() -> None:
    """With callers, scheduled agents answer calls, and no member is rung while paused or logged out."""
    config = build_config(20, 2, seed=4, schedule=SchedulePolicy())
    events = Simulation(config, start=MONDAY + timedelta(hours=8)).advance(MONDAY + timedelta(hours=14))
    paused: dict[tuple[str, str], bool] = {}
    for event in events:
        if event.member is None:
            continue
        key = (event.member.agent_id, event.queue)
        if event.kind in ("member_added", "member_paused", "member_unpaused"):
            paused[key] = event.member.paused
        elif event.kind == "member_removed":
            del paused[key]
        elif event.kind == "agent_called":
            assert paused[key] is False
    kinds = Counter(e.kind for e in events)
    assert kinds["agent_connect"] > 100
    assert {e.reason for e in events if e.kind == "member_paused"} >= {"Break", "Lunch"}
    assert "Training" not in {e.reason for e in events if e.kind == "member_paused"}


def test_the_demo_defaults_show_exceptions_in_the_first_minutes() -> None:
    """The demo's site (40 agents, seed 1, day at 10:00): some agents on shift log in late within 15 minutes."""
    start = MONDAY + timedelta(hours=10)
    config = build_config(40, 4, seed=1, schedule=SchedulePolicy())
    sim = Simulation(config, start=start)
    at_once = {e.member.agent_id for e in sim.advance(start) if e.kind == "member_added" and e.member}
    later = sim.advance(start + timedelta(minutes=15))
    late = {
        e.member.agent_id
        for e in later
        if e.kind == "member_added" and e.member and e.ts >= start + timedelta(minutes=3)
    }
    days = (date(2026, 3, 1), date(2026, 3, 2))
    on_shift_now = {
        a.agent_id
        for a in config.agents
        if any(s.start <= start < s.end for d in days for s in shift_slots(config, a, d))
    }
    assert at_once < on_shift_now
    assert len(on_shift_now - at_once) >= 2 and (on_shift_now - at_once) <= late


# -- transfers and callbacks -------------------------------------------------------------------------


def test_a_share_of_answered_calls_end_in_transfers_and_a_third_of_those_escalate() -> None:
    """Over a seeded day about ``transfer_share`` of the calls are blind-transferred, about a third of them to the
    supervisor's escalation extension and the rest to another agent's extension; a transfer is a handled call."""
    config, _, events = _day()
    completes = [e for e in events if e.kind == "agent_complete"]
    transfers = [e for e in completes if e.reason == "transfer"]
    policy = config.transfers
    escalation = f"{policy.escalation_extension}@{policy.context}"
    escalations = [e for e in transfers if e.target == escalation]
    assert 0.025 <= len(transfers) / len(completes) <= 0.055
    assert 0.2 <= len(escalations) / len(transfers) <= 0.5
    extensions = {extension_of(agent.interface, policy.context) for agent in config.agents}
    for event in transfers:
        assert event.member is not None and event.talk_s > 0
        assert event.target == escalation or event.target in extensions - {
            extension_of(event.member.interface, policy.context)
        }
    assert {e.target for e in completes if e.reason != "transfer"} == {""}
    assert {e.reason for e in completes} == {"agent", "caller", "transfer"}


def test_extensions_ring_the_agent_in_its_context() -> None:
    """A PJSIP agent is dialled at its number in the phones' context, a Local agent at its own exten@context."""
    assert extension_of("PJSIP/1005", "from-internal") == "1005@from-internal"
    assert extension_of("Local/agent05@agents/n", "from-internal") == "agent05@agents"


def test_some_callers_call_back_later_with_the_same_number_and_name() -> None:
    """A callback is a new call with the same number and name, the next attempt, after the caller's previous
    call ended (an abandon soon, an answered call later), within the configured delays."""
    config, _, events = _day()
    policy = config.callbacks
    joins = [e for e in events if e.kind == "caller_join" and e.caller]
    ended = {
        e.caller.call_id: e
        for e in events
        if e.kind in ("caller_abandon", "caller_timeout", "agent_complete") and e.caller
    }
    last: dict[str, SimEvent] = {}
    origins: Counter[str] = Counter()
    for event in joins:
        caller = event.caller
        assert caller is not None
        previous = last.get(caller.number)
        if caller.attempt == 1:
            assert previous is None  # fresh numbers never collide within a day
        else:
            assert previous is not None and previous.caller is not None
            assert (previous.caller.name, previous.caller.attempt + 1) == (caller.name, caller.attempt)
            end = ended[previous.caller.call_id]
            assert 60 <= (event.ts - end.ts).total_seconds() <= policy.max_delay_s
            origins["answered" if end.kind == "agent_complete" else "unanswered"] += 1
        last[caller.number] = event
    assert origins["answered"] > 0 and origins["unanswered"] > 0
    assert 0.02 <= sum(origins.values()) / len(joins) <= 0.1
    assert max(e.caller.attempt for e in joins if e.caller) <= policy.max_attempts


def test_without_transfers_or_callbacks_no_call_is_transferred_or_repeated() -> None:
    """Zero shares turn both off (and a seed still gives one history)."""
    config = build_config(12, 2, seed=3)
    quiet = config.model_copy(
        update={
            "queues": tuple(q.model_copy(update={"transfer_share": 0.0}) for q in config.queues),
            "callbacks": config.callbacks.model_copy(update={"after_abandon_p": 0.0, "after_answer_p": 0.0}),
        }
    )
    _, events = _run(quiet, MONDAY + timedelta(hours=9), 4)
    assert all(e.reason != "transfer" for e in events if e.kind == "agent_complete")
    numbers = Counter(e.caller.number for e in events if e.kind == "caller_join" and e.caller)
    assert len(numbers) > 100 and max(numbers.values()) == 1
