"""Schedules: per agent and per site-local day, the activities planned, as exact UTC spans.

Theory of operation. A planner's file has one row per activity (``agent,date,start,end,activity``)
with wall-clock times in the site's time zone. Import turns every row into a ``Slot`` whose
``start``/``end`` are aware UTC datetimes, so everything downstream (the tracker, the API, the
TV) works on real elapsed time, and a day with a DST change simply has 23 or 25 hours.
``day`` keeps the row's site-local date: the day the slot belongs to in day figures, even
when a night shift crosses midnight.

A ``Schedule`` is an immutable, validated set of slots: sorted by (agent, start), no two slots
of an agent overlap. Parsing and validation (``parse_csv``, ``parse_json``) are
all-or-nothing: a file with any problem raises ``ScheduleError`` listing every problem with its
row number, and nothing of it is returned. The rules are in the comment above ``COLUMNS``.

Import modes: without ``merge_into`` a file *replaces* the schedule; with it (merge) the file
replaces only the (agent, day) pairs it has rows for, the other slots are kept and must not
overlap the new ones. ``dump_schedule`` writes the rows back in the site's wall clock
(``parse_json(dump_schedule(s, site), site) == s``); that row form is what the store keeps
(``wb:{site}:config:schedules``, read back with ``schedule_from_document``, which accepts agent
and activity names the site file no longer lists). Bounded: ``MAX_BYTES``, ``MAX_ROWS``, and at
most ``MAX_PROBLEMS`` problems listed. 100,000 rows parse in about 0.35-0.7 s (memoised per
distinct date and time: see ``_Rows``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from wallboard.core.adherence.policy import ACTIVITY_PATTERN
from wallboard.errors import WallboardError

if TYPE_CHECKING:
    from wallboard.core.site import SiteConfig


class ScheduleError(WallboardError):
    """A schedule that cannot be imported; ``problems`` lists each row's problem in words."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One thing wrong with one row (1-based data row; 0 for the file itself)."""

    row: int
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}" if self.row else self.message


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One scheduled activity of one agent: [start, end) in UTC, on the site-local ``day``."""

    agent: str
    start: datetime
    end: datetime
    activity: str
    day: date

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


_SLOT_ORDER = attrgetter("agent", "start", "end", "activity", "day")


@dataclass(frozen=True)
class Schedule:
    """A validated set of slots, sorted by (agent, start), none overlapping for one agent."""

    slots: tuple[Slot, ...] = ()
    _by_agent: dict[str, tuple[Slot, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Slot]] = {}
        ordered = tuple(sorted(self.slots, key=_SLOT_ORDER))  # the dataclass order, compared in C
        for slot in ordered:
            grouped.setdefault(slot.agent, []).append(slot)
        object.__setattr__(self, "slots", ordered)
        self._by_agent.update({agent: tuple(slots) for agent, slots in grouped.items()})

    @classmethod
    def of(cls, slots: Iterable[Slot]) -> Schedule:
        return cls(tuple(slots))

    def agents(self) -> tuple[str, ...]:
        return tuple(self._by_agent)

    def for_agent(self, agent: str) -> tuple[Slot, ...]:
        """The agent's slots in time order (empty when the agent has none)."""
        return self._by_agent.get(agent, ())

    def days(self) -> tuple[date, ...]:
        return tuple(sorted({slot.day for slot in self.slots}))


# -- import: all-or-nothing parsing and validation ---------------------------
#
# A row is valid when: the agent is one of the site file's agents (any non-empty id when the site file
# lists none); the date is YYYY-MM-DD; ``start`` and ``end`` are local wall-clock times ``HH:MM`` or
# ``HH:MM:SS`` on that date, ``end`` may be ``24:00`` and either may carry ``+1`` (next day: a night
# shift ``22:00``-``06:00+1`` and its break ``01:00+1``-``01:15+1``); the time exists on that day in the
# site's zone (not in a DST gap); an ambiguous time (the repeated hour of a DST fold) is its FIRST
# occurrence, the one before the clocks go back; end after start (in real time); the activity is one
# of the policy's ``all_activities`` (case-insensitive); no overlap with another slot of the agent.
# Rows are numbered from 1 after the header (row N of a CSV is its line N + 1 unless a quoted field
# spans lines); blank rows count but are skipped. At most ``MAX_PROBLEMS`` problems are listed, then
# one line saying how many more were found.

