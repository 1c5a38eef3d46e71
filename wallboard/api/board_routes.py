"""Boards as configuration: what a TV shows, its message, and the display tokens that open it.

Theory of operation
-------------------
A board is a JSON document in the hash ``wb:{site}:config:boards`` (board name -> document)::

    {"title": str, "queues": [queue...], "groups": [group...], "tiles": [figure key...],
     "pages": [{"title": str, "queues": [queue...], "seconds": int}], "group_tiles": bool,
     "team_tiles": bool, "teams": [team...], "campaign_tiles": bool, "campaigns": [campaign...],
     "channels": [channel...], "sound": bool, "kiosk": bool, "version": int, "updated_by": str | None,
     "updated_ts": iso | None}

Empty ``queues`` and ``groups`` mean every queue; empty ``tiles`` means the standard set
(``TILE_KEYS``, the figures of ``dash_app.layout.KPIS``: a test keeps the two lists equal);
``pages`` (optional) make the TV rotate between queue subsets, ``seconds`` each. ``group_tiles``
shows one combined tile per group (of ``groups``; none and no ``queues``: every group) instead of
one per queue; ``team_tiles`` adds an adherence tile per team of ``teams`` (none: every team), ``campaign_tiles``
a tile per outbound campaign of ``campaigns`` (none: every campaign of the snapshot). ``channels`` (voice, chat,
email, callback, outbound; none: every channel) keeps only the queues of those channels on its queue and group
tiles (with no ``queues``: every queue of those channels). ``sound``
chimes when a tile enters alarm; ``kiosk`` says the TV's browser may play it without a click. Stored
boards without these fields read as false / empty. The models and checks are ``wallboard.core.boards``,
the use cases (shared with ``wallboard boards ...``) ``wallboard.admin.boards``.

* ``GET /api/v1/boards`` and ``GET /api/v1/boards/{name}`` need READ, so a TV's display token reads
  its board; a token bound to a board reads only that one (403 for another, the list holds only it).
  A name with no stored board answers the *default board* (every queue, standard tiles, every campaign, version 0)
  for ``default``, else 404.
* ``PUT /api/v1/boards/{name}`` (MANAGE_BOARDS: ops and admin) validates
  the body: 422 ``{"detail": [{"field", "reason"}]}``, also for queues, groups, teams and campaigns the site does
  not have (checked against the site file, else the latest snapshot; campaigns against both). It writes version + 1 (a
  ``version`` in the body must match the stored one, else 409) in one MULTI with its audit entry
  (``board.update``) and a ``{"type": "board", "name", "version"}`` notice on ``wb:{site}:config``.
  ``DELETE`` removes a stored board likewise (``board.delete``).
* ``POST /api/v1/boards/{name}/message`` ``{"text", "level": "info"|"warn", "expires_in_s"}`` (supervisor, ops
  and admin: ``core.boards.MESSAGE_ROLES``; 403 to others and to display tokens) shows a banner on the board's
  TVs until it expires (Redis drops it then too); ``DELETE`` takes it down; both audited (``board.message``,
  ``board.message_clear``) with a ``{"type": "board_message", "name"}`` notice. A supervisor scoped to teams or
  queues posts and clears only on boards that show nothing outside their scope (403 naming what is outside:
  ``admin.boards.message_scope_refusal``); both checks come before the body is read. Every API process pushes
  the change on ``/ws`` to the sockets that may read the board (``messages.MessageFeed``, ``ws.Hub``), so the
  TV's banner (``dash_app/tv_assets/banner.js``) shows it within 2 s. ``GET`` (READ, the board's own display
  tokens) answers ``{"message": {..., "expires_in_s": seconds left} | null}``: the banner's slow fallback.
* ``GET|POST /api/v1/boards/{name}/tokens`` and ``DELETE /api/v1/boards/{name}/tokens/{id}`` (MANAGE_TOKENS,
  also with the ops page's cookie): the display tokens bound to the board; a new one comes with the TV's
  ``url`` and that URL as a QR code (``qr``: an SVG data URI), shown in that response only. The URL starts with
  ``WALLBOARD_PUBLIC_URL`` when set, else with the address the request was made to (``X-Forwarded-Proto`` and
  ``-Host`` believed only from ``WALLBOARD_TRUSTED_PROXIES``: ``clients.client_base_url``).

TVs pick board changes up without a reload: the TV page re-reads its board through this API every
``BOARD_REFRESH_S`` (30 s; configuration, not data: the figures come only from ``/ws``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from wallboard.admin import boards
from wallboard.admin.accounts import TokenNotFoundError
from wallboard.api.clients import client_base_url
from wallboard.api.responses import GUARDED, Detail, problems
from wallboard.api.runtime import known_targets
from wallboard.api.security import Permission, Principal, check_board, guarded, require, site_named
from wallboard.core.boards import (
    MESSAGE_ROLES,
    NAME_PATTERN,
    RESERVED,
    TILE_KEYS,
    Board,
    BoardBody,
    BoardError,
    BoardPage,
    Message,
    MessageBody,
    TileKey,
    site_names,
)
from wallboard.core.scopes import queue_channel
from wallboard.core.text import CleanText
from wallboard.core.users import Role

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

__all__ = [
    "BOARD_REFRESH_S",
    "NAME_PATTERN",
    "RESERVED",
    "TILE_KEYS",
    "Board",
    "BoardBody",
    "BoardPage",
    "TileKey",
    "build_board_router",
]

BOARD_REFRESH_S = 30
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
Manager = Annotated[Principal, Depends(require(Permission.MANAGE_BOARDS, cookie=True))]
TokenManager = Annotated[Principal, Depends(require(Permission.MANAGE_TOKENS, cookie=True))]
_person = require(Permission.READ, cookie=True, display=False)


BoardName = Annotated[str, Path(pattern=NAME_PATTERN, description="board name (lower case, digits, _ and -)")]


async def _poster(request: Request, name: BoardName, principal: Annotated[Principal, Depends(_person)]) -> Principal:
    """A supervisor, ops or admin (``core.boards.MESSAGE_ROLES``), a scoped supervisor only on a board within
    their scope: checked before the body, so others get 403 whatever they send."""
    _may_post(principal)
    if principal.role == Role.SUPERVISOR and principal.scope is not None:
        runtime: Runtime = request.app.state.runtime
        served = site_named(runtime, request.query_params.get("site"))
        board = await guarded(served.store.boards.get_board(name))
        refusal = boards.message_scope_refusal(
            name, board, principal.scope, _group_queues(runtime, served), _queue_channels(runtime, served)
        )
        if refusal is not None:
            raise HTTPException(403, detail=f"{principal.name} may not post board messages there: {refusal}")
    return principal


Poster = Annotated[Principal, Depends(_poster)]
TokenId = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[0-9a-fA-F]+$")]


class BoardMessage(BaseModel):
    message: Message | None = Field(description="the banner the board's TVs show now (null: none)")


class NewBoardToken(BaseModel):
    label: CleanText = Field(default="", max_length=200)


class BoardTokenOut(BaseModel):
    id: str
    board: str | None
    label: str
    created: str


class CreatedBoardToken(BoardTokenOut):
    token: str = Field(description="the display token: shown only in this response")
    url: str = Field(description="the TV's URL, token included: shown only in this response")
    qr: str = Field(description="the URL as a QR code, an SVG data: URI")


def build_board_router(runtime: Runtime) -> APIRouter:
    """/api/v1/boards...: boards, their messages and their display tokens, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1/boards")
    _board_routes(router, runtime)
    _message_routes(router, runtime)
    _token_routes(router, runtime)
    return router


