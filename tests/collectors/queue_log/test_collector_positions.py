"""The queue_log collector's stored position, on real files and a real Redis: restarts, rotation, the reorder window.

A "restart" here is a new collector on the same file and store after the previous one was cancelled (what a
SIGKILL leaves: what it had handed to the sink, and its position, stored together); the live test with real
processes is tests/wallboard/processes/test_collect_queue_log.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from waiting import poll_until

from collectors.queue_log.collector import QueueLogCollector
from wallboard.core.events import CallQueued, Event, parse_event
from wallboard.store import Store, connect
from wallboard.store.sink import StreamSink

WAIT = 10.0
T0 = 1_700_000_000


def enter(n: int, ts: int = T0) -> bytes:
    """The queue_log line of call c.<n> entering the support queue at ``ts`` (one CallQueued)."""
    return f"{ts}|c.{n}|support|NONE|ENTERQUEUE||50398151{n:02d}|1\n".encode()


def calls(first: int, last: int) -> bytes:
    return b"".join(enter(n, T0 + n) for n in range(first, last + 1))


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(data)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url, client_name="test")
    try:
        yield Store(client, site="default")
    finally:
        await client.aclose()


def collector(path: Path, store: Store, **options: object) -> QueueLogCollector:
    """A collector as `wallboard collect queue-log` makes it: the stream sink, the store's positions."""
    return QueueLogCollector(
        path,
        StreamSink(store),
        load_position=store.events.load_position,
        poll_interval=0.01,
        **options,  # type: ignore[arg-type]
    )


async def drain(running: QueueLogCollector) -> None:
    """Poll until a poll finds nothing new (that last poll flushes the reorder window and stores the position)."""
    while await running.poll_once():
        pass


@contextlib.asynccontextmanager
async def session(path: Path, store: Store, **options: object) -> AsyncIterator[QueueLogCollector]:
    """A collector that ends as if killed: whatever it holds is lost, its file closed."""
    made = collector(path, store, **options)
    try:
        yield made
    finally:
        made.close()


async def stream(store: Store) -> list[Event]:
    return [parse_event(entry.data or b"") for entry in await store.events.read_range(count=1_000_000)]


async def queued(store: Store) -> Counter[str]:
    """How many times each call's CallQueued is in the stream."""
    return Counter(event.call_id for event in await stream(store) if isinstance(event, CallQueued))


def once(first: int, last: int) -> Counter[str]:
    return Counter(f"c.{n}" for n in range(first, last + 1))


async def stored(store: Store, path: Path) -> dict[str, object] | None:
    return await store.events.load_position(f"queue_log:{path}")


async def test_a_restart_with_defaults_reads_what_was_written_while_it_was_down(tmp_path: Path, store: Store) -> None:
    """First start at the end (nothing stored); killed; restarted with its defaults: every later call once."""
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 3))
    async with session(path, store) as first:
        await drain(first)  # at the end: nothing delivered, the position stored
        assert await stored(store, path) == {
            "dev": path.stat().st_dev,
            "ino": path.stat().st_ino,
            "offset": len(calls(1, 3)),
            "hash": hashlib.blake2b(enter(3, T0 + 3), digest_size=8).hexdigest(),
        }
        append(path, calls(4, 6))
        await drain(first)
    append(path, calls(7, 9))  # while it is down
    async with session(path, store) as second:
        await drain(second)
    assert await queued(store) == once(4, 9)


async def test_a_queuestart_right_after_the_stored_position_is_a_pbx_restart(tmp_path: Path, store: Store) -> None:
    """Resumed after records read by an earlier run, the first QUEUESTART means the PBX restarted: SourceReset."""
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 3))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    append(path, b"%d|NONE|NONE|NONE|QUEUESTART|\n" % (T0 + 100) + calls(4, 4))
    async with session(path, store) as second:
        await drain(second)
    kinds = [event.kind for event in await stream(store)]
    assert kinds.count("source_reset") == 1 and kinds.index("source_reset") > kinds.index("call_queued")


