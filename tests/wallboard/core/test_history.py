"""Interval history rows: per-agent interval rows from the engine (times computed by hand), ids and CSV."""

from __future__ import annotations

import csv
import io
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from engine_events import answered, at, ended, ev, login, queued, run_on
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.history import (
    AGENT_COLUMNS,
    QUEUE_COLUMNS,
    WindowError,
    row_ids,
    stream_id_after,
    to_csv,
    window,
    written,
)
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig

SITE = SiteConfig(
    site="test",
    queues={"support": QueueConfig(sl_threshold_s=20, wrapup_s=5), "sales": QueueConfig(sl_threshold_s=30)},
    agents={"a1": AgentConfig(name="Alice", team="blue")},
)
QUARTER = 900.0


def pause(seconds: float, agent: str, reason: str, queue: str | None = None) -> Event:
    return ev("agent_paused", seconds, agent=agent, reason=reason, queue=queue)


def unpause(seconds: float, agent: str, queue: str | None = None) -> Event:
    return ev("agent_unpaused", seconds, agent=agent, queue=queue)


def agent_rows(state: State) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["agent"], row["start"]): row for row in state.drain_closed_agent_intervals()}


def first_quarter() -> list[Event]:
    """a1: login 60 s, call 110-200 s (wrap-up 5 s), lunch 300-600 s; the call c2 at 1000 s closes 09:00-09:15."""
    return [
        login(60, "a1"),
        queued(100, "c1"),
        answered(110, "c1", "a1", 10),
        ended(200, "c1", "a1", 90),
        pause(300, "a1", "lunch"),
        unpause(600, "a1"),
        queued(1000, "c2"),
    ]


def test_agent_row_of_a_closed_quarter() -> None:
    """Available 50+95+300 s, on call 90 s, wrap-up 5 s, lunch 300 s: logged in 840 s of the quarter's 900."""
    state = run_on(SITE, *first_quarter())
    rows = agent_rows(state)
    assert list(rows) == [("a1", "2026-03-02T09:00:00+00:00")]
    row = rows["a1", "2026-03-02T09:00:00+00:00"]
    assert {key: row[key] for key in ("site", "agent", "name", "team", "end", "minutes")} == {
        "site": "test",
        "agent": "a1",
        "name": "Alice",
        "team": "blue",
        "end": "2026-03-02T09:15:00+00:00",
        "minutes": 15,
    }
    assert (row["answered"], row["handled"], row["talk_s"], row["hold_s"], row["wrap_s"]) == (1, 1, 90.0, 0.0, 5.0)
    assert row["aht_s"] == 95.0
    assert row["logged_in_s"] == 840.0  # 900 - the first 60 s logged out
    assert (row["state_available_s"], row["state_on_call_s"], row["state_wrap_up_s"]) == (445.0, 90.0, 5.0)
    assert (row["state_ringing_s"], row["state_paused_s"]) == (0.0, 300.0)
    assert (row["paused_s"], row["paused_by_reason"], row["pauses"]) == (300.0, {"lunch": 300.0}, {"lunch": 1})
    assert row["occupancy_pct"] == pytest.approx(100 * 95 / 540)  # (90 + 5) / (90 + 5 + 445)
    assert set(row) == set(AGENT_COLUMNS)
    assert state.drain_closed_agent_intervals() == []


def test_queue_rows_have_the_export_columns() -> None:
    """Every export column is in a queue row (the closed live SL is the one field left out of the CSV)."""
    state = run_on(SITE, *first_quarter())
    rows = state.drain_closed_intervals()
    assert {row["queue"] for row in rows} == {"support", "sales"}
    assert set(rows[0]) - set(QUEUE_COLUMNS) == {"service_level_live_pct"}
    assert set(QUEUE_COLUMNS) <= set(rows[0])


def test_call_and_pause_across_the_boundary_are_split() -> None:
    """A call 850-950 s and a break 800-1000 s of two agents: time split at 900 s, the call handled in the second."""
    state = run_on(
        SITE,
        login(0, "a1"),
        login(0, "a2"),
        queued(840, "c1"),
        answered(850, "c1", "a2", 10),
        pause(800, "a1", "break"),
        ended(950, "c1", "a2", 100),
        unpause(1000, "a1"),
        queued(1900, "c9"),  # closes 09:15-09:30 too
    )
    rows = agent_rows(state)
    first, second = "2026-03-02T09:00:00+00:00", "2026-03-02T09:15:00+00:00"
    a1, a2 = rows["a1", first], rows["a2", first]
    assert (a1["state_available_s"], a1["state_paused_s"], a1["paused_by_reason"], a1["pauses"]) == (
        800.0,
        100.0,
        {"break": 100.0},
        {"break": 1},
    )
    assert (a2["state_available_s"], a2["state_on_call_s"], a2["answered"], a2["handled"]) == (850.0, 50.0, 1, 0)
    a1, a2 = rows["a1", second], rows["a2", second]
    assert (a1["paused_by_reason"], a1["pauses"], a1["state_available_s"]) == ({"break": 100.0}, {}, 800.0)
    # a2: on call 900-950 s, wrap-up 950-955 s (support's 5 s), then available up to 1800 s
    assert (a2["state_on_call_s"], a2["state_wrap_up_s"], a2["state_available_s"]) == (50.0, 5.0, 845.0)
    assert (a2["answered"], a2["handled"], a2["talk_s"], a2["wrap_s"], a2["aht_s"]) == (0, 1, 100.0, 5.0, 105.0)


