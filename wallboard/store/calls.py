"""The call log (wallboard.core.calls): one stream entry per finished call, read by wallboard.admin.calls.

``<prefix>:{<site>}:calls`` is a stream whose entry ids are the call's ``finished`` time in ms (``<ms>-<n>``,
kept increasing by the runner), fields ``r`` = the row JSON and ``n`` = the record's number in the engine's
log. Written by the runner in its snapshot MULTI (``save_state(calls=...)``); XADD MINID (exact) trims the
records that finished more than the retention before the newest one written (MINID needs Redis >= 6.2).
"""

from __future__ import annotations

from typing import Any

from wallboard.store.base import StoreBase
from wallboard.store.layout import CALL_FIELD, CALL_NUMBER_FIELD, CallsWrite, Keys, _json_object, _text


class CallStore(StoreBase):
    """The call log stream of one site."""

    async def last_call(self) -> tuple[str, int] | None:
        """(stream id, record number) of the newest call record, None when the log is empty."""
        raw: Any = await self._do(self.client.xrevrange(self.keys.calls, "+", "-", count=1))
        if not raw:
            return None
        entry_id, fields = raw[0]
        number = (fields or {}).get(CALL_NUMBER_FIELD)
        return _text(entry_id), int(number) if number is not None else 0

    async def call_rows(self, start: str, end: str, count: int) -> list[tuple[str, dict[str, Any] | None]]:
        """Up to ``count`` (id, row) between two ids (inclusive), oldest first; None: unreadable."""
        raw: Any = await self._do(self.client.xrange(self.keys.calls, start, end, count=count))
        return [
            (_text(entry_id), _json_object(fields.get(CALL_FIELD)) if fields else None)
            for entry_id, fields in raw or ()
        ]


def add_calls(pipe: Any, keys: Keys, write: CallsWrite) -> None:
    """XADD call records in ``pipe`` (the checkpoint's MULTI), trimming by MINID with the last one."""
    last = len(write.entries) - 1
    for n, (entry_id, number, row_json) in enumerate(write.entries):
        trim = {"minid": write.min_id, "approximate": False} if n == last and write.min_id else {}
        pipe.xadd(keys.calls, {CALL_FIELD: row_json, CALL_NUMBER_FIELD: number}, id=entry_id, **trim)
