"""discover(): one AMI session (login, QueueStatus, logoff) over real loopback sockets, then the starter site."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixture_paths import LIGHT, PUBLIC
from waiting import poll_until

from collectors.ami.discover import DiscoveryError, discover
from collectors.ami.protocol import AmiParser, Frame
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import build_config
from collectors.simulator.model import Simulation
from wallboard.core.site import AgentDirectory, SiteConfig, load_site_file
from wallboard.core.starter_site import starter_site_yaml

START = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # every shift of the seed-1 roster is on at 11:00
WAIT = 5.0
SECRET = "s3cret-never-shown"


def _load(text: str, tmp_path: Path) -> SiteConfig:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return load_site_file(path)


# -- a peer that replays captured bytes ------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """Captured bytes answering one action; ``captured_id`` is replaced by the ActionID the client sent."""

    data: bytes
    captured_id: str = ""

    def to(self, action_id: str) -> bytes:
        if not self.captured_id:
            return self.data
        return self.data.replace(f"ActionID: {self.captured_id}".encode(), f"ActionID: {action_id}".encode())


class ReplayPbx:
    """An AMI peer on 127.0.0.1:0: greets, answers each action with its ``Answer``, records the actions.

    An action without an answer is left unanswered; after an action in ``close_after`` it closes.
    """

    def __init__(self, greeting: bytes, answers: Mapping[str, Answer], close_after: tuple[str, ...] = ("logoff",)):
        self._greeting, self._answers, self._close_after = greeting, answers, close_after
        self._server: asyncio.Server | None = None
        self.actions: list[Frame] = []
        self.sessions = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.gather(*self._tasks)  # each session ends when the client's side closes
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        parser = AmiParser(expect_banner=False)
        try:
            writer.write(self._greeting)
            while data := await reader.read(65536):
                parser.receive_data(data)
                for frame in parser.frames_received():
                    self.actions.append(frame)
                    name = (frame.get("Action") or "").lower()
                    if name in self._answers:
                        writer.write(self._answers[name].to(frame.action_id or ""))
                    if name in self._close_after:
                        return
        except ConnectionError:
            pass
        finally:
            self.sessions -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def replaying(
    greeting: bytes, answers: Mapping[str, Answer], **kwargs: tuple[str, ...]
) -> AsyncIterator[ReplayPbx]:
    pbx = ReplayPbx(greeting, answers, **kwargs)
    await pbx.start()
    try:
        yield pbx
    finally:
        await pbx.close()


@dataclass(frozen=True)
class Capture:
    """The parts of a captured AMI stream a replay needs (raw bytes, cut at the parser's frame offsets)."""

    banner: bytes
    login: Answer
    queue_status: Answer
    goodbye: Answer | None

    def answers(self) -> dict[str, Answer]:
        answers = {"login": self.login, "queuestatus": self.queue_status}
        return answers | ({"logoff": self.goodbye} if self.goodbye else {})


def _frames(data: bytes) -> list[Frame]:
    parser = AmiParser()
    parser.receive_data(data)
    parser.receive_eof()
    return list(parser.frames_received())


def _raw(data: bytes, frames: list[Frame]) -> bytes:
    return b"".join(data[f.offset : f.offset + f.size] for f in frames)


@functools.cache
def asterisk22_capture() -> Capture:
    """Asterisk 22.10.1 (light run): banner, Login answer, one QueueStatus answer listing all 8 agents, Goodbye.

    mon-00002 (the QueueStatus right after login) came before any agent logged in; mon-00006 is the
    first one listing every agent.
    """
    data = (LIGHT / "ami_transcript.txt").read_bytes()
    frames = _frames(data)
    by_id = {f.action_id: f for f in frames if f.kind == "response"}
    goodbye = next(f for f in frames if f.kind == "response" and f.name == "Goodbye")
    return Capture(
        banner=_raw(data, [frames[0]]),
        login=Answer(_raw(data, [by_id["mon-00001"]]), "mon-00001"),
        queue_status=Answer(_raw(data, [f for f in frames if f.action_id == "mon-00006"]), "mon-00006"),
        goodbye=Answer(_raw(data, [goodbye]), goodbye.action_id or ""),
    )


@functools.cache
def asterisk11_capture() -> Capture:
    """XiVO Asterisk 11.11 (public panoramisk captures, LF line ends, pre-12 list without EventList)."""
    login_data = (PUBLIC / "panoramisk_login_ok.ami").read_bytes()
    login = _frames(login_data)
    status_data = (PUBLIC / "panoramisk_queue_status.ami").read_bytes()
    status = [f for f in _frames(status_data) if f.kind != "action"]
    return Capture(
        banner=_raw(login_data, [login[0]]),
        login=Answer(_raw(login_data, [f for f in login if f.kind == "response"]), "action/transaction_uid/1/1"),
        queue_status=Answer(_raw(status_data, status), "action/transaction_uid/1/1"),
        goodbye=None,
    )


# -- against the simulator ---------------------------------------------------------------------------


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatedAmiServer]:
    simulation = Simulation(build_config(4, 2, seed=1), start=START)
    server = SimulatedAmiServer(simulation, username="wallboard", secret=SECRET, speed=None, auth_failure_delay=0)
    await server.start()
    await server.advance(0)
    yield server
    await server.close()


