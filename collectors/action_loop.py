"""The supervisor actions' side of a PBX connection, shared by the AMI and the FreeSWITCH collectors.

Theory of operation
-------------------
While a session is up, ``ActionLoop.running(writer)`` keeps two tasks beside the client's reading: one takes the
actions the API queued (``ActionSource.take``, blocking at most ``ACTION_POLL_S``), hands each to the protocol's
sans-I/O runner (``collectors.ami.actions.ActionRunner``, ``collectors.esl.actions.EslActionRunner``) and writes the
bytes it returns; it also republishes the runner's directory of agents when it changed (at most every
``MEMBERS_EVERY_S``), and every ``MEMBERS_REFRESH_S`` anyway (the API routes each action to the collector whose
directory knows the agent: a quiet night must not let it expire). The other records outcomes as the reading finds
them (``found``) and fails overdue actions (``runner.expire``). When the session ends every open action is failed
(``runner.lost``) and recorded. Neither task ever blocks the reading: a Redis outage only delays actions (logged,
retried every ``ACTION_RETRY_S``); a PBX connection error goes through (the reading sees it too). Outcomes are
counted in ``counts`` (``"pause:done"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from collectors.ami.actions import ActionSource, Outcome
from wallboard.core.actions import AgentAction

__all__ = ["ACTION_POLL_S", "ACTION_RETRY_S", "MEMBERS_EVERY_S", "ActionLoop", "Runner"]

log = logging.getLogger(__name__)

ACTION_POLL_S = 0.5  # how long one read of the actions stream blocks
ACTION_RETRY_S = 1.0  # the wait after the actions stream could not be read or written
MEMBERS_EVERY_S = 1.0  # the member directory is republished at most this often
MEMBERS_REFRESH_S = 60.0  # and at least this often (it is kept wallboard.store.actions.MEMBERS_TTL_S)


class Directory(Protocol):
    @property
    def version(self) -> int: ...
    def public(self) -> Mapping[str, Mapping[str, Any]]: ...


class Runner(Protocol):
    """A protocol's sans-I/O action runner."""

    @property
    def directory(self) -> Directory: ...
    def start(
        self, action: AgentAction, at: datetime, now: float, next_id: Callable[[], str]
    ) -> tuple[bytes, list[Outcome]]: ...
    def expire(self, now: float) -> list[Outcome]: ...
    def lost(self) -> list[Outcome]: ...


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...


class ActionLoop:
    """Takes, sends and settles one collector's supervisor actions (see the module docstring)."""

    def __init__(
        self,
        runner: Runner,
        source: ActionSource,
        *,
        label: str,
        now: Callable[[], datetime],
        next_id: Callable[[], str],
        counts: dict[str, int],
    ) -> None:
        self.runner = runner
        self.source = source
        self._label = label  # "AMI host:port" in the log
        self._now = now
        self._next_id = next_id
        self._counts = counts
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()

    def found(self, outcomes: list[Outcome]) -> None:
        """Outcomes the reading found, to be recorded."""
        for outcome in outcomes:
            self._outcomes.put_nowait(outcome)

    @contextlib.asynccontextmanager
    async def running(self, writer: Writer) -> AsyncIterator[None]:
        """The two tasks while the session lasts; at its end every open action is failed and recorded."""
        helpers = [
            asyncio.create_task(self._take(writer), name=f"{self._label} actions"),
            asyncio.create_task(self._settle(), name=f"{self._label} outcomes"),
        ]
        try:
            yield
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self.found(self.runner.lost())
            await self.settle_pending()

    async def _take(self, writer: Writer) -> None:
        """Read queued actions and send them; republish the directory when it changed."""
        loop = asyncio.get_running_loop()
        published, published_at = -1, 0.0
        while True:
            try:
                directory = self.runner.directory
                since = loop.time() - published_at
                if (directory.version != published and since >= MEMBERS_EVERY_S) or since >= MEMBERS_REFRESH_S:
                    version = directory.version
                    await self.source.publish_members(directory.public())
                    published, published_at = version, loop.time()
                for action in await self.source.take(ACTION_POLL_S):
                    data, outcomes = self.runner.start(action, self._now(), loop.time(), self._next_id)
                    self.found(outcomes)
                    if data:
                        log.info("%s: %s of agent %s by %s sent", self._label, action.kind, action.agent, action.by)
                        writer.write(data)
                        await writer.drain()
            except (OSError, ConnectionError):
                raise  # the PBX connection: the read loop sees it too
            except Exception as exc:  # the actions store (Redis): never the reading's problem
                log.warning("%s: cannot take supervisor actions now (%s); retrying", self._label, exc)
                await asyncio.sleep(ACTION_RETRY_S)

    async def _settle(self) -> None:
        """Record outcomes as the reading finds them; fail overdue actions."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(ACTION_RETRY_S):
                    outcome = await self._outcomes.get()
                self._outcomes.put_nowait(outcome)
            except TimeoutError:
                pass
            self.found(self.runner.expire(loop.time()))
            await self.settle_pending()

    async def settle_pending(self) -> None:
        """Record every outcome waiting; one that cannot be recorded now waits for the next try."""
        while not self._outcomes.empty():
            outcome = self._outcomes.get_nowait()
            try:
                await self.source.settle(outcome)
            except Exception as exc:  # the actions store (Redis)
                self._outcomes.put_nowait(outcome)
                log.warning("%s: cannot record the outcome of action %s now (%s)", self._label, outcome.action.id, exc)
                await asyncio.sleep(ACTION_RETRY_S)
                return
            key = f"{outcome.action.kind}:{outcome.state}"
            self._counts[key] = self._counts.get(key, 0) + 1
            log.info(
                "%s: %s of agent %s %s: %s",
                self._label,
                outcome.action.kind,
                outcome.action.agent,
                outcome.state,
                outcome.message,
            )
