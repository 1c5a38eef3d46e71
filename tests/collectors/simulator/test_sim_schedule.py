"""The generated schedule: shifts cut into work, breaks and lunch on the site's clock, and its CSV form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.simulator.config import (
    AgentSpec,
    BreakPolicy,
    Indiscipline,
    QueueSpec,
    SchedulePolicy,
    SimConfig,
    build_config,
    site_config,
)
from collectors.simulator.schedule import (
    MIN_WORK_S,
    ScheduleGenerationError,
    draw_conduct,
    generate_schedule,
    on_wall_clock,
    schedule_around,
    schedule_csv,
    schedule_for_days,
    schedule_rows,
    shift_slots,
)
from wallboard.core.adherence.schedule import Slot

PARIS = ZoneInfo("Europe/Paris")


def _agent(start_h: float, end_h: float, agent_id: str = "agent01") -> AgentSpec:
    return AgentSpec(
        agent_id=agent_id,
        name=f"Agent {agent_id}",
        interface="PJSIP/1001",
        skills=(("support", 0),),
        shift_start_h=start_h,
        shift_end_h=end_h,
    )


def _config(*agents: AgentSpec, timezone: str = "Europe/Paris", **fields: object) -> SimConfig:
    """A center whose breaks sit exactly at their share of the shift (no jitter), so plans are computable."""
    fields.setdefault("schedule", SchedulePolicy(jitter_minutes=0))
    return SimConfig(agents=agents, queues=(QueueSpec(name="support"),), timezone=timezone, **fields)


def _local(slot: Slot, tz: ZoneInfo = PARIS) -> tuple[str, str, str]:
    return (slot.start.astimezone(tz).strftime("%H:%M"), slot.end.astimezone(tz).strftime("%H:%M"), slot.activity)


def test_a_day_shift_has_two_breaks_and_a_lunch_at_their_share_of_the_shift() -> None:
    """9:00-17:00: breaks after 2 h (11:00) and 6.24 h (15:14:24, rounded to 15:15), lunch after 4 h (13:00)."""
    slots = shift_slots(_config(_agent(9, 17)), _agent(9, 17), date(2026, 3, 2))
    assert [_local(slot) for slot in slots] == [
        ("09:00", "11:00", "work"),
        ("11:00", "11:15", "break"),
        ("11:15", "13:00", "work"),
        ("13:00", "13:30", "lunch"),
        ("13:30", "15:15", "work"),
        ("15:15", "15:30", "break"),
        ("15:30", "17:00", "work"),
    ]
    assert {slot.day for slot in slots} == {date(2026, 3, 2)}
    assert slots[0].start == datetime(2026, 3, 2, 8, tzinfo=UTC)  # CET is UTC+1


def test_break_lengths_come_from_the_break_policy() -> None:
    """break_minutes and lunch_minutes set the pause slots' lengths."""
    config = _config(_agent(9, 17), breaks=BreakPolicy(break_minutes=10, lunch_minutes=45))
    slots = shift_slots(config, config.agents[0], date(2026, 3, 2))
    assert [slot.seconds / 60 for slot in slots if slot.activity != "work"] == [10, 45, 10]


def test_without_breaks_a_night_shift_is_one_slot_ending_the_next_day() -> None:
    """22:00-06:00 with breaks disabled: one work slot, its CSV end written 06:00+1 on the start's date."""
    config = _config(_agent(22, 6), breaks=BreakPolicy(enabled=False))
    schedule = generate_schedule(config, date(2026, 3, 2), site_config(config))
    assert schedule.slots == (
        Slot("agent01", datetime(2026, 3, 2, 21, tzinfo=UTC), datetime(2026, 3, 3, 5, tzinfo=UTC), "work",
             date(2026, 3, 2)),
    )  # fmt: skip
    assert (
        schedule_csv(schedule, "Europe/Paris")
        == "agent,date,start,end,activity\nagent01,2026-03-02,22:00,06:00+1,work\n"
    )


