"""What the resources answer besides their own bodies: error models, the 401/403/404/422/503 responses they
declare, field problems (422), and the ``site`` query parameter every resource takes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    field: str
    reason: str


class Problems(BaseModel):
    detail: list[FieldProblem]


class Detail(BaseModel):
    detail: str


def problems(*items: tuple[str, str], status: int = 422) -> HTTPException:
    return HTTPException(status, detail=[{"field": field, "reason": reason} for field, reason in items])


async def validation_problems(request: Request, exc: Exception) -> JSONResponse:
    """Request validation errors as ``{"detail": [{"field", "reason"}]}`` (the body's fields without "body.")."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"field": _field(error.get("loc", ())), "reason": str(error.get("msg", ""))} for error in errors]
    return JSONResponse({"detail": detail}, status_code=422)


def _field(loc: Any) -> str:
    parts = list(loc)[1:] if loc and loc[0] == "body" else list(loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


Responses = dict[int | str, dict[str, Any]]


R401: Responses = {401: {"model": Detail, "description": "No valid credential."}}


R403: Responses = {403: {"model": Detail, "description": "The credential lacks the permission."}}


R422: Responses = {422: {"model": Problems, "description": "Invalid input, by field."}}


GUARDED: dict[int | str, dict[str, Any]] = {**R401, **R403, **R422}


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No credential (display token or session), or an unknown one."},
    404: {"model": Problem, "description": "No such site, queue or agent."},
    503: {"model": Problem, "description": "No snapshot yet, or Redis unreachable."},
}


SiteQuery = Query(default=None, description="Site (default: the first site the API serves).")
