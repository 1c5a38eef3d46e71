"""Supervisor actions end to end in a real ``wallboard demo`` process: API -> Redis -> the demo's AMI collector ->
the simulated PBX (which answers and emits events as Asterisk 22 does) -> the engine -> the snapshot.

The PBX is the project's simulator (a real PBX cannot run here); everything else is the real demo.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import ROOT, WALLBOARD, clean_env, free_port, stop
from waiting import poll_until

START_S = 45.0
WAIT_S = 20.0
VIEWER_PASSWORD = "viewer-password-0123"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """The demo at speed 20; yields its base URL, its display token and its admin's password."""
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
        password = re.search(r"user 'demo', password '([^']+)'", log.read_text())
        assert password, log.read_text()[-2000:]
        yield found[1], found[2], password[1]
    finally:
        stop(process)  # type: ignore[arg-type]
        process.stdout.close()


@pytest.fixture
async def admin(demo: tuple[str, str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The demo admin's session (a bearer token from POST /api/v1/login)."""
    base, _, password = demo
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.post("/api/v1/login", json={"name": "demo", "password": password})
        assert response.status_code == 200, response.text
        http.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield http


async def _agents(http: httpx.AsyncClient) -> dict[str, Any]:
    agents: dict[str, Any] = (await http.get("/api/v1/snapshot")).json()["agents"]
    return agents


async def _settled(http: httpx.AsyncClient, answer: httpx.Response) -> dict[str, Any]:
    """The action's final status (done or failed), polled from GET /api/v1/actions/{id}."""
    assert answer.status_code == 202, answer.text
    action_id = answer.json()["id"]
    final: dict[str, Any] = {}

    async def settled() -> bool:
        final.update((await http.get(f"/api/v1/actions/{action_id}")).json())
        return final.get("state") in ("done", "failed")

    await poll_until(settled, f"action {action_id} to be confirmed or failed", WAIT_S)
    return final


async def test_pause_unpause_logout_login_and_listen_through_the_demo(
    demo: tuple[str, str, str], admin: httpx.AsyncClient
) -> None:
    """Each action is confirmed by the simulated PBX and shows in the snapshot; the audit has each one."""
    http = admin
    chosen: list[str] = []

    async def available_agent() -> bool:
        agents = await _agents(http)
        chosen[:] = [agent_id for agent_id, agent in agents.items() if agent["state"] == "available"][:1]
        return bool(chosen)

    await poll_until(available_agent, "an available agent", START_S)
    agent_id = chosen[0]

    status = await _settled(http, await http.post(f"/api/v1/agents/{agent_id}/pause", json={"reason": "Coaching"}))
    assert status["state"] == "done", status

    async def paused() -> bool:
        agent = (await _agents(http))[agent_id]
        return str(agent["state"]).startswith("paused") and agent["reason"] == "Coaching"

    await poll_until(paused, f"{agent_id} paused for Coaching in the snapshot", WAIT_S)
    assert (await _settled(http, await http.post(f"/api/v1/agents/{agent_id}/unpause", json={})))["state"] == "done"

    async def unpaused() -> bool:  # our Coaching pause is lifted (the simulated floor may pause the agent anew:
        agent = (await _agents(http))[agent_id]  # a break, or Auto-Pause after a ring it did not answer)
        return not (str(agent["state"]).startswith("paused") and agent["reason"] == "Coaching")

    await poll_until(unpaused, f"{agent_id} no longer paused for Coaching", WAIT_S)

    queues = list((await _agents(http))[agent_id]["queues"])
    assert queues
    logout = await _settled(http, await http.post(f"/api/v1/agents/{agent_id}/logout", json={"queue": queues[0]}))
    assert logout["state"] == "done", logout

    async def left() -> bool:
        return queues[0] not in (await _agents(http))[agent_id]["queues"]

    await poll_until(left, f"{agent_id} out of {queues[0]}", WAIT_S)
    login = await _settled(
        http, await http.post(f"/api/v1/agents/{agent_id}/login", json={"queue": queues[0], "penalty": 0})
    )
    assert login["state"] == "done", login

    async def back() -> bool:
        return queues[0] in (await _agents(http))[agent_id]["queues"]

    await poll_until(back, f"{agent_id} back in {queues[0]}", WAIT_S)

    talking: list[str] = []

    async def on_a_call() -> bool:  # a phone call: the demo's web chats (over HTTP) have no PBX channel to listen to
        snapshot = (await http.get("/api/v1/snapshot")).json()
        voice = {name for name, queue in snapshot["queues"].items() if queue["channel"] == "voice"}
        agents = snapshot["agents"]
        talking[:] = [name for name, agent in agents.items() if (agent.get("call") or {}).get("queue") in voice][:1]
        return bool(talking)

    await poll_until(on_a_call, "an agent on a call", START_S)
    listen = await http.post(f"/api/v1/agents/{talking[0]}/monitor", json={"mode": "listen"})
    spy = await _settled(http, listen)
    assert spy["state"] == "done", spy  # the simulated PBX answered the originate: the spy call exists
    assert spy["extension"] == "PJSIP/2001"  # the demo admin's phone, from his profile

    actions = {entry["action"] for entry in (await http.get("/api/v1/audit", params={"limit": 500})).json()}
    assert {"agent.pause", "agent.unpause", "agent.logout", "agent.login", "agent.monitor"} <= actions


async def test_a_display_token_and_a_viewer_may_not_act(demo: tuple[str, str, str], admin: httpx.AsyncClient) -> None:
    """The demo's display token and a viewer get 403 on every action."""
    base, token, _ = demo
    created = await admin.post("/api/v1/users", json={"name": "vera", "role": "viewer", "password": VIEWER_PASSWORD})
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        login = await http.post("/api/v1/login", json={"name": "vera", "password": VIEWER_PASSWORD})
        viewer = {"Authorization": f"Bearer {login.json()['token']}"}
        display = {"Authorization": f"Bearer {token}"}
        agent_id = next(iter(await _agents(admin)))
        for headers in (display, viewer):
            for kind, body in (("pause", {"reason": "Break"}), ("logout", {}), ("monitor", {"mode": "listen"})):
                answer = await http.post(f"/api/v1/agents/{agent_id}/{kind}", json=body, headers=headers)
                assert answer.status_code == 403, (kind, answer.text)
