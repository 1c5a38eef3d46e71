"""Key names, stream entries, the checkpoint envelope and the small codecs every part of the store shares."""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from wallboard.store.errors import CheckpointFormatError

GROUP = "engine"
EVENT_FIELD = b"e"
CHECKPOINT_MAGIC = b"WBCP1\n"
LAG_SCAN_LIMIT = 10_000
AUDIT_MAXLEN = 100_000  # audit entries kept (XADD MAXLEN ~)
# alerting (B): the alert lifecycle stream (field "a" = record JSON) and the notifier's dead letters
ALERT_FIELD = b"a"
ALERTS_MAXLEN = 100_000
DEAD_LETTER_MAXLEN = 10_000
# trend: the sparkline samples stream (field "t" = {queue: [waiting, sl]} JSON)
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

    @property
    def positions(self) -> str:
        """Hash: source name -> JSON resume point of its collector (written with its events)."""
        return f"{self.base}:positions"

    def health(self, component: str) -> str:
        return f"{self.base}:health:{component}"

    def ingested(self, key_digest: str) -> str:
        """String with a TTL: an event of ``POST /api/v1/events`` with this (hashed) key was appended."""
        return f"{self.base}:ingested:{key_digest}"

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

    @property
    def alerts(self) -> str:
        """The alert lifecycle stream (records written with the checkpoint, read by notifiers)."""
        return f"{self.base}:alerts"

    @property
    def dead_letters(self) -> str:
        return f"{self.base}:alerts:dead"

    def history(self, kind: str) -> str:
        """A stream of closed interval rows, ``queue`` or ``agent``."""
        if kind not in HISTORY_KINDS:
            raise ValueError(f"history kind {kind!r}, expected one of {', '.join(HISTORY_KINDS)}")
        return f"{self.base}:history:{kind}"

    @property
    def calls(self) -> str:
        """The call log stream (wallboard.store.calls): one entry per finished call."""
        return f"{self.base}:calls"

    @property
    def trend(self) -> str:
        return f"{self.base}:trend"

    # supervisor actions on agents (wallboard.store.actions)
    @property
    def actions(self) -> str:
        """The stream of actions the API queued for the AMI collector (field "a" = action JSON)."""
        return f"{self.base}:actions"

    def action(self, action_id: str) -> str:
        """Hash: one action's status (expires ``ACTION_TTL_S`` after its last change)."""
        return f"{self.base}:action:{action_id}"

    @property
    def actions_recent(self) -> str:
        """List: the ids of the latest actions, newest first (capped)."""
        return f"{self.base}:actions:recent"

    def action_members(self, collector: str) -> str:
        """String: one PBX collector's directory of agents (interfaces, memberships, call channels) as JSON."""
        return f"{self.base}:actions:members:{collector}"

    @property
    def action_collectors(self) -> str:
        """Set: the names of the PBX collectors that published a directory (``ami``, ``esl``, ``ami:east``)."""
        return f"{self.base}:actions:collectors"

    def action_rate(self, user: str) -> str:
        """Counter: actions asked by ``user`` in the current minute."""
        return f"{self.base}:actions:rate:{user}"


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


HISTORY_FIELD = b"r"
HISTORY_KINDS = ("queue", "agent")
CALL_FIELD = b"r"  # the call log: field "r" = the row JSON, "n" = the record's number
CALL_NUMBER_FIELD = b"n"


@dataclass(frozen=True)
class CallsWrite:
    """Call records for the call log stream: (stream id, number, row JSON) in id order; ``min_id`` trims (MINID)."""

    entries: Sequence[tuple[str, int, str]]
    min_id: str | None = None


@dataclass(frozen=True)
class HistoryWrite:
    """Rows for one history stream: (stream id, row JSON) in id order; ``min_id`` trims older entries (MINID)."""

    kind: str
    entries: Sequence[tuple[str, str]]
    min_id: str | None = None


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
