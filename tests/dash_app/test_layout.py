"""The TV's tile models: formats, levels from the snapshot's alerts, board selection, grid shape."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from dash_app.figures import alert_levels, fmt_count, fmt_duration, fmt_percent, fmt_ratio, team_levels, worst
from dash_app.layout import KPI_KEYS, catalogue, grid_shape, tile_models
from wallboard.api.board_routes import TILE_KEYS


def queue(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "waiting": 3,
        "longest_wait_s": 187.9,
        "sl_target_pct": 80,
        "sl_threshold_s": 20,
        "group": "care",
        "interval": {"service_level_pct": 66.5, "asa_s": 12.2, "aht_s": 3723.0, "abandon_rate_pct": None},
        "day": {"service_level_pct": 91.49},
        "agents": {"available": 2, "on_call": 5, "wrap_up": 1, "paused": 0, "logged_in": 8},
        "required_agents": 9,
    }
    return base | extra


def alert(name: str, metric: str, level: str) -> dict[str, Any]:
    return {"target": {"kind": "queue", "name": name}, "metric": metric, "level": level}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (59.99, "59s"), (60, "1:00"), (187.9, "3:07"), (3723, "1:02:03"), (-4, "0s")],
)
def test_duration_is_truncated_like_a_clock(seconds: float | None, text: str) -> None:
    """Durations show whole seconds under a minute, else m:ss or h:mm:ss; missing is a dash."""
    assert fmt_duration(seconds) == text


def test_percent_count_and_ratio() -> None:
    """Percentages round half up; counts are integers; the ratio is 'needed / staffed'."""
    assert [fmt_percent(66.5), fmt_percent(91.49), fmt_percent(None), fmt_percent(float("nan"))] == [
        "67%",
        "91%",
        "—",
        "—",
    ]
    assert [fmt_count(3), fmt_count(True), fmt_count("3")] == ["3", "—", "—"]
    assert fmt_ratio(9, 8) == "9 / 8" and fmt_ratio(None, 8) == "— / 8"


def test_alert_levels_keep_the_worst_per_queue_and_metric() -> None:
    """Two alerts on one queue and metric give the worse level; non-queue targets are ignored."""
    alerts = [
        alert("a", "waiting", "warn"),
        alert("a", "waiting", "alarm"),
        alert("b", "asa_s", "warn"),
        {"target": {"kind": "team", "name": "a"}, "metric": "waiting", "level": "alarm"},
    ]
    assert alert_levels(alerts) == {("a", "waiting"): "alarm", ("b", "asa_s"): "warn"}
    assert worst([]) == "ok" and worst(["warn", "ok"]) == "warn"


def test_tile_models_of_the_standard_board() -> None:
    """Every figure of the queue, formatted, with the SL target in the label and levels from the alerts."""
    snapshot = {"queues": {"support": queue()}, "alerts": [alert("support", "service_level_pct", "alarm")]}
    (tile,) = tile_models(snapshot, {})
    shown = {kpi.key: (kpi.label, kpi.text, kpi.level) for kpi in tile.kpis}
    assert (tile.name, tile.level, tile.icon, tile.word) == ("support", "alarm", "■", "ALARM")
    assert shown["waiting"] == ("Waiting", "3", "ok")
    assert shown["longest_wait"] == ("Longest wait", "3:07", "ok")
    assert shown["sl_interval"] == ("SL now 80/20", "67%", "alarm")
    assert shown["sl_day"] == ("SL today 80/20", "91%", "ok")
    assert shown["asa"][1] == "12s" and shown["aht"][1] == "1:02:03" and shown["abandon"][1] == "—"
    assert [shown[k][1] for k in ("available", "on_call", "wrap_up", "paused", "logged_in")] == [
        "2",
        "5",
        "1",
        "0",
        "8",
    ]
    assert shown["needed"] == ("Needed / staffed", "9 / 8", "ok")


def test_board_picks_queues_groups_and_tiles() -> None:
    """A board's queues keep its order; groups filter; pages rotate; tiles keep catalogue order; no queues: all."""
    snapshot = {"queues": {"b": queue(group="x"), "a": queue(group="y"), "c": queue(group="x")}}
    assert [t.name for t in tile_models(snapshot, {})] == ["a", "b", "c"]
    assert [t.name for t in tile_models(snapshot, {"queues": ["c", "a"]})] == ["c", "a"]
    assert [t.name for t in tile_models(snapshot, {"groups": ["x"]})] == ["b", "c"]
    pages = {"queues": ["a"], "pages": [{"queues": ["b"], "seconds": 10}, {"queues": ["c", "a"], "seconds": 5}]}
    assert [[t.name for t in tile_models(snapshot, pages, page)] for page in range(3)] == [["b"], ["c", "a"], ["b"]]
    (tile,) = tile_models(snapshot, {"queues": ["a"], "tiles": ["aht", "waiting"]})
    assert [k.key for k in tile.kpis] == ["waiting", "aht"]


def test_a_queue_missing_from_the_snapshot_shows_dashes() -> None:
    """A board queue the snapshot lacks still gets its tile, every figure a dash."""
    (tile,) = tile_models({"queues": {}}, {"queues": ["ghost"], "tiles": ["waiting", "needed"]})
    assert [k.text for k in tile.kpis] == ["—", "— / —"]
    assert tile.kpis[0].label == "Waiting"


