/* The websocket client of every live page: the TV board (tv.js) and the supervisor view (supervisor.js) load
 * this file and keep only their rendering (dash_app/static.py says which page loads what).
 *
 * Theory of operation
 * -------------------
 * window.wallboardClient.open(options) starts one client for the page; it keeps the page's copy of the snapshot
 * current and says how fresh it is:
 *  - the credential is the page's ?token= (a display token), sent as /ws?token=...; with none, the browser sends
 *    the ops session cookie with the handshake, which the server accepts too. `client.token` is the same
 *    credential for the page's own REST reads;
 *  - the server sends a snapshot, then deltas: one applies when its `base` is the seq held, by the rules of
 *    wallboard/core/deltas.py (applyDiff below), and any other asks for {"type": "resync"}, which the server
 *    answers with a snapshot. options.onData(snapshot) runs after every snapshot and every applied delta;
 *  - the data's age, not the connection's, decides STALE: a snapshot carries the engine's `ts`, a delta and a
 *    heartbeat `data_ts` (the ts of the data they bring, or of the last data), and a heartbeat its own `ts` (the
 *    server's time, every 2 s by default). The page keeps the offset between the server's clock and its own from
 *    the heartbeats (before the first one it takes the first data as fresh), so the age is the server's now minus
 *    the data's time, right on a TV whose clock is off. A heartbeat handled late (a slow TV stick busy drawing,
 *    a loaded server) makes that offset too small, so the age is also at least the time since the page first
 *    heard of the data's time (the data was at least 0 s old then): of the two, the larger. Both can only
 *    underestimate, never make fresh data look stale. Heartbeats of an API whose engine stopped keep coming
 *    while the data's time stands still: the age grows; a server gone silent makes it grow too;
 *  - a timer every 250 ms, by the page's own clock: the wall clock and the data's age (when the page has
 *    elements for them); the STALE banner (class "on") once the data is older than options.staleAfterS (default:
 *    the page's ?stale=N, else 6 s; before any data: that long after the page opened), with the age, and the
 *    class "stale" on options.dim (the page dims its figures without hiding them; client.stale() says it too, so
 *    a page stops ticking times in state); fresh data clears both. A socket silent for 12 s is closed, to be
 *    reopened;
 *  - a closed socket reopens after a backoff of 0.5 s doubling to 5 s, jittered by ±25 %, back to 0.5 s once a
 *    snapshot arrives (a socket that opens and closes again does not reset it). The page is never reloaded;
 *    the first snapshot after a reconnect replaces everything;
 *  - close code 4401 or 4403 (a missing, wrong, revoked or expired credential, or a board no longer allowed):
 *    options.onDenied() and no STALE banner; the socket is tried again slowly, every options.deniedRetryS
 *    (default: the page's ?denied_retry=N, else 30 s), so a credential made valid again brings the page back
 *    without a reload: the first snapshot calls options.onAllowed(). A page that learns it is refused elsewhere
 *    (a REST read answering 401/403) calls client.deny(), with the same effect;
 *  - board messages (wallboard/api/ws.py): every snapshot restarts them: it is preceded by
 *    {"type": "board_messages", "messages": {board: message}} when the client may read any (a board not in it has
 *    none), and a snapshot without one means none; {"type": "board_message", "board", "message": {...} | null}
 *    tells a change. The page's script that shows them (banner.js, which tv.js does not know about) reads
 *    wallboardClient.boardMessage(board): undefined before the first snapshot, else {message (null: none), at:
 *    Date.now() when it arrived, for its expires_in_s}; each snapshot and change also dispatches the window event
 *    "wallboard:board-message" ({detail: {board}}; board null: any board may have changed).
 */
