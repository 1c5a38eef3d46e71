/* The supervisor view's alert list and alarm notifications: supervisor.js builds them when it starts,
 * with its kit (the page's state S, its config, the words and the DOM helpers); see supervisor.js. */
"use strict";
window.wbSupervisorParts = Object.assign(window.wbSupervisorParts || {}, {
  alerts(kit) {
    const { S, config, t, tr, el, $, agentOf, queueName, teamName, campaignName } = kit;
    // Alerts (dash_app.floor.alert_rows): the snapshot's open alerts, alarms first; with a session allowed to,
    // acknowledge, snooze and a note (actions.js's wbAlertActions). Each alert keeps its element across renders, so
    // a note being typed or a menu being open survives the next snapshot.
    const targetLabel = (target) => {
      const kind = (target && target.kind) || "", name = (target && target.name) || "";
      if (kind === "agent") return t("agent {name}", { name: (agentOf(name) || {}).name || name });
      if (kind === "queue") return t("queue {name}", { name: queueName(name) });
      if (kind === "team") return t("team {name}", { name: teamName(name) });
      if (kind === "campaign") return t("campaign {name}", { name: campaignName(name) });
      return kind === "site" ? t("site") : `${kind} ${name}`.trim();
    };
    // HH:MM of an ISO time on the site's clock (floor.clock): the snapshot's tz, else UTC; in the page's language.
    const clock = (iso) => {
      const d = new Date(iso);
      if (Number.isNaN(d.getTime())) return String(iso).slice(11, 16);
      const opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
      try { return window.wbI18n.time(d, { ...opts, timeZone: S.snap.tz || "UTC" }); }
      catch (e) { return window.wbI18n.time(d, { ...opts, timeZone: "UTC" }); }
    };
    const alertStates = () => ({ firing: t("firing"), acknowledged: t("acknowledged"), snoozed: t("snoozed") });
    const stateWords = (a) => {
      if (a.state === "acknowledged" && a.acknowledged_by) return t("acknowledged by {user}", { user: a.acknowledged_by });
      if (a.state === "snoozed" && a.snoozed_until) return t("snoozed until {time}", { time: clock(a.snoozed_until) });
      const state = a.state || "firing";
      return alertStates()[state] || state;
    };
    const metricWords = (m) => (config.metric_words[m] ? tr(config.metric_words[m]) : String(m || "").replaceAll("_", " "));
    const alertRows = (snap) => (snap.alerts || []).map((a) => ({
      id: String(a.alert_id || ""), level: String(a.level || ""),
      cue: config.level_cues[a.level] ? tr(config.level_cues[a.level]) : String(a.level || ""),
      title: String(a.label || metricWords(a.metric)), target: targetLabel(a.target),
      reason: String(a.reason || ""), state: a.state || "firing", state_words: stateWords(a), note: String(a.note || ""),
      since: a.since ? clock(a.since) : "",
    }));
    const alertItems = new Map();  // alert id -> its <li>
    const alertTools = (id) => {
      const result = el("span", { className: "sup-alert-result", role: "status" });
      const say = (r, done) => {
        result.textContent = r.ok ? `${done} ✔` : t("failed: {why}", { why: r.why });
        result.classList.toggle("failed", !r.ok);
      };
      const ack = el("button", { type: "button", className: "sup-alert-ack" }, t("Acknowledge"));
      ack.addEventListener("click", async () => say(await window.wbAlertActions.ack(id), t("acknowledged")));
      const snooze = el("select", { className: "sup-alert-snooze" }, el("option", { value: "" }, t("Snooze…")),
        ...config.snooze_minutes.map((m) => el("option", { value: String(m) }, t("{minutes} min", { minutes: m }))));
      snooze.setAttribute("aria-label", t("Snooze for"));
      snooze.addEventListener("change", async () => {
        const minutes = Number(snooze.value);
        snooze.value = "";
        if (minutes) say(await window.wbAlertActions.snooze(id, minutes), t("snoozed {minutes} min", { minutes }));
      });
      const note = el("input", { type: "text", className: "sup-alert-note", maxLength: 1000, placeholder: t("note") });
      note.setAttribute("aria-label", t("Note"));
      const save = el("button", { type: "button", className: "sup-alert-save" }, t("Add note"));
      const send = async () => {
        const text = note.value.trim();
        if (!text) { note.focus(); return; }
        const r = await window.wbAlertActions.note(id, text);
        if (r.ok) note.value = "";
        say(r, t("note added"));
      };
      save.addEventListener("click", send);
      note.addEventListener("keydown", (ev) => { if (ev.key === "Enter") send(); });
      return el("div", { className: "sup-alert-tools" }, ack, snooze, note, save, result);
    };
    const renderAlerts = () => {
      const rows = S.alerts = alertRows(S.snap), box = $("sup-alerts");
      const may = Boolean(window.wbAlertActions && window.wbAlertActions.allowed);
      $("sup-alerts-panel").querySelector("h2").textContent = t("Alerts ({n})", { n: rows.length });
      $("sup-alerts-who").textContent = may || !rows.length ? ""
        : t("To acknowledge or snooze, log in on /ops/ as a supervisor and open this page again.");
      const keep = new Set(rows.map((r) => r.id));
      for (const [id, li] of alertItems) if (!keep.has(id)) { li.remove(); alertItems.delete(id); }
      const items = rows.map((r) => {
        let li = alertItems.get(r.id);
        if (!li) {
          li = el("li", { className: "sup-alert" }, el("div", { className: "sup-alert-head" }),
            el("div", { className: "sup-alert-reason" }), el("div", { className: "sup-alert-state" }));
          li.dataset.alertId = r.id;
          alertItems.set(r.id, li);
        }
        if (may && !li.querySelector(".sup-alert-tools")) li.append(alertTools(r.id));
        li.className = `sup-alert lvl-${r.level} st-${r.state}`;
        // t() outside template literals: the message extractor reads only plain calls
        const since = r.since ? t("since {time}", { time: r.since }) : "";
        const note = r.note ? t("note: {note}", { note: r.note }) : "";
        li.children[0].replaceChildren(el("span", { className: "sup-alert-cue" }, r.cue), el("strong", {}, r.title),
          ` · ${r.target}`, since ? ` · ${since}` : "");
        li.children[1].textContent = r.reason;  // the server's words, as it wrote them
        li.children[2].textContent = note ? `${r.state_words} · ${note}` : r.state_words;
        return li;
      });
      if (!rows.length) { box.replaceChildren(el("li", { className: "sup-none" }, t("no open alerts"))); return; }
      const none = box.querySelector(".sup-none");
      if (none) none.remove();
      items.forEach((li, n) => { if (box.children[n] !== li) box.insertBefore(li, box.children[n] || null); });
    };

    // Browser notifications for alarms, once the user enabled them (the button asks the permission): one per alarm
    // transition, an alert that reaches level alarm (a new alarm, or a warn become alarm). The alarms open when
    // the page loads are known without a notification.
    const NOTIFY_KEY = "wallboard.supervisor.notify";
    const alarms = new Map();  // alert id -> level, as last seen
    let seeded = false;
    S.notified = [];  // every notification shown: [alert id, title] (what the page did, for tests)
    const notifyButton = $("sup-notify");
    const canNotify = () => "Notification" in window && Notification.permission === "granted"
      && localStorage.getItem(NOTIFY_KEY) === "on";
    const showNotifyButton = () => {
      if (!("Notification" in window)) { notifyButton.hidden = true; return; }
      notifyButton.hidden = false;
      const on = canNotify();
      notifyButton.textContent = on ? t("Alarm notifications: on") : Notification.permission === "denied"
        ? t("Notifications blocked by the browser") : t("Enable alarm notifications");
      notifyButton.setAttribute("aria-pressed", String(on));
    };
    notifyButton.addEventListener("click", async () => {
      if (canNotify()) localStorage.setItem(NOTIFY_KEY, "off");
      else if ((await Notification.requestPermission()) === "granted") localStorage.setItem(NOTIFY_KEY, "on");
      showNotifyButton();
    });
    showNotifyButton();
    const notifyAlarms = () => {
      const now = new Map((S.snap.alerts || []).map((a) => [String(a.alert_id), a]));
      for (const [id, a] of now) {
        const was = alarms.get(id);
        if (seeded && a.level === "alarm" && was !== "alarm" && canNotify()) {
          const title = t("Alarm: {alert} · {target}", { alert: a.label || metricWords(a.metric),
            target: targetLabel(a.target) });
          S.notified.push([id, title]);
          try { new Notification(title, { body: a.reason || "", tag: id }); } catch (e) { /* a platform without it */ }
        }
        alarms.set(id, a.level);
      }
      for (const id of [...alarms.keys()]) if (!now.has(id)) alarms.delete(id);
      seeded = true;
    };
    return { renderAlerts, notifyAlarms, showNotifyButton, alertItems };
  },
});
