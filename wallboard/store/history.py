"""Closed interval rows per queue and agent (wallboard.core.history), exported by wallboard.api.history_routes."""

from __future__ import annotations

from typing import Any

from wallboard.store.base import StoreBase
from wallboard.store.layout import (
    HISTORY_FIELD,
    HistoryWrite,
    Keys,
    _json_object,
    _text,
)


class HistoryStore(StoreBase):
    """Closed interval rows per queue and agent (wallboard.core.history), exported by wallboard.api.history_routes."""

    # -- history: closed interval rows (wallboard.core.history), exported by wallboard.api.history_routes
    # <prefix>:{<site>}:history:queue   stream, one entry per queue and closed interval, id "<start ms>-<n>",
    # <prefix>:{<site>}:history:agent   one per active agent and closed interval; field "r" = the row JSON.
    # Written by the runner in its snapshot MULTI (save_state(history=...)); XADD MINID (exact: a few writes an
    # interval) trims rows whose interval started more than the retention before the newest row written
    # (MINID needs Redis >= 6.2).

    async def last_history_id(self, kind: str) -> str | None:
        """The newest entry id of a history stream, None when it is empty."""
        raw: Any = await self._do(self.client.xrevrange(self.keys.history(kind), "+", "-", count=1))
        return _text(raw[0][0]) if raw else None

    async def history_rows(
        self, kind: str, start: str, end: str, count: int
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """Up to ``count`` (id, row) of a history stream between two ids (inclusive), oldest first; None: unreadable."""
        raw: Any = await self._do(self.client.xrange(self.keys.history(kind), start, end, count=count))
        return [
            (_text(entry_id), _json_object(fields.get(HISTORY_FIELD)) if fields else None)
            for entry_id, fields in raw or ()
        ]


def add_history(pipe: Any, keys: Keys, batch: HistoryWrite) -> None:
    """XADD a batch of closed interval rows in ``pipe`` (the checkpoint's MULTI), trimming by MINID."""
    key = keys.history(batch.kind)
    last = len(batch.entries) - 1
    for n, (entry_id, row_json) in enumerate(batch.entries):
        trim = {"minid": batch.min_id, "approximate": False} if n == last and batch.min_id else {}
        pipe.xadd(key, {HISTORY_FIELD: row_json}, id=entry_id, **trim)
