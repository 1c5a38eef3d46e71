"""Ask a PBX over AMI which queues and members it has: one QueueStatus, for ``wallboard init``.

Theory of operation
-------------------
``discover()`` is one short session, not a collector: connect, read the banner, ``Login`` with
``Events: off`` (so that only answers arrive), ``QueueStatus`` with an ActionID, collect the items
of that ActionID (``ListAssembler``) up to ``QueueStatusComplete``, ``Logoff``, close. Bytes go
through ``AmiParser`` and actions through ``encode_action``: the loop reads, feeds, drains and acts.
The ``QueueParams`` and ``QueueMember`` items become the records of ``wallboard.core.starter_site``
(``QueueEntry`` items, the callers waiting, are not needed).

One deadline, ``timeout_s``, covers everything up to the end of the list. The Logoff then gets a
short grace of its own (``LOGOFF_GRACE_S``); a PBX that does not say Goodbye is only logged, since
the answer is in. Every failure is a ``DiscoveryError`` with a one-line message naming the PBX
(``host:port``) and what was awaited: connection refused or unreachable, not an AMI server, login
refused (with the PBX's own Message), QueueStatus refused, the connection closed or the time up
before ``QueueStatusComplete``. The secret is in no message and no log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from pydantic import ValidationError

from collectors.ami.protocol import BANNER_PREFIX, AmiParser, Frame, ListAssembler, encode_action, starts_list
from wallboard.core.starter_site import Discovery, MemberFacts, QueueFacts
from wallboard.errors import WallboardError

__all__ = ["Discovery", "DiscoveryError", "MemberFacts", "QueueFacts", "discover", "member_facts", "queue_facts"]

log = logging.getLogger(__name__)

READ_SIZE = 65536
LOGOFF_GRACE_S = 2.0
MAX_ITEMS = 100_000  # QueueParams + QueueMember + QueueEntry items of one answer
_BANNER = BANNER_PREFIX.decode()
_EXCERPT = 40


class DiscoveryError(WallboardError):
    """``discover()`` failed; the message names the PBX and what was awaited, never the secret."""


# -- items -> records (pure) ----------------------------------------------------------------------


def _int(frame: Frame, key: str, default: int = 0) -> int:
    raw = (frame.get(key) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise DiscoveryError(f"{frame.name} at offset {frame.offset} has {key} {raw!r}, expected an integer") from None


def _text(frame: Frame, *keys: str) -> str | None:
    return next((value for key in keys if (value := (frame.get(key) or "").strip())), None)


def queue_facts(frame: Frame) -> QueueFacts:
    """A ``QueueParams`` item as a record; ``DiscoveryError`` if it names no queue or has a bad number."""
    try:
        return QueueFacts(
            name=_text(frame, "Queue") or "",
            strategy=_text(frame, "Strategy"),
            service_level_s=_int(frame, "ServiceLevel"),
            max_callers=_int(frame, "Max") or None,
            calls=_int(frame, "Calls"),
        )
    except ValidationError as exc:
        raise DiscoveryError(_invalid(frame, exc)) from None


def member_facts(frame: Frame) -> MemberFacts:
    """A ``QueueMember`` item (``Name``/``Location``, 12+ also ``StateInterface``) as a record."""
    try:
        return MemberFacts(
            queue=_text(frame, "Queue") or "",
            interface=_text(frame, "Location", "Interface") or "",
            name=_text(frame, "Name", "MemberName"),
            state_interface=_text(frame, "StateInterface"),
            membership=_text(frame, "Membership"),
            penalty=_int(frame, "Penalty"),
            paused=(_text(frame, "Paused") or "0").lower() in ("1", "yes", "true"),
        )
    except ValidationError as exc:
        raise DiscoveryError(_invalid(frame, exc)) from None


def _invalid(frame: Frame, exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return f"{frame.name} at offset {frame.offset} is unusable: {field}: {error['msg']}"


# -- the session ----------------------------------------------------------------------------------


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the AMI enabled in manager.conf and listening on this port?)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return exc.strerror or str(exc) or type(exc).__name__


class _Session:
    """One AMI connection read through ``AmiParser``; ``waiting_for`` names what it awaits."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.waiting_for = "the connection"
        self.clean = False  # logged off: close politely rather than abort
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = AmiParser()
        self._pending: deque[Frame] = deque()
        self._ids = itertools.count(1)

    async def connect(self, host: str, port: int) -> None:
        try:
            self._reader, self._writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise DiscoveryError(f"cannot connect to the AMI at {self.where}: {_reason(exc)}") from exc

    async def banner(self) -> str:
        self.waiting_for = "the banner"
        first = await self._next()
        if first.kind != "banner" or not first.name.startswith(_BANNER):
            seen = first.name if first.kind == "banner" else f"{first.kind} {first.name}"
            seen = repr(seen[:_EXCERPT]) + ("..." if len(seen) > _EXCERPT else "")
            raise DiscoveryError(f"{self.where} is not an AMI server: read {seen} first, expected {_BANNER!r}...")
        return first.name

    async def login(self, username: str, secret: str) -> None:
        answer = await self._ask("Login", {"Username": username, "Secret": secret, "Events": "off"})
        if answer.name.lower() != "success":
            message = answer.get("Message") or "no message"
            raise DiscoveryError(f"AMI {self.where} refused the login of user {username!r}: {message}")

    async def queue_status(self) -> tuple[Frame, ...]:
        """The items of one QueueStatus answer, in order."""
        answer = await self._ask("QueueStatus")
        if not starts_list(answer):
            message = answer.get("Message") or "no message"
            raise DiscoveryError(f"AMI {self.where} answered QueueStatus with {answer.name}: {message}")
        self.waiting_for = "QueueStatusComplete"
        lists = ListAssembler(max_lists=1, max_items=MAX_ITEMS)
        lists.feed(answer)
        while (result := lists.feed(await self._next())) is None:
            pass
        if result.truncated:
            raise DiscoveryError(f"AMI {self.where} sent more than {MAX_ITEMS} QueueStatus items, expected fewer")
        return result.items

    async def log_off(self) -> None:
        """Logoff and its Goodbye within ``LOGOFF_GRACE_S``; a PBX that does not answer is only logged."""
        try:
            async with asyncio.timeout(LOGOFF_GRACE_S):
                await self._ask("Logoff")
            self.clean = True
        except (TimeoutError, OSError, DiscoveryError) as exc:
            log.debug("AMI %s: no Goodbye after Logoff: %s", self.where, str(exc) or type(exc).__name__)

    async def close(self) -> None:
        if self._writer is None:
            return
        if self.clean:
            self._writer.close()
        else:
            self._writer.transport.abort()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def _ask(self, action: str, fields: dict[str, str] | Iterable[tuple[str, str]] = ()) -> Frame:
        """Send an action; return its response (frames of other ActionIDs are skipped)."""
        assert self._writer is not None
        action_id = f"wallboard-init-{next(self._ids)}"
        self.waiting_for = f"the answer to {action}"
        self._writer.write(encode_action(action, fields, action_id=action_id))
        await self._writer.drain()
        while True:
            frame = await self._next()
            if frame.kind == "response" and frame.action_id == action_id:
                return frame
            log.debug("AMI %s: skipped %s %s while waiting for %s", self.where, frame.kind, frame.name, action)

    async def _next(self) -> Frame:
        """The next frame: read, feed, drain."""
        assert self._reader is not None
        while not self._pending:
            data = await self._reader.read(READ_SIZE)
            if data:
                self._parser.receive_data(data)
            else:
                self._parser.receive_eof()
            for error in self._parser.errors():
                log.warning("AMI %s: %s", self.where, error)
            self._pending.extend(self._parser.frames_received())
            if not data and not self._pending:
                raise DiscoveryError(f"AMI {self.where} closed the connection while waiting for {self.waiting_for}")
        return self._pending.popleft()


