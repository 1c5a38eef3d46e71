"""Every dashboard panel's PromQL runs against a real Prometheus scraping the demo stack and returns data.

The stack (tests/support/prom_stack.py) is the demo's pipeline at 300x real time with the opt-in
per-agent series and the demo's HTTP source (a web chat queue and the outbound campaign "renewals"), scraped
every second by the Debian ``prometheus`` with the generated recording rules loaded. Template variables are
substituted as Grafana would: ``$site`` the stack's site, ``$queue`` one real queue (the chat queue for the
first-response panels: a voice queue has none) and All (``.*``), ``$campaign`` the demo's campaign and All,
``$team``/``$agent`` All, ``$window`` every option, ``$__rate_interval`` 1m, ``$__range`` 1h. Variable queries
``label_values(m, l)`` run as ``count by (l) (m)``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prom_stack import PromQueryError, PromStack, prom_stack

from collectors.simulator.config import Indiscipline
from wallboard.grafana.build import RULES_FILE
from wallboard.grafana.dashboards import board_json, dashboards, iter_panels
from wallboard.grafana.rules import WINDOWS
from wallboard.processes.demo import DEMO_CAMPAIGN, DEMO_CHAT

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[3]
# 300x: the first breaks (a quarter into the agents' remaining shift, ~1.5 h simulated) come within ~10 s.
SPEED = 300.0
DATA_TIMEOUT_S = 60.0  # for all targets together: the recording rules and rarer series (pauses) need a few scrapes
POLL_S = 0.5
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
# Series only queues of some channels have, by the channel's queue in the stack: the first reply of a contact.
CHANNEL_SERIES = {"wallboard_first_response_seconds": DEMO_CHAT.queue}


@dataclass(frozen=True)
class Target:
    where: str  # "dashboard / panel / refId"
    expr: str
    instant: bool


def targets() -> list[Target]:
    found: list[Target] = []
    for stem, board in dashboards().items():
        for panel in iter_panels(board_json(board)):
            for target in panel.get("targets", []):
                where = f"{stem} / {panel['title']} / {target['refId']}"
                found.append(Target(where, target["expr"], bool(target.get("instant"))))
    return found


def variable_queries() -> set[str]:
    queries: set[str] = set()
    for board in dashboards().values():
        for variable in board_json(board)["templating"]["list"]:
            if variable["type"] == "query":
                queries.add(variable["query"])
    return queries


def substitute(expr: str, values: dict[str, str]) -> str:
    for name in sorted(values, key=len, reverse=True):  # $__rate_interval before $__range, $queue before $q
        expr = expr.replace(f"${name}", values[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def has_value(result: list[dict[str, Any]]) -> bool:
    """Some sample of an instant or range result is a finite number."""
    for series in result:
        samples = series.get("values") or [series.get("value")]
        if any(sample and math.isfinite(float(sample[1])) for sample in samples):
            return True
    return False


def one_queue(expr: str, voice: str) -> str:
    """The single queue a target is asked for: the chat queue for a chat-only series, else the voice queue."""
    return next((queue for series, queue in CHANNEL_SERIES.items() if series in expr), voice)


def choices(expr: str, name: str, one: str) -> tuple[str, ...]:
    """The values of ``$name`` a target is asked for: ``one``, and All (``.*``) where the variable is multi."""
    if f"${name}" not in expr:
        return ("",)
    return (one,) if f'{name}="${name}"' in expr else (one, ".*")  # single-value: no All


async def run(stack: PromStack, target: Target, expr: str, start: float) -> list[dict[str, Any]]:
    if target.instant:
        return await stack.query(expr)
    return await stack.query_range(expr, start, time.time(), 1.0)


async def test_every_panel_query_returns_data(tmp_path: Path, redis_url: str) -> None:
    """All targets of all dashboards, for every $window and for one queue and All: no error, finite data."""
    all_targets = targets()
    assert len(all_targets) >= 40
    assert any("wallboard_campaign_" in target.expr for target in all_targets)
    # Every agent takes one pause no policy maps, so the unmapped-activity panel has data early in the run.
    sloppy = Indiscipline(unscheduled_pause_p=1.0)
    rules = [ROOT / RULES_FILE]
    async with prom_stack(tmp_path, speed=SPEED, redis_url=redis_url, rule_files=rules, indiscipline=sloppy) as stack:
        start = time.time() - 2
        queue = next(name for name in sorted(stack.site.queues) if name != DEMO_CHAT.queue)  # a voice queue
        base = {"site": stack.site.site, "team": ".*", "agent": ".*", "__rate_interval": "1m", "__range": "1h"}
        runs = [
            (target, substitute(target.expr, {**base, "window": window, "queue": queues, "campaign": campaigns}))
            for target in all_targets
            for window in WINDOWS
            for queues in choices(target.expr, "queue", one_queue(target.expr, queue))
            for campaigns in choices(target.expr, "campaign", DEMO_CAMPAIGN.name)
        ]
        pending = {expr: target for target, expr in runs}  # the same expression is asked once
        errors: list[str] = []
        try:
            async with asyncio.timeout(DATA_TIMEOUT_S):
                while pending:
                    for expr, target in list(pending.items()):
                        try:
                            result = await run(stack, target, expr, start)
                        except PromQueryError as exc:
                            errors.append(f"{target.where}: {exc}")
                            del pending[expr]
                            continue
                        if has_value(result):
                            del pending[expr]
                    if pending:
                        await asyncio.sleep(POLL_S)  # between rounds of queries, bounded by DATA_TIMEOUT_S
        except TimeoutError:
            pass
        assert not errors, "\n".join(errors)
        no_data = [f"{target.where}: {expr}" for expr, target in pending.items()]
        assert not no_data, "no data after {} s:\n{}".format(DATA_TIMEOUT_S, "\n".join(no_data))


async def test_variable_queries_return_values(tmp_path: Path, redis_url: str) -> None:
    """Each template variable's label_values() query finds values (sites, channels, queues, teams, agents,
    campaigns)."""
    queries = variable_queries()
    assert len(queries) == 6
    async with prom_stack(tmp_path, speed=60, redis_url=redis_url) as stack:
        for query in sorted(queries):
            match = LABEL_VALUES.match(query)
            assert match is not None, query
            selector = substitute(match["selector"], {"site": stack.site.site, "team": ".*", "channel": ".*"})
            expr = f"count by ({match['label']}) ({selector})"
            rows = await stack.wait_for(expr, timeout=10)
            assert all(row["metric"].get(match["label"]) is not None for row in rows), (query, rows)
