"""Free text from people (token labels, notes, board and threshold titles): stored clean, shown harmless.

Theory of operation
-------------------
Text someone typed is later shown somewhere else: a TV, the ops page, an administrator's terminal
(``wallboard tokens list``). Control characters in it are never content and can be commands: an
escape sequence retitles or clears a terminal, a carriage return overwrites what a line showed, a
bidi override reverses what the reader sees. So every model field of such text is ``CleanText``:
``clean`` runs before the field's own bounds, turns tabs and line breaks into spaces, drops every
other control (C0, DEL, C1), bidi embedding/override/isolate and line/paragraph separator, and
strips the ends. What is already stored (an older version, Redis written directly) is shown on a
terminal through ``printable``, which spells those characters as visible escapes (``\\x1b``,
``\\u202e``) instead.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

# C0 controls, DEL, C1 controls; bidi embeddings/overrides (U+202A-E) and isolates (U+2066-9); the
# line and paragraph separators (U+2028-9)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile("[\t\n\r\v\f]+")


def clean(text: str) -> str:
    """``text`` without control characters: whitespace controls become one space, the rest are dropped."""
    return _UNSAFE.sub("", _SPACES.sub(" ", text)).strip()


def _clean_input(value: object) -> object:
    return clean(value) if isinstance(value, str) else value  # anything else: the field's own type check says no


CleanText = Annotated[str, BeforeValidator(_clean_input)]  # a str field of free text, cleaned before its bounds


def printable(text: object) -> str:
    """``str(text)`` with every control character spelled as a visible escape (for a terminal)."""
    return _UNSAFE.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
