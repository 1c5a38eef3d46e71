"""The supervisor view: a live agent grid, the waiting callers of a queue and per-queue sparklines.

Theory of operation
-------------------
Like the ops page (``dash_app.ops``), this Dash app has no server-side callback and no data of its
own: the layout is a static skeleton and one clientside callback (``SUPERVISOR_JS``) starts a small
client that lives in the browser (``window.wbSupervisor``):

* it loads the last hour of per-queue samples from ``GET /api/v1/trend?minutes=60`` (kept by the
  engine runner in Redis, so a reload loses nothing), then opens ``/ws?token=`` and keeps the
  snapshot current with the server's deltas (``apply_diff``'s rules, resync on a seq gap), and
  reconnects with backoff (0.5 s doubling to 5 s). Credentials: a display token in ``?token=``, else
  the ops session cookie (log in on ``/ops/``: the cookie is sent with the trend request and the
  websocket handshake, both accept it). Close code 4401/4403 or a 401 from the trend route shows
  "Not authorised" instead of the page;
* nothing heard from the server (snapshot, delta or heartbeat) for 5 s (+ 0.5 s grace, as the TV):
  a STALE banner with the age of the data the grid shows; a socket silent for 12 s is closed and
  reopened. The next snapshot after a reconnect clears it, without a reload;
* on every message it rebuilds the agent rows the way ``dash_app.grid.agent_row`` does (that
  module is the reference; its column definitions and row class rules configure the grid) and
  hands them to dash-ag-grid (``setGridOption("rowData")`` with row ids, so ag-grid updates rows
  in place). The team/queue/state dropdowns narrow the rows handed over; the ag-grid column
  filters and sorting work on top of that;
* the adherence columns (issue 7: scheduled activity, in/grace/out with a non-colour cue, out for,
  exception in words) are ``dash_app.grid.adherence_fields`` of the agent's ``adherence`` entry;
  "out for" ticks like time in state, from ``out_since``;
* time in state ticks in the browser: each row carries ``since_ms`` (its ``since`` moved onto the
  browser's clock with the skew between the snapshot's ``ts`` and the browser's time), and a
  one-second timer refreshes only that column (``refreshCells``), whose value getter computes
  now - since_ms. The queue detail's waits tick the same way. Nothing polls the server;
* every 10 s of snapshot time it appends one point per queue (calls waiting, interval SL) to the
  sparklines, which show the last hour as inline SVG.

``mount_supervisor_page`` serves the Flask server under ``/supervisor/`` behind ``ReadOnly`` (GET
and HEAD only), as the ops page is served. Display tokens are read-only; this page never writes.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]
from a2wsgi import WSGIMiddleware
from dash import Dash, Input, Output, dcc, html
from starlette.applications import Starlette

from dash_app.grid import (
    ADHERENCE_CUES,
    COLUMN_DEFS,
    EXCEPTION_WORDS,
    HIGHLIGHT_METRICS,
    ROW_CLASS_RULES,
    UNMAPPED_PREFIX,
)
from dash_app.ops import ReadOnly

__all__ = ["PREFIX", "SUPERVISOR_JS", "build_supervisor_app", "mount_supervisor_page"]

PREFIX = "/supervisor"
HIDDEN = {"display": "none"}
TREND_MINUTES = 60
SAMPLE_EVERY_S = 10

# The grid's value getter and formatters (dash-ag-grid looks function names up in dashAgGridFunctions),
# defined before the Dash renderer starts, and the page's styles.
HEAD = """
<style>
  body { margin: 0; font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; background: #f4f6f8; color: #1b2430; }
  .sup-header { display: flex; justify-content: space-between; align-items: baseline; padding: 8px 16px;
    background: #1b2430; color: #fff; }
  .sup-header h1 { margin: 0; font-size: 22px; }
  #sup-status { font-variant-numeric: tabular-nums; color: #c9d4e0; }
  #sup-denied { font-size: 32px; text-align: center; margin-top: 30vh; color: #8b1a1a; }
  #sup-main { padding: 8px 16px; }
  #sup-filters { display: flex; gap: 16px; margin: 4px 0 8px; }
  #sup-filters label { text-transform: capitalize; }
  .sup-bottom { display: flex; gap: 16px; margin-top: 12px; }
  .sup-bottom section { background: #fff; border-radius: 6px; padding: 8px 12px; flex: 1; min-height: 200px; }
  .sup-bottom h2 { margin: 0 0 6px; font-size: 18px; }
  #sup-callers table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  #sup-callers td, #sup-callers th { text-align: left; padding: 2px 8px; border-bottom: 1px solid #e3e8ee; }
  .sup-spark-row { display: grid; grid-template-columns: 140px 60px 250px 60px 250px; align-items: center; gap: 6px; }
  .sup-spark-row .now { font-variant-numeric: tabular-nums; text-align: right; }
  svg.spark polyline { fill: none; stroke-width: 1.5; }
  svg.spark.waiting polyline { stroke: #1f6feb; }
  svg.spark.sl polyline { stroke: #2e7d32; }
  svg.spark.waiting circle { fill: #1f6feb; }
  svg.spark.sl circle { fill: #2e7d32; }
  svg.spark { background: #f4f6f8; }
  #sup-stale { display: none; position: sticky; top: 0; z-index: 10; padding: 10px 16px; text-align: center;
    font-size: 26px; font-weight: 700; letter-spacing: 0.05em; color: #fff; border-bottom: 3px solid #fff;
    background: repeating-linear-gradient(45deg, #b00020 0 16px, #7a0016 16px 32px); }
  #sup-stale.on { display: block; }
  .wb-long-break-warn, .wb-long-call-warn, .wb-adherence-warn { background: #fff3cd !important; }
  .wb-long-break-alarm, .wb-long-call-alarm, .wb-adherence-alarm { background: #f8d7da !important; font-weight: 700; }
  .wb-long-break-warn .ag-cell[col-id="state"]::before, .wb-long-call-warn .ag-cell[col-id="state"]::before,
  .wb-adherence-warn .ag-cell[col-id="state"]::before { content: "\\25B2  "; }
  .wb-long-break-alarm .ag-cell[col-id="state"]::before, .wb-long-call-alarm .ag-cell[col-id="state"]::before,
  .wb-adherence-alarm .ag-cell[col-id="state"]::before { content: "\\2716  "; }
  .wb-adh-out { color: #b00020; font-weight: 700; }
  .wb-adh-grace { color: #8a5a00; }
  .wb-adh-in { color: #2e7d32; }
  .wb-adh-unscheduled { color: #6b7785; }
</style>
<script>
window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
  wbElapsed: (ms) => Number.isFinite(ms) ? Math.max(0, (Date.now() - ms) / 1000) : null,
  wbDuration: (seconds) => {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) { return ""; }
    const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  },
});
</script>
"""

INDEX = (
    "<!DOCTYPE html><html lang='en'><head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}"
    + HEAD
    + "</head><body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body></html>"
)

SUPERVISOR_JS = """
async function(config) {
    if (window.wbSupervisor) { return window.dash_clientside.no_update; }
    const S = window.wbSupervisor = {snap: null, skew: 0, trend: {}, lastSample: 0, rows: [], ws: null, retry: 500,
                                     lastHeard: 0, lastData: 0, loadedAt: Date.now()};
    const STALE_MS = 5500, SILENT_MS = 12000, RETRY_MAX_MS = 5000;
    const $ = (id) => document.getElementById(id);
    const el = (tag, props, ...children) => {
        const node = Object.assign(document.createElement(tag), props || {});
        node.append(...children);
        return node;
    };
    const fmt = window.dashAgGridFunctions.wbDuration;
    const token = new URLSearchParams(location.search).get("token") || "";
    const grid = await dash_ag_grid.getApiAsync("sup-grid");

    const deny = (why) => {
        S.denied = true;
        $("sup-denied").textContent = `Not authorised: ${why}`;
        $("sup-denied").style.display = "block";
        $("sup-main").style.display = "none";
        $("sup-status").textContent = "not authorised";
        if (S.ws) { S.ws.onclose = null; S.ws.close(); }
    };
    const refused = () => deny(token ? "this display token is wrong or revoked"
                                     : "log in on /ops/ first, or open this page with ?token=<display token>");

    function applyDiff(old, changes) {
        const out = Object.assign({}, old);
        for (const [k, c] of Object.entries(changes)) {
            if (c === null) delete out[k];
            else if (Array.isArray(c)) out[k] = c[0];
            else if (typeof c === "object") {
                const base = out[k] && typeof out[k] === "object" && !Array.isArray(out[k]) ? out[k] : {};
                out[k] = applyDiff(base, c);
            } else out[k] = c;
        }
        return out;
    }

    // Quick filters: team, queue and state dropdowns narrow the rows handed to the grid.
    const FILTERS = ["team", "queue", "state"];
    const selects = {};
    for (const name of FILTERS) {
        const select = el("select", {id: `sup-filter-${name}`}, el("option", {value: ""}, `all ${name}s`));
        select.addEventListener("change", () => showRows());
        selects[name] = select;
        $("sup-filters").append(el("label", {}, `${name} `, select));
    }
    const picker = el("select", {id: "sup-queue-select"}, el("option", {value: ""}, "pick a queue"));
    picker.addEventListener("change", () => renderCallers());
    $("sup-queue-pick").append(picker);
    const setOptions = (select, values) => {
        const have = Array.from(select.options).slice(1).map((o) => o.value);
        if (have.join("\\n") === values.join("\\n")) { return; }
        const keep = select.value;
        select.replaceChildren(select.options[0], ...values.map((v) => el("option", {value: v}, v)));
        select.value = values.includes(keep) ? keep : "";
    };

    // Rows: dash_app.grid.agent_row, plus since_ms (since on the browser's clock) for the ticking column.
    const highlights = (alerts) => {
        const out = {};
        for (const a of alerts || []) {
            const kind = config.highlight[a.metric];
            if (!a.target || a.target.kind !== "agent" || !kind || !["warn", "alarm"].includes(a.level)) { continue; }
            const current = out[a.target.name];
            if (!current || (current.endsWith("-warn") && a.level === "alarm")) {
                out[a.target.name] = `${kind}-${a.level}`;
            }
        }
        return out;
    };
    // Adherence columns: dash_app.grid.adherence_fields and exception_words.
    const exceptionWords = (adh, reason) => {
        const kind = adh.exception;
        if (!kind) { return ""; }
        if (kind === "unmapped_reason") {
            const actual = String(adh.actual || ""), prefix = config.unmapped;
            const found = actual.startsWith(prefix) ? actual.slice(prefix.length) : String(reason || "?");
            return `${config.exceptions[kind]}: ${found}`;
        }
        return config.exceptions[kind] || String(kind).replaceAll("_", " ");
    };
    const adherenceOf = (a) => {
        const adh = a.adherence || {}, status = String(adh.status || "");
        return {scheduled: adh.scheduled || "", adherence: config.cues[status] ?? status, adherence_status: status,
                out_since: adh.out_since ?? null, exception: exceptionWords(adh, a.reason)};
    };
    const rowOf = (a, hl) => Object.assign({
        id: a.id, name: a.name || a.id, team: a.team || "", state: a.state, reason: a.reason || "",
        since: a.since, time_in_state_s: a.time_in_state_s, queues: (a.queues || []).slice().sort().join(", "),
        calls_today: a.calls_today || 0, aht_s: a.aht_s ?? null, highlight: hl[a.id] || "",
        since_ms: a.since ? Date.parse(a.since) - S.skew : NaN,
    }, adherenceOf(a), {out_since_ms: a.adherence && a.adherence.out_since
                                       ? Date.parse(a.adherence.out_since) - S.skew : NaN});
    const showRows = () => {
        const f = Object.fromEntries(FILTERS.map((n) => [n, selects[n].value]));
        const rows = S.rows.filter((r) => (!f.team || r.team === f.team) && (!f.state || r.state === f.state)
            && (!f.queue || r.queues.split(", ").includes(f.queue)));
        grid.setGridOption("rowData", rows);
    };

    // Queue detail: the picked queue's waiting callers, their wait ticking from when they entered.
    const renderCallers = () => {
        const entry = S.snap && (S.snap.queues || {})[picker.value];
        const box = $("sup-callers");
        if (!entry) { box.replaceChildren(el("p", {}, "pick a queue")); return; }
        const calls = (entry.waiting_calls || []).slice().sort((x, y) => x.position - y.position);
        const base = Date.parse(S.snap.ts) - S.skew;
        const head = el("tr", {}, el("th", {}, "#"), el("th", {}, "Caller"), el("th", {}, "Wait"));
        const rows = calls.map((c) => {
            const wait = (Date.now() - (base - c.wait_s * 1000)) / 1000;
            const tr = el("tr", {}, el("td", {}, String(c.position)),
                el("td", {}, c.caller_name || c.caller || "unknown"),
                el("td", {className: "wait"}, fmt(Math.max(0, wait))));
            tr.dataset.callId = c.call_id;
            return tr;
        });
        const summary = el("p", {id: "sup-callers-summary"}, `${entry.waiting} waiting`);
        box.replaceChildren(summary, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
    };

    // Sparklines: the last hour of calls waiting and interval SL per queue, one point every 10 s.
    const spark = (series, index, lo, hi, cls, now) => {
        const W = 240, H = 34, t0 = now - 3600;
        const pts = series.filter((p) => p[index] !== null && p[index] !== undefined && p[0] >= t0)
            .map((p) => `${((p[0] - t0) / 3600 * W).toFixed(1)},`
                        + `${(H - (p[index] - lo) / ((hi - lo) || 1) * H).toFixed(1)}`);
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.setAttribute("class", `spark ${cls}`);
        svg.setAttribute("viewBox", `-3 -3 ${W + 6} ${H + 6}`);  // room for the dot at the edges
        svg.setAttribute("width", W + 6);
        svg.setAttribute("height", H + 6);
        const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
        line.setAttribute("points", pts.join(" "));
        svg.append(line);
        if (pts.length) {  // the newest point as a dot: a one-sample series shows too
            const [x, y] = pts[pts.length - 1].split(",");
            const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
            Object.entries({cx: x, cy: y, r: 2.5}).forEach(([k, v]) => dot.setAttribute(k, v));
            svg.append(dot);
        }
        return svg;
    };
    const renderTrends = () => {
        const now = (Date.now() + S.skew) / 1000;
        const rows = Object.keys(S.trend).sort().map((name) => {
            const series = S.trend[name];
            const live = S.snap && (S.snap.queues || {})[name];  // the figures now; the lines: every 10 s
            const last = live ? [0, live.waiting, (live.interval || {}).service_level_pct ?? null]
                : series[series.length - 1] || [0, null, null];
            const peak = Math.max(1, ...series.map((p) => p[1] || 0));
            const row = el("div", {className: "sup-spark-row"}, el("strong", {}, name),
                el("span", {className: "now"}, `${last[1] ?? "—"}`), spark(series, 1, 0, peak, "waiting", now),
                el("span", {className: "now"}, last[2] === null ? "—" : `${Math.round(last[2])}%`),
                spark(series, 2, 0, 100, "sl", now));
            row.dataset.queue = name;
            return row;
        });
        const head = el("div", {className: "sup-spark-row"}, el("span", {}, "queue"), el("span", {}, ""),
            el("span", {}, "calls waiting"), el("span", {}, ""), el("span", {}, "SL this interval"));
        $("sup-sparks").replaceChildren(head, ...rows);
    };
    const sample = () => {
        const ts = Date.parse(S.snap.ts) / 1000;
        if (!(ts - S.lastSample >= config.sample_every_s)) { return; }
        S.lastSample = ts;
        for (const [name, q] of Object.entries(S.snap.queues || {})) {
            const series = S.trend[name] = S.trend[name] || [];
            series.push([ts, q.waiting, (q.interval || {}).service_level_pct ?? null]);
            while (series.length && series[0][0] < ts - config.minutes * 60) { series.shift(); }
        }
        renderTrends();
    };

    const render = () => {
        const snap = S.snap;
        const hl = highlights(snap.alerts);
        const listed = (a) => a.state !== "logged_out" || ["out", "grace"].includes((a.adherence || {}).status);
        S.rows = Object.values(snap.agents || {}).filter(listed).map((a) => rowOf(a, hl));  // grid.listed
        const queues = Object.keys(snap.queues || {}).sort();
        setOptions(selects.team, [...new Set(S.rows.map((r) => r.team).filter(Boolean))].sort());
        setOptions(selects.queue, queues);
        setOptions(selects.state, [...new Set(S.rows.map((r) => r.state))].sort());
        setOptions(picker, queues);
        if (!picker.value && queues.length) { picker.value = queues[0]; }
        showRows();
        renderCallers();
        sample();
        renderTrends();
        $("sup-status").textContent = `live · ${snap.site} · seq ${snap.seq}`;
    };

    const connect = () => {
        if (S.denied) { return; }
        const proto = location.protocol === "https:" ? "wss" : "ws";
        const ws = S.ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
        ws.onopen = () => { S.retry = 500; };
        ws.onmessage = (msg) => {
            const m = JSON.parse(msg.data);
            S.lastHeard = Date.now();
            if (m.type === "snapshot") { S.snap = m; }
            else if (m.type === "delta") {
                if (!S.snap || m.base !== S.snap.seq) { ws.send(JSON.stringify({type: "resync"})); return; }
                S.snap = applyDiff(S.snap, m.changes);
                S.snap.seq = m.seq;
            } else { return; }
            if (S.snap.ts) { S.skew = Date.parse(S.snap.ts) - Date.now(); }
            S.lastData = S.lastHeard;
            render();
        };
        ws.onclose = (ev) => {
            if (S.ws !== ws) { return; }
            S.ws = null;
            if (ev.code === 4401 || ev.code === 4403) { refused(); return; }
            $("sup-status").textContent = `reconnecting in ${(S.retry / 1000).toFixed(1)} s`;
            setTimeout(connect, S.retry * (0.75 + Math.random() / 2));
            S.retry = Math.min(S.retry * 2, RETRY_MAX_MS);
        };
    };

    const headers = token ? {Authorization: `Bearer ${token}`} : {};
    try {
        const r = await fetch(`/api/v1/trend?minutes=${config.minutes}`, {headers, credentials: "same-origin"});
        if (r.status === 401 || r.status === 403) { refused(); return "not authorised"; }
        if (r.ok) {
            S.trend = await r.json();
            for (const series of Object.values(S.trend)) {
                for (const p of series) { S.lastSample = Math.max(S.lastSample, p[0]); }
            }
            renderTrends();
        }
    } catch (e) { /* no history: the sparklines start from the live samples */ }
    setInterval(() => {  // STALE: nothing heard for STALE_MS; a silent socket is reopened
        const now = Date.now(), silent = now - (S.lastHeard || S.loadedAt);
        const stale = !S.denied && silent > STALE_MS;
        $("sup-stale").classList.toggle("on", stale);
        const age = Math.floor((now - (S.lastData || S.loadedAt)) / 1000);
        const text = `${age} s`;
        if ($("sup-stale-age").textContent !== text) { $("sup-stale-age").textContent = text; }
        if (S.ws && S.ws.readyState === WebSocket.OPEN && silent > SILENT_MS) { S.ws.close(); }
    }, 250);
    setInterval(() => {
        if (!S.snap || S.denied) { return; }
        grid.refreshCells({columns: ["time_in_state", "out_for"], force: true});
        renderCallers();
    }, 1000);
    connect();
    return "started";
}
"""


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
        assets_ignore=".*",  # everything this page needs is inline: no other page's assets
    )
    app.index_string = INDEX
    app.layout = _layout()
    app.clientside_callback(  # type: ignore[no-untyped-call]
        SUPERVISOR_JS,
        Output("sup-started", "children"),
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
    }


def _layout() -> html.Div:
    grid = dag.AgGrid(
        id="sup-grid",
        columnDefs=COLUMN_DEFS,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True},
        getRowId="params.data.id",
        rowClassRules=ROW_CLASS_RULES,
        dashGridOptions={"animateRows": False},
        style={"height": "max(52vh, calc(100vh - 330px))"},  # the rest of the screen above the bottom panels
    )
    bottom = html.Div(
        className="sup-bottom",
        children=[
            html.Section([html.H2("Waiting callers"), html.Div(id="sup-queue-pick"), html.Div(id="sup-callers")]),
            html.Section([html.H2("Last hour"), html.Div(id="sup-sparks")]),
        ],
    )
    return html.Div(
        [
            html.Header(
                className="sup-header", children=[html.H1("Supervisor"), html.Span("connecting…", id="sup-status")]
            ),
            html.Div(id="sup-stale", role="alert", children=["STALE — no data for ", html.Span(id="sup-stale-age")]),
            html.Div(id="sup-denied", role="alert", style=HIDDEN),
            html.Div(id="sup-main", children=[html.Div(id="sup-filters"), grid, bottom]),
            dcc.Store(id="sup-config", data=_config()),
            html.Div(id="sup-started", style=HIDDEN),
        ]
    )


def mount_supervisor_page(app: Starlette, prefix: str = PREFIX) -> Dash:
    """Serve the supervisor page at ``prefix/`` of the FastAPI ``app``; returns the Dash app."""
    page = build_supervisor_app(prefix)
    app.mount(prefix, ReadOnly(WSGIMiddleware(page.server)))  # type: ignore[arg-type]  # a2wsgi's Environ typing
    return page
