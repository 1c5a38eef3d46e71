"""Schedules and adherence end to end, every part real: a planner imports a schedule, an agent strays from it,
the board shows it.

simulated AMI server (manual clock) -> AmiClient -> StreamSink -> redis-server -> EngineRunner (schedule from
the API, adherence book) -> uvicorn create_app (auth on) -> a websocket client, and GET /metrics: the live
stack of tests/support/stack.py.

The simulated site has two agents logged in all day on one queue (no breaks). A planner imports, as
JSON over the API, a schedule where agent1 works and agent2 is on lunch for the first half hour: agent2
works instead, so it is out of adherence once the 120 s grace is over. The test moves the simulation
10 s at a time and waits until the websocket client shows that simulated time (the runner's clock is
the simulation's), then reads /metrics.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stack import WsFollower, live_stack, simulated_pbx, two_agent_site
from waiting import poll_until

from collectors.simulator.config import QueueSpec, SimConfig, site_config
from wallboard.admin.accounts import create_display_token
from wallboard.core.adherence.schedule import Schedule, Slot, dump_schedule
from wallboard.core.users import Role
from wallboard.processes.engine import EngineRunner

SITE = "e2e"
PASSWORD = "correct horse battery"
WAIT_S = 20.0


async def until(predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    await poll_until(predicate, what, timeout)


def quiet_site(start: datetime) -> SimConfig:
    """Two agents logged in all day on one quiet queue, no breaks (the simulated day starts at 10:00)."""
    support = QueueSpec(name="support", peak_rate_per_min=0.5, talk_median_s=60, timeout_s=900, wrapup_s=2)
    return two_agent_site(start, support, seed=5)


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


def adherence(follower: WsFollower, agent: str) -> dict[str, Any] | None:
    return ((follower.held.get("agents") or {}).get(agent) or {}).get("adherence")


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
    async with simulated_pbx(config, start=start, speed=None) as server:
        engine = functools.partial(
            EngineRunner, clock=lambda: server.simulation.current_time, tick_s=0.02, thresholds_poll_s=0.05
        )
        settings = {"snapshot_interval_s": 0.02, "auth_enabled": True}
        async with live_stack(
            redis_url, site, ami_port=server.port, engine=engine, settings=settings, ws_interval_s=0.02
        ) as stack:
            await stack.accounts.add_user("plan1", Role.PLANNER, PASSWORD, actor="test")
            display = await create_display_token(stack.store.accounts, board=None, label="e2e")
            runner, ami = stack.runner, stack.ami
            assert runner is not None and ami is not None
            async with stack.follow(display) as follower:
                follow = follower.task
                assert follow is not None
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
                rows = dump_schedule(planned(start), site)
                response = await stack.http.put(
                    "/api/v1/schedules",
                    content=json.dumps(rows),
                    headers={
                        **await stack.login("plan1", PASSWORD),
                        "Content-Type": "application/json",
                        "If-Match": "0",
                    },
                )
                assert response.status_code == 200, response.text
                await until(
                    lambda: runner.adherence is not None and runner.adherence.version == 1, "version 1 in force"
                )

                # 2. the simulation runs; agent2 works through its scheduled lunch: grace, then out
                for _ in range(30):
                    agent2 = adherence(follower, "agent2")
                    if agent2 is not None and agent2["status"] == "out":
                        break
                    await step(10.0)
                agent1, agent2 = adherence(follower, "agent1"), adherence(follower, "agent2")
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
                text = (await stack.http.get("/metrics")).text
                assert sample(text, "wallboard_site_agents_out_of_adherence", site=SITE) == 1.0
                out = sample(text, "wallboard_team_agents_out_of_adherence", site=SITE, team="support-team")
                assert out == 1.0
                pct = sample(text, "wallboard_team_adherence_percent", site=SITE, team="support-team")
                # both logged in at the same moment: agent1 in ever since, agent2 out ever since -> 50 %
                assert pct == pytest.approx(50.0)
