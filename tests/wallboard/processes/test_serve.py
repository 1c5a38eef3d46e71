"""``wallboard serve``: a site on one machine, with real processes.

The PBX is the project's AMI simulator (``wallboard simulate``) on a loopback port, because no real
Asterisk runs here; everything else is the real thing: ``serve`` supervising its collector, engine and
API processes on the data directory's embedded Redis, and the CLI commands run beside it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import alive, children, clean_env, cmdline, free_port, start, stop, wait_listening, wallboard
from waiting import poll_until

from wallboard.processes.serve import Part, ServeOptions, parse_endpoint, plan

SECRET = "sim-secret"
READY_S = 60.0
STOP_S = 10.0  # what the issue promises for SIGTERM


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The simulator as the PBX: 12 agents, 3 queues, 20x real time; yields its AMI port."""
    home = tmp_path_factory.mktemp("pbx")
    port = free_port()
    env = clean_env(home, {"WALLBOARD_AMI_SECRET": SECRET})
    process = start("simulate", "--port", str(port), "--agents", "12", "--queues", "3", "--speed", "20",
                    env=env, log=home / "simulate.log")  # fmt: skip
    try:
        wait_listening(port, process, home / "simulate.log")
        yield port
    finally:
        stop(process)


class Site:
    """One ``serve`` on a data directory, and the commands a user runs beside it."""

    def __init__(self, tmp_path: Path, pbx: int) -> None:
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        self.data = tmp_path / "data"
        self.port = free_port()
        self.pbx = pbx
        self.log = tmp_path / "serve.log"
        self.env = clean_env(self.home, {"WALLBOARD_AMI_SECRET": SECRET})
        self.process: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start("serve", "--data-dir", str(self.data), "--ami", f"127.0.0.1:{self.pbx}",
                             "--port", str(self.port), env=self.env, log=self.log)  # fmt: skip

    async def ready(self) -> None:
        def is_ready() -> bool:
            assert self.process.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        await poll_until(is_ready, "serve's API to be ready", READY_S)

    def cli(self, *args: str, **extra: str) -> Any:
        return wallboard(*args, "--data-dir", str(self.data), env={**self.env, **extra})

    def snapshot(self, token: str) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/api/v1/snapshot", params={"token": token}, timeout=5)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def day_offered(snapshot: dict[str, Any]) -> int:
    return sum(int(queue["day"]["offered"]) for queue in snapshot["queues"].values())


@pytest.fixture
def site(tmp_path: Path, pbx: int) -> Iterator[Site]:
    serving = Site(tmp_path, pbx)
    try:
        yield serving
    finally:
        if serving.process is not None:
            stop(serving.process)


