"""What the engine loop writes beside the snapshot: interval history rows, the call log, trend samples.

Each function turns what the book drained into one stream write (or writes a trend sample) and nothing
else: *when* they run, inside which MULTI/EXEC and before which ack, is ``wallboard.processes.engine``'s
business (its module docstring: "Interval history", "Call log", "Trend"). They log under the engine's
logger, as the steps of the engine they are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import ResponseError

from wallboard.core.calls import finished_ms
from wallboard.core.history import row_ids, written
from wallboard.core.site_book import SiteBook
from wallboard.store import CallsWrite, HistoryWrite, Store, stream_id_key

log = logging.getLogger("wallboard.processes.engine")

TREND_KEEP_S = 65 * 60.0  # the trend stream keeps this much (the sparklines show the last hour)
DAY_MS = 86_400_000


async def history_writes(
    store: Store, pending: Mapping[str, list[dict[str, Any]]], retention_days: int
) -> list[HistoryWrite]:
    """The pending rows as stream writes, without the intervals their stream already has.

    A stream may have them when a save_state whose outcome we did not hear went through, or after a
    rebuild from the stream closed the same intervals again. Rows are trimmed (MINID) to the
    ``history_retention_days`` before the newest row's interval.
    """
    writes: list[HistoryWrite] = []
    keep_ms = retention_days * DAY_MS
    for kind, rows in pending.items():
        if not rows:
            continue
        ids = row_ids(rows)
        skip = written(ids, await store.history.last_history_id(kind))
        if skip:
            log.info("site %s: %d %s history rows were already written; skipped", store.site, skip, kind)
        pairs = zip(ids[skip:], rows[skip:], strict=True)
        entries = [(entry_id, json.dumps(row, separators=(",", ":"))) for entry_id, row in pairs]
        if entries:
            newest_ms = int(ids[-1].partition("-")[0])
            writes.append(HistoryWrite(kind, entries, f"{max(0, newest_ms - keep_ms)}-0"))
    return writes


async def calls_write(
    store: Store, pending: Sequence[tuple[int, dict[str, Any]]], retention_days: int
) -> CallsWrite | None:
    """The pending call records as one stream write (None: nothing new), ids increasing after the stream's."""
    if not pending:
        return None
    last = await store.calls.last_call()
    last_key, last_n = (stream_id_key(last[0]), last[1]) if last is not None else ((0, -1), 0)
    entries: list[tuple[str, int, str]] = []
    for number, row in pending:
        if number <= last_n:
            continue  # written by a save whose reply was lost
        key = (finished_ms(row), 0)
        last_key = key if key > last_key else (last_key[0], last_key[1] + 1)
        entries.append((f"{last_key[0]}-{last_key[1]}", number, json.dumps(row, separators=(",", ":"))))
    if not entries:
        return None
    keep_ms = retention_days * DAY_MS
    return CallsWrite(entries, f"{max(0, last_key[0] - keep_ms)}-0")


async def continue_call_log(store: Store, book: SiteBook) -> None:
    """After a rebuild: drop the records the stored call log has, number the others after its newest."""
    last = await store.calls.last_call()
    if last is None:
        return
    newest_ms, last_n = stream_id_key(last[0])[0], last[1]
    kept = [row for _, row in book.state.drain_call_records() if finished_ms(row) > newest_ms]
    book.calls = [(last_n + n, row) for n, row in enumerate(kept, 1)]
    book.state.continue_call_numbers(last_n + len(kept))


async def sample_trend(store: Store, book: SiteBook, snapshot: dict[str, Any], now: datetime) -> None:
    """Write the book's trend sample when one is due; a Redis that refuses the command stops the sampling."""
    sample = book.sample_trend(snapshot, now)
    if sample is None:
        return
    try:
        await store.trend.add_trend_sample(int(now.timestamp() * 1000), sample, TREND_KEEP_S)
    except ResponseError as exc:
        log.error("site %s: cannot write trend samples, sparklines stop (%s)", store.site, exc)
        book.stop_trend()
