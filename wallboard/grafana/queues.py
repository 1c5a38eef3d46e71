"""The queue dashboards: "Queues overview" (every queue by interval) and "Queue detail" (one queue, live and history).

Both read the recording rules for the interval figures (SL, abandon rate, ASA, AHT, repeat-caller rate) and the
counters' increases per ``$window``; "Queue detail" sets the exporter's live gauges beside them, so the engine's
figure of its current interval can be compared with the recorded history.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

from wallboard.grafana.panels import (
    DATASOURCE,
    QUEUES,
    SITE,
    base_dashboard,
    channel_variable,
    increase,
    interval_series,
    queue_variable,
    recorded,
    series,
    sl_thresholds,
    stacked,
    stat_panel,
    target,
)


def queues_overview() -> Dashboard:
    """SL, ASA, AHT and abandon rate by queue and interval, the site's figures, repeat callers, missed rings and
    escalations."""
    site_stats = [
        ("Service level", "percent", "service_level_percent"),
        ("Abandon rate", "percent", "abandon_rate_percent"),
        ("ASA", "s", "asa_seconds"),
        ("AHT", "s", "aht_seconds"),
    ]
    board = (
        base_dashboard(
            "Wallboard / Queues overview",
            "wallboard-queues-overview",
            "Service level, abandon rate, ASA, AHT, repeat callers, missed rings and escalations per queue and "
            "interval (recording rules, engine definitions); first response time of chat and email queues.",
        )
        .with_variable(channel_variable())
        .with_variable(queue_variable())
    )
    board = board.with_row(Row("Site, last $window"))
    for title, unit, figure in site_stats:
        description = f"{title} of the whole site over the last $window (all queues)."
        board = board.with_panel(stat_panel(f"{title} (site)", description, unit, recorded(figure, SITE, "site")))
    board = board.with_row(Row("By queue and interval"))
    for title, unit, figure in [("Service level", "percent", "service_level_percent"), *site_stats[1:]]:
        description = f"{title} of each queue per $window interval (bar = the interval ending there)."
        panel = interval_series(
            f"{title} by interval", description, unit, target(recorded(figure, QUEUES), "{{queue}}")
        )
        if figure == "service_level_percent":
            panel = panel.min(0).max(100).thresholds(sl_thresholds())
        board = board.with_panel(panel)
    volume = interval_series(
        "Calls offered by interval",
        "Calls offered to each queue per interval.",
        "short",
        target(f"sum by (queue) ({increase('calls_offered')})", "{{queue}}"),
    )
    board = board.with_panel(volume)
    outcome = interval_series(
        "Answered and abandoned by interval",
        "Calls answered and abandoned (short abandons excluded) per interval, selected queues together.",
        "short",
        target(f"sum({increase('calls_answered')})", "answered", "A"),
        target(f"sum({increase('calls_abandoned')}) - sum({increase('calls_short_abandoned')})", "abandoned", "B"),
    )
    board = board.with_panel(outcome).with_panel(_queue_table())
    board = board.with_row(Row("Repeat callers, missed rings and escalations"))
    for panel in _repeat_missed_escalated(QUEUES, "by interval", span=8):
        board = board.with_panel(panel)
    board = board.with_row(Row("Chat and email"))
    return board.with_panel(_first_response(QUEUES, per_queue=True, span=24))


def _first_response(selector: str, *, per_queue: bool, span: int) -> timeseries.Panel:
    """The engine's average first response of the current interval and of the day (the exporter has no counter of
    response seconds, so no $window figure): chat and email queues only, a voice queue has none."""
    by, prefix = ("max by (queue)", "{{queue}} ") if per_queue else ("max", "")
    targets = [
        target(f'{by} (wallboard_first_response_seconds{{{selector}, window="{window}"}})', prefix + window, ref)
        for ref, window in (("A", "interval"), ("B", "day"))
    ]
    return series(
        "First response time",
        "Average time from a contact's arrival to the agent's first reply, the engine's figure of the current "
        "interval and of the site-local day. Chat and email queues only: a voice queue has none.",
        "s",
        *targets,
        span=span,
    )


def _repeat_missed_escalated(selector: str, suffix: str, *, span: int) -> list[timeseries.Panel]:
    """Repeat-caller rate, missed rings and escalations of each selected queue per interval."""
    repeat = interval_series(
        f"Repeat-caller rate {suffix}",
        "Offered calls whose caller had called before within the site's repeat window, in % of calls offered, "
        "per $window interval.",
        "percent",
        target(recorded("repeat_rate_percent", selector), "{{queue}}"),
        span=span,
    )
    missed = interval_series(
        f"Missed rings {suffix}",
        "Rings of the queue's members that were not answered, per $window interval (a call may ring several).",
        "short",
        target(f"sum by (queue) ({increase('missed_rings', selector)})", "{{queue}}"),
        span=span,
    )
    escalated = interval_series(
        f"Escalations {suffix}",
        "Answered calls transferred to an escalation target (supervisor, second-level queue), per $window interval.",
        "short",
        target(f"sum by (queue) ({increase('calls_escalated', selector)})", "{{queue}}"),
        span=span,
    )
    return [repeat.min(0).max(100), missed, escalated]


def _queue_table() -> table.Panel:
    """One row per queue: the figures of the window ending now."""
    columns = [
        ("service_level_percent", "SL %"),
        ("abandon_rate_percent", "Abandon %"),
        ("asa_seconds", "ASA s"),
        ("aht_seconds", "AHT s"),
        ("repeat_rate_percent", "Repeat %"),
    ]
    counts = [("calls_offered", "Offered"), ("missed_rings", "Missed rings"), ("calls_escalated", "Escalations")]
    exprs = [(recorded(figure, QUEUES), legend) for figure, legend in columns]
    exprs += [(f"sum by (site, queue) ({increase(counter)})", legend) for counter, legend in counts]
    panel = table.Panel().title("Queues, last $window").datasource(DATASOURCE).height(8).span(24)
    panel = panel.description(
        "Each queue's figures over the last $window, with calls offered, missed rings and escalations."
    )
    for index, (expr, legend) in enumerate(exprs):
        panel = panel.with_target(target(expr, legend, chr(ord("A") + index), instant=True))
    return panel


def queue_detail() -> Dashboard:
    """One queue: live gauges next to the interval figures, waiting callers, agents by state."""
    board = (
        base_dashboard(
            "Wallboard / Queue detail",
            "wallboard-queue-detail",
            "One queue in detail: the engine's live figures beside the interval history.",
        )
        .with_variable(channel_variable())
        .with_variable(queue_variable(multi=False))
    )
    one = 'site="$site", queue="$queue"'
    board = board.with_row(Row("Now"))
    board = board.with_panel(
        stat_panel("Calls waiting", "Callers waiting now.", "short", f"max(wallboard_calls_waiting{{{one}}})")
    )
    board = board.with_panel(
        stat_panel(
            "Longest wait", "Wait of the oldest caller now.", "s", f"max(wallboard_longest_wait_seconds{{{one}}})"
        )
    )
    board = board.with_panel(
        stat_panel(
            "Service level today",
            "The engine's service level of the site-local day.",
            "percent",
            f'max(wallboard_service_level_percent{{{one}, window="day"}})',
        ).thresholds(sl_thresholds())
    )
    board = board.with_panel(
        stat_panel(
            "Agents staffed", "Agents logged in to the queue now.", "short", f"max(wallboard_agents_staffed{{{one}}})"
        )
    )
    board = board.with_row(Row("History"))
    board = board.with_panel(
        series(
            "Service level: interval history and live",
            "Recorded SL over the last $window, and the engine's own SL of its current interval (they agree "
            "at each interval's end).",
            "percent",
            target(recorded("service_level_percent", one), "last $window", "A"),
            target(f'max(wallboard_service_level_percent{{{one}, window="interval"}})', "engine interval", "B"),
        )
        .min(0)
        .max(100)
    )
    board = board.with_panel(
        series(
            "Waiting callers",
            "Callers waiting, and those waiting longer than the SL threshold.",
            "short",
            target(f"max(wallboard_calls_waiting{{{one}}})", "waiting", "A"),
            target(f"max(wallboard_calls_waiting_beyond_sl{{{one}}})", "beyond SL", "B"),
        )
    )
    board = board.with_panel(
        interval_series(
            "Calls by outcome per interval",
            "Offered, answered and abandoned calls per interval.",
            "short",
            target(increase("calls_offered", one), "offered", "A"),
            target(increase("calls_answered", one), "answered", "B"),
            target(increase("calls_abandoned", one), "abandoned", "C"),
        )
    )
    board = board.with_panel(
        interval_series(
            "ASA and AHT per interval",
            "Average speed of answer and average handle time per interval.",
            "s",
            target(recorded("asa_seconds", one), "ASA", "A"),
            target(recorded("aht_seconds", one), "AHT", "B"),
        )
    )
    for panel in _repeat_missed_escalated(one, "per interval", span=8):
        board = board.with_panel(panel)
    handled = increase("calls_handled", one)
    board = board.with_panel(
        interval_series(
            "Handle time breakdown per interval",
            "Average talk, hold and wrap-up per handled call.",
            "s",
            *(
                target(f"{increase(part + '_seconds', one)} / ({handled} > 0)", part, chr(ord("A") + index))
                for index, part in enumerate(("talk", "hold", "wrap"))
            ),
        )
    )
    board = board.with_panel(
        stacked(
            "Agents by state",
            "Logged-in agents of the queue by derived state.",
            "short",
            target(f"max by (state) (wallboard_agents{{{one}}})", "{{state}}"),
        )
    )
    return board.with_panel(_first_response(one, per_queue=False, span=12))
