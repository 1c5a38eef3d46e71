"""The floor TV board: a Dash page at ``/tv/<board>`` fed live by the websocket, rendered in the browser.

Theory of operation
-------------------
The Dash app serves one static layout (:func:`tv_layout`): header (title, clock, data age), a
STALE banner, a "not authorised" panel and an empty tile grid. The root element carries
``dash_app.layout.catalogue()`` (figure keys, labels, snapshot paths, formats, threshold metrics)
as ``data-catalogue``. The page loads its scripts (``dash_app.static``): ``tv_assets/tv.js`` reads
the catalogue and renders, ``tv_assets/wallboard-client.js``, the websocket client the
supervisor page shares, keeps the snapshot and shows how fresh it is, ``banner.js`` shows the board's message, and
``i18n-catalogs.js`` with ``i18n.js`` translate (``dash_app.i18n``):

* the board name is the path segment after ``/tv/`` (none: ``default``), the display token ``?token=``;
* it reads the board through ``GET /api/v1/boards/<name>`` (Bearer token) and again every
  ``BOARD_REFRESH_S`` seconds (``?refresh=N`` overrides it, at least 1 s), so a board changed
  through the API shows without a reload; a new version rebuilds the tiles. This re-reads
  configuration, never figures: those come only from the websocket;
* the client opens ``/ws?token=...``: the snapshot, then deltas applied in ``seq`` order (a gap
  sends ``{"type": "resync"}``), heartbeats. tv.js renders the tile models of ``dash_app.layout`` (same
  queues, figures, formats, levels; ``tests/dash_app/test_tv.py`` compares the browser's text
  with :func:`dash_app.layout.tile_models`). The DOM of the tiles is built once per board/queue
  set and afterwards only text and classes change (a TV runs for weeks: nothing grows);
* every text is readable from 5 m on any screen (1080p, 4K, 720p, portrait): tv.js (``fitBoard``) picks the
  columns of tiles, and per tile its figure columns and headline size, that give the biggest figures for the
  room the tiles have (a banner strip in the page's column takes its share and the board refits); tv.css keeps
  floors of the screen's short side whatever the board (headline figures 6.1 %, secondary 3.55 %, any text
  2.25 %; ``tests/dash_app/test_tv_readable.py`` measures them, and that no text overflows its box);
* a threshold breached but not yet for its ``for_s`` (the snapshot's ``pending``) shows on its tile as a hollow
  glyph, the level coming and the time left by the server's clock ("△ WARN in 0:42"), and on its figure;
* data older than 6 s (``?stale=N`` overrides it), by the snapshot's ``ts`` and the ``data_ts`` of
  deltas and heartbeats: the client's STALE banner with the data's age, and the tiles dimmed (never
  hidden) until fresh data comes; so a stopped engine shows although its API keeps beating. A closed
  socket reconnects with backoff (0.5 s doubling to 5 s, jittered); a socket silent for 12 s is closed
  and reopened. No page reload ever; after a reconnect the first snapshot replaces everything;
* every text is English in the source and translated in the browser: the shell's texts carry ``data-i18n`` (their
  English text, marked with ``N_``), the figures' labels and words come in the catalogue as English message ids,
  and the scripts' own texts are ``t("...")`` calls. The TV's language is ``?lang=``, else the board's ``language``
  (chosen again at each board read), else the browser's; a change re-renders every text and refits the board.
  The two texts with a value inside (the data's age, STALE's age) are templates with ``{age}`` (``data-template``):
  tv.js fills the text around the age element the client updates;
* close code 4401/4403 or a 401/403 on the board read: the "not authorised" panel, and the socket is
  tried again every 30 s (``?denied_retry=N``), so a token made valid again brings the board back.

``mount_tv_page`` serves it under ``/tv`` of the FastAPI app (GET/HEAD only, like the ops page).
"""

from __future__ import annotations

import json
from typing import Any

from a2wsgi import WSGIMiddleware
from dash import Dash, html
from starlette.applications import Starlette

from dash_app.i18n import N_
from dash_app.layout import catalogue
from dash_app.ops import ReadOnly
from dash_app.static import CLIENT, assets_of

PREFIX = "/tv"
BOARD_REFRESH_S = 30  # re-read the board's configuration (wallboard.api.board_routes.BOARD_REFRESH_S)
TV_ASSETS = (CLIENT, "i18n-catalogs.js", "i18n.js", "tv.js", "tv.css", "banner.js", "banner.css")


def build_tv_app(prefix: str = PREFIX) -> Dash:
    """The TV page as a Dash app whose pages and assets are requested under ``prefix/``."""
    app = Dash(
        __name__,
        requests_pathname_prefix=f"{prefix}/",
        routes_pathname_prefix="/",
        title="wallboard · TV",
        update_title="",
        add_log_handler=False,
        serve_locally=True,
        **assets_of(*TV_ASSETS),
    )
    app.layout = tv_layout(prefix)
    return app


def _data(name: str, value: str) -> dict[str, Any]:
    """A ``data-`` attribute as keyword arguments of a Dash component (``data-i18n``, ``data-template``)."""
    return {f"data-{name}": value}


def _templated(template: str, age: html.Span) -> list[Any]:
    """The English text of ``template`` around the element ``age`` (its ``{age}``): before, ``age``, after; tv.js
    fills the two texts with the translated template."""
    before, _, after = template.partition("{age}")
    return [html.Span(before, className="before"), age, html.Span(after, className="after")]


def tv_layout(prefix: str = PREFIX) -> html.Div:
    """The static page the scripts fill (ids are their contract); ``prefix`` is where it is mounted."""
    # i18n: the header's data age, "data 12 s ago" ({age} is "12 s ago")
    data_age = N_("data {age}")
    # i18n: the banner over a TV whose data is old, "STALE — no data for 12 s" ({age} is "12 s")
    stale_text = N_("STALE — no data for {age}")
    header = html.Header(
        className="tv-header",
        children=[
            html.Span("wallboard", id="tv-title", className="tv-title"),
            html.Span(
                className="tv-meta",
                children=[
                    html.Span(id="tv-clock"),
                    " · ",
                    html.Span(
                        id="tv-data",
                        **_data("template", data_age),
                        children=_templated(data_age, html.Span("—", id="tv-age")),
                    ),
                ],
            ),
        ],
    )
    stale = html.Div(
        id="tv-stale",
        className="tv-stale",
        role="alert",
        **_data("template", stale_text),
        children=_templated(stale_text, html.Span(id="tv-stale-age")),
    )
    denied_title = N_("Not authorised")
    denied_text = N_("This display token is missing, wrong or revoked.")
    denied = html.Div(
        id="tv-denied",
        className="tv-denied",
        children=[
            html.H1(denied_title, **_data("i18n", denied_title)),
            html.P(denied_text, **_data("i18n", denied_text)),
        ],
    )
    data: dict[str, Any] = {
        "data-catalogue": json.dumps(catalogue()),
        "data-refresh": str(BOARD_REFRESH_S),
        "data-prefix": prefix,
    }
    return html.Div(
        id="tv-root",
        className="tv-root",
        **data,
        children=[header, stale, denied, html.Div(id="tv-message", className="tv-message"), html.Main(id="tv-tiles")],
    )


def mount_tv_page(app: Starlette, prefix: str = PREFIX) -> Dash:
    """Serve the TV board at ``prefix/<board>`` of the FastAPI ``app``; returns the Dash app."""
    tv = build_tv_app(prefix)
    app.mount(prefix, ReadOnly(WSGIMiddleware(tv.server)))  # type: ignore[arg-type]  # a2wsgi's Environ typing
    return tv
