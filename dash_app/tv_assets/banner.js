/* The TV board's message banner and alarm chime (dash_app/tv.py loads it beside tv.js; the API is
 * wallboard/api/board_routes.py).
 *
 * Theory of operation
 * -------------------
 *  - the board is the path segment after the page's prefix (#tv-root's data-prefix, "/tv"; none: "default"), the
 *    credential the page's ?token= (sent as a Bearer header; none: the session cookie goes along);
 *  - message: the server pushes the board's message on the page's websocket (wallboard-client.js keeps it:
 *    wallboardClient.boardMessage(board), and tells it with the window event "wallboard:board-message") as soon
 *    as it is posted or cleared, and again whenever the socket (re)starts; so a message shows within 2 s.
 *    GET /api/v1/boards/<board>/message ({"message": {text, level, expires_in_s, ...} | null}) is read when the
 *    page opens and then every 30 s (?message_poll=N seconds), a fallback while the socket is away; an answer
 *    to a read made before a push arrived is dropped (the push is newer). A message shows as a banner at the
 *    bottom of the screen: its text set as textContent (never markup), "info" or "warn", told apart by colour AND
 *    by a glyph and a word ("ℹ Notice", "⚠ Warning"). It hides when taken down (a null message) and, by the
 *    page's own clock, when the seconds it had left when received run out, even if the server is unreachable;
 *  - sound: a board with "sound": true chimes (a short WebAudio oscillator, no file) each time a tile ENTERS alarm
 *    (its class turns lvl-alarm from another level; a tile first seen in alarm, or staying in alarm, is silent),
 *    once per render however many tiles entered together. Browsers play sound only after a user gesture: a TV
 *    started with Chromium's --autoplay-policy=no-user-gesture-required sets "kiosk": true on its board (or opens
 *    the page with &kiosk=1) and plays at once; otherwise a corner hint asks for a click or a key press first;
 *  - window.wbSound is the test hook: played (chimes played), blocked (chimes the browser did not allow yet),
 *    enabled() (the board asks for sound), state() (the audio context's state), chime() (play one now).
 *  Its words (the level's word, the sound hint) are translated with t() (i18n.js) when shown and again when the
 *  page's language changes (tv.js chooses it from the board).
 *  The board's flags are re-read every 30 s (?refresh=N, as tv.js), so a board edited through the API applies
 *  without a reload. Nothing grows: one banner, one hint, one map of tile levels (bounded).
 */
