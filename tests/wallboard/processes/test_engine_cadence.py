"""The engine publishes at least once a second without events, whatever ``snapshot_interval_s`` says: the snapshot's
``ts`` is how /readyz and the pages tell a live engine from a stopped one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.site import SiteConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    try:
        yield Store(client, site="paris")
    finally:
        await client.aclose()


async def test_the_snapshot_ts_advances_every_second_with_a_long_interval(store: Store) -> None:
    """snapshot_interval_s 5 and no event: the stored snapshot's ts still takes three values within 3.5 s."""
    runner = EngineRunner(Settings(_env={}, site="paris", snapshot_interval_s=5.0), store, SiteConfig(site="paris"))
    task = asyncio.create_task(runner.run())
    seen: set[str] = set()

    async def three_times() -> bool:
        stored = await store.events.load_snapshot()
        if stored is not None:
            seen.add(stored["ts"])
        return len(seen) >= 3

    try:
        await poll_until(three_times, "three snapshot times", 3.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
