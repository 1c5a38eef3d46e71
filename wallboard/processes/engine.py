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
the runner logs "reconnecting in X s", backs off (``wallboard.core.backoff``), reconnects, resyncs
and goes on with the State it has in memory. Refused credentials are fatal and say so.

Alerts (issue 5). The runner owns an ``AlertBook`` (``wallboard.core.alerting``), pickled in the same
checkpoint as the State. Its thresholds are the site file's until ``wb:{site}:config:thresholds``
holds a version (written by the API): the runner re-reads that key when a notice arrives on
``wb:{site}:config`` and every ``thresholds_poll_s`` anyway; a stored document it cannot use is
logged once per version, counted (``config_errors``) and ignored, the thresholds in force stay.
At a publish, at most every ``evaluate_every_s``, the book evaluates the snapshot about to be
published plus the health hashes. ``alert_action`` entries of the stream (operators' ack, snooze,
note) go to the book, never to the State, in stream order; a refused one (unknown or resolved
alert...) is logged and counted by reason (``alert_actions_rejected``). Every lifecycle
transition is a record XADDed to ``wb:{site}:alerts`` in the same MULTI/EXEC as the snapshot and
a checkpoint that includes the book after it (a publish with records always checkpoints), so a
record is written exactly once however the runner is killed; the published snapshot carries the
open alerts as ``alerts``, which reach /ws clients as deltas. Notifications are another
consumer's job (``wallboard.processes.notify``): the engine never waits for a webhook.

Interval history (issue 8 H). At every publish the runner drains the State's closed interval rows
(per queue and per active agent, ``wallboard.core.history``) and writes them to ``wb:{site}:history:queue``
and ``wb:{site}:history:agent`` in the same MULTI/EXEC as the snapshot and a checkpoint taken after
the drain (a publish with rows always checkpoints), as the alert records are. A row's stream id is
its interval start in ms (``<ms>-<n>``); before writing, the runner drops the rows of intervals the
stream already has (a write whose reply was lost, a State rebuilt from the stream), so each row is
written exactly once however the runner is killed. XADD MINID keeps ``history_retention_days``.

Adherence (issue 7 T). The runner owns an ``AdherenceBook`` (``wallboard.core.adherence.tracker``), pickled in
the checkpoint beside the State and the alert book. Its schedule is ``wb:{site}:config:schedules``, re-read on a
``{"type": "schedules"}`` notice and every ``thresholds_poll_s`` like the thresholds (a stored document it cannot
use is logged once per version, counted in ``config_errors`` and ignored). At every publish the book observes the
snapshot's agents and its figures are merged into the snapshot (``merge_figures``) before the alert evaluation,
so ``adherence_pct`` thresholds read them. A State rebuilt from the stream starts a fresh book.

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
from redis.exceptions import AuthenticationError, AuthorizationError, NoPermissionError, ReadOnlyError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wallboard.config import Settings, redacted_url
from wallboard.core.adherence.schedule import ScheduleError, schedule_from_document
from wallboard.core.adherence.tracker import AdherenceBook, merge_figures
from wallboard.core.alerting import ActionRejected, AlertBook, Record
from wallboard.core.backoff import Backoff
from wallboard.core.deltas import diff
from wallboard.core.engine import State
from wallboard.core.events import AlertAction, Event, parse_event
from wallboard.core.history import row_ids, written
from wallboard.core.site import SiteConfig
from wallboard.core.thresholds import Problem, ThresholdError, ThresholdSet, load_thresholds
from wallboard.errors import StartupError
from wallboard.processes.notify import Notifier
from wallboard.store import (
    CheckpointFormatError,
    ConfigFormatError,
    HistoryWrite,
    Store,
    StreamEntry,
    connect,
    next_stream_id,
    stream_id_key,
)
from wallboard.store.datadir import redis_link

log = logging.getLogger(__name__)

