"""Tests for wallboard/processes/notify.py against real parts: redis-server and tiny HTTP receivers on 127.0.0.1:0.

Each receiver is a minimal asyncio HTTP/1.1 server that records every request (headers and raw body)
and answers with the status its script gives for that request number, or never answers (a hung
receiver). Signatures are recomputed here from the raw bytes the receiver read, with ``hmac``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from waiting import poll_until

from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.processes.notify import Notifier, Receiver, receivers_from, verify_signature
from wallboard.store import Store, connect

SECRET = b"webhook-secret"
NOW = 1_715_000_000.0
SITE = "paris"


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A tiny HTTP server: ``script(n)`` is the status of request n (0-based), None to never answer."""

    script: Callable[[int], int | None] = lambda n: 200
    requests: list[Request] = field(default_factory=list)
    server: asyncio.Server | None = None
    hung: asyncio.Event = field(default_factory=asyncio.Event)
    handlers: list[asyncio.Task[Any]] = field(default_factory=list)

    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/s3cr3t-path"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in self.handlers:  # hung requests (Python 3.11's wait_closed does not wait for them)
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            number = len(self.requests)
            self.requests.append(Request(headers, body))
            status = self.script(number)
            if status is None:
                self.hung.set()
                await asyncio.Event().wait()  # hang until the client gives up (or the test ends)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receivers(*scripts: Callable[[int], int | None]) -> AsyncIterator[list[HttpReceiver]]:
    started = [HttpReceiver(script) for script in scripts]
    for receiver in started:
        await receiver.start()
    try:
        yield started
    finally:
        for receiver in started:
            await receiver.close()


async def until(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    await poll_until(predicate, "the condition", timeout)


def record(n: int, transition: str = "fired", *, notify: bool = True) -> dict[str, Any]:
    alert_id = f"waiting:queue:support:{1715000000 + n}"
    return {
        "key": f"{alert_id}:{transition}:1",
        "alert_id": alert_id,
        "transition": transition,
        "threshold_id": "waiting",
        "target": {"kind": "queue", "name": "support"},
        "metric": "waiting",
        "level": "alarm",
        "severity": "page",
        "state": "firing",
        "value": 6.0,
        "reason": "Calls waiting 6 > 4",
        "at": "2024-05-06T13:33:20+00:00",
        "since": "2024-05-06T13:33:20+00:00",
        "notify": notify,
    }


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site=SITE)
    await client.aclose()


async def add(store: Store, *records: dict[str, Any]) -> list[str]:
    ids = [await store.client.xadd(store.keys.alerts, {b"a": json.dumps(r)}) for r in records]
    return [entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id) for entry_id in ids]


async def pending(store: Store) -> int:
    summary = await store.client.xpending(store.keys.alerts, "notifier")
    return int(summary["pending"])


@contextlib.asynccontextmanager
async def notifying(
    store: Store, targets: Sequence[tuple[HttpReceiver, str]], **options: Any
) -> AsyncIterator[Notifier]:
    """A running notifier sending to ``targets`` (receiver, format); its group exists when the block starts."""
    chosen = [Receiver(f"r{i}", r.url, fmt) for i, (r, fmt) in enumerate(targets)]  # type: ignore[arg-type]
    fast: dict[str, Any] = {"backoff": lambda: Backoff(initial=0.01, cap=0.02), "block_ms": 20}
    options = {"secret": SECRET, "clock": lambda: NOW, **fast} | options
    notifier = Notifier(store, chosen, **options)
    task = asyncio.create_task(notifier.run())
    try:
        async with asyncio.timeout(5):
            await notifier.ready.wait()
        yield notifier
    finally:
        task.cancel()
        await asyncio.wait({task})


async def all_acked(store: Store) -> bool:
    return await pending(store) == 0


