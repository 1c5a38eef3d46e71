"""Schedule import: every row checked, all-or-nothing, DST gaps and folds, merge mode, and the round trip."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wallboard.core.adherence import schedule as sc
from wallboard.core.adherence.policy import AdherencePolicy
from wallboard.core.adherence.schedule import (
    RowProblem,
    Schedule,
    ScheduleError,
    Slot,
    describe,
    dump_csv,
    dump_schedule,
    parse_bytes,
    parse_csv,
    parse_json,
    schedule_from_document,
    select,
)
from wallboard.core.site import AgentConfig, SiteConfig, load_site_file

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE, EXAMPLE_SITE = ROOT / "examples" / "schedule.csv", ROOT / "deploy" / "site.example.yaml"
HEADER = "agent,date,start,end,activity\n"


def site(zone: str = "Europe/Paris", agents: tuple[str, ...] = ("a1", "a2", "a3"), **policy: object) -> SiteConfig:
    return SiteConfig(
        timezone=zone,
        agents={agent: AgentConfig() for agent in agents},
        adherence=AdherencePolicy.model_validate(policy),
    )


PARIS = site()
NEW_YORK = site("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def problems(text: str, where: SiteConfig = PARIS) -> list[str]:
    with pytest.raises(ScheduleError) as caught:
        parse_csv(HEADER + text, where)
    return [str(problem) for problem in caught.value.problems]


# -- valid files ---------------------------------------------------------------------------------------


def test_rows_become_utc_slots_on_their_local_day() -> None:
    """Winter in Paris is UTC+1: 09:00-12:30 local on 2026-02-02 is 08:00-11:30 UTC, day 2026-02-02."""
    schedule = parse_csv(HEADER + "a1,2026-02-02,09:00,12:30,work\na1,2026-02-02,12:30,13:15,Lunch\n", PARIS)
    assert schedule.slots == (
        Slot("a1", utc(2026, 2, 2, 8, 0), utc(2026, 2, 2, 11, 30), "work", date(2026, 2, 2)),
        Slot("a1", utc(2026, 2, 2, 11, 30), utc(2026, 2, 2, 12, 15), "lunch", date(2026, 2, 2)),
    )


def test_night_shift_crosses_midnight_with_plus_one_and_24_00() -> None:
    """`22:00`-`06:00+1` and `18:00`-`24:00` keep their row's day; summer Paris is UTC+2."""
    text = "a1,2026-06-10,22:00,06:00+1,work\na2,2026-06-10,18:00,24:00,work\na1,2026-06-11,06:00,06:15,break\n"
    schedule = parse_csv(HEADER + text, PARIS)
    night, morning = schedule.for_agent("a1")
    assert (night.start, night.end, night.day) == (utc(2026, 6, 10, 20), utc(2026, 6, 11, 4), date(2026, 6, 10))
    assert morning.start == night.end and morning.day == date(2026, 6, 11)
    (evening,) = schedule.for_agent("a2")
    assert evening.end == utc(2026, 6, 10, 22) and evening.seconds == 6 * 3600


def test_header_in_any_order_and_case_with_bom_and_semicolons() -> None:
    """A spreadsheet export (BOM, `;` separators, capitalised header in another order) reads the same."""
    text = "\ufeffActivity;Agent;DATE;Start;End\nwork;a1;2026-02-02;09:00:30;10:00\n"
    (slot,) = parse_csv(text, PARIS).slots
    assert (slot.agent, slot.activity, slot.start, slot.end) == (
        "a1",
        "work",
        utc(2026, 2, 2, 8, 0, 30),
        utc(2026, 2, 2, 9),
    )


def test_any_agent_when_the_site_lists_none_and_site_activities() -> None:
    """With no agents in the site file any id is accepted; the policy's own activities are known too."""
    open_site = site("UTC", agents=(), activities=["coaching"])
    (slot,) = parse_csv(HEADER + "zed,2026-02-02,09:00,10:00,Coaching\n", open_site).slots
    assert (slot.agent, slot.activity, slot.start) == ("zed", "coaching", utc(2026, 2, 2, 9))


def test_blank_rows_are_skipped_but_counted() -> None:
    """A blank line still takes a row number, so row N stays line N + 1 of the file."""
    assert problems("a1,2026-02-02,09:00,10:00,work\n\na1,2026-02-02,09:30,11:00,work\n") == [
        "row 3: overlaps row 1 (same agent 'a1')"
    ]


