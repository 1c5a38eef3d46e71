"""A real Prometheus server scrapes the API's /metrics and evaluates the wallboard series with PromQL."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_stack import running_api

from wallboard.core.deltas import diff
from wallboard.store import Store

pytestmark = pytest.mark.prometheus

WAIT_S = 30.0
QUERY_POLL_S = 0.1
QUEUE = 'queue="support",site="paris"'
SL_EXPR = (
    f"increase(wallboard_calls_answered_within_sl_total{{{QUEUE}}}[1m])"
    f" / increase(wallboard_calls_offered_total{{{QUEUE}}}[1m])"
)


def snapshot(seq: int, waiting: int, offered: int, within_sl: int) -> dict[str, Any]:
    total = {"offered": offered, "answered": within_sl, "answered_within_sl": within_sl}
    support = {"name": "support", "waiting": waiting, "agents": {}, "interval": {}, "day": {}, "total": total}
    return {"site": "paris", "seq": seq, "ts": "2024-01-01T09:00:00+00:00", "queues": {"support": support}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(found).is_file():
        pytest.fail("prometheus is not installed: run scripts/bootstrap (Debian package prometheus)")
    return found


class Prometheus:
    """A prometheus child process scraping one target every second, with its data in a temp dir."""

    def __init__(self, binary: str, directory: Path, target: str) -> None:
        self.port = free_port()
        config = directory / "prometheus.yml"
        scrape = {"job_name": "wallboard", "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
        config.write_text(json.dumps({"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]}))
        self.log = directory / "prometheus.log"
        argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}"]
        argv += [f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    async def query(self, http: httpx.AsyncClient, expr: str) -> float | None:
        """The value of an instant query with one series, None while there is none (or Prometheus starts)."""
        try:
            response = await http.get(f"{self.url}/api/v1/query", params={"query": expr})
        except httpx.TransportError:
            return None
        result = response.json().get("data", {}).get("result", []) if response.status_code == 200 else []
        return float(result[0]["value"][1]) if len(result) == 1 else None

    async def wait_for_value(self, http: httpx.AsyncClient, expr: str, expected: float) -> None:
        seen: float | None = None
        try:
            async with asyncio.timeout(WAIT_S):
                while seen is None or abs(seen - expected) > 1e-9:
                    if self.process.poll() is not None:
                        pytest.fail(f"prometheus exited: {self.log.read_text(errors='replace')[-2000:]}")
                    seen = await self.query(http, expr)
                    await asyncio.sleep(QUERY_POLL_S)  # between queries of a condition, bounded by WAIT_S
        except TimeoutError:
            pytest.fail(f"{expr} was {seen}, expected {expected}; log: {self.log.read_text(errors='replace')[-2000:]}")


@pytest.fixture
def started() -> Iterator[list[Prometheus]]:
    """Prometheus servers a test started; each is stopped at the end, whatever happened."""
    servers: list[Prometheus] = []
    yield servers
    for server in servers:
        server.stop()


async def publish(store: Store, current: dict[str, Any], base: dict[str, Any] | None) -> None:
    """Plays the runner: the snapshot key first, then the delta on the updates channel."""
    await store.events.save_state(json.dumps(current), None, f"{current['seq']}-0", current["seq"])
    changes = diff(base or {}, current)
    await store.events.publish_delta(
        {"type": "delta", "seq": current["seq"], "base": current["seq"] - 1, "changes": changes}
    )


async def test_prometheus_scrapes_and_evaluates_service_level(
    store: Store, prometheus_binary: str, started: list[Prometheus], tmp_path: Path
) -> None:
    """Prometheus reads calls waiting = 3; after 10 more offered of which 5 within SL, increase() gives SL 0.5."""
    first = snapshot(1, waiting=3, offered=10, within_sl=8)
    await publish(store, first, None)
    async with running_api(store, users=False, auth_enabled=True) as api, httpx.AsyncClient(timeout=5.0) as http:
        prometheus = Prometheus(prometheus_binary, tmp_path, api.base.removeprefix("http://"))
        started.append(prometheus)
        await prometheus.wait_for_value(http, f"wallboard_calls_waiting{{{QUEUE}}}", 3.0)
        await prometheus.wait_for_value(http, f"wallboard_calls_offered_total{{{QUEUE}}}", 10.0)
        await publish(store, snapshot(2, waiting=1, offered=20, within_sl=13), first)
        await prometheus.wait_for_value(http, f"wallboard_calls_offered_total{{{QUEUE}}}", 20.0)
        await prometheus.wait_for_value(http, SL_EXPR, 0.5)
        assert await prometheus.query(http, 'up{job="wallboard"}') == 1.0
