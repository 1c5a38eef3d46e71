"""The opt-in per-agent series (``agent`` label): state, the day's counts, occupancy and channel loads.

The per-agent counts of the day (calls, handled, missed rings, transfers, escalations) are counters that reset
at the site's midnight, which ``increase()`` treats as a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wallboard.api.exporter.family import SITE_AGENT, SITE_AGENT_STATE, Family, counter, gauge, number


class AgentFamilies:
    """The families of this section (exported only when per-agent series are on)."""

    def __init__(self) -> None:
        self.agent_state = gauge("agent_state", "1 for the agent's current derived state.", SITE_AGENT_STATE)
        self.agent_calls = counter("agent_calls", "Calls the agent answered today.", SITE_AGENT)
        self.agent_handled = counter("agent_handled", "Calls the agent finished (handled) today.", SITE_AGENT)
        self.agent_missed = counter(
            "agent_missed_rings", "Rings the agent did not answer today (reset at the site's midnight).", SITE_AGENT
        )
        self.agent_transfers = counter(
            "agent_transfers", "Calls the agent transferred today (reset at the site's midnight).", SITE_AGENT
        )
        self.agent_escalations = counter(
            "agent_escalations",
            "Calls the agent transferred to an escalation target today (reset at the site's midnight).",
            SITE_AGENT,
        )
        self.agent_occupancy = gauge(
            "agent_occupancy_ratio",
            "The agent's occupancy today: (on call + wrap-up) / (on call + wrap-up + available) time, 0 to 1.",
            SITE_AGENT,
        )
        self.agent_channel = gauge(
            "agent_channel_contacts",
            "Open contacts of the agent on the channel (per-agent, opt-in); capacity in agent_channel_capacity.",
            ("site", "agent", "channel"),
        )
        self.agent_capacity = gauge(
            "agent_channel_capacity",
            "Contacts of the channel the agent handles at once (per-agent, opt-in).",
            ("site", "agent", "channel"),
        )

    def all(self) -> Iterator[Family]:
        yield from (self.agent_state, self.agent_calls, self.agent_handled, self.agent_missed)
        yield from (self.agent_transfers, self.agent_escalations, self.agent_occupancy)
        yield from (self.agent_channel, self.agent_capacity)


def add_agent(families: AgentFamilies, site: str, agent_id: str, data: Mapping[str, Any]) -> None:
    """Fill the section's families from one agent of a site's snapshot."""
    state = data.get("state")
    if state is not None:
        families.agent_state.add((site, agent_id, str(state)), 1.0)
    labels = (site, agent_id)
    families.agent_calls.add(labels, data.get("calls_today"))
    families.agent_handled.add(labels, data.get("handled_today"))
    families.agent_missed.add(labels, data.get("missed_rings_today"))
    families.agent_transfers.add(labels, data.get("transfers_today"))
    families.agent_escalations.add(labels, data.get("escalations_today"))
    occupancy = number(data.get("occupancy_pct"))
    families.agent_occupancy.add(labels, None if occupancy is None else occupancy / 100.0)
    loads = data.get("channels")
    if isinstance(loads, Mapping):
        for channel, load in loads.items():
            if isinstance(load, Mapping):
                families.agent_channel.add((site, agent_id, str(channel)), load.get("open"))
                families.agent_capacity.add((site, agent_id, str(channel)), load.get("capacity"))