def test_a_night_shifts_slots_after_midnight_belong_to_the_next_day() -> None:
    """20:00-04:00: the second break (at 6.24 h -> 02:15) starts after midnight, so its row is dated the next day."""
    config = _config(_agent(20, 4))
    rows = schedule_rows(generate_schedule(config, date(2026, 3, 2), site_config(config)), "Europe/Paris")
    assert [(row["date"], row["start"], row["end"], row["activity"]) for row in rows] == [
        ("2026-03-02", "20:00", "22:00", "work"),
        ("2026-03-02", "22:00", "22:15", "break"),
        ("2026-03-02", "22:15", "00:00+1", "work"),
        ("2026-03-03", "00:00", "00:30", "lunch"),
        ("2026-03-03", "00:30", "02:15", "work"),
        ("2026-03-03", "02:15", "02:30", "break"),
        ("2026-03-03", "02:30", "04:00", "work"),
    ]


def test_hour_offset_moves_the_shift_on_the_real_clock() -> None:
    """A day played 2 h ahead of the clock has its 9:00-17:00 shift at 07:00-15:00 local."""
    config = _config(_agent(9, 17), hour_offset=2.0, breaks=BreakPolicy(enabled=False))
    (slot,) = shift_slots(config, config.agents[0], date(2026, 3, 2))
    assert _local(slot) == ("07:00", "15:00", "work")


def test_a_shift_on_the_spring_dst_day_is_an_hour_shorter_and_breaks_follow_real_time() -> None:
    """Paris 2026-03-29, 00:00-08:00 wall clock = 7 real hours; breaks at 1h45, 3h30 and 5h27.6 (-> 5h30)."""
    config = _config(_agent(0, 8))
    slots = shift_slots(config, config.agents[0], date(2026, 3, 29))
    assert slots[0].start == datetime(2026, 3, 28, 23, tzinfo=UTC) and slots[-1].end == datetime(
        2026, 3, 29, 6, tzinfo=UTC
    )
    assert [_local(slot) for slot in slots if slot.activity != "work"] == [
        ("01:45", "03:00", "break"),  # 00:45-01:00 UTC: 15 real minutes across the change
        ("04:30", "05:00", "lunch"),
        ("06:30", "06:45", "break"),
    ]


def test_a_shift_starting_in_the_dst_gap_starts_after_it() -> None:
    """02:30 does not exist on 2026-03-29 in Paris: the shift starts at 03:30 CEST (01:30 UTC), the real instant."""
    config = _config(_agent(2.5, 10.5), breaks=BreakPolicy(enabled=False))
    (slot,) = shift_slots(config, config.agents[0], date(2026, 3, 29))
    assert slot.start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert _local(slot) == ("03:30", "10:30", "work")


def test_a_site_in_another_time_zone_is_refused() -> None:
    """generate_schedule refuses a site whose time zone is not the simulated center's."""
    config = _config(_agent(9, 17))
    site = site_config(config).model_copy(update={"timezone": "UTC"})
    with pytest.raises(ScheduleGenerationError, match="Europe/Paris"):
        generate_schedule(config, date(2026, 3, 2), site)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_moves_the_breaks() -> None:
    """A schedule is a function of (config, day); the seed only moves the breaks (jitter), not the shifts."""
    config = build_config(20, 3, seed=5, timezone="Europe/Paris", schedule=SchedulePolicy())
    day = date(2026, 3, 2)
    first = generate_schedule(config, day, site_config(config))
    assert first == generate_schedule(config, day, site_config(config))
    other = generate_schedule(config.model_copy(update={"seed": 6}), day, site_config(config))
    assert first != other
    shifts = {(a, s[0].start, s[-1].end) for a in first.agents() for s in [first.for_agent(a)]}
    assert shifts == {(a, s[0].start, s[-1].end) for a in other.agents() for s in [other.for_agent(a)]}


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    day=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
    hour_offset=st.floats(-12, 12),
)
def test_every_agent_has_one_gapless_shift_with_no_overlaps(
    seed: int, day: date, timezone: str, hour_offset: float
) -> None:
    """Slots of an agent follow each other without gap or overlap, pauses keep MIN_WORK_S of work around them."""
    config = build_config(12, 2, seed=seed, timezone=timezone, hour_offset=hour_offset, schedule=SchedulePolicy())
    schedule = generate_schedule(config, day, site_config(config))
    assert set(schedule.agents()) == {agent.agent_id for agent in config.agents}
    tz = ZoneInfo(timezone)
    for agent in config.agents:
        slots = schedule.for_agent(agent.agent_id)
        assert all(a.end == b.start for a, b in pairwise(slots))
        assert slots[0].start.astimezone(tz).date() == day
        assert slots[0].activity == slots[-1].activity == "work"
        assert all(slot.seconds >= MIN_WORK_S for slot in slots if slot.activity == "work")
        pauses = [slot.activity for slot in slots if slot.activity != "work"]
        same_offset = slots[0].start.astimezone(tz).utcoffset() == slots[-1].end.astimezone(tz).utcoffset()
        assert pauses == ["break", "lunch", "break"] if same_offset else set(pauses) <= {"break", "lunch"}
        assert all(slot.day == slot.start.astimezone(tz).date() for slot in slots)
        assert {slot.start.astimezone(tz).minute % 5 for slot in slots[1:-1]} == {0}


