"""``GET /api/v1/trend``: the last hour of per-queue samples behind the supervisor page's sparklines.

Theory of operation
-------------------
The engine runner samples every queue's calls waiting and interval service level every 10 s into
the site's trend stream (``Store.add_trend_sample``, trimmed to the last ~65 minutes), so the
history survives a page reload and is the same for every browser. This route reads the samples of
the last ``minutes`` (by the API's clock) and pivots them per queue::

    {"sales": [[ts, waiting, sl], ...], ...}     ts: epoch seconds, oldest first; sl: percent or null

The page loads it once and then appends samples it computes from the snapshots the websocket
brings. READ permission: a display token, a session, or the ops page's session cookie; a board-bound token
or a scoped user gets the queues of its view (``security.view_of``). Redis unreachable is a 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request

from wallboard.api.responses import ERRORS, SiteQuery
from wallboard.api.security import Permission, Principal, guarded, require, scope_of, site_named, view_of

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime

__all__ = ["MAX_MINUTES", "build_trend_router", "pivot"]

MAX_MINUTES = 65  # what the runner keeps
Point = list[float | None]


def pivot(samples: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, list[Point]]:
    """Samples (epoch ms, {queue: [waiting, sl]}) -> {queue: [[epoch s, waiting, sl], ...]} in sample order."""
    out: dict[str, list[Point]] = {}
    for at_ms, sample in samples:
        for queue, values in sample.items():
            if isinstance(values, list) and len(values) == 2:
                out.setdefault(queue, []).append([at_ms / 1000, values[0], values[1]])
    return out


def build_trend_router(runtime: Runtime) -> APIRouter:
    """The trend route, bound to ``runtime``."""
    router = APIRouter()
    reader = Depends(require(Permission.READ, cookie=True))

    @router.get("/api/v1/trend", response_model=dict[str, list[Point]], responses=ERRORS)
    async def get_trend(
        request: Request,
        minutes: int = Query(default=60, ge=1, le=MAX_MINUTES, description="How far back, in minutes."),
        site: str | None = SiteQuery,
        principal: Principal = reader,
    ) -> dict[str, list[Point]]:
        """Per queue: [epoch seconds, calls waiting, interval SL %] every 10 s over the last ``minutes``."""
        served = site_named(runtime, site)
        since_ms = int((runtime.clock() - minutes * 60) * 1000)
        trend = pivot(await guarded(served.store.trend.trend_samples(since_ms)))
        if (scope := await scope_of(served, principal)) is not None:  # a board's token, a scoped user: its queues
            queues = (await view_of(served, principal))["queues"] if served.feed.snapshot is not None else {}
            trend = {name: points for name, points in trend.items() if scope.sees_queue(name, queues.get(name))}
        return trend

    return router
