"""What the history dashboards need beyond the queue figures (grafana/dashboards, wallboard.grafana).

Handle-time counters per queue (AHT over any range: (talk + hold + wrap) / handled), agents by state per team,
paused agents by team and pause reason, and with the opt-in per-agent series each agent's name and team (to join
and filter per-agent series by team) and today's AHT and pause time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wallboard.api.exporter.family import SITE_AGENT, SITE_QUEUE, Family, counter, gauge

SITE_TEAM_STATE = ("site", "team", "state")
SITE_TEAM_REASON = ("site", "team", "reason")
SITE_AGENT_NAME_TEAM = ("site", "agent", "name", "team")
NO_TEAM = ""  # an agent the site file does not place in a team
NO_REASON = "none"  # paused without a reason given by the PBX
# Counter name (without _total) -> (field of the "total" window, help).
HANDLE_COUNTERS = {
    "calls_handled": ("handled", "Answered calls that ended (talk, hold and wrap-up counted), per queue."),
    "hold_seconds": ("hold_s", "Seconds of hold on handled calls."),
    "wrap_seconds": ("wrap_s", "Seconds of wrap-up after handled calls."),
}


class GrafanaFamilies:
    """The families of this section; the per-agent ones only when per-agent series are on."""

    def __init__(self, per_agent: bool) -> None:
        self.per_agent = per_agent
        self.handle = {name: counter(name, doc, SITE_QUEUE) for name, (_, doc) in HANDLE_COUNTERS.items()}
        self.team_agents = gauge("team_agents", "Agents of the team by derived state now.", SITE_TEAM_STATE)
        self.paused = gauge("agents_paused", "Paused agents now by team and pause reason.", SITE_TEAM_REASON)
        self.agent_info = gauge("agent_info", "1 per agent seen: its name and team.", SITE_AGENT_NAME_TEAM)
        self.agent_aht = gauge("agent_aht_seconds", "The agent's average handle time today.", SITE_AGENT)
        self.agent_paused = gauge("agent_paused_seconds", "Seconds the agent was paused today.", SITE_AGENT)

    def all(self) -> Iterator[Family]:
        yield from (*self.handle.values(), self.team_agents, self.paused)
        if self.per_agent:
            yield from (self.agent_info, self.agent_aht, self.agent_paused)


def add_grafana(families: GrafanaFamilies, site: str, snapshot: Mapping[str, Any]) -> None:
    """Fill the section's families from one site's snapshot."""
    for name, queue in snapshot.get("queues", {}).items():
        total = queue.get("total") or {}
        for family_name, (field_name, _) in HANDLE_COUNTERS.items():
            families.handle[family_name].add((site, str(name)), total.get(field_name))
    for team, entry in sorted(snapshot.get("teams", {}).items()):
        for state, count in sorted((entry.get("agents") or {}).items()):
            families.team_agents.add((site, str(team), str(state)), count)
    paused: dict[tuple[str, str, str], int] = {}
    for agent_id, agent in snapshot.get("agents", {}).items():
        team = str(agent.get("team") or NO_TEAM)
        if agent.get("state") == "paused":
            reason = (site, team, str(agent.get("reason") or NO_REASON))
            paused[reason] = paused.get(reason, 0) + 1
        if families.per_agent:
            labels = (site, str(agent_id))
            families.agent_info.add((*labels, str(agent.get("name") or agent_id), team), 1.0)
            families.agent_aht.add(labels, agent.get("aht_s"))
            families.agent_paused.add(labels, agent.get("paused_s"))
    for labels_of_reason, count in sorted(paused.items()):
        families.paused.add(labels_of_reason, count)
