// The pages' languages (dash_app/i18n.py has the theory): window.wbI18n.
//
//   t("Waiting")                       the text in the page's language (English when it has no translation)
//   t("Snooze {name}", {name})         with placeholders filled
//   tn("{n} call", "{n} calls", n)      a count: the form of the language for n ({n} filled; more in a 4th argument),
//                                      as gettext's ngettext (dash_app/i18n.py: Czech has three forms, 1, 2-4, 5+)
//   wbI18n.setLanguage([...])          choose among candidates: ?lang=, the board's, the profile's, the browser's
//   wbI18n.onChange(fn)                called with the language after each change (pages re-render their texts)
//   wbI18n.number(x, opts) / .percent(x, digits) / .time(date, opts)   Intl formats of the language
//
// Elements with data-i18n="English text" get their text translated (data-i18n-placeholder, -title, -aria-label:
// that attribute); a page calls wbI18n.translate(element) after adding such elements.
// Loaded before every page's own scripts (its file name sorts first after i18n-catalogs.js).
(function () {
  "use strict";
  const catalogs = window.WB_CATALOGS || {};
  const plurals = window.WB_PLURALS || {};  // language -> (n -> the index of n's form): the catalogs' Plural-Forms
  const names = window.WB_LANGUAGES || { en: "English" };
  const state = { lang: "en", missing: new Set(), listeners: [] };

  const primary = (code) => String(code || "").trim().toLowerCase().split(/[-_]/)[0];
  const pick = (candidates) => {
    for (const candidate of candidates) {
      const code = primary(candidate);
      if (code && (code === "en" || catalogs[code])) return code;
    }
    return "en";
  };

  const fill = (text, values) => (values
    ? text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole)) : text);
  const t = (msgid, values) => {
    let text = msgid;
    if (state.lang !== "en") {
      const translated = (catalogs[state.lang] || {})[msgid];
      if (typeof translated === "string" && translated) text = translated;
      else state.missing.add(msgid);
    }
    return fill(text, values);
  };
  // a count's form: English's (1, else the plural), or the language's rule picking among the catalog's forms
  const tn = (singular, plural, n, values) => {
    let text = n === 1 ? singular : plural;
    if (state.lang !== "en") {
      const forms = (catalogs[state.lang] || {})[singular], rule = plurals[state.lang];
      const form = Array.isArray(forms) && rule ? forms[rule(Math.abs(Number(n)))] : undefined;
      if (form) text = form;
      else state.missing.add(singular);
    }
    return fill(text, { n, ...values });
  };

  const ATTRIBUTES = [["i18nPlaceholder", "placeholder"], ["i18nTitle", "title"], ["i18nAriaLabel", "aria-label"]];
  const translate = (root) => {
    const scope = root || document;
    const all = scope.querySelectorAll ? [...scope.querySelectorAll("[data-i18n], [data-i18n-placeholder], "
      + "[data-i18n-title], [data-i18n-aria-label]")] : [];
    if (scope.dataset) all.push(scope);
    for (const el of all) {
      if (el.dataset.i18n) el.textContent = t(el.dataset.i18n);
      for (const [key, attribute] of ATTRIBUTES) if (el.dataset[key]) el.setAttribute(attribute, t(el.dataset[key]));
    }
  };

  const setLanguage = (candidates) => {
    const lang = pick(candidates);
    const changed = lang !== state.lang;
    state.lang = lang;
    document.documentElement.lang = lang;
    translate(document);
    if (changed) for (const listener of state.listeners) listener(lang);
    return lang;
  };

  const fromUrl = () => new URLSearchParams(location.search).get("lang");
  const browser = () => navigator.languages || [navigator.language];

  window.wbI18n = {
    t,
    tn,
    translate,
    setLanguage,
    // the language from ?lang=, then the given ones (board, profile), then the browser's
    choose: (...preferred) => setLanguage([fromUrl(), ...preferred, ...browser()]),
    onChange: (listener) => state.listeners.push(listener),
    get lang() { return state.lang; },
    get languages() { return { ...names }; },
    missing: state.missing,
    number: (value, options) => new Intl.NumberFormat(state.lang, options).format(value),
    percent: (value, digits = 0) => `${new Intl.NumberFormat(state.lang, { maximumFractionDigits: digits })
      .format(value)} %`,
    time: (date, options) => new Intl.DateTimeFormat(state.lang, options || { hour: "2-digit", minute: "2-digit" })
      .format(date),
  };
  window.t = t;
  window.tn = tn;
  // elements added later (pages render after load) are translated as they arrive
  const observe = () => new MutationObserver((records) => {
    if (state.lang === "en") return;
    for (const record of records) {
      for (const node of record.addedNodes) if (node.nodeType === 1) translate(node);
    }
  }).observe(document.body, { childList: true, subtree: true });
  const start = () => { window.wbI18n.choose(); observe(); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
