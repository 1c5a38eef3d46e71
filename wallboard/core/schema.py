"""The snapshot's type: what the engine publishes and every reader (websocket, REST, exporter, Dash) reads.

Theory of operation
-------------------
The snapshot is plain JSON-ready data (dicts, lists, str, int, float, None) built four times a second for up
to 10,000 agents, so it stays plain dicts: the TypedDicts below describe it for mypy and, through
pydantic, as a JSON Schema (:func:`snapshot_json_schema`, served at ``GET /api/v1/snapshot/schema``). Nothing
validates or converts a snapshot at run time; the tests validate real snapshots against the generated schema.

Who writes what:

* ``wallboard.core.engine.State.snapshot(now)`` -> :class:`StateSnapshot`; its queues and agents come from
  ``wallboard.core.snapshots`` (windows: ``wallboard.core.metrics.Counters.as_dict``).
* With a schedule in force, the adherence figures are merged into it
  (``wallboard.core.adherence.tracker.merge_figures``): the ``adherence`` keys of agents, teams and the
  snapshot, absent otherwise (readers take absent as None).
* The engine runner (``wallboard.processes.engine``) publishes :class:`Snapshot`: that plus the open
  ``alerts`` (``wallboard.core.alerting.AlertBook.alerts``), ``seq`` and ``stream_id``. That is the
  ``wb:{site}:snapshot`` key, the body of ``GET /api/v1/snapshot`` and, with ``"type": "snapshot"`` added,
  the first /ws message; deltas (``wallboard.core.deltas``) change it into the next one.

Conventions: times are ISO 8601 strings in UTC (``2026-03-02T09:00:00+00:00``); durations are seconds
(``_s``, float, unrounded); percentages are 0-100 (``_pct``, float, clamped); a ratio whose denominator is 0
is None ("no calls yet"), never 0. Windows: ``interval`` is the current interval (15, 30 or 60 minutes aligned
to the site-local clock), ``day`` the site-local day so far, ``total`` everything since the engine's state
began (never reset: it backs the Prometheus counters). A call counts in the window in which its wait ended
(answer, abandon, exit); handle times count where the call ended. Definitions: ``wallboard.core.metrics``.

Every object forbids keys it does not declare (``additionalProperties: false``), so a key the engine adds
fails the tests until it is declared here.

The types live in one module per part of the snapshot, all re-exported here: ``schema_queues`` (queue figures
and windows), ``schema_agents`` (agents and teams), ``schema_common`` (ISO times, the closed sets of values);
this module keeps the site-wide parts, the campaigns, the snapshot itself and the JSON Schema generation.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, NotRequired

from pydantic import TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

# the queue, agent and team types and the shared values live apart (no module holds the whole snapshot): every
# name stays importable from here
from wallboard.core.schema_agents import (
    Agent,
    AgentAdherence,
    AgentCall,
    AgentChannel,
    NextSlot,
    ScheduleOnlyTeam,
    Team,
    TeamAdherence,
    TeamStates,
)
from wallboard.core.schema_agents import AgentTarget as AgentTarget
from wallboard.core.schema_common import CLOSED as _CLOSED
from wallboard.core.schema_common import (
    AdherenceStatus,
    AgentStateName,
    AlertLevel,
    AlertSeverity,
    AlertState,
    ChannelName,
    ExceptionKind,
    MetricName,
    SlFormulaName,
    TargetKind,
)
from wallboard.core.schema_common import CampaignRegulator as CampaignRegulator
from wallboard.core.schema_common import IsoTime as IsoTime
from wallboard.core.schema_queues import QueueAgents, QueueFigures, WaitingCall, Window

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "AdherenceException",
    "AdherenceStatus",
    "Agent",
    "AgentAdherence",
    "AgentCall",
    "AgentChannel",
    "AgentStateName",
    "AlertLevel",
    "AlertSeverity",
    "AlertState",
    "CampaignFigures",
    "CampaignSpan",
    "ChannelName",
    "DayBounds",
    "EngineCounters",
    "ExceptionKind",
    "IntervalBounds",
    "MetricName",
    "NextSlot",
    "OpenAlert",
    "PendingAlert",
    "QueueAgents",
    "QueueFigures",
    "ScheduleOnlyTeam",
    "SiteAdherence",
    "SlFormulaName",
    "Snapshot",
    "StateSnapshot",
    "Target",
    "TargetKind",
    "Team",
    "TeamAdherence",
    "TeamStates",
    "WaitingCall",
    "Window",
    "snapshot_json_schema",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# -- site ---------------------------------------------------------------------------------------------


@with_config(_CLOSED)
class AdherenceException(TypedDict):
    """A mismatch that lasted longer than its grace period today (open or closed)."""

    agent: str
    name: str
    team: str | None
    kind: ExceptionKind
    scheduled: str
    """The activity scheduled when the mismatch started."""
    actual: str
    """The agent's activity when the mismatch started."""
    start: IsoTime
    end: IsoTime | None
    """None while it lasts."""
    minutes: float
    """Its length so far, minutes."""


