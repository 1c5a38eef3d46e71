"""Sans-I/O FreeSWITCH Event Socket (ESL) protocol: bytes in, frames out; commands out as bytes.

Theory of operation
-------------------
An event socket carries *frames*: an outer header block (``Name: value`` lines ended by a blank line)
and, when the block has a ``Content-Length``, exactly that many bytes of body. Real FreeSWITCH 1.10
output (``tests/fixtures/freeswitch-light``, its README) shows what the parser has to handle:

* ``auth/request`` and ``command/reply`` frames have no ``Content-Length``: the header block is the
  frame. Event frames put ``Content-Length`` before ``Content-Type``, ``text/disconnect-notice`` after;
  the order of outer headers never matters. ``recv()`` boundaries fall anywhere, mid-header included.
* ``text/event-plain`` bodies are header lines with URL-encoded values (``support%40default``,
  ``On%20Break``): :attr:`EslFrame.event` holds them decoded. A BACKGROUND_JOB event carries its own
  ``Content-Length`` inside the body, then a blank line and that many bytes (``+OK <uuid>\\n``): that
  part is :attr:`EslFrame.event_body`.
* ``text/event-json`` bodies are one JSON object whose values are all strings, not encoded; nothing
  separates it from the next frame but the outer length. ``event_body`` is its ``_body`` member.
* ``api/response`` and ``text/disconnect-notice`` bodies are text: :attr:`EslFrame.text`.

``EslParser.receive_data()`` appends to one buffer and cuts every complete frame out of it; the frames
produced depend only on the bytes, never on how they were chunked. It never raises for bad input: an
outer header line without ``:`` or a ``Content-Length`` that is not a number is a ``MalformedFrame``
(the frame is skipped up to its blank line), a body that is not valid JSON keeps ``event`` None with a
``MalformedFrame`` error, a frame larger than ``max_frame`` is skipped as its bytes arrive
(``FrameTooLarge``), and bytes pending at EOF are a ``TruncatedFrame``; errors carry their stream offset
and are drained with ``errors()``. Offsets are absolute byte positions since the parser was created.

Speed: the plain body is split once into lines and each line once at ``": "``; only values holding ``%``
are decoded (``urllib.parse.unquote``). ``drop`` lets a caller skip frames by their raw body before any
decoding: it sees the first ``HEAD`` bytes of the body, and a dropped body is never copied nor decoded
(``callcenter_only`` keeps ``callcenter::info`` events and non-event frames).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, unquote

from wallboard.errors import WallboardError

__all__ = [
    "EslFrame",
    "EslParser",
    "FrameTooLarge",
    "MalformedFrame",
    "ProtocolError",
    "TruncatedFrame",
    "callcenter_only",
    "encode_command",
    "parse_plain",
]

MAX_FRAME: Final = 1 << 20  # bytes; FreeSWITCH events are a few KiB
HEAD: Final = 128  # the bytes of a body the ``drop`` predicate sees
_BLANK = b"\n\n"
_FAST = re.compile(rb"Content-Length: (\d+)\nContent-Type: ([a-z/-]+)")


class ProtocolError(WallboardError):
    """Base of the stream errors the parser reports (never raises): each has the stream offset."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.offset = offset


class MalformedFrame(ProtocolError):
    """A frame whose headers or body cannot be read; skipped."""


class FrameTooLarge(ProtocolError):
    """A frame larger than ``max_frame``; its bytes were discarded."""


class TruncatedFrame(ProtocolError):
    """Bytes pending when the stream ended."""


@dataclass(slots=True)
class EslFrame:
    """One frame: outer headers, raw body, and the decoded event or text when the content type has one."""

    headers: dict[str, str]
    body: bytes
    offset: int
    size: int
    event: dict[str, str] | None = None
    event_body: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply(self) -> str:
        """``Reply-Text`` of a ``command/reply`` (``+OK accepted``, ``-ERR invalid``); "" otherwise."""
        return self.headers.get("Reply-Text", "")

    @property
    def text(self) -> str:
        """The body as text (``api/response``, ``text/disconnect-notice``)."""
        return self.body.decode("utf-8", "replace")

    @property
    def name(self) -> str:
        """The event's name (``CUSTOM`` events: their subclass, ``callcenter::info``); "" for other frames."""
        event = self.event
        if event is None:
            return ""
        name = event.get("Event-Name", "")
        return event.get("Event-Subclass", name) if name == "CUSTOM" else name


