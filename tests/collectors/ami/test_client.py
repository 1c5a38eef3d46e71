"""The AMI client over real loopback sockets: the simulator's AMI server, scripted bad servers, a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from waiting import poll_until

from collectors.ami.client import AmiAuthError, AmiClient, AmiConfig, AmiStats
from collectors.ami.protocol import AmiParser
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import build_config
from collectors.simulator.model import Simulation
from collectors.simulator.views import SimEvent
from wallboard.core.backoff import Backoff
from wallboard.core.events import CallAbandoned, CallExited, Event, Snapshot, SourceReset, parse_event
from wallboard.store import Store, connect
from wallboard.store.sink import StreamSink

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WAIT = 10.0
USER = "wallboard"
SECRET = "s3cret-Hunter2-xyzzy"
# Model occurrence -> the event kind the mapper makes of it, one for one (agent_connect also makes an AgentRang).
SIM_TO_EVENT = {
    "caller_join": "call_queued",
    "agent_connect": "call_answered",
    "agent_complete": "call_ended",
    "caller_abandon": "call_abandoned",
    "member_status": "agent_device",
}


# -- helpers --------------------------------------------------------------------------------------


class Recorder:
    """A sink that keeps every batch it took."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    async def __call__(self, batch: list[Event]) -> None:
        self.batches.append(list(batch))

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]

    def kinds(self) -> Counter[str]:
        return Counter(event.kind for event in self.events)


async def until(condition: Callable[[], bool], what: str) -> None:
    await poll_until(condition, what, WAIT)


def config(port: int, **overrides: Any) -> AmiConfig:
    """The test client's config: fast reconnects unless overridden."""
    settings: dict[str, Any] = {"reconnect_initial_delay": 0.02, "reconnect_max_delay": 1.0, **overrides}
    return AmiConfig("127.0.0.1", port, USER, SECRET, **settings)


@contextlib.asynccontextmanager
async def running(client: AmiClient) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``client.run()`` in a task; cancel it on exit (any other error it raised surfaces)."""
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def snapshots(events: Iterable[Event]) -> list[Snapshot]:
    return [e for e in events if isinstance(e, Snapshot)]


def expected_kinds(sim_events: Iterable[SimEvent]) -> Counter[str]:
    """The event kinds the mapper must make of these model occurrences (counted by hand from SIM_TO_EVENT)."""
    return Counter(SIM_TO_EVENT[e.kind] for e in sim_events if e.kind in SIM_TO_EVENT)


def mapped_kinds(events: Iterable[Event]) -> Counter[str]:
    return Counter(e.kind for e in events if e.kind in SIM_TO_EVENT.values())


async def advance(server: SimulatedAmiServer, minutes: int) -> list[SimEvent]:
    happened: list[SimEvent] = []
    for _ in range(minutes):
        happened += await server.advance(60)
    return happened


def _simulation() -> Simulation:
    return Simulation(build_config(8, 2, seed=21, load_factor=2.0), start=START)


@pytest.fixture
async def server() -> AsyncIterator[SimulatedAmiServer]:
    """The simulator's AMI server on 127.0.0.1:0, ten minutes into the day, with a manual clock."""
    srv = SimulatedAmiServer(_simulation(), username=USER, secret=SECRET, speed=None, auth_failure_delay=0)
    await srv.start()
    await srv.advance(600)  # agents log in and calls start before any client connects
    yield srv
    await srv.close()


