"""Alerting end to end, every part real: an overloaded simulated PBX pages a supervisor, who acknowledges it.

simulated AMI server (manual clock) -> AmiClient -> StreamSink -> redis-server -> EngineRunner (thresholds
from the API) -> uvicorn create_app (auth on) -> a websocket client (the live stack of tests/support/stack.py);
the Notifier -> a local webhook receiver.

The simulated site has two agents and one queue whose callers arrive at 15 a minute for the first
90 simulated seconds, then stop: calls pile up (overload) and then drain as callers give up. The test
moves the simulation one second at a time and waits, after each step, until the websocket client
shows that simulated time (the runner's clock is the simulation's): so it observes every state that
lasts a step, with no sleep. An ops user sets the threshold over the API (calls waiting on support:
warn above 2, alarm above 4, for 5 s, clear at 0, so the alarm drops to warn at <= 2 and the alert
resolves only when nobody waits); a supervisor acknowledges the alarm over the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stack import live_stack, simulated_pbx, two_agent_site
from waiting import poll_until

from collectors.simulator.config import CallerPolicy, QueueSpec, SimConfig, site_config
from wallboard.admin.accounts import create_display_token
from wallboard.core.users import Role
from wallboard.processes.engine import EngineRunner
from wallboard.processes.notify import Notifier, Receiver

SITE = "e2e"
HOOK_SECRET = b"hook-s3cret"
PASSWORD = "correct horse battery"
OVERLOAD_S = 90  # callers arrive for this long, then stop
WAIT_S = 20.0
THRESHOLD = {
    "id": "support-waiting",
    "metric": "waiting",
    "scope": "queue:support",
    "warn": 2,
    "alarm": 4,
    "clear": 0,
    "for_s": 5,
    "severity": "page",
}


async def until(predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    await poll_until(predicate, what, timeout)


def overloaded_site(start: datetime) -> SimConfig:
    """Two agents, one queue; 15 arrivals a minute for OVERLOAD_S from the start (local 10:00), then none."""
    end = 10.0 + OVERLOAD_S / 3600
    support = QueueSpec(name="support", peak_rate_per_min=15, talk_median_s=90, timeout_s=900, wrapup_s=2)
    return two_agent_site(
        start,
        support,
        seed=3,
        callers=CallerPolicy(patience_median_s=40, patience_sigma=0.4),
        profile=((0.0, 1.0), (end, 1.0), (end + 0.0001, 0.0), (24.0, 0.0)),
    )


@dataclass
class Seen:
    """One state the websocket client held: simulated time, callers waiting on support, the alert (if open)."""

    ts: datetime
    waiting: int
    alert: dict[str, Any] | None


@dataclass
class Board:
    """Records each state the websocket client held (``WsFollower.on_state``) once it shows the support queue."""

    seen: list[Seen] = field(default_factory=list)

    def __call__(self, held: dict[str, Any]) -> None:
        queue = held.get("queues", {}).get("support")
        alerts = [a for a in held.get("alerts", []) if a["threshold_id"] == THRESHOLD["id"]]
        if queue is not None:
            self.seen.append(Seen(datetime.fromisoformat(held["ts"]), queue["waiting"], alerts[0] if alerts else None))

    @property
    def now(self) -> datetime | None:
        return self.seen[-1].ts if self.seen else None

    @property
    def alert(self) -> dict[str, Any] | None:
        return self.seen[-1].alert if self.seen else None


@dataclass
class Hook:
    """A webhook receiver (a tiny HTTP/1.1 server) keeping each request's headers and raw body."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((headers, body))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    def transitions(self) -> list[str]:
        return [json.loads(body)["alert"]["transition"] for _, body in self.requests]


def distinct(values: list[Any]) -> list[Any]:
    """Consecutive repeats dropped: [a, a, b, a] -> [a, b, a]."""
    return [value for index, value in enumerate(values) if index == 0 or values[index - 1] != value]


