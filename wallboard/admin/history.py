"""Reading the closed interval rows the engine keeps in Redis (``wb:{site}:history:{queue,agent}``): the one
reader behind ``GET /api/v1/history/...`` and ``wallboard history export``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallboard.core.history import Kind, stream_id_after
from wallboard.store import Store, stream_id_key

MAX_ROWS = 50_000


MAX_SCANNED = 200_000  # stream entries looked at for one request (filters may skip most)


PAGE = 2_000


_ABSENT = {"channel": "voice"}  # a queue row written before channels existed is a voice queue's


def _matches(row: dict[str, Any], filters: dict[str, set[str]]) -> bool:
    return all(row.get(field, _ABSENT.get(field)) in wanted for field, wanted in filters.items())


async def read_rows(
    store: Store, kind: Kind, first: str, last: str, filters: dict[str, set[str]], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows between two stream ids that pass the filters, and the last id looked at when more may remain."""
    rows: list[dict[str, Any]] = []
    scanned, start = 0, first
    while True:
        page = await store.history.history_rows(kind, start, last, min(PAGE, MAX_SCANNED - scanned))
        for entry_id, row in page:
            scanned += 1
            if row is not None and _matches(row, filters):
                rows.append(row)
                if len(rows) == limit:
                    return rows, entry_id
        if len(page) < PAGE or scanned >= MAX_SCANNED:
            return rows, page[-1][0] if page and scanned >= MAX_SCANNED else None
        start = stream_id_after(page[-1][0])


def id_range(low: datetime, high: datetime, after: str | None) -> tuple[str, str]:
    """The stream ids of rows whose interval starts in [low, high), from after ``after`` when given."""
    first = f"{max(0, int(low.timestamp() * 1000))}-0"
    if after is not None:
        first = max(first, stream_id_after(after), key=stream_id_key)
    return first, f"{max(0, int(high.timestamp() * 1000) - 1)}-{2**64 - 1}"


def valid_after(after: str | None) -> bool:
    """A cursor is a stream id both of whose parts fit Redis's 64 bits (with room for the next id)."""
    if after is None:
        return True
    ms, seq = stream_id_key(after)
    return ms < 2**64 and seq < 2**64 - 1
