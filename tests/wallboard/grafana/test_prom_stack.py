"""The prom_stack fixture (tests/support/prom_stack.py): a real Prometheus scraping the demo stack."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prom_stack import PromQueryError, prom_stack

pytestmark = pytest.mark.prometheus


async def test_stack_yields_with_samples_and_reports_query_errors(tmp_path: Path, redis_url: str) -> None:
    """Once yielded, offered calls and per-agent series are in Prometheus; bad PromQL raises PromQueryError."""
    async with prom_stack(tmp_path, speed=60, redis_url=redis_url) as stack:
        offered = await stack.query("sum(wallboard_calls_offered_total)")
        assert float(offered[0]["value"][1]) > 0
        agents = await stack.wait_for('count(wallboard_agent_state{site="demo"} == 1)')
        assert float(agents[0]["value"][1]) >= 1
        now = time.time()
        ranged = await stack.query_range("up", now - 5, now, 1)
        assert ranged and ranged[0]["metric"]["job"] == "wallboard"
        with pytest.raises(PromQueryError, match="parse error"):
            await stack.query("sum(")
