"""Tests for collectors/queue_log/records.py: a queue_log line in, a Record out (or MalformedLine)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.queue_log.records import (
    MAX_DIGITS,
    MalformedLine,
    QueueLogError,
    Record,
    parse_digits,
    parse_epoch,
    parse_line,
    split_line,
)

# --- parse_line ---------------------------------------------------------------------------------------


def test_parse_line_splits_the_fixed_columns_and_the_data_fields() -> None:
    """The five fixed columns become fields; the rest is the data tuple; CR/LF is stripped."""
    record = parse_line("1795350765|1795350761.1|support|Alice Nguyen|CONNECT|4|1795350761.2|4\r\n", 7)
    assert record == Record(
        1795350765, "1795350761.1", "support", "Alice Nguyen", "CONNECT", ("4", "1795350761.2", "4"), 7
    )


def test_parse_line_drops_trailing_empty_data_fields_only() -> None:
    """``ADDMEMBER|`` has no data; leading empty fields (ENTERQUEUE's url) stay in place."""
    assert parse_line("1|MANAGER|billing|Local/agent01@agents/n|ADDMEMBER|", 1).data == ()
    assert parse_line("1|c.1|support|NONE|ENTERQUEUE||5039815111|1", 1).data == ("", "5039815111", "1")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1795350750|NONE|NONE|QUEUESTART", "fields"),
        ("garbage", "fields"),
        ("17953x0750|NONE|NONE|NONE|QUEUESTART|", "epoch"),
        ("-5|NONE|NONE|NONE|QUEUESTART|", "epoch"),
        ("１２|NONE|NONE|NONE|QUEUESTART|", "epoch"),
        ("1795350750|NONE|NONE|NONE||x", "verb"),
    ],
)
def test_parse_line_rejects_unreadable_lines_with_lineno_and_excerpt(line: str, reason: str) -> None:
    """A line without five fields, an integer epoch or a verb raises MalformedLine naming line and text."""
    with pytest.raises(MalformedLine) as caught:
        parse_line(line, 42)
    assert caught.value.reason == reason
    assert caught.value.lineno == 42
    assert "line 42" in str(caught.value)
    assert line[:10] in str(caught.value)


def test_malformed_line_excerpt_is_bounded() -> None:
    """A huge bad line is quoted by a short excerpt, not in full."""
    with pytest.raises(MalformedLine) as caught:
        parse_line("x" * 10_000, 1)
    assert len(str(caught.value)) < 200


def test_split_line_is_parse_line_without_the_line_end() -> None:
    """The mapper's hot path gives the same record as parse_line for a line already without CR/LF."""
    for line in ("100|c.1|support|NONE|ENTERQUEUE||555|1||", "7|NONE|NONE|NONE|QUEUESTART", "0100|a|b|c|V|x"):
        assert split_line(line, 3) == parse_line(line + "\r\n", 3)
    with pytest.raises(MalformedLine, match="expected at least 5"):
        split_line("1|2|3", 1)


def test_record_line_is_canonical() -> None:
    """Record.line() writes the epoch without padding and no trailing empty fields."""
    assert parse_line("0100|c.1|support|NONE|ENTERQUEUE||555||", 1).line() == "100|c.1|support|NONE|ENTERQUEUE||555"
    assert Record(5, "", "q", "", "PAUSE", (), 1).line() == "5||q||PAUSE"


def test_malformed_line_is_a_queue_log_error() -> None:
    """Every error of the package derives from QueueLogError."""
    assert issubclass(MalformedLine, QueueLogError)


# --- numbers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp", ["9" * 5000, "1" * 19, "NaN", "inf", "-inf", "1e30", "1E5", "+100", "-100", " 100", "100 ", "1_000", "١٠٠"]
)
def test_an_epoch_that_is_not_plain_digits_is_rejected_not_raised(stamp: str) -> None:
    """Huge digit strings (int() raises past 4300 digits), NaN, inf, exponents, signs, spaces: MalformedLine."""
    with pytest.raises(MalformedLine) as caught:
        split_line(f"{stamp}|c.1|support|NONE|ENTERQUEUE||555|1", 3)
    assert (caught.value.reason, caught.value.lineno) == ("epoch", 3)
    with pytest.raises(MalformedLine):
        parse_epoch(stamp, 3, "")


@given(st.text(max_size=40) | st.from_regex(r"\A[0-9]{1,6000}\Z") | st.sampled_from(["nan", "1e30", "-0", " 1"]))
@settings(max_examples=300, deadline=None)
def test_parse_digits_never_raises(text: str) -> None:
    """Any text is a non-negative integer of at most MAX_DIGITS ASCII digits, or None."""
    value = parse_digits(text)
    if value is None:
        assert not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS)
    else:
        assert str(value) == text.lstrip("0") or (value == 0 and set(text) == {"0"})
