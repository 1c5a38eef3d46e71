"""A supervisor action end to end: API -> Redis -> AMI collector -> the simulator's PBX -> its events -> the
collector -> the engine -> the snapshot, every part real (tests/support/stack.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from stack import AMI_SECRET, AMI_USER, live_stack, simulated_pbx, two_agent_site
from waiting import poll_until

from collectors.ami.client import AmiClient, AmiConfig
from collectors.simulator.config import QueueSpec, site_config
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.core.actions import FAMILIES
from wallboard.core.users import Role
from wallboard.store.sink import StreamSink

PASSWORD = "correct horse battery"


async def test_a_pause_through_the_api_shows_in_the_snapshot_with_its_reason(redis_url: str) -> None:
    """POST pause (Coaching) -> the snapshot shows the agent paused with reason Coaching within 2 s, and the
    action is done with the PBX's message."""
    start = datetime.now(UTC)
    config = two_agent_site(start, QueueSpec(name="support"))
    site = site_config(config, site="paris")
    async with (
        simulated_pbx(config, start=start, speed=1.0) as pbx,
        live_stack(redis_url, site, settings={"actions": FAMILIES}) as stack,
    ):
        store = stack.store_for("collector")
        ami = AmiClient(
            AmiConfig("127.0.0.1", pbx.port, AMI_USER, AMI_SECRET, site="paris"),
            StreamSink(store),
            actions=ActionFeed(AgentActions(store.actions)),
            enabled=FAMILIES,
        )
        stack.start("collector", ami.run())
        await stack.accounts.add_user("sup1", Role.SUPERVISOR, PASSWORD, actor="test")
        headers = await stack.login("sup1", PASSWORD)

        async def agent() -> dict[str, object]:
            response = await stack.http.get("/api/v1/snapshot", headers=headers)
            agents = response.json().get("agents", {}) if response.status_code == 200 else {}
            return dict(agents.get("agent1") or {})

        async def available() -> bool:
            return (await agent()).get("state") == "available" and bool(await stack.store.actions.members())

        await poll_until(available, "agent1 available and the collector's members published", 15)
        asked = time.monotonic()
        response = await stack.http.post("/api/v1/agents/agent1/pause", json={"reason": "Coaching"}, headers=headers)
        assert response.status_code == 202, response.text

        async def paused() -> bool:
            shown = await agent()
            return str(shown.get("state", "")).startswith("paused") and shown.get("reason") == "Coaching"

        await poll_until(paused, "agent1 paused with reason Coaching", 2.0)
        assert time.monotonic() - asked < 2.0

        async def done() -> bool:
            status = await stack.http.get(f"/api/v1/actions/{response.json()['id']}", headers=headers)
            return bool(status.json()["state"] == "done")

        await poll_until(done, "the action is done", 5)
