"""Asterisk queue_log: lines (or rows of a CSV export) in, normalised events out. Pure: no I/O, no clock.

Theory of operation
-------------------
A queue_log line is ``epoch|callid|queue|agent|VERB|data1|data2|...``. :func:`parse_line` only splits
and checks the five fixed columns, giving a :class:`Record`; trailing empty data fields are dropped
so that ``ADDMEMBER|`` and a CSV row with three empty params give the same record. :func:`parse_csv_row`
builds the same record from the CSV export schema (``uid,date_time,callid,queue_name,type,event,
param1,param2,param3,entpos,expos,htime,ttime,time``): data fields 1-3 are param1-3; the derived
columns are only fallbacks, listed per verb in ``_CSV_EXTRA`` (data fields 4-5: EXITWITHKEY's waittime
is ``htime``; a transfer's calltime is ``ttime`` and its origposition ``entpos``) and ``_CSV_FALLBACK``
(a transfer's holdtime is param3, else ``htime``).

:class:`QueueLogMapper` turns records into events through ``_HANDLERS``, one function per verb (the
data layouts are app_queue.c's ``ast_queue_log`` calls; older Asterisk wrote fewer fields, so every
field past the ones an event needs is optional). Per record, exactly one of these happens:

* it is a byte-identical repeat of a recently seen record (same second, same text): ``duplicates``;
  the memory is two generations of ``dedup_memory`` lines each, so it is bounded;
* it cannot be read or breaks its verb's layout: logged at WARNING with the line number and an
  excerpt, counted in ``rejected`` and ``rejected_by_reason`` (never raised out of ``feed*``);
* it is known to carry nothing for the wallboard (RINGCANCELED, CONFIGRELOAD, DID, vendor verbs,
  the first QUEUESTART, ...): ``ignored``;
* it yields events, which wait in a reorder buffer.

Every non-blank line counts in ``records``; blank lines count nowhere.

Ordering: real files are out of order by a second, edited ones by far more. Events are held in a
heap keyed ``(epoch, arrival)`` and released, sorted and stable, once a record more than
``reorder_window_s`` newer has been read, or by :meth:`QueueLogMapper.finish`. A record older than
what was already released is released at once, as it is (never dropped). ``finish()`` may be
called whenever the input is idle (a tail poll found nothing) and feeding may continue after it.

Mapping choices (the brief's open questions, settled):

* CONNECT gives one CallAnswered carrying ``ring_s`` (seconds); no extra AgentRang(answered=True).
* A transfer (TRANSFER, BLINDTRANSFER, ATTENDEDTRANSFER) gives CallTransferred, then
  CallEnded(ended_by="transfer", talk_s=calltime, wait_s=holdtime): queue_log writes no COMPLETE
  after it. Asterisk 1.2 wrote no calltime: talk_s is then 0.
* ABANDON / EXIT* ``position`` is the position when the caller left (the join position is in
  CallQueued). FULL / JOINEMPTY / JOINUNAVAIL are calls offered that never joined: CallExited
  with reason full / empty / empty and ``wait_s=0``. WITHDRAW is CallExited(reason="withdraw").
* The agent column names an interface when it contains ``/`` (``Local/agent01@agents/n``:
  ADDMEMBER/REMOVEMEMBER by default, every verb for members without a name), else a member name;
  events get ``interface`` or ``member_name`` accordingly and ``agent`` is the column verbatim.
* PAUSEALL / UNPAUSEALL give queue=None, and the per-queue PAUSE lines that follow are emitted too.
* AGENTLOGIN / AGENTLOGOFF / AGENTCALLBACK* (chan_agent) name no queue (``NONE``) in real Asterisk:
  AgentLogin needs one, so they are ignored unless a queue is named (vendor QueueLog() lines).
* QUEUESTART after any accepted record means the PBX restarted: SourceReset(reason="restart").

Speed (a day's replay, 1 M lines through parser and engine, should take at most 10 s): a line is one
``str.split`` and one dict lookup, no regex; a record is a NamedTuple; events are validated by the
models' own pydantic-core validators from a dict (``_new``: the checks of ``Model(**fields)`` without
its Python frame), which is about a quarter of the cost of a line.

Idempotency key: ``ql:<epoch>:<blake2b-64 of the record's canonical line>`` (:meth:`Record.line`),
stable across file rotation and identical for the CSV and pipe forms of a record. Exact repeats are
dropped, so distinct records cannot share a key short of a 64-bit collision. A record that yields
two events keys the extra one ``<key>/transfer``.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, TextIO, TypeVar

from pydantic import BaseModel, ValidationError

from wallboard.events import (
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallQueued,
    CallTransferred,
    Event,
    SourceReset,
)

__all__ = [
    "CSV_COLUMNS",
    "MalformedLine",
    "QueueLogError",
    "QueueLogMapper",
    "Record",
    "parse_csv_row",
    "parse_line",
    "read_csv",
]

logger = logging.getLogger(__name__)

FIXED_FIELDS = 5  # epoch|callid|queue|agent|VERB
EXCERPT_CHARS = 80
NOT_CALLS = frozenset({"", "NONE", "MANAGER", "REALTIME", "CLI"})
NOT_NAMES = frozenset({"", "NONE"})
CSV_COLUMNS = (
    "uid",
    "date_time",
    "callid",
    "queue_name",
    "type",
    "event",
    "param1",
    "param2",
    "param3",
    "entpos",
    "expos",
    "htime",
    "ttime",
    "time",
)
_CSV_REQUIRED = ("date_time", "callid", "queue_name", "type", "event", "param1", "param2", "param3")
# Data fields beyond param3 (fields 4, 5, ...) and the derived column each comes from, per verb.
_CSV_EXTRA: dict[str, tuple[str, ...]] = {
    "EXITWITHKEY": ("htime",),
    "TRANSFER": ("ttime", "entpos"),
    "BLINDTRANSFER": ("ttime", "entpos"),
    "ATTENDEDTRANSFER": ("ttime", "entpos"),
}
# The derived column used when param<index + 1> is empty, per verb.
_CSV_FALLBACK: dict[str, dict[int, str]] = {
    "TRANSFER": {2: "htime"},
    "BLINDTRANSFER": {2: "htime"},
    "ATTENDEDTRANSFER": {2: "htime"},
}
_MAX_UNKNOWN_VERBS_LOGGED = 64


class QueueLogError(Exception):
    """Base of the errors this module raises (a CSV stream without its header, a malformed line)."""


class MalformedLine(QueueLogError):
    """A line or row that cannot be read, or that breaks its verb's layout.

    ``reason`` is a short code for counters (``fields``, ``epoch``, ``verb``, ``queue``, ``call_id``,
    ``agent``, ``number``, ``invalid``); the message says what was read and what was expected.
    """

    def __init__(self, lineno: int, reason: str, detail: str, line: str) -> None:
        self.lineno = lineno
        self.reason = reason
        self.excerpt = line if len(line) <= EXCERPT_CHARS else line[:EXCERPT_CHARS] + "..."
        super().__init__(f"line {lineno}: {detail}: {self.excerpt!r}")


class Record(NamedTuple):
    """One queue_log record: the five fixed columns and the data fields (trailing empty ones dropped)."""

    ts: int
    call_id: str
    queue: str
    agent: str
    verb: str
    data: tuple[str, ...]
    lineno: int

    def line(self) -> str:
        """The canonical pipe form of the record (what dedup and the idempotency key are computed from)."""
        return "|".join((str(self.ts), self.call_id, self.queue, self.agent, self.verb, *self.data))


def _strip_trailing_empty(data: list[str]) -> tuple[str, ...]:
    while data and not data[-1]:
        data.pop()
    return tuple(data)


def _epoch(text: str, lineno: int, line: str) -> int:
    if not (text.isdigit() and text.isascii()):
        raise MalformedLine(lineno, "epoch", f"read epoch {text[:20]!r}, expected integer seconds", line)
    return int(text)


def parse_line(line: str, lineno: int) -> Record:
    """Split one queue_log line (trailing CR/LF allowed); raises :class:`MalformedLine`."""
    text = line.rstrip("\r\n")
    fields = text.split("|")
    if len(fields) < FIXED_FIELDS:
        detail = f"read {len(fields)} '|'-separated fields, expected at least {FIXED_FIELDS}"
        raise MalformedLine(lineno, "fields", detail, text)
    verb = fields[4]
    if not verb:
        raise MalformedLine(lineno, "verb", "empty verb", text)
    ts = _epoch(fields[0], lineno, text)
    return Record(ts, fields[1], fields[2], fields[3], verb, _strip_trailing_empty(fields[5:]), lineno)


def _csv_data(row: Mapping[str, str], verb: str) -> tuple[str, ...]:
    data = [row.get("param1") or "", row.get("param2") or "", row.get("param3") or ""]
    for index, column in _CSV_FALLBACK.get(verb, {}).items():
        if not data[index]:
            data[index] = row.get(column) or ""
    data.extend(row.get(column) or "" for column in _CSV_EXTRA.get(verb, ()))
    return _strip_trailing_empty(data)


def parse_csv_row(row: Mapping[str, str], lineno: int) -> Record:
    """Build the record of one row of the CSV export (see the module docstring); raises :class:`MalformedLine`."""
    text = ",".join(value or "" for value in row.values())
    missing = [column for column in _CSV_REQUIRED if row.get(column) is None]
    if missing:
        raise MalformedLine(lineno, "fields", f"row lacks {', '.join(missing)}", text)
    verb = row["event"]
    if not verb:
        raise MalformedLine(lineno, "verb", "empty event", text)
    ts = _epoch(row["date_time"].strip(), lineno, text)
    return Record(ts, row["callid"], row["queue_name"], row["type"], verb, _csv_data(row, verb), lineno)


def read_csv(stream: TextIO) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` for each data row of a CSV export; the header row is required.

    Column names are matched case-insensitively and may come in any order; a short row lacks the
    trailing columns (:func:`parse_csv_row` rejects it if it needs them); empty rows are skipped.
    Open the file with ``newline=""`` (the csv module's rule for quoted newlines). Raises
    :class:`QueueLogError` for a missing or wrong header and for text the csv module cannot read.
    """
    reader = csv.reader(stream)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise QueueLogError(f"empty CSV, expected the header {','.join(CSV_COLUMNS)}") from None
    except csv.Error as exc:
        raise QueueLogError(f"line 1: unreadable CSV header: {exc}") from exc
    missing = [column for column in _CSV_REQUIRED if column not in header]
    if missing:
        shown = ",".join(header)[:200]
        raise QueueLogError(f"CSV header {shown!r} lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
    try:
        for row in reader:
            if any(row):
                yield reader.line_num, dict(zip(header, row, strict=False))
    except csv.Error as exc:
        raise QueueLogError(f"line {reader.line_num}: unreadable CSV: {exc}") from exc


# --- mapping: one function per verb, (record, common fields) -> events; raise MalformedLine ------------

_Fields = dict[str, Any]
_Handler = Callable[[Record, _Fields], list[Event]]
_M = TypeVar("_M", bound=BaseModel)
_ExitReason = Literal["timeout", "key", "empty", "full", "withdraw"]
_EXIT_REASONS: dict[str, _ExitReason] = {
    "EXITWITHTIMEOUT": "timeout",
    "EXITEMPTY": "empty",
    "WITHDRAW": "withdraw",
    "FULL": "full",
    "JOINEMPTY": "empty",
    "JOINUNAVAIL": "empty",
}


def _new(model: type[_M], fields: _Fields) -> _M:
    """Validate ``fields`` into ``model``: the checks of ``model(**fields)`` without its Python frame."""
    event: _M = model.__pydantic_validator__.validate_python(fields)
    return event


def _bad(rec: Record, reason: str, detail: str) -> MalformedLine:
    return MalformedLine(rec.lineno, reason, f"{rec.verb}: {detail}", rec.line())


def _field(rec: Record, index: int) -> str:
    return rec.data[index] if index < len(rec.data) else ""


def _int(rec: Record, index: int, what: str) -> int | None:
    """Data field ``index`` as a non-negative integer, None when absent or empty."""
    text = rec.data[index] if index < len(rec.data) else ""
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise _bad(rec, "number", f"{what} {text[:20]!r} is not an integer") from None
    if value < 0:
        raise _bad(rec, "number", f"{what} {value} is negative")
    return value


def _secs(rec: Record, index: int, what: str) -> float | None:
    value = _int(rec, index, what)
    return None if value is None else float(value)


def _required_secs(rec: Record, index: int, what: str) -> float:
    value = _int(rec, index, what)
    if value is None:
        raise _bad(rec, "number", f"no {what} (data field {index + 1})")
    return float(value)


def _queue(rec: Record) -> str:
    if rec.queue in NOT_NAMES:
        raise _bad(rec, "queue", f"needs a queue, read {rec.queue!r}")
    return rec.queue


def _call_id(rec: Record) -> str:
    if rec.call_id in NOT_CALLS:
        raise _bad(rec, "call_id", f"needs a call id, read {rec.call_id!r}")
    return rec.call_id


def _agent(rec: Record) -> _Fields:
    """``agent`` plus ``interface`` or ``member_name``, as the agent column tells."""
    agent = rec.agent
    if agent in NOT_NAMES:
        raise _bad(rec, "agent", f"needs an agent, read {agent!r}")
    if "/" in agent:
        return {"agent": agent, "interface": agent}
    return {"agent": agent, "member_name": agent}


def _enterqueue(rec: Record, common: _Fields) -> list[Event]:
    # url|callerid|position[|callername]; Asterisk <= 1.4: url|callerid
    position = _int(rec, 2, "position")
    fields = {
        "call_id": _call_id(rec),
        "queue": _queue(rec),
        "position": 1 if position is None else position,
        "caller": _field(rec, 1),
        "caller_name": _field(rec, 3),
    }
    return [_new(CallQueued, common | fields)]


def _connect(rec: Record, common: _Fields) -> list[Event]:
    # holdtime|member-uniqueid|ringtime (seconds); old Asterisk: holdtime|bridged channel
    peer = _field(rec, 1)
    fields = {
        "call_id": _call_id(rec),
        "queue": _queue(rec),
        "wait_s": _required_secs(rec, 0, "holdtime"),
        "ring_s": _secs(rec, 2, "ringtime"),
        "agent_channel": peer if "/" in peer else None,
    }
    return [_new(CallAnswered, common | _agent(rec) | fields)]


def _ended(rec: Record, common: _Fields, talk_s: float, wait_s: float | None, ended_by: str) -> CallEnded:
    fields = {
        "call_id": None if rec.call_id in NOT_CALLS else rec.call_id,
        "queue": _queue(rec),
        "talk_s": talk_s,
        "wait_s": wait_s,
        "ended_by": ended_by,
    }
    return _new(CallEnded, common | _agent(rec) | fields)


def _complete(rec: Record, common: _Fields) -> list[Event]:
    # holdtime|talktime|origposition
    ended_by = "agent" if rec.verb == "COMPLETEAGENT" else "caller"
    return [_ended(rec, common, _required_secs(rec, 1, "talktime"), _secs(rec, 0, "holdtime"), ended_by)]


def _transferred(rec: Record, common: _Fields, target: str, times_at: int) -> list[Event]:
    wait_s = _secs(rec, times_at, "holdtime")
    talk_s = _secs(rec, times_at + 1, "calltime")
    ended = _ended(rec, common, talk_s or 0.0, wait_s, "transfer")
    fields = {"call_id": ended.call_id, "queue": ended.queue, "agent": ended.agent, "target": target}
    transferred = _new(CallTransferred, common | fields | {"key": f"{common['key']}/transfer"})
    return [transferred, ended]


def _transfer(rec: Record, common: _Fields) -> list[Event]:
    # TRANSFER / BLINDTRANSFER: extension|context|holdtime|calltime|origposition (Asterisk 1.2: extension|context)
    exten, context = _field(rec, 0), _field(rec, 1)
    return _transferred(rec, common, f"{exten}@{context}" if context else exten, 2)


def _attended_transfer(rec: Record, common: _Fields) -> list[Event]:
    # BRIDGE|uid|holdtime|calltime|origposition, APP|app|..., LINK|chan1|chan2|holdtime|calltime|origposition
    times_at = max(2, len(rec.data) - 3)
    return _transferred(rec, common, "|".join(rec.data[:times_at]), times_at)


def _exited(rec: Record, common: _Fields, reason: str, wait_s: float | None, position: int | None) -> list[Event]:
    fields = {"call_id": _call_id(rec), "queue": _queue(rec), "reason": reason, "wait_s": wait_s, "position": position}
    return [_new(CallExited, common | fields)]


def _abandon(rec: Record, common: _Fields) -> list[Event]:
    # position|origposition|waittime
    fields = {
        "call_id": _call_id(rec),
        "queue": _queue(rec),
        "wait_s": _secs(rec, 2, "waittime"),
        "position": _int(rec, 0, "position"),
    }
    return [_new(CallAbandoned, common | fields)]


def _exit(rec: Record, common: _Fields) -> list[Event]:
    # EXITWITHTIMEOUT / EXITEMPTY / WITHDRAW: position|origposition|waittime[|info]
    return _exited(rec, common, _EXIT_REASONS[rec.verb], _secs(rec, 2, "waittime"), _int(rec, 0, "position"))


def _exit_with_key(rec: Record, common: _Fields) -> list[Event]:
    # key|position|origposition|waittime
    return _exited(rec, common, "key", _secs(rec, 3, "waittime"), _int(rec, 1, "position"))


def _not_joined(rec: Record, common: _Fields) -> list[Event]:
    # FULL / JOINEMPTY / JOINUNAVAIL: offered, never joined (no ENTERQUEUE before it)
    return _exited(rec, common, _EXIT_REASONS[rec.verb], 0.0, None)


def _ring_no_answer(rec: Record, common: _Fields) -> list[Event]:
    # ringtime in MILLISECONDS (README quirk 4)
    ring_ms = _int(rec, 0, "ringtime")
    fields = {
        "call_id": None if rec.call_id in NOT_CALLS else rec.call_id,
        "queue": _queue(rec),
        "answered": False,
        "ring_s": None if ring_ms is None else ring_ms / 1000,
    }
    return [_new(AgentRang, common | _agent(rec) | fields)]


def _login(rec: Record, common: _Fields, queue: str, login: bool) -> list[Event]:
    if login:
        return [_new(AgentLogin, common | _agent(rec) | {"queue": queue, "paused": _field(rec, 0) == "PAUSED"})]
    return [_new(AgentLogout, common | _agent(rec) | {"queue": queue})]


def _member(rec: Record, common: _Fields) -> list[Event]:
    # ADDMEMBER [PAUSED] / REMOVEMEMBER: the agent column is the interface unless log_membername_as_agent
    return _login(rec, common, _queue(rec), rec.verb == "ADDMEMBER")


def _chan_agent(rec: Record, common: _Fields) -> list[Event]:
    # chan_agent AGENT[CALLBACK]LOGIN/LOGOFF: queue NONE, agent Agent/1001, data channel[|logintime]
    if rec.queue in NOT_NAMES:
        return []
    return _login(rec, common, rec.queue, rec.verb.endswith("LOGIN"))


def _paused(rec: Record, common: _Fields, queue: str | None, paused: bool) -> list[Event]:
    fields = common | _agent(rec) | {"queue": queue, "reason": _field(rec, 0)}
    return [_new(AgentPaused, fields) if paused else _new(AgentUnpaused, fields)]


def _pause(rec: Record, common: _Fields) -> list[Event]:
    # reason: free text, "Auto-Pause" kept verbatim; UNPAUSE may carry one too ("Auto-Unpause")
    return _paused(rec, common, _queue(rec), rec.verb == "PAUSE")


def _pause_all(rec: Record, common: _Fields) -> list[Event]:
    # queue NONE: every queue of the member (one PAUSE per queue follows: both are emitted)
    return _paused(rec, common, None, rec.verb == "PAUSEALL")


def _ignore(rec: Record, common: _Fields) -> list[Event]:
    return []


_HANDLERS: dict[str, _Handler] = {
    "ENTERQUEUE": _enterqueue,
    "CONNECT": _connect,
    "COMPLETEAGENT": _complete,
    "COMPLETECALLER": _complete,
    "TRANSFER": _transfer,
    "BLINDTRANSFER": _transfer,
    "ATTENDEDTRANSFER": _attended_transfer,
    "ABANDON": _abandon,
    "EXITWITHTIMEOUT": _exit,
    "EXITEMPTY": _exit,
    "WITHDRAW": _exit,
    "EXITWITHKEY": _exit_with_key,
    "FULL": _not_joined,
    "JOINEMPTY": _not_joined,
    "JOINUNAVAIL": _not_joined,
    "RINGNOANSWER": _ring_no_answer,
    "ADDMEMBER": _member,
    "REMOVEMEMBER": _member,
    "AGENTLOGIN": _chan_agent,
    "AGENTCALLBACKLOGIN": _chan_agent,
    "AGENTLOGOFF": _chan_agent,
    "AGENTCALLBACKLOGOFF": _chan_agent,
    "PAUSE": _pause,
    "UNPAUSE": _pause,
    "PAUSEALL": _pause_all,
    "UNPAUSEALL": _pause_all,
    # known, and nothing for the wallboard:
    "RINGCANCELED": _ignore,
    "CONFIGRELOAD": _ignore,
    "SYSCOMPAT": _ignore,
    "INFO": _ignore,
    "DID": _ignore,
    "AGENTDUMP": _ignore,
    "PENALTY": _ignore,
    "RINGINUSE": _ignore,
    "OUTCALL": _ignore,
}


class QueueLogMapper:
    """Feed records (or raw lines, or CSV rows) in reading order; get events in timestamp order.

    Counters: ``records`` (non-blank lines read), ``rejected`` (and ``rejected_by_reason``),
    ``ignored``, ``duplicates``, ``reconnects`` (QUEUESTART after other records: PBX restarts).
    """

    def __init__(
        self,
        *,
        site: str = "default",
        source: str = "queue_log",
        reorder_window_s: int = 2,
        dedup_memory: int = 4096,
    ) -> None:
        if reorder_window_s < 0:
            raise ValueError(f"reorder_window_s must be >= 0, got {reorder_window_s}")
        if dedup_memory < 1:
            raise ValueError(f"dedup_memory must be >= 1, got {dedup_memory}")
        self._site = site
        self._source = source
        self._window = reorder_window_s
        self._dedup_memory = dedup_memory
        self.records = 0
        self.rejected = 0
        self.ignored = 0
        self.duplicates = 0
        self.reconnects = 0
        self.rejected_by_reason: dict[str, int] = {}
        self._seen: set[str] = set()
        self._seen_before: set[str] = set()
        self._heap: list[tuple[int, int, list[Event]]] = []
        self._arrival = 0
        self._newest = -1
        self._released = -1
        self._started = False
        self._last_epoch = -1
        self._last_dt = datetime.fromtimestamp(0, UTC)
        self._unknown_verbs: set[str] = set()

    def feed_line(self, line: str | bytes, lineno: int) -> list[Event]:
        """Parse and feed one line; a bad line is logged, counted in ``rejected`` and yields nothing."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line or line.isspace():
            return []
        try:
            record = parse_line(line, lineno)
        except MalformedLine as exc:
            self.records += 1
            self._reject(exc)
            return []
        text = line.rstrip("\r\n")
        if text.endswith("|") or text.startswith("0"):  # not canonical: trailing empty fields, zero-padded epoch
            text = record.line()
        return self._feed(record, text)

    def feed_csv_row(self, row: Mapping[str, str], lineno: int) -> list[Event]:
        """Like :meth:`feed_line`, for a row of :func:`read_csv`."""
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

    def _feed(self, record: Record, text: str) -> list[Event]:
        self.records += 1
        if text in self._seen or text in self._seen_before:
            self.duplicates += 1
            return []
        if len(self._seen) >= self._dedup_memory:
            self._seen_before = self._seen
            self._seen = set()
        self._seen.add(text)
        try:
            events = self._map(record, text)
        except MalformedLine as exc:
            self._reject(exc)
            return []
        self._started = True
        if not events:
            self.ignored += 1
            return []
        return self._push(record.ts, events)

    def finish(self) -> list[Event]:
        """Release every held event (end of input, or the input is idle); feeding may continue."""
        return self._release(self._newest + 1)

    @property
    def pending(self) -> int:
        """Records whose events are held in the reorder buffer."""
        return len(self._heap)

    def _reject(self, exc: MalformedLine) -> None:
        self.rejected += 1
        self.rejected_by_reason[exc.reason] = self.rejected_by_reason.get(exc.reason, 0) + 1
        logger.warning("rejected queue_log %s", exc)

    def _push(self, ts: int, events: list[Event]) -> list[Event]:
        if ts > self._newest:
            self._newest = ts
        if ts < self._released:
            return events
        heapq.heappush(self._heap, (ts, self._arrival, events))
        self._arrival += 1
        return self._release(self._newest - self._window)

    def _release(self, before: int) -> list[Event]:
        heap = self._heap
        out: list[Event] = []
        while heap and heap[0][0] < before:
            ts, _, events = heapq.heappop(heap)
            out.extend(events)
            self._released = ts
        return out

    def _when(self, rec: Record) -> datetime:
        """The record's time as an aware UTC datetime (the last one is cached: lines share seconds)."""
        try:
            self._last_dt = datetime.fromtimestamp(rec.ts, UTC)
        except (OverflowError, OSError, ValueError):
            raise _bad(rec, "epoch", f"epoch {rec.ts} is out of range") from None
        self._last_epoch = rec.ts
        return self._last_dt

    def _map(self, rec: Record, text: str) -> list[Event]:
        handler = _HANDLERS.get(rec.verb)
        if handler is None and rec.verb != "QUEUESTART":
            self._note_unknown(rec.verb)
            return []
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        ts = self._last_dt if rec.ts == self._last_epoch else self._when(rec)
        common = {"ts": ts, "site": self._site, "source": self._source, "key": f"ql:{rec.ts}:{digest}"}
        try:
            if handler is None:
                return self._queuestart(rec, common)
            return handler(rec, common)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise _bad(rec, "invalid", f"{where}: {first['msg']}") from None

    def _queuestart(self, rec: Record, common: _Fields) -> list[Event]:
        if not self._started:
            return []
        self.reconnects += 1
        logger.info("queue_log line %d: QUEUESTART after other records: the PBX restarted", rec.lineno)
        return [_new(SourceReset, common | {"reason": "restart"})]

    def _note_unknown(self, verb: str) -> None:
        if verb not in self._unknown_verbs and len(self._unknown_verbs) < _MAX_UNKNOWN_VERBS_LOGGED:
            self._unknown_verbs.add(verb)
            logger.debug("ignoring queue_log verb %r (not used by the wallboard)", verb)
