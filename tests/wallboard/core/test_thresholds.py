"""The threshold model: validation in words located at the field, defaults, scopes, active hours, YAML round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from wallboard.core.site import SiteConfig
from wallboard.core.thresholds import (
    Direction,
    Metric,
    Problem,
    Threshold,
    ThresholdError,
    ThresholdSet,
    dump_thresholds,
    format_duration,
    load_thresholds,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "thresholds.yaml"
PARIS = ZoneInfo("Europe/Paris")


def _problems(*rows: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ThresholdError) as caught:
        load_thresholds(list(rows))
    return caught.value.problems


def _only(*rows: dict[str, Any]) -> Problem:
    problems = _problems(*rows)
    assert len(problems) == 1, problems
    return problems[0]


# -- defaults ---------------------------------------------------------------------------------------


def test_direction_defaults_below_for_service_level_and_above_for_waits() -> None:
    """SL, agents available, adherence and collector connected default to below; waits and ages to above."""
    below = ["service_level_pct", "service_level_day_pct", "agents_available", "adherence_pct", "collector_connected"]
    above = ["waiting", "longest_wait_s", "abandon_rate_pct", "asa_s", "aht_s", "agents_short", "data_age_s"]
    for metric in below:
        assert Threshold(id="t", metric=metric, alarm=1).direction is Direction.BELOW, metric
    for metric in above:
        assert Threshold(id="t", metric=metric, alarm=1).direction is Direction.ABOVE, metric


def test_min_offered_defaults_to_five_for_rates_and_zero_otherwise() -> None:
    """SL, abandon rate, ASA and AHT need 5 offered calls by default; other metrics need none."""
    for metric in ("service_level_pct", "service_level_day_pct", "abandon_rate_pct", "asa_s", "aht_s"):
        assert Threshold(id="t", metric=metric, alarm=1).min_offered == 5
    for metric in ("waiting", "longest_wait_s", "agents_short", "data_age_s"):
        assert Threshold(id="t", metric=metric, alarm=1).min_offered == 0


def test_clear_defaults_to_the_warn_level_and_the_alarm_shares_its_band() -> None:
    """No clear: no hysteresis; with clear 45 below warn 60, the alarm at 120 clears at 105."""
    plain = Threshold(id="t", metric="longest_wait_s", warn=60, alarm=120)
    assert (plain.warn_clear, plain.alarm_clear) == (60, 120)
    banded = Threshold(id="t", metric="longest_wait_s", warn=60, alarm=120, clear=45)
    assert (banded.warn_clear, banded.alarm_clear) == (45, 105)
    below = Threshold(id="t", metric="service_level_pct", warn=80, alarm=70, clear=82)
    assert (below.warn_clear, below.alarm_clear) == (82, 72)
    alarm_only = Threshold(id="t", metric="waiting", alarm=10, clear=6)
    assert (alarm_only.warn_clear, alarm_only.alarm_clear) == (None, 6)


# -- validation: field and reason -------------------------------------------------------------------


def test_unknown_metric_is_named() -> None:
    """An unknown metric is reported at its field with the name read."""
    problem = _only({"id": "t", "metric": "queue_length", "warn": 3})
    assert problem.path == "thresholds[0].metric"
    assert "unknown metric 'queue_length'" in problem.message


def test_alarm_on_the_wrong_side_of_warn_is_rejected_for_each_direction() -> None:
    """Above: the alarm may not be below the warn level; below: it may not be above it."""
    above = _only({"id": "t", "metric": "longest_wait_s", "warn": 120, "alarm": 60})
    assert above.path == "thresholds[0].alarm"
    assert "alarm 60 is below warn 120" in above.message
    below = _only({"id": "t", "metric": "service_level_pct", "warn": 70, "alarm": 80})
    assert below.path == "thresholds[0].alarm"
    assert "alarm 80 is above warn 70" in below.message
    flipped = load_thresholds([{"id": "t", "metric": "waiting", "direction": "below", "warn": 5, "alarm": 2}])
    assert flipped.thresholds[0].alarm == 2


def test_neither_warn_nor_alarm_is_rejected() -> None:
    """At least one level is required, and the reason says so."""
    problem = _only({"id": "t", "metric": "waiting"})
    assert problem.path == "thresholds[0].alarm"
    assert "both are empty" in problem.message


def test_percentages_must_lie_within_0_and_100() -> None:
    """A percentage level outside 0..100 is rejected at that level's field."""
    assert _only({"id": "t", "metric": "abandon_rate_pct", "warn": 120}).path == "thresholds[0].warn"
    problem = _only({"id": "t", "metric": "service_level_pct", "warn": 80, "alarm": -1})
    assert (problem.path, "not a percentage" in problem.message) == ("thresholds[0].alarm", True)