def test_consecutive_days_never_overlap() -> None:
    """Shifts of two days for one agent (including the night crew) leave time between them."""
    config = build_config(40, 4, seed=2, timezone="Europe/Paris", schedule=SchedulePolicy())
    schedule = schedule_for_days(config, (date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)), site_config(config))
    for agent in schedule.agents():
        slots = schedule.for_agent(agent)
        assert all(a.end <= b.start for a, b in pairwise(slots))
    assert schedule.days()[0] == date(2026, 3, 28) and date(2026, 3, 31) in schedule.days()  # night shifts


def test_conduct_with_no_indiscipline_is_punctual() -> None:
    """Indiscipline.none() draws no lateness, no overrun, no early logout, no unscheduled pause."""
    config = _config(_agent(9, 17))
    slots = shift_slots(config, config.agents[0], date(2026, 3, 2))
    conduct = draw_conduct(Indiscipline.none(), 1, slots)
    assert (conduct.late_login_s, conduct.early_logout_s, conduct.unscheduled) == (0, 0, None)
    assert conduct.late_returns_s == (0, 0, 0)


def test_conduct_amounts_stay_in_their_configured_spans() -> None:
    """With every probability 1, each amount lies in its span and the unscheduled pause sits inside a work slot."""
    always = Indiscipline(
        late_login_p=1, late_login_minutes=(2, 4), late_return_p=1, late_return_s=(30, 60), early_logout_p=1,
        early_logout_minutes=(10, 20), unscheduled_pause_p=1, unscheduled_pause_minutes=(5, 6),
        unscheduled_reasons=("Personal", "Smoke"),
    )  # fmt: skip
    config = _config(_agent(9, 17))
    slots = shift_slots(config, config.agents[0], date(2026, 3, 2))
    for seed in range(30):
        conduct = draw_conduct(always, seed, slots)
        assert 120 <= conduct.late_login_s <= 240 and 600 <= conduct.early_logout_s <= 1200
        assert len(conduct.late_returns_s) == 3 and all(30 <= s <= 60 for s in conduct.late_returns_s)
        assert conduct.unscheduled is not None
        begin, seconds, reason = conduct.unscheduled
        assert 300 <= seconds <= 360 and reason in {"Personal", "Smoke"}
        work = [
            s
            for s in slots
            if s.activity == "work" and s.start <= begin and begin + timedelta(seconds=seconds) <= s.end
        ]
        assert len(work) == 1
    assert draw_conduct(always, 3, slots) == draw_conduct(always, 3, slots) != draw_conduct(always, 4, slots)


