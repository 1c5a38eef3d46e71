"""The API process: ``create_app(settings)`` builds a FastAPI app that serves one or more sites from Redis.

Theory of operation
-------------------
An API process only reads Redis, so any number of them can serve a site behind a load balancer.
For each site it serves, the app's lifespan starts two tasks:

* ``SiteFeed.run`` subscribes to ``wb:{site}:updates`` *first*, then reads ``wb:{site}:snapshot``
  (so no delta published in between is lost), and then applies each delta in ``seq`` order with
  ``deltas.apply_diff``. A delta whose ``base`` is not the ``seq`` it holds means one was missed
  (or arrived before the first snapshot): it re-reads the snapshot key, which the runner writes
  before publishing. Deltas it already has (``seq`` not above its own) are skipped. When Redis
  goes away the feed marks itself unreachable (``/readyz`` answers 503), backs off, subscribes
  again and re-reads the snapshot.
* ``ws.Hub.run`` fans the feed's changes out to the site's websocket clients (see ``ws``).

``/metrics`` renders a ``WallboardCollector`` registered on the app's own ``CollectorRegistry``;
it reads the feeds' in-memory snapshots and the health hashes fetched for that scrape. Counters of
the API process itself (``wallboard_login_failures_total``) are registered on the same registry.

Users, sessions, display tokens and the audit trail are ``wallboard.admin.accounts.Accounts`` (one per
site); who may call what is ``wallboard.api.security``. The admin routes (``admin_routes``: login,
users, tokens, audit) and the thresholds routes (``threshold_routes``) are included here. The
thresholds are checked against the site file (``settings.site_file``) for the main site when there
is one, else against the queues and teams of the site's latest snapshot.

Shutdown cancels the tasks and, when the app opened the Redis client itself, closes it.
``uvicorn_config`` gives the server settings that match (the request and /ws bounds of ``wallboard.api.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client.registry import CollectorRegistry

import wallboard.store as store_module
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api.action_routes import build_action_router
from wallboard.api.admin_routes import build_admin_router
from wallboard.api.alert_routes import build_alert_router
from wallboard.api.auth import Authenticator, redact_server_logs
from wallboard.api.board_routes import build_board_router
from wallboard.api.call_routes import build_call_router
from wallboard.api.event_routes import build_event_router
from wallboard.api.exporter import WallboardCollector
from wallboard.api.feed import SiteFeed
from wallboard.api.history_routes import build_history_router
from wallboard.api.limits import RequestLimits, refused_counter, server_options
from wallboard.api.responses import validation_problems
from wallboard.api.routes import build_router
from wallboard.api.runtime import Runtime, ServedSite
from wallboard.api.schedule_routes import build_schedule_router
from wallboard.api.security import AccessWatch, login_failure_counter
from wallboard.api.threshold_routes import build_threshold_router
from wallboard.api.trend_routes import build_trend_router
from wallboard.api.ws import Hub
from wallboard.config import Settings
from wallboard.core.site import SiteConfig, SiteFileError, load_site_file
from wallboard.core.users import Passwords
from wallboard.errors import StartupError
from wallboard.store import Store

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


class ApiError(StartupError):
    """The app cannot be built as asked (for example: no Redis URL and no store)."""


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    sites: Sequence[str] = (),
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
    ws_interval_s: float = 0.25,
    passwords: Passwords | None = None,
    site_config: SiteConfig | None = None,
) -> FastAPI:
    """The API for ``settings.site`` (and any extra ``sites`` in the same Redis).

    ``site_config`` is the main site's configuration when the caller built it (the demo); otherwise
    it is read from ``settings.site_file``, if any.

    ``store`` is the site's Store on an open client (the caller keeps ownership of the client);
    without one, the lifespan connects to ``settings.redis_url`` and closes the client at shutdown.
    ``registry`` receives the Prometheus collector (a fresh one by default, never the global one).
    ``passwords`` hashes and verifies passwords (argon2 defaults; tests pass ``Passwords.cheap()``).
    Raises ApiError without Redis or when ``settings.site_file`` cannot be loaded.
    """
    if store is None and settings.redis_url is None:
        raise ApiError("no Redis to read: set WALLBOARD_REDIS_URL (or REDIS_URL), or pass store=")
    redact_server_logs()
    names = tuple(dict.fromkeys([store.site if store is not None else settings.site, *sites]))
    registry = registry or CollectorRegistry()
    runtime = Runtime(
        settings,
        names,
        Authenticator(settings),
        registry,
        clock,
        Hashing(passwords or Passwords()),
        login_failure_counter(registry),
        site_config or _site_config(settings, names[0]),
    )
    runtime.registry.register(WallboardCollector(runtime.readings, per_agent=settings.metrics_per_agent))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(runtime, store, ws_interval_s):
            yield

    app = FastAPI(title="wallboard", version="1", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, validation_problems)
    app.add_middleware(
        RequestLimits,  # body and query-string bounds (wallboard.api.limits)
        body_bytes=settings.max_body_bytes,
        query_bytes=settings.max_query_bytes,
        refused=refused_counter(registry),
    )
    app.include_router(build_router(runtime))
    app.include_router(build_admin_router(runtime))
    app.include_router(build_threshold_router(runtime))
    app.include_router(build_alert_router(runtime))  # /api/v1/alerts (wallboard.api.alert_routes)
    app.include_router(build_trend_router(runtime))  # /api/v1/trend (wallboard.api.trend_routes)
    app.include_router(build_board_router(runtime))  # /api/v1/boards (wallboard.api.board_routes)
    app.include_router(build_history_router(runtime))  # /api/v1/history (wallboard.api.history_routes)
    app.include_router(build_call_router(runtime))  # /api/v1/calls, the call log (wallboard.api.call_routes)
    app.include_router(build_schedule_router(runtime))  # /api/v1/schedules (wallboard.api.schedule_routes)
    app.include_router(build_event_router(runtime))  # /api/v1/events, any source's events (wallboard.api.event_routes)
    app.include_router(build_action_router(runtime))  # agent actions, /api/v1/actions (wallboard.api.action_routes)
    return app


def _site_config(settings: Settings, site: str) -> SiteConfig | None:
    """The site file of ``settings`` for the main site, if there is one (ApiError if it cannot be read)."""
    if settings.site_file is None or site != settings.site:
        return None
    try:
        return load_site_file(settings.site_file)
    except SiteFileError as exc:
        raise ApiError(f"cannot load the site file for the thresholds check: {exc}") from exc


@contextlib.asynccontextmanager
async def _running(runtime: Runtime, store: Store | None, ws_interval_s: float) -> AsyncIterator[None]:
    settings = runtime.settings
    client = store.client if store is not None else store_module.connect(settings.redis_url or "", client_name="api")
    prefix = store.keys.prefix if store is not None else settings.key_prefix
    tasks: list[asyncio.Task[None]] = []
    try:
        for name in runtime.site_names:
            site_store = store if store is not None and store.site == name else Store(client, prefix=prefix, site=name)
            served = _serve(site_store, runtime, ws_interval_s)
            runtime.sites[name] = served
            for coroutine, role in (
                (served.feed.run(), "feed"),
                (served.hub.run(), "hub"),
                (served.access.run(), "access"),
            ):
                task = asyncio.create_task(coroutine, name=f"{role}:{name}")
                task.add_done_callback(functools.partial(_on_task_end, served.feed))
                tasks.append(task)
        log.info("API serving site(s) %s", ", ".join(runtime.site_names))
        yield
    finally:
        await _cancel(tasks)
        runtime.sites.clear()
        if store is None:
            await client.aclose()
        log.info("API stopped")


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the site tasks and wait for them, at most STOP_TIMEOUT_S (a stuck Redis call cannot block shutdown)."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
    for task in pending:
        log.warning(
            "task %s did not stop within %.1f s of its cancellation; abandoning it", task.get_name(), STOP_TIMEOUT_S
        )


def _on_task_end(feed: SiteFeed, task: asyncio.Task[None]) -> None:
    """A site task that ends other than by cancellation is a bug: log it and make /readyz say so."""
    if task.cancelled() or task.exception() is None:
        return
    feed.failure = f"internal error: task {task.get_name()} stopped ({task.exception()!r})"
    log.error("site %s: %s", feed.site, feed.failure, exc_info=task.exception())


def _serve(site_store: Store, runtime: Runtime, ws_interval_s: float) -> ServedSite:
    settings = runtime.settings
    feed = SiteFeed(site_store)
    hub = Hub(
        feed,
        interval_s=ws_interval_s,
        heartbeat_s=settings.ws_heartbeat_s,
        queue_size=settings.ws_send_queue,
        clock=runtime.clock,
    )
    feed.on_change = hub.notify
    feed.messages.on_change = hub.board_message  # board messages pushed on /ws (wallboard.api.messages)
    failures = runtime.login_failures
    accounts = Accounts(
        site_store.accounts,
        runtime.hashing,
        runtime.login_policy,
        on_login_failure=lambda reason: failures.labels(site_store.site, reason).inc(),
    )
    return ServedSite(
        site_store.site, site_store, feed, hub, accounts, AccessWatch(site_store, accounts, runtime.auth, hub)
    )


def uvicorn_config(app: FastAPI, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """A uvicorn config for ``app``: host/port from settings, the bounds of ``limits.server_options``.

    permessage-deflate is off: the hub serialises a delta once for every client, but compression
    runs per connection (each has its own zlib context), which made it the largest cost of a
    1,000-client fan-out; wallboard deltas are a few kB. Pass ``ws_per_message_deflate=True`` to
    trade that CPU for bandwidth (clients over a slow WAN).
    """
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        **server_options(settings),  # bounds on request heads and websocket messages (wallboard.api.limits)
        "ws_per_message_deflate": False,
        "lifespan": "on",
        "log_config": None,
        "proxy_headers": False,  # the client address is wallboard.api.clients' to find, from trusted proxies only
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


@contextlib.asynccontextmanager
async def serving(config: uvicorn.Config, *, start_timeout_s: float = 10.0) -> AsyncIterator[str]:
    """Run a uvicorn server in the current event loop; yields its base URL once it listens (port 0 works).

    For embedding the API beside other tasks (the demo, tests). Raises ApiError if the server does not
    start within ``start_timeout_s``; on exit asks it to stop and waits for its shutdown.
    """
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(start_timeout_s):
                while not server.started and not task.done():
                    await asyncio.sleep(0.005)  # uvicorn exposes no start event: poll its flag
        if not server.started:
            raise ApiError(f"uvicorn did not start within {start_timeout_s} s on {config.host}:{config.port}")
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        yield f"http://{host}:{port}"
    finally:
        await _stop(server, task, start_timeout_s)


async def _stop(server: uvicorn.Server, task: asyncio.Task[None], timeout_s: float) -> None:
    """Graceful stop, then forced (open connections dropped), then cancelled: never waits forever."""
    server.should_exit = True
    for escalate in (lambda: setattr(server, "force_exit", True), task.cancel):
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if done:
            break
        log.warning("uvicorn did not stop within %.1f s; escalating", timeout_s)
        escalate()
    await asyncio.gather(task, return_exceptions=True)
