"""``wallboard demo --pbx freeswitch``: the simulator speaks the FreeSWITCH event socket, the ESL collector reads it,
and the pages serve a snapshot of mod_callcenter's queues (``support@default``) with calls flowing; a supervisor's
pause and listen go through the API to the collector, as bgapi commands to the simulated switch (a real
FreeSWITCH cannot run here), and are done by its answers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

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
                shown = {name: queue["display_name"] for name, queue in queues.items()}
                assert shown == {name: name.removesuffix("@default") for name in queues}  # what the TV titles
                return any(queue["day"]["offered"] > 0 for queue in queues.values())

            await poll_until(calls_offered, "calls on the FreeSWITCH queues", START_S)
        password = re.search(r"user 'demo', password '([^']+)'", log.read_text())
        assert password, log.read_text()[-2000:]
        async with httpx.AsyncClient(base_url=base, timeout=10) as admin:
            login = await admin.post("/api/v1/login", json={"name": "demo", "password": password[1]})
            admin.headers["Authorization"] = f"Bearer {login.json()['token']}"
            await supervise(admin)
        assert "DemoSecret" not in log.read_text()
    finally:
        stop(process)  # type: ignore[arg-type]
        process.stdout.close()


async def settled(http: httpx.AsyncClient, answer: httpx.Response) -> dict[str, Any]:
    """The action's final status (done or failed), polled from GET /api/v1/actions/{id}."""
    assert answer.status_code == 202, answer.text
    final: dict[str, Any] = {}

    async def ended() -> bool:
        final.update((await http.get(f"/api/v1/actions/{answer.json()['id']}")).json())
        return final.get("state") in ("done", "failed")

    await poll_until(ended, "the action to be done or failed", 20)
    return final


async def supervise(http: httpx.AsyncClient) -> None:
    """Pause an available agent (the switch's On Break comes back to the snapshot), unpause it, and listen to an
    agent on a call from the demo admin's phone (user/1000)."""
    found: list[str] = []

    async def agent_in(state: str, voice_call: bool = False) -> bool:
        snapshot = (await http.get("/api/v1/snapshot")).json()
        voice = {name for name, queue in snapshot["queues"].items() if queue["channel"] == "voice"}
        found[:] = [
            agent_id
            for agent_id, agent in snapshot["agents"].items()
            if agent["state"] == state and (not voice_call or (agent.get("call") or {}).get("queue") in voice)
        ][:1]
        return bool(found)

    await poll_until(lambda: agent_in("available"), "an available agent", START_S)
    agent_id = found[0]
    paused = await settled(http, await http.post(f"/api/v1/agents/{agent_id}/pause", json={"reason": "Coaching"}))
    assert paused["state"] == "done" and "On Break" in paused["message"], paused

    async def on_break() -> bool:
        return str((await http.get("/api/v1/snapshot")).json()["agents"][agent_id]["state"]).startswith("paused")

    await poll_until(on_break, f"{agent_id} on break in the snapshot", 20)
    assert (await settled(http, await http.post(f"/api/v1/agents/{agent_id}/unpause", json={})))["state"] == "done"
    for _ in range(3):  # at speed 20 a call may end between the snapshot read and the action: another agent then
        await poll_until(lambda: agent_in("on_call", voice_call=True), "an agent on a call", START_S)
        listen = await settled(http, await http.post(f"/api/v1/agents/{found[0]}/monitor", json={"mode": "listen"}))
        if "on no call" not in str(listen.get("message")):
            break
    assert listen["state"] == "done", listen  # the simulated switch answered the originate to user/1000
