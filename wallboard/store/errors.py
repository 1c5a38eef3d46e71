"""The store's exception tree: every error it raises on purpose is a ``StoreError``."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from wallboard.errors import WallboardError


class StoreError(WallboardError):
    """Base of the errors this module raises itself (Redis' own errors pass through unchanged)."""


class SiteMismatchError(StoreError):
    """An event names another site than the store's: appending it would mix two sites."""


class ClusterUnavailableError(StoreError, RedisConnectionError):
    """The Redis Cluster cannot serve the site's slot now (no seed node reachable, slot not covered,
    CLUSTERDOWN, a resharding or failover under way): transient, a ``redis.ConnectionError`` like a lost connection."""


class ClusterConfigError(StoreError):
    """A ``redis+cluster://`` URL names servers that do not run in cluster mode (CLUSTER SLOTS refused)."""


class SubscriptionLostError(StoreError, RedisConnectionError):
    """Redis ended a subscription by itself (the site's slot moved to another node): resubscribe and re-read."""


class CheckpointFormatError(StoreError):
    """The stored checkpoint is not in a format this version can read."""


class ConfigConflictError(StoreError):
    """A versioned config write expected another version than the stored one (``found``: the stored version)."""

    def __init__(self, key: str, expected: int, found: int | None) -> None:
        self.expected, self.found = expected, found
        seen = "changed meanwhile" if found is None else f"is at version {found}"
        super().__init__(f"{key} {seen}, expected version {expected}")


class ConfigFormatError(StoreError):
    """A stored config document is not a JSON object (alerting, B: the runner keeps the thresholds it has)."""
