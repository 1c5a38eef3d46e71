"""Tests for wallboard/processes/engine.py end to end with a real redis-server: figures, deltas, crashes, outages.

The reference for every figure is a pure ``State`` fed the same events. The runner's clock is
pinned at the start of the events' interval, so a snapshot taken while events are still arriving
changes nothing in the State (no interval roll, no wrap-up expiry) and the runner's snapshots can
be compared exactly with the pure one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from store_doubles import store_with
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.core.deltas import apply_diff
from wallboard.core.engine import State
from wallboard.core.events import (
    AgentLogin,
    AlertAction,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    Event,
    event_to_json,
)
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.core.site_book import decode_payload, decode_state, encode_state
from wallboard.core.thresholds import load_thresholds
from wallboard.processes.engine import EngineRunner, run_engine
from wallboard.store import Store, connect
from wallboard.store.embedded import start_embedded
from wallboard.store.streams import StreamStore

SITE = SiteConfig(
    site="paris",
    queues={"support": QueueConfig(wrapup_s=5), "sales": QueueConfig(wrapup_s=5)},
)
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # an interval start: every event below is in [T0, T0 + 15 min)
AGENTS = ("a1", "a2", "a3")


def pinned_clock() -> datetime:
    return T0


def call_events(first: int, count: int, site: str = "paris") -> list[Event]:
    """``count`` calls numbered from ``first``: every fifth abandons, the others are answered and end."""
    events: list[Event] = []
    for n in range(first, first + count):
        queue = ("support", "sales")[n % 2]
        start = T0 + timedelta(seconds=10 + 2 * n)
        common = {"site": site, "source": "test", "call_id": f"c{n}", "queue": queue}
        events.append(CallQueued(ts=start, key=f"q{n}", **common))
        wait = float(n % 25)
        if n % 5 == 0:
            events.append(CallAbandoned(ts=start + timedelta(seconds=wait), key=f"x{n}", wait_s=wait, **common))
            continue
        agent = AGENTS[n % 3]
        answered = start + timedelta(seconds=wait)
        talk = 20.0 + n % 7
        events.append(CallAnswered(ts=answered, key=f"a{n}", agent=agent, wait_s=wait, **common))
        events.append(CallEnded(ts=answered + timedelta(seconds=talk), key=f"e{n}", agent=agent, talk_s=talk, **common))
    return events


def logins(site: str = "paris") -> list[Event]:
    return [
        AgentLogin(
            ts=T0 + timedelta(seconds=1), site=site, source="test", key=f"l{agent}{queue}", agent=agent, queue=queue
        )
        for agent in AGENTS
        for queue in ("support", "sales")
    ]


def pure(events: Sequence[Event]) -> State:
    state = State(SITE)
    for event in events:
        state.apply(event)
    return state


def figures(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the runner's own fields (seq, stream id, alerts, pending alerts), JSON-normalised."""
    return {
        k: v for k, v in json.loads(json.dumps(snapshot)).items() if k not in ("seq", "stream_id", "alerts", "pending")
    }


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"site": "paris", "snapshot_interval_s": 0.02, "checkpoint_interval_s": 0.05}
    return Settings(_env={}, **(values | overrides))


async def until(predicate: Callable[[], Awaitable[Any] | bool], timeout: float = 10.0) -> None:
    await poll_until(predicate, "the condition", timeout)


