"""Sans-I/O Asterisk Manager Interface (AMI) protocol: bytes in, frames out; actions out as bytes.

Theory of operation
-------------------
An AMI stream is a banner line (``Asterisk Call Manager/11.0.0``) followed by frames: header lines
``Key: Value`` ended by a blank line. ``AmiParser.receive_data()`` appends bytes to one buffer and
cuts whole frames out of it at each line end followed by an empty line (``\\n\\n`` or ``\\n\\r\\n``,
so ``\\r\\n`` and ``\\n`` line ends may be mixed), found by one regex scan of the buffer rather than
line by line. Each complete frame is then, in order:

1. offered to the ``drop`` predicate as raw bytes (terminator included), before any decoding: a
   dropped frame costs one slice and the predicate (``drop_events()`` builds a fast one);
2. decoded *as a whole* (UTF-8, ``errors="replace"``), so a character split across reads survives;
3. split into lines and headers; ``Key: Value`` is split at the first ``": "`` (``Key:`` alone
   means an empty value; ``Key:value`` splits at the first ``":"``). Keys are kept exactly and
   repeated keys are kept in order.

The parser's state is just the unconsumed tail of the buffer, whether the banner is still expected
and whether an oversized frame is being discarded. A pending frame is re-examined from its first
byte whenever data arrives, so the frames and errors produced depend only on the bytes, never on how
they were chunked (the tests check this at every split point and with hypothesis).

* **Banner.** With ``expect_banner=True`` the first line that is not blank is the banner if it has
  no ``":"`` (``Asterisk Call Manager/...``, or whatever else a server greets with: compare
  ``parser.banner`` to reject a non-AMI peer). Whitespace-only lines before it are skipped (public
  panoramisk captures start with ``" "``). If the first line is a header, there is no banner. A
  banner is yielded as soon as its line end arrives (the server then waits for ``Login``). Later,
  any line starting with ``Asterisk Call Manager/`` is a new banner, and so is ``Asterisk Call
  Manager/<version>`` ending a line (a connection dropped mid-line): in a concatenated transcript
  of several connections, the frame cut off by it is reported as ``TruncatedFrame``, the banner is
  yielded at its offset and parsing continues. ``parser.banner`` holds the latest banner text.
* **Kinds.** The first header decides (key compared case-insensitively): ``Event`` -> "event",
  ``Response`` -> "response", ``Action`` -> "action" (captures of both directions); anything else
  is "unknown" (named after its first key) and ignored by the mapping layer.
* **Command output.** Asterisk <= 13 answers ``Command`` with ``Response: Follows``, a few headers,
  raw output lines (which may contain ':' and blank lines) and a ``--END COMMAND--`` line; such a
  frame extends over blank lines until that marker (bounded by ``max_frame``; without the marker
  it ends at its first blank line). Asterisk 14+ sends ``Output:`` headers. Both forms fill
  ``Frame.output`` with the lines; in the new form the ``Output`` headers stay in ``fields`` too.
* **Errors.** ``receive_data()`` and ``receive_eof()`` never raise for bad input, so one bad frame
  cannot lose the good ones of the same read: errors are collected, each with its stream offset,
  and drained with ``errors()``. A frame with a line that is no header is skipped
  (``MalformedFrame``) and parsing resumes after its blank line. A frame larger than ``max_frame``
  bytes (terminator included) is skipped (``FrameTooLarge``): its bytes are discarded as they
  arrive, keeping memory bounded, and parsing resumes after the next blank line. Bytes pending at
  EOF, including a last frame without its blank line, are a ``TruncatedFrame``. Only misuse
  (data after EOF) raises ``RuntimeError``. The buffer holds at most ``max_frame`` plus one read.
* **Offsets.** ``Frame.offset``/``size`` and error offsets are absolute byte positions since the
  parser was created; blank lines between frames belong to no frame.

The frame model and ``encode_action()`` (actions out as bytes, refusing header injection) live in
``collectors.ami.frames``; ``ListAssembler`` (list responses grouped with their item events by
ActionID) in ``collectors.ami.lists``. Both are re-exported here, the protocol's one import point.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, cast

from collectors.ami.frames import Frame, FrameKind, encode_action
from collectors.ami.lists import ListAssembler, ListResult, ends_list, starts_list
from wallboard.errors import WallboardError

__all__ = [
    "BANNER_PREFIX",
    "END_COMMAND",
    "AmiParser",
    "Frame",
    "FrameKind",
    "FrameTooLarge",
    "ListAssembler",
    "ListResult",
    "MalformedFrame",
    "ProtocolError",
    "TruncatedFrame",
    "drop_events",
    "encode_action",
    "ends_list",
    "starts_list",
]

logger = logging.getLogger(__name__)

BANNER_PREFIX: Final = b"Asterisk Call Manager/"
END_COMMAND: Final = "--END COMMAND--"

_VERSIONED_BANNER = re.compile(rb"Asterisk Call Manager/[0-9][0-9A-Za-z.-]*\r?\n")
_FRAME_END = re.compile(b"\n\r?\n")
_FOLLOWS = b"Response: Follows"
_END_COMMAND_B = END_COMMAND.encode()
_KINDS: dict[str, FrameKind] = {"Event": "event", "Response": "response", "Action": "action"}
_KINDS_LOWER: dict[str, FrameKind] = {"event": "event", "response": "response", "action": "action"}
_TOKEN_HEADER = re.compile(r"[A-Za-z0-9_-]+:(?: |$)")
_EXCERPT = 40


# -- errors -----------------------------------------------------------------------------------------


class ProtocolError(WallboardError):
    """Base of the errors this module reports; ``offset`` is the stream offset of the bad frame."""

    def __init__(self, message: str, *, offset: int, size: int = 0) -> None:
        super().__init__(message)
        self.offset = offset
        self.size = size


class FrameTooLarge(ProtocolError):
    """A frame grew past ``max_frame`` bytes; it was discarded up to the next blank line (``size`` is 0: unknown)."""

    def __init__(self, *, offset: int, limit: int) -> None:
        super().__init__(
            f"read more than {limit} bytes at offset {offset} without a frame end, expected at most {limit}",
            offset=offset,
        )
        self.limit = limit


class MalformedFrame(ProtocolError):
    """A frame held a line that is not ``Key: Value``; the whole frame was skipped."""

    def __init__(self, message: str, *, offset: int, size: int, excerpt: str = "") -> None:
        super().__init__(message, offset=offset, size=size)
        self.excerpt = excerpt


class TruncatedFrame(MalformedFrame):
    """A frame was cut off: by EOF, or by a banner line (a new connection) before its blank line."""


# -- frame bodies -----------------------------------------------------------------------------------


def _body_end(buf: bytes, stop: int) -> int:
    """Index just after the last line end of the frame ending at ``stop`` (before its blank line)."""
    return stop - 1 if buf[stop - 2] == 10 else stop - 2


def _split_lines(text: str) -> list[str]:
    """Lines of a decoded frame body that ends with a line end, without their ``\\r\\n``/``\\n``."""
    lines = text[:-1].split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _header(line: str) -> tuple[str, str] | None:
    cut = line.find(": ")
    if cut >= 0:
        return line[:cut], line[cut + 2 :]
    cut = line.find(":")
    if cut >= 0:
        return line[:cut], line[cut + 1 :]
    return None


def _kind_of(key: str) -> FrameKind:
    return _KINDS.get(key) or _KINDS_LOWER.get(key.lower(), "unknown")


def _build(fields: tuple[tuple[str, str], ...], output: tuple[str, ...], offset: int, size: int) -> Frame:
    key, value = fields[0]
    kind = _kind_of(key)
    if kind == "unknown":
        value = key
    elif kind == "response" and not output and any(k == "Output" for k, _ in fields):
        output = tuple([v for k, v in fields if k == "Output"])
    return Frame(kind, value, fields, offset, size, output)


def _parse_follows(lines: list[str]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Old ``Response: Follows`` form: token headers, then raw output lines up to ``--END COMMAND--``."""
    fields: list[tuple[str, str]] = []
    output: list[str] = []
    at = 0
    while at < len(lines) and _TOKEN_HEADER.match(lines[at]):
        fields.append(cast(tuple[str, str], _header(lines[at])))
        at += 1
    ended = False
    for line in lines[at:]:
        if not ended and line.endswith(END_COMMAND):
            ended = True
            if line != END_COMMAND:
                output.append(line[: -len(END_COMMAND)])  # output without a final newline
        elif ended and _TOKEN_HEADER.match(line):
            fields.append(cast(tuple[str, str], _header(line)))
        else:
            output.append(line)
    return tuple(fields), tuple(output)