def test_durations_must_not_be_negative() -> None:
    """Negative second levels and a negative for_s are rejected in words."""
    problems = _problems({"id": "t", "metric": "asa_s", "warn": -1, "for_s": -3})
    assert {p.path for p in problems} == {"thresholds[0].warn", "thresholds[0].for_s"}
    assert all("duration in seconds" in p.message for p in problems)


def test_clear_on_the_wrong_side_is_rejected() -> None:
    """Above: clear must be <= warn; below: clear must be >= warn."""
    above = _only({"id": "t", "metric": "longest_wait_s", "warn": 60, "clear": 70})
    assert above.path == "thresholds[0].clear"
    assert "must be <= the warn level 60" in above.message
    below = _only({"id": "t", "metric": "service_level_pct", "warn": 80, "clear": 75})
    assert "must be >= the warn level 80" in below.message


def test_scope_must_fit_the_metric() -> None:
    """Calls waiting has no team scope; data age only a site scope."""
    assert "cannot be scoped to a team" in _only({"id": "t", "metric": "waiting", "warn": 1, "scope": "team:a"}).message
    problem = _only({"id": "t", "metric": "data_age_s", "warn": 1, "scope": "queue:sales"})
    assert problem.path == "thresholds[0].scope"


def test_reason_and_min_offered_are_rejected_where_they_mean_nothing() -> None:
    """A pause reason only filters agent_pause_s; min_offered only gates queue metrics."""
    reason = _only({"id": "t", "metric": "agent_on_call_s", "warn": 60, "reason": "Lunch"})
    assert reason.path == "thresholds[0].reason"
    traffic = _only({"id": "t", "metric": "data_age_s", "warn": 60, "min_offered": 3})
    assert traffic.path == "thresholds[0].min_offered"


def test_ids_are_slugs_and_unique() -> None:
    """An id with spaces is rejected in words; two thresholds may not share an id."""
    assert "stable slug" in _only({"id": "Long Wait", "metric": "waiting", "warn": 1}).message
    duplicate = _only({"id": "w", "metric": "waiting", "warn": 1}, {"id": "w", "metric": "waiting", "warn": 2})
    assert duplicate.path == "thresholds"
    assert "duplicate id 'w'" in duplicate.message


def test_bad_active_hours_are_located_inside_the_window() -> None:
    """Bad days and times name the window and the field."""
    problems = _problems({"id": "t", "metric": "waiting", "warn": 1, "active": [{"days": "funday", "start": "25:00"}]})
    paths = {p.path for p in problems}
    assert {"thresholds[0].active[0].days", "thresholds[0].active[0].start", "thresholds[0].active[0].end"} <= paths


def test_unknown_fields_are_rejected() -> None:
    """A typo in a field name is an error, not silently ignored."""
    assert _only({"id": "t", "metric": "waiting", "warn": 1, "for": 60}).path == "thresholds[0].for"


# -- scopes and resolution --------------------------------------------------------------------------


def test_scope_accepts_text_and_mappings() -> None:
    """``queue:sales`` and ``{queue: sales}`` name the same scope; site is the default."""
    text = Threshold(id="t", metric="waiting", warn=1, scope="queue:sales")
    mapping = Threshold(id="t", metric="waiting", warn=1, scope={"queue": "sales"})
    assert text == mapping
    assert (text.scope.kind, text.scope.name, str(text.scope)) == ("queue", "sales", "queue:sales")
    assert Threshold(id="t", metric="waiting", warn=1).scope.kind == "site"


