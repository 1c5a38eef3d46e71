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
 *  - every message counts as heard, heartbeats included (the server sends one every 5 s by default);
 *  - a timer every 250 ms, by the page's own clock: the wall clock and the data's age (when the page has
 *    elements for them); the STALE banner (class "on") after 5 s with nothing heard, plus a 0.5 s grace for a
 *    heartbeat due every 5 s to arrive, so it is up within 6 s of the last message; and a socket silent for
 *    12 s is closed, to be reopened;
 *  - a closed socket reopens after a backoff of 0.5 s doubling to 5 s, jittered by ±25 %, back to 0.5 s once a
 *    snapshot arrives (a socket that opens and closes again does not reset it). The page is never reloaded;
 *    the first snapshot after a reconnect replaces everything;
 *  - close code 4401 or 4403 (a missing, wrong or revoked credential) is final: options.onDenied(), no
 *    reconnect, no STALE banner. A page that learns it is refused elsewhere (a REST read answering 401/403)
 *    calls client.deny(), with the same effect.
 */
"use strict";
window.wallboardClient = (() => {
  const STALE_MS = 5500, SILENT_MS = 12000, RETRY_MIN_MS = 500, RETRY_MAX_MS = 5000, TICK_MS = 250;
  const REFUSED = [4401, 4403];
  const MISSING = "—";

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

  /* Start the timer and return the client; client.connect() opens the socket. options (all optional):
   *   token     the credential (default: the page's ?token=, else none);
   *   onData(snapshot), onDenied(), onRetry(ms): the socket closed and reopens in about ms;
   *   clock     id of the element showing the time of day;
   *   age       id of the element showing the data's age ("12 s ago", "—" before any data);
   *   stale     id of the STALE banner; staleAge: id of the element in it showing the seconds since the
   *             last message (staleCounts "silence", the default) or since the last data ("data"). */
  function open(options) {
    const o = options || {};
    const token = o.token ?? (new URLSearchParams(location.search).get("token") || "");
    const openedAt = Date.now();
    let ws = null, snap = null, lastHeard = 0, lastData = 0, retry = RETRY_MIN_MS, denied = false;

    function receive(socket, m) {
      lastHeard = Date.now();
      if (m.type === "snapshot") {
        snap = m;
        retry = RETRY_MIN_MS;
      } else if (m.type === "delta") {
        if (!snap || m.base !== snap.seq) { socket.send(JSON.stringify({ type: "resync" })); return; }
        snap = applyDiff(snap, m.changes || {});
        snap.seq = m.seq;
      } else return;  // a heartbeat (or an error report): heard, nothing to apply
      lastData = lastHeard;
      if (o.onData) o.onData(snap);
    }
    function connect() {
      if (denied) return;
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
      ws = socket;
      socket.onmessage = (msg) => receive(socket, JSON.parse(msg.data));
      socket.onclose = (ev) => {
        if (ws !== socket) return;  // replaced or given up: nothing to reopen
        ws = null;
        if (REFUSED.includes(ev.code)) { deny(); return; }
        if (o.onRetry) o.onRetry(retry);
        setTimeout(connect, retry * (0.75 + Math.random() / 2));
        retry = Math.min(retry * 2, RETRY_MAX_MS);
      };
    }
    function deny() {
      if (denied) return;
      denied = true;
      const socket = ws;
      ws = null;
      if (socket) socket.close();
      tick();
      if (o.onDenied) o.onDenied();
    }
    function tick() {
      const now = Date.now();
      if (o.clock) setText(o.clock, new Date(now).toLocaleTimeString([], { hour12: false }));
      if (o.age) setText(o.age, lastData ? `${Math.floor((now - lastData) / 1000)} s ago` : MISSING);
      const silent = now - (lastHeard || openedAt);
      if (o.stale) {
        const banner = document.getElementById(o.stale);
        if (banner) banner.classList.toggle("on", !denied && silent > STALE_MS);
        const since = (o.staleCounts === "data" ? lastData : lastHeard) || openedAt;
        if (o.staleAge) setText(o.staleAge, `${Math.floor((now - since) / 1000)} s`);
      }
      if (ws && ws.readyState === WebSocket.OPEN && silent > SILENT_MS) ws.close();
    }

    setInterval(tick, TICK_MS);
    tick();
    return { token, connect, deny, snapshot: () => snap, denied: () => denied };
  }

  return { open, applyDiff, STALE_MS, SILENT_MS, RETRY_MIN_MS, RETRY_MAX_MS };
})();
