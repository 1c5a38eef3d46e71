"""The minimal wallboard page of the live pipeline (the Dash TV board replaces it in its own issue).

The page is static: it holds no data and no secret. It reads the display token from its own
URL and opens ``/ws`` with it, so an unauthorised display gets the websocket's 4401 and shows
a clear "not authorised" message.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse


def board_html() -> str:
    return resources.files("wallboard.api").joinpath("static/board.html").read_text(encoding="utf-8")


def mount_board_page(app: FastAPI) -> None:
    """Serve the board at ``/`` and ``/tv/{board}``."""
    html = board_html()

    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"})

    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/tv/{board}", page, methods=["GET"], include_in_schema=False)
