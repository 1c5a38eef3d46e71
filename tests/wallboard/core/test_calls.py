"""The call log: one record per finished call, counted where the queue windows count it; masking; CSV."""

from __future__ import annotations

import csv
import io
import pickle
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from engine_events import at, ev, outcomes, queued, run_on
from fixture_paths import FREESWITCH, LIGHT, PUBLIC

from wallboard.core.calls import CALL_COLUMNS, OUTCOMES, calls_csv, day_bounds, masked, transfer_kind
from wallboard.core.engine import State
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig
from wallboard.processes.replay import replay

SITE = SiteConfig(
    queues={"support": QueueConfig(wrapup_s=5)}, short_abandon_s=5, agents={"a1": AgentConfig(team="blue")}
)
# The snapshot's day fields of each outcome (exits other than timeout share exited_other).
DAY_FIELD = {
    "answered": "answered",
    "abandoned": "abandoned",
    "short_abandon": "abandoned",
    "timed_out": "timed_out",
    "unknown": "unknown",
    **{o: "exited_other" for o in ("exited_key", "exited_empty", "exited_full", "exited_withdraw")},
}
CAPTURES = [
    (LIGHT / "queue_log", "queue_log"),
    (LIGHT / "ami_transcript.txt", "ami"),
    (PUBLIC / "asterisk2slack_queue_log.txt", "queue_log"),
    (PUBLIC / "asterisk2slack_queue_log_v1.txt", "queue_log"),
    (FREESWITCH / "esl_transcript.txt", "esl"),
    (FREESWITCH / "esl_transcript_cc_json.txt", "esl"),
]


def rows_of(state: State) -> list[dict[str, Any]]:
    return [row for _, row in state.drain_call_records()]


def day_counts(state: State, rows: list[dict[str, Any]], now: datetime) -> tuple[Counter[Any], Counter[Any]]:
    """(snapshot day counts, today's records + calls still talking) per (queue, day field)."""
    snapshot = state.snapshot(now)
    low, high = day_bounds(datetime.fromisoformat(snapshot["day"]["start"]), state.site.tz)
    expected: Counter[Any] = Counter()
    for name, entry in snapshot["queues"].items():
        for field in set(DAY_FIELD.values()):
            expected[(name, field)] = entry["day"][field]
    logged: Counter[Any] = Counter({key: 0 for key in expected})
    for row in rows:
        counted_at = row["answered"] if row["outcome"] == "answered" else row["ended"]
        if counted_at is not None and low <= datetime.fromisoformat(counted_at) < high:
            logged[(row["queue"], DAY_FIELD[row["outcome"]])] += 1
    for name, _ in state._talking:  # answered, not finished yet: no record
        logged[(name, "answered")] += 1
    return expected, logged


@pytest.mark.parametrize(("path", "fmt"), CAPTURES, ids=lambda p: getattr(p, "name", p))
def test_todays_records_match_the_day_counts_on_every_capture(path: Path, fmt: str) -> None:
    """Replayed captures: per queue and outcome, today's records (plus calls still talking) = the day's counts."""
    result = replay(path, fmt, SiteConfig(), calls=True)  # type: ignore[arg-type]
    assert result.last_ts is not None
    rows = rows_of(result.state)
    assert rows and len({(r["queue"], r["call_id"]) for r in rows}) == len(rows)  # one record per call
    expected, logged = day_counts(result.state, rows, result.last_ts)
    assert logged == expected
    assert all(r["outcome"] in OUTCOMES and r["channel"] == "voice" for r in rows)
    assert sum(expected[k] for k in expected if k[1] != "answered") == sum(r["outcome"] != "answered" for r in rows)


def test_each_outcome_gets_its_record_with_its_times() -> None:
    """Answered calls at their end; abandons (short or not) and timeouts when they leave; never twice."""
    state = run_on(SITE, *outcomes(), ev("call_ended", 70, call_id="c1", queue="support", agent="a1", talk_s=60))
    state.apply(ev("call_abandoned", 41, call_id="c4", queue="support"))  # a duplicate outcome: no record
    rows = {row["call_id"]: row for row in rows_of(state)}
    assert {k: r["outcome"] for k, r in rows.items()} == {
        "c1": "answered",
        "c3": "short_abandon",
        "c4": "abandoned",
        "c5": "timed_out",
    }
    c1 = rows["c1"]
    assert (c1["entered"], c1["answered"], c1["ended"]) == (at(0).isoformat(), at(10).isoformat(), at(70).isoformat())
    assert (c1["wait_s"], c1["talk_s"], c1["hold_s"], c1["wrap_s"], c1["agent"], c1["team"]) == (
        10,
        60,
        0.0,
        5,
        "a1",
        "blue",
    )
    assert (rows["c3"]["wait_s"], rows["c3"]["ended_by"], rows["c5"]["ended_by"]) == (3.0, "caller", "system")
    assert rows["c4"]["agent"] is None and rows["c4"]["ended"] == at(40).isoformat()
    assert rows_of(state) == []  # drained once


