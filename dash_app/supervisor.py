"""The supervisor view: a live agent grid, the waiting callers of a queue and per-queue sparklines.

Theory of operation
-------------------
Like the ops page (``dash_app.ops``), this Dash app has no server-side callback and no data of its
own: the layout is a static skeleton and one clientside callback starts the page's script,
``tv_assets/supervisor.js`` (``window.dash_clientside.supervisor.start``, with :func:`_config` from
the ``sup-config`` store), which renders; the websocket is ``tv_assets/wallboard-client.js``, the
client the TV board shares (``dash_app.static`` says which page loads which file). In the browser
(``window.wbSupervisor``):

* it loads the last hour of per-queue samples from ``GET /api/v1/trend?minutes=60`` (kept by the
  engine runner in Redis, so a reload loses nothing), then the client opens ``/ws?token=`` and keeps
  the snapshot current with the server's deltas (``apply_diff``'s rules, resync on a seq gap), and
  reconnects with backoff (0.5 s doubling to 5 s; the status line says "reconnecting in ..."). Credentials: a
  display token in ``?token=``, else the ops session cookie (log in on ``/ops/``: the cookie is sent
  with the trend request and the websocket handshake, both accept it). Close code 4401/4403 or a 401
  from the trend route shows "Not authorised" instead of the page, retried every 30 s
  (``?denied_retry=N``): the page comes back once the credential is valid again;
* data older than 6 s (``?stale=N``), as the TV judges it: the client's STALE banner with the data's
  age, the grid dimmed and its times no longer ticking; a socket silent for 12 s is closed and
  reopened. Fresh data clears it, without a reload;
* on every snapshot and delta it rebuilds the agent rows the way ``dash_app.grid.agent_row`` does (that
  module is the reference; its column definitions and row class rules configure the grid) and
  hands them to dash-ag-grid (``setGridOption("rowData")`` with row ids, so ag-grid updates rows
  in place). The team/queue/state dropdowns narrow the rows handed over; the ag-grid column
  filters and sorting work on top of that;
* the adherence columns (scheduled activity, in/grace/out with a non-colour cue, out for, exception
  in words) are ``dash_app.grid.adherence_fields`` of the agent's ``adherence`` entry; "out for"
  ticks like time in state, from ``out_since``;
* time in state ticks in the browser: each row carries ``since_ms`` (its ``since`` moved onto the
  browser's clock with the skew between the snapshot's ``ts`` and the browser's time), and a
  one-second timer refreshes only that column (``refreshCells``), whose value getter computes
  now - since_ms (``wbElapsed``, one of the page's ``dashAgGridFunctions``). The queue detail's
  waits tick the same way. Nothing polls the server;
* every 10 s of snapshot time it appends one point per queue (calls waiting, interval SL) to the
  sparklines, which show the last hour as inline SVG as wide as their panel, on a time axis
  (``dash_app.floor.spark_ticks``: -60 min ... now), the SL chart with the queue's ``sl_target_pct`` as a dashed line.

Layout: a one-line header (title, the site's agents by state, ``dash_app.floor.state_totals``; the notifications
button; "live · site · data N s ago", the client's age of the data: no internal field such as ``seq``), the agent grid
with compact rows (:data:`ROW_HEIGHT_PX`: 40 agents and more on a 1920x1080 screen, the page itself never scrolls
there) and a side column of collapsible panels scrolling on its own: the alerts, the totals by team
(``floor.team_totals``), today's figures, the waiting callers and the last hour. Teams and queues show their display
names (``floor.team_label``, ``floor.queue_label``). Below 700 px wide (a phone) it is one column, the grid keeps
name, state and time in state (``dash_app.grid.PHONE_COLUMNS``) and nothing is wider than the screen.

* the alert list (``floor.alert_rows`` of the snapshot's ``alerts``, kept live by the socket): with the session of a
  user whose ``GET /api/v1/me`` lists ``ack_alerts`` (``floor.ALERT_ACTIONS``), each alert has "Acknowledge", a
  "Snooze…" choice (``floor.SNOOZE_MINUTES``) and a note, POSTed by ``tv_assets/actions.js`` (``wbAlertActions``)
  with the session cookie and its CSRF header; the engine applies them and the next snapshot shows the new state. A
  display token reads the list only (it says how to log in);
* browser notifications: the header's button asks the permission (Notification API, on the click) and turns them
  on or off (kept in localStorage); then each alert reaching level alarm (new, or a warn become alarm) shows one
  notification. The alarms already open when the page loads are not notified.

* agent actions (``tv_assets/actions.js``, its own theory of operation): with the session of a user
  whose ``GET /api/v1/me`` lists ``act_on_agents`` (:data:`ACTIONS` says where it asks), each row gets
  an "⋯ Actions" button (the grid's ``actions`` column, hidden otherwise) opening one menu for the
  page: pause with a reason, unpause, log out of a queue or all, log into a queue, listen, whisper or
  barge from the user's extension. The row shows the action's state until the PBX confirms it. A
  display token or a viewer never sees the column.

* channels (``dash_app.grid.channel_chips``, ``dash_app.floor.site_channels`` and ``queue_cards``): an agent with
  a chat, email, callback or outbound queue has chips in the "Channels" column beside its state ("○ Chat 2/3",
  coloured and cued by the channel's state; the column is hidden while no agent has one); the header's totals
  count agents by their phone state. With two channels or more a channel filter narrows the agents (those serving
  a queue of it), the "Today" table and the sparklines; each sparkline says its queue's channel and, for chat and
  email, the interval's first response time;
* campaigns (``dash_app.floor.campaign_rows``): a "Campaigns" panel, shown when the snapshot has ``campaigns``, with
  the drop rate over the regulator's window against the limit (over it: "✖ over limit" in words and red), and
  today's attempts, connects and connect rate;
* the call drill-down (``tv_assets/calls.js``, ``dash_app.calls_view`` says what it lists and asks): the
  "Today" table shows each queue's offered, abandoned and SL misses as buttons; one of them, or a click (or Enter)
  on an agent's row, opens a panel listing those calls from ``GET /api/v1/calls`` with the page's credential,
  in a grid of its own, with a search by caller number and an "Export CSV" link of exactly what it shows.
  Escape (or its close button) closes it and gives the focus back to what opened it;
* the target columns (target, escalations, the cues of AHT, missed rings and occupancy) read the snapshot's
  agent by row id (``tv_assets/grid_figures.js``, mirroring ``dash_app.grid.agent_figures``).

Languages (``dash_app.i18n`` has the theory): the page loads ``i18n-catalogs.js`` and ``i18n.js``; every text it shows
is English in the source, ``t("...")`` in its scripts, ``N_("...")`` here and in ``dash_app.grid``, ``floor`` and
``calls_view`` (the shell's fixed texts carry it as ``data-i18n``; the grids' headers are translated by ``wbHeader``,
their headerValueGetter; the config's words by the scripts). The language is ``?lang=``, then the profile's of the user
logged in on ``/ops/`` (``GET /api/v1/me/profile``, ``language``; a display token has none), then the browser's; a
change re-renders every text. The rows keep the raw values (``dash_app.grid.agent_rows`` is still their reference): the
grid's formatters show the words (a state as ``STATE_NAMES``' word, translated), and the filters work on the raw
values. The server's texts (an alert's ``reason``, a PBX's message) and the site's data (pause reasons, names) are
shown as they come. Numbers with decimals, percentages and times of day are formatted for the language (``wbI18n``).

``mount_supervisor_page`` serves the Flask server under ``/supervisor/`` behind ``ReadOnly`` (GET
and HEAD only), as the ops page is served. Display tokens are read-only; the page's own server is
never written to: the actions go to the API with the session cookie and its CSRF header.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]
from a2wsgi import WSGIMiddleware
from dash import ClientsideFunction, Dash, Input, Output, dcc, html
from starlette.applications import Starlette

from dash_app.calls_view import CALL_COLUMN_DEFS, calls_config
from dash_app.floor import (
    ALERT_ACTIONS,
    FIRST_RESPONSE_CHANNELS,
    LEVEL_CUES,
    METRIC_WORDS,
    OVER_LIMIT,
    SNOOZE_MINUTES,
    TOTALS,
    spark_ticks,
)
from dash_app.grid import (
    ADHERENCE_CUES,
    CHANNEL_CUES,
    CHANNEL_STATES,
    CHANNEL_WORDS,
    CHANNELS,
    COLUMN_DEFS,
    EXCEPTION_WORDS,
    HIGHLIGHT_METRICS,
    PHONE_COLUMNS,
    ROW_CLASS_RULES,
    STATE_NAMES,
    UNMAPPED_PREFIX,
)
from dash_app.i18n import N_
from dash_app.ops import ReadOnly
from dash_app.static import CLIENT, assets_of

__all__ = ["PREFIX", "build_supervisor_app", "mount_supervisor_page"]

PREFIX = "/supervisor"
HIDDEN = {"display": "none"}
TREND_MINUTES = 60
SAMPLE_EVERY_S = 10
ROW_HEIGHT_PX = 22
HEADER_HEIGHT_PX = 26
# Where tv_assets/actions.js asks and what it looks for (wallboard.api.action_routes and admin_routes).
ACTIONS: dict[str, str] = {
    "permission": "act_on_agents",  # GET /api/v1/me lists it: the page offers the actions menu
    "monitor_field": "may_monitor",  # the options say whether the user may listen, whisper and barge
    "agents_path": "/api/v1/agents",  # POST {agents_path}/{agent}/{pause|unpause|logout|login|monitor}
    "status_path": "/api/v1/actions",  # GET {status_path}/{action id}
    "options_path": "/api/v1/actions/options",  # the kinds enabled, the pause reasons, the monitor modes
    "profile_path": "/api/v1/me/profile",  # the user's profile: the monitor extension (GET, PATCH)
    "extension_field": "extension",
}

INDEX = (
    "<!DOCTYPE html><html lang='en'><head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}</head>"
    "<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body></html>"
)


def build_supervisor_app(prefix: str = PREFIX) -> Dash:
    """The supervisor page as a Dash app whose pages and assets are requested under ``prefix/``."""
    app = Dash(
        __name__,
        requests_pathname_prefix=f"{prefix}/",
        routes_pathname_prefix="/",
        title="wallboard · supervisor",
        update_title="",
        add_log_handler=False,  # logging is configured by the CLI only
        serve_locally=True,
        **assets_of(
            CLIENT,
            "i18n-catalogs.js",
            "i18n.js",
            "actions.js",
            "grid_figures.js",
            "supervisor-alerts.js",
            "supervisor-trends.js",
            "supervisor.js",
            "calls.js",
            "supervisor.css",
            "calls.css",
        ),
    )
    app.index_string = INDEX
    app.layout = _layout()
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="supervisor", function_name="start"),  # supervisor.js
        Output("sup-started", "children"),
        Input("sup-config", "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction(namespace="supervisorCalls", function_name="start"),  # calls.js
        Output("sup-calls-started", "children"),
        Input("sup-config", "data"),
    )
    return app


def _config() -> dict[str, Any]:
    return {
        "highlight": HIGHLIGHT_METRICS,
        "minutes": TREND_MINUTES,
        "sample_every_s": SAMPLE_EVERY_S,
        "cues": ADHERENCE_CUES,
        "exceptions": EXCEPTION_WORDS,
        "unmapped": UNMAPPED_PREFIX,
        "actions": ACTIONS,
        "calls": calls_config(),
        "totals": [list(total) for total in TOTALS],
        "level_cues": LEVEL_CUES,
        "metric_words": METRIC_WORDS,
        "snooze_minutes": list(SNOOZE_MINUTES),
        "alert_actions": ALERT_ACTIONS,
        "ticks": [list(tick) for tick in spark_ticks(TREND_MINUTES)],
        "phone_columns": PHONE_COLUMNS,
        "state_names": STATE_NAMES,
        "channels": list(CHANNELS),
        "channel_words": CHANNEL_WORDS,
        "channel_cues": CHANNEL_CUES,
        "channel_states": CHANNEL_STATES,
        "first_response_channels": list(FIRST_RESPONSE_CHANNELS),
        "over_limit": OVER_LIMIT,
    }


def _layout() -> html.Div:
    grid = dag.AgGrid(
        id="sup-grid",
        columnDefs=COLUMN_DEFS,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True},
        getRowId="params.data.id",
        rowClassRules=ROW_CLASS_RULES,
        dashGridOptions={
            "animateRows": False,
            "rowHeight": ROW_HEIGHT_PX,  # compact: 40 agents and more on a 1080p screen
            "headerHeight": HEADER_HEIGHT_PX,
            "floatingFiltersHeight": HEADER_HEIGHT_PX,
        },
        style={"height": "100%"},  # of .sup-grid-box: the screen's height below the header (supervisor.css)
    )
    return html.Div(
        [
            html.Header(
                className="sup-header",
                children=[
                    _text(html.H1, N_("Supervisor")),
                    html.Div(
                        id="sup-totals",
                        role="status",
                        # chat agents count by their phone state; their chats are the grid's chips
                        **_attribute("title", N_("Agents by phone state; other channels: the chips in the grid")),
                    ),
                    # its text is supervisor.js's (on, off, blocked)
                    html.Button(N_("Enable alarm notifications"), id="sup-notify", type="button", hidden=True),
                    html.Span(
                        className="sup-live",
                        children=[
                            html.Span(N_("connecting…"), id="sup-status"),  # supervisor.js's, then
                            " · ",
                            _text(html.Span, N_("data")),
                            " ",
                            html.Span("—", id="sup-age"),
                        ],
                    ),
                ],
            ),
            html.Div(
                id="sup-stale",
                role="alert",
                children=[_text(html.Span, N_("STALE — no data for")), " ", html.Span(id="sup-stale-age")],
            ),
            html.Div(id="sup-denied", role="alert", style=HIDDEN),
            html.Div(
                id="sup-main",
                children=[
                    html.Div(
                        className="sup-agents",
                        children=[
                            html.Div(
                                className="sup-toolbar",
                                children=[
                                    html.Div(id="sup-filters"),
                                    html.Div(id="sup-action-notice", role="status"),  # a polite live region
                                ],
                            ),
                            html.Div(className="sup-grid-box", children=[grid]),
                        ],
                    ),
                    _side(),
                ],
            ),
            _calls_panel(),
            dcc.Store(id="sup-config", data=_config()),
            html.Div(id="sup-started", style=HIDDEN),
            html.Div(id="sup-calls-started", style=HIDDEN),
        ]
    )


def _i18n(text: str, attribute: str = "") -> dict[str, Any]:
    """The ``data-i18n`` attribute (``data-i18n-<attribute>``) by which ``i18n.js`` translates an element's text (that
    attribute): ``text`` is the English message, marked with ``N_`` where it is written."""
    return {f"data-i18n-{attribute}" if attribute else "data-i18n": text}


def _text(tag: Any, text: str, **props: Any) -> Any:
    """An element of ``tag`` (a Dash html class) whose text ``text`` is translated in the browser. Only for texts the
    page's scripts never rewrite (i18n.js sets the element's text again on each change of language)."""
    return tag(text, **props, **_i18n(text))


def _attribute(name: str, text: str) -> dict[str, Any]:
    """The attribute ``name`` (title, placeholder, aria-label) with ``text``, translated in the browser."""
    return {name: text, **_i18n(text, name)}


def _panel(ident: str, title: str, *children: Any, open_: bool = True, fixed: bool = True) -> html.Details:
    """One collapsible panel of the side column (its summary is the title; translated in the browser when ``fixed``,
    else supervisor.js writes it)."""
    heading = _text(html.H2, title) if fixed else html.H2(title)
    return html.Details(id=ident, className="sup-panel", open=open_, children=[html.Summary(heading), *children])


def _side() -> html.Aside:
    """The side column: alerts, totals by team, today's figures, waiting callers, the last hour."""
    return html.Aside(
        className="sup-side",
        children=[
            # "Alerts (n)": supervisor.js's
            _panel(
                "sup-alerts-panel", N_("Alerts"), html.P(id="sup-alerts-who"), html.Ul(id="sup-alerts"), fixed=False
            ),
            _panel("sup-teams-panel", N_("By team"), html.Div(id="sup-teams")),
            _panel("sup-today-section", N_("Today"), html.Div(id="sup-today")),
            # shown by supervisor.js when the snapshot has campaigns
            html.Details(
                id="sup-campaigns-panel",
                className="sup-panel",
                open=True,
                hidden=True,
                children=[
                    html.Summary(_text(html.H2, N_("Campaigns"))),
                    _text(
                        html.P,
                        N_("Drop rate over the regulator's window; attempts, connects and connect rate today."),
                        className="sup-note",
                    ),
                    html.Div(id="sup-campaigns"),
                ],
            ),
            _panel(
                "sup-callers-panel", N_("Waiting callers"), html.Div(id="sup-queue-pick"), html.Div(id="sup-callers")
            ),
            _panel("sup-sparks-panel", N_("Last hour"), html.Div(id="sup-sparks")),
        ],
    )