CONSUMER = "engine"
COMPONENT = "engine"
CHECKPOINT_FORMAT = 5  # 2: State split into queues/agents/snapshots modules; 3: (State, AlertBook)
# 4: agents account interval time (history, issue 8 H: wallboard.core.agents.TimedPresence)
# 5: (State, AlertBook, AdherenceBook) (adherence, issue 7 T)
SCHEDULES_CONFIG = "schedules"  # wb:{site}:config:schedules (adherence, issue 7 T)
PICKLE_PROTOCOL = 5
READ_COUNT = 500
TICK_S = 1.0
MAX_BLOCK_MS = 1000
HEALTH_EVERY_S = 2.0
FINAL_WRITE_TIMEOUT_S = 5.0
EVALUATE_EVERY_S = 1.0  # thresholds are evaluated at most this often (about 6 us per target and threshold)
THRESHOLDS_POLL_S = 5.0  # re-read the stored thresholds this often even without a notice
THRESHOLDS_CONFIG = "thresholds"  # wb:{site}:config:thresholds
CONFIG_RETRY_S = 1.0
# trend (issue 6 E): per-queue sparkline samples, see "# -- trend" below
TREND_EVERY_S = 10.0
TREND_KEEP_S = 65 * 60.0

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    ConnectionError,
    TimeoutError,
)
FATAL_ERRORS: tuple[type[BaseException], ...] = (AuthenticationError, AuthorizationError, NoPermissionError)

Clock = Callable[[], datetime]


class RunnerError(StartupError):
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
    alert_records: int = 0
    alert_actions_rejected: Counter[str] = field(default_factory=Counter)
    config_errors: int = 0


def encode_state(state: State, book: AlertBook | None = None, adherence: AdherenceBook | None = None) -> bytes:
    """The checkpoint payload: the payload format version, the State, the alert and adherence books, pickled."""
    return pickle.dumps((CHECKPOINT_FORMAT, state, book, adherence), protocol=PICKLE_PROTOCOL)


def decode_payload(payload: bytes) -> tuple[State, AlertBook | None]:
    """The State and alert book of a checkpoint payload; raises UnreadableCheckpointError if this version cannot."""
    state, book, _ = decode_checkpoint(payload)
    return state, book


def decode_checkpoint(payload: bytes) -> tuple[State, AlertBook | None, AdherenceBook | None]:
    """State, alert book and adherence book of a payload; raises UnreadableCheckpointError if this version cannot."""
    try:
        loaded = pickle.loads(payload)  # Redis is trusted infrastructure: see the module docstring
    except Exception as exc:  # unpickling can raise nearly anything for foreign or stale data
        raise UnreadableCheckpointError(f"cannot unpickle: {exc!r}") from exc
    if not isinstance(loaded, tuple) or len(loaded) != 4 or loaded[0] != CHECKPOINT_FORMAT:
        version = loaded[0] if isinstance(loaded, tuple) and loaded else None
        raise UnreadableCheckpointError(f"format {version!r}, expected {CHECKPOINT_FORMAT}")
    _, state, book, adherence = loaded
    if not isinstance(state, State) or not isinstance(book, AlertBook | None):
        raise UnreadableCheckpointError(f"holding {type(state).__name__} and {type(book).__name__}")
    if not isinstance(adherence, AdherenceBook | None):
        raise UnreadableCheckpointError(f"holding {type(adherence).__name__} as the adherence book")
    return state, book, adherence


