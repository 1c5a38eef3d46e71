"""The AMI collector: a thin asyncio loop around the sans-I/O parser and the pure mapping.

Theory of operation: connect, read the banner through the parser, log in (a refused login is
fatal: ``AmiAuthError`` says so, since retrying a wrong secret only fills the PBX's security
log), ask for ``QueueStatus`` and ``QueueSummary`` (the resync: the engine corrects its state
from the snapshot), then read -> feed -> drain -> map -> hand the events to the sink. A Ping
every ``ping_interval`` seconds keeps NAT and firewalls honest and detects a dead peer. When the
socket drops, the mapper closes what can no longer be observed (as unknown, never guessed),
and the loop reconnects with a backoff that resets after a successful login.

Every event gets an idempotency key (connection start, frame offset, index in the frame), so a
sink that retries an append after a Redis hiccup cannot make the engine count it twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.ami.mapping import AmiMapper, make_drop_predicate
from collectors.ami.protocol import AmiParser, Frame, encode_action
from collectors.backoff import Backoff
from wallboard.events import Event

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], Awaitable[None]]
READ_SIZE = 65536


class AmiError(Exception):
    """Base of the AMI client's errors."""


class AmiAuthError(AmiError):
    """The PBX refused the login: fatal, the configuration must be fixed."""


class AmiConnectionLost(AmiError):
    """The connection dropped or the peer stopped answering."""


@dataclass
class AmiStats:
    """What the collector has seen; the CLI publishes it as the collector's health."""

    connected: bool = False
    connects: int = 0
    reconnects: int = 0
    records: int = 0
    events: int = 0
    rejected: int = 0
    ignored: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    last_event_ts: float | None = None

    def as_fields(self) -> dict[str, str]:
        return {
            "connected": str(int(self.connected)),
            "reconnects": str(self.reconnects),
            "records": str(self.records),
            "events": str(self.events),
            "rejected": str(self.rejected),
            "ignored": str(self.ignored),
            "rejected_by_reason": json.dumps(self.rejected_by_reason, sort_keys=True),
            "last_event_ts": "" if self.last_event_ts is None else f"{self.last_event_ts:.3f}",
        }


@dataclass(frozen=True)
class AmiConfig:
    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    site: str = "default"
    events: str = "on"
    ping_interval: float = 20.0
    connect_timeout: float = 10.0
    login_timeout: float = 10.0
    reconnect_max_delay: float = 30.0


class AmiClient:
    """Collects one PBX over AMI into ``sink`` until cancelled."""

    def __init__(self, config: AmiConfig, sink: Sink, *, now: Callable[[], datetime] | None = None) -> None:
        self._config = config
        self._sink = sink
        self._now = now or (lambda: datetime.now(UTC))
        self._mapper = AmiMapper(site=config.site)
        self._action_seq = 0
        self._parser_errors = 0
        self._logged_in = False
        self.stats = AmiStats()

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    async def run(self) -> None:
        """Connect, collect, and reconnect with backoff forever; raises AmiAuthError on a refused login."""
        delays = Backoff(cap=self._config.reconnect_max_delay)
        while True:
            self._logged_in = False
            try:
                await self._session()
            except (OSError, AmiConnectionLost, TimeoutError) as exc:
                await self._lost(exc)
            if self._logged_in:
                delays.reset()
            delay = next(delays)
            log.info("AMI %s: reconnecting in %.1f s", self._where, delay)
            await asyncio.sleep(delay)

    async def _lost(self, exc: BaseException) -> None:
        was_connected = self.stats.connected
        self.stats.connected = False
        log.warning("AMI %s: connection lost: %s", self._where, exc or type(exc).__name__)
        if was_connected:
            await self._emit(self._mapper.connection_lost(self._now()))

    async def _session(self) -> None:
        cfg = self._config
        reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout)
        conn = str(time.time_ns())
        parser = AmiParser(drop=make_drop_predicate())
        try:
            await self._login(reader, writer, parser, conn)
            self._logged_in = True
            self.stats.connects += 1
            self.stats.reconnects = self.stats.connects - 1
            self.stats.connected = True
            log.info("AMI %s: logged in as %s, resyncing", self._where, cfg.username)
            writer.write(self._action("QueueStatus") + self._action("QueueSummary"))
            await writer.drain()
            pinger = asyncio.create_task(self._ping(writer))
            try:
                while True:
                    async with asyncio.timeout(cfg.ping_interval * 3):
                        frames = await self._read(reader, parser)
                    await self._emit(self._map(frames, conn))
            finally:
                pinger.cancel()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass

    async def _login(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser, conn: str
    ) -> None:
        cfg = self._config
        action_id = self._next_id()
        fields = {"Username": cfg.username, "Secret": cfg.secret, "Events": cfg.events}
        writer.write(encode_action("Login", fields, action_id=action_id))
        await writer.drain()
        async with asyncio.timeout(cfg.login_timeout):
            while True:
                frames = await self._read(reader, parser)
                for i, frame in enumerate(frames):
                    if frame.kind == "response" and frame.action_id == action_id:
                        if frame.name.lower() != "success":
                            message = frame.get("Message", "no message")
                            raise AmiAuthError(f"AMI {self._where} refused login for {cfg.username!r}: {message}")
                        await self._emit(self._map(frames[:i] + frames[i + 1 :], conn))
                        return
                await self._emit(self._map(frames, conn))

    async def _read(self, reader: asyncio.StreamReader, parser: AmiParser) -> list[Frame]:
        data = await reader.read(READ_SIZE)
        if data:
            parser.receive_data(data)
        else:
            parser.receive_eof()
        for error in parser.errors():
            self._parser_errors += 1
            reason = type(error).__name__
            self.stats.rejected_by_reason[reason] = self.stats.rejected_by_reason.get(reason, 0) + 1
            log.warning("AMI %s: %s", self._where, error)
        frames = list(parser.frames_received())
        self.stats.ignored = parser.dropped + self._mapper.ignored
        self.stats.rejected = self._parser_errors + self._mapper.rejected
        if not data:
            raise AmiConnectionLost("peer closed the connection")
        return frames

    def _map(self, frames: list[Frame], conn: str) -> list[Event]:
        batch: list[Event] = []
        now = self._now()
        for frame in frames:
            self.stats.records += 1
            for i, event in enumerate(self._mapper.feed(frame, now)):
                batch.append(event.model_copy(update={"key": f"ami:{conn}:{frame.offset}:{i}"}))
        return batch

    async def _emit(self, events: list[Event]) -> None:
        if not events:
            return
        self.stats.events += len(events)
        self.stats.last_event_ts = events[-1].ts.timestamp()
        await self._sink(events)

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self._config.ping_interval)
            writer.write(self._action("Ping"))
            await writer.drain()

    def _next_id(self) -> str:
        self._action_seq += 1
        return f"wb-{self._action_seq:06d}"

    def _action(self, name: str) -> bytes:
        return encode_action(name, (), action_id=self._next_id())
