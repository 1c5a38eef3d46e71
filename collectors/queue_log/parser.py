"""Asterisk queue_log: lines (or rows of a CSV export) in, normalised events out. Pure: no I/O, no clock.

Theory of operation
-------------------
:class:`QueueLogMapper` is the one object a collector or a replay feeds. A line is split into a
:class:`~collectors.queue_log.records.Record` (``records.py``: the five fixed columns checked, trailing
empty data fields dropped); a row of the CSV export gives the same record (``csv_export.py``). The
record's verb picks its function in ``verbs.HANDLERS`` (``verbs.py``: app_queue.c's data layouts and
the mapping choices), and the events wait in a reorder window (``reorder.py``). Per record, exactly
one of these happens:

* it is a byte-identical repeat of a recently seen record (same second, same text): ``duplicates``;
  the memory is two generations of ``dedup_memory`` lines each, so it is bounded;
* it lacks what names its call or outcome (call id, queue, agent), or cannot be read: logged at
  WARNING with the line number and an excerpt, counted in ``rejected`` and ``rejected_by_reason``
  (never raised out of ``feed*``); a record that only lacks a figure is mapped and counted ``degraded``;
* it is known to carry nothing for the wallboard (RINGCANCELED, CONFIGRELOAD, DID, vendor verbs,
  the first QUEUESTART, ...): ``ignored``;
* it yields events, which wait in the reorder buffer.

Every non-blank line counts in ``records``; blank lines count nowhere. A line ends at LF, CRLF or a
bare CR (old Mac files): a line fed with line ends inside it is split there (:meth:`QueueLogMapper.feed_lines`).

Ordering: real files are out of order by a second, edited ones by far more. Events are released,
sorted by time and stable, once a record more than ``reorder_window_s`` newer has been read, or by
:meth:`QueueLogMapper.finish`. A record older than what was already released is released at once, as
it is (never dropped). ``finish()`` may be called whenever the input is idle (a tail poll found
nothing) and feeding may continue after it.

QUEUESTART after any accepted record means the PBX restarted: SourceReset(reason="restart").

Idempotency key: ``ql:<epoch>:<blake2b-64 of the record's canonical line>`` (:meth:`Record.line`),
stable across file rotation and identical for the CSV and pipe forms of a record. Exact repeats are
dropped, so distinct records cannot share a key short of a 64-bit collision. A record that yields
two events keys the extra one ``<key>/transfer``.

Speed (a day's replay, 1 M lines through parser and engine, should take well under 10 s): a line is
one ``str.split`` and a handful of dict lookups, no regex; a record is a NamedTuple built without its
Python ``__new__``; the handler fills the one dict of fields it is given. Events are built without
running the validators again (``verbs.construct``, half the cost of validating, which in turn is
cheaper than ``model_construct``) when the mapper can vouch for every field: the record's text is at
most ``TRUSTED_CHARS`` long (so every field is within the models' length limits) and has no lone
surrogates, site and source passed the models once, and the handlers check the rest (non-empty
names, non-negative numbers, fixed literals). Any other record is validated (``verbs.new``) and
rejected as ``invalid`` when it fails, as before. The datetime of an epoch second is computed once
while it is recent (a step from the last one is a timedelta addition). :meth:`QueueLogMapper.feed_lines`
is :meth:`QueueLogMapper.feed_line` for a block of lines: a replay's hot loop.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from collectors.clock import ClockGuard
from collectors.queue_log.csv_export import parse_csv_row
from collectors.queue_log.records import MalformedLine, Record, split_line
from collectors.queue_log.reorder import ReorderBuffer
from collectors.queue_log.verbs import HANDLERS, Build, Fields, bad, construct, new
from wallboard.core.events import Event, SourceReset

__all__ = ["QueueLogMapper"]

logger = logging.getLogger(__name__)

_MAX_UNKNOWN_VERBS_LOGGED = 64
_TIMES_CACHED = 4096  # epoch seconds whose datetime is kept (cleared when full: a cache, not a memory)
_STEPS = 3600
_STEP = tuple(timedelta(seconds=step) for step in range(_STEPS))
_blake2b = hashlib.blake2b
# A record text this short keeps every field within the events' length limits (Name: 256), so when it also
# has no lone surrogates and site and source are valid, the handlers' checks are all validation would do.
TRUSTED_CHARS = 256
_PROBE_TS = datetime(2000, 1, 1, tzinfo=UTC)
# The figure of an event a record should carry, and the reason a record without it is counted as degraded.
_FIGURES = {
    "call_answered": ("wait_s", "holdtime"),
    "call_ended": ("talk_s", "talktime"),
    "call_abandoned": ("wait_s", "waittime"),
    "call_exited": ("wait_s", "waittime"),
}


class QueueLogMapper:
    """Feed records (or raw lines, or CSV rows) in reading order; get events in timestamp order.

    Counters: ``records`` (non-blank lines read), ``rejected`` (and ``rejected_by_reason``),
    ``ignored``, ``duplicates``, ``reconnects`` (QUEUESTART after other records: PBX restarts), and
    ``degraded`` (and ``degraded_by_reason``: ``holdtime``, ``talktime``, ``waittime``): records mapped
    whose wait or talk figure was absent or not a number (they count in the other counters as usual).
    """

    def __init__(
        self,
        *,
        site: str = "default",
        source: str = "queue_log",
        reorder_window_s: int = 2,
        dedup_memory: int = 4096,
        clock: ClockGuard | None = None,
    ) -> None:
        if reorder_window_s < 0:
            raise ValueError(f"reorder_window_s must be >= 0, got {reorder_window_s}")
        if dedup_memory < 1:
            raise ValueError(f"dedup_memory must be >= 1, got {dedup_memory}")
        self._site = site
        self._source = source
        self._dedup_memory = dedup_memory
        self._clock = clock  # live sources: records stamped beyond its tolerance are rejected (clock_ahead)
        self.records = 0
        self.rejected = 0
        self.ignored = 0
        self.duplicates = 0
        self.reconnects = 0
        self.rejected_by_reason: dict[str, int] = {}
        self.degraded = 0  # records mapped without one of their figures (see _FIGURES)
        self.degraded_by_reason: dict[str, int] = {}
        self._seen: set[str] = set()
        self._seen_before: set[str] = set()
        self._buffer: ReorderBuffer[Event] = ReorderBuffer(reorder_window_s)
        self._started = False
        self._times: dict[int, datetime] = {}
        self._last_epoch = 0
        self._last_time = datetime.fromtimestamp(0, UTC)
        self._unknown_verbs: set[str] = set()
        self._trusted = _valid_names(site, source)
        self._line_shift = 0  # lines found inside the lines fed (line ends inside them)

    def feed_line(self, line: str | bytes, lineno: int) -> list[Event]:
        """Parse and feed one line; a bad line is logged, counted in ``rejected`` and yields nothing."""
        return self.feed_lines((line,), lineno)

    def feed_lines(self, lines: Iterable[str | bytes], lineno: int) -> list[Event]:
        """:meth:`feed_line` for consecutive lines, the first being line ``lineno`` (a replay's hot loop).

        A line may hold several lines (ended by bare CRs: a file with old Mac line ends, read by a
        reader that splits at LF only): each is fed on its own, and the line numbers of everything
        fed later move on by the extra lines found (``lineno`` counts what the caller split).
        """
        return self._feed_lines(lines, lineno + self._line_shift)

    def _feed_lines(self, lines: Iterable[str | bytes], lineno: int) -> list[Event]:
        out: list[Event] = []
        feed = self._feed
        for line in lines:
            text = (line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line).rstrip("\r\n")
            if "\r" in text or "\n" in text:
                parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
                out += self._feed_lines(parts, lineno)
                self._line_shift += len(parts) - 1
                lineno += len(parts) - 1
            elif text and not text.isspace():
                try:
                    record = split_line(text, lineno)
                except MalformedLine as exc:
                    self.records += 1
                    self._reject(exc)
                else:
                    if text[0] == "0":  # not canonical: zero-padded epoch
                        text = record.line()
                    elif text[-1] == "|":  # not canonical: trailing empty fields (the verb is never empty)
                        text = text.rstrip("|")
                    out += feed(record, text)
            lineno += 1
        return out

    def feed_csv_row(self, row: Mapping[str, str], lineno: int) -> list[Event]:
        """Like :meth:`feed_line`, for a row of :func:`~collectors.queue_log.csv_export.read_csv`."""
        try:
            record = parse_csv_row(row, lineno)
        except MalformedLine as exc:
            self.records += 1
            self._reject(exc)
            return []
        return self.feed(record)

    def feed(self, record: Record) -> list[Event]:
        """Map one record; return the events now ready for release (see the module docstring)."""
        return self._feed(record, record.line())

    def finish(self) -> list[Event]:
        """Release every held event (end of input, or the input is idle); feeding may continue."""
        return self._buffer.flush()

    def continue_after(self) -> None:
        """Reading resumes after records fed to an earlier mapper: a QUEUESTART from now on is a PBX restart."""
        self._started = True

    @property
    def pending(self) -> int:
        """Records whose events are held in the reorder buffer."""
        return len(self._buffer)

    @property
    def held_from(self) -> int | None:
        """The smallest line number (as fed) of a record whose events are still held; None when none is."""
        return self._buffer.first_mark

    def _feed(self, record: Record, text: str) -> list[Event]:
        self.records += 1
        seen = self._seen
        if text in seen or text in self._seen_before:
            self.duplicates += 1
            return []
        if len(seen) >= self._dedup_memory:
            self._seen_before = seen
            seen = self._seen = set()
        seen.add(text)
        if self._clock is not None and self._clock.ahead(record.ts):
            ahead = f"more than {self._clock.tolerance_s:g} s ahead of this host's clock{self._clock.skew_note}"
            self._reject(MalformedLine(record.lineno, "clock_ahead", f"epoch {record.ts} is {ahead}", text))
            return []
        try:
            events = self._map(record, text)
        except MalformedLine as exc:
            self._reject(exc)
            return []
        self._started = True
        if not events:
            self.ignored += 1
            return []
        for event in events:
            figure = _FIGURES.get(event.kind)
            if figure is not None and getattr(event, figure[0]) is None:
                self._degrade(figure[1], record)
        return self._buffer.push(record.ts, events, record.lineno)

    def _degrade(self, reason: str, record: Record) -> None:
        self.degraded += 1
        self.degraded_by_reason[reason] = self.degraded_by_reason.get(reason, 0) + 1
        logger.debug(
            "queue_log line %d: %s without its %s: counted, the figure unknown", record.lineno, record.verb, reason
        )

    def _reject(self, exc: MalformedLine) -> None:
        self.rejected += 1
        self.rejected_by_reason[exc.reason] = self.rejected_by_reason.get(exc.reason, 0) + 1
        logger.warning("rejected queue_log %s", exc)

    def _map(self, rec: Record, text: str) -> list[Event]:
        handler = HANDLERS.get(rec.verb)
        if handler is None and rec.verb != "QUEUESTART":
            self._note_unknown(rec.verb)
            return []
        epoch = rec.ts
        ts = self._times.get(epoch) or self._when(rec)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (str input): the validators reject them
            data = text.encode("utf-8", "surrogatepass")
            build: Build = new
        else:
            build = construct if self._trusted and len(text) <= TRUSTED_CHARS else new
        digest = _blake2b(data, digest_size=8).hexdigest()
        common = {"ts": ts, "site": self._site, "source": self._source, "key": f"ql:{epoch}:{digest}"}
        try:
            if handler is None:
                return self._queuestart(rec, common, build)
            return handler(rec, common, build)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise bad(rec, "invalid", f"{where}: {first['msg']}") from None

    def _when(self, rec: Record) -> datetime:
        """The record's time as an aware UTC datetime, remembered for the next records of that second.

        A second shortly after the last one computed is that one plus a precomputed timedelta (the
        same value as ``fromtimestamp``, for a third of its cost).
        """
        epoch = rec.ts
        step = epoch - self._last_epoch
        try:
            ts = self._last_time + _STEP[step] if 0 < step < _STEPS else datetime.fromtimestamp(epoch, UTC)
        except (OverflowError, OSError, ValueError):
            raise bad(rec, "epoch", f"epoch {epoch} is out of range") from None
        self._last_epoch, self._last_time = epoch, ts
        times = self._times
        if len(times) >= _TIMES_CACHED:
            times.clear()
        times[epoch] = ts
        return ts

    def _queuestart(self, rec: Record, common: Fields, build: Build) -> list[Event]:
        if not self._started:
            return []
        self.reconnects += 1
        logger.info("queue_log line %d: QUEUESTART after other records: the PBX restarted", rec.lineno)
        common["reason"] = "restart"
        return [build(SourceReset, common)]

    def _note_unknown(self, verb: str) -> None:
        if verb not in self._unknown_verbs and len(self._unknown_verbs) < _MAX_UNKNOWN_VERBS_LOGGED:
            self._unknown_verbs.add(verb)
            logger.debug("ignoring queue_log verb %r (not used by the wallboard)", verb)


def _valid_names(site: str, source: str) -> bool:
    """Whether every event accepts ``site`` and ``source`` (else each one is validated, and rejected)."""
    try:
        new(SourceReset, {"ts": _PROBE_TS, "site": site, "source": source, "reason": "restart"})
    except ValidationError:
        return False
    return True
