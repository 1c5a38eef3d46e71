"""The thresholds API: read them, replace them (validated, versioned, audited), list past versions.

Theory of operation
-------------------
The thresholds in force are the document ``wb:{site}:config:thresholds``
(``{"version", "thresholds", "updated_by", "updated_ts"}``, written only here); while it is absent,
the site file's thresholds are in force as version 0. ``PUT /api/v1/thresholds`` with
``{"version": N, "thresholds": [...]}`` (and optionally ``If-Match: N``):

1. validates the list with ``wallboard.core.thresholds.load_thresholds`` (warn/alarm order, units,
   scopes...) and the queue and team names with ``ThresholdSet.check_against``: against the site
   file (``settings.site_file``) when the API has one for that site, else against the queues and
   teams of the site's latest snapshot (503 before there is one). Problems answer 422
   ``{"detail": [{"field": "thresholds[2].alarm", "reason": "..."}]}``;
2. writes version N + 1 only if version N is still the stored one (compare-and-set under WATCH; a
   stale N is 409 with the current version), in the same MULTI/EXEC as its audit entry
   (``thresholds.update``, old -> new) and a ``{"type": "thresholds", "version": N + 1}`` notice
   on ``wb:{site}:config`` for the engine.

``GET /api/v1/thresholds/history`` lists the versions written, newest first, from the audit stream.
Every route here also accepts the ops page's session cookie (``require(..., cookie=True)``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from pydantic import BaseModel, Field

from wallboard.admin.accounts import audit_entry
from wallboard.api.responses import GUARDED, Detail, problems
from wallboard.api.runtime import known_targets
from wallboard.api.security import Permission, Principal, guarded, require, site_named
from wallboard.core.thresholds import ThresholdError, ThresholdSet, dump_thresholds, load_thresholds
from wallboard.store import THRESHOLDS_CONFIG, ConfigConflictError

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

CONFIG = THRESHOLDS_CONFIG
ACTION = "thresholds.update"
SiteQuery = Query(default=None, description="Site (default: the first site the API serves).")
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True, display=False))]  # no TV shows thresholds
Editor = Annotated[Principal, Depends(require(Permission.EDIT_THRESHOLDS, cookie=True))]


class ThresholdsDocument(BaseModel):
    version: int = Field(description="0: the site file's thresholds, never changed through the API")
    thresholds: list[dict[str, Any]]
    updated_by: str | None = None
    updated_ts: str | None = None
    source: Literal["api", "site_file", "none"] = "api"


class ThresholdsUpdate(BaseModel):
    version: int = Field(ge=0, description="the version this change is based on (compare-and-set)")
    thresholds: list[Any] = Field(description="threshold objects as in the site file's thresholds: section")


class HistoryEntry(BaseModel):
    version: int | None
    updated_by: str
    updated_ts: str
    thresholds: list[dict[str, Any]] = []


def build_threshold_router(runtime: Runtime) -> APIRouter:
    """GET/PUT /api/v1/thresholds and GET /api/v1/thresholds/history, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1/thresholds")

    @router.get("", response_model=ThresholdsDocument, responses=GUARDED)
    async def get_thresholds(response: Response, principal: Reader, site: str | None = SiteQuery) -> dict[str, Any]:
        """The thresholds in force and their version (also as the ETag)."""
        document = await current(runtime, site_named(runtime, site))
        response.headers["ETag"] = f'"{document["version"]}"'
        return document

    @router.put("", response_model=ThresholdsDocument, responses={**GUARDED, 409: {"model": Detail}})
    async def put_thresholds(
        body: ThresholdsUpdate,
        response: Response,
        principal: Editor,
        site: str | None = SiteQuery,
        if_match: Annotated[str | None, Header(max_length=32)] = None,
    ) -> dict[str, Any]:
        """Replace the thresholds (every one of them) if ``version`` is still the one in force."""
        served = site_named(runtime, site)
        if if_match is not None and if_match.strip().strip('"') != str(body.version):
            raise HTTPException(409, detail=f"If-Match {if_match!r} differs from the body's version {body.version}")
        thresholds = validated(runtime, served, body.thresholds)
        document = await replace(runtime, served, principal, body.version, thresholds)
        response.headers["ETag"] = f'"{document["version"]}"'
        return document

    @router.get("/history", response_model=list[HistoryEntry], responses=GUARDED)
    async def history(
        principal: Reader,
        site: str | None = SiteQuery,
        count: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> list[dict[str, Any]]:
        """Versions written through the API, newest first (who, when, the thresholds)."""
        entries = await guarded(site_named(runtime, site).accounts.audit_entries(count, action=ACTION))
        return [_version(entry) for entry in entries]

    return router


async def current(runtime: Runtime, served: ServedSite) -> dict[str, Any]:
    """The stored document, or the site file's thresholds as version 0."""
    stored = await guarded(served.store.config.load_config(CONFIG))
    if stored is not None:
        return {**stored, "source": "api"}
    site = runtime.site_config if served.name == runtime.settings.site else None
    base = site.thresholds if site is not None else ThresholdSet()
    source = "site_file" if site is not None else "none"
    return {
        "version": 0,
        "thresholds": dump_thresholds(base)["thresholds"],
        "updated_by": None,
        "updated_ts": None,
        "source": source,
    }


def validated(runtime: Runtime, served: ServedSite, items: list[Any]) -> ThresholdSet:
    """The thresholds of ``items``, or 422 naming each field at fault (see the module docstring)."""
    try:
        thresholds = load_thresholds({"thresholds": items})
    except ThresholdError as exc:
        raise problems(*((problem.path, problem.message) for problem in exc.problems)) from exc
    found = thresholds.check_against(known_targets(runtime, served))
    if found:
        raise problems(*((problem.path, problem.message) for problem in found))
    return thresholds


async def replace(
    runtime: Runtime, served: ServedSite, principal: Principal, version: int, thresholds: ThresholdSet
) -> dict[str, Any]:
    """Write version ``version + 1`` (409 if ``version`` is not the one in force), audited and announced."""
    old = await current(runtime, served)
    if old["version"] != version:
        raise HTTPException(409, detail=f"the thresholds are at version {old['version']}, not {version}: reload them")
    now = datetime.fromtimestamp(runtime.clock(), UTC)
    document = {
        "version": version + 1,
        "thresholds": dump_thresholds(thresholds)["thresholds"],
        "updated_by": principal.name,
        "updated_ts": now.isoformat(),
    }
    before = {"version": old["version"], "thresholds": old["thresholds"]}
    after = {"version": document["version"], "thresholds": document["thresholds"]}
    audit = audit_entry(now, principal.name, ACTION, CONFIG, before, after)
    try:
        await guarded(served.store.config.replace_config(CONFIG, document, audit))
    except ConfigConflictError as exc:
        raise HTTPException(409, detail=f"the thresholds changed meanwhile ({exc}): reload them") from exc
    return {**document, "source": "api"}


def _version(entry: dict[str, Any]) -> dict[str, Any]:
    new = entry["new"] if isinstance(entry.get("new"), dict) else {}
    version = new.get("version")
    return {
        "version": version if isinstance(version, int) else None,
        "updated_by": entry["actor"],
        "updated_ts": entry["ts"],
        "thresholds": new.get("thresholds") if isinstance(new.get("thresholds"), list) else [],
    }