async def cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has ended (a cancellation of the caller still propagates)."""
    task.cancel()
    await asyncio.wait({task})


class Harness:
    """Runners on one Redis; each gets its own client, like a separate process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = connect(url)
        self.store = Store(self.client, site="paris")
        self.running: list[tuple[asyncio.Task[None], aioredis.Redis]] = []

    def start(self, store_class: type[Store] = Store, site: SiteConfig = SITE, **kwargs: Any) -> EngineRunner:
        client = connect(self.url)
        runner = EngineRunner(
            kwargs.pop("settings", settings()),
            store_class(client, site="paris"),
            site,
            clock=pinned_clock,
            backoff=Backoff(initial=0.01, cap=0.2),
            **kwargs,
        )
        self.running.append((asyncio.create_task(runner.run()), client))
        return runner

    async def kill(self, runner: EngineRunner) -> None:
        """Like kill -9: cancel wherever it is, drop its connection, no final write."""
        for task, client in list(self.running):
            if client is runner.store.client:
                await cancel(task)
                await client.aclose()
                self.running.remove((task, client))

    async def caught_up(self, last_id: str) -> bool:
        """The stored snapshot includes ``last_id`` and nothing is left unacknowledged."""
        snapshot = await self.store.events.load_snapshot()
        return (
            snapshot is not None and snapshot["stream_id"] == last_id and await self.store.events.pending_count() == 0
        )

    async def close(self) -> None:
        for task, client in self.running:
            await cancel(task)
            await client.aclose()
        await self.client.aclose()


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    harness = Harness(redis_url)
    yield harness
    await harness.close()


def test_the_checkpoint_payload_round_trips_a_state() -> None:
    """encode_state/decode_state give back a State with the same figures."""
    events = logins() + call_events(0, 10)
    restored = decode_state(encode_state(pure(events)))
    assert restored.totals() == pure(events).totals()
    assert restored.snapshot(T0) == pure(events).snapshot(T0)


async def test_snapshots_carry_the_engine_figures_and_deltas_chain_to_them(harness: Harness) -> None:
    """N events in -> the stored snapshot equals a pure State's; the deltas, applied in order, rebuild it."""
    events = logins() + call_events(0, 40)
    expected = figures(pure(events).snapshot(T0))
    async with harness.store.events.subscribe_updates() as updates:
        runner = harness.start()
        ids: list[str] = []
        for start in range(0, len(events), 25):
            ids += await harness.store.events.append_events(events[start : start + 25])
        chain: dict[str, Any] = {}
        seqs: list[tuple[int, int]] = []
        async with asyncio.timeout(10):
            async for delta in updates:
                seqs.append((delta["base"], delta["seq"]))
                chain = apply_diff(chain, delta["changes"])
                assert chain["seq"] == delta["seq"]
                if chain["stream_id"] == ids[-1]:
                    break
    assert figures(chain) == expected
    # Seq 1 has no base (readers re-read the key); every later delta builds on the one before.
    assert [seq for _, seq in seqs] == list(range(1, len(seqs) + 1))
    assert [base for base, _ in seqs] == [None] + [seq - 1 for _, seq in seqs[1:]]
    await until(lambda: harness.caught_up(ids[-1]))
    stored = await harness.store.events.load_snapshot()
    assert stored is not None and figures(stored) == expected
    assert runner.state is not None and runner.state.totals() == pure(events).totals()
    assert (runner.stats.applied, runner.stats.rejected, runner.stats.ignored) == (len(events), 0, 0)


