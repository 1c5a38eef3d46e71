/* Agent actions in the supervisor view (dash_app/supervisor.py): the "⋯ Actions" button of each agent row, its
 * menu, the requests to the actions API and the action's state on the row.
 *
 * Theory of operation
 * -------------------
 * window.wbActions.install(options) is called by supervisor.js once the grid exists. It decides whether this
 * page may act at all: never with a display token (?token=, read-only); with the session cookie of a login on
 * /ops/, only when GET /api/v1/me lists the actions permission (options.config.permission, act_on_agents). Only
 * then does it load what the menu offers (GET /api/v1/actions/options: the kinds the site enabled, its pause
 * reasons, the monitor modes, whether this user may monitor and their extension) and, when some kind is
 * enabled, show the grid's "actions" column (dash_app.grid, hidden by default). A viewer or a display token never
 * sees the column, the button or the menu. The queues to log into are the snapshot's.
 *
 *  - The grid is fast with thousands of rows because ag-grid renders only the visible rows, and each actions
 *    cell is one button (WbActions below, a dash-ag-grid component) plus the row's action state. There is one
 *    menu element for the page (#sup-actions-menu), built when a button is pressed and emptied when it closes.
 *  - Keyboard: the button is focusable (Tab, or the grid's arrow keys onto the cell); Enter or Space opens the
 *    menu with its first item focused; ArrowUp/ArrowDown (Home/End) move between items, Enter/Space chooses,
 *    Escape (or Tab, or a click elsewhere) closes it and gives the focus back to the row's button. Choosing an
 *    item that needs more (a pause reason, a queue, an extension, a confirmation) shows that step in the same
 *    menu, with "‹ Back".
 *  - Writes carry the session cookie and the CSRF header copied from the readable wb_csrf cookie (as ops.js
 *    does). A 202 names the action; its state is polled (GET /api/v1/actions/{id}, every POLL_MS) until the
 *    PBX confirms (done) or refuses (failed, with the PBX's message), for at most POLL_LIMIT_MS (a monitor: RING_MS
 *    more, while the supervisor's phone rings; the row says which phone rings). The row shows
 *    "pausing…", then "paused ✔" or "failed: <message>"; a refusal of the API itself (403, 409, 422, 429) shows
 *    as "failed: <reason>" at once. #sup-action-notice repeats the latest outcome in full, for a screen reader
 *    and for a message too long for the cell. A confirmed state stays DONE_KEPT_MS, a failure FAILED_KEPT_MS.
 *  - Listen, whisper and barge are offered to a user the options say may monitor. The extension is prefilled from
 *    the profile (GET /api/v1/me/profile), editable, and a changed one is saved back there (PATCH); where the
 *    profile cannot be read or written, in localStorage per user name.
 *  - Every text is in the page's language (t(), i18n.js); the pause reasons and the PBX's messages are data, shown
 *    as they come. A menu is built in the language of the moment it opens.
 */
