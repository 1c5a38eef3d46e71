"""Asterisk queue_log records: one line ``epoch|callid|queue|agent|VERB|data1|data2|...`` in, a Record out.

Pure: no I/O, no clock. :func:`parse_line` only splits the line and checks the five fixed columns
(an epoch of at most ``MAX_DIGITS`` ASCII digits, a non-empty verb); what the data fields mean is the verb's business
(``collectors.queue_log.verbs``). Trailing empty data fields are dropped, so ``ADDMEMBER|`` and a CSV
row with three empty params (``collectors.queue_log.csv_export``) give the same record, and
:meth:`Record.line` gives the one canonical text of a record whatever form it was read in.

Errors: :class:`QueueLogError` is the base of every error of the queue_log package;
:class:`MalformedLine` is a line or row that cannot be read or breaks its verb's layout.
"""

from __future__ import annotations

from typing import NamedTuple

from wallboard.errors import WallboardError

__all__ = [
    "EXCERPT_CHARS",
    "FIXED_FIELDS",
    "MAX_DIGITS",
    "MalformedLine",
    "QueueLogError",
    "Record",
    "parse_digits",
    "parse_epoch",
    "parse_line",
    "split_line",
    "strip_trailing_empty",
]

FIXED_FIELDS = 5  # epoch|callid|queue|agent|VERB
EXCERPT_CHARS = 80
# The longest number read (int64 range): no genuine epoch, duration or position comes near it, and int() of a
# longer string costs time or raises ValueError past 4300 digits.
MAX_DIGITS = 18


class QueueLogError(WallboardError):
    """Base of the errors the queue_log package raises (a CSV stream without its header, a malformed line)."""


class MalformedLine(QueueLogError):
    """A line or row that cannot be read, or that breaks its verb's layout.

    ``reason`` is a short code for counters (``fields``, ``epoch``, ``verb``, ``queue``, ``call_id``,
    ``agent``, ``number``, ``invalid``; for the CSV export ``length``, ``quote``, ``csv``); the message says
    what was read and what was expected.
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


_new_record = tuple.__new__  # Record(...) without the Python frame of the generated __new__


def strip_trailing_empty(data: list[str]) -> tuple[str, ...]:
    """``data`` as a tuple without its trailing empty strings (``data`` is consumed)."""
    while data and not data[-1]:
        data.pop()
    return tuple(data)


def parse_digits(text: str) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``MAX_DIGITS`` ASCII digits, else None; never raises.

    No sign, space, underscore, exponent or non-ASCII digit: ``int()`` accepts several of those.
    """
    if len(text) > MAX_DIGITS or not (text.isdigit() and text.isascii()):
        return None
    return int(text)


def parse_epoch(text: str, lineno: int, line: str) -> int:
    """The epoch column as integer seconds; raises :class:`MalformedLine` (reason ``epoch``)."""
    value = parse_digits(text)
    if value is None:
        raise _bad_epoch(text, lineno, line)
    return value


def _bad_epoch(text: str, lineno: int, line: str) -> MalformedLine:
    return MalformedLine(lineno, "epoch", f"read epoch {text[:20]!r}, expected integer seconds", line)


def parse_line(line: str, lineno: int) -> Record:
    """Split one queue_log line (trailing CR/LF allowed); raises :class:`MalformedLine`."""
    return split_line(line.rstrip("\r\n"), lineno)


def split_line(text: str, lineno: int) -> Record:
    """:func:`parse_line` of a line already without its line end (the mapper's hot path)."""
    fields = text.split("|")
    count = len(fields)
    if count < FIXED_FIELDS:
        detail = f"read {count} '|'-separated fields, expected at least {FIXED_FIELDS}"
        raise MalformedLine(lineno, "fields", detail, text)
    verb = fields[4]
    if not verb:
        raise MalformedLine(lineno, "verb", "empty verb", text)
    stamp = fields[0]
    if len(stamp) > MAX_DIGITS or not (stamp.isdigit() and stamp.isascii()):  # parse_digits inlined: hot
        raise _bad_epoch(stamp, lineno, text)
    ts = int(stamp)
    if count == FIXED_FIELDS:
        data: tuple[str, ...] = ()
    elif fields[-1]:
        data = tuple(fields[5:])
    else:
        data = strip_trailing_empty(fields[5:])
    return _new_record(Record, (ts, fields[1], fields[2], fields[3], verb, data, lineno))