def decode_state(payload: bytes) -> State:
    """The State of a checkpoint payload; raises UnreadableCheckpointError if this version cannot use it."""
    return decode_payload(payload)[0]


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
        evaluate_every_s: float = EVALUATE_EVERY_S,
        thresholds_poll_s: float = THRESHOLDS_POLL_S,
    ) -> None:
        self.settings = settings
        self.store = store
        self.site_config = site_config
        self.clock = clock
        self.consumer = consumer
        self.tick_s = tick_s
        self.evaluate_every_s = evaluate_every_s
        self.thresholds_poll_s = thresholds_poll_s
        self.stats = RunnerStats()
        self.state: State | None = None
        self.book: AlertBook | None = None
        self.thresholds_version: int | None = None  # of the thresholds in force: 0 = the site file's
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
        self._records: list[str] = []  # alert records (JSON) waiting for the next publish
        self._history: dict[str, list[dict[str, Any]]] = {"queue": [], "agent": []}  # history (issue 8 H): rows
        self._last_evaluate = float("-inf")
        self._last_config_check = float("-inf")
        self._config_notice = False
        self._bad_config_version: object = None
        self._last_trend: datetime | None = None  # trend (issue 6 E): the clock at the last sample
        self.adherence: AdherenceBook | None = None  # adherence (issue 7 T): see "# -- adherence" below
        self._schedules_notice = False
        self._last_schedules_check = float("-inf")
        self._bad_schedules_version: object = None

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
        if self.state is not None and (
            self._changed
            or self._to_ack
            or self._records
            or any(self._history.values())
            or self.last_id != self._checkpointed_id
        ):
            await self._publish(checkpoint=True)
        self.stats.connected = False
        await self._write_health(force=True)

    async def _session(self) -> None:
        await self.store.ensure_group()
        if self.state is None:
            await self._restore()
        await self._adopt_stored_seq()
        await self._sync_thresholds(force=True)
        await self._sync_schedules(force=True)
        self._to_ack.clear()  # the pending list is the truth: resync re-reads every unacked entry
        await self._resync()
        self.stats.connected = self._ever_connected = True
        self._backoff.reset()
        log.info("engine for site %s resynced at stream id %s, seq %d", self.store.site, self.last_id, self.seq)
        watcher = asyncio.create_task(self._watch_config(), name=f"config-notices:{self.store.site}")
        try:
            await self._publish()
            await self._write_health(force=True)
            while True:
                entries = await self.store.read_new(self.consumer, READ_COUNT, self._block_ms())
                self._apply_entries(entries)
                await self._sync_thresholds()
                await self._sync_schedules()
                if self._publish_due():
                    await self._publish()
                await self._write_health()
        finally:
            watcher.cancel()
            await asyncio.wait({watcher})

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
                self.state, self.book = State(self.site_config), self._new_book()
                log.info("no checkpoint for site %s: starting from an empty state", self.store.site)
                return
            state, book, adherence = decode_checkpoint(checkpoint.payload)
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
        self.state, self.book = state, book if book is not None else self._new_book()
        self.adherence = adherence
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
        self.state, self.book, self.last_id = State(self.site_config), self._new_book(), None
        self.adherence = None  # a fresh one: the book knows nothing before its first observation
        try:
            bound = await self.store.last_delivered_id()
            start = "-"
            while bound is not None and (entries := await self.store.read_range(start, bound, READ_COUNT)):
                self._apply_entries(entries, ack=False)
                start = next_stream_id(entries[-1].id)
        except BaseException:
            self.state = self.book = self.last_id = None
            raise
        log.warning("rebuilt site %s from %d stream entries up to %s", self.store.site, self.stats.records, bound)

    def _new_book(self) -> AlertBook:
        """An empty alert book with the thresholds in force (the site file's until the stored ones are read)."""
        return AlertBook(self.site_config.thresholds, self.site_config.tz)

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
        if isinstance(event, AlertAction):
            self._apply_action(entry_id, event)
            return
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

    def _apply_action(self, entry_id: str, action: AlertAction) -> None:
        """An operator's action goes to the alert book (not the State: it is no contact-center event)."""
        assert self.book is not None
        try:
            record = self.book.apply(action)
        except ActionRejected as exc:
            log.info("alert action in stream entry %s refused (%s): %s", entry_id, exc.reason, exc)
            self.stats.alert_actions_rejected[exc.reason] += 1
            return
        self.stats.applied += 1
        self._queue_records([record])

    def _queue_records(self, records: Sequence[Record]) -> None:
        self._records.extend(json.dumps(record.as_dict(), separators=(",", ":")) for record in records)
        self.stats.alert_records += len(records)

    # -- thresholds and alerts ----------------------------------------------------------------

    async def _watch_config(self) -> None:
        """Flag a re-read of the thresholds on every notice of the config channel (the poll covers any outage)."""
        while True:
            try:
                async with self.store.subscribe_config() as notices:
                    self._config_notice = self._schedules_notice = True  # anything published before we subscribed
                    async for notice in notices:
                        if notice.get("type") == THRESHOLDS_CONFIG:
                            self._config_notice = True
                        elif notice.get("type") == SCHEDULES_CONFIG:
                            self._schedules_notice = True
            except TRANSIENT_ERRORS as exc:
                log.debug("config notices of site %s interrupted (%s)", self.store.site, exc)
            await asyncio.sleep(CONFIG_RETRY_S)

    async def _sync_thresholds(self, *, force: bool = False) -> None:
        """Use the stored thresholds when their version changed (after a notice, or every thresholds_poll_s)."""
        assert self.book is not None
        if not (force or self._config_notice or self._since(self._last_config_check) >= self.thresholds_poll_s):
            return
        self._config_notice = False
        self._last_config_check = asyncio.get_running_loop().time()
        try:
            document = await self.store.load_config_checked(THRESHOLDS_CONFIG)
        except ConfigFormatError as exc:
            self._bad_config("unreadable", exc)
            return
        try:
            version, thresholds = _thresholds_of(document, self.site_config)
        except ThresholdError as exc:
            self._bad_config(document.get("version") if document is not None else None, exc)
            return
        if version == self.thresholds_version:
            return
        self.book.set_thresholds(thresholds)
        self.thresholds_version, self._bad_config_version = version, None
        source = "the site file" if version == 0 else f"version {version}"
        log.info("site %s: %d thresholds in force (%s)", self.store.site, len(thresholds.thresholds), source)

    def _bad_config(self, version: object, exc: Exception) -> None:
        """Log and count an unusable stored document once per version (it is re-read every poll)."""
        if version == self._bad_config_version:
            return
        self._bad_config_version = version
        self.stats.config_errors += 1
        log.error(
            "site %s: stored thresholds (version %s) are unusable, keeping version %s: %s",
            self.store.site,
            version,
            self.thresholds_version,
            exc,
        )

    def _evaluate_due(self) -> bool:
        return self._since(self._last_evaluate) >= self.evaluate_every_s

    async def _evaluate(self, figures: dict[str, Any], now: datetime) -> None:
        """Evaluate the thresholds on the snapshot about to be published plus the health hashes."""
        assert self.book is not None
        self._last_evaluate = asyncio.get_running_loop().time()
        if not self.book.thresholds.thresholds and not len(self.book):
            return
        health = await self.store.read_health()
        self._queue_records(self.book.evaluate(figures, now, health))

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
        assert self.state is not None and self.book is not None
        now_utc = self.clock()
        figures = self.state.snapshot(now_utc)
        self._drain_history()
        self._merge_adherence(figures, now_utc)  # adherence (issue 7 T): before the alerts read adherence_pct
        if self._evaluate_due():
            await self._evaluate(figures, now_utc)
        seq = self.seq + 1
        body = {**figures, "alerts": self.book.alerts(), "seq": seq, "stream_id": self.last_id}
        text = json.dumps(body, separators=(",", ":"))
        snapshot: dict[str, Any] = json.loads(text)  # what every reader sees: diff that, not Python tuples
        records = list(self._records)  # written with a checkpoint that includes them: exactly once
        history = await self._history_writes()  # the same for the closed interval rows (issue 8 H)
        stale = self.last_id != self._checkpointed_id
        with_checkpoint = bool(records) or bool(history) or (stale and (checkpoint or self._checkpoint_due()))
        payload = encode_state(self.state, self.book, self.adherence) if with_checkpoint else None
        # Until the write is known to have succeeded, readers may hold either state: forget the base
        # (and never reuse this seq for other content, should the write fail after all).
        previous, self.published, self.seq = self.published, None, seq
        extra: dict[str, Any] = {"alerts": records} if records else {}
        if history:
            extra["history"] = history
        await self.store.save_state(text, payload, self.last_id or "0-0", seq, **extra)
        del self._records[: len(records)]
        for rows in self._history.values():
            rows.clear()
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
        await self._sample_trend(snapshot, now_utc)  # trend (issue 6 E)

    # -- history (issue 8 H): closed interval rows, written once with the checkpoint that drained them -------

    def _drain_history(self) -> None:
        """Move the State's closed interval rows to the pending lists (the next save_state writes them)."""
        assert self.state is not None
        self._history["queue"] += self.state.drain_closed_intervals()
        self._history["agent"] += self.state.drain_closed_agent_intervals()

    async def _history_writes(self) -> list[HistoryWrite]:
        """The pending rows as stream writes, without the intervals their stream already has.

        A stream may have them when a save_state whose outcome we did not hear went through, or after a
        rebuild from the stream closed the same intervals again. Rows are trimmed (MINID) to the
        ``history_retention_days`` before the newest row's interval.
        """
        writes: list[HistoryWrite] = []
        keep_ms = self.settings.history_retention_days * 86_400_000
        for kind, rows in self._history.items():
            if not rows:
                continue
            ids = row_ids(rows)
            skip = written(ids, await self.store.last_history_id(kind))
            if skip:
                log.info("site %s: %d %s history rows were already written; skipped", self.store.site, skip, kind)
            pairs = zip(ids[skip:], rows[skip:], strict=True)
            entries = [(entry_id, json.dumps(row, separators=(",", ":"))) for entry_id, row in pairs]
            if entries:
                newest_ms = int(ids[-1].partition("-")[0])
                writes.append(HistoryWrite(kind, entries, f"{max(0, newest_ms - keep_ms)}-0"))
        return writes

    async def _ack_checkpointed(self) -> None:
        """XACK the entries the stored checkpoint covers (ids up to the checkpointed one)."""
        if not self._to_ack or self._checkpointed_id is None:
            return
        bound = stream_id_key(self._checkpointed_id)
        covered = [entry_id for entry_id in self._to_ack if stream_id_key(entry_id) <= bound]
        if covered:
            await self.store.ack(covered)
            self._to_ack = [entry_id for entry_id in self._to_ack if stream_id_key(entry_id) > bound]

    # -- adherence (issue 7 T): the schedule in force and the adherence figures ---------------

    def _adherence_book(self) -> AdherenceBook:
        if self.adherence is None:
            self.adherence = AdherenceBook(self.site_config)
        return self.adherence

    async def _sync_schedules(self, *, force: bool = False) -> None:
        """Put the stored schedule in force when its version changed (after a notice, or every thresholds_poll_s)."""
        book = self._adherence_book()
        if not (force or self._schedules_notice or self._since(self._last_schedules_check) >= self.thresholds_poll_s):
            return
        self._schedules_notice = False
        self._last_schedules_check = asyncio.get_running_loop().time()
        try:
            document = await self.store.load_config_checked(SCHEDULES_CONFIG)
        except ConfigFormatError as exc:
            self._bad_schedules("unreadable", exc)
            return
        version = document.get("version") if document is not None else 0
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            self._bad_schedules(version, ValueError(f"expected a positive integer version, read {version!r}"))
            return
        if version == book.version and (book.schedule is None) == (document is None):
            return
        try:
            schedule = None if document is None else schedule_from_document(document, self.site_config)
        except ScheduleError as exc:
            self._bad_schedules(version, exc)
            return
        book.set_schedule(schedule, version)
        self._bad_schedules_version, self._changed = None, True
        log.info("site %s: schedule version %d in force (%d agents)", self.store.site, version, len(book))

    def _bad_schedules(self, version: object, exc: Exception) -> None:
        """Log and count an unusable stored schedule once per version (it is re-read every poll)."""
        if version == self._bad_schedules_version:
            return
        self._bad_schedules_version = version
        self.stats.config_errors += 1
        kept = self.adherence.version if self.adherence is not None else 0
        log.error(
            "site %s: stored schedules (version %s) are unusable, keeping version %s: %s",
            self.store.site,
            version,
            kept,
            exc,
        )

    def _merge_adherence(self, figures: dict[str, Any], now: datetime) -> None:
        """The book observes the snapshot's agents; the snapshot gets the adherence fields (wallboard.core.snapshots).

        Without a schedule nothing is added, so a site without schedules publishes what it did before.
        """
        book = self._adherence_book()
        if book.schedule is None:
            return  # no schedule: the adherence fields stay absent (readers take absent as None)
        book.observe(figures["agents"], now)
        merge_figures(figures, book.figures(now), self.site_config)

    # -- trend (issue 6 E): the supervisor's sparklines ---------------------------------------

    async def _sample_trend(self, snapshot: dict[str, Any], now: datetime) -> None:
        """Every TREND_EVERY_S of the runner's clock: each queue's waiting and interval SL into the trend stream.

        A Redis that refuses the command (MINID needs Redis >= 6.2) stops the sampling with one error
        logged: the engine never stops for a sparkline.
        """
        if self._last_trend is not None and (now - self._last_trend).total_seconds() < TREND_EVERY_S:
            return
        self._last_trend = now
        try:
            await self.store.add_trend_sample(int(now.timestamp() * 1000), trend_sample(snapshot), TREND_KEEP_S)
        except ResponseError as exc:
            log.error("site %s: cannot write trend samples, sparklines stop (%s)", self.store.site, exc)
            self._last_trend = datetime.max.replace(tzinfo=UTC)

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
            "alerts_open": len(self.book) if self.book is not None else 0,
            "alert_records": stats.alert_records,
            "alert_actions_rejected": json.dumps(dict(stats.alert_actions_rejected), sort_keys=True),
            "config_errors": stats.config_errors,
        }
        if self.thresholds_version is not None:
            fields["thresholds_version"] = self.thresholds_version
        if stats.last_event_ts is not None:
            fields["last_event_ts"] = stats.last_event_ts
        if lag is not None:
            fields["lag"] = lag
        await self.store.write_health(COMPONENT, fields)


