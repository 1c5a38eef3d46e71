"""Boards as configuration: what a TV shows, stored in Redis and edited through the API.

Theory of operation
-------------------
A board is a JSON document in the hash ``wb:{site}:config:boards`` (board name -> document)::

    {"title": str, "queues": [queue...], "groups": [group...], "tiles": [figure key...],
     "pages": [{"title": str, "queues": [queue...], "seconds": int}], "group_tiles": bool,
     "team_tiles": bool, "teams": [team...], "version": int, "updated_by": str | None, "updated_ts": iso | None}

Empty ``queues`` and ``groups`` mean every queue; empty ``tiles`` means the standard set
(``TILE_KEYS``, the figures of ``dash_app.layout.KPIS``: a test keeps the two lists equal);
``pages`` (optional) make the TV rotate between queue subsets, ``seconds`` each. ``group_tiles``
shows one combined tile per group (of ``groups``; none and no ``queues``: every group) instead of
one per queue; ``team_tiles`` adds an adherence tile per team of ``teams`` (none: every team). Stored
boards without these fields read as false / empty. ``dash_app.layout`` documents what a TV shows.

* ``GET /api/v1/boards`` and ``GET /api/v1/boards/{name}`` need READ, so a TV's display token reads
  its board; a token bound to a board reads only that one (403 for another, the list holds only it).
  A name with no stored board answers the *default board* (every queue, standard tiles, version 0)
  for ``default``, else 404.
* ``PUT /api/v1/boards/{name}`` (MANAGE_BOARDS: ops and admin) validates
  the body: 422 ``{"detail": [{"field", "reason"}]}``, also for queues and groups the site does not
  have (checked against the site file, else the latest snapshot). It writes version + 1 (a
  ``version`` in the body must match the stored one, else 409) in one MULTI with its audit entry
  (``board.update``) and a ``{"type": "board", "name", "version"}`` notice on ``wb:{site}:config``.
  ``DELETE`` removes a stored board likewise (``board.delete``).

TVs pick changes up without a reload: the TV page re-reads its board through this API every
``BOARD_REFRESH_S`` (30 s; configuration, not data: the figures come only from ``/ws``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from wallboard.admin.accounts import audit_entry
from wallboard.admin.boards import default_board
from wallboard.api.responses import GUARDED, Detail, problems
from wallboard.api.runtime import known_targets
from wallboard.api.security import Permission, Principal, check_board, guarded, require, site_named
from wallboard.core.scopes import DEFAULT_BOARD
from wallboard.core.text import CleanText

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

BOARD_REFRESH_S = 30
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
RESERVED = frozenset({"assets"})  # paths of the TV's Dash app under /tv/
TileKey = Literal[
    "waiting",
    "longest_wait",
    "sl_interval",
    "sl_day",
    "asa",
    "aht",
    "abandon",
    "available",
    "on_call",
    "wrap_up",
    "paused",
    "logged_in",
    "needed",
]
TILE_KEYS: tuple[str, ...] = get_args(TileKey)  # the figures of dash_app.layout.KPIS (a test keeps them equal)
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
Manager = Annotated[Principal, Depends(require(Permission.MANAGE_BOARDS, cookie=True))]
BoardName = Annotated[str, Path(pattern=NAME_PATTERN, description="board name (lower case, digits, _ and -)")]
QueueName = Annotated[str, Field(min_length=1, max_length=128)]


class BoardPage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: CleanText = Field(default="", max_length=80)
    queues: list[QueueName] = Field(min_length=1, max_length=50)
    seconds: int = Field(ge=5, le=3600)


class BoardBody(BaseModel):
    """A board as written by PUT (``version``: the stored version it replaces, checked when given)."""

    model_config = ConfigDict(extra="forbid")
    title: CleanText = Field(default="", max_length=80)
    queues: list[QueueName] = Field(default=[], max_length=200)
    groups: list[QueueName] = Field(default=[], max_length=50)
    tiles: list[TileKey] = Field(default=[], max_length=len(TILE_KEYS))
    pages: list[BoardPage] = Field(default=[], max_length=20)
    group_tiles: bool = False
    team_tiles: bool = False
    teams: list[QueueName] = Field(default=[], max_length=200)
    version: int | None = Field(default=None, ge=0)


class Board(BaseModel):
    title: str
    queues: list[str]
    groups: list[str]
    tiles: list[str]
    pages: list[dict[str, Any]]
    group_tiles: bool = False
    team_tiles: bool = False
    teams: list[str] = []
    version: int
    updated_by: str | None = None
    updated_ts: str | None = None


def build_board_router(runtime: Runtime) -> APIRouter:
    """GET/PUT/DELETE /api/v1/boards..., bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1/boards")

    @router.get("", response_model=dict[str, Board], responses=GUARDED)
    async def list_boards(principal: Reader, site: str | None = None) -> dict[str, dict[str, Any]]:
        """Every stored board by name (plus ``default`` while none is stored under that name)."""
        boards = await guarded(site_named(runtime, site).store.boards.list_boards())
        every = {DEFAULT_BOARD: default_board(), **boards}
        if principal.board is not None:  # a display token bound to one board
            return {name: board for name, board in every.items() if name == principal.board}
        return every

    @router.get("/{name}", response_model=Board, responses={**GUARDED, 404: {"model": Detail}})
    async def get_board(name: BoardName, principal: Reader, site: str | None = None) -> dict[str, Any]:
        """One board (the default board for ``default`` while none is stored)."""
        check_board(principal, name)
        return await _stored(site_named(runtime, site), name)

    @router.put("/{name}", response_model=Board, responses={**GUARDED, 409: {"model": Detail}})
    async def put_board(
        name: BoardName, body: BoardBody, response: Response, principal: Manager, site: str | None = None
    ) -> dict[str, Any]:
        """Create or replace a board (validated, versioned, audited, announced)."""
        served = site_named(runtime, site)
        _check_names(runtime, served, name, body)
        old = await guarded(served.store.boards.get_board(name))
        version = int(old["version"]) if old is not None else 0
        if body.version is not None and body.version != version:
            raise HTTPException(409, detail=f"board {name!r} is at version {version}, not {body.version}: reload it")
        now = datetime.fromtimestamp(runtime.clock(), UTC)
        board = {**body.model_dump(exclude={"version"}), "version": version + 1}
        board |= {"updated_by": principal.name, "updated_ts": now.isoformat()}
        audit = audit_entry(now, principal.name, "board.update", f"board:{name}", old, board)
        await guarded(served.store.boards.write_board(name, board, audit))
        response.headers["ETag"] = f'"{board["version"]}"'
        return board

    @router.delete("/{name}", status_code=204, responses={**GUARDED, 404: {"model": Detail}})
    async def delete_board(name: BoardName, principal: Manager, site: str | None = None) -> Response:
        """Remove a stored board (``default`` then falls back to the default board)."""
        served = site_named(runtime, site)
        old = await guarded(served.store.boards.get_board(name))
        if old is None:
            raise HTTPException(404, detail=f"no stored board {name!r}")
        now = datetime.fromtimestamp(runtime.clock(), UTC)
        audit = audit_entry(now, principal.name, "board.delete", f"board:{name}", old, None)
        await guarded(served.store.boards.write_board(name, None, audit))
        return Response(status_code=204)

    return router


