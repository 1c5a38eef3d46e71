"""The only package that talks to Redis: key names, the event stream, snapshot, checkpoint, pub/sub, health, tokens.

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
Modules, one noun each; ``Store`` is their sections put together::

    layout      key names (Keys), stream entries, the checkpoint envelope, shared codecs
    errors      the exception tree           connection  connect / connect_cluster
    updates     the pub/sub channel          base        StoreBase: client, keys, deadlines
    streams     events, snapshot + checkpoint, deltas, health
    security    display tokens, users, sessions, login failures, audit (``Store.accounts``)
    config      versioned documents and their notices (``Store.config``)
    alerting    alert lifecycle stream, notifier group, dead letters (``Store.alerts``)
    actions     supervisor actions: their stream, statuses, rate counters (``Store.actions``)
    boards · trend · history · schedules     one section each
Every section derives from ``StoreBase`` only; ``Store`` composes them (``store.events.append_events(...)``).
"""

from __future__ import annotations

from typing import TypedDict

from wallboard.core.thresholds import CONFIG_NAME as THRESHOLDS_CONFIG
from wallboard.store.actions import ActionStore
from wallboard.store.alerting import AlertStore
from wallboard.store.boards import BoardStore
from wallboard.store.calls import CallStore
from wallboard.store.config import ConfigStore
from wallboard.store.connection import connect, connect_cluster
from wallboard.store.errors import (
    CheckpointFormatError,
    ClusterConfigError,
    ClusterUnavailableError,
    ConfigConflictError,
    ConfigFormatError,
    SiteMismatchError,
    StoreError,
    SubscriptionLostError,
)
from wallboard.store.history import HistoryStore
from wallboard.store.layout import (
    ALERT_FIELD,
    AUDIT_MAXLEN,
    CHECKPOINT_MAGIC,
    EVENT_FIELD,
    GROUP,
    HISTORY_FIELD,
    HISTORY_KINDS,
    OP_TIMEOUT_S,
    TREND_FIELD,
    CallsWrite,
    Checkpoint,
    Client,
    HealthValue,
    HistoryWrite,
    Keys,
    StreamEntry,
    decode_checkpoint,
    encode_checkpoint,
    next_stream_id,
    stream_id_key,
)
from wallboard.store.schedules import SCHEDULES_CONFIG, ScheduleStore
from wallboard.store.security import SecurityStore
from wallboard.store.streams import StreamStore
from wallboard.store.trend import TrendStore
from wallboard.store.updates import Updates


class _Shared(TypedDict):
    """What every section of one site's store is built with."""

    prefix: str
    site: str
    maxlen: int
    op_timeout_s: float


class Store:
    """One site's Redis: its sections, composed on one client.

    ``events`` the event stream, snapshot + checkpoint, deltas and health; ``config`` versioned documents and
    their notices; ``accounts`` tokens, users, sessions, login failures, audit; ``alerts`` the alert lifecycle
    stream, notifier groups and dead letters; ``actions`` supervisor actions on agents; ``boards``, ``schedules``,
    ``trend``, ``history``, ``calls`` (the call log).
    """

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
        shared = _Shared(prefix=prefix, site=site, maxlen=maxlen, op_timeout_s=op_timeout_s)
        self.events = StreamStore(client, **shared)
        self.config = ConfigStore(client, **shared)
        self.accounts = SecurityStore(client, **shared)
        self.alerts = AlertStore(client, **shared)
        self.boards = BoardStore(client, **shared)
        self.schedules = ScheduleStore(client, self.config, **shared)
        self.trend = TrendStore(client, **shared)
        self.history = HistoryStore(client, **shared)
        self.calls = CallStore(client, **shared)
        self.actions = ActionStore(client, **shared)

    @property
    def on_cluster(self) -> bool:
        """True on a Redis Cluster: the site's channels are then sharded (SPUBLISH/SSUBSCRIBE)."""
        return self.events.on_cluster


__all__ = [
    "ALERT_FIELD",
    "AUDIT_MAXLEN",
    "CHECKPOINT_MAGIC",
    "EVENT_FIELD",
    "GROUP",
    "HISTORY_FIELD",
    "HISTORY_KINDS",
    "OP_TIMEOUT_S",
    "SCHEDULES_CONFIG",
    "THRESHOLDS_CONFIG",
    "TREND_FIELD",
    "Checkpoint",
    "CheckpointFormatError",
    "ConfigStore",
    "Client",
    "ClusterConfigError",
    "ClusterUnavailableError",
    "ConfigConflictError",
    "ConfigFormatError",
    "HealthValue",
    "CallsWrite",
    "HistoryWrite",
    "Keys",
    "SiteMismatchError",
    "Store",
    "StoreError",
    "StreamEntry",
    "SubscriptionLostError",
    "Updates",
    "connect",
    "connect_cluster",
    "decode_checkpoint",
    "encode_checkpoint",
    "next_stream_id",
    "stream_id_key",
]
