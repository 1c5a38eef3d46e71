"""The pipeline's health: what the collectors and the engine write in ``wb:{site}:health:<component>`` hashes.

Records ingested, rejected and degraded (by reason), engine anomalies and lag, ages of the last event and of the
last health write, connection state, reconnects and the supervisor actions settled. The hashes come as read from
Redis (str or bytes values, reasons as JSON); an unreadable field degrades that figure only, with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from wallboard.api.exporter.family import SITE, SITE_COMPONENT, SITE_COMPONENT_REASON, Family, counter, gauge, number

log = logging.getLogger(__name__)


class HealthFamilies:
    """The families of this section."""

    def __init__(self) -> None:
        self.ingested = counter("events_ingested", "Records read by a collector.", SITE_COMPONENT)
        self.rejected = counter("events_rejected", "Records rejected.", SITE_COMPONENT_REASON)
        self.degraded = counter(
            "events_degraded",
            "Records counted without one of their figures (absent or unreadable; the figure is unknown).",
            SITE_COMPONENT_REASON,
        )
        self.anomalies = counter(
            "engine_anomalies",
            "Events the engine applied with a defined outcome for an odd input (duplicates, implausible durations...).",
            ("site", "kind"),
        )
        self.lag = gauge("stream_lag", "Stream entries the engine has not applied yet.", SITE)
        self.event_age = gauge("last_event_age_seconds", "Seconds since a component's last event.", SITE_COMPONENT)
        self.health_age = gauge(
            "health_age_seconds", "Seconds since a component last wrote its health.", SITE_COMPONENT
        )
        self.connected = gauge(
            "collector_connected", "1 when the collector is connected to its source.", SITE_COMPONENT
        )
        self.reconnects = counter("collector_reconnects", "Reconnections of a collector.", SITE_COMPONENT)
        self.actions = counter(
            "agent_actions",
            "Supervisor actions the AMI collector settled, by result (done, failed; ended: a spy call hung up).",
            ("site", "kind", "result"),
        )

    def all(self) -> Iterator[Family]:
        yield from (self.ingested, self.rejected, self.degraded, self.anomalies, self.lag, self.event_age)
        yield self.health_age
        yield from (self.connected, self.reconnects, self.actions)


def add_health(families: HealthFamilies, site: str, health: Mapping[str, Mapping[str, Any]], now: float) -> None:
    """Fill the section's families from one site's health hashes, by component."""
    for component, fields in sorted(health.items()):
        labels = (site, component)
        if component == "engine":
            families.lag.add((site,), fields.get("lag"))
        if component.startswith("collector:"):
            families.ingested.add(labels, fields.get("records"))
            families.connected.add(labels, fields.get("connected"))
            families.reconnects.add(labels, fields.get("reconnects"))
            actions = _reasons(fields.get("actions_by_result"), site, component, "actions_by_result")
            for key, count in sorted(actions.items()):
                kind, _, result = key.partition(":")
                families.actions.add((site, kind, result), count)
        _add_rejections(families, site, component, fields)
        for reason, count in sorted(
            _reasons(fields.get("degraded_by_reason"), site, component, "degraded_by_reason").items()
        ):
            families.degraded.add((site, component, reason), count)
        if component == "engine":
            for kind, count in sorted(_reasons(fields.get("anomalies"), site, component, "anomalies").items()):
                families.anomalies.add((site, kind), count)
        for family, key in ((families.event_age, "last_event_ts"), (families.health_age, "updated_ts")):
            stamp = number(fields.get(key))
            if stamp is not None:
                family.add(labels, max(0.0, now - stamp))


def _add_rejections(families: HealthFamilies, site: str, component: str, fields: Mapping[str, Any]) -> None:
    """Rejections by reason; what the reasons do not account for of ``rejected`` is reason="other"."""
    by_reason = _reasons(fields.get("rejected_by_reason"), site, component)
    for reason, count in sorted(by_reason.items()):
        families.rejected.add((site, component, reason), count)
    total = number(fields.get("rejected"))
    rest = (total or 0.0) - sum(by_reason.values())
    if rest > 0 or (total is not None and not by_reason):
        families.rejected.add((site, component, "other"), max(rest, 0.0))


def _reasons(raw: Any, site: str, component: str, name: str = "rejected_by_reason") -> dict[str, float]:
    if raw is None or raw == "" or raw == b"":
        return {}
    try:
        decoded = json.loads(raw) if isinstance(raw, str | bytes) else raw
        return {str(reason): float(count) for reason, count in dict(decoded).items()}
    except (ValueError, TypeError) as exc:
        log.warning("site %s: health of %s has an unreadable %s (%s)", site, component, name, exc)
        return {}
