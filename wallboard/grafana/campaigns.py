"""The "Outbound campaigns" dashboard: a dialer's drop rate against its legal limit, outcomes, connects, talk.

Theory of operation
-------------------
The exporter's campaign families (``wallboard.api.exporter``, section "outbound campaigns") carry two kinds of
figures. The regulator's figures are gauges the engine computes over the campaign's rolling window (Ofcom: 24 h,
FCC: 30 days; ``wallboard.core.campaigns``): the drop rate, the connect rate, the limit and 1 while over it. The
counters (attempts, results by outcome, talk seconds) come from the campaign's total, so any interval's figures
are their increases: per ``$window`` for the bars, per ``$__range`` (the dashboard's time range) for the totals.
Neither needs a recording rule: the window figures are the engine's own, and an increase is one PromQL function
(the queue figures have rules because they are ratios of the engine's definitions over several counters).

The limit differs per campaign (a site file may set a custom one), so the panels that judge the drop rate sit
in a row repeated for each selected campaign: there a "config from query results" transformation turns the
campaign's ``wallboard_campaign_drop_limit_percent`` into the panel's threshold, drawn as a dashed line, with the
drop rate red above it. API replicas export identical series: every query aggregates them with ``max``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, statetimeline
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, StackingConfig
from grafana_foundation_sdk.builders.dashboard import Dashboard, FieldColor, QueryVariable, Row, ThresholdsConfig
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    GraphGradientMode,
    GraphThresholdsStyleMode,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    FieldColorModeId,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
)

from wallboard.grafana.panels import (
    DATASOURCE,
    base_dashboard,
    interval_series,
    query_variable,
    series,
    stat_panel,
    target,
)

CAMPAIGNS = 'site="$site", campaign=~"$campaign"'
LIMIT_LEGEND = "limit"  # the field the threshold is read from (its display name is the query's legend)
# The regulator's window, as the descriptions name it.
WINDOW_NOTE = "over the regulator's rolling window (Ofcom 24 h, FCC 30 days, or the site file's custom window)"


def _campaign_variable() -> QueryVariable:
    """The site's campaigns (every campaign the engine counts has an attempts counter)."""
    query = 'label_values(wallboard_campaign_dial_attempts_total{site="$site"}, campaign)'
    return query_variable("campaign", "Campaign", query, multi=True)


def _gauge(family: str) -> str:
    """One campaign's gauge (the repeated row's), the replicas' series as one."""
    return f"max(wallboard_campaign_{family}{{{CAMPAIGNS}}})"


def _per_campaign(expr: str) -> str:
    return f"max by (campaign) ({expr})"


def _increase(counter: str, window: str, selector: str = CAMPAIGNS) -> str:
    return f"increase(wallboard_campaign_{counter}_total{{{selector}}}[{window}])"


def _limit_as_threshold() -> DataTransformerConfig:
    """Query B (the campaign's limit) becomes the threshold of the other queries' fields: red above it."""
    mapping = {
        "fieldName": LIMIT_LEGEND,
        "handlerKey": "threshold1",
        "handlerArguments": {"threshold": {"color": "red"}},
    }
    return DataTransformerConfig(id_val="configFromData", options={"configRefId": "B", "mappings": [mapping]})


def _green_below_limit() -> ThresholdsConfig:
    """The base step; the limit's step (red) comes from the data (``_limit_as_threshold``)."""
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=None, color="green")])


def _over_limit_mappings() -> list[ValueMapping]:
    within = ValueMappingResult(text="within the limit", color="green", index=0)
    over = ValueMappingResult(text="OVER THE LIMIT", color="red", index=1)
    return [ValueMap(options={"0": within, "1": over})]


