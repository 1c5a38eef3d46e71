"""The live chain in one test process, every part real: PBX -> collector -> redis-server -> engine -> API -> /ws.

Two PBXs feed it. The simulator's AMI server (seeded, 60x real time) checks that what a websocket
client rebuilds from the snapshot and the deltas is, at every seq, the snapshot the runner
stored, and that the final per-queue totals equal those of a fresh engine fed exactly the events
found in the Redis stream. A loopback server replaying a real Asterisk transcript checks that
the API's queue figures equal ``wallboard replay`` of the same file.

Each part gets its own Redis client, as separate processes would. The reference figures are
computed independently of the live path (a pure engine over the stream, or the replay command),
never restated by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixture_paths import LIGHT
from waiting import poll_until
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws

from collectors.ami.client import AmiClient, AmiConfig
from collectors.ami.mapping import AmiMapper, make_drop_predicate
from collectors.ami.protocol import AmiParser
from collectors.simulator.ami_frames import response
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import build_config, site_config
from collectors.simulator.model import Simulation
from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.api.auth import create_display_token
from wallboard.config import Settings
from wallboard.core.deltas import apply_diff
from wallboard.core.engine import State
from wallboard.core.events import CallQueued, parse_event
from wallboard.core.site import SiteConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect, next_stream_id
from wallboard.store.sink import StreamSink

TRANSCRIPT = LIGHT / "ami_transcript.txt"
SITE = "chain"
SECRET = "s3cret"
SPEED = 300.0
WAIT_S = 30.0
COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "timed_out",
    "exited_other",
    "unknown",
    "answered_within_sl",
)
AVERAGES = ("asa_s", "avg_talk_s", "aht_s")
RATES = ("service_level_pct", "abandon_rate_pct")

pytestmark = pytest.mark.slow  # the whole live chain per test: not in the fast tier (scripts/test --fast)


async def until(predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    await poll_until(predicate, what, timeout)


class RecordingStore(Store):
    """The runner's store, remembering every snapshot it writes, by seq (what /ws clients must rebuild)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[int, dict[str, Any]] = {}

    async def save_state(self, snapshot_json: str, checkpoint: bytes | None, stream_id: str, seq: int) -> None:
        self.saved[seq] = json.loads(snapshot_json)  # before the write: a reader may see it as soon as it lands
        await super().save_state(snapshot_json, checkpoint, stream_id, seq)


@dataclass
class WsFollower:
    """A websocket client that applies what it receives and checks each state against the runner's record."""

    ws: ClientConnection
    saved: dict[int, dict[str, Any]] | None = None
    held: dict[str, Any] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    async def run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.pop("type")
            if kind == "heartbeat":
                continue
            self.kinds.append(kind)
            if kind == "snapshot":
                self.held = message  # its alerts are the runner's (issue 5), as stored
            else:
                assert kind == "delta", message
                assert message["base"] == self.held.get("seq"), (message["base"], self.held.get("seq"))
                self.held = apply_diff(self.held, message["changes"])
                assert self.held["seq"] == message["seq"]
            if self.saved is not None:
                assert self.held == self.saved[self.held["seq"]], f"state at seq {self.held['seq']} differs"

    def offered(self) -> int:
        return sum(queue["total"]["offered"] for queue in self.held.get("queues", {}).values())


@contextlib.asynccontextmanager
async def running(*coroutines: Awaitable[None]) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run coroutines as tasks for the block; cancel and await any still running at its end."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def stream_events(store: Store) -> list[dict[str, Any]]:
    """Every entry of the site's stream, decoded, in stream order."""
    entries, start = [], "-"
    while batch := await store.read_range(start, "+", 1000):
        entries += batch
        start = next_stream_id(batch[-1].id)
    return [json.loads(entry.data or b"{}") for entry in entries]


