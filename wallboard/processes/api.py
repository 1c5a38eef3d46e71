"""``wallboard api``: the API process (REST, /ws, /metrics and the pages the CLI mounts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from fastapi import FastAPI

from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.api.page import mount_board_page
from wallboard.config import Settings
from wallboard.processes.tasks import site_store
from wallboard.store.datadir import redis_for

log = logging.getLogger(__name__)

PageMount = Callable[[FastAPI], object]  # mounts a page (the Dash apps) on the API; given by the CLI


async def serve_api(settings: Settings, *, pages: Sequence[PageMount] = ()) -> None:
    async with redis_for(settings, "wallboard-api") as (client, _):
        app = create_app(settings, store=site_store(settings, client))
        mount_board_page(app)
        for mount in pages:
            mount(app)
        async with serving(uvicorn_config(app, settings)) as base:
            log.info("API listening on %s", base)
            await asyncio.Event().wait()