async def _stored(served: ServedSite, name: str) -> dict[str, Any]:
    board = await guarded(served.store.boards.get_board(name))
    if board is not None:
        return board
    if name == DEFAULT_BOARD:
        return default_board()
    raise HTTPException(404, detail=f"no board {name!r}")


def _check_names(runtime: Runtime, served: ServedSite, name: str, body: BoardBody) -> None:
    """422 for a reserved board name, or queues, groups and teams the site does not have."""
    found: list[tuple[str, str]] = []
    if name in RESERVED:
        found.append(("name", f"{name!r} is reserved"))
    site = known_targets(runtime, served)
    queues = set(site.queues)
    groups = {queue.group for queue in site.queues.values() if queue.group}
    snapshot_queues = (served.feed.snapshot or {}).get("queues") or {}
    groups |= {str(q["group"]) for q in snapshot_queues.values() if isinstance(q, dict) and q.get("group")}
    found += [(f"queues[{i}]", f"unknown queue {q!r}") for i, q in enumerate(body.queues) if q not in queues]
    found += [(f"groups[{i}]", f"unknown group {g!r}") for i, g in enumerate(body.groups) if g not in groups]
    teams = set(site.teams) | {agent.team for agent in site.agents.values() if agent.team}
    teams |= set((served.feed.snapshot or {}).get("teams") or {})
    found += [(f"teams[{i}]", f"unknown team {t!r}") for i, t in enumerate(body.teams) if t not in teams]
    for p, page in enumerate(body.pages):
        found += [
            (f"pages[{p}].queues[{i}]", f"unknown queue {q!r}") for i, q in enumerate(page.queues) if q not in queues
        ]
    if found:
        raise problems(*found)