"use strict";
window.wallboardClient = (() => {
  const STALE_MS = 6000, SILENT_MS = 12000, RETRY_MIN_MS = 500, RETRY_MAX_MS = 5000, TICK_MS = 250;
  const DENIED_RETRY_S = 30, OFFSETS_KEPT = 5;
  const REFUSED = [4401, 4403];
  const MISSING = "—";
  // The texts in the page's language (i18n.js; a page without it: English, placeholders filled).
  const t = (text, values) => (window.wbI18n ? window.wbI18n.t(text, values)
    : text.replace(/\{(\w+)\}/g, (whole, key) => (values && key in values ? String(values[key]) : whole)));

  /* `old` with a delta's `changes` applied, as a new object (wallboard/core/deltas.py, apply_diff): null
   * removes the key, a one-element array sets its element verbatim, an object merges into the object there
   * (or into {}), anything else sets. */
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

  const setText = (id, text) => {
    const el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  };
  const stamp = (text) => { const ms = typeof text === "string" ? Date.parse(text) : NaN; return Number.isFinite(ms) ? ms : null; };
  const seconds = (value, fallback) => { const n = Number(value); return value !== null && value !== "" && n > 0 ? n : fallback; };

  let boardMessages = null, nextMessages = null;  // board -> {message, at}: held since a snapshot, and for the next
  function boardMessage(board) {
    if (boardMessages === null) return undefined;
    return boardMessages.get(board) || { message: null, at: 0 };
  }
  const tellMessages = (board) => window.dispatchEvent(new CustomEvent("wallboard:board-message", { detail: { board } }));
  function heardMessages(m, now) {  // a snapshot, a board_messages or a board_message frame (see above)
    const valid = (v) => (v && typeof v === "object" ? v : null);
    if (m.type === "snapshot") {
      boardMessages = nextMessages || new Map();
      nextMessages = null;
      tellMessages(null);
    } else if (m.type === "board_messages") {
      nextMessages = new Map(Object.entries(valid(m.messages) || {}).map(([b, v]) => [b, { message: valid(v), at: now }]));
    } else if (boardMessages !== null && typeof m.board === "string") {
      boardMessages.set(m.board, { message: valid(m.message), at: now });
      tellMessages(m.board);
    }  // else a change before any snapshot: the board_messages before the first one carries it
  }

  /* Start the timer and return the client; client.connect() opens the socket. options (all optional):
   *   token     the credential (default: the page's ?token=, else none);
   *   onData(snapshot), onDenied(), onAllowed(), onRetry(ms): the socket closed and reopens in about ms;
   *   staleAfterS  the data's age that shows STALE (default ?stale=, else 6); deniedRetryS: see above;
   *   clock     id of the element showing the time of day;
   *   age       id of the element showing the data's age ("12 s ago", "—" before any data);
   *   stale     id of the STALE banner; staleAge: id of the element in it showing the data's age in seconds;
   *   dim       id of the element that gets the class "stale" while the data is stale. */
  function open(options) {
    const o = options || {};
    const params = new URLSearchParams(location.search);
    const token = o.token ?? (params.get("token") || "");
    const staleMs = seconds(o.staleAfterS ?? params.get("stale"), STALE_MS / 1000) * 1000;
    const deniedRetryMs = seconds(o.deniedRetryS ?? params.get("denied_retry"), DENIED_RETRY_S) * 1000;
    const openedAt = Date.now();
    let ws = null, snap = null, lastHeard = 0, retry = RETRY_MIN_MS, denied = false, timer = null;
    let dataTs = null, skew = null, stale = false, staleTimer = null;  // skew: the server's clock minus the page's
    let dataSince = 0;  // the page's time when it first heard of dataTs
    const offsets = [];  // the last heartbeats' server time minus arrival time

    function dataAge(now) {
      return dataTs === null ? null : Math.max(0, now + (skew ?? 0) - dataTs, now - dataSince);
    }
    function heard(m, now) {
      if (m.type === "heartbeat" && stamp(m.ts) !== null) {
        // A heartbeat arrives some time after its stamp: the largest of the last offsets is the least delayed.
        offsets.push(stamp(m.ts) - now);
        if (offsets.length > OFFSETS_KEPT) offsets.shift();
        skew = Math.max(...offsets);
      }
      const ts = stamp(m.type === "snapshot" ? m.ts : m.data_ts);
      if (ts !== null && ts !== dataTs) { dataTs = ts; dataSince = now; }
      if (skew === null && dataTs !== null) skew = dataTs - now;  // no heartbeat yet: take the data as fresh
      const left = dataTs === null ? -1 : staleMs - dataAge(now);
      clearTimeout(staleTimer);
      if (left >= 0) staleTimer = setTimeout(tick, left + 1);  // STALE on time, not at the next 250 ms tick
    }
    function receive(socket, m) {
      const now = lastHeard = Date.now();
      heard(m, now);
      if (m.type === "snapshot") {
        heardMessages(m, now);
        snap = m;
        retry = RETRY_MIN_MS;
        if (denied) allow();
      } else if (m.type === "delta") {
        if (!snap || m.base !== snap.seq) { socket.send(JSON.stringify({ type: "resync" })); return; }
        snap = applyDiff(snap, m.changes || {});
        snap.seq = m.seq;
      } else {  // a heartbeat, a board message (or an error report): heard, nothing to apply
        if (m.type === "board_messages" || m.type === "board_message") heardMessages(m, now);
        tick();
        return;
      }
      tick();
      if (o.onData) o.onData(snap);
    }
    function later(ms) {
      clearTimeout(timer);
      timer = setTimeout(connect, ms);
    }
    function connect() {
      clearTimeout(timer);
      if (ws) return;
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
      ws = socket;
      socket.onmessage = (msg) => receive(socket, JSON.parse(msg.data));
      socket.onclose = (ev) => {
        if (ws !== socket) return;  // replaced or given up: nothing to reopen
        ws = null;
        if (REFUSED.includes(ev.code)) { deny(); return; }
        if (denied) { later(deniedRetryMs); return; }
        if (o.onRetry) o.onRetry(retry);
        later(retry * (0.75 + Math.random() / 2));
        retry = Math.min(retry * 2, RETRY_MAX_MS);
      };
    }
    function deny() {
      const socket = ws;
      ws = null;
      if (socket) socket.close();
      later(deniedRetryMs);  // slowly: a credential made valid again brings the page back
      if (denied) return;
      denied = true;
      tick();
      if (o.onDenied) o.onDenied();
    }
    function allow() {
      denied = false;
      if (o.onAllowed) o.onAllowed();
    }
    function tick() {
      const now = Date.now(), age = dataAge(now);
      if (o.clock) setText(o.clock, new Date(now).toLocaleTimeString([], { hour12: false }));
      // i18n: the data's age, "12 s ago" (s: seconds)
      if (o.age) setText(o.age, age === null ? MISSING : t("{seconds} s ago", { seconds: Math.floor(age / 1000) }));
      stale = !denied && (age === null ? now - openedAt > staleMs : age > staleMs);
      if (o.stale) {
        const banner = document.getElementById(o.stale);
        if (banner) banner.classList.toggle("on", stale);
        // i18n: the data's age on the STALE banner, "12 s" (s: seconds)
        if (o.staleAge) setText(o.staleAge, t("{seconds} s", { seconds: Math.floor((age ?? now - openedAt) / 1000) }));
      }
      const dimmed = o.dim && document.getElementById(o.dim);
      if (dimmed) dimmed.classList.toggle("stale", stale);
      if (ws && ws.readyState === WebSocket.OPEN && now - (lastHeard || openedAt) > SILENT_MS) ws.close();
    }

    setInterval(tick, TICK_MS);
    if (window.wbI18n) window.wbI18n.onChange(tick);  // the clock and the ages in the new language at once
    tick();
    return {
      token, connect, deny, snapshot: () => snap, denied: () => denied, stale: () => stale,
      age: () => dataAge(Date.now()), deniedRetryMs,
    };
  }

  return { open, applyDiff, boardMessage, STALE_MS, SILENT_MS, RETRY_MIN_MS, RETRY_MAX_MS, DENIED_RETRY_S };
})();
