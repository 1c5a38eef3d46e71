"""``wallboard demo``: the whole pipeline on one machine, on a simulated contact center.

``demo`` runs every part in one process (plus the embedded Redis child: a throwaway one with an
append-only file in a temporary directory, or with ``--data-dir`` that directory's, where its display
token, its admin and the day's figures outlive a restart). Its simulated agents follow a
generated schedule, with some indiscipline, and that schedule is stored first as the site's schedules
(``store_demo_schedule``), so the engine tracks real adherence exceptions. It announces the page's
URL only once the API holds a snapshot (so the first page load and ``/ws`` have data), and on
stop (SIGINT/SIGTERM cancel it) it closes the parts in reverse order: the engine writes its final
checkpoint while Redis is still up, then the API, the simulator and the embedded Redis stop.

The embedded Redis the demo started is supervised (``keep_redis``): killed, it is started again on its files
within a few seconds, and every part reconnects and resyncs. A Redis the demo joined (another process's, in
``--data-dir``) is that process's to supervise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from collectors.ami.client import AmiClient, AmiConfig
from collectors.esl.client import EslClient, EslConfig
from collectors.simulator.ami_server import SimulatedAmiServer
from collectors.simulator.config import SchedulePolicy, SimConfig, build_config, site_config
from collectors.simulator.esl_format import agent_name, queue_name
from collectors.simulator.esl_server import SimulatedEslServer
from collectors.simulator.http_source import EventPoster, feed
from collectors.simulator.model import Simulation
from collectors.simulator.names import agent_names
from collectors.simulator.omnichannel import CampaignPolicy, ChatPolicy, Omnichannel
from collectors.simulator.schedule import on_wall_clock, schedule_around
from wallboard.admin.accounts import Accounts, Hashing, audit_entry, create_display_token, token_digest
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.admin.schedules import replace_schedule
from wallboard.api import create_app
from wallboard.api.app import serving, uvicorn_config
from wallboard.api.page import mount_board_page
from wallboard.api.runtime import Runtime
from wallboard.config import Settings
from wallboard.core.actions import FAMILIES
from wallboard.core.adherence.schedule import ScheduleError
from wallboard.core.boards import board_fields
from wallboard.core.site import SiteConfig
from wallboard.core.users import Passwords, Role
from wallboard.processes.api import PageMount
from wallboard.processes.engine import EngineRunner
from wallboard.processes.notify import Notifier
from wallboard.processes.tasks import close_runner, report_health, run_all, site_store
from wallboard.store import Client, Store, connect
from wallboard.store.datadir import RedisLink, redis_link
from wallboard.store.embedded import EmbeddedRedis, EmbeddedRedisError
from wallboard.store.sink import StreamSink

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 30.0


READY_POLL_S = 0.05
REDIS_WATCH_S = 1.0
REDIS_MISSES = 3  # consecutive unanswered PINGs before the demo's Redis is started again


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 1.0
    seed: int = 1
    agents: int = 40
    queues: int = 4
    schedule: SchedulePolicy | None = SchedulePolicy()  # None: random breaks and no stored schedule
    pbx: str = "asterisk"  # "freeswitch": the simulator speaks ESL (mod_callcenter) and the ESL collector reads it
    http_source: bool = True  # a chat queue and an outbound campaign posted to POST /api/v1/events (http_source)


async def demo(
    settings: Settings,
    options: DemoOptions,
    *,
    announce: Callable[[str], None],
    inform: Callable[[str], None] = lambda line: None,
    pages: Sequence[PageMount] = (),
) -> None:
    """The whole pipeline on one machine: simulator on loopback, AMI (or ESL: ``options.pbx``) collector, Redis,
    engine, API."""
    # Its own Redis unless told otherwise: a throwaway one (append-only file in a temporary directory), or
    # with --data-dir that directory's, where the token, the users and the day's figures outlive a restart.
    with redis_link(settings, throwaway=settings.data_dir is None) as link:
        if link.shared is not None:
            inform(f"redis: {link.url}" + (" (throwaway: gone when the demo stops)" if link.throwaway else ""))
        client = connect(link.url, client_name="wallboard-demo")
        try:
            # every supervisor action, on Asterisk (AMI) and FreeSWITCH (ESL bgapi) alike
            demo_settings = settings.model_copy(update={"redis_url": link.url, "actions": FAMILIES})
            await _demo_on(demo_settings, link, client, options, inform, announce, pages)
        finally:
            await client.aclose()


async def _demo_on(
    settings: Settings,
    link: RedisLink,
    client: Client,
    options: DemoOptions,
    inform: Callable[[str], None],
    announce: Callable[[str], None],
    pages: Sequence[PageMount],
) -> None:
    secret = secrets.token_urlsafe(16)
    now = datetime.now(UTC)
    # Play the simulated day from 10:00 whatever the clock says, so a demo at night is busy too.
    config = build_config(
        options.agents,
        options.queues,
        seed=options.seed,
        hour_offset=10.0 - now.hour - now.minute / 60,
        schedule=options.schedule,
    )
    site = site_config(config, site=settings.site)
    site = SiteConfig.model_validate({**site.model_dump(exclude_unset=True), "thresholds": DEMO_THRESHOLDS})
    if options.pbx == "freeswitch":
        site = freeswitch_site(site, config)
    if options.http_source:
        site = omnichannel_site(site, DEMO_CHAT, DEMO_CAMPAIGN)
    store = site_store(settings, client)
    simulation = Simulation(config, options.seed, start=now)
    if config.schedule is not None:
        await store_demo_schedule(store, config, site, now, options.speed)
    server: SimulatedAmiServer | SimulatedEslServer
    if options.pbx == "freeswitch":
        secret = settings.esl_password.get_secret_value() if settings.esl_password else secret
        server = SimulatedEslServer(simulation, password=secret, speed=options.speed)
    else:
        server = SimulatedAmiServer(simulation, username="wallboard", secret=secret, speed=options.speed)
    await server.start("127.0.0.1", 0)
    try:
        collector: AmiClient | EslClient
        if isinstance(server, SimulatedEslServer):
            collector = EslClient(
                EslConfig("127.0.0.1", server.port, secret, site=settings.site),
                StreamSink(store),
                actions=ActionFeed(AgentActions(store.actions), collector="esl"),
                enabled=settings.actions,
            )
        else:
            collector = AmiClient(
                AmiConfig("127.0.0.1", server.port, "wallboard", secret, site=settings.site),
                StreamSink(store),
                actions=ActionFeed(AgentActions(store.actions)),
                enabled=settings.actions,
            )
        runner = EngineRunner(settings, store, site)
        app = create_app(settings, store=store, site_config=site)
        mount_board_page(app)
        for mount in pages:
            mount(app)
        await _demo_boards(store, now)
        # An admin only in the demo's own Redis, never in a Redis given by URL.
        extension = DEMO_FS_EXTENSION if options.pbx == "freeswitch" else DEMO_EXTENSION
        token, password = await _demo_credentials(store, link, extension)
        feeds = await _ingest_user(store, link) if options.http_source else None
        async with serving(uvicorn_config(app, settings)) as base:
            if password is not None:
                kept = (
                    "kept with its data directory"
                    if link.shared is not None and not link.throwaway
                    else "this demo only"
                )
                inform(f"ops page: {base}/ops/ (user {DEMO_ADMIN!r}, password {password!r}; {kept})")
            inform(f"supervisor view: {base}/supervisor/?token={token}")
            inform(f"TV board with team adherence tiles: {base}/tv/adherence?token={token}")
            kind = "esl" if isinstance(collector, EslClient) else "ami"
            parts = {
                f"{kind.upper()} collector": collector.run(),
                "collector health": report_health(store, f"collector:{kind}", collector.stats.as_fields),
                "engine": runner.run(),
                "announcement": _announce_when_ready(app, settings.site, f"{base}/?token={token}", announce),
            }
            if link.shared is not None and link.shared.server is not None:
                parts["embedded Redis"] = keep_redis(link.shared.server)
            if settings.webhook_urls:  # alert notifications only when receivers are configured
                parts["notifier"] = Notifier.from_settings(settings, store).run()
            if feeds is not None:
                inform(f"events API: POST {base}/api/v1/events as user {DEMO_INGEST!r}, password {feeds!r} "
                       "(the simulated web chat and dialer post there too)")  # fmt: skip
                model = Omnichannel(DEMO_CHAT, DEMO_CAMPAIGN, seed=options.seed, start=now, speed=options.speed,
                                    site=settings.site)  # fmt: skip
                poster = EventPoster(base, DEMO_INGEST, feeds, seed=options.seed)
                parts["HTTP source"] = feed(model, poster, speed=options.speed)
            elif options.http_source:
                inform("no simulated web chat or dialer: the demo adds no users to a Redis given by URL")
            try:
                await run_all(parts)
            finally:
                await close_runner(runner)
    finally:
        await server.close()


# The demo's web chat: four agents of its own, three chats each; a chat is answered in time within a minute.
DEMO_CHAT = ChatPolicy(queue="chat", agents=("chat01", "chat02", "chat03", "chat04"), capacity=3)
DEMO_CAMPAIGN = CampaignPolicy(name="renewals")
CHAT_SL_THRESHOLD_S = 60.0


def omnichannel_site(site: SiteConfig, chat: ChatPolicy, campaign: CampaignPolicy) -> SiteConfig:
    """The demo's site with the contacts posted over HTTP: the chat queue (channel chat, "Web chat"), its agents
    with their chat capacity and names unlike the voice agents', and the campaign judged by Ofcom's rule."""
    data = site.model_dump(exclude_unset=True)
    data["queues"] = {**data.get("queues", {}), chat.queue: {"channel": "chat", "display_name": "Web chat",
                                                             "sl_threshold_s": CHAT_SL_THRESHOLD_S}}  # fmt: skip
    taken = {entry.get("name") for entry in data.get("agents", {}).values()}
    drawn = agent_names(len(taken) + len(chat.agents), random.Random("chat"))
    names = [name for name in drawn if name not in taken][: len(chat.agents)]
    data["agents"] = {
        **data.get("agents", {}),
        **{
            agent: {"name": name, "capacity": {"chat": chat.capacity}}
            for agent, name in zip(chat.agents, names, strict=True)
        },
    }
    data["campaigns"] = {**data.get("campaigns", {}), campaign.name: {"display_name": "Renewals", "regulator": "ofcom"}}
    return SiteConfig.model_validate(data)


def freeswitch_site(site: SiteConfig, config: SimConfig) -> SiteConfig:
    """The demo's site as FreeSWITCH names it: queues ``support@default`` (shown as ``support``, as on the Asterisk
    demo), each agent also known as its mod_callcenter name (``1007@default``), so the ESL collector's events land on
    the same queues and agents."""
    data = site.model_dump(exclude_unset=True)
    data["queues"] = {
        queue_name(name): {"display_name": name, **value} for name, value in data.get("queues", {}).items()
    }
    for spec in config.agents:
        entry = data["agents"][spec.agent_id]
        entry["aliases"] = [*entry.get("aliases", ()), agent_name(spec.agent_id)]
    return SiteConfig.model_validate(data)


async def keep_redis(server: EmbeddedRedis, *, every_s: float = REDIS_WATCH_S, misses: int = REDIS_MISSES) -> None:
    """Watch the demo's own Redis; after ``misses`` unanswered PINGs ``every_s`` apart, start it again on its files
    (the throwaway one keeps an append-only file in its temporary directory for this). Every part reconnects to
    the same socket by itself and resyncs: the collector, the engine (from its book in memory) and the API's feed.
    """
    missed = 0
    while True:
        await asyncio.sleep(every_s)
        missed = 0 if await asyncio.to_thread(server.answers) else missed + 1
        if missed < misses:
            continue
        server.respawn()  # here, in the main thread: the new server still dies with the demo
        try:
            await asyncio.to_thread(server.wait_ready)
        except EmbeddedRedisError as exc:  # logged, tried again after the next misses
            log.error("the demo's Redis did not come back: %s", exc)
        missed = 0


DEMO_ADMIN = "demo"
DEMO_EXTENSION = "PJSIP/2001"  # the demo admin's phone: the simulator answers any PJSIP channel
DEMO_FS_EXTENSION = "user/1000"  # on the FreeSWITCH demo: the simulated switch answers any user/ dial string
# The demo's floor is judged all day (no quiet hours): tiles turn amber and red as the simulated day gets busy.


DEMO_THRESHOLDS: list[dict[str, object]] = [
    {"id": "sl-interval", "metric": "service_level_pct", "warn": 80, "alarm": 70, "clear": 82, "for_s": 60},
    {"id": "longest-wait", "metric": "longest_wait_s", "warn": 60, "alarm": 120, "clear": 45, "for_s": 10},
    {"id": "calls-waiting", "metric": "waiting", "warn": 4, "alarm": 8, "clear": 2, "for_s": 20},
    {"id": "abandon-rate", "metric": "abandon_rate_pct", "warn": 5, "alarm": 10, "clear": 4, "for_s": 60},
    {"id": "break-too-long", "metric": "agent_pause_s", "warn": 900, "alarm": 1800},
    {"id": "call-too-long", "metric": "agent_on_call_s", "warn": 900, "alarm": 1800},
    {"id": "team-adherence", "metric": "team_adherence_pct", "warn": 90, "alarm": 80, "for_s": 60},
]
# The boards the demo stores. default: every queue and the campaign; six tiles with all fourteen figures are more
# than a portrait TV holds at readable sizes (tests/dash_app/test_tv_readable.py), so it shows ten (not AHT, logged
# in, ringing, wrap-up). /tv/adherence adds a tile per team.
DEMO_BOARDS: dict[str, dict[str, Any]] = {
    "default": {
        "campaign_tiles": True,
        "tiles": [
            "waiting",
            "longest_wait",
            "sl_interval",
            "sl_day",
            "asa",
            "abandon",
            "needed",
            "available",
            "on_call",
            "paused",
        ],
    },  # fmt: skip
    "adherence": {
        "title": "Queues and adherence",
        "team_tiles": True,
        "tiles": ["waiting", "longest_wait", "sl_interval", "available"],
    },
}


async def _demo_boards(store: Store, now: datetime) -> None:
    """Store the demo's boards (version 1, actor "demo"), as an ops user would through PUT /api/v1/boards."""
    for name, body in DEMO_BOARDS.items():
        board = {**board_fields(), **body, "version": 1, "updated_by": DEMO_ADMIN, "updated_ts": now.isoformat()}
        await store.boards.write_board(
            name, board, audit_entry(now, DEMO_ADMIN, "board.update", f"board:{name}", None, board)
        )