def trend_sample(snapshot: dict[str, Any]) -> dict[str, list[float | None]]:
    """trend (issue 6 E): {queue: [calls waiting, interval service_level_pct or None]} of a snapshot."""
    return {
        name: [queue.get("waiting", 0), (queue.get("interval") or {}).get("service_level_pct")]
        for name, queue in (snapshot.get("queues") or {}).items()
    }


def _thresholds_of(document: dict[str, Any] | None, site: SiteConfig) -> tuple[int, ThresholdSet]:
    """(version, thresholds) of a stored thresholds document; the site file's (version 0) when there is none.

    Raises ThresholdError when the document cannot be used: no positive integer version, invalid
    thresholds, or a queue or team the site file does not know.
    """
    if document is None:
        return 0, site.thresholds
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ThresholdError([Problem("version", f"expected a positive integer, read {version!r}")])
    thresholds = load_thresholds(document.get("thresholds") or [])
    problems = thresholds.check_against(site)
    if problems:
        raise ThresholdError(problems)
    return version, thresholds


async def run_engine(settings: Settings, site_config: SiteConfig) -> None:
    """Run the engine of ``site_config.site`` until cancelled, then write a final checkpoint.

    Without a Redis URL it uses the data directory's Redis (``wallboard.store.datadir.redis_link``), started
    here when no other process runs it. With webhooks configured (``settings.webhook_urls``) a ``Notifier``
    runs beside the engine as its own task: it only reads the alerts stream, so a failing
    receiver (or a notifier bug, logged) never holds the engine up.
    """
    with redis_link(settings) as link:
        await _run_engine(settings, site_config, link.url)


