"""Issue 7 end to end, every part real: a planner imports a schedule, an agent strays from it, the board shows it.

simulated AMI server (manual clock) -> AmiClient -> StreamSink -> redis-server -> EngineRunner (schedule from
the API, adherence book) -> uvicorn create_app (auth on) -> a websocket client, and GET /metrics.

The simulated site has two agents logged in all day on one queue (no breaks). A planner imports, as
JSON over the API, a schedule where agent1 works and agent2 is on lunch for the first half hour: agent2
works instead, so it is out of adherence once the 120 s grace is over. The test moves the simulation
10 s at a time and waits until the websocket client shows that simulated time (the runner's clock is
the simulation's), then reads /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from waiting import poll_until
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws

from collectors.ami.client import AmiClient, AmiConfig
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import AgentSpec, BreakPolicy, QueueSpec, SimConfig, site_config
from collectors.simulator.model import Simulation
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.api.auth import create_display_token
from wallboard.config import Settings
from wallboard.core.adherence.schedule import Schedule, Slot, dump_schedule
from wallboard.core.deltas import apply_diff
from wallboard.core.users import Passwords, Role
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect
from wallboard.store.sink import StreamSink

SITE = "e2e"
AMI_SECRET = "ami-s3cret"
PASSWORD = "correct horse battery"
WAIT_S = 20.0


async def until(predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    await poll_until(predicate, what, timeout)


def quiet_site(start: datetime) -> SimConfig:
    """Two agents logged in all day on one quiet queue, no breaks (the simulated day starts at 10:00)."""
    offset = 10.0 - start.hour - start.minute / 60 - start.second / 3600
    agents = tuple(
        AgentSpec(
            agent_id=f"agent{n}",
            name=f"Agent {n}",
            interface=f"PJSIP/100{n}",
            skills=(("support", 0),),
            shift_start_h=0.0,
            shift_end_h=23.99,
            no_answer_probability=0.0,
        )
        for n in (1, 2)
    )
    return SimConfig(
        seed=5,
        timezone="UTC",
        hour_offset=offset,
        agents=agents,
        queues=(QueueSpec(name="support", peak_rate_per_min=0.5, talk_median_s=60, timeout_s=900, wrapup_s=2),),
        breaks=BreakPolicy(enabled=False, removed_during_call_probability=0.0),
        bursts_per_hour=0,
    )


def planned(start: datetime) -> Schedule:
    """agent1 works; agent2 is on lunch for the first 30 min, then works (1 h from ``start``, minute-aligned)."""
    first = start.replace(second=0) - timedelta(minutes=1)
    lunch_end, end = first + timedelta(minutes=30), first + timedelta(hours=1)
    return Schedule.of(
        [
            Slot("agent1", first, end, "work", first.date()),
            Slot("agent2", first, lunch_end, "lunch", first.date()),
            Slot("agent2", lunch_end, end, "work", first.date()),
        ]
    )


@dataclass
class WsFollower:
    """Applies the snapshot and deltas it receives; keeps the latest state."""

    ws: ClientConnection
    held: dict[str, Any] = field(default_factory=dict)

    async def run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.pop("type")
            if kind == "snapshot":
                self.held = message
            elif kind == "delta":
                assert message["base"] == self.held.get("seq"), (message["base"], self.held.get("seq"))
                self.held = apply_diff(self.held, message["changes"])

    @property
    def now(self) -> datetime | None:
        return datetime.fromisoformat(self.held["ts"]) if "ts" in self.held else None

    def adherence(self, agent: str) -> dict[str, Any] | None:
        return ((self.held.get("agents") or {}).get(agent) or {}).get("adherence")


@contextlib.asynccontextmanager
async def running(*coroutines: Awaitable[None]) -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the text exposition (labels in any order)."""
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if not metric.startswith(name + "{"):
            continue
        found = dict(pair.split("=", 1) for pair in metric[len(name) + 1 : -1].split(","))
        if {key: value.strip('"') for key, value in found.items()} == labels:
            return float(value)
    return None


