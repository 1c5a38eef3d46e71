"""``wallboard demo --pbx freeswitch``: the simulator speaks the FreeSWITCH event socket, the ESL collector reads it,
and the pages serve a snapshot of mod_callcenter's queues (``support@default``) with calls flowing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from processes import ROOT, WALLBOARD, clean_env, free_port, stop
from waiting import poll_until

START_S = 45.0


@pytest.mark.slow  # the whole demo as a process: Redis, simulator, ESL collector, engine, API
async def test_the_freeswitch_demo_serves_mod_callcenter_queues_fed_over_esl(tmp_path: Path) -> None:
    env = clean_env(tmp_path, {"PYTHONUNBUFFERED": "1", "WALLBOARD_ESL_PASSWORD": "DemoSecret"})
    log = tmp_path / "demo.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [*WALLBOARD, "demo", "--pbx", "freeswitch", "--port", str(free_port()), "--speed", "20", "--agents", "12",
             "--queues", "3"], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=errors,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert process.stdout is not None
    try:
        line = process.stdout.readline().strip()  # the URL, once the API holds a snapshot
        found = re.fullmatch(r"(http://[\d.]+:\d+)/\?token=([\w-]+)", line)
        assert found, f"the demo announced {line!r}:\n{log.read_text()[-2000:]}"
        base, token = found[1], found[2]
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=5) as http:

            async def calls_offered() -> bool:
                snapshot = (await http.get("/api/v1/snapshot")).json()
                # the voice queues are mod_callcenter's; the web chat comes over HTTP (test_demo_http_source.py)
                queues = {name: queue for name, queue in snapshot["queues"].items() if queue["channel"] == "voice"}
                assert queues and all(name.endswith("@default") for name in queues), list(queues)
                return any(queue["day"]["offered"] > 0 for queue in queues.values())

            await poll_until(calls_offered, "calls on the FreeSWITCH queues", START_S)
        assert "DemoSecret" not in log.read_text()
    finally:
        stop(process)  # type: ignore[arg-type]
        process.stdout.close()
