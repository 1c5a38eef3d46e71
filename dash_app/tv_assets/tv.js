/* The floor TV board's rendering (see dash_app/tv.py for the theory of operation); the websocket, STALE (the data's
 * age; the tiles dimmed meanwhile), the clock and "not authorised" (retried slowly) are the shared client's
 * (wallboard-client.js).
 * Formats, level rules, pending levels, group sums, channel figures and campaign tiles mirror dash_app/figures.py,
 * groups.py and layout.py;
 * tests/dash_app/test_tv.py checks the page shows exactly layout.tile_models() for a snapshot. The grid of tiles
 * and the type sizes are fitted here to the screen (fitBoard; tests/dash_app/test_tv_readable.py measures them).
 * Texts are translated at render time with t() (i18n.js, loaded after this file: never at the top level): the
 * catalogue's labels, words and templates are English message ids; the language is the board's (?lang= first), and
 * a change of language re-renders and refits everything. */
"use strict";
(() => {
  const PAGE_TICK_MS = 250;
  const COUNTDOWN_MS = 1000;
  const LEVELS = ["ok", "warn", "alarm"];
  const MISSING = "—";
  const t = (text, values) => window.wbI18n.t(text, values);

  // -- formats (dash_app/figures.py) --
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const pad = (n) => String(n).padStart(2, "0");
  const fmtCount = (v) => (num(v) === null ? MISSING : String(Math.floor(v + 0.5)));
  const fmtPercent = (v) => (num(v) === null ? MISSING : `${Math.floor(v + 0.5)}%`);
  function fmtDuration(v) {
    if (num(v) === null) return MISSING;
    const s = Math.max(0, Math.floor(v)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
    if (h) return `${h}:${pad(m)}:${pad(x)}`;
    return m ? `${m}:${pad(x)}` : t("{seconds}s", { seconds: x });
  }
  const worst = (levels) => levels.reduce((a, b) => (LEVELS.indexOf(b) > LEVELS.indexOf(a) ? b : a), "ok");
  // a number in a label (an interval's minutes, an SL target): the language's decimal separator, never grouped
  const numberText = (v) => (num(v) === null ? "?" : window.wbI18n.number(v, { maximumFractionDigits: 6, useGrouping: false }));
  const tenth = (v) => window.wbI18n.number(Math.floor(v * 10 + 0.5) / 10,
    { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false });
  // a rate to a tenth against its limit, "1.8% / 3%" (figures.fmt_limit)
  const fmtLimit = (v, limit) => `${num(v) === null ? MISSING : `${tenth(v)}%`} / ${num(limit) === null ? MISSING : `${numberText(limit)}%`}`;
  const FORMATS = { count: fmtCount, duration: fmtDuration, percent: fmtPercent, limit: fmtLimit,
    ratio: (v, other) => `${fmtCount(v)} / ${fmtCount(other)}` };
  const fmt = (kind, v, other) => FORMATS[kind](v, other);

  // -- tile models (dash_app/layout.py) --
  function dig(entry, path) {
    for (const step of path) entry = entry && typeof entry === "object" && !Array.isArray(entry) ? entry[step] : undefined;
    return entry === undefined ? null : entry;
  }
  function alertLevels(alerts, kind = "queue") {  // per (queue, metric), or per (campaign, metric)
    const out = new Map();
    for (const a of alerts || []) {
      const t = a.target || {};
      if (t.kind !== kind || (a.level !== "warn" && a.level !== "alarm")) continue;
      const key = `${t.name}\u0000${a.metric}`;
      out.set(key, worst([out.get(key) || "ok", a.level]));
    }
    return out;
  }
  function teamLevels(alerts, snap) {
    const out = new Map(), agents = snap.agents || {};
    for (const a of alerts || []) {
      const t = a.target || {};
      if (a.level !== "warn" && a.level !== "alarm") continue;
      const team = t.kind === "team" ? t.name : t.kind === "agent" ? (agents[t.name] || {}).team : null;
      if (!team) continue;
      const metric = a.metric === "team_adherence_pct" ? "adherence_pct" : a.metric;  // figures.TEAM_METRIC_SHOWN_AS
      const key = `${team}\u0000${metric}`;
      out.set(key, worst([out.get(key) || "ok", a.level]));
    }
    return out;
  }

  // -- pending levels (dash_app/figures.py): a breach inside its for_s, the level coming and when --
  const instant = (iso) => { const t = Date.parse(iso); return Number.isNaN(t) ? Infinity : t / 1000; };
  function sooner(a, b) {
    if (!a || !b) return a || b || null;
    const ta = instant(a[1]), tb = instant(b[1]);
    if (ta !== tb) return ta < tb ? a : b;
    return LEVELS.indexOf(a[0]) >= LEVELS.indexOf(b[0]) ? a : b;
  }
  function pendingOf(entries, owner) {
    const out = new Map();
    for (const e of entries || []) {
      const name = owner(e.target || {});
      if ((e.level !== "warn" && e.level !== "alarm") || typeof e.due !== "string" || !name) continue;
      const metric = e.metric === "team_adherence_pct" ? "adherence_pct" : e.metric;
      const key = `${name}\u0000${metric}`;
      out.set(key, sooner(out.get(key), [e.level, e.due]));
    }
    return out;
  }
  const pendingLevels = (entries, kind = "queue") => pendingOf(entries, (t) => (t.kind === kind ? String(t.name) : null));
  const teamPending = (entries, snap) => pendingOf(entries, (t) => {
    if (t.kind === "team") return String(t.name);
    if (t.kind === "agent") { const team = ((snap.agents || {})[t.name] || {}).team; return team ? String(team) : null; }
    return null;
  });
  function pendingText(cat, level, due, now, short) {  // "WARN in 1:27", "WARN now"; short: "1:27", "0s"
    const left = instant(due) - now, word = t(cat.words[level]), soon = !Number.isFinite(left) || left <= 0;
    if (short) return fmtDuration(soon ? 0 : Math.ceil(left));
    return soon ? t(cat.pending_now, { level: word })
      : t(cat.pending_in, { level: word, time: fmtDuration(Math.ceil(left)) });
  }

  // -- queue groups (dash_app/groups.py) --
  const FORMULAS = ["offered_minus_short", "offered", "answered"];
  const COUNTERS = ["offered", "answered", "abandoned", "short_abandoned", "answered_within_sl", "handled", "talk_s",
    "hold_s", "wrap_s", "wait_s_answered", "responded", "first_response_s", "first_response_unknown"];
  const CHANNEL_ORDER = ["voice", "callback", "outbound", "chat", "email"];  // groups.CHANNEL_ORDER
  const DIGITAL = ["chat", "email"];  // groups.DIGITAL_CHANNELS
  const AGENT_KEYS = ["logged_in", "available", "ringing", "on_call", "wrap_up", "paused"];
  const BUSY = ["ringing", "on_call", "wrap_up"];
  const count = (w, k) => num(w[k]) || 0;
  const pct = (n, d) => (d <= 0 ? null : Math.min(100, Math.max(0, (100 * n) / d)));
  const ratio = (t, c) => (c <= 0 ? null : Math.max(0, t / c));
  function denominator(w, f) {
    if (f === "answered") return count(w, "answered");
    if (f === "offered") return count(w, "offered");
    return count(w, "offered") - count(w, "short_abandoned");
  }
  function fits(w, f) {
    const published = num(w.service_level_pct), computed = pct(count(w, "answered_within_sl"), denominator(w, f));
    if (published === null || computed === null) return published === null && computed === null;
    return Math.abs(computed - published) <= 1e-6 * Math.max(1, published);
  }
  function slFormula(snap) {
    if (FORMULAS.includes(snap.sl_formula)) return snap.sl_formula;
    const windows = [];
    for (const q of Object.values(snap.queues || {})) {
      for (const n of ["interval", "day"]) if (q && q[n] && typeof q[n] === "object") windows.push(q[n]);
    }
    return FORMULAS.find((f) => windows.every((w) => fits(w, f))) || FORMULAS[0];
  }
  function groupWindow(windows, f) {
    const s = Object.fromEntries(COUNTERS.map((k) => [k, 0]));
    for (const w of windows) for (const k of COUNTERS) s[k] += count(w, k);
    const short = s.short_abandoned;
    return Object.assign(s, {
      service_level_pct: pct(s.answered_within_sl, denominator(s, f)),
      asa_s: ratio(s.wait_s_answered, s.answered),
      aht_s: ratio(s.talk_s + s.hold_s + s.wrap_s, s.handled),
      abandon_rate_pct: pct(s.abandoned - short, s.offered - short),
      avg_first_response_s: ratio(s.first_response_s, s.responded - s.first_response_unknown),
    });
  }
  const snapshotGroups = (snap) => [...new Set(Object.values(snap.queues || {}).map((q) => q && q.group)
    .filter(Boolean).map(String))].sort();
  const queueChannel = (q) => String((q && q.channel) || "voice");  // groups.queue_channel: none named reads as voice
  const ofChannels = (snap, names, channels) =>  // layout.of_channels: those of channels (none: every one), in order
    names.filter((n) => !channels.size || channels.has(queueChannel(dig(snap, ["queues", n]))));
  const groupQueues = (snap, g, channels = new Set()) =>
    ofChannels(snap, Object.keys(snap.queues || {}).filter((n) => (snap.queues[n] || {}).group === g), channels).sort();
  function groupChannels(snap, g, channels) {  // groups.group_channels: in CHANNEL_ORDER, any other after, sorted
    const rank = (c) => (CHANNEL_ORDER.includes(c) ? CHANNEL_ORDER.indexOf(c) : CHANNEL_ORDER.length);
    const found = [...new Set(groupQueues(snap, g, channels).map((n) => queueChannel(snap.queues[n])))];
    return found.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  function digitalState(a, mine, channel, paused) {  // groups._digital_state
    if (mine.every((q) => paused.has(q))) return "paused";
    const c = (a.channels || {})[channel], open = num(c && c.open), cap = num(c && c.capacity);
    return open !== null && cap !== null && open >= cap ? "on_call" : "available";
  }
  function groupAgents(snap, names, channel) {
    const members = new Set(names), out = Object.fromEntries(AGENT_KEYS.map((k) => [k, 0]));
    const agents = Object.values(snap.agents || {});
    if (!agents.length) {
      for (const n of members) {
        const c = ((snap.queues || {})[n] || {}).agents || {};
        for (const k of AGENT_KEYS) out[k] += Math.trunc(num(c[k]) || 0);
      }
      return out;
    }
    for (const a of agents) {
      const mine = (a.queues || []).filter((q) => members.has(q));
      if (!mine.length || a.state === "logged_out") continue;
      out.logged_in += 1;
      const paused = new Set(a.paused_queues || []);
      if (DIGITAL.includes(channel)) out[digitalState(a, mine, channel, paused)] += 1;
      else if (BUSY.includes(a.state)) out[a.state] += 1;
      else if (mine.every((q) => paused.has(q))) out.paused += 1;
      else out.available += 1;
    }
    return out;
  }
  const common = (values) => { const s = new Set(values); return s.size === 1 ? [...s][0] : null; };
  function groupEntry(snap, g, channels, channel) {  // groups.group_entry: the group's queues of one channel
    if (channel == null) channel = groupChannels(snap, g, channels)[0] || "voice";
    const names = channels.size && !channels.has(channel) ? [] : groupQueues(snap, g, new Set([channel]));
    const entries = names.map((n) => snap.queues[n]), f = slFormula(snap);
    const needs = entries.map((q) => num(q.required_agents)).filter((n) => n !== null);
    const waits = entries.map((q) => num(q.longest_wait_s)).filter((n) => n !== null);
    const sum = (k) => entries.reduce((t, q) => t + Math.trunc(num(q[k]) || 0), 0);
    const entry = {
      name: g, group: g, channel, queues: names,
      sl_threshold_s: common(entries.map((q) => q.sl_threshold_s ?? null)),
      sl_target_pct: common(entries.map((q) => q.sl_target_pct ?? null)),
      waiting: sum("waiting"), longest_wait_s: waits.length ? Math.max(...waits) : null,
      waiting_beyond_sl: sum("waiting_beyond_sl"), agents: groupAgents(snap, names, channel),
      required_agents: needs.length ? Math.trunc(needs.reduce((t, n) => t + n, 0)) : null,
    };
    for (const w of ["interval", "day"]) entry[w] = groupWindow(entries.map((q) => q[w] || {}), f);
    return entry;
  }

  // -- tile models (dash_app/layout.py) --
  const boardChannels = (board) => new Set((board.channels || []).map(String));  // layout.board_channels
  function boardQueues(snap, board, pageIndex) {
    const pages = board.pages || [], channels = boardChannels(board);
    if (pages.length) return ofChannels(snap, pages[pageIndex % pages.length].queues.map(String), channels);
    if ((board.queues || []).length) return ofChannels(snap, board.queues.map(String), channels);
    const groups = new Set(board.groups || []);
    const queues = snap.queues || {};
    const every = Object.keys(queues).filter((n) => !groups.size || groups.has(dig(queues[n], ["group"]))).sort();
    return ofChannels(snap, every, channels);
  }
  function boardUnits(snap, board, pageIndex) {
    let units;
    if (board.group_tiles && !(board.pages || []).length) {
      let groups = (board.groups || []).map(String), named = (board.queues || []).map(String);
      if (!groups.length && !named.length) {
        groups = snapshotGroups(snap);
        named = Object.keys(snap.queues || {}).filter((n) => !dig(snap.queues[n], ["group"])).sort();
      }
      const channels = boardChannels(board);
      if (channels.size) {  // a group with no queue of those channels has no tile
        groups = groups.filter((g) => groupQueues(snap, g, channels).length);
        named = ofChannels(snap, named, channels);
      }
      // one tile per group and channel (no queue yet: one empty tile); never summed across channels
      units = groups.flatMap((n) => {
        const found = groupChannels(snap, n, channels);
        return (found.length ? found : ["voice"]).map((c) => ["group", n, c]);
      });
      units.push(...named.map((n) => ["queue", n, ""]));
    } else units = boardQueues(snap, board, pageIndex).map((n) => ["queue", n, ""]);
    if (board.team_tiles) {
      const teams = (board.teams || []).length ? board.teams.map(String) : Object.keys(snap.teams || {}).sort();
      units.push(...teams.map((n) => ["team", n, ""]));
    }
    if (board.campaign_tiles) {
      const named = (board.campaigns || []).map(String);
      units.push(...(named.length ? named : Object.keys(snap.campaigns || {}).sort()).map((n) => ["campaign", n, ""]));
    }
    return units;
  }
  function boardKpis(cat, board) {
    const wanted = new Set((board.tiles || []).length ? board.tiles : cat.kpis.map((k) => k.key));
    return cat.kpis.filter((k) => wanted.has(k.key));
  }
  function windowLabel(cat, k, hours) {  // "Dropped 24 h", whole days from 48 h: "Dropped 30 d" (layout.window_label)
    const h = num(hours);
    if (h === null || h <= 0) return t(k.label);
    if (h >= 48 && h % 24 === 0) return t(cat.dropped_days, { days: numberText(h / 24) });
    return t(cat.dropped_hours, { hours: numberText(h) });
  }
  function channelKpis(cat, kpis, channel) {  // a chat or email queue's own figures (layout.channel_kpis)
    if (!cat.digital_channels.includes(channel)) return kpis;
    return kpis.map((k) => (k.key in cat.digital_kpis ? cat.digital_kpis[k.key] : k)).filter(Boolean);
  }
  function kpiLabel(cat, k, q, minutes) {
    if (k.key === "drop_rate") return windowLabel(cat, k, q.window_h);
    let label = t(k.label);
    if (k.key === "sl_interval" && num(minutes) !== null) label = t(cat.interval_label, { minutes: numberText(minutes) });
    const target = q.sl_target_pct ?? null, threshold = q.sl_threshold_s ?? null;
    if (!k.sl || target === null || threshold === null) return label;
    return `${label} ${numberText(target)}/${numberText(threshold)}`;
  }
  function values(cat, kpis, q, levelOf, pendingOfMetric, minutes) {
    return kpis.map((k) => {
      const level = (k.metric && levelOf(k.metric)) || "ok";
      let pending = (k.metric && pendingOfMetric(k.metric)) || null;
      if (pending && LEVELS.indexOf(pending[0]) <= LEVELS.indexOf(level)) pending = null;  // already there
      return { key: k.key, label: kpiLabel(cat, k, q, minutes), text: fmt(k.format, dig(q, k.path), dig(q, k.other)),
        level, pending, primary: k.primary, format: k.format };
    });
  }
  function tileModels(cat, snap, board, pageIndex) {
    const levels = alertLevels(snap.alerts), kpis = boardKpis(cat, board), minutes = dig(snap, ["interval", "minutes"]);
    const coming = pendingLevels(snap.pending);
    const queueLevel = (name) => (m) => levels.get(`${name}\u0000${m}`) || "ok";
    const queuePending = (name) => (m) => coming.get(`${name}\u0000${m}`) || null;
    const queueWorst = (name) => worst([...levels].filter(([k]) => k.split("\u0000")[0] === name).map(([, v]) => v));
    let teams = null, teamsComing = null, campaigns = null, campaignsComing = null;
    return boardUnits(snap, board, pageIndex).map(([kind, name, channel]) => {
      let title = name, kv, extra = [], badge = "";
      if (kind === "campaign") {  // alarm while over its limit, else its worst open alert (layout._campaign_tile)
        campaigns = campaigns || alertLevels(snap.alerts, "campaign");
        campaignsComing = campaignsComing || pendingLevels(snap.pending, "campaign");
        const entry = dig(snap, ["campaigns", name]) || {}, over = entry.over_limit === true;
        const own = [...campaigns].filter(([k]) => k.split("\u0000")[0] === name).map(([, v]) => v);
        title = String(entry.display_name || name);
        badge = over ? t(cat.over_limit) : "";
        kv = values(cat, cat.campaign_kpis, entry, (m) => {
          const level = campaigns.get(`${name}\u0000${m}`) || "ok";
          return over && m === "campaign_drop_rate_pct" ? "alarm" : level;
        }, (m) => campaignsComing.get(`${name}\u0000${m}`) || null, minutes);
        extra = own;
      } else if (kind === "team") {
        teams = teams || teamLevels(snap.alerts, snap);
        teamsComing = teamsComing || teamPending(snap.pending, snap);
        title = t(cat.team_title, { team: dig(snap, ["teams", name, "name"]) || name });  // layout.py: its display name
        kv = values(cat, cat.team_kpis, dig(snap, ["teams", name]) || {}, (m) => teams.get(`${name}\u0000${m}`) || "ok",
          (m) => teamsComing.get(`${name}\u0000${m}`) || null, minutes);
      } else if (kind === "group") {
        const entry = groupEntry(snap, name, boardChannels(board), channel), badgeText = cat.channel_badges[channel];
        title = window.wbI18n.tn(cat.group_title[0], cat.group_title[1], entry.queues.length, { group: name });
        badge = badgeText ? t(badgeText) : "";
        kv = values(cat, channelKpis(cat, kpis, channel), entry, (m) => worst(entry.queues.map((q) => queueLevel(q)(m))),
          (m) => entry.queues.reduce((a, q) => sooner(a, queuePending(q)(m)), null), minutes);
        extra = entry.queues.map(queueWorst);
      } else {  // a queue: titled with its display name, its channel's badge and figures (layout.tile_models)
        const entry = dig(snap, ["queues", name]) || {}, badgeText = cat.channel_badges[entry.channel];
        title = String(entry.display_name || name);
        badge = badgeText ? t(badgeText) : "";
        kv = values(cat, channelKpis(cat, kpis, entry.channel), entry, queueLevel(name), queuePending(name), minutes);
      }
      const level = worst([...kv.map((v) => v.level), ...extra]);
      const pending = kv.reduce((a, v) => sooner(a, v.pending), null);
      return { kind, name, channel, title, badge, level, icon: cat.icons[level], word: t(cat.words[level]), kpis: kv,
        pending };
    });
  }

  // -- fitting the board to the screen: the grid, and per tile its figure columns and type sizes --
  // Sizes are in units of a tile's headline figure size f (CSS --f, tv.css): secondary figures SEC f, labels LABEL f,
  // the heading at most TITLE f (CSS --t: less when the tile is narrow; its level and a pending cue wrap to the next
  // line when they do not fit beside the title, every line counted, the cue shortened where it would cost the
  // figures their floor: see heading). The floors (vmin: the screen's short side; tv.css has the same) hold whatever
  // the board: FLOOR_F headline, 3.55 secondary, TEXT_MIN any text.
  const SIZES = { sec: 0.58, label: 0.37, title: 0.5, line: 1.12, rowGap: 0.06, blockGap: 0.16, slack: 1.03 };
  const FLOOR_F = 6.1, CAP_F = 18, TEXT_MIN = 2.25;  // vmin
  const PREFER_FEWER = 1.05;  // more columns of tiles only for 5 % bigger figures (wide tiles keep a tile's rows whole)
  const WIDEST = { count: "000", duration: "00:00", percent: "100%", ratio: "00 / 00", limit: "00.0% / 00%" };  // a figure's widest text
  const MARK = " ▲";  // the level glyph after a value, at half size; room for it is kept
  const font = () => getComputedStyle(document.documentElement).getPropertyValue("--font").trim() || "sans-serif";
  const measurer = document.createElement("canvas").getContext("2d");
  const widths = new Map();
  function em(text, bold) {  // the width of text in em of the page's font
    const key = `${bold ? 1 : 0}${text}`;
    if (!widths.has(key)) {
      measurer.font = `${bold ? 700 : 400} 100px ${font()}`;
      widths.set(key, measurer.measureText(text).width / 100);
    }
    return widths.get(key);
  }
  const HEAD_GAP = 0.6;  // em between the heading's parts (tv.css .tile h2 gap)
  const CUE_PAD = 0.6, CUE_BORDER = 0.6;  // the pending cue's padding across (em) and its borders (vmin; tv.css)
  const BADGE_EXTRA = 0.76;  // a title's badge: its padding and borders across (em; tv.css .badge), beside its text
  function titleLines(m, room, t) {  // a title wider than the tile wraps between its words (tv.css), never cut
    if (m.head.title * t <= room) return 1;
    let lines = 1, used = 0;
    for (const word of m.head.words) {
      const width = word * t;
      const gap = m.head.space * t;
      if (used && used + gap + width > room) { lines += 1; used = width; } else used += (used ? gap : 0) + width;
      lines += Math.max(0, Math.ceil(used / room) - 1);  // a word wider than the line breaks inside it
      if (used > room) used %= room;
    }
    return lines;
  }
  function headLines(m, w, t, cue) {  // how many lines the heading takes at size t: flex-wrap puts each part on the
    // line it fits (title, pending cue, level word, in that order; a part wider than the tile has its lines alone)
    const room = w / SIZES.slack, { title, word, border } = m.head;
    let lines = 1, used = 0;
    for (const width of [title * t, cue * t + border, word * t]) {
      const gap = HEAD_GAP * t;
      if (used && used + gap + width > room) { lines += 1; used = width; } else used += (used ? gap : 0) + width;
    }
    return lines + titleLines(m, room, t) - 1;
  }
  function headSize(m, w, f, least, floor, figuresFor, cue) {  // [size, height] of the heading, a cue cue em wide
    // TITLE f at most, the title and the cue each fitting a line alone (else the least); a smaller size (the least,
    // or one that puts two parts on a line: a line fewer) where it gives the figures 5 % more, or their floor:
    // figuresFor(height) is their size with a heading that high
    const room = (w / SIZES.slack) * 0.999, { title, word, border } = m.head;
    const height = (t) => headLines(m, w, t, cue) * t * SIZES.line + border;
    const most = Math.max(least, Math.min(SIZES.title * f, room / title, (room - border) / cue));
    const sizes = [most, ...[least, (room - border) / (title + cue + word + 2 * HEAD_GAP),
      (room - border) / (cue + word + HEAD_GAP), (room - border) / (title + cue + HEAD_GAP),
      room / (title + word + HEAD_GAP)].filter((t) => t >= least && t < most).sort((a, b) => b - a)];
    const bestF = Math.max(...sizes.map((t) => figuresFor(height(t))));
    const enough = Math.min(bestF, Math.max(bestF / PREFER_FEWER, floor));
    const t = sizes.find((x) => figuresFor(height(x)) >= enough);
    return [t, height(t)];
  }
  function heading(m, w, f, least, floor, figuresFor) {  // [size, height, short] of a tile's heading w px wide
    // A pending cue is room kept in every tile (it comes and goes between fits): "△ WARN in 1:27", or where that
    // is wider than the tile at the least size, or would push the figures under their floor and the short one would
    // not, "△ 1:27" (short: the glyph and the border's colour say the level).
    const full = headSize(m, w, f, least, floor, figuresFor, m.head.cue);
    const short = headSize(m, w, f, least, floor, figuresFor, m.head.shortCue);
    const fits = m.head.cue * least + m.head.border <= w / SIZES.slack;  // on a line of its own at the least size
    return fits && figuresFor(full[1]) >= Math.min(floor, figuresFor(short[1])) ? [...full, false] : [...short, true];
  }
  function fitTile(m, w, h, colGap, least, floor) {  // the best [f, primary columns, secondary columns, title size,
    // short cue] for a tile of w x h
    const prim = m.kpis.filter((v) => v.primary), sec = m.kpis.filter((v) => !v.primary);
    const need = (v, size) => SIZES.slack * Math.max(size * (em(WIDEST[v.format], true) + em(MARK, true) / 2),
      SIZES.label * em(v.label, false));
    const rows = (n, c) => (n ? Math.ceil(n / c) : 0);
    let best = [0, 1, 1, least, false];
    for (let pc = 1; pc <= Math.max(prim.length, 1); pc += 1) {
      for (let sc = 1; sc <= Math.max(sec.length, 1); sc += 1) {
        const pr = rows(prim.length, pc), sr = rows(sec.length, sc), blocks = 1 + (pr > 0) + (sr > 0);
        const figures = pr * (1 + SIZES.label) * SIZES.line + sr * (SIZES.sec + SIZES.label) * SIZES.line
          + (Math.max(pr - 1, 0) + Math.max(sr - 1, 0)) * SIZES.rowGap + (blocks - 1) * SIZES.blockGap;
        const pw = (w - (pc - 1) * colGap) / pc, sw = (w - (sc - 1) * colGap) / sc;
        let f = Infinity;
        for (const v of prim) f = Math.min(f, pw / need(v, 1));
        for (const v of sec) f = Math.min(f, sw / need(v, SIZES.sec));
        // the heading: its size depends on f (TITLE f at most), its height on the lines its parts take
        const wide = f, figuresFor = (height) => Math.min(wide, (h - height) / figures);
        let head = [least, 0, false];
        for (let round = 0; round < 2; round += 1) {
          head = heading(m, w, f, least, floor, figuresFor);
          f = Math.min(f, figuresFor(head[1]));
        }
        if (f > best[0]) best = [f, pc, sc, head[0], head[2]];
      }
    }
    return best;
  }
  function fitBoard(cat, models, area) {
    // The columns of tiles that give the biggest figures to the board's smallest tile; a tile's f is the smallest
    // of its kind (tiles alike look alike), never under the floor nor over the cap. Paddings, borders and gaps are
    // those of tv.css.
    const vmin = Math.min(innerWidth, innerHeight) / 100, gap = 1.2 * vmin, pad = 1.2 * vmin;
    // the widest level word and pending cue of the language, beside every tile's title (in em of its size; the
    // cue's border in px): "△ WARN in 1:27", "in 45 s", "in 12:00", "now"
    const words = Object.keys(cat.words).map((l) => t(cat.words[l]));
    const word = Math.max(...words.map((x) => em(`● ${x}`, true)));
    const times = ["0:00", "00:00", t("{seconds}s", { seconds: "00" })];
    const cues = words.flatMap((x) => [t(cat.pending_now, { level: x }),
      ...times.map((time) => t(cat.pending_in, { level: x, time }))]);
    const cue = Math.max(...cues.map((x) => em(`△ ${x}`, true))) + CUE_PAD, border = CUE_BORDER * vmin;
    const shortCue = Math.max(...times.map((x) => em(`△ ${x}`, true))) + CUE_PAD;
    const space = em(" ", true);
    // a badge is the title's last word (inline in it, tv.css), never broken: its text, padding and borders
    models = models.map((m) => {
      const words = m.title.split(/\s+/).map((x) => em(x, true)), badge = m.badge ? em(m.badge, false) + BADGE_EXTRA : 0;
      return { ...m, head: { title: em(m.title, true) + (badge ? space + badge : 0), space, cue, shortCue, word, border,
        words: badge ? [...words, badge] : words } };
    });
    const least = TEXT_MIN * vmin, colGap = 1.6 * vmin;
    const box = (cols, rows) => [(area.width - (cols + 1) * gap) / cols - 2 * pad - 1.9 * vmin,
      (area.height - (rows + 1) * gap) / rows - 2 * pad - vmin];
    let best = null;
    const tried = [];  // [columns, smallest f] of each candidate, for tests and a curious reader
    for (let cols = 1; cols <= Math.max(models.length, 1); cols += 1) {
      const rows = Math.ceil(models.length / cols), [w, h] = box(cols, rows);
      const fits = models.map((m) => fitTile(m, w, h, colGap, least, FLOOR_F * vmin));
      const smallest = Math.min(...fits.map((x) => x[0]));
      tried.push([cols, Math.round(smallest * 10) / 10]);
      if (!best || smallest > best.smallest * PREFER_FEWER) best = { cols, rows, fits, smallest, w };
    }
    const byKind = new Map(), titles = new Map(), short = new Set();
    models.forEach((m, i) => byKind.set(m.kind, Math.min(byKind.get(m.kind) ?? Infinity, best.fits[i][0])));
    models.forEach((m, i) => titles.set(m.kind, Math.min(titles.get(m.kind) ?? Infinity, best.fits[i][3])));
    models.forEach((m, i) => { if (best.fits[i][4]) short.add(m.kind); });
    const size = (f) => Math.min(CAP_F * vmin, Math.max(FLOOR_F * vmin, f));
    return { cols: best.cols, rows: best.rows, tried, tiles: models.map((m, i) => {
      const f = size(byKind.get(m.kind)), [, pc, sc] = best.fits[i];
      // the titles of a kind alike too, TITLE f at most (a smaller size only makes a heading's lines fewer)
      // a short cue for all of a kind when one needs it (narrower: never more lines)
      const title = Math.max(least, Math.min(titles.get(m.kind), SIZES.title * f));
      return { f, title, pc, sc, cue: short.has(m.kind) ? "short" : "full" };
    }) };
  }
  function start(root, wallboardClient) {
    const $ = (id) => document.getElementById(id);
    const cat = JSON.parse(root.dataset.catalogue);
    const params = new URLSearchParams(location.search);
    const refreshMs = Math.max(1, Number(params.get("refresh") || root.dataset.refresh || "30")) * 1000;
    const prefix = `${root.dataset.prefix || "/tv"}/`;  // /tv/<board>; /tv/ alone is the default board
    const rest = location.pathname.startsWith(prefix) ? location.pathname.slice(prefix.length) : "";
    const boardName = decodeURIComponent(rest.split("/")[0] || "default");
    let board = null, built = "", pageIndex = 0, pageSince = Date.now(), boardTimer = null;
    const client = wallboardClient.open({
      clock: "tv-clock", age: "tv-age", stale: "tv-stale", staleAge: "tv-stale-age", dim: "tv-root",
      onData: () => render(),
      onDenied: () => root.classList.add("denied"),
      onAllowed: () => { root.classList.remove("denied"); loadBoard(); },  // the credential works again
    });
    window.wallboardTv = {  // for tests and benchmarks: what the page holds
      seq: () => { const snap = client.snapshot(); return snap ? snap.seq : null; },
      boardVersion: () => (board ? board.version : null),
      fit: () => lastFit,  // the grid and per tile its headline size, title size and figure columns
    };

    const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
    const setClass = (el, name) => { if (el.className !== name) el.className = name; };
    let said = null;  // the message shown, as a function giving its text in the language now
    function message(say) {
      said = say;
      const text = say ? say() : "";
      setText($("tv-message"), text);
      $("tv-message").classList.toggle("on", Boolean(text));
    }
    function templates() {  // the texts around the ages the client updates: "data {age}", "STALE — no data for {age}"
      for (const el of root.querySelectorAll("[data-template]")) {
        const [before, after] = t(el.dataset.template).split("{age}");
        setText(el.querySelector(".before"), before);
        setText(el.querySelector(".after"), after ?? "");
      }
    }
    window.wbI18n.onChange(() => { templates(); if (said) message(said); render(); });
    templates();
    function kpiNode(v) {
      const el = document.createElement("div");
      el.dataset.kpi = v.key;
      const value = document.createElement("span"), label = document.createElement("span");
      value.className = "v";
      label.className = "l";
      el.append(value, label);
      return el;
    }
    let models = [];
    function build() {
      $("tv-tiles").replaceChildren(...models.map((m) => {
        const el = document.createElement("section");
        el.dataset.kind = m.kind;
        el.dataset.name = m.name;
        el.dataset[m.kind] = m.name;  // data-queue, data-group or data-team
        if (m.channel) el.dataset.channel = m.channel;  // a group's tile is one channel of it
        const h2 = document.createElement("h2"), name = document.createElement("span"), state = document.createElement("span");
        const soon = document.createElement("span"), text = document.createElement("span"), badge = document.createElement("span");
        text.className = "name";
        badge.className = "badge";
        name.append(text, " ", badge);  // the badge inline after the title's words: it wraps with them
        name.className = "title";
        state.className = "state";
        soon.className = "pending";
        h2.append(name, soon, state);
        const primary = document.createElement("div"), secondary = document.createElement("div");
        primary.className = "primary";
        secondary.className = "secondary";
        for (const v of m.kpis) (v.primary ? primary : secondary).append(kpiNode(v));
        el.append(h2, ...[primary, secondary].filter((d) => d.childElementCount));
        return el;
      }));
      fit();
    }
    let fitted = "", lastFit = null;
    function fit() {  // the grid and type sizes for the tiles' area now (the screen, or the room a banner leaves)
      const main = $("tv-tiles"), area = main.getBoundingClientRect();
      const key = `${built}|${area.width}x${area.height}|${innerWidth}x${innerHeight}`;
      if (!models.length || key === fitted || !area.height) return false;
      fitted = key;
      const shape = lastFit = fitBoard(cat, models, area);
      main.style.gridTemplateColumns = `repeat(${shape.cols}, minmax(0, 1fr))`;
      main.style.gridTemplateRows = `repeat(${shape.rows}, minmax(0, 1fr))`;
      [...main.children].forEach((el, i) => {
        const t = shape.tiles[i];
        el.style.setProperty("--f", `${t.f.toFixed(2)}px`);
        el.style.setProperty("--t", `${t.title.toFixed(2)}px`);
        el.dataset.cue = t.cue;
        const [primary, secondary] = [el.querySelector(".primary"), el.querySelector(".secondary")];
        if (primary) primary.style.gridTemplateColumns = `repeat(${t.pc}, minmax(0, 1fr))`;
        if (secondary) secondary.style.gridTemplateColumns = `repeat(${t.sc}, minmax(0, 1fr))`;
      });
      return true;
    }
    new ResizeObserver(() => { if (fit()) render(); }).observe($("tv-tiles"));  // a pending cue's text may change
    function render() {
      const snap = client.snapshot();
      if (!snap || !board || client.denied()) return;
      setText($("tv-title"), board.title || `wallboard · ${snap.site || ""}`);
      models = tileModels(cat, snap, board, pageIndex);
      const shape = JSON.stringify([window.wbI18n.lang,
        models.map((m) => [m.kind, m.name, m.channel, m.title, m.badge, m.kpis.map((v) => [v.key, v.label])])]);
      if (shape !== built) { built = shape; build(); }
      const tiles = $("tv-tiles").children, now = instant(snap.ts) + (client.age() ?? 0) / 1000;  // the server's now
      models.forEach((m, i) => {
        const el = tiles[i];
        setClass(el, `tile ${m.kind} lvl-${m.level}`);
        setText(el.querySelector(".title .name"), m.title);
        setText(el.querySelector(".title .badge"), m.badge);
        setText(el.querySelector(".state"), `${m.icon} ${m.word}`);
        const soon = el.querySelector(".pending");
        const short = el.dataset.cue === "short";  // fit() says: the short cue where the full one does not fit
        const cue = m.pending ? pendingText(cat, m.pending[0], m.pending[1], now, short) : "";
        setText(soon, m.pending ? `${cat.pending_icons[m.pending[0]]} ${cue}` : "");
        setClass(soon, m.pending ? `pending lvl-${m.pending[0]}` : "pending");
        for (const v of m.kpis) {
          const k = el.querySelector(`[data-kpi="${v.key}"]`);
          setClass(k, `kpi lvl-${v.level}`);
          if (v.pending) { k.dataset.pending = v.pending[0]; k.dataset.due = v.pending[1]; }
          else { delete k.dataset.pending; delete k.dataset.due; }
          setText(k.firstChild, v.text);
          setText(k.lastChild, v.label);
        }
      });
      message(models.length ? null : () => t("This board has no queues yet."));
    }
    async function loadBoard() {
      clearTimeout(boardTimer);
      let next = board ? refreshMs : 2000;
      try {
        const r = await fetch(`/api/v1/boards/${encodeURIComponent(boardName)}`, {
          headers: { Authorization: `Bearer ${client.token}` }, cache: "no-store" });
        if (r.status === 401 || r.status === 403) { client.deny(); next = client.deniedRetryMs; }
        if (r.status === 404 || r.status === 422) { message(() => t("No board named “{board}”.", { board: boardName })); board = null; }
        else if (r.ok) {
          const next = await r.json();
          window.wbI18n.choose(next.language);  // ?lang= first, then the board's, then the browser's: render follows
          if (!board || next.version !== board.version) { board = next; built = ""; pageIndex = 0; pageSince = Date.now(); }
          render();
        }
      } catch (e) { /* the server is away: the client shows STALE; try again at the next refresh */ }
      boardTimer = setTimeout(loadBoard, next);
    }
    function turnPages() {
      const now = Date.now(), pages = (board && board.pages) || [];
      if (pages.length && now - pageSince >= pages[pageIndex % pages.length].seconds * 1000) {
        pageIndex = (pageIndex + 1) % pages.length;
        pageSince = now;
        render();
      }
    }
    setInterval(turnPages, PAGE_TICK_MS);
    setInterval(render, COUNTDOWN_MS);  // a pending level's time left counts down between data
    loadBoard();
    client.connect();
  }
  function boot() {
    // Dash renders the layout after the asset scripts load, the shared client among them, in file-name order.
    const root = document.getElementById("tv-root");
    if (root && window.wallboardClient) start(root, window.wallboardClient); else setTimeout(boot, 50);
  }
  boot();
})();
