"""queue_log in a database table (Asterisk realtime): columns in, the same Records as pipe lines out. Pure.

Theory of operation
-------------------
With ``queue_log => odbc,asterisk`` (or ``mysql``/``pgsql``) in ``extconfig.conf``, Asterisk's
``ast_queue_log`` (main/logger.c) inserts one row per event instead of writing a line. The table has an
auto-increment ``id`` (Asterisk never writes it: it is the table's order of insertion, which a reader
follows), ``time``, ``callid``, ``queuename``, ``agent``, ``event`` and the data, in one of two forms:

* ``data1`` .. ``data5`` ("adaptive" realtime, chosen by Asterisk whenever the table has ``data1``):
  the message is split at its first four pipes, so ``data5`` holds the rest, pipes included;
* a single ``data`` column holding the pipe-joined fields (older tables).

A table that has both forms is read as Asterisk writes it: through ``data1`` .. ``data5``.
:func:`detect_layout` checks the column names (any case) once, at start, and names what it lacks; a
QueueMetrics table (``partition``, ``time_id``, ``verb``, ...) or anything else is refused with
:class:`UnknownSchema`. The reader selects each column under its *role* name (``id``, ``time``,
``callid``, ... ``data1``), and :func:`parse_row` builds the :class:`~collectors.queue_log.records.Record`
the pipe line of the same event gives: the data columns joined with ``|`` and split again, trailing
empty fields dropped, so a row and its line share one canonical text and one idempotency key. The
record's ``lineno`` is the row's id: the mapper's messages name a row as ``line <id>``.

Time: Asterisk writes ``%F %T.%6q`` (``2025-01-31 14:05:09.123456``) in the PBX's local time, or in
UTC with ``queue_log_realtime_use_gmt = yes``; the column may be a DATETIME/TIMESTAMP (the driver
gives a datetime), a string, or an epoch (an integer, or a string of digits, on hand-made tables).
:func:`epoch_of` takes each: a naive datetime or a date-time string is read in the zone given (the
table's zone: the site's, or UTC), an aware one as it is, and the fraction of a second is dropped,
as the file form does. A local time that occurs twice (the autumn DST change) is read as its first
occurrence (``fold=0``).

Errors: :class:`UnknownSchema` (a :class:`~collectors.queue_log.records.QueueLogError` and a usage
error, exit 2) for a table that is not Asterisk's; :class:`MalformedRow` (a
:class:`~collectors.queue_log.records.MalformedLine` naming the row by its id) for a row that cannot
be a record (reasons ``time``, ``verb``, ``length``, ``id``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from collectors.queue_log.records import MAX_DIGITS, MalformedLine, QueueLogError, Record, strip_trailing_empty
from wallboard.errors import UsageError

__all__ = [
    "ADAPTIVE_DATA",
    "FIXED_COLUMNS",
    "MAX_ROW_CHARS",
    "MalformedRow",
    "TableLayout",
    "UnknownSchema",
    "detect_layout",
    "epoch_of",
    "parse_row",
]

FIXED_COLUMNS = ("id", "time", "callid", "queuename", "agent", "event")
ADAPTIVE_DATA = ("data1", "data2", "data3", "data4", "data5")
SINGLE_DATA = ("data",)
MAX_ROW_CHARS = 1 << 20  # the text of one row (the file tail's line limit)
_QUEUEMETRICS = {"time_id", "partition", "verb", "call_id"}
_EXPECTED = "id, time, callid, queuename, agent, event and either data1..data5 or data"


class UnknownSchema(QueueLogError, UsageError):
    """The table is not an Asterisk realtime queue_log table (exit 2); the message names what it lacks."""


class MalformedRow(MalformedLine):
    """A row that cannot be a record; ``lineno`` is its id and the message says ``row id <id>``."""

    def __init__(self, row_id: int, reason: str, detail: str, text: str) -> None:
        super().__init__(row_id, reason, detail, text)
        self.row_id = row_id
        self.args = (f"row id {row_id}: {detail}: {self.excerpt!r}",)


@dataclass(frozen=True)
class TableLayout:
    """Where each role is in the table: ``columns`` maps a role (``id``, ``time``, ..., ``data1``) to its column."""

    table: str
    columns: Mapping[str, str]
    data: tuple[str, ...]  # ADAPTIVE_DATA or SINGLE_DATA

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role the reader selects, in row order."""
        return (*FIXED_COLUMNS, *self.data)


