"""The schedules API: read the planned activities, import a CSV or JSON file (all or nothing), clear them.

| route                      | permission     | answers                                                        |
|----------------------------|----------------|----------------------------------------------------------------|
| GET    /api/v1/schedules   | READ (a user)  | the stored rows (``?agent=``, ``?date=`` filter; ``?format=csv``) |
| PUT    /api/v1/schedules   | EDIT_SCHEDULES | import a file (``?mode=replace|merge``); 422 per row; 409; 413 |
| POST   /api/v1/schedules   | EDIT_SCHEDULES | the same as PUT                                                |
| DELETE /api/v1/schedules   | EDIT_SCHEDULES | clear every slot (a new, empty version)                        |

Theory of operation
-------------------
The schedule in force is the document ``wb:{site}:config:schedules`` (``Store.read_schedules``):
``{"version", "slots": [rows], "updated_by", "updated_ts"}`` with rows as
``wallboard.core.adherence.schedule.dump_schedule`` writes them; absent, it is version 0 with no slot.

An import's body is the file itself: ``Content-Type: text/csv`` (or ``text/plain``) for CSV,
``application/json`` for JSON, at most ``MAX_BYTES``. It is validated against the site (its time
zone, agents and activities: the API's site file, else, for a site without one, the time zone of
its latest snapshot with any agent id accepted). ``mode=replace`` (default) replaces the whole
schedule; ``mode=merge`` replaces only the (agent, day) pairs the file has rows for and keeps the
rest, checking that what is kept does not overlap the new rows. Any problem answers 422
``{"detail": [{"row": N, "reason": "..."}]}`` (row 0: the file as a whole) and nothing is stored;
the rejection is logged (actor, size, problem rows: never the file) and counted in the site's
``schedules`` health hash (``wallboard_events_rejected_total{component="schedules"}`` on /metrics).

Writes are compare-and-set on the version: ``If-Match: N`` makes the import apply only to version
N (409 otherwise); without it the import applies to the version read when the request started,
and a concurrent change in between is still a 409. A write stores version N + 1 in one Lua script
with its audit entry (``schedules.import`` / ``schedules.delete``, old/new = version and counts)
and a ``{"type": "schedules", "version": N + 1}`` notice on ``wb:{site}:config`` for the runner.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from wallboard.admin import schedules
from wallboard.admin.schedules import Mode
from wallboard.api.responses import GUARDED, Detail
from wallboard.api.security import Permission, Principal, guarded, require, site_named
from wallboard.core.adherence.schedule import (
    COLUMNS,
    MAX_BYTES,
    Format,
    Schedule,
    ScheduleError,
    describe,
)
from wallboard.core.site import SiteConfig
from wallboard.store import ConfigConflictError

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

log = logging.getLogger(__name__)

SiteQuery = Query(default=None, description="Site (default: the first site the API serves).")
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True, display=False))]  # no TV reads schedules
Planner = Annotated[Principal, Depends(require(Permission.EDIT_SCHEDULES, cookie=True))]
IfMatch = Annotated[str | None, Header(max_length=32, description="the version this change is based on")]
CONTENT_TYPES: dict[str, Format] = {"text/csv": "csv", "text/plain": "csv", "application/json": "json"}


class RowProblem(BaseModel):
    row: int = Field(description="1-based data row (the CSV header is not counted); 0: the file as a whole")
    reason: str


class RowProblems(BaseModel):
    detail: list[RowProblem]


class ScheduleDocument(BaseModel):
    version: int = Field(description="0: nothing stored yet")
    slots: list[dict[str, str]] = Field(description="rows agent, date, start, end, activity (site-local)")
    updated_by: str | None = None
    updated_ts: str | None = None


class ScheduleSummary(BaseModel):
    version: int
    slots: int
    agents: int
    days: int
    first_day: str | None
    last_day: str | None
    updated_by: str | None = None
    updated_ts: str | None = None


WRITES: dict[int | str, dict[str, Any]] = {
    **GUARDED,
    409: {"model": Detail, "description": "The schedule is not at the version the change is based on."},
    413: {"model": Detail, "description": f"The file is larger than {MAX_BYTES} bytes."},
    415: {"model": Detail, "description": "Neither text/csv nor application/json."},
    422: {"model": RowProblems, "description": "Problems by row: nothing was stored."},
}


def build_schedule_router(runtime: Runtime) -> APIRouter:
    """GET/PUT/POST/DELETE /api/v1/schedules, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1/schedules")

    @router.get("", response_model=ScheduleDocument, responses={**GUARDED, 200: {"content": {"text/csv": {}}}})
    async def get_schedules(
        response: Response,
        principal: Reader,
        site: str | None = SiteQuery,
        agent: Annotated[str | None, Query(max_length=128)] = None,
        day: Annotated[date | None, Query(alias="date")] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        """The stored schedule (or the rows of one agent and/or one site-local day), its version as the ETag."""
        document = await guarded(schedules.current(site_named(runtime, site).store))
        rows = [row for row in document["slots"] if _selected(row, agent, day)]
        headers = {"ETag": f'"{document["version"]}"'}
        if format == "csv":
            return Response(_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
        response.headers.update(headers)
        return {**document, "slots": rows}

    async def write(request: Request, principal: Principal, site: str | None, mode: Mode, if_match: str | None) -> Any:
        served = site_named(runtime, site)
        kind = _format(request.headers.get("content-type", ""))
        body = await _body(served, principal, request)
        at = datetime.fromtimestamp(runtime.clock(), UTC)
        config = site_config(runtime, served)
        try:
            imported = await guarded(schedules.import_schedule(
                served.store, body, config, kind, mode=mode, actor=principal.name, at=at, if_match=if_match
            ))  # fmt: skip
        except ScheduleError as exc:
            raise HTTPException(422, detail=[{"row": p.row, "reason": p.message} for p in exc.problems]) from exc
        except schedules.UnmergeableScheduleError as exc:
            raise HTTPException(422, detail=[{"row": 0, "reason": str(exc)}]) from exc
        except (schedules.ScheduleVersionError, ConfigConflictError) as exc:
            raise _conflict(exc) from exc
        return _summary(imported.document, imported.schedule)

    @router.put("", response_model=ScheduleSummary, responses=WRITES, openapi_extra=_BODY)
    async def put_schedules(
        request: Request,
        response: Response,
        principal: Planner,
        site: str | None = SiteQuery,
        mode: Mode = "replace",
        if_match: IfMatch = None,
    ) -> Any:
        """Import a schedule file (the body): all rows valid or nothing stored."""
        summary = await write(request, principal, site, mode, if_match)
        response.headers["ETag"] = f'"{summary["version"]}"'
        return summary

    @router.post("", response_model=ScheduleSummary, responses=WRITES, openapi_extra=_BODY)
    async def post_schedules(
        request: Request,
        response: Response,
        principal: Planner,
        site: str | None = SiteQuery,
        mode: Mode = "replace",
        if_match: IfMatch = None,
    ) -> Any:
        """The same as PUT (for clients that upload with POST)."""
        summary = await write(request, principal, site, mode, if_match)
        response.headers["ETag"] = f'"{summary["version"]}"'
        return summary

    @router.delete("", response_model=ScheduleSummary, responses={**GUARDED, 409: WRITES[409]})
    async def delete_schedules(
        response: Response, principal: Planner, site: str | None = SiteQuery, if_match: IfMatch = None
    ) -> Any:
        """Clear the schedule: a new version without slots (nothing is written when there is none)."""
        served = site_named(runtime, site)
        at = datetime.fromtimestamp(runtime.clock(), UTC)
        try:
            stored = await guarded(
                schedules.clear_schedule(served.store, actor=principal.name, at=at, if_match=if_match)
            )
        except (schedules.ScheduleVersionError, ConfigConflictError) as exc:
            raise _conflict(exc) from exc
        response.headers["ETag"] = f'"{stored["version"]}"'
        return _summary(stored, Schedule())

    return router


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "agent,date,start,end,activity\n"},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


def site_config(runtime: Runtime, served: ServedSite) -> SiteConfig:
    """The site file, else the site's time zone from its latest snapshot (any agent id accepted).

    Before any snapshot, a site without a site file is what an engine without one runs: UTC. The rows
    are stored as wall-clock times and the engine reads them in its own zone, so the zone only
    decides here which times fall in a DST gap.
    """
    if runtime.site_config is not None and served.name == runtime.settings.site:
        return runtime.site_config
    snapshot = served.feed.snapshot
    zone = snapshot.get("tz") if snapshot is not None else None
    if not isinstance(zone, str):
        return SiteConfig(site=served.name)
    return SiteConfig(site=served.name, timezone=zone)


def _format(content_type: str) -> Format:
    media = content_type.partition(";")[0].strip().lower()
    kind = CONTENT_TYPES.get(media)
    if kind is None:
        raise HTTPException(
            415, detail=f"read Content-Type {media or '(none)'!r}, expected text/csv or application/json"
        )
    return kind


async def _body(served: ServedSite, principal: Principal, request: Request) -> bytes:
    """The request body, 413 beyond MAX_BYTES (counted as a rejected import)."""
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = int(declared) if declared.isdigit() else 0
    if size <= MAX_BYTES:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BYTES:
                break
            chunks.append(chunk)
    if size > MAX_BYTES:
        too_big = ScheduleError([])
        await guarded(schedules.reject(served.store, principal.name, size, too_big, why=f"more than {MAX_BYTES} bytes"))
        raise HTTPException(413, detail=f"the file has more than {MAX_BYTES} bytes: split it (by days or teams)")
    return b"".join(chunks)


def _summary(document: dict[str, Any], schedule: Schedule) -> dict[str, Any]:
    return {
        **describe(schedule),
        "version": document["version"],
        "updated_by": document.get("updated_by"),
        "updated_ts": document.get("updated_ts"),
    }


def _selected(row: dict[str, Any], agent: str | None, day: date | None) -> bool:
    return (agent is None or row.get("agent") == agent) and (day is None or row.get("date") == day.isoformat())


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _conflict(exc: Exception) -> HTTPException:
    if isinstance(exc, ConfigConflictError):
        return HTTPException(409, detail=f"the schedule changed meanwhile ({exc}): reload it")
    return HTTPException(409, detail=str(exc))