async def last_stream_id(store: Store) -> str | None:
    newest = await store.client.xrevrange(store.keys.events, count=1)
    if not newest:
        return None
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def offline_totals(site: SiteConfig, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-queue totals of a fresh engine fed ``events`` (what an offline replay of the stream gives)."""
    state = State(site)
    for event in events:
        state.apply(parse_event(json.dumps(event)))
    queues: dict[str, Any] = state.totals()["queues"]
    return queues


def assert_same_figures(live: dict[str, Any], reference: dict[str, Any], tolerance_s: float) -> None:
    assert sorted(live) == sorted(reference)
    for name, expected in reference.items():
        window = live[name]
        assert {key: window[key] for key in COUNTS} == {key: expected[key] for key in COUNTS}, name
        for key in AVERAGES:
            if expected[key] is None:
                assert window[key] is None, (name, key)
            else:
                assert window[key] == pytest.approx(expected[key], abs=tolerance_s), (name, key)
        for key in RATES:
            assert window[key] == pytest.approx(expected[key], abs=1e-9), (name, key)


async def test_simulated_pbx_to_websocket_client_matches_an_offline_engine(redis_url: str) -> None:
    """Snapshot then deltas rebuild every stored snapshot; final totals equal an engine fed the stream's events."""
    now = datetime.now(UTC)
    config = build_config(12, 3, seed=7, load_factor=2.0, hour_offset=10.0 - now.hour - now.minute / 60)
    site = site_config(config, site=SITE)
    settings = Settings(_env={}, site=SITE, auth_enabled=False, port=0, snapshot_interval_s=0.05)
    server = SimulatedAmiServer(Simulation(config, 7, start=now), secret=SECRET, speed=SPEED, tick_s=0.02)
    clients = [connect(redis_url, client_name=name) for name in ("collector", "engine", "api", "test")]
    collector_redis, engine_redis, api_redis, test_redis = clients
    recording = RecordingStore(engine_redis, site=SITE)
    runner = EngineRunner(settings, recording, site)
    test_store = Store(test_redis, site=SITE)
    app = create_app(settings, store=Store(api_redis, site=SITE), ws_interval_s=0.05)
    try:
        await server.start("127.0.0.1", 0)
        ami = AmiClient(
            AmiConfig("127.0.0.1", server.port, "wallboard", SECRET, site=SITE),
            StreamSink(Store(collector_redis, site=SITE)),
        )
        async with (
            serving(uvicorn_config(app, settings)) as base,
            running(runner.run()),
            connect_ws(base.replace("http", "ws", 1) + "/ws", proxy=None, open_timeout=WAIT_S) as ws,
        ):
            follower = WsFollower(ws, recording.saved)
            async with running(follower.run()) as (follow,), running(ami.run()) as (collect,):
                await until(lambda: follow.done() or (follower.offered() >= 20 and len(follower.kinds) > 5), "traffic")
                collect.cancel()
                await asyncio.gather(collect, return_exceptions=True)
                await server.close()
                last_id = await last_stream_id(test_store)
                assert last_id is not None
                await until(lambda: follow.done() or follower.held.get("stream_id") == last_id, "the final delta")
                assert not follow.done(), follow.exception()
            assert follower.kinds[0] == "snapshot" and follower.kinds.count("delta") >= 5, follower.kinds
            assert runner.stats.rejected == 0 and runner.stats.applied == await test_store.stream_length()
            live_totals = {name: queue["total"] for name, queue in follower.held["queues"].items()}
            assert_same_figures(live_totals, offline_totals(site, await stream_events(test_store)), 1e-9)
    finally:
        await server.close()
        for client in clients:
            await client.aclose()


# -- a recorded Asterisk session through a loopback socket ---------------------------------------------


class TranscriptPbx:
    """A loopback AMI peer that plays a recorded session: banner, a Success for the client's Login, then the
    recorded bytes that followed the banner (the PBX's own answers and events); later actions are ignored.
    """

    def __init__(self, transcript: bytes) -> None:
        self.banner, _, self.recorded = transcript.partition(b"\n")
        self.banner += b"\n"
        self.sessions = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        self._writers.append(writer)
        writer.write(self.banner)
        parser = AmiParser(expect_banner=False)
        logged_in = False
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                parser.receive_data(data)
                for frame in parser.frames_received():
                    if not logged_in and (frame.get("Action") or "").lower() == "login":
                        logged_in = True
                        writer.write(response("Success", frame.action_id, [("Message", "Authentication accepted")]))
                        writer.write(self.recorded)
                        await writer.drain()


def mapped_event_count(transcript: bytes, site: str) -> int:
    """How many events the collector's parser and mapping make of the transcript (end of input not reached)."""
    parser = AmiParser(drop=make_drop_predicate())
    mapper = AmiMapper(site=site)
    parser.receive_data(transcript)
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    return sum(len(mapper.feed(frame, moment)) for frame in parser.frames_received())


async def replay_json(path: Path) -> dict[str, Any]:
    """``wallboard replay --format ami --json`` of ``path``, run as the command a user would run."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wallboard.cli", "replay", "--format", "ami", "--json", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(WAIT_S):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_a_recorded_asterisk_session_gives_the_replay_figures_through_the_api(redis_url: str) -> None:
    """ami_transcript.txt over a loopback socket -> collector -> Redis -> runner -> API = `wallboard replay` of it."""
    transcript = TRANSCRIPT.read_bytes()
    expected_events = mapped_event_count(transcript, SITE)
    replay_task = asyncio.ensure_future(replay_json(TRANSCRIPT))
    settings = Settings(_env={}, site=SITE, port=0, snapshot_interval_s=0.05)
    pbx = TranscriptPbx(transcript)
    clients = [connect(redis_url, client_name=name) for name in ("collector", "engine", "api", "test")]
    collector_redis, engine_redis, api_redis, test_redis = clients
    test_store = Store(test_redis, site=SITE)
    runner = EngineRunner(settings, Store(engine_redis, site=SITE), SiteConfig(site=SITE))
    app = create_app(settings, store=Store(api_redis, site=SITE), ws_interval_s=0.05)
    token = await create_display_token(test_store, label="test")
    try:
        ami = AmiClient(
            AmiConfig("127.0.0.1", await pbx.start(), "wallboard", SECRET, site=SITE),
            StreamSink(Store(collector_redis, site=SITE)),
        )
        async with (
            serving(uvicorn_config(app, settings)) as base,
            running(runner.run(), ami.run()) as tasks,
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http,
        ):

            async def api_holds(stream_id: str) -> bool:
                reply = await http.get("/api/v1/snapshot")
                return reply.status_code == 200 and reply.json()["stream_id"] == stream_id

            async def all_events_streamed() -> bool:
                return any(task.done() for task in tasks) or await test_store.stream_length() >= expected_events

            await until(all_events_streamed, f"{expected_events} events in the stream")
            last_id = await last_stream_id(test_store)
            assert last_id is not None and not any(task.done() for task in tasks)
            await until(lambda: api_holds(last_id), "the API to hold the last event")
            reply = await http.get("/api/v1/queues")
            assert reply.status_code == 200
            listed = reply.json()["queues"]
        queues = {queue["name"]: queue["total"] for queue in listed}
        assert await test_store.stream_length() == expected_events
        assert pbx.sessions == 1 and ami.stats.reconnects == 0 and ami.stats.rejected == 0
        replayed = await replay_task
        assert_same_figures(queues, replayed["queues"], 0.5)
        thresholds = {queue["name"]: queue["sl_threshold_s"] for queue in listed}
        assert thresholds == {name: queue["sl_threshold_s"] for name, queue in replayed["queues"].items()}
        assert sum(queue["offered"] for queue in replayed["queues"].values()) > 0
    finally:
        replay_task.cancel()
        await asyncio.gather(replay_task, return_exceptions=True)
        await pbx.close()
        for client in clients:
            await client.aclose()


# -- an engine restarted without its stored snapshot ----------------------------------------------------


async def test_an_engine_restored_without_its_snapshot_makes_api_clients_resync(redis_url: str) -> None:
    """Checkpoint kept, snapshot key lost, engine restarted: its first delta has no base; API and /ws re-read."""
    start = datetime.now(UTC)
    events = [
        CallQueued(ts=start + timedelta(seconds=n), site=SITE, source="test", call_id=f"c{n}", queue="q", key=f"k{n}")
        for n in range(3)
    ]
    settings = Settings(_env={}, site=SITE, auth_enabled=False, port=0, snapshot_interval_s=0.02)
    settings = settings.model_copy(update={"checkpoint_interval_s": 3600.0})  # one checkpoint, then snapshots only
    clients = [connect(redis_url, client_name=name) for name in ("first", "second", "api", "test")]
    first_redis, second_redis, api_redis, test_redis = clients
    test_store = Store(test_redis, site=SITE)
    await test_store.append_events(events)
    first = EngineRunner(settings, Store(first_redis, site=SITE), SiteConfig(site=SITE), tick_s=0.02)
    second = EngineRunner(settings, Store(second_redis, site=SITE), SiteConfig(site=SITE))  # publishes once a second
    app = create_app(settings, store=Store(api_redis, site=SITE), ws_interval_s=0.02)
    feed = app.state.runtime
    try:
        async with (
            serving(uvicorn_config(app, settings)) as base,
            connect_ws(base.replace("http", "ws", 1) + "/ws", proxy=None, open_timeout=WAIT_S) as ws,
        ):
            follower = WsFollower(ws)
            async with running(follower.run()) as (follow,):
                async with running(first.run()):  # leaving the block cancels it: killed, no final write
                    await until(lambda: first.seq >= 6 and follower.held.get("seq") == first.seq, "several publishes")
                await first_redis.aclose()
                checkpoint = await test_store.load_checkpoint()
                assert checkpoint is not None and checkpoint.seq < first.seq - 2
                await test_redis.delete(test_store.keys.snapshot)
                async with test_store.subscribe_updates() as updates, running(second.run()):
                    async with asyncio.timeout(WAIT_S):
                        delta = await anext(aiter(updates))
                    assert (delta["seq"], delta["base"]) == (checkpoint.seq + 1, None)
                    restarted = await test_store.load_snapshot()
                    assert restarted is not None and restarted["seq"] == checkpoint.seq + 1
                    await until(lambda: feed.sites[SITE].feed.seq == restarted["seq"], "the API to re-read")
                    await until(lambda: follow.done() or follower.held == restarted, "the /ws client to re-read")
                assert not follow.done(), follow.exception()
        assert follower.kinds.count("snapshot") == 2, follower.kinds
        assert {name: queue["waiting"] for name, queue in restarted["queues"].items()} == {"q": 3}
    finally:
        for client in clients:
            await client.aclose()
