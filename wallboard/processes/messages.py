"""The ``wallboard`` command's own words in the user's language: gettext catalogs, read with the standard library.

Theory of operation
-------------------
Every text the command prints for a person (a result such as "stored board floor: version 2", an error, a hint;
``wallboard/cli/`` and the replay report of ``processes.report``) is English in the source and marked:
``_("stored board {name}: version {version}").format(...)``, or ``ngettext("{n} problem", "{n} problems", n)``
where a count is printed (Czech has three forms, Greek and Finnish two: the language's plural rule picks one).
The English text is the message id. What a program reads is never marked: JSON, CSV, the tab-separated
listings, tokens, URLs, the program name of ``wallboard: ...``, option and variable names.

The catalogs are the ``cli`` domain, apart from the pages' (``dash_app/locales``: the browser translates those,
and ``wallboard`` may not import ``dash_app``): ``wallboard/locales/cli.pot`` (the template), one
``<lang>.po`` per language for translators, and the ``<lang>.mo`` compiled from it, committed.
``scripts/i18n update|build|check`` keeps them current (``processes.message_catalogs``, with Babel).

At run time only this module is involved: it reads one ``.mo`` with ``gettext.GNUTranslations`` (well under a
millisecond) and imports neither Babel nor its CLDR data, so ``wallboard --help`` starts as fast as before. For
the same reason numbers in messages (counts, versions) are printed as Python prints them, not per locale: they
are small integers, where the locales agree.

The language is chosen as GNU gettext chooses it, with the command's own variable first: the first of
``WALLBOARD_LANG``, ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set decides; its value may be a
list (``fi:de``) and a locale name (``cs_CZ.UTF-8``); a language not shipped (or ``C``) is English.
:func:`use` makes it the process's language (the CLI calls it once, first thing in ``main``): the one piece of
process-wide state, as ``gettext.install`` would have it, kept here rather than in ``builtins``.

This module sits in ``processes`` because the CLI and the replay report both print through it: the CLI may
import a process module, and the core stays pure (no files, no environment).
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DOMAIN", "ENVIRONMENT", "LANGUAGES", "LOCALES", "N_", "_", "current", "negotiate", "ngettext", "use"]

log = logging.getLogger(__name__)

DOMAIN = "cli"
LOCALES = Path(__file__).resolve().parents[1] / "locales"
# The languages shipped: the pages' (dash_app.i18n.LANGUAGES; a test keeps the two the same). English is the source.
LANGUAGES = ("en", "fi", "nl", "el", "cs", "de", "fr", "es")
# Where the language comes from, first set first (GNU gettext's order, after the command's own variable).
ENVIRONMENT = ("WALLBOARD_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def negotiate(environ: Mapping[str, str]) -> str:
    """The language of ``environ``: the first variable of :data:`ENVIRONMENT` that is set decides; the first
    shipped language of its ``:``-separated list (``fi_FI.UTF-8``, ``de``...) is taken, else English."""
    for name in ENVIRONMENT:
        value = environ.get(name, "").strip()
        if not value:
            continue
        for candidate in value.split(":"):
            primary = re.split(r"[-_.@]", candidate.strip().lower())[0]
            if primary in LANGUAGES:
                return primary
        return "en"
    return "en"


def _read(lang: str) -> gettext.NullTranslations:
    path = LOCALES / f"{lang}.mo"
    if lang == "en":
        return gettext.NullTranslations()
    try:
        with path.open("rb") as stream:
            return gettext.GNUTranslations(stream)
    except OSError as exc:  # a package installed without its catalogs: still usable, in English
        log.debug("no catalog %s (%s): messages in English", path, exc.strerror)
        return gettext.NullTranslations()


def use(lang: str) -> str:
    """Print in ``lang`` (an unknown one: English) from now on; returns the language in use."""
    global _translations, _language
    _language = lang if lang in LANGUAGES else "en"
    _translations = _read(_language)
    return _language


def current() -> str:
    """The language in use."""
    return _language


def _(message: str) -> str:
    """``message`` in the language in use (English when it has no translation)."""
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` things, by the language's plural rule."""
    return _translations.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for translation, translate later"
    """Mark ``message`` for the catalog where it is defined, to be translated with :func:`_` where it is shown."""
    return message
