"""The CLI's `alerts export-rules`: the site file's thresholds become a rule file promtool accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from wallboard.cli import EXIT_OK, EXIT_USAGE, main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "thresholds.yaml"


def _site_file(tmp_path: Path, thresholds: list[dict[str, Any]]) -> Path:
    site = {
        "site": "paris",
        "timezone": "Europe/Paris",
        "queues": {"sales": {}, "support": {}},
        "teams": {"care-a": {}},
        "thresholds": thresholds,
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site), encoding="utf-8")
    return path


@pytest.mark.prometheus  # runs promtool
def test_example_thresholds_export_to_rules_promtool_accepts(tmp_path: Path) -> None:
    """Every example threshold Prometheus can express becomes a rule; the file passes promtool check rules."""
    thresholds = yaml.safe_load(EXAMPLE.read_text())["thresholds"]
    out = tmp_path / "rules.yml"
    assert (
        main(["alerts", "export-rules", "--site-file", str(_site_file(tmp_path, thresholds)), "--out", str(out)]) == 0
    )
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with the Debian prometheus package (scripts/bootstrap installs it)"
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = [rule for group in yaml.safe_load(out.read_text())["groups"] for rule in group["rules"]]
    thresholds_in_rules = {rule["labels"]["threshold"] for rule in rules if "threshold" in rule.get("labels", {})}
    assert "sl-interval" in thresholds_in_rules


def test_rules_go_to_stdout_without_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out the rule file is the whole of stdout."""
    path = _site_file(tmp_path, [{"id": "waiting", "metric": "waiting", "warn": 5, "alarm": 10}])
    assert main(["alerts", "export-rules", "--site-file", str(path)]) == EXIT_OK
    document = yaml.safe_load(capsys.readouterr().out)
    assert any(rule["labels"].get("threshold") == "waiting" for group in document["groups"] for rule in group["rules"])


def test_unknown_queue_in_a_threshold_is_a_clear_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A threshold scoped to a queue the site file does not list exits 2 naming the field and the queue."""
    path = _site_file(tmp_path, [{"id": "w", "metric": "waiting", "warn": 5, "scope": "queue:billing"}])
    assert main(["alerts", "export-rules", "--site-file", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "thresholds[0].scope" in err and "'billing'" in err


def test_warn_alarm_order_error_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An alarm level on the wrong side of warn (SL alarms below) exits 2 and says which field is wrong."""
    path = _site_file(tmp_path, [{"id": "sl", "metric": "service_level_pct", "warn": 70, "alarm": 80}])
    assert main(["alerts", "export-rules", "--site-file", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "alarm" in err and "80" in err
