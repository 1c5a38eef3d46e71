/* The floor TV board's rendering (see dash_app/tv.py for the theory of operation); the websocket, STALE (the data's
 * age; the tiles dimmed meanwhile), the clock and "not authorised" (retried slowly) are the shared client's
 * (wallboard-client.js).
 * Formats, level rules, group sums and the grid shape mirror dash_app/figures.py, groups.py and layout.py;
 * tests/dash_app/test_tv.py checks the page shows exactly layout.tile_models() for a snapshot. */
"use strict";
(() => {
  const PAGE_TICK_MS = 250;
  const LEVELS = ["ok", "warn", "alarm"];
  const MISSING = "—";

  // -- formats (dash_app/figures.py) --
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const pad = (n) => String(n).padStart(2, "0");
  const fmtCount = (v) => (num(v) === null ? MISSING : String(Math.floor(v + 0.5)));
  const fmtPercent = (v) => (num(v) === null ? MISSING : `${Math.floor(v + 0.5)}%`);
  function fmtDuration(v) {
    if (num(v) === null) return MISSING;
    const s = Math.max(0, Math.floor(v)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
    if (h) return `${h}:${pad(m)}:${pad(x)}`;
    return m ? `${m}:${pad(x)}` : `${x}s`;
  }
  const FORMATS = { count: fmtCount, duration: fmtDuration, percent: fmtPercent };
  const fmt = (kind, v, other) => (kind === "ratio" ? `${fmtCount(v)} / ${fmtCount(other)}` : FORMATS[kind](v));
  const worst = (levels) => levels.reduce((a, b) => (LEVELS.indexOf(b) > LEVELS.indexOf(a) ? b : a), "ok");
  const numberText = (v) => (num(v) === null ? "?" : String(v));

  // -- tile models (dash_app/layout.py) --
  function dig(entry, path) {
    for (const step of path) entry = entry && typeof entry === "object" && !Array.isArray(entry) ? entry[step] : undefined;
    return entry === undefined ? null : entry;
  }
  function alertLevels(alerts) {
    const out = new Map();
    for (const a of alerts || []) {
      const t = a.target || {};
      if (t.kind !== "queue" || (a.level !== "warn" && a.level !== "alarm")) continue;
      const key = `${t.name}\u0000${a.metric}`;
      out.set(key, worst([out.get(key) || "ok", a.level]));
    }
    return out;
  }
  function teamLevels(alerts, snap) {
    const out = new Map(), agents = snap.agents || {};
    for (const a of alerts || []) {
      const t = a.target || {};
      if (a.level !== "warn" && a.level !== "alarm") continue;
      const team = t.kind === "team" ? t.name : t.kind === "agent" ? (agents[t.name] || {}).team : null;
      if (!team) continue;
      const metric = a.metric === "team_adherence_pct" ? "adherence_pct" : a.metric;  // figures.TEAM_METRIC_SHOWN_AS
      const key = `${team}\u0000${metric}`;
      out.set(key, worst([out.get(key) || "ok", a.level]));
    }
    return out;
  }

  // -- queue groups (dash_app/groups.py) --
  const FORMULAS = ["offered_minus_short", "offered", "answered"];
  const COUNTERS = ["offered", "answered", "abandoned", "short_abandoned", "answered_within_sl", "handled", "talk_s",
    "hold_s", "wrap_s", "wait_s_answered"];
  const AGENT_KEYS = ["logged_in", "available", "ringing", "on_call", "wrap_up", "paused"];
  const BUSY = ["ringing", "on_call", "wrap_up"];
  const count = (w, k) => num(w[k]) || 0;
  const pct = (n, d) => (d <= 0 ? null : Math.min(100, Math.max(0, (100 * n) / d)));
  const ratio = (t, c) => (c <= 0 ? null : Math.max(0, t / c));
  function denominator(w, f) {
    if (f === "answered") return count(w, "answered");
    if (f === "offered") return count(w, "offered");
    return count(w, "offered") - count(w, "short_abandoned");
  }
  function fits(w, f) {
    const published = num(w.service_level_pct), computed = pct(count(w, "answered_within_sl"), denominator(w, f));
    if (published === null || computed === null) return published === null && computed === null;
    return Math.abs(computed - published) <= 1e-6 * Math.max(1, published);
  }
  function slFormula(snap) {
    if (FORMULAS.includes(snap.sl_formula)) return snap.sl_formula;
    const windows = [];
    for (const q of Object.values(snap.queues || {})) {
      for (const n of ["interval", "day"]) if (q && q[n] && typeof q[n] === "object") windows.push(q[n]);
    }
    return FORMULAS.find((f) => windows.every((w) => fits(w, f))) || FORMULAS[0];
  }
  function groupWindow(windows, f) {
    const s = Object.fromEntries(COUNTERS.map((k) => [k, 0]));
    for (const w of windows) for (const k of COUNTERS) s[k] += count(w, k);
    const short = s.short_abandoned;
    return Object.assign(s, {
      service_level_pct: pct(s.answered_within_sl, denominator(s, f)),
      asa_s: ratio(s.wait_s_answered, s.answered),
      aht_s: ratio(s.talk_s + s.hold_s + s.wrap_s, s.handled),
      abandon_rate_pct: pct(s.abandoned - short, s.offered - short),
    });
  }
  const snapshotGroups = (snap) => [...new Set(Object.values(snap.queues || {}).map((q) => q && q.group)
    .filter(Boolean).map(String))].sort();
  const groupQueues = (snap, g) => Object.keys(snap.queues || {}).filter((n) => (snap.queues[n] || {}).group === g).sort();
  function groupAgents(snap, names) {
    const members = new Set(names), out = Object.fromEntries(AGENT_KEYS.map((k) => [k, 0]));
    const agents = Object.values(snap.agents || {});
    if (!agents.length) {
      for (const n of members) {
        const c = ((snap.queues || {})[n] || {}).agents || {};
        for (const k of AGENT_KEYS) out[k] += Math.trunc(num(c[k]) || 0);
      }
      return out;
    }
    for (const a of agents) {
      const mine = (a.queues || []).filter((q) => members.has(q));
      if (!mine.length || a.state === "logged_out") continue;
      out.logged_in += 1;
      const paused = new Set(a.paused_queues || []);
      if (BUSY.includes(a.state)) out[a.state] += 1;
      else if (mine.every((q) => paused.has(q))) out.paused += 1;
      else out.available += 1;
    }
    return out;
  }
  const common = (values) => { const s = new Set(values); return s.size === 1 ? [...s][0] : null; };
  function groupEntry(snap, g) {
    const names = groupQueues(snap, g), entries = names.map((n) => snap.queues[n]), f = slFormula(snap);
    const needs = entries.map((q) => num(q.required_agents)).filter((n) => n !== null);
    const waits = entries.map((q) => num(q.longest_wait_s)).filter((n) => n !== null);
    const sum = (k) => entries.reduce((t, q) => t + Math.trunc(num(q[k]) || 0), 0);
    const entry = {
      name: g, group: g, queues: names,
      sl_threshold_s: common(entries.map((q) => q.sl_threshold_s ?? null)),
      sl_target_pct: common(entries.map((q) => q.sl_target_pct ?? null)),
      waiting: sum("waiting"), longest_wait_s: waits.length ? Math.max(...waits) : null,
      waiting_beyond_sl: sum("waiting_beyond_sl"), agents: groupAgents(snap, names),
      required_agents: needs.length ? Math.trunc(needs.reduce((t, n) => t + n, 0)) : null,
    };
    for (const w of ["interval", "day"]) entry[w] = groupWindow(entries.map((q) => q[w] || {}), f);
    return entry;
  }

  // -- tile models (dash_app/layout.py) --
  function boardQueues(snap, board, pageIndex) {
    const pages = board.pages || [];
    if (pages.length) return pages[pageIndex % pages.length].queues.map(String);
    if ((board.queues || []).length) return board.queues.map(String);
    const groups = new Set(board.groups || []);
    const queues = snap.queues || {};
    return Object.keys(queues).filter((n) => !groups.size || groups.has(dig(queues[n], ["group"]))).sort();
  }
  function boardUnits(snap, board, pageIndex) {
    let units;
    if (board.group_tiles && !(board.pages || []).length) {
      let groups = (board.groups || []).map(String), named = (board.queues || []).map(String);
      if (!groups.length && !named.length) {
        groups = snapshotGroups(snap);
        named = Object.keys(snap.queues || {}).filter((n) => !dig(snap.queues[n], ["group"])).sort();
      }
      units = [...groups.map((n) => ["group", n]), ...named.map((n) => ["queue", n])];
    } else units = boardQueues(snap, board, pageIndex).map((n) => ["queue", n]);
    if (board.team_tiles) {
      const teams = (board.teams || []).length ? board.teams.map(String) : Object.keys(snap.teams || {}).sort();
      units.push(...teams.map((n) => ["team", n]));
    }
    return units;
  }
  function boardKpis(cat, board) {
    const wanted = new Set((board.tiles || []).length ? board.tiles : cat.kpis.map((k) => k.key));
    return cat.kpis.filter((k) => wanted.has(k.key));
  }
  function slLabel(k, q) {
    const target = q.sl_target_pct ?? null, threshold = q.sl_threshold_s ?? null;
    if (!k.sl || target === null || threshold === null) return k.label;
    return `${k.label} ${numberText(target)}/${numberText(threshold)}`;
  }
  const values = (kpis, q, levelOf) => kpis.map((k) => ({
    key: k.key,
    label: slLabel(k, q),
    text: fmt(k.format, dig(q, k.path), dig(q, k.other)),
    level: (k.metric && levelOf(k.metric)) || "ok",
    primary: k.primary,
  }));
  function tileModels(cat, snap, board, pageIndex) {
    const levels = alertLevels(snap.alerts), kpis = boardKpis(cat, board);
    const queueLevel = (name) => (m) => levels.get(`${name}\u0000${m}`) || "ok";
    const queueWorst = (name) => worst([...levels].filter(([k]) => k.split("\u0000")[0] === name).map(([, v]) => v));
    let teams = null;
    return boardUnits(snap, board, pageIndex).map(([kind, name]) => {
      let title = name, kv, extra = [];
      if (kind === "team") {
        teams = teams || teamLevels(snap.alerts, snap);
        title = `Adherence · ${dig(snap, ["teams", name, "name"]) || name}`;  // layout.py: the team's display name
        kv = values(cat.team_kpis, dig(snap, ["teams", name]) || {}, (m) => teams.get(`${name}\u0000${m}`) || "ok");
      } else if (kind === "group") {
        const entry = groupEntry(snap, name);
        title = `${name} · ${entry.queues.length} queue${entry.queues.length === 1 ? "" : "s"}`;
        kv = values(kpis, entry, (m) => worst(entry.queues.map((q) => queueLevel(q)(m))));
        extra = entry.queues.map(queueWorst);
      } else kv = values(kpis, dig(snap, ["queues", name]) || {}, queueLevel(name));
      const level = worst([...kv.map((v) => v.level), ...extra]);
      return { kind, name, title, level, icon: cat.icons[level], word: cat.words[level], kpis: kv };
    });
  }
  function gridShape(n) {
    if (n <= 2) return [Math.max(n, 1), 1];
    const cols = Math.max(2, Math.min(Math.ceil(Math.sqrt((n * 16) / 9 / 2)), n));
    return [cols, Math.ceil(n / cols)];
  }
  function start(root, wallboardClient) {
    const $ = (id) => document.getElementById(id);
    const cat = JSON.parse(root.dataset.catalogue);
    const params = new URLSearchParams(location.search);
    const refreshMs = Math.max(1, Number(params.get("refresh") || root.dataset.refresh || "30")) * 1000;
    const prefix = `${root.dataset.prefix || "/tv"}/`;  // /tv/<board>; /tv/ alone is the default board
    const rest = location.pathname.startsWith(prefix) ? location.pathname.slice(prefix.length) : "";
    const boardName = decodeURIComponent(rest.split("/")[0] || "default");
    let board = null, built = "", pageIndex = 0, pageSince = Date.now(), boardTimer = null;
    const client = wallboardClient.open({
      clock: "tv-clock", age: "tv-age", stale: "tv-stale", staleAge: "tv-stale-age", dim: "tv-root",
      onData: () => render(),
      onDenied: () => root.classList.add("denied"),
      onAllowed: () => { root.classList.remove("denied"); loadBoard(); },  // the credential works again
    });
    window.wallboardTv = {  // for tests and benchmarks: what the page holds
      seq: () => { const snap = client.snapshot(); return snap ? snap.seq : null; },
      boardVersion: () => (board ? board.version : null),
    };

    const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
    const setClass = (el, name) => { if (el.className !== name) el.className = name; };
    function message(text) {
      setText($("tv-message"), text);
      $("tv-message").classList.toggle("on", Boolean(text));
    }
    function kpiNode(v) {
      const el = document.createElement("div");
      el.dataset.kpi = v.key;
      const value = document.createElement("span"), label = document.createElement("span");
      value.className = "v";
      label.className = "l";
      el.append(value, label);
      return el;
    }
    function build(models) {
      const main = $("tv-tiles"), [cols, rows] = gridShape(models.length);
      main.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
      main.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
      document.documentElement.style.setProperty("--rows", String(Math.max(rows, 2)));
      main.replaceChildren(...models.map((m) => {
        const el = document.createElement("section");
        el.dataset.kind = m.kind;
        el.dataset.name = m.name;
        el.dataset[m.kind] = m.name;  // data-queue, data-group or data-team
        const h2 = document.createElement("h2"), name = document.createElement("span"), state = document.createElement("span");
        name.className = "title";
        state.className = "state";
        h2.append(name, state);
        const primary = document.createElement("div"), secondary = document.createElement("div");
        primary.className = "primary";
        secondary.className = "secondary";
        for (const v of m.kpis) (v.primary ? primary : secondary).append(kpiNode(v));
        el.append(h2, ...[primary, secondary].filter((d) => d.childElementCount));
        return el;
      }));
    }
    function render() {
      const snap = client.snapshot();
      if (!snap || !board || client.denied()) return;
      setText($("tv-title"), board.title || `wallboard · ${snap.site || ""}`);
      const models = tileModels(cat, snap, board, pageIndex);
      const shape = JSON.stringify(models.map((m) => [m.kind, m.name, m.kpis.map((v) => v.key)]));
      if (shape !== built) { build(models); built = shape; }
      const tiles = $("tv-tiles").children;
      models.forEach((m, i) => {
        const el = tiles[i];
        setClass(el, `tile ${m.kind} lvl-${m.level}`);
        setText(el.querySelector(".title"), m.title);
        setText(el.querySelector(".state"), `${m.icon} ${m.word}`);
        for (const v of m.kpis) {
          const k = el.querySelector(`[data-kpi="${v.key}"]`);
          setClass(k, `kpi lvl-${v.level}`);
          setText(k.firstChild, v.text);
          setText(k.lastChild, v.label);
        }
      });
      message(models.length ? "" : "This board has no queues yet.");
    }
    async function loadBoard() {
      clearTimeout(boardTimer);
      let next = board ? refreshMs : 2000;
      try {
        const r = await fetch(`/api/v1/boards/${encodeURIComponent(boardName)}`, {
          headers: { Authorization: `Bearer ${client.token}` }, cache: "no-store" });
        if (r.status === 401 || r.status === 403) { client.deny(); next = client.deniedRetryMs; }
        if (r.status === 404 || r.status === 422) { message(`No board named “${boardName}”.`); board = null; }
        else if (r.ok) {
          const next = await r.json();
          if (!board || next.version !== board.version) { board = next; built = ""; pageIndex = 0; pageSince = Date.now(); }
          render();
        }
      } catch (e) { /* the server is away: the client shows STALE; try again at the next refresh */ }
      boardTimer = setTimeout(loadBoard, next);
    }
    function turnPages() {
      const now = Date.now(), pages = (board && board.pages) || [];
      if (pages.length && now - pageSince >= pages[pageIndex % pages.length].seconds * 1000) {
        pageIndex = (pageIndex + 1) % pages.length;
        pageSince = now;
        render();
      }
    }
    setInterval(turnPages, PAGE_TICK_MS);
    loadBoard();
    client.connect();
  }
  function boot() {
    // Dash renders the layout after the asset scripts load, the shared client among them, in file-name order.
    const root = document.getElementById("tv-root");
    if (root && window.wallboardClient) start(root, window.wallboardClient); else setTimeout(boot, 50);
  }
  boot();
})();
