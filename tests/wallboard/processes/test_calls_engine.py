"""The runner's call log with a real redis-server: the real asterisk22-light queue_log through the stream, one
record per finished call written with the checkpoint, matching the published snapshot's day counts; retention."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixture_paths import LIGHT
from waiting import poll_until

from collectors.queue_log.parser import QueueLogMapper
from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.core.events import CallAbandoned, CallQueued, Event
from wallboard.core.site import SiteConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect

SITE = SiteConfig(site="paris")


def capture() -> list[Event]:
    mapper = QueueLogMapper(site="paris")
    lines = (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
    return [*mapper.feed_lines(lines, 1), *mapper.finish()]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site="paris")
    await client.aclose()


async def run_runner(store: Store, clock: Clock, **values: Any) -> tuple[EngineRunner, asyncio.Task[None]]:
    settings = Settings(_env={}, site="paris", snapshot_interval_s=0.02, checkpoint_interval_s=0.05, **values)
    runner = EngineRunner(settings, store, SITE, clock=clock, backoff=Backoff(initial=0.01, cap=0.1), tick_s=0.02)
    return runner, asyncio.create_task(runner.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait({task})


async def caught_up(store: Store, last_id: str) -> bool:
    snapshot = await store.events.load_snapshot()
    return snapshot is not None and snapshot["stream_id"] == last_id and await store.events.pending_count() == 0


async def numbered(store: Store, number: int) -> bool:
    last = await store.calls.last_call()
    return last is not None and last[1] >= number


async def test_the_capture_gives_one_record_per_call_matching_the_day(store: Store) -> None:
    """17 answered calls: 17 records, ids increasing by finish time, per queue equal to the snapshot's day."""
    events = capture()
    clock = Clock(events[-1].ts + timedelta(minutes=1))
    runner, task = await run_runner(store, clock)
    try:
        ids = await store.events.append_events(events)
        await poll_until(lambda: caught_up(store, ids[-1]), "the runner caught up", 10)
        entries = await store.calls.call_rows("-", "+", 1000)
    finally:
        await stop(task)
    rows = [row for _, row in entries if row is not None]
    assert len(rows) == len(entries) == 17
    snapshot = await store.events.load_snapshot()
    assert snapshot is not None
    day = {name: queue["day"]["answered"] for name, queue in snapshot["queues"].items()}
    assert Counter(row["queue"] for row in rows if row["outcome"] == "answered") == day
    finished = [int(datetime.fromisoformat(row["finished"]).timestamp() * 1000) for row in rows]
    assert [int(entry_id.partition("-")[0]) for entry_id, _ in entries] == finished == sorted(finished)
    assert runner.state is not None and runner.state.drain_call_records() == []
    last = await store.calls.last_call()
    assert last is not None and last[1] == 17


async def test_a_rebuilt_runner_writes_no_record_twice_and_retention_trims(store: Store) -> None:
    """A lost checkpoint: the rebuild skips the records already written; records older than the retention go."""
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    common: dict[str, Any] = {"site": "paris", "source": "test", "queue": "support"}

    def abandoned(day: int, n: int) -> list[Event]:
        ts = t0 + timedelta(days=day, seconds=n * 60)
        return [
            CallQueued(ts=ts, key=f"q{day}-{n}", call_id=f"c{day}-{n}", **common),
            CallAbandoned(ts=ts + timedelta(seconds=30), key=f"x{day}-{n}", call_id=f"c{day}-{n}", **common),
        ]

    clock = Clock(t0 + timedelta(hours=1))
    _, task = await run_runner(store, clock, history_retention_days=2, clock_tolerance_s=10 * 86_400.0)
    ids = await store.events.append_events([*abandoned(0, 1), *abandoned(0, 2)])
    await poll_until(lambda: caught_up(store, ids[-1]), "the runner caught up", 10)
    await stop(task)
    await store.client.delete(store.keys.checkpoint)  # a lost checkpoint: the next runner rebuilds
    clock.now = t0 + timedelta(days=3, hours=1)
    _, task = await run_runner(store, clock, history_retention_days=2, clock_tolerance_s=10 * 86_400.0)
    try:
        ids = await store.events.append_events(abandoned(3, 1))
        await poll_until(lambda: caught_up(store, ids[-1]), "the rebuilt runner caught up", 10)
        await poll_until(lambda: numbered(store, 3), "the third record", 10)
        entries = await store.calls.call_rows("-", "+", 1000)
    finally:
        await stop(task)
    # day 0's two records were trimmed (3 days > 2 days of retention), written once each before
    assert [(row or {}).get("call_id") for _, row in entries] == ["c3-1"]
    last = await store.calls.last_call()
    assert last is not None and last[1] == 3  # numbered after the two written before the rebuild
