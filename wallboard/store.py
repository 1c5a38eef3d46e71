"""The only module that talks to Redis: key names, the event stream, snapshot, checkpoint, pub/sub, health, tokens.

Layout (``{site}`` is a Redis Cluster hash tag, so every key of a site lives on one shard and one
``MULTI`` may span them; two sites in one Redis never share a key)::

    <prefix>:{<site>}:events        stream, one field "e" = event JSON, XADD MAXLEN ~ maxlen
                                    consumer group "engine", created with MKSTREAM at id 0
    <prefix>:{<site>}:snapshot      string: latest snapshot JSON (engine snapshot + seq + stream_id)
    <prefix>:{<site>}:checkpoint    string: engine checkpoint envelope (see below), same MULTI as the snapshot
    <prefix>:{<site>}:updates       pub/sub channel of delta messages (JSON)
    <prefix>:{<site>}:health:<c>    hash of component c's health fields
    <prefix>:{<site>}:tokens        hash: sha256(token) hex -> JSON info

The checkpoint envelope is ``b"WBCP1\\n" + JSON header {"stream_id", "seq"} + b"\\n" + payload``:
the store knows which stream entry and which snapshot seq a checkpoint belongs to; the payload
(the serialised engine state) belongs to the runner.

Redis is trusted infrastructure here: whoever can write these keys can already forge the events
the figures come from, and the runner unpickles the checkpoint payload. Point the wallboard at a
Redis that only it and its collectors can reach.

Compatible with Redis >= 6.0: no command newer than that is required (XINFO GROUPS' ``lag``, a
Redis 7 field, is used when present). Connection problems surface as ``redis.ConnectionError``,
and an operation that outlives ``op_timeout_s`` as the builtin ``TimeoutError`` (no silent
client-side retries: see ``connect``); callers back off and resync.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from wallboard.events import Event, event_to_json

log = logging.getLogger(__name__)

GROUP = "engine"
EVENT_FIELD = b"e"
CHECKPOINT_MAGIC = b"WBCP1\n"
LAG_SCAN_LIMIT = 10_000
OP_TIMEOUT_S = 10.0
# Linux names; elsewhere only what the platform has. A dead peer is noticed within ~30 s.
_KEEPALIVE = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)
}

T = TypeVar("T")

Redis = aioredis.Redis
HealthValue = str | int | float | bool


class StoreError(Exception):
    """Base of the errors this module raises itself (Redis' own errors pass through unchanged)."""


class SiteMismatchError(StoreError):
    """An event names another site than the store's: appending it would mix two sites."""


class CheckpointFormatError(StoreError):
    """The stored checkpoint is not in a format this version can read."""


MAX_CONNECTIONS = 256
POOL_WAIT_S = 5.0


def connect(url: str, *, client_name: str = "wallboard") -> Redis:
    """A client for ``url``: bounded connect, TCP keepalive, periodic health checks, no hidden retries.

    * No client-side retries: a retried XADD could append an event twice; the runner and the
      collectors have their own backoff that reconnects and resyncs.
    * No ``socket_timeout``: with one, redis-py wraps every write in ``asyncio.wait_for``, which
      on Python 3.11 can swallow a task's cancellation (CPython gh-86296): a cancelled engine
      would go on running. ``Store`` bounds each operation with ``asyncio.timeout`` instead,
      and TCP keepalive notices a vanished server under blocking reads.
    """
    options: dict[str, Any] = {}
    if urlsplit(url).scheme in ("redis", "rediss"):
        options = {"socket_keepalive": True, "socket_keepalive_options": _KEEPALIVE}
    # A burst (1,000 TVs reconnecting after a deploy) waits for a pooled connection instead of
    # failing at once with "Too many connections", as redis-py's default pool would.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_connect_timeout=5.0,
        socket_timeout=None,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
        **options,
    )
    client = aioredis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


