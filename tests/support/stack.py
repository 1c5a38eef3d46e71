"""The live pipeline in the test's event loop, every part real, for end-to-end tests::

    PBX on loopback -> AmiClient -> StreamSink -> redis-server -> EngineRunner -> create_app on uvicorn -> httpx, /ws

``live_stack`` wires it once; a test passes what differs: the site, the PBX's port (``simulated_pbx`` runs
the simulator's AMI server at ``speed`` x real time, or on a manual clock the test moves with ``advance``;
any loopback peer speaking AMI will do; none: no collector), the settings, and the engine (a factory taking
``(settings, store, site)``, e.g. ``functools.partial(EngineRunner, clock=..., tick_s=0.02)``; None: no
engine). The parts (collector, its health, engine) run as tasks named in ``stack.parts``; a test starts
more beside them with ``stack.start`` (the collector later with ``stack.collect(port)``) and stops any
with ``stack.stop``::

    async with (
        simulated_pbx(config, start=now, speed=None) as pbx,
        live_stack(redis_url, site, ami_port=pbx.port) as stack,
        stack.follow(token) as board,
    ):
        await pbx.advance(10.0)
        await poll_until(lambda: board.now == pbx.simulation.current_time, "the board to follow", 10.0)

Each part has a Redis client of its own, as separate processes would; ``stack.store`` is the test's. The
API gets the engine's site and cheap password hashing. On exit the parts stop (the stack's engine with
its final checkpoint, as the demo does), then the API, then every client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws

from collectors.ami.client import AmiClient, AmiConfig
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import AgentSpec, BreakPolicy, QueueSpec, SimConfig
from collectors.simulator.model import Simulation
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.config import Settings
from wallboard.core.deltas import apply_diff
from wallboard.core.site import SiteConfig
from wallboard.core.users import Passwords
from wallboard.processes.engine import EngineRunner
from wallboard.processes.tasks import close_runner, report_health
from wallboard.store import Client, Store, connect, next_stream_id
from wallboard.store.sink import StreamSink

OPEN_TIMEOUT_S = 30.0  # opening the websocket, one HTTP request
AMI_USER = "wallboard"
AMI_SECRET = "ami-s3cret"

EngineFactory = Callable[[Settings, Store, SiteConfig], EngineRunner]


def two_agent_site(start: datetime, queue: QueueSpec, **fields: Any) -> SimConfig:
    """agent1 and agent2 logged in all day on ``queue``, answering every call, no breaks, no bursts; the
    simulated day's 10:00 is ``start``. ``fields``: SimConfig fields over these (seed, callers, profile...)."""
    agents = tuple(
        AgentSpec(
            agent_id=f"agent{n}",
            name=f"Agent {n}",
            interface=f"PJSIP/100{n}",
            skills=((queue.name, 0),),
            shift_start_h=0.0,
            shift_end_h=23.99,
            no_answer_probability=0.0,
        )
        for n in (1, 2)
    )
    offset = 10.0 - start.hour - start.minute / 60 - start.second / 3600
    quiet = {"breaks": BreakPolicy(enabled=False, removed_during_call_probability=0.0), "bursts_per_hour": 0}
    return SimConfig(timezone="UTC", hour_offset=offset, agents=agents, queues=(queue,), **(quiet | fields))


@contextlib.asynccontextmanager
async def simulated_pbx(
    config: SimConfig, *, start: datetime, speed: float | None, tick_s: float = 0.05
) -> AsyncIterator[SimulatedAmiServer]:
    """The simulator's AMI server for ``config`` (its seed) from ``start``, listening on a loopback port.

    ``speed`` x real time, or None for a manual clock (``await pbx.advance(seconds)``); closed on exit.
    """
    simulation = Simulation(config, start=start)
    pbx = SimulatedAmiServer(simulation, username=AMI_USER, secret=AMI_SECRET, speed=speed, tick_s=tick_s)
    await pbx.start("127.0.0.1", 0)
    try:
        yield pbx
    finally:
        await pbx.close()


@dataclass
class WsFollower:
    """A /ws client: applies the snapshot and deltas it receives (each delta on the state it holds) and keeps
    that state; ``on_state`` sees every state it held, in order. Heartbeats are skipped, anything else fails."""

    ws: ClientConnection
    on_state: Callable[[dict[str, Any]], None] | None = None
    held: dict[str, Any] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)  # of the messages applied, in order
    task: asyncio.Task[None] | None = None  # running ``run`` (see ``LiveStack.follow``): done if it failed

    async def run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.pop("type")
            if kind == "heartbeat":
                continue
            self.kinds.append(kind)
            if kind == "snapshot":
                self.held = message
            else:
                assert kind == "delta", message
                assert message["base"] == self.held.get("seq"), (message["base"], self.held.get("seq"))
                self.held = apply_diff(self.held, message["changes"])
                assert self.held["seq"] == message["seq"]
            if self.on_state is not None:
                self.on_state(self.held)

    @property
    def stopped(self) -> bool:
        """The follower's task ended: an assertion failed or the socket closed (``task.exception()`` says)."""
        return self.task is not None and self.task.done()

    @property
    def now(self) -> datetime | None:
        """The time of the state held (the engine's clock), None before the first snapshot."""
        return datetime.fromisoformat(self.held["ts"]) if "ts" in self.held else None


