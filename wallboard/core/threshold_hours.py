"""A threshold's active hours: ``ActiveWindow`` (local hours on some days of the week) and the parsing of the
times (``"08:00"``, ``"24:00"``, YAML's sexagesimal ints) and days (``mon-fri``, lists, full names) it accepts.

Apart from the threshold document (``wallboard.core.thresholds``, which re-exports everything here) because
it is calendar arithmetic, not threshold validation. ``ActiveWindow`` is pickled in checkpoints (an alert
book's thresholds): its ``__module__`` is set back to ``wallboard.core.thresholds`` after the class is built
(pydantic resolves the field annotations in the defining module first), so a checkpoint names it as it always has.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator

from wallboard.core.threshold_metrics import PICKLED_MODULE

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


def _parse_time(value: Any) -> Any:
    """``"08:00"``, ``"24:00"`` (midnight at the end) or an int: YAML 1.1 reads ``20:00`` as 1200 minutes."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 1440:
            raise ValueError(f"{value} minutes is not a time of day (0 to 1440)")
        return time(value // 60 % 24, value % 60)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
        if not match:
            raise ValueError(f"read {value!r}, expected a local time HH:MM")
        hours, minutes = int(match[1]), int(match[2])
        if (hours, minutes) == (24, 0):
            return time(0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"read {value!r}, expected a local time from 00:00 to 24:00")
        return time(hours, minutes)
    return value


def _parse_days(value: Any) -> Any:
    """Days as a list (``[mon, tue]``), a range (``"mon-sat"``) or a comma list; full names allowed."""
    if isinstance(value, str):
        value = [part for part in value.replace(" ", "").split(",") if part]
    if not isinstance(value, list | tuple):
        return value
    days: set[int] = set()
    for item in value:
        first, _, last = str(item).lower().partition("-")
        start, end = _weekday(first), _weekday(last or first)
        days.update(range(start, (end if end >= start else end + 7) + 1))
    return tuple(WEEKDAYS[day % 7] for day in sorted({day % 7 for day in days}))


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(name: str) -> int:
    """Index (Monday = 0) of ``mon`` or ``monday``; any prefix of at least three letters."""
    text = name.strip()
    for index, full in enumerate(_FULL_DAYS):
        if len(text) >= 3 and full.startswith(text):
            return index
    raise ValueError(f"read day {name!r}, expected one of {', '.join(WEEKDAYS)} or a range such as mon-fri")


class ActiveWindow(BaseModel):
    """Local hours on some days of the week; ``start > end`` runs across midnight into the next day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[Weekday, ...] = WEEKDAYS
    start: time
    end: time

    @field_validator("days", mode="before")
    @classmethod
    def _read_days(cls, value: Any) -> Any:
        return _parse_days(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _read_time(cls, value: Any) -> Any:
        return _parse_time(value)

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("an active window needs at least one day")
        return value

    @field_validator("start", "end")
    @classmethod
    def _minutes(cls, value: time) -> time:
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError(f"read {value}, expected a local time in whole minutes (HH:MM)")
        return value

    @field_serializer("start", "end")
    def _dump_time(self, value: time) -> str:
        return value.strftime("%H:%M")

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.days)

    def contains(self, local: datetime) -> bool:
        """Whether the site-local wall time ``local`` is inside this window."""
        clock, weekday = local.time().replace(tzinfo=None), local.weekday()
        if self.start == self.end:
            return weekday in self.weekdays
        if self.start < self.end:
            return weekday in self.weekdays and self.start <= clock < self.end
        return (weekday in self.weekdays and clock >= self.start) or (
            (weekday - 1) % 7 in self.weekdays and clock < self.end
        )

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0) else f"{self.end:%H:%M}"
        return f"{_days_text(self.weekdays)} {self.start:%H:%M}-{end}"


ActiveWindow.__module__ = PICKLED_MODULE  # checkpoints name it here (see the module docstring)


def _days_text(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "daily"
    runs: list[str] = []
    for day in sorted(days):
        if runs and day - 1 in days and runs[-1][-3:] == WEEKDAYS[day - 1].title():
            head = runs[-1].split("-")[0]
            runs[-1] = f"{head}-{WEEKDAYS[day].title()}"
        else:
            runs.append(WEEKDAYS[day].title())
    return ",".join(runs)