async def test_simulator_queues_and_agents_become_the_starter_site(
    simulator: SimulatedAmiServer, tmp_path: Path
) -> None:
    """The simulator's queues (with their ServiceLevel) and logged-in agents are what the starter file lists."""
    discovery = await discover("127.0.0.1", simulator.port, "wallboard", SECRET, timeout_s=WAIT, now=lambda: START)
    site = _load(starter_site_yaml(discovery, site="sim", timezone="UTC"), tmp_path)

    config = simulator.simulation.config
    assert {name: q.sl_threshold_s for name, q in site.queues.items()} == {
        spec.name: spec.servicelevel_s for spec in config.queues
    }
    logged_in = {member.interface for member in simulator.simulation.state().members}
    expected = [agent for agent in config.agents if agent.interface in logged_in]
    assert len(expected) == len(config.agents)  # at 11:00 every agent of this roster is on shift
    assert sorted(agent.name for agent in site.agents.values()) == sorted(agent.name for agent in expected)
    directory = AgentDirectory(site)
    for agent in expected:
        agent_id = directory.resolve(agent.interface)
        assert agent_id in site.agents
        assert site.agents[agent_id].name == agent.name
        assert {agent.interface, agent.state_interface, agent.name} <= set(site.agents[agent_id].aliases)
    await poll_until(lambda: simulator.session_count == 0, "the discovery session to log off", WAIT)


