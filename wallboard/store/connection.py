"""Connecting to Redis: one server or a Redis Cluster, keepalive, bounded pools, no silent retries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthorizationError,
    ClusterError,
    NoPermissionError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wallboard.config import CLUSTER_SCHEMES, cluster_seeds
from wallboard.store.errors import (
    ClusterConfigError,
    ClusterUnavailableError,
)
from wallboard.store.layout import (
    _KEEPALIVE,
    Client,
)

MAX_CONNECTIONS = 256
POOL_WAIT_S = 5.0


def connect(url: str, *, client_name: str = "wallboard") -> Client:
    """A client for ``url``: bounded connect, TCP keepalive, periodic health checks, no hidden retries.

    * No client-side retries: a retried XADD could append an event twice; the runner and the
      collectors have their own backoff that reconnects and resyncs.
    * No ``socket_timeout``: with one, redis-py wraps every write in ``asyncio.wait_for``, which
      on Python 3.11 can swallow a task's cancellation (CPython gh-86296): a cancelled engine
      would go on running. ``Store`` bounds each operation with ``asyncio.timeout`` instead,
      and TCP keepalive notices a vanished server under blocking reads.
    * ``redis+cluster://`` and ``rediss+cluster://`` URLs give a ``RedisCluster`` client (see
      ``connect_cluster``); every other scheme a ``Redis`` client on a blocking pool.
    """
    if urlsplit(url.strip()).scheme in CLUSTER_SCHEMES:
        return connect_cluster(url, client_name=client_name)
    options: dict[str, Any] = {}
    if urlsplit(url).scheme in ("redis", "rediss"):
        options = {"socket_keepalive": True, "socket_keepalive_options": _KEEPALIVE}
    # A burst (1,000 TVs reconnecting after a deploy) waits for a pooled connection instead of
    # failing at once with "Too many connections", as redis-py's default pool would.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_connect_timeout=5.0,
        socket_timeout=None,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
        **options,
    )
    client = aioredis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


def connect_cluster(url: str, *, client_name: str = "wallboard") -> RedisCluster:
    """A Redis Cluster client for ``[r]ediss+cluster://[user:password@]seed[,seed...]/[?options]``.

    Any seed that answers reveals the cluster; the topology is re-read after a connection error
    and every ``reinitialize_steps`` MOVED replies. The safety options of ``connect`` hold:

    * Redirections (MOVED, ASK) and TRYAGAIN are followed: the node refused the command, it did
      not run it. A connection error, a timeout or CLUSTERDOWN is never retried (``retry`` with 0
      attempts; redis-py's default re-sends the command up to 3 times on a refreshed topology,
      which for an XADD whose reply was lost appends the event twice). It surfaces, and the
      caller's backoff reconnects and resyncs.
    * ``require_full_coverage=False``: a site whose shard is up keeps working while another
      shard is down (its commands fail with ``ClusterUnavailableError`` until it is back).
    * Up to MAX_CONNECTIONS connections per node; beyond that a command fails at once with
      ``MaxConnectionsError`` (a ``redis.ConnectionError``): redis-py's cluster nodes have no
      blocking pool to wait on.
    """
    parts = urlsplit(url.strip())
    (host, port), *others = cluster_seeds(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    first = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    single = urlunsplit((parts.scheme.removesuffix("+cluster"), f"{userinfo}{at}{first}", "", parts.query, ""))
    return RedisCluster.from_url(
        single,
        startup_nodes=[ClusterNode(seed_host, seed_port) for seed_host, seed_port in others],
        require_full_coverage=False,
        max_connections=MAX_CONNECTIONS,
        socket_connect_timeout=5.0,
        socket_timeout=None,
        socket_keepalive=True,
        socket_keepalive_options=_KEEPALIVE,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
    )


# A Redis Cluster's passing states: the command was refused (not run) or the topology is changing.
_CLUSTER_TRANSIENT: tuple[type[Exception], ...] = (AskError, TryAgainError, ClusterError, SlotNotCoveredError)
_REFUSED: tuple[type[Exception], ...] = (AuthenticationError, AuthorizationError, NoPermissionError)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, nearest first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _cluster_failure(exc: RedisClusterException) -> Exception | None:
    """What a RedisClusterException means for the caller; None for a programming error (raised as is)."""
    causes = list(_causes(exc))
    refused = next((cause for cause in causes if isinstance(cause, _REFUSED)), None)
    if refused is not None:  # stays fatal: the runner stops and says so
        return type(refused)(f"Redis Cluster refused the connection: {refused}")
    if any(isinstance(cause, (RedisConnectionError, RedisTimeoutError, OSError)) for cause in causes):
        return ClusterUnavailableError(f"no Redis Cluster node reachable: {exc}")
    if any(isinstance(cause, ResponseError) for cause in causes):
        return ClusterConfigError(f"the Redis URL names a cluster, but the server is not one: {exc}")
    return None


@contextlib.contextmanager
def _cluster_errors() -> Iterator[None]:
    """Raise a Redis Cluster's transient states as ClusterUnavailableError (see the module docstring)."""
    try:
        yield
    except _CLUSTER_TRANSIENT as exc:
        raise ClusterUnavailableError(f"Redis Cluster cannot serve the site's slot now: {exc}") from exc
    except RedisClusterException as exc:
        failure = _cluster_failure(exc)
        if failure is None:
            raise
        raise failure from exc
