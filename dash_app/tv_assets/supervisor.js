/* The supervisor view's rendering (see dash_app/supervisor.py for the theory of operation): the agent grid, the
 * waiting callers of a queue and the sparklines. The websocket, STALE (the data's age: the grid is dimmed and its
 * times stop ticking meanwhile) and "not authorised" on a refused socket (retried slowly) are the shared client's
 * (wallboard-client.js). The rows mirror dash_app/grid.py (agent_row, adherence_fields,
 * exception_words, listed); tests/dash_app/test_supervisor.py compares the page's rows with grid.agent_rows().
 * The agent actions (the rows' "⋯ Actions" menu and their state) are actions.js's. */
"use strict";
(() => {
  // The grid's value getter and formatter (dash-ag-grid looks function names up in dashAgGridFunctions): this file
  // loads before the Dash renderer, so they exist before the grid does.
  window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
    wbElapsed: (ms) => (Number.isFinite(ms) ? Math.max(0, (Date.now() - ms) / 1000) : null),
    wbDuration: (seconds) => {
      if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
      const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      const ss = String(s % 60).padStart(2, "0");
      return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
    },
  });

  // Started by the page's clientside callback (window.dash_clientside.supervisor.start) once the layout is rendered,
  // with the sup-config store's data (dash_app.supervisor._config); the shared client is loaded by then.
  async function start(config) {
    if (window.wbSupervisor) return window.dash_clientside.no_update;
    // What the page holds, for tests: the snapshot, the rows handed to the grid, the sparkline series.
    const S = window.wbSupervisor = { snap: null, skew: 0, trend: {}, lastSample: 0, rows: [], denied: false };
    const $ = (id) => document.getElementById(id);
    const el = (tag, props, ...children) => {
      const node = Object.assign(document.createElement(tag), props || {});
      node.append(...children);
      return node;
    };
    const fmt = window.dashAgGridFunctions.wbDuration;

    const deny = (why) => {
      S.denied = true;
      $("sup-denied").textContent = `Not authorised: ${why}`;
      $("sup-denied").style.display = "block";
      $("sup-main").style.display = "none";
      $("sup-status").textContent = "not authorised";
    };
    const allow = () => {  // the credential works again: the page comes back without a reload
      S.denied = false;
      $("sup-denied").style.display = "none";
      $("sup-main").style.display = "";
    };
    const client = S.client = window.wallboardClient.open({
      stale: "sup-stale", staleAge: "sup-stale-age", dim: "sup-main",  // the age of the data the grid shows
      onAllowed: allow,
      onData: (snap) => {
        S.snap = snap;
        if (snap.ts) S.skew = Date.parse(snap.ts) - Date.now();
        render();
      },
      onRetry: (ms) => { $("sup-status").textContent = `reconnecting in ${(ms / 1000).toFixed(1)} s`; },
      onDenied: () => deny(client.token ? "this display token is wrong or revoked"
        : "log in on /ops/ first, or open this page with ?token=<display token>"),
    });

    const grid = await dash_ag_grid.getApiAsync("sup-grid");
    // Agent actions (actions.js): offered only to a session that may act, never to a display token.
    const agentOf = (id) => S.snap && (S.snap.agents || {})[id];
    S.actionsReady = window.wbActions.install({
      grid, token: client.token, config: config.actions, agentOf,
      nameOf: (id) => (agentOf(id) || {}).name || id,
      siteQueues: () => Object.keys((S.snap && S.snap.queues) || {}).sort(),
    }).then((page) => { S.actions = page; return Boolean(page); });

    // Quick filters: team, queue and state dropdowns narrow the rows handed to the grid.
    const FILTERS = ["team", "queue", "state"];
    const selects = {};
    for (const name of FILTERS) {
      const select = el("select", { id: `sup-filter-${name}` }, el("option", { value: "" }, `all ${name}s`));
      select.addEventListener("change", () => showRows());
      selects[name] = select;
      $("sup-filters").append(el("label", {}, `${name} `, select));
    }
    const picker = el("select", { id: "sup-queue-select" }, el("option", { value: "" }, "pick a queue"));
    picker.addEventListener("change", () => renderCallers());
    $("sup-queue-pick").append(picker);
    const setOptions = (select, values) => {
      const have = Array.from(select.options).slice(1).map((o) => o.value);
      if (have.join("\n") === values.join("\n")) return;
      const keep = select.value;
      select.replaceChildren(select.options[0], ...values.map((v) => el("option", { value: v }, v)));
      select.value = values.includes(keep) ? keep : "";
    };

    // Rows: dash_app.grid.agent_row, plus since_ms (since on the browser's clock) for the ticking column.
    const highlights = (alerts) => {
      const out = {};
      for (const a of alerts || []) {
        const kind = config.highlight[a.metric];
        if (!a.target || a.target.kind !== "agent" || !kind || !["warn", "alarm"].includes(a.level)) continue;
        const current = out[a.target.name];
        if (!current || (current.endsWith("-warn") && a.level === "alarm")) out[a.target.name] = `${kind}-${a.level}`;
      }
      return out;
    };
    // Adherence columns: dash_app.grid.adherence_fields and exception_words.
    const exceptionWords = (adh, reason) => {
      const kind = adh.exception;
      if (!kind) return "";
      if (kind === "unmapped_reason") {
        const actual = String(adh.actual || ""), prefix = config.unmapped;
        const found = actual.startsWith(prefix) ? actual.slice(prefix.length) : String(reason || "?");
        return `${config.exceptions[kind]}: ${found}`;
      }
      return config.exceptions[kind] || String(kind).replaceAll("_", " ");
    };
    const adherenceOf = (a) => {
      const adh = a.adherence || {}, status = String(adh.status || "");
      return { scheduled: adh.scheduled || "", adherence: config.cues[status] ?? status, adherence_status: status,
        out_since: adh.out_since ?? null, exception: exceptionWords(adh, a.reason) };
    };
    const rowOf = (a, hl) => Object.assign({
      id: a.id, name: a.name || a.id, team: a.team || "", state: a.state, reason: a.reason || "",
      since: a.since, time_in_state_s: a.time_in_state_s, queues: (a.queues || []).slice().sort().join(", "),
      calls_today: a.calls_today || 0, aht_s: a.aht_s ?? null, highlight: hl[a.id] || "",
      handled_today: a.handled_today || 0, missed_rings_today: a.missed_rings_today || 0, idle_s: a.idle_s ?? null,
      last_call_end: a.last_call_end ?? null, occupancy_pct: a.occupancy_pct ?? null,
      since_ms: a.since ? Date.parse(a.since) - S.skew : NaN,
    }, adherenceOf(a), {
      out_since_ms: a.adherence && a.adherence.out_since ? Date.parse(a.adherence.out_since) - S.skew : NaN,
    });
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
        const who = el("td", {}, c.caller_name || c.caller || "unknown");
        if (c.repeat) {  // called within the repeat window before: a cue in words, not only a colour
          who.append(" ", el("span", { className: "repeat", title: "called before within the repeat window" },
            "↻ repeat"));
        }
        const tr = el("tr", {}, el("td", {}, String(c.position)), who,
          el("td", { className: "wait" }, fmt(Math.max(0, wait))));
        tr.dataset.callId = c.call_id;
        return tr;
      });
      const summary = el("p", { id: "sup-callers-summary" }, `${entry.waiting} waiting`);
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
        Object.entries({ cx: x, cy: y, r: 2.5 }).forEach(([k, v]) => dot.setAttribute(k, v));
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
        const row = el("div", { className: "sup-spark-row" }, el("strong", {}, name),
          el("span", { className: "now" }, `${last[1] ?? "—"}`), spark(series, 1, 0, peak, "waiting", now),
          el("span", { className: "now" }, last[2] === null ? "—" : `${Math.round(last[2])}%`),
          spark(series, 2, 0, 100, "sl", now));
        row.dataset.queue = name;
        return row;
      });
      const head = el("div", { className: "sup-spark-row" }, el("span", {}, "queue"), el("span", {}, ""),
        el("span", {}, "calls waiting"), el("span", {}, ""), el("span", {}, "SL this interval"));
      $("sup-sparks").replaceChildren(head, ...rows);
    };
    const sample = () => {
      const ts = Date.parse(S.snap.ts) / 1000;
      if (!(ts - S.lastSample >= config.sample_every_s)) return;
      S.lastSample = ts;
      for (const [name, q] of Object.entries(S.snap.queues || {})) {
        const series = S.trend[name] = S.trend[name] || [];
        series.push([ts, q.waiting, (q.interval || {}).service_level_pct ?? null]);
        while (series.length && series[0][0] < ts - config.minutes * 60) series.shift();
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
      if (!picker.value && queues.length) picker.value = queues[0];
      showRows();
      renderCallers();
      sample();
      renderTrends();
      $("sup-status").textContent = `live · ${snap.site} · seq ${snap.seq}`;
    };

    // The last hour of samples first (kept in Redis by the engine runner, so a reload loses nothing), then live.
    const headers = client.token ? { Authorization: `Bearer ${client.token}` } : {};
    try {
      const r = await fetch(`/api/v1/trend?minutes=${config.minutes}`, { headers, credentials: "same-origin" });
      if (r.status === 401 || r.status === 403) client.deny();  // the socket is retried slowly all the same
      else if (r.ok) {
        S.trend = await r.json();
        for (const series of Object.values(S.trend)) {
          for (const p of series) S.lastSample = Math.max(S.lastSample, p[0]);
        }
        renderTrends();
      }
    } catch (e) { /* no history: the sparklines start from the live samples */ }
    setInterval(() => {  // time in state, "out for", idle and the callers' waits tick between messages, while fresh
      if (!S.snap || S.denied || client.stale()) return;
      grid.refreshCells({ columns: ["time_in_state", "out_for", "idle"], force: true });
      renderCallers();
    }, 1000);
    client.connect();
    return "started";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { supervisor: { start } });
})();