async def test_a_runner_killed_at_any_step_loses_nothing_and_counts_nothing_twice(harness: Harness) -> None:
    """Killed after a checkpoint, before an ack and before a checkpoint: the last runner equals a pure replay."""

    class AckLost(StreamStore):
        """A process killed right after its checkpoint: the acks never reach Redis."""

        async def ack(self, ids: Sequence[str]) -> int:
            return 0

    class KilledBeforeCheckpoint(StreamStore):
        """A process killed just before writing its checkpoint: the write never happens."""

        stuck = asyncio.Event()

        async def save_state(
            self, snapshot_json: str, checkpoint: bytes | None, stream_id: str, seq: int, alerts: Sequence[str] = ()
        ) -> None:
            if checkpoint is not None:
                self.stuck.set()
                await asyncio.Event().wait()
            await super().save_state(snapshot_json, checkpoint, stream_id, seq, alerts)

    batches = [logins() + call_events(0, 10), call_events(10, 10), call_events(20, 10), call_events(30, 10)]
    store = harness.store

    first = harness.start()
    ids = await store.events.append_events(batches[0])
    await until(lambda: harness.caught_up(ids[-1]))
    await harness.kill(first)

    second = harness.start(store_with(AckLost))
    batch2 = await store.events.append_events(batches[1])

    async def checkpointed(last_id: str) -> bool:
        checkpoint = await store.events.load_checkpoint()
        return checkpoint is not None and checkpoint.stream_id == last_id

    await until(lambda: checkpointed(batch2[-1]))
    await harness.kill(second)
    assert await store.events.pending_count() == len(batch2)

    # Snapshots without a checkpoint for 0.3 s, then killed as it writes one: nothing of batch 3 may be acked.
    third = harness.start(store_with(KilledBeforeCheckpoint), settings=settings(checkpoint_interval_s=0.3), tick_s=0.05)
    batch3 = await store.events.append_events(batches[2])
    await until(KilledBeforeCheckpoint.stuck.is_set)
    assert third.last_id == batch3[-1] and third.stats.ignored == len(batch2) and third.stats.published > 2
    assert third.state is not None and third.state.totals() == pure([e for b in batches[:3] for e in b]).totals()
    await harness.kill(third)
    assert [e.id for e in await store.events.read_pending("engine")] == batch3
    assert await checkpointed(batch2[-1])

    fourth = harness.start()
    batch4 = await store.events.append_events(batches[3])
    await until(lambda: harness.caught_up(batch4[-1]))
    everything = [event for batch in batches for event in batch]
    stored = await store.events.load_snapshot()
    assert stored is not None and figures(stored) == figures(pure(everything).snapshot(T0))
    assert fourth.state is not None and fourth.state.totals() == pure(everything).totals()
    assert fourth.stats.ignored == 0
    assert fourth.stats.applied == len(batches[2]) + len(batches[3])