def _board_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("", response_model=dict[str, Board], responses=GUARDED)
    async def list_boards(principal: Reader, site: str | None = None) -> dict[str, dict[str, Any]]:
        """Every stored board by name (plus ``default`` while none is stored under that name)."""
        every = await guarded(boards.list_boards(site_named(runtime, site).store.boards))
        if principal.board is not None:  # a display token bound to one board
            return {name: board for name, board in every.items() if name == principal.board}
        return every

    @router.get("/{name}", response_model=Board, responses={**GUARDED, 404: {"model": Detail}})
    async def get_board(name: BoardName, principal: Reader, site: str | None = None) -> dict[str, Any]:
        """One board (the default board for ``default`` while none is stored)."""
        check_board(principal, name)
        return await _board(site_named(runtime, site), name)

    @router.put("/{name}", response_model=Board, responses={**GUARDED, 409: {"model": Detail}})
    async def put_board(
        name: BoardName, body: BoardBody, response: Response, principal: Manager, site: str | None = None
    ) -> dict[str, Any]:
        """Create or replace a board (validated, versioned, audited, announced)."""
        served = site_named(runtime, site)
        names = site_names(known_targets(runtime, served), served.feed.snapshot)
        try:
            board = await guarded(
                boards.put_board(served.store.boards, name, body, names, actor=principal.name, now=_now(runtime))
            )
        except BoardError as exc:
            raise problems(*exc.problems) from exc
        except boards.BoardConflictError as exc:
            raise HTTPException(409, detail=str(exc)) from exc
        response.headers["ETag"] = f'"{board["version"]}"'
        return board

    @router.delete("/{name}", status_code=204, responses={**GUARDED, 404: {"model": Detail}})
    async def delete_board(name: BoardName, principal: Manager, site: str | None = None) -> Response:
        """Remove a stored board (``default`` then falls back to the default board)."""
        store = site_named(runtime, site).store.boards
        try:
            await guarded(boards.delete_board(store, name, actor=principal.name, now=_now(runtime)))
        except boards.UnknownBoardError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        return Response(status_code=204)


