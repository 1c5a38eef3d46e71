"""The metric catalogue of thresholds: what each ``Metric`` is (words, unit, target, default direction,
traffic window, scopes), apart from the threshold document so that readers of the catalogue (the evaluator, the
rule export, the pages' vocabularies) need not read the validation.

Everything here is re-exported by ``wallboard.core.thresholds``, its public home. ``Metric`` and ``Direction``
are pickled in checkpoints (an alert book's thresholds): their ``__module__`` stays ``wallboard.core.thresholds``
(``PICKLED_MODULE``) so a checkpoint names them as it always has, before and after this split.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

# where checkpoints look the pickled classes up; interned: the very string of that module's name, as pickle memoizes
# by identity (a checkpoint written after this split is then byte-identical to one written before it)
PICKLED_MODULE = sys.intern("wallboard.core.thresholds")


class Metric(StrEnum):
    WAITING = "waiting"
    LONGEST_WAIT_S = "longest_wait_s"
    SERVICE_LEVEL_PCT = "service_level_pct"
    SERVICE_LEVEL_DAY_PCT = "service_level_day_pct"
    ABANDON_RATE_PCT = "abandon_rate_pct"
    ASA_S = "asa_s"
    AHT_S = "aht_s"
    FIRST_RESPONSE_S = "first_response_s"
    AGENTS_AVAILABLE = "agents_available"
    AGENTS_SHORT = "agents_short"
    AGENT_PAUSE_S = "agent_pause_s"
    AGENT_ON_CALL_S = "agent_on_call_s"
    AGENT_CALLS_TARGET_PCT = "agent_calls_target_pct"
    AGENT_MISSED_RINGS = "agent_missed_rings"
    AGENT_AHT_S = "agent_aht_s"
    AGENT_OCCUPANCY_PCT = "agent_occupancy_pct"
    AGENT_CONCURRENCY_PCT = "agent_concurrency_pct"
    ADHERENCE_PCT = "adherence_pct"
    TEAM_ADHERENCE_PCT = "team_adherence_pct"
    DATA_AGE_S = "data_age_s"
    COLLECTOR_CONNECTED = "collector_connected"
    CAMPAIGN_DROP_RATE_PCT = "campaign_drop_rate_pct"


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"


# set after the class is built: in its body mypy would read ``__module__`` as one more member
Metric.__module__ = Direction.__module__ = PICKLED_MODULE

Unit = Literal["count", "seconds", "percent", "flag"]
TargetKind = Literal["queue", "agent", "team", "site", "component", "campaign"]
ScopeKind = Literal["site", "queue", "team", "campaign"]
Severity = Literal["page", "ticket", "info"]
Window = Literal["interval", "day"]


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: its words, unit, targets, default direction, traffic window and scopes."""

    words: str  # the subject in reasons: "SL", "Longest wait"
    unit: Unit
    target: TargetKind  # what a site-scoped threshold of this metric is evaluated for
    direction: Direction
    window: Window | None  # the window whose offered calls gate ``min_offered`` (queue metrics)
    min_offered: int  # default minimum traffic
    scopes: frozenset[ScopeKind]
    signed: bool = False  # levels may be negative


_Q: frozenset[ScopeKind] = frozenset({"site", "queue"})
_AGENT: frozenset[ScopeKind] = frozenset({"site", "team"})
_SITE: frozenset[ScopeKind] = frozenset({"site"})
_CAMPAIGN: frozenset[ScopeKind] = frozenset({"site", "campaign"})
_A, _B = Direction.ABOVE, Direction.BELOW

METRICS: dict[Metric, MetricSpec] = {
    Metric.WAITING: MetricSpec("Calls waiting", "count", "queue", _A, "interval", 0, _Q),
    Metric.LONGEST_WAIT_S: MetricSpec("Longest wait", "seconds", "queue", _A, "interval", 0, _Q),
    Metric.SERVICE_LEVEL_PCT: MetricSpec("SL", "percent", "queue", _B, "interval", 5, _Q),
    Metric.SERVICE_LEVEL_DAY_PCT: MetricSpec("SL today", "percent", "queue", _B, "day", 5, _Q),
    Metric.ABANDON_RATE_PCT: MetricSpec("Abandon rate", "percent", "queue", _A, "interval", 5, _Q),
    Metric.ASA_S: MetricSpec("ASA", "seconds", "queue", _A, "interval", 5, _Q),
    Metric.AHT_S: MetricSpec("AHT", "seconds", "queue", _A, "interval", 5, _Q),
    Metric.FIRST_RESPONSE_S: MetricSpec("First response", "seconds", "queue", _A, "interval", 0, _Q),
    Metric.AGENTS_AVAILABLE: MetricSpec("Agents available", "count", "queue", _B, "interval", 0, _Q | {"team"}),
    Metric.AGENTS_SHORT: MetricSpec("Agents short", "count", "queue", _A, "interval", 0, _Q, signed=True),
    Metric.AGENT_PAUSE_S: MetricSpec("Pause", "seconds", "agent", _A, None, 0, _AGENT),
    Metric.AGENT_ON_CALL_S: MetricSpec("On one call", "seconds", "agent", _A, None, 0, _AGENT),
    Metric.AGENT_CALLS_TARGET_PCT: MetricSpec("Calls vs target", "percent", "agent", _B, None, 0, _AGENT),
    Metric.AGENT_MISSED_RINGS: MetricSpec("Missed rings today", "count", "agent", _A, None, 0, _AGENT),
    Metric.AGENT_AHT_S: MetricSpec("AHT today", "seconds", "agent", _A, None, 0, _AGENT),
    Metric.AGENT_OCCUPANCY_PCT: MetricSpec("Occupancy today", "percent", "agent", _A, None, 0, _AGENT),
    Metric.AGENT_CONCURRENCY_PCT: MetricSpec("Concurrent contacts", "percent", "agent", _A, None, 0, _AGENT),
    Metric.ADHERENCE_PCT: MetricSpec("Adherence", "percent", "agent", _B, None, 0, _AGENT),
    Metric.TEAM_ADHERENCE_PCT: MetricSpec("Team adherence", "percent", "team", _B, None, 0, _AGENT),
    Metric.DATA_AGE_S: MetricSpec("Data age", "seconds", "site", _A, None, 0, _SITE),
    Metric.COLLECTOR_CONNECTED: MetricSpec("Collector", "flag", "component", _B, None, 0, _SITE),
    # the window drop rate of an outbound campaign (wallboard.core.campaigns): per campaign, site scope = every one
    Metric.CAMPAIGN_DROP_RATE_PCT: MetricSpec("Drop rate", "percent", "campaign", _A, None, 0, _CAMPAIGN),
}
