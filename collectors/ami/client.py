"""The AMI collector: a thin asyncio loop around the sans-I/O parser and the pure mapping.

Theory of operation
-------------------
One *attempt* is one TCP connection: connect, wait for the banner (a peer whose first line is not
``Asterisk Call Manager/...`` is not AMI and is never sent the secret), log in, ask for
``QueueStatus`` and ``QueueSummary`` (the resync: the engine corrects its state from the
``Snapshot`` the mapper makes of the QueueStatus list), then read -> feed -> drain -> map -> hand
the batch to the sink, until the connection fails. ``run()`` makes attempts forever:

* **Bad credentials are fatal.** A refused login raises ``AmiAuthError`` naming the host and the
  user (never the secret) and ``run()`` ends: retrying a wrong secret only fills the PBX's
  security log.
* **Anything else is not.** A refused or dropped connection, a timeout, a peer that is not AMI:
  logged, counted in ``stats.failures``, and retried after a ``Backoff`` delay
  (``reconnect_initial_delay`` doubling up to ``reconnect_max_delay``, with jitter; the last one
  is ``stats.reconnect_delay``). The backoff restarts from its first step once an attempt has
  logged in, so a PBX that drops a healthy session is rejoined at once.
* **Lost sessions.** When a logged-in session ends, the mapper closes what can no longer be
  observed: calls that left a queue with their outcome unseen become ``CallExited("unknown")``
  (never guessed abandoned), then a ``SourceReset("reconnect")``; the next session resyncs.
* **Keep-alive.** When the connection has been idle for ``ping_interval`` seconds, a Ping is
  sent; if its answer does not come within ``ping_timeout`` seconds, the connection is dead and
  is dropped. Only time spent waiting for the peer counts: a slow sink stops the reading on
  purpose (back-pressure) and must not make a live PBX look dead.
* **Sink.** Each read's events go to the sink in one batch through ``collectors.stats.deliver``:
  the loop awaits it, and a sink that raises is offered the same batch again after a backoff,
  so nothing is lost and a slow sink slows the reading instead of growing memory.
* **Bad input** never ends a session: a frame the parser cannot read is logged and counted in
  ``stats.rejected`` (``rejected_by_reason``: ``frame_too_large``, ``malformed_frame``,
  ``truncated_frame``; ``unusable_frame`` for frames the mapper rejects), and reading goes on.

* **Supervisor actions** (with an ``ActionSource``): while a session is logged in, two tasks beside
  the reading (``collectors.action_loop.ActionLoop``) take the actions the API queued and send them
  (``collectors.ami.actions.ActionRunner`` builds the bytes), and record the outcomes the read loop hands
  over as it reads the answers (``ActionRunner.observe`` sees every frame before the mapper). Neither
  ever blocks the reading: a Redis outage only delays actions (logged, retried), an answer that never
  comes fails the action
  after ``ANSWER_TIMEOUT_S``, and the end of the session fails the open ones. The member directory
  (interfaces, memberships, call channels) is republished for the API at most once a second when it
  changed. Outcomes are counted in ``stats.actions_by_result`` (``"pause:done"``).

Every event gets an idempotency key, ``ami:<connection>:<frame offset>:<index>`` (``lost`` in
place of the offset for the events closing a lost session), so a sink that retries an append
after a Redis hiccup cannot make the engine count it twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.action_loop import ActionLoop
from collectors.ami.actions import ActionRunner, ActionSource
from collectors.ami.mapping import AmiMapper, make_drop_predicate
from collectors.ami.protocol import AmiParser, Frame, FrameTooLarge, MalformedFrame, TruncatedFrame, encode_action
from collectors.stats import CollectorStats, Sink, deliver
from wallboard.core.actions import FAMILIES, ActionFamily
from wallboard.core.backoff import Backoff
from wallboard.core.events import Event
from wallboard.errors import WallboardError

__all__ = ["AmiAuthError", "AmiClient", "AmiConfig", "AmiConnectionLost", "AmiError", "AmiStats", "Sink"]

log = logging.getLogger(__name__)

READ_SIZE = 65536
AMI_BANNER = "Asterisk Call Manager/"
EXCERPT = 40  # characters of an unexpected greeting quoted in the log
_REASONS = (
    (TruncatedFrame, "truncated_frame"),
    (FrameTooLarge, "frame_too_large"),
    (MalformedFrame, "malformed_frame"),
)


class AmiError(WallboardError):
    """Base of the AMI client's errors."""


