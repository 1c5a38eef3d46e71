/* The supervisor view's rendering (see dash_app/supervisor.py for the theory of operation): the agent grid, the
 * waiting callers of a queue, the totals and campaigns; the alert list and its notifications (supervisor-alerts.js)
 * and the sparklines (supervisor-trends.js) are parts it builds with its kit when it starts. The websocket, STALE (the data's age: the grid is dimmed and its
 * times stop ticking meanwhile) and "not authorised" on a refused socket (retried slowly) are the shared client's
 * (wallboard-client.js). The rows mirror dash_app/grid.py (agent_row, adherence_fields,
 * exception_words, listed); tests/dash_app/test_supervisor.py compares the page's rows with grid.agent_rows().
 * The agent actions (the rows' "⋯ Actions" menu and their state) and the alert actions (acknowledge, snooze, note)
 * are actions.js's. The totals, display names, alert list and sparkline axis mirror dash_app/floor.py
 * (tests/dash_app/test_supervisor_floor.py compares them); the layout (compact rows, side column, phone) is
 * supervisor.css's, the phone's grid columns (config.phone_columns) this file's.
 * Languages (dash_app/i18n.py): every text is English in t("...") (or marked N_ in Python, the config's words and the
 * grid's headers, translated with tr()); the rows keep raw values, the grid's formatters show words (wbStateWords...).
 * The language is ?lang=, then the profile's of a logged-in user, then the browser's; a change re-renders.
 * Channels and campaigns mirror dash_app/grid.py (channel_chips: the "Channels" column's chips) and dash_app/floor.py
 * (site_channels, queue_cards, campaign_rows); tests/dash_app/test_supervisor_channels.py compares them. */
