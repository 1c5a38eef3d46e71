"""The history dashboards as code: grafana-foundation-sdk builders, rendered to the JSON in grafana/dashboards/.

Theory of operation
-------------------
``dashboards()`` returns one builder per dashboard (keyed by its file stem); ``render(builder)``
gives the dashboard JSON as committed (sorted keys, 2-space indent, trailing newline), so a
rebuild is byte-for-byte stable and a test can say when a committed file is stale.

Every dashboard has the same first variables: ``datasource`` (any Prometheus; the provisioned one
by default), ``site`` (from ``wallboard_snapshot_seq``) and ``window`` (15m/30m/1h/1d: which
recording rules of ``wallboard.grafana.rules`` the interval panels read). Queue panels filter on
``queue`` (multi-value, "All" = ``.*``), team panels on ``team``, per-agent panels on ``agent``;
the ``channel`` variable (from ``wallboard_queue_info``) narrows the ``queue`` variable to the queues of the chosen
channels (voice, chat, email...), so every queue panel filters by channel without a join in its query;
per-agent panels need the opt-in per-agent series (WALLBOARD_METRICS_PER_AGENT=true) and say so. The outbound
campaigns dashboard (``campaign`` variable) is built in ``wallboard.grafana.campaigns`` from this module's helpers.

Interval panels plot ``site_queue:wallboard_<figure>:$window`` with the panel's minimum step set to
``$window``: each point is the figure of the window that ended there, computed by the recording
rules with the engine's definitions, so the graphs agree with the live tiles. Live panels read the
exporter's gauges. API replicas export identical series, so every query aggregates them with
``max`` (never ``sum``) before anything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders.common import StackingConfig, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import (
    CustomVariable,
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphDrawStyle, LegendDisplayMode, LegendPlacement, StackingMode
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from wallboard.grafana.rules import DEFAULT_WINDOW, WINDOWS

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
PROVISIONED_DATASOURCE_UID = "wallboard-prometheus"  # grafana/provisioning/datasources/prometheus.yaml
FOLDER = "Wallboard"
TAGS = ["wallboard", "generated"]
SITE = 'site="$site"'
QUEUES = 'site="$site", queue=~"$queue"'
TEAMS = 'site="$site", team=~"$team"'
PER_AGENT_NOTE = "Needs the opt-in per-agent series (WALLBOARD_METRICS_PER_AGENT=true on the API)."
# Agent states as codes for the state timeline (wallboard.core.agent_state.AgentState), with their colours.
STATE_CODES = {
    "available": (1, "green"),
    "ringing": (2, "yellow"),
    "on_call": (3, "blue"),
    "wrap_up": (4, "purple"),
    "paused": (5, "orange"),
}


# -- variables ---------------------------------------------------------------------------------------


def _datasource_variable() -> DatasourceVariable:
    current = VariableOption(text="Prometheus", value=PROVISIONED_DATASOURCE_UID)
    return DatasourceVariable("datasource").label("Data source").type("prometheus").current(current)


def _query_variable(name: str, label: str, query: str, *, multi: bool, all_value: str | None = ".*") -> QueryVariable:
    variable = (
        QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True)
        if all_value is not None:
            variable = variable.all_value(all_value)
        variable = variable.current(VariableOption(text="All", value="$__all"))
    return variable


def _window_variable() -> CustomVariable:
    current = VariableOption(text=DEFAULT_WINDOW, value=DEFAULT_WINDOW)
    return CustomVariable("window").label("Interval").values(",".join(WINDOWS)).current(current)


def _base(title: str, uid: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .refresh("1m")
        .time("now-24h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(_datasource_variable())
        .with_variable(_query_variable("site", "Site", "label_values(wallboard_snapshot_seq, site)", multi=False))
        .with_variable(_window_variable())
    )


def _channel_variable() -> QueryVariable:
    """The channels of the site's queues (``wallboard_queue_info``): the queue variable lists those of the chosen."""
    query = 'label_values(wallboard_queue_info{site="$site"}, channel)'
    return _query_variable("channel", "Channel", query, multi=True)


def _queue_variable(*, multi: bool = True) -> QueryVariable:
    query = 'label_values(wallboard_queue_info{site="$site", channel=~"$channel"}, queue)'
    # All = the queues listed (of the chosen channels), not ".*": a panel must not show the other channels' queues
    return _query_variable("queue", "Queue", query, multi=multi, all_value=None)


