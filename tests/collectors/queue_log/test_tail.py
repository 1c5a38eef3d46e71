"""Tests for collectors/queue_log/tail.py: following a real file in tmp_path."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from collectors.queue_log.position import Found
from collectors.queue_log.tail import FileFollower, follow


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as stream:
        stream.write(data)


def _lines(batch: list[tuple[bytes, int]]) -> list[bytes]:
    return [line for line, _ in batch]


def test_from_start_returns_existing_lines_with_their_offsets(tmp_path: Path) -> None:
    """from_start=True reads what is there; each line carries the offset of its first byte."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"one\ntwo\r\nthree\n")
    with FileFollower(path, from_start=True) as follower:
        assert follower.poll() == [(b"one", 0), (b"two\r", 4), (b"three", 9)]
        assert follower.poll() == []
        assert follower.position == 15


def test_appended_lines_are_returned_by_the_next_poll(tmp_path: Path) -> None:
    """Only what was appended since the last poll comes back."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"old\n")
    with FileFollower(path) as follower:
        assert follower.poll() == []  # from the end by default
        _append(path, b"new 1\nnew 2\n")
        assert follower.poll() == [(b"new 1", 4), (b"new 2", 10)]
        assert follower.lines == 2


def test_starting_from_the_end_skips_a_partial_last_line(tmp_path: Path) -> None:
    """Started mid-line, the follower drops the fragment and starts with the next whole line."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"a\nhalf")
    with FileFollower(path) as follower:
        assert follower.poll() == []
        _append(path, b" a line\nwhole\n")
        assert _lines(follower.poll()) == [b"whole"]


def test_a_partial_line_is_kept_until_its_newline_arrives(tmp_path: Path) -> None:
    """A line without its newline is not returned; once completed it comes whole, at its first byte."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    with FileFollower(path) as follower:
        follower.poll()
        _append(path, b"first\nsec")
        assert follower.poll() == [(b"first", 0)]
        _append(path, b"ond")
        assert follower.poll() == []
        _append(path, b" part\n")
        assert follower.poll() == [(b"second part", 6)]


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    """After mv + recreate, lines written to the old file after the rename come first, none is lost."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"1\n")
    with FileFollower(path, from_start=True) as follower:
        assert _lines(follower.poll()) == [b"1"]
        path.rename(tmp_path / "queue_log.1")
        _append(tmp_path / "queue_log.1", b"2 late in the old file\n")
        path.write_bytes(b"3 first of the new file\n")
        _append(path, b"4\n")
        assert follower.poll() == [(b"2 late in the old file", 2), (b"3 first of the new file", 0), (b"4", 24)]
        assert follower.rotations == 1
        _append(path, b"5\n")
        assert _lines(follower.poll()) == [b"5"]