def test_the_example_file_is_valid_for_the_example_site() -> None:
    """examples/schedule.csv imports into deploy/site.example.yaml (Europe/Paris, any agent id)."""
    schedule = parse_csv(EXAMPLE.read_text(encoding="utf-8"), load_site_file(EXAMPLE_SITE))
    assert len(schedule.agents()) >= 3 and {"work", "break", "lunch"} <= {slot.activity for slot in schedule.slots}


# -- every problem, with its row -----------------------------------------------------------------------


def test_every_problem_is_listed_with_its_row_and_nothing_is_returned() -> None:
    """One file, one problem of each kind: all reported in row order, the file rejected as a whole."""
    text = (
        "a1,2026-02-02,09:00,12:00,work\n"  # 1 fine
        "bob,2026-02-02,09:00,10:00,work\n"  # 2 unknown agent
        "a2,2026-02-02,09:00,10:00,coffee\n"  # 3 unknown activity
        "a2,2026-02-30,09:00,10:00,work\n"  # 4 bad date
        "a2,2026-02-03,9h00,10:00,work\n"  # 5 bad time
        "a2,2026-02-04,10:00,25:00,work\n"  # 6 not a time of day
        "a2,2026-02-05,11:00,10:00,work\n"  # 7 end before start
        "a1,2026-02-02,11:00,13:00,break\n"  # 8 overlaps row 1
        "a3,2026-03-29,02:30,05:00,work\n"  # 9 DST gap
        "a3,2026-02-02,09:00,10:00\n"  # 10 four fields
        ",2026-02-02,09:00,10:00,work\n"  # 11 no agent
    )
    listed = problems(text)
    assert listed[0] == "row 2: unknown agent 'bob': not in the site file's agents"
    assert listed[1].startswith("row 3: unknown activity 'coffee': expected one of break, lunch, meeting")
    assert listed[2].startswith("row 4: bad date '2026-02-30'")
    assert listed[3].startswith("row 5: start time '9h00' is not a time")
    assert listed[4].startswith("row 6: end time '25:00' is not a time of day")
    assert listed[5:] == [
        "row 7: end before start: 11:00 to 10:00",
        "row 8: overlaps row 1 (same agent 'a1')",
        "row 9: start 02:30 does not exist on 2026-03-29 in Europe/Paris (DST gap)",
        "row 10: read 4 fields, expected 5 (agent,date,start,end,activity)",
        "row 11: missing agent",
    ]


def test_a_row_with_two_faults_reports_both() -> None:
    """Unknown agent and unknown activity on one row: two lines for that row."""
    assert [line.partition(":")[2][:25] for line in problems("zz,2026-02-02,09:00,10:00,nap\n")] == [
        " unknown agent 'zz': not ",
        " unknown activity 'nap': ",
    ]


def test_end_equal_to_start_and_zero_length_are_rejected() -> None:
    """An empty slot is an end before (or at) its start."""
    assert problems("a1,2026-02-02,09:00,09:00,work\n") == ["row 1: end before start: 09:00 to 09:00"]


def test_24_00_is_only_an_end() -> None:
    """`24:00` starts nothing and `24:00+1` is no time."""
    listed = problems("a1,2026-02-02,24:00,24:00+1,work\n")
    assert [line.split(" is ")[0] for line in listed] == ["row 1: start time '24:00'", "row 1: end time '24:00+1'"]


def test_header_problems_are_row_zero() -> None:
    """A missing or extra column rejects the file before any row (row 0: the file itself)."""
    with pytest.raises(ScheduleError) as caught:
        parse_csv("agent,date,begin,end,activity,team\na1,2026-02-02,09:00,10:00,work,x\n", PARIS)
    listed = [str(problem) for problem in caught.value.problems]
    assert listed[0].startswith("the header must be agent,date,start,end,activity")
    assert listed[1:] == ["missing column 'start'", "unexpected column 'begin'", "unexpected column 'team'"]
    assert {problem.row for problem in caught.value.problems} == {0}


def test_overlap_across_midnight_with_the_next_day() -> None:
    """A night shift to 06:00+1 overlaps the next day's 05:00 start (same agent, real time)."""
    text = "a1,2026-02-02,22:00,06:00+1,work\na1,2026-02-03,05:00,09:00,work\na2,2026-02-03,05:00,09:00,work\n"
    assert problems(text) == ["row 2: overlaps row 1 (same agent 'a1')"]