def _lines(block: bytes) -> list[str]:
    return block.decode("utf-8", "replace").split("\n")


def parse_plain(body: bytes) -> tuple[dict[str, str], str | None]:
    """A ``text/event-plain`` body: its headers (values URL-decoded) and the inner body after its own
    ``Content-Length`` (BACKGROUND_JOB), or None."""
    head, sep, rest = body.partition(_BLANK)
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, colon, value = line.partition(": ")
        if not colon:
            name, colon, value = line.partition(":")
            if not colon:
                continue
        if "%" in value:
            value = unquote(value)
        headers[name] = value.rstrip("\r")
    inner = None
    length = headers.get("Content-Length")
    if sep and length is not None and length.isdigit():
        inner = rest[: int(length)].decode("utf-8", "replace")
    return headers, inner


def _json_event(body: bytes) -> tuple[dict[str, str] | None, str | None]:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the JSON body is not an object")
    inner = data.pop("_body", None)
    return {str(key): str(value) for key, value in data.items()}, None if inner is None else str(inner)


class EslParser:
    """Bytes in, :class:`EslFrame` out (see the module docstring)."""

    def __init__(self, *, max_frame: int = MAX_FRAME, drop: Callable[[bytes], bool] | None = None) -> None:
        self._buffer = bytearray()
        self._base = 0  # stream offset of the buffer's first byte
        self._frames: list[EslFrame] = []
        self._errors: list[ProtocolError] = []
        self._max = max_frame
        self._drop = drop
        self._skip = 0  # bytes of an oversized frame still to discard
        self._pending: tuple[dict[str, str], int] | None = None  # headers and body offset of an incomplete frame
        self._eof = False
        self.dropped = 0

    def receive_data(self, data: bytes) -> None:
        """Feed bytes as they arrive."""
        if self._eof:
            raise RuntimeError("data after EOF")
        if self._skip:
            taken = min(self._skip, len(data))
            self._skip -= taken
            self._base += taken
            data = data[taken:]
        self._buffer += data
        self._cut()

    def receive_eof(self) -> None:
        """The stream ended: pending bytes are a ``TruncatedFrame``."""
        self._eof = True
        self._pending = None
        if self._buffer.strip():
            self._errors.append(TruncatedFrame(self._base, f"{len(self._buffer)} bytes pending at end of stream"))
        self._base += len(self._buffer)
        self._buffer.clear()

    def frames_received(self) -> list[EslFrame]:
        """The frames completed so far, in stream order, returned once."""
        frames, self._frames = self._frames, []
        return frames

    def errors(self) -> list[ProtocolError]:
        """The errors found so far, returned once."""
        errors, self._errors = self._errors, []
        return errors

    def _cut(self) -> None:
        buffer = self._buffer
        start = 0
        size = len(buffer)
        while start < size:
            pending, self._pending = self._pending, None
            if pending is not None:  # the frame at the buffer's start, whose body was incomplete at the last read
                headers, head_end, problem = pending[0], pending[1], None
            else:
                while start < size and buffer[start] in (0x0A, 0x0D):  # blank lines between frames
                    start += 1
                end = buffer.find(_BLANK, start)
                if end < 0:
                    if size - start > self._max:
                        self._oversized(start, size - start)
                        start = size
                    break
                headers, problem = self._headers(bytes(buffer[start:end]))
                head_end = end + 2
            if problem is not None:
                self._errors.append(MalformedFrame(self._base + start, problem))
                start = head_end
                continue
            length = headers.get("Content-Length")
            body_len = int(length) if length is not None else 0
            total = head_end - start + body_len
            if total > self._max:
                self._errors.append(FrameTooLarge(self._base + start, f"a frame of {total} bytes"))
                available = size - head_end
                if available >= body_len:
                    start = head_end + body_len
                    continue
                self._skip = body_len - available
                start = size
                break
            if size - head_end < body_len:
                self._pending = (headers, head_end - start)  # kept with the buffer's start moved to ``start``
                break
            end_of_body = head_end + body_len
            drop = self._drop
            if drop is not None and body_len and drop(bytes(buffer[head_end : min(end_of_body, head_end + HEAD)])):
                self.dropped += 1  # never copied nor decoded
            else:
                self._frame(headers, bytes(buffer[head_end:end_of_body]), self._base + start, total)
            start = end_of_body
        del buffer[:start]
        self._base += start

    def _oversized(self, start: int, pending: int) -> None:
        """A header block longer than ``max_frame`` without its end: discard it up to the next blank line."""
        self._errors.append(FrameTooLarge(self._base + start, f"a header block over {self._max} bytes"))
        del self._buffer[: start + pending]
        self._base += start + pending

    @staticmethod
    def _headers(block: bytes) -> tuple[dict[str, str], str | None]:
        fast = _FAST.fullmatch(block)
        if fast is not None:  # the usual event frame: Content-Length then Content-Type
            return {"Content-Length": fast[1].decode(), "Content-Type": fast[2].decode()}, None
        headers: dict[str, str] = {}
        for line in _lines(block):
            line = line.rstrip("\r")
            name, colon, value = line.partition(":")
            if not colon:
                return headers, f"a header line without ':' ({line[:40]!r})"
            headers[name.strip()] = value.strip()
        length = headers.get("Content-Length")
        if length is not None and not length.isdigit():
            return headers, f"Content-Length {length[:20]!r} is not a number"
        return headers, None

    def _frame(self, headers: dict[str, str], body: bytes, offset: int, size: int) -> None:
        frame = EslFrame(headers, body, offset, size)
        kind = headers.get("Content-Type", "")
        try:
            if kind == "text/event-plain":
                frame.event, frame.event_body = parse_plain(body)
            elif kind == "text/event-json":
                frame.event, frame.event_body = _json_event(body)
        except ValueError as exc:
            self._errors.append(MalformedFrame(offset, f"unreadable {kind} body: {exc}"))
            frame.errors.append(str(exc))
        self._frames.append(frame)