"use strict";
(() => {
  const t = (text, values) => window.wbI18n.t(text, values);  // never at the top level: i18n.js may load later
  const POLL_MS = 400, POLL_LIMIT_MS = 15000, DONE_KEPT_MS = 10000, FAILED_KEPT_MS = 60000;
  const RING_MS = 30000;  // a monitor is confirmed once the supervisor answers: their phone rings this long at most
  const MENU_ID = "sup-actions-menu";
  // What the row says while an action runs and once the PBX confirmed it.
  const WORDS = () => ({
    pause: [t("pausing…"), t("paused ✔")], unpause: [t("unpausing…"), t("unpaused ✔")],
    logout: [t("logging out…"), t("logged out ✔")], login: [t("logging in…"), t("logged in ✔")],
    listen: [t("starting listen…"), t("listening ✔")], whisper: [t("starting whisper…"), t("whispering ✔")],
    barge: [t("barging in…"), t("barged in ✔")],
  });
  const FAMILY = { pause: "pause", unpause: "pause", login: "login", logout: "login", monitor: "monitor" };
  const state = {};  // agent id -> {text, kind: "pending" | "done" | "failed", until}
  const shown = [];  // every state shown, [agent, text] in order (what the page held, for tests)

  /* The actions cell's value (its state text): refreshing the cell re-renders the component. */
  window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
    wbActionText: (id) => (state[id] ? state[id].text : ""),
    // ag-grid leaves Enter and Space on the actions cell to the page (they open the menu).
    wbActionKey: (params) => !params.editing && (params.event.key === "Enter" || params.event.key === " "),
  });

  /* The actions cell: the button and, after it, the row's action state. */
  function WbActions(props) {
    const h = window.React.createElement, id = props.data.id, now = state[id];
    return h("span", { className: "wb-act" },
      h("button", {
        type: "button", className: "wb-act-btn", "aria-haspopup": "menu", "aria-expanded": "false",
        "aria-label": t("Actions for {name}", { name: props.data.name }), "data-agent": id,
        onClick: (ev) => { ev.stopPropagation(); if (window.wbActions.page) window.wbActions.page.open(id, ev.currentTarget); },
      }, t("⋯ Actions")),
      now ? h("span", { className: `wb-act-state wb-act-${now.kind}`, title: now.text }, now.text) : null);
  }
  window.dashAgGridComponentFunctions = Object.assign(window.dashAgGridComponentFunctions || {}, { WbActions });

  const csrfHeader = () => {
    const found = document.cookie.split("; ").find((c) => c.startsWith("wb_csrf="));
    return found ? { "X-CSRF-Token": decodeURIComponent(found.slice("wb_csrf=".length)) } : {};
  };
  async function api(method, path, body) {
    const headers = Object.assign({ Accept: "application/json" }, method === "GET" ? {} : csrfHeader());
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { status: 0, data: { detail: t("the API cannot be reached") }, retryAfter: null };
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
  }
  /* The reason of a refusal in words: FastAPI's detail (a string, or a list of field problems). */
  const detailOf = (r) => {
    const d = r.data && (r.data.detail ?? r.data.message ?? r.data.error);
    if (Array.isArray(d)) return d.map((p) => p.reason || p.msg || JSON.stringify(p)).join("; ");
    return d ? String(d) : "";
  };
  const refusal = (r) => {
    const why = detailOf(r);
    if (r.status === 0) return why;
    if (r.status === 401) return t("the session ended: log in again on /ops/");
    if (r.status === 403) return t("not allowed: {why}", { why: why || t("this user may not do that") });
    if (r.status === 429) {
      const slow = t("too many actions: {why}", { why: why || t("slow down") });
      return r.retryAfter ? t("{text} (retry in {seconds} s)", { text: slow, seconds: r.retryAfter }) : slow;
    }
    return why || t("the API answered {status}", { status: r.status });
  };

  /* The page's actions, once it is known that the user may act (see install). */
  function Actions(o) {
    const cfg = o.config, grid = o.grid;
    const me = o.me;  // GET /api/v1/me
    const self = { kinds: [], reasons: [], modes: [], extension: "", profileRoute: true, monitor: false, menuFor: null };
    const el = (tag, props, ...children) => {
      const node = Object.assign(document.createElement(tag), props || {});
      node.append(...children.filter((c) => c !== null && c !== undefined));
      return node;
    };
    const notice = document.getElementById("sup-action-notice");
    const menu = el("div", { id: MENU_ID, className: "wb-menu", hidden: true });
    menu.setAttribute("role", "menu");
    document.body.append(menu);
    const storageKey = `wallboard.monitor-extension.${me.name}`;


    /* What the menu offers (GET options: the kinds enabled, the pause reasons, the monitor grant and the user's
     * extension) and the profile's extension; false when the site enabled no kind at all. */
    async function load() {
      const options = await api("GET", cfg.options_path);
      if (options.status !== 200 || !options.data) return false;
      const offer = options.data;
      self.kinds = offer.enabled || [];
      self.reasons = offer.pause_reasons || [];
      self.modes = offer.modes || [];
      self.monitor = offer[cfg.monitor_field] === true;
      self.extension = offer[cfg.extension_field] || "";
      const profile = await api("GET", cfg.profile_path);
      if (profile.status === 200 && profile.data) self.extension = profile.data[cfg.extension_field] || self.extension;
      else self.profileRoute = false;
      if (!self.extension) self.extension = localStorage.getItem(storageKey) || "";
      return self.kinds.length > 0;
    }
    async function rememberExtension(extension) {
      if (extension === self.extension) return;
      self.extension = extension;
      if (self.profileRoute) {
        const r = await api("PATCH", cfg.profile_path, { [cfg.extension_field]: extension });
        if (r.status >= 200 && r.status < 300) return;
      }
      localStorage.setItem(storageKey, extension);
    }

    // -- the row's state ---------------------------------------------------------------------------------------------
    const refresh = (agent) => {
      const node = grid.getRowNode(agent);
      grid.refreshCells({ columns: ["actions"], rowNodes: node ? [node] : undefined, force: true });
    };
    const show = (agent, kind, text, keptMs) => {
      const entry = state[agent] = { kind, text, until: keptMs ? Date.now() + keptMs : null };
      shown.push([agent, text]);
      refresh(agent);
      if (kind !== "pending" && notice) notice.textContent = `${o.nameOf(agent)}: ${text}`;
      notice && notice.classList.toggle("wb-act-failed", kind === "failed");
      if (keptMs) setTimeout(() => { if (state[agent] === entry) { delete state[agent]; refresh(agent); } }, keptMs);
    };

    async function act(agent, kind, path, body, words) {
      const failed = (why) => show(agent, "failed", t("failed: {why}", { why }), FAILED_KEPT_MS);
      show(agent, "pending", kind === "monitor"
        ? t("{action} (ringing {extension})", { action: words[0], extension: body.extension }) : words[0]);
      const r = await api("POST", `${cfg.agents_path}/${encodeURIComponent(agent)}/${path}`, body);
      if (r.status !== 202 && r.status !== 200) { failed(refusal(r)); return; }
      const action = r.data && r.data.id;
      const limitMs = POLL_LIMIT_MS + (kind === "monitor" ? RING_MS : 0);
      const deadline = Date.now() + limitMs;
      let last = r.data || {};
      while (last.state !== "done" && last.state !== "failed" && Date.now() < deadline && action !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        const got = await api("GET", `${cfg.status_path}/${encodeURIComponent(action)}`);
        if (got.status === 200 && got.data) last = got.data;
        else if (got.status !== 0 && got.status < 500) { failed(refusal(got)); return; }
      }
      if (last.state === "done") show(agent, "done", words[1], DONE_KEPT_MS);
      else if (last.state === "failed") failed(last.message || last.error || last.detail || t("the PBX refused"));
      else failed(t("no answer from the PBX within {seconds} s", { seconds: limitMs / 1000 }));
    }

    // -- the menu ----------------------------------------------------------------------------------------------------
    const enabled = (kind) => self.kinds.includes(FAMILY[kind]);
    const item = (label, run, extra) => {
      const b = el("button", Object.assign({ type: "button", className: "wb-menu-item" }, extra || {}), label);
      b.setAttribute("role", "menuitem");
      b.addEventListener("click", (ev) => { ev.stopPropagation(); run(); });
      return b;
    };
    const heading = (text) => el("div", { className: "wb-menu-title" }, text);
    const back = () => item(t("‹ Back"), () => step(main()), { className: "wb-menu-item wb-menu-back" });
    const run = (agent, kind, path, body, wordsKey) => { close(); act(agent, kind, path, body, WORDS()[wordsKey || kind]); };

    const main = () => {
      const agent = self.menuFor, a = o.agentOf(agent) || {}, name = o.nameOf(agent);
      const items = [heading(name)];
      if (enabled("pause")) items.push(item(t("Pause…"), () => step(pauseStep())));
      if (enabled("unpause")) items.push(item(t("Unpause"), () => run(agent, "unpause", "unpause", { queue: null })));
      if (enabled("logout")) items.push(item(t("Log out of…"), () => step(logoutStep(a))));
      if (enabled("login")) items.push(item(t("Log into a queue…"), () => step(loginStep(a))));
      if (self.monitor && enabled("monitor")) {
        const modes = { listen: t("Listen…"), whisper: t("Whisper…"), barge: t("Barge…") };
        for (const mode of self.modes) {
          items.push(item(modes[mode] || `${mode[0].toUpperCase()}${mode.slice(1)}…`, () => step(monitorStep(mode))));
        }
      }
      return items;
    };
    const pauseStep = () => {
      const agent = self.menuFor;
      return [heading(t("Pause {name}: reason", { name: o.nameOf(agent) })),  // the reasons are the site's data
        ...self.reasons.map((reason) => item(reason, () => run(agent, "pause", "pause", { reason, queue: null }))),
        self.reasons.length ? null : el("div", { className: "wb-menu-note" }, t("no pause reasons configured")),
        back()];
    };
    const confirmStep = (question, label, go) => [heading(question),
      item(label, go, { className: "wb-menu-item wb-menu-danger" }), item(t("Cancel"), () => step(main()))];
    const logoutStep = (a) => {
      const agent = self.menuFor, name = o.nameOf(agent);
      const queues = (a.queues || []).slice().sort();
      const out = (queue) => () => step(confirmStep(
        queue ? t("Log {name} out of {queue}?", { name, queue }) : t("Log {name} out of all queues?", { name }),
        t("Log out"), () => run(agent, "logout", "logout", { queue })));
      return [heading(t("Log {name} out of", { name })), ...queues.map((q) => item(q, out(q))),
        item(t("All queues"), out(null)), back()];
    };
    const loginStep = (a) => {
      const agent = self.menuFor, member = new Set(a.queues || []);
      const queues = o.siteQueues().filter((q) => !member.has(q));
      return [heading(t("Log {name} into", { name: o.nameOf(agent) })),
        ...queues.map((queue) => item(queue, () => run(agent, "login", "login", { queue, penalty: 0 }))),
        queues.length ? null : el("div", { className: "wb-menu-note" }, t("already in every queue")), back()];
    };
    const monitorStep = (mode) => {
      const agent = self.menuFor, name = o.nameOf(agent);
      const input = el("input", { type: "text", id: "sup-monitor-extension", value: self.extension,
        placeholder: "PJSIP/2001", autocomplete: "off", className: "wb-menu-input" });
      const label = el("label", { htmlFor: "sup-monitor-extension", className: "wb-menu-label" }, t("Your extension"));
      const go = () => {
        const extension = input.value.trim();
        if (!extension) { input.focus(); input.setAttribute("aria-invalid", "true"); return; }
        rememberExtension(extension);
        const send = () => run(agent, "monitor", "monitor", { mode, extension }, mode);
        if (mode === "barge") {
          step(confirmStep(t("Barge into {name}'s call from {extension}?", { name, extension }), t("Barge in"), send));
        } else send();
      };
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); go(); } });
      const texts = {
        listen: [t("Listen to {name}", { name }), t("Listen from this extension")],
        whisper: [t("Whisper to {name}", { name }), t("Whisper from this extension")],
        barge: [t("Barge to {name}", { name }), t("Barge from this extension")],
      }[mode] || [`${mode} ${name}`, mode];
      return [heading(texts[0]), label, input, item(texts[1], go), back()];
    };

    const focusables = () => Array.from(menu.querySelectorAll("[role=menuitem], input"));
    function step(children) {
      menu.replaceChildren(...children.filter(Boolean));
      place();
      const first = focusables()[0];
      if (first) first.focus();
    }
    let anchor = null;
    function place() {
      if (!anchor || !anchor.isConnected) anchor = buttonOf(self.menuFor) || anchor;
      if (!anchor) return;
      const r = anchor.getBoundingClientRect(), h = menu.offsetHeight, w = menu.offsetWidth;
      const below = r.bottom + 4 + h <= window.innerHeight;
      menu.style.top = `${Math.max(4, below ? r.bottom + 4 : r.top - 4 - h)}px`;
      menu.style.left = `${Math.max(4, Math.min(r.left, window.innerWidth - w - 4))}px`;
    }
    const buttonOf = (agent) => document.querySelector(`.ag-row[row-id="${CSS.escape(agent)}"] .wb-act-btn`);
    function open(agent, button) {
      if (self.menuFor === agent && !menu.hidden) { close(); return; }
      self.menuFor = agent;
      anchor = button;
      menu.hidden = false;
      menu.setAttribute("aria-label", t("Actions for {name}", { name: o.nameOf(agent) }));
      button.setAttribute("aria-expanded", "true");
      step(main());
    }
    function close() {
      if (menu.hidden) return;
      const agent = self.menuFor;
      menu.hidden = true;
      menu.replaceChildren();
      self.menuFor = null;
      const button = buttonOf(agent) || anchor;
      if (button) { button.setAttribute("aria-expanded", "false"); button.focus(); }
    }
    menu.addEventListener("keydown", (ev) => {
      const all = focusables(), at = all.indexOf(document.activeElement);
      const move = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1 }[ev.key];
      if (move !== undefined && all.length) {
        ev.preventDefault();
        all[(move + all.length) % all.length].focus();
      } else if (ev.key === "Escape" || ev.key === "Tab") {
        ev.preventDefault();
        close();
      }
      ev.stopPropagation();  // the grid's own keys stay out of the menu
    });
    document.addEventListener("click", (ev) => { if (!menu.hidden && !menu.contains(ev.target)) close(); });
    // Enter or Space on the actions cell itself (the grid's keyboard focus), not only on its button.
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" && ev.key !== " ") return;
      const cell = ev.target.closest && ev.target.closest('.ag-cell[col-id="actions"]');
      if (!cell || ev.target.classList.contains("wb-act-btn")) return;
      const button = cell.querySelector(".wb-act-btn");
      if (button) { ev.preventDefault(); button.focus(); open(button.dataset.agent, button); }
    }, true);
    window.addEventListener("resize", () => { if (!menu.hidden) place(); });
    document.addEventListener("scroll", (ev) => { if (!menu.hidden && !menu.contains(ev.target)) place(); }, true);

    Object.assign(self, { load, open, close, act, menu });
    return self;
  }

  /* Called by supervisor.js: show the actions when this page's credential may act; returns the actions or null. */
  async function install(options) {
    if (options.token) return null;  // a display token never acts
    const me = await api("GET", "/api/v1/me");
    if (me.status !== 200 || !me.data || !(me.data.permissions || []).includes(options.config.permission)) return null;
    const page = Actions(Object.assign({}, options, { me: me.data }));
    if (!await page.load()) return null;  // no kind enabled on this wallboard: nothing to offer
    window.wbActions.page = page;
    options.grid.setColumnsVisible(["actions"], true);
    return page;
  }

  window.wbActions = { install, page: null, state, shown, POLL_LIMIT_MS };

  /* Alert actions (the supervisor's alert list, supervisor.js): acknowledge, snooze for some minutes, add a note:
   * POST {path}/{alert id}/{ack|snooze|note} with the session cookie and its CSRF header, and an Idempotency-Key (a
   * retried click is applied once). Offered when GET /api/v1/me (the session; a display token is never sent here)
   * lists the permission (dash_app.floor.ALERT_ACTIONS). The API answers 202: the engine applies the action and the
   * next snapshot shows the alert acknowledged or snoozed. Each call resolves to {ok, why} (why: the refusal in
   * words); `sent` keeps every request made, [alert id, action, body], for tests. */
  const alerts = { allowed: false, path: "/api/v1/alerts", sent: [] };
  alerts.install = async (config) => {
    alerts.path = config.path;
    const me = await api("GET", "/api/v1/me");
    alerts.allowed = me.status === 200 && Boolean(me.data) && (me.data.permissions || []).includes(config.permission);
    return alerts.allowed;
  };
  const alertAction = async (id, action, body) => {
    alerts.sent.push([id, action, body]);
    const key = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    const headers = Object.assign({ Accept: "application/json", "Content-Type": "application/json",
      "Idempotency-Key": key }, csrfHeader());
    let response;
    try {
      response = await fetch(`${alerts.path}/${encodeURIComponent(id)}/${action}`, { method: "POST", headers,
        credentials: "same-origin", body: JSON.stringify(body) });
    } catch (e) {
      return { ok: false, why: t("the API cannot be reached") };
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    const r = { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
    if (r.status === 202 || r.status === 200) return { ok: true, why: "" };
    if (r.status === 404) return { ok: false, why: t("the alert is no longer open") };
    return { ok: false, why: refusal(r) };
  };
  alerts.ack = (id, note) => alertAction(id, "ack", note ? { note } : {});
  alerts.snooze = (id, minutes, note) => alertAction(id, "snooze", note ? { minutes, note } : { minutes });
  alerts.note = (id, note) => alertAction(id, "note", { note });
  window.wbAlertActions = alerts;
})();
