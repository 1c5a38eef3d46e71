"""Prometheus alerting rules generated from the same thresholds the engine evaluates.

Theory of operation
-------------------
``export_rules(thresholds, site, now)`` turns every threshold whose metric Prometheus has (see
``wallboard.api.exporter``) into one alerting rule per level: ``warn`` and ``alarm`` share an alert name
(``Wallboard`` + the id in CamelCase) and differ by the labels ``level`` and ``severity`` (the
threshold's severity for the alarm, ``warning`` for the warn level); ``threshold`` carries the id.
``for:`` is ``for_s``. Every series is read as ``max without(instance) (...)`` because API replicas
export identical series, and filtered on the site (``site="paris"``). A queue-scoped threshold
selects its queue; the site default excludes the queues that have their own threshold of that
metric (``queue!~"sales|support"``).

Hysteresis is exact, not approximated with ``keep_firing_for`` (Prometheus >= 2.42, time-based
only): a level's expression is "past the level, or past the clear point while this very alert is
firing", the second half reading the alert's own ``ALERTS{alertstate="firing"}`` series from the
previous evaluation::

    (V > 60) or (V > 40 and on(site, queue) ALERTS{alertname="WallboardLongestWait", level="warn", ...})

A pending (not yet firing) alert does not hold itself, so a breach shorter than ``for:`` never
fires, as in the engine.

Minimum traffic: ``and on(site, queue) max without(instance) (increase(wallboard_calls_offered_total
[15m])) >= 5``, i.e. offered calls over the last interval length (the engine counts the aligned
interval; Prometheus has no gauge of it) and over the last 24 h for ``service_level_day_pct``.

Active hours are PromQL on the clock: ``hour()``, ``minute()`` and ``day_of_week()`` of ``time()``
shifted by the site's UTC offset. The offset changes with daylight saving time, so the expression
holds one branch per offset period (``time() < T1`` ... ) for the zone's changes within
``horizon_days`` of the export; the last offset holds after that, and when the zone changes offset
again after the horizon an extra alert, ``WallboardAlertRulesOutdated`` (severity ticket), fires
once the horizon has passed: export the rules again (a yearly cron job does it).

Series: calls waiting, longest wait, SL / abandon rate / ASA / AHT (``window="interval"``, SL today
``window="day"``), agents available (``wallboard_agents{state="available"}``), agents short
(``wallboard_required_agents - wallboard_agents_staffed``), data age (``wallboard_last_event_age_seconds
{component="engine"}``: the engine's last applied event only, where ``wallboard.core.alerts`` falls back to
the collectors' health without one) and collector connected
(``wallboard_collector_connected{component=~"collector:.*"}``) and a campaign's drop rate over its regulator's
window (``wallboard_campaign_drop_rate_percent``, per site and campaign).
``inhibit_rules()`` gives the Alertmanager rule that lets a firing alarm mute its own warn.

Not exported (``RuleExport.skipped`` says why): per-agent thresholds (pause and call durations,
adherence: Prometheus has no such series, per-agent series are opt-in and carry no time in state)
and team-scoped ``agents_available`` (no per-team series). The engine evaluates those.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from wallboard.core.site import SiteConfig
from wallboard.core.thresholds import ActiveWindow, Direction, Metric, Threshold, ThresholdSet, format_duration

WARN_SEVERITY = "warning"
OUTDATED_ALERT = "WallboardAlertRulesOutdated"

# metric -> (series, extra matcher, labels that identify a target)
_QUEUE_LABELS = ("site", "queue")
_COMPONENT_LABELS = ("site", "component")
_SERIES: dict[Metric, tuple[str, str, tuple[str, ...]]] = {
    Metric.WAITING: ("wallboard_calls_waiting", "", _QUEUE_LABELS),
    Metric.LONGEST_WAIT_S: ("wallboard_longest_wait_seconds", "", _QUEUE_LABELS),
    Metric.SERVICE_LEVEL_PCT: ("wallboard_service_level_percent", 'window="interval"', _QUEUE_LABELS),
    Metric.SERVICE_LEVEL_DAY_PCT: ("wallboard_service_level_percent", 'window="day"', _QUEUE_LABELS),
    Metric.ABANDON_RATE_PCT: ("wallboard_abandon_rate_percent", 'window="interval"', _QUEUE_LABELS),
    Metric.ASA_S: ("wallboard_asa_seconds", 'window="interval"', _QUEUE_LABELS),
    Metric.AHT_S: ("wallboard_aht_seconds", 'window="interval"', _QUEUE_LABELS),
    Metric.AGENTS_AVAILABLE: ("wallboard_agents", 'state="available"', _QUEUE_LABELS),
    Metric.AGENTS_SHORT: ("wallboard_required_agents", "", _QUEUE_LABELS),  # minus wallboard_agents_staffed
    Metric.DATA_AGE_S: ("wallboard_last_event_age_seconds", 'component="engine"', _COMPONENT_LABELS),
    Metric.COLLECTOR_CONNECTED: ("wallboard_collector_connected", 'component=~"collector:.*"', _COMPONENT_LABELS),
    Metric.TEAM_ADHERENCE_PCT: ("wallboard_team_adherence_percent", "", ("site", "team")),
    Metric.CAMPAIGN_DROP_RATE_PCT: ("wallboard_campaign_drop_rate_percent", "", ("site", "campaign")),
}
_WHERE = {
    Metric.DATA_AGE_S: "site {{ $labels.site }}",
    Metric.COLLECTOR_CONNECTED: "{{ $labels.component }} of site {{ $labels.site }}",
    Metric.TEAM_ADHERENCE_PCT: "team {{ $labels.team }}",
    Metric.CAMPAIGN_DROP_RATE_PCT: "campaign {{ $labels.campaign }}",
}
_QUEUE_WHERE = "queue {{ $labels.queue }}"


@dataclass(frozen=True)
class Skipped:
    """A threshold with no Prometheus rule, and why."""

    threshold_id: str
    reason: str


@dataclass(frozen=True)
class RuleExport:
    """A Prometheus rule file (``document``) and the thresholds it could not express."""

    document: dict[str, Any]
    skipped: tuple[Skipped, ...] = ()
    header: str = ""
    alert_names: dict[str, str] = field(default_factory=dict)  # threshold id -> alert name

    def to_yaml(self) -> str:
        body = yaml.dump(self.document, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
        return self.header + body


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL expressions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def export_rules(thresholds: ThresholdSet, site: SiteConfig, now: datetime, *, horizon_days: int = 400) -> RuleExport:
    """The rule file for ``site``'s thresholds, with active hours valid from ``now`` for ``horizon_days``."""
    names = alert_names(thresholds)
    clock = _Clock(site.tz, now, now + timedelta(days=horizon_days))
    rules: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for threshold in thresholds.thresholds:
        why = _unsupported(threshold)
        if why is not None:
            skipped.append(Skipped(threshold.id, why))
            continue
        excluded = thresholds.overridden(threshold)
        rules.extend(_rules(threshold, names[threshold.id], site, excluded, clock))
    if any(t.active for t in thresholds.thresholds if t.id in names) and clock.outdated_after is not None:
        rules.append(_outdated_rule(site, clock))
    group = {"name": f"wallboard-{site.site}-thresholds", "rules": rules}
    header = (
        f"# Generated by `wallboard alerts export-rules` for site {site.site} ({site.timezone}) at "
        f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}.\n# Edit the thresholds in the site file, not this file.\n"
    )
    return RuleExport({"groups": [group]}, tuple(skipped), header, names)


