"""REST routes, /ws, /metrics and the probes; the snapshot's JSON Schema.

Every data route reads the in-memory copy the app keeps per site (never Redis), so a request costs
no round trip. ``?site=`` picks a site when the app serves several (default: the first). Data
routes need READ when auth is on: a display token or a session of any role (401 otherwise, see
``security``); ``/healthz`` (liveness: the process answers) is always open, ``/readyz`` too (it reveals no
figures, only which checks failed: Redis, the feed, the engine's freshness, the collectors), ``/metrics`` is
open to loopback clients (or everyone with ``metrics_public``) and otherwise needs READ and, for a
display token, one bound to no board, for a user, an unscoped one (the metrics cover the whole site: 403
otherwise).

A display token bound to a board reads that board's part of the snapshot, a user scoped to teams and queues
that part (``security.view_of``, ``wallboard.core.scopes``): the snapshot, queue and agent routes answer it
narrowed (a queue or agent out of sight is a 404, as an unknown one), and ``/ws`` sends it that view
(``ws.Hub``, one view per board or scoped user, changed at once when the board or the user's scope changes).
``/ws`` refuses after the handshake (close codes exist only then): 4401 for a missing or unknown
token, 4404 for an unknown site, 4503 when the site is not followed yet or Redis cannot check the token.
While open, the socket's credential stays under watch (``security.AccessWatch``): 4401 when it ends
(revoked, logged out, expired, user disabled or removed), 4403 when the user's role may no longer read.

The snapshot routes answer the stored snapshot as the engine published it, never re-validated (it can
hold 10,000 agents); OpenAPI documents them with the snapshot's types (``wallboard.core.schema``), whose
JSON Schema ``/api/v1/snapshot/schema`` serves to whoever may read the snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from redis.exceptions import RedisError
from typing_extensions import TypedDict

from wallboard.api.auth import is_loopback
from wallboard.api.clients import client_address
from wallboard.api.exporter import CONTENT_TYPE, render
from wallboard.api.responses import ERRORS
from wallboard.api.security import (
    Permission,
    authenticate,
    authorise,
    forbidden,
    scope_of,
    site_named,
    unauthorised,
    view_key,
    view_of,
)
from wallboard.api.ws import serve_client
from wallboard.core.readiness import Check, collector_checks, engine_check, snapshot_age_s
from wallboard.core.schema import Agent, QueueFigures, Snapshot, snapshot_json_schema
from wallboard.core.users import DISPLAY

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

log = logging.getLogger(__name__)

SiteQuery = Query(default=None, description="Site to read (default: the first site the API serves).")


class QueueList(TypedDict):
    site: str
    seq: int
    ts: str
    queues: list[QueueFigures]


class AgentList(TypedDict):
    site: str
    seq: int
    ts: str
    agents: list[Agent]


def _answers(model: Any, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a route whose body is (part of) the stored snapshot, documented by ``model``."""
    return {200: {"model": model, "description": description}, **ERRORS}


class Health(BaseModel):
    status: str


class CheckResult(BaseModel):
    ok: bool
    detail: str | None = None


class SiteReadiness(BaseModel):
    redis: bool
    snapshot_seq: int | None
    snapshot_age_s: float | None
    problem: str | None  # the failed checks' details, "; "-joined
    failed: list[str]  # the names of the failed checks (wallboard.core.readiness)
    checks: dict[str, CheckResult]


class Readiness(BaseModel):
    ready: bool
    sites: dict[str, SiteReadiness]