async def test_an_imported_schedule_shows_the_agent_out_of_adherence_on_ws_and_metrics(redis_url: str) -> None:
    """A planner's JSON import is put in force; agent2, working through its lunch, is out on /ws and /metrics."""
    start = datetime.now(UTC).replace(microsecond=0)
    config = quiet_site(start)
    site = site_config(config, site=SITE)
    settings = Settings(_env={}, site=SITE, port=0, snapshot_interval_s=0.02, auth_enabled=True)
    server = SimulatedAmiServer(Simulation(config, 5, start=start), secret=AMI_SECRET, speed=None)
    clients = [connect(redis_url, client_name=name) for name in ("collector", "engine", "api", "test")]
    collector_redis, engine_redis, api_redis, test_redis = clients
    store = Store(test_redis, site=SITE)
    runner = EngineRunner(
        settings,
        Store(engine_redis, site=SITE),
        site,
        clock=lambda: server.simulation.current_time,
        tick_s=0.02,
        thresholds_poll_s=0.05,
    )
    passwords = Passwords.cheap()
    app = create_app(settings, store=Store(api_redis, site=SITE), passwords=passwords, ws_interval_s=0.02)
    try:
        await server.start("127.0.0.1", 0)
        ami = AmiClient(
            AmiConfig("127.0.0.1", server.port, "wallboard", AMI_SECRET, site=SITE),
            StreamSink(Store(collector_redis, site=SITE)),
        )
        await Accounts(store, Hashing(passwords)).add_user("plan1", Role.PLANNER, PASSWORD, actor="test")
        display = await create_display_token(store, board="tv", label="e2e")
        async with (
            serving(uvicorn_config(app, settings)) as base,
            httpx.AsyncClient(base_url=base, timeout=WAIT_S) as http,
            running(runner.run(), ami.run()),
            connect_ws(f"{base.replace('http', 'ws', 1)}/ws?token={display}", proxy=None, open_timeout=WAIT_S) as ws,
        ):
            follower = WsFollower(ws)
            async with running(follower.run()) as (follow,):
                await until(lambda: ami.stats.connected, "the collector")

                def logged_in() -> bool:
                    agents = follower.held.get("agents") or {}
                    return all(
                        (agents.get(a) or {}).get("state") not in (None, "logged_out") for a in ("agent1", "agent2")
                    )

                async def step(seconds: float) -> None:
                    await server.advance(seconds)
                    now = server.simulation.current_time
                    await until(lambda: follow.done() or (follower.now or start) >= now, f"the board at {now}")
                    assert not follow.done(), follow.exception()

                await step(1.0)  # the simulated agents log in at their shift start
                await until(logged_in, "both agents logged in on the board")

                # 1. a planner imports the schedule over the API (JSON rows, replace mode, based on version 0)
                token = (await http.post("/api/v1/login", json={"name": "plan1", "password": PASSWORD})).json()["token"]
                rows = dump_schedule(planned(start), site)
                response = await http.put(
                    "/api/v1/schedules",
                    content=json.dumps(rows),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "If-Match": "0"},
                )
                assert response.status_code == 200, response.text
                await until(
                    lambda: runner.adherence is not None and runner.adherence.version == 1, "version 1 in force"
                )

                # 2. the simulation runs; agent2 works through its scheduled lunch: grace, then out
                for _ in range(30):
                    agent2 = follower.adherence("agent2")
                    if agent2 is not None and agent2["status"] == "out":
                        break
                    await step(10.0)
                agent1, agent2 = follower.adherence("agent1"), follower.adherence("agent2")
                assert agent1 is not None and agent1["status"] == "in" and agent1["scheduled"] == "work"
                assert agent2 is not None and agent2["status"] == "out", agent2
                assert (agent2["scheduled"], agent2["actual"], agent2["exception"]) == (
                    "lunch",
                    "work",
                    "wrong_activity",
                )
                assert agent2["out_for_s"] > 120.0
                summary = follower.held["adherence"]
                assert summary["schedule_version"] == 1 and summary["site"]["out_now"] == 1
                assert [(e["agent"], e["kind"]) for e in summary["exceptions"]] == [("agent2", "wrong_activity")]
                team = follower.held["teams"]["support-team"]["adherence"]
                assert (team["out_now"], team["scheduled_now"]) == (1, 2)  # on shift: lunch is not "offline"

                # 3. /metrics says the same (loopback scrape)
                text = (await http.get("/metrics")).text
                assert sample(text, "wallboard_site_agents_out_of_adherence", site=SITE) == 1.0
                out = sample(text, "wallboard_team_agents_out_of_adherence", site=SITE, team="support-team")
                assert out == 1.0
                pct = sample(text, "wallboard_team_adherence_percent", site=SITE, team="support-team")
                # both logged in at the same moment: agent1 in ever since, agent2 out ever since -> 50 %
                assert pct == pytest.approx(50.0)
    finally:
        await server.close()
        for client in clients:
            await client.aclose()
