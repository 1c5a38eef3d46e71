"""The site's pub/sub channel: deltas and config notices, plain or sharded on a Redis Cluster."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub

from wallboard.store.connection import _cluster_errors
from wallboard.store.errors import SubscriptionLostError

log = logging.getLogger(__name__)


class Updates:
    """A subscription to one of a site's channels: ``async with store.subscribe_updates() as updates``.

    Subscribed once ``__aenter__`` returns (Redis confirmed it), so nothing published afterwards
    is missed. Iterating yields each message decoded from JSON; non-JSON messages are logged and
    skipped. On a Redis Cluster (a ``ClusterPubSub``) the channel is sharded (SSUBSCRIBE, on the
    node owning the channel's slot); when that node drops the subscription because the slot
    moved, iterating raises ``SubscriptionLostError``: what was published meanwhile is lost, so
    the caller resubscribes and re-reads the snapshot, as after a lost connection.
    """

    def __init__(self, pubsub: PubSub, channel: str, timeout_s: float) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self._timeout_s = timeout_s

    async def __aenter__(self) -> Updates:
        try:
            async with asyncio.timeout(self._timeout_s):
                with _cluster_errors():
                    await self._subscribe()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        await self._pubsub.aclose()

    async def _subscribe(self) -> None:
        """Subscribe and wait for Redis' confirmation (the first reply on the subscribed connection)."""
        if isinstance(self._pubsub, ClusterPubSub):
            await self._pubsub.cluster.initialize()  # the channel's node comes from the slot map
            await self._pubsub.ssubscribe(self._channel)
        else:
            await self._pubsub.subscribe(self._channel)
        while (message := await self._next()) is None or message["type"] not in ("subscribe", "ssubscribe"):
            pass

    async def _next(self) -> dict[str, Any] | None:
        """The next reply on the subscription, waiting for it (None: a health check's); raises if Redis dropped it."""
        pubsub = self._pubsub
        message: dict[str, Any] | None
        if isinstance(pubsub, ClusterPubSub):
            with _cluster_errors():
                # timeout None blocks until a reply (as redis-py documents; its annotation says float)
                message = await pubsub.get_sharded_message(timeout=None)  # type: ignore[arg-type]
            gone = message is None and not pubsub.node_pubsub_mapping  # the node's connection was dropped
        else:
            message = await pubsub.get_message(timeout=None)
            gone = False
        if gone or (message is not None and message["type"] in ("unsubscribe", "sunsubscribe")):
            raise SubscriptionLostError(f"Redis ended the subscription to {self._channel} (its slot moved?)")
        return message

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self._next()
            if message is None or message["type"] not in ("message", "smessage"):
                continue
            try:
                decoded = json.loads(message["data"])
            except ValueError:
                log.warning("skipping a non-JSON message on %s", self._channel)
                continue
            if isinstance(decoded, dict):
                yield decoded
