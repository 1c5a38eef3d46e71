"""/readyz tells the truth: a hung Redis, a stopped engine process and a collector that lost its source each make it
503 naming the check, within 20 s, without the probe itself ever hanging; /healthz stays liveness.

Real parts: the module's redis-server (SIGSTOP/SIGCONT), ``wallboard engine`` as a child process (SIGSTOP/SIGCONT),
the API on uvicorn in the test's loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_stack import running_api
from processes import clean_env, start, stop
from waiting import poll_until

from wallboard.store import Store

PROMISE_S = 20.0  # /readyz turns 503 within this of a hang
PROBE_S = 3.0  # one /readyz answer takes at most this (the Redis check is bounded to 1.5 s)
RECOVER_S = 30.0
SITE_FILE = "site: paris\nqueues:\n  support: {sl_threshold_s: 20}\n"


@pytest.fixture
def engine(redis_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``wallboard engine`` for site paris on the test's Redis, as its own process."""
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE_FILE, encoding="utf-8")
    env = clean_env(tmp_path, {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_SITE": "paris",
                               "WALLBOARD_SITE_FILE": str(site_file), "PYTHONUNBUFFERED": "1"})  # fmt: skip
    process = start("engine", env=env, log=tmp_path / "engine.log")
    try:
        yield process
    finally:
        os.kill(process.pid, signal.SIGCONT)
        stop(process)


@pytest.fixture
async def api(store: Store, engine: subprocess.Popen[bytes]) -> AsyncIterator[Any]:
    async with running_api(store, users=False, auth_enabled=False) as running:
        await poll_until(lambda: probe(running.http, 200), "/readyz to answer 200 with the engine running", 30.0)
        yield running


async def probe(http: httpx.AsyncClient, status: int) -> dict[str, Any] | None:
    """/readyz's body when it answers ``status`` (None otherwise); fails if the answer took longer than PROBE_S."""
    began = time.monotonic()
    response = await http.get("/readyz", timeout=PROBE_S + 2)
    took = time.monotonic() - began
    assert took <= PROBE_S, f"/readyz took {took:.1f} s"
    body: dict[str, Any] = response.json()
    return body if response.status_code == status else None


async def wait_for_status(http: httpx.AsyncClient, status: int, timeout: float) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = []

    async def answered() -> bool:
        body = await probe(http, status)
        if body is not None:
            bodies.append(body)
        return body is not None

    await poll_until(answered, f"/readyz to answer {status}", timeout)
    return bodies[-1]


async def test_a_hung_redis_makes_readyz_503_naming_redis(api: Any, redis_server: Any) -> None:
    """Redis stopped (SIGSTOP): /readyz answers 503 naming redis within 20 s, each answer within 3 s, /healthz stays
    200; after SIGCONT it is 200 again (the engine's snapshots flow again)."""
    pid = redis_server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        body = await wait_for_status(api.http, 503, PROMISE_S)
        assert time.monotonic() - began <= PROMISE_S
        site = body["sites"]["paris"]
        assert "redis" in site["failed"] and site["redis"] is False
        assert "did not answer PING" in site["checks"]["redis"]["detail"]
        assert (await api.http.get("/healthz")).status_code == 200
    finally:
        os.kill(pid, signal.SIGCONT)
    body = await wait_for_status(api.http, 200, RECOVER_S)
    assert body["sites"]["paris"]["failed"] == []


async def test_a_stopped_engine_makes_readyz_503_naming_its_freshness(
    api: Any, engine: subprocess.Popen[bytes]
) -> None:
    """The engine process stopped (SIGSTOP): its snapshot stops getting younger and /readyz answers 503 naming the
    engine within 20 s (10 s default age limit) while Redis is fine; after SIGCONT it is 200 again."""
    os.kill(engine.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        body = await wait_for_status(api.http, 503, PROMISE_S)
        assert time.monotonic() - began <= PROMISE_S
        site = body["sites"]["paris"]
        assert site["failed"] == ["engine"] and site["redis"] is True
        assert "s old" in site["checks"]["engine"]["detail"] and site["snapshot_age_s"] > 10
    finally:
        os.kill(engine.pid, signal.SIGCONT)
    body = await wait_for_status(api.http, 200, RECOVER_S)
    assert body["sites"]["paris"]["snapshot_age_s"] <= 10


async def test_collectors_that_lost_their_source_or_went_quiet_are_not_ready(api: Any, store: Store) -> None:
    """A collector's health hash decides: AMI connected and logged in, the file collector following a file, a hash
    written within 10 s; any other is 503 naming that collector, and fixing it makes /readyz 200 again."""
    now = time.time()
    await store.events.write_health("collector:ami", {"connected": 1, "updated_ts": now})
    await store.events.write_health("collector:queue_log", {"connected": 1, "following": 0, "updated_ts": now})
    await store.events.write_health("collector:queue_log_db", {"connected": 1, "updated_ts": now - 60})
    body = await wait_for_status(api.http, 503, PROMISE_S)
    site = body["sites"]["paris"]
    assert site["failed"] == ["collector:queue_log", "collector:queue_log_db"]
    assert site["checks"]["collector:queue_log"]["detail"] == "not following an existing file"
    assert "stale" in site["checks"]["collector:queue_log_db"]["detail"]
    await store.events.write_health("collector:ami", {"connected": 0, "updated_ts": time.time()})
    body = await wait_for_status(api.http, 503, PROMISE_S)
    assert body["sites"]["paris"]["checks"]["collector:ami"]["detail"] == "not connected and logged in to the AMI"
    for name in ("collector:ami", "collector:queue_log", "collector:queue_log_db"):
        await store.events.write_health(name, {"connected": 1, "following": 1, "updated_ts": time.time()})
    await wait_for_status(api.http, 200, PROMISE_S)
