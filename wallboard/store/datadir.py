"""The data directory: the Redis that ``wallboard serve`` and every command of one machine share.

Without ``WALLBOARD_REDIS_URL`` the wallboard keeps its data in an embedded Redis that lives in a
directory: ``--data-dir``, else ``WALLBOARD_DATA_DIR``, else the platform's user data directory
(``~/.local/share/wallboard`` on Linux, from platformdirs). Layout::

    DIR/redis/redis.conf   the embedded server's configuration (written at each start)
    DIR/redis/redis.sock   its unix socket (mode 0700 directory, no TCP port)
    DIR/redis/appendonly.aof, dump.rdb   its data: append-only file (fsync every second) and RDB snapshots
    DIR/redis/redis.pid    the server's pid while it runs
    DIR/redis/start.lock   held while a process decides whether to start the server
    DIR/redis/use.lock     held shared by every process using the server

Users, tokens, boards, thresholds, schedules, the event stream, checkpoints and the day's figures are
all in that Redis, so they survive a restart and a reboot.

**One server per directory, however many commands.** ``open_shared_redis(dir)`` takes ``start.lock``,
uses the server if it answers on the socket, else starts one (refusing when a recorded pid still runs a
server that does not answer: a second server would corrupt the append-only file), then holds
``use.lock`` shared. ``close()`` releases it and, when no other process holds ``use.lock`` (the last user
of the server: ``serve`` holds it for its whole life), shuts the server down with ``SHUTDOWN``, which
fsyncs the append-only file first. So ``wallboard users add`` while ``serve`` runs talks to serve's
Redis, and without ``serve`` it starts the directory's Redis for itself and stops it after, its write
kept on disk.

When no directory can be used (``HOME`` unset, not writable...), a command falls back to a *throwaway*
Redis in a temporary directory: ``SharedRedis.throwaway`` is True and the CLI refuses writes to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from wallboard.config import Settings
from wallboard.store.connection import connect
from wallboard.store.embedded import SOCKET_NAME, EmbeddedRedis, EmbeddedRedisError, start_embedded
from wallboard.store.layout import Client

log = logging.getLogger(__name__)

APP_NAME = "wallboard"
REDIS_SUBDIR = "redis"
LOCK_TIMEOUT_S = 20.0
LOCK_POLL_S = 0.05
SHUTDOWN_TIMEOUT_S = 10.0


class DataDirError(EmbeddedRedisError):
    """The data directory's Redis cannot be used; the message says why and what to do."""


def default_data_dir() -> Path | None:
    """The platform's user data directory for wallboard, or None when there is no usable home."""
    import platformdirs

    try:
        path = platformdirs.user_data_path(APP_NAME, appauthor=False)
    except (KeyError, RuntimeError, OSError):  # no home directory to resolve
        return None
    return path if path.is_absolute() else None


def resolve_data_dir(configured: Path | None) -> Path | None:
    """``--data-dir`` or ``WALLBOARD_DATA_DIR`` (``Settings.data_dir``), else the platform default; None when
    that cannot be created."""
    if configured is not None:
        return configured.expanduser()  # named by the user: an error later if unusable, never a silent fallback
    path = default_data_dir()
    if path is None:
        return None
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        log.info("cannot create the data directory %s (%s)", path, exc.strerror)
        return None
    return path


def redis_url_of(data_dir: Path) -> str:
    """The ``unix://`` URL of the data directory's Redis (whether it runs or not)."""
    return f"unix://{data_dir.resolve() / REDIS_SUBDIR / SOCKET_NAME}"