async def test_from_start_never_republishes_what_is_behind_the_stored_position(tmp_path: Path, store: Store) -> None:
    """--from-start twice on a large file: the second run appends nothing, de-duplicated by position, not memory."""
    path = tmp_path / "queue_log"
    lines = 20_000
    path.write_bytes(b"".join(enter(n, T0 + n // 50) for n in range(lines)))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    assert await store.events.stream_length() == lines
    append(path, enter(lines, T0 + lines))
    async with session(path, store, from_start=True) as second:
        await drain(second)
    assert await store.events.stream_length() == lines + 1
    assert second.stats.records == 1 and second.stats.events == 1


async def test_a_file_renamed_while_down_is_finished_then_the_new_one_read(tmp_path: Path, store: Store) -> None:
    """mv queue_log queue_log.1 while down, with lines added to it first: its rest, then the new file, once each."""
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 2))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    append(path, calls(3, 4))
    path.rename(tmp_path / "queue_log.1")
    path.write_bytes(calls(5, 6))
    async with session(path, store) as second:
        await drain(second)
        append(path, calls(7, 7))
        await drain(second)
    assert await queued(store) == once(1, 7)
    position = await stored(store, path)
    assert position is not None and position["ino"] == path.stat().st_ino and position["offset"] == path.stat().st_size


async def test_a_file_rotated_twice_while_down_is_finished_then_the_next_one_then_the_new_one(
    tmp_path: Path, store: Store
) -> None:
    """Two rotations while down (queue_log -> .1 -> .2, the next file -> .1, a new queue_log): the rest of the file
    read last, the whole of the one rotated after it, then the new file, once each; an older rotated file is not
    read again."""
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 2))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    (tmp_path / "queue_log.3").write_bytes(calls(90, 91))  # rotated before the file being read: done long ago
    append(path, calls(3, 3))
    path.rename(tmp_path / "queue_log.1")
    path.write_bytes(calls(4, 5))
    (tmp_path / "queue_log.1").rename(tmp_path / "queue_log.2")
    path.rename(tmp_path / "queue_log.1")
    path.write_bytes(calls(6, 6))
    day = 86_400
    for name, age in (("queue_log.3", 3 * day), ("queue_log.2", 2 * day), ("queue_log.1", day)):  # as logrotate's
        mtime = path.stat().st_mtime - age
        os.utime(tmp_path / name, (mtime, mtime))
    async with session(path, store) as second:
        await drain(second)
    assert await queued(store) == once(1, 6)
    position = await stored(store, path)
    assert position is not None and position["ino"] == path.stat().st_ino and position["offset"] == path.stat().st_size


async def test_a_file_copytruncated_while_down_is_finished_from_its_copy(tmp_path: Path, store: Store) -> None:
    """copytruncate while down: the rest of the copy, then the truncated file from its start, once each."""
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 2))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    append(path, calls(3, 4))
    shutil.copyfile(path, tmp_path / "queue_log.1")
    with path.open("r+b") as stream_:
        stream_.truncate(0)
    append(path, calls(5, 5))
    async with session(path, store) as second:
        await drain(second)
    assert await queued(store) == once(1, 5)