def test_csv_times_keep_their_seconds_when_they_have_some() -> None:
    """A boundary off the minute (a fractional hour offset) is written HH:MM:SS."""
    config = _config(_agent(9, 17), breaks=BreakPolicy(enabled=False))
    moment = datetime(2026, 3, 2, 8, 0, 30, tzinfo=UTC)
    schedule = generate_schedule(config, date(2026, 3, 2), site_config(config))
    shifted = type(schedule).of([Slot("agent01", moment, schedule.slots[0].end, "work", date(2026, 3, 2))])
    assert schedule_rows(shifted, "Europe/Paris")[0]["start"] == "09:00:30"


def test_a_pause_in_the_repeated_hour_is_dropped() -> None:
    """New York 2026-11-01: the lunch of a 22:00-06:00 shift (01:30 EST, the hour's second pass) is left out."""
    config = _config(_agent(22, 6), timezone="America/New_York")
    slots = shift_slots(config, config.agents[0], date(2026, 10, 31))
    new_york = ZoneInfo("America/New_York")
    assert slots[0].start == datetime(2026, 11, 1, 2, tzinfo=UTC) and slots[-1].end == datetime(
        2026, 11, 1, 11, tzinfo=UTC
    )
    assert [_local(slot, new_york) for slot in slots if slot.activity != "work"] == [
        ("00:15", "00:30", "break"),  # 04:15 UTC, 2.25 h in
        ("04:00", "04:15", "break"),  # 09:00 UTC, 7.02 h in, rounded
    ]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    day=st.sampled_from(
        [date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 25), date(2026, 10, 31), date(2026, 6, 1)]
    ),
    timezone=st.sampled_from(["Europe/Paris", "America/New_York"]),
    hour_offset=st.sampled_from([0.0, -3.5, 5.25]),
)
def test_the_csv_imports_back_as_the_same_schedule(seed: int, day: date, timezone: str, hour_offset: float) -> None:
    """parse_csv (`wallboard schedule import`) reads schedule_csv back as the same schedule, DST days too."""
    from wallboard.core.adherence.schedule import parse_csv

    config = build_config(10, 2, seed=seed, timezone=timezone, hour_offset=hour_offset, schedule=SchedulePolicy())
    site = site_config(config)
    schedule = schedule_for_days(config, (day, day + timedelta(days=1)), site)
    assert parse_csv(schedule_csv(schedule, timezone), site) == schedule


def test_on_the_wall_clock_a_faster_run_squeezes_the_schedule_towards_its_start() -> None:
    """At speed 10, model time origin + t happens at wall time origin + t/10; speed 1 changes nothing."""
    config = _config(_agent(9, 17), breaks=BreakPolicy(enabled=False))
    schedule = generate_schedule(config, date(2026, 3, 2), site_config(config))
    origin = datetime(2026, 3, 2, 7, tzinfo=UTC)  # 08:00 Paris; the shift is 08:00-16:00 UTC
    assert on_wall_clock(schedule, origin, 1.0, "Europe/Paris") is schedule
    (slot,) = on_wall_clock(schedule, origin, 10.0, "Europe/Paris").slots
    assert (slot.start, slot.end) == (origin + timedelta(minutes=6), origin + timedelta(minutes=54))
    with pytest.raises(ScheduleGenerationError):
        on_wall_clock(schedule, origin, 0.0, "Europe/Paris")


def test_schedule_around_covers_the_night_shift_running_at_the_start() -> None:
    """Started at 02:00, the simulation plays yesterday's night shift, today's and tomorrow's shifts."""
    config = _config(_agent(22, 6, "night"), _agent(9, 17, "day"), breaks=BreakPolicy(enabled=False))
    schedule = schedule_around(config, site_config(config), datetime(2026, 3, 2, 1, tzinfo=UTC))
    assert [(s.agent, s.day) for s in schedule.slots] == [
        ("day", date(2026, 3, 1)), ("day", date(2026, 3, 2)), ("day", date(2026, 3, 3)),
        ("night", date(2026, 3, 1)), ("night", date(2026, 3, 2)), ("night", date(2026, 3, 3)),
    ]  # fmt: skip