COLUMNS: tuple[str, ...] = ("agent", "date", "start", "end", "activity")
MAX_ROWS = 200_000
MAX_BYTES = 5 * 1024 * 1024
CONFIG_NAME = "schedules"  # the stored document wb:{site}:config:schedules, and its notices' "type"
MAX_PROBLEMS = 1000
MAX_AGENT_LENGTH = 128
MIN_YEAR, MAX_YEAR = 2000, 2999
Format = Literal["csv", "json"]

_TIME = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(\+\s*1)?\s*")
_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})\s*")
_ACTIVITY = re.compile(ACTIVITY_PATTERN)
_DELIMITERS = (",", ";", "\t")


_Span = tuple[datetime, datetime, date]  # start, end (UTC) and the row's day


class _Rows:
    """Validates rows one by one into slots, collecting problems (the state of one parse).

    Verdicts are memoised per distinct agent, activity and (date, start, end) text: a schedule
    repeats a few of each many times, so most rows cost three dictionary lookups. A verdict is the
    clean value or a list of problem messages.
    """

    def __init__(self, site: SiteConfig, *, strict: bool) -> None:
        self.tz = site.tz
        self.zone = site.timezone
        self.agents: frozenset[str] | None = frozenset(site.agents) if strict and site.agents else None
        self.activities: frozenset[str] | None = frozenset(site.adherence.all_activities) if strict else None
        self.problems: list[RowProblem] = []
        self.slots: list[tuple[int, Slot]] = []
        self._agents: dict[str, str | list[str]] = {}
        self._kinds: dict[str, str | list[str]] = {}
        self._spans: dict[tuple[str, str, str], _Span | list[str]] = {}
        self._dates: dict[str, date | str] = {}
        self._times: dict[tuple[date, str, bool], datetime | str] = {}

    def problem(self, row: int, message: str) -> None:
        self.problems.append(RowProblem(row, message))

    def add(self, row: int, agent: str, day_text: str, start_text: str, end_text: str, activity: str) -> None:
        """Validate one row; a valid one joins ``slots``, an invalid one adds a problem per fault."""
        name = self._agents.get(agent)
        if name is None:
            name = self._agents[agent] = self._agent(agent.strip())
        kind = self._kinds.get(activity)
        if kind is None:
            kind = self._kinds[activity] = self._activity(activity.strip().lower())
        key = (day_text, start_text, end_text)
        span = self._spans.get(key)
        if span is None:
            span = self._spans[key] = self._span(*key)
        if isinstance(name, list) or isinstance(kind, list) or isinstance(span, list):
            for verdict in (name, kind, span):
                if isinstance(verdict, list):
                    self.problems.extend(RowProblem(row, message) for message in verdict)
            return
        self.slots.append((row, Slot(name, span[0], span[1], kind, span[2])))

    def _agent(self, agent: str) -> str | list[str]:
        if not agent:
            return ["missing agent"]
        if len(agent) > MAX_AGENT_LENGTH or not agent.isprintable():
            return [f"agent id of {len(agent)} characters: expected at most {MAX_AGENT_LENGTH} printable"]
        if self.agents is not None and agent not in self.agents:
            return [f"unknown agent {agent!r}: not in the site file's agents"]
        return agent

    def _activity(self, activity: str) -> str | list[str]:
        if self.activities is not None and activity not in self.activities:
            known = ", ".join(sorted(self.activities))
            return [f"unknown activity {activity[:40]!r}: expected one of {known}"]
        if self.activities is None and not _ACTIVITY.fullmatch(activity):
            return [f"bad activity name {activity[:40]!r}"]
        return activity

    def _span(self, day_text: str, start_text: str, end_text: str) -> _Span | list[str]:
        day = self._dates.get(day_text)
        if day is None:
            day = self._dates[day_text] = _read_date(day_text)
        if isinstance(day, str):
            return [day]
        start, end = self._time(day, start_text, end=False), self._time(day, end_text, end=True)
        faults = [f"{name} {found}" for name, found in (("start", start), ("end", end)) if isinstance(found, str)]
        if faults or isinstance(start, str) or isinstance(end, str):
            return faults
        if end <= start:
            return [f"end before start: {start_text.strip()} to {end_text.strip()}"]
        return start, end, day

    def _time(self, day: date, text: str, *, end: bool) -> datetime | str:
        found = self._times.get((day, text, end))
        if found is None:
            found = self._times[day, text, end] = _read_time(text, day, self.tz, self.zone, end=end)
        return found