def test_problems_are_capped_with_a_count_of_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_PROBLEMS the list ends with one line saying how many more there are."""
    monkeypatch.setattr(sc, "MAX_PROBLEMS", 3)
    listed = problems("".join(f"x{n},2026-02-02,09:00,10:00,work\n" for n in range(5)))
    assert len(listed) == 4 and listed[-1] == "... and 2 more problems not listed"


def test_too_many_rows_or_bytes_reject_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """MAX_ROWS and MAX_BYTES bound a file, CSV and JSON alike."""
    monkeypatch.setattr(sc, "MAX_ROWS", 2)
    rows = "a1,2026-02-02,09:00,10:00,work\na1,2026-02-02,10:00,11:00,work\na1,2026-02-02,11:00,12:00,work\n"
    assert problems(rows) == ["more than 2 rows: split the file"]
    json_rows = [{"agent": "a1", "date": "2026-02-02", "start": "09:00", "end": "10:00", "activity": "work"}] * 3
    with pytest.raises(ScheduleError, match="3 rows: at most 2"):
        parse_json(json_rows, PARIS)
    monkeypatch.setattr(sc, "MAX_BYTES", 10)
    with pytest.raises(ScheduleError, match="read more than 10 bytes"):
        parse_bytes(b"agent,date,start,end,activity\n", PARIS, "csv")


def test_unreadable_files() -> None:
    """Bytes that are not UTF-8, text that is not JSON, JSON that is not rows: one row-0 problem each."""
    cases: list[tuple[bytes, sc.Format, str]] = [
        (b"agent,date\n\xff", "csv", "not UTF-8 text: byte 11 is 0xff"),
        (b"[{", "json", "not JSON: Expecting property name enclosed in double quotes at line 1 column 3"),
        (b'{"rows": []}', "json", 'expected a list of rows or {"slots": [...]}, read dict'),
    ]
    for data, kind, message in cases:
        with pytest.raises(ScheduleError) as caught:
            parse_bytes(data, PARIS, kind)
        assert caught.value.problems == [RowProblem(0, message)]


def test_json_rows_are_checked_field_by_field() -> None:
    """JSON objects need the five string fields and nothing else; `{"slots": [...]}` is accepted."""
    good = {"agent": "a1", "date": "2026-02-02", "start": "09:00", "end": "10:00", "activity": "work"}
    assert parse_json({"slots": [good]}, PARIS) == parse_json([good], PARIS)
    bad = [good, {**good, "team": "x"}, {"agent": "a2", "date": 20260202}, "a1,2026-02-02"]
    with pytest.raises(ScheduleError) as caught:
        parse_json(bad, PARIS)
    assert [str(problem) for problem in caught.value.problems] == [
        "row 2: unexpected field 'team'",
        "row 3: missing field 'start'",
        "row 3: missing field 'end'",
        "row 3: missing field 'activity'",
        "row 3: field 'date' must be a string, read int",
        "row 4: expected an object with agent, date, start, end, activity, read str",
    ]


# -- daylight saving time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "day", "clock", "zone"),
    [
        (PARIS, "2026-03-29", "02:30", "Europe/Paris"),
        (PARIS, "2026-03-29", "02:00", "Europe/Paris"),
        (NEW_YORK, "2026-03-08", "02:30", "America/New_York"),
        (NEW_YORK, "2026-03-08", "02:59:59", "America/New_York"),
    ],
)
def test_a_time_in_the_dst_gap_is_rejected(where: SiteConfig, day: str, clock: str, zone: str) -> None:
    """A local time the clocks skip does not exist: the row says which time, day and zone."""
    listed = problems(f"a1,{day},01:00,{clock},work\n", where)
    assert listed == [f"row 1: end {clock} does not exist on {day} in {zone} (DST gap)"]


def test_the_gap_edges_exist() -> None:
    """01:59 and 03:00 exist on the Paris spring-forward day: 01:00 UTC lies between them (one real minute)."""
    (slot,) = parse_csv(HEADER + "a1,2026-03-29,01:59,03:00,work\n", PARIS).slots
    assert (slot.start, slot.end) == (utc(2026, 3, 29, 0, 59), utc(2026, 3, 29, 1, 0))


@pytest.mark.parametrize(
    ("where", "day", "clock", "first"),
    [
        (PARIS, "2026-10-25", "02:30", utc(2026, 10, 25, 0, 30)),  # 02:30 CEST, not 02:30 CET (01:30 UTC)
        (NEW_YORK, "2026-11-01", "01:30", utc(2026, 11, 1, 5, 30)),  # 01:30 EDT, not 01:30 EST (06:30 UTC)
    ],
)
def test_an_ambiguous_time_is_its_first_occurrence(where: SiteConfig, day: str, clock: str, first: datetime) -> None:
    """In the repeated hour of a fall-back day a wall time means the one before the clocks go back."""
    (slot,) = parse_csv(HEADER + f"a1,{day},{clock},09:00,work\n", where).slots
    assert slot.start == first


def test_a_whole_dst_day_has_its_real_length() -> None:
    """00:00-24:00 lasts 23 h on the spring-forward day and 25 h on the fall-back day (Paris and New York)."""
    text = "a1,2026-03-29,00:00,24:00,work\na2,2026-10-25,00:00,24:00,work\n"
    spring, fall = parse_csv(HEADER + text, PARIS).slots
    assert (spring.seconds, fall.seconds) == (23 * 3600, 25 * 3600)
    text = "a1,2026-03-08,00:00,24:00,work\na2,2026-11-01,00:00,24:00,work\n"
    spring, fall = parse_csv(HEADER + text, NEW_YORK).slots
    assert (spring.seconds, fall.seconds) == (23 * 3600, 25 * 3600)


def test_a_night_shift_over_the_fall_back_is_an_hour_longer() -> None:
    """22:00-06:00+1 across the Paris fall-back night is 9 real hours (20:00 UTC to 05:00 UTC)."""
    (slot,) = parse_csv(HEADER + "a1,2026-10-24,22:00,06:00+1,work\n", PARIS).slots
    assert (slot.start, slot.end) == (utc(2026, 10, 24, 20), utc(2026, 10, 25, 5))


def test_dump_refuses_the_second_pass_of_a_repeated_hour() -> None:
    """01:30 UTC on 2026-10-25 is the second 02:30 in Paris: no wall-clock row says that, so dump raises."""
    slot = Slot("a1", utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 3), "work", date(2026, 10, 25))
    with pytest.raises(ScheduleError, match=r"repeated hour \(DST fold\)"):
        dump_schedule(Schedule((slot,)), PARIS)


# -- merge mode ------------------------------------------------------------------------------------------


def test_merge_replaces_only_the_agent_days_of_the_file() -> None:
    """a1's Feb 2 is replaced, a1's Feb 3 and a2's Feb 2 are kept."""
    stored = parse_csv(
        HEADER + "a1,2026-02-02,09:00,17:00,work\na1,2026-02-03,09:00,17:00,work\na2,2026-02-02,08:00,16:00,work\n",
        PARIS,
    )
    merged = parse_csv(HEADER + "a1,2026-02-02,13:00,21:00,work\n", PARIS, merge_into=stored)
    assert [(s.agent, s.day.day, s.start.hour) for s in merged.slots] == [("a1", 2, 12), ("a1", 3, 8), ("a2", 2, 7)]