async def store_demo_schedule(
    store: Store, config: SimConfig, site: SiteConfig, start: datetime, speed: float
) -> dict[str, Any] | None:
    """Store the schedule the demo's agents follow (the days around ``start``, on the wall clock of a run at
    ``speed``) as the next version of the site's schedules, actor "demo", so the engine tracks their adherence.

    Returns the stored document, or None (logged) when the schedule cannot be written as local rows.
    """
    schedule = on_wall_clock(schedule_around(config, site, start), start, speed, config.timezone)
    try:
        stored = (await replace_schedule(store, schedule, site, actor=DEMO_ADMIN, at=datetime.now(UTC))).document
    except ScheduleError as exc:
        log.warning("the demo's schedule is not stored: %s", exc)
        return None
    log.info("stored the demo's schedule as version %d: %d agents, %d slots", stored["version"],
             len(schedule.agents()), len(stored["slots"]))  # fmt: skip
    return stored


DEMO_CREDENTIALS = "demo-credentials.json"
DEMO_INGEST = "feeds"  # the ingest user the simulated web chat and dialer post as


async def _ingest_user(store: Store, link: RedisLink) -> str | None:
    """The password of the demo's ingest user, new on every start (None in a Redis given by URL: no users there).

    Not kept with the credentials: only the demo's own poster needs it, and it is shown at every start.
    """
    if link.shared is None:
        return None
    password = secrets.token_urlsafe(12)
    accounts = Accounts(store.accounts, Hashing(Passwords()))
    if await accounts.get_user(DEMO_INGEST) is None:
        await accounts.add_user(DEMO_INGEST, Role.INGEST, password, actor="demo")
    else:
        await accounts.update_user(DEMO_INGEST, actor="demo", role=Role.INGEST, password=password)
    return password