def _read_date(text: str) -> date | str:
    match = _DATE.fullmatch(text)
    try:
        day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:
        day = None
    if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
        return f"bad date {text[:40]!r}: expected YYYY-MM-DD from {MIN_YEAR} to {MAX_YEAR}"
    return day


def _read_time(text: str, day: date, tz: ZoneInfo, zone: str, *, end: bool) -> datetime | str:
    """The UTC instant of the local ``text`` on ``day``, or what is wrong with it (for "start ..."/"end ...")."""
    match = _TIME.fullmatch(text)
    expected = "expected HH:MM or HH:MM:SS, 24:00 for an end, +1 for the next day"
    if not match:
        return f"time {text[:40]!r} is not a time: {expected}"
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    next_day = match[4] is not None
    if (hours, minutes, seconds) == (24, 0, 0) and end and not next_day:
        hours, next_day = 0, True
    if hours > 23 or minutes > 59 or seconds > 59:
        return f"time {text.strip()!r} is not a time of day: {expected}"
    wall = datetime.combine(day + timedelta(days=next_day), time(hours, minutes, seconds))
    instant = wall.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        return f"{wall:%H:%M:%S}".removesuffix(":00") + f" does not exist on {wall:%Y-%m-%d} in {zone} (DST gap)"
    return instant


def _check_overlaps(rows: _Rows, kept: Iterable[Slot]) -> None:
    """Add a problem for each slot that starts before an earlier slot of the same agent ends.

    ``kept`` are stored slots staying in place (merge mode): they take part without row numbers.
    """
    by_agent: dict[str, list[tuple[datetime, int, Slot]]] = {}
    for row, slot in rows.slots:
        by_agent.setdefault(slot.agent, []).append((slot.start, row, slot))
    for slot in kept:
        if slot.agent in by_agent:
            by_agent[slot.agent].append((slot.start, 0, slot))
    for entries in by_agent.values():
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        holder_row, holder = entries[0][1], entries[0][2]
        for _, row, slot in entries[1:]:
            if slot.start < holder.end and (row or holder_row):
                rows.problem(*_overlap(row, slot, holder_row, holder, rows.tz))
            if slot.end > holder.end:
                holder_row, holder = row, slot


def _overlap(row: int, slot: Slot, other_row: int, other: Slot, tz: ZoneInfo) -> tuple[int, str]:
    if row and other_row:
        first, last = sorted((row, other_row))
        return last, f"overlaps row {first} (same agent {slot.agent!r})"
    mine, stored = (row, other) if row else (other_row, slot)
    start, end = _wall_text(stored.start, stored.day, tz), _wall_text(stored.end, stored.day, tz, end=True)
    return mine, f"overlaps the stored {stored.activity} slot {start}-{end} of {stored.day} ({stored.agent!r})"


def _finish(rows: _Rows, merge_into: Schedule | None) -> Schedule:
    """The schedule of the valid rows (merged into ``merge_into``), or ScheduleError listing every problem."""
    kept: list[Slot] = []
    if merge_into is not None:
        replaced = {(slot.agent, slot.day) for _, slot in rows.slots}
        kept = [slot for slot in merge_into.slots if (slot.agent, slot.day) not in replaced]
    _check_overlaps(rows, kept)
    if rows.problems:
        raise ScheduleError(_listed(rows.problems))
    return Schedule((*kept, *(slot for _, slot in rows.slots)))


def _listed(problems: list[RowProblem]) -> list[RowProblem]:
    ordered = sorted(problems, key=lambda problem: problem.row)
    if len(ordered) <= MAX_PROBLEMS:
        return ordered
    more = len(ordered) - MAX_PROBLEMS
    return [*ordered[:MAX_PROBLEMS], RowProblem(0, f"... and {more} more problems not listed")]


