"""Browser-test fixtures shared by the TV and supervisor tests: Chromium (tests/support/browser.py), a store, a
display token, a publisher playing the runner (which, like the runner, publishes its last snapshot again every
second at the current time while the API runs: the pages judge the data's age), and the API with every page on a
port a test can stop and start again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from browser import chromium
from playwright.async_api import Browser

from dash_app.ops import mount_ops_page
from dash_app.supervisor import mount_supervisor_page
from dash_app.tv import mount_tv_page
from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.api.page import mount_board_page
from wallboard.config import Settings
from wallboard.core.deltas import diff
from wallboard.core.users import Passwords
from wallboard.store import Store, connect

SITE = "paris"
START_TIMEOUT_S = 15.0
REFRESH_S = 1.0
Serve = Callable[..., AbstractAsyncContextManager[str]]


class Publisher:
    """Plays the runner: writes the snapshot key, then publishes the delta from the previous publish."""

    def __init__(self, store: Store) -> None:
        self.store, self.seq = store, 0
        self.published: dict[str, Any] = {}
        self._one_at_a_time = asyncio.Lock()  # the test's publishes and the refreshes: each delta on the last

    async def publish(self, snap: dict[str, Any]) -> None:
        async with self._one_at_a_time:
            await self._publish(snap)

    async def _publish(self, snap: dict[str, Any]) -> None:
        self.seq += 1
        full = {**snap, "seq": self.seq, "stream_id": f"{self.seq}-0"}
        await self.store.events.save_state(json.dumps(full), None, full["stream_id"], self.seq)
        changes = diff(self.published, full)
        await self.store.events.publish_delta(
            {"type": "delta", "seq": self.seq, "base": self.seq - 1, "changes": changes}
        )
        self.published = full

    async def refresh(self) -> None:
        """Publish the last snapshot again at the current time, as the runner does every second (none yet: nothing)."""
        async with self._one_at_a_time:
            if self.published:
                kept = {key: value for key, value in self.published.items() if key not in ("seq", "stream_id")}
                await self._publish({**kept, "ts": datetime.now(UTC).isoformat()})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site=SITE)
    await client.aclose()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store.accounts, Hashing(Passwords.cheap()))


@pytest.fixture
async def token(accounts: Accounts) -> str:
    made, _ = await accounts.create_token(None, "tv", actor="test")  # bound to no board: opens every board
    return made


@pytest.fixture
def publisher(store: Store) -> Publisher:
    return Publisher(store)


async def _keep_fresh(publisher: Publisher) -> None:
    while True:
        await publisher.refresh()
        await asyncio.sleep(REFRESH_S)  # the runner's cadence, not a wait for something to settle


@pytest.fixture
def serve(store: Store, publisher: Publisher) -> Serve:
    """``async with serve(port) as base``: the API with the root, TV, ops and supervisor pages on ``port`` (fixed,
    so a test can stop it and start it again there); heartbeats every second, deltas every 50 ms. Meanwhile the
    publisher republishes its last snapshot every second with the current time, as the runner would. ``clock``: the
    API's clock (its heartbeats' stamps), the real one unless a test puts the API on a host whose clock is off."""

    @contextlib.asynccontextmanager
    async def running(port: int, clock: Callable[[], float] = time.time) -> AsyncIterator[str]:
        settings = Settings(site=SITE, ws_heartbeat_s=1.0)
        app = create_app(settings, store=store, clock=clock, ws_interval_s=0.05, passwords=Passwords.cheap())
        mount_board_page(app)
        mount_tv_page(app)
        mount_ops_page(app)
        mount_supervisor_page(app)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws_per_message_deflate=False
        )
        fresh = asyncio.create_task(_keep_fresh(publisher), name="publisher refresh")
        try:
            async with serving(config, start_timeout_s=START_TIMEOUT_S) as base:
                yield base
        finally:
            fresh.cancel()
            await asyncio.gather(fresh, return_exceptions=True)

    return running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
def port() -> int:
    """A free loopback port for ``serve``."""
    return free_port()
