"""The simulated FreeSWITCH event socket over real loopback sockets: what it writes looks like the real switch's
output (tests/fixtures/freeswitch-light), the project's ESL parser reads all of it, and the ESL collector fed by it
gives the model's own figures (simulator -> ESL -> collector -> engine)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from fixture_paths import FREESWITCH
from waiting import poll_until

from collectors.esl.client import EslClient, EslConfig
from collectors.esl.mapping import table_of, tiers_of
from collectors.esl.protocol import EslFrame, EslParser, encode_command
from collectors.simulator.config import SimConfig, build_config
from collectors.simulator.esl_format import queue_name
from collectors.simulator.esl_server import SimulatedEslServer
from collectors.simulator.model import Simulation
from collectors.simulator.views import SimEvent
from wallboard.core.engine import State
from wallboard.core.events import CallAnswered, CallEnded, Event
from wallboard.core.site import SiteConfig
from wallboard.processes.replay import replay_file

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
WAIT = 10.0
PASSWORD = "SimSecret"
# mod_callcenter.c 1.10 (outbound_agent_thread_run): bridge-agent-fail carries no channel data; the light capture
# has none, so its layout is the source's
FAIL_HEADERS = [
    "CC-Queue", "CC-Action", "CC-Hangup-Cause", "CC-Agent", "CC-Agent-System", "CC-Agent-Called-Time",
    "CC-Agent-Aborted-Time", "CC-Member-UUID", "CC-Member-Session-UUID", "CC-Member-CID-Name",
    "CC-Member-CID-Number", "CC-Member-Joined-Time",
]  # fmt: skip


def busy_config() -> SimConfig:
    """A small floor, overloaded, with short queue timeouts: answers, abandons, timeouts and no-answers soon."""
    config = build_config(10, 3, seed=5, load_factor=2.5)
    queues = tuple(spec.model_copy(update={"timeout_s": 60.0, "ring_timeout_s": 8.0}) for spec in config.queues)
    agents = tuple(spec.model_copy(update={"no_answer_probability": 0.2}) for spec in config.agents)
    return config.model_copy(update={"queues": queues, "agents": agents})


def key(event: dict[str, str]) -> tuple[str, str, str]:
    return event["CC-Action"], event.get("CC-Cause", ""), event.get("CC-Cancel-Reason", "")


def frames_of(data: bytes) -> list[EslFrame]:
    parser = EslParser()
    parser.receive_data(data)
    parser.receive_eof()
    assert parser.errors() == []
    return parser.frames_received()


@cache
def genuine() -> dict[tuple[str, str, str], dict[str, str]]:
    """The first real callcenter::info event of each kind (action, cause, cancel reason)."""
    out: dict[tuple[str, str, str], dict[str, str]] = {}
    for frame in frames_of((FREESWITCH / "esl_transcript_cc_filtered.txt").read_bytes()):
        if frame.event is not None and frame.name == "callcenter::info":
            out.setdefault(key(frame.event), frame.event)
    return out


def layout(event: dict[str, str]) -> tuple[list[str], list[str]]:
    """The header names in order, but the channel variables; the ``variable_cc_*`` names in order."""
    names = list(event)
    return [n for n in names if not n.startswith("variable_")], [n for n in names if n.startswith("variable_cc_")]


class Raw:
    """A raw event-socket connection that keeps every byte it receives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.data = reader, writer, b""
        self.parser = EslParser()
        self.frames: list[EslFrame] = []

    @classmethod
    async def open(cls, port: int, *commands: str) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        await raw.until(lambda f: f.content_type == "auth/request")
        for command in commands:
            await raw.send(command)
        return raw

    async def send(self, command: str, expect: str = "") -> EslFrame:
        self.writer.write(encode_command(command))
        await self.writer.drain()
        wanted = expect or ("api/response" if command.startswith("api ") else "command/reply")
        return await self.until(lambda f: f.content_type == wanted)

    async def until(self, match: object) -> EslFrame:
        async with asyncio.timeout(WAIT):
            while True:
                for index, frame in enumerate(self.frames):
                    if match(frame):  # type: ignore[operator]
                        del self.frames[: index + 1]
                        return frame
                data = await self.reader.read(65536)
                assert data, "the server closed the connection"
                self.data += data
                self.parser.receive_data(data)
                assert self.parser.errors() == []
                self.frames += self.parser.frames_received()

    async def drain_events(self) -> None:
        """Read what the server has sent so far (it sends a batch before ``advance`` returns)."""
        await self.send("api status")

    def close(self) -> None:
        self.writer.close()


