"""Webhook notifications of alert transitions: generic JSON, Slack and Teams, signed, retried, never blocking.

Theory of operation
-------------------
The engine only appends lifecycle records to ``wb:{site}:alerts`` (``wallboard.processes.engine``); a
``Notifier`` is a separate consumer of that stream, in its own consumer group ``notifier``, so
the engine never waits for a receiver and a restarted notifier resumes where it stopped::

    read      XREADGROUP: first this consumer's pending records (delivered before a restart and never
              acknowledged), then new ones ('>', blocking up to a second)
    dispatch  a record with ``notify: false`` (a note, a de-escalation...) is acknowledged at once; any other
              is put on every receiver's bounded queue; a full queue (a receiver far behind) dead-letters
              that receiver's copy at once (reason ``queue_full``) instead of waiting
    deliver   one task per receiver: POST with a timeout. 2xx: sent. 408, 429, 5xx, a timeout or a
              connection error: retried after a ``wallboard.core.backoff.Backoff`` delay (429's Retry-After
              is honoured up to RETRY_AFTER_CAP_S), at most ``max_attempts`` tries. Any other status
              (400, 401, 404, a redirect...) is not retried. A copy that was not delivered goes to
              ``wb:{site}:alerts:dead`` (receiver, reason, attempts, status, record) and is counted
    ack       a record is acknowledged (XACK) once every receiver is done with it, delivered or dead-lettered

Delivery is at least once: a notifier stopped between a POST and the XACK sends the record again
after its restart (to every receiver). Every payload carries ``idempotency_key`` (also sent as the
``Idempotency-Key`` header): the record's key ``<alert_id>:<transition>:<n>``, unique per
transition, so a receiver drops what it has already seen.

Signature: with a secret (``WALLBOARD_WEBHOOK_SECRET``), every request carries
``X-Wallboard-Timestamp: <unix seconds>`` and ``X-Wallboard-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``<timestamp>.<raw body>``: a receiver recomputes it over the bytes it read,
compares in constant time and refuses a timestamp older than a few minutes (``verify_signature``),
so a captured request cannot be replayed later. Each attempt is signed afresh. Without a secret the
requests go unsigned (a warning says so at start).

Payloads (``payload(format, record, site)``): ``generic`` is ``{"type": "wallboard.alert", "site",
"summary", "idempotency_key", "alert": <the record>}``; ``slack`` is an incoming-webhook message
``{"text", "blocks"}``; ``teams`` is an Office 365 connector ``MessageCard``.

Counters (``NotifierStats``, per receiver and in total): sent, failed, retried, dead-lettered; they
are written to the health hash ``wb:{site}:health:notifier``. Receivers are named by format and
host only: a webhook URL may be a credential and is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wallboard.config import Settings, webhook_target
from wallboard.core.backoff import Backoff
from wallboard.errors import WallboardError
from wallboard.store import Store

log = logging.getLogger(__name__)

GROUP = "notifier"
COMPONENT = "notifier"
READ_COUNT = 100
BLOCK_MS = 1000
QUEUE_SIZE = 100
RETRY_AFTER_CAP_S = 60.0
HEALTH_EVERY_S = 2.0
SIGNATURE_HEADER = "X-Wallboard-Signature"
TIMESTAMP_HEADER = "X-Wallboard-Timestamp"
SIGNATURE_TOLERANCE_S = 300.0
RETRIED_STATUSES = frozenset({408, 429})
# Redis going away (the store's timeouts are the builtin TimeoutError, an OSError)
TRANSIENT_REDIS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)

Format = Literal["generic", "slack", "teams"]
Clock = Callable[[], float]


class NotifyError(WallboardError):
    """Base of this module's errors."""


@dataclass(frozen=True)
class Receiver:
    """One webhook: a name fit for logs (format and host), its URL (never logged) and its payload format."""

    name: str
    url: str = field(repr=False)
    format: Format = "generic"


def receivers_from(settings: Settings) -> list[Receiver]:
    """The receivers of ``settings.webhook_urls`` (already validated by Settings)."""
    receivers = []
    for index, secret in enumerate(settings.webhook_urls, start=1):
        fmt, url = webhook_target(secret.get_secret_value())
        host = urlsplit(url).hostname or "?"
        receivers.append(Receiver(f"{index}:{fmt}:{host}", url, _format(fmt)))
    return receivers


def _format(name: str) -> Format:
    if name == "slack":
        return "slack"
    if name == "teams":
        return "teams"
    return "generic"