@pytest.mark.parametrize(("tiles", "shape"), [(1, (1, 1)), (2, (2, 1)), (4, (2, 2)), (6, (3, 2)), (12, (4, 3))])
def test_grid_shape(tiles: int, shape: tuple[int, int]) -> None:
    """Tiles fill a 16:9 screen: 6 tiles are 3 columns by 2 rows, 12 are 4 by 3."""
    assert grid_shape(tiles) == shape


def test_catalogue_and_api_agree() -> None:
    """The API accepts exactly the figure keys the layout knows, and the catalogue lists them all."""
    assert TILE_KEYS == KPI_KEYS
    assert [k["key"] for k in catalogue()["kpis"]] == list(KPI_KEYS)


def test_layout_and_figures_are_pure() -> None:
    """layout.py, figures.py and groups.py import only the standard library and each other (STYLE.md: pure modules)."""
    root = Path(__file__).resolve().parents[2] / "dash_app"
    allowed = {"__future__", "math", "collections", "dataclasses", "typing", "dash_app"}
    for name in ("layout.py", "figures.py", "groups.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert {module.split(".")[0] for module in imported} <= allowed, (name, imported)


def team_snapshot(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Teams blue (with adherence figures, the shape the engine publishes) and red (no schedule: adherence None)."""
    adherence = {"adherence_pct": 92.5, "conformance_pct": 98.04, "scheduled_now": 12, "out_now": 3, "minutes_late": 14}
    return {
        "queues": {"a": queue()},
        "agents": {"x1": {"team": "blue"}, "x2": {"team": "red"}, "x3": {"team": None}},
        "teams": {"red": {"adherence": None}, "blue": {"name": "Blue team", "adherence": adherence}},
        "alerts": alerts,
    }


def test_team_adherence_tiles_follow_the_queue_tiles() -> None:
    """team_tiles adds one tile per team (every team, sorted, when the board names none) after the queues: adherence
    93 %, 3 out of 12 scheduled, conformance 98 %, 14 minutes late; a team without schedule shows dashes."""
    tiles = tile_models(team_snapshot([]), {"team_tiles": True, "tiles": ["waiting"]})
    assert [(t.kind, t.name, t.title) for t in tiles] == [
        ("queue", "a", "a"),
        ("team", "blue", "Adherence · Blue team"),
        ("team", "red", "Adherence · red"),
    ]
    assert [(k.key, k.label, k.text) for k in tiles[1].kpis] == [
        ("adherence", "Adherence", "93%"),
        ("out_now", "Out now / scheduled", "3 / 12"),
        ("conformance", "Conformance", "98%"),
        ("minutes_late", "Minutes late", "14"),
    ]
    assert [k.text for k in tiles[2].kpis] == ["—", "— / —", "—", "—"]
    named = tile_models(team_snapshot([]), {"queues": ["a"], "team_tiles": True, "teams": ["red"]})
    assert [t.name for t in named] == ["a", "red"]


def test_team_tile_level_from_adherence_alerts_on_the_team_or_its_agents() -> None:
    """An adherence alarm on agent x1 (team blue) and a team adherence warn on team red colour those tiles; an agent
    of no team and other metrics colour nothing."""
    alerts = [
        {"target": {"kind": "agent", "name": "x1"}, "metric": "adherence_pct", "level": "alarm"},
        {"target": {"kind": "team", "name": "red"}, "metric": "team_adherence_pct", "level": "warn"},
        {"target": {"kind": "agent", "name": "x3"}, "metric": "adherence_pct", "level": "alarm"},
        {"target": {"kind": "agent", "name": "x2"}, "metric": "agent_pause_s", "level": "alarm"},
    ]
    _, blue, red = tile_models(team_snapshot(alerts), {"team_tiles": True, "tiles": ["waiting"]})
    assert (blue.level, blue.icon, blue.word) == ("alarm", "■", "ALARM")
    assert [k.level for k in blue.kpis] == ["alarm", "alarm", "ok", "ok"]
    assert red.level == "warn"
    assert team_levels(alerts, team_snapshot(alerts)) == {
        ("blue", "adherence_pct"): "alarm",
        ("red", "adherence_pct"): "warn",
        ("red", "agent_pause_s"): "alarm",
    }


def test_group_tiles_with_named_groups_and_queues() -> None:
    """group_tiles with groups and queues named: those groups combined, then those queues one by one; pages
    ignore group_tiles."""
    snapshot = {"queues": {"b": queue(group="x"), "a": queue(group="y"), "c": queue(group=None)}}
    board = {"group_tiles": True, "groups": ["y"], "queues": ["b"]}
    assert [(t.kind, t.name) for t in tile_models(snapshot, board)] == [("group", "y"), ("queue", "b")]
    every = tile_models(snapshot, {"group_tiles": True})
    assert [(t.kind, t.name) for t in every] == [("group", "x"), ("group", "y"), ("queue", "c")]
    paged = {"group_tiles": True, "pages": [{"queues": ["a"], "seconds": 10}]}
    assert [(t.kind, t.name) for t in tile_models(snapshot, paged)] == [("queue", "a")]