async def run_floor(server: SimulatedEslServer, minutes: int, *clients: Raw) -> list[SimEvent]:
    events: list[SimEvent] = []
    for _ in range(minutes * 6):
        events += await server.advance(10.0)
        for client in clients:
            await client.drain_events()
    return events


@pytest.fixture
async def server() -> Iterator[SimulatedEslServer]:  # type: ignore[misc]
    config = busy_config()
    sim = SimulatedEslServer(Simulation(config, 5, start=START), password=PASSWORD, speed=None)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


async def test_every_frame_parses_and_each_event_kind_has_the_real_switch_layout(server: SimulatedEslServer) -> None:
    plain = await Raw.open(server.port, f"auth {PASSWORD}", "event plain CUSTOM callcenter::info")
    as_json = await Raw.open(server.port, f"auth {PASSWORD}", "event json CUSTOM callcenter::info")
    await run_floor(server, 40, plain, as_json)
    plain.close()
    as_json.close()
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    kinds: Counter[tuple[str, str, str]] = Counter()
    for frame in frames_of(plain.data):
        if frame.name == "callcenter::info":
            assert frame.event is not None and frame.errors == []
            kinds[key(frame.event)] += 1
            seen.setdefault(key(frame.event), frame.event)
            assert frame.event["Event-Date-Timestamp"].isdigit() and len(frame.event["Event-Date-Timestamp"]) == 16
    assert set(genuine()) <= set(seen), f"kinds never emitted: {set(genuine()) - set(seen)}"
    for kind, real in genuine().items():
        assert layout(seen[kind]) == layout(real), kind
    fails = [event for kind, event in seen.items() if kind[0] == "bridge-agent-fail"]
    assert fails and all(layout(event)[0][14:] == FAIL_HEADERS for event in fails)
    assert {event["CC-Hangup-Cause"] for event in fails} <= {"ALLOTTED_TIMEOUT", "ORIGINATOR_CANCEL"}
    # the same events as JSON: every value a string, the same headers, values not URL-encoded
    json_events = [f.event for f in frames_of(as_json.data) if f.name == "callcenter::info" and f.event]
    assert sum(kinds.values()) == len(json_events) > 200
    assert json_events[0]["Event-Subclass"] == "callcenter::info"
    assert any("@default" in event.get("CC-Queue", "") for event in json_events)
    # the raw plain bytes encode like the switch: %40 for @, %3A for :, but not the characters it keeps
    assert (
        b"CC-Queue: " + queue_name(server.simulation.config.queues[0].name).replace("@", "%40").encode() in plain.data
    )
    assert b"Event-Subclass: callcenter%3A%3Ainfo\nEvent-Name: CUSTOM\n" in plain.data
    # event frames put Content-Length before Content-Type, api/response the other way round
    framed = re.findall(rb"Content-Length: \d+\nContent-Type: text/event-plain\n\n", plain.data)
    assert len(framed) == plain.data.count(b"Content-Type: text/event-plain") == sum(kinds.values())
    assert re.search(rb"Content-Type: api/response\nContent-Length: \d+\n\nUP ", plain.data)


