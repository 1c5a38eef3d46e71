"""The CLI's message catalogs (``processes.messages``): extracted, merged, compiled and checked with Babel.

``python -m wallboard.processes.message_catalogs extract|update|build|check``, which ``scripts/i18n`` runs after the
pages' ``dash_app.i18n`` with the same command:

- ``extract`` writes ``wallboard/locales/cli.pot``: every ``_()``, ``ngettext()`` and ``N_()`` of ``wallboard/``;
- ``update`` also merges it into each ``<lang>.po`` (new messages empty, translations kept, gone ones dropped);
- ``build`` compiles each ``<lang>.po`` into the ``<lang>.mo`` the command reads (Babel's ``write_mo``; the header's
  dates are fixed, so building twice writes the same bytes and an unchanged catalog leaves no diff);
- ``check`` exits 1 listing what is wrong: a template or catalog that does not hold exactly the marked messages,
  a message untranslated (or fuzzy, or missing a plural form), a translation that changed its placeholders
  (``{name}``, ``%(default)s``), or a ``.mo`` that does not say what its ``.po`` says.

The ``.po`` files carry no header, as the pages' do: a catalog's plural rule comes from its language (CLDR, through
Babel), and the compiled ``.mo`` carries it in its header for ``gettext``. Babel is imported here only, never when
the command runs.
"""

from __future__ import annotations

import gettext
import io
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from wallboard.processes.messages import LANGUAGES, LOCALES

__all__ = ["LOCALES", "TEMPLATE", "TRANSLATED", "build", "check", "compiled", "extract", "placeholders", "update"]