def _message_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("/{name}/message", response_model=BoardMessage, responses={**GUARDED, 404: {"model": Detail}})
    async def get_message(name: BoardName, principal: Reader, site: str | None = None) -> dict[str, Any]:
        """The message the board's TVs show now, with the seconds it has left (``null``: none)."""
        check_board(principal, name)
        served = site_named(runtime, site)
        return {"message": await guarded(boards.read_message(served.store.boards, name, _now(runtime)))}

    @router.post("/{name}/message", response_model=Message, responses={**GUARDED, 404: {"model": Detail}})
    async def post_message(
        name: BoardName, body: MessageBody, principal: Poster, site: str | None = None
    ) -> dict[str, Any]:
        """Show a message on the board's TVs until it expires (replacing any); audited."""
        store = site_named(runtime, site).store.boards
        try:
            return await guarded(boards.post_message(store, name, body, actor=principal.name, now=_now(runtime)))
        except boards.UnknownBoardError as exc:
            raise HTTPException(404, detail=str(exc)) from exc

    @router.delete("/{name}/message", status_code=204, responses=GUARDED)
    async def clear_message(name: BoardName, principal: Poster, site: str | None = None) -> Response:
        """Take the board's message down now (nothing to do when there is none); audited."""
        store = site_named(runtime, site).store.boards
        await guarded(boards.clear_message(store, name, actor=principal.name, now=_now(runtime)))
        return Response(status_code=204)


def _token_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("/{name}/tokens", response_model=list[BoardTokenOut], responses=GUARDED)
    async def list_tokens(name: BoardName, principal: TokenManager, site: str | None = None) -> list[Any]:
        """The display tokens bound to this board (by id: the tokens themselves are never stored)."""
        accounts = site_named(runtime, site).accounts
        return [token.public() for token in await guarded(boards.board_tokens(accounts, name))]

    @router.post(
        "/{name}/tokens",
        response_model=CreatedBoardToken,
        status_code=201,
        responses={**GUARDED, 404: {"model": Detail}},
    )
    async def create_token(
        name: BoardName, body: NewBoardToken, request: Request, principal: TokenManager, site: str | None = None
    ) -> Any:
        """A new display token bound to this board, with the TV's URL and its QR code: shown only in this response."""
        served = site_named(runtime, site)
        settings = runtime.settings
        base = settings.public_url or client_base_url(request, settings.trusted_proxies)
        try:
            made = await guarded(
                boards.create_board_token(
                    served.accounts, served.store.boards, name, body.label, base, actor=principal.name
                )
            )
        except boards.UnknownBoardError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        return {**made.shown.public(), "token": made.token, "url": made.url, "qr": made.qr}

    @router.delete("/{name}/tokens/{token_id}", status_code=204, responses={**GUARDED, 404: {"model": Detail}})
    async def revoke_token(
        name: BoardName, token_id: TokenId, principal: TokenManager, site: str | None = None
    ) -> Response:
        """Revoke a display token of this board by its id (404 for a token of another board, or none)."""
        accounts = site_named(runtime, site).accounts
        try:
            digest, _ = await guarded(boards.revoke_board_token(accounts, name, token_id, actor=principal.name))
        except TokenNotFoundError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        runtime.auth.forget(digest)
        return Response(status_code=204)


async def _board(served: ServedSite, name: str) -> dict[str, Any]:
    try:
        return await guarded(boards.read_board(served.store.boards, name))
    except boards.UnknownBoardError as exc:
        raise HTTPException(404, detail=str(exc)) from exc


def _group_queues(runtime: Runtime, served: ServedSite) -> dict[str, set[str]]:
    """Each queue group's queues, as the site file (the main site's) and the latest snapshot know them."""
    queues: dict[str, Any] = dict(served.feed.snapshot.get("queues") or {}) if served.feed.snapshot else {}
    groups: dict[str, set[str]] = {}
    for name, queue in queues.items():
        if isinstance(queue, dict) and isinstance(queue.get("group"), str):
            groups.setdefault(queue["group"], set()).add(name)
    if runtime.site_config is not None and served.name == runtime.settings.site:
        for name, config in runtime.site_config.queues.items():
            if config.group:
                groups.setdefault(config.group, set()).add(name)
    return groups


def _queue_channels(runtime: Runtime, served: ServedSite) -> dict[str, str]:
    """Each known queue's channel, as the latest snapshot and the site file (the main site's) say it."""
    queues: dict[str, Any] = dict(served.feed.snapshot.get("queues") or {}) if served.feed.snapshot else {}
    channels = {name: queue_channel(queue) for name, queue in queues.items() if isinstance(queue, dict)}
    if runtime.site_config is not None and served.name == runtime.settings.site:
        for name, config in runtime.site_config.queues.items():
            if config.channel:
                channels[name] = config.channel  # the site file fixes it
            else:
                channels.setdefault(name, "voice")
    return channels


def _may_post(principal: Principal) -> None:
    """403 unless a supervisor, ops or admin (``core.boards.MESSAGE_ROLES``) asks."""
    if principal.role not in MESSAGE_ROLES:
        raise HTTPException(403, detail=f"{principal.name} (role {principal.role}) may not post board messages")


def _now(runtime: Runtime) -> datetime:
    return datetime.fromtimestamp(runtime.clock(), UTC)
