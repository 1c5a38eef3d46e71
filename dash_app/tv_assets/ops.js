/* The ops page's actions (see dash_app/ops.py for the theory of operation): log in, load, save and reload the
 * thresholds through the REST API. One clientside callback runs act() for every button and returns the callback's
 * 8 outputs, in order; versionText() shows the loaded version. */
"use strict";
(() => {
  async function act(loginClicks, saveClicks, reloadClicks, logoutClicks, name, password, rows, loaded) {
    const ctx = window.dash_clientside.callback_context;
    const action = ctx.triggered_id || "start";
    const nu = window.dash_clientside.no_update;
    const show = {display: "block"}, hide = {display: "none"};
    const api = async (method, path, body) => {
      const headers = {"Content-Type": "application/json"};
      const csrf = document.cookie.split("; ").find((c) => c.startsWith("wb_csrf="));
      if (csrf) { headers["X-CSRF-Token"] = decodeURIComponent(csrf.slice("wb_csrf=".length)); }
      const response = await fetch(path, {method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body)});
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      return {status: response.status, data};
    };
    const problems = (detail, rows) => (Array.isArray(detail) ? detail : [{field: "", reason: String(detail)}])
      .map((p) => {
        const m = /^thresholds\[(\d+)\]\.?(.*)$/.exec(p.field || "");
        const where = m ? `${(rows[+m[1]] || {}).id || "row " + m[1]} · ${m[2] || "row"}` : (p.field || "");
        return {type: "Li", namespace: "dash_html_components", props: {children: `${where}: ${p.reason}`}};
      });
    const loggedOut = (message) => [show, hide, "", nu, nu, message, [], ""];
    const load = async (status) => {
      const me = await api("GET", "/api/v1/me");
      if (me.status !== 200) { return loggedOut(status || ""); }
      if (!me.data.permissions.includes("edit_thresholds")) {
        return loggedOut(`${me.data.name} (${me.data.role}) may not edit thresholds`);
      }
      const got = await api("GET", "/api/v1/thresholds");
      if (got.status !== 200) { return loggedOut(`cannot load the thresholds (${got.status})`); }
      const who = `${me.data.name} (${me.data.role})`;
      return [hide, show, who, got.data.version, got.data.thresholds, status || "", [], ""];
    };
    if (action === "login-button") {
      const r = await api("POST", "/api/v1/login", {name: name || "", password: password || "", cookie: true});
      if (r.status !== 200) {
        const why = r.status === 429 ? (r.data && r.data.detail) : "wrong user name or password";
        return loggedOut(why || `login failed (${r.status})`);
      }
      return load("");
    }
    if (action === "logout-button") {
      await api("POST", "/api/v1/logout");
      return loggedOut("logged out");
    }
    if (action === "save-button") {
      const thresholds = (rows || []).map((row) => Object.fromEntries(
        Object.entries(row).filter(([k, v]) => v !== null && v !== "" && v !== undefined)));
      const r = await api("PUT", "/api/v1/thresholds", {version: loaded, thresholds});
      if (r.status === 200) {
        return [nu, nu, nu, r.data.version, r.data.thresholds, `saved: version ${r.data.version}`, [], nu];
      }
      if (r.status === 422) {
        return [nu, nu, nu, nu, nu, "not saved: fix these", problems(r.data.detail, rows), nu];
      }
      if (r.status === 409) { return [nu, nu, nu, nu, nu, "not saved: someone saved first; reload", [], nu]; }
      if (r.status === 401) { return loggedOut("the session ended; log in again"); }
      return [nu, nu, nu, nu, nu, `not saved (${r.status}): ${(r.data && r.data.detail) || ""}`, [], nu];
    }
    return load(action === "reload-button" ? "reloaded" : "");
  }

  const versionText = (version) => (version === null || version === undefined ? "" : String(version));

  window.dash_clientside = Object.assign({}, window.dash_clientside, { ops: { act, versionText } });
})();