@pytest.mark.slow  # serve, its collector, engine and API, and the simulator: real processes
async def test_users_tokens_and_the_day_survive_a_restart(site: Site) -> None:
    site.start()
    await site.ready()
    added = site.cli("users", "add", "alice", "--role", "ops", WALLBOARD_NEW_PASSWORD="correct horse battery staple")
    assert added.returncode == 0, added.stderr
    created = site.cli("tokens", "create", "--board", "default", "--label", "floor")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    await poll_until(lambda: day_offered(site.snapshot(token)) >= 3, "calls counted today", READY_S)
    before = day_offered(site.snapshot(token))

    parts = children(site.process.pid)
    redis_pid = int((site.data / "redis" / "redis.pid").read_text())
    began = time.monotonic()
    site.process.send_signal(signal.SIGTERM)
    site.process.wait(STOP_S + 5)
    assert time.monotonic() - began <= STOP_S
    assert site.process.returncode == 0, site.log.read_text()
    assert not [pid for pid in [*parts, redis_pid] if alive(pid)], "a part or the Redis outlived serve"

    site.start()
    await site.ready()
    assert day_offered(site.snapshot(token)) >= before  # the same token reads it, and nothing went back
    listed = site.cli("users", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("alice\tops\tactive"), listed


@pytest.mark.slow
async def test_a_crashed_part_is_started_again(site: Site) -> None:
    site.start()
    await site.ready()
    token = site.cli("tokens", "create").stdout.strip().splitlines()[-1]
    engines = [pid for pid in children(site.process.pid) if " engine" in cmdline(pid)]
    assert len(engines) == 1
    seq = site.snapshot(token)["seq"]
    os.kill(engines[0], signal.SIGKILL)

    def new_engine() -> bool:
        return any(" engine" in cmdline(pid) and pid != engines[0] for pid in children(site.process.pid))

    await poll_until(new_engine, "serve to start the engine again", 30)
    await poll_until(lambda: site.snapshot(token)["seq"] > seq + 4, "the new engine to publish", 30)
    assert "engine exited with status -9; starting it again" in site.log.read_text()


@pytest.mark.slow
async def test_one_serve_per_data_directory(site: Site) -> None:
    site.start()
    await site.ready()
    second = wallboard("serve", "--data-dir", str(site.data), "--port", str(free_port()), env=site.env)
    assert second.returncode == 1
    assert f"wallboard serve already runs on {site.data} (pid {site.process.pid})" in second.stderr


def test_init_writes_the_site_file_serve_reads(tmp_path: Path, pbx: int) -> None:
    """`wallboard init` against the PBX, even with WALLBOARD_SITE_FILE already naming the file it writes."""
    out = tmp_path / "site.yaml"
    env = clean_env(tmp_path, {"WALLBOARD_AMI_SECRET": SECRET, "WALLBOARD_SITE_FILE": str(out)})
    wrote = wallboard("init", "--ami", f"127.0.0.1:{pbx}", "--timezone", "Europe/Paris", "--site", "lyon", env=env)
    assert wrote.returncode == 0, wrote.stderr
    from wallboard.core.site import load_site_file

    site = load_site_file(out)
    assert (site.site, str(site.tz)) == ("lyon", "Europe/Paris")
    assert len(site.queues) == 3 and site.agents
    assert wrote.stdout.startswith(f"wrote {out}: 3 queues, {len(site.agents)} agents")
    again = wallboard("init", "--ami", f"127.0.0.1:{pbx}", "--out", str(out), env=env)
    assert again.returncode == 2 and "--force" in again.stderr
    wrong = wallboard("init", "--ami", f"127.0.0.1:{pbx}", "--out", str(tmp_path / "x.yaml"),
                      env={**env, "WALLBOARD_AMI_SECRET": "wrong"})  # fmt: skip
    assert wrong.returncode == 1 and "wrong" not in wrong.stderr and not (tmp_path / "x.yaml").exists()


def test_a_taken_port_and_a_bad_site_file_stop_serve_before_it_starts(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = wallboard("serve", "--data-dir", str(tmp_path / "d"), "--port", str(taken.getsockname()[1]), env=env)
    assert busy.returncode == 1 and "cannot listen on 127.0.0.1:" in busy.stderr
    bad = tmp_path / "site.yaml"
    bad.write_text("queues: [not, a, mapping]\n")
    refused = wallboard("serve", "--data-dir", str(tmp_path / "d"), "--site-file", str(bad), env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("wallboard: "), refused.stderr
    assert not (tmp_path / "d" / "redis" / "redis.pid").exists()
    no_secret = wallboard("serve", "--data-dir", str(tmp_path / "d"), "--ami", "127.0.0.1:5038", env=env)
    assert no_secret.returncode == 2 and "WALLBOARD_AMI_SECRET" in no_secret.stderr
    with_password = wallboard(
        "serve", "--data-dir", str(tmp_path / "d"), "--queue-log-db", "mysql://asterisk:s3cret@pbx/asterisk", env=env
    )
    assert with_password.returncode == 2 and "WALLBOARD_QUEUE_LOG_DB_PASSWORD" in with_password.stderr
    assert "s3cret" not in with_password.stderr + with_password.stdout


def test_the_plan_runs_one_collector_per_source_then_the_engine_and_the_api() -> None:
    """Collectors first (several of a kind each named, so each has its own health hash), the engine, the API."""
    options = ServeOptions(host="0.0.0.0", port=8080, amis=(("pbx1", 5038), ("pbx2", 5039)),
                           esls=(("fs1", 8021),), queue_logs=(Path("/var/log/asterisk/queue_log"),),
                           queue_log_dbs=("mysql://wallboard@pbx-db/asterisk",), verbose=1)  # fmt: skip
    assert plan(options) == [
        Part("AMI collector pbx1:5038", ("collect", "ami", "--host", "pbx1", "--port", "5038", "--username",
                                         "wallboard", "--name", "pbx1:5038", "-v")),
        Part("AMI collector pbx2:5039", ("collect", "ami", "--host", "pbx2", "--port", "5039", "--username",
                                         "wallboard", "--name", "pbx2:5039", "-v")),
        Part("ESL collector fs1:8021", ("collect", "esl", "--host", "fs1", "--port", "8021", "-v")),
        Part("queue_log collector /var/log/asterisk/queue_log",
             ("collect", "queue-log", "/var/log/asterisk/queue_log", "-v")),
        Part("queue_log table collector mysql://wallboard@pbx-db/asterisk",
             ("collect", "queue-log-db", "mysql://wallboard@pbx-db/asterisk", "--table", "queue_log", "-v")),
        Part("engine", ("engine", "-v")),
        Part("API", ("api", "--host", "0.0.0.0", "--port", "8080", "-v")),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("pbx", ("pbx", 5038)), ("pbx:5039", ("pbx", 5039)), ("[::1]:5040", ("::1", 5040)), ("::1", ("::1", 5038))],
)
def test_endpoints(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["pbx:", ":5038", "pbx:99999", "pbx:http"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(ValueError):
        parse_endpoint(text)