def test_check_against_reports_unknown_queues_and_teams_by_path() -> None:
    """Scopes naming a queue or team the site file lacks are problems at thresholds[i].scope."""
    site = SiteConfig(queues={"sales": {}}, teams={"care": {}})
    thresholds = load_thresholds(
        [
            {"id": "a", "metric": "waiting", "warn": 1, "scope": "queue:sales"},
            {"id": "b", "metric": "waiting", "warn": 1, "scope": "queue:salse"},
            {"id": "c", "metric": "agent_pause_s", "warn": 60, "scope": "team:night"},
        ]
    )
    problems = thresholds.check_against(site)
    assert [p.path for p in problems] == ["thresholds[1].scope", "thresholds[2].scope"]
    assert "queue 'salse' is not in the site file (known queues: sales)" in problems[0].message
    assert "team 'night'" in problems[1].message


def test_a_queue_threshold_overrides_the_site_default_of_the_same_metric() -> None:
    """Sales gets its own longest-wait threshold; support keeps the site default; other metrics are untouched."""
    thresholds = load_thresholds(
        [
            {"id": "wait", "metric": "longest_wait_s", "warn": 60},
            {"id": "wait-sales", "metric": "longest_wait_s", "warn": 30, "scope": "queue:sales"},
            {"id": "waiting", "metric": "waiting", "warn": 5},
        ]
    )
    site_default = thresholds.thresholds[0]
    assert thresholds.overridden(site_default) == {"sales"}
    assert [t.id for t in thresholds.effective(Metric.LONGEST_WAIT_S, queue="sales")] == ["wait-sales"]
    assert [t.id for t in thresholds.effective(Metric.LONGEST_WAIT_S, queue="support")] == ["wait"]
    assert [t.id for t in thresholds.effective(Metric.WAITING, queue="sales")] == ["waiting"]


def test_a_team_pause_threshold_overrides_only_the_same_reason() -> None:
    """A team's Lunch limit replaces the site Lunch limit for that team, not the site Break limit."""
    thresholds = load_thresholds(
        [
            {"id": "lunch", "metric": "agent_pause_s", "reason": "Lunch", "warn": 2700},
            {"id": "break", "metric": "agent_pause_s", "reason": "Break", "warn": 1200},
            {"id": "lunch-night", "metric": "agent_pause_s", "reason": "lunch", "warn": 3600, "scope": "team:night"},
        ]
    )
    chosen = {t.id for t in thresholds.effective(Metric.AGENT_PAUSE_S, team="night")}
    assert chosen == {"break", "lunch-night"}
    assert {t.id for t in thresholds.effective(Metric.AGENT_PAUSE_S, team="day")} == {"lunch", "break"}


# -- active hours -----------------------------------------------------------------------------------


def _threshold(active: list[dict[str, Any]]) -> Threshold:
    return Threshold.model_validate({"id": "t", "metric": "waiting", "warn": 1, "active": active})


def test_active_hours_across_midnight_start_on_the_listed_days() -> None:
    """Fri 22:00-06:00 covers Friday late evening and Saturday early morning, not Friday early morning."""
    threshold = _threshold([{"days": ["fri"], "start": "22:00", "end": "06:00"}])
    # 2024-05-10 is a Friday; Paris is UTC+2 in May.
    assert threshold.is_active(datetime(2024, 5, 10, 20, 0, tzinfo=UTC), PARIS)  # Fri 22:00
    assert threshold.is_active(datetime(2024, 5, 11, 3, 59, tzinfo=UTC), PARIS)  # Sat 05:59
    assert not threshold.is_active(datetime(2024, 5, 11, 4, 0, tzinfo=UTC), PARIS)  # Sat 06:00
    assert not threshold.is_active(datetime(2024, 5, 10, 3, 0, tzinfo=UTC), PARIS)  # Fri 05:00
    assert not threshold.is_active(datetime(2024, 5, 10, 19, 59, tzinfo=UTC), PARIS)  # Fri 21:59


