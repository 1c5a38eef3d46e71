"""The engine's clock cannot run away: future-dated records, gaps, late records (wallboard.core.timeline, State).

Times are seconds after T0 (09:00 UTC, a quarter start); the site is in UTC, so the day starts at 00:00.
"""

from __future__ import annotations

import pickle
from datetime import timedelta
from typing import Any

from engine_events import T0, at, ev, queued

from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import QueueConfig, SiteConfig

SITE = SiteConfig(site="test", queues={"support": QueueConfig(sl_threshold_s=20)})
DAY = 86_400


def call(seconds: float, n: int, *, wait: float = 5.0) -> list[Event]:
    """Call c<n> as queue_log gives it: queued at ``seconds``, answered ``wait`` s later; keys like its records'."""
    return [
        queued(seconds, f"c{n}", key=f"ql:{int(seconds)}:q{n}"),
        ev("call_answered", seconds + wait, call_id=f"c{n}", queue="support", agent="a1", wait_s=wait,
           key=f"ql:{int(seconds + wait)}:a{n}"),
    ]  # fmt: skip


def abandon(seconds: float, n: int, **fields: Any) -> Event:
    return ev(
        "call_abandoned", seconds, call_id=f"c{n}", queue="support", wait_s=10, key=f"ql:{seconds}:x{n}", **fields
    )


def fed(*events: Event, state: State | None = None) -> State:
    state = state or State(SITE)
    for event in events:
        state.apply(event)
    assert state.anomalies["internal_error"] == 0
    return state


def figures(state: State, now: float) -> dict[str, Any]:
    snapshot = state.snapshot(at(now))
    queue = snapshot["queues"]["support"]
    return {
        "interval": snapshot["interval"]["start"],
        "day": snapshot["day"]["start"],
        "offered": (queue["interval"]["offered"], queue["day"]["offered"], queue["total"]["offered"]),
    }


def future_record(seconds: float) -> list[Event]:
    """One queue_log record two days after ``seconds`` that yields two events (a transfer: ``<key>/transfer``)."""
    epoch = int(seconds + 2 * DAY)
    transfer = {"call_id": "c90", "queue": "support", "agent": "a1", "key": f"ql:{epoch}:f/transfer"}
    return [
        abandon(seconds + 2 * DAY, 90).model_copy(update={"key": f"ql:{epoch}:f"}),
        ev("call_transferred", seconds + 2 * DAY, **transfer),
    ]


# -- without a wall clock (a replay) -----------------------------------------------------------------


def test_one_future_record_between_real_ones_changes_no_figure() -> None:
    """Eight calls (100-800 s), a record dated two days ahead after the fifth: figures as without it, 2 clock_ahead."""
    real = [event for n in range(8) for event in call(100 + 100 * n, n)]
    with_future = [*real[:10], *future_record(650), *real[10:]]
    state, reference = fed(*with_future), fed(*real)
    assert (
        figures(state, 1100)
        == figures(reference, 1100)
        == {
            "interval": at(900).isoformat(),
            "day": (T0 - timedelta(hours=9)).isoformat(),
            "offered": (0, 8, 8),
        }
    )
    assert state.anomalies["clock_ahead"] == 2
    assert state.totals() == reference.totals()


def test_a_legitimate_overnight_gap_is_accepted() -> None:
    """Calls at 09:00, then at 09:00 the next day: the next record confirms the jump, the day starts again."""
    state = fed(*call(0, 1), *call(60, 2), *call(DAY, 3), *call(DAY + 60, 4))
    assert figures(state, DAY + 100)["offered"] == (2, 2, 4)
    assert state.anomalies["clock_ahead"] == 0


def test_a_last_call_after_a_gap_counts_at_finish() -> None:
    """The replay's last record comes after an overnight gap: held until finish(its time), then counted."""
    state = fed(*call(0, 1), queued(DAY, "c2", key="ql:last"))
    state.apply(ev("call_abandoned", DAY, call_id="c2", queue="support", wait_s=1, key="ql:last/x"))
    state.finish(at(DAY))
    assert figures(state, DAY + 1)["offered"] == (1, 1, 2)


def test_a_future_dated_last_record_is_dropped_when_finish_says_it_is_ahead() -> None:
    """finish(now) with a now two days before the held record: the record is ahead, the day stays."""
    state = fed(*call(0, 1), *future_record(10))
    state.finish(at(100))
    assert figures(state, 100)["offered"] == (1, 1, 1)
    assert state.anomalies["clock_ahead"] == 2


# -- with a wall clock (the live runner) --------------------------------------------------------------