# -- the use case ---------------------------------------------------------------------------------


async def discover(
    host: str,
    port: int,
    username: str,
    secret: str,
    *,
    timeout_s: float = 10.0,
    now: Callable[[], datetime] | None = None,
) -> Discovery:
    """The queues and members the PBX at ``host:port`` reports (see the module docstring)."""
    for what, value in (("username", username), ("secret", secret)):
        if "\r" in value or "\n" in value:
            raise DiscoveryError(f"the AMI {what} contains CR or LF")  # the value itself may be secret
    at = now() if now is not None else datetime.now(UTC)
    session = _Session(_where(host, port))
    try:
        async with asyncio.timeout(timeout_s):
            await session.connect(host, port)
            banner = await session.banner()
            await session.login(username, secret)
            log.info("AMI %s (%s): logged in as %s, asking for QueueStatus", session.where, banner, username)
            items = await session.queue_status()
        await session.log_off()
    except TimeoutError:
        raise DiscoveryError(
            f"AMI {session.where}: timed out after {timeout_s:g} s waiting for {session.waiting_for}"
        ) from None
    except OSError as exc:
        raise DiscoveryError(
            f"AMI {session.where}: connection lost while waiting for {session.waiting_for}: {_reason(exc)}"
        ) from exc
    finally:
        await session.close()
    queues = tuple(queue_facts(item) for item in items if item.name == "QueueParams")
    members = tuple(member_facts(item) for item in items if item.name == "QueueMember")
    log.info("AMI %s: %d queues, %d queue members", session.where, len(queues), len(members))
    return Discovery(host=host, port=port, banner=banner, at=at, queues=queues, members=members)