def test_rings_missed_agents_transfer_and_caller() -> None:
    """AgentRang attempts and who missed them, the transfer target and kind, the caller from the queueing."""
    state = run_on(
        SITE,
        queued(0, "c1", caller="+33140000142", caller_name="Ada"),
        ev("agent_rang", 5, call_id="c1", queue="support", agent="a2", answered=False),
        ev("agent_rang", 10, call_id="c1", queue="support", agent="a3", answered=False),
        ev("agent_rang", 15, call_id="c1", queue="support", agent="a2", answered=False),
        ev("agent_rang", 20, call_id="c1", queue="support", agent="a1", answered=True),
        ev("call_answered", 20, call_id="c1", queue="support", agent="a1", wait_s=20),
        ev("call_transferred", 50, call_id="c1", queue="support", agent="a1", target="2000@internal"),
        ev("call_ended", 50, call_id="c1", queue="support", agent="a1", talk_s=30, ended_by="transfer"),
    )
    (row,) = rows_of(state)
    assert (row["ring_attempts"], row["missed_by"]) == (4, ["a2", "a3"])
    assert (row["transfer_target"], row["transfer_kind"], row["ended_by"]) == ("2000@internal", "blind", "transfer")
    assert (row["caller"], row["caller_name"], row["wait_s"]) == ("+33140000142", "Ada", 20)


def test_restart_closes_waiting_as_unknown_and_talking_as_ended() -> None:
    """A source restart: the waiting call's record is unknown, the talking one's answered with ended_by unknown."""
    state = run_on(
        SITE,
        queued(0, "c1"),
        queued(0, "c2"),
        ev("call_answered", 10, call_id="c1", queue="support", agent="a1", wait_s=10),
        ev("source_reset", 40, reason="restart"),
    )
    rows = {row["call_id"]: row for row in rows_of(state)}
    assert (rows["c1"]["outcome"], rows["c1"]["ended_by"], rows["c1"]["talk_s"]) == ("answered", "unknown", 30)
    assert (rows["c2"]["outcome"], rows["c2"]["wait_s"]) == ("unknown", 40)


def test_exit_reasons_and_a_checkpoint_keep_the_log() -> None:
    """Each exit reason has its outcome; records not drained survive a pickled checkpoint, and numbers go on."""
    reasons = ("timeout", "key", "empty", "full", "withdraw", "unknown")
    state = run_on(SITE, *(queued(0, r) for r in reasons))
    for n, reason in enumerate(reasons, 1):
        state.apply(ev("call_exited", n, call_id=reason, queue="support", reason=reason))
    restored: State = pickle.loads(pickle.dumps(state))
    drained = restored.drain_call_records()
    assert [(n, row["outcome"]) for n, row in drained] == list(
        enumerate(
            ["timed_out", "exited_key", "exited_empty", "exited_full", "exited_withdraw", "unknown"],
            1,
        )
    )
    restored.apply(queued(100, "x"))
    restored.apply(ev("call_abandoned", 110, call_id="x", queue="support"))
    assert [n for n, _ in restored.drain_call_records()] == [7]


def test_a_checkpoint_without_a_call_log_gets_an_empty_one() -> None:
    """A State pickled before the call log existed is restored with an empty log."""
    state = State(SITE)
    del state.__dict__["_calls"]
    restored: State = pickle.loads(pickle.dumps(state))
    restored.apply(queued(0, "c1"))
    restored.apply(ev("call_abandoned", 9, call_id="c1", queue="support"))
    assert [row["outcome"] for row in rows_of(restored)] == ["abandoned"]


def test_masking_transfer_kind_and_csv() -> None:
    """Masked numbers keep their last 4 digits; attended targets name a channel; CSV has the fixed header."""
    assert masked("014000142") == "\u2022" * 5 + "0142"
    assert (masked("123"), masked("")) == ("\u2022" * 3, "")
    assert (transfer_kind("PJSIP/200-0001"), transfer_kind("BRIDGE|x|1"), transfer_kind(None)) == (
        "attended",
        "attended",
        None,
    )
    state = run_on(SITE, *outcomes())
    table = list(csv.DictReader(io.StringIO(calls_csv(rows_of(state)))))
    assert list(table[0]) == list(CALL_COLUMNS) and len(table) == 3  # two answered calls still talking
    assert {line["outcome"] for line in table} == {"short_abandon", "abandoned", "timed_out"}
