"""The engine loop: read the site's event stream, feed the site book, publish snapshots and deltas, checkpoint.

What the engine knows (the State, the alert and adherence books, the rows and records waiting to be
written) is the pure ``SiteBook`` (``wallboard.core.site_book``, its theory of operation); this module is
the I/O around it. One runner per site, consumer ``engine`` of the stream's consumer group::

    start      ensure the group; restore the book from the checkpoint (or start empty)
    config     read the stored thresholds and schedules (see "Configuration" below)
    resync     XREADGROUP id 0...: entries delivered before a crash or an outage, never acked
    loop       XREADGROUP '>' BLOCK: new entries
    apply      each entry in stream order; an entry whose id <= the last applied id is skipped
               (already in the book: re-delivered after a restart); the book decodes and applies the
               others (a malformed one is logged, counted under its reason and skipped; the State also
               dedups by ``Event.key``)
    publish    every ``snapshot_interval_s`` when something changed, and at least once a second
               anyway, whatever the settings (time in state must tick, and the snapshot's ``ts`` is how
               ``/readyz`` and the pages tell a live engine from a stopped one): the book's snapshot at
               now, seq += 1, then in this order
               1. MULTI snapshot [+ checkpoint + the book's outbox] EXEC   2. PUBLISH the delta
               3. XACK what the stored checkpoint covers   4. the trend sample, when one is due. The
               checkpoint (the book pickled, megabytes on a busy day) is added at most every
               ``checkpoint_interval_s``, whenever the outbox holds alert records or interval rows, and on a
               graceful stop (``close()``).

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
is counted twice (``tests/wallboard/processes/test_engine.py`` kills runners between the steps to show it).

Redis going away (connection refused, reset, timeout, a replica turned read-only) is never fatal:
the runner logs "reconnecting in X s", backs off (``wallboard.core.backoff``), reconnects, resyncs
and goes on with the book it has in memory. Refused credentials are fatal and say so.

Time. Before each batch of entries and each snapshot the runner hands the State its clock
(``State.set_wall_clock``): an event stamped more than ``clock_tolerance_s`` after it (a line dated two
days ahead) is not applied (``clock_ahead`` in the snapshot's anomalies), so neither the published
windows nor a checkpoint ever get further ahead of the wall clock than that tolerance, and a restart
keeps today's figures. A rebuild from the stream screens the entries the same way.

Alerts. At a publish, at most every ``evaluate_every_s``, the runner reads the health hashes and the book
evaluates its thresholds on the snapshot about to be published plus those hashes. Every lifecycle
transition (of an evaluation, or of an operator's action) is a record XADDed to ``wb:{site}:alerts`` in
the same MULTI/EXEC as the snapshot and a checkpoint that includes the book after it, so a record is
written exactly once however the runner is killed; the published snapshot carries the open alerts as
``alerts``, which reach /ws clients as deltas. Notifications are another consumer's job
(``wallboard.processes.notify``, run beside the engine by ``run_engine``): the engine never waits for a webhook.

Interval history. The closed interval rows the book drained at a publish are written to
``wb:{site}:history:queue`` and ``wb:{site}:history:agent`` in the same MULTI/EXEC, the same way. A row's
stream id is its interval start in ms (``<ms>-<n>``); before writing, the runner drops the rows of
intervals the stream already has (a write whose reply was lost, a book rebuilt from the stream), so each
row is written exactly once however the runner is killed. XADD MINID keeps ``history_retention_days``.

Call log. The call records the book drained (``wallboard.core.calls``: one per finished call, numbered
by the State) go to ``wb:{site}:calls`` in the same MULTI/EXEC, with the next checkpoint written anyway
(they wait for it in the outbox: no checkpoint is forced for them). An entry's id is the call's ``finished``
time in ms, moved just after the newest entry when it is not later (a late event); records whose number
the stream already has (a write whose reply was lost) are skipped. A book rebuilt from the stream drops
the records of calls that finished before the newest stored one (written with the lost checkpoint) and
numbers the rest after it; a book started without a checkpoint numbers after the newest stored one
too. XADD MINID keeps ``history_retention_days`` before the newest record.

Trend. Every ``TREND_EVERY_S`` of the runner's clock each queue's calls waiting and interval service
level go to the trend stream (the supervisor's sparklines), kept ``TREND_KEEP_S``. A Redis that refuses
the command (MINID needs Redis >= 6.2) stops the sampling with one error logged.

Configuration. ``wb:{site}:config:thresholds`` and ``wb:{site}:config:schedules`` (written by the API, each
with a version) are read again when a notice of their type arrives on ``wb:{site}:config`` and every
``thresholds_poll_s`` anyway, by one function for both; the book decides what a document changes. A
document Redis holds but that is no JSON object is refused like an unusable one (logged once per version,
counted in ``config_errors``).

The loop and the order of its steps are this module; what a step writes is beside it:
``engine_writes`` (history rows, call log, trend samples), ``engine_config`` (the notice flags and the
reading of the documents), ``engine_health`` (the counters and the health hash's fields).

A checkpoint this version cannot read (an upgrade changed the classes, foreign data), or one made with
another site configuration (the site file changed: thresholds apply from the start of the day), is not
fatal: the book is rebuilt by replaying the stream up to the last entry the group delivered (a fresh
adherence book, too).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import AuthenticationError, AuthorizationError, NoPermissionError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wallboard.config import Settings, redacted_url
from wallboard.core.adherence.tracker import AdherenceBook
from wallboard.core.alerting import AlertBook
from wallboard.core.backoff import Backoff
from wallboard.core.deltas import diff
from wallboard.core.engine import State
from wallboard.core.site import SiteConfig
from wallboard.core.site_book import SiteBook, UnreadableCheckpointError
from wallboard.errors import StartupError
from wallboard.processes.engine_config import CONFIG_KINDS as CONFIG_KINDS
from wallboard.processes.engine_config import CONFIG_RETRY_S as CONFIG_RETRY_S
from wallboard.processes.engine_config import ConfigWatch as ConfigWatch
from wallboard.processes.engine_config import ConfigWatcher
from wallboard.processes.engine_health import RunnerStats as RunnerStats
from wallboard.processes.engine_health import health_fields
from wallboard.processes.engine_writes import TREND_KEEP_S as TREND_KEEP_S
from wallboard.processes.engine_writes import calls_write, continue_call_log, history_writes, sample_trend
from wallboard.processes.heap import release_free_memory
from wallboard.processes.notify import Notifier
from wallboard.store import CheckpointFormatError, Store, StreamEntry, connect, next_stream_id, stream_id_key
from wallboard.store.datadir import redis_link

log = logging.getLogger(__name__)

CONSUMER = "engine"
COMPONENT = "engine"
READ_COUNT = 500
TICK_S = 1.0
PUBLISH_AT_LEAST_EVERY_S = 1.0  # /readyz and the pages judge the engine alive by the age of the snapshot's ts
MAX_BLOCK_MS = 1000
HEALTH_EVERY_S = 2.0
FINAL_WRITE_TIMEOUT_S = 5.0
EVALUATE_EVERY_S = 1.0  # thresholds are evaluated at most this often (about 6 us per target and threshold)
THRESHOLDS_POLL_S = 5.0  # re-read the stored configuration documents this often even without a notice
TRIM_EVERY_S = 60.0  # the C heap's free pages go back to the system at most this often, after a checkpoint (heap.py)

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
    """Raised when the runner cannot go on (Redis refused our credentials)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        self.site_book: SiteBook | None = None  # None until restored (or rebuilt) from Redis
        self.seq = 0
        self.last_id: str | None = None
        self.published: dict[str, Any] | None = None
        self._backoff = backoff or Backoff(initial=0.1, cap=10.0)
        self._checkpointed_id: str | None = None
        self._to_ack: list[str] = []
        self._changed = False
        self._last_publish = float("-inf")
        self._last_checkpoint = float("-inf")
        self._last_trim = float("-inf")
        self._last_health = float("-inf")
        self._last_evaluate = float("-inf")
        self._ever_connected = False
        self._config = ConfigWatcher(store, TRANSIENT_ERRORS)

    # -- the site book's parts (None until restored): what the health hash, the demo and tests read --------

    @property
    def state(self) -> State | None:
        return self.site_book.state if self.site_book is not None else None

    @property
    def book(self) -> AlertBook | None:
        return self.site_book.alerts if self.site_book is not None else None

    @property
    def adherence(self) -> AdherenceBook | None:
        return self.site_book.adherence if self.site_book is not None else None

    @property
    def thresholds_version(self) -> int | None:
        """The version of the thresholds in force (0: the site file's), None before they were read."""
        return self.site_book.thresholds_version if self.site_book is not None else None

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
        book = self.site_book
        if book is not None and (
            self._changed or self._to_ack or book.pending or self.last_id != self._checkpointed_id
        ):
            await self._publish(checkpoint=True)
        self.stats.connected = False
        await self._write_health(force=True)

    async def _session(self) -> None:
        await self.store.events.ensure_group()
        if self.site_book is None:
            await self._restore()
        await self._adopt_stored_seq()
        await self._reload_config(force=True)
        self._to_ack.clear()  # the pending list is the truth: resync re-reads every unacked entry
        await self._resync()
        self.stats.connected = self._ever_connected = True
        self._backoff.reset()
        log.info("engine for site %s resynced at stream id %s, seq %d", self.store.site, self.last_id, self.seq)
        watcher = asyncio.create_task(self._config.watch(), name=f"config-notices:{self.store.site}")
        try:
            await self._publish()
            await self._write_health(force=True)
            while True:
                entries = await self.store.events.read_new(self.consumer, READ_COUNT, self._block_ms())
                self._apply_entries(entries)
                await self._reload_config()
                if self._publish_due():
                    await self._publish()
                await self._write_health()
        finally:
            watcher.cancel()
            await asyncio.wait({watcher})

    async def _resync(self) -> None:
        """Apply (or skip) the entries delivered to this consumer and never acknowledged."""
        after = "0"
        while entries := await self.store.events.read_pending(self.consumer, after=after, count=READ_COUNT):
            self._apply_entries(entries)
            after = entries[-1].id

    # -- restoring ----------------------------------------------------------------------------

    async def _restore(self) -> None:
        try:
            checkpoint = await self.store.events.load_checkpoint()
            if checkpoint is None:
                self.site_book = SiteBook(self.site_config, self.stats)
                log.info("no checkpoint for site %s: starting from an empty state", self.store.site)
                await continue_call_log(self.store, self.site_book)
                return
            book = SiteBook.restore(checkpoint.payload, self.stats)
        except (CheckpointFormatError, UnreadableCheckpointError) as exc:
            log.error("checkpoint of site %s is unreadable (%s): rebuilding from the stream", self.store.site, exc)
            await self._rebuild()
            return
        if book.site != self.site_config:
            log.warning(
                "site %s configuration changed since its checkpoint: rebuilding from the stream", book.site.site
            )
            await self._rebuild()
            return
        self.site_book = book
        self.last_id = self._checkpointed_id = checkpoint.stream_id
        self._last_checkpoint = asyncio.get_running_loop().time()  # as good as one written now
        self.seq = checkpoint.seq
        log.info(
            "restored site %s from its checkpoint at stream id %s, seq %d", self.store.site, self.last_id, self.seq
        )

    async def _rebuild(self) -> None:
        """A fresh book fed every entry the group has already delivered (what the lost checkpoint covered).

        Interrupted (Redis lost, or cancelled), it leaves no book behind: a partial one would be
        continued, or checkpointed by ``close()``, without the acknowledged entries it lacks.
        """
        book = self.site_book = SiteBook(self.site_config, self.stats)
        self.last_id = None
        try:
            bound = await self.store.events.last_delivered_id()
            start = "-"
            while bound is not None and (entries := await self.store.events.read_range(start, bound, READ_COUNT)):
                self._apply_entries(entries, ack=False)
                start = next_stream_id(entries[-1].id)
            await continue_call_log(self.store, book)
        except BaseException:
            self.site_book = self.last_id = None
            raise
        log.warning("rebuilt site %s from %d stream entries up to %s", self.store.site, self.stats.records, bound)

    async def _adopt_stored_seq(self) -> None:
        """Continue after the stored snapshot's seq (a write may have succeeded without us hearing back)."""
        stored = await self.store.events.load_snapshot()
        if stored is not None and isinstance(stored.get("seq"), int) and stored["seq"] >= self.seq:
            self.seq = stored["seq"]
            self.published = stored

    # -- applying -----------------------------------------------------------------------------

    def _apply_entries(self, entries: Sequence[StreamEntry], *, ack: bool = True) -> None:
        book = self.site_book
        assert book is not None
        self._set_wall_clock(book, self.clock())
        for entry in entries:
            if ack:
                self._to_ack.append(entry.id)
            if self.last_id is not None and stream_id_key(entry.id) <= stream_id_key(self.last_id):
                self.stats.ignored += 1
                continue
            self.last_id = entry.id
            self._changed = True
            self.stats.records += 1
            event = book.decode(entry.id, entry.data)
            if event is not None:
                book.apply(entry.id, event)

    def _set_wall_clock(self, book: SiteBook, now: datetime) -> None:
        """Events stamped after now + ``clock_tolerance_s`` are not applied (see "Time" in the module docstring)."""
        book.state.set_wall_clock(now, self.settings.clock_tolerance_s)

    # -- configuration ------------------------------------------------------------------------

    async def _reload_config(self, *, force: bool = False) -> None:
        """Hand each stored document to the book after a notice of its type, or every thresholds_poll_s."""
        for kind in CONFIG_KINDS:
            assert self.site_book is not None
            if await self._config.reload(self.site_book, kind, poll_s=self.thresholds_poll_s, force=force):
                self._changed = True

    # -- publishing ---------------------------------------------------------------------------

    def _since(self, moment: float) -> float:
        return asyncio.get_running_loop().time() - moment

    def _publish_in(self) -> float:
        """Seconds until the next publish is due (<= 0: now): never more than PUBLISH_AT_LEAST_EVERY_S after the
        last, whatever ``snapshot_interval_s`` says, so the snapshot's ``ts`` shows readers the engine is alive."""
        interval = self.settings.snapshot_interval_s
        due = interval if self._changed else max(interval, self.tick_s)
        return min(due, PUBLISH_AT_LEAST_EVERY_S) - self._since(self._last_publish)

    def _publish_due(self) -> bool:
        return self._publish_in() <= 0

    def _block_ms(self) -> int:
        remaining = self._publish_in()
        return 1 if remaining <= 0 else max(1, min(MAX_BLOCK_MS, int(remaining * 1000)))

    def _checkpoint_due(self) -> bool:
        stale = self.last_id != self._checkpointed_id
        return stale and self._since(self._last_checkpoint) >= self.settings.checkpoint_interval_s

    async def _health_to_evaluate(self, book: SiteBook) -> dict[str, dict[str, str]] | None:
        """The health hashes when the thresholds are to be evaluated now (at most every evaluate_every_s), else None."""
        if self._since(self._last_evaluate) < self.evaluate_every_s:
            return None
        self._last_evaluate = asyncio.get_running_loop().time()
        return await self.store.events.read_health() if book.evaluates else None

    async def _publish(self, *, checkpoint: bool = False) -> None:
        """Snapshot, then store it (with the checkpoint when due), then publish the delta, then ack."""
        book = self.site_book
        assert book is not None
        now_utc = self.clock()
        self._set_wall_clock(book, now_utc)
        seq = self.seq + 1
        body = {**book.publish(now_utc, await self._health_to_evaluate(book)), "seq": seq, "stream_id": self.last_id}
        text = json.dumps(body, separators=(",", ":"))
        snapshot: dict[str, Any] = json.loads(text)  # what every reader sees: diff that, not Python tuples
        records = list(book.records)  # written with a checkpoint that includes them: exactly once
        keep_days = self.settings.history_retention_days
        history = await history_writes(self.store, book.rows, keep_days)  # the same for the closed interval rows
        stale = self.last_id != self._checkpointed_id
        with_checkpoint = bool(records) or bool(history) or (stale and (checkpoint or self._checkpoint_due()))
        # call records wait for a checkpoint that is due anyway (they are many: none is forced for them)
        calls = await calls_write(self.store, book.calls, keep_days) if with_checkpoint else None
        payload = book.checkpoint() if with_checkpoint else None
        # Until the write is known to have succeeded, readers may hold either state: forget the base
        # (and never reuse this seq for other content, should the write fail after all).
        previous, self.published, self.seq = self.published, None, seq
        extra: dict[str, Any] = {"alerts": records} if records else {}
        if history:
            extra["history"] = history
        self.store.events.stage_calls(calls)  # the call log goes in the same MULTI
        await self.store.events.save_state(text, payload, self.last_id or "0-0", seq, **extra)
        book.saved(len(records), calls=with_checkpoint)
        now = asyncio.get_running_loop().time()
        self.published = snapshot
        self._changed = False
        self._last_publish = now
        if payload is not None:
            self._checkpointed_id, self._last_checkpoint = self.last_id, now
            if self._since(self._last_trim) >= TRIM_EVERY_S:  # the pickled payload just went: give pages back
                self._last_trim = now
                release_free_memory()
        self.stats.published += 1
        changes = diff(previous or {}, snapshot)
        base = seq - 1 if previous is not None else None  # None: readers re-read the snapshot key
        await self.store.events.publish_delta({"type": "delta", "seq": seq, "base": base, "changes": changes})
        await self._ack_checkpointed()
        await sample_trend(self.store, book, snapshot, now_utc)

    async def _ack_checkpointed(self) -> None:
        """XACK the entries the stored checkpoint covers (ids up to the checkpointed one)."""
        if not self._to_ack or self._checkpointed_id is None:
            return
        bound = stream_id_key(self._checkpointed_id)
        covered = [entry_id for entry_id in self._to_ack if stream_id_key(entry_id) <= bound]
        if covered:
            await self.store.events.ack(covered)
            self._to_ack = [entry_id for entry_id in self._to_ack if stream_id_key(entry_id) > bound]

    # -- health -------------------------------------------------------------------------------

    async def _write_health(self, *, force: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        if not force and now - self._last_health < HEALTH_EVERY_S:
            return
        self._last_health = now
        lag = await self.store.events.stream_lag() if self.stats.connected else None
        fields = health_fields(
            self.stats,
            state=self.state,
            seq=self.seq,
            updated_ts=self.clock().timestamp(),
            alerts_open=len(self.book) if self.book is not None else 0,
            thresholds_version=self.thresholds_version,
            lag=lag,
        )
        await self.store.events.write_health(COMPONENT, fields)


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
