"""A real Prometheus scraping the demo stack, for tests that run PromQL against live wallboard series.

``prom_stack`` runs, in the test's event loop, what ``wallboard demo`` runs (the simulated PBX on
loopback at ``speed`` x real time whose agents follow a generated schedule, stored as the site's
schedules unless ``schedule=False``, the AMI collector with its health, the engine, the API on port 0
with the opt-in per-agent series), plus a ``prometheus`` child process (the Debian package) that
scrapes the API's /metrics every ``scrape_interval`` and evaluates ``rule_files`` as often. It yields
once Prometheus holds samples of calls offered, so a query finds data at once::

    async with prom_stack(tmp_path, speed=60, rule_files=[rules]) as stack:
        rows = await stack.query('sum by (queue) (wallboard_calls_offered_total)')

Redis is the one at ``redis_url`` (the conftest's ``redis_url`` fixture) or, without one, an
embedded Redis started and stopped here. ``site_file`` overlays a site file on the simulator's own
site: every top-level field the file sets (interval_minutes, queues, teams, adherence...) replaces
the simulator's; the site name stays the stack's ``site``. Everything stops on exit, Prometheus
first, whatever happened; a failed query raises ``PromQueryError`` with Prometheus's own message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from collectors.ami.client import AmiClient, AmiConfig
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import Indiscipline, SchedulePolicy, build_config, site_config
from collectors.simulator.model import Simulation
from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.config import Settings
from wallboard.core.site import SiteConfig, load_site_file
from wallboard.processes.demo import store_demo_schedule
from wallboard.processes.engine import EngineRunner
from wallboard.processes.tasks import close_runner, report_health, run_all
from wallboard.store import Store
from wallboard.store.datadir import redis_for
from wallboard.store.sink import StreamSink

READY_TIMEOUT_S = 30.0
POLL_S = 0.2  # between two questions to Prometheus while waiting on a condition (bounded by the timeout)
READY_EXPR = "sum(wallboard_calls_offered_total) > 0"


class PromQueryError(Exception):
    """Prometheus answered a query with an error (bad PromQL, timeout) or could not be reached."""


@dataclass
class PromStack:
    """The running stack: URLs, the site as the engine sees it, and PromQL helpers."""

    prom_url: str
    api_url: str
    redis_url: str
    site: SiteConfig
    store: Store
    runner: EngineRunner
    prometheus: subprocess.Popen[bytes]
    log_path: Path
    parts: asyncio.Task[None] = field(repr=False)  # collector, its health, engine: done only if one failed
    http: httpx.AsyncClient = field(repr=False)

    async def query(self, expr: str, *, at: float | None = None) -> list[dict[str, Any]]:
        """The result of an instant query (``[{"metric": {...}, "value": [t, "v"]}, ...]``, or a scalar's pair)."""
        params = {"query": expr} if at is None else {"query": expr, "time": str(at)}
        return await self._get("/api/v1/query", params)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """The result of a range query (``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]``)."""
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        return await self._get("/api/v1/query_range", params)

    async def wait_for(self, expr: str, *, timeout: float = READY_TIMEOUT_S) -> list[dict[str, Any]]:
        """Poll an instant query until it returns a non-empty result; PromQueryError after ``timeout`` s."""
        result: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(timeout):
                while not result:
                    self._check_alive()
                    with contextlib.suppress(PromQueryError):  # Prometheus may still be starting
                        result = await self.query(expr)
                    if not result:
                        await asyncio.sleep(POLL_S)
        except TimeoutError:
            raise PromQueryError(f"no result for {expr} after {timeout} s; log: {self.log_tail()}") from None
        return result

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def _check_alive(self) -> None:
        if self.parts.done():
            self.parts.result()  # raises what stopped the stack
            raise PromQueryError("the demo stack stopped")
        if self.prometheus.poll() is not None:
            raise PromQueryError(f"prometheus exited with {self.prometheus.returncode}: {self.log_tail()}")

    async def _get(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            response = await self.http.get(self.prom_url + path, params=params)
        except httpx.TransportError as exc:
            raise PromQueryError(f"cannot reach prometheus at {self.prom_url}: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise PromQueryError(f"{params['query']}: HTTP {response.status_code}, not JSON") from exc
        if body.get("status") != "success":
            raise PromQueryError(f"{params['query']}: {body.get('errorType')}: {body.get('error')}")
        if body.get("warnings"):
            raise PromQueryError(f"{params['query']}: warnings {body['warnings']}")
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(found).is_file():
        raise PromQueryError("prometheus is not installed: run scripts/bootstrap (Debian package prometheus)")
    return found


def stack_site(simulated: SiteConfig, site_file: Path | None) -> SiteConfig:
    """The simulator's site with every top-level field ``site_file`` sets put over it (the name stays)."""
    if site_file is None:
        return simulated
    overlay = load_site_file(site_file)
    fields = {name: getattr(overlay, name) for name in overlay.model_fields_set if name != "site"}
    return simulated.model_copy(update=fields)


def write_prometheus_config(directory: Path, target: str, rule_files: Sequence[Path], scrape_interval: str) -> Path:
    """A prometheus.yml scraping ``target`` (host:port) as job "wallboard" and loading ``rule_files``."""
    scrape = {"job_name": "wallboard", "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(path.resolve()) for path in rule_files],
        "scrape_configs": [scrape],
    }
    path = directory / "prometheus.yml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


@contextlib.asynccontextmanager
async def _prometheus(directory: Path, config: Path, port: int) -> AsyncIterator[tuple[subprocess.Popen[bytes], Path]]:
    log_path = directory / "prometheus.log"
    argv = [prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}"]
    argv += [f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process, log_path
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.asynccontextmanager
async def prom_stack(
    tmp_path: Path,
    *,
    speed: float = 60.0,
    site_file: Path | None = None,
    redis_url: str | None = None,
    rule_files: Sequence[Path] = (),
    site: str = "demo",
    agents: int = 40,
    queues: int = 4,
    seed: int = 1,
    scrape_interval: str = "1s",
    ready_expr: str = READY_EXPR,
    schedule: bool = True,
    indiscipline: Indiscipline | None = None,
) -> AsyncIterator[PromStack]:
    """The demo stack at ``speed`` x real time scraped by a real Prometheus; yields once it has samples."""
    directory = tmp_path / "prom-stack"
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings(_env={}, site=site, redis_url=redis_url, host="127.0.0.1", port=0, metrics_per_agent=True)
    now = datetime.now(UTC)
    # As the demo does: play the simulated day from 10:00 whatever the clock says, so it is busy.
    offset = 10.0 - now.hour - now.minute / 60
    policy = SchedulePolicy(indiscipline=indiscipline or Indiscipline()) if schedule else None
    config = build_config(agents, queues, seed=seed, hour_offset=offset, schedule=policy)
    engine_site = stack_site(site_config(config, site=site), site_file)
    secret = secrets.token_urlsafe(16)
    async with redis_for(settings, "wallboard-prom-stack") as (client, url):
        settings = settings.model_copy(update={"redis_url": url})
        store = Store(client, prefix=settings.key_prefix, site=site, maxlen=settings.stream_maxlen)
        if config.schedule is not None:  # as the demo: the agents' schedule is the site's, for adherence
            await store_demo_schedule(store, config, engine_site, now, speed)
        server = SimulatedAmiServer(
            Simulation(config, seed, start=now), username="wallboard", secret=secret, speed=speed
        )
        await server.start("127.0.0.1", 0)
        try:
            ami = AmiClient(AmiConfig("127.0.0.1", server.port, "wallboard", secret, site=site), StreamSink(store))
            runner = EngineRunner(settings, store, engine_site)
            app = create_app(settings, store=store, site_config=engine_site)
            async with serving(uvicorn_config(app, settings)) as api_url:
                parts = asyncio.create_task(
                    run_all(
                        {
                            "AMI collector": ami.run(),
                            "collector health": report_health(store, "collector:ami", ami.stats.as_fields),
                            "engine": runner.run(),
                        }
                    ),
                    name="prom-stack",
                )
                try:
                    target = api_url.removeprefix("http://")
                    port = free_port()
                    prom_config = write_prometheus_config(directory, target, rule_files, scrape_interval)
                    async with (
                        _prometheus(directory, prom_config, port) as (process, log_path),
                        httpx.AsyncClient(timeout=10.0) as http,
                    ):
                        stack = PromStack(
                            f"http://127.0.0.1:{port}",
                            api_url,
                            url,
                            engine_site,
                            store,
                            runner,
                            process,
                            log_path,
                            parts,
                            http,
                        )
                        await stack.wait_for(ready_expr)
                        yield stack
                finally:
                    parts.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await parts
                    await close_runner(runner)
        finally:
            await server.close()
