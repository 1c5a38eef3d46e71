"""The event stream, the snapshot + checkpoint transaction, deltas and health hashes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from wallboard.core.events import Event, event_to_json
from wallboard.core.positions import SourcePosition
from wallboard.store.base import StoreBase
from wallboard.store.calls import add_calls
from wallboard.store.errors import SiteMismatchError
from wallboard.store.history import add_history
from wallboard.store.layout import (
    ALERT_FIELD,
    ALERTS_MAXLEN,
    EVENT_FIELD,
    GROUP,
    LAG_SCAN_LIMIT,
    CallsWrite,
    Checkpoint,
    HealthValue,
    HistoryWrite,
    StreamEntry,
    _entries,
    _group_entries,
    _text,
    decode_checkpoint,
    encode_checkpoint,
    next_stream_id,
)
from wallboard.store.updates import Updates

log = logging.getLogger(__name__)


# KEYS[1]: the events stream, KEYS[2..]: one "ingested" marker per event; ARGV: ttl, maxlen, the event field, then
# the events' JSON.
# SET NX EX marks a key as appended; only then is its event XADDed: all in one script, so atomically.
_INGEST = """
local appended = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', tonumber(ARGV[1])) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[2]), '*', ARGV[3], ARGV[i + 2])
    appended[i - 1] = 1
  else
    appended[i - 1] = 0
  end
end
return appended
"""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class StreamStore(StoreBase):
    """The event stream, the snapshot + checkpoint transaction, deltas and health hashes."""

    _staged_calls: CallsWrite | None = None  # call log records for the next save_state (stage_calls)

    # -- the event stream ------------------------------------------------------------------

    async def append_events(self, events: Sequence[Event], position: SourcePosition | None = None) -> list[str]:
        """XADD each event (one pipelined round trip, MAXLEN ~ maxlen); returns the new stream ids.

        With ``position``, the events and the source's resume point are written in one MULTI/EXEC:
        both or neither (``events`` may then be empty: the position alone moves).
        """
        for event in events:
            if event.site != self.site:
                raise SiteMismatchError(f"event for site {event.site!r} appended to the stream of site {self.site!r}")
        payloads = [event_to_json(event).encode() for event in events]
        if position is None:
            return await self.append_raw(payloads)
        value = json.dumps(dict(position.value), sort_keys=True, separators=(",", ":"))
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            for payload in payloads:
                pipe.xadd(self.keys.events, {EVENT_FIELD: payload}, maxlen=self.maxlen, approximate=True)
            pipe.hset(self.keys.positions, position.source, value)
            results = await pipe.execute()
        return [_text(entry_id) for entry_id in results[: len(payloads)]]

    async def load_position(self, source: str) -> dict[str, Any] | None:
        """The resume point last stored for ``source`` with its events, None when there is none (or unreadable)."""
        raw = await self._do(self.client.hget(self.keys.positions, source))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("unreadable stored position of %s: starting without it", source)
            return None
        return value if isinstance(value, dict) else None

    async def positions(self) -> dict[str, dict[str, Any] | None]:
        """Every stored resume point by source (None: not readable as one)."""
        found = await self._do(self.client.hgetall(self.keys.positions))
        out: dict[str, dict[str, Any] | None] = {}
        for source, raw in found.items():
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            out[_text(source)] = value if isinstance(value, dict) else None
        return out

    async def forget_position(self, source: str) -> bool:
        """Drop the stored resume point of ``source``; True if there was one."""
        return bool(await self._do(self.client.hdel(self.keys.positions, source)))

    async def append_ingested(self, events: Sequence[Event], remember_s: int) -> list[bool]:
        """Append the events whose ``key`` was not appended by this method in the last ``remember_s`` seconds, in
        one atomic script (never half of a batch; a concurrent repeat from another API process is a no-op);
        returns per event whether it was appended (False: a duplicate). Every event must have a key."""
        if not events:
            return []
        for event in events:
            if event.site != self.site:
                raise SiteMismatchError(f"event for site {event.site!r} appended to the stream of site {self.site!r}")
            if not event.key:
                raise ValueError("an ingested event needs a key")
        keys = [self.keys.events, *(self.keys.ingested(_digest(event.key or "")) for event in events)]
        payloads = [event_to_json(event) for event in events]
        reply: Any = await self._do(
            self.client.eval(
                _INGEST, len(keys), *keys, str(remember_s), str(self.maxlen), EVENT_FIELD.decode(), *payloads
            )
        )
        return [bool(int(flag)) for flag in reply]

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
        """Write the snapshot, (when given) the checkpoint, alert records, history rows in one MULTI/EXEC.

        Call log records staged with ``stage_calls`` go in the same MULTI (then they are no longer staged).
        """
        calls = self._staged_calls
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.snapshot, snapshot_json)
            if checkpoint is not None:
                pipe.set(self.keys.checkpoint, encode_checkpoint(Checkpoint(stream_id, seq, checkpoint)))
            for record in alerts:  # alerting (B): lifecycle transitions, atomic with the checkpoint that has them
                pipe.xadd(self.keys.alerts, {ALERT_FIELD: record}, maxlen=ALERTS_MAXLEN, approximate=True)
            for batch in history:  # history: closed interval rows, atomic with the checkpoint too
                add_history(pipe, self.keys, batch)
            if calls is not None:  # the call log: finished calls, atomic with the checkpoint too
                add_calls(pipe, self.keys, calls)
            await pipe.execute()
        if self._staged_calls is calls:
            self._staged_calls = None

    def stage_calls(self, calls: CallsWrite | None) -> None:
        """Call log records for the next ``save_state`` (replacing any staged before; None: none)."""
        self._staged_calls = calls

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
