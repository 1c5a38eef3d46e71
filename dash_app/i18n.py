"""The pages' languages: gettext catalogs read with Babel, what the browser gets of them, and how they are built.

Theory of operation
-------------------
Every text a page shows is English in the source, marked for translation: ``t("Waiting")`` (or ``t("Snooze {name}",
{name})``) in the pages' JavaScript, :func:`N_` around a text in Python that the browser shows (a label of
``dash_app.layout``, a heading of a page shell, which carries it as ``data-i18n``). The English text is the message
id. A text that counts something is a plural message, ``tn("{n} call", "{n} calls", n)`` (gettext's ``ngettext``;
in Python :func:`Nn_` marks the pair, which the browser gives to ``tn`` with the count): a
catalog holds as many forms as its language has (Czech three: 1, 2-4, 5 and more; French and Spanish three too, the
third for millions, as CLDR says), which form a count takes being the language's rule as Babel knows it
(``Catalog(locale=...).plural_expr``, gettext's ``Plural-Forms``). ``scripts/i18n extract`` collects them all with
Babel's extractors into ``dash_app/locales/pages.pot``; ``scripts/i18n update`` merges that template into one
catalog per language, ``dash_app/locales/<lang>.po`` (new messages empty, kept ones untouched); translators fill
them; ``scripts/i18n build`` writes ``dash_app/tv_assets/i18n-catalogs.js``, every language's translations as one
object the pages load before their own scripts (a plural message as the list of its forms), and every language's
plural rule as a JavaScript function. The ``.po`` files carry no header (as the CLI's, ``wallboard/locales``): a
catalog's plural rule is its language's, from CLDR through Babel, not a line a translator could get wrong.
``scripts/i18n check`` (and a test) fails when the template or a catalog does not hold exactly the pages' messages,
the built file is out of date, or a message of a language is untranslated (a plural one: any of its forms) or lost a
placeholder (the template's file:line references are a help for translators, not checked).

A plural rule reaches the browser as code, not as a string to evaluate: the Plural-Forms expression (C syntax,
which is also JavaScript's for these operators) is checked token by token against gettext's grammar (``n``,
integers, comparisons, ``&& || ! % ? :`` and parentheses, nothing else) when the file is built, and written as the
body of a function. ``Intl.PluralRules`` was the other way: it gives CLDR's category (``one``, ``few``, ``many``,
``other``), which a second table per language would have to map to the catalog's form numbers, a table that could
disagree with the catalog (Czech's ``many`` is for fractions; gettext's Czech has no such form); the catalog's own
expression cannot.

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

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

__all__ = [
    "LANGUAGES",
    "LOCALES",
    "N_",
    "Nn_",
    "Problem",
    "build_js",
    "catalog",
    "check",
    "extract",
    "negotiate",
    "placeholders",
    "plural_rule",
    "rule_js",
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
# tn(singular, plural, n, values): a plural message, as gettext's ngettext
_KEYWORDS = {"t": None, "N_": None, "tn": (1, 2), "Nn_": (1, 2)}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# gettext's Plural-Forms grammar: what a plural rule may hold (anything else is refused when building)
_RULE_TOKEN = re.compile(r"\s*(?:(n\b)|(\d+)|(==|!=|<=|>=|&&|\|\||[<>!%?:()]))")

Problem = str
Translation = str | list[str]
MessageId = str | tuple[str, ...]


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "mark for translation, translate later"
    """Mark ``text`` for translation where the browser translates it (it is returned as it is)."""
    return text


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - as N_, for a plural message
    """Mark a plural message whose count the browser knows (``tn(singular, plural, n)`` there); returned as is:
    English's forms, the singular for 1."""
    return singular, plural


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


def plural_rule(lang: str) -> str:
    """The body of ``lang``'s plural rule as JavaScript (``n`` -> the index of its form), from Babel's Plural-Forms
    expression for the language (:func:`rule_js`)."""
    return rule_js(str(Catalog(locale=lang).plural_expr))


def rule_js(expression: str) -> str:
    """A Plural-Forms expression as the body of a JavaScript function of ``n``, refused (ValueError, saying where)
    unless it is made of gettext's plural grammar only: it is written into a script the pages run."""
    at, depth, end = 0, 0, len(expression.rstrip())
    while at < end:
        token = _RULE_TOKEN.match(expression, at)
        if not token:
            raise ValueError(f"plural rule {expression!r}: unexpected {expression[at:]!r} at {at}")
        depth += {"(": 1, ")": -1}.get(token.group(3) or "", 0)
        if depth < 0:
            raise ValueError(f"plural rule {expression!r}: unbalanced ')' at {at}")
        at = token.end()
    if depth or not end:
        raise ValueError(f"plural rule {expression!r}: unbalanced '(' or empty")
    return f"Number({expression.strip()})"


def extract(root: Path = ROOT) -> Catalog:
    """Every marked message of the pages (their JavaScript and Python), with where it is used (a plural message as
    its two English forms)."""
    template = Catalog(project="wallboard", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), _METHODS, keywords=_KEYWORDS, comment_tags=("i18n:",), strip_comment_tags=True
    ):
        if message and all(isinstance(part, str) and part for part in _forms(message)):
            template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _forms(text: object) -> tuple[object, ...]:
    return tuple(text) if isinstance(text, (tuple, list)) else (text,)