async def test_wrong_secret_is_an_auth_failure_that_never_shows_the_secret(
    simulator: SimulatedAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused login raises DiscoveryError with the PBX's own Message; the secret is in no message or log."""
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + SECRET
    with pytest.raises(DiscoveryError) as caught:
        await discover("127.0.0.1", simulator.port, "wallboard", wrong, timeout_s=WAIT)
    message = str(caught.value)
    assert f"127.0.0.1:{simulator.port}" in message and "refused the login" in message
    assert "Authentication failed" in message and "\n" not in message
    assert SECRET not in message and all(SECRET not in record.getMessage() for record in caplog.records)


async def test_connection_refused_names_host_and_port() -> None:
    """Nothing listening: DiscoveryError saying connection refused at host:port."""
    with socket.socket() as bound:  # bound but not listening: connecting to it is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(DiscoveryError, match=f"cannot connect to the AMI at 127.0.0.1:{port}: connection refused"):
            await discover("127.0.0.1", port, "wallboard", SECRET, timeout_s=WAIT)


# -- against replayed captures -----------------------------------------------------------------------


async def test_real_asterisk22_queue_status_gives_three_queues_and_eight_agents(tmp_path: Path) -> None:
    """Replays a real Asterisk 22.10.1 capture (no real PBX runs here): 3 queues, 8 agents, real names."""
    capture = asterisk22_capture()
    async with replaying(capture.banner, capture.answers()) as pbx:
        discovery = await discover("127.0.0.1", pbx.port, "wallboard", SECRET, timeout_s=WAIT, now=lambda: START)
        await poll_until(lambda: pbx.sessions == 0, "the replayed session to end", WAIT)
    assert [(a["Action"], a.get("Events")) for a in pbx.actions] == [
        ("Login", "off"),
        ("QueueStatus", None),
        ("Logoff", None),
    ]
    assert discovery.banner == "Asterisk Call Manager/11.0.0"
    assert {(q.name, q.strategy, q.service_level_s) for q in discovery.queues} == {
        ("support", "rrmemory", 20),
        ("sales", "ringall", 30),
        ("billing", "leastrecent", 30),
    }
    bob = {m.queue: m for m in discovery.members if m.name == "Bob Martinez"}
    assert set(bob) == {"support", "sales"} and all(m.paused for m in bob.values())
    alice = next(m for m in discovery.members if m.name == "Alice Nguyen" and m.queue == "billing")
    assert (alice.interface, alice.state_interface, alice.membership, alice.penalty) == (
        "Local/agent01@agents/n",
        "Local/agent01@agents",
        "dynamic",
        1,
    )

    site = _load(starter_site_yaml(discovery, site="light", timezone="Europe/Paris"), tmp_path)
    assert {name: q.sl_threshold_s for name, q in site.queues.items()} == {"billing": 30, "sales": 30, "support": 20}
    assert {agent_id: agent.name for agent_id, agent in site.agents.items()} == {
        "agent01": "Alice Nguyen",
        "agent02": "Bob Martinez",
        "agent03": "Chen Wei",
        "agent04": "Dana O'Brien",
        "agent05": "Emeka Okafor",
        "agent06": "Fatima Zahra",
        "agent07": "Grace Kim",
        "agent08": "José Álvarez",
    }
    directory = AgentDirectory(site)
    assert {directory.resolve(n) for n in ("Local/agent08@agents/n", "Local/agent08@agents", "José Álvarez")} == {
        "agent08"
    }


async def test_real_asterisk11_queue_status_without_event_list(tmp_path: Path) -> None:
    """Replays a public Asterisk 11 capture (LF line ends, "will follow" list): its queue and 6 agents."""
    capture = asterisk11_capture()
    async with replaying(capture.banner, capture.answers(), close_after=("logoff",)) as pbx:
        discovery = await discover("127.0.0.1", pbx.port, "xivo", SECRET, timeout_s=WAIT)
    assert discovery.banner == "Asterisk Call Manager/1.3"
    assert [(q.name, q.service_level_s) for q in discovery.queues] == [("xxxxxxxxxxxxxxxx-tous", 0)]
    site = _load(starter_site_yaml(discovery, site="xivo", timezone="Europe/Paris"), tmp_path)
    assert site.queues["xxxxxxxxxxxxxxxx-tous"].sl_threshold_s is None
    assert len(site.agents) == len({m.interface for m in discovery.members}) > 0
    for member in discovery.members:
        assert AgentDirectory(site).resolve(member.interface) == AgentDirectory(site).resolve(member.name or "")


async def test_no_answer_within_the_timeout_names_what_was_awaited() -> None:
    """A PBX that greets but never answers the Login: DiscoveryError after timeout_s, naming the Login."""
    capture = asterisk22_capture()
    async with replaying(capture.banner, {}) as pbx:
        with pytest.raises(DiscoveryError, match=r"timed out after 0\.2 s waiting for the answer to Login"):
            await discover("127.0.0.1", pbx.port, "wallboard", SECRET, timeout_s=0.2)


async def test_connection_closed_before_queue_status_complete() -> None:
    """The list cut off by a closed connection is an error naming QueueStatusComplete, not a partial site."""
    capture = asterisk22_capture()
    cut = capture.queue_status.data[: capture.queue_status.data.index(b"Event: QueueStatusComplete")]
    answers = {"login": capture.login, "queuestatus": Answer(cut, capture.queue_status.captured_id)}
    async with replaying(capture.banner, answers, close_after=("queuestatus",)) as pbx:
        with pytest.raises(DiscoveryError, match="closed the connection while waiting for QueueStatusComplete"):
            await discover("127.0.0.1", pbx.port, "wallboard", SECRET, timeout_s=WAIT)


async def test_queue_status_refused_quotes_the_pbx() -> None:
    """An Error answer to QueueStatus (here a hand-written Permission denied) is reported with its Message."""
    capture = asterisk22_capture()
    refused = Answer(b"Response: Error\r\nActionID: x\r\nMessage: Permission denied\r\n\r\n", "x")
    async with replaying(capture.banner, {"login": capture.login, "queuestatus": refused}) as pbx:
        with pytest.raises(DiscoveryError, match="answered QueueStatus with Error: Permission denied"):
            await discover("127.0.0.1", pbx.port, "wallboard", SECRET, timeout_s=WAIT)


async def test_a_peer_that_is_not_ami_is_refused_at_the_banner() -> None:
    """A server greeting with something else (an SSH banner) is named as not an AMI server."""
    async with replaying(b"SSH-2.0-OpenSSH_9.6\r\n", {}) as pbx:
        with pytest.raises(DiscoveryError, match="is not an AMI server: read 'SSH-2.0-OpenSSH_9.6' first"):
            await discover("127.0.0.1", pbx.port, "wallboard", SECRET, timeout_s=WAIT)
    assert pbx.actions == []


async def test_a_secret_with_a_line_break_is_refused_without_showing_it() -> None:
    """CR/LF in the secret would inject AMI headers: refused before connecting, the value not quoted."""
    with pytest.raises(DiscoveryError, match="secret contains CR or LF") as caught:
        await discover("127.0.0.1", 1, "wallboard", "abc\r\nAction: Originate", timeout_s=WAIT)
    assert "Originate" not in str(caught.value)
