"""Where a queue_log collector has read up to, and finding that place again after a restart.

Theory of operation
-------------------
A :class:`FilePosition` names a place in a file by the file's identity (``st_dev``, ``st_ino``), a byte
offset at the start of a line, and the hash of the line ending at that offset (:func:`line_hash`:
blake2b-64 of its bytes, its terminator included, the last ``HASH_SPAN`` of them for a very long line;
the empty string at offset 0). The collector stores it with the events read before it (the store's
positions hash, under :func:`source_name`) and, on start, :func:`locate` finds that place again:

* the path still names that file, at least ``offset`` bytes long, and the line ending at ``offset``
  hashes the same: resume there;
* otherwise the file was rotated while the collector was down. Its **siblings** (the files of the same
  directory whose name starts with the path's, ``queue_log.1``, ``queue_log-20261207``; compressed ones
  are not read) are searched: first for the same identity (``mv``: the renamed file), then, newest
  first, for the same line ending at the same offset (``copytruncate``: the copy of the file, the path
  itself truncated and written again). The one found is read from ``offset`` to its end, then the siblings
  modified after it, oldest first, whole (rotated twice or more while down: ``queue_log.2`` found, then
  ``queue_log.1``), then the path from its start (the follower's rotation does that);
* nothing matches: a WARNING says what may have been missed, and the path is read from its start.

A file found is returned open (:class:`Found`), checked on that descriptor, so a rotation between the
check and the first read cannot swap the file. Plain ``os`` calls, no asyncio.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["HASH_SPAN", "FilePosition", "Found", "LoadPosition", "line_hash", "locate", "siblings", "source_name"]

logger = logging.getLogger(__name__)

HASH_SPAN = 4096  # bytes of the line ending at the offset that are hashed, at most
COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4", ".lzma", ".z", ".zip")


# Reads a source's stored position back (``Store.events.load_position``; the sink writes it with the events).
LoadPosition = Callable[[str], Awaitable[Mapping[str, Any] | None]]


def source_name(path: str | os.PathLike[str]) -> str:
    """The name a file's position is stored under: ``queue_log:<absolute path>``."""
    return f"queue_log:{os.path.abspath(path)}"


@dataclass(frozen=True)
class FilePosition:
    """A line start in a file: its identity, the offset and the hash of the line ending there."""

    dev: int
    ino: int
    offset: int
    line_hash: str

    @property
    def ident(self) -> tuple[int, int]:
        return self.dev, self.ino

    def value(self) -> dict[str, Any]:
        """The stored form (JSON)."""
        return {"dev": self.dev, "ino": self.ino, "offset": self.offset, "hash": self.line_hash}

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> FilePosition | None:
        """Read the stored form back; None when it is not one (logged)."""
        try:
            dev, ino, offset, digest = value["dev"], value["ino"], value["offset"], value["hash"]
        except KeyError as exc:
            logger.warning("stored queue_log position %r lacks %s: ignored", dict(value), exc)
            return None
        numbers = (dev, ino, offset)
        if not all(type(n) is int and n >= 0 for n in numbers) or not isinstance(digest, str):
            logger.warning("stored queue_log position %r is not (dev, ino, offset, hash): ignored", dict(value))
            return None
        return cls(dev, ino, offset, digest)


@dataclass(frozen=True)
class Found:
    """A file open at a stored position: ``fd`` (the caller owns it), its ``name`` and the ``offset``; ``then``: the
    rotated files written after it, oldest first, to read whole before the path."""

    fd: int
    name: str
    offset: int
    then: tuple[str, ...] = ()


def line_hash(fd: int, offset: int) -> str | None:
    """blake2b-64 hex of the line ending at ``offset`` in ``fd`` ("" at 0); None when the file is shorter.

    The line is the bytes after the last line end (LF or CR) before its own; a CR just before its LF
    is part of it. Only the last ``HASH_SPAN`` bytes count.
    """
    if offset <= 0:
        return ""
    start = max(0, offset - HASH_SPAN)
    data = os.pread(fd, offset - start, start)
    if len(data) < offset - start:
        return None
    body = data[:-1]
    if data.endswith(b"\n") and body.endswith(b"\r"):
        body = body[:-1]
    cut = max(body.rfind(b"\n"), body.rfind(b"\r"))
    return hashlib.blake2b(data[cut + 1 :], digest_size=8).hexdigest()


def siblings(path: str) -> list[str]:
    """The uncompressed regular files beside ``path`` whose name starts with its name (not ``path`` itself)."""
    directory, base = os.path.split(os.path.abspath(path))
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name == base or not name.startswith(base) or name.lower().endswith(COMPRESSED):
            continue
        try:
            if entry.is_file():
                found.append(entry.path)
        except OSError:
            continue
    return sorted(found)


def locate(path: str, stored: FilePosition) -> Found | None:
    """Open the file at ``stored``: the path's, else a rotated sibling's (see the module docstring); else warn."""
    found = _open_at(path, stored, same_file=True)
    if found is not None:
        return found
    beside = siblings(path)
    for name in beside:
        found = _open_at(name, stored, same_file=True)
        if found is not None:
            logger.info("%s was rotated to %s: reading the rest of it from offset %d first", path, name, stored.offset)
            return _then(found, beside)
    if stored.offset > 0:
        for name in sorted(beside, key=_mtime, reverse=True):
            found = _open_at(name, stored, same_file=False)
            if found is not None:
                logger.info(
                    "%s was copied to %s and truncated: reading the rest of the copy from offset %d first",
                    path,
                    name,
                    stored.offset,
                )
                return _then(found, beside)
    logger.warning(
        "%s: the file read up to offset %d (device %d, inode %d) is neither at the path nor beside it "
        "(compressed files are not read): lines written to it after that offset while the collector was down "
        "may have been missed; reading %s from its start",
        path,
        stored.offset,
        stored.dev,
        stored.ino,
        path,
    )
    return None


def _then(found: Found, beside: list[str]) -> Found:
    """``found`` with the siblings modified after it (rotated later, while the collector was down), oldest first."""
    since = os.fstat(found.fd).st_mtime_ns
    own = os.fstat(found.fd)
    later = []
    for name in beside:
        try:
            st = os.stat(name)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) != (own.st_dev, own.st_ino) and st.st_mtime_ns > since:
            later.append((st.st_mtime_ns, name))
    if later:
        names = tuple(name for _, name in sorted(later))
        logger.info("then the files rotated after it, oldest first: %s", ", ".join(names))
        return Found(found.fd, found.name, found.offset, names)
    return found


def _open_at(name: str, stored: FilePosition, *, same_file: bool) -> Found | None:
    """``name`` open at ``stored.offset`` if it is that file (``same_file``) or holds the same line there."""
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        is_that_file = (st.st_dev, st.st_ino) == stored.ident
        if (
            stat.S_ISREG(st.st_mode)
            and is_that_file == same_file  # a copy is another file: the stored one was tried first
            and st.st_size >= stored.offset
            and line_hash(fd, stored.offset) == stored.line_hash
        ):
            return Found(fd, name, stored.offset)
    except OSError:
        pass
    os.close(fd)
    return None


def _mtime(name: str) -> float:
    try:
        return os.stat(name).st_mtime
    except OSError:
        return 0.0
