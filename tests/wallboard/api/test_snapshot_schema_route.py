"""GET /api/v1/snapshot/schema: the generated JSON Schema, behind the snapshot's own auth, and the real runner's
published snapshot (with adherence and alerts) fits what it serves."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs  # a dependency of schemathesis (locked in uv.lock); the validator of the generated schema
from api_stack import running_api
from pydantic import SecretStr
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.adherence.schedule import Schedule, Slot, dump_schedule
from wallboard.core.backoff import Backoff
from wallboard.core.events import AgentLogin, AlertAction
from wallboard.core.schema import snapshot_json_schema
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store, connect

WAIT_S = 10.0
TOKEN = "display-token-for-the-schema"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# a3's team is in no "teams" entry and a3 is never seen: the snapshot lists that team from the schedule only
SITE = SiteConfig(
    site="paris",
    queues={"support": QueueConfig()},
    teams={"care": TeamConfig(name="Care")},
    agents={
        "a1": AgentConfig(name="Alice", team="care"),
        "a2": AgentConfig(name="Bob", team="care"),
        "a3": AgentConfig(name="Carol", team="night"),
    },
    thresholds=[{"id": "adh", "metric": "adherence_pct", "warn": 90, "alarm": 80, "label": "Adherence"}],
)


api = functools.partial(running_api, users=False, display_tokens=(SecretStr(TOKEN),))  # auth on: one display token


@contextlib.asynccontextmanager
async def runner_at(redis_url: str, clock: list[datetime]) -> AsyncIterator[EngineRunner]:
    """The real EngineRunner of SITE on its own Redis client; its clock reads ``clock[0]``."""
    client = connect(redis_url)
    settings = Settings(_env={}, site="paris", snapshot_interval_s=0.02, checkpoint_interval_s=0.05)
    runner = EngineRunner(
        settings,
        Store(client, site="paris"),
        SITE,
        clock=lambda: clock[0],
        backoff=Backoff(initial=0.01),
        thresholds_poll_s=0.05,
        tick_s=0.02,
    )
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        task.cancel()
        await asyncio.wait({task})
        await client.aclose()


async def test_the_schema_needs_what_the_snapshot_needs(store: Store) -> None:
    """No credential or an unknown token: 401, as for /api/v1/snapshot; a display token (header or query) reads it."""
    async with api(store) as a:
        refused = [await a.http.get(path) for path in ("/api/v1/snapshot/schema", "/api/v1/snapshot")]
        unknown = await a.http.get("/api/v1/snapshot/schema", headers={"Authorization": "Bearer nope"})
        by_header = await a.http.get("/api/v1/snapshot/schema", headers={"Authorization": f"Bearer {TOKEN}"})
        by_query = await a.http.get("/api/v1/snapshot/schema", params={"token": TOKEN})
        elsewhere = await a.http.get("/api/v1/snapshot/schema", params={"token": TOKEN, "site": "lyon"})
    assert [response.status_code for response in refused] == [401, 401] and unknown.status_code == 401
    assert by_header.status_code == by_query.status_code == 200
    assert by_header.headers["content-type"] == "application/json"
    assert by_header.json() == by_query.json() == snapshot_json_schema()
    assert by_header.json()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert elsewhere.status_code == 404


async def test_openapi_documents_the_snapshot_routes_with_the_generated_types(store: Store) -> None:
    """The snapshot routes' 200 answers refer to the snapshot's types, each the same object as in the served schema."""
    async with api(store) as a:
        openapi = (await a.http.get("/openapi.json")).json()
        served = (await a.http.get("/api/v1/snapshot/schema", params={"token": TOKEN})).json()
    paths, components = openapi["paths"], openapi["components"]["schemas"]
    ok = paths["/api/v1/snapshot"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Snapshot"}
    assert "/api/v1/snapshot/schema" in paths
    for name in ("QueueFigures", "Agent", "Window", "OpenAlert", "AgentAdherence"):
        as_openapi = json.dumps(components[name]).replace("#/components/schemas/", "#/$defs/")
        assert json.loads(as_openapi) == served["$defs"][name], name


async def test_the_runner_publishes_what_the_served_schema_describes(store: Store, redis_url: str) -> None:
    """With a schedule, a late login, an absent agent and an acknowledged adherence alarm, the snapshot that
    /api/v1/snapshot answers validates against the schema /api/v1/snapshot/schema serves."""
    clock = [T0 - timedelta(minutes=10)]
    slots = Schedule.of(Slot(agent, T0, T0 + timedelta(hours=1), "work", T0.date()) for agent in ("a1", "a2", "a3"))
    await store.schedules.write_schedules(
        {"slots": dump_schedule(slots, SITE)}, 0, "test", at=T0, action="schedules.import"
    )
    common: dict[str, Any] = {"site": "paris", "source": "test"}
    async with runner_at(redis_url, clock), api(store) as a:
        await poll_until(_schedule_published(store), "a snapshot with the schedule in force", WAIT_S)
        login = AgentLogin(ts=T0 + timedelta(minutes=5), key="l1", agent="a1", queue="support", **common)
        await store.events.append_events([login])
        clock[0] = now = T0 + timedelta(minutes=10)
        await poll_until(lambda: _alert_of(store, "a2"), "an adherence alert for a2", WAIT_S)
        alert_id = await _alert_of(store, "a2")
        action = AlertAction(ts=now, key="ack1", alert_id=alert_id, action="ack", by="sup", note="on it", **common)
        await store.events.append_events([action])
        auth = {"Authorization": f"Bearer {TOKEN}"}
        bodies: list[dict[str, Any]] = []

        async def acknowledged() -> bool:
            bodies.append((await a.http.get("/api/v1/snapshot", headers=auth)).json())
            return any(a.get("acknowledged_by") == "sup" for a in bodies[-1].get("alerts", []))

        await poll_until(acknowledged, "the acknowledged alert in /api/v1/snapshot", WAIT_S)
        schema = (await a.http.get("/api/v1/snapshot/schema", headers=auth)).json()
    snapshot = bodies[-1]
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    assert [error.message for error in validator.iter_errors(snapshot)] == []
    assert snapshot["agents"]["a2"]["since"] is None and snapshot["agents"]["a2"]["adherence"]["status"] == "out"
    assert snapshot["teams"]["night"] == {"agents": {}, "adherence": snapshot["teams"]["night"]["adherence"]}
    [acked] = [alert for alert in snapshot["alerts"] if alert["alert_id"] == alert_id]
    assert {"label", "note", "acknowledged_at"} <= set(acked) and snapshot["adherence"]["exceptions"]


def _schedule_published(store: Store) -> Any:
    async def published() -> bool:
        snapshot = await store.events.load_snapshot()
        return snapshot is not None and (snapshot.get("adherence") or {}).get("schedule_version") == 1

    return published


async def _alert_of(store: Store, agent: str) -> str:
    """The id of the published alert about ``agent`` ("" while there is none)."""
    snapshot = await store.events.load_snapshot() or {}
    return next((a["alert_id"] for a in snapshot.get("alerts", []) if a["target"]["name"] == agent), "")
