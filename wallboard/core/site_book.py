"""The site book: everything the engine knows about one site, fed stream entries and read at each publish. Pure.

Theory of operation. A ``SiteBook`` owns what the engine of one site keeps between two stream entries;
nothing here does I/O or reads the clock (``now`` is always an argument)::

    state      the contact-center ``State`` (``wallboard.core.engine``): events in, figures out
    alerts     the ``AlertBook`` (``wallboard.core.alerting``): thresholds evaluated on the figures, and
               the operators' actions (``alert_action`` entries: ack, snooze, note) in stream order
    adherence  the ``AdherenceBook`` (``wallboard.core.adherence.tracker``): the schedule in force, fed the
               snapshot's agents at every publish
    outbox     ``records`` (alert lifecycle transitions, JSON), ``rows`` (the State's closed interval
               rows per queue and per agent, ``wallboard.core.history``) and ``calls`` (the State's call
               log records, numbered, ``wallboard.core.calls``) waiting to be written

A runner (``wallboard.processes.engine``) turns each stream entry into an event (``decode``) and hands it
over (``apply``): contact-center events go to the State, alert actions to the alert book (never to the
State: they are no contact-center event); a malformed entry, an event of another site, an engine failure
or a refused action is logged and counted by reason in ``counts``. At a publish, ``publish(now)`` is the
snapshot: the State's figures, the adherence fields merged in (before the evaluation, so that
``adherence_pct`` thresholds read them; a site without a schedule gets none) and the open alerts. It
drains the State's closed interval rows into the outbox, and when the runner passes the health hashes it
evaluates the thresholds, whose transitions join the outbox with those of the actions. The runner writes
the outbox in the same MULTI/EXEC as the snapshot and a checkpoint of the book taken after it, then calls
``saved``: so a record or row is written exactly once however the runner is killed. Every
``TREND_EVERY_S`` of the runner's clock a published snapshot also gives a trend sample (``sample_trend``:
each queue's calls waiting and interval service level, the supervisor's sparklines).

Configuration documents. Thresholds and schedules are stored by the API as ``{"version": n, ...}``; the
site file's thresholds and no schedule are in force without one (version 0). ``reload(kind, document)``
is the one path for both (``ConfigKind``): a document whose version is the one in force changes nothing
(and is not parsed again); another is parsed and put in force. One it cannot use (no integer version,
invalid content, a queue or team the site file does not know) is logged once per version, counted in
``config_errors`` and ignored: what is in force stays.

Checkpoint. ``checkpoint()`` is the State, the alert book and the adherence book pickled (protocol 5)
behind a format version, ``restore(payload)`` the book again; the outbox and the trend clock are not in
it (the runner writes the outbox with the checkpoint that follows the drain). Redis is trusted
infrastructure (the same trust as the events: whoever can write the stream can forge the figures
anyway); never point the wallboard at a Redis others can write. A payload this version cannot read (an
older format, other classes, foreign data) raises ``UnreadableCheckpointError``; the runner then rebuilds
the book from the stream.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from wallboard.core.adherence.schedule import CONFIG_NAME as SCHEDULES_NAME
from wallboard.core.adherence.schedule import RowProblem, Schedule, ScheduleError, schedule_from_document
from wallboard.core.adherence.tracker import AdherenceBook, merge_figures
from wallboard.core.alerting import ActionRejected, AlertBook, Record
from wallboard.core.engine import State
from wallboard.core.events import AlertAction, Event, parse_event
from wallboard.core.site import SiteConfig
from wallboard.core.thresholds import CONFIG_NAME as THRESHOLDS_NAME
from wallboard.core.thresholds import Problem, ThresholdError, ThresholdSet, load_thresholds
from wallboard.errors import WallboardError

__all__ = [
    "CHECKPOINT_FORMAT",
    "PICKLE_PROTOCOL",
    "SCHEDULES",
    "THRESHOLDS",
    "TREND_EVERY_S",
    "BookCounts",
    "ConfigKind",
    "SiteBook",
    "SiteBookError",
    "UnreadableCheckpointError",
    "decode_checkpoint",
    "decode_payload",
    "decode_state",
    "encode_state",
    "read_versioned",
    "trend_sample",
]

log = logging.getLogger(__name__)

# 2: State split into queues/agents/snapshots modules; 3: (State, AlertBook); 4: agents account interval
# time (wallboard.core.agents.TimedPresence, for the history rows); 5: (State, AlertBook, AdherenceBook)
CHECKPOINT_FORMAT = 5
PICKLE_PROTOCOL = 5
TREND_EVERY_S = 10.0  # one sparkline sample per queue this often (of the runner's clock)

T = TypeVar("T")
InForce = tuple[int, bool]  # (version, whether it is the site file's default) of a configuration in force


class SiteBookError(WallboardError):
    """Base of this module's errors."""