@dataclass
class Connections:
    """The parts' Redis clients, one each (named after the part), as separate processes would have."""

    settings: Settings
    site: str
    clients: list[Client] = field(default_factory=list)

    def store(self, name: str, store_type: type[Store] = Store) -> Store:
        """A ``store_type`` of the site on a new client named ``name``."""
        assert self.settings.redis_url is not None
        client = connect(self.settings.redis_url, client_name=name)
        self.clients.append(client)
        settings = self.settings
        return store_type(client, prefix=settings.key_prefix, site=self.site, maxlen=settings.stream_maxlen)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


@dataclass
class LiveStack:
    """The running pipeline: its settings and site, the test's store, the parts, the API and an HTTP client."""

    settings: Settings
    site: SiteConfig
    connections: Connections
    store: Store  # the test's own client
    runner: EngineRunner | None
    app: FastAPI
    api_url: str
    http: httpx.AsyncClient  # base_url is the API's
    passwords: Passwords
    ami: AmiClient | None = None
    parts: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.api_url.replace("http", "ws", 1) + "/ws"

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.store.accounts, Hashing(self.passwords))

    def store_for(self, name: str, store_type: type[Store] = Store) -> Store:
        """A ``store_type`` of the site on a Redis client of its own named ``name``, closed with the stack."""
        return self.connections.store(name, store_type)

    def start(self, name: str, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coroutine`` as the part ``name`` until ``stop(name)`` or the stack's exit."""
        self.parts[name] = asyncio.create_task(coroutine, name=name)
        return self.parts[name]

    async def stop(self, name: str) -> None:
        """Cancel the part ``name`` (killed: no final write) and wait until it ended."""
        task = self.parts[name]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def stopped(self) -> list[str]:
        """The parts that ended (by failing, or stopped by the test)."""
        return [name for name, task in self.parts.items() if task.done()]

    def collect(self, port: int) -> None:
        """Start the AMI collector (and its health reports) on the PBX at 127.0.0.1:``port``."""
        sink = self.store_for("collector")
        self.ami = AmiClient(AmiConfig("127.0.0.1", port, AMI_USER, AMI_SECRET, site=self.site.site), StreamSink(sink))
        self.start("collector", self.ami.run())
        self.start("collector health", report_health(sink, "collector:ami", self.ami.stats.as_fields))

    async def login(self, name: str, password: str) -> dict[str, str]:
        """The Authorization header of a session of the user ``name``."""
        response = await self.http.post("/api/v1/login", json={"name": name, "password": password})
        return {"Authorization": f"Bearer {response.json()['token']}"}

    @contextlib.asynccontextmanager
    async def follow(
        self, token: str | None = None, on_state: Callable[[dict[str, Any]], None] | None = None
    ) -> AsyncIterator[WsFollower]:
        """A ``WsFollower`` on /ws (with the display ``token``, if any) running for the block."""
        url = self.ws_url if token is None else f"{self.ws_url}?token={token}"
        async with connect_ws(url, proxy=None, open_timeout=OPEN_TIMEOUT_S) as ws:
            follower = WsFollower(ws, on_state)
            follower.task = asyncio.create_task(follower.run(), name="ws follower")
            try:
                yield follower
            finally:
                follower.task.cancel()
                await asyncio.gather(follower.task, return_exceptions=True)


@contextlib.asynccontextmanager
async def live_stack(
    redis_url: str,
    site: SiteConfig,
    *,
    ami_port: int | None = None,
    engine: EngineFactory | None = EngineRunner,
    engine_store: type[Store] = Store,
    settings: Mapping[str, Any] | None = None,
    ws_interval_s: float = 0.05,
    setup: Callable[[Store], Awaitable[object]] | None = None,
) -> AsyncIterator[LiveStack]:
    """The pipeline for ``site`` on the Redis at ``redis_url``, the API on a free loopback port.

    ``ami_port``: the collector's PBX (no collector without); ``engine``: the runner's factory (no engine if
    None), on an ``engine_store``; ``settings``: Settings fields over the stack's (the site, Redis,
    127.0.0.1:0, no environment); ``setup`` runs on the test's store before any part starts.
    """
    fields = {"site": site.site, "redis_url": redis_url, "host": "127.0.0.1", "port": 0, **(settings or {})}
    config = Settings(_env={}, **fields)
    passwords = Passwords.cheap()
    connections = Connections(config, site.site)
    try:
        store = connections.store("test")
        if setup is not None:
            await setup(store)
        runner = None if engine is None else engine(config, connections.store("engine", engine_store), site)
        api_store = connections.store("api")
        app = create_app(config, store=api_store, ws_interval_s=ws_interval_s, passwords=passwords, site_config=site)
        async with (
            serving(uvicorn_config(app, config)) as api_url,
            httpx.AsyncClient(base_url=api_url, timeout=OPEN_TIMEOUT_S) as http,
        ):
            stack = LiveStack(config, site, connections, store, runner, app, api_url, http, passwords)
            try:
                if runner is not None:
                    stack.start("engine", runner.run())
                if ami_port is not None:
                    stack.collect(ami_port)
                yield stack
            finally:
                for name in stack.parts:
                    await stack.stop(name)
                if runner is not None:
                    await close_runner(runner)
    finally:
        await connections.aclose()


async def stream_events(store: Store) -> list[dict[str, Any]]:
    """Every entry of the site's stream, decoded, in stream order."""
    entries, start = [], "-"
    while batch := await store.events.read_range(start, "+", 1000):
        entries += batch
        start = next_stream_id(batch[-1].id)
    return [json.loads(entry.data or b"{}") for entry in entries]


async def last_stream_id(store: Store) -> str | None:
    """The id of the newest entry of the site's stream (None while it is empty)."""
    newest = await store.client.xrevrange(store.keys.events, count=1)
    if not newest:
        return None
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
