"""One site's board messages in the API process, kept current from Redis so ``/ws`` pushes them (``ws.Hub``).

Theory of operation
-------------------
A message is posted or cleared through any API process or the CLI (``wallboard.admin.boards``), which writes it
with a ``{"type": "board_message", "name": board}`` notice on the site's config channel in the same MULTI. Every
API process follows that channel here: it subscribes *first*, then reads every board's message (the stored
boards and ``default``), so no change made in between is lost; then each notice re-reads that board's message
and, when it differs from the one held, tells ``on_change(board, message | None)`` (the hub's
``board_message``), which pushes it to the board's sockets at once. A message therefore reaches every process's
TVs one pub/sub hop and one GET after it is written. When Redis goes away it backs off, subscribes again and
re-reads them all, telling what changed meanwhile. A notice without a board name is logged and counted
(``rejected``), never acted on.

Messages are held as stored (their ``expires_ts``): the hub counts the seconds each has left whenever it sends
one. A message that expires is dropped by Redis without a notice: the TVs take it down by their own clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from redis.exceptions import RedisError

from wallboard.core.scopes import DEFAULT_BOARD
from wallboard.store import Store
from wallboard.store.errors import StoreError

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0
NOTICE = "board_message"

OnChange = Callable[[str, Mapping[str, Any] | None], None]


class MessageFeed:
    """One site's board messages, kept current from Redis (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.on_change: OnChange = lambda board, message: None  # the hub's board_message
        self.current: dict[str, Mapping[str, Any]] = {}  # board -> its message, as stored
        self.rejected = 0  # board_message notices without a board name

    async def run(self) -> None:
        """Follow the messages until cancelled, resubscribing (with backoff) whenever Redis fails."""
        delay = RETRY_MIN_S
        while True:
            try:
                async with self.store.config.subscribe_config() as notices:
                    await self.reload()
                    delay = RETRY_MIN_S
                    async for notice in notices:
                        await self.receive(notice)
                reason = "the config subscription ended"
            except (RedisError, OSError, StoreError) as exc:  # OSError includes the store's TimeoutError
                reason = f"Redis unreachable ({type(exc).__name__}: {exc})"
            log.warning("site %s: board messages: %s; retrying in %.1f s", self.store.site, reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def reload(self) -> None:
        """Read the message of every stored board, of ``default`` and of every board holding one now."""
        names = {DEFAULT_BOARD, *await self.store.boards.list_boards(), *self.current}
        ordered = sorted(names)
        messages = await asyncio.gather(*(self.store.boards.get_message(name) for name in ordered))
        for name, message in zip(ordered, messages, strict=True):
            self._set(name, message)

    async def receive(self, notice: Mapping[str, Any]) -> None:
        """Act on one notice of the config channel: a ``board_message`` one re-reads that board's message."""
        if notice.get("type") != NOTICE:
            return
        name = notice.get("name")
        if not isinstance(name, str) or not name:
            self.rejected += 1
            log.warning("site %s: ignored a board_message notice without a board name: %.200r", self.store.site, notice)
            return
        self._set(name, await self.store.boards.get_message(name))

    def _set(self, name: str, message: Mapping[str, Any] | None) -> None:
        if self.current.get(name) == message:
            return
        if message is None:
            del self.current[name]
        else:
            self.current[name] = message
        self.on_change(name, message)
