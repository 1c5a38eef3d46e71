"""AdherenceBook: hand-computed days (breaks, a late return, late login, early logout, night shift, DST days)."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.core.adherence.policy import AdherencePolicy
from wallboard.core.adherence.schedule import Schedule, Slot
from wallboard.core.adherence.tracker import AdherenceBook, merge_figures
from wallboard.core.site import AgentConfig, SiteConfig, TeamConfig

DAY = date(2026, 3, 2)
PARIS = "Europe/Paris"


def site_of(tz: str = "UTC", **adherence: Any) -> SiteConfig:
    return SiteConfig(
        timezone=tz,
        teams={"care": TeamConfig(name="Care")},
        agents={
            "a1": AgentConfig(name="Alice", team="care"),
            "a2": AgentConfig(name="Bob", team="care"),
            "a3": AgentConfig(name="Carol"),
        },
        adherence=AdherencePolicy(**adherence),
    )


def local(day: date, hhmm: str, tz: str = "UTC") -> datetime:
    """``HH:MM`` (``+1``: the next day) on ``day`` in ``tz``, as UTC."""
    clock, _, plus = hhmm.partition("+")
    hours, minutes = (int(part) for part in clock.split(":"))
    moment = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)) + timedelta(days=int(plus or 0))
    wall = moment.replace(hour=hours, minute=minutes)
    return wall.astimezone(UTC)


def slots(agent: str, day: date, rows: str, tz: str = "UTC") -> list[Slot]:
    """Slots from "09:00-11:00 work, 11:00-11:15 break" (local times on ``day``)."""
    out = []
    for row in rows.split(","):
        span, activity = row.split()
        start, end = span.split("-")
        out.append(Slot(agent, local(day, start, tz), local(day, end, tz), activity, day))
    return out


def row(state: str, since: datetime, reason: str | None = None) -> dict[str, Any]:
    return {"state": state, "reason": reason, "since": since.isoformat()}


class Driver:
    """Feeds a book agent rows at given moments, the way the runner does at each publish."""

    def __init__(self, book: AdherenceBook) -> None:
        self.book = book
        self.agents: dict[str, dict[str, Any]] = {}

    def at(self, moment: datetime, **changes: tuple[str, str | None]) -> dict[str, Any]:
        for agent, (state, reason) in changes.items():
            self.agents[agent] = row(state, moment, reason)
        self.book.observe(self.agents, moment)
        return self.book.figures(moment)


def approx(value: float) -> Any:
    return pytest.approx(value, abs=1e-6)


def test_breaks_and_a_late_return_from_break() -> None:
    """A break taken 1 min early is forgiven (grace); returning 5 min late is out from the first second."""
    schedule = Schedule.of(slots("a1", DAY, "09:00-11:00 work, 11:00-11:15 break, 11:15-13:00 work"))
    drive = Driver(AdherenceBook(site_of(), schedule, 1))
    drive.at(local(DAY, "08:50"))
    drive.at(local(DAY, "09:00"), a1=("available", None))
    drive.at(local(DAY, "10:59"), a1=("paused", "Break"))  # 60 s early: within the 120 s grace
    grace = drive.at(local(DAY, "11:16") + timedelta(seconds=30))["agents"]["a1"]
    assert (grace["status"], grace["out_for_s"], grace["exception"]) == ("grace", 90.0, None)
    assert grace["out_since"] == local(DAY, "11:15").isoformat()
    out = drive.at(local(DAY, "11:18"))["agents"]["a1"]
    # 09:00-11:18 = 138 min scheduled; out 11:15-11:18 = 3 min -> 135 / 138
    assert (out["status"], out["exception"], out["scheduled"], out["actual"]) == (
        "out",
        "wrong_activity",
        "work",
        "break",
    )
    assert out["adherence_pct"] == approx(135 / 138 * 100)
    drive.at(local(DAY, "11:20"), a1=("available", None))
    figures = drive.at(local(DAY, "12:00"))
    agent = figures["agents"]["a1"]
    # scheduled 09:00-12:00 = 180 min; out 11:15-11:20 = 5 min; the early minute is forgiven -> 175 / 180
    assert agent["adherence_pct"] == approx(175 / 180 * 100)
    # logged in 09:00-12:00 = 180 min (a break is logged in) / working (non-offline) slots 180 min
    assert agent["conformance_pct"] == approx(100.0)
    assert (agent["status"], agent["minutes_late"]) == ("in", 0.0)
    assert agent["next"] is None
    [exception] = figures["exceptions"]
    assert exception["kind"] == "wrong_activity" and exception["minutes"] == approx(5.0)
    assert (exception["start"], exception["end"]) == (local(DAY, "11:15").isoformat(), local(DAY, "11:20").isoformat())
    assert (exception["name"], exception["team"]) == ("Alice", "care")


def test_late_login_and_early_logout() -> None:
    """Logging in 10 min late and logging out 1 h early are named, counted and the lateness measured."""
    schedule = Schedule.of(slots("a2", DAY, "09:00-12:00 work, 12:00-12:30 lunch, 12:30-17:00 work"))
    drive = Driver(AdherenceBook(site_of(), schedule, 1))
    drive.at(local(DAY, "08:50"))  # the book starts; a2 was never seen by the engine: offline
    late = drive.at(local(DAY, "09:05"))["agents"]["a2"]
    assert (late["status"], late["exception"], late["minutes_late"]) == ("out", "late_login", approx(5.0))
    drive.at(local(DAY, "09:10"), a2=("available", None))
    drive.at(local(DAY, "12:00"), a2=("paused", "lunch"))
    drive.at(local(DAY, "12:30"), a2=("available", None))
    drive.at(local(DAY, "16:00"), a2=("logged_out", None))
    figures = drive.at(local(DAY, "16:30"))
    agent = figures["agents"]["a2"]
    # scheduled 09:00-16:30 = 450 min; out: 09:00-09:10 (10) + 16:00-16:30 (30) -> 410 / 450
    assert agent["adherence_pct"] == approx(410 / 450 * 100)
    # logged in 09:10-16:00 = 410 min / working 450 min
    assert agent["conformance_pct"] == approx(410 / 450 * 100)
    assert agent["minutes_late"] == approx(10.0)
    assert (agent["status"], agent["exception"], agent["out_for_s"]) == ("out", "early_logout", 1800.0)
    assert agent["next"] is None
    kinds = [(e["kind"], e["minutes"], e["end"]) for e in figures["exceptions"]]
    assert kinds == [
        ("early_logout", approx(30.0), None),
        ("late_login", approx(10.0), local(DAY, "09:10").isoformat()),
    ]


def test_team_and_site_sum_the_agents_seconds() -> None:
    """Team figures are sums of seconds (not an average of percentages); a teamless agent counts for the site."""
    schedule = Schedule.of(
        [
            *slots("a1", DAY, "09:00-10:00 work"),
            *slots("a2", DAY, "09:30-10:00 work, 10:00-10:30 break"),
            *slots("a3", DAY, "09:00-10:00 work"),
        ]
    )
    drive = Driver(AdherenceBook(site_of(), schedule, 4))
    drive.at(local(DAY, "08:00"), a1=("available", None), a3=("available", None))
    drive.at(local(DAY, "09:40"), a2=("available", None))  # a2 10 min late
    figures = drive.at(local(DAY, "10:00"))
    care = figures["teams"]["care"]
    # a1: 60 of 60 in; a2: 20 of 30 in (out 09:30-09:40) -> (60 + 20) / 90
    assert care["adherence_pct"] == approx(80 / 90 * 100)
    # logged in: a1 08:00-10:00 = 120, a2 09:40-10:00 = 20 -> 140 / 90 working
    assert care["conformance_pct"] == approx(140 / 90 * 100)
    # at 10:00 a2 is scheduled on break (working activity), doing work: a mismatch just begun
    assert (care["scheduled_now"], care["out_now"], care["minutes_late"]) == (1, 0, approx(10.0))
    site = figures["site"]
    # plus a3: 60 of 60 -> 140 / 150
    assert site["adherence_pct"] == approx(140 / 150 * 100)
    assert figures["schedule_version"] == 4


def test_grace_is_per_scheduled_activity() -> None:
    """With a 60 s grace for breaks, skipping the first 90 s of a break is out; 90 s of work is not."""
    schedule = Schedule.of(slots("a1", DAY, "09:00-09:10 break, 09:10-09:20 work"))
    drive = Driver(AdherenceBook(site_of(grace_by_activity={"break": 60}), schedule, 1))
    drive.at(local(DAY, "09:00"), a1=("available", None))
    drive.at(local(DAY, "09:01") + timedelta(seconds=30), a1=("paused", "break"))
    drive.at(local(DAY, "09:10"))
    drive.at(local(DAY, "09:11") + timedelta(seconds=30), a1=("available", None))
    agent = drive.at(local(DAY, "09:20"))["agents"]["a1"]
    # out: 09:00-09:01:30 (90 s > 60 s break grace); 09:10-09:11:30 (90 s <= 120 s work grace) is in
    assert agent["adherence_pct"] == approx((1200 - 90) / 1200 * 100)


def test_unmapped_reason_is_out_and_counted() -> None:
    """A pause reason the policy does not know is never guessed: out, named, counted per reason."""
    schedule = Schedule.of(slots("a1", DAY, "09:00-10:00 work"))
    drive = Driver(AdherenceBook(site_of(), schedule, 1))
    drive.at(local(DAY, "09:00"), a1=("available", None))
    drive.at(local(DAY, "09:10"), a1=("paused", "Smoke"))
    figures = drive.at(local(DAY, "09:15"))
    agent = figures["agents"]["a1"]
    assert (agent["actual"], agent["exception"]) == ("unmapped:Smoke", "unmapped_reason")
    assert figures["unmapped"] == {"Smoke": 1}


def test_night_shift_belongs_to_its_day_across_midnight() -> None:
    """A 22:00-06:00 shift keeps one set of figures across midnight and hands over after its end."""
    night = date(2026, 3, 10)
    rows = "22:00-02:00+1 work, 02:00+1-02:30+1 break, 02:30+1-06:00+1 work"
    book = AdherenceBook(site_of(PARIS), Schedule.of(slots("a1", night, rows, PARIS)), 1)
    drive = Driver(book)
    drive.at(local(night, "21:00", PARIS))
    drive.at(local(night, "22:00", PARIS), a1=("available", None))
    at_one = drive.at(local(night, "01:00+1", PARIS))["agents"]["a1"]
    # 22:00 to 01:00 = 180 min scheduled and in, not reset at midnight
    assert at_one["adherence_pct"] == approx(100.0) and at_one["conformance_pct"] == approx(100.0)
    assert at_one["next"] == {"activity": "break", "start": local(night, "02:00+1", PARIS).isoformat()}
    drive.at(local(night, "02:00+1", PARIS), a1=("paused", "Break"))
    drive.at(local(night, "02:35+1", PARIS), a1=("available", None))  # 5 min late back
    at_five = drive.at(local(night, "05:00+1", PARIS))["agents"]["a1"]
    # 22:00 to 05:00 = 420 min; out 02:30-02:35 = 5 -> 415 / 420
    assert at_five["adherence_pct"] == approx(415 / 420 * 100)
    drive.at(local(night, "06:00+1", PARIS), a1=("logged_out", None))
    assert drive.at(local(night, "06:30+1", PARIS))["agents"]["a1"] is None  # March 11 has no slot


def test_dst_spring_forward_day_has_real_hours() -> None:
    """On 2026-03-29 in Paris 00:00-06:00 local lasts 5 h: the figures use real elapsed time."""
    day = date(2026, 3, 29)
    book = AdherenceBook(site_of(PARIS), Schedule.of(slots("a1", day, "00:00-06:00 work", PARIS)), 1)
    drive = Driver(book)
    drive.at(local(day, "00:00", PARIS) - timedelta(minutes=5))
    drive.at(local(day, "00:30", PARIS), a1=("available", None))
    agent = drive.at(local(day, "06:00", PARIS))["agents"]["a1"]
    # 00:00-06:00 = 300 real minutes (02:00-03:00 does not exist); out 00:00-00:30 = 30 -> 270 / 300
    assert agent["adherence_pct"] == approx(90.0)
    assert agent["conformance_pct"] == approx(90.0)
    assert agent["minutes_late"] == approx(30.0)


def test_dst_fall_back_day_has_real_hours() -> None:
    """On 2026-10-25 in Paris 00:00-06:00 local lasts 7 h; an unmapped pause at 01:00 is out."""
    day = date(2026, 10, 25)
    book = AdherenceBook(site_of(PARIS), Schedule.of(slots("a1", day, "00:00-06:00 work", PARIS)), 1)
    drive = Driver(book)
    drive.at(local(day, "00:00", PARIS), a1=("available", None))
    drive.at(local(day, "01:00", PARIS), a1=("paused", "Smoke"))
    drive.at(local(day, "01:10", PARIS), a1=("available", None))
    figures = drive.at(local(day, "06:00", PARIS))
    # 00:00-06:00 = 420 real minutes (02:00-03:00 happens twice); out 10 -> 410 / 420
    assert figures["agents"]["a1"]["adherence_pct"] == approx(410 / 420 * 100)
    assert figures["site"]["conformance_pct"] == approx(100.0)
    assert figures["unmapped"] == {"Smoke": 1}


def test_a_new_schedule_replays_the_day() -> None:
    """Putting a schedule in force mid-day gives the figures a book holding it from the start gives."""
    first = Schedule.of(slots("a1", DAY, "09:00-12:00 work"))
    second = Schedule.of(slots("a1", DAY, "09:00-10:00 work, 10:00-10:30 break, 10:30-12:00 work"))
    moves = [("09:05", ("available", None)), ("10:00", ("paused", "Break")), ("10:40", ("available", None))]
    books = [AdherenceBook(site_of(), first, 1), AdherenceBook(site_of(), second, 2)]
    drives = [Driver(book) for book in books]
    for drive in drives:
        drive.at(local(DAY, "08:00"))
        for hhmm, change in moves:
            drive.at(local(DAY, hhmm), a1=change)
    books[0].set_schedule(second, 2)
    end = local(DAY, "11:00")
    replayed, direct = (drive.at(end) for drive in drives)
    assert replayed == direct
    # 09:00-11:00 = 120 min; out 09:00-09:05 (5) and 10:30-10:40 (10) -> 105 / 120
    assert direct["agents"]["a1"]["adherence_pct"] == approx(105 / 120 * 100)


def test_book_survives_pickling() -> None:
    """The runner checkpoints the book with pickle: a restored book goes on with the same figures."""
    drive = Driver(AdherenceBook(site_of(), Schedule.of(slots("a1", DAY, "09:00-12:00 work")), 1))
    drive.at(local(DAY, "09:10"), a1=("available", None))
    copy = Driver(pickle.loads(pickle.dumps(drive.book, protocol=5)))
    copy.agents = dict(drive.agents)
    for one in (drive, copy):
        one.at(local(DAY, "10:00"), a1=("paused", "Lunch"))
    assert copy.at(local(DAY, "11:00")) == drive.at(local(DAY, "11:00"))


def test_merge_figures_shapes_the_snapshot() -> None:
    """Every agent gets adherence fields; an unseen scheduled agent is added logged out; no schedule -> None."""
    book = AdherenceBook(site_of(), Schedule.of(slots("a2", DAY, "09:00-10:00 work")), 1)
    snapshot: dict[str, Any] = {"agents": {"a1": {"id": "a1", "team": "care"}}, "teams": {"care": {"agents": {}}}}
    book.observe(snapshot["agents"], local(DAY, "09:30"))
    merge_figures(snapshot, book.figures(local(DAY, "09:30")), book.site)
    assert snapshot["agents"]["a1"]["adherence"] is None and snapshot["agents"]["a1"]["adherence_pct"] is None
    added = snapshot["agents"]["a2"]
    assert (added["state"], added["name"], added["adherence"]["status"]) == ("logged_out", "Bob", "grace")
    assert snapshot["teams"]["care"]["adherence"]["scheduled_now"] == 1
    assert snapshot["adherence"]["schedule_version"] == 1 and "agents" not in snapshot["adherence"]
    empty: dict[str, Any] = {"agents": {"a1": {}}, "teams": {"care": {}}}
    merge_figures(empty, None, book.site)
    assert empty["adherence"] is None and empty["agents"]["a1"]["adherence"] is None


STATES = st.sampled_from(
    [("available", None), ("on_call", None), ("paused", "Break"), ("paused", "x"), ("logged_out", None)]
)


@settings(max_examples=100, deadline=None)
@given(
    moves=st.lists(st.tuples(st.integers(0, 6 * 3600), STATES), max_size=25),
    step=st.integers(7, 900),
)
def test_ticks_do_not_change_the_figures(moves: list[tuple[int, tuple[str, str | None]]], step: int) -> None:
    """Observing at every transition only, or also every ``step`` s, gives the same figures; in + out = scheduled."""
    schedule = Schedule.of(slots("a1", DAY, "08:00-10:00 work, 10:00-10:15 break, 10:15-11:00 work, 12:00-13:00 work"))
    start = local(DAY, "07:30")
    moves = sorted(moves)
    sparse, dense = Driver(AdherenceBook(site_of(), schedule, 1)), Driver(AdherenceBook(site_of(), schedule, 1))
    for drive in (sparse, dense):
        drive.at(start)
    clock = 0
    for seconds, change in moves:
        while clock + step < seconds:
            clock += step
            dense.at(start + timedelta(seconds=clock))
        sparse.at(start + timedelta(seconds=seconds), a1=change)
        dense.at(start + timedelta(seconds=seconds), a1=change)
    end = start + timedelta(hours=6)
    one, other = sparse.at(end), dense.at(end)
    assert one["agents"]["a1"] == pytest.approx(other["agents"]["a1"]) or one == other
    pct = one["agents"]["a1"]["adherence_pct"]
    assert 0.0 <= pct <= 100.0 + 1e-9


def test_exceptions_of_a_day_gone_are_not_listed() -> None:
    """Yesterday's late login is listed until the agent day changes, then only today's exceptions are."""
    schedule = Schedule.of(
        slots("a1", DAY, "09:00-10:00 work") + slots("a1", DAY + timedelta(days=1), "09:00-10:00 work")
    )
    drive = Driver(AdherenceBook(site_of(), schedule, 1))
    drive.at(local(DAY, "08:00"))
    figures = drive.at(local(DAY, "09:20"), a1=("available", None))
    assert [(e["kind"], e["minutes"]) for e in figures["exceptions"]] == [("late_login", approx(20.0))]
    assert drive.at(local(DAY, "23:00"))["exceptions"] != []  # still the site's day 1
    drive.at(local(DAY, "23:30"), a1=("logged_out", None))
    figures = drive.at(local(DAY + timedelta(days=1), "08:00"))
    assert figures["exceptions"] == []
    figures = drive.at(local(DAY + timedelta(days=1), "09:30"))
    assert [(e["kind"], e["start"]) for e in figures["exceptions"]] == [
        ("late_login", local(DAY + timedelta(days=1), "09:00").isoformat())
    ]


@settings(max_examples=100, deadline=None)
@given(
    moves=st.lists(st.tuples(st.integers(0, 6 * 3600), STATES), max_size=25),
    cut=st.integers(0, 25),
)
def test_a_restored_book_replays_its_history(moves: list[tuple[int, tuple[str, str | None]]], cut: int) -> None:
    """A book pickled mid-day (packed history, shared strings) and given a new schedule matches the original."""
    first = Schedule.of(slots("a1", DAY, "08:00-10:00 work, 10:00-10:15 break, 10:15-11:00 work, 12:00-13:00 work"))
    second = Schedule.of(slots("a1", DAY, "08:30-11:00 work, 11:00-12:00 lunch, 12:00-13:30 work"))
    start = local(DAY, "07:30")
    moves = sorted(moves)
    drive = Driver(AdherenceBook(site_of(), first, 1))
    drive.at(start)
    for seconds, change in moves[:cut]:
        drive.at(start + timedelta(seconds=seconds), a1=change)
    copy = Driver(pickle.loads(pickle.dumps(drive.book, protocol=5)))
    copy.agents = dict(drive.agents)
    for one in (drive, copy):
        for seconds, change in moves[cut:]:
            one.at(start + timedelta(seconds=seconds), a1=change)
        one.book.set_schedule(second, 2)
    end = start + timedelta(hours=6)
    assert copy.at(end) == drive.at(end)
