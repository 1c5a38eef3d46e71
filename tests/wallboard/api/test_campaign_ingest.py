"""A dialer posts its events to POST /api/v1/events as an ``ingest`` user (real API, real redis-server): the
schema accepts them, a bad outcome refuses the batch, and the engine counts the posted calls per campaign."""

from __future__ import annotations

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


def dialled(n: int, result: str, **extra: Any) -> list[dict[str, Any]]:
    """Call n of campaign renew: the attempt, then its result 12 s later."""
    at = T0 + timedelta(minutes=n)
    base = {"source": "dialer", "campaign": "renew", "call_id": f"d{n}"}
    return [
        {**base, "kind": "dial_attempt", "ts": at.isoformat(), "key": f"d{n}/a"},
        {**base, "kind": "dial_result", "ts": (at + timedelta(seconds=12)).isoformat(), "key": f"d{n}/r",
         "result": result, **extra},
    ]  # fmt: skip


async def test_a_dialer_posts_attempts_and_results_and_the_engine_counts_them(store: Store) -> None:
    batch = dialled(1, "answered", talk_s=95) + dialled(2, "dropped") + dialled(3, "machine")
    async with running_api(store) as a:
        schema = (await a.http.get("/api/v1/events/schema", headers=a.headers["viewer"])).json()
        for event in batch:
            jsonschema.validate(event, schema)
        refused = await a.http.post("/api/v1/events", json=dialled(4, "voicemail"), headers=a.headers["ingest"])
        posted = await a.http.post("/api/v1/events", json=batch, headers=a.headers["ingest"])
    assert refused.status_code == 422 and "result" in refused.json()["detail"][0]["reason"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dialled(4, "voicemail")[1], schema)
    assert posted.status_code == 202 and posted.json() == {"accepted": 6, "duplicates": 0}
    state = State(SiteConfig(site=store.site, campaigns={"renew": {"regulator": "fcc"}}))
    for entry in await store.events.read_range(count=100):
        state.apply(parse_event(entry.data or b""))
    window = state.snapshot(T0 + timedelta(minutes=5))["campaigns"]["renew"]["window"]
    assert (window["attempts"], window["connects"], window["dropped"], window["machine"]) == (3, 1, 1, 1)
    assert (window["drop_rate_pct"], window["talk_s"]) == (50.0, 95.0)
