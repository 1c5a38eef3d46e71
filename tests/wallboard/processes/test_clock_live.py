"""A future-dated call in a live queue_log, through real processes: `wallboard collect queue-log` and `wallboard
engine` on a real file and a real Redis. The call dated two days ahead, written between real ones, changes no
figure of the real calls, is counted as rejected (``clock_ahead``), and does not move the engine's day.

The real calls are the captured Asterisk queue_log (tests/fixtures/asterisk22-light), its epochs shifted to now.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from processes import clean_env, start, stop
from queue_log_lines import append, entered, shifted_lines
from waiting import poll_until

from wallboard.store import Store, connect

SITE = "clocks"
WAIT = 30.0
DAYS_AHEAD = 2 * 86_400


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url, client_name="test")
    try:
        yield Store(client, site=SITE)
    finally:
        await client.aclose()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            stop(process)


def future_call(now: int) -> bytes:
    """One whole call (enter, answer, end) of the support queue, stamped two days ahead of ``now``."""
    at = now + DAYS_AHEAD
    return (
        b"%d|future.1|support|NONE|ENTERQUEUE||5550142|1\n" % at
        + b"%d|future.1|support|Alice Nguyen|CONNECT|3|future.1b|2\n" % (at + 3)
        + b"%d|future.1|support|Alice Nguyen|COMPLETEAGENT|3|60|1\n" % (at + 63)
    )


def replayed(path: Path) -> dict[str, Any]:
    """The figures `wallboard replay` gives for ``path`` (the real calls alone)."""
    proc = subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "replay", str(path), "--format", "queue_log", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


async def test_a_future_dated_call_between_real_ones_changes_no_figure_and_is_counted(
    tmp_path: Path, redis_url: str, store: Store, children: list[subprocess.Popen[bytes]]
) -> None:
    """Real calls, one call dated two days ahead, more real calls: the snapshot's day equals the replay of the
    real calls alone, the snapshot stays on today, and the collector counts the three future lines as clock_ahead."""
    lines = shifted_lines()
    before, after = b"".join(lines[:40]), b"".join(lines[40:])
    real = tmp_path / "real_queue_log"
    real.write_bytes(before + after)
    expected = replayed(real)["queues"]
    env = clean_env(tmp_path, {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_SITE": SITE, "PYTHONUNBUFFERED": "1"})
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    children.append(start("collect", "queue-log", str(path), env=env, log=tmp_path / "collector.log"))
    children.append(start("engine", env=env, log=tmp_path / "engine.log"))

    async def position(size: int) -> bool:
        stored = await store.events.load_position(f"queue_log:{path}")
        return stored is not None and stored.get("offset") == size

    await poll_until(lambda: position(0), "the collector to start at the end of the empty file", WAIT)
    append(path, before)
    await poll_until(lambda: position(len(before)), "the first real calls to be read", WAIT)
    future = future_call(int(time.time()))
    append(path, future)
    append(path, after)
    await poll_until(lambda: position(len(before + future + after)), "the whole file to be read", WAIT)

    async def day_offered() -> dict[str, int] | None:
        snapshot = await store.events.load_snapshot()
        if snapshot is None:
            return None
        return {name: queue["day"]["offered"] for name, queue in snapshot["queues"].items()}

    want = {name: queue["offered"] for name, queue in expected.items()}

    async def caught_up() -> bool:
        return await day_offered() == want

    await poll_until(caught_up, f"the engine's day to offer {want}", WAIT)
    snapshot = await store.events.load_snapshot()
    assert snapshot is not None
    for name, queue in expected.items():
        day = snapshot["queues"][name]["day"]
        for figure in ("offered", "answered", "abandoned", "answered_within_sl"):
            assert day[figure] == queue[figure], (name, figure)
    assert abs(time.time() - _epoch(snapshot["interval"]["start"])) < 3600  # the windows stayed on today
    assert len(entered(before + after)) == sum(want.values())

    async def counted() -> bool:
        health = (await store.events.read_health()).get("collector:queue_log", {})
        return json.loads(health.get("rejected_by_reason") or "{}").get("clock_ahead") == 3

    await poll_until(counted, "the collector's health to count the 3 future lines as clock_ahead", WAIT)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