async def test_a_redis_outage_is_ridden_out(
    harness: Harness, redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops mid-run; appends wait; Redis restarts; the runner reconnects and the figures equal a pure replay."""
    caplog.set_level(logging.WARNING, logger="wallboard.processes.engine")
    events = logins() + call_events(0, 30)
    half = len(events) // 2
    runner = harness.start()
    ids = await harness.store.events.append_events(events[:half])
    await until(lambda: harness.caught_up(ids[-1]))

    async def append_when_possible(batch: list[Event]) -> list[str]:
        backoff = Backoff(initial=0.01, cap=0.2)
        while True:
            try:
                return await harness.store.events.append_events(batch)
            except RedisConnectionError:
                await asyncio.sleep(next(backoff))

    await asyncio.to_thread(redis_server.stop)
    appending = asyncio.create_task(append_when_possible(events[half:]))
    await until(lambda: runner.stats.reconnects >= 1 and not runner.stats.connected)
    assert not appending.done()
    await asyncio.to_thread(redis_server.start)
    async with asyncio.timeout(10):
        later = await appending
    await until(lambda: harness.caught_up(later[-1]))
    stored = await harness.store.events.load_snapshot()
    assert stored is not None and figures(stored) == figures(pure(events).snapshot(T0))
    assert runner.stats.connected and runner.stats.applied == len(events)
    assert any("reconnecting in" in record.getMessage() for record in caplog.records)


async def test_malformed_entries_are_counted_acked_and_skipped(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad JSON, an invalid event and another site's event are logged with their id, counted by reason and acked."""
    caplog.set_level(logging.WARNING, logger="wallboard.processes.engine")
    good = logins()
    lyon = call_events(0, 1, site="lyon")[0]
    bad_ids = await harness.store.events.append_raw([b"{not json", b'{"kind": "call_queued"}', event_to_json(lyon)])
    ids = await harness.store.events.append_events(good)
    runner = harness.start()
    await until(lambda: harness.caught_up(ids[-1]))
    assert dict(runner.stats.rejected_by_reason) == {"bad_json": 1, "invalid_event": 1, "site_mismatch": 1}
    assert runner.stats.applied == len(good)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert all(entry_id in logged for entry_id in bad_ids)
    stored = await harness.store.events.load_snapshot()
    assert stored is not None and figures(stored) == figures(pure(good).snapshot(T0))
    await runner.close()
    health = (await harness.store.events.read_health())["engine"]
    assert json.loads(health["rejected_by_reason"]) == {"bad_json": 1, "invalid_event": 1, "site_mismatch": 1}
    assert (health["rejected"], health["records"], health["connected"]) == ("3", str(len(good) + 3), "0")


async def test_a_graceful_close_writes_the_final_checkpoint(harness: Harness) -> None:
    """With checkpoints far apart, close() still stores a checkpoint of everything applied and acks it."""
    events = logins() + call_events(0, 5)
    runner = harness.start(settings=settings(checkpoint_interval_s=3600))
    ids = await harness.store.events.append_events(events)
    await until(lambda: runner.last_id == ids[-1])
    checkpoint = await harness.store.events.load_checkpoint()
    assert checkpoint is None or checkpoint.stream_id != ids[-1]
    await harness.kill(runner)
    assert await harness.store.events.pending_count() > 0
    closing = harness.start(settings=settings(checkpoint_interval_s=3600))
    await until(lambda: closing.last_id == ids[-1])
    await cancel(harness.running[-1][0])
    await closing.close()
    checkpoint = await harness.store.events.load_checkpoint()
    assert checkpoint is not None and checkpoint.stream_id == ids[-1]
    assert await harness.store.events.pending_count() == 0
    assert decode_state(checkpoint.payload).totals() == pure(events).totals()


async def test_a_cancelled_runner_always_stops_at_once(harness: Harness) -> None:
    """Cancelled at 100 random instants of its loop, the runner ends each time: no cancellation is swallowed."""
    rng = random.Random(20240506)
    await harness.store.events.append_events(logins())
    for _ in range(100):
        runner = harness.start(tick_s=0.01)
        await asyncio.sleep(rng.uniform(0, 0.05))
        async with asyncio.timeout(2):
            await harness.kill(runner)


async def test_time_ticks_without_events(harness: Harness) -> None:
    """With nothing arriving, a snapshot is still published every tick (time in state must move)."""
    runner = harness.start(tick_s=0.05)
    await until(lambda: runner.seq >= 4)
    stored = await harness.store.events.load_snapshot()
    assert stored is not None and stored["seq"] >= 4 and stored["stream_id"] is None


async def test_an_unreadable_checkpoint_is_rebuilt_from_the_stream(harness: Harness) -> None:
    """A checkpoint this version cannot read is replaced by a replay of the delivered stream: same figures."""
    events = logins() + call_events(0, 10)
    first = harness.start()
    ids = await harness.store.events.append_events(events)
    await until(lambda: harness.caught_up(ids[-1]))
    await harness.kill(first)
    await harness.client.set(harness.store.keys.checkpoint, b"WBCP1\n" + b'{"stream_id": "1-0", "seq": 1}\n' + b"junk")
    more = call_events(10, 5)
    second = harness.start()
    later = await harness.store.events.append_events(more)
    await until(lambda: harness.caught_up(later[-1]))
    stored = await harness.store.events.load_snapshot()
    assert stored is not None and figures(stored) == figures(pure(events + more).snapshot(T0))
    assert second.stats.applied == len(events) + len(more)


async def test_a_changed_site_configuration_rebuilds_the_state(harness: Harness) -> None:
    """A checkpoint made with other queue thresholds is not reused: figures follow the current site file."""
    events = logins() + call_events(0, 10)
    first = harness.start()
    ids = await harness.store.events.append_events(events)
    await until(lambda: harness.caught_up(ids[-1]))
    await harness.kill(first)
    strict = SITE.model_copy(update={"queues": {"support": QueueConfig(sl_threshold_s=1, wrapup_s=5)}})
    client = connect(harness.url)
    runner = EngineRunner(settings(), Store(client, site="paris"), strict, clock=pinned_clock)
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: runner.seq >= 2 and runner.last_id == ids[-1])
        reference = State(strict)
        for event in events:
            reference.apply(event)
        assert runner.state is not None and runner.state.totals() == reference.totals()
        assert runner.state.totals() != pure(events).totals()
    finally:
        await cancel(task)
        await client.aclose()