async def test_an_overload_pages_is_acknowledged_and_clears_with_hysteresis(redis_url: str) -> None:
    """Warn then alarm reach the websocket and a signed webhook; a supervisor acks; it resolves only at 0 waiting."""
    start = datetime.now(UTC).replace(microsecond=0)
    config = overloaded_site(start)
    site = site_config(config, site=SITE)
    hook = Hook()
    hook_url = await hook.start()
    try:
        async with simulated_pbx(config, start=start, speed=None) as server:
            engine = functools.partial(
                EngineRunner,
                clock=lambda: server.simulation.current_time,
                tick_s=0.02,
                evaluate_every_s=0,  # every snapshot carries alerts evaluated on its own figures
            )
            settings = {"snapshot_interval_s": 0.02, "auth_enabled": True}
            board = Board()
            async with (
                live_stack(
                    redis_url, site, ami_port=server.port, engine=engine, settings=settings, ws_interval_s=0.02
                ) as stack,
                stack.follow(
                    await create_display_token(stack.store.accounts, board=None, label="e2e"), board
                ) as follower,
            ):
                receivers = [Receiver("hook", hook_url, "generic")]
                notifier = Notifier(stack.store_for("notifier"), receivers, secret=HOOK_SECRET, block_ms=50)
                stack.start("notifier", notifier.run())
                await stack.accounts.add_user("ops1", Role.OPS, PASSWORD, actor="test")
                await stack.accounts.add_user("sup1", Role.SUPERVISOR, PASSWORD, actor="test")
                runner, ami, http, follow = stack.runner, stack.ami, stack.http, follower.task
                assert runner is not None and ami is not None and follow is not None
                await until(lambda: ami.stats.connected and notifier.ready.is_set(), "the collector and the notifier")
                await until(lambda: board.now is not None, "a first snapshot with the support queue")

                async def step(seconds: float = 1.0) -> None:
                    await server.advance(seconds)
                    now = server.simulation.current_time
                    await until(lambda: follow.done() or (board.now or start) >= now, f"the board at {now}")
                    assert not follow.done(), follow.exception()

                # 1. ops sets the threshold over the API; the engine takes it on its config notice.
                ops = await stack.login("ops1", PASSWORD)
                response = await http.put(
                    "/api/v1/thresholds", json={"version": 0, "thresholds": [THRESHOLD]}, headers=ops
                )
                assert response.status_code == 200, response.text
                await until(lambda: runner.thresholds_version == 1, "the engine to use thresholds version 1")

                # 2. overload: warn, then alarm, on the websocket.
                while not (board.alert and board.alert["level"] == "alarm"):
                    assert (server.simulation.current_time - start).total_seconds() < OVERLOAD_S, "no alarm in overload"
                    await step()
                alert_id = board.alert["alert_id"]
                levels = distinct([s.alert["level"] for s in board.seen if s.alert is not None])
                assert levels == ["warn", "alarm"]
                first = next(s for s in board.seen if s.alert is not None)
                assert first.waiting > 2 and first.alert["state"] == "firing"

                # 3. the webhook receiver got both, signed.
                await until(lambda: hook.transitions() == ["fired", "escalated"], "fired and escalated webhooks")
                for headers, body in hook.requests:
                    signed = headers["x-wallboard-timestamp"].encode() + b"." + body
                    expected = hmac.new(HOOK_SECRET, signed, hashlib.sha256).hexdigest()
                    assert headers["x-wallboard-signature"] == f"sha256={expected}"
                    assert json.loads(body)["alert"]["alert_id"] == alert_id

                # 4. a supervisor acknowledges it over the API; the board shows who.
                supervisor = await stack.login("sup1", PASSWORD)
                acked = await http.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "on it"}, headers=supervisor)
                assert acked.status_code == 202, acked.text
                await until(lambda: (board.alert or {}).get("state") == "acknowledged", "the ack on the board")
                assert board.alert is not None and board.alert["acknowledged_by"] == "sup1"
                await until(lambda: hook.transitions()[-1:] == ["acknowledged"], "the acknowledged webhook")

                # 5. the overload ends; the alert holds (hysteresis) until nobody waits.
                while (server.simulation.current_time - start).total_seconds() < OVERLOAD_S:
                    await step(5.0)  # still overloaded: nothing to watch closely
                held = len(board.seen)
                for _ in range(600):
                    if board.alert is None:
                        break
                    await step(1.0 if board.seen[-1].waiting <= 4 else 3.0)  # closely near the levels
                after = board.seen[held:]
                gone = next(index for index, s in enumerate(after) if s.alert is None)
                assert after[gone].waiting == 0
                below_warn = [s for s in after[:gone] if s.alert is not None and 0 < s.waiting <= 2]
                assert below_warn, "the alert must still be open at 1 or 2 waiting (warn clears at 0)"
                assert all(s.alert["state"] == "acknowledged" for s in below_warn)  # de-escalation keeps the ack
                await until(lambda: hook.transitions()[-1:] == ["resolved"], "the resolved webhook")
    finally:
        await hook.close()
    history = [json.loads(body)["alert"] for _, body in hook.requests]
    assert [r["transition"] for r in history] == ["fired", "escalated", "acknowledged", "resolved"]
    assert history[-1]["value"] == 0.0 and history[2]["by"] == "sup1"
    assert len({r["key"] for r in history}) == 4
