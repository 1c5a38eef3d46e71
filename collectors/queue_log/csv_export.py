"""The queue_log CSV export (realtime/ODBC table dumps): rows in, the same Records as pipe lines out. Pure.

Theory of operation
-------------------
The export schema is ``uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,
htime,ttime,time``. :func:`read_csv` checks the header (any case, any order) and yields each data row
as a dict; :func:`parse_csv_row` builds the :class:`~collectors.queue_log.records.Record` the pipe line
of the same event gives: data fields 1-3 are param1-3. The derived columns (``htime``, ``ttime``,
``entpos``, ``expos``) supply hold, talk and positions for every verb that has them (``_CSV_COLUMNS_OF``)
wherever the param is empty or not a number (real exports leave CONNECT's param1 empty and put the
caller number in COMPLETEAGENT's), and the fields past param3 (EXITWITHKEY's waittime, a transfer's
calltime and origposition). Trailing empty data fields are dropped as for lines, so both forms of a
complete record share one canonical text and one idempotency key.

Each record is parsed on its own (``_Records``), so one bad record cannot take the rest of the file
with it: an over-long line or a quote never closed is yielded as an :class:`UnreadableRow` and reading
resumes at the next line.

Errors: a missing, wrong or unreadable header raises :class:`~collectors.queue_log.records.QueueLogError`;
a row that cannot be a record (an :class:`UnreadableRow` included) raises
:class:`~collectors.queue_log.records.MalformedLine` (the mapper counts it as rejected).
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator, Mapping
from typing import TextIO

from collectors.queue_log.records import MalformedLine, QueueLogError, Record, parse_epoch, strip_trailing_empty

__all__ = ["CSV_COLUMNS", "MAX_RECORD_CHARS", "MAX_RECORD_LINES", "UnreadableRow", "parse_csv_row", "read_csv"]

MAX_RECORD_CHARS = 1 << 20  # one record, quoted line ends included (the tail's line limit): the only size limit
MAX_RECORD_LINES = 64  # a quoted field spanning more lines is taken for an unterminated quote

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
# Per verb, the derived column that supplies each data field (index 0 = param1) when the param is empty or
# not a number: the export's own hold/talk/position columns (some exports leave param1-3 empty or put the
# caller number there). Fields past param3 come only from their column. ATTENDEDTRANSFER's times move with
# its variable layout: its fields 3-5 are taken as for the other transfers.
_EXIT_COLUMNS = ("expos", "entpos", "htime")
_TRANSFER_COLUMNS = (None, None, "htime", "ttime", "entpos")
_CSV_COLUMNS_OF: dict[str, tuple[str | None, ...]] = {
    "ENTERQUEUE": (None, None, "entpos"),
    "CONNECT": ("htime",),
    "COMPLETEAGENT": ("htime", "ttime", "entpos"),
    "COMPLETECALLER": ("htime", "ttime", "entpos"),
    "TRANSFER": _TRANSFER_COLUMNS,
    "BLINDTRANSFER": _TRANSFER_COLUMNS,
    "ATTENDEDTRANSFER": _TRANSFER_COLUMNS,
    "ABANDON": _EXIT_COLUMNS,
    "EXITWITHTIMEOUT": _EXIT_COLUMNS,
    "EXITEMPTY": _EXIT_COLUMNS,
    "WITHDRAW": _EXIT_COLUMNS,
    "EXITWITHKEY": (None, "expos", "entpos", "htime"),
}


def _is_count(text: str) -> bool:
    return text.isdigit() and text.isascii()


def _csv_data(row: Mapping[str, str], verb: str) -> tuple[str, ...]:
    data = [row.get("param1") or "", row.get("param2") or "", row.get("param3") or ""]
    columns = _CSV_COLUMNS_OF.get(verb, ())
    data.extend("" for _ in range(len(columns) - len(data)))
    for index, column in enumerate(columns):
        if column is not None and not _is_count(data[index]):
            derived = (row.get(column) or "").strip()
            if derived or index >= 3:
                data[index] = derived
    return strip_trailing_empty(data)


def parse_csv_row(row: Mapping[str, str], lineno: int) -> Record:
    """Build the record of one row of the CSV export (see the module docstring); raises :class:`MalformedLine`."""
    if isinstance(row, UnreadableRow):
        raise row.error
    text = ",".join(value or "" for value in row.values())
    missing = [column for column in _CSV_REQUIRED if row.get(column) is None]
    if missing:
        raise MalformedLine(lineno, "fields", f"row lacks {', '.join(missing)}", text)
    verb = row["event"]
    if not verb:
        raise MalformedLine(lineno, "verb", "empty event", text)
    ts = parse_epoch(row["date_time"].strip(), lineno, text)
    return Record(ts, row["callid"], row["queue_name"], row["type"], verb, _csv_data(row, verb), lineno)


def read_csv(
    stream: TextIO, *, max_record_chars: int = MAX_RECORD_CHARS, max_record_lines: int = MAX_RECORD_LINES
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` for each data row of a CSV export; the header row is required.

    Column names are matched case-insensitively and may come in any order; a short row lacks the
    trailing columns (:func:`parse_csv_row` rejects it if it needs them); empty rows are skipped. The
    line number is the first line of the row. Open the file with ``newline=""`` (the csv module's rule
    for quoted newlines); LF, CRLF and CR line ends are all read. Raises :class:`QueueLogError` for a
    missing, wrong or unreadable header.

    A record that cannot be read is yielded as an :class:`UnreadableRow` (which :func:`parse_csv_row`
    rejects with its line number), and reading goes on: a line longer than ``max_record_chars``
    (reason ``length``: the only size limit, the csv module's own field limit is raised to it), a
    quoted field still open after ``max_record_lines`` lines, ``max_record_chars`` characters or at
    the end of the file (reason ``quote``: reading resumes at the line after the one it opened on),
    text the csv module refuses (reason ``csv``).
    """
    if csv.field_size_limit() < max_record_chars:
        csv.field_size_limit(max_record_chars)  # process-wide, and only ever raised: records are bounded here
    records = _Records(stream, max_record_chars, max_record_lines)
    header: list[str] | None = None
    for lineno, row in records:
        if isinstance(row, UnreadableRow):
            if header is None:
                raise QueueLogError(f"unreadable CSV header: {row.error}")
            yield lineno, row
        elif header is None:
            header = _header([name.strip().lower() for name in row])
        elif any(row):
            yield lineno, dict(zip(header, row, strict=False))
    if header is None:
        raise QueueLogError(f"empty CSV, expected the header {','.join(CSV_COLUMNS)}")