def test_active_hours_follow_the_local_clock_on_a_dst_change_day() -> None:
    """On 2024-03-31 Paris moves from UTC+1 to UTC+2 at 02:00: 08:00 local is 06:00 UTC, a day earlier 07:00."""
    threshold = _threshold([{"days": "mon-sun", "start": "08:00", "end": "20:00"}])
    assert threshold.is_active(datetime(2024, 3, 31, 6, 0, tzinfo=UTC), PARIS)
    assert not threshold.is_active(datetime(2024, 3, 30, 6, 0, tzinfo=UTC), PARIS)
    assert threshold.is_active(datetime(2024, 3, 30, 7, 0, tzinfo=UTC), PARIS)
    assert not threshold.is_active(datetime(2024, 3, 31, 18, 0, tzinfo=UTC), PARIS)  # 20:00 CEST


def test_empty_active_hours_mean_always_and_equal_times_a_whole_day() -> None:
    """No window: always active; start == end: the whole listed day."""
    assert _threshold([]).is_active(datetime(2024, 5, 12, 3, 0, tzinfo=UTC), PARIS)
    sunday = _threshold([{"days": ["sun"], "start": "00:00", "end": "00:00"}])
    assert sunday.is_active(datetime(2024, 5, 12, 3, 0, tzinfo=UTC), PARIS)  # Sunday 05:00
    assert not sunday.is_active(datetime(2024, 5, 13, 3, 0, tzinfo=UTC), PARIS)  # Monday 05:00


def test_yaml_sexagesimal_times_and_day_ranges_are_read() -> None:
    """Unquoted 20:00 (1200 in YAML 1.1), 24:00 and "sat-mon" (wrapping) are understood."""
    window = yaml.safe_load("days: sat-mon\nstart: 20:00\nend: '24:00'")
    assert window["start"] == 1200
    threshold = _threshold([window])
    active = threshold.active[0]
    assert active.days == ("mon", "sat", "sun")
    assert (active.start.hour, active.end.hour) == (20, 0)
    assert str(active) == "Mon,Sat-Sun 20:00-24:00"


# -- loading and dumping ----------------------------------------------------------------------------


def test_example_file_loads_and_round_trips_through_yaml() -> None:
    """examples/thresholds.yaml is valid and dump -> YAML -> load gives the same set."""
    loaded = load_thresholds(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert len(loaded.thresholds) == 13
    text = yaml.safe_dump(dump_thresholds(loaded), sort_keys=False)
    assert load_thresholds(yaml.safe_load(text)) == loaded
    assert loaded.check_against(SiteConfig(queues={"sales": {}})) == []


def test_dump_writes_direction_and_readable_numbers() -> None:
    """The dump spells the resolved direction and writes 80, not 80.0."""
    dumped = dump_thresholds(load_thresholds([{"id": "sl", "metric": "service_level_pct", "warn": 80}]))
    row = dumped["thresholds"][0]
    assert row["direction"] == "below"
    assert row["warn"] == 80 and isinstance(row["warn"], int)


def test_load_accepts_none_a_list_or_the_whole_site_mapping() -> None:
    """None is an empty set; a list and {thresholds: list} load the same; a scalar is refused."""
    rows = [{"id": "w", "metric": "waiting", "warn": 3}]
    assert load_thresholds(None) == ThresholdSet()
    assert load_thresholds(rows) == load_thresholds({"thresholds": rows})
    with pytest.raises(ThresholdError, match="expected a list of thresholds"):
        load_thresholds({"thresholds": "waiting"})


def test_format_duration_in_words() -> None:
    """Durations read as the board shows them."""
    cases = {0: "0 s", 45: "45 s", 90: "90 s", 125: "2 min 05 s", 180: "3 min", 2820: "47 min", 3900: "1 h 05 min"}
    assert {seconds: format_duration(seconds) for seconds in cases} == cases