def _calls_panel() -> html.Section:
    """The call drill-down, hidden until calls.js opens it (class ``open``; calls.js labels the dialog)."""
    grid = dag.AgGrid(
        id="sup-calls-grid",
        columnDefs=CALL_COLUMN_DEFS,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        getRowId="params.data.call_id",
        dashGridOptions={"animateRows": False, "tooltipShowDelay": 300},
        style={"height": "100%"},
    )
    search = html.Label(
        className="sup-calls-search",
        children=[
            _text(html.Span, N_("Caller number")),
            " ",
            dcc.Input(id="sup-calls-caller", type="search", autoComplete="off", maxLength=40),
        ],
    )
    return html.Section(
        id="sup-calls",
        role="dialog",
        children=[
            html.Header(
                className="sup-calls-head",
                children=[
                    html.H2(id="sup-calls-title"),
                    _text(html.Button, N_("Close (Esc)"), id="sup-calls-close", type="button"),
                ],
            ),
            html.P(id="sup-calls-note"),
            html.Div(
                className="sup-calls-tools",
                children=[
                    search,
                    _text(html.A, N_("Export CSV"), id="sup-calls-export", href="", download=""),
                    html.Span(id="sup-calls-count", role="status"),
                ],
            ),
            html.Div(className="sup-calls-grid", children=[grid]),
        ],
    )


def mount_supervisor_page(app: Starlette, prefix: str = PREFIX) -> Dash:
    """Serve the supervisor page at ``prefix/`` of the FastAPI ``app``; returns the Dash app."""
    page = build_supervisor_app(prefix)
    app.mount(prefix, ReadOnly(WSGIMiddleware(page.server)))  # type: ignore[arg-type]  # a2wsgi's Environ typing
    return page