def parse_csv(text: str, site: SiteConfig, *, merge_into: Schedule | None = None) -> Schedule:
    """The schedule of a CSV text (header ``agent,date,start,end,activity`` in any order and case;
    ``;`` or tab separators are recognised from the header). Raises ScheduleError listing every problem.

    With ``merge_into`` (merge mode) the result is that schedule with the (agent, day) pairs of the
    file replaced by the file's slots; without it, only the file's slots (replace mode).
    """
    _check_size(len(text), text)
    lines = io.StringIO(text)
    header_line = lines.readline().lstrip("\ufeff")
    delimiter = max(_DELIMITERS, key=lambda d: sum(cell.strip().lower() in COLUMNS for cell in header_line.split(d)))
    lines.seek(0)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    rows = _Rows(site, strict=True)
    try:
        header = [cell.strip().lstrip("\ufeff").lower() for cell in next(reader, [])]
        order = _columns(header)
        for number, record in enumerate(reader, start=1):
            if number > MAX_ROWS:
                raise ScheduleError([RowProblem(0, f"more than {MAX_ROWS} rows: split the file")])
            _csv_row(rows, number, record, order)
    except csv.Error as exc:
        rows.problem(0, f"unreadable CSV at line {reader.line_num}: {exc}")
    return _finish(rows, merge_into)


def _columns(header: list[str]) -> list[int]:
    """Index of each of COLUMNS in the header, or ScheduleError naming what is missing or extra."""
    problems = [RowProblem(0, f"missing column {name!r}") for name in COLUMNS if name not in header]
    problems += [RowProblem(0, f"unexpected column {name[:40]!r}") for name in header if name not in COLUMNS]
    problems += [RowProblem(0, f"column {name!r} appears twice") for name in COLUMNS if header.count(name) > 1]
    if problems:
        expected = ",".join(COLUMNS)
        raise ScheduleError([RowProblem(0, f"the header must be {expected} (any order), read {header[:8]}"), *problems])
    return [header.index(name) for name in COLUMNS]


def _csv_row(rows: _Rows, number: int, record: list[str], order: list[int]) -> None:
    if not any(cell.strip() for cell in record):
        return
    if len(record) != len(COLUMNS):
        rows.problem(number, f"read {len(record)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)})")
        return
    agent, day, start, end, activity = order
    rows.add(number, record[agent], record[day], record[start], record[end], record[activity])


def parse_json(data: Any, site: SiteConfig, *, merge_into: Schedule | None = None) -> Schedule:
    """The schedule of decoded JSON: a list of ``{agent, date, start, end, activity}`` objects (strings),
    or ``{"slots": [...]}``. Same rules and modes as ``parse_csv``; raises ScheduleError."""
    return _finish(_json_rows(data, site, strict=True), merge_into)


def schedule_from_document(document: Any, site: SiteConfig) -> Schedule:
    """The schedule of a stored document (``{"version", "slots": [dump rows], ...}``, see ``dump_schedule``).

    Lenient about names so a stored schedule keeps working after the site file changes: any agent id
    and any well-formed activity name are accepted (an activity the policy no longer knows matches
    nothing, so the agent is out of adherence). Everything else is checked as on import; a document
    that is not one, or with any bad row, raises ScheduleError.
    """
    return _finish(_json_rows(document, site, strict=False), None)


def _json_rows(data: Any, site: SiteConfig, *, strict: bool) -> _Rows:
    if isinstance(data, Mapping) and "slots" in data:
        data = data["slots"]
    if not isinstance(data, list):
        shape = '{"slots": [...]}'
        raise ScheduleError([RowProblem(0, f"expected a list of rows or {shape}, read {type(data).__name__}")])
    if len(data) > MAX_ROWS:
        raise ScheduleError([RowProblem(0, f"{len(data)} rows: at most {MAX_ROWS}, split the file")])
    rows = _Rows(site, strict=strict)
    for number, item in enumerate(data, start=1):
        fields = _json_fields(rows, number, item)
        if fields is not None:
            rows.add(number, *fields)
    return rows


def _json_fields(rows: _Rows, number: int, item: Any) -> list[str] | None:
    if type(item) is dict and len(item) == len(COLUMNS):  # the usual case, checked first
        values = [item.get("agent"), item.get("date"), item.get("start"), item.get("end"), item.get("activity")]
        if str is type(values[0]) is type(values[1]) is type(values[2]) is type(values[3]) is type(values[4]):
            return values  # type: ignore[return-value]
    if not isinstance(item, Mapping):
        rows.problem(number, f"expected an object with {', '.join(COLUMNS)}, read {type(item).__name__}")
        return None
    problems = [f"missing field {name!r}" for name in COLUMNS if name not in item]
    problems += [f"unexpected field {str(name)[:40]!r}" for name in item if name not in COLUMNS]
    problems += [
        f"field {name!r} must be a string, read {type(item[name]).__name__}"
        for name in COLUMNS
        if name in item and not isinstance(item[name], str)
    ]
    for message in problems:
        rows.problem(number, message)
    return None if problems else [item[name] for name in COLUMNS]


