"""Follow a growing queue_log across rotation and truncation: complete lines out.

Theory of operation
-------------------
:class:`FileFollower` is a synchronous poller over plain ``os`` calls; :func:`follow` is the asyncio
loop around it. Each :meth:`FileFollower.poll` reads what was appended since the last one (at most
``read_budget`` bytes, so a large backlog is drained over several polls without blocking for long)
and returns the complete lines, without their ``\\n``, each with the byte offset of its first byte in
the file it came from. A last line without its newline is kept until the newline arrives. A bare CR
(old Mac files) ends a line too; a CRLF line keeps its CR (the parser strips it).

Once the open file is read to its end, the path is checked:

* **rotation** (the path names another inode: ``mv queue_log queue_log.1`` and a new file): once the
  new file is not empty (logrotate's ``create`` makes it before the PBX reopens its log, which may
  write to the old file meanwhile), the old file is read to its end, an unterminated last line of it
  is delivered as it is (nothing will complete it), and the new file is followed from its start;
* **truncation** (the file is shorter than the position read: ``copytruncate``): reading restarts at
  0, logged at INFO. A file truncated and then refilled past the old position before a poll looks
  like plain growth: that is the limit of ``copytruncate`` for every follower, prefer rotation;
* **missing** path: the open file is kept (rotation in progress); with no file yet, ``poll`` returns
  nothing and the wait is logged once.

The first open starts at the end of the file (``from_start=False``, skipping a partial last line)
or at its start; a file that appears later, or replaces a rotated one, is read from its start.
A line longer than ``max_line`` bytes is dropped with a warning (counted in ``dropped``).

Positions, for a reader that saves where it is (the collector stores them with its events): after each
poll, :attr:`FileFollower.line_end` is the offset just past the last line end read (None while the
follower, started at the end of a file in the middle of a line, has not seen a line end yet), and
:meth:`FileFollower.position_at` names an offset of the open file as a
:class:`~collectors.queue_log.position.FilePosition` (identity, offset, hash of the line ending there).
:attr:`FileFollower.new_file_at` says where, in the lines of the last poll, those of another file (a
rotation) or of the truncated file read again begin: offsets before and after it are not in the same
file. :meth:`FileFollower.resume` starts from a file found open at a stored position
(:func:`~collectors.queue_log.position.locate`): the rest of it is read, then, if it is not the file at
the path (a rotated one), the files rotated after it (``Found.then``) each whole, oldest first, and the path
is followed from its start like after any rotation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
from collections.abc import AsyncGenerator
from types import TracebackType

from collectors.queue_log.position import FilePosition, Found, line_hash

__all__ = ["FileFollower", "follow"]

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
_LINE_END = re.compile(rb"\n|\r(?!\n)")  # LF, or a bare CR (old Mac files); CRLF lines keep their CR


class FileFollower:
    """Poll a file for appended complete lines, following rotation and truncation (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        from_start: bool = False,
        max_line: int = 1 << 20,
        read_budget: int = 4 << 20,
    ) -> None:
        self.path = os.fspath(path)
        self._start_at_end = not from_start
        self._max_line = max_line
        self._budget = read_budget
        self._fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._pos = 0
        self._partial = b""
        self._skipping = False
        self._after_cr = False
        self._waiting_logged = False
        self._line_end: int | None = None
        self._pending: list[str] = []  # rotated files to read whole before the path (FileFollower.resume)
        self.new_file_at: int | None = None
        self.lines = 0
        self.rotations = 0
        self.truncations = 0
        self.dropped = 0

    @property
    def position(self) -> int:
        """Offset in the current file of the next byte to read."""
        return self._pos

    @property
    def identity(self) -> tuple[int, int] | None:
        """(st_dev, st_ino) of the open file; None when none is open."""
        return self._ident if self._fd is not None else None

    @property
    def line_end(self) -> int | None:
        """Offset in the open file just past the last line end read; None when no file is open or none was seen."""
        return self._line_end if self._fd is not None else None

    def position_at(self, offset: int) -> FilePosition | None:
        """``offset`` of the open file as a stored position; None when no file is open or it is shorter."""
        if self._fd is None:
            return None
        digest = line_hash(self._fd, offset)
        return None if digest is None else FilePosition(*self._ident, offset, digest)

    def read_from_start(self) -> None:
        """Make the next open read the file from its start (a stored position was lost: read everything there)."""
        self._start_at_end = False

    def resume(self, found: Found) -> None:
        """Continue from ``found``: its file (the path's or a rotated one; the follower now owns it), at its offset."""
        self.close()
        st = os.fstat(found.fd)
        self._fd, self._ident, self._partial, self._skipping = found.fd, (st.st_dev, st.st_ino), b"", False
        self._pos = self._line_end = os.lseek(found.fd, found.offset, os.SEEK_SET)
        self._after_cr = found.offset > 0 and os.pread(found.fd, 1, found.offset - 1) == b"\r"
        self._start_at_end = False
        self._pending = list(found.then)  # rotated after it while the collector was down: read before the path
        logger.info("following %s from offset %d (the stored position)", found.name, found.offset)

    def poll(self) -> list[tuple[bytes, int]]:
        """Complete lines appended since the last poll, each with its byte offset; never blocks on the writer."""
        out: list[tuple[bytes, int]] = []
        self.new_file_at = None
        fd = self._fd
        if fd is None:
            fd = self._open()
            self.new_file_at = 0
        if fd is None:
            return out
        if not self._read(fd, out):
            return out  # budget spent: the rest (and any rotation) next poll
        try:
            st = os.stat(self.path)
        except OSError:
            return out  # renamed away, new file not there yet: keep the old one
        if (st.st_dev, st.st_ino) != self._ident:
            # Switch once the new file has data: until then the writer may still append to the old one
            # (logrotate's ``create`` makes the new file before the PBX reopens its log).
            if (st.st_size or self._pending) and self._read(fd, out):
                self._rotate(out)
        elif os.fstat(fd).st_size < self._pos:
            self._truncated(fd)
            self.new_file_at = len(out)
            self._read(fd, out)
        return out

    def close(self) -> None:
        """Close the file; a later poll reopens the path from its start."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileFollower:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self) -> int | None:
        while self._pending:  # a file rotated while the collector was down, whole, before the path
            name = self._pending.pop(0)
            try:
                fd = os.open(name, os.O_RDONLY)
            except OSError as exc:
                logger.warning("%s (rotated while the collector was down) cannot be read: %s", name, exc)
                continue
            st = os.fstat(fd)
            self._fd, self._ident, self._partial, self._skipping = fd, (st.st_dev, st.st_ino), b"", False
            self._after_cr, self._pos, self._line_end, self._start_at_end = False, 0, 0, False
            logger.info("following %s from its start (rotated while the collector was down)", name)
            return fd
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            self._wait(exc.strerror or str(exc))
            return None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self._wait("not a regular file")
            return None
        self._fd, self._ident, self._partial, self._skipping = fd, (st.st_dev, st.st_ino), b"", False
        self._after_cr = False
        self._pos = self._line_end = 0
        if self._start_at_end and st.st_size:
            self._pos = os.lseek(fd, st.st_size, os.SEEK_SET)
            last = os.pread(fd, 1, st.st_size - 1)
            self._skipping = last not in (b"\n", b"\r")  # mid-line: skip to the next line
            self._after_cr = last == b"\r"
            self._line_end = None if self._skipping else self._pos
        self._start_at_end = False
        self._waiting_logged = False
        logger.info("following %s from offset %d", self.path, self._pos)
        return fd

    def _wait(self, why: str) -> None:
        if not self._waiting_logged:
            logger.info("waiting for %s to appear (%s)", self.path, why)
            self._waiting_logged = True
        self._start_at_end = False  # a file that appears later is all new

    def _read(self, fd: int, out: list[tuple[bytes, int]]) -> bool:
        """Read up to the budget; True when the end of the file was reached."""
        budget = self._budget
        while budget > 0:
            data = os.read(fd, min(CHUNK, budget))
            if not data:
                return True
            self._pos += len(data)
            budget -= len(data)
            self._split(data, out)
        return False

    def _split(self, data: bytes, out: list[tuple[bytes, int]]) -> None:
        buf = self._partial + data if self._partial else data
        offset = self._pos - len(buf)
        if self._after_cr:  # the last read ended with a CR that ended a line: an LF right after it is its end
            self._after_cr = False
            if buf[:1] == b"\n":
                buf, offset = buf[1:], offset + 1
        if b"\r" in buf:
            parts = _LINE_END.split(buf)
            self._after_cr = buf[-1:] == b"\r"
        else:
            parts = buf.split(b"\n")
        rest = parts.pop()
        for part in parts:
            if self._skipping:
                self._skipping = False
            elif len(part) > self._max_line:
                self._drop(offset)
            else:
                out.append((part, offset))
                self.lines += 1
            offset += len(part) + 1
        if parts:
            self._line_end = offset
        if len(rest) > self._max_line:
            if not self._skipping:
                self._drop(offset)
            self._skipping = True
            rest = b""
        self._partial = rest

    def _drop(self, offset: int) -> None:
        self.dropped += 1
        logger.warning("%s: dropping a line longer than %d bytes at offset %d", self.path, self._max_line, offset)

    def _rotate(self, out: list[tuple[bytes, int]]) -> None:
        if self._partial and not self._skipping:
            out.append((self._partial, self._pos - len(self._partial)))
            self.lines += 1
            logger.info(
                "%s rotated with an unterminated last line (%d bytes): delivered as is", self.path, len(self._partial)
            )
        self.rotations += 1
        logger.info("%s rotated: finished the old file at offset %d, following the new one", self.path, self._pos)
        self.close()
        self.new_file_at = len(out)
        fd = self._open()
        if fd is not None:
            self._read(fd, out)

    def _truncated(self, fd: int) -> None:
        self.truncations += 1
        logger.info("%s truncated below offset %d: reading it again from the start", self.path, self._pos)
        self._pos = self._line_end = os.lseek(fd, 0, os.SEEK_SET)
        self._partial, self._skipping, self._after_cr = b"", False, False


async def follow(
    path: str | os.PathLike[str], *, poll_interval: float = 0.25, from_start: bool = False
) -> AsyncGenerator[bytes, None]:
    """Yield complete lines (without ``\\n``) appended to ``path``, forever, across rotation and truncation.

    Polls every ``poll_interval`` seconds while nothing is new, at once while a backlog is drained.
    """
    with FileFollower(path, from_start=from_start) as follower:
        while True:
            batch = follower.poll()
            for line, _ in batch:
                yield line
            await asyncio.sleep(0 if batch else poll_interval)
