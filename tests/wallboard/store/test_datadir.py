"""The data directory's Redis: one server per directory shared by every process, kept on disk.

Real redis-server processes (the embedded binary) on unix sockets in temporary directories.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis

from wallboard.config import Settings
from wallboard.store.datadir import (
    DataDirError,
    default_data_dir,
    open_shared_redis,
    redis_link,
    redis_url_of,
    resolve_data_dir,
)


def _pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_two_users_share_one_server_and_the_last_one_stops_it(tmp_path: Path) -> None:
    first = open_shared_redis(tmp_path)
    second = open_shared_redis(tmp_path)
    assert first.started and not second.started  # the second found the first's server
    assert first.url == second.url == redis_url_of(tmp_path)
    pid = _pid(tmp_path)
    with redis.Redis.from_url(second.url) as client:
        client.set("k", "v")
    first.close()  # the second still uses it: it keeps running
    assert _alive(pid) and second.answers()
    second.close()  # the last user: the server stops, its data on disk
    assert not _alive(pid)
    assert not (tmp_path / "redis" / "redis.sock").exists()
    assert (tmp_path / "redis" / "appendonly.aof").stat().st_size > 0


def test_data_survives_a_restart_and_a_kill(tmp_path: Path) -> None:
    with open_shared_redis(tmp_path) as shared, redis.Redis.from_url(shared.url) as client:
        client.set("user", "alice")
        client.config_set("appendfsync", "always")  # so the kill below cannot beat the once-a-second fsync
        client.set("after", "fsync")
        os.kill(_pid(tmp_path), signal.SIGKILL)  # no save on the way out: only the append-only file has it
    with open_shared_redis(tmp_path) as again, redis.Redis.from_url(again.url) as client:
        assert again.started
        assert client.get("user") == b"alice" and client.get("after") == b"fsync"


def test_a_server_that_runs_but_does_not_answer_is_never_doubled(tmp_path: Path) -> None:
    """A stopped (SIGSTOP) server still owns the files: a second one would corrupt them, so it is refused."""
    holder = open_shared_redis(tmp_path)
    pid = _pid(tmp_path)
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(DataDirError, match=rf"\(pid {pid}\) runs but does not answer"):
            open_shared_redis(tmp_path)
    finally:
        os.kill(pid, signal.SIGCONT)
        holder.close()
    assert not _alive(pid)


def test_a_stale_socket_after_a_crash_is_replaced(tmp_path: Path) -> None:
    holder = open_shared_redis(tmp_path)
    os.kill(_pid(tmp_path), signal.SIGKILL)
    assert not holder.answers()
    replacement = open_shared_redis(tmp_path)
    try:
        assert replacement.started and replacement.answers()
    finally:
        holder.release()
        replacement.close()


def test_no_data_directory_means_a_throwaway_redis(tmp_path: Path) -> None:
    with open_shared_redis(None) as shared:
        assert shared.throwaway and shared.answers()
        directory = Path(shared.url.removeprefix("unix://")).parent
    assert not directory.exists()


def test_the_data_directory_is_the_option_else_the_platform_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert resolve_data_dir(tmp_path / "mine") == tmp_path / "mine"
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "wallboard"
    assert resolve_data_dir(None) == tmp_path / "home" / ".local" / "share" / "wallboard"
    assert (tmp_path / "home" / ".local" / "share" / "wallboard").is_dir()
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "file"))  # a home that cannot hold a directory
    assert resolve_data_dir(None) is None


def test_a_url_is_used_as_given_and_never_refused(tmp_path: Path) -> None:
    with redis_link(Settings(_env={}, redis_url="redis://127.0.0.1:1/0")) as link:
        assert link.url == "redis://127.0.0.1:1/0" and link.shared is None and not link.throwaway
    with redis_link(Settings(_env={}, data_dir=tmp_path)) as link:
        assert link.url == redis_url_of(tmp_path) and not link.throwaway
    with redis_link(Settings(_env={}, data_dir=tmp_path), throwaway=True) as link:
        assert link.throwaway