def test_rotation_delivers_an_unterminated_last_line_of_the_old_file(tmp_path: Path) -> None:
    """Nothing will complete the old file's last line once the new file is used: it is delivered as is."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"1\n2 without newline")
    with FileFollower(path, from_start=True) as follower:
        assert _lines(follower.poll()) == [b"1"]
        path.rename(tmp_path / "queue_log.1")
        path.write_bytes(b"3\n")
        assert follower.poll() == [(b"2 without newline", 2), (b"3", 0)]


def test_rotation_waits_while_the_new_file_is_empty(tmp_path: Path) -> None:
    """An empty new file (logrotate's create) does not end the old one: the writer may still use it."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"1\n")
    with FileFollower(path, from_start=True) as follower:
        follower.poll()
        path.rename(tmp_path / "queue_log.1")
        path.write_bytes(b"")
        _append(tmp_path / "queue_log.1", b"2\n")
        assert _lines(follower.poll()) == [b"2"]
        _append(tmp_path / "queue_log.1", b"3\n")
        _append(path, b"4\n")
        assert _lines(follower.poll()) == [b"3", b"4"]
        assert follower.rotations == 1


def test_renamed_away_without_a_new_file_keeps_reading_the_old_one(tmp_path: Path) -> None:
    """Between the rename and the new file, the old file is still followed."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    with FileFollower(path) as follower:
        follower.poll()
        path.rename(tmp_path / "queue_log.1")
        _append(tmp_path / "queue_log.1", b"still here\n")
        assert _lines(follower.poll()) == [b"still here"]
        assert follower.rotations == 0


def test_truncation_restarts_from_the_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """copytruncate: a file shorter than the position is read again from 0, and that is logged at INFO."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"a long first line\nand a second one\n")
    with FileFollower(path, from_start=True) as follower, caplog.at_level(logging.INFO):
        assert len(follower.poll()) == 2
        with path.open("r+b") as stream:
            stream.truncate(0)
        _append(path, b"fresh\n")
        assert follower.poll() == [(b"fresh", 0)]
        assert follower.truncations == 1
    assert any("truncated" in record.getMessage() for record in caplog.records if record.levelno == logging.INFO)


def test_a_missing_file_is_waited_for_and_read_from_its_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No file: polls return nothing and the wait is logged once; when it appears, all of it is new."""
    path = tmp_path / "queue_log"
    with FileFollower(path) as follower, caplog.at_level(logging.INFO):
        assert follower.poll() == []
        assert follower.poll() == []
        path.write_bytes(b"first\n")
        assert follower.poll() == [(b"first", 0)]
    waits = [record for record in caplog.records if "waiting for" in record.getMessage()]
    assert len(waits) == 1


def test_a_directory_at_the_path_is_waited_out_not_read(tmp_path: Path) -> None:
    """A path naming a directory is not followed (no error); once it is a file, the file is read."""
    path = tmp_path / "queue_log"
    path.mkdir()
    with FileFollower(path, from_start=True) as follower:
        assert follower.poll() == []
        path.rmdir()
        path.write_bytes(b"now a file\n")
        assert _lines(follower.poll()) == [b"now a file"]


def test_utf8_path_and_content_pass_through_untouched(tmp_path: Path) -> None:
    """A non-ASCII file name works and the bytes of UTF-8 names come back as written."""
    path = tmp_path / "queue_log-José"
    line = "1795350939|1795350935.51|sales|José Álvarez|CONNECT|4|1795350935.52|4".encode()
    path.write_bytes(line + b"\n")
    with FileFollower(path, from_start=True) as follower:
        assert follower.poll() == [(line, 0)]


def test_an_overlong_line_is_dropped_and_the_next_one_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A line past max_line bytes is dropped with a warning; the following line is intact."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"x" * 100 + b"\nok\n")
    with FileFollower(path, from_start=True, max_line=32) as follower, caplog.at_level(logging.WARNING):
        assert follower.poll() == [(b"ok", 101)]
        assert follower.dropped == 1
    assert "longer than 32 bytes" in caplog.text


def test_a_backlog_larger_than_the_read_budget_comes_over_several_polls(tmp_path: Path) -> None:
    """Each poll reads at most read_budget bytes; together the polls return every line once, in order."""
    path = tmp_path / "queue_log"
    expected = [f"line {i:04d}".encode() for i in range(500)]
    path.write_bytes(b"".join(line + b"\n" for line in expected))
    got: list[bytes] = []
    polls = 0
    with FileFollower(path, from_start=True, read_budget=1000) as follower:
        while batch := follower.poll():
            got.extend(_lines(batch))
            polls += 1
    assert got == expected
    assert polls >= len(expected) * 10 // 1000


def test_close_then_poll_reopens_from_the_start(tmp_path: Path) -> None:
    """After close(), the next poll opens the path again and reads it from its start."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"a\n")
    follower = FileFollower(path, from_start=True)
    assert _lines(follower.poll()) == [b"a"]
    follower.close()
    assert _lines(follower.poll()) == [b"a"]
    follower.close()


async def _collect(lines: AsyncGenerator[bytes, None], count: int) -> list[bytes]:
    got: list[bytes] = []
    async with asyncio.timeout(5):
        async for line in lines:
            got.append(line)
            if len(got) == count:
                break
    return got


async def test_follow_yields_existing_then_appended_lines(tmp_path: Path) -> None:
    """follow() yields the file's lines, then lines appended while it runs, across a rotation."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"1\n2\n")
    lines = follow(path, poll_interval=0.01, from_start=True)
    try:
        assert await _collect(lines, 2) == [b"1", b"2"]
        _append(path, b"3\n")
        assert await _collect(lines, 1) == [b"3"]
        os.rename(path, tmp_path / "queue_log.1")
        _append(tmp_path / "queue_log.1", b"4\n")
        path.write_bytes(b"5\n")
        assert await _collect(lines, 2) == [b"4", b"5"]
    finally:
        await lines.aclose()


async def test_follow_waits_for_a_missing_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """follow() on a path that does not exist yet yields all the file's lines once it appears."""
    path = tmp_path / "later" / "queue_log"
    lines = follow(path, poll_interval=0.01)
    first = asyncio.ensure_future(_collect(lines, 1))
    try:
        with caplog.at_level(logging.INFO, logger="collectors.queue_log.tail"):
            async with asyncio.timeout(5):
                while "waiting for" not in caplog.text:
                    await asyncio.sleep(0)
        path.parent.mkdir()
        path.write_bytes(b"hello\n")
        assert await first == [b"hello"]
    finally:
        await lines.aclose()


def test_bare_cr_ends_a_line_like_lf(tmp_path: Path) -> None:
    """An old-Mac file (CR only) gives its lines with their offsets; CRLF lines keep their CR as before."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"one\rtwo\r\nthree\nfour\r")
    with FileFollower(path, from_start=True) as follower:
        assert follower.poll() == [(b"one", 0), (b"two\r", 4), (b"three", 9), (b"four", 15)]
        _append(path, b"five\r")
        assert follower.poll() == [(b"five", 20)]


def test_a_crlf_split_across_reads_ends_one_line(tmp_path: Path) -> None:
    """A CR at the end of one read ends its line at once; an LF right after it, in the next read, adds no line."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"")
    with FileFollower(path) as follower:
        follower.poll()
        _append(path, b"one\r")
        assert follower.poll() == [(b"one", 0)]
        _append(path, b"\ntwo\r\n")
        assert follower.poll() == [(b"two\r", 5)]
        assert follower.lines == 2


def test_starting_from_the_end_after_a_bare_cr_skips_nothing(tmp_path: Path) -> None:
    """A file ending with a CR ends with a complete line: the next line appended is read whole."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"old\r")
    with FileFollower(path) as follower:
        assert follower.poll() == []
        _append(path, b"new\r")
        assert follower.poll() == [(b"new", 4)]


# --- positions: where a restart would read from --------------------------------------------------------


def test_line_end_is_past_the_last_complete_line(tmp_path: Path) -> None:
    """line_end moves past each complete line, not into a partial one; None before a file is open."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"one\ntw")
    with FileFollower(path, from_start=True) as follower:
        assert follower.line_end is None
        follower.poll()
        assert follower.line_end == 4 and follower.position == 6
        _append(path, b"o\r\nthree\r")
        follower.poll()
        assert follower.line_end == 15
        _append(path, b"\n")  # the LF of a CRLF split across reads: no new line end
        follower.poll()
        assert follower.line_end == 15 and follower.position == 16


def test_line_end_is_unknown_until_a_line_end_after_starting_mid_line(tmp_path: Path) -> None:
    """Started at the end, inside a line: no place to resume from until that line ends (then past it)."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"a\nhalf")
    with FileFollower(path) as follower:
        assert follower.poll() == [] and follower.line_end is None
        _append(path, b" a line\n")
        assert follower.poll() == [] and follower.line_end == 14
    path.write_bytes(b"a\n")
    with FileFollower(path) as follower:
        follower.poll()
        assert follower.line_end == 2


def test_line_end_moves_past_a_dropped_overlong_line(tmp_path: Path) -> None:
    """A line too long to deliver is still read past: the place to resume from is after it."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"x" * 50 + b"\nok\n")
    with FileFollower(path, from_start=True, max_line=10) as follower:
        assert follower.poll() == [(b"ok", 51)] and follower.line_end == 54


def test_position_at_names_the_open_file(tmp_path: Path) -> None:
    """position_at: the open file's identity, the offset and the hash of the line ending there."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"one\ntwo\n")
    with FileFollower(path, from_start=True) as follower:
        assert follower.position_at(4) is None  # nothing open yet
        follower.poll()
        st = path.stat()
        here = follower.position_at(4)
        assert here is not None and (here.dev, here.ino, here.offset) == (st.st_dev, st.st_ino, 4)
        assert here.line_hash == hashlib.blake2b(b"one\n", digest_size=8).hexdigest()
        assert follower.identity == (st.st_dev, st.st_ino)
        assert follower.position_at(99) is None


def test_new_file_at_says_where_the_lines_of_another_file_begin(tmp_path: Path) -> None:
    """Rotation and truncation: new_file_at is the index of the first line of the new (or re-read) file."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"1\n")
    with FileFollower(path, from_start=True) as follower:
        assert follower.poll() == [(b"1", 0)] and follower.new_file_at == 0  # the first open
        _append(path, b"2\n")
        assert follower.poll() == [(b"2", 2)] and follower.new_file_at is None
        _append(path, b"3\n")
        path.rename(tmp_path / "queue_log.1")
        path.write_bytes(b"4\n")
        assert follower.poll() == [(b"3", 4), (b"4", 0)] and follower.new_file_at == 1
        assert follower.identity == (path.stat().st_dev, path.stat().st_ino)
        with path.open("r+b") as stream:
            stream.truncate(0)
        _append(path, b"5")
        assert follower.poll() == [] and follower.new_file_at == 0 and follower.line_end == 0


def test_resume_reads_from_the_offset_of_the_same_file(tmp_path: Path) -> None:
    """A file found at a stored offset: the lines from there on, and nothing before."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"one\ntwo\nthree\n")
    with FileFollower(path) as follower:
        follower.resume(Found(os.open(path, os.O_RDONLY), str(path), 4))
        assert follower.line_end == 4
        assert follower.poll() == [(b"two", 4), (b"three", 8)]
        _append(path, b"four\n")
        assert follower.poll() == [(b"four", 14)]


def test_resume_after_a_cr_does_not_make_a_blank_line_of_its_lf(tmp_path: Path) -> None:
    """Resumed right after a CR whose LF follows (a CRLF split where a position was taken): the LF is skipped."""
    path = tmp_path / "queue_log"
    path.write_bytes(b"one\r\ntwo\n")
    with FileFollower(path) as follower:
        follower.resume(Found(os.open(path, os.O_RDONLY), str(path), 4))
        assert follower.poll() == [(b"two", 5)]


def test_resume_in_a_rotated_file_reads_its_rest_then_the_path_from_its_start(tmp_path: Path) -> None:
    """Resumed in queue_log.1: its rest first, then the file now at the path, whole, as after a rotation."""
    path = tmp_path / "queue_log"
    (tmp_path / "queue_log.1").write_bytes(b"old 1\nold 2\n")
    path.write_bytes(b"new 1\n")
    with FileFollower(path) as follower:
        follower.resume(Found(os.open(tmp_path / "queue_log.1", os.O_RDONLY), str(tmp_path / "queue_log.1"), 6))
        assert follower.poll() == [(b"old 2", 6), (b"new 1", 0)]
        assert follower.new_file_at == 1 and follower.rotations == 1
