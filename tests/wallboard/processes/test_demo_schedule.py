"""The demo stores the schedule its simulated agents follow, so its engine tracks their adherence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.simulator.config import SchedulePolicy, build_config, site_config
from collectors.simulator.schedule import schedule_around
from wallboard.cli import main
from wallboard.core.adherence.schedule import schedule_from_document
from wallboard.processes import simulate as simulate_process
from wallboard.processes.demo import store_demo_schedule
from wallboard.store import Store, connect

START = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site="demo")
    await client.aclose()


async def test_the_demo_stores_its_schedule_as_the_next_version_by_the_demo(store: Store) -> None:
    """An empty site gets version 1 by "demo", reading back as the schedule the agents follow; again: version 2."""
    config = build_config(8, 2, seed=1, schedule=SchedulePolicy())
    site = site_config(config, site="demo")
    stored = await store_demo_schedule(store, config, site, START, 1.0)
    assert stored is not None and stored["version"] == 1 and stored["updated_by"] == "demo"
    document = await store.schedules.read_schedules()
    assert document is not None
    assert schedule_from_document(document, site) == schedule_around(config, site, START)
    (_, entry), *_ = await store.accounts.read_audit(10)
    assert (entry["actor"], entry["action"]) == ("demo", "schedules.import")
    again = await store_demo_schedule(store, config, site, START, 1.0)
    assert again is not None and again["version"] == 2


async def test_a_faster_demo_stores_the_schedule_on_the_wall_clock(store: Store) -> None:
    """At speed 60 an 8.5-hour shift lasts 8.5 wall-clock minutes in the stored schedule."""
    config = build_config(4, 1, seed=2, schedule=SchedulePolicy())
    site = site_config(config, site="demo")
    await store_demo_schedule(store, config, site, START, 60.0)
    document = await store.schedules.read_schedules()
    assert document is not None
    slots = schedule_from_document(document, site).for_agent(config.agents[0].agent_id)
    starts = [0] + [n for n in range(1, len(slots)) if slots[n].start != slots[n - 1].end]  # one block per shift
    blocks = [slots[a:b] for a, b in zip(starts, [*starts[1:], len(slots)], strict=True)]
    later = next(block for block in blocks if block[0].start >= START)  # a shift wholly after the start
    spec = config.agents[0]
    shift_h = (spec.shift_end_h - spec.shift_start_h) % 24
    assert (later[-1].end - later[0].start).total_seconds() == pytest.approx(shift_h * 60, abs=2)


def test_simulate_passes_schedule_out_to_the_simulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`wallboard simulate --schedule-out FILE` hands FILE to processes.simulate; a missing directory is exit 2."""
    seen: dict[str, Any] = {}

    async def fake_simulate(host: str, port: int, **options: Any) -> None:
        seen.update(options, host=host, port=port)

    monkeypatch.setattr(simulate_process, "simulate", fake_simulate)
    target = tmp_path / "plan.csv"
    assert main(["simulate", "--port", "0", "--schedule-out", str(target)]) == 0
    assert seen["schedule_out"] == target and seen["port"] == 0
    seen.clear()
    assert main(["simulate", "--schedule-out", str(tmp_path / "missing" / "plan.csv")]) == 2
    assert seen == {}
