"""The engine loop: read the site's event stream, apply it to the pure State, publish snapshots and deltas.

Theory of operation. One runner per site, consumer ``engine`` of the stream's consumer group::

    start      ensure the group; restore State from the checkpoint (or start empty)
    resync     XREADGROUP id 0...: entries delivered before a crash or an outage, never acked
    loop       XREADGROUP '>' BLOCK: new entries
    apply      each entry in stream order; an entry whose id <= the last applied id is skipped
               (already in the State: re-delivered after a restart); a malformed one is logged,
               counted under its reason and skipped; the engine also dedups by ``Event.key``
    publish    every ``snapshot_interval_s`` when something changed, and at least once a second
               anyway (time in state must tick): snapshot(now), seq += 1, then in this order
               1. MULTI snapshot [+ checkpoint] EXEC   2. PUBLISH the delta   3. XACK what the
               stored checkpoint covers. The checkpoint (a pickle of the whole State, megabytes on
               a busy day) is added at most every ``checkpoint_interval_s``, and on a graceful stop
               (``close()``).

A delta's ``base`` is the seq of the snapshot it was diffed against: the one this runner published
last or, after a restart, the one stored under the snapshot key (what every API holds or re-reads),
so the first delta after a restart applies to it exactly. When the runner does not know what the
readers hold (restored from a checkpoint without a readable stored snapshot, or a snapshot write
that failed and may or may not have reached Redis), the next delta carries ``base: None``, which
readers answer by re-reading the snapshot key. Seq 1 carries ``base: None`` too: a runner starting
from nothing (Redis lost its data) restarts the seq, and a reader holding a higher seq from before
must not mistake the new deltas for old ones. The key is always written before the delta is
published. A seq, once tried, is never reused for other content.

An entry is acknowledged only once a checkpoint that includes it is stored, so after a crash at
any point the new runner restores the checkpoint and the unacked entries are exactly those the
checkpoint may lack; the id comparison drops those it already has. Nothing is lost and nothing
is counted twice (``tests/wallboard/test_runner.py`` kills runners between the steps to show it).

Redis going away (connection refused, reset, timeout, a replica turned read-only) is never fatal:
the runner logs "reconnecting in X s", backs off (``collectors.backoff``), reconnects, resyncs
and goes on with the State it has in memory. Refused credentials are fatal and say so.

The checkpoint payload is the State pickled (protocol 5) with a format version, inside the
store's envelope that records the last applied stream id and the seq. Redis is trusted
infrastructure (the same trust as the events: whoever can write the stream can forge the figures
anyway); never point the wallboard at a Redis others can write. A checkpoint this version cannot
read (an upgrade changed the State classes, foreign data), or one made with another site
configuration (the site file changed: thresholds apply from the start of the day), is not fatal:
the State is rebuilt by replaying the stream up to the last entry the group delivered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from redis.exceptions import AuthenticationError, AuthorizationError, NoPermissionError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from collectors.backoff import Backoff
from wallboard.config import Settings, redacted_url
from wallboard.deltas import diff
from wallboard.embedded import EmbeddedRedis, start_embedded
from wallboard.engine import State
from wallboard.events import Event, parse_event
from wallboard.site import SiteConfig
from wallboard.store import CheckpointFormatError, Store, StreamEntry, connect, next_stream_id, stream_id_key

log = logging.getLogger(__name__)

CONSUMER = "engine"
COMPONENT = "engine"
CHECKPOINT_FORMAT = 2  # 2: State split into queues/agents/snapshots modules
PICKLE_PROTOCOL = 5
READ_COUNT = 500
TICK_S = 1.0
MAX_BLOCK_MS = 1000
HEALTH_EVERY_S = 2.0
FINAL_WRITE_TIMEOUT_S = 5.0

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    ConnectionError,
    TimeoutError,
)
FATAL_ERRORS: tuple[type[BaseException], ...] = (AuthenticationError, AuthorizationError, NoPermissionError)

Clock = Callable[[], datetime]


class RunnerError(Exception):
    """Base of this module's errors; raised as is when the runner cannot go on (Redis refused our credentials)."""


