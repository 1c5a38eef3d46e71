"""The live chain in one test process, every part real: PBX -> collector -> redis-server -> engine -> API -> /ws.

Two PBXs feed it. The simulator's AMI server (seeded, 60x real time) checks that what a websocket
client rebuilds from the snapshot and the deltas is, at every seq, the snapshot the runner
stored, and that the final per-queue totals equal those of a fresh engine fed exactly the events
found in the Redis stream. A loopback server replaying a real Asterisk transcript checks that
the API's queue figures equal ``wallboard replay`` of the same file.

The stack is tests/support/stack.py's ``live_stack``: each part gets its own Redis client, as separate
processes would. The reference figures are computed independently of the live path (a pure engine
over the stream, or the replay command), never restated by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fixture_paths import LIGHT
from stack import WsFollower, last_stream_id, live_stack, simulated_pbx, stream_events
from store_doubles import store_with
from waiting import poll_until

from collectors.ami.mapping import AmiMapper, make_drop_predicate
from collectors.ami.protocol import AmiParser
from collectors.simulator.ami_frames import response
from collectors.simulator.config import build_config, site_config
from wallboard.admin.accounts import create_display_token
from wallboard.core.engine import State
from wallboard.core.events import CallQueued, parse_event
from wallboard.core.site import SiteConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store.streams import StreamStore

TRANSCRIPT = LIGHT / "ami_transcript.txt"
SITE = "chain"
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


class RecordingEvents(StreamStore):
    """The runner's events section, remembering every snapshot it writes, by seq (what /ws clients must rebuild)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[int, dict[str, Any]] = {}

    async def save_state(self, snapshot_json: str, checkpoint: bytes | None, stream_id: str, seq: int) -> None:
        self.saved[seq] = json.loads(snapshot_json)  # before the write: a reader may see it as soon as it lands
        await super().save_state(snapshot_json, checkpoint, stream_id, seq)

    def check(self, held: dict[str, Any]) -> None:
        """A /ws client's state (``WsFollower.on_state``) is the snapshot stored at its seq."""
        assert held == self.saved[held["seq"]], f"state at seq {held['seq']} differs"


def offered(follower: WsFollower) -> int:
    return sum(queue["total"]["offered"] for queue in follower.held.get("queues", {}).values())


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
    settings = {"auth_enabled": False, "snapshot_interval_s": 0.05}
    async with (
        simulated_pbx(config, start=now, speed=SPEED, tick_s=0.02) as server,
        live_stack(redis_url, site, engine_store=store_with(RecordingEvents), settings=settings) as stack,
    ):
        runner = stack.runner
        assert runner is not None and isinstance(runner.store.events, RecordingEvents)
        async with stack.follow(on_state=runner.store.events.check) as follower:
            follow = follower.task
            assert follow is not None
            stack.collect(server.port)
            await until(lambda: follow.done() or (offered(follower) >= 20 and len(follower.kinds) > 5), "traffic")
            await stack.stop("collector")
            await server.close()
            last_id = await last_stream_id(stack.store)
            assert last_id is not None
            await until(lambda: follow.done() or follower.held.get("stream_id") == last_id, "the final delta")
            assert not follow.done(), follow.exception()
        assert follower.kinds[0] == "snapshot" and follower.kinds.count("delta") >= 5, follower.kinds
        assert runner.stats.rejected == 0 and runner.stats.applied == await stack.store.events.stream_length()
        live_totals = {name: queue["total"] for name, queue in follower.held["queues"].items()}
        assert_same_figures(live_totals, offline_totals(site, await stream_events(stack.store)), 1e-9)


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
    pbx = TranscriptPbx(transcript)
    try:
        settings = {"snapshot_interval_s": 0.05}
        async with live_stack(redis_url, SiteConfig(site=SITE), ami_port=await pbx.start(), settings=settings) as stack:
            ami = stack.ami
            assert ami is not None
            auth = {"Authorization": f"Bearer {await create_display_token(stack.store.accounts, label='test')}"}

            async def api_holds(stream_id: str) -> bool:
                reply = await stack.http.get("/api/v1/snapshot", headers=auth)
                return reply.status_code == 200 and reply.json()["stream_id"] == stream_id

            async def all_events_streamed() -> bool:
                return bool(stack.stopped()) or await stack.store.events.stream_length() >= expected_events

            await until(all_events_streamed, f"{expected_events} events in the stream")
            last_id = await last_stream_id(stack.store)
            assert last_id is not None and not stack.stopped()
            await until(lambda: api_holds(last_id), "the API to hold the last event")
            reply = await stack.http.get("/api/v1/queues", headers=auth)
            assert reply.status_code == 200
            listed = reply.json()["queues"]
            queues = {queue["name"]: queue["total"] for queue in listed}
            assert await stack.store.events.stream_length() == expected_events
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


# -- an engine restarted without its stored snapshot ----------------------------------------------------


async def test_an_engine_restored_without_its_snapshot_makes_api_clients_resync(redis_url: str) -> None:
    """Checkpoint kept, snapshot key lost, engine restarted: its first delta has no base; API and /ws re-read."""
    start = datetime.now(UTC)
    events = [
        CallQueued(ts=start + timedelta(seconds=n), site=SITE, source="test", call_id=f"c{n}", queue="q", key=f"k{n}")
        for n in range(3)
    ]
    settings = {"auth_enabled": False, "snapshot_interval_s": 0.02, "checkpoint_interval_s": 3600.0}  # 1 checkpoint
    site = SiteConfig(site=SITE)
    async with live_stack(redis_url, site, engine=None, settings=settings, ws_interval_s=0.02) as stack:  # two below
        test_store = stack.store
        await test_store.events.append_events(events)
        first = EngineRunner(stack.settings, stack.store_for("first"), stack.site, tick_s=0.02)
        second = EngineRunner(stack.settings, stack.store_for("second"), stack.site)  # publishes once a second
        feed = stack.app.state.runtime
        async with stack.follow() as follower:
            follow = follower.task
            assert follow is not None
            stack.start("first", first.run())
            await until(lambda: first.seq >= 6 and follower.held.get("seq") == first.seq, "several publishes")
            await stack.stop("first")  # killed: no final write
            await first.store.client.aclose()
            checkpoint = await test_store.events.load_checkpoint()
            assert checkpoint is not None and checkpoint.seq < first.seq - 2
            await test_store.client.delete(test_store.keys.snapshot)
            async with test_store.events.subscribe_updates() as updates:
                stack.start("second", second.run())
                async with asyncio.timeout(WAIT_S):
                    delta = await anext(aiter(updates))
                assert (delta["seq"], delta["base"]) == (checkpoint.seq + 1, None)
                restarted = await test_store.events.load_snapshot()
                assert restarted is not None and restarted["seq"] == checkpoint.seq + 1
                await until(lambda: feed.sites[SITE].feed.seq == restarted["seq"], "the API to re-read")
                await until(lambda: follow.done() or follower.held == restarted, "the /ws client to re-read")
                await stack.stop("second")
            assert not follow.done(), follow.exception()
    assert follower.kinds.count("snapshot") == 2, follower.kinds
    assert {name: queue["waiting"] for name, queue in restarted["queues"].items()} == {"q": 3}