class Gate:
    """A tiny TCP server on 127.0.0.1:0; connection n behaves as ``modes[n]`` (the last mode repeats).

    Modes: ``random`` (random bytes, then close), ``silent`` (accept, say nothing), ``oversize``
    (banner, then a 70 kB header line, then close), ``close`` (close at once), ``proxy`` (relay to
    the upstream AMI server), ``garbled`` (relay, with a malformed frame injected after the banner),
    ``mute_pings`` (relay, but swallow the client's Ping actions), ``cut`` (relay frame by frame and
    cut the connection right after the QueueCallerLeave of an abandoned call, before its Hangup).
    """

    def __init__(self, upstream: int | None, modes: list[str]) -> None:
        self.upstream = upstream
        self.modes = modes
        self.connections = 0
        self.pings = 0
        self.cut_call: str | None = None
        self.received: list[bytes] = []  # what each connection's client sent
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()  # both ends of every live connection
        self._idle = asyncio.Event()

    async def __aenter__(self) -> Gate:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()  # the handlers see their connections end, and return
        async with asyncio.timeout(WAIT):
            while self._open:
                self._idle.clear()
                await self._idle.wait()
        await self._server.wait_closed()

    def _closed(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        self._open.discard(writer)
        self._idle.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        mode = self.modes[min(self.connections, len(self.modes) - 1)]
        self.connections += 1
        self.received.append(b"")
        try:
            if mode == "random":
                writer.write(random.Random(7).randbytes(4096))
            elif mode == "oversize":
                writer.write(b"Asterisk Call Manager/11.0.0\r\nX-Filler: " + b"A" * 70_000 + b"\r\n\r\n")
            if mode in ("random", "silent", "oversize"):
                await self._record(reader, len(self.received) - 1)  # until the client gives up
            elif mode != "close":
                await self._relay(reader, writer, mode)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._closed(writer)

    async def _record(self, reader: asyncio.StreamReader, index: int) -> None:
        while data := await reader.read(65536):
            self.received[index] += data

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: str) -> None:
        assert self.upstream is not None
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self._open.add(up_writer)
        pumps = [
            asyncio.create_task(self._client_to_server(reader, up_writer, mute_pings=mode == "mute_pings")),
            asyncio.create_task(self._server_to_client(up_reader, writer, mode)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._closed(up_writer)

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, mute_pings: bool
    ) -> None:
        parser, raw, index = AmiParser(expect_banner=False), b"", len(self.received) - 1
        while data := await reader.read(65536):
            self.received[index] += data
            raw += data
            parser.receive_data(data)
            for frame in parser.frames_received():
                if frame.name == "Ping":
                    self.pings += 1
                    if mute_pings:
                        continue
                writer.write(raw[frame.offset : frame.offset + frame.size])

    async def _server_to_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: str) -> None:
        parser, raw, abandoned, injected = AmiParser(), b"", set(), False
        while data := await reader.read(65536):
            if mode != "cut":
                writer.write(data)
                if mode == "garbled" and not injected:  # the banner comes alone: the server then waits for Login
                    writer.write(b"this line is no header\r\n\r\n")
                    injected = True
                await writer.drain()
                continue
            raw += data
            parser.receive_data(data)
            for frame in parser.frames_received():
                writer.write(raw[frame.offset : frame.offset + frame.size])
                if frame.name == "QueueCallerAbandon":
                    abandoned.add(frame["Uniqueid"])
                elif frame.name == "QueueCallerLeave" and frame["Uniqueid"] in abandoned and self.cut_call is None:
                    await writer.drain()
                    self.cut_call = frame["Uniqueid"]
                    return
            await writer.drain()


def _first_events_of_each_session(events: list[Event]) -> list[Event]:
    """The first event after the start and after each SourceReset."""
    firsts = [events[0]] if events else []
    firsts += [events[i + 1] for i, e in enumerate(events[:-1]) if isinstance(e, SourceReset)]
    return firsts


# -- the simulator's AMI server -------------------------------------------------------------------


async def test_login_resyncs_first_then_every_call_event_arrives(server: SimulatedAmiServer) -> None:
    """After login the first event is the QueueStatus Snapshot of the model; then each model call makes its event."""
    sink = Recorder()
    client = AmiClient(config(server.port), sink)
    async with running(client):
        await until(lambda: len(sink.events) >= 1, "the resync snapshot")
        state = server.simulation.state()
        first = sink.events[0]
        assert isinstance(first, Snapshot)
        assert sorted(q.name for q in first.queues) == sorted(q.spec.name for q in state.queues)
        assert len(first.members) == len(state.members) > 0
        happened = await advance(server, 30)
        expected = expected_kinds(happened)
        assert expected["call_queued"] > 10
        await until(lambda: mapped_kinds(sink.events) == expected, f"events for {expected}")
        assert client.stats.connected and client.stats.connects == 1 and client.stats.reconnects == 0
        assert client.stats.events == len(sink.events)
        assert client.stats.rejected == 0


