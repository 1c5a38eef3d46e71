"""The root page: ``/`` sends a browser on to the default TV board, ``/tv/default``, keeping its query string.

The TV board itself is the Dash app ``dash_app.tv`` mounted at ``/tv`` by the CLI (``wallboard.cli._pages``):
this module only keeps the short URL the demo announces working, so ``http://host:port/?token=...``
still opens a board. The page is static (200, no data, no secret): a one-line script replaces the
location with ``/tv/default`` plus the page's own query string, so the display token is never
echoed by the server.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

DEFAULT_BOARD_PATH = "/tv/default"
ROOT_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wallboard</title>
<script>location.replace("{DEFAULT_BOARD_PATH}" + location.search);</script></head>
<body style="background:#0b0f14;color:#e8eef5;font-family:sans-serif">
<p>Opening the <a href="{DEFAULT_BOARD_PATH}">default board</a>…</p></body></html>
"""


def mount_board_page(app: FastAPI) -> None:
    """Serve ``/``: a static page that moves the browser to the default board, query string kept."""

    async def root() -> HTMLResponse:
        return HTMLResponse(ROOT_HTML, headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"})

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
