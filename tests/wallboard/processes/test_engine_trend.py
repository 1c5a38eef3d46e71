"""The runner's trend sampling with a real redis-server and an injected clock: one sample per 10 s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.core.events import AgentLogin, CallAbandoned, CallAnswered, CallEnded, CallQueued, Event
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.core.site_book import TREND_EVERY_S, trend_sample
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect

SITE = SiteConfig(site="paris", queues={"support": QueueConfig(), "sales": QueueConfig()})
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # an interval start


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def events() -> list[Event]:
    """In sales: c1 answered after 5 s, c2 abandoned after 38 s (SL 1 of 2 = 50 %), c3 still waiting."""
    common = {"site": "paris", "source": "test", "queue": "sales"}
    return [
        AgentLogin(ts=at(0), key="l1", agent="a1", **common),
        CallQueued(ts=at(1), key="q1", call_id="c1", **common),
        CallAnswered(ts=at(6), key="a1", call_id="c1", agent="a1", wait_s=5.0, **common),
        CallEnded(ts=at(30), key="e1", call_id="c1", agent="a1", talk_s=24.0, **common),
        CallQueued(ts=at(2), key="q2", call_id="c2", **common),
        CallAbandoned(ts=at(40), key="x2", call_id="c2", wait_s=38.0, position=1, **common),
        CallQueued(ts=at(50), key="q3", call_id="c3", **common),
    ]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    await poll_until(predicate, "the condition", timeout)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site="paris")
    await client.aclose()


def test_a_sample_is_each_queues_waiting_and_interval_sl() -> None:
    """A snapshot's queues -> {queue: [waiting, interval service_level_pct]}; no interval -> None."""
    snapshot = {
        "queues": {
            "sales": {"waiting": 3, "interval": {"service_level_pct": 87.5}},
            "support": {"waiting": 0, "interval": {"service_level_pct": None}},
            "new": {"waiting": 1},
        }
    }
    assert trend_sample(snapshot) == {"sales": [3, 87.5], "support": [0, None], "new": [1, None]}


async def test_the_runner_samples_every_ten_seconds_of_its_clock(store: Store) -> None:
    """First publish samples at once; 5 s later nothing new; 10 s after the first a second sample with the figures."""
    ids = await store.events.append_events(events())
    clock = Clock(at(100))
    settings = Settings(_env={}, site="paris", snapshot_interval_s=0.01, checkpoint_interval_s=0.05)
    runner = EngineRunner(settings, store, SITE, clock=clock, backoff=Backoff(initial=0.01, cap=0.2), tick_s=0.01)
    task = asyncio.create_task(runner.run())
    try:

        async def caught_up() -> bool:
            snapshot = await store.events.load_snapshot()
            return snapshot is not None and snapshot["stream_id"] == ids[-1]

        await until(caught_up)
        first_ms = int(at(100).timestamp() * 1000)
        # The first publish came before the events were read: every queue empty, no SL yet.
        assert await store.trend.trend_samples(0) == [(first_ms, {"support": [0, None], "sales": [0, None]})]

        clock.now = at(100 + TREND_EVERY_S / 2)
        seq = runner.seq

        async def published_twice() -> bool:
            return runner.seq >= seq + 2

        await until(published_twice)
        assert len(await store.trend.trend_samples(0)) == 1

        clock.now = at(100 + TREND_EVERY_S)

        async def second_sample() -> bool:
            return len(await store.trend.trend_samples(0)) == 2

        await until(second_sample)
        second_ms = int(at(100 + TREND_EVERY_S).timestamp() * 1000)
        assert (await store.trend.trend_samples(first_ms + 1)) == [
            (second_ms, {"support": [0, None], "sales": [1, 50.0]})
        ]
    finally:
        task.cancel()
        await asyncio.wait({task})