def detect_layout(table: str, columns: Iterable[str]) -> TableLayout:
    """The layout of a table with these column names (any case); raises :class:`UnknownSchema`."""
    by_name = {name.lower(): name for name in columns}
    if not by_name:
        raise UnknownSchema(f"table {table!r} has no columns (does it exist?); expected {_EXPECTED}")
    data: tuple[str, ...]
    if ADAPTIVE_DATA[0] in by_name:
        data = ADAPTIVE_DATA
    elif SINGLE_DATA[0] in by_name:
        data = SINGLE_DATA
    else:
        data = ()
    missing = [name for name in (*FIXED_COLUMNS, *(data or ("data1..data5 or data",))) if name not in by_name]
    if missing:
        found = ", ".join(sorted(by_name))[:300]
        hint = ""
        if _QUEUEMETRICS <= by_name.keys():
            hint = " (this looks like a QueueMetrics queue_log table, which is not Asterisk's realtime one)"
        raise UnknownSchema(
            f"table {table!r} is not an Asterisk realtime queue_log table{hint}: it lacks {', '.join(missing)}; "
            f"found columns {found}; expected {_EXPECTED}"
        )
    return TableLayout(table, {role: by_name[role] for role in (*FIXED_COLUMNS, *data)}, data)


def parse_row(row: Mapping[str, object], layout: TableLayout, tz: tzinfo) -> Record:
    """The record of one row keyed by role (see the module docstring); raises :class:`MalformedRow`."""
    raw_id = row.get("id")
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise MalformedRow(-1, "id", f"read id {raw_id!r}, expected an integer", _text_of(row, layout))
    values = {role: _str(row.get(role)) for role in layout.roles[2:]}
    text = "|".join(values.values())
    if len(text) > MAX_ROW_CHARS:
        detail = f"read a row of more than {MAX_ROW_CHARS} characters, expected at most {MAX_ROW_CHARS}"
        raise MalformedRow(raw_id, "length", detail, text)
    verb = values["event"]
    if not verb:
        raise MalformedRow(raw_id, "verb", "empty event", text)
    try:
        ts = epoch_of(row.get("time"), tz)
    except ValueError as exc:
        raise MalformedRow(raw_id, "time", str(exc), text) from None
    data = strip_trailing_empty("|".join(values[role] for role in layout.data).split("|"))
    return Record(ts, values["callid"], values["queuename"], values["agent"], verb, data, raw_id)


def epoch_of(value: object, tz: tzinfo) -> int:
    """The ``time`` column as epoch seconds (naive times read in ``tz``); ValueError says what was read."""
    if isinstance(value, datetime):
        return _seconds(value if value.tzinfo is not None else value.replace(tzinfo=tz))
    if isinstance(value, bool) or value is None:
        raise ValueError(f"read time {value!r}, expected a date-time or epoch seconds")
    if isinstance(value, int | float | Decimal):
        return _epoch_number(value)
    text = _str(value).strip()
    whole, _, fraction = text.partition(".")
    if whole.isdigit() and whole.isascii() and len(whole) <= MAX_DIGITS and (not fraction or fraction.isdigit()):
        return int(whole)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"read time {text[:40]!r}, expected a date-time (YYYY-MM-DD HH:MM:SS) or epoch seconds"
        ) from None
    return _seconds(stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=tz))


def _epoch_number(value: int | float | Decimal) -> int:
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValueError(f"read time {value!r}, expected epoch seconds")
    seconds = math.floor(value)
    if not 0 <= seconds < 10**MAX_DIGITS:
        raise ValueError(f"read time {value!r}, expected epoch seconds (0 to {MAX_DIGITS} digits)")
    return seconds


def _seconds(stamp: datetime) -> int:
    try:
        seconds = math.floor(stamp.timestamp())
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"read time {stamp.isoformat()!r}, out of range ({exc})") from None
    if seconds < 0:
        raise ValueError(f"read time {stamp.isoformat()!r}, before 1970")
    return seconds


def _str(value: object) -> str:
    """A column's text: NULL is empty, bytes are UTF-8 (invalid bytes replaced), numbers as written."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _text_of(row: Mapping[str, object], layout: TableLayout) -> str:
    return "|".join(_str(row.get(role)) for role in layout.roles[1:])