@dataclass(frozen=True)
class Keys:
    """The key names of one site."""

    prefix: str
    site: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.site}}}"

    @property
    def events(self) -> str:
        return f"{self.base}:events"

    @property
    def snapshot(self) -> str:
        return f"{self.base}:snapshot"

    @property
    def checkpoint(self) -> str:
        return f"{self.base}:checkpoint"

    @property
    def updates(self) -> str:
        return f"{self.base}:updates"

    @property
    def tokens(self) -> str:
        return f"{self.base}:tokens"

    def health(self, component: str) -> str:
        return f"{self.base}:health:{component}"


@dataclass(frozen=True)
class StreamEntry:
    """One stream entry as read: ``data`` is the event JSON, None when the entry was trimmed while pending."""

    id: str
    data: bytes | None


@dataclass(frozen=True)
class Checkpoint:
    """A stored checkpoint: the payload covers every stream entry up to ``stream_id`` and snapshot ``seq``."""

    stream_id: str
    seq: int
    payload: bytes


def stream_id_key(entry_id: str) -> tuple[int, int]:
    """A stream id ("1700000000000-3") as a comparable pair; raises ValueError if malformed."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def next_stream_id(entry_id: str) -> str:
    """The smallest id after ``entry_id`` (for exclusive ranges on Redis < 6.2)."""
    ms, seq = stream_id_key(entry_id)
    return f"{ms}-{seq + 1}"


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    header = json.dumps({"stream_id": checkpoint.stream_id, "seq": checkpoint.seq}).encode()
    return CHECKPOINT_MAGIC + header + b"\n" + checkpoint.payload


def decode_checkpoint(blob: bytes) -> Checkpoint:
    """Split a stored checkpoint; raises CheckpointFormatError if it is not one this version wrote."""
    if not blob.startswith(CHECKPOINT_MAGIC):
        raise CheckpointFormatError(f"checkpoint starts with {blob[:6]!r}, expected {CHECKPOINT_MAGIC!r}")
    header, sep, payload = blob[len(CHECKPOINT_MAGIC) :].partition(b"\n")
    try:
        if not sep:
            raise ValueError("no end of header line")
        meta = json.loads(header)
        checkpoint = Checkpoint(stream_id=str(meta["stream_id"]), seq=int(meta["seq"]), payload=payload)
        stream_id_key(checkpoint.stream_id)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointFormatError(f"checkpoint header unreadable: {exc}") from exc
    return checkpoint


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(items: Any) -> list[StreamEntry]:
    """Stream entries from a list of (id, fields) pairs; fields are empty/None for an entry trimmed while pending."""
    return [
        StreamEntry(_text(entry_id), fields.get(EVENT_FIELD, b"") if fields else None)
        for entry_id, fields in items or ()
    ]


def _group_entries(reply: Any) -> list[StreamEntry]:
    """Entries of the one stream in an XREADGROUP reply: ``[[stream, entries]]`` (RESP2) or ``{stream: ...}``."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        return _entries(entries[0] if entries and isinstance(entries[0], list) else entries)
    return _entries(reply[0][1])


class Updates:
    """A subscription to a site's update channel: ``async with store.subscribe_updates() as updates``.

    Subscribed once ``__aenter__`` returns, so nothing published afterwards is missed. Iterating
    yields each message decoded from JSON; non-JSON messages are logged and skipped.
    """

    def __init__(self, pubsub: PubSub, channel: str, timeout_s: float) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self._timeout_s = timeout_s

    async def __aenter__(self) -> Updates:
        async with asyncio.timeout(self._timeout_s):
            await self._pubsub.subscribe(self._channel)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        async for message in self._pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                decoded = json.loads(message["data"])
            except ValueError:
                log.warning("skipping a non-JSON message on %s", self._channel)
                continue
            if isinstance(decoded, dict):
                yield decoded


