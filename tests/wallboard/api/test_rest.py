"""REST routes and probes on a real uvicorn server reading a real redis-server (snapshots from the real engine)."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_stack import running_api
from pydantic import TypeAdapter
from waiting import poll_until

from wallboard.api import ApiError, create_app
from wallboard.api.routes import AgentList, QueueList
from wallboard.config import Settings
from wallboard.core.deltas import diff
from wallboard.core.engine import State
from wallboard.core.events import AgentLogin, CallAbandoned, CallAnswered, CallQueued, Event
from wallboard.core.schema import Agent, QueueFigures, Snapshot
from wallboard.core.site import SiteConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store import Store

WAIT_S = 10.0
T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
SITE = SiteConfig(site="paris", queues={"support": {"sl_threshold_s": 20}, "sales": {}})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def morning(site: str = "paris") -> list[Event]:
    """Two agents on support; c1 answered after 15 s, c2 abandoned after 40 s, c3 still waiting."""
    common: dict[str, Any] = {"site": site, "source": "sim"}
    return [
        AgentLogin(ts=at(0), agent="a1", queue="support", **common),
        AgentLogin(ts=at(0), agent="a2", queue="support", **common),
        CallQueued(ts=at(10), call_id="c1", queue="support", **common),
        CallAnswered(ts=at(25), call_id="c1", queue="support", agent="a1", wait_s=15, **common),
        CallQueued(ts=at(30), call_id="c2", queue="support", **common),
        CallAbandoned(ts=at(70), call_id="c2", queue="support", wait_s=40, **common),
        CallQueued(ts=at(80), call_id="c3", queue="support", **common),
    ]


def engine_snapshot(events: list[Event], now: float, site: str = "paris") -> dict[str, Any]:
    state = State(SITE.model_copy(update={"site": site}))
    for event in events:
        state.apply(event)
    snapshot: dict[str, Any] = json.loads(json.dumps(state.snapshot(at(now))))
    return snapshot


@dataclass
class Publisher:
    """Plays the runner: writes the snapshot key, then publishes the delta from the previous publish."""

    store: Store
    seq: int = 0
    published: dict[str, Any] = field(default_factory=dict)

    async def publish(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        full = {**snapshot, "alerts": [], "seq": self.seq, "stream_id": f"{self.seq}-0"}
        await self.store.events.save_state(json.dumps(full), None, full["stream_id"], self.seq)
        changes = diff(self.published, full)
        await self.store.events.publish_delta(
            {"type": "delta", "seq": self.seq, "base": self.seq - 1, "changes": changes}
        )
        self.published = full
        return full


# The snapshots here are stamped on 2024-03-04: readiness's freshness check (test_readiness.py) is told to accept them.
api = functools.partial(running_api, users=False, auth_enabled=False, ready_snapshot_max_age_s=1e10)


def conforms(documented: Any, body: Any) -> Any:
    """``body`` validated (strictly) against the type OpenAPI documents it with."""
    return TypeAdapter(documented).validate_python(body, strict=True)


async def wait_for(condition: Callable[[], bool]) -> None:
    await poll_until(condition, "the condition", WAIT_S)


async def ready(http: httpx.AsyncClient) -> dict[str, Any]:
    responses: list[httpx.Response] = []

    async def answered_ready() -> bool:
        responses.append(await http.get("/readyz"))
        return responses[-1].status_code == 200

    await poll_until(answered_ready, "/readyz to answer 200", WAIT_S)
    body: dict[str, Any] = responses[-1].json()
    return body


async def test_snapshot_route_returns_the_published_snapshot(store: Store) -> None:
    """GET /api/v1/snapshot is the stored snapshot, and it fits the documented Snapshot type."""
    published = await Publisher(store).publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        body = (await a.http.get("/api/v1/snapshot")).json()
    assert body["seq"] == 1 and body["site"] == "paris"
    assert body["queues"] == published["queues"] and body["agents"] == published["agents"]
    assert body == published
    conforms(Snapshot, body)


async def test_queue_routes_show_the_figures_of_the_events(store: Store) -> None:
    """Queue list and one queue: 1 waiting (20 s), 2 offered, 1 answered within SL, 1 abandoned: SL 50 %."""
    await Publisher(store).publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        listed = conforms(QueueList, (await a.http.get("/api/v1/queues")).json())
        support = (await a.http.get("/api/v1/queues/support")).json()
    assert sorted(q["name"] for q in listed["queues"]) == ["sales", "support"]
    conforms(QueueFigures, support)
    assert (support["waiting"], support["longest_wait_s"]) == (1, 20.0)
    interval = support["interval"]
    assert (interval["offered"], interval["answered"], interval["abandoned"]) == (2, 1, 1)
    assert interval["answered_within_sl"] == 1
    assert interval["service_level_pct"] == pytest.approx(50.0)
    assert (support["agents"]["on_call"], support["agents"]["available"]) == (1, 1)


async def test_agent_routes(store: Store) -> None:
    """Agent list and one agent: a1 took c1, so it is on a call; a2 is available."""
    await Publisher(store).publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        listed = conforms(AgentList, (await a.http.get("/api/v1/agents")).json())
        a1 = conforms(Agent, (await a.http.get("/api/v1/agents/a1")).json())
    assert sorted(a["id"] for a in listed["agents"]) == ["a1", "a2"]
    assert a1["state"] == "on_call"


async def test_unknown_queue_and_agent_are_404_with_a_clear_message(store: Store) -> None:
    """A 404 names what was asked for, the site, and what exists."""
    await Publisher(store).publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        queue = await a.http.get("/api/v1/queues/billing")
        agent = await a.http.get("/api/v1/agents/zed")
    assert queue.status_code == 404
    assert queue.json() == {"detail": "no queue 'billing' at site 'paris'; known: sales, support"}
    assert agent.status_code == 404 and "'zed'" in agent.json()["detail"] and "a1, a2" in agent.json()["detail"]


async def test_probes_before_and_after_the_first_snapshot(store: Store) -> None:
    """/healthz is 200 from the start; /readyz and data routes are 503 (saying why) until a snapshot exists."""
    async with api(store) as a:
        await wait_for(lambda: a.runtime.sites["paris"].feed.redis_ok)
        assert (await a.http.get("/healthz")).json() == {"status": "ok"}
        not_ready = await a.http.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["sites"]["paris"]["problem"] == "no snapshot published yet"
        assert (await a.http.get("/api/v1/queues")).status_code == 503
        await Publisher(store).publish(engine_snapshot(morning(), now=100))
        body = await ready(a.http)
    site = body["sites"]["paris"]
    assert body["ready"] is True and (site["redis"], site["snapshot_seq"], site["problem"]) == (True, 1, None)
    assert site["failed"] == [] and set(site["checks"]) == {"redis", "engine"}


async def test_deltas_are_applied_in_order(store: Store) -> None:
    """After two more publishes, the API's copy is the latest snapshot (applied from deltas, no re-read)."""
    publisher = Publisher(store)
    await publisher.publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        await publisher.publish(engine_snapshot(morning()[:5], now=40))
        latest = await publisher.publish(engine_snapshot(morning(), now=130))
        feed = a.runtime.sites["paris"].feed
        await wait_for(lambda: feed.seq == 3)
        body = (await a.http.get("/api/v1/snapshot")).json()
    assert (feed.applied, feed.reloads) == (2, 0)
    assert body["queues"]["support"]["longest_wait_s"] == 50.0 == latest["queues"]["support"]["longest_wait_s"]


async def test_readyz_follows_a_redis_outage(store: Store, redis_server: Any) -> None:
    """Redis stopping makes /readyz 503 with the reason; once it is back the feed resubscribes and is ready."""
    await Publisher(store).publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        redis_server.stop()
        try:
            await wait_for(lambda: not a.runtime.sites["paris"].feed.redis_ok)
            down = await a.http.get("/readyz")
            assert down.status_code == 503 and "Redis unreachable" in down.json()["sites"]["paris"]["problem"]
            assert (await a.http.get("/healthz")).status_code == 200
        finally:
            redis_server.start()
        body = await ready(a.http)
    assert body["sites"]["paris"]["snapshot_seq"] == 1


async def test_two_sites_are_isolated(store: Store) -> None:
    """?site= picks the site; each site's routes show only its own snapshot; unknown sites are 404."""
    lyon = Store(store.client, site="lyon")
    await Publisher(store).publish(engine_snapshot(morning(), now=100))
    await Publisher(lyon).publish(engine_snapshot(morning("lyon")[:3], now=20, site="lyon"))
    async with api(store, sites=("lyon",)) as a:
        await ready(a.http)
        paris_body = (await a.http.get("/api/v1/queues/support")).json()
        lyon_body = (await a.http.get("/api/v1/queues/support", params={"site": "lyon"})).json()
        missing = await a.http.get("/api/v1/snapshot", params={"site": "nowhere"})
    assert (paris_body["waiting"], lyon_body["waiting"]) == (1, 1)
    assert (paris_body["interval"]["offered"], lyon_body["interval"]["offered"]) == (2, 0)
    assert missing.status_code == 404 and "paris, lyon" in missing.json()["detail"]


async def test_metrics_route_serves_the_text_format(store: Store) -> None:
    """/metrics (from loopback) answers in the Prometheus text format with the snapshot's figures."""
    await Publisher(store).publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        response = await a.http.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'wallboard_calls_waiting{site="paris",queue="support"} 1.0' in response.text
    assert 'wallboard_calls_offered_total{site="paris",queue="support"} 2.0' in response.text


async def test_openapi_documents_the_response_models(store: Store) -> None:
    """/openapi.json declares typed responses for every route, and every $ref resolves."""
    async with api(store) as a:
        schema = (await a.http.get("/openapi.json")).json()
    ok = schema["paths"]["/api/v1/snapshot"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Snapshot"}
    assert schema["paths"]["/api/v1/queues/{name}"]["get"]["responses"]["404"]
    refs = {ref.rsplit("/", 1)[1] for ref in _refs(schema)}
    assert refs <= set(schema["components"]["schemas"])
    assert {"Snapshot", "QueueFigures", "Agent", "Window", "Readiness"} <= refs


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_with_the_real_runner(store: Store) -> None:
    """Events appended to the stream go through the real EngineRunner and show up in the REST routes."""
    settings = Settings(auth_enabled=False, site="paris", snapshot_interval_s=0.05)
    runner = EngineRunner(settings, store, SITE, clock=lambda: at(100))
    task = asyncio.create_task(runner.run())
    try:
        async with api(store) as a:
            await store.events.append_events(morning())
            feed = a.runtime.sites["paris"].feed
            await wait_for(lambda: feed.snapshot is not None and feed.snapshot["counters"]["events_applied"] == 7)
            support = (await a.http.get("/api/v1/queues/support")).json()
            metrics = (await a.http.get("/metrics")).text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (support["waiting"], support["interval"]["offered"]) == (1, 2)
    assert 'wallboard_events_rejected_total{site="paris",component="engine",reason="other"} 0.0' in metrics


def test_create_app_without_redis_is_refused() -> None:
    """No Redis URL and no store: create_app says what to set."""
    with pytest.raises(ApiError, match="WALLBOARD_REDIS_URL"):
        create_app(Settings(_env={}))


async def test_a_crashed_site_task_makes_the_api_not_ready(store: Store) -> None:
    """If a site's hub task dies on a bug, /readyz turns 503 and names the failure (liveness stays 200)."""
    publisher = Publisher(store)
    await publisher.publish(engine_snapshot(morning(), now=100))
    async with api(store) as a:
        await ready(a.http)
        hub = a.runtime.sites["paris"].hub

        def broken(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("bug in diff")

        hub._diff = broken
        hub.connect()  # the hub adopts the current snapshot; the next change needs a diff
        await publisher.publish(engine_snapshot(morning(), now=110))
        await wait_for(lambda: a.runtime.sites["paris"].feed.failure is not None)
        response = await a.http.get("/readyz")
        assert (await a.http.get("/healthz")).status_code == 200
    assert response.status_code == 503
    assert "bug in diff" in response.json()["sites"]["paris"]["problem"]
