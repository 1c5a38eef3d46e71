"""`wallboard collect queue-log` as a real process on a real file and a real Redis: killed and restarted, nothing lost,
nothing twice.

The file is the captured Asterisk queue_log (tests/fixtures/asterisk22-light), its epochs shifted to now, written in
parts: one while the collector runs, one while it is killed (SIGKILL), one after its restart with its defaults.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from processes import clean_env, start, stop
from queue_log_lines import append, entered, shifted_lines
from waiting import poll_until

from wallboard.core.events import CallQueued, parse_event
from wallboard.store import Store, connect

SITE = "restarts"
WAIT = 30.0


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url, client_name="test")
    try:
        yield Store(client, site=SITE)
    finally:
        await client.aclose()


class Collector:
    """`wallboard collect queue-log <path>` children, started and ended by the test; every one is ended at teardown."""

    def __init__(self, path: Path, env: dict[str, str], log: Path) -> None:
        self.path, self.env, self.log = path, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *options: str) -> None:
        self.process = start("collect", "queue-log", str(self.path), *options, env=self.env, log=self.log)

    def kill(self) -> None:
        """SIGKILL: no clean-up, what the reorder window holds is lost with the process."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; it must exit cleanly."""
        assert self.process is not None
        assert stop(self.process) == 0, self.output()
        self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def collector(tmp_path: Path, redis_url: str) -> Iterator[Collector]:
    env = clean_env(tmp_path, {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_SITE": SITE, "PYTHONUNBUFFERED": "1"})
    made = Collector(tmp_path / "queue_log", env, tmp_path / "collector.log")
    try:
        yield made
    finally:
        if made.process is not None:
            stop(made.process)


async def read_up_to(store: Store, collector: Collector, size: int) -> None:
    """Wait until the collector has stored the position ``size`` of its file (all of it is in the stream)."""

    async def there() -> bool:
        assert collector.running(), f"the collector exited:\n{collector.output()}"
        position = await store.events.load_position(f"queue_log:{collector.path}")
        return position is not None and position.get("offset") == size

    await poll_until(there, f"the stored position to reach offset {size}", WAIT)


async def in_stream(store: Store) -> tuple[Counter[str], Counter[str | None]]:
    """How many times each call's CallQueued, and each idempotency key, is in the stream."""
    events = [parse_event(entry.data or b"") for entry in await store.events.read_range(count=100_000)]
    calls = Counter(event.call_id for event in events if isinstance(event, CallQueued))
    return calls, Counter(event.key for event in events)


async def test_killed_and_restarted_with_its_defaults_it_delivers_every_call_once(
    store: Store, collector: Collector
) -> None:
    """SIGKILL mid-file, calls written while down, restart with the defaults: every call of the file once."""
    lines = shifted_lines()
    before, during, after = b"".join(lines[:40]), b"".join(lines[40:65]), b"".join(lines[65:])
    assert entered(before) and entered(during) and entered(after)
    path = collector.path
    path.write_bytes(b"")
    collector.start()
    await read_up_to(store, collector, 0)  # first start: at the end of the (empty) file, and that is stored
    append(path, before)
    await read_up_to(store, collector, len(before))
    collector.kill()
    append(path, during)  # while it is down
    collector.start()
    await read_up_to(store, collector, len(before + during))
    append(path, after)
    await read_up_to(store, collector, len(before + during + after))
    calls, keys = await in_stream(store)
    assert calls == Counter(entered(before + during + after)), collector.output()
    assert set(calls.values()) == {1} and set(keys.values()) == {1} and None not in keys
    assert len(calls) == 17

    # Again from the start of the same file: the stored position says all of it is in the stream already.
    collector.stop()
    collector.start("--from-start")
    extra = b"%d|restart.1|support|NONE|ENTERQUEUE||5039815100|1\n" % int(time.time())
    append(path, extra)
    await read_up_to(store, collector, len(before + during + after + extra))
    calls, keys = await in_stream(store)
    assert calls == Counter([*entered(before + during + after), "restart.1"])
    assert set(keys.values()) == {1}


async def test_a_named_collector_writes_its_own_health(store: Store, collector: Collector) -> None:
    """`--name` (serve gives one to each of several files) keeps each collector's health apart."""
    collector.path.write_bytes(b"")
    collector.start("--name", "second")

    async def own_health() -> bool:
        assert collector.running(), collector.output()
        return "collector:queue_log:second" in await store.events.read_health()

    await poll_until(own_health, "the health hash collector:queue_log:second", WAIT)
    assert "collector:queue_log" not in await store.events.read_health()