def _answers(path: Path) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        sock.connect(str(path))
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours has exited: not a server any more
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _recorded_pid(redis_dir: Path) -> int | None:
    try:
        return int((redis_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass
class _Lock:
    """An flock on a file, taken with a timeout."""

    path: Path
    fd: int | None = None

    def acquire(self, kind: int, *, timeout_s: float = LOCK_TIMEOUT_S, what: str = "") -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self.fd, kind | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.release()
                    raise DataDirError(
                        f"{what or self.path} is held by another process for {timeout_s:.0f} s"
                    ) from None
                time.sleep(LOCK_POLL_S)  # flock has no timeout of its own: poll it

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


class SharedRedis:
    """One process's use of a data directory's Redis (or of a throwaway one): ``url``, then ``close()``."""

    def __init__(self, url: str, *, redis_dir: Path | None, server: EmbeddedRedis | None, use: _Lock | None) -> None:
        self.url = url
        self.redis_dir = redis_dir
        self.started = server is not None
        self._server = server
        self._use = use

    @property
    def throwaway(self) -> bool:
        """True when the data goes away with this process (no data directory could be used)."""
        return self.redis_dir is None

    @property
    def server(self) -> EmbeddedRedis | None:
        """The server this process started (None when it joined one another process runs)."""
        return self._server

    def answers(self) -> bool:
        """True when the server answers PING on its socket."""
        return _answers(Path(self.url.removeprefix("unix://")))

    def release(self) -> None:
        """Stop using the server without ever stopping it (it died and was replaced: see ``serve``)."""
        if self._use is not None:
            self._use.release()
        if self._server is not None:
            self._server.process.poll()  # reap a dead child

    def close(self) -> None:
        """Stop using the server; shut it down if no other process uses it (the data stays on disk)."""
        if self.redis_dir is None:
            if self._server is not None:
                self._server.stop()
            return
        start = _Lock(self.redis_dir / "start.lock")
        start.acquire(fcntl.LOCK_EX, what=f"the Redis of {self.redis_dir.parent}")
        try:
            assert self._use is not None
            self._use.release()
            if _nobody_uses(self.redis_dir):
                self._shutdown()
            elif self._server is not None:  # our child serves others still: reap it whenever it ends
                threading.Thread(target=self._server.process.wait, name="redis-reaper", daemon=True).start()
        finally:
            start.release()

    def _shutdown(self) -> None:
        assert self.redis_dir is not None
        pid = _recorded_pid(self.redis_dir)
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(SHUTDOWN_TIMEOUT_S)
            sock.connect(str(self.redis_dir / SOCKET_NAME))
            sock.sendall(b"SHUTDOWN\r\n")  # Redis fsyncs the append-only file and saves, then exits
            sock.recv(64)  # returns when the server closes the connection
        if self._server is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._server.process.wait(SHUTDOWN_TIMEOUT_S)
            self._server.stop()  # kills it if SHUTDOWN did not end it
        elif pid is not None:
            deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(LOCK_POLL_S)  # another process's child: no wait() for it, poll its pid
        log.info("the Redis of %s stopped (its data stays in %s)", self.redis_dir.parent, self.redis_dir)

    def __enter__(self) -> SharedRedis:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_shared_redis(data_dir: Path | None, *, persistent: bool = False) -> SharedRedis:
    """The data directory's Redis, started if no process runs it; a throwaway Redis when ``data_dir`` is None
    (with an append-only file in its temporary directory when ``persistent``: the demo's)."""
    if data_dir is None:
        own = start_embedded(None, persistent=persistent)
        return SharedRedis(own.url, redis_dir=None, server=own, use=None)
    redis_dir = data_dir.resolve() / REDIS_SUBDIR
    try:
        redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"cannot use the data directory {data_dir}: {exc.strerror}") from exc
    start = _Lock(redis_dir / "start.lock")
    start.acquire(fcntl.LOCK_EX, what=f"the Redis of {data_dir}")
    try:
        server: EmbeddedRedis | None = None
        if not _answers(redis_dir / SOCKET_NAME):
            pid = _recorded_pid(redis_dir)
            if pid is not None and _pid_alive(pid) and b"redis" in _cmdline(pid):
                raise DataDirError(
                    f"the Redis of {data_dir} (pid {pid}) runs but does not answer; "
                    "wait for it or stop it, never start a second one on the same files"
                )
            server = start_embedded(redis_dir, persistent=True, die_with_parent=False)
        use = _Lock(redis_dir / "use.lock")
        use.acquire(fcntl.LOCK_SH)
    finally:
        start.release()
    return SharedRedis(redis_url_of(data_dir), redis_dir=redis_dir, server=server, use=use)


def _nobody_uses(redis_dir: Path) -> bool:
    """True when no process holds ``use.lock`` (call with ``start.lock`` held, so nobody can start using it)."""
    fd = os.open(redis_dir / "use.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b"redis"  # cannot tell (not Linux): assume it is the server


@dataclass(frozen=True)
class RedisLink:
    """The Redis a command uses: its URL and, when embedded, the shared server (None for a URL's Redis)."""

    url: str
    shared: SharedRedis | None = None

    @property
    def throwaway(self) -> bool:
        """True when the data goes away with this process: a write there would be lost."""
        return self.shared is not None and self.shared.throwaway


@contextlib.contextmanager
def redis_link(settings: Settings, *, throwaway: bool = False) -> Iterator[RedisLink]:
    """``settings.redis_url`` (the user's choice, never refused), else the data directory's Redis, shared with
    ``serve`` and every other command (started here if none runs); ``throwaway`` (the demo) or no usable data
    directory: a Redis of this process's own, in a temporary directory, removed on the way out."""
    if settings.redis_url is not None:
        yield RedisLink(settings.redis_url)
        return
    data_dir = None if throwaway else resolve_data_dir(settings.data_dir)
    shared = open_shared_redis(data_dir, persistent=throwaway)
    try:
        yield RedisLink(shared.url, shared)
    finally:
        shared.close()


@contextlib.asynccontextmanager
async def redis_for(settings: Settings, client_name: str) -> AsyncIterator[tuple[Client, str]]:
    """A Redis client for ``settings`` (see ``redis_link``) and its URL."""
    with redis_link(settings) as link:
        client = connect(link.url, client_name=client_name)
        try:
            yield client, link.url
        finally:
            await client.aclose()
