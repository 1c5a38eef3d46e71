"""``wallboard demo`` supervises its embedded Redis: killed (-9), it is started again on its append-only file and every
part reconnects, so /readyz returns to 200 and figures flow again, without restarting the demo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import ROOT, WALLBOARD, children, clean_env, cmdline, free_port, stop
from waiting import poll_until

START_S = 45.0
RECOVER_S = 30.0


def redis_child(pid: int) -> int | None:
    found = [child for child in children(pid) if "redis-server" in cmdline(child)]
    return found[0] if found else None


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """The demo (its own throwaway Redis) at speed 20; yields the process, its base URL and its display token."""
    env = clean_env(tmp_path, {"PYTHONUNBUFFERED": "1"})
    log = tmp_path / "demo.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [*WALLBOARD, "demo", "--port", str(free_port()), "--speed", "20"], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert process.stdout is not None
    try:
        line = process.stdout.readline().strip()  # the URL, once the API holds a snapshot
        found = re.fullmatch(r"(http://[\d.]+:\d+)/\?token=([\w-]+)", line)
        assert found, f"the demo announced {line!r}:\n{log.read_text()[-2000:]}"
        yield process, found[1], found[2]
    finally:
        stop(process)  # type: ignore[arg-type]
        process.stdout.close()


async def test_the_demo_recovers_from_its_redis_killed(demo: tuple[subprocess.Popen[str], str, str]) -> None:
    """kill -9 of the demo's embedded Redis: a new one serves the same socket, /readyz is 200 again and the
    snapshot's seq and applied events move on from where they were (the day's data came back from the AOF)."""
    process, base, token = demo
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=5) as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await poll_until(ready, "the demo to be ready", START_S)
        before = (await http.get("/api/v1/snapshot")).json()
        old = redis_child(process.pid)
        assert old is not None, "no redis-server child of the demo"
        os.kill(old, signal.SIGKILL)

        async def back() -> bool:
            new = redis_child(process.pid)
            return new is not None and new != old and await ready()

        await poll_until(back, "a new Redis and /readyz 200 again", RECOVER_S)
        moving: list[dict[str, Any]] = []

        async def flowing() -> bool:
            moving.append((await http.get("/api/v1/snapshot")).json())
            return moving[-1]["counters"]["events_applied"] > before["counters"]["events_applied"]

        await poll_until(flowing, "events applied past those before the kill", RECOVER_S)
    assert process.poll() is None
    assert moving[-1]["seq"] > before["seq"]