def alert_names(thresholds: ThresholdSet) -> dict[str, str]:
    """Threshold id -> alert name: ``Wallboard`` + the id in CamelCase, made unique with a numeric suffix."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for threshold in thresholds.thresholds:
        base = "Wallboard" + "".join(part.capitalize() for part in re.split(r"[-_]", threshold.id) if part)
        name, counter = base, 2
        while name in taken:
            name, counter = f"{base}{counter}", counter + 1
        taken.add(name)
        names[threshold.id] = name
    return names


def inhibit_rules() -> list[dict[str, Any]]:
    """Alertmanager ``inhibit_rules``: a firing alarm mutes the warn of the same threshold and target."""
    return [
        {
            "source_matchers": ['level="alarm"'],
            "target_matchers": ['level="warn"'],
            "equal": ["alertname", "threshold", "site", "queue", "component", "campaign"],
        }
    ]


def _unsupported(threshold: Threshold) -> str | None:
    if threshold.spec.target == "agent":
        return f"{threshold.metric} is per agent: Prometheus has no per-agent time in state; the engine alerts on it"
    if threshold.scope.kind == "team" and threshold.spec.target != "team":
        return "Prometheus has no per-team agent series; the engine alerts on it"
    return None


# -- one rule per level -----------------------------------------------------------------------------


def _rules(
    threshold: Threshold, name: str, site: SiteConfig, excluded: frozenset[str], clock: _Clock
) -> list[dict[str, Any]]:
    value = _value(threshold, site, excluded)
    labels = _SERIES[threshold.metric][2]
    gates = []
    if threshold.min_offered > 0:
        gates.append(f"and on({', '.join(labels)}) {_traffic(threshold, site, excluded)} >= {threshold.min_offered}")
    if threshold.active:
        gates.append(f"and on() (\n{_indent(clock.active(threshold), 2)}\n)")
    rules = []
    levels = (("warn", threshold.warn, threshold.warn_clear), ("alarm", threshold.alarm, threshold.alarm_clear))
    for level, bound, clear in levels:
        if bound is None or clear is None:
            continue
        op = ">" if threshold.direction is Direction.ABOVE else "<"
        held = f'ALERTS{{alertname="{name}", threshold={_quote(threshold.id)}, level="{level}", alertstate="firing"}}'
        core = f"{value} {op} {_num(bound)}"
        if clear != bound:
            core = f"({core})\nor\n({value} {op} {_num(clear)}\n  and on({', '.join(labels)}) {held})"
        expr = "\n".join([f"(\n{_indent(core, 2)}\n)" if gates else core, *gates])
        rule: dict[str, Any] = {"alert": name, "expr": expr}
        if threshold.for_s > 0:
            rule["for"] = _duration(threshold.for_s)
        severity = threshold.severity if level == "alarm" else WARN_SEVERITY
        rule["labels"] = {"severity": severity, "level": level, "threshold": threshold.id}
        rule["annotations"] = _annotations(threshold, level, bound, clear)
        rules.append(rule)
    return rules


def _value(threshold: Threshold, site: SiteConfig, excluded: frozenset[str]) -> str:
    series, extra, _ = _SERIES[threshold.metric]
    value = f"max without(instance) ({series}{_selector(threshold, site, excluded, extra)})"
    if threshold.metric is Metric.AGENTS_SHORT:
        staffed = f"max without(instance) (wallboard_agents_staffed{_selector(threshold, site, excluded, '')})"
        value = f"({value} - on(site, queue) {staffed})"
    return value


def _traffic(threshold: Threshold, site: SiteConfig, excluded: frozenset[str]) -> str:
    span = "1d" if threshold.spec.window == "day" else f"{site.interval_minutes}m"
    selector = _selector(threshold, site, excluded, "")
    return f"max without(instance) (increase(wallboard_calls_offered_total{selector}[{span}]))"


def _selector(threshold: Threshold, site: SiteConfig, excluded: frozenset[str], extra: str) -> str:
    matchers = [f"site={_quote(site.site)}"]
    label = threshold.spec.target  # "queue", "team" or "campaign": the label naming a target
    if threshold.scope.kind in ("queue", "team", "campaign") and threshold.scope.name is not None:
        matchers.append(f"{threshold.scope.kind}={_quote(threshold.scope.name)}")
    elif excluded and label in ("queue", "team", "campaign"):
        alternatives = "|".join(re.escape(name) for name in sorted(excluded))
        matchers.append(f"{label}!~{_quote(alternatives)}")
    if extra:
        matchers.append(extra)
    return "{" + ", ".join(matchers) + "}"


def _annotations(threshold: Threshold, level: str, bound: float, clear: float) -> dict[str, str]:
    """Summary and description; the rule reads "(warn > 60 s for 2 min; clears at <= 45 s)"."""
    where = _WHERE.get(threshold.metric, _QUEUE_WHERE)
    op = ">" if threshold.direction is Direction.ABOVE else "<"
    rule = f"{level} {op} {_words(threshold, bound)}"
    if threshold.for_s > 0:
        rule += f" for {format_duration(threshold.for_s)}"
    if clear != bound:
        back = "<=" if threshold.direction is Direction.ABOVE else ">="
        rule += f"; clears at {back} {_words(threshold, clear)}"
    if threshold.metric is Metric.COLLECTOR_CONNECTED:
        said = "Collector {{ $labels.component }} of site {{ $labels.site }} disconnected"
        rule = f"{level} for {format_duration(threshold.for_s)}" if threshold.for_s > 0 else level
    elif threshold.metric is Metric.DATA_AGE_S:
        said = "No event for {{ $value | humanizeDuration }} in " + where
    else:
        said = f"{threshold.spec.words} {_template(threshold)} in {where}"
    return {
        "summary": f"{threshold.label or threshold.spec.words} {level} in {where}",
        "description": f"{said} ({rule})",
    }


def _template(threshold: Threshold) -> str:
    unit = threshold.spec.unit
    if unit == "seconds":
        return "{{ $value | humanizeDuration }}"
    if unit == "percent":
        return '{{ $value | printf "%.1f" }} %'
    return '{{ $value | printf "%.0f" }}'


def _words(threshold: Threshold, level: float) -> str:
    unit = threshold.spec.unit
    if unit == "seconds":
        return format_duration(level)
    return f"{_num(level)} %" if unit == "percent" else _num(level)


def _outdated_rule(site: SiteConfig, clock: _Clock) -> dict[str, Any]:
    assert clock.outdated_after is not None
    until = clock.outdated_after.astimezone(UTC)
    return {
        "alert": OUTDATED_ALERT,
        "expr": f"vector(time()) > {int(until.timestamp())}",
        "labels": {"severity": "ticket", "site": site.site},
        "annotations": {
            "summary": f"Wallboard alert rules of site {site.site} are outdated",
            "description": (
                f"Their active hours follow the UTC offsets of {site.timezone} until {until:%Y-%m-%d %H:%M} UTC "
                "only; run `wallboard alerts export-rules` again."
            ),
        },
    }


# -- active hours in PromQL -------------------------------------------------------------------------


class _Clock:
    """The zone's UTC offsets over the horizon, and the PromQL of a threshold's active hours."""

    def __init__(self, tz: ZoneInfo, start: datetime, end: datetime) -> None:
        self.offsets = offset_changes(tz, start, end)
        later = offset_changes(tz, end, end + timedelta(days=366))
        self.outdated_after = end if len(later) > 1 else None

    def active(self, threshold: Threshold) -> str:
        branches = []
        for index, (since, offset) in enumerate(self.offsets):
            clause = _or([_window_expr(window, int(offset.total_seconds())) for window in threshold.active])
            if len(self.offsets) == 1:
                return clause
            bounds = []
            if index > 0:
                bounds.append(f">= {int(since.timestamp())}")
            if index + 1 < len(self.offsets):
                bounds.append(f"< {int(self.offsets[index + 1][0].timestamp())}")
            branches.append(f"((vector(time()) {' '.join(bounds)}) and on() ({clause}))")
        return "\nor\n".join(branches)


def _window_expr(window: ActiveWindow, offset_s: int) -> str:
    """One active window as a PromQL expression that has one sample while the local time is inside it."""
    local = f"vector(time() + {offset_s})" if offset_s >= 0 else f"vector(time() - {-offset_s})"
    minute = f"(hour({local}) * 60 + minute({local}))"
    start = window.start.hour * 60 + window.start.minute
    end = window.end.hour * 60 + window.end.minute
    days = window.weekdays
    if start == end:
        return _days_expr(days, local) or "vector(1)"
    if start < end:
        return _gate(f"({minute} >= {start} < {end})", _days_expr(days, local))
    following = frozenset((day + 1) % 7 for day in days)
    evening = _gate(f"({minute} >= {start})", _days_expr(days, local))
    morning = _gate(f"({minute} < {end})", _days_expr(following, local))
    return f"({evening} or {morning})"


def _days_expr(days: frozenset[int], local: str) -> str | None:
    """``day_of_week`` ranges (Sunday = 0 in PromQL, Monday = 0 in Python) or None for every day."""
    if len(days) == 7:
        return None
    promql = sorted((day + 1) % 7 for day in days)
    runs: list[list[int]] = []
    for day in promql:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        f"(day_of_week({local}) == {run[0]})" if len(run) == 1 else f"(day_of_week({local}) >= {run[0]} <= {run[-1]})"
        for run in runs
    ]
    return _or(parts)


def _gate(condition: str, days: str | None) -> str:
    return condition if days is None else f"({condition} and on() {days})"


def _or(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def offset_changes(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """The UTC offset of ``tz`` at ``start`` and at each change up to ``end``: ``[(since, offset), ...]``.

    Exact to the second: zones change offset a few times a year at most, so an hourly scan finds
    each change and a bisection pins it down.
    """
    offset = _offset(start, tz)
    changes = [(start, offset)]
    probe = start
    while probe < end:
        step = min(probe + timedelta(hours=1), end)
        later = _offset(step, tz)
        if later != offset:
            low, high = probe, step
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(middle, tz) == offset else (low, middle)
            changes.append((high.replace(microsecond=0), later))
            offset = later
        probe = step
    return changes


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    return moment.astimezone(tz).utcoffset() or timedelta(0)


# -- formatting -------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A PromQL string literal."""
    return json.dumps(text, ensure_ascii=False)


def _num(value: float) -> str:
    return f"{value:g}" if not float(value).is_integer() else str(int(value))


def _duration(seconds: float) -> str:
    """A Prometheus duration: ``3m``, ``1m30s``, ``1500ms``."""
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    total = millis // 1000
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n) or "0s"


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())
