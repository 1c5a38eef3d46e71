"""``GET /api/v1/history/queues`` and ``/agents``: closed interval rows as JSON or CSV (issue 8 H).

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
cookie), a display token gets 403. Redis unreachable is a 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from wallboard.api.admin_routes import GUARDED, problems
from wallboard.api.routes import ERRORS
from wallboard.api.security import Permission, Principal, guarded, require, site_named
from wallboard.core.history import (
    AGENT_COLUMNS,
    MAX_RANGE_DAYS,
    QUEUE_COLUMNS,
    Kind,
    WindowError,
    stream_id_after,
    to_csv,
    window,
)
from wallboard.core.users import DISPLAY
from wallboard.store import Store, stream_id_key

if TYPE_CHECKING:
    from wallboard.api.app import Runtime, ServedSite

__all__ = ["MAX_RANGE_DAYS", "MAX_ROWS", "MAX_SCANNED", "build_history_router", "id_range", "read_rows"]

MAX_ROWS = 50_000
MAX_SCANNED = 200_000  # stream entries looked at for one request (filters may skip most)
PAGE = 2_000
CSV_TYPE = "text/csv; charset=utf-8"
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
Names = Annotated[list[str] | None, Query(max_length=100)]


def _matches(row: dict[str, Any], filters: dict[str, set[str]]) -> bool:
    return all(row.get(field) in wanted for field, wanted in filters.items())


async def read_rows(
    store: Store, kind: Kind, first: str, last: str, filters: dict[str, set[str]], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows between two stream ids that pass the filters, and the last id looked at when more may remain."""
    rows: list[dict[str, Any]] = []
    scanned, start = 0, first
    while True:
        page = await store.history_rows(kind, start, last, min(PAGE, MAX_SCANNED - scanned))
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
    async def queue_history(request: Request, principal: Reader, asked: Asked, queue: Names = None) -> Response:
        """Queue rows of the closed intervals starting in [from, to) (see the module docstring)."""
        return await export(request, principal, asked, "queue", {"queue": queue})

    @router.get("/agents", responses=responses, response_class=Response)
    async def agent_history(
        request: Request, principal: Reader, asked: Asked, agent: Names = None, team: Names = None
    ) -> Response:
        """Agent rows of the closed intervals starting in [from, to) (see the module docstring)."""
        return await export(request, principal, asked, "agent", {"agent": agent, "team": team})

    return router