PACKAGE = LOCALES.parent
TEMPLATE = LOCALES / "cli.pot"
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")
_METHODS = [("locales/**", "ignore"), ("**.py", "python")]
# `_command(sub, name, help_text, common)` of the CLI translates its third argument, a subcommand's one-line help.
_KEYWORDS = {"_": None, "ngettext": (1, 2), "N_": None, "_command": (3,)}
_PLACEHOLDER = re.compile(r"\{(\w*)\}|%(\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
# The compiled header's dates: fixed, so a build is reproducible (gettext reads neither).
_BUILT_AT = datetime(2025, 1, 1, tzinfo=UTC)

Problem = str


def placeholders(text: str) -> list[str]:
    """The placeholders of a message, sorted: ``{name}`` and printf-style ``%(name)s`` / ``%s`` (``%%`` is text)."""
    return sorted(match.group(0) for match in _PLACEHOLDER.finditer(text) if match.group(0) != "%%")


def _shown(path: Path) -> str:
    """``path`` from the repository's root when it is in it (as the messages name files)."""
    return str(path.relative_to(PACKAGE.parent)) if path.is_relative_to(PACKAGE.parent) else str(path)


def extract(root: Path = PACKAGE) -> Catalog:
    """Every marked message of ``wallboard/``, with where it is used (a plural message as its two English forms)."""
    template = Catalog(project="wallboard", domain="cli", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), _METHODS, keywords=_KEYWORDS, comment_tags=("i18n:",), strip_comment_tags=True
    ):
        if message and all(message if isinstance(message, tuple) else (message,)):
            template.add(message, None, [(f"wallboard/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def _read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream, locale=lang)


def _po(catalog: Catalog, *, locations: bool = True) -> str:
    out = io.BytesIO()
    write_po(out, catalog, width=120, omit_header=True, no_location=not locations, sort_output=True)
    return out.getvalue().decode()


def _messages(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)


def _key(message: Message) -> str | tuple[str, ...]:
    return message.id if isinstance(message.id, str) else tuple(message.id)


def update(template: Catalog) -> dict[Path, str]:
    """The template and each language's catalog as they should be: the template's messages, translations kept."""
    files = {TEMPLATE: _po(template)}
    for lang in TRANSLATED:
        path = LOCALES / f"{lang}.po"
        current = _read(path, lang) if path.is_file() else Catalog(locale=lang)
        merged = Catalog(locale=lang, project="wallboard", domain="cli", fuzzy=False)
        for message in _messages(template):
            old = current.get(message.id, context=message.context)
            string: str | tuple[str, ...] = "" if isinstance(message.id, str) else ("",) * merged.num_plurals
            if old is not None and isinstance(old.string, type(string)):
                string = old.string
            merged.add(message.id, string, context=message.context, flags=old.flags if old is not None else ())
        files[path] = _po(merged, locations=False)
    return files


def compiled(lang: str) -> bytes:
    """The ``.mo`` of ``lang``'s catalog: translated messages only (a fuzzy one stays English)."""
    catalog = _read(LOCALES / f"{lang}.po", lang)
    catalog.project, catalog.creation_date, catalog.revision_date = "wallboard", _BUILT_AT, _BUILT_AT
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def build() -> list[Path]:
    """Write every language's ``.mo``; returns the files written."""
    written = []
    for lang in TRANSLATED:
        path = LOCALES / f"{lang}.mo"
        path.write_bytes(compiled(lang))
        written.append(path)
    return written


def _expected(catalog: Catalog) -> dict[object, str]:
    """What gettext should read from the ``.mo`` of ``catalog`` (its ``_catalog``, header left out)."""
    table: dict[object, str] = {}
    for message in _messages(catalog):
        if message.fuzzy or not message.string:
            continue
        if isinstance(message.id, str):
            table[message.id] = str(message.string)
        else:
            table.update({(message.id[0], n): form for n, form in enumerate(message.string)})
    return table


def _untranslated(message: Message, num_plurals: int) -> bool:
    forms = (message.string,) if isinstance(message.id, str) else tuple(message.string or ())
    wanted = 1 if isinstance(message.id, str) else num_plurals
    return message.fuzzy or len(forms) != wanted or not all(forms)


def _check_language(lang: str, wanted: set[str | tuple[str, ...]]) -> list[Problem]:
    path = LOCALES / f"{lang}.po"
    catalog = _read(path, lang)
    problems: list[Problem] = []
    held = {_key(message) for message in _messages(catalog)}
    if held != wanted:
        problems.append(f"{_shown(path)} is out of date: run scripts/i18n update")
    missing = [str(_key(message)) for message in _messages(catalog) if _untranslated(message, catalog.num_plurals)]
    if missing:
        problems.append(f"{lang}: {len(missing)} untranslated, e.g. {missing[:3]}")
    for message in _messages(catalog):
        english = message.id if isinstance(message.id, str) else message.id[-1]
        forms = (message.string,) if isinstance(message.id, str) else tuple(message.string or ())
        for form in forms:
            if form and placeholders(str(form)) != placeholders(english):
                problems.append(f"{lang}: {english!r} -> {form!r} changes the placeholders")
    mo = LOCALES / f"{lang}.mo"
    try:
        with mo.open("rb") as stream:
            built = gettext.GNUTranslations(stream)
    except OSError:
        return [*problems, f"{_shown(mo)} is missing: run scripts/i18n build"]
    held_mo = {key: value for key, value in built._catalog.items() if key != ""}  # type: ignore[attr-defined]
    if held_mo != _expected(catalog) or built.info().get("plural-forms") != catalog.plural_forms:
        problems.append(f"{_shown(mo)} is out of date: run scripts/i18n build")
    return problems


def check() -> list[Problem]:
    """What is out of date or missing (empty: all good)."""
    template = extract()
    wanted = {_key(message) for message in _messages(template)}
    problems: list[Problem] = []
    held = {_key(message) for message in _messages(_read(TEMPLATE))} if TEMPLATE.is_file() else set()
    if held != wanted:
        added, gone = sorted(map(str, wanted - held)), sorted(map(str, held - wanted))
        problems.append(
            f"{_shown(TEMPLATE)} is out of date ({len(added)} new, e.g. {added[:2]}; "
            f"{len(gone)} gone, e.g. {gone[:2]}): run scripts/i18n update"
        )
    for lang in TRANSLATED:
        if not (LOCALES / f"{lang}.po").is_file():
            problems.append(f"{lang}: no catalog {_shown(LOCALES / (lang + '.po'))}: run scripts/i18n update")
            continue
        problems += _check_language(lang, wanted)
    return problems


def main(argv: list[str]) -> int:
    """``extract|update|build|check`` (see the module docstring)."""
    command = argv[0] if argv else "check"
    if command in ("extract", "update"):
        files = update(extract())
        if command == "extract":
            files = {TEMPLATE: files[TEMPLATE]}
        LOCALES.mkdir(exist_ok=True)
        for path, text in files.items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {_shown(path)}")
        return 0
    if command == "build":
        for path in build():
            print(f"wrote {_shown(path)}")
        return 0
    if command == "check":
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print("usage: scripts/i18n extract|update|build|check")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
