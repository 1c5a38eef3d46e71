"""Waiting on a condition in tests: poll it (sync or async) until it holds, fail naming it on timeout.

The one place tests wait for something to happen; nothing sleeps to let things settle.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

POLL_S = 0.005  # how often the condition is asked again; the timeout is what bounds the wait


async def poll_until(predicate: Callable[[], Awaitable[Any] | Any], what: str, timeout: float) -> None:
    """Return once ``predicate()`` (awaited if it returns an awaitable) is truthy; fail after ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = predicate()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")