async def test_a_generic_payload_is_signed_over_its_timestamp_and_raw_body(store: Store) -> None:
    """The HMAC-SHA256 of "<timestamp>.<body>" with the secret matches the header; the body carries the record."""
    async with receivers(lambda n: 200) as (hook,), notifying(store, [(hook, "generic")]) as notifier:
        await add(store, record(1))
        await until(lambda: notifier.stats.total.sent == 1)
        await until(lambda: all_acked(store))
    (request,) = hook.requests
    expected = hmac.new(SECRET, b"1715000000." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-wallboard-timestamp"] == "1715000000"
    assert request.headers["x-wallboard-signature"] == f"sha256={expected}"
    assert request.headers["idempotency-key"] == record(1)["key"]
    body = request.json()
    assert (body["site"], body["idempotency_key"], body["alert"]) == (SITE, record(1)["key"], record(1))
    assert body["summary"] == "[paris] ALARM fired - queue support: Calls waiting 6 > 4"
    assert verify_signature(SECRET, "1715000000", request.body, request.headers["x-wallboard-signature"], NOW + 60)


def test_a_stale_timestamp_or_a_changed_body_fails_verification() -> None:
    """verify_signature refuses a signature older than the tolerance, a changed body, a wrong secret."""
    body = b'{"a":1}'
    signature = "sha256=" + hmac.new(SECRET, b"1715000000." + body, hashlib.sha256).hexdigest()
    assert verify_signature(SECRET, "1715000000", body, signature, NOW)
    assert not verify_signature(SECRET, "1715000000", body, signature, NOW + 301)
    assert not verify_signature(SECRET, "1715000000", b'{"a":2}', signature, NOW)
    assert not verify_signature(b"other", "1715000000", body, signature, NOW)
    assert not verify_signature(SECRET, "soon", body, signature, NOW)


async def test_slack_and_teams_receivers_get_their_own_shapes(store: Store) -> None:
    """Slack gets {text, blocks} (mrkdwn sections); Teams gets a MessageCard with facts; both are signed."""
    async with receivers(lambda n: 200, lambda n: 200) as (slack, teams):
        async with notifying(store, [(slack, "slack"), (teams, "teams")]) as notifier:
            await add(store, record(1, "resolved"))
            await until(lambda: notifier.stats.total.sent == 2)
    message = slack.requests[0].json()
    assert message["text"] == "[paris] RESOLVED - queue support: Calls waiting 6 > 4"
    assert [block["type"] for block in message["blocks"]] == ["section", "section", "context"]
    assert {"type": "mrkdwn", "text": "*Site*\nparis"} in message["blocks"][1]["fields"]
    card = teams.requests[0].json()
    assert (card["@type"], card["@context"]) == ("MessageCard", "https://schema.org/extensions")
    assert card["title"] == message["text"] and card["themeColor"] == "107C10"
    assert {"name": "Target", "value": "queue support"} in card["sections"][0]["facts"]
    for request in (slack.requests[0], teams.requests[0]):
        expected = hmac.new(SECRET, b"1715000000." + request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-wallboard-signature"] == f"sha256={expected}"


async def test_a_503_is_retried_then_delivered(store: Store) -> None:
    """503 then 200: two identical bodies, one retry counted, no dead letter."""
    async with receivers(lambda n: 503 if n == 0 else 200) as (hook,), notifying(store, [(hook, "generic")]) as n:
        await add(store, record(1))
        await until(lambda: n.stats.total.sent == 1)
        await until(lambda: all_acked(store))
    assert [r.body for r in hook.requests] == [hook.requests[0].body] * 2
    assert (n.stats.total.retried, n.stats.total.failed) == (1, 0)
    assert await store.alerts.dead_letters() == []


async def test_a_400_is_not_retried_and_is_dead_lettered(store: Store) -> None:
    """400: one request only, a dead letter saying why, the record acknowledged."""
    async with receivers(lambda n: 400) as (hook,), notifying(store, [(hook, "generic")]) as notifier:
        (entry_id,) = await add(store, record(1))
        await until(lambda: all_acked(store))
        await until(lambda: notifier.stats.total.dead_lettered == 1)
    assert len(hook.requests) == 1
    ((_, letter),) = await store.alerts.dead_letters()
    assert (letter["receiver"], letter["reason"], letter["status"], letter["attempts"]) == (
        "r0",
        "rejected",
        "400",
        "1",
    )
    assert (letter["entry_id"], json.loads(letter["record"])) == (entry_id, record(1))
    assert (notifier.stats.total.failed, notifier.stats.total.retried) == (1, 0)


async def test_retries_are_bounded_then_dead_lettered(store: Store) -> None:
    """Always 503 with max_attempts 3: three requests, then a dead letter (http_503, 3 attempts)."""
    async with receivers(lambda n: 503) as (hook,), notifying(store, [(hook, "generic")], max_attempts=3) as notifier:
        await add(store, record(1))
        await until(lambda: notifier.stats.total.dead_lettered == 1)
        await until(lambda: all_acked(store))
    assert len(hook.requests) == 3 and notifier.stats.total.retried == 2
    ((_, letter),) = await store.alerts.dead_letters()
    assert (letter["reason"], letter["attempts"], letter["status"]) == ("http_503", "3", "503")


async def test_a_refused_connection_is_retried_as_a_transient_failure(store: Store) -> None:
    """Nothing listening: the attempts are retried and end as a 'connection' dead letter."""
    async with receivers(lambda n: 200) as (gone,):
        pass  # started and closed: its port now refuses connections
    async with notifying(store, [(gone, "generic")], max_attempts=2) as notifier:
        await add(store, record(1))
        await until(lambda: notifier.stats.total.dead_lettered == 1)
    ((_, letter),) = await store.alerts.dead_letters()
    assert (letter["reason"], letter["attempts"]) == ("connection", "2")


async def test_a_hanging_receiver_does_not_delay_another(store: Store) -> None:
    """One receiver never answers: the other gets both records at once; nothing is acked until the first is done."""
    async with (
        receivers(lambda n: None, lambda n: 200) as (hung, fine),
        notifying(store, [(hung, "generic"), (fine, "generic")], timeout_s=30) as notifier,
    ):
        await add(store, record(1), record(2))
        await until(lambda: len(fine.requests) == 2, timeout=3)
        assert hung.hung.is_set() and len(hung.requests) == 1
        assert await pending(store) == 2 and notifier.stats.receivers["r1"].sent == 2


async def test_a_restarted_notifier_resumes_at_least_once(store: Store) -> None:
    """Acked records are never re-sent; one in flight when the notifier stopped is sent again (same key)."""
    script = {"answer": True}
    async with receivers(lambda n: 200 if script["answer"] else None) as (hook,):
        async with notifying(store, [(hook, "generic")]) as first:
            await add(store, record(1), record(2))
            await until(lambda: first.stats.total.sent == 2)
            await until(lambda: all_acked(store))
            script["answer"] = False
            await add(store, record(3))
            await until(hook.hung.is_set)
        script["answer"] = True
        await add(store, record(4))
        async with notifying(store, [(hook, "generic")]) as second:
            await until(lambda: second.stats.total.sent == 2)
            await until(lambda: all_acked(store))
    keys = [request.json()["idempotency_key"] for request in hook.requests]
    assert keys == [record(n)["key"] for n in (1, 2, 3, 3, 4)]


async def test_records_without_notify_are_acknowledged_silently(store: Store) -> None:
    """A note (notify false) is acknowledged without any request."""
    async with receivers(lambda n: 200) as (hook,), notifying(store, [(hook, "generic")]) as notifier:
        await add(store, record(1, "noted", notify=False), record(2))
        await until(lambda: notifier.stats.total.sent == 1)
        await until(lambda: all_acked(store))
    assert [r.json()["alert"]["transition"] for r in hook.requests] == ["fired"]
    assert notifier.stats.skipped == 1


def test_receivers_are_named_without_their_url() -> None:
    """Receiver names carry the format and host only: a webhook URL may be a credential."""
    settings = Settings(
        _env={"WALLBOARD_WEBHOOK_URLS": "slack:https://hooks.slack.com/services/T0/B0/XyZ,https://ops.example/h?k=1"}
    )
    named = receivers_from(settings)
    assert [(r.name, r.format) for r in named] == [
        ("1:slack:hooks.slack.com", "slack"),
        ("2:generic:ops.example", "generic"),
    ]
    assert named[0].url == "https://hooks.slack.com/services/T0/B0/XyZ"
    assert "XyZ" not in repr(named) and "XyZ" not in repr(settings)
