/* The ops page's users and schedules sections: ops.js builds them once logged in, with its kit (the
 * page's state P, the DOM and API helpers, the validation patterns); see ops.js and dash_app/ops.py. */
"use strict";
window.wbOpsParts = Object.assign(window.wbOpsParts || {}, {
  people(kit) {
    const { P, t, tn, $, el, safe, field, withError, setError, select, message, say, list, when, armed, api, why,
      refused, showProblems, path, labelled, USER_NAME, SCOPE_NAME } = kit;
    // ---- users ----------------------------------------------------------------------------------------------------
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

    // ---- schedules ------------------------------------------------------------------------------------------------
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
    return { users, schedules };
  },
});