class Store:
    """Typed access to one site's keys."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "wb",
        site: str = "default",
        maxlen: int = 1_000_000,
        op_timeout_s: float = OP_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.keys = Keys(prefix, site)
        self.site = site
        self.maxlen = maxlen
        self.op_timeout_s = op_timeout_s

    def _deadline(self, extra_s: float = 0.0) -> asyncio.Timeout:
        """Bound one operation (raises builtin TimeoutError; redis-py then drops the connection)."""
        return asyncio.timeout(self.op_timeout_s + extra_s)

    async def _do(self, command: Awaitable[T], *, extra_s: float = 0.0) -> T:
        async with self._deadline(extra_s):
            return await command

    # -- the event stream ------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event]) -> list[str]:
        """XADD each event (one pipelined round trip, MAXLEN ~ maxlen); returns the new stream ids."""
        for event in events:
            if event.site != self.site:
                raise SiteMismatchError(f"event for site {event.site!r} appended to the stream of site {self.site!r}")
        return await self.append_raw([event_to_json(event).encode() for event in events])

    async def append_raw(self, payloads: Sequence[bytes | str]) -> list[str]:
        """XADD already-serialised event JSON (no validation: the engine rejects what is invalid)."""
        if not payloads:
            return []
        async with self._deadline(), self.client.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.xadd(self.keys.events, {EVENT_FIELD: payload}, maxlen=self.maxlen, approximate=True)
            ids = await pipe.execute()
        return [_text(entry_id) for entry_id in ids]

    async def ensure_group(self) -> bool:
        """Create the stream and its consumer group if missing; True if it was created now."""
        try:
            await self._do(self.client.xgroup_create(self.keys.events, GROUP, id="0", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        log.info("created consumer group %s on %s", GROUP, self.keys.events)
        return True

    async def read_new(self, consumer: str, count: int, block_ms: int) -> list[StreamEntry]:
        """Entries never delivered to the group (XREADGROUP '>'), waiting up to ``block_ms`` for some."""
        return await self._read_group(consumer, ">", count, block_ms)

    async def read_pending(self, consumer: str, after: str = "0", count: int = 500) -> list[StreamEntry]:
        """Entries delivered to ``consumer`` but not acknowledged, with ids after ``after`` (XREADGROUP id)."""
        return await self._read_group(consumer, after, count, None)

    async def _read_group(self, consumer: str, start: str, count: int, block_ms: int | None) -> list[StreamEntry]:
        try:
            command = self.client.xreadgroup(GROUP, consumer, {self.keys.events: start}, count=count, block=block_ms)
            reply = await self._do(command, extra_s=(block_ms or 0) / 1000)
        except ResponseError as exc:
            # NOGROUP: no stream or group; UNBLOCKED: the stream was deleted while we waited on it.
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                raise
            log.warning(
                "consumer group %s on %s is gone (Redis lost its data?); recreating it", GROUP, self.keys.events
            )
            await self.ensure_group()
            return []
        return _group_entries(reply)

    async def read_range(self, start: str = "-", end: str = "+", count: int = 1000) -> list[StreamEntry]:
        """Entries between two ids, inclusive, whatever their delivery state (XRANGE)."""
        return _entries(await self._do(self.client.xrange(self.keys.events, start, end, count=count)))

    async def ack(self, ids: Sequence[str]) -> int:
        """XACK ``ids``; returns how many were pending."""
        if not ids:
            return 0
        return int(await self._do(self.client.xack(self.keys.events, GROUP, *ids)))

    async def pending_count(self) -> int:
        """Entries delivered to the group and not acknowledged yet."""
        summary = await self._do(self.client.xpending(self.keys.events, GROUP))
        return int(summary.get("pending", 0)) if isinstance(summary, dict) else int(summary[0])

    async def stream_length(self) -> int:
        return int(await self._do(self.client.xlen(self.keys.events)))

    async def _group_info(self) -> dict[Any, Any] | None:
        try:
            groups = await self._do(self.client.xinfo_groups(self.keys.events))
        except ResponseError:  # no such stream
            return None
        return next((g for g in groups if _text(g.get("name", b"")) == GROUP), None)

    async def last_delivered_id(self) -> str | None:
        """The id of the last entry the group handed out (acked or not); None without a group."""
        group = await self._group_info()
        return None if group is None else _text(group.get("last-delivered-id", b"0-0"))

    async def stream_lag(self) -> int | None:
        """Entries not yet acknowledged by the engine: pending + never delivered; None without a group.

        Redis >= 7 reports the undelivered count (``lag``); on older servers it is counted with
        XRANGE, up to LAG_SCAN_LIMIT.
        """
        group = await self._group_info()
        if group is None:
            return None
        pending = int(group.get("pending", 0))
        lag = group.get("lag")
        if lag is not None:
            return pending + int(lag)
        delivered = _text(group.get("last-delivered-id", b"0-0"))
        undelivered = await self.read_range(next_stream_id(delivered), "+", LAG_SCAN_LIMIT)
        return pending + len(undelivered)

    # -- snapshot, checkpoint, deltas --------------------------------------------------------

    async def save_state(self, snapshot_json: str, checkpoint: bytes | None, stream_id: str, seq: int) -> None:
        """Write the snapshot and (when given) the checkpoint payload in one MULTI/EXEC."""
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.snapshot, snapshot_json)
            if checkpoint is not None:
                pipe.set(self.keys.checkpoint, encode_checkpoint(Checkpoint(stream_id, seq, checkpoint)))
            await pipe.execute()

    async def load_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint, None if there is none; raises CheckpointFormatError if unreadable."""
        blob = await self._do(self.client.get(self.keys.checkpoint))
        if blob is None:
            return None
        return decode_checkpoint(blob if isinstance(blob, bytes) else blob.encode())

    async def load_snapshot(self) -> dict[str, Any] | None:
        """The latest published snapshot, None if none was published (or it is not a JSON object)."""
        raw = await self._do(self.client.get(self.keys.snapshot))
        if raw is None:
            return None
        try:
            snapshot = json.loads(raw)
        except ValueError:
            log.warning("stored snapshot %s is not JSON; ignoring it", self.keys.snapshot)
            return None
        return snapshot if isinstance(snapshot, dict) else None

    async def publish_delta(self, message: Mapping[str, Any]) -> int:
        """PUBLISH a message on the updates channel; returns how many subscribers received it."""
        text = json.dumps(message, separators=(",", ":"))
        return int(await self._do(self.client.publish(self.keys.updates, text)))

    def subscribe_updates(self) -> Updates:
        """A subscription to the updates channel (use ``async with``, then ``async for``)."""
        return Updates(self.client.pubsub(), self.keys.updates, self.op_timeout_s)

    # -- health ---------------------------------------------------------------------------

    async def write_health(self, component: str, fields: Mapping[str, HealthValue]) -> None:
        """HSET a component's health fields (booleans as 0/1)."""
        mapping: dict[FieldT, EncodableT] = {
            name: int(value) if isinstance(value, bool) else value for name, value in fields.items()
        }
        if mapping:
            await self._do(self.client.hset(self.keys.health(component), mapping=mapping))

    async def read_health(self) -> dict[str, dict[str, str]]:
        """Every component's health hash, by component name."""
        prefix = self.keys.health("")
        health: dict[str, dict[str, str]] = {}
        async with self._deadline():
            async for key in self.client.scan_iter(match=prefix + "*", count=100):
                name = _text(key)
                fields = await self.client.hgetall(name)
                health[name[len(prefix) :]] = {_text(k): _text(v) for k, v in fields.items()}
        return health

    # -- display tokens (only their sha256 is ever stored) ----------------------------------

    async def add_token(self, token_hash: str, info: Mapping[str, Any]) -> None:
        await self._do(self.client.hset(self.keys.tokens, token_hash, json.dumps(dict(info))))

    async def get_token(self, token_hash: str) -> dict[str, Any] | None:
        raw = await self._do(self.client.hget(self.keys.tokens, token_hash))
        if raw is None:
            return None
        info = json.loads(raw)
        return info if isinstance(info, dict) else None

    async def revoke_token(self, token_hash: str) -> bool:
        """Remove a token; True if it existed."""
        return bool(await self._do(self.client.hdel(self.keys.tokens, token_hash)))

    async def list_tokens(self) -> dict[str, dict[str, Any]]:
        raw = await self._do(self.client.hgetall(self.keys.tokens))
        return {_text(k): json.loads(v) for k, v in raw.items()}
