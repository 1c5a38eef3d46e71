"""The TV's tile models: formats, levels from the snapshot's alerts, board selection, grid shape."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from dash_app.figures import alert_levels, fmt_count, fmt_duration, fmt_percent, fmt_ratio, worst
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
    assert (tile.queue, tile.level, tile.icon, tile.word) == ("support", "alarm", "■", "ALARM")
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
    assert [t.queue for t in tile_models(snapshot, {})] == ["a", "b", "c"]
    assert [t.queue for t in tile_models(snapshot, {"queues": ["c", "a"]})] == ["c", "a"]
    assert [t.queue for t in tile_models(snapshot, {"groups": ["x"]})] == ["b", "c"]
    pages = {"queues": ["a"], "pages": [{"queues": ["b"], "seconds": 10}, {"queues": ["c", "a"], "seconds": 5}]}
    assert [[t.queue for t in tile_models(snapshot, pages, page)] for page in range(3)] == [["b"], ["c", "a"], ["b"]]
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
    """layout.py and figures.py import only the standard library and each other (STYLE.md: pure modules)."""
    root = Path(__file__).resolve().parents[2] / "dash_app"
    allowed = {"__future__", "math", "collections", "dataclasses", "typing", "dash_app"}
    for name in ("layout.py", "figures.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert {module.split(".")[0] for module in imported} <= allowed, (name, imported)
