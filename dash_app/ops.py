"""The ops page: edit the thresholds in a grid, in the browser, through the thresholds API.

Theory of operation
-------------------
The page is a Dash app with no server-side callback and no data of its own: its layout is static
and one clientside callback (``act`` of ``tv_assets/ops.js``, the page's only asset, see
``dash_app.static``) talks to the REST API from the browser, so there is a
single implementation of reading, validating, versioning and auditing thresholds, the API's
(``wallboard.api.threshold_routes``):

* on load it asks ``GET /api/v1/me``; without an ops session it shows the login form, which posts
  ``{"name", "password", "cookie": true}`` to ``/api/v1/login``. The session then lives in the
  ``wb_session`` cookie (HttpOnly, SameSite=Strict: this script never sees it) and the CSRF token
  in the readable ``wb_csrf`` cookie;
* it loads ``GET /api/v1/thresholds`` into a dash-ag-grid table (levels, clear point, duration,
  minimum traffic, severity, label and scope are editable; other fields ride along unchanged);
* Save sends ``PUT /api/v1/thresholds`` with the version it loaded and the ``X-CSRF-Token`` header
  copied from the ``wb_csrf`` cookie. 200 shows the new version; 422 lists each problem by row and
  field ("sl-interval · warn: ..."); 409 says someone else saved first.

``mount_ops_page`` serves the Flask server under ``/ops/`` of the FastAPI app through
``a2wsgi.WSGIMiddleware`` (Starlette's own WSGI middleware is deprecated and warns). Only GET and
HEAD reach Flask: the page never posts to its own server, so ``/ops/_dash-update-component`` and
the like answer 405 and the API stays the only way in.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]
from a2wsgi import WSGIMiddleware
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from dash_app.static import assets_of

PREFIX = "/ops"
NUMBER = {"cellDataType": "number", "editable": True, "width": 110}
TEXT = {"cellDataType": "text", "editable": True}
COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "editable": False, "pinned": "left", "width": 170},
    {"field": "metric", "editable": False, "width": 190},
    {"field": "scope", **TEXT, "width": 150},
    {"field": "direction", "editable": False, "width": 100},
    {"field": "warn", **NUMBER},
    {"field": "alarm", **NUMBER},
    {"field": "clear", **NUMBER},
    {"field": "for_s", "headerName": "for (s)", **NUMBER},
    {"field": "min_offered", "headerName": "min offered", **NUMBER},
    {"field": "severity", **TEXT, "width": 110},
    {"field": "label", **TEXT, "flex": 1},
]
HIDDEN = {"display": "none"}


def build_ops_app(prefix: str = PREFIX) -> Dash:
    """The ops page as a Dash app whose pages and assets are requested under ``prefix/``."""
    app = Dash(
        __name__,
        requests_pathname_prefix=f"{prefix}/",
        routes_pathname_prefix="/",
        title="wallboard · ops",
        update_title="",  # no "Updating..." title while callbacks run
        add_log_handler=False,  # logging is configured by the CLI only
        serve_locally=True,
        **assets_of("ops.js"),
    )
    app.layout = _layout()
    app.clientside_callback(  # type: ignore[no-untyped-call]  # the 8 outputs of ops.js's act, in order
        ClientsideFunction(namespace="ops", function_name="act"),
        Output("login-panel", "style"),
        Output("editor-panel", "style"),
        Output("whoami", "children"),
        Output("version", "data"),
        Output("grid", "rowData"),
        Output("status", "children"),
        Output("problems", "children"),
        Output("login-password", "value"),
        Input("login-button", "n_clicks"),
        Input("save-button", "n_clicks"),
        Input("reload-button", "n_clicks"),
        Input("logout-button", "n_clicks"),
        State("login-name", "value"),
        State("login-password", "value"),
        State("grid", "rowData"),
        State("version", "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="ops", function_name="versionText"),
        Output("version-text", "children"),
        Input("version", "data"),
    )
    return app


def _layout() -> html.Div:
    login = html.Div(
        id="login-panel",
        style=HIDDEN,
        children=[
            html.H2("Log in"),
            dcc.Input(id="login-name", type="text", placeholder="user name", autoComplete="username"),
            dcc.Input(id="login-password", type="password", placeholder="password", autoComplete="current-password"),
            html.Button("Log in", id="login-button"),
        ],
    )
    editor = html.Div(
        id="editor-panel",
        style=HIDDEN,
        children=[
            html.Div(
                [html.Span("Signed in as "), html.Strong(id="whoami"), html.Button("Log out", id="logout-button")]
            ),
            html.Div([html.Span("Version "), html.Strong(id="version-text")]),
            dag.AgGrid(
                id="grid",
                columnDefs=COLUMNS,
                rowData=[],
                defaultColDef={"resizable": True, "editable": False},
                dashGridOptions={"singleClickEdit": True, "stopEditingWhenCellsLoseFocus": True},
                getRowId="params.data.id",
                style={"height": "420px"},
            ),
            html.Button("Save", id="save-button"),
            html.Button("Reload", id="reload-button"),
        ],
    )
    return html.Div(
        [
            html.H1("Thresholds"),
            login,
            editor,
            html.Div(id="status", role="status"),
            html.Ul(id="problems"),
            dcc.Store(id="version"),
        ]
    )


class ReadOnly:
    """ASGI wrapper letting only GET and HEAD through to ``app`` (anything else: 405)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 405, "headers": [(b"allow", b"GET, HEAD")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def mount_ops_page(app: Starlette, prefix: str = PREFIX) -> Dash:
    """Serve the ops page at ``prefix/`` of the FastAPI ``app``; returns the Dash app."""
    ops = build_ops_app(prefix)
    app.mount(prefix, ReadOnly(WSGIMiddleware(ops.server)))  # type: ignore[arg-type]  # a2wsgi's Environ typing
    return ops
