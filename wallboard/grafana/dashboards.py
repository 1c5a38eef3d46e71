"""The history dashboards as code: grafana-foundation-sdk builders, rendered to the JSON in grafana/dashboards/.

Theory of operation
-------------------
``dashboards()`` returns one builder per dashboard (keyed by its file stem); ``render(builder)``
gives the dashboard JSON as committed (sorted keys, 2-space indent, trailing newline), so a
rebuild is byte-for-byte stable and a test can say when a committed file is stale.

The dashboards are built by subject from the shared variables, panels and query fragments of
``wallboard.grafana.panels`` (which says what every dashboard has in common):

- ``queues``    "Queues overview" and "Queue detail"
- ``agents``    "Agents" and "Adherence" (per-agent panels need WALLBOARD_METRICS_PER_AGENT=true)
- ``staffing``  "Staffing" (staffed against the Erlang C requirement)
- ``pipeline``  "Pipeline health" (collectors, engine lag, data age)
- ``campaigns`` "Outbound campaigns" (``campaign`` variable, drop rate against its legal limit)

This module only lists them (``BUILDERS``, in the order Grafana's folder shows them) and renders them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from wallboard.grafana.agents import adherence, agents
from wallboard.grafana.campaigns import outbound_campaigns
from wallboard.grafana.panels import PER_AGENT_NOTE, PROVISIONED_DATASOURCE_UID
from wallboard.grafana.pipeline import pipeline_health
from wallboard.grafana.queues import queue_detail, queues_overview
from wallboard.grafana.staffing import staffing

__all__ = [
    "BUILDERS",
    "FOLDER",
    "PER_AGENT_NOTE",
    "PROVISIONED_DATASOURCE_UID",
    "board_json",
    "dashboards",
    "iter_panels",
    "render",
]

FOLDER = "Wallboard"

BUILDERS: dict[str, Callable[[], Dashboard]] = {
    "queues-overview": queues_overview,
    "queue-detail": queue_detail,
    "agents": agents,
    "adherence": adherence,
    "staffing": staffing,
    "pipeline-health": pipeline_health,
    "outbound-campaigns": outbound_campaigns,
}


def dashboards() -> dict[str, Dashboard]:
    """Every dashboard's builder by file stem (grafana/dashboards/<stem>.json)."""
    return {stem: build() for stem, build in BUILDERS.items()}


def board_json(board: Dashboard) -> dict[str, Any]:
    """The dashboard as JSON data, its panels numbered 1, 2, ... in layout order (rows included)."""
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(iter_panels(data), start=1):
        panel["id"] = number
    return data


def iter_panels(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard's JSON, rows and the panels inside collapsed rows included."""
    for panel in data.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def render(board: Dashboard) -> str:
    """The dashboard's JSON as committed: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(board_json(board), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
