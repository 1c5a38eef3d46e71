"""The pages' languages: gettext catalogs read with Babel, what the browser gets of them, and how they are built.

Theory of operation
-------------------
Every text a page shows is English in the source, marked for translation: ``t("Waiting")`` (or
``t("{n} waiting", {n})``) in the pages' JavaScript, :func:`N_` around a text in Python that the browser shows
(a label of ``dash_app.layout``, a heading of a page shell, which carries it as ``data-i18n``). The English
text is the message id. ``scripts/i18n extract`` collects them all with Babel's extractors into
``dash_app/locales/pages.pot``; ``scripts/i18n update`` merges that template into one catalog per language,
``dash_app/locales/<lang>.po`` (new messages empty, kept ones untouched); translators fill them;
``scripts/i18n build`` writes ``dash_app/tv_assets/i18n-catalogs.js``, every language's translations as one
object the pages load before their own scripts. ``scripts/i18n check`` (and a test) fails when the template or a
catalog does not hold exactly the pages' messages, the built file is out of date, or a message of a language is
untranslated or lost a placeholder (the template's file:line references are a help for translators, not checked).

In the browser, ``tv_assets/i18n.js`` (``window.wbI18n``) picks the language: ``?lang=``, then the board's
``language`` (a TV), then the user's profile (a logged-in page), then the browser's languages, else English;
sets ``<html lang>``; translates every ``[data-i18n]`` element; and formats numbers, percentages and times with
the browser's ``Intl`` for that language (the same CLDR data Babel formats with). A message it has no
translation for is shown in English and recorded in ``wbI18n.missing``, which the browser tests read.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

__all__ = [
    "LANGUAGES",
    "LOCALES",
    "N_",
    "Problem",
    "build_js",
    "catalog",
    "check",
    "extract",
    "negotiate",
    "placeholders",
    "update",
]

ROOT = Path(__file__).resolve().parent
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / "pages.pot"
BUILT = ROOT / "tv_assets" / "i18n-catalogs.js"
# The languages shipped, in their own words (English is the source language: it has no catalog).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "fi": "Suomi",
    "nl": "Nederlands",
    "el": "Ελληνικά",
    "cs": "Čeština",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
}
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
_METHODS = [
    ("tv_assets/i18n-catalogs.js", "ignore"),
    ("tv_assets/**.js", "javascript"),
    ("locales/**", "ignore"),
    ("**.py", "python"),
]
_KEYWORDS = {"t": None, "N_": None}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

Problem = str


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "mark for translation, translate later"
    """Mark ``text`` for translation where the browser translates it (it is returned as it is)."""
    return text


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message."""
    return set(_PLACEHOLDER.findall(text))


def negotiate(candidates: Iterable[str | None]) -> str:
    """The first shipped language among ``candidates`` (``fi-FI``, ``de``...; None and unknown ones skipped),
    else English: what ``i18n.js`` does in the browser."""
    for candidate in candidates:
        if candidate:
            primary = re.split(r"[-_]", candidate.strip().lower())[0]
            if primary in LANGUAGES:
                return primary
    return "en"


def extract(root: Path = ROOT) -> Catalog:
    """Every marked message of the pages (their JavaScript and Python), with where it is used."""
    template = Catalog(project="wallboard", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), _METHODS, keywords=_KEYWORDS, comment_tags=("i18n:",), strip_comment_tags=True
    ):
        if isinstance(message, str) and message:
            template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _read(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream)


def _text(catalog: Catalog, *, locations: bool = True) -> str:
    out = io.BytesIO()
    write_po(out, catalog, width=120, omit_header=True, no_location=not locations, sort_output=True)
    return out.getvalue().decode()


def catalog(lang: str) -> dict[str, str]:
    """The translations of ``lang`` (message -> text); untranslated and fuzzy messages are left out."""
    path = LOCALES / f"{lang}.po"
    if not path.is_file():
        return {}
    return {
        str(message.id): str(message.string)
        for message in _read(path)
        if message.id and isinstance(message.string, str) and message.string and not message.fuzzy
    }


def update(template: Catalog) -> dict[Path, str]:
    """The template and each language's catalog as they should be: the template's messages, translations kept."""
    files = {TEMPLATE: _text(template)}
    for lang in TRANSLATED:
        path = LOCALES / f"{lang}.po"
        current = _read(path) if path.is_file() else Catalog(locale=lang)
        merged = Catalog(locale=lang, project="wallboard", fuzzy=False)
        for message in template:
            if not message.id:
                continue
            old = current.get(message.id)
            merged.add(message.id, old.string if old is not None else "", context=message.context)
        files[path] = _text(merged, locations=False)
    return files


def build_js() -> str:
    """``tv_assets/i18n-catalogs.js``: every language's translations for ``i18n.js``."""
    catalogs = {lang: dict(sorted(catalog(lang).items())) for lang in TRANSLATED}
    names = json.dumps(LANGUAGES, ensure_ascii=False)
    body = json.dumps(catalogs, ensure_ascii=False, indent=1, sort_keys=True)
    header = "// GENERATED by `scripts/i18n build` from dash_app/locales/*.po: do not edit by hand.\n"
    return header + f"window.WB_LANGUAGES = {names};\n" + f"window.WB_CATALOGS = {body};\n"


def check() -> list[Problem]:
    """What is out of date or missing: stale files, untranslated messages, placeholders lost (empty: all good)."""
    problems: list[Problem] = []
    wanted = {str(message.id) for message in extract() if message.id}
    for path in (TEMPLATE, *(LOCALES / f"{lang}.po" for lang in TRANSLATED)):
        # the messages must be the pages' (where they are used may move: the template's locations are a help)
        held = {str(message.id) for message in _read(path) if message.id} if path.is_file() else set()
        if held != wanted:
            added, gone = sorted(wanted - held), sorted(held - wanted)
            problems.append(
                f"{path.relative_to(ROOT.parent)} is out of date ({len(added)} new, e.g. {added[:2]}; {len(gone)} gone,"
                f" e.g. {gone[:2]}): run scripts/i18n update"
            )
    if not BUILT.is_file() or BUILT.read_text() != build_js():
        problems.append(f"{BUILT.relative_to(ROOT.parent)} is out of date: run scripts/i18n build")
    messages = [message.id for message in extract() if message.id]
    for lang in TRANSLATED:
        translated = catalog(lang)
        missing = [str(msgid) for msgid in messages if str(msgid) not in translated]
        if missing:
            problems.append(f"{lang}: {len(missing)} untranslated, e.g. {missing[:3]}")
        for msgid, text in translated.items():
            if placeholders(msgid) != placeholders(text):
                problems.append(f"{lang}: {msgid!r} -> {text!r} changes the placeholders")
    return problems


def main(argv: list[str]) -> int:
    """``scripts/i18n extract|update|build|check`` (see the module docstring)."""
    command = argv[0] if argv else "check"
    if command in ("extract", "update"):
        files = update(extract())
        if command == "extract":
            files = {TEMPLATE: files[TEMPLATE]}
        LOCALES.mkdir(exist_ok=True)
        for path, text in files.items():
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT.parent)}")
        return 0
    if command == "build":
        BUILT.write_text(build_js())
        print(f"wrote {BUILT.relative_to(ROOT.parent)}")
        return 0
    if command == "check":
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print("usage: scripts/i18n extract|update|build|check")
    return 2


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