def test_with_a_wall_clock_a_future_event_is_never_applied() -> None:
    """Horizon = now + 15 min: an event two days ahead is clock_ahead at once; an event 10 min ahead is applied."""
    state = State(SITE)
    state.set_wall_clock(at(0))
    assert state.horizon == at(900)
    fed(*call(10, 1), *future_record(20)[:1], state=state)
    assert state.anomalies["clock_ahead"] == 1
    fed(*call(600, 2), state=state)
    assert figures(state, 700)["offered"] == (2, 2, 2)


def test_the_wall_clock_vouches_for_the_first_event_after_a_stop() -> None:
    """Last event yesterday, wall clock now: an event now is applied at once (no next record needed)."""
    state = fed(*call(0, 1))
    state.set_wall_clock(at(DAY + 30))
    fed(*call(DAY, 2), state=state)
    assert figures(state, DAY + 30)["offered"] == (1, 1, 2)


def test_a_suspect_held_from_a_backlog_is_applied_once_the_wall_clock_reaches_it() -> None:
    """Without a clock a jump is held; a wall clock set near it later applies it."""
    state = fed(*call(0, 1), queued(DAY, "c2", key="ql:q2"))
    state.apply(abandon(DAY + 1, 2).model_copy(update={"key": "ql:q2/x", "ts": at(DAY)}))
    assert figures(state, 10)["offered"] == (1, 1, 1)
    state.set_wall_clock(at(DAY + 10))
    assert figures(state, DAY + 10)["offered"] == (1, 1, 2)


# -- late records ---------------------------------------------------------------------------------------


def test_a_late_record_within_the_tolerance_counts_in_its_interval() -> None:
    """09:14:50 abandon read after a 09:15:05 call: previous interval (and its row) 2 offered, current 1."""
    state = fed(*call(840, 1), *call(905, 2), abandon(890, 3))
    assert state.anomalies["late_event"] == 1 and state.anomalies["stale_event"] == 0
    snapshot = state.snapshot(at(920))["queues"]["support"]
    assert (snapshot["previous_interval"]["offered"], snapshot["previous_interval"]["abandoned"]) == (2, 1)
    assert (snapshot["interval"]["offered"], snapshot["day"]["offered"], snapshot["total"]["offered"]) == (1, 3, 3)
    [row] = state.drain_closed_intervals()
    assert (row["start"], row["offered"], row["abandoned"]) == (at(0).isoformat(), 2, 1)


def test_a_late_call_of_yesterday_does_not_count_today() -> None:
    """23:59:50 abandon read after a 00:00:05 call: in yesterday's last interval and the total, not in today."""
    midnight = 15 * 3600  # 24:00 after T0 = 09:00
    state = fed(*call(midnight - 100, 1), *call(midnight + 5, 2), abandon(midnight - 10, 3))
    queue = state.snapshot(at(midnight + 30))["queues"]["support"]
    assert (queue["interval"]["offered"], queue["day"]["offered"], queue["total"]["offered"]) == (1, 1, 3)
    assert queue["previous_interval"]["offered"] == 2


def test_a_record_older_than_the_tolerance_counts_now_but_never_in_a_closed_day() -> None:
    """An abandon 20 min late goes to the current interval (stale_event); one of yesterday to the total only."""
    state = fed(*call(0, 1), *call(600, 4), *call(1200, 2), abandon(10, 3))
    assert state.anomalies["stale_event"] == 1
    assert figures(state, 1300)["offered"] == (2, 4, 4)
    night = fed(*call(-600, 1), *call(0, 2), *call(54_000, 5), *call(54_600, 6), abandon(-500, 3))
    assert figures(night, 54_700)["offered"] == (2, 2, 5)


def test_a_state_from_an_older_checkpoint_gets_a_timeline() -> None:
    """A pickled State without the timeline's attributes (written before they existed) restores and screens."""
    state = fed(*call(0, 1))
    for name in ("_timeline", "_watch", "_previous_start"):
        del state.__dict__[name]
    del state.anomalies["clock_ahead"], state.anomalies["late_event"]
    restored = pickle.loads(pickle.dumps(state, protocol=5))
    restored.set_wall_clock(at(30))
    fed(*call(20, 2), *future_record(30)[:1], state=restored)
    assert restored.anomalies["clock_ahead"] == 1
    assert figures(restored, 40)["offered"] == (2, 2, 2)


def test_one_call_dated_ahead_is_held_whole_and_refuted_whole() -> None:
    """A future call of three records (queued, answered, ended) between real calls: all three clock_ahead."""
    ahead = 2 * DAY + 300
    future = [
        *call(ahead, 80),
        ev("call_ended", ahead + 65, call_id="c80", queue="support", agent="a1", talk_s=60, key=f"ql:{ahead + 65}:e"),
    ]
    state = fed(*call(0, 1), *future, *call(100, 2))
    assert state.anomalies["clock_ahead"] == 3
    assert figures(state, 200)["offered"] == (2, 2, 2)