async def test_session_drop_reconnects_and_resyncs(server: SimulatedAmiServer) -> None:
    """A drop mid-traffic: SourceReset, reconnect with backoff, a second snapshot first, reconnects == 1."""
    sink = Recorder()
    client = AmiClient(config(server.port), sink)
    async with running(client):
        await until(lambda: len(snapshots(sink.events)) == 1, "the first snapshot")
        await server.advance(600)  # traffic in flight when the session is cut
        await server.drop_sessions()
        await until(lambda: len(snapshots(sink.events)) == 2, "the resync after the drop")
        assert client.stats.reconnects == 1 and client.stats.connects == 2 and client.stats.connected
        assert 0 < client.stats.reconnect_delay <= 0.02  # the first backoff step: the session had logged in
        events = sink.events
        resets = [i for i, e in enumerate(events) if isinstance(e, SourceReset)]
        assert len(resets) == 1 and isinstance(events[resets[0] + 1], Snapshot)
        assert [type(e) for e in _first_events_of_each_session(events)] == [Snapshot, Snapshot]
        before = len(events)
        happened = await advance(server, 15)
        expected = expected_kinds(happened)
        await until(lambda: mapped_kinds(sink.events[before:]) == expected, "events after the reconnect")
        keys = [e.key for e in sink.events]
        assert None not in keys and len(set(keys)) == len(keys)


async def test_outcomes_unseen_at_a_drop_are_closed_as_unknown(server: SimulatedAmiServer) -> None:
    """Cut after an abandon's Leave but before its Hangup: the call is closed CallExited("unknown"), never abandoned."""
    sink = Recorder()
    async with Gate(server.port, ["cut", "proxy"]) as gate:
        client = AmiClient(config(gate.port), sink)
        async with running(client):
            await until(lambda: len(snapshots(sink.events)) == 1, "the first snapshot")
            async with asyncio.timeout(WAIT):
                while gate.cut_call is None:
                    await server.advance(60)
                    await asyncio.sleep(0.001)  # let the gate relay and the client read this minute
            await until(lambda: len(snapshots(sink.events)) == 2, "the resync after the cut")
            events = sink.events
            reset = next(i for i, e in enumerate(events) if isinstance(e, SourceReset))
            closed = [e for e in events[:reset] if isinstance(e, CallExited) and e.call_id == gate.cut_call]
            assert [e.reason for e in closed] == ["unknown"]
            assert not [e for e in events if isinstance(e, CallAbandoned) and e.call_id == gate.cut_call]
            assert client.stats.reconnects == 1


# -- credentials ----------------------------------------------------------------------------------


