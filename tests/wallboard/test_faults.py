"""Faults on the live pipeline with real processes: `wallboard collect|engine|api|demo` children, a real redis-server.

The PBX is the simulator's AMI server in the test process (seeded, 300x real time), so a test can
drop its sessions or stop its traffic; everything else runs as the commands an operator starts.
The reference for "no event lost, none counted twice" is computed from the Redis stream itself:
every event the collector produced (its health hash counts them) must be in the stream under a
distinct idempotency key, and the engine's published totals must equal a fresh engine fed the
first entry of each key.

Decided behaviour for a bad ``REDIS_URL``: a malformed URL is a configuration error, reported in
one line on stderr with exit status 2 at once; an unreachable Redis may be starting or failing
over, so the engine and the collectors keep retrying with backoff and log each attempt.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from stack import last_stream_id, stream_events
from waiting import poll_until
from websockets.asyncio.client import connect as connect_ws
from websockets.exceptions import ConnectionClosed

from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import build_config
from collectors.simulator.model import Simulation
from wallboard.core.engine import State
from wallboard.core.events import parse_event
from wallboard.core.site import SiteConfig
from wallboard.store import Store, connect, next_stream_id

pytestmark = pytest.mark.slow  # wallboard commands as real processes: not in the fast tier (scripts/test --fast)

ROOT = Path(__file__).resolve().parents[2]
SITE = "faults"
SECRET = "s3cret"
SPEED = 300.0
WAIT_S = 30.0
STOP_S = 15.0
COUNTS = ("offered", "answered", "abandoned", "timed_out", "exited_other", "unknown", "answered_within_sl", "handled")


async def until(predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    await poll_until(predicate, what, timeout)


class Child:
    """A `wallboard` child process whose stdout and stderr lines are collected as they come."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            asyncio.ensure_future(self._collect(process.stdout, self.stdout)),
            asyncio.ensure_future(self._collect(process.stderr, self.stderr)),
        ]

    @staticmethod
    async def _collect(stream: asyncio.StreamReader | None, lines: list[str]) -> None:
        assert stream is not None
        async for line in stream:
            lines.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def log(self) -> str:
        return f"--- {self.name} stderr:\n" + "\n".join(self.stderr[-40:])

    def matches(self, pattern: str) -> list[re.Match[str]]:
        return [m for line in self.stderr if (m := re.search(pattern, line))]

    async def wait_log(self, pattern: str, count: int = 1, timeout: float = WAIT_S) -> re.Match[str]:
        """The ``count``-th stderr line matching ``pattern``, waiting for it (fails if the process exits first)."""
        await until(lambda: len(self.matches(pattern)) >= count or not self.running, f"{self.name}: {pattern}", timeout)
        found = self.matches(pattern)
        assert len(found) >= count, f"{self.name} exited ({self.process.returncode}) before {pattern!r}\n{self.log()}"
        return found[count - 1]

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_S) -> int:
        """Send ``sig`` and wait for the exit; returns the exit status."""
        if self.running:
            self.process.send_signal(sig)
        return await self.wait(timeout)

    async def wait(self, timeout: float = STOP_S) -> int:
        """Wait for the process to exit by itself; returns the exit status."""
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
            await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def kill(self) -> None:
        if self.running:
            self.process.kill()
        await self.process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


class Children:
    """Starts `wallboard` commands; whatever is still running at the end is killed."""

    def __init__(self) -> None:
        self.started: list[Child] = []

    async def start(self, *args: str, env: dict[str, str]) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wallboard.cli", "-v", *args,
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        child = Child(" ".join(args[:2]), process)
        self.started.append(child)
        return child

    async def kill_all(self) -> None:
        for child in self.started:
            await child.kill()


@pytest.fixture
async def children() -> AsyncIterator[Children]:
    started = Children()
    try:
        yield started
    finally:
        await started.kill_all()


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedAmiServer]:
    """The simulated PBX on a loopback port, running 300x faster than real time."""
    now = datetime.now(UTC)
    config = build_config(12, 3, seed=11, load_factor=2.0, hour_offset=10.0 - now.hour - now.minute / 60)
    server = SimulatedAmiServer(Simulation(config, 11, start=now), secret=SECRET, speed=SPEED, tick_s=0.02)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    """The test's own view of the site's keys (its own client)."""
    client = connect(redis_url, client_name="test")
    try:
        yield Store(client, site=SITE)
    finally:
        await client.aclose()


