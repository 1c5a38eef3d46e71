"""The dashboard builders: the committed JSON is their output, and every dashboard is templated the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from wallboard.cli import main
from wallboard.grafana.build import DASHBOARDS_DIR, RULES_FILE, artefacts, stale, write
from wallboard.grafana.dashboards import BUILDERS, PER_AGENT_NOTE, board_json, dashboards, iter_panels
from wallboard.grafana.rules import WINDOWS, recording_rules

ROOT = Path(__file__).resolve().parents[3]
RECORDED = re.compile(r"\bsite(?:_queue)?:wallboard_\w+:\w+")


def boards() -> dict[str, dict[str, Any]]:
    return {stem: board_json(board) for stem, board in dashboards().items()}


def test_committed_files_are_the_builders_output() -> None:
    """grafana/ and deploy/prometheus/rules/recording.yml equal what `wallboard grafana build` writes."""
    assert stale(ROOT, artefacts()) == [], "run `wallboard grafana build` and commit the result"


def test_build_check_lists_stale_and_orphan_files_and_build_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check exits 1 naming an edited and a leftover file; build rewrites one, removes the other; --check is 0."""
    assert main(["grafana", "build", "--root", str(tmp_path)]) == 0
    edited = tmp_path / DASHBOARDS_DIR / "agents.json"
    edited.write_text("{}", encoding="utf-8")
    leftover = tmp_path / DASHBOARDS_DIR / "old-board.json"
    leftover.write_text("{}", encoding="utf-8")
    capsys.readouterr()
    assert main(["grafana", "build", "--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"stale: {DASHBOARDS_DIR}/agents.json" in err and f"stale: {DASHBOARDS_DIR}/old-board.json" in err
    assert write(tmp_path, artefacts()) == [f"{DASHBOARDS_DIR}/agents.json", f"{DASHBOARDS_DIR}/old-board.json"]
    assert not leftover.exists() and json.loads(edited.read_text(encoding="utf-8"))["uid"] == "wallboard-agents"
    assert main(["grafana", "build", "--root", str(tmp_path), "--check"]) == 0


def test_site_file_formula_goes_into_the_rules(tmp_path: Path) -> None:
    """--site-file with sl_formula "answered" writes rules dividing by answered calls."""
    site_file = tmp_path / "site.yaml"
    site_file.write_text("site: paris\nsl_formula: answered\n", encoding="utf-8")
    assert main(["grafana", "build", "--root", str(tmp_path), "--site-file", str(site_file)]) == 0
    rules = (tmp_path / RULES_FILE).read_text(encoding="utf-8")
    assert "# SL formula: answered" in rules
    assert (
        "wallboard_calls_answered_within_sl:increase15m / (site_queue:wallboard_calls_answered:increase15m > 0)"
        in rules
    )


def test_each_dashboard_has_a_unique_uid_and_numbered_panels() -> None:
    """Seven dashboards, uids wallboard-<stem>, panel ids 1..n without gaps, every panel titled and described."""
    found = boards()
    assert set(found) == set(BUILDERS) and len(found) == 7
    for stem, board in found.items():
        assert board["uid"] == f"wallboard-{stem}"
        panels = list(iter_panels(board))
        assert [panel["id"] for panel in panels] == list(range(1, len(panels) + 1))
        for panel in panels:
            assert panel["title"]
            if panel["type"] != "row":
                assert panel["description"], (stem, panel["title"])


def test_every_dashboard_is_templated_by_datasource_site_and_window() -> None:
    """Variables datasource, site, window (15m..1d) first; every target reads the datasource variable."""
    for stem, board in boards().items():
        variables = board["templating"]["list"]
        assert [v["name"] for v in variables[:3]] == ["datasource", "site", "window"], stem
        assert variables[2]["query"] == ",".join(WINDOWS)
        for panel in iter_panels(board):
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert 'site="$site"' in target["expr"] or target["expr"] == 'up{job="wallboard"}', target["expr"]


def test_queue_team_and_agent_variables_where_panels_use_them() -> None:
    """A dashboard whose queries use $queue, $team, $agent or $campaign defines that variable (queue detail: one
    queue)."""
    for stem, board in boards().items():
        names = {variable["name"]: variable for variable in board["templating"]["list"]}
        exprs = " ".join(target["expr"] for panel in iter_panels(board) for target in panel.get("targets", []))
        for name in ("queue", "team", "agent", "campaign"):
            assert (f"${name}" in exprs) == (name in names), (stem, name)
    detail = {variable["name"]: variable for variable in boards()["queue-detail"]["templating"]["list"]}
    assert detail["queue"].get("multi") is not True


def test_queue_variables_follow_the_channel_variable() -> None:
    """Where there is a queue variable, a channel variable precedes it and narrows it (wallboard_queue_info)."""
    for stem, board in boards().items():
        names = [variable["name"] for variable in board["templating"]["list"]]
        if "queue" not in names:
            continue
        assert names.index("channel") == names.index("queue") - 1, stem
        queue = board["templating"]["list"][names.index("queue")]
        assert queue["query"] == 'label_values(wallboard_queue_info{site="$site", channel=~"$channel"}, queue)'
        assert "allValue" not in queue or not queue["allValue"], stem  # All = the listed queues of the channels


def test_interval_panels_read_series_the_recording_rules_record() -> None:
    """Every recorded series a query names, for each $window, is a record of the rule file."""
    records = {rule["record"] for group in recording_rules()["groups"] for rule in group["rules"]}
    named = 0
    for board in boards().values():
        for panel in iter_panels(board):
            for target in panel.get("targets", []):
                for window in WINDOWS:
                    for name in RECORDED.findall(target["expr"].replace("$window", window)):
                        assert name in records, target["expr"]
                        named += 1
    assert named > 100


def test_per_agent_panels_say_they_need_the_opt_in_series() -> None:
    """Panels reading wallboard_agent_* series carry the WALLBOARD_METRICS_PER_AGENT note."""
    for board in boards().values():
        for panel in iter_panels(board):
            exprs = " ".join(target["expr"] for target in panel.get("targets", []))
            if "wallboard_agent_info" in exprs:
                assert PER_AGENT_NOTE in panel["description"], panel["title"]


def test_campaign_panels_judge_each_campaign_against_its_own_limit() -> None:
    """The campaign row repeats per campaign; its drop-rate panels take query B, the campaign's limit, as their
    threshold (red above it, a dashed line on the graph); every campaign query filters on $campaign."""
    board = boards()["outbound-campaigns"]
    panels = list(iter_panels(board))
    assert panels[0]["type"] == "row" and panels[0]["repeat"] == "campaign"
    judged = [panel for panel in panels if panel.get("transformations")]
    assert [panel["title"] for panel in judged] == ["Drop rate", "Drop rate against the limit"]
    for panel in judged:
        (transformation,) = panel["transformations"]
        assert transformation["id"] == "configFromData" and transformation["options"]["configRefId"] == "B"
        (mapping,) = transformation["options"]["mappings"]
        limit = next(target for target in panel["targets"] if target["refId"] == "B")
        assert "wallboard_campaign_drop_limit_percent" in limit["expr"]
        assert mapping["fieldName"] == limit["legendFormat"] and mapping["handlerKey"] == "threshold1"
        assert mapping["handlerArguments"]["threshold"]["color"] == "red"
    graph = judged[1]["fieldConfig"]["defaults"]
    assert graph["custom"]["thresholdsStyle"]["mode"] == "dashed" and graph["color"]["mode"] == "thresholds"
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert exprs and all('campaign=~"$campaign"' in expr for expr in exprs)
    families = {"drop_rate_percent", "drop_limit_percent", "over_limit", "connect_rate_percent", "dial_attempts_total"}
    families |= {"dial_results_total", "talk_seconds_total"}
    assert {family for family in families if any(f"wallboard_campaign_{family}" in expr for expr in exprs)} == families


def test_queue_dashboards_show_the_first_response_of_chat_queues() -> None:
    """Queues overview (per queue) and queue detail (its queue) plot the engine's first response, interval and day."""
    for stem, selector in (("queues-overview", 'queue=~"$queue"'), ("queue-detail", 'queue="$queue"')):
        (panel,) = [panel for panel in iter_panels(boards()[stem]) if panel["title"] == "First response time"]
        exprs = [target["expr"] for target in panel["targets"]]
        assert all("wallboard_first_response_seconds" in expr and selector in expr for expr in exprs), stem
        assert 'window="interval"' in exprs[0] and 'window="day"' in exprs[1], stem
