"""The demo's HTTP source on the live pipeline (tests/support/stack.py: real redis-server, EngineRunner, the API on
uvicorn): the web chat and the dialer posted by an ``ingest`` user make a chat queue and a campaign whose figures
are the posted ones; the same batch again changes nothing; a display token may not post; a batch posted while the
API is down is retried with the same keys and appended once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from processes import free_port
from stack import live_stack, stream_events
from waiting import poll_until

from collectors.simulator.http_source import EventPoster
from collectors.simulator.omnichannel import Omnichannel
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.core.backoff import Backoff
from wallboard.core.events import DialResult, Event
from wallboard.core.site import SiteConfig
from wallboard.core.users import Passwords, Role
from wallboard.processes.demo import DEMO_CAMPAIGN, DEMO_CHAT, omnichannel_site
from wallboard.store import Store

PASSWORD = "correct horse battery"
SITE = omnichannel_site(SiteConfig(site="paris"), DEMO_CHAT, DEMO_CAMPAIGN)
WAIT_S = 15.0


def twenty_minutes(seed: int) -> list[Event]:
    """The web chat and the dialer of the last twenty minutes (times up to now)."""
    model = Omnichannel(DEMO_CHAT, DEMO_CAMPAIGN, seed=seed, start=datetime.now(UTC) - timedelta(minutes=20),
                        site=SITE.site)  # fmt: skip
    return model.advance(20 * 60.0)


def shown(snapshot: dict[str, Any]) -> tuple[Any, ...]:
    chat, renewals = snapshot["queues"]["chat"], snapshot["campaigns"]["renewals"]
    total, window = chat["total"], renewals["window"]
    return (chat["channel"], total["offered"], total["answered"], total["responded"], window["attempts"],
            window["connects"], window["dropped"], renewals["drop_rate_pct"], renewals["limit_pct"])  # fmt: skip


def posted(events: list[Event]) -> tuple[Any, ...]:
    kinds = Counter(event.kind for event in events)
    results = Counter(event.result for event in events if isinstance(event, DialResult))
    live = results["answered"] + results["dropped"]
    rate = 100.0 * results["dropped"] / live if live else None
    return ("chat", kinds["call_queued"], kinds["call_answered"], kinds["contact_responded"], kinds["dial_attempt"],
            results["answered"], results["dropped"], rate, 3.0)  # fmt: skip


async def test_the_posted_chat_queue_and_campaign_show_the_posted_counts_and_a_repeat_changes_nothing(
    redis_url: str,
) -> None:
    events = twenty_minutes(seed=3)
    expected = posted(events)
    assert expected[1] > 5 and expected[4] > 50  # a real sample: chats and dial attempts
    async with live_stack(redis_url, SITE, settings={"snapshot_interval_s": 0.05}) as stack:
        await stack.accounts.add_user("feeds", Role.INGEST, PASSWORD, actor="test")
        display, _ = await stack.accounts.create_token(None, "tv", actor="test")
        poster = EventPoster(stack.api_url, "feeds", PASSWORD)
        try:
            assert await poster.post(events) == (len(events), 0)

            async def snapshot() -> dict[str, Any]:
                response = await stack.http.get("/api/v1/snapshot", headers={"Authorization": f"Bearer {display}"})
                return dict(response.json()) if response.status_code == 200 else {}

            async def applied() -> bool:
                return int((await snapshot()).get("counters", {}).get("events_applied", 0)) >= len(events)

            await poll_until(applied, "the engine to apply the posted events", WAIT_S)
            before = await snapshot()
            assert shown(before) == expected
            assert before["queues"]["chat"]["display_name"] == "Web chat"
            assert before["campaigns"]["renewals"]["display_name"] == "Renewals"
            load = before["agents"]["chat01"]["channels"]["chat"]
            assert load["capacity"] == DEMO_CHAT.capacity and 0 <= load["open"] <= DEMO_CHAT.capacity

            assert await poster.post(events) == (0, len(events))  # the same batch: every key a duplicate

            async def republished() -> bool:
                return int((await snapshot()).get("seq", 0)) > int(before["seq"])

            await poll_until(republished, "a snapshot published after the repeat", WAIT_S)
            assert shown(await snapshot()) == expected
            assert len(await stream_events(stack.store)) == len(events)

            refused = await stack.http.post(
                "/api/v1/events",
                json=[events[0].model_dump(mode="json")],
                headers={"Authorization": f"Bearer {display}"},
            )
            assert refused.status_code in (401, 403), refused.text
        finally:
            await poster.aclose()
    assert poster.stats.batches == 2 and poster.stats.logins == 1 and poster.stats.refused == 0


async def test_a_batch_posted_while_the_api_is_down_is_retried_with_the_same_keys_and_appended_once(
    redis_url: str,
) -> None:
    events = twenty_minutes(seed=8)
    port = free_port()
    poster = EventPoster(f"http://127.0.0.1:{port}", "feeds", PASSWORD, backoff=Backoff(initial=0.02, cap=0.1))
    try:
        posting = asyncio.create_task(poster.post(events))
        await poll_until(lambda: poster.stats.retries >= 3, "the poster to retry while the API is down", WAIT_S)
        assert not posting.done()
        async with live_stack(redis_url, SITE, engine=None, settings={"port": port}, setup=ingest_user) as stack:
            assert await asyncio.wait_for(posting, WAIT_S) == (len(events), 0)
            stored = await stream_events(stack.store)
    finally:
        await poster.aclose()
    assert [entry["key"] for entry in stored] == [event.key for event in events]


async def ingest_user(store: Store) -> None:
    """The ingest user, in Redis before the API starts (as the demo adds it)."""
    await Accounts(store.accounts, Hashing(Passwords.cheap())).add_user("feeds", Role.INGEST, PASSWORD, actor="test")
