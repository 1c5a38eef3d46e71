"""``wallboard collect ami|esl|queue-log|queue-log-db``: a collector process, PBX -> the site's Redis stream."""

from __future__ import annotations

import logging
from datetime import tzinfo
from pathlib import Path

from collectors.ami.client import AmiClient, AmiConfig
from collectors.esl.client import EslClient, EslConfig
from collectors.queue_log.collector import QueueLogCollector
from collectors.queue_log.db_collector import QueueLogDbCollector
from collectors.queue_log.table import QueueLogTable, database_url, source_name
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.config import Settings
from wallboard.processes.tasks import report_health, run_all, site_store
from wallboard.store.datadir import redis_for
from wallboard.store.sink import StreamSink

log = logging.getLogger(__name__)


def action_collector(kind: str, name: str | None) -> str:
    """The name a collector runs supervisor actions under (its consumer group, its directory): ``ami``, ``esl:east``."""
    return kind if not name else f"{kind}:{name}"


def component(kind: str, name: str | None) -> str:
    """The health hash name of a collector: ``collector:<kind>``, or ``collector:<kind>:<name>`` for one of several."""
    return f"collector:{kind}" if not name else f"collector:{kind}:{name}"


async def collect_ami(settings: Settings, config: AmiConfig, *, name: str | None = None) -> None:
    async with redis_for(settings, "wallboard-collector-ami") as (client, _):
        store = site_store(settings, client)
        sink = StreamSink(store)
        # supervisor actions (WALLBOARD_ACTIONS): executed on this connection, none unless enabled
        feed = (
            ActionFeed(AgentActions(store.actions), collector=action_collector("ami", name))
            if settings.actions
            else None
        )
        collector = AmiClient(config, sink, actions=feed, enabled=settings.actions)
        await run_all(
            {
                "AMI collector": collector.run(),
                "health": report_health(store, component("ami", name), collector.stats.as_fields),
            }
        )


async def collect_esl(settings: Settings, config: EslConfig, *, name: str | None = None) -> None:
    async with redis_for(settings, "wallboard-collector-esl") as (client, _):
        store = site_store(settings, client)
        # supervisor actions (WALLBOARD_ACTIONS): executed as bgapi commands on this connection, none unless enabled
        feed = (
            ActionFeed(AgentActions(store.actions), collector=action_collector("esl", name))
            if settings.actions
            else None
        )
        collector = EslClient(config, StreamSink(store), actions=feed, enabled=settings.actions)
        await run_all(
            {
                "ESL collector": collector.run(),
                "health": report_health(store, component("esl", name), collector.stats.as_fields),
            }
        )


async def collect_queue_log(settings: Settings, path: Path, *, from_start: bool, name: str | None = None) -> None:
    async with redis_for(settings, "wallboard-collector-queue-log") as (client, _):
        store = site_store(settings, client)
        collector = QueueLogCollector(
            path,
            StreamSink(store),
            site=settings.site,
            from_start=from_start,
            load_position=store.events.load_position,
            clock_tolerance_s=settings.clock_tolerance_s,
        )
        await run_all(
            {
                "queue_log collector": collector.run(),
                "health": report_health(store, component("queue_log", name), collector.stats.as_fields),
            }
        )


async def collect_queue_log_db(
    settings: Settings, url: str, *, table: str, tz: tzinfo, from_start: bool, name: str | None = None
) -> None:
    """Follow a queue_log table (Asterisk realtime); the password comes from the settings only."""
    password = settings.queue_log_db_password
    reader = QueueLogTable(database_url(url, password.get_secret_value() if password else None), table)
    async with redis_for(settings, "wallboard-collector-queue-log-db") as (client, _):
        store = site_store(settings, client)
        collector = QueueLogDbCollector(
            reader,
            StreamSink(store),
            store.events.load_position,
            source=source_name(url, table),
            tz=tz,
            site=settings.site,
            from_start=from_start,
        )
        await run_all(
            {
                "queue_log_db collector": collector.run(),
                "health": report_health(store, component("queue_log_db", name), collector.stats.as_fields),
            }
        )