async def test_run_engine_stops_cleanly_with_a_final_checkpoint(redis_url: str) -> None:
    """Cancelling run_engine writes the final checkpoint and acks everything before returning."""
    first, second = logins() + call_events(0, 5), call_events(5, 5)
    config = settings(redis_url=redis_url, checkpoint_interval_s=3600)
    client = connect(redis_url)
    store = Store(client, site="paris")

    async def published(last_id: str) -> bool:
        snapshot = await store.events.load_snapshot()
        return snapshot is not None and snapshot["stream_id"] == last_id

    async def nothing_pending() -> bool:
        return await store.events.pending_count() == 0

    task = asyncio.create_task(run_engine(config, SITE))
    try:
        ids = await store.events.append_events(first)
        await until(lambda: published(ids[-1]))
        await until(nothing_pending)  # the first checkpoint is written at once
        later = await store.events.append_events(second)
        await until(lambda: published(later[-1]))
        assert await store.events.pending_count() == len(second)  # the next one only in an hour...
        await cancel(task)
        checkpoint = await store.events.load_checkpoint()  # ...or on a graceful stop
        assert checkpoint is not None and checkpoint.stream_id == later[-1]
        assert await store.events.pending_count() == 0
        assert (await store.events.read_health())["engine"]["connected"] == "0"
    finally:
        await cancel(task)
        await client.aclose()


async def test_run_engine_without_a_url_uses_an_embedded_redis(tmp_path: Path) -> None:
    """No Redis URL: run_engine starts the data directory's Redis, publishes, and stops it on cancel."""
    task = asyncio.create_task(run_engine(settings(data_dir=tmp_path), SITE))
    socket_path = tmp_path / "redis" / "redis.sock"
    await until(socket_path.exists)
    client = connect(f"unix://{socket_path}")
    try:
        await until(lambda: client.exists("wb:{paris}:snapshot"))
    finally:
        await client.aclose()
    await cancel(task)
    assert not socket_path.exists()
    with start_embedded(tmp_path / "redis") as again:
        restarted = connect(again.url)
        try:
            assert await Store(restarted, site="paris").events.load_snapshot() is not None
        finally:
            await restarted.aclose()


# -- alerts: the runner's alert book -------------------------------------------------------

# Calls waiting on support: warn above 2, alarm above 4, warn clears at <= 1.
WAITING = {"id": "waiting", "metric": "waiting", "scope": "queue:support", "warn": 2, "alarm": 4, "clear": 1}
ALERTING = SITE.model_copy(update={"thresholds": load_thresholds([WAITING])})
ALERT_ID = f"waiting:queue:support:{int(T0.timestamp())}"  # fired at the pinned clock's T0


def waiting_calls(count: int, first: int = 0) -> list[Event]:
    """``count`` callers entering support a second apart, never answered."""
    return [
        CallQueued(
            ts=T0 + timedelta(seconds=1 + n), site="paris", source="test", key=f"w{n}", call_id=f"w{n}", queue="support"
        )
        for n in range(first, first + count)
    ]


def alert_action(kind: str, key: str, alert_id: str = ALERT_ID, **fields: Any) -> AlertAction:
    return AlertAction(ts=T0, site="paris", source="api", key=key, alert_id=alert_id, action=kind, by="alice", **fields)


async def open_alerts(store: Store) -> list[dict[str, Any]]:
    snapshot = await store.events.load_snapshot()
    return [] if snapshot is None else list(snapshot.get("alerts", []))


async def transitions(store: Store) -> list[str]:
    return [record["transition"] for _, record in await store.alerts.alert_records(count=1000) if record is not None]


