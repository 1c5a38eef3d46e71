"""``wallboard simulate``: the contact-center simulator as an AMI server, or (``--protocol esl``) a FreeSWITCH
event socket."""

from __future__ import annotations

import logging
from pathlib import Path

from collectors.simulator.ami_server import run_simulator
from collectors.simulator.config import SchedulePolicy
from collectors.simulator.esl_server import run_esl_simulator

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
    protocol: str = "ami",
) -> None:
    """The simulator as an AMI server; its agents follow a generated schedule (written to ``schedule_out``).

    ``protocol="esl"``: a FreeSWITCH mod_callcenter event socket instead, ``secret`` its password."""
    if protocol == "esl":
        await run_esl_simulator(host, port, agents=agents, queues=queues, speed=speed, seed=seed, password=secret,
                                day_hour=10.0, schedule=SchedulePolicy())  # fmt: skip
        return
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
