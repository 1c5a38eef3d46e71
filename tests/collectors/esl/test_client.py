"""The ESL collector over a real socket on loopback, against a fake FreeSWITCH that plays the real capture
(``tests/support/fake_freeswitch.py`` says why it is a fake: FreeSWITCH cannot run here)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from fake_freeswitch import PASSWORD, fake_freeswitch, truth

from collectors.esl.client import EslAuthError, EslClient, EslConfig
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import SiteConfig

WAIT_S = 20.0


async def collect(port: int, until: Callable[[list[Event]], bool], password: str = PASSWORD) -> list[Event]:
    events: list[Event] = []

    async def sink(batch: list[Event]) -> None:
        events.extend(batch)

    client = EslClient(EslConfig("127.0.0.1", port, password, site="fs", reconnect_initial_delay=0.05), sink)
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(WAIT_S):
            while not until(events):
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    collect.client = client  # type: ignore[attr-defined]
    return events


def outcomes(events: list[Event]) -> dict[str, dict[str, int]]:
    state = State(SiteConfig(site="fs"))
    for event in events:
        state.apply(event)
    state.finish(max(event.ts for event in events))
    fields = ("offered", "answered", "abandoned", "timed_out", "unknown")
    return {q: {f: v[f] for f in fields} for q, v in state.totals()["queues"].items()}


def ends(events: list[Event]) -> int:
    return sum(1 for e in events if e.kind in ("call_ended", "call_abandoned", "call_exited"))


async def test_a_session_resyncs_then_collects_every_call_of_the_run() -> None:
    async with fake_freeswitch([]) as (fake, port):
        events = await collect(port, lambda got: ends(got) >= 10)
    assert fake.commands[:2] == [f"auth {PASSWORD}", "event plain CUSTOM callcenter::info"]
    assert "api callcenter_config tier list" in fake.commands
    snapshot = next(e for e in events if e.kind == "snapshot")
    assert {q.name for q in snapshot.queues} == set(truth())  # type: ignore[union-attr]
    assert outcomes(events) == truth()


async def test_a_dropped_connection_is_reconnected_resynced_and_nothing_is_lost_or_counted_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first connection drops after 40 frames: the client reconnects, reports the gap, resyncs, and the
    outcomes of the whole run still equal the ground truth."""
    caplog.set_level(logging.INFO)
    async with fake_freeswitch([40]) as (fake, port):
        events = await collect(port, lambda got: ends(got) >= 10)
        client: EslClient = collect.client  # type: ignore[attr-defined]
    assert fake.connections >= 2
    assert [e.kind for e in events].count("snapshot") >= 2 and any(e.kind == "source_reset" for e in events)
    assert client.stats.gaps >= 1 and client.stats.last_gap_s is not None
    assert outcomes(events) == truth()
    assert "gap of" in caplog.text and PASSWORD not in caplog.text


async def test_a_refused_password_is_fatal_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with fake_freeswitch([]) as (_, port):
        client = EslClient(EslConfig("127.0.0.1", port, "wrong-secret"), lambda batch: asyncio.sleep(0))
        with pytest.raises(EslAuthError, match="refused the event socket password"):
            await asyncio.wait_for(client.run(), WAIT_S)
    assert "wrong-secret" not in caplog.text and "wrong-secret" not in repr(client._config)
