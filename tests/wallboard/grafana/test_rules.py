"""The recording rules: valid for promtool, and their figures computed by hand from counter series (promtool test)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from wallboard.core.site import SlFormula
from wallboard.grafana.rules import (
    COUNTERS,
    RATIOS,
    SITE_COUNTERS,
    WINDOWS,
    RulesError,
    increase_name,
    ratio_name,
    recording_rules_yaml,
    rule_group,
)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
# Per minute, over 15 minutes (so each 15m increase is 15 x the rate):
# q1: offered 10, short abandons 2, abandoned 3, answered 7 of which 6 within SL, wait 140 s,
#     handled 7 with talk 1400 s, hold 70 s, wrap 280 s; missed rings 4, escalations 1, repeat callers 2.
#     SL = 90 / (150 - 30) = 75 %, abandon = (45 - 30) / (150 - 30) = 12.5 %, ASA = 2100 / 105 = 20 s,
#     AHT = (21000 + 1050 + 4200) / 105 = 250 s, repeat rate = 30 / 150 = 20 %.
# q2: offered 12, all answered within SL, wait 240 s, handled 12 with talk 2400 s, hold 200 s, wrap 400 s;
#     no missed ring, escalations 2, repeat callers 9.
#     SL = 100 %, abandon = 0 %, ASA = 3600 / 180 = 20 s, AHT = 45000 / 180 = 250 s, repeat rate = 135 / 180 = 75 %.
# Site: SL = (90 + 180) / (120 + 180) = 90 %, abandon = 15 / 300 = 5 %, ASA = 5700 / 285 = 20 s,
#     AHT = (26250 + 45000) / 285 = 250 s, repeat rate = (30 + 135) / 330 = 50 %; missed rings 60, escalations 45.
# q3: no call at all: no ratio sample ("no calls yet", as the engine's None).
RATES = {
    "q1": {"calls_offered": 10, "calls_short_abandoned": 2, "calls_abandoned": 3, "calls_answered": 7,
           "calls_answered_within_sl": 6, "wait_seconds_answered": 140, "calls_handled": 7, "talk_seconds": 1400,
           "hold_seconds": 70, "wrap_seconds": 280, "missed_rings": 4, "calls_escalated": 1, "calls_repeat": 2},
    "q2": {"calls_offered": 12, "calls_short_abandoned": 0, "calls_abandoned": 0, "calls_answered": 12,
           "calls_answered_within_sl": 12, "wait_seconds_answered": 240, "calls_handled": 12, "talk_seconds": 2400,
           "hold_seconds": 200, "wrap_seconds": 400, "missed_rings": 0, "calls_escalated": 2, "calls_repeat": 9},
    "q3": dict.fromkeys(COUNTERS, 0),
}  # fmt: skip


def promtool(*args: str, cwd: Path) -> str:
    done = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def input_series(by_queue: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    """Every counter of every queue, exported identically by two API replicas (a and b)."""
    series = []
    for queue, rates in by_queue.items():
        for counter, rate in rates.items():
            for instance in ("a", "b"):
                labels = f'site="paris", queue="{queue}", instance="{instance}", job="wallboard"'
                series.append({"series": f"wallboard_{counter}_total{{{labels}}}", "values": f"0+{rate}x20"})
    return series


def sample(name: str, value: float, queue: str | None) -> dict[str, Any]:
    labels = 'site="paris"' if queue is None else f'site="paris", queue="{queue}"'
    return {"labels": f"{name}{{{labels}}}", "value": value}


def run_test(
    tmp_path: Path,
    checks: list[dict[str, Any]],
    formula: SlFormula = "offered_minus_short",
    rates: dict[str, dict[str, float]] = RATES,
) -> None:
    (tmp_path / "rules.yml").write_text(recording_rules_yaml(formula), encoding="utf-8")
    document = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input_series(rates), "promql_expr_test": checks}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    promtool("test", "rules", "test.yml", cwd=tmp_path)


def check(name: str, *samples: dict[str, Any]) -> dict[str, Any]:
    return {"expr": name, "eval_time": "15m", "exp_samples": list(samples)}


@pytest.mark.prometheus  # runs promtool
def test_rule_file_passes_promtool_check(tmp_path: Path) -> None:
    """13 queue increases + 3 site increases + 5 queue ratios + 5 site ratios per window, 4 windows: 104 rules."""
    (tmp_path / "rules.yml").write_text(recording_rules_yaml(), encoding="utf-8")
    assert "SUCCESS: 104 rules found" in promtool("check", "rules", "rules.yml", cwd=tmp_path)


@pytest.mark.prometheus  # runs promtool
def test_queue_ratios_match_the_engine_definitions(tmp_path: Path) -> None:
    """Over 15m: q1 SL 75 %, abandon 12.5 %, ASA 20 s, AHT 250 s, repeat 20 %; q2 SL 100 %, abandon 0 %, repeat
    75 %; q3 (no calls) nothing."""
    figures = {
        "service_level_percent": (75, 100),
        "abandon_rate_percent": (12.5, 0),
        "asa_seconds": (20, 20),
        "aht_seconds": (250, 250),
        "repeat_rate_percent": (20, 75),
    }
    checks = []
    for ratio, (q1, q2) in figures.items():
        name = ratio_name(ratio, "15m")
        checks.append(check(name, sample(name, q1, "q1"), sample(name, q2, "q2")))
    offered = increase_name("calls_offered", "15m")
    checks.append(check(offered, sample(offered, 150, "q1"), sample(offered, 180, "q2"), sample(offered, 0, "q3")))
    run_test(tmp_path, checks)


@pytest.mark.prometheus  # runs promtool
def test_site_ratios_sum_the_queues(tmp_path: Path) -> None:
    """Site over 15m: SL 270/300 = 90 %, abandon 15/300 = 5 %, ASA 5700/285 = 20 s, AHT 71250/285 = 250 s,
    repeat 165/330 = 50 %."""
    figures = {
        "service_level_percent": 90,
        "abandon_rate_percent": 5,
        "asa_seconds": 20,
        "aht_seconds": 250,
        "repeat_rate_percent": 50,
    }
    checks = [
        check(ratio_name(r, "15m", "site"), sample(ratio_name(r, "15m", "site"), v, None)) for r, v in figures.items()
    ]
    run_test(tmp_path, checks)


@pytest.mark.prometheus  # runs promtool
def test_missed_rings_escalations_and_repeat_callers_are_counted_per_queue_and_site(tmp_path: Path) -> None:
    """Over 15m: missed rings q1 60, q2 0, q3 0, site 60; escalations 15, 30, 0, site 45; repeat callers 30, 135, 0,
    site 165 (the engine's repeat_callers; repeat rate = repeat_callers / offered)."""
    figures = {"missed_rings": (60, 0, 60), "calls_escalated": (15, 30, 45), "calls_repeat": (30, 135, 165)}
    checks = []
    for counter, (q1, q2, site) in figures.items():
        name, site_name = increase_name(counter, "15m"), increase_name(counter, "15m", "site")
        checks.append(check(name, sample(name, q1, "q1"), sample(name, q2, "q2"), sample(name, 0, "q3")))
        checks.append(check(site_name, sample(site_name, site, None)))
    run_test(tmp_path, checks)


@pytest.mark.prometheus  # runs promtool
def test_an_engine_without_the_new_counters_records_no_repeat_rate(tmp_path: Path) -> None:
    """Offered calls but no escalation, repeat or missed-ring counter exported (an older engine): no repeat rate
    and no site count, rather than a made-up 0 %; the other ratios are unchanged."""
    older = {"q1": {counter: rate for counter, rate in RATES["q1"].items() if counter not in SITE_COUNTERS}}
    repeat, sl = ratio_name("repeat_rate_percent", "15m"), ratio_name("service_level_percent", "15m")
    checks = [
        check(repeat),
        check(ratio_name("repeat_rate_percent", "15m", "site")),
        *(check(increase_name(counter, "15m", "site")) for counter in SITE_COUNTERS),
        check(sl, sample(sl, 75, "q1")),
    ]
    run_test(tmp_path, checks, rates=older)


@pytest.mark.prometheus  # runs promtool
def test_offered_formula_divides_by_all_offered_calls(tmp_path: Path) -> None:
    """With sl_formula "offered", q1's SL is 90 / 150 = 60 % (short abandons stay in the denominator)."""
    name = ratio_name("service_level_percent", "15m")
    run_test(tmp_path, [check(f'{name}{{queue="q1"}}', sample(name, 60, "q1"))], formula="offered")


def test_every_window_has_every_figure() -> None:
    """Each window's group records all counters' increases and every ratio at both levels."""
    for window in WINDOWS:
        records = {rule["record"] for rule in rule_group(window)["rules"]}
        assert {increase_name(counter, window) for counter in COUNTERS} <= records
        assert {increase_name(counter, window, "site") for counter in SITE_COUNTERS} <= records
        assert {ratio_name(ratio, window, level) for ratio in RATIOS for level in ("site_queue", "site")} <= records


def test_unknown_window_or_ratio_is_refused() -> None:
    """A window or ratio the rules do not record raises RulesError naming the choices."""
    with pytest.raises(RulesError, match="15m, 30m, 1h, 1d"):
        rule_group("5m")
    with pytest.raises(RulesError, match="unknown ratio"):
        ratio_name("occupancy", "15m")
    with pytest.raises(RulesError, match="no site increase"):
        increase_name("calls_offered", "15m", "site")
