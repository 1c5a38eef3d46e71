"""The runner's adherence book against a real Redis: schedule reloads, the snapshot fields, alerts, checkpoints."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.adherence.schedule import Schedule, Slot, dump_schedule
from wallboard.core.adherence.tracker import AdherenceBook
from wallboard.core.alerts import Evaluator, Level
from wallboard.core.backoff import Backoff
from wallboard.core.engine import State
from wallboard.core.events import AgentLogin
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig
from wallboard.core.site_book import (
    PICKLE_PROTOCOL,
    UnreadableCheckpointError,
    decode_checkpoint,
    decode_payload,
    encode_state,
)
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SITE = SiteConfig(
    site="paris",
    queues={"support": QueueConfig()},
    teams={"care": TeamConfig()},
    agents={"a1": AgentConfig(name="Alice", team="care"), "a2": AgentConfig(name="Bob", team="care")},
    thresholds=[{"id": "adh", "metric": "adherence_pct", "warn": 90, "alarm": 80}],
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def schedule(end_minutes: int = 60) -> Schedule:
    """a1 and a2 work 09:00 to 09:00 + ``end_minutes``."""
    end = T0 + timedelta(minutes=end_minutes)
    return Schedule.of([Slot(agent, T0, end, "work", T0.date()) for agent in ("a1", "a2")])


async def store_schedule(store: Store, slots: Schedule, expected: int) -> None:
    document = {"slots": dump_schedule(slots, SITE)}
    await store.schedules.write_schedules(document, expected, "test", at=T0, action="schedules.import")


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site="paris")
    await client.aclose()


@pytest.fixture
async def running(redis_url: str) -> AsyncIterator[tuple[EngineRunner, Clock]]:
    clock = Clock(T0 - timedelta(minutes=10))
    client = connect(redis_url)
    settings = Settings(_env={}, site="paris", snapshot_interval_s=0.02, checkpoint_interval_s=0.05)
    runner = EngineRunner(
        settings,
        Store(client, site="paris"),
        SITE,
        clock=clock,
        backoff=Backoff(initial=0.01),
        thresholds_poll_s=0.05,
        tick_s=0.02,
    )
    task = asyncio.create_task(runner.run())
    yield runner, clock
    task.cancel()
    await asyncio.wait({task})
    await client.aclose()


async def snapshot_where(store: Store, test: Any, what: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def holds() -> bool:
        snapshot = await store.events.load_snapshot()
        if snapshot is not None and test(snapshot):
            found.update(snapshot)
            return True
        return False

    await poll_until(holds, what, 10.0)
    return found


def adherence_of(snapshot: dict[str, Any], agent: str) -> dict[str, Any] | None:
    entry = (snapshot.get("agents") or {}).get(agent) or {}
    return entry.get("adherence")


async def test_stored_schedule_reaches_the_snapshot_with_a_late_login(
    store: Store, running: tuple[EngineRunner, Clock]
) -> None:
    """A stored schedule is put in force; a1 logs in 5 min late, a2 never does: both show, a2 out and alerted."""
    runner, clock = running
    await snapshot_where(store, lambda s: "adherence" not in s, "a snapshot without a schedule")
    await store_schedule(store, schedule(), 0)
    await snapshot_where(store, lambda s: (s.get("adherence") or {}).get("schedule_version") == 1, "version 1")
    login = AgentLogin(ts=T0 + timedelta(minutes=5), site="paris", source="test", key="l1", agent="a1", queue="support")
    await store.events.append_events([login])
    clock.now = T0 + timedelta(minutes=10)
    snapshot = await snapshot_where(
        store, lambda s: (adherence_of(s, "a1") or {}).get("actual") == "work", "a1 logged in"
    )
    a1, a2 = adherence_of(snapshot, "a1"), adherence_of(snapshot, "a2")
    assert a1 is not None and a2 is not None
    # a1: scheduled 09:00-09:10, out 09:00-09:05 (late login beyond the 120 s grace) -> 50 %
    assert (a1["status"], a1["minutes_late"], a1["adherence_pct"]) == ("in", 5.0, 50.0)
    # a2: never seen by the engine, listed logged out: out since 09:00, 0 %
    assert snapshot["agents"]["a2"]["state"] == "logged_out"
    assert (a2["status"], a2["exception"], a2["adherence_pct"]) == ("out", "late_login", 0.0)
    assert snapshot["agents"]["a2"]["adherence_pct"] == 0.0
    assert snapshot["teams"]["care"]["adherence"]["out_now"] == 1
    assert {kind for kind in (e["kind"] for e in snapshot["adherence"]["exceptions"])} == {"late_login"}
    alerted = await snapshot_where(
        store,
        lambda s: {a["target"]["name"] for a in s.get("alerts", []) if a["metric"] == "adherence_pct"} >= {"a2"},
        "an adherence alert for a2",
    )
    assert any(a["level"] == "alarm" for a in alerted["alerts"] if a["target"]["name"] == "a2")


async def test_a_new_version_is_reloaded_and_a_bad_one_is_counted_and_ignored(
    store: Store, running: tuple[EngineRunner, Clock]
) -> None:
    """A notice reloads the schedule; an unusable stored document keeps the version in force and counts once."""
    runner, clock = running
    await store_schedule(store, schedule(60), 0)
    await snapshot_where(store, lambda s: (s.get("adherence") or {}).get("schedule_version") == 1, "version 1")
    await store_schedule(store, schedule(30), 1)
    await snapshot_where(store, lambda s: (s.get("adherence") or {}).get("schedule_version") == 2, "version 2")
    bad = {
        "version": 3,
        "slots": [{"agent": "a1", "date": "2026-03-02", "start": "10:00", "end": "09:00", "activity": "work"}],
    }
    await store.client.set(store.keys.config("schedules"), json.dumps(bad))
    await poll_until(lambda: runner.stats.config_errors == 1, "the bad document counted", 10.0)
    clock.now += timedelta(seconds=1)
    await poll_until(lambda: runner.adherence is not None and runner.adherence.version == 2, "version 2 kept", 10.0)
    checks = runner.stats.published + 10
    await poll_until(lambda: runner.stats.published > checks, "more publishes (and polls)", 10.0)
    assert runner.stats.config_errors == 1  # once per version, not once per poll


async def test_the_checkpoint_holds_the_adherence_book(store: Store, running: tuple[EngineRunner, Clock]) -> None:
    """The stored checkpoint carries the book (with its schedule version) beside the State and alert book."""
    runner, clock = running
    await store_schedule(store, schedule(), 0)
    await snapshot_where(store, lambda s: (s.get("adherence") or {}).get("schedule_version") == 1, "version 1")
    login = AgentLogin(ts=T0, site="paris", source="test", key="l1", agent="a1", queue="support")
    await store.events.append_events([login])

    async def checkpointed() -> bool:
        checkpoint = await store.events.load_checkpoint()
        return checkpoint is not None and (decode_checkpoint(checkpoint.payload)[2] or AdherenceBook(SITE)).version == 1

    await poll_until(checkpointed, "a checkpoint with the book", 10.0)


def test_payloads_round_trip_and_older_formats_are_refused() -> None:
    """encode_state carries the adherence book; a format-4 payload (no book) takes the rebuild path."""
    book = AdherenceBook(SITE, schedule(), 7)
    state, alerts, adherence = decode_checkpoint(encode_state(State(SITE), None, book))
    assert isinstance(state, State) and alerts is None and adherence is not None and adherence.version == 7
    assert decode_payload(encode_state(State(SITE)))[1] is None
    with pytest.raises(UnreadableCheckpointError, match="format 4"):
        decode_checkpoint(pickle.dumps((4, State(SITE), None), protocol=PICKLE_PROTOCOL))


def test_alert_reason_names_an_agent_not_scheduled_today() -> None:
    """With a schedule in force, an agent without a slot today has no adherence figure, and the reason says why."""
    snapshot = {
        "agents": {"a1": {"id": "a1", "name": "Alice", "team": "care", "adherence": None, "adherence_pct": None}},
        "adherence": {"schedule_version": 1},
    }
    [status] = [s for s in Evaluator(SITE.thresholds, SITE.tz).evaluate(snapshot, T0, {}) if s.target.name == "a1"]
    assert (status.level, status.reason) == (Level.NO_DATA, "no adherence figure (not scheduled today)")
