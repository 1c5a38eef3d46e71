"""The queue_log CSV export (realtime/ODBC table dumps): rows in, the same Records as pipe lines out. Pure.

Theory of operation
-------------------
The export schema is ``uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,
htime,ttime,time``. :func:`read_csv` checks the header (any case, any order) and yields each data row
as a dict; :func:`parse_csv_row` builds the :class:`~collectors.queue_log.records.Record` the pipe line
of the same event gives: data fields 1-3 are param1-3; the derived columns are only fallbacks, listed
per verb in ``_CSV_EXTRA`` (data fields 4-5: EXITWITHKEY's waittime is ``htime``; a transfer's calltime
is ``ttime`` and its origposition ``entpos``) and ``_CSV_FALLBACK`` (a transfer's holdtime is param3,
else ``htime``). Trailing empty data fields are dropped as for lines, so both forms share one
canonical text and one idempotency key.

Errors: a missing or wrong header, or text the csv module cannot read, raises
:class:`~collectors.queue_log.records.QueueLogError`; a row that cannot be a record raises
:class:`~collectors.queue_log.records.MalformedLine` (the mapper counts it as rejected).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from typing import TextIO

from collectors.queue_log.records import MalformedLine, QueueLogError, Record, parse_epoch, strip_trailing_empty

__all__ = ["CSV_COLUMNS", "parse_csv_row", "read_csv"]

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


def _csv_data(row: Mapping[str, str], verb: str) -> tuple[str, ...]:
    data = [row.get("param1") or "", row.get("param2") or "", row.get("param3") or ""]
    for index, column in _CSV_FALLBACK.get(verb, {}).items():
        if not data[index]:
            data[index] = row.get(column) or ""
    data.extend(row.get(column) or "" for column in _CSV_EXTRA.get(verb, ()))
    return strip_trailing_empty(data)


def parse_csv_row(row: Mapping[str, str], lineno: int) -> Record:
    """Build the record of one row of the CSV export (see the module docstring); raises :class:`MalformedLine`."""
    text = ",".join(value or "" for value in row.values())
    missing = [column for column in _CSV_REQUIRED if row.get(column) is None]
    if missing:
        raise MalformedLine(lineno, "fields", f"row lacks {', '.join(missing)}", text)
    verb = row["event"]
    if not verb:
        raise MalformedLine(lineno, "verb", "empty event", text)
    ts = parse_epoch(row["date_time"].strip(), lineno, text)
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