# -- signing ----------------------------------------------------------------------------------------


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes, timestamp: str, body: bytes, signature: str, now: float, tolerance_s: float = SIGNATURE_TOLERANCE_S
) -> bool:
    """What a receiver checks: the signature matches (constant time) and the timestamp is recent."""
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


# -- payloads (pure) --------------------------------------------------------------------------------

_COLOURS = {"alarm": "D13438", "warn": "FFB900", "resolved": "107C10", "other": "605E5C"}


def summary(record: Mapping[str, Any], site: str) -> str:
    """One line for people: ``[paris] ALARM fired - queue support: Calls waiting 6 > 4 for 2 min``."""
    transition = str(record.get("transition", "?"))
    level = "RESOLVED" if transition == "resolved" else str(record.get("level", "?")).upper()
    target = record.get("target") or {}
    what = f"[{site}] {level} {transition}" if transition != "resolved" else f"[{site}] {level}"
    if record.get("by"):
        what += f" by {record['by']}"
    if record.get("until"):
        what += f" until {record['until']}"
    line = f"{what} - {target.get('kind', '?')} {target.get('name', '?')}: {record.get('reason', '')}"
    if record.get("note"):
        line += f" (note: {record['note']})"
    return line


def payload(fmt: Format, record: Mapping[str, Any], site: str) -> dict[str, Any]:
    """The JSON body for a receiver of format ``fmt``."""
    text = summary(record, site)
    if fmt == "slack":
        return _slack(record, site, text)
    if fmt == "teams":
        return _teams(record, site, text)
    return {
        "type": "wallboard.alert",
        "site": site,
        "summary": text,
        "idempotency_key": record.get("key"),
        "alert": dict(record),
    }


def _details(record: Mapping[str, Any], site: str) -> list[tuple[str, str]]:
    target = record.get("target") or {}
    rows = [
        ("Site", site),
        ("Target", f"{target.get('kind', '?')} {target.get('name', '?')}"),
        ("Threshold", str(record.get("label") or record.get("threshold_id", "?"))),
        ("Level", str(record.get("level", "?"))),
        ("Severity", str(record.get("severity", "?"))),
        ("State", str(record.get("state", "?"))),
        ("Since", str(record.get("since", "?"))),
        ("Alert", str(record.get("alert_id", "?"))),
    ]
    return rows


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(record: Mapping[str, Any], site: str, text: str) -> dict[str, Any]:
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"} for name, value in _details(record, site)]
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(text)}},
            {"type": "section", "fields": fields[:10]},  # Slack allows at most 10 fields
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"key `{record.get('key', '?')}`"}]},
        ],
    }


def _teams(record: Mapping[str, Any], site: str, text: str) -> dict[str, Any]:
    transition = record.get("transition")
    colour = _COLOURS["resolved"] if transition == "resolved" else _COLOURS.get(str(record.get("level")), "")
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": text[:200],
        "themeColor": colour or _COLOURS["other"],
        "title": text,
        "sections": [
            {
                "activityTitle": str(record.get("reason", "")),
                "facts": [{"name": name, "value": value} for name, value in _details(record, site)],
            }
        ],
    }


# -- the notifier -----------------------------------------------------------------------------------


@dataclass
class Counts:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "retried": self.retried, "dead_lettered": self.dead_lettered}


@dataclass
class NotifierStats:
    """What the notifier has done since it started, in total and per receiver."""

    total: Counts = field(default_factory=Counts)
    receivers: dict[str, Counts] = field(default_factory=dict)
    records: int = 0  # records read from the stream
    skipped: int = 0  # records acknowledged without a notification (notify false, unreadable)
    acked: int = 0
    reconnects: int = 0
    connected: bool = False

    def count(self, receiver: str, name: str) -> None:
        for counts in (self.total, self.receivers.setdefault(receiver, Counts())):
            setattr(counts, name, getattr(counts, name) + 1)


@dataclass(frozen=True)
class _Failure:
    reason: str  # timeout, connection, http_503, rejected, queue_full
    attempts: int
    status: int | None = None


