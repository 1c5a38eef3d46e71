"""What every part of the snapshot's schema shares: the closed-object config, ISO times and the closed sets of
values (``Literal``s).

Part of ``wallboard.core.schema`` (the snapshot's types, re-exported there with everything below): see its
docstring for the conventions. The types are split by part of the snapshot so no module holds all of them;
pydantic reads each TypedDict's annotations in the module that defines it, so each module imports what its
annotations name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict
from pydantic.json_schema import WithJsonSchema

CLOSED = ConfigDict(extra="forbid", use_attribute_docstrings=True)

IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""An instant in ISO 8601, UTC (``wallboard.core.snapshots.iso``)."""

# Closed sets of values (tests/wallboard/core/test_schema.py checks each against the enum it mirrors).
AgentStateName = Literal["logged_out", "available", "ringing", "on_call", "wrap_up", "paused"]
SlFormulaName = Literal["offered_minus_short", "answered", "offered"]
ChannelName = Literal["voice", "chat", "email", "callback", "outbound"]
AdherenceStatus = Literal["in", "grace", "out", "unscheduled"]
ExceptionKind = Literal["late_login", "early_logout", "wrong_activity", "unmapped_reason"]
AlertLevel = Literal["warn", "alarm"]
AlertState = Literal["firing", "acknowledged", "snoozed"]
TargetKind = Literal["queue", "agent", "team", "site", "component", "campaign"]
CampaignRegulator = Literal["ofcom", "fcc", "custom"]
MetricName = Literal[
    "waiting",
    "longest_wait_s",
    "service_level_pct",
    "service_level_day_pct",
    "abandon_rate_pct",
    "asa_s",
    "aht_s",
    "first_response_s",
    "agents_available",
    "agents_short",
    "agent_pause_s",
    "agent_on_call_s",
    "agent_calls_target_pct",
    "agent_missed_rings",
    "agent_aht_s",
    "agent_occupancy_pct",
    "agent_concurrency_pct",
    "adherence_pct",
    "team_adherence_pct",
    "data_age_s",
    "collector_connected",
    "campaign_drop_rate_pct",
]
AlertSeverity = Literal["page", "ticket", "info", "warning"]
