"""When the engine reads its stored configuration documents again, and the reading (see "Configuration" in
``wallboard.processes.engine``): after a notice of the document's type, or every ``thresholds_poll_s`` anyway.

The engine owns the loop and the book; a ``ConfigWatcher`` holds the per-document flags, listens for
notices (as a task beside the loop) and hands a document it read to the book, which decides what it changes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from wallboard.core.site_book import SCHEDULES, THRESHOLDS, ConfigKind, SiteBook
from wallboard.store import ConfigFormatError, Store

log = logging.getLogger("wallboard.processes.engine")

CONFIG_RETRY_S = 1.0
CONFIG_KINDS: tuple[ConfigKind[Any], ...] = (THRESHOLDS, SCHEDULES)  # read in this order


@dataclass
class ConfigWatch:
    """When to read a stored configuration document again: after a notice, or once ``thresholds_poll_s`` passed."""

    notice: bool = False
    checked: float = float("-inf")  # loop time of the last read


class ConfigWatcher:
    """The notice flags of one site's configuration documents, and their reading.

    ``transient_errors`` are the Redis failures the notice subscription rides out (the engine's own list: the
    poll covers the notices missed meanwhile).
    """

    def __init__(self, store: Store, transient_errors: tuple[type[BaseException], ...]) -> None:
        self.store = store
        self.watches = {kind.name: ConfigWatch() for kind in CONFIG_KINDS}
        self._transient = transient_errors

    async def watch(self) -> None:
        """Flag a read of a stored document on every notice of its type (the poll covers any outage)."""
        while True:
            try:
                async with self.store.config.subscribe_config() as notices:
                    for watch in self.watches.values():
                        watch.notice = True  # anything published before we subscribed
                    async for notice in notices:
                        noticed = self.watches.get(str(notice.get("type")))
                        if noticed is not None:
                            noticed.notice = True
            except self._transient as exc:
                log.debug("config notices of site %s interrupted (%s)", self.store.site, exc)
            await asyncio.sleep(CONFIG_RETRY_S)

    async def reload(self, book: SiteBook, kind: ConfigKind[Any], *, poll_s: float, force: bool = False) -> bool:
        """Hand the stored document of ``kind`` to the book after a notice, or every ``poll_s``; True when it
        changed the book (what the next publish must show)."""
        watch = self.watches[kind.name]
        now = asyncio.get_running_loop().time()
        if not (force or watch.notice or now - watch.checked >= poll_s):
            return False
        watch.notice = False
        watch.checked = asyncio.get_running_loop().time()
        try:
            document = await self.store.config.load_config_checked(kind.name)
        except ConfigFormatError as exc:
            book.refuse(kind, "unreadable", exc)
            return False
        return book.reload(kind, document)