def _with_campaign_row(board: Dashboard) -> Dashboard:
    """The row repeated per selected campaign: the campaign judged against its own limit."""
    limit = target(_gauge("drop_limit_percent"), LIMIT_LEGEND, "B", instant=True)
    drop_now = (
        stat_panel(
            "Drop rate",
            f"Dropped calls in % of live answers (answered + dropped) {WINDOW_NOTE}: red above the campaign's limit.",
            "percent",
            _gauge("drop_rate_percent"),
        )
        .with_target(limit)
        .with_transformation(_limit_as_threshold())
        .thresholds(_green_below_limit())
        .decimals(2)
    )
    over = (
        stat_panel(
            "Over the limit",
            f"Whether the drop rate {WINDOW_NOTE} is above the campaign's legal limit now (the alert's condition).",
            "none",
            _gauge("over_limit"),
        )
        .mappings(_over_limit_mappings())
        .color_scheme(FieldColor().mode(FieldColorModeId.THRESHOLDS))
    )
    connect = stat_panel(
        "Connect rate",
        f"Calls answered by a live person and connected to an agent, in % of the dialer's results {WINDOW_NOTE}.",
        "percent",
        _gauge("connect_rate_percent"),
    ).decimals(1)
    attempts = stat_panel(
        "Dial attempts in the time range",
        "Calls the dialer placed for the campaign over the dashboard's time range.",
        "short",
        f"max({_increase('dial_attempts', '$__range')})",
    ).decimals(0)
    history = (
        series(
            "Drop rate against the limit",
            f"The drop rate {WINDOW_NOTE}, as the engine computed it at each moment; the dashed line is the "
            "campaign's legal limit, the curve turns red above it.",
            "percent",
            target(_gauge("drop_rate_percent"), "drop rate", "A"),
            target(_gauge("drop_limit_percent"), LIMIT_LEGEND, "B"),
            span=24,
        )
        .with_transformation(_limit_as_threshold())
        .thresholds(_green_below_limit())
        .thresholds_style(GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED))
        .color_scheme(FieldColor().mode(FieldColorModeId.THRESHOLDS))
        .gradient_mode(GraphGradientMode.SCHEME)
        .min(0)
    )
    board = board.with_row(Row("Campaign $campaign").repeat("campaign"))
    return board.with_panel(drop_now).with_panel(over).with_panel(connect).with_panel(attempts).with_panel(history)


def outbound_campaigns() -> Dashboard:
    """Each campaign's drop rate against its legal limit, then attempts, outcomes, connects and talk per interval."""
    board = base_dashboard(
        "Wallboard / Outbound campaigns",
        "wallboard-outbound-campaigns",
        "Dialer campaigns: the drop rate over the regulator's window against each campaign's legal limit, "
        "attempts and results by outcome, connect rate and talk time.",
    ).with_variable(_campaign_variable())
    board = _with_campaign_row(board).with_row(Row("Selected campaigns, per $window"))
    board = board.with_panel(
        interval_series(
            "Dial attempts per interval",
            "Calls the dialer placed for each campaign per $window interval.",
            "short",
            target(_per_campaign(_increase("dial_attempts", "$window")), "{{campaign}}"),
        )
    )
    outcomes = interval_series(
        "Results by outcome per interval",
        "The dialer's outcomes per $window interval, the selected campaigns together: answered (a live person "
        "connected to an agent), dropped (a live person the dialer abandoned), machine, no_answer, busy.",
        "short",
        target(f"sum by (result) (max by (campaign, result) ({_increase('dial_results', '$window')}))", "{{result}}"),
    )
    board = board.with_panel(outcomes.stacking(StackingConfig().mode(StackingMode.NORMAL)))
    answered = _increase("dial_results", "$window", CAMPAIGNS + ', result="answered"')
    results = f"sum by (campaign) (max by (campaign, result) ({_increase('dial_results', '$window')}))"
    board = board.with_panel(
        interval_series(
            "Connect rate per interval",
            "Answered results in % of all the dialer's results, per campaign and $window interval (the same "
            "definition as the regulator-window figure above).",
            "percent",
            target(f"100 * {_per_campaign(answered)} / ({results} > 0)", "{{campaign}}"),
        )
        .min(0)
        .max(100)
    )
    talk = _per_campaign(_increase("talk_seconds", "$window"))
    board = board.with_panel(
        interval_series(
            "Talk time per interval",
            "Seconds of talk on each campaign's connects per $window interval.",
            "s",
            target(talk, "{{campaign}}"),
        )
    )
    board = board.with_panel(
        interval_series(
            "Average talk per connect",
            "Talk time divided by the calls connected to an agent, per campaign and $window interval.",
            "s",
            target(f"{talk} / ({_per_campaign(answered)} > 0)", "{{campaign}}"),
        )
    )
    return board.with_panel(_range_outcomes()).with_panel(_over_limit_timeline())


def _range_outcomes() -> bargauge.Panel:
    """One bar per campaign and outcome: the dialer's results over the dashboard's time range."""
    expr = f"max by (campaign, result) ({_increase('dial_results', '$__range')})"
    return (
        bargauge.Panel()
        .title("Results by outcome in the time range")
        .description("The dialer's outcomes over the dashboard's whole time range, per campaign.")
        .datasource(DATASOURCE)
        .unit("short")
        .decimals(0)
        .height(8)
        .span(12)
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.BASIC)
        .with_target(target(expr, "{{campaign}} {{result}}", instant=True))
    )


def _over_limit_timeline() -> statetimeline.Panel:
    """One row per campaign: green while within its limit, red while over it."""
    return (
        statetimeline.Panel()
        .title("Over-limit history")
        .description(f"When each campaign's drop rate {WINDOW_NOTE} was above its legal limit.")
        .datasource(DATASOURCE)
        .height(6)
        .span(24)
        .mappings(_over_limit_mappings())
        .with_target(target(_per_campaign(f"wallboard_campaign_over_limit{{{CAMPAIGNS}}}"), "{{campaign}}"))
    )
