"""REST routes, /ws, /metrics and the probes; the snapshot's JSON Schema.

Every data route reads the in-memory copy the app keeps per site (never Redis), so a request costs
no round trip. ``?site=`` picks a site when the app serves several (default: the first). Data
routes need READ when auth is on: a display token or a session of any role (401 otherwise, see
``security``); ``/healthz`` is always open, ``/readyz`` too (it reveals no data), ``/metrics`` is
open to loopback clients (or everyone with ``metrics_public``) and otherwise needs READ.
``/ws`` refuses after the handshake (close codes exist only then): 4401 for a missing or unknown
token, 4404 for an unknown site, 4503 when the site is not followed yet or Redis cannot check the token.

The snapshot routes answer the stored snapshot as the engine published it, never re-validated (it can
hold 10,000 agents); OpenAPI documents them with the snapshot's types (``wallboard.core.schema``), whose
JSON Schema ``/api/v1/snapshot/schema`` serves to whoever may read the snapshot.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from typing_extensions import TypedDict

from wallboard.api.auth import is_loopback
from wallboard.api.exporter import CONTENT_TYPE, render
from wallboard.api.responses import ERRORS
from wallboard.api.security import Permission, authenticate, authorise, site_named, unauthorised
from wallboard.api.ws import serve_client
from wallboard.core.schema import Agent, QueueFigures, Snapshot, snapshot_json_schema

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
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


class SiteReadiness(BaseModel):
    redis: bool
    snapshot_seq: int | None
    problem: str | None


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

    @router.get("/api/v1/snapshot", response_model=None, responses=_answers(Snapshot, "The snapshot."))
    async def get_snapshot(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """The latest snapshot of the site."""
        return _snapshot(await site_for(request, site))

    @router.get("/api/v1/snapshot/schema", response_model=None, responses=_answers(dict[str, Any], "JSON Schema."))
    async def get_snapshot_schema(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the snapshot: ``/api/v1/snapshot``'s body, /ws's first message."""
        await site_for(request, site)
        return snapshot_json_schema()

    @router.get("/api/v1/queues", response_model=None, responses=_answers(QueueList, "The queues."))
    async def get_queues(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """Every queue of the site, in snapshot order."""
        snap = _snapshot(await site_for(request, site))
        return {"site": snap["site"], "seq": snap["seq"], "ts": snap["ts"], "queues": list(snap["queues"].values())}

    @router.get("/api/v1/queues/{name}", response_model=None, responses=_answers(QueueFigures, "The queue."))
    async def get_queue(request: Request, name: str, site: str | None = SiteQuery) -> dict[str, Any]:
        """One queue by name."""
        served = await site_for(request, site)
        return _member(_snapshot(served), "queues", "queue", name, served.name)

    @router.get("/api/v1/agents", response_model=None, responses=_answers(AgentList, "The agents."))
    async def get_agents(request: Request, site: str | None = SiteQuery) -> dict[str, Any]:
        """Every agent of the site."""
        snap = _snapshot(await site_for(request, site))
        return {"site": snap["site"], "seq": snap["seq"], "ts": snap["ts"], "agents": list(snap["agents"].values())}

    @router.get("/api/v1/agents/{agent_id}", response_model=None, responses=_answers(Agent, "The agent."))
    async def get_agent(request: Request, agent_id: str, site: str | None = SiteQuery) -> dict[str, Any]:
        """One agent by id."""
        served = await site_for(request, site)
        return _member(_snapshot(served), "agents", "agent", agent_id, served.name)

    @router.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        """Readiness: Redis reachable and a snapshot read, for every site served."""
        return _readiness(runtime)

    @router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}, **ERRORS})
    async def metrics(request: Request) -> Response:
        """Prometheus text exposition of every site served."""
        client = request.client.host if request.client else None
        if not (runtime.settings.metrics_public or is_loopback(client)):
            await authorise(runtime, site_named(runtime, None), request, Permission.READ)
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
        if await authenticate(runtime, served, websocket, cookie=True) is None:
            raise unauthorised()
    except HTTPException as exc:
        # Close codes only exist after the handshake: accept, then close with 4401 / 4404 / 4503.
        await websocket.accept()
        await websocket.close(4000 + exc.status_code, str(exc.detail)[:120])
        return
    await websocket.accept()
    await serve_client(websocket, served.hub, max_message_bytes=runtime.settings.ws_max_message_bytes)


def _snapshot(served: ServedSite) -> dict[str, Any]:
    snapshot = served.feed.snapshot
    if snapshot is None:
        raise HTTPException(503, detail=f"no snapshot of site {served.name!r} yet ({served.feed.problem})")
    return snapshot


def _member(snapshot: dict[str, Any], collection: str, noun: str, key: str, site: str) -> dict[str, Any]:
    found: dict[str, Any] | None = snapshot[collection].get(key)
    if found is None:
        known = sorted(snapshot[collection])
        shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        raise HTTPException(404, detail=f"no {noun} {key!r} at site {site!r}; known: {shown or 'none'}")
    return found


def _readiness(runtime: Runtime) -> JSONResponse:
    sites = {
        name: SiteReadiness(
            redis=served.feed.redis_ok,
            snapshot_seq=served.feed.seq,
            problem=None if served.feed.ready else (served.feed.failure or served.feed.problem),
        )
        for name, served in runtime.sites.items()
    }
    ready = bool(sites) and all(served.feed.ready for served in runtime.sites.values())
    body = Readiness(ready=ready, sites=sites)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
