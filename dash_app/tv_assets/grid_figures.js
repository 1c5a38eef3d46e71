/* The supervisor grid's target columns (dash_app/grid.py: agent_figures, the "Target" and "Esc." columns and the
 * cues of the AHT, missed rings and occupancy cells). The page's rows (supervisor.js) do not carry these figures:
 * the columns read the agent of the snapshot the page holds (window.wbSupervisor.snap) by row id, through
 * wbFigures below, one of the grid's dashAgGridFunctions. A row is re-rendered with every snapshot or delta (its
 * data object is new), so the cells follow the snapshot. An agent of an older snapshot, with no target or
 * escalations, gets blank cells. tests/dash_app/test_grid_figures.py compares wbFigures with agent_figures. */
"use strict";
(() => {
  const TARGET_CUES = { met: "▲", near: "●", behind: "▼" };
  const TARGET_LEVELS = { met: "ok", near: "warn", behind: "alarm" };
  const FIGURE_CUES = { over: "▲", high: "▲", low: "▼" };
  const FIGURES = ["aht", "missed_rings", "occupancy"];
  const BASIS_WORDS = { logged_in: "logged in", scheduled: "scheduled" };
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
    const text = `${handled}/${Math.round(expected)}` + (pct === null ? "" : ` ${Math.round(pct)} %`);
    const basisName = String(target.basis || ""), basis = own(BASIS_WORDS, basisName) ?? basisName;
    const span = isNumber(target.basis_s) ? ` for ${hours(target.basis_s)} ${basis}` : "";
    return {
      target_pct: pct,
      target: cue ? `${cue} ${text}` : text,
      target_level: own(TARGET_LEVELS, status) || "",
      target_title: `${handled} handled, ${Math.round(expected)} expected${span}` + (cue ? `: ${status}` : ""),
    };
  }

  /* grid.agent_figures */
  function agentFigures(agent) {
    const target = agent.target || {}, esc = agent.escalations_today;
    const out = Object.assign(targetFields(agent), { escalations: Number.isInteger(esc) ? esc : null });
    for (const figure of FIGURES) out[`${figure}_cue`] = own(FIGURE_CUES, String(target[figure])) || "";
    return out;
  }

  const memo = new WeakMap();  // snapshot agent object -> its figures (a delta replaces a changed agent's object)
  window.dashAgGridFunctions = Object.assign(window.dashAgGridFunctions || {}, {
    wbFigures: (id) => {
      const S = window.wbSupervisor, agent = S && S.snap && (S.snap.agents || {})[id];
      if (!agent) return BLANK;
      if (!memo.has(agent)) memo.set(agent, agentFigures(agent));
      return memo.get(agent);
    },
    wbCued: (cue, text) => (cue && text !== "" ? `${cue} ${text}` : text),
  });
  window.wbGridFigures = { agentFigures };  // for tests
})();
