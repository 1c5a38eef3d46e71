"""The shared parts of the history dashboards: their variables, panel builders and query fragments.

Every dashboard starts from ``base_dashboard`` with the same first variables: ``datasource`` (any Prometheus; the
provisioned one by default), ``site`` (from ``wallboard_snapshot_seq``) and ``window`` (15m/30m/1h/1d: which
recording rules of ``wallboard.grafana.rules`` the interval panels read). Queue panels filter on ``queue``
(multi-value; "All" = the queues listed), team panels on ``team``, per-agent panels on ``agent``; the ``channel``
variable (from ``wallboard_queue_info``) narrows the ``queue`` variable to the queues of the chosen channels
(voice, chat, email...), so every queue panel filters by channel without a join in its query.

Interval panels (``interval_series``) plot ``site_queue:wallboard_<figure>:$window`` (``recorded``) with the
panel's minimum step set to ``$window``: each point is the figure of the window that ended there. API replicas
export identical series, so every query aggregates them with ``max`` (never ``sum``) before anything else.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.builders.common import StackingConfig, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import (
    CustomVariable,
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.models.common import GraphDrawStyle, LegendDisplayMode, LegendPlacement, StackingMode
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from wallboard.grafana.rules import DEFAULT_WINDOW, WINDOWS

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
PROVISIONED_DATASOURCE_UID = "wallboard-prometheus"  # grafana/provisioning/datasources/prometheus.yaml
TAGS = ["wallboard", "generated"]
SITE = 'site="$site"'
QUEUES = 'site="$site", queue=~"$queue"'
TEAMS = 'site="$site", team=~"$team"'
PER_AGENT_NOTE = "Needs the opt-in per-agent series (WALLBOARD_METRICS_PER_AGENT=true on the API)."


# -- variables ---------------------------------------------------------------------------------------


def datasource_variable() -> DatasourceVariable:
    """Any Prometheus the viewer picks; the provisioned one by default, so a fresh Grafana needs no choice."""
    current = VariableOption(text="Prometheus", value=PROVISIONED_DATASOURCE_UID)
    return DatasourceVariable("datasource").label("Data source").type("prometheus").current(current)


def query_variable(name: str, label: str, query: str, *, multi: bool, all_value: str | None = ".*") -> QueryVariable:
    """A variable listing label values; ``multi`` adds "All" (``all_value``; None: the values listed)."""
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


def window_variable() -> CustomVariable:
    """The interval the recording rules were computed over (``wallboard.grafana.rules.WINDOWS``)."""
    current = VariableOption(text=DEFAULT_WINDOW, value=DEFAULT_WINDOW)
    return CustomVariable("window").label("Interval").values(",".join(WINDOWS)).current(current)


def base_dashboard(title: str, uid: str, description: str) -> Dashboard:
    """A dashboard with what every one has: tags, refresh, the last 24 h, and the datasource, site and window
    variables."""
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
        .with_variable(datasource_variable())
        .with_variable(query_variable("site", "Site", "label_values(wallboard_snapshot_seq, site)", multi=False))
        .with_variable(window_variable())
    )


def channel_variable() -> QueryVariable:
    """The channels of the site's queues (``wallboard_queue_info``): the queue variable lists those of the chosen."""
    query = 'label_values(wallboard_queue_info{site="$site"}, channel)'
    return query_variable("channel", "Channel", query, multi=True)


def queue_variable(*, multi: bool = True) -> QueryVariable:
    query = 'label_values(wallboard_queue_info{site="$site", channel=~"$channel"}, queue)'
    # All = the queues listed (of the chosen channels), not ".*": a panel must not show the other channels' queues
    return query_variable("queue", "Queue", query, multi=multi, all_value=None)


def team_variable() -> QueryVariable:
    """The site's teams (``wallboard_team_agents``)."""
    return query_variable("team", "Team", 'label_values(wallboard_team_agents{site="$site"}, team)', multi=True)


def agent_variable() -> QueryVariable:
    """The agents of the chosen teams (``wallboard_agent_info``, an opt-in per-agent series)."""
    query = 'label_values(wallboard_agent_info{site="$site", team=~"$team"}, agent)'
    return query_variable("agent", "Agent", query, multi=True)


# -- panels ------------------------------------------------------------------------------------------


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, interval: str = "") -> Dataquery:
    """One PromQL query of a panel on the dashboard's datasource: a range query, or ``instant`` for stats and tables."""
    query = Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref).datasource(DATASOURCE)
    if interval:
        query = query.interval(interval)
    return query.instant() if instant else query.range()


def series(title: str, description: str, unit: str, *targets: Dataquery, span: int = 12) -> timeseries.Panel:
    """A time series panel, 8 high, its legend a list below the graph."""
    panel = timeseries.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    panel = panel.height(8).span(span).legend(_legend())
    for query in targets:
        panel = panel.with_target(query)
    return panel


def _legend() -> VizLegendOptions:
    return VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM).show_legend(True)


def interval_series(title: str, description: str, unit: str, *targets: Dataquery, span: int = 12) -> timeseries.Panel:
    """Bars, one per window that ended at the point (the panel's step is the window)."""
    panel = series(title, description, unit, *targets, span=span).interval("$window").draw_style(GraphDrawStyle.BARS)
    return panel.fill_opacity(60)


def stacked(title: str, description: str, unit: str, *targets: Dataquery, span: int = 12) -> timeseries.Panel:
    """Areas stacked: the parts of a whole (agents by state, by pause reason)."""
    stacking = StackingConfig().mode(StackingMode.NORMAL)
    return series(title, description, unit, *targets, span=span).stacking(stacking).fill_opacity(40)


def stat_panel(title: str, description: str, unit: str, expr: str, *, span: int = 6) -> stat.Panel:
    """One figure now (an instant query), 4 high."""
    panel = stat.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    return panel.height(4).span(span).with_target(target(expr, instant=True))


def sl_thresholds() -> ThresholdsConfig:
    """Service level colours: red below 70 %, orange below 80 %, green from there."""
    steps = [
        Threshold(value=None, color="red"),
        Threshold(value=70, color="orange"),
        Threshold(value=80, color="green"),
    ]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def recorded(figure: str, selector: str, level: str = "site_queue") -> str:
    """The recording rule of ``figure`` over ``$window`` (``wallboard.grafana.rules``), per queue or for the site."""
    return f"{level}:wallboard_{figure}:$window{{{selector}}}"


def increase(counter: str, selector: str = QUEUES) -> str:
    """The recorded per-queue increase of ``counter`` over ``$window``."""
    return f"site_queue:wallboard_{counter}:increase$window{{{selector}}}"


# Per-agent series restricted to the agents of $team and $agent (agent_info carries name and team).
AGENTS = (
    "on (site, agent) group_left (name) max by (site, agent, name) "
    '(wallboard_agent_info{site="$site", team=~"$team", agent=~"$agent"})'
)


def per_agent(expr: str) -> str:
    """``expr`` (one series per site and agent) joined to the selected agents, labelled with their names."""
    return f"max by (site, agent) ({expr}) * {AGENTS}"
