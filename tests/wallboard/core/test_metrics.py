"""Metric definitions: hand-computed expectations, Erlang C against the factorial formula, DST windows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.core.metrics import (
    Counters,
    abandon_rate,
    aht,
    asa,
    avg,
    day_end,
    day_start,
    erlang_c,
    erlang_c_service_level,
    interval_end,
    interval_start,
    live_service_level,
    occupancy,
    required_agents,
    service_level,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- service level, ASA, AHT, abandon, occupancy -----------------------------------------------------


def test_service_level_formulas() -> None:
    """8 within T of 10 answered, 12 offered, 2 short abandons: 8/10, 8/12 and 8/(12-2)."""
    assert service_level(8, 12, 10, 2, "answered") == pytest.approx(80.0)
    assert service_level(8, 12, 10, 2, "offered") == pytest.approx(100 * 8 / 12)
    assert service_level(8, 12, 10, 2, "offered_minus_short") == pytest.approx(80.0)


def test_service_level_without_denominator_is_none() -> None:
    """No calls (or only short abandons) gives no service level rather than 0 or 100."""
    assert service_level(0, 0, 0, 0, "offered_minus_short") is None
    assert service_level(0, 3, 0, 3, "offered_minus_short") is None
    assert service_level(0, 3, 0, 3, "answered") is None


def test_service_level_is_clamped() -> None:
    """Inconsistent counts (more within T than offered) never give more than 100 %."""
    assert service_level(5, 2, 2, 0, "offered") == 100.0


def test_live_service_level_counts_waiting_beyond_threshold_as_misses() -> None:
    """3 within T of 4 answered, 2 callers waiting past T: 3/(4+2) instead of 3/4."""
    assert live_service_level(3, 4, 4, 0, 0, "offered_minus_short") == pytest.approx(75.0)
    assert live_service_level(3, 4, 4, 0, 2, "offered_minus_short") == pytest.approx(50.0)
    assert live_service_level(3, 4, 4, 0, 2, "answered") == pytest.approx(50.0)
    assert live_service_level(0, 0, 0, 0, 1, "offered") == 0.0


def test_asa_aht_avg() -> None:
    """ASA = wait/answered, AHT = (talk+hold+wrap)/handled, both None without calls."""
    assert asa(31.0, 8) == pytest.approx(3.875)
    assert asa(0.0, 0) is None
    assert aht(300.0, 30.0, 15.0, 3) == pytest.approx(115.0)
    assert aht(0.0, 0.0, 0.0, 0) is None
    assert avg(10.0, 4) == pytest.approx(2.5)
    assert avg(10.0, 0) is None


def test_abandon_rate_excludes_short_abandons() -> None:
    """(5 abandoned - 2 short) / (20 offered - 2 short) = 3/18."""
    assert abandon_rate(5, 2, 20) == pytest.approx(100 * 3 / 18)
    assert abandon_rate(2, 2, 2) is None


def test_occupancy() -> None:
    """45 min handling and 15 min available: 75 %."""
    assert occupancy(2700.0, 900.0) == pytest.approx(75.0)
    assert occupancy(0.0, 0.0) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(-5, 50), st.integers(-5, 50), st.integers(-5, 50), st.integers(-5, 50), st.integers(0, 10))
def test_percentages_always_within_bounds(within: int, offered: int, answered: int, short: int, beyond: int) -> None:
    """Whatever the counts, every percentage is None or within 0..100."""
    for formula in ("offered_minus_short", "answered", "offered"):
        for value in (
            service_level(within, offered, answered, short, formula),
            live_service_level(within, offered, answered, short, beyond, formula),
        ):
            assert value is None or 0.0 <= value <= 100.0
    rate = abandon_rate(answered, short, offered)
    assert rate is None or 0.0 <= rate <= 100.0


def test_counters_as_dict_derives_metrics() -> None:
    """A window with 2 answered (waits 4 and 6, one within T), 1 short abandon, 2 handled calls."""
    window = Counters(
        offered=3,
        answered=2,
        abandoned=1,
        short_abandoned=1,
        answered_within_sl=1,
        wait_s_answered=10.0,
        handled=2,
        talk_s=100.0,
        hold_s=10.0,
        wrap_s=6.0,
        max_wait_s=6.0,
    )
    row = window.as_dict("offered_minus_short", 1)
    assert row["service_level_pct"] == pytest.approx(50.0)  # 1 / (3 - 1)
    assert row["service_level_live_pct"] == pytest.approx(100 / 3)  # 1 / (3 - 1 + 1)
    assert row["asa_s"] == pytest.approx(5.0)
    assert row["avg_talk_s"] == pytest.approx(50.0)
    assert row["aht_s"] == pytest.approx(58.0)
    assert row["abandon_rate_pct"] == pytest.approx(0.0)
    assert window.as_dict("answered", None)["service_level_live_pct"] is None


# -- Erlang C ----------------------------------------------------------------------------------------


def erlang_c_by_factorials(a: float, n: int) -> float:
    """The textbook formula, for small N only."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def test_erlang_c_small_case_by_hand() -> None:
    """A = 2 erlangs, N = 3: (8/6 · 3) / (1 + 2 + 2 + 4) = 4/9."""
    assert erlang_c(2.0, 3) == pytest.approx(4 / 9)


@pytest.mark.parametrize(("a", "n"), [(0.5, 1), (2.0, 4), (7.5, 9), (10.0, 14), (20.0, 25), (30.0, 40)])
def test_erlang_c_matches_factorial_formula(a: float, n: int) -> None:
    """The recurrence agrees with the factorial formula where the latter is usable."""
    assert erlang_c(a, n) == pytest.approx(erlang_c_by_factorials(a, n), rel=1e-9)