def test_paused_in_one_queue_counts_as_paused_but_shows_available() -> None:
    """Paused in sales only (200-500 s) while in support too: paused_s 300 s, displayed available all along."""
    state = run_on(
        SITE,
        login(0, "a1"),
        login(0, "a1", queue="sales"),
        pause(200, "a1", "training", queue="sales"),
        unpause(500, "a1", queue="sales"),
        queued(1000, "c1"),
    )
    row = agent_rows(state)["a1", "2026-03-02T09:00:00+00:00"]
    assert (row["paused_s"], row["state_paused_s"], row["state_available_s"], row["logged_in_s"]) == (
        300.0,
        0.0,
        900.0,
        900.0,
    )
    assert row["occupancy_pct"] == 0.0


def test_logged_out_agents_and_quiet_intervals_give_no_row() -> None:
    """An agent logged out before the quarter closes has its row; in the next quarters it has none."""
    state = run_on(
        SITE,
        login(0, "a1"),
        ev("agent_logout", 100, agent="a1", queue="support"),
        queued(2000, "c1"),
        queued(2001, "c2"),
    )
    rows = agent_rows(state)
    assert list(rows) == [("a1", "2026-03-02T09:00:00+00:00")]
    assert rows["a1", "2026-03-02T09:00:00+00:00"]["logged_in_s"] == 100.0


def test_a_gap_in_the_input_gives_rows_for_the_skipped_quarters() -> None:
    """Logged in at 0 s, next event at 09:50: three full quarters available, then the fourth goes on."""
    state = run_on(SITE, login(0, "a1"), queued(3000, "c1"), queued(3001, "c2"))
    rows = agent_rows(state)
    starts = ["2026-03-02T09:00:00+00:00", "2026-03-02T09:15:00+00:00", "2026-03-02T09:30:00+00:00"]
    assert [start for _, start in rows] == starts
    assert [rows["a1", start]["state_available_s"] for start in starts] == [900.0, 900.0, 900.0]
    state.snapshot(at(3600))
    assert agent_rows(state)["a1", "2026-03-02T09:45:00+00:00"]["logged_in_s"] == 900.0


def test_a_gap_longer_than_a_day_reports_only_a_day() -> None:
    """A two-day gap: 96 skipped quarters get rows, the rest of the gap none."""
    state = run_on(SITE, login(0, "a1"), queued(2 * 86400, "c1"), queued(2 * 86400 + 1, "c2"))
    rows = state.drain_closed_agent_intervals()
    assert len(rows) == 1 + 96  # the first quarter, then a day of skipped ones
    assert rows[-1]["end"] == (at(97 * QUARTER)).isoformat()


def test_snapshot_closes_the_interval_with_an_open_wrap_up() -> None:
    """snapshot(now) past the end closes it: a wrap-up from 895 s runs to 900 s in the row, 900-900+ in the next."""
    state = run_on(SITE, login(0, "a1"), answered(800, "c1", "a1", 1), ended(895, "c1", "a1", 95))
    state.snapshot(at(901))
    row = agent_rows(state)["a1", "2026-03-02T09:00:00+00:00"]
    assert (row["state_available_s"], row["state_on_call_s"], row["state_wrap_up_s"]) == (800.0, 95.0, 5.0)
    state.snapshot(at(1800))
    row = agent_rows(state)["a1", "2026-03-02T09:15:00+00:00"]
    assert (row["state_wrap_up_s"], row["state_available_s"]) == (0.0, 900.0)


def test_accounting_survives_a_checkpoint() -> None:
    """A State pickled mid-interval (as the runner checkpoints it) closes the same row as the original."""
    events = first_quarter()
    state = run_on(SITE, *events[:-1])
    copy = pickle.loads(pickle.dumps(state, protocol=5))
    for target in (state, copy):
        target.apply(events[-1])
    assert copy.drain_closed_agent_intervals() == state.drain_closed_agent_intervals()


def test_two_names_found_to_be_one_agent_keep_their_time() -> None:
    """Interface and member name logged in separately, then linked: one row with both records' time."""
    iface = "Local/a1@agents/n"
    state = run_on(
        SITE,
        login(0, iface, interface=iface),
        pause(100, "Alice X", "break", queue="sales"),  # a second record: paused 100-400 s
        unpause(400, "Alice X", queue="sales"),
        ev("agent_device", 500, agent=iface, interface=iface, member_name="Alice X", device_state="idle"),
        queued(1000, "c1"),
    )
    rows = [row for row in state.drain_closed_agent_intervals() if row["start"] == "2026-03-02T09:00:00+00:00"]
    assert len(rows) == 1
    assert rows[0]["paused_by_reason"] == {"break": 300.0}