async def test_control_replies_are_framed_and_laid_out_as_the_real_switch_answers(server: SimulatedEslServer) -> None:
    client = await Raw.open(server.port)
    refused = await client.send("api status", expect="command/reply")
    assert refused.reply == "-ERR command not found"
    assert (await client.send(f"auth {PASSWORD}")).reply == "+OK accepted"
    await server.advance(120.0)
    real = {name: reply for name, reply in _control_headers().items()}
    for command, header in real.items():
        text = (await client.send(f"api callcenter_config {command}")).text
        assert text.splitlines()[0] == header and text.endswith("\n+OK\n"), command
    tiers = tiers_of((await client.send("api callcenter_config tier list")).text)
    agents = table_of((await client.send("api callcenter_config agent list")).text, "name")
    assert tiers and {agent for _, agent in tiers} <= {row["name"] for row in agents}
    assert {row["status"] for row in agents} <= {"Logged Out", "Available", "On Break"}
    queue = queue_name(server.simulation.config.queues[0].name)
    members = (await client.send(f"api callcenter_config queue list members {queue}")).text
    assert members.startswith("queue|instance_id|uuid|") and members.endswith("+OK\n")
    status = (await client.send("api status")).text
    assert status.startswith("UP 0 years, 0 days, 0 hours, 2 minutes, 0 seconds") and "is ready" in status
    assert (await client.send("api nosuch")).text == "-ERR nosuch Command not found!\n"
    # bgapi: the Job-UUID the client chose, then the result as a BACKGROUND_JOB event with its own body
    await client.send("event plain BACKGROUND_JOB")
    client.writer.write(b"bgapi callcenter_config queue count members " + queue.encode() + b"\nJob-UUID: j-1\n\n")
    await client.writer.drain()
    reply = await client.until(lambda f: f.content_type == "command/reply")
    assert reply.reply == "+OK Job-UUID: j-1" and reply.headers["Job-UUID"] == "j-1"
    job = await client.until(lambda f: f.name == "BACKGROUND_JOB")
    assert job.event is not None and job.event["Job-UUID"] == "j-1" and job.event_body is not None
    assert job.event_body.strip().isdigit()
    bye = await client.send("exit", expect="text/disconnect-notice")
    assert bye.text.startswith("Disconnected, goodbye.")
    client.close()


async def test_a_wrong_password_is_refused_and_the_server_survives_a_client_that_vanishes(
    server: SimulatedEslServer,
) -> None:
    wrong = await Raw.open(server.port)
    assert (await wrong.send("auth nope")).reply == "-ERR invalid"
    await wrong.until(lambda f: f.content_type == "text/disconnect-notice")
    wrong.close()
    gone = await Raw.open(server.port, f"auth {PASSWORD}", "event plain ALL")
    gone.writer.transport.abort()
    stays = await Raw.open(server.port, f"auth {PASSWORD}", "event plain CUSTOM callcenter::info")
    await run_floor(server, 2, stays)
    assert any(f.name == "callcenter::info" for f in frames_of(stays.data))
    stays.close()


async def test_agent_set_status_pauses_the_agent_in_the_model(server: SimulatedEslServer) -> None:
    client = await Raw.open(server.port, f"auth {PASSWORD}", "event plain CUSTOM callcenter::info")
    await server.advance(1.0)
    rows = table_of((await client.send("api callcenter_config agent list")).text, "name")
    agent = next(row["name"] for row in rows if row["status"] == "Available")
    assert (await client.send(f"api callcenter_config agent set status {agent} 'On Break'")).text == "+OK\n"
    changes = [f.event for f in frames_of(client.data) if f.event and f.event.get("CC-Agent") == agent
               and f.event.get("CC-Action") == "agent-status-change"]  # fmt: skip
    assert changes[-1]["CC-Agent-Status"] == "On Break"  # fired before the api reply, as the switch does
    interface = server.formatter.interface_of(agent)
    assert all(m.paused for m in server.simulation.state().members if m.interface == interface)
    assert (await client.send(f"api callcenter_config agent set status {agent} 'Bogus'")).text.startswith("-ERR")
    client.close()


def _control_headers() -> dict[str, str]:
    """The header line of each list reply in the real control transcript."""
    text = (FREESWITCH / "esl_control_transcript.txt").read_text()
    out = {}
    for command in ("agent list", "tier list", "queue list"):
        after = text.split(f">>> api callcenter_config {command}\n", 1)[1]
        out[command] = after.split("\n\n", 1)[1].splitlines()[0]
    return out


