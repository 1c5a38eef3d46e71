/* The ops page (see dash_app/ops.py for the theory of operation): log in, then administer what the user's role may
 * through the REST API, with the session cookie and the X-CSRF-Token header on every write. Started once by the
 * page's clientside callback (window.dash_clientside.ops.start) with the ops-config store's data; it builds every
 * form into #ops-root. window.wbOps holds the page's state, for tests. */
"use strict";
(() => {
  const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
  const WHOLE = /^\d+$/;
  const BOARD_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
  const USER_NAME = /^[a-z0-9][a-z0-9_.@-]{0,63}$/;
  const SCOPE_NAME = /^[A-Za-z0-9_.@+-]{1,128}$/;
  const ARM_MS = 4000;
  const $ = (id) => document.getElementById(id);
  let P = null;  // window.wbOps once started

  // ---- DOM -------------------------------------------------------------------------------------------------------
  const PROPS = new Set(["className", "value", "checked", "textContent", "hidden", "disabled", "selected", "readOnly"]);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (PROPS.has(key)) node[key] = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (typeof c === "number" ? String(c) : c)));
    return node;
  }
  const safe = (text) => String(text).toLowerCase().replace(/[^a-z0-9_-]+/g, "_");

  // A labelled control with its error line (aria-describedby): setError() fills it and marks the control invalid.
  function field(label, control, hint) {
    const error = el("span", { className: "error", id: `${control.id}-error` });
    control.setAttribute("aria-describedby", hint ? `${control.id}-hint ${error.id}` : error.id);
    control.wbError = error;
    return el("label", { className: "field", for: control.id }, el("span", {}, label), control,
      hint ? el("span", { className: "ops-hint", id: `${control.id}-hint` }, hint) : null, error);
  }
  function withError(control) {
    const error = el("span", { className: "error", id: `${control.id}-error` });
    control.setAttribute("aria-describedby", error.id);
    control.wbError = error;
    return [control, error];
  }
  function setError(control, reason) {
    if (!control) return;
    control.setAttribute("aria-invalid", reason ? "true" : "false");
    if (control.wbError) control.wbError.textContent = reason || "";
  }
  function addError(control, reason) {
    const had = control.wbError ? control.wbError.textContent : "";
    setError(control, had ? `${had}; ${reason}` : reason);
  }
  const select = (id, options, chosen, attrs) => el("select", { id, ...(attrs || {}) },
    options.map(([value, text]) => el("option", { value, selected: value === chosen }, text)));
  const message = (id) => el("p", { id, className: "ops-message", "aria-live": "polite" });
  function say(node, text, kind) {
    node.textContent = text;
    node.className = `ops-message ${kind || ""}`;
  }
  const list = (raw) => raw.split(",").map((s) => s.trim()).filter(Boolean);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  // A button that acts on its second activation within ARM_MS (delete, revoke, disable): no modal dialog.
  function armed(text, confirmText, action, attrs) {
    let timer = null;
    const button = el("button", { type: "button", className: "btn danger", ...(attrs || {}) }, text);
    const name = button.getAttribute("aria-label");
    const disarm = () => {
      button.classList.remove("armed");
      button.textContent = text;
      if (name) button.setAttribute("aria-label", name);
    };
    button.addEventListener("click", async () => {
      if (!button.classList.contains("armed")) {
        button.classList.add("armed");
        button.textContent = confirmText;
        if (name) button.setAttribute("aria-label", `${confirmText}: ${name}`);
        timer = setTimeout(disarm, ARM_MS);
        return;
      }
      clearTimeout(timer);
      disarm();
      await action();
    });
    return button;
  }

  // ---- the API ---------------------------------------------------------------------------------------------------
  function csrf() {
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("wb_csrf="));
    return cookie ? decodeURIComponent(cookie.slice("wb_csrf=".length)) : "";
  }
  async function api(method, path, body, contentType) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
    if (method !== "GET" && csrf()) headers["X-CSRF-Token"] = csrf();
    const payload = body === undefined ? undefined : (contentType ? body : JSON.stringify(body));
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
    } catch (error) {
      return { status: 0, data: { detail: `the API did not answer (${error.message})` } };
    }
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    return { status: response.status, data };
  }
  function why(r) {
    const detail = r.data && r.data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((p) => `${p.field ?? `row ${p.row}`}: ${p.reason}`).join("; ");
    return `HTTP ${r.status}`;
  }
  // A refused request (401/403 or another failure) in words; a 401 whose session has ended goes back to the login.
  async function refused(r, node, doing) {
    if (r.status === 401) {
      const me = await api("GET", "/api/v1/me");
      if (me.status === 401) { await boot("the session ended: log in again"); return; }
      say(node, `${doing}: the API refused this session for it (401: ${why(r)})`, "bad");
      return;
    }
    say(node, `${doing}: ${r.status === 403 ? "not allowed" : "failed"} (${why(r)})`, "bad");
  }
  // The API's 422 problems {field, reason} placed by place(field) -> control (else listed in the message).
  function showProblems(detail, place, node, doing) {
    const loose = [];
    let first = null;
    for (const p of Array.isArray(detail) ? detail : [{ field: "", reason: String(detail) }]) {
      const control = place(p.field || "");
      if (control) { addError(control, p.reason); first = first || control; } else loose.push(`${p.field}: ${p.reason}`);
    }
    say(node, [`${doing}: fix the marked fields`, ...loose].join(" · "), "bad");
    if (first) first.focus();
  }
  const path = (field) => {  // "pages[1].queues[0]" -> ["pages", 1, "queues", 0]
    const parts = [];
    for (const m of String(field).matchAll(/([A-Za-z_]\w*)|\[(\d+)\]/g)) parts.push(m[1] ?? Number(m[2]));
    return parts;
  };

  // ---- log in, the sections ----------------------------------------------------------------------------------------
  async function start(config) {
    if (window.wbOps) return window.dash_clientside.no_update;
    P = window.wbOps = { config, me: null, sections: {}, shown: null };
    $("logout-button").addEventListener("click", async () => {
      await api("POST", "/api/v1/logout");
      await boot("logged out");
    });
    await boot("");
    return "started";
  }

  async function boot(status) {
    const me = await api("GET", "/api/v1/me");
    if (me.status !== 200 || me.data.via === "display") { showLogin(status); return; }
    showApp(me.data, status);
  }

  function showLogin(status) {
    P.me = null;
    $("ops-who").hidden = true;
    $("whoami").textContent = "";
    $("status").textContent = status || "";
    const name = el("input", { id: "login-name", type: "text", autocomplete: "username", required: true });
    const password = el("input", { id: "login-password", type: "password", autocomplete: "current-password",
      required: true });
    const form = el("form", { id: "login-form", "aria-labelledby": "login-title", novalidate: true },
      field("User name", name), field("Password", password),
      el("button", { id: "login-button", type: "submit", className: "btn primary" }, "Log in"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const r = await api("POST", "/api/v1/login", { name: name.value, password: password.value, cookie: true });
      password.value = "";
      if (r.status !== 200) {
        $("status").textContent = r.status === 429 || r.status === 0 ? why(r) : "wrong user name or password";
        password.focus();
        return;
      }
      await boot(`${r.data.user.name} (${r.data.user.role}) logged in`);
    });
    $("ops-root").replaceChildren(el("section", { className: "ops-section ops-login" },
      el("h2", { id: "login-title" }, "Log in"), form));
    name.focus();
  }

  function showApp(me, status) {
    P.me = me;
    P.sections = {};
    const who = `${me.name} (${me.role})`;
    $("whoami").textContent = who;
    $("ops-who").hidden = false;
    const allowed = P.config.sections.filter((s) => me.permissions.includes(s.permission));
    $("status").textContent = allowed.length ? (status || "") : `${who} may use none of this page's sections`;
    const nav = el("nav", { className: "ops-nav", "aria-label": "Sections", id: "ops-nav" });
    const panes = el("div", { className: "ops-panes" });
    for (const s of allowed) {
      const section = el("section", { id: `sec-${s.key}`, className: "ops-section", hidden: true,
        "aria-labelledby": `sec-${s.key}-title` }, el("h2", { id: `sec-${s.key}-title`, tabindex: "-1" }, s.title));
      const button = el("button", { type: "button", id: `nav-${s.key}`, "aria-controls": section.id,
        onclick: () => show(s.key) }, s.title);
      P.sections[s.key] = { section, button, ...BUILDERS[s.key](section) };
      nav.append(button);
      panes.append(section);
    }
    $("ops-root").replaceChildren(allowed.length ? el("div", { className: "ops-layout" }, nav, panes) : "");
    const wanted = location.hash.slice(1);
    if (allowed.length) show(P.sections[wanted] ? wanted : allowed[0].key);
  }

  async function show(key) {
    for (const [name, s] of Object.entries(P.sections)) {
      s.section.hidden = name !== key;
      if (name === key) s.button.setAttribute("aria-current", "page"); else s.button.removeAttribute("aria-current");
    }
    P.shown = key;
    if (location.hash !== `#${key}`) history.replaceState(null, "", `#${key}`);
    await P.sections[key].load();
  }

  // ---- thresholds ----------------------------------------------------------------------------------------------------
  const TH_FIELDS = [  // [field, header, kind]
    ["id", "Id", "text"], ["metric", "Metric", "metric"], ["scope", "Scope", "text"],
    ["direction", "Direction", "direction"], ["warn", "Warn", "number"], ["alarm", "Alarm", "number"],
    ["clear", "Clear", "number"], ["for_s", "For (s)", "number"], ["min_offered", "Min offered", "number"],
    ["severity", "Severity", "severity"], ["label", "Label", "text"],
  ];

  function thresholds(section) {
    const C = P.config;
    const body = el("tbody", { id: "th-rows" });
    const note = message("th-message");
    const info = el("p", { id: "th-version", className: "ops-hint" });
    const state = { version: null, fresh: 0 };
    const control = (kind, id, value, label) => {
      if (kind === "metric") return select(id, C.metrics.map((m) => [m, m]), value, { "aria-label": label });
      if (kind === "severity") return select(id, C.severities.map((m) => [m, m]), value, { "aria-label": label });
      if (kind === "direction") {
        return select(id, [["", "metric default"], ...C.directions.map((d) => [d, d])], value || "",
          { "aria-label": label });
      }
      const attrs = { id, type: "text", value: value === undefined || value === null ? "" : String(value),
        "aria-label": label, autocomplete: "off" };
      if (kind === "number") attrs.inputmode = "decimal";
      return el("input", attrs);
    };
    function row(threshold, key) {
      const tr = el("tr", { "data-row": key });
      tr.wbOriginal = threshold;
      tr.wbControls = {};
      for (const [name, header, kind] of TH_FIELDS) {
        const value = name === "scope" ? (threshold.scope ?? "site") : threshold[name];
        const c = control(kind, `th-${safe(key)}-${name}`, value, `${key} · ${header.toLowerCase()}`);
        tr.wbControls[name] = c;
        tr.append(el("td", { className: kind === "number" ? "num" : "" }, withError(c)));
      }
      const rowError = el("span", { className: "error", id: `th-${safe(key)}-row-error` });
      tr.wbRowError = { wbError: rowError, setAttribute: () => {}, focus: () => tr.wbControls.id.focus() };
      const remove = el("button", { type: "button", className: "btn danger", "aria-label": `Delete ${key}`,
        onclick: () => {
          const next = tr.nextElementSibling || tr.previousElementSibling;
          tr.remove();
          say(note, `${key} removed: save to store the change`);
          (next ? next.querySelector("input") : $("th-add")).focus();
        } }, "Delete");
      tr.append(el("td", {}, remove, rowError));
      return tr;
    }
    function render(doc) {
      state.version = doc.version;
      body.replaceChildren(...doc.thresholds.map((t) => row(t, t.id)));
      const by = doc.updated_by ? ` · saved by ${doc.updated_by} ${when(doc.updated_ts)}` : " · from the site file";
      info.textContent = `Version ${doc.version}${by}`;
    }
    function collect() {
      const rows = [...body.querySelectorAll("tr[data-row]")];
      const out = [];
      let bad = null;
      for (const tr of rows) {
        const t = { ...tr.wbOriginal };
        setError(tr.wbRowError, "");
        for (const [name, , kind] of TH_FIELDS) {
          const c = tr.wbControls[name];
          const raw = c.value.trim();
          setError(c, "");
          if (kind === "number") {
            if (raw === "") { delete t[name]; continue; }
            if (!NUMBER.test(raw) || !Number.isFinite(Number(raw))) {
              setError(c, `“${raw}” is not a number`);
              bad = bad || c;
              continue;
            }
            t[name] = Number(raw);
          } else if (kind === "direction") {
            if (raw) t[name] = raw; else delete t[name];
          } else {
            t[name] = name === "scope" ? (raw || "site") : raw;
          }
        }
        out.push(t);
      }
      return { rows, out, bad };
    }
    async function save(event) {
      event.preventDefault();
      const { rows, out, bad } = collect();
      if (bad) {
        say(note, "not saved: fix the marked fields (nothing was sent)", "bad");
        bad.focus();
        return;
      }
      const r = await api("PUT", "/api/v1/thresholds", { version: state.version, thresholds: out });
      if (r.status === 200) { render(r.data); say(note, `saved: version ${r.data.version}`, "ok"); return; }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => {
          const [top, index, name] = path(f);
          const tr = top === "thresholds" && Number.isInteger(index) ? rows[index] : null;
          return tr ? (tr.wbControls[name] || tr.wbRowError) : null;
        }, note, "not saved");
        return;
      }
      if (r.status === 409) { say(note, "not saved: someone saved first; reload to see their version", "bad"); return; }
      await refused(r, note, "not saved");
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/thresholds");
      if (r.status !== 200) { await refused(r, note, "cannot load the thresholds"); return; }
      render(r.data);
      say(note, status || "");
    }
    const add = () => {
      state.fresh += 1;
      const tr = row({ metric: C.metrics[0], scope: "site", severity: C.severities[0] }, `new ${state.fresh}`);
      body.append(tr);
      tr.wbControls.id.focus();
    };
    const head = el("tr", {}, TH_FIELDS.map(([, header]) => el("th", { scope: "col" }, header)),
      el("th", { scope: "col" }, el("span", { className: "visually-hidden" }, "Actions")));
    const form = el("form", { id: "th-form", novalidate: true, onsubmit: save },
      info,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table" }, el("thead", {}, head), body)),
      el("div", { className: "actions" },
        el("button", { type: "submit", id: "th-save", className: "btn primary" }, "Save thresholds"),
        el("button", { type: "button", id: "th-add", className: "btn", onclick: add }, "Add threshold"),
        el("button", { type: "button", id: "th-reload", className: "btn", onclick: () => load("reloaded") },
          "Reload")),
      note);
    section.append(el("p", { className: "ops-hint" },
      "Levels are numbers; leave a level empty to remove it. Enter saves. Nothing is stored until Save."), form);
    return { load: () => load("") };
  }

  // ---- boards --------------------------------------------------------------------------------------------------------
  function boards(section) {
    const C = P.config;
    const state = { boards: {}, name: null, version: 0, stored: false, pages: [] };
    const note = message("board-message");
    const picker = el("div", { className: "board-list", id: "board-list", role: "group", "aria-label": "Boards" });
    const c = {
      name: el("input", { id: "board-name", type: "text", autocomplete: "off" }),
      title: el("input", { id: "board-title", type: "text", maxlength: "80" }),
      queues: el("input", { id: "board-queues", type: "text" }),
      groups: el("input", { id: "board-groups", type: "text" }),
      teams: el("input", { id: "board-teams", type: "text" }),
      group_tiles: el("input", { id: "board-group-tiles", type: "checkbox" }),
      team_tiles: el("input", { id: "board-team-tiles", type: "checkbox" }),
      sound: el("input", { id: "board-sound", type: "checkbox" }),
      kiosk: el("input", { id: "board-kiosk", type: "checkbox" }),
    };
    const tileBoxes = C.tiles.map((t) => el("input", { type: "checkbox", id: `board-tile-${t.key}`, value: t.key }));
    const tilesError = el("span", { className: "error", id: "board-tiles-error" });
    c.tiles = { wbError: tilesError, setAttribute: () => {}, focus: () => tileBoxes[0].focus() };
    const pagesBox = el("div", { id: "board-pages" });
    const frame = el("div", { className: "preview", id: "board-preview" });
    const check = (control, text) => { withError(control); return el("label", { className: "check" }, control, text); };

    function pageRow(page) {
      const i = pagesBox.children.length;
      const r = {
        title: el("input", { id: `board-page-${i}-title`, type: "text", value: page.title || "" }),
        queues: el("input", { id: `board-page-${i}-queues`, type: "text", value: (page.queues || []).join(", ") }),
        seconds: el("input", { id: `board-page-${i}-seconds`, type: "text", inputmode: "numeric",
          value: String(page.seconds ?? 15) }),
      };
      const node = el("div", { className: "page-row" },
        field(`Page ${i + 1} title`, r.title), field(`Page ${i + 1} queues`, r.queues),
        field(`Page ${i + 1} seconds`, r.seconds),
        el("button", { type: "button", className: "btn", onclick: () => { node.remove(); renumber(); } },
          `Remove page ${i + 1}`));
      node.wbControls = r;
      pagesBox.append(node);
    }
    function renumber() {  // ids and labels follow the rows' order after a removal
      const kept = [...pagesBox.children].map((n) => ({
        title: n.wbControls.title.value, queues: list(n.wbControls.queues.value), seconds: n.wbControls.seconds.value,
      }));
      pagesBox.replaceChildren();
      kept.forEach(pageRow);
    }
    function fill(name, board, stored) {
      state.name = name;
      state.version = board.version || 0;
      state.stored = stored;
      c.name.value = name;
      c.name.readOnly = stored;
      c.title.value = board.title || "";
      c.queues.value = (board.queues || []).join(", ");
      c.groups.value = (board.groups || []).join(", ");
      c.teams.value = (board.teams || []).join(", ");
      c.group_tiles.checked = Boolean(board.group_tiles);
      c.team_tiles.checked = Boolean(board.team_tiles);
      c.sound.checked = Boolean(board.sound);
      c.kiosk.checked = Boolean(board.kiosk);
      for (const box of tileBoxes) box.checked = (board.tiles || []).includes(box.value);
      pagesBox.replaceChildren();
      (board.pages || []).forEach(pageRow);
      for (const control of Object.values(c)) setError(control, "");
      for (const b of picker.querySelectorAll("button[data-board]")) {
        b.setAttribute("aria-pressed", String(b.dataset.board === name));
      }
      $("board-delete").hidden = !stored || !board.updated_by;
      preview(stored ? name : null);
      showMessage(stored ? name : null);
    }
    // The banner on the board's TVs: GET/POST/DELETE /api/v1/boards/{name}/message.
    const m = {
      text: el("input", { id: "board-msg-text", type: "text", maxlength: "280" }),
      level: select("board-msg-level", [["info", "info"], ["warn", "warning"]], "info"),
      minutes: el("input", { id: "board-msg-minutes", type: "text", inputmode: "numeric", value: "60" }),
    };
    const msgNow = el("p", { id: "board-msg-now", className: "ops-hint" });
    const msgNote = message("board-msg-message");
    async function showMessage(name) {
      if (!name) { msgNow.textContent = "Save the board to post a message on its TVs."; return; }
      const r = await api("GET", `/api/v1/boards/${encodeURIComponent(name)}/message`);
      const now = r.status === 200 ? r.data.message : null;
      msgNow.textContent = now
        ? `Showing now (${now.level}): “${now.text}” by ${now.posted_by}, ${Math.ceil(now.expires_in_s / 60)} min left`
        : "No message on this board's TVs.";
    }
    async function postMessage(event) {
      event.preventDefault();
      for (const control of Object.values(m)) setError(control, "");
      const minutes = m.minutes.value.trim();
      if (!m.text.value.trim()) { setError(m.text, "write the message"); m.text.focus(); return; }
      if (!WHOLE.test(minutes)) { setError(m.minutes, `“${minutes}” is not a whole number of minutes`); m.minutes.focus(); return; }
      const body = { text: m.text.value.trim(), level: m.level.value, expires_in_s: Number(minutes) * 60 };
      const r = await api("POST", `/api/v1/boards/${encodeURIComponent(state.name)}/message`, body);
      if (r.status === 200 || r.status === 201) {
        m.text.value = "";
        say(msgNote, `posted on ${state.name}`, "ok");
        await showMessage(state.name);
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => ({ ...m, expires_in_s: m.minutes })[path(f)[0]], msgNote, "not posted");
        return;
      }
      await refused(r, msgNote, "not posted");
    }
    async function clearMessage() {
      const r = await api("DELETE", `/api/v1/boards/${encodeURIComponent(state.name)}/message`);
      if (r.status !== 204) { await refused(r, msgNote, "not taken down"); return; }
      say(msgNote, `taken down from ${state.name}`, "ok");
      await showMessage(state.name);
    }
    const messageForm = el("form", { id: "board-msg-form", novalidate: true, onsubmit: postMessage },
      el("h3", {}, "Message on the board's TVs"), msgNow,
      el("div", { className: "fields" }, field("Message", m.text), field("Level", m.level),
        field("Minutes", m.minutes, "1 to 1440"),
        el("button", { type: "submit", id: "board-msg-post", className: "btn primary" }, "Post"),
        el("button", { type: "button", id: "board-msg-clear", className: "btn", onclick: clearMessage }, "Take down")),
      msgNote);
    function preview(name) {
      if (!name) {
        frame.replaceChildren(el("p", { className: "preview-empty" }, "Save the board to preview it."));
        return;
      }
      const iframe = el("iframe", { title: `TV preview of board ${name}`, tabindex: "-1",
        src: `${C.tv_prefix}/${encodeURIComponent(name)}?t=${Date.now()}` });
      frame.replaceChildren(iframe);
      scale();
    }
    const scale = () => {
      const iframe = frame.querySelector("iframe");
      if (iframe) iframe.style.transform = `scale(${frame.clientWidth / 1920})`;
    };
    new ResizeObserver(scale).observe(frame);

    function collect() {
      for (const control of Object.values(c)) setError(control, "");
      let bad = null;
      const fail = (control, reason) => { setError(control, reason); bad = bad || control; };
      const name = c.name.value.trim();
      if (!BOARD_NAME.test(name)) fail(c.name, "lower case letters, digits, _ and -, at most 64, starting with a letter or digit");
      const pages = [...pagesBox.children].map((node) => {
        const r = node.wbControls;
        for (const control of Object.values(r)) setError(control, "");
        const seconds = r.seconds.value.trim();
        if (!WHOLE.test(seconds)) fail(r.seconds, `“${seconds}” is not a whole number of seconds`);
        return { title: r.title.value.trim(), queues: list(r.queues.value), seconds: Number(seconds) };
      });
      const body = {
        title: c.title.value.trim(), queues: list(c.queues.value), groups: list(c.groups.value),
        teams: list(c.teams.value), tiles: tileBoxes.filter((b) => b.checked).map((b) => b.value), pages,
        group_tiles: c.group_tiles.checked, team_tiles: c.team_tiles.checked, sound: c.sound.checked,
        kiosk: c.kiosk.checked,
        version: state.name === name ? state.version : 0,
      };
      return { name, body, bad };
    }
    async function save(event) {
      event.preventDefault();
      const { name, body, bad } = collect();
      if (bad) { say(note, "not saved: fix the marked fields (nothing was sent)", "bad"); bad.focus(); return; }
      const r = await api("PUT", `/api/v1/boards/${encodeURIComponent(name)}`, body);
      if (r.status === 200) {
        await load("");
        select_(name);
        say(note, `saved board ${name}: version ${r.data.version}`, "ok");
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => {
          const [top, index, sub] = path(f);
          if (top === "pages" && Number.isInteger(index) && pagesBox.children[index]) {
            return pagesBox.children[index].wbControls[sub] || pagesBox.children[index].wbControls.queues;
          }
          return c[top] || (top === "path" ? c.name : null);
        }, note, "not saved");
        return;
      }
      if (r.status === 409) { say(note, `not saved: ${why(r)}`, "bad"); return; }
      await refused(r, note, "not saved");
    }
    async function remove() {
      const name = state.name;
      const r = await api("DELETE", `/api/v1/boards/${encodeURIComponent(name)}`);
      if (r.status !== 204) { await refused(r, note, "not deleted"); return; }
      await load(`deleted board ${name}`);
    }
    const select_ = (name) => fill(name, state.boards[name], true);
    async function load(status) {
      const r = await api("GET", "/api/v1/boards");
      if (r.status !== 200) { await refused(r, note, "cannot load the boards"); return; }
      state.boards = r.data;
      P.boards = Object.keys(r.data).sort();
      picker.replaceChildren(...P.boards.map((name) => el("button", { type: "button", className: "btn",
        "data-board": name, "aria-pressed": "false", onclick: () => { select_(name); say(note, ""); } },
      state.boards[name].title ? `${name} · ${state.boards[name].title}` : name)),
      el("button", { type: "button", className: "btn", id: "board-new", onclick: () => {
        fill("", { version: 0 }, false);
        say(note, "a new board: give it a name");
        c.name.focus();
      } }, "+ New board"));
      const keep = state.name && state.boards[state.name] ? state.name : P.boards[0];
      if (keep) select_(keep);
      say(note, status || "");
    }
    const form = el("form", { id: "board-form", novalidate: true, onsubmit: save },
      el("div", { className: "fields" }, field("Name", c.name), field("Title", c.title, "shown in the TV's header")),
      el("div", { className: "fields" },
        field("Queues", c.queues, "comma-separated; none: every queue"),
        field("Groups", c.groups, "comma-separated queue groups"),
        field("Teams", c.teams, "for team tiles; none: every team")),
      el("div", { className: "fields" }, check(c.group_tiles, "one tile per group"),
        check(c.team_tiles, "adherence tile per team"), check(c.sound, "chime on alarm"),
        check(c.kiosk, "kiosk: sound without a click")),
      el("fieldset", { className: "tiles", "aria-describedby": "board-tiles-error" },
        el("legend", {}, "Tiles (none ticked: the standard set)"),
        tileBoxes.map((box, i) => el("label", { className: "check" }, box, C.tiles[i].label)), tilesError),
      el("h3", {}, "Rotation"),
      el("p", { className: "ops-hint" }, "Pages the TV turns through, each with its queues and seconds; none: one page."),
      pagesBox,
      el("div", { className: "actions" },
        el("button", { type: "submit", id: "board-save", className: "btn primary" }, "Save board"),
        el("button", { type: "button", className: "btn", id: "board-add-page", onclick: () => pageRow({}) },
          "Add rotation page"),
        armed("Delete board", "Click again to delete", remove, { id: "board-delete" })),
      note);
    section.append(picker, el("div", { className: "board-grid" }, form,
      el("div", {}, el("h3", {}, "Preview (the stored board, as a TV shows it)"), frame, messageForm)));
    return { load: () => load("") };
  }

  // ---- display tokens (each bound to a board: /api/v1/boards/{board}/tokens) ------------------------------------------
  function tokens(section) {
    const note = message("token-message");
    const board = el("select", { id: "token-board" });
    const label = el("input", { id: "token-label", type: "text", maxlength: "200", placeholder: "e.g. floor 2 TV" });
    const once = el("div", { id: "token-once", className: "token-once", hidden: true, role: "region",
      "aria-label": "The new display token" });
    const rows = el("tbody", { id: "token-rows" });
    const base = (name) => `/api/v1/boards/${encodeURIComponent(name)}/tokens`;
    function shown(data) {
      const url = data.url ||
        `${location.origin}${P.config.tv_prefix}/${encodeURIComponent(data.board)}?token=${encodeURIComponent(data.token)}`;
      const qr = typeof data.qr === "string" && data.qr.startsWith("data:") ? data.qr : null;
      once.replaceChildren(
        el("div", {},
          el("p", {}, el("strong", {}, "Copy it now: this token is shown only once.")),
          el("p", {}, "Token: ", el("code", { className: "mono", id: "token-value" }, data.token)),
          el("p", {}, "TV URL: ", el("a", { id: "token-url", className: "mono", href: url, target: "_blank",
            rel: "noopener" }, url)),
          el("button", { type: "button", className: "btn", onclick: () => { once.hidden = true; label.focus(); } },
            "Done")),
        qr ? el("img", { id: "token-qr", src: qr, alt: `QR code of the TV URL for board ${data.board}` }) : "");
      once.hidden = false;
    }
    async function create(event) {
      event.preventDefault();
      setError(label, "");
      setError(board, "");
      if (!board.value) { setError(board, "choose a board"); board.focus(); return; }
      const r = await api("POST", base(board.value), { label: label.value.trim() });
      if (r.status === 201) {
        shown(r.data);
        label.value = "";
        await load(`created token ${r.data.id} for board ${r.data.board}`);
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => ({ label, name: board })[path(f).pop()], note, "not created");
        return;
      }
      if (r.status === 404) { setError(board, why(r)); say(note, `not created: ${why(r)}`, "bad"); return; }
      await refused(r, note, "not created");
    }
    const revoke = (token) => async () => {
      const r = await api("DELETE", `${base(token.board)}/${encodeURIComponent(token.id)}`);
      if (r.status !== 204) { await refused(r, note, "not revoked"); return; }
      await load(`revoked token ${token.id}`);
    };
    async function load(status) {
      const got = await api("GET", "/api/v1/boards");
      if (got.status !== 200) { await refused(got, note, "cannot list the boards"); return; }
      const names = Object.keys(got.data).sort();
      const chosen = board.value || names[0];
      board.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === chosen }, n)));
      const found = [];
      for (const name of names) {
        const r = await api("GET", base(name));
        if (r.status !== 200) { await refused(r, note, "cannot list the tokens"); return; }
        found.push(...r.data);
      }
      rows.replaceChildren(...found.map((t) => el("tr", { "data-token": t.id },
        el("td", { className: "mono" }, t.id), el("td", {}, t.board), el("td", {}, t.label),
        el("td", {}, when(t.created)),
        el("td", {}, armed("Revoke", "Click again to revoke", revoke(t), { "aria-label": `Revoke token ${t.id}` })))));
      if (!found.length) rows.append(el("tr", {}, el("td", { colspan: "5", className: "ops-hint" }, "No display token.")));
      say(note, status || "", status ? "ok" : "");
    }
    section.append(
      el("form", { id: "token-form", novalidate: true, onsubmit: create },
        el("div", { className: "fields" }, field("Board", board, "the only board the TV may open"),
          field("Label", label, "where the TV hangs"),
          el("button", { type: "submit", id: "token-create", className: "btn primary" }, "Create token"))),
      once, note,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "token-table" },
        el("thead", {}, el("tr", {}, ["Id", "Board", "Label", "Created", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
        rows)));
    return { load: () => load("") };
  }

  // ---- users ---------------------------------------------------------------------------------------------------------
  function scopeProblems(values, control, what) {
    const badName = values.find((v) => !SCOPE_NAME.test(v));
    if (badName !== undefined) setError(control, `“${badName}” is not a ${what} name`);
    return badName !== undefined;
  }

  function users(section) {
    const C = P.config;
    const note = message("user-message");
    const rows = el("tbody", { id: "user-rows" });
    const roles = C.roles.map((r) => [r, r]);
    const a = {
      name: el("input", { id: "user-name", type: "text", autocomplete: "off" }),
      role: select("user-role", roles, "viewer"),
      password: el("input", { id: "user-password", type: "password", autocomplete: "new-password" }),
      teams: el("input", { id: "user-teams", type: "text" }),
      queues: el("input", { id: "user-queues", type: "text" }),
    };
    async function add(event) {
      event.preventDefault();
      for (const control of Object.values(a)) setError(control, "");
      const body = { name: a.name.value.trim(), role: a.role.value, password: a.password.value,
        teams: list(a.teams.value), queues: list(a.queues.value) };
      let bad = false;
      if (!USER_NAME.test(body.name)) { setError(a.name, "lower case letters, digits and _ . @ -, at most 64"); bad = true; }
      if (body.password.length < C.password_min) {
        setError(a.password, `at least ${C.password_min} characters`);
        bad = true;
      }
      bad = scopeProblems(body.teams, a.teams, "team") || bad;
      bad = scopeProblems(body.queues, a.queues, "queue") || bad;
      if (bad) {
        say(note, "not added: fix the marked fields (nothing was sent)", "bad");
        section.querySelector("[aria-invalid=true]").focus();
        return;
      }
      const r = await api("POST", "/api/v1/users", body);
      if (r.status === 201) {
        a.name.value = a.password.value = a.teams.value = a.queues.value = "";
        await load(`added ${r.data.name} (${r.data.role})`);
        return;
      }
      if (r.status === 422) { showProblems(r.data.detail, (f) => a[path(f)[0]], note, "not added"); return; }
      if (r.status === 409) { setError(a.name, why(r)); say(note, `not added: ${why(r)}`, "bad"); return; }
      await refused(r, note, "not added");
    }
    async function patch(user, body, done) {
      const r = await api("PATCH", `/api/v1/users/${encodeURIComponent(user.name)}`, body);
      if (r.status === 200) { await load(done); return null; }
      if (r.status === 422) return r.data.detail;
      if (r.status === 409 || r.status === 404) { say(note, `not changed: ${why(r)}`, "bad"); return []; }
      await refused(r, note, "not changed");
      return [];
    }
    function editor(user, tr) {
      const key = safe(user.name);
      const e = {
        role: select(`user-${key}-role`, roles, user.role),
        teams: el("input", { id: `user-${key}-teams`, type: "text", value: user.teams.join(", ") }),
        queues: el("input", { id: `user-${key}-queues`, type: "text", value: user.queues.join(", ") }),
        may_monitor: el("input", { id: `user-${key}-monitor`, type: "checkbox", checked: user.may_monitor }),
        password: el("input", { id: `user-${key}-password`, type: "password", autocomplete: "new-password" }),
      };
      const close = () => { edit.remove(); tr.querySelector("button").focus(); };
      const form = el("form", { novalidate: true, "aria-label": `Change ${user.name}` },
        el("div", { className: "fields" }, field("Role", e.role), field("Teams", e.teams, "none: every team"),
          field("Queues", e.queues, "none: every queue"),
          field("New password", e.password, `blank: unchanged; at least ${C.password_min} characters`),
          el("label", { className: "check" }, withError(e.may_monitor)[0], "may listen to calls")),
        el("div", { className: "actions" },
          el("button", { type: "submit", className: "btn primary" }, `Save ${user.name}`),
          el("button", { type: "button", className: "btn", onclick: close }, "Cancel")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        for (const control of Object.values(e)) setError(control, "");
        const body = {};
        if (e.role.value !== user.role) body.role = e.role.value;
        const teams = list(e.teams.value), queues = list(e.queues.value);
        if (teams.join() !== user.teams.join()) body.teams = teams;
        if (queues.join() !== user.queues.join()) body.queues = queues;
        if (e.may_monitor.checked !== user.may_monitor) body.may_monitor = e.may_monitor.checked;
        if (e.password.value) body.password = e.password.value;
        let bad = scopeProblems(teams, e.teams, "team");
        bad = scopeProblems(queues, e.queues, "queue") || bad;
        if (e.password.value && e.password.value.length < C.password_min) {
          setError(e.password, `at least ${C.password_min} characters`);
          bad = true;
        }
        if (bad) { say(note, "not changed: fix the marked fields (nothing was sent)", "bad"); return; }
        if (!Object.keys(body).length) { say(note, `${user.name}: nothing changed`); close(); return; }
        const problems = await patch(user, body, `changed ${user.name}: ${Object.keys(body).join(", ")}`);
        if (problems && problems.length) showProblems(problems, (f) => e[path(f)[0]], note, "not changed");
      });
      const edit = el("tr", { className: "user-edit" }, el("td", { colspan: "6" }, form));
      tr.after(edit);
      e.role.focus();
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/users");
      if (r.status !== 200) { await refused(r, note, "cannot list the users"); return; }
      rows.replaceChildren(...r.data.map((user) => {
        const scope = [user.teams.length ? `teams ${user.teams.join(", ")}` : "",
          user.queues.length ? `queues ${user.queues.join(", ")}` : ""].filter(Boolean).join(" · ") || "whole site";
        const tr = el("tr", { "data-user": user.name }, el("td", {}, user.name), el("td", {}, user.role),
          el("td", {}, scope), el("td", {}, user.may_monitor ? "yes" : "no"),
          el("td", {}, el("span", { className: user.disabled ? "pill off" : "pill" }, user.disabled ? "disabled" : "active")));
        const toggle = user.disabled
          ? el("button", { type: "button", className: "btn", onclick: () => patch(user, { disabled: false }, `enabled ${user.name}`) },
            `Enable ${user.name}`)
          : armed(`Disable ${user.name}`, "Click again to disable", () => patch(user, { disabled: true }, `disabled ${user.name}`));
        tr.append(el("td", { className: "actions" },
          el("button", { type: "button", className: "btn", onclick: () => editor(user, tr) }, `Edit ${user.name}`), toggle));
        return tr;
      }));
      say(note, status || "", status ? "ok" : "");
    }
    section.append(
      el("h3", {}, "Add a user"),
      el("form", { id: "user-form", novalidate: true, onsubmit: add },
        el("div", { className: "fields" }, field("Name", a.name), field("Role", a.role),
          field("Password", a.password, `at least ${C.password_min} characters`),
          field("Teams", a.teams, "comma-separated; none: every team"),
          field("Queues", a.queues, "comma-separated; none: every queue"),
          el("button", { type: "submit", id: "user-add", className: "btn primary" }, "Add user"))),
      note,
      el("h3", {}, "Users"),
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "user-table" },
        el("thead", {}, el("tr", {}, ["Name", "Role", "Scope", "Monitor", "Status", "Actions"]
          .map((h) => el("th", { scope: "col" }, h)))), rows)));
    return { load: () => load("") };
  }

  // ---- schedules -----------------------------------------------------------------------------------------------------
  function schedules(section) {
    const note = message("sched-message");
    const current = el("p", { id: "sched-current", className: "ops-hint" });
    const file = el("input", { id: "sched-file", type: "file", accept: ".csv,text/csv" });
    const mode = select("sched-mode", [["replace", "replace the whole schedule"], ["merge", "merge: replace only the agents and days in the file"]], "replace");
    const rejected = el("tbody", { id: "sched-rows" });
    const table = el("table", { className: "ops-table", id: "sched-problems", hidden: true },
      el("caption", { className: "ops-hint" }, "Rejected rows (nothing was stored)"),
      el("thead", {}, el("tr", {}, ["Row", "Line", "Reason"].map((h) => el("th", { scope: "col" }, h)))), rejected);
    async function upload(event) {
      event.preventDefault();
      setError(file, "");
      table.hidden = true;
      if (!file.files.length) { setError(file, "choose a CSV file"); file.focus(); return; }
      const text = await file.files[0].text();
      const r = await api("PUT", `/api/v1/schedules?mode=${mode.value}`, text, "text/csv");
      if (r.status === 200) {
        const s = r.data;
        await load(`imported: version ${s.version}, ${s.slots} slots, ${s.agents} agents, ${s.days} days` +
          (s.first_day ? ` (${s.first_day} to ${s.last_day})` : ""));
        return;
      }
      if (r.status === 422 && Array.isArray(r.data.detail)) {
        const lines = text.split(/\r?\n/);
        rejected.replaceChildren(...r.data.detail.map((p) => el("tr", { "data-row": p.row },
          el("td", {}, p.row ? String(p.row) : "file"), el("td", { className: "mono" }, p.row ? (lines[p.row] ?? "") : ""),
          el("td", {}, p.reason))));
        table.hidden = false;
        say(note, `not imported: ${r.data.detail.length} problem${r.data.detail.length === 1 ? "" : "s"} (below)`, "bad");
        return;
      }
      if ([409, 413, 415].includes(r.status)) { say(note, `not imported: ${why(r)}`, "bad"); return; }
      await refused(r, note, "not imported");
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/schedules");
      if (r.status !== 200) { await refused(r, note, "cannot read the schedule"); return; }
      const agents = new Set(r.data.slots.map((s) => s.agent)).size;
      current.textContent = r.data.version
        ? `In force: version ${r.data.version}, ${r.data.slots.length} slots for ${agents} agents` +
          (r.data.updated_by ? `, imported by ${r.data.updated_by} ${when(r.data.updated_ts)}` : "")
        : "No schedule imported yet.";
      say(note, status || "", status ? "ok" : "");
    }
    section.append(current,
      el("form", { id: "sched-form", novalidate: true, onsubmit: upload },
        el("div", { className: "fields" },
          field("Schedule file (CSV)", file, "columns agent, date, start, end, activity (site-local times)"),
          field("Mode", mode),
          el("button", { type: "submit", id: "sched-upload", className: "btn primary" }, "Upload"))),
      note, el("div", { className: "table-wrap" }, table));
    return { load: () => load("") };
  }

  // ---- alerts --------------------------------------------------------------------------------------------------------
  function alerts(section) {
    const note = message("alert-message");
    const rows = el("tbody", { id: "alert-rows" });
    const act = (alert, action, body) => async () => {
      const r = await api("POST", `/api/v1/alerts/${encodeURIComponent(alert.alert_id)}/${action}`, body);
      if (r.status === 202) {
        say(note, `${action} sent for ${alert.label || alert.threshold_id}: the next snapshot shows it`, "ok");
        setTimeout(() => { if (P.shown === "alerts") load(""); }, 1500);
        return;
      }
      if ([404, 409, 503].includes(r.status)) { say(note, `${action}: ${why(r)}`, "bad"); return; }
      await refused(r, note, action);
    };
    function row(alert) {
      const key = safe(alert.alert_id);
      const minutes = select(`alert-${key}-minutes`, P.config.snooze_minutes.map((m) => [String(m), `${m} min`]), "30",
        { "aria-label": `snooze ${alert.label || alert.threshold_id} for` });
      const name = alert.label || alert.threshold_id;
      return el("tr", { "data-alert": alert.alert_id },
        el("td", { className: `lvl-${alert.level}` }, alert.level === "alarm" ? "■ alarm" : "▲ warn"),
        el("td", {}, name), el("td", {}, `${alert.target.kind}:${alert.target.name}`), el("td", {}, alert.reason),
        el("td", {}, alert.state + (alert.acknowledged_by ? ` by ${alert.acknowledged_by}` : "") +
          (alert.snoozed_until ? ` until ${when(alert.snoozed_until)}` : "")),
        el("td", {}, when(alert.since)),
        el("td", { className: "actions" },
          alert.state === "firing"
            ? el("button", { type: "button", className: "btn", onclick: act(alert, "ack") }, `Acknowledge ${name}`) : "",
          alert.state === "snoozed"
            ? el("button", { type: "button", className: "btn", onclick: act(alert, "unsnooze") }, `Unsnooze ${name}`)
            : [minutes, el("button", { type: "button", className: "btn",
              onclick: () => act(alert, "snooze", { minutes: Number(minutes.value) })() }, `Snooze ${name}`)]));
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/alerts");
      if (r.status === 503) { rows.replaceChildren(); say(note, "no snapshot yet: is the engine running?", "bad"); return; }
      if (r.status !== 200) { await refused(r, note, "cannot list the alerts"); return; }
      rows.replaceChildren(...r.data.alerts.map(row));
      if (!r.data.alerts.length) rows.append(el("tr", {}, el("td", { colspan: "7", className: "ops-hint" }, "No open alert.")));
      say(note, status || `as of ${when(r.data.ts)}`);
    }
    section.append(
      el("div", { className: "actions" }, el("button", { type: "button", className: "btn", id: "alert-refresh",
        onclick: () => load("") }, "Refresh")),
      note,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "alert-table" },
        el("thead", {}, el("tr", {}, ["Level", "Alert", "Target", "Reason", "State", "Since", "Actions"]
          .map((h) => el("th", { scope: "col" }, h)))), rows)));
    return { load: () => load("") };
  }

  // ---- the audit trail -----------------------------------------------------------------------------------------------
  function audit(section) {
    const note = message("audit-message");
    const rows = el("tbody", { id: "audit-rows" });
    const action = el("input", { id: "audit-action", type: "text", placeholder: "e.g. thresholds.update" });
    const pages = [];  // the "before" of each page shown so far (null: the newest)
    const short = (value) => {
      const text = value === undefined ? "—" : JSON.stringify(value);
      return text.length > 60 ? `${text.slice(0, 57)}…` : text;
    };
    function change(entry) {
      const old = entry.old, now = entry.new;
      if (old && now && typeof old === "object" && typeof now === "object") {
        const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])]
          .filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k]) && !["updated_ts", "updated_by"].includes(k));
        return keys.slice(0, 4).map((k) => `${k}: ${short(old[k])} → ${short(now[k])}`).join("; ") +
          (keys.length > 4 ? `; +${keys.length - 4} more` : "");
      }
      return `${short(old ?? undefined)} → ${short(now ?? undefined)}`;
    }
    const older = el("button", { type: "button", className: "btn", id: "audit-older", disabled: true }, "Older →");
    const newer = el("button", { type: "button", className: "btn", id: "audit-newer", disabled: true }, "← Newer");
    async function load(before) {
      const query = new URLSearchParams({ count: String(P.config.audit_page) });
      if (before) query.set("before", before);
      if (action.value.trim()) query.set("action", action.value.trim());
      const r = await api("GET", `/api/v1/audit?${query}`);
      if (r.status !== 200) { await refused(r, note, "cannot read the audit trail"); return false; }
      rows.replaceChildren(...r.data.map((e) => el("tr", { "data-entry": e.id },
        el("td", {}, when(e.ts)), el("td", {}, e.actor), el("td", { className: "mono" }, e.action),
        el("td", {}, e.target), el("td", { className: "mono", title: JSON.stringify({ old: e.old, new: e.new }) }, change(e)))));
      if (!r.data.length) rows.append(el("tr", {}, el("td", { colspan: "5", className: "ops-hint" }, "Nothing here.")));
      older.disabled = r.data.length < P.config.audit_page;
      older.wbBefore = r.data.length ? r.data[r.data.length - 1].id : null;
      newer.disabled = pages.length === 0;
      say(note, `${r.data.length} entries${before ? " (older page)" : ", newest first"}`);
      return true;
    }
    older.addEventListener("click", async () => {
      pages.push(older.wbBefore);
      if (!(await load(older.wbBefore))) pages.pop();
    });
    newer.addEventListener("click", async () => {
      pages.pop();
      await load(pages.length ? pages[pages.length - 1] : null);
    });
    section.append(
      el("form", { id: "audit-form", novalidate: true, onsubmit: (event) => { event.preventDefault(); pages.length = 0; load(null); } },
        el("div", { className: "fields" }, field("Action", action, "blank: every action"),
          el("button", { type: "submit", className: "btn primary", id: "audit-show" }, "Show"), newer, older)),
      note,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "audit-table" },
        el("thead", {}, el("tr", {}, ["When", "Who", "Action", "Target", "Change"].map((h) => el("th", { scope: "col" }, h)))),
        rows)));
    return { load: () => { pages.length = 0; return load(null); } };
  }

  const BUILDERS = { thresholds, boards, tokens, users, schedules, alerts, audit };
  window.dash_clientside = Object.assign({}, window.dash_clientside, { ops: { start } });
})();
