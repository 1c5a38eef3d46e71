"""Shared fixtures: a real ``redis-server`` (the Debian package; scripts/bootstrap installs it).

``redis_server`` (module scope) runs one server per test module on a free loopback port with a
private data directory. ``stop()`` shuts it down (saving its data: SIGTERM with a save point
configured), ``start()`` brings it back on the same port with the same data, which is how tests
simulate an outage. ``redis_url`` (function scope) empties that server first and gives its URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

START_TIMEOUT_S = 10.0
# The suite expects the CLI's English messages whatever the developer's locale (LANG=fi_FI...); a test of
# another language sets WALLBOARD_LANG itself. Set here, so the commands the tests start inherit it too.
os.environ["WALLBOARD_LANG"] = "en"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


class RedisServer:
    """A redis-server child process on 127.0.0.1:<port> keeping its data in ``directory``."""

    def __init__(self, executable: str, directory: Path, port: int) -> None:
        self.executable = executable
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) the server on the same port and data directory; returns once it answers PING."""
        assert self.process is None, "redis-server already running"
        argv = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        argv += ["--save", "3600 1", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log"]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")
            time.sleep(0.01)  # start-up poll of an external process, not a settle-sleep

    def stop(self) -> None:
        """Shut the server down, saving its data; connections to it fail until start()."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for this test module (started once, stopped at the end)."""
    executable = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(executable).is_file():
        pytest.fail("redis-server is not installed: run scripts/bootstrap (Debian package redis-server)")
    server = RedisServer(executable, tmp_path_factory.mktemp("redis"), _free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The module's Redis, running and emptied for this test."""
    if redis_server.process is None:
        redis_server.start()
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


# -- markers of the tests that need more than Python and redis-server --------------------------------------------
# Registered in pyproject.toml; `scripts/test --fast` deselects them. Files whose every test needs one say so with
# ``pytestmark``; on top of that, a test is marked here from what it uses, so a new test needs no one to remember.

# Fixtures launching such a thing: a test using one, directly or through another fixture, carries the marker.
MARKING_FIXTURES = {
    "browser": "browser",  # tests/dash_app/conftest.py: tests/support/browser.py's chromium()
    "page": "browser",  # a chromium_page() (tests/dash_app/test_ops.py, test_supervisor.py)
    "prometheus_binary": "prometheus",  # tests/wallboard/test_exporter_prometheus.py: runs the prometheus binary
    "cluster": "cluster",  # tests/wallboard/test_store_cluster.py: a 3-master Redis Cluster
    "mariadb_server": "database",  # tests/support/databases.py: mariadbd from the Debian package
    "postgres_server": "database",  # tests/support/databases.py: PostgreSQL from the Debian package
    "queue_log_server": "database",  # either of them (tests/collectors/queue_log/test_database_collector.py)
}
# Launchers called inside tests, as (module, name): every test of a module importing one carries the marker.
MARKING_LAUNCHERS = {
    ("prom_stack", "prom_stack"): "prometheus",  # tests/support/prom_stack.py: the demo stack and a prometheus
    ("prom_stack", "prometheus"): "prometheus",
    ("prom_stack", "prometheus_binary"): "prometheus",
    ("browser", "chromium"): "browser",  # tests/support/browser.py: Debian's chromium through Playwright
    ("browser", "chromium_page"): "browser",
    ("browser", "new_page"): "browser",
    ("playwright.async_api", "async_playwright"): "browser",
    ("playwright.sync_api", "sync_playwright"): "browser",
    ("databases", "start_mariadb"): "database",  # tests/support/databases.py: real database servers
    ("databases", "start_postgres"): "database",
}


def _launchers_imported(module: object) -> set[str]:
    found: set[str] = set()
    for value in vars(module).values():
        key = (getattr(value, "__module__", None), getattr(value, "__name__", None))
        if key in MARKING_LAUNCHERS:
            found.add(MARKING_LAUNCHERS[key])
    return found


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    by_module: dict[object, set[str]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module not in by_module:
            by_module[module] = _launchers_imported(module)
        wanted = {MARKING_FIXTURES[name] for name in getattr(item, "fixturenames", ()) if name in MARKING_FIXTURES}
        wanted |= by_module.get(module, set())
        for name in sorted(wanted - {mark.name for mark in item.iter_markers()}):
            item.add_marker(name)
        # The whole tier runs on 2 xdist workers (scripts/test, --dist loadgroup): the browser tests stay on one of
        # them, one after the other, sharing one Chromium; everything else spreads over both.
        if item.get_closest_marker("browser") is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("browser"))
