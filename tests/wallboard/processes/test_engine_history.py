"""The runner's interval history with a real redis-server: rows written once, with the checkpoint.

The runner's clock is injected: pinned in the first quarter while the events arrive, then moved past
the second quarter so that a publish closes it. Expected rows are computed by hand from the events.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from store_doubles import store_with
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.core.events import AgentLogin, CallAbandoned, CallAnswered, CallEnded, CallQueued, Event
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.core.site_book import PICKLE_PROTOCOL, UnreadableCheckpointError, decode_payload
from wallboard.processes.engine import EngineRunner
from wallboard.store import HistoryWrite, Store, connect
from wallboard.store.streams import StreamStore

SITE = SiteConfig(site="paris", queues={"support": QueueConfig(wrapup_s=5), "sales": QueueConfig()})
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # a quarter start
Q1, Q2 = T0, T0 + timedelta(minutes=15)
MS1 = int(Q1.timestamp() * 1000)
MS2 = MS1 + 900_000


def at(seconds: float, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, seconds=seconds)


def events(day: int = 0) -> list[Event]:
    """a1 logs in at 1 s; support: c1 answered after 5 s (15-75 s); sales: c2 abandoned after 30 s;
    second quarter: support c3 answered after 40 s (1040-1100 s)."""
    common: dict[str, Any] = {"site": "paris", "source": "test"}
    key = f"d{day}"
    support, sales = {**common, "queue": "support"}, {**common, "queue": "sales"}
    return [
        AgentLogin(ts=at(1, day), key=f"{key}l1", agent="a1", **support),
        CallQueued(ts=at(10, day), key=f"{key}q1", call_id=f"{key}c1", **support),
        CallAnswered(ts=at(15, day), key=f"{key}a1", call_id=f"{key}c1", agent="a1", wait_s=5.0, **support),
        CallEnded(ts=at(75, day), key=f"{key}e1", call_id=f"{key}c1", agent="a1", talk_s=60.0, **support),
        CallQueued(ts=at(20, day), key=f"{key}q2", call_id=f"{key}c2", **sales),
        CallAbandoned(ts=at(50, day), key=f"{key}x2", call_id=f"{key}c2", wait_s=30.0, position=1, **sales),
        CallQueued(ts=at(1000, day), key=f"{key}q3", call_id=f"{key}c3", **support),
        CallAnswered(ts=at(1040, day), key=f"{key}a3", call_id=f"{key}c3", agent="a1", wait_s=40.0, **support),
        CallEnded(ts=at(1100, day), key=f"{key}e3", call_id=f"{key}c3", agent="a1", talk_s=60.0, **support),
    ]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def until(predicate: Callable[[], Awaitable[Any] | bool], timeout: float = 10.0) -> None:
    await poll_until(predicate, "the condition", timeout)


class Harness:
    """Runners on one Redis, each with its own client (like a process) and the shared clock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = connect(url)
        self.store = Store(self.client, site="paris")
        self.clock = Clock(at(0))
        self.running: list[tuple[asyncio.Task[None], aioredis.Redis]] = []

    def start(self, store_class: type[Store] = Store, **overrides: Any) -> EngineRunner:
        client = connect(self.url)
        values: dict[str, Any] = {"site": "paris", "snapshot_interval_s": 0.02, "checkpoint_interval_s": 0.05}
        values["clock_tolerance_s"] = 3 * 86_400.0  # the pinned clock lags events of later quarters and days
        runner = EngineRunner(
            Settings(_env={}, **(values | overrides)),
            store_class(client, site="paris"),
            SITE,
            clock=self.clock,
            backoff=Backoff(initial=0.01, cap=0.1),
            tick_s=0.02,
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

    async def rows(self, kind: str) -> list[tuple[str, dict[str, Any] | None]]:
        return await self.store.history.history_rows(kind, "-", "+", 1000)

    async def caught_up(self, last_id: str) -> bool:
        snapshot = await self.store.events.load_snapshot()
        return (
            snapshot is not None and snapshot["stream_id"] == last_id and await self.store.events.pending_count() == 0
        )

    async def close(self) -> None:
        for task, client in self.running:
            task.cancel()
            await asyncio.wait({task})
            await client.aclose()
        await self.client.aclose()


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    harness = Harness(redis_url)
    yield harness
    await harness.close()


def brief(rows: Sequence[tuple[str, dict[str, Any] | None]], *fields: str) -> list[tuple[Any, ...]]:
    return [(entry_id, *(row[f] if row else None for f in fields)) for entry_id, row in rows]


async def test_closed_quarters_are_written_as_rows(harness: Harness) -> None:
    """Quarter 1 closes at c3's queueing, quarter 2 when the clock passes 09:30: queue and agent rows by hand."""
    runner = harness.start()
    ids = await harness.store.events.append_events(events())
    await until(lambda: harness.caught_up(ids[-1]))
    await until(lambda: harness.rows("queue"))
    fields = ("queue", "start", "offered", "answered_within_sl", "abandoned", "service_level_pct", "aht_s")
    assert brief(await harness.rows("queue"), *fields) == [
        (f"{MS1}-0", "support", Q1.isoformat(), 1, 1, 0, 100.0, 65.0),  # 5 s <= 20 s; 60 talk + 5 wrap
        (f"{MS1}-1", "sales", Q1.isoformat(), 1, 0, 1, 0.0, None),
    ]
    harness.clock.now = at(1860)
    await until(lambda: has_rows_from(harness, MS2))
    queue_rows = await harness.rows("queue")
    assert brief(queue_rows[2:], *fields) == [
        (f"{MS2}-0", "support", Q2.isoformat(), 1, 0, 0, 0.0, 65.0),  # 40 s > 20 s
        (f"{MS2}-1", "sales", Q2.isoformat(), 0, 0, 0, None, None),
    ]
    agent_fields = ("agent", "start", "logged_in_s", "state_available_s", "state_on_call_s", "state_wrap_up_s")
    assert brief(await harness.rows("agent"), *agent_fields, "answered", "handled") == [
        (f"{MS1}-0", "a1", Q1.isoformat(), 899.0, 834.0, 60.0, 5.0, 1, 1),  # logged in at 1 s
        (f"{MS2}-0", "a1", Q2.isoformat(), 900.0, 835.0, 60.0, 5.0, 1, 1),
    ]
    assert runner.state is not None and runner.state.drain_closed_intervals() == []


async def has_rows_from(harness: Harness, ms: int) -> bool:
    """Agent rows (written after the queue rows of the same MULTI) of an interval starting at ``ms`` or later."""
    last = await harness.store.history.last_history_id("agent")
    return last is not None and int(last.partition("-")[0]) >= ms


async def test_rows_are_written_once_however_the_runner_is_killed(harness: Harness) -> None:
    """Killed before the write with rows, then a reply lost after it, then a rebuild: every row once."""

    class KilledBeforeRows(StreamStore):
        """A process killed as it writes its first rows: the MULTI never happens."""

        stuck = asyncio.Event()

        async def save_state(
            self,
            snapshot_json: str,
            checkpoint: bytes | None,
            stream_id: str,
            seq: int,
            alerts: Sequence[str] = (),
            history: Sequence[HistoryWrite] = (),
        ) -> None:
            if history:
                self.stuck.set()
                await asyncio.Event().wait()
            await super().save_state(snapshot_json, checkpoint, stream_id, seq, alerts, history)

    class ReplyLost(StreamStore):
        """The MULTI with rows goes through, but the connection drops before the reply: the runner retries."""

        lost = 0

        async def save_state(
            self,
            snapshot_json: str,
            checkpoint: bytes | None,
            stream_id: str,
            seq: int,
            alerts: Sequence[str] = (),
            history: Sequence[HistoryWrite] = (),
        ) -> None:
            await super().save_state(snapshot_json, checkpoint, stream_id, seq, alerts, history)
            if history and not ReplyLost.lost:
                ReplyLost.lost += 1
                raise RedisConnectionError("connection reset by peer (test)")

    first = harness.start(store_with(KilledBeforeRows))
    ids = await harness.store.events.append_events(events())
    await until(KilledBeforeRows.stuck.is_set)
    await harness.kill(first)
    assert await harness.rows("queue") == []

    second = harness.start(store_with(ReplyLost))
    await until(lambda: harness.caught_up(ids[-1]))
    harness.clock.now = at(1860)
    await until(lambda: has_rows_from(harness, MS2))
    await until(lambda: second.stats.reconnects >= 1 and second.stats.connected)
    seq = second.seq
    await until(lambda: second.seq > seq + 2)  # published again after the retry
    await harness.kill(second)
    assert ReplyLost.lost == 1

    # A checkpoint this version cannot read: the rebuilt State closes both quarters again.
    await harness.client.set(harness.store.keys.checkpoint, b"WBCP1\n" + b'{"stream_id": "1-0", "seq": 1}\n' + b"x")
    third = harness.start()
    await until(lambda: third.stats.connected and third.seq > 3)
    assert third.stats.applied == len(events())
    queue_ids = [entry_id for entry_id, _ in await harness.rows("queue")]
    agent_ids = [entry_id for entry_id, _ in await harness.rows("agent")]
    assert queue_ids == [f"{MS1}-0", f"{MS1}-1", f"{MS2}-0", f"{MS2}-1"]
    assert agent_ids == [f"{MS1}-0", f"{MS2}-0"]


async def test_rows_older_than_the_retention_are_trimmed(harness: Harness) -> None:
    """Retention 1 day: the rows of a day two days before the newest are gone, the newest day's kept."""
    harness.start(history_retention_days=1)
    ids = await harness.store.events.append_events(events(0))
    await until(lambda: harness.caught_up(ids[-1]))
    await until(lambda: harness.rows("queue"))
    later = await harness.store.events.append_events(events(2))
    await until(lambda: harness.caught_up(later[-1]))
    day2 = int(at(0, 2).timestamp() * 1000)
    await until(lambda: has_rows_from(harness, day2))
    rows = await harness.rows("queue")
    assert {row["start"] for _, row in rows if row} == {at(0, 2).isoformat()}


def test_a_checkpoint_of_the_previous_format_takes_the_rebuild_path() -> None:
    """A format-3 payload (before the agents' interval accounting) is refused, so the runner rebuilds."""
    payload = pickle.dumps((3, object(), None), protocol=PICKLE_PROTOCOL)
    with pytest.raises(UnreadableCheckpointError, match="format 3"):
        decode_payload(payload)


async def test_rows_are_json_objects_named_by_interval_start(harness: Harness) -> None:
    """Each stream entry holds one field, the row's JSON, and its id is the interval start in ms."""
    harness.start()
    ids = await harness.store.events.append_events(events())
    await until(lambda: harness.caught_up(ids[-1]))
    await until(lambda: harness.rows("agent"))
    raw = await harness.client.xrange(harness.store.keys.history("agent"))
    entry_id, fields = raw[0]
    assert entry_id.decode() == f"{MS1}-0" and list(fields) == [b"r"]
    assert json.loads(fields[b"r"])["start"] == Q1.isoformat()
