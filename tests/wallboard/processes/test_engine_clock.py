"""The runner's wall clock with a real redis-server: a future-dated event never moves the windows or the checkpoint.

The runner's clock is injected and pinned at 09:10 on the events' day; one call is dated two days ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.core.events import CallAbandoned, CallAnswered, CallQueued, Event
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.core.site_book import decode_state
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect

SITE = SiteConfig(site="paris", queues={"support": QueueConfig()})
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)  # the runner's wall clock
TODAY = "2024-05-06T00:00:00+00:00"  # the site is in UTC


def calls(first: int, count: int, at: datetime = T0) -> list[Event]:
    """``count`` answered calls numbered from ``first``, 20 s apart from ``at``."""
    events: list[Event] = []
    for n in range(first, first + count):
        ts = at + timedelta(seconds=20 * n)
        common: dict[str, Any] = {"site": "paris", "source": "test", "queue": "support", "call_id": f"c{n}"}
        events.append(CallQueued(ts=ts, key=f"q{n}", **common))
        events.append(CallAnswered(ts=ts + timedelta(seconds=4), key=f"a{n}", agent="a1", wait_s=4.0, **common))
    return events


def future_call() -> list[Event]:
    """A call dated two days ahead, as one line appended by hand to a live queue_log gives."""
    ts = T0 + timedelta(days=2)
    common: dict[str, Any] = {"site": "paris", "source": "test", "queue": "support", "call_id": "c-future"}
    return [
        CallQueued(ts=ts, key="q-future", **common),
        CallAbandoned(ts=ts + timedelta(seconds=30), key="x-future", wait_s=30.0, **common),
    ]


class Runners:
    """Runners of one Redis, each with its own client, like separate processes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = connect(url)
        self.store = Store(self.client, site="paris")
        self.running: list[tuple[asyncio.Task[None], aioredis.Redis]] = []

    def start(self) -> EngineRunner:
        client = connect(self.url)
        settings = Settings(_env={}, site="paris", snapshot_interval_s=0.02, checkpoint_interval_s=0.05)
        runner = EngineRunner(
            settings, Store(client, site="paris"), SITE, clock=lambda: NOW, backoff=Backoff(initial=0.01, cap=0.2)
        )
        self.running.append((asyncio.create_task(runner.run()), client))
        return runner

    async def kill(self, runner: EngineRunner) -> None:
        """Like kill -9: cancelled wherever it is, its connection dropped, no final write."""
        for task, client in list(self.running):
            if client is runner.store.client:
                task.cancel()
                await asyncio.wait({task})
                await client.aclose()
                self.running.remove((task, client))

    async def caught_up(self, last_id: str) -> bool:
        """The stored snapshot includes ``last_id`` and a checkpoint covers it (nothing left unacknowledged)."""
        snapshot = await self.store.events.load_snapshot()
        return (
            snapshot is not None and snapshot["stream_id"] == last_id and await self.store.events.pending_count() == 0
        )

    async def append(self, events: list[Event]) -> str:
        ids = await self.store.events.append_events(events)
        await poll_until(lambda: self.caught_up(ids[-1]), "the runner to checkpoint the events", 10.0)
        return ids[-1]

    async def day(self) -> tuple[str, int, int]:
        """The stored snapshot's day start, the support queue's offered calls today and clock_ahead."""
        snapshot = await self.store.events.load_snapshot()
        assert snapshot is not None
        offered = snapshot["queues"]["support"]["day"]["offered"]
        return snapshot["day"]["start"], offered, snapshot["counters"]["anomalies"]["clock_ahead"]

    async def close(self) -> None:
        for task, client in self.running:
            task.cancel()
            await asyncio.wait({task})
            await client.aclose()
        await self.client.aclose()


@pytest.fixture
async def runners(redis_url: str) -> AsyncIterator[Runners]:
    runners = Runners(redis_url)
    yield runners
    await runners.close()


async def test_a_future_dated_call_is_not_applied_and_a_restart_keeps_today(runners: Runners) -> None:
    """18 calls, one dated two days ahead, 3 more: today counts 21 and stays today, in the checkpoint too,
    and a runner restarted from that checkpoint goes on counting today."""
    first = runners.start()
    await runners.append(calls(0, 18) + future_call() + calls(18, 3))
    assert await runners.day() == (TODAY, 21, 2)
    checkpoint = await runners.store.events.load_checkpoint()
    assert checkpoint is not None
    saved = decode_state(checkpoint.payload).snapshot(NOW)
    assert (saved["day"]["start"], saved["interval"]["start"]) == (TODAY, T0.isoformat())
    assert saved["queues"]["support"]["day"]["offered"] == 21
    await runners.kill(first)
    second = runners.start()
    await runners.append(calls(21, 4))
    assert await runners.day() == (TODAY, 25, 2)
    assert second.state is not None and second.state.horizon == NOW + timedelta(minutes=15)
