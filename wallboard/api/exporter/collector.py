"""The scrape-time collector: one ``SiteReading`` per site in, every ``wallboard_*`` family out, in one pass.

The families come from the sections (queues, health, grafana, adherence, campaigns, per-agent), always in the
same order, so the exposition's text is stable from scrape to scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from wallboard.api.exporter.adherence import AdherenceFamilies, add_adherence
from wallboard.api.exporter.agents import AgentFamilies, add_agent
from wallboard.api.exporter.campaigns import CampaignFamilies, add_campaigns
from wallboard.api.exporter.family import SITE, Family, gauge, number
from wallboard.api.exporter.grafana import GrafanaFamilies, add_grafana
from wallboard.api.exporter.health import HealthFamilies, add_health
from wallboard.api.exporter.queues import QueueFamilies, add_queue


@dataclass(frozen=True)
class SiteReading:
    """What one scrape knows about one site: the snapshot (or None before the first), health hashes, now."""

    site: str
    snapshot: Mapping[str, Any] | None
    health: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    now: float = 0.0


Reader = Callable[[], Iterable[SiteReading]]


class WallboardCollector(Collector):
    """Yields the ``wallboard_*`` families from whatever ``read`` returns at scrape time."""

    def __init__(self, read: Reader, *, per_agent: bool = False) -> None:
        self._read = read
        self._per_agent = per_agent

    def describe(self) -> list[Metric]:
        """The families without samples, so a registry detects clashes without reading anything."""
        return list(_Families(self._per_agent).all())

    def collect(self) -> Iterator[Metric]:
        families = _Families(self._per_agent)
        for reading in self._read():
            if reading.snapshot is not None:
                _add_snapshot(families, reading.site, reading.snapshot, reading.now)
            add_health(families.health, reading.site, reading.health, reading.now)
        yield from families.all()


def register(registry: CollectorRegistry, read: Reader, *, per_agent: bool = False) -> WallboardCollector:
    """Build a collector over ``read`` and register it on ``registry`` (never the global registry)."""
    collector = WallboardCollector(read, per_agent=per_agent)
    registry.register(collector)
    return collector


class _Families:
    """One empty family per exported name; ``all()`` yields them in a stable order."""

    def __init__(self, per_agent: bool) -> None:
        self.per_agent = per_agent
        self.queues = QueueFamilies()
        self.seq = gauge("snapshot_seq", "Sequence number of the latest snapshot.", SITE)
        self.age = gauge("snapshot_age_seconds", "Seconds since the latest snapshot was computed.", SITE)
        self.health = HealthFamilies()
        self.grafana = GrafanaFamilies(per_agent)
        self.adherence = AdherenceFamilies(per_agent)
        self.campaigns = CampaignFamilies()
        self.agents = AgentFamilies()

    def all(self) -> Iterator[Family]:
        yield from self.queues.all()
        yield from (self.seq, self.age)
        yield from self.health.all()
        yield from self.grafana.all()
        yield from self.adherence.all()
        yield from self.campaigns.all()
        if self.per_agent:
            yield from self.agents.all()


def _add_snapshot(families: _Families, site: str, snapshot: Mapping[str, Any], now: float) -> None:
    for name, queue in snapshot.get("queues", {}).items():
        add_queue(families.queues, site, str(name), queue)
    families.seq.add((site,), snapshot.get("seq"))
    add_grafana(families.grafana, site, snapshot)
    add_adherence(families.adherence, site, snapshot)
    add_campaigns(families.campaigns, site, snapshot)
    computed = _epoch(snapshot.get("ts"))
    if computed is not None:
        families.age.add((site,), max(0.0, now - computed))
    if families.per_agent:
        for agent_id, agent in snapshot.get("agents", {}).items():
            add_agent(families.agents, site, str(agent_id), agent)


def _epoch(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 timestamp (aware) or a number."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return number(value)