"use strict";
(() => {
  // Never called at the top level: i18n.js may load after this file.
  const t = (text, values) => window.wbI18n.t(text, values);
  const tn = (singular, plural, n, values) => window.wbI18n.tn(singular, plural, n, values);  // a count (i18n.js)
  const tr = (text, values) => window.wbI18n.t(text, values);  // a message marked N_ in Python (the config's words)
  // the config's, once started (the grid's formatters)
  const words = { states: {}, cues: {}, exceptions: {}, channels: {}, channelCues: {}, channelStates: {} };
  const channelWord = (c) => (words.channels[c] ? tr(words.channels[c]) : String(c ?? ""));
  const chipCount = (n) => (Number.isInteger(n) ? String(n) : "?");
  const known = (table, value) => Object.values(table).includes(value);
  // The grid's value getter and formatter (dash-ag-grid looks function names up in dashAgGridFunctions): this file
  // loads before the Dash renderer, so they exist before the grid does.
  window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
    wbElapsed: (ms) => (Number.isFinite(ms) ? Math.max(0, (Date.now() - ms) / 1000) : null),
    wbDuration: (seconds) => {
      if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
      const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      const ss = String(s % 60).padStart(2, "0");
      return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
    },
    // Display only: the rows and the grid's filters keep the raw values (dash_app.grid.STATE_NAMES and the others).
    wbStateWords: (state) => (words.states[state] ? tr(words.states[state]) : state ?? ""),
    wbTr: (value) => (known(words.cues, value) ? tr(value) : value ?? ""),
    wbExceptionWords: (value) => {
      const text = String(value ?? ""), unmapped = words.exceptions.unmapped_reason;
      if (unmapped && text.startsWith(`${unmapped}: `)) {
        return t("unmapped reason: {reason}", { reason: text.slice(unmapped.length + 2) });
      }
      return known(words.exceptions, text) ? tr(text) : text;
    },
    wbPercent: (value) => window.wbI18n.percent(value, 0),
    wbHeader: (text) => (text ? tr(text) : ""),
    // The "Channels" column's value (its filter and sort): the chips' text, "Chat 2/3, Email 0/5".
    wbChannelText: (chips) => (chips || []).map((c) => `${channelWord(c.channel)} ${chipCount(c.open)}/${chipCount(c.capacity)}`)
      .join(", "),
  });
  // The "Channels" cell: one chip per channel (grid.channel_chips), its state as a cue and a colour, in words in
  // its tooltip.
  function WbChannels(props) {
    const h = window.React.createElement;
    return h("span", { className: "wb-chips" }, ...(props.data.channels || []).map((c) => {
      const count = `${chipCount(c.open)}/${chipCount(c.capacity)}`, state = words.channelStates[c.state];
      const title = t("{channel}: {count} open · {state}", { channel: channelWord(c.channel), count,
        state: state ? tr(state) : t("state unknown") });
      return h("span", { key: c.channel, className: `wb-chip wb-ch-${c.state || "unknown"}`, title,
        "data-channel": c.channel }, `${words.channelCues[c.state] || "?"} ${channelWord(c.channel)} ${count}`);
    }));
  }
  window.dashAgGridComponentFunctions = Object.assign(window.dashAgGridComponentFunctions || {}, { WbChannels });
  // The grid's column headers (dash_app.grid's N_ texts: each column's headerValueGetter is wbHeader) and their
  // tooltips in the page's language: the grid takes its column definitions again, with the tooltips translated from
  // the English ones (kept per grid), and keeps its column state (visible, pinned, widths, sort).
  const englishTips = new WeakMap();  // grid api -> colId -> English tooltip
  const translateColumns = (api) => {
    const defs = api.getColumnDefs();
    if (!defs || !defs.length) return;
    if (!englishTips.has(api)) englishTips.set(api, new Map(defs.map((d) => [d.colId || d.field, d.headerTooltip])));
    const tips = englishTips.get(api);
    api.setGridOption("columnDefs", defs.map((d) => {
      const english = tips.get(d.colId || d.field);
      return english ? { ...d, headerTooltip: tr(english) } : d;
    }));
  };
  window.wbTranslateColumns = translateColumns;  // calls.js's grid too

  // Started by the page's clientside callback (window.dash_clientside.supervisor.start) once the layout is rendered,
  // with the sup-config store's data (dash_app.supervisor._config); the shared client is loaded by then.
  async function start(config) {
    if (window.wbSupervisor) return window.dash_clientside.no_update;
    // What the page holds, for tests: the snapshot, the rows handed to the grid, the sparkline series.
    const S = window.wbSupervisor = { snap: null, skew: 0, trend: {}, lastSample: 0, rows: [], denied: false };
    Object.assign(words, { states: config.state_names, cues: config.cues, exceptions: config.exceptions,
      channels: config.channel_words, channelCues: config.channel_cues, channelStates: config.channel_states });
    const $ = (id) => document.getElementById(id);
    const el = (tag, props, ...children) => {
      const node = Object.assign(document.createElement(tag), props || {});
      node.append(...children);
      return node;
    };
    const fmt = window.dashAgGridFunctions.wbDuration;

    const deny = (why) => {
      S.denied = true;
      S.deniedWhy = why;
      $("sup-denied").textContent = t("Not authorised: {why}", { why: why() });
      $("sup-denied").style.display = "block";
      $("sup-main").style.display = "none";
      $("sup-status").textContent = t("not authorised");
    };
    const allow = () => {  // the credential works again: the page comes back without a reload
      S.denied = false;
      $("sup-denied").style.display = "none";
      $("sup-main").style.display = "";
    };
    const client = S.client = window.wallboardClient.open({
      stale: "sup-stale", staleAge: "sup-stale-age", dim: "sup-main",  // the age of the data the grid shows
      age: "sup-age",
      onAllowed: allow,
      onData: (snap) => {
        S.snap = snap;
        if (snap.ts) S.skew = Date.parse(snap.ts) - Date.now();
        render();
      },
      onRetry: (ms) => {
        const seconds = window.wbI18n.number(ms / 1000, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
        $("sup-status").textContent = t("reconnecting in {seconds} s", { seconds });
      },
      onDenied: () => deny(() => (client.token ? t("this display token is wrong or revoked")
        : t("log in on /ops/ first, or open this page with ?token=<display token>"))),
    });
    $("sup-status").textContent = t("connecting…");
    document.title = t("wallboard · supervisor");
    // The language: ?lang=, then the profile's of the user logged in on /ops/ (a display token has no profile), then
    // the browser's (i18n.js chose from ?lang= and the browser's already).
    if (!client.token) {
      fetch(config.actions.profile_path, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((profile) => { if (profile && profile.language) window.wbI18n.choose(profile.language); })
        .catch(() => { /* no profile: the browser's language */ });
    }

    const grid = await dash_ag_grid.getApiAsync("sup-grid");
    translateColumns(grid);
    // Agent actions (actions.js): offered only to a session that may act, never to a display token.
    const agentOf = (id) => S.snap && (S.snap.agents || {})[id];
    S.actionsReady = window.wbActions.install({
      grid, token: client.token, config: config.actions, agentOf,
      nameOf: (id) => (agentOf(id) || {}).name || id,
      siteQueues: () => Object.keys((S.snap && S.snap.queues) || {}).sort(),
    }).then((page) => { S.actions = page; return Boolean(page); });

    // Alert actions (actions.js): acknowledge, snooze and note, with a session allowed to (never a display token).
    S.alertActionsReady = window.wbAlertActions.install(config.alert_actions).then((allowed) => {
      if (S.snap) renderAlerts();
      return allowed;
    });

    // A phone (PHONE wide at most): the grid keeps config.phone_columns (name, state, time in state) only.
    const PHONE = "(max-width: 700px)";
    const phone = window.matchMedia(PHONE);
    const fitColumns = () => {
      const all = grid.getColumns().map((c) => c.getColId()), keep = new Set(config.phone_columns);
      if (phone.matches) {
        grid.setColumnsVisible(all.filter((id) => !keep.has(id)), false);
        grid.setColumnsVisible([...keep], true);
        grid.setColumnsPinned(["name"], null);
        grid.sizeColumnsToFit();
      } else {
        grid.setColumnsVisible(all.filter((id) => id !== "actions" && id !== "channels"), true);
        grid.setColumnsVisible(["actions"], Boolean(window.wbActions.page));
        grid.setColumnsVisible(["channels"], S.chips);  // only while an agent has another channel than voice
        grid.setColumnsPinned(["name"], "left");
      }
    };
    S.chips = false;
    fitColumns();
    S.actionsReady.then(() => fitColumns());
    phone.addEventListener("change", () => { fitColumns(); renderTrends(); });
    let resized = null;
    window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(renderTrends, 200); });

    // Quick filters: channel, team, queue and state dropdowns narrow the rows handed to the grid; the channel (shown
    // with two channels or more, floor.site_channels) narrows the queues too: the queue lists, "Today", the sparklines.
    const FILTERS = ["channel", "team", "queue", "state"];
    const filterWords = () => ({ channel: [t("channel"), t("all channels")], team: [t("team"), t("all teams")],
      queue: [t("queue"), t("all queues")], state: [t("state"), t("all states")] });
    const selects = {}, filterLabels = {};
    for (const name of FILTERS) {
      const select = el("select", { id: `sup-filter-${name}` }, el("option", { value: "" }));
      select.addEventListener("change", () => (name === "channel" ? render() : showRows()));
      selects[name] = select;
      filterLabels[name] = el("span", {});
      $("sup-filters").append(el("label", { id: `sup-filter-${name}-label` }, filterLabels[name], " ", select));
    }
    // The channel picked ("" all): calls.js narrows the "Today" table with S.queueShown too.
    const queueChannel = (id) => String(((S.snap && S.snap.queues) || {})[id]?.channel || "voice");
    S.channel = "";
    S.queueShown = (id) => !S.channel || queueChannel(id) === S.channel;
    const picker = el("select", { id: "sup-queue-select" }, el("option", { value: "" }));
    // The texts this script writes once (filters, the queue picker): again on a change of language.
    const fixedTexts = () => {
      const fw = filterWords();
      for (const name of FILTERS) {
        filterLabels[name].textContent = fw[name][0];
        selects[name].options[0].textContent = fw[name][1];
      }
      picker.options[0].textContent = t("pick a queue");
    };
    fixedTexts();
    picker.addEventListener("change", () => renderCallers());
    $("sup-queue-pick").append(picker);
    // values: [value, text] pairs (a team's or queue's id and its display name), or plain values.
    const setOptions = (select, values) => {
      const pairs = values.map((v) => (Array.isArray(v) ? v : [v, v]));
      const have = Array.from(select.options).slice(1).map((o) => `${o.value}\t${o.textContent}`);
      if (have.join("\n") === pairs.map((p) => p.join("\t")).join("\n")) return;
      const keep = select.value;
      select.replaceChildren(select.options[0], ...pairs.map(([v, text]) => el("option", { value: v }, text)));
      select.value = pairs.some(([v]) => v === keep) ? keep : "";
    };
    // Display names (dash_app.floor.team_label and queue_label): the snapshot's, else the id.
    const teamName = (id) => String(((S.snap && S.snap.teams) || {})[id]?.name || id);
    const queueName = (id) => String(((S.snap && S.snap.queues) || {})[id]?.display_name || id);

    // Rows: dash_app.grid.agent_row, plus since_ms (since on the browser's clock) for the ticking column.
    const highlights = (alerts) => {
      const out = {};
      for (const a of alerts || []) {
        const kind = config.highlight[a.metric];
        if (!a.target || a.target.kind !== "agent" || !kind || !["warn", "alarm"].includes(a.level)) continue;
        const current = out[a.target.name];
        if (!current || (current.endsWith("-warn") && a.level === "alarm")) out[a.target.name] = `${kind}-${a.level}`;
      }
      return out;
    };
    // Adherence columns: dash_app.grid.adherence_fields and exception_words.
    const exceptionWords = (adh, reason) => {
      const kind = adh.exception;
      if (!kind) return "";
      if (kind === "unmapped_reason") {
        const actual = String(adh.actual || ""), prefix = config.unmapped;
        const found = actual.startsWith(prefix) ? actual.slice(prefix.length) : String(reason || "?");
        return `${config.exceptions[kind]}: ${found}`;
      }
      return config.exceptions[kind] || String(kind).replaceAll("_", " ");
    };
    const adherenceOf = (a) => {
      const adh = a.adherence || {}, status = String(adh.status || "");
      return { scheduled: adh.scheduled || "", adherence: config.cues[status] ?? status, adherence_status: status,
        out_since: adh.out_since ?? null, exception: exceptionWords(adh, a.reason) };
    };
    // grid.channel_chips: every channel but voice (the phone state), in config.channels' order, others after.
    const isCount = (n) => Number.isInteger(n) && typeof n === "number";
    const channelChips = (a) => {
      const entries = a.channels;
      if (!entries || typeof entries !== "object" || Array.isArray(entries)) return [];
      const rank = (c) => { const n = config.channels.indexOf(c); return n < 0 ? config.channels.length : n; };
      return Object.keys(entries).filter((c) => c !== "voice")
        .sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0)).map((c) => {
          const e = entries[c] && typeof entries[c] === "object" ? entries[c] : {};
          return { channel: c, open: isCount(e.open) ? e.open : null, capacity: isCount(e.capacity) ? e.capacity : null,
            state: Object.prototype.hasOwnProperty.call(config.channel_cues, e.state) ? e.state : "" };
        });
    };
    const rowOf = (a, hl) => Object.assign({
      id: a.id, name: a.name || a.id, team: a.team ? teamName(a.team) : "", team_id: a.team || "", state: a.state,
      reason: a.reason || "", since: a.since, time_in_state_s: a.time_in_state_s,
      queues: (a.queues || []).slice().sort().map(queueName).join(", "), queue_ids: (a.queues || []).slice().sort(),
      channels: channelChips(a), channel_ids: [...new Set((a.queues || []).map(queueChannel))].sort(),
      calls_today: a.calls_today || 0, aht_s: a.aht_s ?? null, highlight: hl[a.id] || "",
      handled_today: a.handled_today || 0, missed_rings_today: a.missed_rings_today || 0, idle_s: a.idle_s ?? null,
      last_call_end: a.last_call_end ?? null, occupancy_pct: a.occupancy_pct ?? null,
      since_ms: a.since ? Date.parse(a.since) - S.skew : NaN,
    }, adherenceOf(a), {
      out_since_ms: a.adherence && a.adherence.out_since ? Date.parse(a.adherence.out_since) - S.skew : NaN,
    });
    const showRows = () => {
      const f = Object.fromEntries(FILTERS.map((n) => [n, selects[n].value]));
      const rows = S.rows.filter((r) => (!f.team || r.team_id === f.team) && (!f.state || r.state === f.state)
        && (!f.queue || r.queue_ids.includes(f.queue)) && (!f.channel || r.channel_ids.includes(f.channel)));
      grid.setGridOption("rowData", rows);
    };

    // Queue detail: the picked queue's waiting callers, their wait ticking from when they entered.
    const renderCallers = () => {
      const entry = S.snap && (S.snap.queues || {})[picker.value];
      const box = $("sup-callers");
      if (!entry) { box.replaceChildren(el("p", {}, t("pick a queue"))); return; }
      const calls = (entry.waiting_calls || []).slice().sort((x, y) => x.position - y.position);
      const base = Date.parse(S.snap.ts) - S.skew;
      const head = el("tr", {}, el("th", {}, "#"), el("th", {}, t("Caller")), el("th", {}, t("Wait")));
      const rows = calls.map((c) => {
        const wait = (Date.now() - (base - c.wait_s * 1000)) / 1000;
        const who = el("td", {}, c.caller_name || c.caller || t("unknown"));
        if (c.repeat) {  // called within the repeat window before: a cue in words, not only a colour
          who.append(" ", el("span", { className: "repeat", title: t("called before within the repeat window") },
            t("↻ repeat")));
        }
        const row = el("tr", {}, el("td", {}, String(c.position)), who,
          el("td", { className: "wait" }, fmt(Math.max(0, wait))));
        row.dataset.callId = c.call_id;
        return row;
      });
      const summary = el("p", { id: "sup-callers-summary" }, tn("{n} waiting", "{n} waiting", entry.waiting));
      box.replaceChildren(summary, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
    };

    // Totals (dash_app.floor.state_totals and team_totals): the site's agents by state in the header, per team in
    // the side column.
    const stateTotals = (snap) => {
      const out = Object.fromEntries(config.totals.map(([key]) => [key, 0]));
      for (const a of Object.values(snap.agents || {})) {
        const state = a.state || "logged_out";
        if (state === "logged_out") continue;
        out.logged_in += 1;
        if (state in out) out[state] += 1;
      }
      return out;
    };
    const teamTotals = (snap) => Object.entries(snap.teams || {}).map(([id, team]) => {
      const states = (team && team.agents) || {};
      const row = { id, name: teamName(id), logged_in: 0 };
      for (const [key] of config.totals) if (key !== "logged_in") row[key] = states[key] || 0;
      for (const [state, n] of Object.entries(states)) if (state !== "logged_out") row.logged_in += n || 0;
      return row;
    }).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    const renderTotals = () => {
      const totals = S.totals = stateTotals(S.snap), teams = S.teamTotals = teamTotals(S.snap);
      $("sup-totals").replaceChildren(...config.totals.map(([key, words]) => {
        const span = el("span", { className: "sup-total" }, tr(words), el("b", {}, String(totals[key])));
        span.dataset.total = key;
        return span;
      }));
      const head = el("tr", {}, el("th", { scope: "col" }, t("Team")),
        ...config.totals.map(([, words]) => el("th", { scope: "col" }, tr(words))));
      const rows = teams.map((team) => {
        const row = el("tr", {}, el("td", {}, team.name),
          ...config.totals.map(([key]) => el("td", {}, String(team[key]))));
        row.dataset.team = team.id;
        return row;
      });
      $("sup-teams").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
    };

    // Channels and campaigns (dash_app.floor.site_channels, queue_cards, campaign_rows).
    const byCode = (x, y) => (x < y ? -1 : x > y ? 1 : 0);  // as Python's sorted(): code points, not the locale
    const siteChannels = (snap) => {
      const found = new Set(Object.keys(snap.queues || {}).map(queueChannel));
      return [...config.channels.filter((c) => found.has(c)),
        ...[...found].filter((c) => !config.channels.includes(c)).sort(byCode)];
    };
    const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
    const int = (v) => (Number.isInteger(v) ? v : null);
    const queueCards = (snap, channel) => Object.keys(snap.queues || {}).sort(byCode)
      .filter((id) => !channel || queueChannel(id) === channel).map((id) => {
        const own = queueChannel(id), interval = (snap.queues[id] || {}).interval || {};
        const digital = config.first_response_channels.includes(own);
        return { id, name: queueName(id), channel: own,
          first_response_s: digital ? num(interval.avg_first_response_s) : null,
          responded: digital ? int(interval.responded) : null };
      });
    const campaignName = (id) => String(((S.snap && S.snap.campaigns) || {})[id]?.display_name || id);
    const campaignRows = (snap) => Object.entries(snap.campaigns || {}).map(([id, c]) => {
      const entry = c && typeof c === "object" ? c : {};
      const today = entry.today && typeof entry.today === "object" ? entry.today : {};
      const drop = num(entry.drop_rate_pct), limit = num(entry.limit_pct);
      const over = typeof entry.over_limit === "boolean" ? entry.over_limit
        : drop !== null && limit !== null && drop > limit;
      return { id, name: campaignName(id), window_h: num(entry.window_h), limit_pct: limit, drop_rate_pct: drop,
        over_limit: over, attempts: int(today.attempts), connects: int(today.connects),
        connect_rate_pct: num(today.connect_rate_pct) };
    }).sort((x, y) => byCode(x.name, y.name) || byCode(x.id, y.id));
    const pct = (v) => (v === null ? "—" : window.wbI18n.percent(v, 1));
    const renderCampaigns = () => {
      const rows = S.campaigns = campaignRows(S.snap), panel = $("sup-campaigns-panel");
      panel.hidden = rows.length === 0;
      if (!rows.length) { $("sup-campaigns").replaceChildren(); return; }
      const head = el("tr", {}, ...[t("Campaign"), t("Drop rate / limit"), t("Attempts"), t("Connects"),
        t("Connect rate")].map((h) => el("th", { scope: "col" }, h)));
      const body = rows.map((r) => {
        const hours = r.window_h;
        const days = hours !== null && hours >= 48 && hours % 24 === 0 ? hours / 24 : null;
        const span = days !== null ? tn("over the last {n} day", "over the last {n} days", days)
          : hours !== null ? t("over the last {hours} h", { hours: window.wbI18n.number(hours) }) : "";
        const drop = el("td", { className: `sup-drop${r.over_limit ? " lvl-alarm" : ""}`, title: span },
          `${pct(r.drop_rate_pct)} / ${pct(r.limit_pct)}`);
        if (r.over_limit) drop.append(" ", el("span", { className: "sup-over" }, tr(config.over_limit)));
        const row = el("tr", {}, el("th", { scope: "row" }, r.name), drop,
          el("td", {}, r.attempts === null ? "—" : String(r.attempts)),
          el("td", {}, r.connects === null ? "—" : String(r.connects)), el("td", {}, pct(r.connect_rate_pct)));
        row.dataset.campaign = r.id;
        return row;
      });
      $("sup-campaigns").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...body)));
    };

    // The alert list and notifications (supervisor-alerts.js), the sparklines (supervisor-trends.js).
    const kit = { S, config, t, tn, tr, el, $, agentOf, queueName, teamName, campaignName, queueCards, channelWord, fmt,
      PHONE };
    const { renderAlerts, notifyAlarms, showNotifyButton, alertItems } = window.wbSupervisorParts.alerts(kit);
    const { renderTrends, sample } = window.wbSupervisorParts.trends(kit);

    const render = () => {
      const snap = S.snap;
      const hl = highlights(snap.alerts);
      const listed = (a) => a.state !== "logged_out" || ["out", "grace"].includes((a.adherence || {}).status);
      S.rows = Object.values(snap.agents || {}).filter(listed).map((a) => rowOf(a, hl));  // grid.listed
      const named = (ids, name) => ids.map((id) => [id, name(id)]).sort((x, y) => x[1].localeCompare(y[1]));
      // The channel filter: offered with two channels or more (floor.site_channels); its queues only, then.
      const channels = S.channels = siteChannels(snap);
      $("sup-filter-channel-label").hidden = channels.length < 2;
      setOptions(selects.channel, channels.length < 2 ? [] : channels.map((c) => [c, channelWord(c)]));
      S.channel = selects.channel.value;
      const queues = Object.keys(snap.queues || {}).sort().filter(S.queueShown);
      const chips = S.rows.some((r) => r.channels.length > 0);
      if (chips !== S.chips) { S.chips = chips; fitColumns(); }
      setOptions(selects.team, named([...new Set(S.rows.map((r) => r.team_id).filter(Boolean))], teamName));
      setOptions(selects.queue, named(queues, queueName));
      const stateName = window.dashAgGridFunctions.wbStateWords;  // the words shown, the raw state the value
      setOptions(selects.state, [...new Set(S.rows.map((r) => r.state))].sort().map((s) => [s, stateName(s)]));
      setOptions(picker, named(queues, queueName));
      if (!picker.value && queues.length) picker.value = queues[0];
      showRows();
      renderTotals();
      renderCampaigns();
      renderAlerts();
      notifyAlarms();
      renderCallers();
      sample();
      renderTrends();
      $("sup-status").textContent = t("live · {site}", { site: snap.site });  // the data's age beside it: the client's
    };

    // The last hour of samples first (kept in Redis by the engine runner, so a reload loses nothing), then live.
    const headers = client.token ? { Authorization: `Bearer ${client.token}` } : {};
    try {
      const r = await fetch(`/api/v1/trend?minutes=${config.minutes}`, { headers, credentials: "same-origin" });
      if (r.status === 401 || r.status === 403) client.deny();  // the socket is retried slowly all the same
      else if (r.ok) {
        S.trend = await r.json();
        for (const series of Object.values(S.trend)) {
          for (const p of series) S.lastSample = Math.max(S.lastSample, p[0]);
        }
        renderTrends();
      }
    } catch (e) { /* no history: the sparklines start from the live samples */ }
    setInterval(() => {  // time in state, "out for", idle and the callers' waits tick between messages, while fresh
      if (!S.snap || S.denied || client.stale()) return;
      grid.refreshCells({ columns: ["time_in_state", "out_for", "idle"], force: true });
      renderCallers();
    }, 1000);
    // Another language (?lang=, the profile's): every text this script wrote, again; the grid's headers and cells.
    window.wbI18n.onChange(() => {
      document.title = t("wallboard · supervisor");
      fixedTexts();
      translateColumns(grid);
      for (const li of alertItems.values()) {  // the alert tools are built once: anew in the new language
        const tools = li.querySelector(".sup-alert-tools");
        if (tools) tools.remove();
      }
      showNotifyButton();
      if (S.denied && S.deniedWhy) deny(S.deniedWhy);
      else if (!S.snap) $("sup-status").textContent = t("connecting…");
      if (S.snap) render();
      else renderTrends();
      grid.refreshCells({ force: true });
    });
    client.connect();
    return "started";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { supervisor: { start } });
})();
