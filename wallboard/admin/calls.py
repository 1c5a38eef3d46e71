"""Reading the call log (``wb:{site}:calls``, ``wallboard.core.calls``): the one reader behind
``GET /api/v1/calls`` and ``wallboard calls export``.

A request asks for calls that *finished* in [from, to) (the stream ids are the finished times in ms),
filtered by queue, agent, team, outcome (each a set) and caller (a substring of the number as the reader
may see it: masked readers can only match the last 4 digits). Caller numbers and names are masked unless
the reader may see them (``wallboard.core.calls.FULL_CALLER_ROLES``; the CLI reads Redis as an operator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from wallboard.core.calls import FULL_CALLER_ROLES, masked
from wallboard.core.history import stream_id_after, window
from wallboard.store import Store, stream_id_key

MAX_CALLS = 10_000  # rows of one page
MAX_SCANNED = 200_000  # stream entries looked at for one request (filters may skip most)
PAGE = 2_000


@dataclass(frozen=True)
class CallFilter:
    """What a call log request keeps: each non-empty set restricts its field; ``caller`` a substring."""

    queue: frozenset[str] = frozenset()
    agent: frozenset[str] = frozenset()
    team: frozenset[str] = frozenset()
    outcome: frozenset[str] = frozenset()
    caller: str | None = None
    sets: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        named = {"queue": self.queue, "agent": self.agent, "team": self.team, "outcome": self.outcome}
        object.__setattr__(self, "sets", {name: values for name, values in named.items() if values})

    def keeps(self, row: dict[str, Any]) -> bool:
        if not all(row.get(name) in values for name, values in self.sets.items()):
            return False
        return self.caller is None or self.caller in (row.get("caller") or "")


def shows_callers(role: str) -> bool:
    """Whether ``role`` sees caller numbers and names in full."""
    return role in FULL_CALLER_ROLES


def for_reader(row: dict[str, Any], full: bool) -> dict[str, Any]:
    """The row as a reader sees it: caller number and name masked unless ``full``."""
    if full:
        return row
    return {**row, "caller": masked(row.get("caller") or ""), "caller_name": masked(row.get("caller_name") or "")}


def calls_window(start: str | None, end: str | None, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[from, to) in UTC: without both, today (site-local); without ``from``, from today's start; without ``to``, now.

    Raises ``wallboard.core.history.WindowError`` for a bound it cannot read or a window empty or too long.
    """
    today = now.astimezone(tz).date().isoformat()
    if start is None and end is None:
        return window(today, today, tz, now)
    return window(start or today, end, tz, now)


def id_range(low: datetime, high: datetime, cursor: str | None) -> tuple[str, str]:
    """The stream ids of calls finished in [low, high), after ``cursor`` when given."""
    first = f"{max(0, int(low.timestamp() * 1000))}-0"
    if cursor is not None:
        first = max(first, stream_id_after(cursor), key=stream_id_key)
    return first, f"{max(0, int(high.timestamp() * 1000) - 1)}-{2**64 - 1}"


def valid_cursor(cursor: str | None) -> bool:
    """A cursor is a stream id both of whose parts fit Redis's 64 bits (with room for the next id)."""
    if cursor is None:
        return True
    try:
        ms, seq = stream_id_key(cursor)
    except ValueError:
        return False
    return 0 <= ms < 2**64 and 0 <= seq < 2**64 - 1


async def read_calls(
    store: Store, first: str, last: str, wanted: CallFilter, limit: int, *, full: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows (as the reader sees them) between two ids that pass ``wanted``; the cursor when more may remain."""
    rows: list[dict[str, Any]] = []
    scanned, start = 0, first
    while True:
        page = await store.calls.call_rows(start, last, min(PAGE, MAX_SCANNED - scanned))
        for entry_id, row in page:
            scanned += 1
            if row is None:
                continue
            shown = for_reader(row, full)
            if wanted.keeps(shown):
                rows.append(shown)
                if len(rows) == limit:
                    return rows, entry_id
        if len(page) < PAGE or scanned >= MAX_SCANNED:
            return rows, page[-1][0] if page and scanned >= MAX_SCANNED else None
        start = stream_id_after(page[-1][0])
