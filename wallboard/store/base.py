"""The part of the store every section builds on: the client, the site's keys, deadlines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable

from redis.asyncio.cluster import RedisCluster

from wallboard.store.connection import _cluster_errors
from wallboard.store.layout import (
    OP_TIMEOUT_S,
    Client,
    Keys,
    T,
)


class StoreBase:
    """One site's keys and the bounded operation every part of the store runs its commands through."""

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
