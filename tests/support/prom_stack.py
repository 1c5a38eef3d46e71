"""A real Prometheus scraping the wallboard API, for tests that run PromQL against live wallboard series.

``prometheus`` runs a ``prometheus`` child process (the Debian package) scraping one target's /metrics
every ``scrape_interval`` and evaluating ``rule_files`` as often; ``Prometheus`` asks it queries. A failed
query raises ``PromQueryError`` with Prometheus's own message.

``prom_stack`` puts it on top of what ``wallboard demo`` runs, in the test's event loop (tests/support/stack.py's
``live_stack``): the simulated PBX on loopback at ``speed`` x real time whose agents follow a generated
schedule, stored as the site's schedules unless ``schedule=False``, the AMI collector with its health, the
engine, the API with the opt-in per-agent series, on the Redis at ``redis_url``. It yields once Prometheus
holds samples of calls offered, so a query finds data at once::

    async with prom_stack(tmp_path, speed=60, redis_url=redis_url, rule_files=[rules]) as stack:
        rows = await stack.query('sum by (queue) (wallboard_calls_offered_total)')

``site_file`` overlays a site file on the simulator's own site: every top-level field the file sets
(interval_minutes, queues, teams, adherence...) replaces the simulator's; the site name stays the stack's
``site``. With ``http_source`` (the default, as the demo), the demo's web chat queue and outbound campaign are
posted to ``POST /api/v1/events`` by an ingest user at the same speed (``collectors.simulator.http_source``), so
chat queues (first response) and campaign series exist too. Everything stops on exit, Prometheus first,
whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from stack import LiveStack, live_stack, simulated_pbx

from collectors.simulator.config import Indiscipline, SchedulePolicy, build_config, site_config
from collectors.simulator.http_source import EventPoster, feed
from collectors.simulator.omnichannel import Omnichannel
from wallboard.core.site import SiteConfig, load_site_file
from wallboard.core.users import Role
from wallboard.processes.demo import DEMO_CAMPAIGN, DEMO_CHAT, DEMO_INGEST, omnichannel_site, store_demo_schedule
from wallboard.store import Store

READY_TIMEOUT_S = 30.0
POLL_S = 0.2  # between two questions to Prometheus while waiting on a condition (bounded by the timeout)
READY_EXPR = "sum(wallboard_calls_offered_total) > 0"
INGEST_PASSWORD = "prom-stack feeds"  # the HTTP source's ingest user (a throwaway Redis of the test)


class PromQueryError(Exception):
    """Prometheus answered a query with an error (bad PromQL, timeout) or could not be reached."""


@dataclass
class Prometheus:
    """A running prometheus: its URL, process and log, and PromQL helpers."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    http: httpx.AsyncClient

    async def query(self, expr: str, *, at: float | None = None) -> list[dict[str, Any]]:
        """The result of an instant query (``[{"metric": {...}, "value": [t, "v"]}, ...]``, or a scalar's pair)."""
        params = {"query": expr} if at is None else {"query": expr, "time": str(at)}
        return await self._get("/api/v1/query", params)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """The result of a range query (``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]``)."""
        params = {"query": expr, "start": str(start), "end": str(end), "step": str(step)}
        return await self._get("/api/v1/query_range", params)

    async def wait_for(
        self, expr: str, *, timeout: float = READY_TIMEOUT_S, alive: Callable[[], None] | None = None
    ) -> list[dict[str, Any]]:
        """Poll an instant query until it returns a non-empty result; PromQueryError after ``timeout`` s.

        ``alive`` is called before each question and raises if what Prometheus scrapes has stopped.
        """
        result: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(timeout):
                while not result:
                    self.check_alive()
                    if alive is not None:
                        alive()
                    with contextlib.suppress(PromQueryError):  # Prometheus may still be starting
                        result = await self.query(expr)
                    if not result:
                        await asyncio.sleep(POLL_S)
        except TimeoutError:
            raise PromQueryError(f"no result for {expr} after {timeout} s; log: {self.log_tail()}") from None
        return result

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise PromQueryError(f"prometheus exited with {self.process.returncode}: {self.log_tail()}")

    async def _get(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            response = await self.http.get(self.url + path, params=params)
        except httpx.TransportError as exc:
            raise PromQueryError(f"cannot reach prometheus at {self.url}: {exc!r}") from exc
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
async def prometheus(
    directory: Path, api_url: str, *, rule_files: Sequence[Path] = (), scrape_interval: str = "1s"
) -> AsyncIterator[Prometheus]:
    """A prometheus on a free loopback port scraping the API at ``api_url``, its data and log in ``directory``."""
    config = write_prometheus_config(directory, api_url.removeprefix("http://"), rule_files, scrape_interval)
    port = free_port()
    log_path = directory / "prometheus.log"
    argv = [prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}"]
    argv += [f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            yield Prometheus(f"http://127.0.0.1:{port}", process, log_path, http)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class PromStack:
    """The demo stack (``live``) scraped by ``prom``; queries fail once either has stopped."""

    live: LiveStack
    prom: Prometheus

    @property
    def site(self) -> SiteConfig:
        return self.live.site

    async def query(self, expr: str, *, at: float | None = None) -> list[dict[str, Any]]:
        return await self.prom.query(expr, at=at)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return await self.prom.query_range(expr, start, end, step)

    async def wait_for(self, expr: str, *, timeout: float = READY_TIMEOUT_S) -> list[dict[str, Any]]:
        return await self.prom.wait_for(expr, timeout=timeout, alive=self._check_live)

    def _check_live(self) -> None:
        for name in self.live.stopped():
            self.live.parts[name].result()  # raises what stopped the stack
            raise PromQueryError(f"the demo stack's {name} stopped")


def stack_site(simulated: SiteConfig, site_file: Path | None) -> SiteConfig:
    """The simulator's site with every top-level field ``site_file`` sets put over it (the name stays)."""
    if site_file is None:
        return simulated
    overlay = load_site_file(site_file)
    fields = {name: getattr(overlay, name) for name in overlay.model_fields_set if name != "site"}
    return simulated.model_copy(update=fields)


@contextlib.asynccontextmanager
async def prom_stack(
    tmp_path: Path,
    *,
    redis_url: str,
    speed: float = 60.0,
    site_file: Path | None = None,
    rule_files: Sequence[Path] = (),
    site: str = "demo",
    agents: int = 40,
    queues: int = 4,
    seed: int = 1,
    scrape_interval: str = "1s",
    ready_expr: str = READY_EXPR,
    schedule: bool = True,
    indiscipline: Indiscipline | None = None,
    http_source: bool = True,
) -> AsyncIterator[PromStack]:
    """The demo stack at ``speed`` x real time scraped by a real Prometheus; yields once it has samples."""
    directory = tmp_path / "prom-stack"
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    # As the demo does: play the simulated day from 10:00 whatever the clock says, so it is busy.
    offset = 10.0 - now.hour - now.minute / 60
    policy = SchedulePolicy(indiscipline=indiscipline or Indiscipline()) if schedule else None
    config = build_config(agents, queues, seed=seed, hour_offset=offset, schedule=policy)
    engine_site = stack_site(site_config(config, site=site), site_file)
    if http_source:  # as the demo: the chat queue and the campaign posted over HTTP are the site's
        engine_site = omnichannel_site(engine_site, DEMO_CHAT, DEMO_CAMPAIGN)

    async def store_schedule(store: Store) -> None:
        if config.schedule is not None:  # as the demo: the agents' schedule is the site's, for adherence
            await store_demo_schedule(store, config, engine_site, now, speed)

    async with (
        simulated_pbx(config, start=now, speed=speed) as pbx,
        live_stack(
            redis_url,
            engine_site,
            ami_port=pbx.port,
            settings={"metrics_per_agent": True},
            ws_interval_s=0.25,
            setup=store_schedule,
        ) as live,
        prometheus(directory, live.api_url, rule_files=rule_files, scrape_interval=scrape_interval) as prom,
    ):
        stack = PromStack(live, prom)
        if http_source:
            await live.accounts.add_user(DEMO_INGEST, Role.INGEST, INGEST_PASSWORD, actor="test")
            model = Omnichannel(DEMO_CHAT, DEMO_CAMPAIGN, seed=seed, start=now, speed=speed, site=site)
            poster = EventPoster(live.api_url, DEMO_INGEST, INGEST_PASSWORD, seed=seed)
            live.start("HTTP source", feed(model, poster, speed=speed))
        await stack.wait_for(ready_expr)
        yield stack