async def test_an_alert_fires_is_acknowledged_and_recorded_with_its_checkpoint(harness: Harness) -> None:
    """3 waiting > warn 2: the snapshot lists the alert, its record is in the stream with a checkpoint that has it."""
    runner = harness.start(site=ALERTING, evaluate_every_s=0)
    events = logins() + waiting_calls(3)
    await harness.store.events.append_events(events)
    await until(lambda: open_alerts(harness.store))
    (alert,) = await open_alerts(harness.store)
    assert (alert["alert_id"], alert["level"], alert["state"], alert["value"]) == (ALERT_ID, "warn", "firing", 3.0)
    checkpoint = await harness.store.events.load_checkpoint()
    assert checkpoint is not None
    book = decode_payload(checkpoint.payload)[1]
    assert book is not None and book.get(ALERT_ID) is not None
    assert await transitions(harness.store) == ["fired"]

    ids = await harness.store.events.append_events([alert_action("ack", "api:1", note="on it")])

    async def acknowledged() -> bool:
        alerts = await open_alerts(harness.store)
        return bool(alerts) and alerts[0]["state"] == "acknowledged"

    await until(acknowledged)
    await until(lambda: harness.caught_up(ids[-1]))
    (alert,) = await open_alerts(harness.store)
    assert (alert["acknowledged_by"], alert["note"]) == ("alice", "on it")
    assert await transitions(harness.store) == ["fired", "acknowledged"]
    stored = await harness.store.events.load_snapshot()
    assert stored is not None and figures(stored) == figures(pure(events).snapshot(T0))  # the State never saw it
    assert runner.stats.applied == len(events) + 1


async def test_refused_actions_are_counted_by_reason(harness: Harness) -> None:
    """A repeated idempotency key and an unknown alert id are refused, counted, and change nothing."""
    runner = harness.start(site=ALERTING, evaluate_every_s=0)
    await harness.store.events.append_events(logins() + waiting_calls(3))
    await until(lambda: open_alerts(harness.store))
    actions = [
        alert_action("note", "api:1", note="first"),
        alert_action("note", "api:1", note="again"),
        alert_action("ack", "api:2", alert_id="waiting:queue:support:1"),
    ]
    ids = await harness.store.events.append_events(actions)
    await until(lambda: harness.caught_up(ids[-1]))
    assert dict(runner.stats.alert_actions_rejected) == {"duplicate": 1, "unknown_alert": 1}
    assert (await open_alerts(harness.store))[0]["note"] == "first"
    assert await transitions(harness.store) == ["fired", "noted"]
    await runner.close()
    health = (await harness.store.events.read_health())["engine"]
    assert json.loads(health["alert_actions_rejected"]) == {"duplicate": 1, "unknown_alert": 1}
    assert (health["alerts_open"], health["alert_records"], health["thresholds_version"]) == ("1", "2", "0")


async def test_alert_records_are_written_exactly_once_however_the_runner_is_killed(harness: Harness) -> None:
    """Killed before the write with the records, then after it but before the acks: one 'fired' record in the end."""

    class KilledBeforeRecords(StreamStore):
        """A process killed as it writes its first alert records: the MULTI never happens."""

        stuck = asyncio.Event()

        async def save_state(
            self, snapshot_json: str, checkpoint: bytes | None, stream_id: str, seq: int, alerts: Sequence[str] = ()
        ) -> None:
            if alerts:
                self.stuck.set()
                await asyncio.Event().wait()
            await super().save_state(snapshot_json, checkpoint, stream_id, seq, alerts)

    class AckLost(StreamStore):
        async def ack(self, ids: Sequence[str]) -> int:
            return 0

    first = harness.start(store_with(KilledBeforeRecords), site=ALERTING, evaluate_every_s=0)
    ids = await harness.store.events.append_events(logins() + waiting_calls(3))
    await until(KilledBeforeRecords.stuck.is_set)
    await harness.kill(first)
    assert await transitions(harness.store) == []

    second = harness.start(store_with(AckLost), site=ALERTING, evaluate_every_s=0)
    await until(lambda: transitions(harness.store))
    checkpoint = await harness.store.events.load_checkpoint()
    assert checkpoint is not None and checkpoint.stream_id == ids[-1]
    await harness.kill(second)
    assert await harness.store.events.pending_count() > 0

    third = harness.start(site=ALERTING, evaluate_every_s=0)
    await until(lambda: harness.caught_up(ids[-1]))
    await until(lambda: third.seq >= 3)  # evaluated again after its restore: nothing new fired
    assert await transitions(harness.store) == ["fired"]
    assert [alert["alert_id"] for alert in await open_alerts(harness.store)] == [ALERT_ID]


def replacement(version: int, **changes: Any) -> dict[str, Any]:
    return {
        "version": version,
        "thresholds": [{**WAITING, **changes}],
        "updated_by": "ops",
        "updated_ts": T0.isoformat(),
    }