# -- parser -----------------------------------------------------------------------------------------


class AmiParser:
    """Incremental AMI parser: feed ``receive_data()``/``receive_eof()``, drain ``frames_received()``/``errors()``."""

    def __init__(
        self, *, max_frame: int = 65536, expect_banner: bool = True, drop: Callable[[bytes], bool] | None = None
    ) -> None:
        if max_frame < 16:
            raise ValueError(f"max_frame must be at least 16 bytes, got {max_frame}")
        self.banner: str | None = None
        self.dropped = 0
        self._max = max_frame
        self._drop = drop
        self._expect_banner = expect_banner
        self._buf = b""  # unconsumed bytes; _buf[0] is at stream offset _base
        self._base = 0
        self._hint = 0  # no frame terminator starts in _buf[:_hint] (for a long pending frame)
        self._discarding = False
        self._eof = False
        self._frames: list[Frame] = []
        self._errors: list[ProtocolError] = []

    # -- public API -------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the stream; never raises for bad input (see ``errors()``)."""
        if self._eof:
            raise RuntimeError("receive_data() called after receive_eof()")
        if data:
            self._buf = self._buf + bytes(data) if self._buf else bytes(data)
            self._parse(final=False)

    def receive_eof(self) -> None:
        """The peer closed the stream: whatever is pending becomes a ``TruncatedFrame``. Idempotent."""
        if not self._eof:
            self._eof = True
            self._parse(final=True)

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete (at most ``max_frame`` plus one read)."""
        return len(self._buf)

    def frames_received(self) -> Iterator[Frame]:
        """Drain the frames completed so far, in stream order."""
        frames, self._frames = self._frames, []
        return iter(frames)

    def errors(self) -> Iterator[ProtocolError]:
        """Drain the errors found so far (``ProtocolError`` subclasses carrying their ``offset``)."""
        errors, self._errors = self._errors, []
        return iter(errors)

    # -- buffer loop ------------------------------------------------------------------------------

    def _parse(self, *, final: bool) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        if self._discarding:
            pos = self._end_discard(buf, final)
            if self._discarding:  # still no frame end: keep only the bytes a terminator may start with
                self._base += pos
                self._buf = buf[pos:]
                return
        hint, self._hint = self._hint, 0
        drop = self._drop
        limit = self._max
        dropped = 0
        # Frame ends (a line end, then an empty line) come from one regex scan of the buffer. The next
        # banner prefix and b"Response: Follows" at or after pos are cached (n: none left in the
        # buffer) and searched for again only once pos has passed them.
        ends = _FRAME_END.finditer(buf, hint)
        found = next(ends, None)
        nb = nf = -1
        while pos < n:
            c = buf[pos]
            if c == 10:  # blank line between frames
                pos += 1
                continue
            if c == 13:
                if pos + 1 < n and buf[pos + 1] == 10:
                    pos += 2
                    continue
                if pos + 1 == n and not final:
                    break  # a lone \r: blank line or not, the next byte tells
            if nb < pos:
                nb = buf.find(BANNER_PREFIX, pos)
                nb = n if nb < 0 else nb
            if nb == pos or self._expect_banner:
                after = self._banner_line(buf, pos, final)
                if after < 0:
                    break
                if after > pos:
                    pos = after
                    continue
            while found is not None and found.start() < pos:
                found = next(ends, None)
            if found is None:  # no frame end yet
                if final:
                    self._region(buf, pos, n, n, terminated=False)
                    pos = n
                elif n - pos > limit:
                    self._too_large(pos)
                    pos = self._start_discard(n)
                else:
                    self._hint = max(0, n - pos - 2)
                break
            end, stop = found.span()  # end: the \n ending the frame's last line
            if nf < pos:
                nf = buf.find(_FOLLOWS, pos)
                nf = n if nf < 0 else nf
            if nf == pos and buf.find(_END_COMMAND_B, pos, end) < 0:
                stop = self._extend_follows(buf, pos, stop, final)
                if stop < 0:
                    break
            if stop - pos > limit:
                self._too_large(pos)
            elif nb < stop or nf == pos:
                self._region(buf, pos, _body_end(buf, stop), stop, terminated=True)
            elif drop is not None and drop(buf[pos:stop]):
                dropped += 1
            else:
                self._frame(buf, pos, end + 1, stop)
            pos = stop
        self.dropped += dropped
        self._base += pos
        self._buf = buf[pos:]

    def _banner_line(self, buf: bytes, pos: int, final: bool) -> int:
        """Consume a banner (or a leading whitespace-only line): the new position, ``pos`` if not one, -1 to wait."""
        eol = buf.find(b"\n", pos)
        if eol < 0 or eol - pos > self._max:
            if self._expect_banner and not final and eol < 0 and len(buf) - pos <= self._max:
                # wait for the line's end while it may still be a banner: no header's colon yet, or it starts
                # like one (``Asterisk Call Manager/`` is a banner whatever follows, as it is in a whole read)
                if buf.find(b":", pos) < 0 or BANNER_PREFIX.startswith(buf[pos : pos + len(BANNER_PREFIX)]):
                    return -1
            self._expect_banner = False
            return pos
        line = buf[pos:eol]
        if self._expect_banner:
            if not line.strip():
                return eol + 1
            self._expect_banner = False
            if b":" in line and not line.startswith(BANNER_PREFIX):
                return pos
        self._emit_banner(line, pos)
        return eol + 1

    def _emit_banner(self, line: bytes, pos: int) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        self.banner = text
        self._frames.append(Frame("banner", text, (), self._base + pos, len(line) + 1))

    def _extend_follows(self, buf: bytes, pos: int, first_stop: int, final: bool) -> int:
        """End of an old-form command output frame that spans blank lines; ``first_stop`` if it does not; -1: wait."""
        if buf.find(BANNER_PREFIX, pos, first_stop) >= 0:
            return first_stop
        start = first_stop
        while True:
            nn = buf.find(b"\n\n", start)
            nrn = buf.find(b"\n\r\n", start)
            if nn < 0 and nrn < 0:
                if final or len(buf) - pos > self._max:
                    return first_stop
                return -1
            end = nn if nrn < 0 or 0 <= nn < nrn else nrn
            stop = end + (2 if end == nn else 3)
            if stop - pos > self._max or buf.find(BANNER_PREFIX, start, end) >= 0:
                return first_stop
            if buf.find(_END_COMMAND_B, start, end) >= 0:
                return stop
            start = stop

    def _start_discard(self, n: int) -> int:
        self._discarding = True
        return max(0, n - 2)  # keep 2 bytes: a terminator may straddle reads

    def _end_discard(self, buf: bytes, final: bool) -> int:
        nn = buf.find(b"\n\n")
        nrn = buf.find(b"\n\r\n")
        if nn < 0 and nrn < 0:
            if final:
                self._discarding = False
                return len(buf)
            return max(0, len(buf) - 2)
        self._discarding = False
        end = nn if nrn < 0 or 0 <= nn < nrn else nrn
        return end + (2 if end == nn else 3)

    # -- frames -----------------------------------------------------------------------------------

    def _frame(self, buf: bytes, pos: int, body_end: int, stop: int) -> None:
        """Emit the frame ``buf[pos:stop]`` (its lines end at ``body_end``): the fast path for well-formed frames."""
        raw = buf[pos:body_end]
        text = raw.decode("utf-8", "replace")
        lines = text[:-2].split("\r\n") if raw[-2] == 13 else []
        if len(lines) != raw.count(b"\n"):  # some line ends are bare \n
            lines = _split_lines(text)
        try:
            fields = tuple([(k, v) for k, v in [line.split(": ", 1) for line in lines]])
        except ValueError:  # a line without ": ": "Key:", "Key:value" or garbage
            self._segment(buf, pos, body_end, stop)
            return
        self._frames.append(_build(fields, (), self._base + pos, stop - pos))

    def _region(self, buf: bytes, pos: int, body_end: int, stop: int, *, terminated: bool) -> None:
        """Slow path: split ``buf[pos:body_end]`` at banners, then parse or reject each piece.

        A banner starts a line, or follows a line cut off by a dropped connection mid-line: then it
        must read ``Asterisk Call Manager/<version>`` up to the line end.
        """
        start = line_start = pos
        while line_start < body_end:
            eol = buf.find(b"\n", line_start, body_end)
            if eol < 0:
                break
            at = buf.find(BANNER_PREFIX, line_start, eol)
            if at >= 0 and (at == line_start or _VERSIONED_BANNER.match(buf, at, eol + 1)):
                if start < at:
                    self._truncated(start, at - start, "a banner (new connection)")
                self._emit_banner(buf[at:eol], at)
                start = eol + 1
            line_start = eol + 1
        if start >= body_end:
            return
        if not terminated:
            self._truncated(start, stop - start, "the end of the stream")
            return
        if self._drop is not None and self._drop(buf[start:stop]):
            self.dropped += 1
            return
        self._segment(buf, start, body_end, stop)

    def _segment(self, buf: bytes, pos: int, body_end: int, stop: int) -> None:
        raw = buf[pos:body_end]
        lines = _split_lines(raw.decode("utf-8", "replace"))
        if raw.startswith(_FOLLOWS):
            fields, output = _parse_follows(lines)
            self._frames.append(_build(fields, output, self._base + pos, stop - pos))
            return
        parsed: list[tuple[str, str]] = []
        for number, line in enumerate(lines):
            header = _header(line)
            if header is None:
                self._malformed(buf, pos, stop, number, line)
                return
            parsed.append(header)
        self._frames.append(_build(tuple(parsed), (), self._base + pos, stop - pos))

    # -- errors -----------------------------------------------------------------------------------

    def _record(self, error: ProtocolError) -> None:
        logger.debug("AMI stream error: %s", error)
        self._errors.append(error)

    def _too_large(self, pos: int) -> None:
        self._record(FrameTooLarge(offset=self._base + pos, limit=self._max))

    def _truncated(self, pos: int, size: int, cause: str) -> None:
        offset = self._base + pos
        message = f"frame at offset {offset} truncated by {cause} after {size} bytes, expected a blank line"
        self._record(TruncatedFrame(message, offset=offset, size=size))

    def _malformed(self, buf: bytes, pos: int, stop: int, number: int, line: str) -> None:
        line_offset = self._base + pos + sum(len(b) + 1 for b in buf[pos:stop].split(b"\n")[:number])
        excerpt = line if len(line) <= _EXCERPT else line[:_EXCERPT] + "..."
        offset = self._base + pos
        message = (
            f"malformed line at offset {line_offset} in frame at offset {offset}: read {excerpt!r}, "
            f"expected 'Key: Value'; {stop - pos} bytes skipped"
        )
        self._record(MalformedFrame(message, offset=offset, size=stop - pos, excerpt=excerpt))


# -- drop predicates --------------------------------------------------------------------------------


def drop_events(
    names: Iterable[str],
    keep_if: Mapping[str, bytes] | None = None,
    *,
    keep_varset: Iterable[str] = (),
) -> Callable[[bytes], bool]:
    """A fast ``AmiParser(drop=...)`` predicate: True for ``Event: <name>`` frames with a name in ``names``.

    A frame whose name has a ``keep_if`` needle (``{"VarSet": b"Variable: QUEUESTATUS"}``) is kept
    when the needle occurs anywhere in its bytes; ``keep_varset=("QUEUESTATUS",)`` keeps the VarSet
    frames setting exactly those variables. Per frame only bytes operations run: a ``find`` of the
    first line end, a set lookup and, for names with a keep rule, a substring search or two.
    """
    # The first line, with and without its \r, so that no strip is needed per frame.
    firsts: dict[bytes, bytes] = {}
    for name in names:
        line = b"Event: " + name.encode()
        firsts[line] = firsts[line + b"\r"] = name.encode()
    needles: dict[bytes, tuple[bytes, ...]] = {}
    for name, needle in (keep_if or {}).items():
        if not needle:
            raise ValueError(f"keep_if needle for {name!r} is empty: it would keep every frame")
        needles[name.encode()] = needles.get(name.encode(), ()) + (needle,)
    # keep_varset: the whole "Variable: NAME" line, so that NAMEX does not match.
    for variable in keep_varset:
        line = b"\nVariable: " + variable.encode()
        needles[b"VarSet"] = needles.get(b"VarSet", ()) + (line + b"\r\n", line + b"\n")

    def drop(raw: bytes) -> bool:
        name = firsts.get(raw[: raw.find(b"\n")])
        if name is None:
            return False
        for needle in needles.get(name, ()):
            if needle in raw:
                return False
        return True

    return drop


# -- lists ------------------------------------------------------------------------------------------