"use strict";
(() => {
  const POLL_MS = 30000, DENIED_POLL_MS = 30000, BOARD_MS = 30000, LEVELS_KEPT = 500;
  const t = (text, values) => window.wbI18n.t(text, values);
  // the glyph and word of a level (the word translated when shown)
  // i18n: the word before a board message on the TV's banner, "Notice: lunch at 12" / "Warning: ..."
  const CUES = { info: ["ℹ", () => t("Notice")], warn: ["⚠", () => t("Warning")] };
  const sound = { played: 0, blocked: 0, enabled: () => false, state: () => "none", chime: () => false };
  window.wbSound = sound;

  function element(tag, className, parent) {
    const el = document.createElement(tag);
    el.className = className;
    if (parent) parent.append(el);
    return el;
  }
  function seconds(value, fallback) {
    const n = Number(value);
    return value !== null && value !== "" && n > 0 ? n * 1000 : fallback;
  }

  function start(root) {
    const params = new URLSearchParams(location.search);
    const token = params.get("token") || "";
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const prefix = `${root.dataset.prefix || "/tv"}/`;
    const rest = location.pathname.startsWith(prefix) ? location.pathname.slice(prefix.length) : "";
    const boardName = decodeURIComponent(rest.split("/")[0] || "default");
    const board = encodeURIComponent(boardName);
    const pollMs = seconds(params.get("message_poll"), POLL_MS);
    const boardMs = seconds(params.get("refresh"), BOARD_MS);
    let flags = { sound: false, kiosk: params.get("kiosk") === "1" }, audio = null;

    // -- the banner
    // in the TV's column (a flex column that refits its tiles when this strip shows): never over a tile
    const banner = element("div", "wb-banner", document.getElementById("tv-root") || document.body);
    banner.id = "tv-banner";
    banner.setAttribute("role", "status");
    banner.setAttribute("aria-live", "polite");
    const glyph = element("span", "wb-banner-glyph", banner), word = element("span", "wb-banner-word", banner);
    const text = element("span", "wb-banner-text", banner);
    let deadline = 0, hideTimer = null, shownKey = "", shownLevel = "info";

    function hide() {
      clearTimeout(hideTimer);
      deadline = 0;
      shownKey = "";
      banner.classList.remove("on");
    }
    function show(m) {
      const level = m.level === "warn" ? "warn" : "info", left = Number(m.expires_in_s) * 1000;
      if (!(left > 0)) { hide(); return; }
      const key = `${level}\u0000${m.text}\u0000${m.posted_ts}`;
      deadline = Date.now() + left;  // by the page's own clock: right however far the TV's clock is off
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, left);
      if (key === shownKey) return;
      shownKey = key;
      shownLevel = level;
      glyph.textContent = CUES[level][0];
      word.textContent = CUES[level][1]();
      text.textContent = String(m.text);
      banner.className = `wb-banner on lvl-${level}`;
    }
    let pushes = 0;  // pushed messages applied: a REST answer to a read made before the last one is older
    function pushed() {
      const client = window.wallboardClient, got = client && client.boardMessage ? client.boardMessage(boardName) : undefined;
      if (got === undefined) return;  // no state pushed yet
      pushes += 1;
      if (!got.message) { hide(); return; }
      const left = Number(got.message.expires_in_s) - (Date.now() - got.at) / 1000;
      show({ ...got.message, expires_in_s: left });
    }
    window.addEventListener("wallboard:board-message", (ev) => {
      const about = ev.detail ? ev.detail.board : null;
      if (about === null || about === undefined || about === boardName) pushed();
    });
    async function poll() {
      let next = pollMs;
      const before = pushes;
      try {
        const r = await fetch(`/api/v1/boards/${board}/message`, { headers, cache: "no-store" });
        if (r.status === 401 || r.status === 403 || r.status === 404) { hide(); next = DENIED_POLL_MS; }
        else if (r.ok) {
          const body = await r.json();
          if (pushes === before) { if (body.message) show(body.message); else hide(); }
        }
      } catch (e) { /* the server is away: a message shown stays until its own expiry */ }
      if (deadline && Date.now() >= deadline) hide();
      setTimeout(poll, next);
    }

    // -- the chime
    const hint = element("div", "wb-sound-hint", document.body);
    // (no t() inside a template literal: Babel's extractor does not look there)
    const hintText = () => ["🔇", t("Sound is on for this board: click or press a key to allow it")].join(" ");
    hint.textContent = hintText();
    window.wbI18n.onChange(() => {  // the page's language changed: the words shown, in it
      hint.textContent = hintText();
      word.textContent = CUES[shownLevel][1]();
    });
    function context() {
      if (!audio) {
        const Context = window.AudioContext || window.webkitAudioContext;
        if (!Context) return null;
        audio = new Context();
      }
      if (audio.state === "suspended") audio.resume().catch(() => {});
      return audio;
    }
    function refreshHint() {
      const waiting = flags.sound && !flags.kiosk && !(audio && audio.state === "running");
      hint.classList.toggle("on", waiting);
    }
    function chime() {
      const ctx = audio && audio.state === "running" ? audio : null;
      if (!ctx) { sound.blocked += 1; refreshHint(); return false; }
      const now = ctx.currentTime, gain = ctx.createGain();
      gain.connect(ctx.destination);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.3, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.6);
      [[880, 0], [660, 0.18]].forEach(([hz, at]) => {
        const osc = ctx.createOscillator();
        osc.type = "sine";
        osc.frequency.setValueAtTime(hz, now + at);
        osc.connect(gain);
        osc.start(now + at);
        osc.stop(now + 0.6);
      });
      sound.played += 1;
      return true;
    }
    function allowSound() {
      if (flags.sound) { context(); setTimeout(refreshHint, 100); }
    }
    for (const kind of ["click", "keydown", "touchstart"]) document.addEventListener(kind, allowSound, { passive: true });
    sound.enabled = () => flags.sound;
    sound.state = () => (audio ? audio.state : "none");
    sound.chime = chime;

    const levels = new Map();  // tile (kind and name) -> the level it was last seen at
    function scan() {
      let entered = false;
      for (const tile of document.querySelectorAll("#tv-tiles > section")) {
        const found = /(?:^|\s)lvl-(\w+)/.exec(tile.className);
        if (!found) continue;  // a tile being built: its level is not known yet
        const key = `${tile.dataset.kind}\u0000${tile.dataset.name}`, before = levels.get(key);
        if (found[1] === "alarm" && before !== undefined && before !== "alarm") entered = true;
        if (!levels.has(key) && levels.size >= LEVELS_KEPT) levels.clear();
        levels.set(key, found[1]);
      }
      if (entered && flags.sound) chime();
    }
    const tiles = document.getElementById("tv-tiles");
    if (tiles) {
      new MutationObserver(scan).observe(tiles, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
    }

    async function loadBoard() {
      try {
        const r = await fetch(`/api/v1/boards/${board}`, { headers, cache: "no-store" });
        if (r.ok) {
          const b = await r.json();
          flags = { sound: Boolean(b.sound), kiosk: Boolean(b.kiosk) || params.get("kiosk") === "1" };
          if (flags.sound && flags.kiosk) context();  // the browser allows sound without a gesture: start now
          refreshHint();
        }
      } catch (e) { /* the server is away: keep the flags known */ }
      setTimeout(loadBoard, boardMs);
    }
    loadBoard();
    pushed();  // the socket may have brought the board's message before this script started
    poll();
  }

  function boot() {
    // Dash renders the layout after the asset scripts load.
    const root = document.getElementById("tv-root");
    if (root && document.getElementById("tv-tiles")) start(root); else setTimeout(boot, 50);
  }
  boot();
})();
