"""The pages' languages (dash_app/i18n.py): catalogs complete and up to date, language negotiation, placeholders."""

from __future__ import annotations

import pytest

from dash_app.i18n import LANGUAGES, TRANSLATED, catalog, check, extract, negotiate, placeholders


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