def build_router(runtime: Runtime) -> APIRouter:
    """Every route of the API, bound to ``runtime``."""
    router = APIRouter()

    async def site_for(request: Request, site: str | None) -> ServedSite:
        served = site_named(runtime, site)
        await authorise(runtime, served, request, Permission.READ)
        return served

    async def snapshot_for(request: Request, site: str | None) -> tuple[ServedSite, dict[str, Any]]:
        """The site and its snapshot as the request's credential may read it (narrowed to its board or scope)."""
        served = site_named(runtime, site)
        principal = await authorise(runtime, served, request, Permission.READ)
        return served, await view_of(served, principal)

    @router.get("/api/v1/snapshot", response_model=None, responses=_answers(Snapshot, "The snapshot."))
    async def get_snapshot(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """The latest snapshot of the site (a board-bound display token or a scoped user: their part of it)."""
        return (await snapshot_for(request, site))[1]

    @router.get("/api/v1/snapshot/schema", response_model=None, responses=_answers(dict[str, Any], "JSON Schema."))
    async def get_snapshot_schema(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the snapshot: ``/api/v1/snapshot``'s body, /ws's first message."""
        await site_for(request, site)
        return snapshot_json_schema()

    @router.get("/api/v1/queues", response_model=None, responses=_answers(QueueList, "The queues."))
    async def get_queues(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """Every queue of the site, in snapshot order."""
        _, snap = await snapshot_for(request, site)
        return {"site": snap["site"], "seq": snap["seq"], "ts": snap["ts"], "queues": list(snap["queues"].values())}

    @router.get("/api/v1/queues/{name}", response_model=None, responses=_answers(QueueFigures, "The queue."))
    async def get_queue(request: Request, name: str, site: str | None = SiteQuery) -> dict[str, Any]:
        """One queue by name."""
        served, snap = await snapshot_for(request, site)
        return _member(snap, "queues", "queue", name, served.name)

    @router.get("/api/v1/agents", response_model=None, responses=_answers(AgentList, "The agents."))
    async def get_agents(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """Every agent of the site."""
        _, snap = await snapshot_for(request, site)
        return {"site": snap["site"], "seq": snap["seq"], "ts": snap["ts"], "agents": list(snap["agents"].values())}

    @router.get("/api/v1/agents/{agent_id}", response_model=None, responses=_answers(Agent, "The agent."))
    async def get_agent(request: Request, agent_id: str, site: str | None = SiteQuery) -> dict[str, Any]:
        """One agent by id."""
        served, snap = await snapshot_for(request, site)
        return _member(snap, "agents", "agent", agent_id, served.name)

    @router.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        """Readiness of every site served: Redis answers PING in time, the API follows the updates, the engine's
        snapshot is fresh, every collector reads its source (wallboard.core.readiness). 503 names what failed."""
        return await _readiness(runtime)

    @router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}, **ERRORS})
    async def metrics(request: Request) -> Response:
        """Prometheus text exposition of every site served."""
        client = client_address(request, runtime.settings.trusted_proxies)
        if not (runtime.settings.metrics_public or is_loopback(client)):
            principal = await authorise(runtime, site_named(runtime, None), request, Permission.READ)
            if principal.role == DISPLAY and principal.board is not None:
                raise HTTPException(403, detail=f"a display token for board {principal.board!r} may not read /metrics")
            if principal.scope is not None:
                raise HTTPException(403, detail=f"{principal.name} sees part of the site and may not read /metrics")
        await runtime.refresh_health()
        return Response(render(runtime.registry), media_type=CONTENT_TYPE)

    @router.websocket("/ws")
    async def websocket(websocket: WebSocket, site: str | None = None) -> None:
        """Snapshot, then coalesced deltas and heartbeats (see wallboard.api.ws)."""
        await _websocket(runtime, websocket, site)

    return router


async def _websocket(runtime: Runtime, websocket: WebSocket, site: str | None) -> None:
    try:
        served = site_named(runtime, site)
        principal = await authenticate(runtime, served, websocket, cookie=True)
        if principal is None:
            raise unauthorised()
        if not principal.can(Permission.READ):
            raise forbidden(principal, Permission.READ)
        scope = await scope_of(served, principal)
    except HTTPException as exc:
        # Close codes only exist after the handshake: accept, then close with 4401 / 4403 / 4404 / 4503.
        await websocket.accept()
        await websocket.close(4000 + exc.status_code, str(exc.detail)[:120])
        return
    await websocket.accept()
    with served.access.hold(principal) as seat:
        await serve_client(
            websocket,
            served.hub,
            max_message_bytes=runtime.settings.ws_max_message_bytes,
            key=view_key(principal),
            scope=scope,
            board=principal.board,  # a display token bound to a board hears only that board's messages
            ending=seat.ending,
        )


def _member(snapshot: dict[str, Any], collection: str, noun: str, key: str, site: str) -> dict[str, Any]:
    found: dict[str, Any] | None = snapshot[collection].get(key)
    if found is None:
        known = sorted(snapshot[collection])
        shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        raise HTTPException(404, detail=f"no {noun} {key!r} at site {site!r}; known: {shown or 'none'}")
    return found


async def _readiness(runtime: Runtime) -> JSONResponse:
    """Every site's checks, run side by side: each bounded by ``ready_redis_timeout_s``, so a hung Redis costs
    that long, never more."""
    names = list(runtime.sites)
    results = await asyncio.gather(*(_site_readiness(runtime, runtime.sites[name]) for name in names))
    sites = dict(zip(names, results, strict=True))
    ready = bool(sites) and not any(site.failed for site in sites.values())
    body = Readiness(ready=ready, sites=sites)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _site_readiness(runtime: Runtime, served: ServedSite) -> SiteReadiness:
    settings, feed, now = runtime.settings, served.feed, runtime.clock()
    redis = await _redis_check(served, settings.ready_redis_timeout_s)
    checks = [redis]
    if feed.failure is not None or not feed.redis_ok:
        checks.append(Check("feed", False, feed.failure or feed.problem or "not following the site's updates"))
    checks.append(engine_check(feed.snapshot, now, settings.ready_snapshot_max_age_s))
    if redis.ok:
        try:
            async with asyncio.timeout(settings.ready_redis_timeout_s):
                health = await served.store.events.read_health()
            checks += collector_checks(health, now, settings.ready_collector_stale_s)
        except (RedisError, OSError) as exc:  # OSError includes TimeoutError
            checks.append(Check("collectors", False, f"cannot read the health hashes ({type(exc).__name__})"))
    failed = [check for check in checks if not check.ok]
    return SiteReadiness(
        redis=redis.ok,
        snapshot_seq=feed.seq,
        snapshot_age_s=snapshot_age_s(feed.snapshot, now),
        problem="; ".join(check.detail or check.name for check in failed) or None,
        failed=[check.name for check in failed],
        checks={check.name: CheckResult(ok=check.ok, detail=check.detail) for check in checks},
    )


async def _redis_check(served: ServedSite, timeout_s: float) -> Check:
    """PING, bounded by ``timeout_s`` (a hung Redis answers nothing: the connection is dropped on the way out)."""
    try:
        async with asyncio.timeout(timeout_s):
            await served.store.client.ping()
    except TimeoutError:
        return Check("redis", False, f"Redis did not answer PING within {timeout_s:g} s")
    except (RedisError, OSError) as exc:
        return Check("redis", False, f"Redis unreachable ({type(exc).__name__}: {exc})")
    return Check("redis", True)
