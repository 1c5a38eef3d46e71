"""Tests for collectors/queue_log/position.py: naming a place in a file, and finding it again after rotation."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.queue_log.position import (
    HASH_SPAN,
    FilePosition,
    Found,
    line_hash,
    locate,
    siblings,
    source_name,
)
from collectors.queue_log.reorder import ReorderBuffer

FIRST = b"1700000000|c.1|support|NONE|ENTERQUEUE||5039815101|1\n"
SECOND = b"1700000001|c.2|support|NONE|ENTERQUEUE||5039815102|1\n"
THIRD = b"1700000002|c.3|support|NONE|ENTERQUEUE||5039815103|1\n"


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _hash_in(path: Path, offset: int) -> str | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return line_hash(fd, offset)
    finally:
        os.close(fd)


def _position(path: Path, offset: int) -> FilePosition:
    st = path.stat()
    digest = _hash_in(path, offset)
    assert digest is not None
    return FilePosition(st.st_dev, st.st_ino, offset, digest)


@pytest.fixture
def opened() -> Iterator[list[Found]]:
    """The files locate() opened, closed after the test."""
    found: list[Found] = []
    yield found
    for item in found:
        os.close(item.fd)


def _locate(path: Path, stored: FilePosition, opened: list[Found]) -> Found | None:
    found = locate(str(path), stored)
    if found is not None:
        opened.append(found)
    return found


def _replace(path: Path, data: bytes) -> None:
    """Put a new file at ``path`` (made while the old one still exists: another inode), the old one deleted."""
    new = path.with_name(".new")
    new.write_bytes(data)
    new.replace(path)


def _rest(found: Found) -> bytes:
    return os.pread(found.fd, 1 << 20, found.offset)


# --- line_hash -----------------------------------------------------------------------------------------


def test_line_hash_covers_the_line_ending_at_the_offset_with_its_end(tmp_path: Path) -> None:
    """The hash is of the whole line ending at the offset, its LF included; "" at 0; None past the end."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + SECOND)
    assert _hash_in(path, len(FIRST)) == _hash(FIRST)
    assert _hash_in(path, len(FIRST + SECOND)) == _hash(SECOND)
    assert _hash_in(path, 0) == ""
    assert _hash_in(path, len(FIRST + SECOND) + 1) is None


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"one\r\ntwo\r\n", b"two\r\n"),  # CRLF: the CR is part of the line
        (b"one\rtwo\r", b"two\r"),  # bare CRs (old Mac files) end lines
        (b"one\n\r\n", b"\r\n"),  # a blank CRLF line
        (b"two\n", b"two\n"),  # the first line of the file
    ],
)
def test_line_hash_accepts_every_line_end(tmp_path: Path, content: bytes, line: bytes) -> None:
    """LF, CRLF and bare CR end the line before; the line's own end is hashed with it."""
    path = tmp_path / "queue_log"
    path.write_bytes(content)
    assert _hash_in(path, len(content)) == _hash(line)


def test_line_hash_of_a_very_long_line_is_of_its_last_bytes(tmp_path: Path) -> None:
    """Only the last HASH_SPAN bytes of a long line count: the work per position is bounded."""
    long_line = b"x" * (3 * HASH_SPAN) + b"\n"
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + long_line)
    assert _hash_in(path, len(FIRST + long_line)) == _hash(long_line[-HASH_SPAN:])


# --- the stored form -------------------------------------------------------------------------------------


def test_a_position_round_trips_through_its_stored_form() -> None:
    """value() is what the store keeps; from_value reads it back."""
    position = FilePosition(2049, 131, 4096, "0123456789abcdef")
    assert position.value() == {"dev": 2049, "ino": 131, "offset": 4096, "hash": "0123456789abcdef"}
    assert FilePosition.from_value(position.value()) == position