_KEEP = (
    b"Event-Subclass: callcenter%3A%3Ainfo",
    b'{"Event-Subclass":"callcenter::info"',
    b"Event-Name: BACKGROUND_JOB",
    b'{"Event-Name":"BACKGROUND_JOB"',
)
_EVENT = (b"Event-", b'{"Event-')


def callcenter_only(head: bytes) -> bool:
    """A ``drop`` predicate keeping ``callcenter::info`` events (plain or JSON), ``BACKGROUND_JOB`` events (the
    results of the collector's own bgapi commands) and every body that is no event.

    FreeSWITCH writes ``Event-Subclass`` first in a CUSTOM event and ``Event-Name`` first in the others, so the
    body's first bytes tell."""
    return head.startswith(_EVENT) and not head.startswith(_KEEP)


def encode_command(command: str, headers: Mapping[str, str] | None = None) -> bytes:
    """A command line (``auth ...``, ``event plain ...``, ``api ...``, ``bgapi ...``) and its headers (``Job-UUID``
    of a bgapi) as bytes, refusing a line break anywhere (header injection)."""
    lines = [command, *(f"{name}: {value}" for name, value in (headers or {}).items())]
    if any("\n" in line or "\r" in line for line in lines):
        raise ValueError("an ESL command and each of its headers is one line")
    return "\n".join(lines).encode() + b"\n\n"


def encoded(value: str) -> str:
    """A header value URL-encoded the way FreeSWITCH writes plain events (for the simulator)."""
    return quote(value, safe=",'()/")
