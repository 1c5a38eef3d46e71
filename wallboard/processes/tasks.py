"""What every process does around its work: run named tasks together, stop on a signal, report health."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping

from wallboard.config import Settings
from wallboard.processes.engine import EngineRunner
from wallboard.store import Client, Store
from wallboard.store.sink import TRANSIENT

log = logging.getLogger(__name__)


async def report_health(
    store: Store,
    component: str,
    fields: Callable[[], Mapping[str, str | int | float]],
    *,
    interval_s: float = 1.0,
) -> None:
    """Write a component's health hash every ``interval_s`` until cancelled; Redis errors are retried."""
    while True:
        try:
            await store.events.write_health(component, fields())
        except TRANSIENT as exc:
            log.debug("cannot write %s health: %s", component, exc)
        await asyncio.sleep(interval_s)


async def run_all(tasks: Mapping[str, Awaitable[None]]) -> None:
    """Run named coroutines together; the first to fail stops the others and its error propagates."""
    running = {asyncio.ensure_future(coro): name for name, coro in tasks.items()}
    try:
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("%s stopped: %s", running[task], task.exception())
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def run_until_signalled(main: Awaitable[None]) -> int:
    """Run ``main`` until it ends or SIGINT/SIGTERM arrives (then cancel it cleanly); exit status 0."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        log.info("stopped by signal")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def site_store(settings: Settings, client: Client, site: str | None = None) -> Store:
    return Store(client, prefix=settings.key_prefix, site=site or settings.site, maxlen=settings.stream_maxlen)


async def close_runner(runner: EngineRunner, timeout_s: float = 5.0) -> None:
    """The engine's final publish and checkpoint (after its task stopped), bounded; a failure is logged."""
    try:
        async with asyncio.timeout(timeout_s):
            await runner.close()
    except TRANSIENT as exc:
        log.warning("engine stopped without a final checkpoint: %s", exc)