class Notifier:
    """Sends the site's alert records to webhook receivers (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        receivers: Sequence[Receiver],
        *,
        secret: bytes | None,
        consumer: str = "notifier-1",
        timeout_s: float = 10.0,
        max_attempts: int = 6,
        queue_size: int = QUEUE_SIZE,
        backoff: Callable[[], Backoff] = lambda: Backoff(initial=0.5, cap=30.0),
        clock: Clock = time.time,
        client: httpx.AsyncClient | None = None,
        block_ms: int = BLOCK_MS,
    ) -> None:
        if max_attempts < 1:
            raise NotifyError(f"max_attempts must be >= 1, read {max_attempts}")
        self.store = store
        self.receivers = list(receivers)
        self.secret = secret
        self.consumer = consumer
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.stats = NotifierStats(receivers={r.name: Counts() for r in self.receivers})
        self.ready = asyncio.Event()  # set once the consumer group exists (records from then on are sent)
        self._backoff = backoff
        self._clock = clock
        self._client = client
        self._own_client = client is None
        self._block_ms = block_ms
        self._queues: dict[str, asyncio.Queue[tuple[str, Mapping[str, Any]]]] = {
            r.name: asyncio.Queue(queue_size) for r in self.receivers
        }
        self._inflight: dict[str, int] = {}  # stream id -> receivers not done with it yet
        self._to_ack: list[str] = []
        self._last_health = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings, store: Store, **kwargs: Any) -> Notifier:
        secret = settings.webhook_secret.get_secret_value().encode() if settings.webhook_secret else None
        options: dict[str, Any] = {
            "timeout_s": settings.webhook_timeout_s,
            "max_attempts": settings.webhook_max_attempts,
        }
        return cls(store, receivers_from(settings), secret=secret, **(options | kwargs))

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume and deliver until cancelled; Redis outages are ridden out with backoff."""
        if self.secret is None:
            log.warning("webhook notifications are sent unsigned: set WALLBOARD_WEBHOOK_SECRET")
        names = ", ".join(r.name for r in self.receivers) or "none"
        log.info("notifier for site %s sending to %s", self.store.site, names)
        client = self._client or httpx.AsyncClient(follow_redirects=False)
        self._client = client
        workers = [asyncio.create_task(self._worker(r), name=f"webhook:{r.name}") for r in self.receivers]
        backoff = self._backoff()
        try:
            while True:
                try:
                    await self._session()
                except TRANSIENT_REDIS as exc:
                    self.stats.connected = False
                    self.stats.reconnects += 1
                    delay = next(backoff)
                    log.warning("notifier lost Redis (%s: %s); reconnecting in %.1f s", type(exc).__name__, exc, delay)
                    await asyncio.sleep(delay)
                else:
                    backoff.reset()
        finally:
            for worker in workers:
                worker.cancel()
            if workers:
                await asyncio.wait(workers)
            if self._own_client:
                await client.aclose()
                self._client = None

    async def _session(self) -> None:
        await self.store.alerts.ensure_alerts_group(GROUP)
        self.stats.connected = True
        self.ready.set()
        after = "0"
        while entries := await self.store.alerts.read_alerts_group(GROUP, self.consumer, after, READ_COUNT, None):
            for entry_id, record in entries:
                await self._dispatch(entry_id, record)
            after = entries[-1][0]
        while True:
            await self._flush_acks()
            await self._write_health()
            entries = await self.store.alerts.read_alerts_group(GROUP, self.consumer, ">", READ_COUNT, self._block_ms)
            for entry_id, record in entries:
                await self._dispatch(entry_id, record)

    async def _dispatch(self, entry_id: str, record: Mapping[str, Any] | None) -> None:
        if entry_id in self._inflight:  # re-read as pending after a reconnect: already on its way
            return
        self.stats.records += 1
        if record is None or not record.get("notify", True) or not self.receivers:
            if record is None:
                log.warning(
                    "alert record %s is unreadable (trimmed or not JSON): acknowledged without sending", entry_id
                )
            self.stats.skipped += 1
            self._to_ack.append(entry_id)
            return
        self._inflight[entry_id] = len(self.receivers)
        for receiver in self.receivers:
            try:
                self._queues[receiver.name].put_nowait((entry_id, record))
            except asyncio.QueueFull:
                behind = self._queues[receiver.name].maxsize
                log.warning("webhook %s is %d records behind: record %s dead-lettered", receiver.name, behind, entry_id)
                await self._dead_letter(receiver, entry_id, record, _Failure("queue_full", 0))
                self._done(entry_id)

    def _done(self, entry_id: str) -> None:
        left = self._inflight.get(entry_id, 0) - 1
        if left > 0:
            self._inflight[entry_id] = left
            return
        self._inflight.pop(entry_id, None)
        self._to_ack.append(entry_id)

    async def _flush_acks(self) -> None:
        if self._to_ack:
            ids, self._to_ack = self._to_ack, []
            try:
                await self.store.alerts.ack_alerts(GROUP, ids)
            except BaseException:
                self._to_ack[:0] = ids
                raise
            self.stats.acked += len(ids)

    # -- delivery -----------------------------------------------------------------------------

    async def _worker(self, receiver: Receiver) -> None:
        queue = self._queues[receiver.name]
        while True:
            entry_id, record = await queue.get()
            try:
                failure = await self._deliver(receiver, record)
            except Exception:  # a bug must not silence this receiver for good
                log.exception("webhook %s: internal error on record %s", receiver.name, entry_id)
                failure = _Failure("internal_error", 0)
            if failure is not None:
                await self._dead_letter(receiver, entry_id, record, failure)
            self._done(entry_id)

    async def _deliver(self, receiver: Receiver, record: Mapping[str, Any]) -> _Failure | None:
        """POST the record until it is accepted, refused, or out of attempts; None when delivered."""
        assert self._client is not None
        body = json.dumps(payload(receiver.format, record, self.store.site), separators=(",", ":")).encode()
        backoff = self._backoff()
        failure = _Failure("none", 0)
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = await self._client.post(
                    receiver.url, content=body, headers=self._headers(body, record), timeout=self.timeout_s
                )
            except httpx.TimeoutException:
                failure = _Failure("timeout", attempt)
            except httpx.RequestError as exc:
                failure = _Failure("connection", attempt)
                log.debug("webhook %s: %s", receiver.name, type(exc).__name__)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    self.stats.count(receiver.name, "sent")
                    return None
                if status < 500 and status not in RETRIED_STATUSES:
                    log.warning("webhook %s refused record %s with HTTP %d", receiver.name, record.get("key"), status)
                    self.stats.count(receiver.name, "failed")
                    return _Failure("rejected", attempt, status)
                failure = _Failure(f"http_{status}", attempt, status)
                retry_after = _retry_after(response.headers.get("retry-after"))
            if attempt == self.max_attempts:
                break
            delay = max(next(backoff), min(retry_after or 0.0, RETRY_AFTER_CAP_S))
            self.stats.count(receiver.name, "retried")
            log.info("webhook %s: %s (attempt %d); retrying in %.1f s", receiver.name, failure.reason, attempt, delay)
            await asyncio.sleep(delay)
        log.warning(
            "webhook %s: record %s not delivered after %d attempts (%s)",
            receiver.name,
            record.get("key"),
            failure.attempts,
            failure.reason,
        )
        self.stats.count(receiver.name, "failed")
        return failure

    def _headers(self, body: bytes, record: Mapping[str, Any]) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "wallboard-notifier/1"}
        if record.get("key"):
            headers["Idempotency-Key"] = str(record["key"])
        if self.secret is not None:
            timestamp = str(int(self._clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        return headers

    async def _dead_letter(
        self, receiver: Receiver, entry_id: str, record: Mapping[str, Any], failure: _Failure
    ) -> None:
        """Record an undelivered copy in ``alerts:dead``; retried through Redis outages (only this receiver waits)."""
        fields = {
            "receiver": receiver.name,
            "entry_id": entry_id,
            "key": str(record.get("key", "")),
            "reason": failure.reason,
            "attempts": str(failure.attempts),
            "status": "" if failure.status is None else str(failure.status),
            "ts": str(self._clock()),
            "record": json.dumps(record, separators=(",", ":")),
        }
        backoff = self._backoff()
        while True:
            try:
                await self.store.alerts.add_dead_letter(fields)
                break
            except TRANSIENT_REDIS as exc:
                delay = next(backoff)
                log.warning("cannot write a dead letter (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
        self.stats.count(receiver.name, "dead_lettered")

    async def _write_health(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_health < HEALTH_EVERY_S:
            return
        self._last_health = now
        stats = self.stats
        fields: dict[str, str | int | float | bool] = {
            "connected": stats.connected,
            "reconnects": stats.reconnects,
            "records": stats.records,
            "skipped": stats.skipped,
            **stats.total.as_dict(),
            "receivers": json.dumps({name: c.as_dict() for name, c in stats.receivers.items()}, sort_keys=True),
            "queued": sum(queue.qsize() for queue in self._queues.values()),
            "updated_ts": self._clock(),
        }
        with contextlib.suppress(*TRANSIENT_REDIS):
            await self.store.events.write_health(COMPONENT, fields)


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After: <seconds>`` header (an HTTP date is ignored: the backoff applies)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
