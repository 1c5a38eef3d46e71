"""The API's state while it runs: settings, the sites it serves (snapshot feed, websocket hub, accounts),
authentication and the metrics registry. Every resource module reads it; it imports no resource."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fastapi import HTTPException
from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry
from redis.exceptions import RedisError

from wallboard.admin.accounts import Accounts, Hashing, LoginPolicy
from wallboard.api.auth import Authenticator
from wallboard.api.exporter import SiteReading
from wallboard.api.feed import SiteFeed
from wallboard.api.security import AccessWatch
from wallboard.api.ws import Hub
from wallboard.config import Settings
from wallboard.core.site import QueueConfig, SiteConfig, TeamConfig
from wallboard.store import Store

log = logging.getLogger(__name__)


@dataclass
class ServedSite:
    """What the app holds for one site while running."""

    name: str
    store: Store
    feed: SiteFeed
    hub: Hub
    accounts: Accounts
    access: AccessWatch  # keeps its open websockets within what their credentials allow
    health: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass
class Runtime:
    """The app's state: settings, the sites (filled in by the lifespan), auth, metrics registry."""

    settings: Settings
    site_names: tuple[str, ...]
    auth: Authenticator
    registry: CollectorRegistry
    clock: Callable[[], float]
    hashing: Hashing
    login_failures: Counter
    site_config: SiteConfig | None = None  # the main site's file (settings.site_file), for checking thresholds
    sites: dict[str, ServedSite] = field(default_factory=dict)

    @property
    def login_policy(self) -> LoginPolicy:
        s = self.settings
        return LoginPolicy(
            session_ttl_s=s.session_ttl_s,
            max_failures=s.login_max_failures,
            max_failures_per_ip=s.login_max_failures_per_ip,
            window_s=s.login_window_s,
            max_delay_s=s.login_max_delay_s,
            alert_failures_per_user=s.login_alert_failures_per_user,
        )

    def readings(self) -> Iterable[SiteReading]:
        """What the exporter reads at scrape time."""
        now = self.clock()
        return [SiteReading(s.name, s.feed.snapshot, s.health, now) for s in self.sites.values()]

    async def refresh_health(self) -> None:
        """Fetch every site's health hashes for the scrape about to render (kept as they were on error)."""
        for site in self.sites.values():
            try:
                site.health = await site.store.events.read_health()
            except (RedisError, OSError) as exc:
                log.warning("site %s: cannot read health for /metrics (%s)", site.name, exc)


def known_targets(runtime: Runtime, served: ServedSite) -> SiteConfig:
    """The site file, else a site holding only the queue and team names of the latest snapshot."""
    if runtime.site_config is not None and served.name == runtime.settings.site:
        return runtime.site_config
    snapshot = served.feed.snapshot
    if snapshot is None:
        raise HTTPException(503, detail="no snapshot of the site yet to check queue and team names against")
    queues = {name: QueueConfig() for name in snapshot.get("queues") or {}}
    teams = {name: TeamConfig() for name in snapshot.get("teams") or {}}
    return SiteConfig.model_construct(queues=queues, teams=teams)