def environment(redis_url: str | None, **extra: str) -> dict[str, str]:
    """The children's environment: ours without any wallboard or Redis setting, plus the test's."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WALLBOARD_") and k.upper() != "REDIS_URL"}
    env.update({"WALLBOARD_SITE": SITE, "WALLBOARD_AMI_SECRET": SECRET, "PYTHONUNBUFFERED": "1"})
    env.update({"WALLBOARD_SNAPSHOT_INTERVAL_S": "0.1", "WALLBOARD_CHECKPOINT_INTERVAL_S": "0.3"})
    if redis_url is not None:
        env["WALLBOARD_REDIS_URL"] = redis_url
    return env | extra


async def health(store: Store, component: str) -> dict[str, str]:
    return (await store.events.read_health()).get(component, {})


async def engine_caught_up(store: Store) -> bool:
    """The stored snapshot covers the newest stream entry and nothing is left unacknowledged."""
    snapshot, last = await store.events.load_snapshot(), await last_stream_id(store)
    return snapshot is not None and snapshot.get("stream_id") == last and await store.events.pending_count() == 0


async def all_collected(store: Store) -> bool:
    """The PBX is gone: the stream ends with the collector's source reset, and the count of events the
    collector produced (its health hash) equals the distinct idempotency keys in the stream."""
    produced = (await health(store, "collector:ami")).get("events")
    events = await stream_events(store)
    keys = {event.get("key") for event in events}
    ended = bool(events) and events[-1]["kind"] == "source_reset"
    return ended and produced is not None and int(produced) == len(keys)


async def assert_each_event_counted_once(store: Store) -> None:
    """The engine's published totals equal a fresh engine fed the first stream entry of each idempotency key."""
    events = await stream_events(store)
    assert events and all(event.get("key") for event in events), "every event carries an idempotency key"
    first: dict[str, dict[str, Any]] = {}
    for event in events:
        first.setdefault(event["key"], event)
    state = State(SiteConfig(site=SITE))
    for event in first.values():
        state.apply(parse_event(json.dumps(event)))
    published = await store.events.load_snapshot()
    assert published is not None
    live, expected = _totals(published), _totals(state.snapshot(datetime.fromisoformat(published["ts"])))
    assert live == expected
    assert sum(queue["offered"] for queue in live.values()) > 0


def _totals(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {key: queue["total"][key] for key in COUNTS} for name, queue in snapshot["queues"].items()}


async def stop_traffic(pbx: SimulatedAmiServer, store: Store) -> None:
    """Stop the PBX, then wait until the collector has appended everything it made and the engine applied it."""
    await pbx.close()
    await until(lambda: all_collected(store), "every collected event in the stream")
    await until(lambda: engine_caught_up(store), "the engine to apply the whole stream")


async def test_a_dropped_ami_session_is_resynced_and_counted_on_metrics(
    children: Children, pbx: SimulatedAmiServer, store: Store, redis_url: str
) -> None:
    """The PBX drops the collector mid-traffic: it reconnects, resyncs, and /metrics shows one reconnect."""
    env = environment(redis_url)
    collector = await children.start("collect", "ami", "--port", str(pbx.port), env=env)
    api = await children.start("api", "--port", "0", env=env)
    base = (await api.wait_log(r"API listening on (http://\S+)")).group(1)
    await until(lambda: pbx.session_count == 1, "the collector to log in")
    await until(lambda: _stream_longer_than(store, 30), "traffic in the stream")
    before = await last_stream_id(store)
    await pbx.drop_sessions()
    await until(lambda: pbx.session_count == 1, "the collector to log in again")

    async def reconnects() -> float | None:
        async with httpx.AsyncClient(base_url=base) as http:
            reply = await http.get("/metrics")
        assert reply.status_code == 200
        return _sample(reply.text, "wallboard_collector_reconnects_total", component="collector:ami")

    await until(lambda: _equals(reconnects(), 1.0), "wallboard_collector_reconnects_total == 1 on /metrics")
    assert before is not None
    seen_before = len(await store.events.read_range("-", before, 100_000))

    async def resynced() -> bool:
        """After the drop: a source reset, then the QueueStatus snapshot of the new session."""
        after = [event["kind"] for event in await stream_events(store)][seen_before:]
        return "source_reset" in after and "snapshot" in after[after.index("source_reset") :]

    await until(resynced, "a source_reset then a snapshot event in the stream")
    assert collector.running and api.running, collector.log() + api.log()


