"""The pure core stays pure: no I/O libraries and no clock reads (STYLE.md), checked by walking imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = [
    "wallboard/core/events.py",
    "wallboard/core/site.py",
    "wallboard/core/starter_site.py",
    "wallboard/core/agent_state.py",
    "wallboard/core/engine.py",
    "wallboard/core/queues.py",
    "wallboard/core/agents.py",
    "wallboard/core/snapshots.py",
    "wallboard/core/deltas.py",
    "wallboard/core/metrics.py",
    "wallboard/core/thresholds.py",
    "wallboard/core/alerts.py",
    "wallboard/core/alert_rules.py",
    "wallboard/core/alerting.py",
    "wallboard/core/history.py",
    "wallboard/core/adherence/policy.py",
    "wallboard/core/adherence/schedule.py",
    "wallboard/core/adherence/tracker.py",
    "dash_app/groups.py",
    "dash_app/grid.py",
    "dash_app/figures.py",
    "dash_app/layout.py",
    "collectors/ami/protocol.py",
    "collectors/ami/mapping.py",
    "collectors/queue_log/parser.py",
    "collectors/queue_log/records.py",
    "collectors/queue_log/csv_export.py",
    "collectors/queue_log/verbs.py",
    "collectors/queue_log/reorder.py",
    "wallboard/core/backoff.py",
    "collectors/simulator/model.py",
    "collectors/simulator/schedule.py",
    "collectors/simulator/config.py",
    "collectors/simulator/names.py",
    "collectors/simulator/views.py",
    "collectors/simulator/ami_format.py",
    "collectors/simulator/ami_frames.py",
]
FORBIDDEN_MODULES = {"asyncio", "socket", "redis", "fastapi", "starlette", "prometheus_client", "uvicorn", "websockets"}
# The engine and what it is made of: a collector imports none of them.
ENGINE_MODULES = (
    "wallboard.core.engine",
    "wallboard.core.queues",
    "wallboard.core.agents",
    "wallboard.core.snapshots",
    "wallboard.core.deltas",
    "wallboard.core.metrics",
)
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("time", "time"),
    ("time", "monotonic"),
    ("date", "today"),
}


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _clock_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in FORBIDDEN_CALLS:
                found.append(f"{owner.id}.{node.func.attr}() at line {node.lineno}")
    return found


@pytest.mark.parametrize("relpath", PURE)
def test_pure_module_has_no_io_and_no_clock(relpath: str) -> None:
    """A pure module imports no I/O library and never reads the clock."""
    path = ROOT / relpath
    if not path.exists():
        pytest.fail(f"{relpath} is listed as pure but does not exist")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not (_imports(tree) & FORBIDDEN_MODULES)
    assert _clock_calls(tree) == []


def test_collectors_never_import_the_engine() -> None:
    """Collectors know their wire protocol and the events, nothing about metrics."""
    for path in (ROOT / "collectors").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(ENGINE_MODULES), path