class AmiAuthError(AmiError):
    """The PBX refused the login: fatal, the configuration must be fixed."""


class AmiConnectionLost(AmiError):
    """The connection dropped, timed out, or the peer is not an AMI server (retried with backoff)."""


@dataclass
class AmiStats(CollectorStats):
    """The collector's health; ``failures`` counts attempts failed in a row since the last login."""

    connects: int = 0  # logins
    failures: int = 0
    reconnect_delay: float = 0.0  # the last backoff delay, seconds
    actions_by_result: dict[str, int] = field(default_factory=dict)  # "<kind>:<done|failed|ended>" -> count


@dataclass(frozen=True)
class AmiConfig:
    """Where and how to collect; times in seconds. The secret never appears in ``repr``."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    site: str = "default"
    events: str = "on"
    ping_interval: float = 20.0
    ping_timeout: float = 10.0
    connect_timeout: float = 10.0
    login_timeout: float = 10.0
    reconnect_initial_delay: float = 0.1
    reconnect_max_delay: float = 30.0

    def __post_init__(self) -> None:
        for name in ("username", "secret", "events"):
            if any(c in getattr(self, name) for c in "\r\n"):
                raise ValueError(f"the AMI {name} contains CR or LF")  # the value itself may be secret
        for name in ("ping_interval", "ping_timeout", "connect_timeout", "login_timeout", "reconnect_initial_delay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"AMI {name} must be > 0, read {getattr(self, name)!r}")
        if self.reconnect_max_delay < self.reconnect_initial_delay:
            raise ValueError(
                f"AMI reconnect_max_delay {self.reconnect_max_delay!r} is below "
                f"reconnect_initial_delay {self.reconnect_initial_delay!r}"
            )


class _KeepAlive:
    """When to Ping and when the peer is dead, counting only the time spent waiting for the peer."""

    def __init__(self, interval: float, timeout: float) -> None:
        self._interval = interval
        self._timeout = timeout
        self._waited = 0.0
        self.pending: str | None = None  # ActionID of the unanswered Ping

    def budget(self) -> float:
        """How long the next read may wait before a Ping is due (or the peer is declared dead)."""
        return self._timeout - self._waited if self.pending else self._interval

    def sent(self, action_id: str) -> None:
        self.pending, self._waited = action_id, 0.0

    def read(self, frames: list[Frame], waited: float) -> None:
        """Frames arrived after ``waited`` seconds; the Pong among them clears the pending Ping."""
        if self.pending is None:
            return
        if any(f.kind == "response" and f.action_id == self.pending for f in frames):
            self.pending, self._waited = None, 0.0
        else:
            self._waited += waited


class AmiClient:
    """Collects one PBX over AMI into ``sink`` until cancelled (see the module docstring)."""

    def __init__(
        self,
        config: AmiConfig,
        sink: Sink,
        *,
        now: Callable[[], datetime] | None = None,
        actions: ActionSource | None = None,
        enabled: tuple[ActionFamily, ...] = FAMILIES,
    ) -> None:
        self._config = config
        self._runner = ActionRunner(enabled)
        self._sink = sink
        self._now = now or (lambda: datetime.now(UTC))
        self._mapper = AmiMapper(site=config.site)
        self._sink_backoff = Backoff(initial=config.reconnect_initial_delay, cap=config.reconnect_max_delay)
        self._action_seq = 0
        self._unmapped = 0  # frames read outside a session (before the login answer)
        self._dropped = 0  # frames the parsers of past connections dropped unparsed
        self._dropping = 0  # frames the parser of this connection dropped so far
        self._parser_errors: dict[str, int] = {}
        self.stats = AmiStats()
        self._actions = (
            None
            if actions is None
            else ActionLoop(
                self._runner,
                actions,
                label=f"AMI {self._where}",
                now=self._now,
                next_id=self._next_id,
                counts=self.stats.actions_by_result,
            )
        )

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    async def run(self) -> None:
        """Collect and reconnect with backoff forever; raises ``AmiAuthError`` on a refused login."""
        cfg = self._config
        delays = Backoff(initial=cfg.reconnect_initial_delay, cap=cfg.reconnect_max_delay)
        while True:
            if await self._attempt():
                delays.reset()
            else:
                self.stats.failures += 1
            delay = self.stats.reconnect_delay = next(delays)
            log.info("AMI %s: reconnecting in %.2f s", self._where, delay)
            await asyncio.sleep(delay)

    async def _attempt(self) -> bool:
        """One connection, from connect to its loss; True if it logged in. ``AmiAuthError`` goes through."""
        cfg = self._config
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout)
        except (OSError, TimeoutError) as exc:
            log.warning("AMI %s: cannot connect: %s", self._where, str(exc) or type(exc).__name__)
            return False
        conn = str(time.time_ns())
        parser = AmiParser(drop=make_drop_predicate())
        logged_in = False
        try:
            rest = await self._login(reader, writer, parser)
            logged_in = True
            await self._session(reader, writer, parser, conn, rest)
        except (OSError, TimeoutError, AmiConnectionLost) as exc:
            log.warning("AMI %s: connection lost: %s", self._where, str(exc) or type(exc).__name__)
        finally:
            await self._hang_up(writer, parser)
        if logged_in:
            lost = self._mapper.connection_lost(self._now())
            await self._deliver([e.model_copy(update={"key": f"ami:{conn}:lost:{i}"}) for i, e in enumerate(lost)])
        return logged_in

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: AmiParser,
        conn: str,
        rest: list[Frame],
    ) -> None:
        """A logged-in session: resync, then collect until the connection fails."""
        self._logged_in()
        writer.write(self._action("QueueStatus") + self._action("QueueSummary"))
        await writer.drain()
        await self._deliver(self._map(rest, conn))
        if self._actions is None:
            await self._collect(reader, writer, parser, conn)
            return
        async with self._actions.running(writer):
            await self._collect(reader, writer, parser, conn)

    async def _hang_up(self, writer: asyncio.StreamWriter, parser: AmiParser) -> None:
        self.stats.connected = False
        self._dropped, self._dropping = self._dropped + parser.dropped, 0
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass

    def _logged_in(self) -> None:
        self.stats.connects += 1
        self.stats.reconnects = self.stats.connects - 1
        self.stats.connected = True
        self.stats.failures = 0
        log.info("AMI %s: logged in as %s, resyncing", self._where, self._config.username)

    async def _login(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser
    ) -> list[Frame]:
        """Banner, Login and its answer; returns the frames read after the answer."""
        cfg = self._config
        first, _ = await self._until(reader, parser, lambda f: True, "the banner")
        if first.kind != "banner" or not first.name.startswith(AMI_BANNER):
            seen = repr(first.name[:EXCERPT]) + ("..." if len(first.name) > EXCERPT else "")
            if first.kind != "banner":
                seen = f"a {first.kind} frame ({seen})"
            raise AmiConnectionLost(f"not an AMI server: read {seen} first, expected a banner {AMI_BANNER!r}...")
        action_id = self._next_id()
        fields = {"Username": cfg.username, "Secret": cfg.secret, "Events": cfg.events}
        writer.write(encode_action("Login", fields, action_id=action_id))
        await writer.drain()
        answer, rest = await self._until(
            reader, parser, lambda f: f.kind == "response" and f.action_id == action_id, "the answer to Login"
        )
        if answer.name.lower() != "success":
            message = answer.get("Message") or "no message"
            raise AmiAuthError(
                f"AMI {self._where} refused the login of user {cfg.username!r}: {message} "
                "(check the username and secret; not retrying)"
            )
        return rest

    async def _until(
        self, reader: asyncio.StreamReader, parser: AmiParser, match: Callable[[Frame], bool], what: str
    ) -> tuple[Frame, list[Frame]]:
        """Read until a frame matches (within ``login_timeout``); returns it and the frames after it."""
        try:
            async with asyncio.timeout(self._config.login_timeout):
                while True:
                    frames, eof = await self._read(reader, parser)
                    at = next((i for i, frame in enumerate(frames) if match(frame)), len(frames))
                    self._unmapped += at
                    self._count()
                    if at < len(frames):
                        return frames[at], frames[at + 1 :]
                    if eof:
                        raise AmiConnectionLost(f"the peer closed the connection before sending {what}")
        except TimeoutError:
            raise AmiConnectionLost(f"timed out after {self._config.login_timeout:g} s waiting for {what}") from None

    async def _collect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser, conn: str
    ) -> None:
        """The session loop: read, map, deliver; Ping when idle. Ends only by raising."""
        keepalive = _KeepAlive(self._config.ping_interval, self._config.ping_timeout)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                async with asyncio.timeout(keepalive.budget()):
                    frames, eof = await self._read(reader, parser)
            except TimeoutError:
                if keepalive.pending is not None:
                    raise AmiConnectionLost(f"no answer to Ping within {self._config.ping_timeout:g} s") from None
                action_id = self._next_id()
                writer.write(encode_action("Ping", action_id=action_id))
                await writer.drain()
                keepalive.sent(action_id)
                continue
            keepalive.read(frames, loop.time() - started)
            await self._deliver(self._map(frames, conn))
            if eof:
                raise AmiConnectionLost("the peer closed the connection")

    async def _read(self, reader: asyncio.StreamReader, parser: AmiParser) -> tuple[list[Frame], bool]:
        """One read through the parser: the frames it completed, and whether the peer closed."""
        data = await reader.read(READ_SIZE)
        if data:
            parser.receive_data(data)
        else:
            parser.receive_eof()
        for error in parser.errors():
            reason = next((name for kind, name in _REASONS if isinstance(error, kind)), "protocol_error")
            self._parser_errors[reason] = self._parser_errors.get(reason, 0) + 1
            log.warning("AMI %s: %s", self._where, error)
        frames = list(parser.frames_received())
        self._dropping = parser.dropped
        self._count()
        return frames, not data

    def _count(self) -> None:
        stats, mapper = self.stats, self._mapper
        stats.ignored = self._dropped + self._dropping + self._unmapped + mapper.ignored
        by_reason = dict(self._parser_errors)
        if mapper.rejected:
            by_reason["unusable_frame"] = mapper.rejected
        stats.rejected_by_reason = by_reason
        stats.rejected = sum(by_reason.values())
        stats.degraded_by_reason = dict(mapper.degraded_by_reason)

    def _map(self, frames: list[Frame], conn: str) -> list[Event]:
        batch: list[Event] = []
        now = self._now()
        for frame in frames:
            self.stats.records += 1
            if self._actions is not None:
                self._actions.found(self._runner.observe(frame))
            for i, event in enumerate(self._mapper.feed(frame, now)):
                batch.append(event.model_copy(update={"key": f"ami:{conn}:{frame.offset}:{i}"}))
        self._count()
        return batch

    async def _deliver(self, batch: list[Event]) -> None:
        await deliver(self._sink, batch, self.stats, self._sink_backoff, source=f"AMI {self._where}")

    def _next_id(self) -> str:
        self._action_seq += 1
        return f"wb-{self._action_seq:06d}"

    def _action(self, name: str) -> bytes:
        return encode_action(name, (), action_id=self._next_id())
