"""The ops page: administer thresholds, boards, display tokens, users, schedules, alerts and the audit trail.

Theory of operation
-------------------
The page is a Dash app with no server-side callback and no data of its own, as the supervisor page
(``dash_app.supervisor``) is: its layout is a static skeleton (a header, one status line, an empty
``#ops-root``) and one clientside callback starts the page's script, ``tv_assets/ops.js``
(``window.dash_clientside.ops.start``, with :func:`ops_config` from the ``ops-config`` store; its boards and
tokens sections are in ``ops-boards.js``, users and schedules in ``ops-people.js``), which builds the forms
and talks to the REST API from the browser. Every write goes through the same HTTP API the CLI uses, so
reading, validating, versioning and auditing have one implementation, the API's:

* on load it asks ``GET /api/v1/me``; without a session it shows the login form (Enter submits it),
  which posts ``{"name", "password", "cookie": true}`` to ``/api/v1/login``. The session then lives in
  the ``wb_session`` cookie (HttpOnly, SameSite=Strict: the script never sees it) and the CSRF token
  in the readable ``wb_csrf`` cookie, copied into the ``X-CSRF-Token`` header of every write;
* it shows only the sections (:data:`SECTIONS`) whose permission ``/me`` lists, one at a time behind
  a row of buttons (``#ops-nav``); a role with none of them is told so in the status line;
* each section is a ``<form>`` (Enter submits it) whose inputs are labelled; a value that does not
  parse (a number typed as ``abc``) is refused in the browser, next to its field, and nothing is sent.
  The API's 422 ``{"detail": [{"field", "reason"}]}`` (``thresholds[2].warn``, ``queues[0]``,
  ``pages[1].seconds``) and the schedules' ``[{"row", "reason"}]`` are shown next to the field or
  row they name; 409 says someone else changed it first;
* the board editor previews the stored board in an ``<iframe>`` of ``/tv/<board>`` (the session cookie
  opens it), reloaded after each save; a display token is shown once, with the TV's URL (and the QR code
  when the API returns one);
* every text is English in the source and translated in the browser (``dash_app.i18n``): ops.js calls
  ``t("...")``, the skeleton's and :data:`SECTIONS`' words are marked :func:`~dash_app.i18n.N_`. The language
  is ``?lang=``, else the user's profile (``GET /api/v1/me/profile``), else the browser's; the header's picker
  switches it at once and stores it in the profile (``PATCH /api/v1/me/profile``), and the page re-renders its
  texts (a section's unsaved edits are reloaded from the API). Values the API defines (metric ids, roles, tile
  keys) are sent as they are; the API's own problem texts are shown as it wrote them.

``mount_ops_page`` serves the Flask server under ``/ops/`` of the FastAPI app through
``a2wsgi.WSGIMiddleware`` (Starlette's own WSGI middleware is deprecated and warns). Only GET and
HEAD reach Flask (:class:`ReadOnly`): the page never posts to its own server, so
``/ops/_dash-update-component`` and the like answer 405 and the API stays the only way in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from a2wsgi import WSGIMiddleware
from dash import ClientsideFunction, Dash, Input, Output, dcc, html
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from dash_app.grid import CHANNEL_WORDS
from dash_app.i18n import N_
from dash_app.layout import KPIS
from dash_app.static import assets_of

__all__ = [
    "ASSETS",
    "CHANNELS",
    "LABELS",
    "PREFIX",
    "SECTIONS",
    "ReadOnly",
    "build_ops_app",
    "mount_ops_page",
    "ops_config",
]

PREFIX = "/ops"
# The page's files (dash_app.static): the catalogs and i18n.js sort ahead of ops.js, so wbI18n is there first;
# ops-boards.js and ops-people.js only register their sections (window.wbOpsParts) for ops.js to build.
ASSETS: tuple[str, ...] = (
    "theme.css", "ops.css", "i18n-catalogs.js", "i18n.js", "ops-boards.js", "ops-people.js", "ops.js"
)  # fmt: skip
HIDDEN = {"display": "none"}


class Section(NamedTuple):
    """One part of the page, shown to a user whose ``GET /api/v1/me`` lists ``permission``."""

    key: str
    title: str
    permission: str


SECTIONS: tuple[Section, ...] = (
    Section("thresholds", N_("Thresholds"), "edit_thresholds"),
    Section("boards", N_("Boards"), "manage_boards"),
    Section("tokens", N_("Display tokens"), "manage_tokens"),
    Section("users", N_("Users"), "manage_users"),
    Section("schedules", N_("Schedules"), "edit_schedules"),
    Section("alerts", N_("Alerts"), "ack_alerts"),
    Section("audit", N_("Audit trail"), "read_audit"),
)
# The API's vocabularies (wallboard.core.thresholds.Metric, Severity, Direction; wallboard.core.users.Role;
# wallboard.core.events.CHANNELS, a threshold's ``channel``):
# dash_app stands alone, so they are repeated here and tests/dash_app/test_ops_config.py keeps them equal.
METRICS: tuple[str, ...] = (
    "waiting",
    "longest_wait_s",
    "service_level_pct",
    "service_level_day_pct",
    "abandon_rate_pct",
    "asa_s",
    "aht_s",
    "first_response_s",
    "agents_available",
    "agents_short",
    "agent_pause_s",
    "agent_on_call_s",
    "agent_calls_target_pct",
    "agent_missed_rings",
    "agent_aht_s",
    "agent_occupancy_pct",
    "agent_concurrency_pct",
    "adherence_pct",
    "team_adherence_pct",
    "data_age_s",
    "collector_connected",
    "campaign_drop_rate_pct",
)
SEVERITIES: tuple[str, ...] = ("page", "ticket", "info")
DIRECTIONS: tuple[str, ...] = ("above", "below")
CHANNELS: tuple[str, ...] = ("voice", "chat", "email", "callback", "outbound")
ROLES: tuple[str, ...] = ("viewer", "supervisor", "planner", "ops", "admin", "ingest")
# What the selects show for those values (translated by ops.js; the values sent stay the API's words above).
LABELS: dict[str, dict[str, str]] = {
    "severities": {
        "page": N_("page (wake someone)"),
        "ticket": N_("ticket"),
        "info": N_("info"),
    },
    "directions": {
        "above": N_("above"),
        "below": N_("below"),
    },
    "roles": {
        "viewer": N_("viewer"),
        "supervisor": N_("supervisor"),
        "planner": N_("planner"),
        "ops": N_("ops"),
        "admin": N_("admin"),
        "ingest": N_("ingest (a system posting events)"),
    },
    "channels": dict(CHANNEL_WORDS),
}
SNOOZE_MINUTES: tuple[int, ...] = (15, 30, 60, 240)
AUDIT_PAGE = 50
PASSWORD_MIN = 12  # wallboard.core.users.MIN_PASSWORD_LENGTH: the hint next to the password fields


def ops_config() -> dict[str, Any]:
    """What ops.js needs to know: the sections, the vocabularies and the TV tiles a board may show."""
    return {
        "sections": [section._asdict() for section in SECTIONS],
        "metrics": list(METRICS),
        "severities": list(SEVERITIES),
        "directions": list(DIRECTIONS),
        "roles": list(ROLES),
        "channels": list(CHANNELS),
        "labels": LABELS,
        "tiles": [{"key": kpi.key, "label": kpi.label} for kpi in KPIS],
        "snooze_minutes": list(SNOOZE_MINUTES),
        "audit_page": AUDIT_PAGE,
        "password_min": PASSWORD_MIN,
        "tv_prefix": "/tv",
    }


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
        **assets_of(*ASSETS),
    )
    app.layout = _layout()
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="ops", function_name="start"),  # ops.js
        Output("ops-started", "children"),
        Input("ops-config", "data"),
    )
    return app


def _layout() -> html.Div:
    header = html.Header(
        className="ops-header",
        children=[
            html.H1(N_("wallboard · ops"), **_i18n(N_("wallboard · ops"))),
            html.Div(
                className="ops-tools",
                children=[
                    html.Label(
                        className="ops-language",
                        htmlFor="ops-language",
                        children=[_text(N_("Language")), html.Select(id="ops-language")],
                    ),
                    html.Div(
                        id="ops-who",
                        className="ops-who",
                        hidden=True,
                        children=[
                            _text(N_("Signed in as")),
                            html.Strong(id="whoami"),
                            html.Button(_text(N_("Log out")), id="logout-button", type="button", className="btn"),
                        ],
                    ),
                ],
            ),
        ],
    )
    return html.Div(
        className="ops-page",
        children=[
            header,
            html.P(id="status", role="status", className="ops-status"),
            html.Main(id="ops-root", className="ops-main"),
            dcc.Store(id="ops-config", data=ops_config()),
            html.Div(id="ops-started", style=HIDDEN),
        ],
    )


def _i18n(text: str) -> dict[str, Any]:
    """The ``data-i18n`` property by which i18n.js translates an element (Dash's typing lists only its own)."""
    return {"data-i18n": text}


def _text(text: str) -> html.Span:
    """A static text that i18n.js translates."""
    return html.Span(text, **_i18n(text))


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
