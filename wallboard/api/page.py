"""The root page and the door of the TV boards: ``/`` opens the display token's board; ``/tv/<board>`` refuses a
token bound to another board.

The TV board itself is the Dash app ``dash_app.tv`` mounted at ``/tv`` by the CLI (``wallboard.cli.run._pages``):
this module keeps the short URL the demo announces working, so ``http://host:port/?token=...`` opens a board:
the board the token is bound to, else ``default``. The page is static (200, no data, no secret): a one-line
script replaces the location with ``/tv/<board>`` plus the page's own query string, so the display token is
never echoed by the server.

``BoardGate`` answers 403 (a short HTML page, no data) to ``GET /tv/<board>?token=...`` when the token is
bound to another board; every other request under ``/tv`` (the Dash app's own routes and assets, a token
bound to this board or to none, no token) goes through unchanged. The board's data is guarded by the API
itself (``GET /api/v1/boards/<board>`` answers the same 403, ``/ws`` sends only the token's board).
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from wallboard.api.security import Principal, authenticate, site_named
from wallboard.core.scopes import DEFAULT_BOARD

TV_PREFIX = "/tv"
DEFAULT_BOARD_PATH = f"{TV_PREFIX}/{DEFAULT_BOARD}"
_TV_BOARD = re.compile(r"^/tv(?:/(?P<board>[a-z0-9][a-z0-9_-]{0,63}))?/?$")
_NOT_BOARDS = frozenset({"assets"})  # the Dash app's paths under /tv/
HEADERS = {"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}


def root_html(board_path: str) -> str:
    """The root page: moves the browser on to ``board_path``, its query string kept."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wallboard</title>
<script>location.replace({json.dumps(board_path)} + location.search);</script></head>
<body style="background:#0b0f14;color:#e8eef5;font-family:sans-serif">
<p>Opening the <a href="{html.escape(board_path)}">board</a>…</p></body></html>
"""


ROOT_HTML = root_html(DEFAULT_BOARD_PATH)


def mount_board_page(app: FastAPI) -> None:
    """Serve ``/`` (a static page moving the browser on to the token's board) and guard ``/tv/<board>``."""

    async def root(request: Request) -> HTMLResponse:
        principal = await _principal(request)
        board = principal.board if principal is not None and principal.board else DEFAULT_BOARD
        return HTMLResponse(root_html(f"{TV_PREFIX}/{quote(board, safe='')}"), headers=HEADERS)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    app.add_middleware(BoardGate)


class BoardGate:
    """ASGI middleware: 403 for ``/tv/<board>`` opened with a display token bound to another board."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(TV_PREFIX):
            match = _TV_BOARD.match(scope["path"])
            board = (match.group("board") or DEFAULT_BOARD) if match is not None else None
            if board is not None and board not in _NOT_BOARDS:
                principal = await _principal(Request(scope))
                if principal is not None and principal.board is not None and principal.board != board:
                    page = _refused(principal.board, board)
                    await HTMLResponse(page, status_code=403, headers=HEADERS)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _principal(request: Request) -> Principal | None:
    """The display token of ``?token=`` (None without one, or when it cannot be checked now)."""
    if not request.query_params.get("token"):
        return None
    try:
        runtime = request.app.state.runtime
        return await authenticate(runtime, site_named(runtime, request.query_params.get("site")), request)
    except HTTPException:
        return None  # unknown site, Redis unreachable: the page itself says what the API answers


def _refused(bound: str, asked: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wallboard · not authorised</title></head>
<body style="background:#0b0f14;color:#e8eef5;font-family:sans-serif">
<h1>Not authorised</h1><p>This display token is for board {html.escape(bound)!s}, not {html.escape(asked)}.</p>
</body></html>
"""