async def _demo_credentials(store: Store, link: RedisLink, extension: str) -> tuple[str, str | None]:
    """The demo's display token and its admin's password (None in a Redis given by URL: no admin there).

    The token is bound to no board, so it opens every board the demo stores (``default``, ``adherence``).

    In a data directory they are kept in ``demo-credentials.json`` (mode 0600) beside the Redis, and reused
    while Redis still knows them, so an open TV keeps working across a restart of the demo.
    """
    if link.shared is None:
        return await create_display_token(store.accounts, board=None, label="demo"), None
    kept = _read_credentials(link)
    token = kept.get("token")
    info = await store.accounts.get_token(token_digest(token)) if isinstance(token, str) else None
    if not isinstance(token, str) or info is None or info.get("board") is not None:
        token = await create_display_token(store.accounts, board=None, label="demo")
    password = kept.get("password")
    accounts = Accounts(store.accounts, Hashing(Passwords()))
    if await accounts.get_user(DEMO_ADMIN) is None:
        password = secrets.token_urlsafe(12)
        await accounts.add_user(DEMO_ADMIN, Role.ADMIN, password, actor="demo")
        # the demo shows every action: its admin may listen in, from a simulated supervisor's phone
        await accounts.update_user(DEMO_ADMIN, actor="demo", may_monitor=True)
        await accounts.set_extension(DEMO_ADMIN, extension, actor="demo")
    elif not isinstance(password, str):
        password = secrets.token_urlsafe(12)
        await accounts.update_user(DEMO_ADMIN, actor="demo", password=password)
    _write_credentials(link, {"token": token, "password": password})
    return token, password


def _read_credentials(link: RedisLink) -> dict[str, Any]:
    if link.shared is None or link.shared.redis_dir is None:
        return {}
    try:
        kept = json.loads((link.shared.redis_dir.parent / DEMO_CREDENTIALS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def _write_credentials(link: RedisLink, credentials: Mapping[str, str]) -> None:
    if link.shared is None or link.shared.redis_dir is None:
        return  # a throwaway Redis: nothing to keep
    path = link.shared.redis_dir.parent / DEMO_CREDENTIALS
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(credentials, out)


async def _announce_when_ready(app: FastAPI, site: str, url: str, announce: Callable[[str], None]) -> None:
    """Announce ``url`` once the API holds a snapshot of ``site`` (or after READY_TIMEOUT_S, with a warning)."""
    runtime: Runtime = app.state.runtime
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while not ((served := runtime.sites.get(site)) is not None and served.feed.ready):
        if loop.time() > deadline:
            log.warning("no snapshot of site %s after %.0f s; the page will wait for it", site, READY_TIMEOUT_S)
            break
        await asyncio.sleep(READY_POLL_S)  # the feed exposes no event to wait on: poll its flag
    announce(url)
