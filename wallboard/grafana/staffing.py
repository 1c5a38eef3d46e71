"""The "Staffing" dashboard: agents staffed against the Erlang C requirement, per queue, now and over time."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

from wallboard.grafana.panels import (
    QUEUES,
    base_dashboard,
    channel_variable,
    increase,
    interval_series,
    queue_variable,
    series,
    stacked,
    stat_panel,
    target,
)


def staffing() -> Dashboard:
    """Agents staffed against the Erlang C requirement, per queue."""
    board = (
        base_dashboard(
            "Wallboard / Staffing",
            "wallboard-staffing",
            "Agents staffed vs agents required (Erlang C on the current traffic, SL target of each queue).",
        )
        .with_variable(channel_variable())
        .with_variable(queue_variable())
    )
    board = board.with_row(Row("Now"))
    board = board.with_panel(
        stat_panel(
            "Staffed",
            "Agents logged in, selected queues.",
            "short",
            f"sum(max by (queue) (wallboard_agents_staffed{{{QUEUES}}}))",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        stat_panel(
            "Required",
            "Agents needed to reach the SL targets (Erlang C).",
            "short",
            f"sum(max by (queue) (wallboard_required_agents{{{QUEUES}}}))",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        stat_panel(
            "Available",
            "Agents ready for a call now.",
            "short",
            f'sum(max by (queue) (wallboard_agents{{{QUEUES}, state="available"}}))',
            span=8,
        )  # fmt: skip
    )
    board = board.with_row(Row("Over time"))
    board = board.with_panel(
        series(
            "Staffed vs required by queue",
            "Agents logged in to each queue and the Erlang C requirement.",
            "short",
            target(f"max by (queue) (wallboard_agents_staffed{{{QUEUES}}})", "{{queue}} staffed", "A"),
            target(f"max by (queue) (wallboard_required_agents{{{QUEUES}}})", "{{queue}} required", "B"),
        )
    )
    board = board.with_panel(
        series(
            "Shortfall by queue",
            "Required minus staffed agents (above 0: understaffed).",
            "short",
            target(
                f"max by (queue) (wallboard_required_agents{{{QUEUES}}})"
                f" - max by (queue) (wallboard_agents_staffed{{{QUEUES}}})",
                "{{queue}}",
            ),
        )
    )
    board = board.with_panel(
        stacked(
            "Agents by state, selected queues",
            "Agents of the selected queues by state (an agent in two queues counts in each).",
            "short",
            target(f"sum by (state) (max by (queue, state) (wallboard_agents{{{QUEUES}}}))", "{{state}}"),
        )
    )
    return board.with_panel(
        interval_series(
            "Calls offered by interval",
            "The load the staffing served: calls offered per interval.",
            "short",
            target(f"sum by (queue) ({increase('calls_offered')})", "{{queue}}"),
        )
    )
