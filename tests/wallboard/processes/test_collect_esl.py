"""`wallboard collect esl` as a process: a fake FreeSWITCH event socket (tests/support/fake_freeswitch.py: FreeSWITCH
cannot run here) plays the real light run, the collector writes to a real redis-server, the stream replayed into
the engine gives the run's ground truth, and the password comes only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_freeswitch import PASSWORD, fake_freeswitch, truth
from processes import clean_env, start, stop, wallboard
from waiting import poll_until

from wallboard.core.engine import State
from wallboard.core.events import parse_event
from wallboard.core.site import SiteConfig
from wallboard.store import Store, connect

SITE = "fs"
WAIT = 40.0


async def test_the_collector_process_streams_every_call_of_the_run(tmp_path: Path, redis_url: str) -> None:
    env = clean_env(tmp_path, {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_SITE": SITE,
                               "WALLBOARD_ESL_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    log = tmp_path / "collector.log"
    client = connect(redis_url, client_name="test")
    store = Store(client, site=SITE)
    try:
        async with fake_freeswitch([]) as (fake, port):
            process = start("collect", "esl", "--host", "127.0.0.1", "--port", str(port), env=env, log=log)
            try:

                async def all_ended() -> bool:
                    assert process.poll() is None, log.read_text()
                    events = [parse_event(e.data or b"") for e in await store.events.read_range(count=10_000)]
                    ended = sum(e.kind in ("call_ended", "call_abandoned", "call_exited") for e in events)
                    health = (await store.events.read_health()).get("collector:esl", {})
                    return ended >= 10 and health.get("connects") == "1" and health.get("connected") == "1"

                await poll_until(all_ended, "the run's ten calls in the stream and the collector's health", WAIT)
            finally:
                assert stop(process) == 0, log.read_text()[-3000:]
        events = [parse_event(e.data or b"") for e in await store.events.read_range(count=10_000)]
        health = await store.events.read_health()
    finally:
        await client.aclose()
    state = State(SiteConfig(site=SITE))
    for event in events:
        state.apply(event)
    state.finish(max(event.ts for event in events))
    fields = ("offered", "answered", "abandoned", "timed_out", "unknown")
    assert {q: {f: v[f] for f in fields} for q, v in state.totals()["queues"].items()} == truth()
    assert fake.commands[0] == f"auth {PASSWORD}" and PASSWORD not in log.read_text()
    assert int(health["collector:esl"]["records"]) >= 100  # the run's callcenter::info frames


def test_without_the_password_in_the_environment_it_exits_2_saying_where_it_comes_from(tmp_path: Path) -> None:
    result = wallboard("collect", "esl", "--port", "1", env=clean_env(tmp_path))
    assert result.returncode == 2 and "WALLBOARD_ESL_PASSWORD" in result.stderr


@pytest.mark.parametrize("argument", ["--password", "--secret"])
def test_no_password_option_exists(tmp_path: Path, argument: str) -> None:
    result = wallboard("collect", "esl", argument, "x", env=clean_env(tmp_path))
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr
