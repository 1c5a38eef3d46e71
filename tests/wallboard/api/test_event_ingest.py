"""POST /api/v1/events on a real API with a real redis-server: roles, all-or-nothing validation, idempotent keys
across API processes, NDJSON, rate limiting, the schema, and the engine counting what was posted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from api_stack import running_api

from wallboard.core.engine import State
from wallboard.core.events import parse_event
from wallboard.core.site import SiteConfig
from wallboard.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def chat(n: int, **extra: Any) -> list[dict[str, Any]]:
    """Call n of a chat platform: queued, answered by ana 5 s later, ended 60 s after that."""
    at = T0 + timedelta(minutes=n)
    base = {"source": "chat", "queue": "chat-support", "call_id": f"c{n}"}
    return [
        {**base, "kind": "call_queued", "ts": at.isoformat(), "key": f"c{n}/q", "caller": "5550100", **extra},
        {**base, "kind": "call_answered", "ts": (at + timedelta(seconds=5)).isoformat(), "key": f"c{n}/a",
         "agent": "ana", "wait_s": 5},
        {**base, "kind": "call_ended", "ts": (at + timedelta(seconds=65)).isoformat(), "key": f"c{n}/e",
         "agent": "ana", "talk_s": 60},
    ]  # fmt: skip


async def stream(store: Store) -> list[Any]:
    return [parse_event(entry.data or b"") for entry in await store.events.read_range(count=10_000)]


async def test_only_ingest_and_admin_may_post(store: Store) -> None:
    async with running_api(store, display=True) as a:
        codes = {
            who: (await a.http.post("/api/v1/events", json=chat(1), headers=a.headers[who])).status_code
            for who in ("none", "display", "viewer", "supervisor", "ops", "planner", "ingest", "admin")
        }
    assert codes == {"none": 401, "display": 403, "viewer": 403, "supervisor": 403, "ops": 403, "planner": 403,
                     "ingest": 202, "admin": 202}  # fmt: skip


async def test_a_batch_is_appended_whole_and_a_repeat_is_a_duplicate_also_through_another_api_process(
    store: Store,
) -> None:
    """Two API processes on one Redis: the same batch posted to both appends once; the engine counts each call once."""
    async with running_api(store) as a, running_api(store, users=False) as b:
        first = await a.http.post("/api/v1/events", json=chat(1) + chat(2), headers=a.headers["ingest"])
        again = await b.http.post("/api/v1/events", json=chat(2) + chat(3), headers=await b.login("ingest1"))
    assert first.status_code == again.status_code == 202
    assert (first.json(), again.json()) == ({"accepted": 6, "duplicates": 0}, {"accepted": 3, "duplicates": 3})
    events = await stream(store)
    assert len(events) == 9 and len({e.key for e in events}) == 9
    state = State(SiteConfig(site=store.site))
    for event in events:
        state.apply(event)
    queue = state.snapshot(T0 + timedelta(minutes=5))["queues"]["chat-support"]["day"]
    assert (queue["offered"], queue["answered"], queue["handled"]) == (3, 3, 3)


async def test_an_invalid_event_refuses_the_whole_batch_naming_each_index_and_reason(store: Store) -> None:
    batch = chat(1)
    batch[1] = {**batch[1], "wait_s": -3}  # a negative wait
    batch.append({"kind": "call_queued", "source": "chat", "ts": T0.isoformat(), "queue": "q", "call_id": "x"})
    batch.append({"kind": "alert_action", "source": "chat", "key": "k", "ts": T0.isoformat()})
    batch.append({**chat(9)[0], "site": "elsewhere"})
    batch.append({**chat(8)[0], "version": 2})
    batch.append("not an event")
    async with running_api(store) as a:
        response = await a.http.post("/api/v1/events", json=batch, headers=a.headers["ingest"])
    assert response.status_code == 422
    reasons = {problem["index"]: problem["reason"] for problem in response.json()["detail"]}
    assert set(reasons) == {1, 3, 4, 5, 6, 7}
    assert "wait_s" in reasons[1] and "key" in reasons[3] and "/api/v1/alerts" in reasons[4]
    assert "site" in reasons[5] and "version" in reasons[6] and "object" in reasons[7]
    assert await stream(store) == []  # nothing of it


async def test_ndjson_defaults_the_site_and_the_optional_fields(store: Store) -> None:
    lines = "\n".join(json.dumps(event) for event in chat(1)) + "\n"
    async with running_api(store) as a:
        response = await a.http.post(
            "/api/v1/events",
            content=lines,
            headers={**a.headers["admin"], "Content-Type": "application/x-ndjson"},
        )
    assert response.status_code == 202 and response.json() == {"accepted": 3, "duplicates": 0}
    events = await stream(store)
    assert {event.site for event in events} == {store.site} and events[0].position == 1


async def test_a_source_over_its_rate_gets_429_with_retry_after_and_others_go_on(store: Store) -> None:
    async with running_api(store, ingest_rate=1.0) as a:  # a burst of 10 events
        ok = await a.http.post("/api/v1/events", json=chat(1) + chat(2) + chat(3), headers=a.headers["ingest"])
        over = await a.http.post("/api/v1/events", json=chat(4) + chat(5), headers=a.headers["ingest"])
        other = [{**event, "source": "dialer"} for event in chat(6)]
        fine = await a.http.post("/api/v1/events", json=other, headers=a.headers["ingest"])
        metrics = (await a.http.get("/metrics")).text
    assert (ok.status_code, over.status_code, fine.status_code) == (202, 429, 202)
    assert int(over.headers["Retry-After"]) >= 1
    assert f'wallboard_ingested_events_total{{site="{store.site}",source="chat",result="accepted"}} 9.0' in metrics
    assert 'answer="rate_limited"' in metrics


async def test_the_schema_validates_what_the_api_accepts_and_refuses_what_it_refuses(store: Store) -> None:
    async with running_api(store) as a:
        schema = (await a.http.get("/api/v1/events/schema", headers=a.headers["viewer"])).json()
    for event in chat(1):
        jsonschema.validate(event, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in chat(1)[0].items() if k != "key"}, schema)
    assert "version" in json.dumps(schema)