async def test_a_file_lost_while_down_is_a_warning_and_the_path_is_read_from_its_start(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The old file deleted (or only compressed): WARNING, and the new file at the path is read whole."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 2))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    append(path, calls(3, 3))  # lost with the file
    path.rename(tmp_path / "queue_log.1.gz")
    path.write_bytes(calls(4, 5))
    async with session(path, store) as second:
        await drain(second)
    assert await queued(store) == once(1, 2) + once(4, 5)
    assert "may have been missed" in caplog.text


async def test_the_same_file_rewritten_while_down_is_read_from_its_start(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Same inode, long enough, but another line before the offset and no copy: WARNING, read from its start."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 2))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    with path.open("r+b") as rewrite:
        rewrite.write(calls(11, 12) + calls(13, 13))
    async with session(path, store) as second:
        await drain(second)
    assert await queued(store) == once(1, 2) + once(11, 13)
    assert "may have been missed" in caplog.text


async def test_the_position_never_claims_lines_whose_events_are_held(tmp_path: Path, store: Store) -> None:
    """While the reorder window holds a line's events, the stored offset is that line's: a restart reads it again."""
    path = tmp_path / "queue_log"
    path.write_bytes(enter(0, T0))
    async with session(path, store, from_start=True, reorder_window_s=2) as first:
        await drain(first)
        append(path, enter(1, T0 + 5) + enter(2, T0 + 20) + enter(3, T0 + 10) + enter(4, T0 + 21))
        assert await first.poll_once()  # not idle: c.1 and c.3 released, the window holds c.2 and c.4
        assert await queued(store) == once(0, 1) + once(3, 3)
        position = await stored(store, path)
        assert position is not None and position["offset"] == len(enter(0, T0) + enter(1, T0 + 5))
    async with session(path, store, reorder_window_s=2) as second:
        await drain(second)
    # c.3, read after c.2 but released before it, is delivered again with the same key (the engine drops it)
    assert await queued(store) == once(0, 4) + once(3, 3)
    keys = Counter(event.key for event in await stream(store))
    assert len(keys) == 5 and sorted(keys.values()) == [1, 1, 1, 1, 2]


async def test_lines_without_events_move_the_position_alone(tmp_path: Path, store: Store) -> None:
    """A poll that reads only ignored lines stores its position with no event: a restart does not read them again."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    async with session(path, store) as first:
        await drain(first)
        append(path, b"".join(f"{T0 + n}|NONE|NONE|NONE|CONFIGRELOAD|\n".encode() for n in range(3)))
        await drain(first)
        assert first.stats.ignored == 3
    position = await stored(store, path)
    assert position is not None and position["offset"] == path.stat().st_size
    assert await store.events.stream_length() == 0


async def test_rotation_while_running_moves_the_position_to_the_new_file(tmp_path: Path, store: Store) -> None:
    """Renamed, then copytruncated, while running: the stored identity and offset follow the file being read."""
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 1))
    async with session(path, store, from_start=True) as first:
        await drain(first)
        old = path.stat()
        path.rename(tmp_path / "queue_log.1")
        path.write_bytes(calls(2, 3))
        await drain(first)
        position = await stored(store, path)
        assert position is not None and (position["dev"], position["ino"]) == (path.stat().st_dev, path.stat().st_ino)
        assert position["ino"] != old.st_ino and position["offset"] == len(calls(2, 3))
        shutil.copyfile(path, tmp_path / "queue_log.2")
        with path.open("r+b") as stream_:
            stream_.truncate(0)
        append(path, calls(4, 4))
        await drain(first)
        position = await stored(store, path)
        assert position is not None and position["ino"] == path.stat().st_ino
        assert position["offset"] == len(calls(4, 4))
    append(path, calls(5, 5))
    async with session(path, store) as second:
        await drain(second)
    assert await queued(store) == once(1, 5)


async def test_the_stored_position_is_awaited_through_a_redis_outage(
    tmp_path: Path, redis_server: Any, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down at start: the load is retried (logged), nothing is read meanwhile; then it resumes where it was."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "queue_log"
    path.write_bytes(calls(1, 1))
    async with session(path, store, from_start=True) as first:
        await drain(first)
    append(path, calls(2, 2))
    redis_server.stop()
    try:
        second = collector(path, store)
        task = asyncio.create_task(second.run())
        await poll_until(lambda: "cannot load the stored position" in caplog.text, "a failed load", WAIT)
        assert second.stats.records == 0
    finally:
        redis_server.start()
    try:
        await poll_until(lambda: second.stats.events == 1, "the call written while it was down", WAIT)
    finally:
        second.stop()
        async with asyncio.timeout(WAIT):
            await task
    assert await queued(store) == once(1, 2)
