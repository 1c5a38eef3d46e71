"""``wallboard collect ami|queue-log``: a collector process, PBX -> the site's Redis stream."""

from __future__ import annotations

import logging
from pathlib import Path

from collectors.ami.client import AmiClient, AmiConfig
from collectors.queue_log.collector import QueueLogCollector
from wallboard.config import Settings
from wallboard.processes.tasks import report_health, run_all, site_store
from wallboard.store.datadir import redis_for
from wallboard.store.sink import StreamSink

log = logging.getLogger(__name__)


async def collect_ami(settings: Settings, config: AmiConfig) -> None:
    async with redis_for(settings, "wallboard-collector-ami") as (client, _):
        store = site_store(settings, client)
        sink = StreamSink(store)
        collector = AmiClient(config, sink)
        await run_all(
            {
                "AMI collector": collector.run(),
                "health": report_health(store, "collector:ami", collector.stats.as_fields),
            }
        )


async def collect_queue_log(settings: Settings, path: Path, *, from_start: bool) -> None:
    async with redis_for(settings, "wallboard-collector-queue-log") as (client, _):
        store = site_store(settings, client)
        collector = QueueLogCollector(path, StreamSink(store), site=settings.site, from_start=from_start)
        await run_all(
            {
                "queue_log collector": collector.run(),
                "health": report_health(store, "collector:queue_log", collector.stats.as_fields),
            }
        )