def _team_variable() -> QueryVariable:
    return _query_variable("team", "Team", 'label_values(wallboard_team_agents{site="$site"}, team)', multi=True)


def _agent_variable() -> QueryVariable:
    query = 'label_values(wallboard_agent_info{site="$site", team=~"$team"}, agent)'
    return _query_variable("agent", "Agent", query, multi=True)


# -- panels ------------------------------------------------------------------------------------------


def _query(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, interval: str = "") -> Dataquery:
    query = Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref).datasource(DATASOURCE)
    if interval:
        query = query.interval(interval)
    return query.instant() if instant else query.range()


def _series(title: str, description: str, unit: str, *targets: Dataquery, span: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    panel = panel.height(8).span(span).legend(_legend())
    for target in targets:
        panel = panel.with_target(target)
    return panel


def _legend() -> VizLegendOptions:
    return VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM).show_legend(True)


def _interval_series(title: str, description: str, unit: str, *targets: Dataquery, span: int = 12) -> timeseries.Panel:
    """Bars, one per window that ended at the point (the panel's step is the window)."""
    panel = _series(title, description, unit, *targets, span=span).interval("$window").draw_style(GraphDrawStyle.BARS)
    return panel.fill_opacity(60)


def _stacked(title: str, description: str, unit: str, *targets: Dataquery, span: int = 12) -> timeseries.Panel:
    stacking = StackingConfig().mode(StackingMode.NORMAL)
    return _series(title, description, unit, *targets, span=span).stacking(stacking).fill_opacity(40)


def _stat(title: str, description: str, unit: str, expr: str, *, span: int = 6) -> stat.Panel:
    panel = stat.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    return panel.height(4).span(span).with_target(_query(expr, instant=True))


def _sl_thresholds() -> ThresholdsConfig:
    steps = [
        Threshold(value=None, color="red"),
        Threshold(value=70, color="orange"),
        Threshold(value=80, color="green"),
    ]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _recorded(figure: str, selector: str, level: str = "site_queue") -> str:
    return f"{level}:wallboard_{figure}:$window{{{selector}}}"


def _increase(counter: str, selector: str = QUEUES) -> str:
    return f"site_queue:wallboard_{counter}:increase$window{{{selector}}}"


# Per-agent series restricted to the agents of $team and $agent (agent_info carries name and team).
AGENTS = (
    "on (site, agent) group_left (name) max by (site, agent, name) "
    '(wallboard_agent_info{site="$site", team=~"$team", agent=~"$agent"})'
)


def _per_agent(expr: str) -> str:
    """``expr`` (one series per site and agent) joined to the selected agents, labelled with their names."""
    return f"max by (site, agent) ({expr}) * {AGENTS}"


# -- dashboards --------------------------------------------------------------------------------------


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
        _base(
            "Wallboard / Queues overview",
            "wallboard-queues-overview",
            "Service level, abandon rate, ASA, AHT, repeat callers, missed rings and escalations per queue and "
            "interval (recording rules, engine definitions); first response time of chat and email queues.",
        )
        .with_variable(_channel_variable())
        .with_variable(_queue_variable())
    )
    board = board.with_row(Row("Site, last $window"))
    for title, unit, figure in site_stats:
        description = f"{title} of the whole site over the last $window (all queues)."
        board = board.with_panel(_stat(f"{title} (site)", description, unit, _recorded(figure, SITE, "site")))
    board = board.with_row(Row("By queue and interval"))
    for title, unit, figure in [("Service level", "percent", "service_level_percent"), *site_stats[1:]]:
        description = f"{title} of each queue per $window interval (bar = the interval ending there)."
        panel = _interval_series(
            f"{title} by interval", description, unit, _query(_recorded(figure, QUEUES), "{{queue}}")
        )
        if figure == "service_level_percent":
            panel = panel.min(0).max(100).thresholds(_sl_thresholds())
        board = board.with_panel(panel)
    volume = _interval_series(
        "Calls offered by interval",
        "Calls offered to each queue per interval.",
        "short",
        _query(f"sum by (queue) ({_increase('calls_offered')})", "{{queue}}"),
    )
    board = board.with_panel(volume)
    outcome = _interval_series(
        "Answered and abandoned by interval",
        "Calls answered and abandoned (short abandons excluded) per interval, selected queues together.",
        "short",
        _query(f"sum({_increase('calls_answered')})", "answered", "A"),
        _query(f"sum({_increase('calls_abandoned')}) - sum({_increase('calls_short_abandoned')})", "abandoned", "B"),
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
        _query(f'{by} (wallboard_first_response_seconds{{{selector}, window="{window}"}})', prefix + window, ref)
        for ref, window in (("A", "interval"), ("B", "day"))
    ]
    return _series(
        "First response time",
        "Average time from a contact's arrival to the agent's first reply, the engine's figure of the current "
        "interval and of the site-local day. Chat and email queues only: a voice queue has none.",
        "s",
        *targets,
        span=span,
    )