async def test_redis_stopped_and_restarted_under_traffic_loses_and_doubles_nothing(
    children: Children, pbx: SimulatedAmiServer, store: Store, redis_url: str, redis_server: Any
) -> None:
    """Redis goes down for a while under traffic: every event reaches the stream, the engine counts each once."""
    env = environment(redis_url)
    collector = await children.start("collect", "ami", "--port", str(pbx.port), env=env)
    engine = await children.start("engine", env=env)
    await until(lambda: _stream_longer_than(store, 30), "traffic in the stream")
    await until(lambda: engine_caught_up(store), "the engine to publish")
    await asyncio.to_thread(redis_server.stop)
    outage_start = pbx.simulation.current_time
    await collector.wait_log(r"cannot append to Redis")
    await engine.wait_log(r"engine lost Redis")
    await until(lambda: pbx.simulation.current_time > outage_start + timedelta(minutes=3), "traffic during the outage")
    await asyncio.to_thread(redis_server.start)
    await store.client.connection_pool.disconnect()  # the test's own connections died with the server
    await collector.wait_log(r"Redis is back")
    await engine.wait_log(r"resynced at stream id", count=2)
    await stop_traffic(pbx, store)
    await assert_each_event_counted_once(store)
    assert collector.running and engine.running, collector.log() + engine.log()


async def test_an_engine_killed_with_sigkill_restarts_from_its_checkpoint(
    children: Children, pbx: SimulatedAmiServer, store: Store, redis_url: str
) -> None:
    """kill -9 of the engine mid-traffic, then a new engine: restored from the checkpoint, nothing lost or doubled."""
    env = environment(redis_url)
    await children.start("collect", "ami", "--port", str(pbx.port), env=env)
    first = await children.start("engine", env=env)
    await until(lambda: _stream_longer_than(store, 30), "traffic in the stream")
    await until(lambda: _checkpointed(store), "a checkpoint")
    await first.stop(signal.SIGKILL)
    killed_at = await store.events.load_snapshot()
    length = await store.events.stream_length()
    await until(lambda: _stream_longer_than(store, length + 20), "traffic while no engine runs")
    second = await children.start("engine", env=env)
    restored_at = (await second.wait_log(r"restored site faults from its checkpoint at stream id (\S+),")).group(1)
    await stop_traffic(pbx, store)
    await assert_each_event_counted_once(store)
    final = await store.events.load_snapshot()
    assert killed_at is not None and final is not None and final["seq"] > killed_at["seq"]
    assert await second.stop() == 0, second.log()
    # Its final health: it applied exactly the entries after its checkpoint (the rest were restored).
    after_checkpoint = await store.events.read_range(next_stream_id(restored_at), "+", 100_000)
    assert int((await health(store, "engine"))["applied"]) == len(after_checkpoint) > 0
    checkpoint = await store.events.load_checkpoint()
    assert checkpoint is not None and checkpoint.stream_id == await last_stream_id(store)


async def test_demo_announces_its_url_serves_it_and_stops_every_child_on_sigterm(children: Children) -> None:
    """`wallboard demo`: one URL line with a token; page, /ws and 4401 work; SIGTERM stops everything, status 0."""
    demo = await children.start("demo", "--port", "0", "--speed", "50", env=environment(None))
    await until(lambda: bool(demo.stdout) or not demo.running, "the demo's URL", timeout=45)
    assert demo.stdout, demo.log()
    url = demo.stdout[0]
    match = re.fullmatch(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]+)", url)
    assert match, url
    base, token = match.groups()
    pids = _children_of(demo.process.pid)
    assert any("redis-server" in _command(pid) for pid in pids), [(pid, _command(pid)) for pid in pids]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200
        ops = await http.get(url.split("?", 1)[0].rstrip("/") + "/ops/")  # the Dash ops page is served too
        assert ops.status_code == 200 and "dash" in ops.text.lower()
        thresholds = await http.get(f"{base}/api/v1/thresholds", params={"token": token})
        assert thresholds.status_code == 403, "a TV's display token does not read the thresholds"
        user = re.search(r"user '(?P<name>[^']+)', password '(?P<password>[^']+)'", demo.log())
        assert user, demo.log()
        login = await http.post(f"{base}/api/v1/login", json=user.groupdict())
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        thresholds = await http.get(f"{base}/api/v1/thresholds", headers=headers)
        assert thresholds.status_code == 200 and thresholds.json()["thresholds"], "the demo judges its floor"
    ws_base = base.replace("http", "ws", 1)
    async with connect_ws(f"{ws_base}/ws?token={token}", proxy=None, open_timeout=WAIT_S) as ws:
        async with asyncio.timeout(WAIT_S):
            first = json.loads(await ws.recv())
        assert first["type"] == "snapshot" and first["queues"], first.get("type")
    async with connect_ws(f"{ws_base}/ws", proxy=None, open_timeout=WAIT_S) as ws:
        with pytest.raises(ConnectionClosed) as refused:
            async with asyncio.timeout(WAIT_S):
                await ws.recv()
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
    async with connect_ws(f"{ws_base}/ws?token={token}", proxy=None, open_timeout=WAIT_S) as tv:
        await tv.recv()
        assert await demo.stop(signal.SIGTERM) == 0, demo.log()  # a connected TV does not hold the stop up
        with pytest.raises(ConnectionClosed) as stopped:
            async with asyncio.timeout(WAIT_S):
                while True:
                    await tv.recv()
    assert stopped.value.rcvd is not None and stopped.value.rcvd.code == 1012  # "service restart": reconnect
    assert demo.stdout == [url]
    assert [pid for pid in pids if _alive(pid)] == [], "children left running after the demo stopped"
    assert not any("Traceback" in line for line in demo.stderr), demo.log()