# ---------------------------------------------------------------------------------------------- live equivalence


def truth(events: list[SimEvent]) -> tuple[dict[str, dict[str, int]], dict[str, list[float]], dict[str, list[float]]]:
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("offered", "answered", "abandoned", "timed_out"), 0)
    )
    waits: dict[str, list[float]] = defaultdict(list)
    talks: dict[str, list[float]] = defaultdict(list)
    field = {"caller_join": "offered", "agent_connect": "answered", "caller_abandon": "abandoned",
             "caller_timeout": "timed_out"}  # fmt: skip
    for event in events:
        queue = queue_name(event.queue)
        if event.kind in field:
            counts[queue][field[event.kind]] += 1
        if event.kind == "agent_connect":
            waits[queue].append(event.wait_s)
        if event.kind == "agent_complete":
            talks[queue].append(event.talk_s)
    return dict(counts), waits, talks


async def test_live_the_collector_gives_the_models_own_figures(server: SimulatedEslServer, tmp_path: Path) -> None:
    """simulator -> ESL -> EslClient -> engine: per queue offered/answered/abandoned/timed out equal to the model's,
    every answered call's wait and every ended call's talk within 0.5 s of the model's; and ``wallboard replay
    --format esl`` of the same bytes (as a second listener received them) gives the live engine's queue figures."""
    got: list[Event] = []

    async def sink(batch: list[Event]) -> None:
        got.extend(batch)

    client = EslClient(EslConfig("127.0.0.1", server.port, PASSWORD, site="fs"), sink)
    task = asyncio.create_task(client.run())
    try:
        # the client's resync: it answers on its own connection
        await poll_until(lambda: any(event.kind == "snapshot" for event in got), "the client's resync", WAIT)
        probe = await Raw.open(server.port, f"auth {PASSWORD}", "event plain CUSTOM callcenter::info")
        model = await run_floor(server, 60, probe)
        sent = sum(1 for f in frames_of(probe.data) if f.name == "callcenter::info")
        await poll_until(lambda: client.stats.records >= sent, "every callcenter::info frame sent mapped", WAIT)
        probe.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert client.stats.rejected == 0, client.stats.rejected_by_reason
    counts, waits, talks = truth(model)
    state = State(SiteConfig(site="fs"))
    for event in got:
        state.apply(event)
    fields = ("offered", "answered", "abandoned", "timed_out")
    totals = state.totals()["queues"]
    assert {q: {f: totals[q][f] for f in fields} for q in counts} == counts
    assert all(c["answered"] and c["abandoned"] + c["timed_out"] for c in counts.values()), counts
    answered = defaultdict(list)
    ended = defaultdict(list)
    for event in got:
        if isinstance(event, CallAnswered) and event.wait_s is not None:
            answered[event.queue].append(event.wait_s)
        if isinstance(event, CallEnded) and event.talk_s is not None:
            ended[event.queue].append(event.talk_s)
    for queue in counts:
        for mine, theirs in ((answered[queue], waits[queue]), (ended[queue], talks[queue])):
            assert len(mine) == len(theirs)
            assert all(abs(a - b) <= 0.5 for a, b in zip(sorted(mine), sorted(theirs), strict=True))
    capture = tmp_path / "listener.esl"
    capture.write_bytes(probe.data)
    replayed = replay_file(capture, "auto", SiteConfig(site="fs"))
    assert replayed.source.format == "esl" and replayed.source.rejected == 0
    again = replayed.state.totals()["queues"]
    figures = (*fields, "service_level_pct")
    assert {q: {f: again[q][f] for f in figures} for q in counts} == {
        q: {f: totals[q][f] for f in figures} for q in counts
    }
    for queue in counts:
        for figure in ("asa_s", "avg_talk_s", "max_wait_s"):
            live, replay = totals[queue][figure], again[queue][figure]
            assert live is not None and replay is not None and abs(replay - live) <= 0.5, (queue, figure, live, replay)