def test_erlang_c_edges() -> None:
    """No traffic never waits; N <= A always waits; thousands of agents do not overflow."""
    assert erlang_c(0.0, 5) == 0.0
    assert erlang_c(5.0, 5) == 1.0
    assert erlang_c(5.0, 3) == 1.0
    assert 0.0 <= erlang_c(1500.0, 1600) <= 1.0


def test_erlang_c_service_level_by_hand() -> None:
    """1 call/min, AHT 120 s (A = 2), 3 agents, T = 20 s: 1 - 4/9 · e^(-1·20/120) = 62.38 %."""
    expected = 100 * (1 - 4 / 9 * math.exp(-20 / 120))
    assert erlang_c_service_level(1 / 60, 120.0, 3, 20.0) == pytest.approx(expected)
    assert expected == pytest.approx(62.3786, abs=1e-3)
    assert erlang_c_service_level(0.0, 120.0, 3, 20.0) is None


def test_required_agents_by_hand() -> None:
    """A = 2: 3 agents give 62.4 %, 4 agents 1 - (4/23)·e^(-2·20/120) = 87.5 %, so 80/20 needs 4."""
    c4 = erlang_c_by_factorials(2.0, 4)
    assert c4 == pytest.approx(4 / 23)
    assert 100 * (1 - c4 * math.exp(-40 / 120)) == pytest.approx(87.54, abs=0.01)
    assert required_agents(1 / 60, 120.0, 20.0, 80.0) == 4


def test_required_agents_classic_example() -> None:
    """100 calls per 30 min, AHT 180 s (A = 10), 80 % in 20 s: the smallest N found by the formula."""
    rate, handle, target = 100 / 1800, 180.0, 80.0
    expected = next(
        n
        for n in range(11, 40)
        if 100 * (1 - erlang_c_by_factorials(10.0, n) * math.exp(-(n - 10) * 20 / handle)) >= target
    )
    assert expected == 14
    assert required_agents(rate, handle, 20.0, target) == expected


def test_required_agents_none_without_traffic_or_reach() -> None:
    """No traffic or no AHT: None; a target out of reach within max_agents: None."""
    assert required_agents(0.0, 180.0, 20.0, 80.0) is None
    assert required_agents(0.1, 0.0, 20.0, 80.0) is None
    assert required_agents(1.0, 180.0, 20.0, 80.0, max_agents=50) is None


# -- windows -----------------------------------------------------------------------------------------


def test_interval_start_aligns_to_local_clock() -> None:
    """10:07:31 Paris (CET, UTC+1) is in the 10:00 quarter: 09:00 UTC; 30-minute intervals too."""
    ts = utc(2026, 3, 2, 9, 7, 31)
    assert interval_start(ts, PARIS, 15) == utc(2026, 3, 2, 9, 0)
    assert interval_start(utc(2026, 3, 2, 9, 44), PARIS, 30) == utc(2026, 3, 2, 9, 30)
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: local :00 and :30 are UTC :30 and :00
    assert interval_start(utc(2026, 3, 2, 9, 10), kolkata, 60) == utc(2026, 3, 2, 8, 30)


def _day_intervals(ts: datetime, tz: ZoneInfo, minutes: int) -> list[datetime]:
    start, end = day_start(ts, tz), day_end(ts, tz)
    starts = [start]
    while (nxt := interval_end(starts[-1], tz, minutes)) < end:
        starts.append(nxt)
    return starts


@pytest.mark.parametrize(
    ("tz", "ts", "hours", "first_utc"),
    [
        (PARIS, utc(2026, 3, 29, 12), 23, utc(2026, 3, 28, 23)),
        (PARIS, utc(2026, 10, 25, 12), 25, utc(2026, 10, 24, 22)),
        (NEW_YORK, utc(2026, 3, 8, 18), 23, utc(2026, 3, 8, 5)),
        (NEW_YORK, utc(2026, 11, 1, 18), 25, utc(2026, 11, 1, 4)),
    ],
)
def test_dst_day_length_and_quarter_hours(tz: ZoneInfo, ts: datetime, hours: int, first_utc: datetime) -> None:
    """A DST-change day lasts 23 or 25 h and has 4 local quarter hours per hour, all on :00/:15/:30/:45."""
    assert day_start(ts, tz) == first_utc
    assert day_end(ts, tz) - day_start(ts, tz) == timedelta(hours=hours)
    starts = _day_intervals(ts, tz, 15)
    assert len(starts) == hours * 4
    assert all(start.astimezone(tz).minute % 15 == 0 for start in starts)
    assert len(set(starts)) == len(starts)
    assert all(interval_start(start + timedelta(minutes=7), tz, 15) == start for start in starts)


def test_repeated_autumn_hour_gives_two_intervals() -> None:
    """02:20 local happens twice on 2026-10-25 in Paris (CEST then CET): two distinct intervals."""
    first, second = utc(2026, 10, 25, 0, 20), utc(2026, 10, 25, 1, 20)
    assert first.astimezone(PARIS).strftime("%H:%M") == second.astimezone(PARIS).strftime("%H:%M") == "02:20"
    assert interval_start(first, PARIS, 15) == utc(2026, 10, 25, 0, 15)
    assert interval_start(second, PARIS, 15) == utc(2026, 10, 25, 1, 15)


def test_spring_gap_interval_ends_at_the_jump() -> None:
    """In Paris the 01:45 CET quarter of 2026-03-29 ends at 03:00 CEST (01:00 UTC)."""
    start = interval_start(utc(2026, 3, 29, 0, 50), PARIS, 15)
    assert start == utc(2026, 3, 29, 0, 45)
    assert interval_end(start, PARIS, 15) == utc(2026, 3, 29, 1, 0)
    assert interval_end(start, PARIS, 15).astimezone(PARIS).hour == 3
