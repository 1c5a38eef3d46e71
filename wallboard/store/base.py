"""The part of the store every section builds on: the client, the site's keys, deadlines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from redis.asyncio.cluster import RedisCluster

from wallboard.store.connection import _cluster_errors
from wallboard.store.layout import (
    OP_TIMEOUT_S,
    Client,
    Keys,
    T,
)
from wallboard.store.updates import Updates


class StoreBase:
    """One site's keys and the bounded operation every section of the store runs its commands through.

    Every section (streams, config, accounts, alerts, boards, schedules, trend, history) derives from this
    one class only; ``wallboard.store.Store`` composes them.
    """

    def __init__(
        self,
        client: Client,
        *,
        prefix: str = "wb",
        site: str = "default",
        maxlen: int = 1_000_000,
        op_timeout_s: float = OP_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.keys = Keys(prefix, site)
        self.site = site
        self.maxlen = maxlen
        self.op_timeout_s = op_timeout_s

    @property
    def on_cluster(self) -> bool:
        """True on a Redis Cluster: the site's channels are then sharded (SPUBLISH/SSUBSCRIBE)."""
        return isinstance(self.client, RedisCluster)

    @contextlib.asynccontextmanager
    async def _deadline(self, extra_s: float = 0.0) -> AsyncIterator[None]:
        """Bound one operation (raises builtin TimeoutError; redis-py then drops the connection).

        A Redis Cluster's transient states come out as ClusterUnavailableError (see the module docstring).
        """
        async with asyncio.timeout(self.op_timeout_s + extra_s):
            with _cluster_errors():
                yield

    async def _do(self, command: Awaitable[T], *, extra_s: float = 0.0) -> T:
        async with self._deadline(extra_s):
            return await command

    def _publish(self, target: Any, channel: str, message: str) -> Any:
        """Publish on one of the site's channels through ``target``, the client or a pipeline (also in a MULTI).

        SPUBLISH on a Redis Cluster, where ``Updates`` subscribes with SSUBSCRIBE (a cluster pipeline
        refuses PUBLISH, and a sharded subscriber never hears one); PUBLISH elsewhere.
        """
        return target.spublish(channel, message) if self.on_cluster else target.publish(channel, message)

    def _subscribe(self, channel: str) -> Updates:
        """A subscription to one of the site's channels (sharded on a Redis Cluster, see ``_publish``)."""
        return Updates(self.client.pubsub(), channel, self.op_timeout_s)