def _header(header: list[str]) -> list[str]:
    missing = [column for column in _CSV_REQUIRED if column not in header]
    if missing:
        shown = ",".join(header)[:200]
        raise QueueLogError(f"CSV header {shown!r} lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
    return header


class UnreadableRow(dict[str, str]):
    """A record of the export that could not be read (empty); :func:`parse_csv_row` raises its ``error``."""

    def __init__(self, error: MalformedLine) -> None:
        super().__init__()
        self.error = error


class _Records:
    """The records of a CSV text, each parsed on its own: ``(first line number, fields or UnreadableRow)``.

    Blank lines give empty lists. Lines come from ``readline`` with a size limit, so an over-long line
    is never held whole. The csv reader of a record is fed one line at a time; when it asks for a line
    past the limits (a quoted field left open), the record is unreadable and the lines it took are read
    again as the following records.
    """

    def __init__(self, stream: TextIO, max_chars: int, max_lines: int) -> None:
        self._readline = stream.readline
        self._max_chars = max_chars
        self._max_lines = max_lines
        self._pending: deque[str] = deque()
        self._lineno = 0

    def __iter__(self) -> Iterator[tuple[int, list[str] | UnreadableRow]]:
        while (first := self._take()) is not None:
            self._lineno += 1
            yield self._lineno, self._record(first)

    def _take(self) -> str | None:
        if self._pending:
            return self._pending.popleft()
        line = self._readline(self._max_chars + 1)
        if len(line) > self._max_chars and line[-1] not in "\r\n":
            while (more := self._readline(self._max_chars + 1)) and more[-1] not in "\r\n":
                pass  # the rest of an over-long line
        return line or None

    def _record(self, first: str) -> list[str] | UnreadableRow:
        lineno, limit = self._lineno, self._max_chars
        if len(first) > limit:
            detail = f"read a line of more than {limit} characters, expected at most {limit}"
            return UnreadableRow(MalformedLine(lineno, "length", detail, first))
        taken: list[str] = []
        ended: list[str] = []
        try:
            row = next(csv.reader(self._lines(first, taken, ended)), [])
        except csv.Error as exc:
            self._pending.extendleft(reversed(taken))
            return UnreadableRow(MalformedLine(lineno, "csv", f"unreadable CSV: {exc}", first))
        if ended:
            self._pending.extendleft(reversed(taken))
            detail = f"unterminated quoted field: not closed before {ended[0]}"
            return UnreadableRow(MalformedLine(lineno, "quote", detail, first))
        self._lineno += len(taken)
        return row

    def _lines(self, first: str, taken: list[str], ended: list[str]) -> Iterator[str]:
        """``first``, then the lines a quoted field spans, up to the limits (``ended`` says which was hit)."""
        yield first
        size = len(first)
        while True:
            if len(taken) + 1 >= self._max_lines:
                ended.append(f"{self._max_lines} lines")
                return
            line = self._take()
            if line is None:
                ended.append("the end of the file")
                return
            taken.append(line)
            size += len(line)
            if size > self._max_chars:
                ended.append(f"{self._max_chars} characters")
                return
            yield line
