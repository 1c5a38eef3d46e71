/* The supervisor grid's target columns (dash_app/grid.py: agent_figures, the "Target" and "Esc." columns and the
 * cues of the AHT, missed rings and occupancy cells). The page's rows (supervisor.js) do not carry these figures:
 * the columns read the agent of the snapshot the page holds (window.wbSupervisor.snap) by row id, through
 * wbFigures below, one of the grid's dashAgGridFunctions. A row is re-rendered with every snapshot or delta (its
 * data object is new), so the cells follow the snapshot. An agent of an older snapshot, with no target or
 * escalations, gets blank cells. tests/dash_app/test_grid_figures.py compares wbFigures with agent_figures.
 * The texts are in the page's language (English: agent_figures' texts); the memo is per language. */
"use strict";
(() => {
  const t = (text, values) => window.wbI18n.t(text, values);  // never at the top level: i18n.js may load later
  const TARGET_CUES = { met: "▲", near: "●", behind: "▼" };
  const TARGET_LEVELS = { met: "ok", near: "warn", behind: "alarm" };
  const FIGURE_CUES = { over: "▲", high: "▲", low: "▼" };
  const FIGURES = ["aht", "missed_rings", "occupancy"];
  const BLANK = Object.freeze({ target_pct: null, target: "", target_level: "", target_title: "", escalations: null,
    aht_cue: "", missed_rings_cue: "", occupancy_cue: "" });
  const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
  const own = (table, key) => (Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined);
  const hours = (seconds) => {
    const whole = Math.max(0, Math.trunc(seconds));
    return `${Math.floor(whole / 3600)}:${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")}`;
  };

  /* grid.target_fields */
  function targetFields(agent) {
    const target = agent.target || {}, expected = target.calls_expected;
    if (!isNumber(expected)) return { target_pct: null, target: "", target_level: "", target_title: "" };
    const handled = agent.handled_today || 0;
    const pct = isNumber(target.calls_pct) ? target.calls_pct : null;
    const status = String(target.calls || ""), cue = own(TARGET_CUES, status);
    const text = `${handled}/${Math.round(expected)}` + (pct === null ? "" : ` ${window.wbI18n.percent(pct, 0)}`);
    const values = { handled, expected: Math.round(expected), basis: String(target.basis || "") };
    let title = t("{handled} handled, {expected} expected", values);
    if (isNumber(target.basis_s)) {
      values.hours = hours(target.basis_s);
      title = values.basis === "logged_in" ? t("{handled} handled, {expected} expected for {hours} logged in", values)
        : values.basis === "scheduled" ? t("{handled} handled, {expected} expected for {hours} scheduled", values)
          : t("{handled} handled, {expected} expected for {hours} {basis}", values);
    }
    const statusWords = { met: t("met"), near: t("near"), behind: t("behind") };
    return {
      target_pct: pct,
      target: cue ? `${cue} ${text}` : text,
      target_level: own(TARGET_LEVELS, status) || "",
      target_title: cue ? t("{title}: {status}", { title, status: statusWords[status] }) : title,
    };
  }

  /* grid.agent_figures */
  function agentFigures(agent) {
    const target = agent.target || {}, esc = agent.escalations_today;
    const out = Object.assign(targetFields(agent), { escalations: Number.isInteger(esc) ? esc : null });
    for (const figure of FIGURES) out[`${figure}_cue`] = own(FIGURE_CUES, String(target[figure])) || "";
    return out;
  }

  let memo = new WeakMap(), memoLang = null;  // snapshot agent object -> its figures (a delta replaces a changed
  // agent's object), in the language memoLang
  window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
    wbFigures: (id) => {
      const S = window.wbSupervisor, agent = S && S.snap && (S.snap.agents || {})[id];
      if (!agent) return BLANK;
      if (memoLang !== window.wbI18n.lang) { memo = new WeakMap(); memoLang = window.wbI18n.lang; }
      if (!memo.has(agent)) memo.set(agent, agentFigures(agent));
      return memo.get(agent);
    },
    wbCued: (cue, text) => (cue && text !== "" ? `${cue} ${text}` : text),
  });
  window.wbGridFigures = { agentFigures };  // for tests
})();