class UnreadableCheckpointError(SiteBookError):
    """A checkpoint payload is not a book this version can use (the runner then rebuilds from the stream)."""


@dataclass
class BookCounts:
    """What a runner's books applied and refused since it started (the engine's health hash shows them)."""

    applied: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    last_event_ts: float | None = None
    alert_records: int = 0
    alert_actions_rejected: Counter[str] = field(default_factory=Counter)
    config_errors: int = 0


class SiteBook:
    """One site's State, alert book, adherence book and outbox (see the module docstring)."""

    def __init__(
        self,
        site: SiteConfig,
        counts: BookCounts | None = None,
        *,
        state: State | None = None,
        alerts: AlertBook | None = None,
        adherence: AdherenceBook | None = None,
    ) -> None:
        self.site = site
        self.counts = counts if counts is not None else BookCounts()
        self.state = state if state is not None else State(site)
        self.alerts = alerts if alerts is not None else AlertBook(site.thresholds, site.tz)
        self.adherence = adherence if adherence is not None else AdherenceBook(site)
        self.thresholds_version: int | None = None  # of the thresholds in force: 0 = the site file's
        self.records: list[str] = []  # alert records (JSON) waiting for the next save
        self.rows: dict[str, list[dict[str, Any]]] = {"queue": [], "agent": []}  # closed interval rows, waiting
        self.calls: list[tuple[int, dict[str, Any]]] = []  # (number, row) of finished calls, waiting
        self._refused: dict[str, object] = {}  # per configuration kind: the version last logged as unusable
        self._last_trend: datetime | None = None  # the caller's clock at the last trend sample

    # -- stream entries -----------------------------------------------------------------------

    def decode(self, entry_id: str, data: bytes | None) -> Event | None:
        """The event of a stream entry's JSON (None: trimmed); None, logged and counted, when it cannot be applied."""
        if data is None:
            log.warning("stream entry %s was trimmed before the engine applied it (MAXLEN too small?)", entry_id)
            self._reject("trimmed")
            return None
        try:
            event = parse_event(data)
        except ValidationError as exc:
            reason = "bad_json" if any(e["type"] == "json_invalid" for e in exc.errors()) else "invalid_event"
            log.warning("skipping stream entry %s (%s): %s", entry_id, reason, exc.errors()[0].get("msg", exc))
            self._reject(reason)
            return None
        if event.site != self.site.site:
            log.warning("skipping stream entry %s: event of site %r in site %r", entry_id, event.site, self.site.site)
            self._reject("site_mismatch")
            return None
        return event

    def apply(self, entry_id: str, event: Event) -> None:
        """An event to the State, an alert action to the alert book; a failure is logged and counted."""
        if isinstance(event, AlertAction):
            self._apply_action(entry_id, event)
            return
        try:
            self.state.apply(event)
        except Exception:  # an engine bug on one event must not stop the wallboard
            log.exception("engine failed on stream entry %s (%s); skipped", entry_id, event.kind)
            self._reject("engine_error")
            return
        self.counts.applied += 1
        self.counts.last_event_ts = event.ts.timestamp()

    def _reject(self, reason: str) -> None:
        self.counts.rejected += 1
        self.counts.rejected_by_reason[reason] += 1

    def _apply_action(self, entry_id: str, action: AlertAction) -> None:
        try:
            record = self.alerts.apply(action)
        except ActionRejected as exc:
            log.info("alert action in stream entry %s refused (%s): %s", entry_id, exc.reason, exc)
            self.counts.alert_actions_rejected[exc.reason] += 1
            return
        self.counts.applied += 1
        self._queue_records([record])

    def _queue_records(self, records: Sequence[Record]) -> None:
        self.records.extend(json.dumps(record.as_dict(), separators=(",", ":")) for record in records)
        self.counts.alert_records += len(records)

    # -- publishing ---------------------------------------------------------------------------

    @property
    def evaluates(self) -> bool:
        """Whether an evaluation can change anything (thresholds in force, or open alerts to resolve)."""
        return bool(self.alerts.thresholds.thresholds) or len(self.alerts) > 0

    def publish(self, now: datetime, health: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The snapshot at ``now`` (figures, adherence fields, open alerts); the closed rows go to the outbox.

        With ``health`` (every component's health hash) the thresholds are evaluated first, on the
        figures with their adherence fields; without, the open alerts are those of the last evaluation.
        """
        figures = self.state.snapshot(now)
        self.rows["queue"] += self.state.drain_closed_intervals()
        self.rows["agent"] += self.state.drain_closed_agent_intervals()
        self.calls += self.state.drain_call_records()
        if self.adherence.schedule is not None:  # without a schedule the adherence fields stay absent
            self.adherence.observe(figures["agents"], now)
            merge_figures(figures, self.adherence.figures(now), self.site)
        if health is not None:
            self._queue_records(self.alerts.evaluate(figures, now, health))
        return {**figures, "alerts": self.alerts.alerts(), "pending": self.alerts.evaluator.pending_alerts()}

    @property
    def pending(self) -> bool:
        """Whether the outbox holds records or rows not written yet."""
        return bool(self.records) or any(self.rows.values()) or bool(self.calls)

    def saved(self, records: int, *, calls: bool = True) -> None:
        """The first ``records`` records, every row and (when ``calls``) call record were written with a checkpoint.

        The runner writes call records only with a checkpoint it writes anyway (``calls`` False: none written).
        """
        del self.records[:records]
        for rows in self.rows.values():
            rows.clear()
        if calls:
            self.calls.clear()

    def sample_trend(self, snapshot: Mapping[str, Any], now: datetime) -> dict[str, list[float | None]] | None:
        """The trend sample of a published snapshot when one is due at ``now`` (every TREND_EVERY_S), else None."""
        if self._last_trend is not None and (now - self._last_trend).total_seconds() < TREND_EVERY_S:
            return None
        self._last_trend = now
        return trend_sample(snapshot)

    def stop_trend(self) -> None:
        """No more trend samples (the store refused one: the engine never stops for a sparkline)."""
        self._last_trend = datetime.max.replace(tzinfo=UTC)

    # -- configuration ------------------------------------------------------------------------

    def reload(self, kind: ConfigKind[Any], document: Mapping[str, Any] | None) -> bool:
        """Put a stored document of ``kind`` in force unless its version is in force already (None: no document).

        Returns whether the published snapshot changes with it (a schedule does; thresholds act at the
        next evaluation). An unusable document is refused (``refuse``) and what is in force stays.
        """
        try:
            found = read_versioned(kind, document, self.site, kind.in_force(self))
        except WallboardError as exc:
            self.refuse(kind, document.get("version") if document is not None else None, exc)
            return False
        if found is None:
            return False
        self._refused[kind.name] = None
        return kind.put(self, *found)

    def refuse(self, kind: ConfigKind[Any], version: object, exc: Exception) -> None:
        """Log and count an unusable stored document once per version (it is read again at every poll)."""
        if version == self._refused.get(kind.name):
            return
        self._refused[kind.name] = version
        self.counts.config_errors += 1
        in_force = kind.in_force(self)
        log.error(
            "site %s: stored %s (version %s) are unusable, keeping version %s: %s",
            self.site.site,
            kind.name,
            version,
            in_force[0] if in_force is not None else None,
            exc,
        )

    def _thresholds_in_force(self) -> InForce | None:
        version = self.thresholds_version
        return None if version is None else (version, version == 0)

    def _put_thresholds(self, version: int, thresholds: ThresholdSet) -> bool:
        self.alerts.set_thresholds(thresholds)
        self.thresholds_version = version
        source = "the site file" if version == 0 else f"version {version}"
        log.info("site %s: %d thresholds in force (%s)", self.site.site, len(thresholds.thresholds), source)
        return False

    def _schedule_in_force(self) -> InForce:
        return self.adherence.version, self.adherence.schedule is None

    def _put_schedule(self, version: int, schedule: Schedule | None) -> bool:
        self.adherence.set_schedule(schedule, version)
        log.info("site %s: schedule version %d in force (%d agents)", self.site.site, version, len(self.adherence))
        return True

    # -- checkpoint ---------------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """The checkpoint payload of the book (its State, alert book and adherence book)."""
        return encode_state(self.state, self.alerts, self.adherence)

    @classmethod
    def restore(cls, payload: bytes, counts: BookCounts | None = None) -> SiteBook:
        """The book of a checkpoint payload, for the site its State was made with (compare it with yours).

        Raises UnreadableCheckpointError when this version cannot use the payload.
        """
        state, alerts, adherence = decode_checkpoint(payload)
        return cls(state.site, counts, state=state, alerts=alerts, adherence=adherence)


# -- configuration documents ----------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigKind(Generic[T]):
    """One kind of versioned configuration document the book reloads (see the module docstring)."""

    name: str  # its key (wb:{site}:config:<name>) and the ``type`` of its notices on wb:{site}:config
    first_version: int  # the lowest version a stored document may carry
    version_error: Callable[[object], WallboardError]
    parse: Callable[[Mapping[str, Any], SiteConfig], T]  # raises a WallboardError when the content is unusable
    default: Callable[[SiteConfig], T]  # in force without a stored document (version 0)
    in_force: Callable[[SiteBook], InForce | None]  # None: nothing read yet
    put: Callable[[SiteBook, int, T], bool]  # puts it in force; whether the snapshot changes


def read_versioned(
    kind: ConfigKind[T], document: Mapping[str, Any] | None, site: SiteConfig, in_force: InForce | None
) -> tuple[int, T] | None:
    """(version, content) of a stored document (None: none stored) unless it is the one in force (then None).

    Raises the kind's WallboardError when the version is no integer of at least ``first_version``, or
    when the content is unusable (only a document not in force is parsed).
    """
    if document is None:
        return None if in_force == (0, True) else (0, kind.default(site))
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < kind.first_version:
        raise kind.version_error(version)
    return None if in_force == (version, False) else (version, kind.parse(document, site))


def _thresholds_of(document: Mapping[str, Any], site: SiteConfig) -> ThresholdSet:
    """The thresholds of a stored document; ThresholdError when invalid or naming a queue or team the site lacks."""
    thresholds = load_thresholds(document.get("thresholds") or [])
    problems = thresholds.check_against(site)
    if problems:
        raise ThresholdError(problems)
    return thresholds


THRESHOLDS: ConfigKind[ThresholdSet] = ConfigKind(
    name=THRESHOLDS_NAME,
    first_version=1,
    version_error=lambda read: ThresholdError([Problem("version", f"expected a positive integer, read {read!r}")]),
    parse=_thresholds_of,
    default=lambda site: site.thresholds,
    in_force=SiteBook._thresholds_in_force,
    put=SiteBook._put_thresholds,
)
SCHEDULES: ConfigKind[Schedule | None] = ConfigKind(
    name=SCHEDULES_NAME,
    first_version=0,
    version_error=lambda read: ScheduleError([RowProblem(0, f"expected a positive integer version, read {read!r}")]),
    parse=schedule_from_document,
    default=lambda site: None,
    in_force=SiteBook._schedule_in_force,
    put=SiteBook._put_schedule,
)


# -- trend ------------------------------------------------------------------------------------------


def trend_sample(snapshot: Mapping[str, Any]) -> dict[str, list[float | None]]:
    """{queue: [calls waiting, interval service_level_pct or None]} of a snapshot."""
    return {
        name: [queue.get("waiting", 0), (queue.get("interval") or {}).get("service_level_pct")]
        for name, queue in (snapshot.get("queues") or {}).items()
    }


# -- checkpoint codec -------------------------------------------------------------------------------


def encode_state(state: State, book: AlertBook | None = None, adherence: AdherenceBook | None = None) -> bytes:
    """The checkpoint payload: the payload format version, the State, the alert and adherence books, pickled."""
    return pickle.dumps((CHECKPOINT_FORMAT, state, book, adherence), protocol=PICKLE_PROTOCOL)


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


def decode_payload(payload: bytes) -> tuple[State, AlertBook | None]:
    """The State and alert book of a checkpoint payload; raises UnreadableCheckpointError if this version cannot."""
    state, book, _ = decode_checkpoint(payload)
    return state, book


def decode_state(payload: bytes) -> State:
    """The State of a checkpoint payload; raises UnreadableCheckpointError if this version cannot use it."""
    return decode_payload(payload)[0]
