"""``GET /api/v1/calls``: the call log (one row per finished call) as JSON or CSV.

Theory of operation
-------------------
The engine runner writes one record per finished call to the site's call log stream
(``wallboard.core.calls``, ``wallboard.admin.calls``), with stream ids made of the call's ``finished`` time
in epoch ms. A request names a window ``from``/``to`` (an ISO time, site-local without an offset, or a
date: site-local midnight, a ``to`` date includes its day); without both it is today (site-local).
``queue=``, ``agent=``, ``team=`` and ``outcome=`` filter (each may be repeated), ``caller=`` keeps the
calls whose number, as the reader sees it, contains that text. Rows are oldest first, at most ``limit``
(default and maximum 10,000); when more may remain, ``next_cursor`` (JSON) or the ``X-Next-Cursor`` header
(CSV) is what to pass as ``cursor=`` for the next page.

Caller numbers are personal data: viewer and planner get them masked (all but the last 4 digits, and the
caller's name), supervisor, ops and admin in full. Any logged-in role reads; a display token gets 403.
A window that cannot be read, empty or longer than 93 days is a 422; Redis unreachable is a 503.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from wallboard.admin.calls import MAX_CALLS, CallFilter, calls_window, id_range, read_calls, shows_callers, valid_cursor
from wallboard.api.responses import ERRORS, GUARDED, problems
from wallboard.api.security import Permission, Principal, guarded, require, rows_of, site_named
from wallboard.core.calls import OUTCOMES, calls_csv
from wallboard.core.history import WindowError
from wallboard.core.users import DISPLAY

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

CSV_TYPE = "text/csv; charset=utf-8"
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
Names = Annotated[list[str] | None, Query(max_length=100)]
Outcome = Literal[OUTCOMES]  # type: ignore[valid-type]


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


def build_call_router(runtime: Runtime) -> APIRouter:
    """The call log route, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1")
    responses = {**ERRORS, **GUARDED, 200: {"content": {"application/json": {}, "text/csv": {}}}}

    @router.get("/calls", responses=responses, response_class=Response)
    async def calls(
        request: Request,
        principal: Reader,
        start: Annotated[str | None, Query(alias="from", max_length=40, description="ISO date or time")] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40, description="ISO date (included) or time")] = None,
        queue: Names = None,
        agent: Names = None,
        team: Names = None,
        outcome: Annotated[list[Outcome] | None, Query(max_length=len(OUTCOMES))] = None,
        caller: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_CALLS)] = MAX_CALLS,
        cursor: Annotated[str | None, Query(pattern=r"^\d{1,20}-\d{1,20}$", description="a page's next_cursor")] = None,
        format: Annotated[Literal["json", "csv"] | None, Query(description="json (default) or csv")] = None,
        site: Annotated[str | None, Query(description="Site (default: the first the API serves).")] = None,
    ) -> Response:
        """Calls finished in [from, to) (default: today), filtered (see the module docstring)."""
        if principal.role == DISPLAY:
            raise HTTPException(403, detail="a display token may not read the call log (personal data)")
        served = site_named(runtime, site)
        now = datetime.fromtimestamp(runtime.clock(), UTC)
        try:
            low, high = calls_window(start, end, _site_tz(runtime, served), now)
        except WindowError as exc:
            raise problems((exc.field, exc.reason)) from exc
        if not valid_cursor(cursor):
            raise problems(("cursor", "expected the next_cursor a previous page gave"))
        asked = {"queue": set(queue or ()), "agent": set(agent or ()), "team": set(team or ())}
        limits = await rows_of(served, principal, "call") or {}  # a scoped user: their queues and teams only
        for name, allowed in limits.items():
            asked[name] = asked[name] & allowed if asked[name] else allowed
        shut = any(not asked[name] for name in limits)  # nothing left to read (an empty set here filters nothing)
        wanted = CallFilter(
            frozenset(asked["queue"]),
            frozenset(asked["agent"]),
            frozenset(asked["team"]),
            frozenset(outcome or ()),
            caller,
        )
        first, last = id_range(low, high, cursor)
        full = shows_callers(principal.role)
        rows: list[dict[str, Any]] = []
        next_cursor: str | None = None
        if not shut:
            rows, next_cursor = await guarded(read_calls(served.store, first, last, wanted, limit, full=full))
        wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
        if wants_csv:
            name = f"wallboard-calls-{served.name}-{low:%Y%m%dT%H%M}-{high:%Y%m%dT%H%M}.csv"
            headers = {"Content-Disposition": f'attachment; filename="{name}"'}
            if next_cursor is not None:
                headers["X-Next-Cursor"] = next_cursor
            return Response(calls_csv(rows), media_type=CSV_TYPE, headers=headers)
        body = {"site": served.name, "from": low.isoformat(), "to": high.isoformat()}
        return JSONResponse({**body, "calls": rows, "next_cursor": next_cursor})

    return router
