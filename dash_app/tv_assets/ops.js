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
  // The page's words in its language (i18n.js): always t("literal English"), so Babel's extractor finds them.
  const t = (text, values) => window.wbI18n.t(text, values);
  const tn = (singular, plural, n, values) => window.wbI18n.tn(singular, plural, n, values);  // a count (i18n.js)
  const I18N = () => window.wbI18n;

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
  const when = (iso) => (iso ? I18N().time(new Date(iso), { dateStyle: "short", timeStyle: "short" }) : "");
  // A level as the language writes it in an input (0,5 in Finnish), and read back in either form (0.5 or 0,5).
  const numberText = (value) => (typeof value === "number"
    ? I18N().number(value, { useGrouping: false, maximumFractionDigits: 20 }) : String(value ?? ""));
  function parseNumber(raw) {
    const decimal = I18N().number(1.5).replace(/\d/g, "") || ".";
    const plain = raw.replace(/\u2212/g, "-").split(decimal).join(".");
    return NUMBER.test(plain) && Number.isFinite(Number(plain)) ? Number(plain) : null;
  }
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
      return { status: 0, data: { detail: t("the API did not answer ({reason})", { reason: error.message }) } };
    }
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    return { status: response.status, data };
  }
  function why(r) {
    const detail = r.data && r.data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((p) => [p.field ?? t("row {row}", { row: p.row }), p.reason].join(": ")).join("; ");
    }
    return `HTTP ${r.status}`;
  }
  // A refused request (401/403 or another failure) in words; a 401 whose session has ended goes back to the login.
  async function refused(r, node, doing) {
    if (r.status === 401) {
      const me = await api("GET", "/api/v1/me");
      if (me.status === 401) { await boot(() => t("the session ended: log in again")); return; }
      say(node, t("{doing}: the API refused this session for it (401: {reason})", { doing, reason: why(r) }), "bad");
      return;
    }
    const values = { doing, reason: why(r) };
    say(node, r.status === 403 ? t("{doing}: not allowed ({reason})", values) : t("{doing}: failed ({reason})", values),
      "bad");
  }
  // The API's 422 problems {field, reason} placed by place(field) -> control (else listed in the message).
  function showProblems(detail, place, node, doing) {
    const loose = [];
    let first = null;
    for (const p of Array.isArray(detail) ? detail : [{ field: "", reason: String(detail) }]) {
      const control = place(p.field || "");
      if (control) { addError(control, p.reason); first = first || control; } else loose.push(`${p.field}: ${p.reason}`);
    }
    say(node, [t("{doing}: fix the marked fields", { doing }), ...loose].join(" · "), "bad");
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
      await boot(() => t("logged out"));
    });
    languagePicker();
    I18N().onChange(() => { if (!P.choosing) rerender(); });
    await boot("");
    return "started";
  }

  // The language: ?lang=, then the user's profile, then the browser's (i18n.js); status may be a function of it.
  function choose(...preferred) {
    P.choosing = true;
    try { I18N().choose(...preferred); } finally { P.choosing = false; }
    $("ops-language").value = I18N().lang;
  }
  async function boot(status) {
    const me = await api("GET", "/api/v1/me");
    const text = () => (typeof status === "function" ? status() : (status || ""));
    if (me.status !== 200 || me.data.via === "display") { choose(P.picked); showLogin(text()); return; }
    const profile = await api("GET", "/api/v1/me/profile");
    choose(profile.status === 200 ? profile.data.language : null, P.picked);  // a pick on the login form next
    showApp(me.data, text());
  }
  // The header's picker: the languages in their own words; a choice switches at once and goes into the profile.
  function languagePicker() {
    const picker = $("ops-language");
    picker.replaceChildren(...Object.entries(I18N().languages).map(([code, name]) =>
      el("option", { value: code, lang: code }, name)));
    picker.value = I18N().lang;
    picker.addEventListener("change", async () => {
      const language = picker.value;
      I18N().setLanguage([language]);
      if (!P.me) { P.picked = language; return; }
      const r = await api("PATCH", "/api/v1/me/profile", { language });
      if (r.status !== 200) {
        $("status").textContent = t("{language} is not kept for your next visit ({reason})",
          { language: I18N().languages[language] || language, reason: why(r) });
      }
    });
  }
  // After a change of language every text is written again: the sections are rebuilt and reloaded from the API.
  function rerender() {
    $("ops-language").value = I18N().lang;
    if (P.me) { showApp(P.me, ""); return; }
    const typed = $("login-name") ? $("login-name").value : "";
    showLogin("", false);  // the focus stays on the picker
    $("login-name").value = typed;
  }

  function showLogin(status, focus = true) {
    P.me = null;
    $("ops-who").hidden = true;
    $("whoami").textContent = "";
    $("status").textContent = status || "";
    const name = el("input", { id: "login-name", type: "text", autocomplete: "username", required: true });
    const password = el("input", { id: "login-password", type: "password", autocomplete: "current-password",
      required: true });
    const form = el("form", { id: "login-form", "aria-labelledby": "login-title", novalidate: true },
      field(t("User name"), name), field(t("Password"), password),
      el("button", { id: "login-button", type: "submit", className: "btn primary" }, t("Log in")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const r = await api("POST", "/api/v1/login", { name: name.value, password: password.value, cookie: true });
      password.value = "";
      if (r.status !== 200) {
        $("status").textContent = r.status === 429 || r.status === 0 ? why(r) : t("wrong user name or password");
        password.focus();
        return;
      }
      const user = r.data.user;
      await boot(() => t("{user} ({role}) logged in", { user: user.name, role: user.role }));
    });
    $("ops-root").replaceChildren(el("section", { className: "ops-section ops-login" },
      el("h2", { id: "login-title" }, t("Log in")), form));
    if (focus) name.focus();
  }

  function showApp(me, status) {
    P.me = me;
    P.sections = {};
    const who = `${me.name} (${me.role})`;
    $("whoami").textContent = who;
    $("ops-who").hidden = false;
    const allowed = P.config.sections.filter((s) => me.permissions.includes(s.permission));
    $("status").textContent = allowed.length ? (status || "")
      : t("{user} may use none of this page's sections", { user: who });
    const nav = el("nav", { className: "ops-nav", "aria-label": t("Sections"), id: "ops-nav" });
    const panes = el("div", { className: "ops-panes" });
    for (const s of allowed) {
      const section = el("section", { id: `sec-${s.key}`, className: "ops-section", hidden: true,
        "aria-labelledby": `sec-${s.key}-title` }, el("h2", { id: `sec-${s.key}-title`, tabindex: "-1" }, t(s.title)));
      const button = el("button", { type: "button", id: `nav-${s.key}`, "aria-controls": section.id,
        onclick: () => show(s.key) }, t(s.title));
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
    const shown = P.sections[key];
    delete shown.section.dataset.loaded;
    await shown.load();
    shown.section.dataset.loaded = "true";  // its API reads answered and drawn (tests wait on it)
  }

  // ---- thresholds ----------------------------------------------------------------------------------------------------
  const thFields = () => [  // [field, header, kind]
    ["id", t("Id"), "text"], ["metric", t("Metric"), "metric"], ["scope", t("Scope"), "text"],
    ["channel", t("Channel"), "channel"], ["direction", t("Direction"), "direction"], ["warn", t("Warn"), "number"], ["alarm", t("Alarm"), "number"],
    ["clear", t("Clear"), "number"], ["for_s", t("For (s)"), "number"], ["min_offered", t("Min offered"), "number"],
    ["severity", t("Severity"), "severity"], ["label", t("Label"), "text"],
  ];
  const labelled = (kind, values) => values.map((v) => [v, t((P.config.labels[kind] || {})[v] || v)]);

  function thresholds(section) {
    const C = P.config;
    const TH_FIELDS = thFields();
    const body = el("tbody", { id: "th-rows" });
    const note = message("th-message");
    const info = el("p", { id: "th-version", className: "ops-hint" });
    const state = { version: null, fresh: 0 };
    const control = (kind, id, value, label) => {
      if (kind === "metric") return select(id, C.metrics.map((m) => [m, m]), value, { "aria-label": label });
      if (kind === "severity") return select(id, labelled("severities", C.severities), value, { "aria-label": label });
      if (kind === "direction") {
        return select(id, [["", t("metric default")], ...labelled("directions", C.directions)], value || "",
          { "aria-label": label });
      }
      if (kind === "channel") {  // a queue or agent metric limited to the queues of one channel; "": every channel
        return select(id, [["", t("any channel")], ...labelled("channels", C.channels)], value || "",
          { "aria-label": label });
      }
      const shown = kind === "number" ? numberText(value) : String(value ?? "");
      const attrs = { id, type: "text", value: shown,
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
      const remove = el("button", { type: "button", className: "btn danger",
        "aria-label": t("Delete {name}", { name: key }),
        onclick: () => {
          const next = tr.nextElementSibling || tr.previousElementSibling;
          tr.remove();
          say(note, t("{name} removed: save to store the change", { name: key }));
          (next ? next.querySelector("input") : $("th-add")).focus();
        } }, t("Delete"));
      tr.append(el("td", {}, remove, rowError));
      return tr;
    }
    function render(doc) {
      state.version = doc.version;
      body.replaceChildren(...doc.thresholds.map((th) => row(th, th.id)));
      info.textContent = doc.updated_by
        ? t("Version {version} · saved by {user} {when}",
          { version: doc.version, user: doc.updated_by, when: when(doc.updated_ts) })
        : t("Version {version} · from the site file", { version: doc.version });
    }
    function collect() {
      const rows = [...body.querySelectorAll("tr[data-row]")];
      const out = [];
      let bad = null;
      for (const tr of rows) {
        const th = { ...tr.wbOriginal };
        setError(tr.wbRowError, "");
        for (const [name, , kind] of TH_FIELDS) {
          const c = tr.wbControls[name];
          const raw = c.value.trim();
          setError(c, "");
          if (kind === "number") {
            if (raw === "") { delete th[name]; continue; }
            const value = parseNumber(raw);
            if (value === null) {
              setError(c, t("“{value}” is not a number", { value: raw }));
              bad = bad || c;
              continue;
            }
            th[name] = value;
          } else if (kind === "direction" || kind === "channel") {
            if (raw) th[name] = raw; else delete th[name];
          } else {
            th[name] = name === "scope" ? (raw || "site") : raw;
          }
        }
        out.push(th);
      }
      return { rows, out, bad };
    }
    async function save(event) {
      event.preventDefault();
      const { rows, out, bad } = collect();
      if (bad) {
        say(note, t("not saved: fix the marked fields (nothing was sent)"), "bad");
        bad.focus();
        return;
      }
      const r = await api("PUT", "/api/v1/thresholds", { version: state.version, thresholds: out });
      if (r.status === 200) {
        render(r.data);
        say(note, t("saved: version {version}", { version: r.data.version }), "ok");
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => {
          const [top, index, name] = path(f);
          const tr = top === "thresholds" && Number.isInteger(index) ? rows[index] : null;
          return tr ? (tr.wbControls[name] || tr.wbRowError) : null;
        }, note, t("not saved"));
        return;
      }
      if (r.status === 409) {
        say(note, t("not saved: someone saved first; reload to see their version"), "bad");
        return;
      }
      await refused(r, note, t("not saved"));
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/thresholds");
      if (r.status !== 200) { await refused(r, note, t("cannot load the thresholds")); return; }
      render(r.data);
      say(note, status || "");
    }
    const add = () => {
      state.fresh += 1;
      const tr = row({ metric: C.metrics[0], scope: "site", severity: C.severities[0] },
        t("new {n}", { n: state.fresh }));
      body.append(tr);
      tr.wbControls.id.focus();
    };
    const head = el("tr", {}, TH_FIELDS.map(([, header]) => el("th", { scope: "col" }, header)),
      el("th", { scope: "col" }, el("span", { className: "visually-hidden" }, t("Actions"))));
    const form = el("form", { id: "th-form", novalidate: true, onsubmit: save },
      info,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table" }, el("thead", {}, head), body)),
      el("div", { className: "actions" },
        el("button", { type: "submit", id: "th-save", className: "btn primary" }, t("Save thresholds")),
        el("button", { type: "button", id: "th-add", className: "btn", onclick: add }, t("Add threshold")),
        el("button", { type: "button", id: "th-reload", className: "btn", onclick: () => load(t("reloaded")) },
          t("Reload"))),
      note);
    section.append(el("p", { className: "ops-hint" },
      t("Levels are numbers; leave a level empty to remove it. Enter saves. Nothing is stored until Save.")),
    el("p", { className: "ops-hint", id: "th-scope-hint" },
      t("Scope: site, queue:<name>, team:<name> or campaign:<name>. Channel limits a queue or agent metric to the queues of that channel.")),
    form);
    return { load: () => load("") };
  }

  // ---- boards --------------------------------------------------------------------------------------------------------
  function boards(section) {
    const C = P.config;
    const state = { boards: {}, name: null, version: 0, stored: false, pages: [] };
    const note = message("board-message");
    const picker = el("div", { className: "board-list", id: "board-list", role: "group", "aria-label": t("Boards") });
    const c = {
      name: el("input", { id: "board-name", type: "text", autocomplete: "off" }),
      title: el("input", { id: "board-title", type: "text", maxlength: "80" }),
      queues: el("input", { id: "board-queues", type: "text" }),
      groups: el("input", { id: "board-groups", type: "text" }),
      teams: el("input", { id: "board-teams", type: "text" }),
      campaigns: el("input", { id: "board-campaigns", type: "text" }),
      group_tiles: el("input", { id: "board-group-tiles", type: "checkbox" }),
      team_tiles: el("input", { id: "board-team-tiles", type: "checkbox" }),
      campaign_tiles: el("input", { id: "board-campaign-tiles", type: "checkbox" }),
      sound: el("input", { id: "board-sound", type: "checkbox" }),
      kiosk: el("input", { id: "board-kiosk", type: "checkbox" }),
      language: select("board-language",
        [["", t("each TV's browser")], ...Object.entries(I18N().languages)], ""),
    };
    const tileBoxes = C.tiles.map((tile) => el("input", { type: "checkbox", id: `board-tile-${tile.key}`,
      value: tile.key }));
    const tilesError = el("span", { className: "error", id: "board-tiles-error" });
    c.tiles = { wbError: tilesError, setAttribute: () => {}, focus: () => tileBoxes[0].focus() };
    // Only the queues of the ticked channels (none ticked: every channel): the board's "channels".
    const channelBoxes = C.channels.map((channel) => el("input", { type: "checkbox", id: `board-channel-${channel}`,
      value: channel }));
    const channelsError = el("span", { className: "error", id: "board-channels-error" });
    c.channels = { wbError: channelsError, setAttribute: () => {}, focus: () => channelBoxes[0].focus() };
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
        field(t("Page {n} title", { n: i + 1 }), r.title), field(t("Page {n} queues", { n: i + 1 }), r.queues),
        field(t("Page {n} seconds", { n: i + 1 }), r.seconds),
        el("button", { type: "button", className: "btn", onclick: () => { node.remove(); renumber(); } },
          t("Remove page {n}", { n: i + 1 })));
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
      c.campaigns.value = (board.campaigns || []).join(", ");
      c.campaign_tiles.checked = Boolean(board.campaign_tiles);
      c.sound.checked = Boolean(board.sound);
      c.kiosk.checked = Boolean(board.kiosk);
      c.language.value = board.language || "";
      for (const box of tileBoxes) box.checked = (board.tiles || []).includes(box.value);
      for (const box of channelBoxes) box.checked = (board.channels || []).includes(box.value);
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
      level: select("board-msg-level", [["info", t("info")], ["warn", t("warning")]], "info"),
      minutes: el("input", { id: "board-msg-minutes", type: "text", inputmode: "numeric", value: "60" }),
    };
    const msgNow = el("p", { id: "board-msg-now", className: "ops-hint" });
    const msgNote = message("board-msg-message");
    async function showMessage(name) {
      if (!name) { msgNow.textContent = t("Save the board to post a message on its TVs."); return; }
      const r = await api("GET", `/api/v1/boards/${encodeURIComponent(name)}/message`);
      const now = r.status === 200 ? r.data.message : null;
      msgNow.textContent = now
        ? t("Showing now ({level}): “{text}” by {user}, {minutes} min left", {
          level: now.level === "warn" ? t("warning") : t("info"), text: now.text, user: now.posted_by,
          minutes: Math.ceil(now.expires_in_s / 60) })
        : t("No message on this board's TVs.");
    }
    async function postMessage(event) {
      event.preventDefault();
      for (const control of Object.values(m)) setError(control, "");
      const minutes = m.minutes.value.trim();
      if (!m.text.value.trim()) { setError(m.text, t("write the message")); m.text.focus(); return; }
      if (!WHOLE.test(minutes)) {
        setError(m.minutes, t("“{value}” is not a whole number of minutes", { value: minutes }));
        m.minutes.focus();
        return;
      }
      const body = { text: m.text.value.trim(), level: m.level.value, expires_in_s: Number(minutes) * 60 };
      const r = await api("POST", `/api/v1/boards/${encodeURIComponent(state.name)}/message`, body);
      if (r.status === 200 || r.status === 201) {
        m.text.value = "";
        say(msgNote, t("posted on {board}", { board: state.name }), "ok");
        await showMessage(state.name);
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => ({ ...m, expires_in_s: m.minutes })[path(f)[0]], msgNote, t("not posted"));
        return;
      }
      await refused(r, msgNote, t("not posted"));
    }
    async function clearMessage() {
      const r = await api("DELETE", `/api/v1/boards/${encodeURIComponent(state.name)}/message`);
      if (r.status !== 204) { await refused(r, msgNote, t("not taken down")); return; }
      say(msgNote, t("taken down from {board}", { board: state.name }), "ok");
      await showMessage(state.name);
    }
    const messageForm = el("form", { id: "board-msg-form", novalidate: true, onsubmit: postMessage },
      el("h3", {}, t("Message on the board's TVs")), msgNow,
      el("div", { className: "fields" }, field(t("Message"), m.text), field(t("Level"), m.level),
        field(t("Minutes"), m.minutes, t("1 to 1440")),
        el("button", { type: "submit", id: "board-msg-post", className: "btn primary" }, t("Post")),
        el("button", { type: "button", id: "board-msg-clear", className: "btn", onclick: clearMessage },
          t("Take down"))),
      msgNote);
    function preview(name) {
      if (!name) {
        frame.replaceChildren(el("p", { className: "preview-empty" }, t("Save the board to preview it.")));
        return;
      }
      const iframe = el("iframe", { title: t("TV preview of board {board}", { board: name }), tabindex: "-1",
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
      if (!BOARD_NAME.test(name)) {
        fail(c.name, t("lower case letters, digits, _ and -, at most 64, starting with a letter or digit"));
      }
      const pages = [...pagesBox.children].map((node) => {
        const r = node.wbControls;
        for (const control of Object.values(r)) setError(control, "");
        const seconds = r.seconds.value.trim();
        if (!WHOLE.test(seconds)) fail(r.seconds, t("“{value}” is not a whole number of seconds", { value: seconds }));
        return { title: r.title.value.trim(), queues: list(r.queues.value), seconds: Number(seconds) };
      });
      const body = {
        title: c.title.value.trim(), queues: list(c.queues.value), groups: list(c.groups.value),
        teams: list(c.teams.value), tiles: tileBoxes.filter((b) => b.checked).map((b) => b.value), pages,
        group_tiles: c.group_tiles.checked, team_tiles: c.team_tiles.checked, sound: c.sound.checked,
        campaign_tiles: c.campaign_tiles.checked, campaigns: list(c.campaigns.value),
        channels: channelBoxes.filter((b) => b.checked).map((b) => b.value),
        kiosk: c.kiosk.checked, language: c.language.value || null,
        version: state.name === name ? state.version : 0,
      };
      return { name, body, bad };
    }
    async function save(event) {
      event.preventDefault();
      const { name, body, bad } = collect();
      if (bad) { say(note, t("not saved: fix the marked fields (nothing was sent)"), "bad"); bad.focus(); return; }
      const r = await api("PUT", `/api/v1/boards/${encodeURIComponent(name)}`, body);
      if (r.status === 200) {
        await load("");
        select_(name);
        say(note, t("saved board {board}: version {version}", { board: name, version: r.data.version }), "ok");
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => {
          const [top, index, sub] = path(f);
          if (top === "pages" && Number.isInteger(index) && pagesBox.children[index]) {
            return pagesBox.children[index].wbControls[sub] || pagesBox.children[index].wbControls.queues;
          }
          return c[top] || (top === "path" ? c.name : null);
        }, note, t("not saved"));
        return;
      }
      if (r.status === 409) { say(note, t("not saved: {reason}", { reason: why(r) }), "bad"); return; }
      await refused(r, note, t("not saved"));
    }
    async function remove() {
      const name = state.name;
      const r = await api("DELETE", `/api/v1/boards/${encodeURIComponent(name)}`);
      if (r.status !== 204) { await refused(r, note, t("not deleted")); return; }
      await load(t("deleted board {board}", { board: name }));
    }
    const select_ = (name) => fill(name, state.boards[name], true);
    async function load(status) {
      const r = await api("GET", "/api/v1/boards");
      if (r.status !== 200) { await refused(r, note, t("cannot load the boards")); return; }
      state.boards = r.data;
      P.boards = Object.keys(r.data).sort();
      picker.replaceChildren(...P.boards.map((name) => el("button", { type: "button", className: "btn",
        "data-board": name, "aria-pressed": "false", onclick: () => { select_(name); say(note, ""); } },
      state.boards[name].title ? `${name} · ${state.boards[name].title}` : name)),
      el("button", { type: "button", className: "btn", id: "board-new", onclick: () => {
        fill("", { version: 0 }, false);
        say(note, t("a new board: give it a name"));
        c.name.focus();
      } }, t("+ New board")));
      const keep = state.name && state.boards[state.name] ? state.name : P.boards[0];
      if (keep) select_(keep);
      say(note, status || "");
    }
    const form = el("form", { id: "board-form", novalidate: true, onsubmit: save },
      el("div", { className: "fields" }, field(t("Name"), c.name),
        field(t("Title"), c.title, t("shown in the TV's header")),
        field(t("Language"), c.language, t("the language of the board's TVs"))),
      el("div", { className: "fields" },
        field(t("Queues"), c.queues, t("comma-separated; none: every queue")),
        field(t("Groups"), c.groups, t("comma-separated queue groups")),
        field(t("Teams"), c.teams, t("for team tiles; none: every team")),
        field(t("Campaigns"), c.campaigns, t("for campaign tiles; none: every campaign"))),
      el("div", { className: "fields" }, check(c.group_tiles, t("one tile per group")),
        check(c.team_tiles, t("adherence tile per team")),
        check(c.campaign_tiles, t("drop rate tile per campaign")), check(c.sound, t("chime on alarm")),
        check(c.kiosk, t("kiosk: sound without a click"))),
      el("fieldset", { className: "tiles", "aria-describedby": "board-tiles-error" },
        el("legend", {}, t("Tiles (none ticked: the standard set)")),
        tileBoxes.map((box, i) => el("label", { className: "check" }, box, t(C.tiles[i].label))), tilesError),
      el("fieldset", { className: "tiles", id: "board-channels", "aria-describedby": "board-channels-error" },
        el("legend", {}, t("Channels (none ticked: every channel)")),
        labelled("channels", C.channels).map(([, text], i) => el("label", { className: "check" }, channelBoxes[i],
          text)), channelsError),
      el("h3", {}, t("Rotation")),
      el("p", { className: "ops-hint" },
        t("Pages the TV turns through, each with its queues and seconds; none: one page.")),
      pagesBox,
      el("div", { className: "actions" },
        el("button", { type: "submit", id: "board-save", className: "btn primary" }, t("Save board")),
        el("button", { type: "button", className: "btn", id: "board-add-page", onclick: () => pageRow({}) },
          t("Add rotation page")),
        armed(t("Delete board"), t("Click again to delete"), remove, { id: "board-delete" })),
      note);
    section.append(picker, el("div", { className: "board-grid" }, form,
      el("div", {}, el("h3", {}, t("Preview (the stored board, as a TV shows it)")), frame, messageForm)));
    return { load: () => load("") };
  }

  // ---- display tokens (each bound to a board: /api/v1/boards/{board}/tokens) ------------------------------------------
  function tokens(section) {
    const note = message("token-message");
    const board = el("select", { id: "token-board" });
    const label = el("input", { id: "token-label", type: "text", maxlength: "200", placeholder: t("e.g. floor 2 TV") });
    const once = el("div", { id: "token-once", className: "token-once", hidden: true, role: "region",
      "aria-label": t("The new display token") });
    const rows = el("tbody", { id: "token-rows" });
    const base = (name) => `/api/v1/boards/${encodeURIComponent(name)}/tokens`;
    function shown(data) {
      const url = data.url ||
        `${location.origin}${P.config.tv_prefix}/${encodeURIComponent(data.board)}?token=${encodeURIComponent(data.token)}`;
      const qr = typeof data.qr === "string" && data.qr.startsWith("data:") ? data.qr : null;
      once.replaceChildren(
        el("div", {},
          el("p", {}, el("strong", {}, t("Copy it now: this token is shown only once."))),
          el("p", {}, t("Token:"), " ", el("code", { className: "mono", id: "token-value" }, data.token)),
          el("p", {}, t("TV URL:"), " ", el("a", { id: "token-url", className: "mono", href: url, target: "_blank",
            rel: "noopener" }, url)),
          el("button", { type: "button", className: "btn", onclick: () => { once.hidden = true; label.focus(); } },
            t("Done"))),
        qr ? el("img", { id: "token-qr", src: qr, alt: t("QR code of the TV URL for board {board}", { board: data.board }) })
          : "");
      once.hidden = false;
    }
    async function create(event) {
      event.preventDefault();
      setError(label, "");
      setError(board, "");
      if (!board.value) { setError(board, t("choose a board")); board.focus(); return; }
      const r = await api("POST", base(board.value), { label: label.value.trim() });
      if (r.status === 201) {
        shown(r.data);
        label.value = "";
        await load(t("created token {token} for board {board}", { token: r.data.id, board: r.data.board }));
        return;
      }
      if (r.status === 422) {
        showProblems(r.data.detail, (f) => ({ label, name: board })[path(f).pop()], note, t("not created"));
        return;
      }
      if (r.status === 404) {
        setError(board, why(r));
        say(note, t("not created: {reason}", { reason: why(r) }), "bad");
        return;
      }
      await refused(r, note, t("not created"));
    }
    const revoke = (token) => async () => {
      const r = await api("DELETE", `${base(token.board)}/${encodeURIComponent(token.id)}`);
      if (r.status !== 204) { await refused(r, note, t("not revoked")); return; }
      await load(t("revoked token {token}", { token: token.id }));
    };
    async function load(status) {
      const got = await api("GET", "/api/v1/boards");
      if (got.status !== 200) { await refused(got, note, t("cannot list the boards")); return; }
      const names = Object.keys(got.data).sort();
      const chosen = board.value || names[0];
      board.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === chosen }, n)));
      const found = [];
      for (const name of names) {
        const r = await api("GET", base(name));
        if (r.status !== 200) { await refused(r, note, t("cannot list the tokens")); return; }
        found.push(...r.data);
      }
      rows.replaceChildren(...found.map((tok) => el("tr", { "data-token": tok.id },
        el("td", { className: "mono" }, tok.id), el("td", {}, tok.board), el("td", {}, tok.label),
        el("td", {}, when(tok.created)),
        el("td", {}, armed(t("Revoke"), t("Click again to revoke"), revoke(tok),
          { "aria-label": t("Revoke token {token}", { token: tok.id }) })))));
      if (!found.length) {
        rows.append(el("tr", {}, el("td", { colspan: "5", className: "ops-hint" }, t("No display token."))));
      }
      say(note, status || "", status ? "ok" : "");
    }
    section.append(
      el("form", { id: "token-form", novalidate: true, onsubmit: create },
        el("div", { className: "fields" }, field(t("Board"), board, t("the only board the TV may open")),
          field(t("Label"), label, t("where the TV hangs")),
          el("button", { type: "submit", id: "token-create", className: "btn primary" }, t("Create token")))),
      once, note,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "token-table" },
        el("thead", {}, el("tr", {}, [t("Id"), t("Board"), t("Label"), t("Created"), t("Actions")]
          .map((h) => el("th", { scope: "col" }, h)))),
        rows)));
    return { load: () => load("") };
  }

  // ---- users ---------------------------------------------------------------------------------------------------------
  function scopeProblems(values, control, what) {
    const badName = values.find((v) => !SCOPE_NAME.test(v));
    if (badName !== undefined) {
      setError(control, what === "team" ? t("“{name}” is not a team name", { name: badName })
        : t("“{name}” is not a queue name", { name: badName }));
    }
    return badName !== undefined;
  }

  function users(section) {
    const C = P.config;
    const note = message("user-message");
    const rows = el("tbody", { id: "user-rows" });
    const roles = labelled("roles", C.roles);
    const atLeast = () => tn("at least {n} character", "at least {n} characters", C.password_min);
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
      if (!USER_NAME.test(body.name)) {
        setError(a.name, t("lower case letters, digits and _ . @ -, at most 64"));
        bad = true;
      }
      if (body.password.length < C.password_min) {
        setError(a.password, atLeast());
        bad = true;
      }
      bad = scopeProblems(body.teams, a.teams, "team") || bad;
      bad = scopeProblems(body.queues, a.queues, "queue") || bad;
      if (bad) {
        say(note, t("not added: fix the marked fields (nothing was sent)"), "bad");
        section.querySelector("[aria-invalid=true]").focus();
        return;
      }
      const r = await api("POST", "/api/v1/users", body);
      if (r.status === 201) {
        a.name.value = a.password.value = a.teams.value = a.queues.value = "";
        await load(t("added {user} ({role})", { user: r.data.name, role: r.data.role }));
        return;
      }
      if (r.status === 422) { showProblems(r.data.detail, (f) => a[path(f)[0]], note, t("not added")); return; }
      if (r.status === 409) {
        setError(a.name, why(r));
        say(note, t("not added: {reason}", { reason: why(r) }), "bad");
        return;
      }
      await refused(r, note, t("not added"));
    }
    async function patch(user, body, done) {
      const r = await api("PATCH", `/api/v1/users/${encodeURIComponent(user.name)}`, body);
      if (r.status === 200) { await load(done); return null; }
      if (r.status === 422) return r.data.detail;
      if (r.status === 409 || r.status === 404) {
        say(note, t("not changed: {reason}", { reason: why(r) }), "bad");
        return [];
      }
      await refused(r, note, t("not changed"));
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
      const form = el("form", { novalidate: true, "aria-label": t("Change {user}", { user: user.name }) },
        el("div", { className: "fields" }, field(t("Role"), e.role),
          field(t("Teams"), e.teams, t("none: every team")),
          field(t("Queues"), e.queues, t("none: every queue")),
          field(t("New password"), e.password,
            tn("blank: unchanged; at least {n} character", "blank: unchanged; at least {n} characters", C.password_min)),
          el("label", { className: "check" }, withError(e.may_monitor)[0], t("may listen to calls"))),
        el("div", { className: "actions" },
          el("button", { type: "submit", className: "btn primary" }, t("Save {user}", { user: user.name })),
          el("button", { type: "button", className: "btn", onclick: close }, t("Cancel"))));
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
          setError(e.password, atLeast());
          bad = true;
        }
        if (bad) { say(note, t("not changed: fix the marked fields (nothing was sent)"), "bad"); return; }
        if (!Object.keys(body).length) { say(note, t("{user}: nothing changed", { user: user.name })); close(); return; }
        const done = t("changed {user}: {fields}", { user: user.name, fields: Object.keys(body).join(", ") });
        const problems = await patch(user, body, done);
        if (problems && problems.length) showProblems(problems, (f) => e[path(f)[0]], note, t("not changed"));
      });
      const edit = el("tr", { className: "user-edit" }, el("td", { colspan: "6" }, form));
      tr.after(edit);
      e.role.focus();
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/users");
      if (r.status !== 200) { await refused(r, note, t("cannot list the users")); return; }
      rows.replaceChildren(...r.data.map((user) => {
        const who = { user: user.name };
        const scope = [user.teams.length ? t("teams {names}", { names: user.teams.join(", ") }) : "",
          user.queues.length ? t("queues {names}", { names: user.queues.join(", ") }) : ""]
          .filter(Boolean).join(" · ") || t("whole site");
        const role = t(C.labels.roles[user.role] || user.role);
        const tr = el("tr", { "data-user": user.name }, el("td", {}, user.name), el("td", {}, role),
          el("td", {}, scope), el("td", {}, user.may_monitor ? t("yes") : t("no")),
          el("td", {}, el("span", { className: user.disabled ? "pill off" : "pill" },
            user.disabled ? t("disabled") : t("active"))));
        const toggle = user.disabled
          ? el("button", { type: "button", className: "btn",
            onclick: () => patch(user, { disabled: false }, t("enabled {user}", who)) }, t("Enable {user}", who))
          : armed(t("Disable {user}", who), t("Click again to disable"),
            () => patch(user, { disabled: true }, t("disabled {user}", who)));
        tr.append(el("td", { className: "actions" },
          el("button", { type: "button", className: "btn", onclick: () => editor(user, tr) }, t("Edit {user}", who)),
          toggle));
        return tr;
      }));
      say(note, status || "", status ? "ok" : "");
    }
    section.append(
      el("h3", {}, t("Add a user")),
      el("form", { id: "user-form", novalidate: true, onsubmit: add },
        el("div", { className: "fields" }, field(t("Name"), a.name), field(t("Role"), a.role),
          field(t("Password"), a.password, atLeast()),
          field(t("Teams"), a.teams, t("comma-separated; none: every team")),
          field(t("Queues"), a.queues, t("comma-separated; none: every queue")),
          el("button", { type: "submit", id: "user-add", className: "btn primary" }, t("Add user")))),
      note,
      el("h3", {}, t("Users")),
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "user-table" },
        el("thead", {}, el("tr", {}, [t("Name"), t("Role"), t("Scope"), t("Monitor"), t("Status"), t("Actions")]
          .map((h) => el("th", { scope: "col" }, h)))), rows)));
    return { load: () => load("") };
  }

  // ---- schedules -----------------------------------------------------------------------------------------------------
  function schedules(section) {
    const note = message("sched-message");
    const current = el("p", { id: "sched-current", className: "ops-hint" });
    const file = el("input", { id: "sched-file", type: "file", accept: ".csv,text/csv" });
    const mode = select("sched-mode", [["replace", t("replace the whole schedule")],
      ["merge", t("merge: replace only the agents and days in the file")]], "replace");
    const rejected = el("tbody", { id: "sched-rows" });
    const table = el("table", { className: "ops-table", id: "sched-problems", hidden: true },
      el("caption", { className: "ops-hint" }, t("Rejected rows (nothing was stored)")),
      el("thead", {}, el("tr", {}, [t("Row"), t("Line"), t("Reason")].map((h) => el("th", { scope: "col" }, h)))),
      rejected);
    async function upload(event) {
      event.preventDefault();
      setError(file, "");
      table.hidden = true;
      if (!file.files.length) { setError(file, t("choose a CSV file")); file.focus(); return; }
      const text = await file.files[0].text();
      const r = await api("PUT", `/api/v1/schedules?mode=${mode.value}`, text, "text/csv");
      if (r.status === 200) {
        const s = r.data;
        const counts = { version: s.version, slots: s.slots, agents: s.agents, days: s.days, first: s.first_day,
          last: s.last_day };
        await load(s.first_day
          ? t("imported: version {version}, {slots} slots, {agents} agents, {days} days ({first} to {last})", counts)
          : t("imported: version {version}, {slots} slots, {agents} agents, {days} days", counts));
        return;
      }
      if (r.status === 422 && Array.isArray(r.data.detail)) {
        const lines = text.split(/\r?\n/);
        rejected.replaceChildren(...r.data.detail.map((p) => el("tr", { "data-row": p.row },
          el("td", {}, p.row ? String(p.row) : t("file")), el("td", { className: "mono" }, p.row ? (lines[p.row] ?? "") : ""),
          el("td", {}, p.reason))));
        table.hidden = false;
        const n = r.data.detail.length;
        say(note, tn("not imported: {n} problem (below)", "not imported: {n} problems (below)", n), "bad");
        return;
      }
      if ([409, 413, 415].includes(r.status)) {
        say(note, t("not imported: {reason}", { reason: why(r) }), "bad");
        return;
      }
      await refused(r, note, t("not imported"));
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/schedules");
      if (r.status !== 200) { await refused(r, note, t("cannot read the schedule")); return; }
      const agents = new Set(r.data.slots.map((s) => s.agent)).size;
      const values = { version: r.data.version, slots: r.data.slots.length, agents, user: r.data.updated_by,
        when: when(r.data.updated_ts) };
      if (!r.data.version) current.textContent = t("No schedule imported yet.");
      else if (r.data.updated_by) {
        current.textContent = t("In force: version {version}, {slots} slots for {agents} agents, imported by {user} {when}",
          values);
      } else current.textContent = t("In force: version {version}, {slots} slots for {agents} agents", values);
      say(note, status || "", status ? "ok" : "");
    }
    section.append(current,
      el("form", { id: "sched-form", novalidate: true, onsubmit: upload },
        el("div", { className: "fields" },
          field(t("Schedule file (CSV)"), file, t("columns agent, date, start, end, activity (site-local times)")),
          field(t("Mode"), mode),
          el("button", { type: "submit", id: "sched-upload", className: "btn primary" }, t("Upload")))),
      note, el("div", { className: "table-wrap" }, table));
    return { load: () => load("") };
  }

  // ---- alerts --------------------------------------------------------------------------------------------------------
  // An alert's state in words: firing, acknowledged (by whom), snoozed (until when); an unknown one as it is.
  function alertState(alert) {
    const words = { firing: t("firing"), acknowledged: t("acknowledged"), snoozed: t("snoozed") };
    const values = { state: words[alert.state] || alert.state, user: alert.acknowledged_by,
      when: when(alert.snoozed_until) };
    if (alert.acknowledged_by && alert.snoozed_until) return t("{state} by {user} until {when}", values);
    if (alert.acknowledged_by) return t("{state} by {user}", values);
    if (alert.snoozed_until) return t("{state} until {when}", values);
    return values.state;
  }

  function alerts(section) {
    const note = message("alert-message");
    const rows = el("tbody", { id: "alert-rows" });
    const sent = (action, name) => {
      if (action === "ack") return t("ack sent for {name}: the next snapshot shows it", { name });
      if (action === "snooze") return t("snooze sent for {name}: the next snapshot shows it", { name });
      return t("unsnooze sent for {name}: the next snapshot shows it", { name });
    };
    const doing = (action) => ({ ack: t("not acknowledged"), snooze: t("not snoozed") }[action] || t("not unsnoozed"));
    const act = (alert, action, body) => async () => {
      const r = await api("POST", `/api/v1/alerts/${encodeURIComponent(alert.alert_id)}/${action}`, body);
      if (r.status === 202) {
        say(note, sent(action, alert.label || alert.threshold_id), "ok");
        setTimeout(() => { if (P.shown === "alerts") load(""); }, 1500);
        return;
      }
      if ([404, 409, 503].includes(r.status)) { say(note, `${doing(action)}: ${why(r)}`, "bad"); return; }
      await refused(r, note, doing(action));
    };
    function row(alert) {
      const key = safe(alert.alert_id);
      const name = alert.label || alert.threshold_id;
      const minutes = select(`alert-${key}-minutes`,
        P.config.snooze_minutes.map((m) => [String(m), t("{minutes} min", { minutes: m })]), "30",
        { "aria-label": t("snooze {name} for", { name }) });
      return el("tr", { "data-alert": alert.alert_id },
        el("td", { className: `lvl-${alert.level}` }, alert.level === "alarm" ? t("■ alarm") : t("▲ warn")),
        el("td", {}, name), el("td", {}, `${alert.target.kind}:${alert.target.name}`), el("td", {}, alert.reason),
        el("td", {}, alertState(alert)),
        el("td", {}, when(alert.since)),
        el("td", { className: "actions" },
          alert.state === "firing"
            ? el("button", { type: "button", className: "btn", onclick: act(alert, "ack") },
              t("Acknowledge {name}", { name })) : "",
          alert.state === "snoozed"
            ? el("button", { type: "button", className: "btn", onclick: act(alert, "unsnooze") },
              t("Unsnooze {name}", { name }))
            : [minutes, el("button", { type: "button", className: "btn",
              onclick: () => act(alert, "snooze", { minutes: Number(minutes.value) })() }, t("Snooze {name}", { name }))]));
    }
    async function load(status) {
      const r = await api("GET", "/api/v1/alerts");
      if (r.status === 503) {
        rows.replaceChildren();
        say(note, t("no snapshot yet: is the engine running?"), "bad");
        return;
      }
      if (r.status !== 200) { await refused(r, note, t("cannot list the alerts")); return; }
      rows.replaceChildren(...r.data.alerts.map(row));
      if (!r.data.alerts.length) {
        rows.append(el("tr", {}, el("td", { colspan: "7", className: "ops-hint" }, t("No open alert."))));
      }
      say(note, status || t("as of {when}", { when: when(r.data.ts) }));
    }
    section.append(
      el("div", { className: "actions" }, el("button", { type: "button", className: "btn", id: "alert-refresh",
        onclick: () => load("") }, t("Refresh"))),
      note,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "alert-table" },
        el("thead", {}, el("tr", {}, [t("Level"), t("Alert"), t("Target"), t("Reason"), t("State"), t("Since"),
          t("Actions")]
          .map((h) => el("th", { scope: "col" }, h)))), rows)));
    return { load: () => load("") };
  }

  // ---- the audit trail -----------------------------------------------------------------------------------------------
  function audit(section) {
    const note = message("audit-message");
    const rows = el("tbody", { id: "audit-rows" });
    const action = el("input", { id: "audit-action", type: "text", placeholder: t("e.g. thresholds.update") });
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
        const shown = keys.slice(0, 4).map((k) => `${k}: ${short(old[k])} → ${short(now[k])}`);
        if (keys.length > 4) shown.push(tn("+{n} more", "+{n} more", keys.length - 4));
        return shown.join("; ");
      }
      return `${short(old ?? undefined)} → ${short(now ?? undefined)}`;
    }
    const older = el("button", { type: "button", className: "btn", id: "audit-older", disabled: true }, t("Older →"));
    const newer = el("button", { type: "button", className: "btn", id: "audit-newer", disabled: true }, t("← Newer"));
    async function load(before) {
      const query = new URLSearchParams({ count: String(P.config.audit_page) });
      if (before) query.set("before", before);
      if (action.value.trim()) query.set("action", action.value.trim());
      const r = await api("GET", `/api/v1/audit?${query}`);
      if (r.status !== 200) { await refused(r, note, t("cannot read the audit trail")); return false; }
      rows.replaceChildren(...r.data.map((e) => el("tr", { "data-entry": e.id },
        el("td", {}, when(e.ts)), el("td", {}, e.actor), el("td", { className: "mono" }, e.action),
        el("td", {}, e.target), el("td", { className: "mono", title: JSON.stringify({ old: e.old, new: e.new }) }, change(e)))));
      if (!r.data.length) rows.append(el("tr", {}, el("td", { colspan: "5", className: "ops-hint" }, t("Nothing here."))));
      older.disabled = r.data.length < P.config.audit_page;
      older.wbBefore = r.data.length ? r.data[r.data.length - 1].id : null;
      newer.disabled = pages.length === 0;
      const n = r.data.length;
      say(note, before ? tn("{n} entry (older page)", "{n} entries (older page)", n)
        : tn("{n} entry, newest first", "{n} entries, newest first", n));
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
        el("div", { className: "fields" }, field(t("Action"), action, t("blank: every action")),
          el("button", { type: "submit", className: "btn primary", id: "audit-show" }, t("Show")), newer, older)),
      note,
      el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "audit-table" },
        el("thead", {}, el("tr", {}, [t("When"), t("Who"), t("Action"), t("Target"), t("Change")]
          .map((h) => el("th", { scope: "col" }, h)))),
        rows)));
    return { load: () => { pages.length = 0; return load(null); } };
  }

  const BUILDERS = { thresholds, boards, tokens, users, schedules, alerts, audit };
  window.dash_clientside = Object.assign({}, window.dash_clientside, { ops: { start } });
})();
