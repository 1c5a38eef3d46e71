"""Free text: ``clean`` for what is stored, ``printable`` for what a terminal shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from wallboard.core.text import CleanText, clean, printable

TITLE_ATTACK = "\x1b]0;pwned\x07\x1b[2J"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (TITLE_ATTACK, "]0;pwned[2J"),
        ("Reception TV", "Reception TV"),
        ("  two\r\nlines\tand a tab ", "two lines and a tab"),
        ("csi \x9b2J and del \x7f", "csi 2J and del"),
        ("bidi \u202eevil\u202c and \u2066isolate\u2069", "bidi evil and isolate"),
        ("accents, emoji 👩‍💻 stay", "accents, emoji 👩‍💻 stay"),
    ],
)
def test_clean_drops_controls_and_keeps_text(typed: str, stored: str) -> None:
    """Whitespace controls become a space, other controls go, everything printable stays."""
    assert clean(typed) == stored


@given(st.text())
def test_cleaned_text_prints_as_itself(text: str) -> None:
    """Anything clean leaves has nothing left for printable to escape."""
    assert printable(clean(text)) == clean(text)


def test_printable_spells_controls_as_visible_escapes() -> None:
    """An escape sequence is shown as \\x1b...; no control character reaches the terminal."""
    shown = printable(TITLE_ATTACK + "\u202e\x9b")
    assert shown == "\\x1b]0;pwned\\x07\\x1b[2J\\u202e\\x9b"
    assert all(ch.isprintable() for ch in shown)


class Note(BaseModel):
    note: CleanText = Field(min_length=1, max_length=10)


def test_clean_text_runs_before_the_fields_bounds() -> None:
    """A note of controls only is empty once clean (422), and the bounds count the cleaned text."""
    assert Note(note=" ok\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b ").note == "ok"
    with pytest.raises(ValidationError):
        Note(note="\x1b\x07")
    with pytest.raises(ValidationError):
        Note(note=12)  # type: ignore[arg-type]