async def test_bad_secret_is_fatal_clear_and_never_logged(
    server: SimulatedAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused login raises AmiAuthError naming host and user, after one attempt; the secret appears nowhere."""
    wrong = "Wr0ng-S3cret-plugh"
    caplog.set_level(logging.DEBUG)
    async with Gate(server.port, ["proxy"]) as gate:
        cfg = AmiConfig("127.0.0.1", gate.port, USER, wrong, reconnect_initial_delay=0.02)
        client = AmiClient(cfg, Recorder())
        with pytest.raises(AmiAuthError) as raised:
            async with asyncio.timeout(WAIT):
                await client.run()
        assert gate.connections == 1
    message = str(raised.value)
    assert f"127.0.0.1:{gate.port}" in message and repr(USER) in message and "Authentication failed" in message
    assert wrong not in message and wrong not in caplog.text and wrong not in repr(cfg)
    assert client.stats.connects == 0 and not client.stats.connected


def test_config_refuses_line_breaks_without_echoing_the_secret() -> None:
    """A secret with CR/LF would inject AMI headers: refused, and the error does not repeat the secret."""
    with pytest.raises(ValueError, match="secret contains CR or LF") as raised:
        AmiConfig("127.0.0.1", 5038, USER, "abc\r\nAction: Logoff")
    assert "abc" not in str(raised.value)
    with pytest.raises(ValueError, match="ping_timeout"):
        AmiConfig("127.0.0.1", 5038, USER, SECRET, ping_timeout=0)


# -- bad servers, backoff, keep-alive -------------------------------------------------------------


async def test_garbage_servers_are_survived_until_a_sane_one_answers(
    server: SimulatedAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Random bytes, silence, an oversize frame, an instant close: logged, counted, retried; then it collects."""
    caplog.set_level(logging.WARNING, logger="collectors.ami.client")
    sink = Recorder()
    modes = ["random", "silent", "oversize", "close", "garbled"]
    async with Gate(server.port, modes) as gate:
        client = AmiClient(config(gate.port, login_timeout=0.3), sink)
        async with running(client) as task:
            await until(lambda: len(snapshots(sink.events)) == 1, "a snapshot from the sane server")
            assert not task.done()
        assert gate.connections == len(modes)
        assert SECRET.encode() not in gate.received[0]  # not AMI: never sent the secret
        assert SECRET.encode() not in gate.received[1]  # no banner: never sent the secret
    stats = client.stats
    assert stats.connects == 1 and stats.failures == 0
    assert stats.rejected_by_reason.get("frame_too_large", 0) >= 1  # oversize
    assert stats.rejected_by_reason.get("malformed_frame", 0) >= 1  # the garbled frame of the sane session
    assert stats.rejected == sum(stats.rejected_by_reason.values())
    assert "timed out after 0.3 s waiting for the banner" in caplog.text  # silent
    assert "timed out after 0.3 s waiting for the answer to Login" in caplog.text  # oversize, then silent
    assert "closed the connection before sending the banner" in caplog.text  # close


async def test_backoff_grows_while_failing_and_resets_after_a_login(server: SimulatedAmiServer) -> None:
    """Failed attempts wait longer and longer (within the Backoff bounds); after a login the first step again."""
    initial = 0.02
    async with Gate(server.port, ["close"]) as gate:
        client = AmiClient(config(gate.port, reconnect_initial_delay=initial, reconnect_max_delay=2.0), Recorder())
        bounds = Backoff(initial=initial, cap=2.0)
        async with running(client):
            await until(lambda: client.stats.failures >= 4, "four failed attempts")
            failures, delay = client.stats.failures, client.stats.reconnect_delay
            nominal = bounds.nominal(failures - 1)  # attempt n (0-based) of the n+1-th failure
            assert nominal * (1 - bounds.jitter) <= delay <= nominal
            assert delay >= initial * 2**3 * (1 - bounds.jitter) > initial
            gate.modes = ["proxy"]
            await until(lambda: client.stats.connected, "a login")
            assert client.stats.failures == 0
            await server.drop_sessions()
            await until(lambda: client.stats.reconnects == 1 and client.stats.connected, "the reconnect")
            assert client.stats.reconnect_delay <= initial  # step 0, not step failures + 1


async def test_idle_connection_is_pinged_and_a_live_peer_stays_connected(server: SimulatedAmiServer) -> None:
    """On an idle session the client sends Ping every ping_interval; Pongs keep the session up."""
    async with Gate(server.port, ["proxy"]) as gate:
        client = AmiClient(config(gate.port, ping_interval=0.05, ping_timeout=1.0), Recorder())
        async with running(client):
            await until(lambda: gate.pings >= 4, "four Pings")
            assert client.stats.connected and client.stats.reconnects == 0 and gate.connections == 1


async def test_missing_pong_is_a_dead_connection(server: SimulatedAmiServer, caplog: pytest.LogCaptureFixture) -> None:
    """A peer that never answers Ping is dropped after ping_timeout and the client reconnects."""
    caplog.set_level(logging.WARNING, logger="collectors.ami.client")
    async with Gate(server.port, ["mute_pings", "proxy"]) as gate:
        sink = Recorder()
        client = AmiClient(config(gate.port, ping_interval=0.05, ping_timeout=0.2), sink)
        async with running(client):
            await until(lambda: client.stats.reconnects == 1 and client.stats.connected, "a reconnect")
            assert gate.connections == 2 and gate.pings >= 1
            await until(lambda: len(snapshots(sink.events)) == 2, "the resync")
    assert "no answer to Ping within 0.2 s" in caplog.text


# -- the sink -------------------------------------------------------------------------------------


class FlakySink:
    """A sink that blocks until released, then fails ``failures`` times before taking batches."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.release = asyncio.Event()
        self.offered: list[list[Event]] = []
        self.taken: list[list[Event]] = []
        self.active = self.max_active = 0

    async def __call__(self, batch: list[Event]) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            self.offered.append(list(batch))
            await self.release.wait()
            if self.failures:
                self.failures -= 1
                raise RuntimeError("sink down")
            self.taken.append(list(batch))
        finally:
            self.active -= 1

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.taken for event in batch]


async def test_a_slow_failing_sink_pushes_back_and_loses_nothing(server: SimulatedAmiServer) -> None:
    """The read loop awaits the sink: one call at a time, a failed batch offered again as is, every event kept."""
    sink = FlakySink(failures=2)
    client = AmiClient(config(server.port), sink)
    async with running(client):
        await until(lambda: len(sink.offered) == 1, "the first batch")
        happened = await advance(server, 20)  # written to the socket while the sink is stuck
        assert len(sink.offered) == 1 and client.stats.events == 0
        sink.release.set()
        expected = expected_kinds(happened)
        await until(lambda: mapped_kinds(sink.events) == expected, f"events for {expected}")
    assert sink.max_active == 1
    assert sink.offered[0] == sink.offered[1] == sink.offered[2] == sink.taken[0]  # retried as is, then taken
    assert isinstance(sink.taken[0][0], Snapshot)
    assert client.stats.sink_errors == 2
    assert client.stats.events == len(sink.events)


async def test_events_in_redis_equal_what_the_sink_got(server: SimulatedAmiServer, redis_url: str) -> None:
    """Through StreamSink into a real Redis: the stream holds exactly the sink's events, each with a unique key."""
    redis = connect(redis_url)
    try:
        store = Store(redis, site="s1")
        stream_sink = StreamSink(store)
        got: list[Event] = []

        async def sink(batch: list[Event]) -> None:
            await stream_sink(batch)
            got.extend(batch)

        client = AmiClient(config(server.port, site="s1"), sink)
        async with running(client):
            await until(lambda: len(snapshots(got)) == 1, "the first snapshot")
            happened = await advance(server, 10)
            await until(lambda: mapped_kinds(got) == expected_kinds(happened), "the first session's events")
            await server.drop_sessions()
            await until(lambda: len(snapshots(got)) == 2, "the resync")
            happened += await advance(server, 10)
            await until(lambda: mapped_kinds(got) == expected_kinds(happened), "the second session's events")
        stored = [parse_event(entry.data or b"") for entry in await store.events.read_range(count=100_000)]
        assert stored == got
        keys = [event.key for event in stored]
        assert None not in keys and len(set(keys)) == len(keys)
        assert any(isinstance(e, SourceReset) for e in stored)
    finally:
        await redis.aclose()


def test_stats_fields_for_the_health_hash() -> None:
    """as_fields renders every counter as the health hash stores it (0/1, JSON, empty None) and updated_ts."""
    stats = AmiStats(connected=True, reconnects=2, rejected=3, rejected_by_reason={"b": 1, "a": 2}, connects=3)
    fields = stats.as_fields()
    assert fields["connected"] == "1" and fields["reconnects"] == "2" and fields["connects"] == "3"
    assert fields["rejected_by_reason"] == '{"a": 2, "b": 1}'
    assert fields["last_event_ts"] == "" and float(fields["updated_ts"]) > 1.7e9  # written now
    stats.last_event_ts = 1.25
    assert stats.as_fields(now=12.5)["last_event_ts"] == "1.250"
    assert stats.as_fields(now=12.5)["updated_ts"] == "12.500"
