"""The pages' languages (dash_app/i18n.py): catalogs complete and up to date, language negotiation, placeholders."""

from __future__ import annotations

import gettext
import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

import dash_app.i18n as i18n
from dash_app.i18n import LANGUAGES, TRANSLATED, catalog, check, extract, negotiate, placeholders, plural_rule, rule_js


def test_the_catalogs_are_complete_and_up_to_date() -> None:
    """Every marked text of every page is translated in every shipped language, keeping its placeholders; the
    template, the catalogs and the built i18n-catalogs.js are what `scripts/i18n update` and `build` write."""
    assert check() == []


def test_the_pages_mark_their_texts() -> None:
    messages = {str(message.id) for message in extract() if message.id}
    assert len(messages) > 100
    assert {"Waiting", "Longest wait"} <= messages


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_language_translates_the_headline_labels(lang: str) -> None:
    translated = catalog(lang)
    assert translated["Waiting"] and translated["Waiting"] != "Waiting" or lang == "en"


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (["fi-FI", "en"], "fi"),
        ([None, "de_AT"], "de"),
        (["pt-BR", "el"], "el"),
        (["pt-BR"], "en"),
        ([], "en"),
        (["CS"], "cs"),
    ],
)
def test_negotiation_takes_the_first_shipped_language(candidates: list[str | None], expected: str) -> None:
    assert negotiate(candidates) == expected


def test_placeholders_are_named() -> None:
    assert placeholders("SL {minutes} min, {n} waiting") == {"minutes", "n"}
    assert set(LANGUAGES) == {"en", "fi", "nl", "el", "cs", "de", "fr", "es"}


def test_no_translated_text_hides_where_the_extractor_cannot_see_it() -> None:
    """Babel's JavaScript extractor reads plain t("...") calls, not those inside a template literal's ${...}: such
    a text would never reach the catalogs (the pages then show it in English and record it as missing)."""
    import re
    from pathlib import Path

    hidden = re.compile(r"\$\{[^}`]*\bt\(\s*[\"']")
    assets = Path(__file__).resolve().parents[2] / "dash_app" / "tv_assets"
    found = [
        f"{path.name}:{n}"
        for path in sorted(assets.glob("*.js"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if hidden.search(line)
    ]
    assert found == []


def plurals() -> dict[str, str]:
    """The pages' plural messages: singular -> English plural."""
    return {str(m.id[0]): str(m.id[1]) for m in extract() if m.id and not isinstance(m.id, str)}


def test_texts_that_count_are_plural_messages() -> None:
    """The pages' counts are ngettext-style messages (tn), not phrased around the plural or chosen by `n === 1`."""
    found = plurals()
    assert {"{n} call", "{n} waiting", "not imported: {n} problem (below)", "at least {n} character"} <= set(found)
    assert found["{n} call"] == "{n} calls"
    singular = {str(m.id) for m in extract() if isinstance(m.id, str)}
    assert not {"1 call", "{n} calls", "not imported: 1 problem (below)"} & singular


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_plural_message_has_every_form_of_the_language(lang: str) -> None:
    """As many forms as the language's Plural-Forms says (Babel, CLDR): Czech, French and Spanish three, the others
    two; each keeps the {n} of the English."""
    forms = Catalog(locale=lang).num_plurals
    assert forms == (3 if lang in ("cs", "fr", "es") else 2)
    translated = catalog(lang)
    for singular in plurals():
        assert isinstance(translated[singular], list) and len(translated[singular]) == forms, (lang, singular)
        assert all("{n}" in form for form in translated[singular]), translated[singular]


def test_czech_counts_take_their_three_forms() -> None:
    rule = gettext.c2py(str(Catalog(locale="cs").plural_expr))  # Czech: 2-4 only, 22 is "hovorů"
    calls = catalog("cs")["{n} call"]
    assert [calls[rule(n)].format(n=n) for n in (1, 3, 5, 22, 25)] == [
        "1 hovor", "3 hovory", "5 hovorů", "22 hovorů", "25 hovorů"]  # fmt: skip


def test_the_plural_rules_reach_the_browser_as_checked_code() -> None:
    assert plural_rule("cs") == "Number((n == 1 ? 0 : n >= 2 && n <= 4 ? 1 : 2))"
    assert rule_js("(n != 1)") == "Number((n != 1))"
    for bad in ("n; fetch('/x')", "(n != 1", "n != 1)", "alert(n)", "n = 1", "", "`${n}`"):
        with pytest.raises(ValueError, match="plural rule"):
            rule_js(bad)
    built = i18n.BUILT.read_text()
    assert all(f'"{lang}": (n) => {plural_rule(lang)},' in built for lang in TRANSLATED)


def test_the_check_finds_a_missing_plural_form_and_a_lost_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scripts/i18n check on a copy of the catalogs where Czech lost its third form of "{n} call" and German's
    "{n} waiting" its {n}."""
    locales = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES, locales)
    monkeypatch.setattr(i18n, "LOCALES", locales)
    monkeypatch.setattr(i18n, "TEMPLATE", locales / "pages.pot")
    cs, de = locales / "cs.po", locales / "de.po"
    cs.write_text(cs.read_text(encoding="utf-8").replace('msgstr[2] "{n} hovorů"', 'msgstr[2] ""'), encoding="utf-8")
    de.write_text(de.read_text(encoding="utf-8").replace('"{n} warten"', '"viele warten"'), encoding="utf-8")
    problems = check()
    assert any(p.startswith("cs: 1 untranslated") and "{n} call" in p for p in problems), problems
    assert any(p.startswith("de: '{n} waiting' -> 'viele warten' changes the placeholders") for p in problems)
