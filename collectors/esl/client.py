"""The FreeSWITCH collector: a thin asyncio loop around the sans-I/O ESL parser and the pure mapping.

Theory of operation
-------------------
One *attempt* is one TCP connection to mod_event_socket (inbound mode): wait for ``auth/request``, send
``auth <password>`` (the password only ever goes to the socket, never to a log or ``repr``), subscribe
with ``event plain CUSTOM callcenter::info`` (``CUSTOM <subclass>`` last: mod_event_socket takes every
token after ``CUSTOM`` as a subclass), then *resync*: ask ``callcenter_config queue list``, ``tier list``,
``agent list`` and each queue's ``queue list members`` on the same connection. The ``api/response``
replies arrive in the order asked, between events; the mapper turns them into one ``Snapshot``
(``EslMapper.resync``) that the engine corrects its state from. Then read -> feed -> map -> hand each
read's events to the sink, until the connection fails. ``run()`` makes attempts forever:

* **A refused password is fatal** (``-ERR invalid``): ``EslAuthError`` names the host, never the
  password, and ``run()`` ends.
* **Anything else is retried** after a ``Backoff`` delay (doubling up to ``reconnect_max_delay``, with
  jitter), reset once an attempt authenticated. A session that ends leaves a *gap*: the next session
  starts with ``SourceReset("reconnect")`` (waiting calls become uncertain until the resync's snapshot
  settles them) and the gap is reported: logged with its length, counted in ``stats.gaps`` and
  ``stats.last_gap_s``.
* **Keep-alive.** FreeSWITCH sends ``HEARTBEAT`` events only when subscribed, so when the connection
  has been idle ``ping_interval`` seconds the client sends ``api status``; no answer within
  ``ping_timeout`` drops the connection.
* **Supervisor actions** (with an ``ActionSource``): while a session is up, ``collectors.action_loop.ActionLoop``
  takes the actions the API queued, ``collectors.esl.actions.EslActionRunner`` makes each one ``bgapi`` command
  and reads its ``BACKGROUND_JOB`` result (the subscription then adds ``BACKGROUND_JOB``); the runner sees every
  frame before the mapper, so it knows the agents (the resync's lists, the events) and the legs of their calls.
  Outcomes are counted in ``stats.actions_by_result`` (``"pause:done"``).
* **Sink.** ``collectors.stats.deliver``: a batch the sink refuses is retried with backoff, so nothing is
  lost and a slow sink slows the reading. Each event's key is ``esl:<connection>:<frame offset>:<i>``
  unless the mapper gave it one from the member's UUID (then a repeat after a reconnect is a no-op).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.action_loop import ActionLoop
from collectors.ami.actions import ActionSource
from collectors.esl.actions import EslActionRunner
from collectors.esl.mapping import RESYNC_COMMANDS, EslMapper, table_of
from collectors.esl.protocol import EslFrame, EslParser, callcenter_only, encode_command
from collectors.stats import CollectorStats, Sink, deliver
from wallboard.core.actions import FAMILIES, ActionFamily
from wallboard.core.backoff import Backoff
from wallboard.core.events import Event, SourceReset
from wallboard.errors import WallboardError

__all__ = ["EslAuthError", "EslClient", "EslConfig", "EslConnectionLost", "EslStats"]

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16
SUBSCRIBE = "event plain CUSTOM callcenter::info"
SUBSCRIBE_WITH_JOBS = "event plain BACKGROUND_JOB CUSTOM callcenter::info"  # CUSTOM last: the rest are subclasses


class EslError(WallboardError):
    """Base of the ESL client's errors."""


class EslAuthError(EslError):
    """FreeSWITCH refused the password: fatal, the configuration must be fixed."""


class EslConnectionLost(EslError):
    """The connection dropped, timed out, or the peer is not an event socket (retried with backoff)."""


@dataclass
class EslStats(CollectorStats):
    """The collector's health; ``failures`` counts attempts failed in a row since the last authenticated one."""

    connects: int = 0
    failures: int = 0
    reconnect_delay: float = 0.0
    gaps: int = 0  # sessions that ended (each leaves a gap the next resync covers)
    last_gap_s: float | None = None  # the last gap's length, seconds
    actions_by_result: dict[str, int] = field(default_factory=dict)  # "<kind>:<done|failed>" -> count


@dataclass(frozen=True)
class EslConfig:
    """Where and how to collect; times in seconds. The password never appears in ``repr``."""

    host: str
    port: int
    password: str = field(repr=False)
    site: str = "default"
    ping_interval: float = 20.0
    ping_timeout: float = 10.0
    connect_timeout: float = 10.0
    auth_timeout: float = 10.0
    reconnect_initial_delay: float = 0.1
    reconnect_max_delay: float = 30.0

    def __post_init__(self) -> None:
        if any(c in self.password for c in "\r\n"):
            raise ValueError("the ESL password contains CR or LF")
        for name in ("ping_interval", "ping_timeout", "connect_timeout", "auth_timeout", "reconnect_initial_delay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ESL {name} must be > 0, read {getattr(self, name)!r}")