def test_merge_checks_overlaps_with_what_it_keeps() -> None:
    """A new Feb 3 early shift overlapping the kept Feb 2 night shift is a problem on the file's row."""
    stored = parse_csv(HEADER + "a1,2026-02-02,22:00,06:00+1,work\n", PARIS)
    with pytest.raises(ScheduleError) as caught:
        parse_csv(HEADER + "a2,2026-02-03,05:00,09:00,work\na1,2026-02-03,05:00,09:00,work\n", PARIS, merge_into=stored)
    assert [str(p) for p in caught.value.problems] == [
        "row 2: overlaps the stored work slot 22:00-06:00+1 of 2026-02-02 ('a1')"
    ]


# -- stored documents, export --------------------------------------------------------------------------------


def test_stored_documents_accept_names_the_site_no_longer_has() -> None:
    """A stored schedule survives an agent or activity removed from the site file; a broken row still raises."""
    rows = [{"agent": "gone", "date": "2026-02-02", "start": "09:00", "end": "10:00", "activity": "retired"}]
    schedule = schedule_from_document({"version": 3, "slots": rows}, PARIS)
    assert [(s.agent, s.activity) for s in schedule.slots] == [("gone", "retired")]
    with pytest.raises(ScheduleError, match="row 1: end before start"):
        schedule_from_document({"version": 3, "slots": [{**rows[0], "end": "08:00"}]}, PARIS)
    with pytest.raises(ScheduleError, match="expected a list of rows"):
        schedule_from_document(None, PARIS)


