"""Importing a schedule: the one use case behind ``PUT /api/v1/schedules``, ``wallboard schedule import`` and the demo.

A schedule file (CSV or JSON rows agent, date, start, end, activity in site-local time) is parsed and
checked whole by ``wallboard.core.adherence.schedule``: every row valid or nothing stored. In ``merge``
mode it replaces only the (agent, day) pairs the file has rows for. The stored document is versioned:
a write names the version it is based on and fails with ``ConfigConflictError`` when the schedule
changed meanwhile. A rejected import is logged (who, how big, which rows, never the file) and counted
(``wallboard_events_rejected_total{component="schedules"}``) before its ``ScheduleError`` goes back to
the caller, which tells the user in its own terms (422 by row, or lines on stderr).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from wallboard.core.adherence.schedule import (
    Format,
    Schedule,
    ScheduleError,
    dump_schedule,
    parse_bytes,
    schedule_from_document,
)
from wallboard.core.site import SiteConfig
from wallboard.errors import WallboardError
from wallboard.store import ConfigFormatError, Store

log = logging.getLogger(__name__)

IMPORT = "schedules.import"
DELETE = "schedules.delete"
Mode = Literal["replace", "merge"]
UNREADABLE = -1  # the version of a stored document that cannot be read: only a replace repairs it


class ScheduleVersionError(WallboardError):
    """The change is based on another version than the stored one: reload and try again."""

    def __init__(self, stored: int, wanted: str) -> None:
        super().__init__(f"the schedule is at version {stored}, not {wanted}: reload it")
        self.stored = stored


class UnmergeableScheduleError(WallboardError):
    """A merge into a stored schedule that cannot be read: import in replace mode. ``reason``: why it cannot."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Imported:
    document: dict[str, Any]  # as stored: version, slots, updated_by, updated_ts
    schedule: Schedule


async def current(store: Store) -> dict[str, Any]:
    """The stored document: version 0 without slots when there is none, UNREADABLE when it cannot be read."""
    try:
        stored = await store.schedules.read_schedules()
    except ConfigFormatError as exc:
        log.error("site %s: the stored schedule is unreadable (%s); only a replace can fix it", store.site, exc)
        return {"version": UNREADABLE, "slots": [], "updated_by": None, "updated_ts": None, "problem": str(exc)}
    if stored is None:
        return {"version": 0, "slots": [], "updated_by": None, "updated_ts": None}
    version = stored.get("version")
    slots = stored.get("slots")
    return {
        "version": version if isinstance(version, int) else UNREADABLE,
        "slots": [row for row in slots if isinstance(row, dict)] if isinstance(slots, list) else [],
        "updated_by": stored.get("updated_by"),
        "updated_ts": stored.get("updated_ts"),
    }


def based_on(stored: int, wanted: str | None) -> int:
    """The version a write is based on: ``wanted`` (an If-Match value, ``*`` or None for any) or the stored one."""
    text = (wanted or "*").strip().strip('"')
    if text != "*" and text != str(stored):
        raise ScheduleVersionError(stored, text)
    return stored


async def import_schedule(
    store: Store,
    data: bytes,
    site: SiteConfig,
    kind: Format,
    *,
    mode: Mode,
    actor: str,
    at: datetime,
    if_match: str | None = None,
) -> Imported:
    """Parse ``data`` (all rows or nothing) and store it as the next version of the site's schedule.

    Raises ScheduleError (counted, logged) for a file with problems, ScheduleVersionError when
    ``if_match`` names another version, UnmergeableScheduleError for a merge into an unreadable
    document, ConfigConflictError when the schedule changed during the import.
    """
    stored = await current(store)
    version = based_on(stored["version"], if_match)
    base = await _merge_base(stored, site) if mode == "merge" else None
    try:
        schedule, rows = await asyncio.to_thread(_parse, data, site, kind, base)
    except ScheduleError as exc:
        await reject(store, actor, len(data), exc)
        raise
    written = await store.schedules.write_schedules({"slots": rows}, max(version, 0), actor, at=at, action=IMPORT)
    log.info("site %s: %s imported schedule version %d (%s mode, %d slots)", store.site, actor, written["version"],
             mode, len(rows))  # fmt: skip
    return Imported(written, schedule)


async def replace_schedule(store: Store, schedule: Schedule, site: SiteConfig, *, actor: str, at: datetime) -> Imported:
    """Store an already built schedule as the next version (the demo's generated one)."""
    rows = dump_schedule(schedule, site)
    stored = await current(store)
    written = await store.schedules.write_schedules(
        {"slots": rows}, max(stored["version"], 0), actor, at=at, action=IMPORT
    )
    return Imported(written, schedule)


async def clear_schedule(store: Store, *, actor: str, at: datetime, if_match: str | None = None) -> dict[str, Any]:
    """A new version without slots (nothing is written when there are none); returns the document."""
    stored = await current(store)
    version = based_on(stored["version"], if_match)
    if not stored["slots"]:
        return stored
    written = await store.schedules.write_schedules({"slots": []}, max(version, 0), actor, at=at, action=DELETE)
    log.info("site %s: %s cleared the schedule (version %d)", store.site, actor, written["version"])
    return written


async def reject(store: Store, actor: str, size: int, error: ScheduleError, *, why: str | None = None) -> None:
    """Log (who, how big, which rows: never the file) and count a rejected import."""
    rows = sorted({problem.row for problem in error.problems})
    first = why or (str(error.problems[0]) if error.problems else "")
    log.warning(
        "site %s: rejected a schedule import by %s (%d bytes): %d problem(s) on rows %s; first: %s",
        store.site,
        actor,
        size,
        len(error.problems) or 1,
        ",".join(map(str, rows[:20])) + (",..." if len(rows) > 20 else ""),
        first[:200],
    )
    await store.schedules.count_schedule_rejection()


async def _merge_base(stored: dict[str, Any], site: SiteConfig) -> Schedule:
    if stored["version"] == UNREADABLE:
        reason = stored.get("problem") or "the stored schedule has no version"
        raise UnmergeableScheduleError("the stored schedule is unreadable: use mode=replace", reason)
    try:
        return await asyncio.to_thread(schedule_from_document, stored, site)
    except ScheduleError as exc:
        reason = str(exc.problems[0])
        raise UnmergeableScheduleError(f"the stored schedule cannot be merged into ({reason}): use mode=replace",
                                       reason) from exc  # fmt: skip


def _parse(data: bytes, site: SiteConfig, kind: Format, base: Schedule | None) -> tuple[Schedule, list[dict[str, str]]]:
    """The schedule of an import and its rows to store (off the event loop: 100,000 rows take about half a second)."""
    schedule = parse_bytes(data, site, kind, merge_into=base)
    return schedule, dump_schedule(schedule, site)
