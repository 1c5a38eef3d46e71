"""The schedule adherence figures the runner merges into the snapshot (wallboard.core.adherence.tracker).

Per team and for the whole site, today's adherence and conformance, agents out of adherence and scheduled to work
now, minutes late; unmapped pause reasons (transitions today: the counter resets at the site-local midnight, which
rate() and increase() treat as a counter reset). Per agent (opt-in): adherence today and 1 while out of
adherence. Nothing is exported when no schedule is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wallboard.api.exporter.family import SITE, SITE_AGENT, Family, counter, gauge

SITE_TEAM = ("site", "team")
SITE_REASON = ("site", "reason")
# Family suffix -> (field of the snapshot's team/site "adherence" entry, help)
ADHERENCE_GAUGES = {
    "adherence_percent": ("adherence_pct", "Adherence today: seconds in adherence / scheduled seconds so far, in %."),
    "conformance_percent": (
        "conformance_pct",
        "Conformance today: logged-in seconds / scheduled working seconds, in %.",
    ),
    "agents_out_of_adherence": ("out_now", "Agents out of adherence now (beyond the grace period)."),
    "agents_scheduled": ("scheduled_now", "Agents scheduled to a working activity now."),
    "minutes_late": ("minutes_late", "Minutes late today (shift starts to logins), summed over the agents."),
}


class AdherenceFamilies:
    """The families of this section; the per-agent ones only when per-agent series are on."""

    def __init__(self, per_agent: bool) -> None:
        self.per_agent = per_agent
        self.team = {name: gauge(f"team_{name}", doc, SITE_TEAM) for name, (_, doc) in ADHERENCE_GAUGES.items()}
        self.site = {name: gauge(f"site_{name}", doc, SITE) for name, (_, doc) in ADHERENCE_GAUGES.items()}
        self.unmapped = counter(
            "adherence_unmapped",
            "Transitions today into a pause reason the adherence policy does not map.",
            SITE_REASON,
        )
        self.agent_pct = gauge("agent_adherence_percent", "The agent's adherence today, in %.", SITE_AGENT)
        self.agent_out = gauge("agent_out_of_adherence", "1 while the agent is out of adherence.", SITE_AGENT)

    def all(self) -> Iterator[Family]:
        yield from (*self.team.values(), *self.site.values(), self.unmapped)
        if self.per_agent:
            yield from (self.agent_pct, self.agent_out)


def add_adherence(families: AdherenceFamilies, site: str, snapshot: Mapping[str, Any]) -> None:
    """Fill the section's families from one site's snapshot (nothing without ``snapshot["adherence"]``)."""
    summary = snapshot.get("adherence")
    if not isinstance(summary, Mapping):
        return
    for team, entry in sorted((snapshot.get("teams") or {}).items()):
        figures = entry.get("adherence") if isinstance(entry, Mapping) else None
        if isinstance(figures, Mapping):
            for name, (key, _) in ADHERENCE_GAUGES.items():
                families.team[name].add((site, str(team)), figures.get(key))
    whole = summary.get("site") or {}
    for name, (key, _) in ADHERENCE_GAUGES.items():
        families.site[name].add((site,), whole.get(key))
    for reason, count in sorted((summary.get("unmapped") or {}).items()):
        families.unmapped.add((site, str(reason)), count)
    if families.per_agent:
        for agent_id, agent in (snapshot.get("agents") or {}).items():
            figures = agent.get("adherence") if isinstance(agent, Mapping) else None
            if isinstance(figures, Mapping):
                families.agent_pct.add((site, str(agent_id)), figures.get("adherence_pct"))
                families.agent_out.add((site, str(agent_id)), 1.0 if figures.get("status") == "out" else 0.0)
