/* The floor TV board's live script (see dash_app/tv.py for the theory of operation).
 * Formats, level rules and the grid shape mirror dash_app/figures.py and dash_app/layout.py;
 * tests/dash_app/test_tv.py checks the page shows exactly layout.tile_models() for a snapshot. */
"use strict";
(() => {
  // STALE after 5 s of silence, plus a 0.5 s grace for a heartbeat sent every 5 s (the server's default) to
  // arrive; checked every 0.25 s, so the banner is up within 6 s of the last message.
  const STALE_MS = 5500, SILENT_MS = 12000, RETRY_MIN_MS = 500, RETRY_MAX_MS = 5000;
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
  function boardQueues(snap, board, pageIndex) {
    const pages = board.pages || [];
    if (pages.length) return pages[pageIndex % pages.length].queues.map(String);
    if ((board.queues || []).length) return board.queues.map(String);
    const groups = new Set(board.groups || []);
    const queues = snap.queues || {};
    return Object.keys(queues).filter((n) => !groups.size || groups.has(dig(queues[n], ["group"]))).sort();
  }
  function boardKpis(cat, board) {
    const wanted = new Set((board.tiles || []).length ? board.tiles : cat.kpis.map((k) => k.key));
    return cat.kpis.filter((k) => wanted.has(k.key));
  }
  function tileModels(cat, snap, board, pageIndex) {
    const levels = alertLevels(snap.alerts), kpis = boardKpis(cat, board);
    return boardQueues(snap, board, pageIndex).map((name) => {
      const q = dig(snap, ["queues", name]) || {};
      const values = kpis.map((k) => ({
        key: k.key,
        label: k.sl ? `${k.label} ${numberText(q.sl_target_pct)}/${numberText(q.sl_threshold_s)}` : k.label,
        text: fmt(k.format, dig(q, k.path), dig(q, k.other)),
        level: (k.metric && levels.get(`${name}\u0000${k.metric}`)) || "ok",
        primary: k.primary,
      }));
      const level = worst(values.map((v) => v.level));
      return { queue: name, level, icon: cat.icons[level], word: cat.words[level], kpis: values };
    });
  }
  function gridShape(n) {
    if (n <= 2) return [Math.max(n, 1), 1];
    const cols = Math.max(2, Math.min(Math.ceil(Math.sqrt((n * 16) / 9 / 2)), n));
    return [cols, Math.ceil(n / cols)];
  }
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

  function start(root) {
    const $ = (id) => document.getElementById(id);
    const cat = JSON.parse(root.dataset.catalogue);
    const params = new URLSearchParams(location.search);
    const token = params.get("token") || "";
    const refreshMs = Math.max(1, Number(params.get("refresh") || root.dataset.refresh || "30")) * 1000;
    const prefix = `${root.dataset.prefix || "/tv"}/`;  // /tv/<board>; /tv/ alone is the default board
    const rest = location.pathname.startsWith(prefix) ? location.pathname.slice(prefix.length) : "";
    const boardName = decodeURIComponent(rest.split("/")[0] || "default");
    const loadedAt = Date.now();
    let board = null, snap = null, lastHeard = 0, lastData = 0, retry = RETRY_MIN_MS, ws = null, built = "";
    let pageIndex = 0, pageSince = Date.now(), denied = false;
    window.wallboardTv = {  // for tests and benchmarks: what the page holds
      seq: () => (snap ? snap.seq : null),
      boardVersion: () => (board ? board.version : null),
    };

    const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
    const setClass = (el, name) => { if (el.className !== name) el.className = name; };
    function deny() {
      denied = true;
      root.classList.add("denied");
      if (ws) ws.close();
    }
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
        el.dataset.queue = m.queue;
        const h2 = document.createElement("h2"), name = document.createElement("span"), state = document.createElement("span");
        name.textContent = m.queue;
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
      if (!snap || !board || denied) return;
      setText($("tv-title"), board.title || `wallboard · ${snap.site || ""}`);
      const models = tileModels(cat, snap, board, pageIndex);
      const shape = JSON.stringify(models.map((m) => [m.queue, m.kpis.map((v) => v.key)]));
      if (shape !== built) { build(models); built = shape; }
      const tiles = $("tv-tiles").children;
      models.forEach((m, i) => {
        const el = tiles[i];
        setClass(el, `tile lvl-${m.level}`);
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
      try {
        const r = await fetch(`/api/v1/boards/${encodeURIComponent(boardName)}`, {
          headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
        if (r.status === 401 || r.status === 403) { deny(); return; }
        if (r.status === 404 || r.status === 422) { message(`No board named “${boardName}”.`); board = null; }
        else if (r.ok) {
          const next = await r.json();
          if (!board || next.version !== board.version) { board = next; built = ""; pageIndex = 0; pageSince = Date.now(); }
          render();
        }
      } catch (e) { /* the server is away: the websocket shows STALE; try again at the next refresh */ }
      setTimeout(loadBoard, board ? refreshMs : 2000);
    }
    function tick() {
      const now = Date.now();
      setText($("tv-clock"), new Date().toLocaleTimeString([], { hour12: false }));
      const age = lastData ? Math.floor((now - lastData) / 1000) : null;
      setText($("tv-age"), age === null ? MISSING : `${age} s ago`);
      const silent = now - (lastHeard || loadedAt);
      const stale = !denied && silent > STALE_MS;
      $("tv-stale").classList.toggle("on", stale);
      setText($("tv-stale-age"), `${Math.floor(silent / 1000)} s`);
      if (ws && ws.readyState === WebSocket.OPEN && silent > SILENT_MS) ws.close();
      const pages = (board && board.pages) || [];
      if (pages.length && now - pageSince >= pages[pageIndex % pages.length].seconds * 1000) {
        pageIndex = (pageIndex + 1) % pages.length;
        pageSince = now;
        render();
      }
    }
    function receive(m) {
      lastHeard = Date.now();
      if (m.type === "snapshot") { snap = m; lastData = lastHeard; retry = RETRY_MIN_MS; render(); }
      else if (m.type === "delta") {
        if (!snap || m.base !== snap.seq) { ws.send(JSON.stringify({ type: "resync" })); return; }
        snap = applyDiff(snap, m.changes || {});
        snap.seq = m.seq;
        lastData = lastHeard;
        render();
      }
    }
    function connect() {
      if (denied) return;
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
      ws = socket;
      socket.onmessage = (msg) => receive(JSON.parse(msg.data));
      socket.onclose = (ev) => {
        if (ws !== socket) return;
        ws = null;
        if (ev.code === 4401 || ev.code === 4403) { deny(); return; }
        setTimeout(connect, retry * (0.75 + Math.random() / 2));
        retry = Math.min(retry * 2, RETRY_MAX_MS);
      };
    }
    setInterval(tick, 250);
    tick();
    loadBoard();
    connect();
  }
  function boot() {
    const root = document.getElementById("tv-root");
    if (root) start(root); else setTimeout(boot, 50);  // Dash renders the layout after this script loads
  }
  boot();
})();