def _repeat_missed_escalated(selector: str, suffix: str, *, span: int) -> list[timeseries.Panel]:
    """Repeat-caller rate, missed rings and escalations of each selected queue per interval."""
    repeat = _interval_series(
        f"Repeat-caller rate {suffix}",
        "Offered calls whose caller had called before within the site's repeat window, in % of calls offered, "
        "per $window interval.",
        "percent",
        _query(_recorded("repeat_rate_percent", selector), "{{queue}}"),
        span=span,
    )
    missed = _interval_series(
        f"Missed rings {suffix}",
        "Rings of the queue's members that were not answered, per $window interval (a call may ring several).",
        "short",
        _query(f"sum by (queue) ({_increase('missed_rings', selector)})", "{{queue}}"),
        span=span,
    )
    escalated = _interval_series(
        f"Escalations {suffix}",
        "Answered calls transferred to an escalation target (supervisor, second-level queue), per $window interval.",
        "short",
        _query(f"sum by (queue) ({_increase('calls_escalated', selector)})", "{{queue}}"),
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
    exprs = [(_recorded(figure, QUEUES), legend) for figure, legend in columns]
    exprs += [(f"sum by (site, queue) ({_increase(counter)})", legend) for counter, legend in counts]
    panel = table.Panel().title("Queues, last $window").datasource(DATASOURCE).height(8).span(24)
    panel = panel.description(
        "Each queue's figures over the last $window, with calls offered, missed rings and escalations."
    )
    for index, (expr, legend) in enumerate(exprs):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + index), instant=True))
    return panel


def queue_detail() -> Dashboard:
    """One queue: live gauges next to the interval figures, waiting callers, agents by state."""
    board = (
        _base(
            "Wallboard / Queue detail",
            "wallboard-queue-detail",
            "One queue in detail: the engine's live figures beside the interval history.",
        )
        .with_variable(_channel_variable())
        .with_variable(_queue_variable(multi=False))
    )
    one = 'site="$site", queue="$queue"'
    board = board.with_row(Row("Now"))
    board = board.with_panel(
        _stat("Calls waiting", "Callers waiting now.", "short", f"max(wallboard_calls_waiting{{{one}}})")
    )
    board = board.with_panel(
        _stat("Longest wait", "Wait of the oldest caller now.", "s", f"max(wallboard_longest_wait_seconds{{{one}}})")
    )
    board = board.with_panel(
        _stat(
            "Service level today",
            "The engine's service level of the site-local day.",
            "percent",
            f'max(wallboard_service_level_percent{{{one}, window="day"}})',
        ).thresholds(_sl_thresholds())
    )
    board = board.with_panel(
        _stat(
            "Agents staffed", "Agents logged in to the queue now.", "short", f"max(wallboard_agents_staffed{{{one}}})"
        )
    )
    board = board.with_row(Row("History"))
    board = board.with_panel(
        _series(
            "Service level: interval history and live",
            "Recorded SL over the last $window, and the engine's own SL of its current interval (they agree "
            "at each interval's end).",
            "percent",
            _query(_recorded("service_level_percent", one), "last $window", "A"),
            _query(f'max(wallboard_service_level_percent{{{one}, window="interval"}})', "engine interval", "B"),
        )
        .min(0)
        .max(100)
    )
    board = board.with_panel(
        _series(
            "Waiting callers",
            "Callers waiting, and those waiting longer than the SL threshold.",
            "short",
            _query(f"max(wallboard_calls_waiting{{{one}}})", "waiting", "A"),
            _query(f"max(wallboard_calls_waiting_beyond_sl{{{one}}})", "beyond SL", "B"),
        )
    )
    board = board.with_panel(
        _interval_series(
            "Calls by outcome per interval",
            "Offered, answered and abandoned calls per interval.",
            "short",
            _query(_increase("calls_offered", one), "offered", "A"),
            _query(_increase("calls_answered", one), "answered", "B"),
            _query(_increase("calls_abandoned", one), "abandoned", "C"),
        )
    )
    board = board.with_panel(
        _interval_series(
            "ASA and AHT per interval",
            "Average speed of answer and average handle time per interval.",
            "s",
            _query(_recorded("asa_seconds", one), "ASA", "A"),
            _query(_recorded("aht_seconds", one), "AHT", "B"),
        )
    )
    for panel in _repeat_missed_escalated(one, "per interval", span=8):
        board = board.with_panel(panel)
    handled = _increase("calls_handled", one)
    board = board.with_panel(
        _interval_series(
            "Handle time breakdown per interval",
            "Average talk, hold and wrap-up per handled call.",
            "s",
            *(
                _query(f"{_increase(part + '_seconds', one)} / ({handled} > 0)", part, chr(ord("A") + index))
                for index, part in enumerate(("talk", "hold", "wrap"))
            ),
        )
    )
    board = board.with_panel(
        _stacked(
            "Agents by state",
            "Logged-in agents of the queue by derived state.",
            "short",
            _query(f"max by (state) (wallboard_agents{{{one}}})", "{{state}}"),
        )
    )
    return board.with_panel(_first_response(one, per_queue=False, span=12))