class UnreadableCheckpointError(RunnerError):
    """A checkpoint payload is not a State this version can use (the runner then rebuilds from the stream)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunnerStats:
    """What the runner has done since it started (written to the engine's health hash)."""

    records: int = 0
    applied: int = 0
    rejected: int = 0
    ignored: int = 0
    reconnects: int = 0
    published: int = 0
    connected: bool = False
    last_event_ts: float | None = None
    rejected_by_reason: Counter[str] = field(default_factory=Counter)


def encode_state(state: State) -> bytes:
    """The checkpoint payload: the State and the payload format version, pickled."""
    return pickle.dumps((CHECKPOINT_FORMAT, state), protocol=PICKLE_PROTOCOL)


def decode_state(payload: bytes) -> State:
    """The State of a checkpoint payload; raises UnreadableCheckpointError if this version cannot use it."""
    try:
        version, state = pickle.loads(payload)  # Redis is trusted infrastructure: see the module docstring
    except Exception as exc:  # unpickling can raise nearly anything for foreign or stale data
        raise UnreadableCheckpointError(f"cannot unpickle: {exc!r}") from exc
    if version != CHECKPOINT_FORMAT or not isinstance(state, State):
        raise UnreadableCheckpointError(
            f"format {version!r} holding {type(state).__name__}, expected {CHECKPOINT_FORMAT}"
        )
    return state


class EngineRunner:
    """Runs one site's engine against its Redis stream until cancelled (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        site_config: SiteConfig,
        *,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
        consumer: str = CONSUMER,
        tick_s: float = TICK_S,
    ) -> None:
        self.settings = settings
        self.store = store
        self.site_config = site_config
        self.clock = clock
        self.consumer = consumer
        self.tick_s = tick_s
        self.stats = RunnerStats()
        self.state: State | None = None
        self.seq = 0
        self.last_id: str | None = None
        self.published: dict[str, Any] | None = None
        self._backoff = backoff or Backoff(initial=0.1, cap=10.0)
        self._checkpointed_id: str | None = None
        self._to_ack: list[str] = []
        self._changed = False
        self._last_publish = float("-inf")
        self._last_checkpoint = float("-inf")
        self._last_health = float("-inf")
        self._ever_connected = False

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Process the stream until cancelled. Cancelling writes nothing: call ``close()`` for a final checkpoint."""
        while True:
            try:
                await self._session()
            except FATAL_ERRORS as exc:
                raise RunnerError(f"Redis refused the engine's credentials or permissions: {exc}") from exc
            except TRANSIENT_ERRORS as exc:
                self.stats.connected = False
                self.stats.reconnects += 1
                delay = next(self._backoff)
                what = "lost Redis" if self._ever_connected else "cannot reach Redis"
                log.warning("engine %s (%s: %s); reconnecting in %.1f s", what, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Graceful stop: publish and checkpoint what is not yet stored, ack it, mark the engine disconnected."""
        if self.state is not None and (self._changed or self._to_ack or self.last_id != self._checkpointed_id):
            await self._publish(checkpoint=True)
        self.stats.connected = False
        await self._write_health(force=True)

    async def _session(self) -> None:
        await self.store.ensure_group()
        if self.state is None:
            await self._restore()
        await self._adopt_stored_seq()
        self._to_ack.clear()  # the pending list is the truth: resync re-reads every unacked entry
        await self._resync()
        self.stats.connected = self._ever_connected = True
        self._backoff.reset()
        log.info("engine for site %s resynced at stream id %s, seq %d", self.store.site, self.last_id, self.seq)
        await self._publish()
        await self._write_health(force=True)
        while True:
            entries = await self.store.read_new(self.consumer, READ_COUNT, self._block_ms())
            self._apply_entries(entries)
            if self._publish_due():
                await self._publish()
            await self._write_health()

    async def _resync(self) -> None:
        """Apply (or skip) the entries delivered to this consumer and never acknowledged."""
        after = "0"
        while entries := await self.store.read_pending(self.consumer, after=after, count=READ_COUNT):
            self._apply_entries(entries)
            after = entries[-1].id

    # -- restoring ----------------------------------------------------------------------------

    async def _restore(self) -> None:
        try:
            checkpoint = await self.store.load_checkpoint()
            if checkpoint is None:
                self.state = State(self.site_config)
                log.info("no checkpoint for site %s: starting from an empty state", self.store.site)
                return
            state = decode_state(checkpoint.payload)
        except (CheckpointFormatError, UnreadableCheckpointError) as exc:
            log.error("checkpoint of site %s is unreadable (%s): rebuilding from the stream", self.store.site, exc)
            await self._rebuild()
            return
        if state.site != self.site_config:
            log.warning(
                "site %s configuration changed since its checkpoint: rebuilding from the stream", state.site.site
            )
            await self._rebuild()
            return
        self.state = state
        self.last_id = self._checkpointed_id = checkpoint.stream_id
        self._last_checkpoint = asyncio.get_running_loop().time()  # as good as one written now
        self.seq = checkpoint.seq
        log.info(
            "restored site %s from its checkpoint at stream id %s, seq %d", self.store.site, self.last_id, self.seq
        )

    async def _rebuild(self) -> None:
        """A fresh State fed every entry the group has already delivered (what the lost checkpoint covered).

        Interrupted (Redis lost, or cancelled), it leaves no State behind: a partial one would be
        continued, or checkpointed by ``close()``, without the acknowledged entries it lacks.
        """
        self.state, self.last_id = State(self.site_config), None
        try:
            bound = await self.store.last_delivered_id()
            start = "-"
            while bound is not None and (entries := await self.store.read_range(start, bound, READ_COUNT)):
                self._apply_entries(entries, ack=False)
                start = next_stream_id(entries[-1].id)
        except BaseException:
            self.state = self.last_id = None
            raise
        log.warning("rebuilt site %s from %d stream entries up to %s", self.store.site, self.stats.records, bound)

    async def _adopt_stored_seq(self) -> None:
        """Continue after the stored snapshot's seq (a write may have succeeded without us hearing back)."""
        stored = await self.store.load_snapshot()
        if stored is not None and isinstance(stored.get("seq"), int) and stored["seq"] >= self.seq:
            self.seq = stored["seq"]
            self.published = stored

    # -- applying -----------------------------------------------------------------------------

    def _apply_entries(self, entries: Sequence[StreamEntry], *, ack: bool = True) -> None:
        assert self.state is not None
        for entry in entries:
            if ack:
                self._to_ack.append(entry.id)
            if self.last_id is not None and stream_id_key(entry.id) <= stream_id_key(self.last_id):
                self.stats.ignored += 1
                continue
            self.last_id = entry.id
            self._changed = True
            self.stats.records += 1
            event = self._decode(entry)
            if event is not None:
                self._apply(entry.id, event)

    def _decode(self, entry: StreamEntry) -> Event | None:
        if entry.data is None:
            log.warning("stream entry %s was trimmed before the engine applied it (MAXLEN too small?)", entry.id)
            self._reject("trimmed")
            return None
        try:
            event = parse_event(entry.data)
        except ValidationError as exc:
            reason = "bad_json" if any(e["type"] == "json_invalid" for e in exc.errors()) else "invalid_event"
            log.warning("skipping stream entry %s (%s): %s", entry.id, reason, exc.errors()[0].get("msg", exc))
            self._reject(reason)
            return None
        if event.site != self.store.site:
            log.warning("skipping stream entry %s: event of site %r in site %r", entry.id, event.site, self.store.site)
            self._reject("site_mismatch")
            return None
        return event

    def _apply(self, entry_id: str, event: Event) -> None:
        assert self.state is not None
        try:
            self.state.apply(event)
        except Exception:  # an engine bug on one event must not stop the wallboard
            log.exception("engine failed on stream entry %s (%s); skipped", entry_id, event.kind)
            self._reject("engine_error")
            return
        self.stats.applied += 1
        self.stats.last_event_ts = event.ts.timestamp()

    def _reject(self, reason: str) -> None:
        self.stats.rejected += 1
        self.stats.rejected_by_reason[reason] += 1

    # -- publishing ---------------------------------------------------------------------------

    def _since(self, moment: float) -> float:
        return asyncio.get_running_loop().time() - moment

    def _publish_in(self) -> float:
        """Seconds until the next publish is due (<= 0: now)."""
        interval = self.settings.snapshot_interval_s
        due = interval if self._changed else max(interval, self.tick_s)
        return due - self._since(self._last_publish)

    def _publish_due(self) -> bool:
        return self._publish_in() <= 0

    def _block_ms(self) -> int:
        remaining = self._publish_in()
        return 1 if remaining <= 0 else max(1, min(MAX_BLOCK_MS, int(remaining * 1000)))

    def _checkpoint_due(self) -> bool:
        stale = self.last_id != self._checkpointed_id
        return stale and self._since(self._last_checkpoint) >= self.settings.checkpoint_interval_s

    async def _publish(self, *, checkpoint: bool = False) -> None:
        """Snapshot, then store it (with the checkpoint when due), then publish the delta, then ack."""
        assert self.state is not None
        seq = self.seq + 1
        body = {**self.state.snapshot(self.clock()), "seq": seq, "stream_id": self.last_id}
        text = json.dumps(body, separators=(",", ":"))
        snapshot: dict[str, Any] = json.loads(text)  # what every reader sees: diff that, not Python tuples
        with_checkpoint = self.last_id != self._checkpointed_id and (checkpoint or self._checkpoint_due())
        payload = encode_state(self.state) if with_checkpoint else None
        # Until the write is known to have succeeded, readers may hold either state: forget the base
        # (and never reuse this seq for other content, should the write fail after all).
        previous, self.published, self.seq = self.published, None, seq
        await self.store.save_state(text, payload, self.last_id or "0-0", seq)
        now = asyncio.get_running_loop().time()
        self.published = snapshot
        self._changed = False
        self._last_publish = now
        if payload is not None:
            self._checkpointed_id, self._last_checkpoint = self.last_id, now
        self.stats.published += 1
        changes = diff(previous or {}, snapshot)
        base = seq - 1 if previous is not None else None  # None: readers re-read the snapshot key
        await self.store.publish_delta({"type": "delta", "seq": seq, "base": base, "changes": changes})
        await self._ack_checkpointed()

    async def _ack_checkpointed(self) -> None:
        """XACK the entries the stored checkpoint covers (ids up to the checkpointed one)."""
        if not self._to_ack or self._checkpointed_id is None:
            return
        bound = stream_id_key(self._checkpointed_id)
        covered = [entry_id for entry_id in self._to_ack if stream_id_key(entry_id) <= bound]
        if covered:
            await self.store.ack(covered)
            self._to_ack = [entry_id for entry_id in self._to_ack if stream_id_key(entry_id) > bound]

    # -- health -------------------------------------------------------------------------------

    async def _write_health(self, *, force: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        if not force and now - self._last_health < HEALTH_EVERY_S:
            return
        self._last_health = now
        lag = await self.store.stream_lag() if self.stats.connected else None
        stats = self.stats
        fields: dict[str, str | int | float | bool] = {
            "connected": stats.connected,
            "reconnects": stats.reconnects,
            "records": stats.records,
            "applied": stats.applied,
            "rejected": stats.rejected,
            "ignored": stats.ignored,
            "rejected_by_reason": json.dumps(dict(stats.rejected_by_reason), sort_keys=True),
            "seq": self.seq,
            "updated_ts": self.clock().timestamp(),
        }
        if stats.last_event_ts is not None:
            fields["last_event_ts"] = stats.last_event_ts
        if lag is not None:
            fields["lag"] = lag
        await self.store.write_health(COMPONENT, fields)


async def run_engine(settings: Settings, site_config: SiteConfig) -> None:
    """Run the engine of ``site_config.site`` until cancelled, then write a final checkpoint.

    Without a Redis URL an embedded Redis is started (in ``settings.embedded_dir`` when set) and
    stopped on the way out.
    """
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if url is None:
        embedded = start_embedded(settings.embedded_dir)
        url = embedded.url
    log.info("engine for site %s using Redis at %s", site_config.site, redacted_url(url))
    client = connect(url, client_name=f"wallboard-engine-{site_config.site}")
    store = Store(client, prefix=settings.key_prefix, site=site_config.site, maxlen=settings.stream_maxlen)
    runner = EngineRunner(settings, store, site_config)
    try:
        await runner.run()
    finally:
        try:
            async with asyncio.timeout(FINAL_WRITE_TIMEOUT_S):
                await runner.close()
            log.info("engine for site %s stopped at stream id %s, seq %d", site_config.site, runner.last_id, runner.seq)
        except (*TRANSIENT_ERRORS, *FATAL_ERRORS) as exc:
            log.warning("engine for site %s stopped without a final checkpoint: %s", site_config.site, exc)
        finally:
            await client.aclose()
            if embedded is not None:
                embedded.stop()
