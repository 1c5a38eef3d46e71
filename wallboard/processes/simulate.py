"""``wallboard simulate``: the contact-center simulator as an AMI server."""

from __future__ import annotations

import logging
from pathlib import Path

from collectors.simulator.ami_server import run_simulator
from collectors.simulator.config import SchedulePolicy

log = logging.getLogger(__name__)


async def simulate(
    host: str,
    port: int,
    *,
    agents: int,
    queues: int,
    speed: float,
    seed: int,
    username: str,
    secret: str,
    schedule_out: Path | None = None,
) -> None:
    """The simulator as an AMI server; its agents follow a generated schedule (written to ``schedule_out``)."""
    await run_simulator(
        host,
        port,
        agents=agents,
        queues=queues,
        speed=speed,
        seed=seed,
        username=username,
        secret=secret,
        day_hour=10.0,
        schedule=SchedulePolicy(),
        schedule_out=schedule_out,
    )
