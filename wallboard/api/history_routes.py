"""``GET /api/v1/history/queues`` and ``/agents``: closed interval rows as JSON or CSV.

Theory of operation
-------------------
The engine runner writes one row per queue and per active agent for every closed interval to the
site's history streams (``wallboard.core.history``, ``Store.history_rows``), with stream ids made of the
interval's start in epoch ms. A request names a window ``from``/``to``: an ISO time (without offset:
site-local) or a date (site-local midnight; a ``to`` date includes that whole day). Rows whose
interval *starts* in ``[from, to)`` are returned, oldest first, so ``from=2026-03-02&to=2026-03-02``
is that day. Without ``from`` the window starts at the previous site-local midnight (yesterday),
without ``to`` it ends now. ``queue=``, ``agent=`` and ``team=`` filter (each may be repeated).

``format=csv`` (or ``Accept: text/csv`` without ``format``) answers CSV with the fixed header
``wallboard.core.history.QUEUE_COLUMNS``/``AGENT_COLUMNS``; JSON is ``{"kind", "site", "from", "to",
"rows": [...], "next"}``. At most ``limit`` rows (default and maximum MAX_ROWS) and MAX_SCANNED
entries looked at per request: when more remain, ``next`` (JSON) or the ``X-Next-After`` header
(CSV) gives the stream id to pass as ``after=`` for the next page. A window that ends before it
starts, or longer than MAX_RANGE_DAYS, is a 422.

Per-agent figures are for people, not TVs: any user role may read (session or the ops page's
cookie), a display token gets 403. A user scoped to teams and queues reads the rows of their queues and of
their agents only (``security.rows_of``), whatever filters they ask
for. Redis unreachable is a 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from wallboard.admin.history import MAX_ROWS, id_range, read_rows, valid_after
from wallboard.api.responses import ERRORS, GUARDED, problems
from wallboard.api.security import Permission, Principal, guarded, require, rows_of, site_named
from wallboard.core.history import (
    AGENT_COLUMNS,
    QUEUE_COLUMNS,
    Kind,
    WindowError,
    to_csv,
    window,
)
from wallboard.core.users import DISPLAY

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite


CSV_TYPE = "text/csv; charset=utf-8"
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
Names = Annotated[list[str] | None, Query(max_length=100)]


def _site_tz(runtime: Runtime, served: ServedSite) -> ZoneInfo:
    """The site's time zone: its site file, else its latest snapshot's, else UTC."""
    config = runtime.site_config
    if config is not None and config.site == served.name:
        return config.tz
    name = (served.feed.snapshot or {}).get("tz")
    try:
        return ZoneInfo(name) if isinstance(name, str) else ZoneInfo("UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


@dataclass(frozen=True)
class HistoryQuery:
    """What a history request asks for, besides its filters."""

    start: str | None
    end: str | None
    after: str | None
    format: Literal["json", "csv"] | None
    limit: int
    site: str | None


def history_query(
    start: Annotated[
        str | None, Query(alias="from", max_length=40, description="ISO date or time (site-local without offset)")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", max_length=40, description="ISO date (that day included) or time")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=r"^\d{1,20}-\d{1,20}$", description="the next of a previous page")
    ] = None,
    format: Annotated[Literal["json", "csv"] | None, Query(description="json (default) or csv")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = MAX_ROWS,
    site: Annotated[str | None, Query(description="Site (default: the first the API serves).")] = None,
) -> HistoryQuery:
    return HistoryQuery(start, end, after, format, limit, site)


Asked = Annotated[HistoryQuery, Depends(history_query)]


def build_history_router(runtime: Runtime) -> APIRouter:
    """The two history routes, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1/history")
    responses = {**ERRORS, **GUARDED, 200: {"content": {"application/json": {}, "text/csv": {}}}}

    async def export(
        request: Request, principal: Principal, asked: HistoryQuery, kind: Kind, filters: dict[str, Any]
    ) -> Response:
        if principal.role == DISPLAY:
            raise HTTPException(403, detail="a display token may not read interval history (per-agent data)")
        served = site_named(runtime, asked.site)
        now = datetime.fromtimestamp(runtime.clock(), UTC)
        try:
            low, high = window(asked.start, asked.end, _site_tz(runtime, served), now)
        except WindowError as exc:
            raise problems((exc.field, exc.reason)) from exc
        if not valid_after(asked.after):
            raise problems(("after", "expected the stream id a previous page gave as next"))
        first, last = id_range(low, high, asked.after)
        wanted = {field: set(values) for field, values in filters.items() if values}
        for field, allowed in (await rows_of(served, principal, kind) or {}).items():
            wanted[field] = wanted[field] & allowed if field in wanted else allowed
        rows, next_after = await guarded(read_rows(served.store, kind, first, last, wanted, asked.limit))
        if _wants_csv(request, asked.format):
            columns = QUEUE_COLUMNS if kind == "queue" else AGENT_COLUMNS
            name = f"wallboard-{kind}-history-{served.name}-{low:%Y%m%dT%H%M}-{high:%Y%m%dT%H%M}.csv"
            headers = {"Content-Disposition": f'attachment; filename="{name}"'}
            if next_after is not None:
                headers["X-Next-After"] = next_after
            return Response(to_csv(rows, columns), media_type=CSV_TYPE, headers=headers)
        body = {"kind": kind, "site": served.name, "from": low.isoformat(), "to": high.isoformat()}
        return JSONResponse({**body, "rows": rows, "next": next_after})

    @router.get("/queues", responses=responses, response_class=Response)
    async def queue_history(
        request: Request, principal: Reader, asked: Asked, queue: Names = None, channel: Names = None
    ) -> Response:
        """Queue rows of the closed intervals starting in [from, to) (see the module docstring); ``channel`` keeps
        the rows of queues of those channels (a row written before channels existed is voice)."""
        return await export(request, principal, asked, "queue", {"queue": queue, "channel": channel})

    @router.get("/agents", responses=responses, response_class=Response)
    async def agent_history(
        request: Request, principal: Reader, asked: Asked, agent: Names = None, team: Names = None
    ) -> Response:
        """Agent rows of the closed intervals starting in [from, to) (see the module docstring)."""
        return await export(request, principal, asked, "agent", {"agent": agent, "team": team})

    return router
