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
      P.sections[s.key] = { section, button, ...BUILDERS()[s.key](section) };
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

  // The sections: those of this file, and those of ops-boards.js and ops-people.js (window.wbOpsParts), built once
  // the page is started (their kit holds P).
  let builders = null;
  function BUILDERS() {
    if (builders) return builders;
    const kit = { P, t, tn, I18N, $, el, safe, field, withError, setError, addError, select, message, say, list, when,
      numberText, parseNumber, armed, api, why, refused, showProblems, path, labelled, NUMBER, WHOLE, BOARD_NAME,
      USER_NAME, SCOPE_NAME, ARM_MS };
    const parts = window.wbOpsParts;
    builders = { thresholds, ...parts.boards(kit), ...parts.people(kit), alerts, audit };
    return builders;
  }
  window.dash_clientside = Object.assign({}, window.dash_clientside, { ops: { start } });
})();