def test_dump_writes_plus_one_24_00_and_seconds() -> None:
    """The JSON rows use the row forms a planner writes, and the CSV is the same rows under the header."""
    text = "a1,2026-02-02,22:00,06:00:30+1,work\na2,2026-02-02,18:00,24:00,meeting\n"
    schedule = parse_csv(HEADER + text, PARIS)
    assert dump_schedule(schedule, PARIS) == [
        {"agent": "a1", "date": "2026-02-02", "start": "22:00", "end": "06:00:30+1", "activity": "work"},
        {"agent": "a2", "date": "2026-02-02", "start": "18:00", "end": "24:00", "activity": "meeting"},
    ]
    assert dump_csv(schedule, PARIS) == HEADER + text


def test_select_and_describe() -> None:
    """Filtering by agent and day, and the counts used in answers and the audit."""
    text = "a1,2026-02-02,09:00,10:00,work\na1,2026-02-03,09:00,10:00,work\na2,2026-02-03,09:00,10:00,work\n"
    schedule = parse_csv(HEADER + text, PARIS)
    assert len(select(schedule, agent="a1").slots) == 2
    assert [s.agent for s in select(schedule, day=date(2026, 2, 3)).slots] == ["a1", "a2"]
    assert describe(schedule) == {
        "slots": 3,
        "agents": 2,
        "days": 2,
        "first_day": "2026-02-02",
        "last_day": "2026-02-03",
    }


# -- properties ------------------------------------------------------------------------------------------

ZONES = ["Europe/Paris", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"]
DST_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 8), date(2026, 11, 1), date(2026, 4, 5)]


def _clock(seconds: int) -> str:
    day, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")
    return text + ("+1" if day else "")


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, SiteConfig]:
    """A zone and, per agent, back-to-back slots on DST days or any day of 2025-2027, as CSV text."""
    zone = draw(st.sampled_from(ZONES))
    lines = []
    for agent in draw(st.lists(st.sampled_from(["a1", "a2", "a3"]), min_size=1, max_size=3, unique=True)):
        day = draw(st.sampled_from(DST_DAYS) | st.dates(date(2025, 1, 1), date(2027, 12, 31)))
        grain = draw(st.sampled_from([60, 900, 1]))
        steps = st.integers(0, 2 * 86400 // grain - 1).map(grain.__mul__)
        bounds = sorted(draw(st.lists(steps, min_size=2, max_size=6, unique=True)))
        for start, end in zip(bounds, bounds[1:], strict=False):
            activity = draw(st.sampled_from(["work", "break", "lunch", "Training", "offline"]))
            lines.append(f"{agent},{day},{_clock(start)},{_clock(end)},{activity}")
    return HEADER + "\n".join(lines) + "\n", site(zone)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(csv_files())
def test_round_trip_through_json_and_csv(case: tuple[str, SiteConfig]) -> None:
    """parse_json(dump_schedule(s)) == s and parse_csv(dump_csv(s)) == s for any schedule a file gives."""
    text, where = case
    try:
        schedule = parse_csv(text, where)
    except ScheduleError as exc:  # only a DST gap may refuse these files
        assert all("(DST gap)" in problem.message for problem in exc.problems), exc.problems
        assume(False)
        return
    rows = json.loads(json.dumps(dump_schedule(schedule, where)))
    assert parse_json(rows, where) == schedule
    assert parse_csv(dump_csv(schedule, where), where) == schedule
    assert all(slot.end > slot.start for slot in schedule.slots)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('a1,2026-:0+9 \n";'))).map(lambda body: HEADER + body))
def test_any_text_is_a_schedule_or_a_schedule_error(text: str) -> None:
    """Whatever follows the header, parsing returns a Schedule or raises ScheduleError with rows listed."""
    try:
        schedule = parse_csv(text, PARIS)
    except ScheduleError as exc:
        assert exc.problems and all(problem.row >= 0 for problem in exc.problems)
    else:
        assert all(slot.end - slot.start > timedelta(0) for slot in schedule.slots)