@with_config(_CLOSED)
class SiteAdherence(TypedDict):
    """The site's adherence with a schedule in force."""

    site: TeamAdherence
    schedule_version: int
    """Version of the stored schedule in force (``wb:{site}:config:schedules``)."""
    exceptions: list[AdherenceException]
    """Today's exceptions, newest first, at most 200."""
    unmapped: dict[str, int]
    """Transitions of scheduled agents into an unmapped pause reason since the site-local midnight, by reason."""


@with_config(_CLOSED)
class IntervalBounds(TypedDict):
    """The current interval."""

    start: IsoTime
    end: IsoTime
    minutes: int
    """Its length: 15, 30 or 60."""


@with_config(_CLOSED)
class DayBounds(TypedDict):
    """The site-local day."""

    start: IsoTime
    """Site-local midnight, in UTC."""


@with_config(_CLOSED)
class EngineCounters(TypedDict):
    """What the engine's state has counted since it began."""

    events_applied: int
    anomalies: dict[str, int]
    """Events ignored or corrected, by kind (``wallboard.core.engine.ANOMALIES``: duplicate_key, stale_event...)."""


@with_config(_CLOSED)
class Target(TypedDict):
    """What an alert is about."""

    kind: TargetKind
    name: str


@with_config(_CLOSED)
class OpenAlert(TypedDict):
    """An open alert (``wallboard.core.alerting``): optional keys only when set."""

    alert_id: str
    """``<threshold>:<target kind>:<target name>:<epoch of firing>``, stable while the alert is open."""
    threshold_id: str
    target: Target
    metric: MetricName
    level: AlertLevel
    severity: AlertSeverity
    """The threshold's severity (page, ticket, info) at ``alarm``; ``warning`` at ``warn``."""
    state: AlertState
    value: float | None
    """The metric's value at the last evaluation (its unit is the metric's)."""
    reason: str
    """Why, in words."""
    since: IsoTime
    """When it fired."""
    label: NotRequired[str]
    acknowledged_by: NotRequired[str]
    acknowledged_at: NotRequired[IsoTime]
    note: NotRequired[str]
    snoozed_until: NotRequired[IsoTime]


@with_config(_CLOSED)
class PendingAlert(TypedDict):
    """A threshold breached but not for its ``for_s`` yet (``wallboard.core.alerts.Evaluator.pending_alerts``):
    the level it heads for and when that level is entered if the value stays where it is."""

    target: Target
    threshold_id: str
    metric: MetricName
    level: AlertLevel
    """The level that is coming (warn, or alarm over a firing warn)."""
    value: float | None
    due: IsoTime
    """When the breach will have lasted the threshold's ``for_s``."""
    reason: str


# -- outbound campaigns -------------------------------------------------------------------------------


