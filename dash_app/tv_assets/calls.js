/* The supervisor view's call drill-down (dash_app/calls_view.py is the reference: what each figure lists, the
 * request, the SL-miss rule, the CSV; dash_app/supervisor.py lays out the panel).
 *
 * Theory of operation
 * -------------------
 * window.dash_clientside.supervisorCalls.start(config) runs once the layout is rendered, with the page's config
 * (config.calls is calls_view.calls_config()). It waits for the page's state (window.wbSupervisor, supervisor.js)
 * and then:
 *  - renders the "Today" table (#sup-today: calls_view.queue_figures of the snapshot the page holds) again whenever
 *    that snapshot changes (checked twice a second in the browser; nothing is asked of the server). Each figure is
 *    a button. With a channel picked in the page's filter (supervisor.js's S.queueShown) it lists that channel's
 *    queues only;
 *  - opens the panel (#sup-calls) for a figure's button, or for an agent on a click or Enter in the agent grid
 *    (not in its actions column, which has its own menu): the title, what it lists in words, the caller search
 *    emptied and focused, and the calls read from GET /api/v1/calls (calls_view.query): with the page's display
 *    token as a Bearer header when it has one (the API refuses a display token: the panel says so), else with the
 *    session cookie. Caller numbers are shown as the API sends them (masked for a role that may not see them);
 *    every text is set as text, never as HTML. Only the latest request's answer is shown;
 *  - the search box narrows by caller number on the server (caller=), 250 ms after the last key (Enter: at once);
 *  - "Export CSV" is the same request with format=csv, or for SL misses (the API cannot filter on the wait) a
 *    file written here from the rows shown (calls_view.csv_text);
 *  - Escape anywhere on the page (outside the actions menu) or the close button closes the panel and gives the
 *    focus back to what opened it.
 * window.wbCalls holds what the panel shows, for tests.
 * Every text is in the page's language (t(); the titles, notes, outcomes and headers are calls_view's N_ texts,
 * tr()); a change of language renders the table, the panel and the grid's headers again.
 */