def agents() -> Dashboard:
    """Agent states over time, calls, transfers, escalations, AHT and pause reasons, by team and (opt-in) by agent."""
    board = _base(
        "Wallboard / Agents",
        "wallboard-agents",
        "Agents by team and state, pause reasons, and per agent (opt-in series) states, calls, transfers, "
        "escalations and AHT.",
    )
    board = board.with_variable(_team_variable()).with_variable(_agent_variable())
    board = board.with_row(Row("Teams"))
    board = board.with_panel(
        _stacked(
            "Agents by state",
            "Agents of the selected teams by derived state.",
            "short",
            _query(f"sum by (state) (max by (team, state) (wallboard_team_agents{{{TEAMS}}}))", "{{state}}"),
        )
    )
    board = board.with_panel(
        _stacked(
            "Paused agents by reason",
            "Agents of the selected teams on pause, by the pause reason the PBX gave ('none' without one).",
            "short",
            _query(f"sum by (reason) (max by (team, reason) (wallboard_agents_paused{{{TEAMS}}}))", "{{reason}}"),
        )
    )
    board = board.with_row(Row("Per agent"))
    board = board.with_panel(_state_timeline())
    board = board.with_panel(
        _series(
            "Calls handled per interval",
            "Calls each agent answered per $window. " + PER_AGENT_NOTE,
            "short",
            _query(_per_agent('increase(wallboard_agent_calls_total{site="$site"}[$window])'), "{{name}}"),
        ).interval("$window")
    )
    board = board.with_panel(
        _series(
            "Transfers and escalations per interval",
            "Calls each agent transferred per $window, and those of them sent to an escalation target (supervisor, "
            "second-level queue). " + PER_AGENT_NOTE,
            "short",
            _query(
                _per_agent('increase(wallboard_agent_transfers_total{site="$site"}[$window])'),
                "{{name}} transferred",
                "A",
            ),
            _query(
                _per_agent('increase(wallboard_agent_escalations_total{site="$site"}[$window])'),
                "{{name}} escalated",
                "B",
            ),
        ).interval("$window")
    )
    board = board.with_panel(
        _series(
            "AHT today",
            "Each agent's average handle time of the day so far. " + PER_AGENT_NOTE,
            "s",
            _query(_per_agent('wallboard_agent_aht_seconds{site="$site"}'), "{{name}}"),
        )
    )
    return board.with_panel(
        _series(
            "Pause time today",
            "Seconds each agent was paused today. " + PER_AGENT_NOTE,
            "s",
            _query(_per_agent('wallboard_agent_paused_seconds{site="$site"}'), "{{name}}"),
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
        .with_target(_query(_per_agent(coded), "{{name}}"))
    )


def adherence() -> Dashboard:
    """Schedule adherence and conformance by team, and (opt-in) by agent."""
    board = _base(
        "Wallboard / Adherence",
        "wallboard-adherence",
        "Schedule adherence and conformance by team and agent (sites with a schedule).",
    )
    board = board.with_variable(_team_variable())
    board = board.with_variable(_agent_variable())
    board = board.with_row(Row("Site"))
    board = board.with_panel(
        _stat(
            "Site adherence",
            "Share of scheduled agent time in the scheduled activity, whole site.",
            "percent",
            f"max(wallboard_site_adherence_percent{{{SITE}}})",
            span=8,
        )
    )
    board = board.with_panel(
        _stat(
            "Agents out of adherence",
            "Agents of the selected teams not doing what the schedule says now.",
            "short",
            f"sum(max by (team) (wallboard_team_agents_out_of_adherence{{{TEAMS}}}))",
            span=8,
        )
    )
    board = board.with_panel(
        _stat(
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
            _series(title, f"{title} (the engine's adherence figures).", unit, _query(expr, "{{team}}"))
        )
    board = board.with_panel(
        _series(
            "Unmapped activity",
            "Agent activity the adherence engine could not map to a scheduled activity, per $window by reason.",
            "short",
            _query(f"max by (reason) (increase(wallboard_adherence_unmapped_total{{{SITE}}}[$window]))", "{{reason}}"),
        ).interval("$window")
    )
    board = board.with_row(Row("Per agent"))
    board = board.with_panel(
        _series(
            "Adherence by agent",
            "Each selected agent's adherence. " + PER_AGENT_NOTE,
            "percent",
            _query(_per_agent('wallboard_agent_adherence_percent{site="$site"}'), "{{name}}"),
        )
    )
    return board.with_panel(
        _series(
            "Out of adherence by agent",
            "1 while the agent is out of adherence. " + PER_AGENT_NOTE,
            "short",
            _query(_per_agent('wallboard_agent_out_of_adherence{site="$site"}'), "{{name}}"),
        )
    )


def staffing() -> Dashboard:
    """Agents staffed against the Erlang C requirement, per queue."""
    board = (
        _base(
            "Wallboard / Staffing",
            "wallboard-staffing",
            "Agents staffed vs agents required (Erlang C on the current traffic, SL target of each queue).",
        )
        .with_variable(_channel_variable())
        .with_variable(_queue_variable())
    )
    board = board.with_row(Row("Now"))
    board = board.with_panel(
        _stat(
            "Staffed",
            "Agents logged in, selected queues.",
            "short",
            f"sum(max by (queue) (wallboard_agents_staffed{{{QUEUES}}}))",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        _stat(
            "Required",
            "Agents needed to reach the SL targets (Erlang C).",
            "short",
            f"sum(max by (queue) (wallboard_required_agents{{{QUEUES}}}))",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        _stat(
            "Available",
            "Agents ready for a call now.",
            "short",
            f'sum(max by (queue) (wallboard_agents{{{QUEUES}, state="available"}}))',
            span=8,
        )  # fmt: skip
    )
    board = board.with_row(Row("Over time"))
    board = board.with_panel(
        _series(
            "Staffed vs required by queue",
            "Agents logged in to each queue and the Erlang C requirement.",
            "short",
            _query(f"max by (queue) (wallboard_agents_staffed{{{QUEUES}}})", "{{queue}} staffed", "A"),
            _query(f"max by (queue) (wallboard_required_agents{{{QUEUES}}})", "{{queue}} required", "B"),
        )
    )
    board = board.with_panel(
        _series(
            "Shortfall by queue",
            "Required minus staffed agents (above 0: understaffed).",
            "short",
            _query(
                f"max by (queue) (wallboard_required_agents{{{QUEUES}}})"
                f" - max by (queue) (wallboard_agents_staffed{{{QUEUES}}})",
                "{{queue}}",
            ),
        )
    )
    board = board.with_panel(
        _stacked(
            "Agents by state, selected queues",
            "Agents of the selected queues by state (an agent in two queues counts in each).",
            "short",
            _query(f"sum by (state) (max by (queue, state) (wallboard_agents{{{QUEUES}}}))", "{{state}}"),
        )
    )
    return board.with_panel(
        _interval_series(
            "Calls offered by interval",
            "The load the staffing served: calls offered per interval.",
            "short",
            _query(f"sum by (queue) ({_increase('calls_offered')})", "{{queue}}"),
        )
    )


def pipeline_health() -> Dashboard:
    """Ingest rate, stream lag, rejects, reconnects and data age of the collectors and the engine."""
    board = _base(
        "Wallboard / Pipeline health",
        "wallboard-pipeline-health",
        "The data pipeline: collectors' ingest rate, rejects and reconnects, the engine's lag, data age.",
    )
    board = board.with_row(Row("Now"))
    board = board.with_panel(
        _stat(
            "Collectors connected",
            "Connected collectors (1 each).",
            "short",
            f"sum(max by (component) (wallboard_collector_connected{{{SITE}}}))",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        _stat(
            "Stream lag",
            "Stream entries the engine has not applied yet.",
            "short",
            f"max(wallboard_stream_lag{{{SITE}}})",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        _stat(
            "Snapshot age",
            "Seconds since the engine's latest snapshot.",
            "s",
            f"max(wallboard_snapshot_age_seconds{{{SITE}}})",
            span=8,
        )  # fmt: skip
    )
    board = board.with_row(Row("Over time"))
    rate: Callable[[str, str], str] = lambda family, by: (  # noqa: E731
        f"max by ({by}) (rate(wallboard_{family}_total{{{SITE}}}[$__rate_interval]))"
    )
    board = board.with_panel(
        _series(
            "Ingest rate",
            "Records read per second by each collector.",
            "reqps",
            _query(rate("events_ingested", "component"), "{{component}}"),
        )  # fmt: skip
    )
    board = board.with_panel(
        _series(
            "Rejected records",
            "Records rejected per second, by component and reason.",
            "reqps",
            _query(rate("events_rejected", "component, reason"), "{{component}} {{reason}}"),
        )  # fmt: skip
    )
    board = board.with_panel(
        _series(
            "Reconnects",
            "Collector reconnections per $window.",
            "short",
            _query(
                f"max by (component) (increase(wallboard_collector_reconnects_total{{{SITE}}}[$window]))",
                "{{component}}",
            ),
        ).interval("$window")  # fmt: skip
    )
    board = board.with_panel(
        _series(
            "Stream lag",
            "Entries waiting for the engine.",
            "short",
            _query(f"max(wallboard_stream_lag{{{SITE}}})", "lag"),
        )  # fmt: skip
    )
    board = board.with_panel(
        _series(
            "Data age",
            "Seconds since each component's last event and the snapshot's age.",
            "s",
            _query(f"max by (component) (wallboard_last_event_age_seconds{{{SITE}}})", "{{component}} last event", "A"),
            _query(f"max(wallboard_snapshot_age_seconds{{{SITE}}})", "snapshot", "B"),
        )
    )
    return board.with_panel(
        _series(
            "Scrapes",
            "1 while Prometheus scrapes each API replica.",
            "short",
            _query('up{job="wallboard"}', "{{instance}}"),
        )  # fmt: skip
    )


def _outbound_campaigns() -> Dashboard:
    """wallboard.grafana.campaigns builds on this module's helpers: imported when called, not in a cycle."""
    from wallboard.grafana.campaigns import outbound_campaigns

    return outbound_campaigns()


BUILDERS: dict[str, Callable[[], Dashboard]] = {
    "queues-overview": queues_overview,
    "queue-detail": queue_detail,
    "agents": agents,
    "adherence": adherence,
    "staffing": staffing,
    "pipeline-health": pipeline_health,
    "outbound-campaigns": _outbound_campaigns,
}


def dashboards() -> dict[str, Dashboard]:
    """Every dashboard's builder by file stem (grafana/dashboards/<stem>.json)."""
    return {stem: build() for stem, build in BUILDERS.items()}


def board_json(board: Dashboard) -> dict[str, Any]:
    """The dashboard as JSON data, its panels numbered 1, 2, ... in layout order (rows included)."""
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(iter_panels(data), start=1):
        panel["id"] = number
    return data


def iter_panels(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard's JSON, rows and the panels inside collapsed rows included."""
    for panel in data.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def render(board: Dashboard) -> str:
    """The dashboard's JSON as committed: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(board_json(board), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