@with_config(_CLOSED)
class CampaignSpan(TypedDict):
    """A campaign's dialer figures over one span (``wallboard.core.campaigns``, its theory of operation)."""

    attempts: int
    """Calls the dialer placed (``dial_attempt``)."""
    results: int
    """Calls whose outcome the dialer told (``dial_result``): connects + no_answer + busy + machine + dropped."""
    connects: int
    """Calls a live person answered and an agent took (result ``answered``)."""
    no_answer: int
    busy: int
    machine: int
    """Calls an answering machine took (not live answers: out of the drop rate)."""
    dropped: int
    """Calls a live person answered and the dialer abandoned (no agent in time): the regulators' abandoned calls."""
    live: int
    """Calls answered by a live person: connects + dropped (the drop rate's denominator)."""
    connect_rate_pct: float | None
    """connects / results, percent; None before the first result."""
    drop_rate_pct: float | None
    """dropped / live, percent (Ofcom's and the FCC's abandoned-call rate); None without a live answer."""
    talk_s: float
    """Sum of the connects' talk time, seconds (the ones the dialer reported)."""
    avg_talk_s: float | None
    """talk_s / connects with a talk time, seconds; None without any."""
    talk_unknown: int
    """Connects without a talk time (out of the average)."""


@with_config(_CLOSED)
class CampaignFigures(TypedDict):
    """An outbound campaign: the site file's (from the start) or one seen in dialer events (site defaults)."""

    name: str
    display_name: str | None
    """The campaign's name for people (site file ``display_name``), None without one: show ``name``."""
    configured: bool
    """Listed in the site file's ``campaigns`` (False: judged by ``campaign_defaults``)."""
    regulator: CampaignRegulator
    """Whose rule sets the window and the limit: ``ofcom`` (24 h, 3 %), ``fcc`` (30 days, 3 %) or ``custom``."""
    window_h: float
    """The rolling window of ``window`` and of the drop rate, hours of elapsed time (DST-proof)."""
    limit_pct: float
    """The most the drop rate may be, percent."""
    drop_rate_pct: float | None
    """``window.drop_rate_pct``: the figure the limit applies to; None without a live answer in the window."""
    over_limit: bool
    """The window's drop rate is above ``limit_pct``: a legal matter for the site."""
    window: CampaignSpan
    """The last ``window_h`` hours (to the minute for 24 h, 30 minutes for 30 days; never shorter)."""
    today: CampaignSpan
    """The site-local day so far."""
    total: CampaignSpan
    """Since the engine's state began (never reset: it backs the Prometheus counters)."""


# -- the snapshot -------------------------------------------------------------------------------------


@with_config(_CLOSED)
class StateSnapshot(TypedDict):
    """What ``State.snapshot(now)`` returns (with the adherence keys once the runner merged them)."""

    site: str
    ts: IsoTime
    """The snapshot's ``now``: the age of the data is measured from it."""
    tz: str
    """The site's IANA time zone (windows are aligned to its clock)."""
    sl_formula: SlFormulaName
    """Denominator of every service level: offered - short abandons, answered, or offered."""
    interval: IntervalBounds
    day: DayBounds
    queues: dict[str, QueueFigures]
    """Every queue of the site file or seen in events, by name."""
    agents: dict[str, Agent]
    """Every agent seen in events (and scheduled ones), by id."""
    teams: dict[str, Team | ScheduleOnlyTeam]
    """Teams of the site file and of seen agents, by id."""
    counters: EngineCounters
    campaigns: NotRequired[dict[str, CampaignFigures]]
    """Outbound campaigns by name: present when the site file lists campaigns or a dialer event was seen."""
    adherence: NotRequired[SiteAdherence | None]
    """Present with a schedule in force."""


@with_config(_CLOSED)
class Snapshot(StateSnapshot):
    """The published snapshot of a site: what the runner stores, ``GET /api/v1/snapshot`` answers and /ws
    sends first (with ``"type": "snapshot"``)."""

    alerts: list[OpenAlert]
    """Open alerts, alarms first, then oldest first."""
    pending: NotRequired[list[PendingAlert]]
    """Breaches still inside their ``for_s`` delay, soonest due first (absent: none known)."""
    seq: int
    """Increases by one per publish; deltas carry it."""
    stream_id: str | None
    """Id of the last event-stream entry applied, None before the first."""


def snapshot_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :class:`Snapshot`, generated from the types above (a copy: yours)."""
    return copy.deepcopy(_generated())


@cache
def _generated() -> dict[str, Any]:
    """Generated once per process (some 0.1 s)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **TypeAdapter(Snapshot).json_schema()}