async def _run_engine(settings: Settings, site_config: SiteConfig, url: str) -> None:
    log.info("engine for site %s using Redis at %s", site_config.site, redacted_url(url))
    client = connect(url, client_name=f"wallboard-engine-{site_config.site}")
    store = Store(client, prefix=settings.key_prefix, site=site_config.site, maxlen=settings.stream_maxlen)
    runner = EngineRunner(settings, store, site_config)
    notifying = _start_notifier(settings, store)
    try:
        await runner.run()
    finally:
        if notifying is not None:
            notifying.cancel()
            await asyncio.wait({notifying})
        try:
            async with asyncio.timeout(FINAL_WRITE_TIMEOUT_S):
                await runner.close()
            log.info("engine for site %s stopped at stream id %s, seq %d", site_config.site, runner.last_id, runner.seq)
        except (*TRANSIENT_ERRORS, *FATAL_ERRORS) as exc:
            log.warning("engine for site %s stopped without a final checkpoint: %s", site_config.site, exc)
        finally:
            await client.aclose()


def _start_notifier(settings: Settings, store: Store) -> asyncio.Task[None] | None:
    """The webhook notifier as a task beside the engine, when receivers are configured."""
    if not settings.webhook_urls:
        return None
    task = asyncio.create_task(Notifier.from_settings(settings, store).run(), name=f"notifier:{store.site}")
    task.add_done_callback(_notifier_ended)
    return task


def _notifier_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the webhook notifier stopped; the engine goes on without it", exc_info=task.exception())