AUDIT = {"ts": T0.isoformat(), "actor": "ops", "action": "thresholds.update", "target": "thresholds", "old": "{}"}


async def test_stored_thresholds_replace_the_site_files_on_a_notice(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A new version (notice on the config channel, no polling) resolves the alert; a bad one is logged and kept out."""
    caplog.set_level(logging.ERROR, logger="wallboard.processes.engine")
    runner = harness.start(site=ALERTING, evaluate_every_s=0, thresholds_poll_s=3600, tick_s=0.05)
    await harness.store.events.append_events(logins() + waiting_calls(3))
    await until(lambda: open_alerts(harness.store))
    assert runner.thresholds_version == 0
    await harness.store.config.replace_config(
        "thresholds", replacement(1, warn=5, alarm=8, clear=4), {**AUDIT, "new": "{}"}
    )
    await until(lambda: runner.thresholds_version == 1)

    async def resolved() -> bool:
        return (await transitions(harness.store))[-1:] == ["resolved"]

    await until(resolved)
    assert await open_alerts(harness.store) == []
    await harness.store.config.replace_config(
        "thresholds", replacement(2, scope="queue:nowhere"), {**AUDIT, "new": "{}"}
    )
    await until(lambda: runner.stats.config_errors == 1)
    assert runner.thresholds_version == 1
    assert any("queue 'nowhere'" in record.getMessage() for record in caplog.records)


async def test_stored_thresholds_are_polled_without_a_notice(harness: Harness) -> None:
    """Written without a notice, a version is picked up by the poll; an unreadable one is counted once."""
    runner = harness.start(site=ALERTING, evaluate_every_s=0, thresholds_poll_s=0.02, tick_s=0.02)
    key = harness.store.keys.config("thresholds")
    await until(lambda: runner.thresholds_version == 0)
    await harness.client.set(key, json.dumps(replacement(3, warn=7, alarm=9, clear=6)))
    await until(lambda: runner.thresholds_version == 3)
    assert runner.book is not None and runner.book.thresholds.thresholds[0].warn == 7
    await harness.client.set(key, b"{not json")
    await until(lambda: runner.stats.config_errors == 1)
    published = runner.seq
    await until(lambda: runner.seq >= published + 5)  # re-read every poll, counted once
    assert runner.stats.config_errors == 1 and runner.thresholds_version == 3


async def test_thresholds_are_evaluated_at_most_every_evaluate_every_s(harness: Harness) -> None:
    """With evaluate_every_s an hour, many publishes read the health hashes for an evaluation only once."""

    class Counting(StreamStore):
        health_reads = 0

        async def read_health(self) -> dict[str, dict[str, str]]:
            Counting.health_reads += 1
            return await super().read_health()

    runner = harness.start(store_with(Counting), site=ALERTING, evaluate_every_s=3600, tick_s=0.01)
    await until(lambda: runner.seq >= 6)
    assert Counting.health_reads == 1


async def test_run_engine_sends_webhooks_when_receivers_are_configured(redis_url: str) -> None:
    """With WALLBOARD_WEBHOOK_URLS, `wallboard engine` runs a notifier beside the runner: the alert is posted."""
    bodies: list[bytes] = []

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        bodies.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    hook = await asyncio.start_server(receive, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{hook.sockets[0].getsockname()[1]}/hook"
    config = settings(redis_url=redis_url, webhook_urls=url, webhook_secret="s")
    client = connect(redis_url)
    store = Store(client, site="paris")

    async def notifier_listening() -> bool:
        return any(group["name"] == b"notifier" for group in await client.xinfo_groups(store.keys.alerts))

    task = asyncio.create_task(run_engine(config, ALERTING))
    try:
        await until(lambda: client.exists(store.keys.alerts))
        await until(notifier_listening)
        await store.events.append_events(logins() + waiting_calls(3))
        await until(lambda: bool(bodies))
        assert json.loads(bodies[0])["alert"]["transition"] == "fired"
    finally:
        await cancel(task)
        hook.close()
        await hook.wait_closed()
        await client.aclose()
