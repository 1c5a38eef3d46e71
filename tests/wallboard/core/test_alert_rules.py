"""Prometheus rules generated from thresholds: checked and unit-tested with the real promtool (Debian package)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from wallboard.core.alert_rules import OUTDATED_ALERT, alert_names, export_rules, inhibit_rules, offset_changes
from wallboard.core.site import SiteConfig
from wallboard.core.thresholds import load_thresholds

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "thresholds.yaml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # promtool unit tests start their clock at 0
PARIS = SiteConfig(site="paris", timezone="Europe/Paris", queues={"sales": {}, "support": {}})


def promtool(*args: str, cwd: Path) -> str:
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def write_rules(tmp_path: Path, rows: list[dict[str, Any]], site: SiteConfig = PARIS, **kwargs: Any) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(export_rules(load_thresholds(rows), site, EPOCH, **kwargs).to_yaml(), encoding="utf-8")
    return path


def run_unit_test(tmp_path: Path, series: dict[str, str], checks: list[dict[str, Any]], *, step: str = "1m") -> None:
    """Write a promtool unit test over rules.yml (one series per replica a and b) and run it."""
    inputs = []
    for selector, values in series.items():
        for instance in ("a", "b"):
            inputs.append({"series": selector[:-1] + f', instance="{instance}", job="wallboard"}}', "values": values})
    document = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": step,
        "tests": [{"interval": step, "input_series": inputs, "alert_rule_test": checks}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    promtool("test", "rules", "test.yml", cwd=tmp_path)


def check(at: str, alert: str, *expected: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": list(expected)}


def fired(labels: dict[str, str], description: str, summary: str) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": {"summary": summary, "description": description}}


def queue_labels(queue: str, threshold: str, level: str, severity: str, **extra: str) -> dict[str, str]:
    return {"site": "paris", "queue": queue, "job": "wallboard", "threshold": threshold, "level": level,
            "severity": severity, **extra}  # fmt: skip


# -- promtool check ---------------------------------------------------------------------------------


@pytest.mark.prometheus  # runs promtool
def test_example_thresholds_pass_promtool_check(tmp_path: Path) -> None:
    """The example file's rules are valid: 10 thresholds exported, 9 with two levels + 1 alarm-only, + outdated."""
    thresholds = load_thresholds(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    export = export_rules(thresholds, PARIS, datetime(2025, 1, 15, tzinfo=UTC))
    (tmp_path / "rules.yml").write_text(export.to_yaml(), encoding="utf-8")
    output = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert "SUCCESS: 20 rules found" in output
    assert {s.threshold_id for s in export.skipped} == {"break-too-long", "lunch-too-long", "call-too-long"}


@pytest.mark.prometheus  # runs promtool
def test_odd_queue_names_are_escaped(tmp_path: Path) -> None:
    """Queue names with regex and quote characters survive the exclusion regex and the string literal."""
    site = SiteConfig(site="paris", queues={'a.b"c': {}, "d|e": {}})
    rows = [
        {"id": "w", "metric": "waiting", "warn": 5},
        {"id": "w1", "metric": "waiting", "warn": 9, "scope": 'queue:a.b"c'},
        {"id": "w2", "metric": "waiting", "warn": 9, "scope": "queue:d|e"},
    ]
    rules = write_rules(tmp_path, rows, site)
    assert "SUCCESS: 3 rules found" in promtool("check", "rules", rules.name, cwd=tmp_path)
    assert r'queue!~"a\\.b\"c|d\\|e"' in rules.read_text(encoding="utf-8")


# -- promtool test ----------------------------------------------------------------------------------


@pytest.mark.prometheus  # runs promtool
def test_warn_then_alarm_fire_after_for_and_a_blip_never_fires(tmp_path: Path) -> None:
    """for 2m: a 2-sample blip (1m pending) never fires; 70 from 4m fires warn at 6m; 130 from 8m alarms at 10m."""
    write_rules(tmp_path, [{"id": "wait", "metric": "longest_wait_s", "warn": 60, "alarm": 120, "for_s": 120}])
    values = "30 70 70 30 70 70 70 70 130 130 130 130 130"
    warn_70 = fired(
        queue_labels("sales", "wait", "warn", "warning"),
        "Longest wait 1m 10s in queue sales (warn > 60 s for 2 min)",
        "Longest wait warn in queue sales",
    )
    warn_130 = fired(warn_70["exp_labels"], "Longest wait 2m 10s in queue sales (warn > 60 s for 2 min)",
                     "Longest wait warn in queue sales")  # fmt: skip
    alarm = fired(
        queue_labels("sales", "wait", "alarm", "page"),
        "Longest wait 2m 10s in queue sales (alarm > 2 min for 2 min)",
        "Longest wait alarm in queue sales",
    )
    checks = [
        check("2m", "WallboardWait"),
        check("3m", "WallboardWait"),
        check("5m", "WallboardWait"),
        check("6m", "WallboardWait", warn_70),
        check("9m", "WallboardWait", warn_130),
        check("10m", "WallboardWait", warn_130, alarm),
    ]
    run_unit_test(tmp_path, {'wallboard_longest_wait_seconds{site="paris", queue="sales"}': values}, checks)


@pytest.mark.prometheus  # runs promtool
def test_hysteresis_holds_until_the_clear_level(tmp_path: Path) -> None:
    """warn 60 clear 45: 70 fires, 50 and 46 hold, 45 clears, 50 does not fire again."""
    write_rules(tmp_path, [{"id": "wait", "metric": "longest_wait_s", "warn": 60, "clear": 45}])

    def warn(shown: str) -> dict[str, Any]:
        return fired(
            queue_labels("sales", "wait", "warn", "warning"),
            f"Longest wait {shown} in queue sales (warn > 60 s; clears at <= 45 s)",
            "Longest wait warn in queue sales",
        )

    checks = [
        check("0m", "WallboardWait", warn("1m 10s")),
        check("1m", "WallboardWait", warn("50s")),
        check("2m", "WallboardWait", warn("46s")),
        check("3m", "WallboardWait"),
        check("4m", "WallboardWait"),
    ]
    run_unit_test(tmp_path, {'wallboard_longest_wait_seconds{site="paris", queue="sales"}': "70 50 46 45 50"}, checks)


@pytest.mark.prometheus  # runs promtool
def test_min_traffic_gates_the_service_level(tmp_path: Path) -> None:
    """SL 50 % alarms only while the last 15 min hold >= 5 offered calls (a jump of 10 at 20m)."""
    write_rules(tmp_path, [{"id": "sl", "metric": "service_level_pct", "alarm": 70}])
    series = {
        'wallboard_service_level_percent{site="paris", queue="sales", window="interval"}': "50+0x45",
        'wallboard_calls_offered_total{site="paris", queue="sales"}': "0+0x19 10+0x25",
    }
    alarm = fired(
        queue_labels("sales", "sl", "alarm", "page", window="interval"),
        "SL 50.0 % in queue sales (alarm < 70 %)",
        "SL alarm in queue sales",
    )
    checks = [check("15m", "WallboardSl"), check("25m", "WallboardSl", alarm), check("40m", "WallboardSl")]
    run_unit_test(tmp_path, series, checks)


@pytest.mark.prometheus  # runs promtool
def test_site_default_excludes_queues_with_their_own_threshold(tmp_path: Path) -> None:
    """7 waiting everywhere: the site default (5) fires for support only; sales' own limit (10) does not fire."""
    rows = [
        {"id": "waiting", "metric": "waiting", "warn": 5},
        {"id": "waiting-sales", "metric": "waiting", "warn": 10, "scope": "queue:sales"},
    ]
    write_rules(tmp_path, rows)
    series = {
        'wallboard_calls_waiting{site="paris", queue="sales"}': "7 7",
        'wallboard_calls_waiting{site="paris", queue="support"}': "7 7",
        'wallboard_calls_waiting{site="lyon", queue="support"}': "7 7",
    }
    support = fired(
        queue_labels("support", "waiting", "warn", "warning"),
        "Calls waiting 7 in queue support (warn > 5)",
        "Calls waiting warn in queue support",
    )
    checks = [check("1m", "WallboardWaiting", support), check("1m", "WallboardWaitingSales")]
    run_unit_test(tmp_path, series, checks)


@pytest.mark.prometheus  # runs promtool
def test_active_hours_across_midnight(tmp_path: Path) -> None:
    """Thu 22:00-06:00 Paris (UTC+1 in 1970; 1970-01-01 was a Thursday): fires Thu 22:00 to Fri 05:59 only."""
    rows = [
        {"id": "night", "metric": "waiting", "alarm": 3, "active": [{"days": "thu", "start": "22:00", "end": "06:00"}]}
    ]
    write_rules(tmp_path, rows)
    alarm = fired(
        queue_labels("sales", "night", "alarm", "page"),
        "Calls waiting 5 in queue sales (alarm > 3)",
        "Calls waiting alarm in queue sales",
    )
    checks = [
        check("20h50m", "WallboardNight"),  # Thu 21:50 local
        check("21h", "WallboardNight", alarm),  # Thu 22:00
        check("28h50m", "WallboardNight", alarm),  # Fri 05:50
        check("29h", "WallboardNight"),  # Fri 06:00
        check("45h", "WallboardNight"),  # Fri 22:00: Friday is not listed
    ]
    run_unit_test(tmp_path, {'wallboard_calls_waiting{site="paris", queue="sales"}': "5+0x300"}, checks, step="10m")


@pytest.mark.prometheus  # runs promtool
def test_active_hours_follow_a_dst_change(tmp_path: Path) -> None:
    """Hobart left DST on 1970-03-07 16:00 UTC (1576 h): 08:00 local is 21:00 UTC before, 22:00 UTC after."""
    site = SiteConfig(site="paris", timezone="Australia/Hobart", queues={"sales": {}})
    rows = [{"id": "day", "metric": "waiting", "alarm": 3, "active": [{"start": "08:00", "end": "20:00"}]}]
    write_rules(tmp_path, rows, site)
    alarm = fired(
        queue_labels("sales", "day", "alarm", "page"),
        "Calls waiting 5 in queue sales (alarm > 3)",
        "Calls waiting alarm in queue sales",
    )
    checks = [
        check("1554h", "WallboardDay"),  # Mar 6 18:00 UTC = 05:00 local (UTC+11)
        check("1557h", "WallboardDay", alarm),  # Mar 6 21:00 UTC = 08:00 local (UTC+11)
        check("1581h", "WallboardDay"),  # Mar 7 21:00 UTC = 07:00 local (UTC+10)
        check("1584h", "WallboardDay", alarm),  # Mar 8 00:00 UTC = 10:00 local
    ]
    run_unit_test(tmp_path, {'wallboard_calls_waiting{site="paris", queue="sales"}': "5+0x530"}, checks, step="3h")


@pytest.mark.prometheus  # runs promtool
def test_rules_past_their_horizon_raise_an_outdated_alert(tmp_path: Path) -> None:
    """Exported with a 30-day horizon for a DST zone, the outdated alert fires after 720 h, not before."""
    site = SiteConfig(site="paris", timezone="Australia/Hobart", queues={"sales": {}})
    rows = [{"id": "day", "metric": "waiting", "alarm": 3, "active": [{"start": "08:00", "end": "20:00"}]}]
    write_rules(tmp_path, rows, site, horizon_days=30)
    outdated = {
        "exp_labels": {"site": "paris", "severity": "ticket"},
        "exp_annotations": {
            "summary": "Wallboard alert rules of site paris are outdated",
            "description": "Their active hours follow the UTC offsets of Australia/Hobart until 1970-01-31 00:00 UTC "
            "only; run `wallboard alerts export-rules` again.",
        },
    }
    checks = [check("714h", OUTDATED_ALERT), check("726h", OUTDATED_ALERT, outdated)]
    run_unit_test(tmp_path, {'wallboard_calls_waiting{site="paris", queue="sales"}': "0+0x125"}, checks, step="6h")


@pytest.mark.prometheus  # runs promtool
def test_pipeline_health_rules(tmp_path: Path) -> None:
    """Disconnected from 60 s with for 30 s: alarm at 90 s, not at 60 s; data age 40 s is fine, 70 s warns."""
    rows = [
        {"id": "conn", "metric": "collector_connected", "alarm": 1, "for_s": 30},
        {"id": "age", "metric": "data_age_s", "warn": 60},
    ]
    write_rules(tmp_path, rows)
    series = {
        'wallboard_collector_connected{site="paris", component="collector:ami"}': "1 1 0 0",
        'wallboard_last_event_age_seconds{site="paris", component="engine"}': "10 40 70 100",
    }
    down = fired(
        {
            "site": "paris",
            "component": "collector:ami",
            "job": "wallboard",
            "threshold": "conn",
            "level": "alarm",
            "severity": "page",
        },  # fmt: skip
        "Collector collector:ami of site paris disconnected (alarm for 30 s)",
        "Collector alarm in collector:ami of site paris",
    )
    stale = fired(
        {
            "site": "paris",
            "component": "engine",
            "job": "wallboard",
            "threshold": "age",
            "level": "warn",
            "severity": "warning",
        },  # fmt: skip
        "No event for 1m 10s in site paris (warn > 60 s)",
        "Data age warn in site paris",
    )
    checks = [
        check("60s", "WallboardConn"),
        check("90s", "WallboardConn", down),
        check("30s", "WallboardAge"),
        check("60s", "WallboardAge", stale),
    ]
    run_unit_test(tmp_path, series, checks, step="30s")


# -- pure parts -------------------------------------------------------------------------------------


def test_offset_changes_of_paris_in_2024() -> None:
    """Paris changes at 01:00 UTC on the last Sundays of March and October."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    changes = offset_changes(ZoneInfo("Europe/Paris"), start, start + timedelta(days=366))
    assert changes == [
        (start, timedelta(hours=1)),
        (datetime(2024, 3, 31, 1, 0, tzinfo=UTC), timedelta(hours=2)),
        (datetime(2024, 10, 27, 1, 0, tzinfo=UTC), timedelta(hours=1)),
    ]


def test_alert_names_are_camel_case_and_unique() -> None:
    """Ids map to Wallboard + CamelCase; ids that collide after conversion get a suffix."""
    thresholds = load_thresholds(
        [
            {"id": "sl-interval", "metric": "service_level_pct", "warn": 80},
            {"id": "sl_interval", "metric": "service_level_pct", "warn": 80},
        ]
    )
    assert alert_names(thresholds) == {"sl-interval": "WallboardSlInterval", "sl_interval": "WallboardSlInterval2"}


def test_for_durations_and_inhibition() -> None:
    """for_s 90 is written 1m30s; the inhibit rule lets an alarm mute its own warn only."""
    export = export_rules(
        load_thresholds([{"id": "w", "metric": "waiting", "warn": 3, "alarm": 6, "for_s": 90}]), PARIS, EPOCH
    )
    rules = export.document["groups"][0]["rules"]
    assert [rule["for"] for rule in rules] == ["1m30s", "1m30s"]
    assert [rule["labels"]["severity"] for rule in rules] == ["warning", "page"]
    (rule,) = inhibit_rules()
    assert "threshold" in rule["equal"] and rule["source_matchers"] == ['level="alarm"']


@pytest.mark.prometheus  # runs promtool
def test_team_adherence_rules_per_team(tmp_path: Path) -> None:
    """Team adherence 85 % everywhere: the site default (warn < 90) fires for sales only; care's own (< 70) does not."""
    site = SiteConfig(site="paris", timezone="Europe/Paris", teams={"care": {}, "sales": {}})
    rows = [
        {"id": "team-adh", "metric": "team_adherence_pct", "warn": 90},
        {"id": "care-adh", "metric": "team_adherence_pct", "warn": 70, "scope": "team:care"},
    ]
    write_rules(tmp_path, rows, site)
    series = {
        'wallboard_team_adherence_percent{site="paris", team="care"}': "85 85",
        'wallboard_team_adherence_percent{site="paris", team="sales"}': "85 85",
    }
    labels = {"site": "paris", "team": "sales", "job": "wallboard", "threshold": "team-adh", "level": "warn",
              "severity": "warning"}  # fmt: skip
    sales = fired(labels, "Team adherence 85.0 % in team sales (warn < 90 %)", "Team adherence warn in team sales")
    run_unit_test(tmp_path, series, [check("1m", "WallboardTeamAdh", sales), check("1m", "WallboardCareAdh")])


@pytest.mark.prometheus  # runs promtool
def test_campaign_drop_rate_rules_per_campaign(tmp_path: Path) -> None:
    """Drop rates 3.5 % (renew) and 2 % (winback): the site default (alarm > 3) pages for renew; winback's own
    stricter threshold (warn > 1.5) warns for winback and the default skips it."""
    site = SiteConfig(site="paris", timezone="Europe/Paris", campaigns={"renew": {}, "winback": {}})
    rows = [
        {"id": "drop", "metric": "campaign_drop_rate_pct", "alarm": 3},
        {"id": "winback-drop", "metric": "campaign_drop_rate_pct", "warn": 1.5, "scope": "campaign:winback"},
    ]
    write_rules(tmp_path, rows, site)
    series = {
        'wallboard_campaign_drop_rate_percent{site="paris", campaign="renew"}': "3.5 3.5",
        'wallboard_campaign_drop_rate_percent{site="paris", campaign="winback"}': "2 2",
    }
    renew = {"site": "paris", "campaign": "renew", "job": "wallboard", "threshold": "drop", "level": "alarm",
             "severity": "page"}  # fmt: skip
    winback = {**renew, "campaign": "winback", "threshold": "winback-drop", "level": "warn", "severity": "warning"}
    run_unit_test(
        tmp_path,
        series,
        [
            check("1m", "WallboardDrop", fired(renew, "Drop rate 3.5 % in campaign renew (alarm > 3 %)",
                                              "Drop rate alarm in campaign renew")),
            check("1m", "WallboardWinbackDrop", fired(winback, "Drop rate 2.0 % in campaign winback (warn > 1.5 %)",
                                                      "Drop rate warn in campaign winback")),
        ],
    )  # fmt: skip


def test_a_campaign_threshold_names_a_campaign_of_the_site_file() -> None:
    """A campaign scope the site file does not list is refused, naming the field and the known campaigns."""
    with pytest.raises(ValueError, match=r"thresholds\[0\]\.scope: campaign 'nope' is not in the site file"):
        SiteConfig(
            campaigns={"renew": {}},
            thresholds=[{"id": "d", "metric": "campaign_drop_rate_pct", "alarm": 3, "scope": "campaign:nope"}],
        )
