"""The people dashboards: "Agents" (states, pauses, calls, transfers by team and agent) and "Adherence".

Team panels read the exporter's per-team gauges; per-agent panels need the opt-in per-agent series
(WALLBOARD_METRICS_PER_AGENT=true) and say so (``PER_AGENT_NOTE``), joined to ``wallboard_agent_info`` for the
agents' names and teams (``per_agent``).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import statetimeline
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row
from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult

from wallboard.grafana.panels import (
    DATASOURCE,
    PER_AGENT_NOTE,
    SITE,
    TEAMS,
    agent_variable,
    base_dashboard,
    per_agent,
    series,
    stacked,
    stat_panel,
    target,
    team_variable,
)

# Agent states as codes for the state timeline (wallboard.core.agent_state.AgentState), with their colours.
STATE_CODES = {
    "available": (1, "green"),
    "ringing": (2, "yellow"),
    "on_call": (3, "blue"),
    "wrap_up": (4, "purple"),
    "paused": (5, "orange"),
}


def agents() -> Dashboard:
    """Agent states over time, calls, transfers, escalations, AHT and pause reasons, by team and (opt-in) by agent."""
    board = base_dashboard(
        "Wallboard / Agents",
        "wallboard-agents",
        "Agents by team and state, pause reasons, and per agent (opt-in series) states, calls, transfers, "
        "escalations and AHT.",
    )
    board = board.with_variable(team_variable()).with_variable(agent_variable())
    board = board.with_row(Row("Teams"))
    board = board.with_panel(
        stacked(
            "Agents by state",
            "Agents of the selected teams by derived state.",
            "short",
            target(f"sum by (state) (max by (team, state) (wallboard_team_agents{{{TEAMS}}}))", "{{state}}"),
        )
    )
    board = board.with_panel(
        stacked(
            "Paused agents by reason",
            "Agents of the selected teams on pause, by the pause reason the PBX gave ('none' without one).",
            "short",
            target(f"sum by (reason) (max by (team, reason) (wallboard_agents_paused{{{TEAMS}}}))", "{{reason}}"),
        )
    )
    board = board.with_row(Row("Per agent"))
    board = board.with_panel(_state_timeline())
    board = board.with_panel(
        series(
            "Calls handled per interval",
            "Calls each agent answered per $window. " + PER_AGENT_NOTE,
            "short",
            target(per_agent('increase(wallboard_agent_calls_total{site="$site"}[$window])'), "{{name}}"),
        ).interval("$window")
    )
    board = board.with_panel(
        series(
            "Transfers and escalations per interval",
            "Calls each agent transferred per $window, and those of them sent to an escalation target (supervisor, "
            "second-level queue). " + PER_AGENT_NOTE,
            "short",
            target(
                per_agent('increase(wallboard_agent_transfers_total{site="$site"}[$window])'),
                "{{name}} transferred",
                "A",
            ),
            target(
                per_agent('increase(wallboard_agent_escalations_total{site="$site"}[$window])'),
                "{{name}} escalated",
                "B",
            ),
        ).interval("$window")
    )
    board = board.with_panel(
        series(
            "AHT today",
            "Each agent's average handle time of the day so far. " + PER_AGENT_NOTE,
            "s",
            target(per_agent('wallboard_agent_aht_seconds{site="$site"}'), "{{name}}"),
        )
    )
    return board.with_panel(
        series(
            "Pause time today",
            "Seconds each agent was paused today. " + PER_AGENT_NOTE,
            "s",
            target(per_agent('wallboard_agent_paused_seconds{site="$site"}'), "{{name}}"),
        )
    )


def _state_timeline() -> statetimeline.Panel:
    """One row per agent, coloured by state (codes of STATE_CODES)."""
    coded = " or ".join(
        f'(wallboard_agent_state{{site="$site", state="{state}"}} * {code})' for state, (code, _) in STATE_CODES.items()
    )
    options = {
        str(code): ValueMappingResult(text=state.replace("_", " "), color=colour, index=code - 1)
        for state, (code, colour) in STATE_CODES.items()
    }
    return (
        statetimeline.Panel()
        .title("Agent states")
        .description("Each selected agent's state over time. " + PER_AGENT_NOTE)
        .datasource(DATASOURCE)
        .height(10)
        .span(24)
        .mappings([ValueMap(options=options)])
        .with_target(target(per_agent(coded), "{{name}}"))
    )


def adherence() -> Dashboard:
    """Schedule adherence and conformance by team, and (opt-in) by agent."""
    board = base_dashboard(
        "Wallboard / Adherence",
        "wallboard-adherence",
        "Schedule adherence and conformance by team and agent (sites with a schedule).",
    )
    board = board.with_variable(team_variable())
    board = board.with_variable(agent_variable())
    board = board.with_row(Row("Site"))
    board = board.with_panel(
        stat_panel(
            "Site adherence",
            "Share of scheduled agent time in the scheduled activity, whole site.",
            "percent",
            f"max(wallboard_site_adherence_percent{{{SITE}}})",
            span=8,
        )
    )
    board = board.with_panel(
        stat_panel(
            "Agents out of adherence",
            "Agents of the selected teams not doing what the schedule says now.",
            "short",
            f"sum(max by (team) (wallboard_team_agents_out_of_adherence{{{TEAMS}}}))",
            span=8,
        )
    )
    board = board.with_panel(
        stat_panel(
            "Agents scheduled",
            "Agents of the selected teams the schedule expects now.",
            "short",
            f"sum(max by (team) (wallboard_team_agents_scheduled{{{TEAMS}}}))",
            span=8,
        )
    )
    board = board.with_row(Row("Teams"))
    for title, family, unit in [
        ("Adherence by team", "team_adherence_percent", "percent"),
        ("Conformance by team", "team_conformance_percent", "percent"),
        ("Agents out of adherence by team", "team_agents_out_of_adherence", "short"),
        ("Minutes late by team", "team_minutes_late", "m"),
    ]:
        expr = f"max by (team) (wallboard_{family}{{{TEAMS}}})"
        board = board.with_panel(
            series(title, f"{title} (the engine's adherence figures).", unit, target(expr, "{{team}}"))
        )
    board = board.with_panel(
        series(
            "Unmapped activity",
            "Agent activity the adherence engine could not map to a scheduled activity, per $window by reason.",
            "short",
            target(f"max by (reason) (increase(wallboard_adherence_unmapped_total{{{SITE}}}[$window]))", "{{reason}}"),
        ).interval("$window")
    )
    board = board.with_row(Row("Per agent"))
    board = board.with_panel(
        series(
            "Adherence by agent",
            "Each selected agent's adherence. " + PER_AGENT_NOTE,
            "percent",
            target(per_agent('wallboard_agent_adherence_percent{site="$site"}'), "{{name}}"),
        )
    )
    return board.with_panel(
        series(
            "Out of adherence by agent",
            "1 while the agent is out of adherence. " + PER_AGENT_NOTE,
            "short",
            target(per_agent('wallboard_agent_out_of_adherence{site="$site"}'), "{{name}}"),
        )
    )
