"""The live commands: ``simulate``, ``collect``, ``engine``, ``api``, ``serve``, ``demo``, and ``init`` (a site file
from the PBX). Each builds its collaborators and runs until SIGINT/SIGTERM (``processes.tasks``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.ami.client import AmiConfig
from wallboard.cli.common import (
    EXIT_OK,
    ConfigError,
    _command,
    add_table_options,
    command_settings,
    site_for,
    table_zone,
    time_zone,
)
from wallboard.config import Settings
from wallboard.core.site import load_site_file
from wallboard.errors import EXIT_FAILED
from wallboard.processes.messages import _, ngettext

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers
    from wallboard.processes.api import PageMount

log = logging.getLogger("wallboard")


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``simulate``, ``collect ami|esl|queue-log|queue-log-db``, ``engine``, ``api``, ``serve``, ``demo``, ``init``."""
    sim = _command(sub, "simulate", "run the contact-center simulator as an AMI server", common)
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sim.add_argument("--port", type=int, default=None, help="port to listen on (default: 5038 AMI, 8021 ESL)")
    sim.add_argument(
        "--protocol", choices=["ami", "esl"], default="ami",
        help="speak AMI as Asterisk (secret from WALLBOARD_AMI_SECRET) or the event socket as FreeSWITCH "
        "mod_callcenter (password from WALLBOARD_ESL_PASSWORD, default ClueCon)",
    )  # fmt: skip
    sim.add_argument("--agents", type=int, default=40, help="simulated agents")
    sim.add_argument("--queues", type=int, default=4, help="simulated queues")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sim.add_argument("--seed", type=int, default=1, help="random seed: the same seed plays the same day")
    sim.add_argument("--username", default="wallboard", help="AMI user (secret from WALLBOARD_AMI_SECRET)")
    sim.add_argument(
        "--schedule-out", type=Path, default=None, metavar="FILE.csv", help="write the schedule the agents follow"
    )
    sim.set_defaults(func=cmd_simulate)

    collect = _command(sub, "collect", "collect a PBX into the Redis stream", common)
    csub = collect.add_subparsers(dest="source", required=True, metavar="SOURCE")
    ami = _command(csub, "ami", "Asterisk Manager Interface (secret from WALLBOARD_AMI_SECRET)", common)
    ami.add_argument("--host", default="127.0.0.1", help="the PBX's AMI address")
    ami.add_argument("--port", type=int, default=5038, help="the PBX's AMI port")
    ami.add_argument("--username", default="wallboard", help="AMI user of manager.conf")
    _add_name_option(ami)
    ami.set_defaults(func=cmd_collect_ami)
    esl = _command(csub, "esl", "FreeSWITCH mod_callcenter over the event socket "
                   "(password from WALLBOARD_ESL_PASSWORD)", common)  # fmt: skip
    esl.add_argument("--host", default="127.0.0.1", help="FreeSWITCH's event socket address")
    esl.add_argument("--port", type=int, default=8021, help="FreeSWITCH's event socket port")
    _add_name_option(esl)
    esl.set_defaults(func=cmd_collect_esl)
    ql = _command(csub, "queue-log", "follow an Asterisk queue_log file", common)
    ql.add_argument("path", type=Path, help="the queue_log file (e.g. /var/log/asterisk/queue_log)")
    ql.add_argument(
        "--from-start",
        action="store_true",
        help="with no position stored for the file, read it from its start (default: its end); with one, resume there",
    )
    _add_name_option(ql)
    ql.set_defaults(func=cmd_collect_queue_log)
    qd = _command(csub, "queue-log-db", "follow an Asterisk queue_log table (realtime; password from "
                  "WALLBOARD_QUEUE_LOG_DB_PASSWORD)", common)  # fmt: skip
    qd.add_argument("url", help="mysql://USER@HOST[:PORT]/DATABASE, mariadb://, postgresql:// (no password)")
    add_table_options(qd)
    qd.add_argument("--tz", default=None, help="site time zone (IANA name; default: the site file's, else UTC)")
    qd.add_argument("--from-start", action="store_true", help="read the table from its first row (default: new rows)")
    _add_name_option(qd)
    qd.set_defaults(func=cmd_collect_queue_log_db)

    eng = _command(sub, "engine", "run the engine: stream -> metrics -> snapshot and deltas", common)
    eng.set_defaults(func=cmd_engine)

    api = _command(sub, "api", "serve the REST API, /ws, /metrics and the wallboard pages", common)
    api.add_argument("--host", default=None, help="address to listen on (default: WALLBOARD_HOST, else 127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="port to listen on (default: WALLBOARD_PORT, else 8000)")
    api.set_defaults(func=cmd_api)

    _add_serve_command(sub, common)

    demo = _command(sub, "demo", "everything on one machine: simulator, collector, Redis, engine, API", common)
    demo.add_argument("--host", default="127.0.0.1", help="address the API listens on")
    demo.add_argument("--port", type=int, default=8000, help="port the API listens on")
    demo.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    demo.add_argument("--seed", type=int, default=1, help="random seed of the simulated day")
    demo.add_argument("--agents", type=int, default=40, help="simulated agents")
    demo.add_argument("--queues", type=int, default=4, help="simulated queues")
    demo.add_argument(
        "--pbx", choices=["asterisk", "freeswitch"], default="asterisk",
        help="the simulated PBX: Asterisk over AMI, or FreeSWITCH mod_callcenter over the event socket",
    )  # fmt: skip
    demo.add_argument(
        "--no-http-source", dest="http_source", action="store_false",
        help="no simulated web chat queue and outbound campaign posted to POST /api/v1/events",
    )  # fmt: skip
    demo.set_defaults(func=cmd_demo)

    _add_init_command(sub, common)


def _endpoint(text: str, default_port: int = 5038) -> tuple[str, int]:
    from wallboard.processes.serve import parse_endpoint

    try:
        return parse_endpoint(text, default_port)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _esl_endpoint(text: str) -> tuple[str, int]:
    return _endpoint(text, 8021)


def _add_serve_command(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    serve = _command(
        sub, "serve", "run a site on this machine: collectors, engine and API on the data directory's Redis", common
    )
    serve.add_argument(
        "--host", default=None, help="address the API listens on (default: WALLBOARD_HOST, else 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port the API listens on (default: WALLBOARD_PORT, else 8000)"
    )
    serve.add_argument(
        "--ami", type=_endpoint, action="append", default=[], metavar="HOST:PORT",
        help="collect this Asterisk's AMI (repeat per PBX; secret from WALLBOARD_AMI_SECRET; port default 5038)",
    )  # fmt: skip
    serve.add_argument("--ami-username", default="wallboard", metavar="NAME", help="AMI user of manager.conf")
    serve.add_argument(
        "--esl", type=_esl_endpoint, action="append", default=[], metavar="HOST:PORT",
        help="collect this FreeSWITCH's mod_callcenter over its event socket (repeat per PBX; password from "
        "WALLBOARD_ESL_PASSWORD; port default 8021)",
    )  # fmt: skip
    serve.add_argument(
        "--queue-log", type=Path, action="append", default=[], metavar="PATH",
        help="follow this queue_log file (repeat per file), e.g. /var/log/asterisk/queue_log",
    )  # fmt: skip
    serve.add_argument(
        "--queue-log-db", action="append", default=[], metavar="URL",
        help="follow the queue_log table of this database (repeat per PBX), e.g. mysql://wallboard@pbx-db/asterisk; "
        "password from WALLBOARD_QUEUE_LOG_DB_PASSWORD",
    )  # fmt: skip
    serve.add_argument("--queue-log-table", default="queue_log", metavar="TABLE", help="the table of --queue-log-db")
    serve.set_defaults(func=cmd_serve)


def _add_init_command(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    init = _command(sub, "init", "write a starter site file from the PBX's own QueueStatus (queues, members)", common)
    init.add_argument(
        "--ami", type=_endpoint, required=True, metavar="HOST:PORT", help="the Asterisk to ask (port default 5038)"
    )
    init.add_argument(
        "--ami-username", default="wallboard", metavar="NAME", help="AMI user (secret: WALLBOARD_AMI_SECRET)"
    )
    init.add_argument(
        "--out", type=Path, default=None, metavar="FILE",
        help="site file to write (default: WALLBOARD_SITE_FILE, else site.yaml here)",
    )  # fmt: skip
    init.add_argument(
        "--timezone", default=None, metavar="ZONE", help="the site's IANA time zone (default: this machine's)"
    )
    init.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    init.set_defaults(func=cmd_init)


def _add_name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name", default=None, metavar="NAME",
        help="tell this collector's health apart when several of its kind feed one site (health collector:<kind>:NAME)",
    )  # fmt: skip


def _run(coro: Coroutine[Any, Any, None]) -> int:
    """Run the main coroutine; SIGINT/SIGTERM cancel it and the process exits 0."""
    from wallboard.processes.tasks import run_until_signalled

    return asyncio.run(run_until_signalled(coro))


def cmd_simulate(args: argparse.Namespace) -> int:
    from wallboard.processes import simulate

    settings = Settings()
    secret = settings.ami_secret.get_secret_value() if settings.ami_secret else "wallboard"
    if args.protocol == "esl":
        secret = settings.esl_password.get_secret_value() if settings.esl_password else "ClueCon"
    if args.schedule_out is not None and not args.schedule_out.resolve().parent.is_dir():
        folder = repr(str(args.schedule_out.resolve().parent))
        raise ConfigError(_("--schedule-out: no directory {folder} to write into").format(folder=folder))
    return _run(
        simulate.simulate(
            args.host,
            args.port if args.port is not None else (8021 if args.protocol == "esl" else 5038),
            agents=args.agents,
            queues=args.queues,
            speed=args.speed,
            seed=args.seed,
            username=args.username,
            secret=secret,
            schedule_out=args.schedule_out,
            protocol=args.protocol,
        )
    )


def cmd_collect_ami(args: argparse.Namespace) -> int:
    from wallboard.processes import collect

    settings = command_settings(args)
    if settings.ami_secret is None:
        raise ConfigError(
            _("set WALLBOARD_AMI_SECRET to the AMI user's secret (it is never read from the command line)")
        )
    config = AmiConfig(args.host, args.port, args.username, settings.ami_secret.get_secret_value(), site=settings.site)
    return _run(collect.collect_ami(settings, config, name=args.name))


def cmd_collect_esl(args: argparse.Namespace) -> int:
    from collectors.esl.client import EslConfig
    from wallboard.processes import collect

    settings = command_settings(args)
    if settings.esl_password is None:
        raise ConfigError(
            _("set WALLBOARD_ESL_PASSWORD to the event socket's password (it is never read from the command line)")
        )
    config = EslConfig(args.host, args.port, settings.esl_password.get_secret_value(), site=settings.site)
    return _run(collect.collect_esl(settings, config, name=args.name))


def cmd_collect_queue_log(args: argparse.Namespace) -> int:
    from wallboard.processes import collect

    settings = command_settings(args)
    return _run(collect.collect_queue_log(settings, args.path, from_start=args.from_start, name=args.name))


def cmd_collect_queue_log_db(args: argparse.Namespace) -> int:
    from wallboard.processes import collect

    settings = command_settings(args)
    site = site_for(settings)
    tz = table_zone(args, time_zone(args.tz) if args.tz else site.timezone)
    return _run(
        collect.collect_queue_log_db(
            settings, args.url, table=args.table, tz=tz, from_start=args.from_start, name=args.name
        )
    )


def _check_table_url(url: str) -> None:
    """Refuse (exit 2) a queue_log database URL that cannot be used, before anything starts."""
    from collectors.queue_log.table import database_url

    database_url(url, None)


def cmd_engine(args: argparse.Namespace) -> int:
    from wallboard.processes.engine import run_engine

    settings = command_settings(args)
    return _run(run_engine(settings, site_for(settings)))


def cmd_api(args: argparse.Namespace) -> int:
    from wallboard.processes import api

    settings = command_settings(args)
    return _run(api.serve_api(settings, pages=_pages()))


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from wallboard.processes.serve import ServeOptions, serve
    from wallboard.store.datadir import resolve_data_dir

    settings = command_settings(args)
    if settings.redis_url is not None:
        log.warning(_("serve keeps its data in its data directory's Redis: WALLBOARD_REDIS_URL is not used"))
    if args.ami and settings.ami_secret is None:
        raise ConfigError(
            _("set WALLBOARD_AMI_SECRET to the AMI user's secret (it is never read from the command line)")
        )
    for url in args.queue_log_db:
        _check_table_url(url)
    for path in args.queue_log:
        if not path.parent.is_dir():
            raise ConfigError(
                _("--queue-log {path}: no directory {folder}").format(path=path, folder=repr(str(path.parent)))
            )
    site = site_for(settings)  # a bad site file is refused here, before anything starts
    data_dir = resolve_data_dir(settings.data_dir)
    data_dir = data_dir.resolve() if data_dir is not None else None
    if data_dir is None:
        raise ConfigError(_("no data directory: give --data-dir or set WALLBOARD_DATA_DIR (HOME is not usable)"))
    options = ServeOptions(
        host=settings.host,
        port=settings.port,
        amis=tuple(args.ami),
        ami_username=args.ami_username,
        esls=tuple(args.esl),
        queue_logs=tuple(path.resolve() for path in args.queue_log),
        queue_log_dbs=tuple(args.queue_log_db),
        queue_log_table=args.queue_log_table,
        verbose=getattr(args, "verbose", 0),
        env=dict(os.environ),
    )
    return _run(serve(data_dir, options, site=site.site, site_file=settings.site_file, inform=_inform))


def cmd_init(args: argparse.Namespace) -> int:
    from collectors.ami.discover import DiscoveryError, discover
    from wallboard.core.starter_site import starter_site_yaml

    # Not command_settings(): the site file may be the one about to be written (WALLBOARD_SITE_FILE set already).
    settings = Settings(**({"site": args.site} if getattr(args, "site", None) else {}))
    if settings.ami_secret is None:
        raise ConfigError(
            _("set WALLBOARD_AMI_SECRET to the AMI user's secret (it is never read from the command line)")
        )
    args.out = args.out or settings.site_file or Path("site.yaml")
    if args.out.exists() and not args.force:
        raise ConfigError(_("{path} exists: give --force to overwrite it, or --out another file").format(path=args.out))
    host, port = args.ami
    try:
        found = asyncio.run(discover(host, port, args.ami_username, settings.ami_secret.get_secret_value()))
    except DiscoveryError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        text = starter_site_yaml(found, site=settings.site, timezone=args.timezone or _local_zone())
    except ValueError as exc:  # a site name or time zone the site file would refuse
        raise ConfigError(str(exc)) from exc
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(_("cannot write {path}: {reason}").format(path=args.out, reason=exc.strerror)) from exc
    site = load_site_file(args.out)  # what we wrote must be what the engine reads
    queues = ngettext("{n} queue", "{n} queues", len(site.queues)).format(n=len(site.queues))
    agents = ngettext("{n} agent", "{n} agents", len(site.agents)).format(n=len(site.agents))
    print(
        _("wrote {path}: {queues}, {agents}; now edit its teams and thresholds").format(
            path=args.out, queues=queues, agents=agents
        )
    )
    return EXIT_OK


def _local_zone() -> str:
    """This machine's IANA time zone (from /etc/localtime or TZ), else UTC."""
    import os

    named = os.environ.get("TZ", "").lstrip(":")
    if "/" in named:
        return named
    target = os.path.realpath("/etc/localtime")
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"


def cmd_demo(args: argparse.Namespace) -> int:
    from wallboard.processes import demo

    # A directory only when named on the command line: WALLBOARD_DATA_DIR may be a real site's, and the
    # demo would fill it with simulated calls.
    settings = command_settings(args).model_copy(update={"data_dir": getattr(args, "data_dir", None)})
    options = demo.DemoOptions(
        speed=args.speed, seed=args.seed, agents=args.agents, queues=args.queues, pbx=args.pbx,
        http_source=args.http_source,
    )  # fmt: skip
    return _run(demo.demo(settings, options, announce=_announce, inform=_inform, pages=_pages()))


def _pages() -> tuple[PageMount, ...]:
    """The Dash pages served beside the API (only this module imports ``dash_app``)."""
    from dash_app.ops import mount_ops_page
    from dash_app.supervisor import mount_supervisor_page
    from dash_app.tv import mount_tv_page

    return (mount_ops_page, mount_tv_page, mount_supervisor_page)


def _announce(line: str) -> None:
    print(line, flush=True)


def _inform(line: str) -> None:
    """A line for the person at the terminal, on stderr: stdout holds only the announced URL."""
    print(line, file=sys.stderr, flush=True)
