/* The supervisor view's sparklines (the last hour per queue): supervisor.js builds them when it starts,
 * with its kit (the page's state S, its config, the words and the DOM helpers); see supervisor.js. */
"use strict";
window.wbSupervisorParts = Object.assign(window.wbSupervisorParts || {}, {
  trends(kit) {
    const { S, config, t, tn, el, $, queueName, queueCards, channelWord, fmt, PHONE } = kit;
    // Sparklines: the last hour of calls waiting and interval SL per queue, one point every 10 s, on a time axis
    // (config.ticks: -60 min ... now) as wide as the panel; the SL chart has the queue's target as a dashed line.
    const SVG = "http://www.w3.org/2000/svg";
    const svgEl = (tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const spark = (series, index, lo, hi, cls, now, width, target) => {
      const W = Math.max(120, width), H = 40, AXIS = 13, span = config.minutes * 60, t0 = now - span;
      const x = (ts) => ((ts - t0) / span) * W, y = (v) => H - ((v - lo) / ((hi - lo) || 1)) * H;
      const svg = svgEl("svg", { class: `spark ${cls}`, viewBox: `0 -2 ${W} ${H + AXIS + 2}`, height: H + AXIS + 2,
        role: "img" });
      for (const [minutes, label] of config.ticks) {  // the time axis: a line and a label at each tick
        const tx = x(now + minutes * 60);
        svg.append(svgEl("line", { class: "grid", x1: tx, x2: tx, y1: 0, y2: H }));
        const anchor = minutes === config.ticks[0][0] ? "start" : minutes === 0 ? "end" : "middle";
        const text = minutes === 0 ? t("now") : label.endsWith(" min") ? t("{minutes} min", { minutes }) : label;
        svg.append(svgEl("text", { class: "tick", x: tx, y: H + AXIS - 2, "text-anchor": anchor }, text));
      }
      svg.append(svgEl("text", { class: "ymax", x: 2, y: 9 }, cls === "sl" ? window.wbI18n.percent(hi) : String(hi)));
      if (target !== null && target !== undefined) {
        svg.append(svgEl("line", { class: "target", x1: 0, x2: W, y1: y(target), y2: y(target) }));
        svg.append(svgEl("text", { class: "target-label", x: W - 2, y: y(target) - 2, "text-anchor": "end" },
          t("target {pct}", { pct: window.wbI18n.percent(target) })));
      }
      const pts = series.filter((p) => p[index] !== null && p[index] !== undefined && p[0] >= t0)
        .map((p) => `${x(p[0]).toFixed(1)},${y(p[index]).toFixed(1)}`);
      svg.append(svgEl("polyline", { points: pts.join(" ") }));
      if (pts.length) {  // the newest point as a dot: a one-sample series shows too
        const [cx, cy] = pts[pts.length - 1].split(",");
        svg.append(svgEl("circle", { cx, cy, r: 2.5 }));
      }
      return svg;
    };
    const renderTrends = () => {
      const now = (Date.now() + S.skew) / 1000, box = $("sup-sparks");
      const width = Math.floor(((box.clientWidth || 440) - 8) / (window.matchMedia(PHONE).matches ? 1 : 2));
      // Each queue's channel and, for chat and email, its first response (floor.queue_cards); the channel filter's
      // queues only.
      const cards = S.cards = S.snap ? queueCards(S.snap, S.channel) : [];
      const card = Object.fromEntries(cards.map((c) => [c.id, c]));
      const rows = Object.keys(S.trend).sort().filter((name) => !S.snap || S.queueShown(name)).map((name) => {
        const series = S.trend[name];
        const live = S.snap && (S.snap.queues || {})[name];  // the figures now; the lines: every 10 s
        const last = live ? [0, live.waiting, (live.interval || {}).service_level_pct ?? null]
          : series[series.length - 1] || [0, null, null];
        const target = live && Number.isFinite(live.sl_target_pct) ? live.sl_target_pct : null;
        const peak = Math.max(1, ...series.map((p) => p[1] || 0));
        const figures = { n: last[1] ?? "—", sl: last[2] === null ? "—" : window.wbI18n.percent(last[2]) };
        const nowText = target === null ? t("waiting {n} · SL {sl}", figures)
          : t("waiting {n} · SL {sl} (target {target})", { ...figures, target: window.wbI18n.percent(target) });
        const about = card[name];
        const head = el("div", { className: "sup-spark-head" }, el("strong", {}, queueName(name)));
        if (about) {
          head.append(el("span", { className: "sup-channel" }, channelWord(about.channel)));
          if (config.first_response_channels.includes(about.channel)) {
            const first = about.first_response_s === null ? "—" : fmt(about.first_response_s);
            head.append(el("span", { className: "first", title: tn("{n} contact answered this interval",
              "{n} contacts answered this interval", about.responded ?? 0) }, t("first response {time}", { time: first })));
          }
        }
        head.append(el("span", { className: "now" }, nowText));
        const figure = (caption, svg) => el("figure", {}, el("figcaption", {}, caption), svg);
        const row = el("div", { className: "sup-spark-row" }, head, el("div", { className: "sup-spark-charts" },
          figure(t("calls waiting"), spark(series, 1, 0, peak, "waiting", now, width)),
          figure(t("SL this interval"), spark(series, 2, 0, 100, "sl", now, width, target))));
        row.dataset.queue = name;
        return row;
      });
      box.replaceChildren(...rows);
    };
    const sample = () => {
      const ts = Date.parse(S.snap.ts) / 1000;
      if (!(ts - S.lastSample >= config.sample_every_s)) return;
      S.lastSample = ts;
      for (const [name, q] of Object.entries(S.snap.queues || {})) {
        const series = S.trend[name] = S.trend[name] || [];
        series.push([ts, q.waiting, (q.interval || {}).service_level_pct ?? null]);
        while (series.length && series[0][0] < ts - config.minutes * 60) series.shift();
      }
      renderTrends();
    };
    return { renderTrends, sample };
  },
});
