"""Chat contacts posted over HTTP by an ingest user, through real Redis and the real engine, into the snapshot.

POST /api/v1/events -> the stream -> EngineRunner -> the published snapshot -> GET /api/v1/snapshot: the chat queue
is created with ``channel: chat``, its counts and first response time, the agent's chat load; posting the same
batch again appends nothing and changes no figure (tests/support/stack.py: every part real).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from stack import live_stack, stream_events
from waiting import poll_until

from wallboard.core.site import AgentConfig, SiteConfig
from wallboard.core.users import Role

PASSWORD = "correct horse battery"
SITE = SiteConfig(site="paris", agents={"ana": AgentConfig(capacity={"chat": 3})})


def chat_batch(start: datetime) -> list[dict[str, Any]]:
    """ana logs in to webchat; three chats arrive; ana answers two, replies first to c1 after 20 s, ends c1."""

    def event(kind: str, seconds: float, key: str, **fields: Any) -> dict[str, Any]:
        ts = (start + timedelta(seconds=seconds)).isoformat()
        return {"kind": kind, "ts": ts, "source": "chatdesk", "key": key, "queue": "webchat", **fields}

    chat = {"channel": "chat"}
    return [
        event("agent_login", 0, "ana/login", agent="ana"),
        *(event("call_queued", n, f"c{n}/q", call_id=f"c{n}", **chat) for n in (1, 2, 3)),
        event("call_answered", 5, "c1/a", call_id="c1", agent="ana", wait_s=4, **chat),
        event("call_answered", 6, "c2/a", call_id="c2", agent="ana", wait_s=4, **chat),
        event("contact_responded", 21, "c1/r", call_id="c1", agent="ana", **chat),
        event("call_ended", 40, "c1/e", call_id="c1", agent="ana", talk_s=35, **chat),
    ]


def figures(snapshot: dict[str, Any]) -> tuple[Any, ...]:
    queue = snapshot["queues"]["webchat"]
    total = queue["total"]
    load = snapshot["agents"]["ana"]["channels"]["chat"]
    return (
        queue["channel"],
        queue["waiting"],
        total["offered"],
        total["answered"],
        total["handled"],
        total["responded"],
        total["avg_first_response_s"],
        load["open"],
        load["capacity"],
        snapshot["counters"]["events_applied"],
    )


async def test_a_chat_batch_posted_by_an_ingest_user_makes_a_chat_queue_and_a_repeat_changes_nothing(
    redis_url: str,
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    batch = chat_batch(start)
    async with live_stack(redis_url, SITE) as stack:
        await stack.accounts.add_user("chatdesk", Role.INGEST, PASSWORD, actor="test")
        headers = await stack.login("chatdesk", PASSWORD)

        schema = (await stack.http.get("/api/v1/events/schema", headers=headers)).json()
        for event in batch:
            jsonschema.validate(event, schema)  # the generated schema knows channel and contact_responded
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**batch[1], "channel": "fax"}, schema)

        first = await stack.http.post("/api/v1/events", json=batch, headers=headers)
        assert first.status_code == 202, first.text
        assert first.json() == {"accepted": len(batch), "duplicates": 0}

        async def snapshot() -> dict[str, Any]:
            response = await stack.http.get("/api/v1/snapshot", headers=headers)
            return dict(response.json()) if response.status_code == 200 else {}

        async def counted() -> bool:
            shown = await snapshot()
            return shown.get("counters", {}).get("events_applied", 0) >= len(batch)

        await poll_until(counted, "the engine to apply the posted chat batch", 10)
        before = await snapshot()
        assert figures(before) == ("chat", 1, 2, 2, 1, 1, 20.0, 1, 3, len(batch))
        assert before["agents"]["ana"]["state"] == "available"  # chats leave the phone free

        again = await stack.http.post("/api/v1/events", json=batch, headers=headers)
        assert again.status_code == 202, again.text
        assert again.json() == {"accepted": 0, "duplicates": len(batch)}

        async def republished() -> bool:
            return int((await snapshot()).get("seq", 0)) > int(before["seq"])

        await poll_until(republished, "a snapshot published after the repeat", 10)
        after = await snapshot()
        assert figures(after) == figures(before)
        assert after["counters"]["anomalies"].get("duplicate_key", 0) == before["counters"]["anomalies"].get(
            "duplicate_key", 0
        )
        assert len(await stream_events(stack.store)) == len(batch)