def _key(message: Message) -> MessageId:
    """A message's identity: its text, or a plural message's two English forms."""
    return message.id if isinstance(message.id, str) else tuple(message.id)


def _read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream, locale=lang)


def _text(catalog: Catalog, *, locations: bool = True) -> str:
    out = io.BytesIO()
    write_po(out, catalog, width=120, omit_header=True, no_location=not locations, sort_output=True)
    return out.getvalue().decode()


def catalog(lang: str) -> dict[str, Translation]:
    """The translations of ``lang``: message -> text, a plural message's singular -> its forms (as many as the
    language has); untranslated (a plural one: any form missing) and fuzzy messages are left out."""
    path = LOCALES / f"{lang}.po"
    if not path.is_file():
        return {}
    po = _read(path, lang)
    out: dict[str, Translation] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, str) and isinstance(message.string, str) and message.string:
            out[message.id] = message.string
        elif not isinstance(message.id, str):
            forms = [str(form) for form in _forms(message.string) if form]
            if len(forms) == po.num_plurals:
                out[str(message.id[0])] = forms
    return out


def update(template: Catalog) -> dict[Path, str]:
    """The template and each language's catalog as they should be: the template's messages, translations kept."""
    files = {TEMPLATE: _text(template)}
    for lang in TRANSLATED:
        path = LOCALES / f"{lang}.po"
        current = _read(path, lang) if path.is_file() else Catalog(locale=lang)
        merged = Catalog(locale=lang, project="wallboard", fuzzy=False)
        for message in template:
            if not message.id:
                continue
            old = current.get(message.id, context=message.context)
            string: str | tuple[str, ...] = "" if isinstance(message.id, str) else ("",) * merged.num_plurals
            if old is not None and isinstance(old.string, type(string)):  # a plural that became one starts afresh
                string = old.string
            merged.add(message.id, string, context=message.context)
        files[path] = _text(merged, locations=False)
    return files


def build_js() -> str:
    """``tv_assets/i18n-catalogs.js``: every language's translations and plural rule for ``i18n.js``."""
    catalogs = {lang: dict(sorted(catalog(lang).items())) for lang in TRANSLATED}
    names = json.dumps(LANGUAGES, ensure_ascii=False)
    body = json.dumps(catalogs, ensure_ascii=False, indent=1, sort_keys=True)
    rules = "".join(f" {json.dumps(lang)}: (n) => {plural_rule(lang)},\n" for lang in TRANSLATED)
    header = "// GENERATED by `scripts/i18n build` from dash_app/locales/*.po: do not edit by hand.\n"
    return (
        header
        + f"window.WB_LANGUAGES = {names};\n"
        + "// a count n -> the index of its form in a plural message's list (Babel's Plural-Forms of the language)\n"
        + f"window.WB_PLURALS = {{\n{rules}}};\n"
        + f"window.WB_CATALOGS = {body};\n"
    )


def check() -> list[Problem]:
    """What is out of date or missing: stale files, untranslated messages, placeholders lost (empty: all good)."""
    problems: list[Problem] = []
    template = extract()
    wanted = {_key(message) for message in template if message.id}
    for path, lang in ((TEMPLATE, None), *((LOCALES / f"{lang}.po", lang) for lang in TRANSLATED)):
        # the messages must be the pages' (where they are used may move: the template's locations are a help)
        held = {_key(message) for message in _read(path, lang) if message.id} if path.is_file() else set()
        if held != wanted:
            added, gone = sorted(map(str, wanted - held)), sorted(map(str, held - wanted))
            problems.append(
                f"{path.relative_to(ROOT.parent)} is out of date ({len(added)} new, e.g. {added[:2]}; {len(gone)} gone,"
                f" e.g. {gone[:2]}): run scripts/i18n update"
            )
    if not BUILT.is_file() or BUILT.read_text() != build_js():
        problems.append(f"{BUILT.relative_to(ROOT.parent)} is out of date: run scripts/i18n build")
    english = {
        str(_forms(message.id)[0]): [str(form) for form in _forms(message.id)] for message in template if message.id
    }
    for lang in TRANSLATED:
        translated = catalog(lang)
        # a message is translated in the shape it has: a text for a text, every form of the language for a plural
        missing = [msgid for msgid, forms in english.items() if not isinstance(translated.get(msgid), (str, list))
                   or isinstance(translated[msgid], list) != (len(forms) > 1)]  # fmt: skip
        if missing:
            problems.append(f"{lang}: {len(missing)} untranslated, e.g. {missing[:3]}")
        for msgid, text in translated.items():
            # every form keeps the placeholders of the English plural (Czech's "1 hovor" is "{n} hovor")
            wanted_names = placeholders(english.get(msgid, [msgid])[-1])
            for form in _forms(text):
                if placeholders(str(form)) != wanted_names:
                    problems.append(f"{lang}: {msgid!r} -> {form!r} changes the placeholders")
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
