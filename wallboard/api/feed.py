"""One site's latest snapshot in the API process, kept current from Redis: the engine's snapshot key, then
its deltas on the updates channel, re-read whenever a delta does not follow (see wallboard/api/app.py); and,
beside it, the site's board messages (``messages``: ``wallboard.api.messages.MessageFeed``), which ``run`` follows
too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from redis.exceptions import RedisError

from wallboard.api.messages import MessageFeed
from wallboard.core.deltas import DiffError, apply_diff
from wallboard.store import Store

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5


RETRY_MAX_S = 10.0


ApplyDiff = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class SiteFeed:
    """One site's latest snapshot, kept current from Redis (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        apply: ApplyDiff = apply_diff,
    ) -> None:
        self.store = store
        self.site = store.site
        self.on_change: Callable[[], None] = lambda: None  # called after every change (the hub's notify)
        self.messages = MessageFeed(store)  # the board messages (their on_change: the hub's board_message)
        self._apply = apply
        self._snapshot: dict[str, Any] | None = None
        self.redis_ok = False
        self.problem: str | None = "not connected to Redis yet"
        self.failure: str | None = None  # set when one of the site's tasks died: not ready until restarted
        self.reloads = 0  # snapshot key reads after a gap (or a message before any snapshot)
        self.applied = 0  # deltas applied in order

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The latest snapshot (a new object after every change: never mutated in place)."""
        return self._snapshot

    @property
    def seq(self) -> int | None:
        return _seq(self._snapshot)

    @property
    def ready(self) -> bool:
        return self.redis_ok and self._snapshot is not None and self.failure is None

    async def run(self) -> None:
        """Follow the site's snapshot and its board messages until cancelled (each resubscribing on its own)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.messages.run(), name=f"messages:{self.site}")
            group.create_task(self._run_updates(), name=f"updates:{self.site}")

    async def _run_updates(self) -> None:
        """Follow the snapshot until cancelled, resubscribing (with backoff) whenever Redis fails."""
        delay = RETRY_MIN_S
        while True:
            try:
                await self._follow()
                reason = "the updates subscription ended"
            except (RedisError, OSError) as exc:  # OSError includes the store's TimeoutError
                reason = f"Redis unreachable ({type(exc).__name__}: {exc})"
            if self.redis_ok:  # it was following: this is a new outage, start the backoff over
                delay = RETRY_MIN_S
            self.redis_ok, self.problem = False, reason
            log.warning("site %s: %s; retrying in %.1f s", self.site, reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _follow(self) -> None:
        async with self.store.events.subscribe_updates() as updates:
            await self.reload()
            self.redis_ok = True
            self.problem = None if self._snapshot is not None else "no snapshot published yet"
            log.info("site %s: following updates from seq %s", self.site, self.seq)
            async for message in updates:
                await self.receive(message)

    async def reload(self) -> None:
        """Replace the copy with the snapshot key's content (kept as is when the key is empty)."""
        snapshot = await self.store.events.load_snapshot()
        if snapshot is not None:
            self._set(snapshot)
            self.problem = None

    async def receive(self, message: Mapping[str, Any]) -> None:
        """Apply one message of the updates channel (see the module docstring for the rules)."""
        seq, base = message.get("seq"), message.get("base")
        current = self.seq
        if message.get("type") != "delta" or not isinstance(seq, int):
            await self._resync("a message that is not a delta")
        elif current is not None and seq <= current and base is not None:  # base None: the engine restarted
            return
        elif current is not None and base == current:
            try:
                updated = self._apply(self._snapshot or {}, message.get("changes") or {})
            except (DiffError, TypeError, AttributeError) as exc:
                await self._resync(f"delta {seq} that does not apply ({exc})")
                return
            self._set(updated, seq)
            self.applied += 1
        else:
            await self._resync(f"delta {seq} on base {base} while holding {current}")

    async def _resync(self, why: str) -> None:
        self.reloads += 1
        log.info("site %s: re-reading the snapshot after %s", self.site, why)
        await self.reload()

    def _set(self, snapshot: dict[str, Any], seq: int | None = None) -> None:
        if seq is not None and snapshot.get("seq") != seq:
            snapshot = {**snapshot, "seq": seq}
        self._snapshot = snapshot
        self.on_change()


def _seq(snapshot: Mapping[str, Any] | None) -> int | None:
    seq = snapshot.get("seq") if snapshot is not None else None
    return seq if isinstance(seq, int) else None