def parse_bytes(data: bytes, site: SiteConfig, kind: Format, *, merge_into: Schedule | None = None) -> Schedule:
    """A file's bytes (UTF-8, with or without BOM) as CSV or JSON; at most MAX_BYTES. Raises ScheduleError."""
    _check_size(len(data), data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScheduleError([RowProblem(0, f"not UTF-8 text: byte {exc.start} is 0x{data[exc.start]:02x}")]) from exc
    if kind == "csv":
        return parse_csv(text, site, merge_into=merge_into)
    try:
        decoded = json.loads(text)
    except ValueError as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ScheduleError([RowProblem(0, f"not JSON: {message}{where}")]) from exc
    return parse_json(decoded, site, merge_into=merge_into)


def _check_size(size: int, content: str | bytes) -> None:
    if size > MAX_BYTES and (isinstance(content, bytes) or len(content.encode("utf-8")) > MAX_BYTES):
        raise ScheduleError([RowProblem(0, f"read more than {MAX_BYTES} bytes, expected at most {MAX_BYTES}")])


# -- export --------------------------------------------------------------------------------------------


def dump_schedule(schedule: Schedule, site: SiteConfig) -> list[dict[str, str]]:
    """The rows of ``schedule`` in the site's wall clock, as ``parse_json`` reads them back (same schedule).

    Times are ``HH:MM`` (``HH:MM:SS`` when not on a whole minute; fractions of a second are dropped),
    ``+1`` on the day after the slot's day, ``24:00`` for an end at the next midnight. Raises
    ScheduleError for a slot no row can express: a time in the second pass of a repeated hour (DST
    fold), or more than one day after its ``day``.
    """
    tz = site.tz
    walls: dict[tuple[datetime, date, bool], str] = {}  # a schedule repeats its times: format each once

    def wall(instant: datetime, day: date, end: bool) -> str:
        text = walls.get((instant, day, end))
        if text is None:
            text = walls[instant, day, end] = _wall(instant, day, tz, end=end)
        return text

    return [
        {
            "agent": slot.agent,
            "date": slot.day.isoformat(),
            "start": wall(slot.start, slot.day, False),
            "end": wall(slot.end, slot.day, True),
            "activity": slot.activity,
        }
        for slot in schedule.slots
    ]


def _wall(instant: datetime, day: date, tz: ZoneInfo, *, end: bool = False) -> str:
    local = instant.astimezone(tz)
    offset = (local.date() - day).days
    text = f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"
    if end and offset == 1 and text == "00:00":
        return "24:00"
    if local.fold or offset not in (0, 1):
        why = "is in a repeated hour (DST fold)" if local.fold else f"is {offset} days from its day {day}"
        raise ScheduleError([RowProblem(0, f"cannot write {instant.isoformat()} as a local time: it {why}")])
    return text + ("+1" if offset else "")


def _wall_text(instant: datetime, day: date, tz: ZoneInfo, *, end: bool = False) -> str:
    """``_wall`` for messages: never raises."""
    try:
        return _wall(instant, day, tz, end=end)
    except ScheduleError:
        return instant.isoformat()


def dump_csv(schedule: Schedule, site: SiteConfig) -> str:
    """The schedule as a CSV text with the header ``agent,date,start,end,activity`` (reads back the same)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(dump_schedule(schedule, site))
    return out.getvalue()


def select(schedule: Schedule, *, agent: str | None = None, day: date | None = None) -> Schedule:
    """The slots of one agent and/or one day."""
    slots = schedule.for_agent(agent) if agent is not None else schedule.slots
    return Schedule(tuple(slot for slot in slots if day is None or slot.day == day))


def describe(schedule: Schedule) -> dict[str, Any]:
    """Counts for answers, logs and the audit trail (never the rows themselves)."""
    days = schedule.days()
    return {
        "slots": len(schedule.slots),
        "agents": len(schedule.agents()),
        "days": len(days),
        "first_day": days[0].isoformat() if days else None,
        "last_day": days[-1].isoformat() if days else None,
    }