"use strict";
(() => {
  const t = (text, values) => window.wbI18n.t(text, values);  // never at the top level: i18n.js may load later
  const tn = (singular, plural, n, values) => window.wbI18n.tn(singular, plural, n, values);  // a count (i18n.js)
  const tr = (text, values) => window.wbI18n.t(text, values);  // a message marked N_ in Python (calls_view)
  const DEBOUNCE_MS = 250, WATCH_MS = 500;
  let outcomeWords = {};  // calls_view.OUTCOME_WORDS, once started
  const WORDS = (v) => (Array.isArray(v) ? v.join(", ") : v === null || v === undefined ? "" : String(v).replaceAll("_", " "));
  window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
    // The call's time of day, site time: when it entered the queue (else when it ended).
    wbCallTime: (row) => String(row.entered_local || row.answered_local || row.ended_local || "").slice(11, 19),
    wbTransfer: (row) => {
      if (!row.transfer_target) return "";
      const kinds = { attended: t("attended"), blind: t("blind") };
      return row.transfer_kind ? `${row.transfer_target} (${kinds[row.transfer_kind] || row.transfer_kind})`
        : row.transfer_target;
    },
    wbWords: WORDS,
    // The outcome in words (the row keeps the raw outcome: sorting and filtering on it).
    wbOutcome: (value) => (outcomeWords[value] ? tr(outcomeWords[value]) : WORDS(value)),
  });

  /* calls_view.query */
  const query = (cfg, kind, name, caller) => {
    const params = [[kind === "agent" ? "agent" : "queue", name]];
    for (const outcome of cfg.outcomes[kind]) params.push(["outcome", outcome]);
    const wanted = caller.trim().slice(0, cfg.caller_max);
    if (wanted) params.push(["caller", wanted]);
    params.push(["limit", String(cfg.limit)]);
    return params;
  };
  const callsUrl = (cfg, params) => `${cfg.path}?${new URLSearchParams(params).toString()}`;
  /* calls_view.is_sl_miss and shown */
  const isSlMiss = (cfg, row, threshold) => cfg.misses.includes(row.outcome)
    || (row.outcome === "answered" && typeof row.wait_s === "number" && row.wait_s > threshold);
  const shown = (cfg, kind, rows, threshold) => (kind === "sl_misses" ? rows.filter((r) => isSlMiss(cfg, r, threshold || 0)) : rows);
  /* calls_view.kept_calls: the CSV's header and the records of `ids` (RFC 4180 records, kept as the server wrote
   * them: a quoted cell may hold commas, doubled quotes and line ends). */
  const keptCalls = (text, ids) => {
    const records = [];
    let cells = [], cell = "", quoted = false, start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') quoted = false; else cell += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") { cells.push(cell); cell = ""; }
      else if (ch === "\n" || (ch === "\r" && text[i + 1] === "\n")) {
        if (ch === "\r") i++;
        cells.push(cell);
        records.push({ cells, raw: text.slice(start, i + 1) });
        cells = []; cell = ""; start = i + 1;
      } else cell += ch;
    }
    if (!records.length) return "";
    const column = records[0].cells.indexOf("call_id"), wanted = new Set(ids);
    return records.filter((r, n) => n === 0 || wanted.has(r.cells[column])).map((r) => r.raw).join("");
  };
  /* calls_view.queue_figures */
  const count = (w, k) => (Number.isInteger(w[k]) ? w[k] : 0);
  const queueFigures = (snap) => Object.keys((snap && snap.queues) || {}).sort().map((name) => {
    const q = snap.queues[name], day = q.day || {};
    const late = count(day, "answered") - count(day, "answered_within_sl") - count(day, "wait_unknown");
    const unanswered = count(day, "abandoned") - count(day, "short_abandoned") + count(day, "timed_out")
      + count(day, "exited_other");
    return { queue: name, offered: count(day, "offered"), abandoned: count(day, "abandoned"),
      sl_misses: Math.max(0, late) + Math.max(0, unanswered), threshold_s: q.sl_threshold_s ?? null };
  });

  async function start(config) {
    if (window.wbCalls) return window.dash_clientside.no_update;
    const cfg = config.calls;
    outcomeWords = cfg.outcome_words || {};
    const $ = (id) => document.getElementById(id);
    const el = (tag, props, ...children) => {
      const node = Object.assign(document.createElement(tag), props || {});
      node.append(...children);
      return node;
    };
    const C = window.wbCalls = { open: false, kind: null, name: null, rows: [], params: null, error: "",
      helpers: { query: (k, n, c) => query(cfg, k, n, c), callsUrl: (p) => callsUrl(cfg, p),
        shown: (k, r, t) => shown(cfg, k, r, t), keptCalls, queueFigures } };
    while (!(window.wbSupervisor && window.wbSupervisor.client)) await new Promise((ok) => setTimeout(ok, 50));
    const S = window.wbSupervisor;
    const panel = $("sup-calls"), search = $("sup-calls-caller"), exportLink = $("sup-calls-export");
    panel.setAttribute("aria-labelledby", "sup-calls-title");
    panel.setAttribute("aria-modal", "false");
    panel.tabIndex = -1;
    const grid = await dash_ag_grid.getApiAsync("sup-calls-grid");
    const agents = await dash_ag_grid.getApiAsync("sup-grid");
    let opener = null, asked = 0, typing = null, blobUrl = null, threshold = null;

    const setExport = (href) => {
      exportLink.hidden = href === null;
      exportLink.href = href || "";
      exportLink.download = "";  // the server names the file
    };
    // SL misses: the server's CSV of the same request, with only the calls shown (the API cannot filter on the wait).
    exportLink.addEventListener("click", async (ev) => {
      if (C.kind !== "sl_misses" || !exportLink.href) return;
      ev.preventDefault();
      const ids = C.rows.map((r) => r.call_id), name = C.name;
      const headers = S.client.token ? { Authorization: `Bearer ${S.client.token}` } : {};
      let text;
      try {
        const response = await fetch(exportLink.href, { headers, credentials: "same-origin" });
        if (!response.ok) {
          $("sup-calls-count").textContent = t("export refused: the call log answered {status}", { status: response.status });
          return;
        }
        text = await response.text();
      } catch (e) { $("sup-calls-count").textContent = t("export failed: the API cannot be reached"); return; }
      if (blobUrl) URL.revokeObjectURL(blobUrl);
      blobUrl = URL.createObjectURL(new Blob([keptCalls(text, ids)], { type: "text/csv" }));
      const save = el("a", { href: blobUrl, download: `wallboard-sl-misses-${name}.csv`, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
    });
    let countText = () => "";  // what #sup-calls-count says, again in a new language
    const say = (text) => { countText = text; $("sup-calls-count").textContent = text(); };
    const show = (rows, more) => {
      C.rows = shown(cfg, C.kind, rows, threshold);
      grid.setGridOption("rowData", C.rows);
      const n = C.rows.length;
      say(() => {
        const calls = tn("{n} call", "{n} calls", n);
        return more ? t("{calls} (the first {limit}: search to narrow)", { calls, limit: cfg.limit }) : calls;
      });
      setExport(callsUrl(cfg, [...C.params, ["format", "csv"]]));
    };
    const fail = (text) => {
      C.rows = [];
      C.error = text();
      grid.setGridOption("rowData", []);
      setExport(null);
      say(text);
    };
    const load = async () => {
      const mine = ++asked;
      C.params = query(cfg, C.kind, C.name, search.value);
      C.error = "";
      setExport(null);
      say(() => t("loading…"));
      const headers = Object.assign({ Accept: "application/json" },
        S.client.token ? { Authorization: `Bearer ${S.client.token}` } : {});
      let response, body = null;
      try {
        response = await fetch(callsUrl(cfg, C.params), { headers, credentials: "same-origin" });
        body = await response.json();
      } catch (e) {
        if (mine === asked) {
          fail(() => (response ? t("the call log answered {status}", { status: response.status })
            : t("the API cannot be reached")));
        }
        return;
      }
      if (mine !== asked) return;  // a newer search was sent meanwhile
      if (!response.ok) {
        const detail = body && typeof body.detail === "string" ? body.detail : "";
        fail(() => (response.status === 401 ? t("the session ended: log in again on /ops/")
          : t("not available: {why}", { why: detail || t("the call log answered {status}", { status: response.status }) })));
        return;
      }
      show(body.calls || [], Boolean(body.next_cursor));
    };

    const open = (kind, name, label, thresholdS, from) => {
      opener = from || document.activeElement;
      Object.assign(C, { open: true, kind, name });
      threshold = thresholdS;
      C.label = label;
      heading();
      search.value = "";
      panel.classList.add("open");
      grid.setGridOption("rowData", []);
      search.focus();
      load();
    };
    const close = () => {
      if (!C.open) return;
      C.open = false;
      asked += 1;  // an answer still on its way is dropped
      panel.classList.remove("open");
      refocus();
    };
    // The focus goes back to what opened the panel, or to its successor when the page re-rendered it: the same
    // figure's button, the agent's row in the grid.
    const refocus = () => {
      if (opener && document.contains(opener)) { opener.focus(); return; }
      if (C.kind !== "agent") {
        const again = $("sup-today").querySelector(
          `button[data-kind="${CSS.escape(C.kind)}"][data-queue="${CSS.escape(C.name)}"]`);
        if (again) again.focus();
        return;
      }
      const node = agents.getRowNode(C.name);
      if (node && node.rowIndex !== null) agents.setFocusedCell(node.rowIndex, "name");
    };
    // The panel's title and what it lists, in the page's language (calls_view.title and note).
    const heading = () => {
      $("sup-calls-title").textContent = tr(cfg.titles[C.kind], { name: C.label });
      $("sup-calls-note").textContent = tr(cfg.notes[C.kind], { threshold: Math.round(threshold || 0) });
    };
    C.openFor = open;  // for tests
    $("sup-calls-close").addEventListener("click", close);
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || !C.open) return;
      const menu = document.getElementById("sup-actions-menu");
      if (menu && !menu.hidden && menu.contains(ev.target)) return;  // the actions menu closes itself first
      ev.preventDefault();
      close();
    });
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(load, DEBOUNCE_MS);
    });
    search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { clearTimeout(typing); load(); }
    });

    // An agent: a click or Enter on its row in the agent grid (the actions column has its own menu).
    const agentOf = (e) => {
      if (!e.data || (e.column && e.column.getColId() === "actions")) return;
      const from = e.event && e.event.target instanceof Element ? e.event.target.closest(".ag-cell") : null;
      open("agent", e.data.id, e.data.name || e.data.id, null, from);
    };
    agents.addEventListener("cellClicked", agentOf);
    agents.addEventListener("cellKeyDown", (e) => { if (e.event && e.event.key === "Enter") agentOf(e); });

    // Today's figures per queue, each a button opening its calls.
    const FIGURES = () => [["offered", t("Offered")], ["abandoned", t("Abandoned")], ["sl_misses", t("SL misses")]];
    let held = null, heldChannel = "", shownFigures = "";
    const renderToday = () => {
      held = S.snap;
      heldChannel = S.channel || "";
      const figures = queueFigures(S.snap).filter((q) => !S.queueShown || S.queueShown(q.queue));
      const key = JSON.stringify(figures);
      if (key === shownFigures) return;  // the same figures: the buttons (and the focus) stay
      shownFigures = key;
      const head = el("tr", {}, el("th", { scope: "col" }, t("Queue")),
        ...FIGURES().map(([, label]) => el("th", { scope: "col" }, label)));
      const rows = figures.map((q) => {
        const named = String(((S.snap.queues || {})[q.queue] || {}).display_name || q.queue);  // its display name
        const row = el("tr", {}, el("th", { scope: "row" }, named), ...FIGURES().map(([kind, label]) => {
          const button = el("button", { type: "button", className: "sup-figure" }, String(q[kind]));
          button.dataset.kind = kind;
          button.dataset.queue = q.queue;
          button.setAttribute("aria-label", t("{figure} today in {queue}: {n}, list the calls",
            { figure: label, queue: q.queue, n: q[kind] }));
          button.addEventListener("click", () => open(kind, q.queue, named, q.threshold_s, button));
          return el("td", {}, button);
        }));
        row.dataset.queue = q.queue;
        return row;
      });
      const active = document.activeElement;  // keep the focus on the same button across a re-render
      const focused = active && $("sup-today").contains(active) ? [active.dataset.kind, active.dataset.queue] : null;
      $("sup-today").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
      if (focused) {
        const again = $("sup-today").querySelector(
          `button[data-kind="${CSS.escape(focused[0])}"][data-queue="${CSS.escape(focused[1])}"]`);
        if (again) again.focus();
      }
    };
    setInterval(() => { if (S.snap && (S.snap !== held || (S.channel || "") !== heldChannel)) renderToday(); }, WATCH_MS);
    const translateGrid = () => { if (window.wbTranslateColumns) window.wbTranslateColumns(grid); };
    translateGrid();
    window.wbI18n.onChange(() => {  // another language: the table, the open panel and the grid's headers again
      translateGrid();
      grid.refreshCells({ force: true });
      shownFigures = "";
      if (S.snap) renderToday();
      if (C.kind) heading();
      $("sup-calls-count").textContent = countText();
    });
    return "started";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { supervisorCalls: { start } });
})();