class _Resync:
    """The replies of a resync, collected as they arrive (in the order asked)."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.queues: list[str] = []
        self.members_asked = False

    @property
    def done(self) -> bool:
        return self.members_asked and len(self.replies) == len(RESYNC_COMMANDS) + len(self.queues)


class EslClient:
    """Collects one FreeSWITCH over its event socket into ``sink`` until cancelled (see the module docstring)."""

    def __init__(
        self,
        config: EslConfig,
        sink: Sink,
        *,
        now: Callable[[], datetime] | None = None,
        actions: ActionSource | None = None,
        enabled: tuple[ActionFamily, ...] = FAMILIES,
    ) -> None:
        self._config = config
        self._sink = sink
        self._now = now or (lambda: datetime.now(UTC))
        self._mapper = EslMapper(site=config.site)
        self._sink_backoff = Backoff(initial=config.reconnect_initial_delay, cap=config.reconnect_max_delay)
        self._lost_at: datetime | None = None
        self._parser_errors: dict[str, int] = {}
        self.stats = EslStats()
        self._runner = EslActionRunner(enabled)
        self._jobs = 0
        self._actions = (
            None
            if actions is None
            else ActionLoop(
                self._runner,
                actions,
                label=f"ESL {self._where}",
                now=self._now,
                next_id=self._next_job,
                counts=self.stats.actions_by_result,
            )
        )

    def _next_job(self) -> str:
        """A Job-UUID of this collector's own (FreeSWITCH takes any the bgapi names)."""
        self._jobs += 1
        return f"{uuid.uuid4().hex[:8]}-wb00-4000-8000-{self._jobs:012x}"

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    async def run(self) -> None:
        """Collect and reconnect with backoff forever; raises ``EslAuthError`` on a refused password."""
        cfg = self._config
        delays = Backoff(initial=cfg.reconnect_initial_delay, cap=cfg.reconnect_max_delay)
        while True:
            if await self._attempt():
                delays.reset()
            else:
                self.stats.failures += 1
            delay = self.stats.reconnect_delay = next(delays)
            log.info("ESL %s: reconnecting in %.2f s", self._where, delay)
            await asyncio.sleep(delay)

    async def _attempt(self) -> bool:
        """One connection, from connect to its loss; True if it authenticated. ``EslAuthError`` goes through."""
        cfg = self._config
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout)
        except (OSError, TimeoutError) as exc:
            log.warning("ESL %s: cannot connect: %s", self._where, str(exc) or type(exc).__name__)
            return False
        conn = str(time.time_ns())
        parser = EslParser(drop=callcenter_only)
        authenticated = False
        try:
            rest = await self._authenticate(reader, writer, parser)
            authenticated = True
            await self._session(reader, writer, parser, conn, rest)
        except (OSError, TimeoutError, EslConnectionLost) as exc:
            log.warning("ESL %s: connection lost: %s", self._where, str(exc) or type(exc).__name__)
        finally:
            self.stats.connected = False
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass
        if authenticated:
            self._lost_at = self._now()
            self.stats.gaps += 1
        return authenticated

    async def _authenticate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: EslParser
    ) -> list[EslFrame]:
        """auth/request -> auth -> reply -> subscribe -> reply; the frames read after the last reply."""
        first, rest = await self._until(reader, parser, lambda f: bool(f.content_type), "auth/request")
        if first.content_type != "auth/request":
            raise EslConnectionLost(f"the peer is not an event socket (first frame {first.content_type!r})")
        writer.write(encode_command(f"auth {self._config.password}"))
        await writer.drain()
        reply, rest = await self._until(reader, parser, _is_reply, "the auth reply", rest)
        if not reply.reply.startswith("+OK"):
            raise EslAuthError(f"FreeSWITCH {self._where} refused the event socket password ({reply.reply[:40]})")
        writer.write(encode_command(SUBSCRIBE if self._actions is None else SUBSCRIBE_WITH_JOBS))
        await writer.drain()
        reply, rest = await self._until(reader, parser, _is_reply, "the subscription reply", rest)
        if not reply.reply.startswith("+OK"):
            raise EslConnectionLost(f"the subscription was refused ({reply.reply[:60]})")
        return rest

    async def _until(
        self,
        reader: asyncio.StreamReader,
        parser: EslParser,
        match: Callable[[EslFrame], bool],
        what: str,
        pending: list[EslFrame] | None = None,
    ) -> tuple[EslFrame, list[EslFrame]]:
        """The first frame (of ``pending``, then of what is read) that matches, and the frames after it."""
        frames = list(pending or [])
        try:
            async with asyncio.timeout(self._config.auth_timeout):
                while True:
                    at = next((i for i, frame in enumerate(frames) if match(frame)), None)
                    if at is not None:
                        return frames[at], frames[at + 1 :]
                    read, eof = await self._read(reader, parser)
                    frames += read
                    if eof and not read:
                        raise EslConnectionLost(f"the peer closed the connection before sending {what}")
        except TimeoutError:
            raise EslConnectionLost(f"timed out after {self._config.auth_timeout:g} s waiting for {what}") from None

    async def _session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: EslParser,
        conn: str,
        rest: list[EslFrame],
    ) -> None:
        """An authenticated session: report the gap, resync, then collect until the connection fails."""
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.failures = 0
        if self._lost_at is not None:
            now = self._now()
            gap = self.stats.last_gap_s = max(0.0, (now - self._lost_at).total_seconds())
            log.warning("ESL %s: reconnected after a gap of %.1f s: resyncing", self._where, gap)
            reset = SourceReset(
                ts=now, site=self._config.site, source="esl", reason="reconnect", key=f"esl:{conn}:reset"
            )
            await self._deliver([reset])
        resync = _Resync()
        writer.write(b"".join(encode_command(command) for command in RESYNC_COMMANDS))
        await writer.drain()
        if self._actions is None:
            await self._collect(reader, writer, parser, conn, resync, rest)
            return
        async with self._actions.running(writer):
            await self._collect(reader, writer, parser, conn, resync, rest)

    async def _collect(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: EslParser,
        conn: str,
        resync: _Resync | None,
        frames: list[EslFrame],
    ) -> None:
        """The session loop: read, map, deliver; ``api status`` when idle. Ends only by raising."""
        pinged = False
        while True:
            batch: list[Event] = []
            for frame in frames:
                if self._actions is not None:
                    self._actions.found(self._runner.observe(frame))
                if frame.content_type == "api/response" and (resync is not None or pinged):
                    if resync is not None:
                        resync = await self._resync_reply(resync, frame, writer, batch)
                    else:
                        pinged = False
                    continue
                batch += self._map(frame, conn)
            await self._deliver(batch)
            budget = self._config.ping_timeout if pinged else self._config.ping_interval
            try:
                async with asyncio.timeout(budget):
                    frames, eof = await self._read(reader, parser)
            except TimeoutError:
                if pinged:
                    raise EslConnectionLost(f"no answer to api status within {self._config.ping_timeout:g} s") from None
                writer.write(encode_command("api status"))
                await writer.drain()
                pinged, frames = True, []
                continue
            if eof:
                await self._deliver([event for frame in frames for event in self._map(frame, conn)])
                raise EslConnectionLost("the peer closed the connection")

    async def _resync_reply(
        self, resync: _Resync, frame: EslFrame, writer: asyncio.StreamWriter, batch: list[Event]
    ) -> _Resync | None:
        """Keep a resync reply; after the queue list ask for each queue's members; at the last, the snapshot."""
        resync.replies.append(frame.text)
        if len(resync.replies) == len(RESYNC_COMMANDS) and not resync.members_asked:
            resync.queues = [row["name"] for row in table_of(resync.replies[0], "name") if row.get("name")]
            resync.members_asked = True
            if resync.queues:
                asked = [f"api callcenter_config queue list members {queue}" for queue in resync.queues]
                writer.write(b"".join(encode_command(command) for command in asked))
                await writer.drain()
        if not resync.done:
            return resync
        queues, tiers, agents, *members = resync.replies
        now = self._now()
        batch += self._mapper.resync(queues, tiers, agents, members, now)
        log.info("ESL %s: resynced %d queues, %d agents", self._where, len(resync.queues), len(self._mapper.status))
        return None

    async def _read(self, reader: asyncio.StreamReader, parser: EslParser) -> tuple[list[EslFrame], bool]:
        data = await reader.read(READ_SIZE)
        if data:
            parser.receive_data(data)
        else:
            parser.receive_eof()
        for error in parser.errors():
            name = type(error).__name__
            self._parser_errors[name] = self._parser_errors.get(name, 0) + 1
            log.warning("ESL %s: %s", self._where, error)
        self.stats.ignored = parser.dropped
        self._count()
        return parser.frames_received(), not data

    def _count(self) -> None:
        by_reason = {**self._parser_errors, **self._mapper.rejected}
        self.stats.rejected_by_reason = by_reason
        self.stats.rejected = sum(by_reason.values())

    def _map(self, frame: EslFrame, conn: str) -> list[Event]:
        self.stats.records += 1
        events = self._mapper.feed(frame, self._now())
        self._count()
        keyed = [
            event if event.key else event.model_copy(update={"key": f"esl:{conn}:{frame.offset}:{i}"})
            for i, event in enumerate(events)
        ]
        return keyed

    async def _deliver(self, batch: list[Event]) -> None:
        await deliver(self._sink, batch, self.stats, self._sink_backoff, source=f"ESL {self._where}")


def _is_reply(frame: EslFrame) -> bool:
    return frame.content_type == "command/reply"