async def test_a_demo_killed_with_sigkill_leaves_no_redis_server_behind(children: Children) -> None:
    """kill -9 of the demo: its embedded redis-server is told by the kernel (PR_SET_PDEATHSIG) and exits too."""
    demo = await children.start("demo", "--port", "0", "--speed", "50", env=environment(None))
    await until(lambda: bool(demo.stdout) or not demo.running, "the demo's URL", timeout=45)
    servers = [pid for pid in _children_of(demo.process.pid) if "redis-server" in _command(pid)]
    assert len(servers) == 1, demo.log()
    socket_path = re.search(r"unixsocket:(\S+)", _command(servers[0]))
    try:
        await demo.stop(signal.SIGKILL)
        await until(lambda: not _alive(servers[0]), "the embedded redis-server to exit")
    finally:  # a killed demo cannot remove its temporary directory: the test does
        if socket_path is not None and Path(socket_path.group(1)).parent.name.startswith("wallboard-redis-"):
            shutil.rmtree(Path(socket_path.group(1)).parent, ignore_errors=True)


@pytest.mark.parametrize("command", [("engine",), ("collect", "ami")])
@pytest.mark.parametrize("variable", ["WALLBOARD_REDIS_URL", "REDIS_URL"])
async def test_a_malformed_redis_url_is_one_line_and_exit_status_2(
    children: Children, command: tuple[str, ...], variable: str
) -> None:
    """notaurl://x: one line on stderr naming the variable, no traceback, exit status 2 without waiting."""
    child = await children.start(*command, env=environment(None, **{variable: "notaurl://x"}))
    assert await child.wait(timeout=10) == 2
    assert len(child.stderr) == 1 and child.stderr[0].startswith("wallboard: invalid settings: "), child.stderr
    assert variable in child.stderr[0] and "notaurl" in child.stderr[0]


async def test_an_unreachable_redis_is_retried_with_backoff_until_stopped(
    children: Children, pbx: SimulatedAmiServer
) -> None:
    """redis://127.0.0.1:1: the engine and the collector log their retries, keep running, and stop cleanly."""
    env = environment("redis://127.0.0.1:1/0")
    engine = await children.start("engine", env=env)
    collector = await children.start("collect", "ami", "--port", str(pbx.port), env=env)
    await engine.wait_log(r"engine cannot reach Redis .*reconnecting in \d", count=3)
    await collector.wait_log(r"cannot append to Redis .*retrying in \d", count=3)
    delays = [float(m.group(1)) for m in engine.matches(r"reconnecting in ([\d.]+) s")]
    assert max(delays) > delays[0], f"no backoff: {delays}"
    for child in (engine, collector):
        assert child.running
        assert await child.stop() == 0
        assert not any("Traceback" in line for line in child.stderr), child.log()


# -- small helpers ---------------------------------------------------------------------------------


async def _stream_longer_than(store: Store, length: int) -> bool:
    return await store.events.stream_length() > length


async def _checkpointed(store: Store) -> bool:
    checkpoint = await store.events.load_checkpoint()
    return checkpoint is not None and checkpoint.stream_id != "0-0"


async def _equals(value: Awaitable[float | None], expected: float) -> bool:
    return await value == expected


def _sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def _children_of(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an exited child not reaped yet has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"
