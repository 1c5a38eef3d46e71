"""What the pages read from the snapshot exists in its schema (wallboard/core/schema.py, served at
/api/v1/snapshot/schema): the TV's tile paths (dash_app/layout.py's catalogue, which tv.js receives),
the fields the supervisor's grid reads from an agent, and the top-level keys both scripts read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dash_app.layout import KPIS, TEAM_KPIS
from wallboard.core.schema import snapshot_json_schema

ASSETS = Path(__file__).resolve().parents[2] / "dash_app" / "tv_assets"
SCHEMA = snapshot_json_schema()


def _resolve(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas ``node`` may be (following $ref, anyOf, oneOf, allOf; null left out)."""
    if "$ref" in node:
        return _resolve(SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return [found for choice in node[key] for found in _resolve(choice)]
    return [node]


def has_path(definition: str, path: tuple[str, ...]) -> bool:
    """True when every step of ``path`` is a declared property, starting from ``$defs[definition]``."""
    nodes = _resolve(SCHEMA["$defs"][definition])
    for step in path:
        nodes = [child for node in nodes if step in node.get("properties", {})
                 for child in _resolve(node["properties"][step])]  # fmt: skip
        if not nodes:
            return False
    return True


@pytest.mark.parametrize("kpi", KPIS, ids=lambda kpi: kpi.key)
def test_every_queue_tile_reads_a_declared_figure(kpi: Any) -> None:
    assert has_path("QueueFigures", kpi.path), kpi.path
    assert not kpi.other or has_path("QueueFigures", kpi.other), kpi.other


@pytest.mark.parametrize("kpi", TEAM_KPIS, ids=lambda kpi: kpi.key)
def test_every_team_tile_reads_a_declared_figure(kpi: Any) -> None:
    assert has_path("Team", kpi.path), kpi.path


def test_the_supervisor_grid_reads_declared_agent_fields() -> None:
    script = (ASSETS / "supervisor.js").read_text(encoding="utf-8")
    row = script[script.index("const rowOf") :]
    row = row[: row.index("\n    const ", 1)]
    fields = set(re.findall(r"\ba\.([a-z_]+)", row)) | set(re.findall(r"\ba\.adherence\.([a-z_]+)", row))
    assert {"state", "since", "time_in_state_s", "queues"} <= fields  # the reading is found at all
    agent = SCHEMA["$defs"]["Agent"]["properties"]
    adherence = _resolve(SCHEMA["$defs"]["AgentAdherence"])[0]["properties"]
    missing = sorted(field for field in fields if field not in agent and field not in adherence and field != "id")
    assert missing == [], f"supervisor.js reads agent fields the snapshot does not declare: {missing}"


def test_the_top_level_keys_the_scripts_read_are_declared() -> None:
    keys = set()
    for script in ASSETS.glob("*.js"):
        keys |= set(re.findall(r"\bsnap\.([a-z_]+)", script.read_text(encoding="utf-8")))
    assert {"queues", "agents", "alerts"} <= keys
    assert sorted(keys - set(SCHEMA["properties"])) == []