def test_row_ids_number_rows_of_one_interval() -> None:
    """Ids are <start ms>-<n>, n from 0 within one start."""
    rows = [
        {"start": "2026-03-02T09:00:00+00:00"},
        {"start": "2026-03-02T09:00:00+00:00"},
        {"start": "2026-03-02T09:15:00+00:00"},
    ]
    ms = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp() * 1000)
    assert row_ids(rows) == [f"{ms}-0", f"{ms}-1", f"{ms + 900_000}-0"]


def test_written_skips_the_intervals_the_stream_has() -> None:
    """Rows of an interval starting at or before the stream's last one are written (whole intervals)."""
    ids = ["100-0", "100-1", "200-0"]
    assert written(ids, None) == 0
    assert written(ids, "99-7") == 0
    assert written(ids, "100-0") == 2
    assert written(ids, "150-0") == 2
    assert written(ids, "300-0") == 3
    assert stream_id_after("100-1") == "100-2"


def test_csv_has_a_fixed_header_and_json_cells() -> None:
    """CSV: header in column order, None empty, mappings as sorted JSON, unknown fields left out."""
    rows = [{"a": 1, "b": None, "c": {"z": 1.5, "y": 2}, "extra": "x"}, {"a": 'q,"r'}]
    text = to_csv(rows, ("a", "b", "c"))
    assert text.splitlines()[0] == "a,b,c"
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed == [["a", "b", "c"], ["1", "", '{"y":2,"z":1.5}'], ['q,"r', "", ""]]


EVENT_KINDS = st.sampled_from(["login", "logout", "pause", "unpause", "call"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(EVENT_KINDS, st.integers(0, 2800), st.sampled_from(["a1", "a2"])), max_size=25))
# a2 first seen in a late event (09:14:30, after a call ended at 09:15:00 opened the next interval): its time is
# counted from 09:15, never 930 s in a 900 s interval
@example(steps=[("call", 870, "a1"), ("login", 870, "a2")])
@example(steps=[("call", 870, "a1"), ("pause", 870, "a1")])  # the same for a late pause: never 930 s paused
def test_state_times_add_up_for_any_input(steps: list[tuple[str, int, str]]) -> None:
    """For any order of logins, pauses and calls: state times sum to logged_in_s <= the interval length."""
    events: list[Event] = []
    for n, (kind, seconds, agent) in enumerate(sorted(steps, key=lambda step: step[1])):
        if kind == "login":
            events.append(login(seconds, agent))
        elif kind == "logout":
            events.append(ev("agent_logout", seconds, agent=agent, queue="support"))
        elif kind == "pause":
            events.append(pause(seconds, agent, f"r{n % 2}"))
        elif kind == "unpause":
            events.append(unpause(seconds, agent))
        else:
            events += [answered(seconds, f"c{n}", agent, 1), ended(seconds + 30, f"c{n}", agent, 30)]
    state = run_on(SITE, *events)
    state.snapshot(at(3600))
    for row in state.drain_closed_agent_intervals():
        states = sum(row[f"state_{name}_s"] for name in ("available", "ringing", "on_call", "wrap_up", "paused"))
        assert states == pytest.approx(row["logged_in_s"])
        assert row["logged_in_s"] <= QUARTER + 1e-6
        assert row["paused_s"] <= QUARTER + 1e-6
        assert datetime.fromisoformat(row["end"]) - datetime.fromisoformat(row["start"]) == timedelta(minutes=15)


PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)


def test_a_date_window_is_whole_site_local_days_even_on_a_dst_day() -> None:
    """from=to=2026-03-29 in Paris (clocks forward at 02:00): 23 hours, 28th 23:00 UTC to 29th 22:00 UTC."""
    low, high = window("2026-03-29", "2026-03-29", PARIS, NOW)
    assert (low, high) == (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))


def test_default_window_is_yesterday_until_now_and_naive_times_are_site_local() -> None:
    """No bounds: yesterday's Paris midnight (the 29th, still winter time: 28th 23:00Z) to now; 10:00 is 08:00Z."""
    assert window(None, None, PARIS, NOW) == (datetime(2026, 3, 28, 23, tzinfo=UTC), NOW)
    low, _ = window("2026-03-30T10:00:00", None, PARIS, NOW + timedelta(hours=2))
    assert low == datetime(2026, 3, 30, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("2026-03-30", "2026-03-29", "to"), ("03/29/2026", None, "from"), ("2025-01-01", "2026-03-29", "to")],
)
def test_bad_windows_name_their_field(start: str, end: str | None, field: str) -> None:
    """Ending before the start, an unreadable date, longer than MAX_RANGE_DAYS: WindowError naming the bound."""
    with pytest.raises(WindowError) as caught:
        window(start, end, PARIS, NOW)
    assert caught.value.field == field