@pytest.mark.parametrize(
    "value",
    [
        {"dev": 1, "ino": 2, "offset": 3},
        {"dev": 1, "ino": 2, "offset": -3, "hash": ""},
        {"dev": 1, "ino": "2", "offset": 3, "hash": ""},
        {"dev": 1, "ino": 2, "offset": True, "hash": ""},
        {"dev": 1, "ino": 2, "offset": 3, "hash": 7},
    ],
)
def test_a_stored_form_that_is_not_a_position_is_ignored(
    value: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """A missing field or a wrong type: None, and a warning naming what was read."""
    caplog.set_level(logging.WARNING)
    assert FilePosition.from_value(value) is None
    assert "stored queue_log position" in caplog.text


def test_the_source_is_named_by_the_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative path and its absolute form name the same source."""
    monkeypatch.chdir(tmp_path)
    assert source_name("queue_log") == source_name(tmp_path / "queue_log") == f"queue_log:{tmp_path / 'queue_log'}"


# --- siblings ----------------------------------------------------------------------------------------------


def test_siblings_are_the_uncompressed_files_named_after_the_path(tmp_path: Path) -> None:
    """queue_log.1 and queue_log-20261207 are; the path itself, compressed files, others and directories are not."""
    for name in ("queue_log", "queue_log.1", "queue_log-20261207", "queue_log.2.gz", "queue_log.3.ZST", "messages"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "queue_log.d").mkdir()
    assert siblings(str(tmp_path / "queue_log")) == [
        str(tmp_path / "queue_log-20261207"),
        str(tmp_path / "queue_log.1"),
    ]


# --- locate: finding the place again -------------------------------------------------------------------------


def test_the_same_file_is_resumed_at_the_offset(tmp_path: Path, opened: list[Found]) -> None:
    """Same identity, long enough, same line before the offset: the file itself, at the offset."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + SECOND)
    stored = _position(path, len(FIRST))
    with path.open("ab") as stream:
        stream.write(THIRD)
    found = _locate(path, stored, opened)
    assert found is not None and found.name == str(path) and found.offset == len(FIRST)
    assert _rest(found) == SECOND + THIRD


def test_a_renamed_file_is_found_beside_the_path_by_its_identity(tmp_path: Path, opened: list[Found]) -> None:
    """mv queue_log queue_log.1 and a new queue_log: the old file, where it was left, with what was added to it."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST)
    stored = _position(path, len(FIRST))
    with path.open("ab") as stream:
        stream.write(SECOND)
    path.rename(tmp_path / "queue_log.1")
    path.write_bytes(THIRD)
    (tmp_path / "queue_log-old").write_bytes(FIRST + SECOND)  # same content, another file: identity wins
    found = _locate(path, stored, opened)
    assert found is not None and found.name == str(tmp_path / "queue_log.1")
    assert _rest(found) == SECOND


def test_a_copytruncated_file_is_found_by_its_content_at_the_offset(tmp_path: Path, opened: list[Found]) -> None:
    """copytruncate: the path is the same file, now shorter; the copy holds the same line before the offset."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + SECOND)
    stored = _position(path, len(FIRST + SECOND))
    with path.open("ab") as stream:
        stream.write(THIRD)
    shutil.copyfile(path, tmp_path / "queue_log.1")
    (tmp_path / "queue_log.2").write_bytes(SECOND + FIRST)  # an older copy: another line at the offset
    with path.open("r+b") as stream:
        stream.truncate(0)
    found = _locate(path, stored, opened)
    assert found is not None and found.name == str(tmp_path / "queue_log.1")
    assert _rest(found) == THIRD


def test_a_copytruncated_file_refilled_past_the_offset_is_told_by_its_hash(tmp_path: Path, opened: list[Found]) -> None:
    """The path grew back past the offset after copytruncate: the line before the offset differs, the copy is read."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST)
    stored = _position(path, len(FIRST))
    with path.open("ab") as stream:
        stream.write(SECOND)
    shutil.copyfile(path, tmp_path / "queue_log.1")
    path.write_bytes(THIRD + THIRD)  # truncated and written again, longer than the offset
    found = _locate(path, stored, opened)
    assert found is not None and found.name == str(tmp_path / "queue_log.1")
    assert _rest(found) == SECOND


def test_the_newest_of_several_matching_copies_is_read(tmp_path: Path, opened: list[Found]) -> None:
    """Two copies hold the same line at the offset: the one written last is the one with the rest."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST)
    stored = _position(path, len(FIRST))
    (tmp_path / "queue_log.2").write_bytes(FIRST + THIRD)
    (tmp_path / "queue_log.1").write_bytes(FIRST + SECOND)
    os.utime(tmp_path / "queue_log.2", (1_700_000_000, 1_700_000_000))
    path.write_bytes(b"")
    found = _locate(path, stored, opened)
    assert found is not None and found.name == str(tmp_path / "queue_log.1")


def test_a_lost_file_is_a_warning_saying_what_may_be_missed(
    tmp_path: Path, opened: list[Found], caplog: pytest.LogCaptureFixture
) -> None:
    """Deleted, or only kept compressed: None, and a WARNING naming the offset and the path read from its start."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + SECOND)
    stored = _position(path, len(FIRST))
    (tmp_path / "queue_log.1.gz").write_bytes(FIRST + SECOND)
    _replace(path, THIRD)
    assert _locate(path, stored, opened) is None
    assert f"read up to offset {len(FIRST)}" in caplog.text and "may have been missed" in caplog.text
    assert f"reading {path} from its start" in caplog.text


def test_the_same_file_changed_before_the_offset_is_not_resumed(
    tmp_path: Path, opened: list[Found], caplog: pytest.LogCaptureFixture
) -> None:
    """Same identity and long enough, but another line before the offset (edited in place): not resumed there."""
    caplog.set_level(logging.WARNING)
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + SECOND)
    stored = _position(path, len(FIRST))
    with path.open("r+b") as stream:
        stream.write(THIRD)  # same length, other content
    assert _locate(path, stored, opened) is None
    assert "may have been missed" in caplog.text


def test_a_file_found_by_identity_but_shorter_is_not_resumed(tmp_path: Path, opened: list[Found]) -> None:
    """A renamed file found by identity must still hold the offset (an inode may be reused)."""
    path = tmp_path / "queue_log"
    path.write_bytes(FIRST + SECOND)
    stored = _position(path, len(FIRST + SECOND))
    path.rename(tmp_path / "queue_log.1")
    with (tmp_path / "queue_log.1").open("r+b") as stream:
        stream.truncate(len(FIRST))
    path.write_bytes(THIRD)
    assert _locate(path, stored, opened) is None


def test_at_offset_zero_only_the_same_file_matches(tmp_path: Path, opened: list[Found]) -> None:
    """Nothing read yet: the renamed file is found by identity; any other file would match no content."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    stored = _position(path, 0)
    (tmp_path / "queue_log-unrelated").write_bytes(THIRD)
    assert _locate(path, stored, opened) is not None
    _replace(path, SECOND)
    assert _locate(path, stored, opened) is None


# --- the reorder window's marks ----------------------------------------------------------------------------------


def test_the_first_mark_is_the_smallest_held() -> None:
    """Marks go in with their batches; first_mark is the smallest still held, late batches included."""
    buffer: ReorderBuffer[str] = ReorderBuffer(2)
    assert buffer.first_mark is None
    assert buffer.push(100, ["a"], 0) == []
    assert buffer.push(101, ["b"], 10) == []
    assert buffer.first_mark == 0
    assert buffer.push(99, ["late"], 20) == []  # inserted before the others, read after them
    assert buffer.first_mark == 0
    assert buffer.push(103, ["c"], 30) == ["late", "a"]
    assert buffer.first_mark == 10
    assert buffer.push(102, ["between"], 40) == []  # late, within the window: held, after a smaller mark
    assert buffer.first_mark == 10
    assert buffer.flush() == ["b", "between", "c"]
    assert buffer.first_mark is None
    assert buffer.push(104, ["unmarked"]) == [] and buffer.first_mark is None
