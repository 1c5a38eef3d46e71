"""The ``wallboard`` command: the composition root.

Only this module builds settings from the environment, configures logging, and imports
``collectors`` and ``dash_app`` together with the core. Every subcommand is a small function
that builds its collaborators and hands them over.

Errors: a wrong setting (a malformed ``REDIS_URL``, a bad site name) is reported in one line on
stderr and exits with status 2 at once; a refused AMI login, a port already taken or an embedded
Redis that cannot start exit with status 1, also in one line. An unreachable Redis is not an
error: it may be starting or failing over, so the engine, the collectors and the API retry with
backoff and log each attempt. SIGINT/SIGTERM stop a live command cleanly with status 0.

Redis: ``WALLBOARD_REDIS_URL`` when set, else the data directory's embedded Redis, shared by ``serve``
and every other command (``wallboard.store.datadir``). The options every command takes (``--site``,
``--site-file``, ``--data-dir``, ``-v``) are accepted before or after its name; the site is ``--site``,
else ``WALLBOARD_SITE``, else the site file's ``site:``, else ``default``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import ValidationError

from collectors.ami.client import AmiConfig
from wallboard.config import Settings, describe_errors
from wallboard.core.boards import BoardError
from wallboard.core.site import QueueConfig, SiteConfig, SiteFileError, load_site_file
from wallboard.core.text import printable
from wallboard.core.users import Role
from wallboard.errors import EXIT_FAILED, EXIT_USAGE, UsageError, WallboardError
from wallboard.processes.messages import _, negotiate, ngettext, use

if TYPE_CHECKING:
    from wallboard.admin.accounts import Accounts
    from wallboard.processes.api import PageMount
    from wallboard.store import Store

log = logging.getLogger("wallboard")

EXIT_OK = 0


class ConfigError(UsageError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _sl_threshold(text: str) -> tuple[str, float]:
    queue, sep, seconds = text.rpartition("=")
    if not sep or not queue:
        raise argparse.ArgumentTypeError(_("expected QUEUE=SECONDS, read {text}").format(text=repr(text)))
    try:
        value = float(seconds)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            _("expected a number of seconds after '=', read {text}").format(text=repr(seconds))
        ) from exc
    if value < 0:
        raise argparse.ArgumentTypeError(_("SL threshold must be >= 0, read {value}").format(value=value))
    return queue, value


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS, [], ())
        if shown and "%(default)" not in text and "default:" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (``wallboard --site paris users list``
    and ``wallboard users list --site paris`` are the same)."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=_HelpFormatter)
    common.add_argument(
        "--site",
        default=argparse.SUPPRESS,
        help="site name (default: WALLBOARD_SITE, else the site file's site:, else 'default')",  # fmt: skip
    )
    common.add_argument(
        "--site-file", type=Path, default=argparse.SUPPRESS, metavar="FILE",
        help="the site file: queues, agents, teams, thresholds, time zone (default: WALLBOARD_SITE_FILE)",
    )  # fmt: skip
    common.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
        help="where the embedded Redis keeps its data when WALLBOARD_REDIS_URL is not set "
        "(default: WALLBOARD_DATA_DIR, else the user data directory, e.g. ~/.local/share/wallboard)",
    )  # fmt: skip
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging on stderr (-v info, -vv debug)"
    )
    return common


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _command(sub: Subparsers, name: str, help_text: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A subcommand; its one-line help is translated here (the catalogs' extractor reads ``_command``'s third
    argument as a message, see ``processes.message_catalogs``)."""
    shown = _(help_text)
    return sub.add_parser(name, help=shown, description=shown, parents=[common], formatter_class=_HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="wallboard",
        description=_("Real-time contact-center wallboard."),
        parents=[common],
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wallboard {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rp = _command(sub, "replay", "replay a recorded AMI transcript or queue_log and print the figures", common)
    rp.epilog = _(
        "exit status: 0 figures printed (also when stdout is closed early, e.g. by `| head`); 2 a wrong option "
        "or a file that is missing, empty, not a regular file or of no format recognised; 3 the file is not in "
        "the --format given (nearly all its records rejected)"
    )
    rp.add_argument("path", type=_replay_input, help="the recorded file, or a queue_log table's database URL")
    rp.add_argument(
        "--format", default="auto", choices=["auto", "ami", "queue_log", "queue_log_csv", "queue_log_db", "esl"],
        help="what the file is; auto tells it from the file's start (a scheme:// URL is queue_log_db)",
    )  # fmt: skip
    _add_table_options(rp)
    rp.add_argument("--from", dest="start", default=None, metavar="DATE", help="queue_log_db: from this site-local "
                    "date or date-time on (ISO, inclusive)")  # fmt: skip
    rp.add_argument("--to", dest="end", default=None, metavar="DATE", help="queue_log_db: up to this site-local "
                    "date or date-time (ISO, exclusive)")  # fmt: skip
    rp.add_argument(
        "--sl-threshold", type=_sl_threshold, action="append", default=[], metavar="QUEUE=SECONDS",
        help="service-level threshold of a queue (repeat per queue; default: the site file's, else 20 s)",
    )  # fmt: skip
    rp.add_argument(
        "--short-abandon", type=float, default=None, metavar="SECONDS",
        help="abandons within this many seconds are short (default: the site file's, else 5)",
    )  # fmt: skip
    rp.add_argument(
        "--sl-formula", choices=["offered_minus_short", "answered", "offered"], default=None,
        help="service level's denominator (default: the site file's, else offered_minus_short)",
    )  # fmt: skip
    rp.add_argument("--tz", default=None, help="site time zone (IANA name; default: the site file's, else UTC)")
    rp.add_argument(
        "--frame-times", type=Path, default=None, metavar="FILE", help="ami_frames.jsonl with receive times"
    )
    rp.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    rp.set_defaults(func=cmd_replay)

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
    _add_table_options(qd)
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

    alerts = _command(sub, "alerts", "alert thresholds: export them as Prometheus alerting rules", common)
    asub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    rules = _command(asub, "export-rules", "write the site file's thresholds as a Prometheus rule file", common)
    rules.add_argument("--out", type=Path, default=None, help="rule file to write (default: stdout)")
    rules.add_argument("--horizon-days", type=int, default=400, help="DST changes are resolved this far ahead")
    rules.set_defaults(func=cmd_alerts_export_rules)
    _add_account_commands(sub, common)
    _add_board_commands(sub, common)
    _add_schedule_commands(sub, common)
    _add_grafana_commands(sub, common)
    _add_history_commands(sub, common)
    _add_calls_commands(sub, common)
    return parser


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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wallboard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _add_account_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``users add|list|disable|grant-monitor`` and ``tokens create|list|revoke``."""
    users = _command(sub, "users", "users of the API, the supervisor view and the ops page", common)
    usub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = _command(usub, "add", "add a user (password from WALLBOARD_NEW_PASSWORD, else prompted for)", common)
    add.add_argument("name", help="login name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role], help="what the user may do")
    add.add_argument("--teams", type=_names, default=(), help="see only these teams' agents: a,b (default: every team)")
    add.add_argument("--queues", type=_names, default=(), help="see only these queues: q1,q2 (default: every queue)")
    add.set_defaults(func=cmd_users_add)
    _command(usub, "list", "list the users", common).set_defaults(func=cmd_users_list)
    disable = _command(usub, "disable", "disable a user (its sessions stop working at once)", common)
    disable.add_argument("name", help="login name")
    disable.set_defaults(func=cmd_users_disable)
    grant = _command(usub, "grant-monitor", "let a user listen to, whisper to and barge into agents' calls", common)
    grant.add_argument("name", help="login name")
    grant.add_argument("--revoke", action="store_true", help="take the grant back instead")
    grant.set_defaults(func=cmd_users_grant_monitor)

    tokens = _command(sub, "tokens", "read-only display tokens for the TV boards", common)
    tsub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = _command(tsub, "create", "create a display token and print it (shown this once)", common)
    create.add_argument("--board", default=None, help="the only board the token opens (default: any board)")
    create.add_argument("--label", default="", help="a note to tell tokens apart, e.g. the screen's place")
    create.set_defaults(func=cmd_tokens_create)
    _command(tsub, "list", "list display tokens by id", common).set_defaults(func=cmd_tokens_list)
    revoke = _command(tsub, "revoke", "revoke the display token whose id starts with PREFIX", common)
    revoke.add_argument("prefix", help="the first characters of the token's id (tokens list)")
    revoke.set_defaults(func=cmd_tokens_revoke)


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment and the options every command takes.

    The site is ``--site``, else ``WALLBOARD_SITE``, else the site file's ``site:``, else ``default``.
    """
    overrides: dict[str, Any] = {}
    for name in ("site", "site_file", "data_dir"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if args.command in ("api", "demo", "serve"):
        overrides.update({name: getattr(args, name) for name in ("host", "port") if getattr(args, name) is not None})
    settings = Settings(**overrides)
    if "site" not in settings.model_fields_set and settings.site_file is not None:
        settings = settings.model_copy(update={"site": load_site_file(settings.site_file).site})
    return settings


def _site_for(settings: Settings) -> SiteConfig:
    """The site file of ``settings`` (or an empty site), named as ``settings.site``."""
    site = load_site_file(settings.site_file) if settings.site_file else SiteConfig()
    if site.site != settings.site:
        site = site.model_copy(update={"site": settings.site})
    return site


def _required_site_file(args: argparse.Namespace, why: str) -> Path:
    path = getattr(args, "site_file", None) or Settings().site_file
    if path is None:
        raise ConfigError(_("{why}: pass --site-file or set WALLBOARD_SITE_FILE").format(why=why))
    return cast(Path, path)


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


def _add_name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name", default=None, metavar="NAME",
        help="tell this collector's health apart when several of its kind feed one site (health collector:<kind>:NAME)",
    )  # fmt: skip


def cmd_collect_ami(args: argparse.Namespace) -> int:
    from wallboard.processes import collect

    settings = _settings(args)
    if settings.ami_secret is None:
        raise ConfigError(
            _("set WALLBOARD_AMI_SECRET to the AMI user's secret (it is never read from the command line)")
        )
    config = AmiConfig(args.host, args.port, args.username, settings.ami_secret.get_secret_value(), site=settings.site)
    return _run(collect.collect_ami(settings, config, name=args.name))


def cmd_collect_esl(args: argparse.Namespace) -> int:
    from collectors.esl.client import EslConfig
    from wallboard.processes import collect

    settings = _settings(args)
    if settings.esl_password is None:
        raise ConfigError(
            _("set WALLBOARD_ESL_PASSWORD to the event socket's password (it is never read from the command line)")
        )
    config = EslConfig(args.host, args.port, settings.esl_password.get_secret_value(), site=settings.site)
    return _run(collect.collect_esl(settings, config, name=args.name))


def cmd_collect_queue_log(args: argparse.Namespace) -> int:
    from wallboard.processes import collect

    settings = _settings(args)
    return _run(collect.collect_queue_log(settings, args.path, from_start=args.from_start, name=args.name))


def cmd_collect_queue_log_db(args: argparse.Namespace) -> int:
    from wallboard.processes import collect

    settings = _settings(args)
    site = _site_for(settings)
    tz = _table_zone(args, _time_zone(args.tz) if args.tz else site.timezone)
    return _run(
        collect.collect_queue_log_db(
            settings, args.url, table=args.table, tz=tz, from_start=args.from_start, name=args.name
        )
    )


def _check_table_url(url: str) -> None:
    """Refuse (exit 2) a queue_log database URL that cannot be used, before anything starts."""
    from collectors.queue_log.table import database_url

    database_url(url, None)


def _replay_input(text: str) -> Path | str:
    """A replay's input: a database URL (``scheme://...``) as given, anything else as a path."""
    from collectors.queue_log.table import is_database_url

    return text if is_database_url(text) else Path(text)


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", default="queue_log", help="queue_log_db: the table (schema.table allowed)")
    parser.add_argument(
        "--table-tz", default=None, metavar="ZONE",
        help="queue_log_db: the zone the table's date-times are written in (UTC when Asterisk has "
        "queue_log_realtime_use_gmt = yes; default: the site's)",
    )  # fmt: skip


def _table_zone(args: argparse.Namespace, site_zone: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(_time_zone(args.table_tz) if args.table_tz else site_zone)


def _replay_table(args: argparse.Namespace, site: SiteConfig) -> Any:
    """``replay --format queue_log_db``: the figures of a queue_log table, or of its records in --from/--to."""
    from collectors.queue_log.table import QueueLogTable, database_url
    from wallboard.processes import replay as rp

    if isinstance(args.path, Path):
        raise ConfigError(
            _("--format queue_log_db reads a database URL (mysql://, postgresql://), not {path}").format(path=args.path)
        )
    password = Settings().queue_log_db_password
    reader = QueueLogTable(database_url(args.path, password.get_secret_value() if password else None), args.table)
    start, end = (_site_time(value, option, site) for value, option in ((args.start, "--from"), (args.end, "--to")))
    return rp.replay_table(reader, site, tz=_table_zone(args, site.timezone), start=start, end=end)


def _site_time(text: str | None, option: str, site: SiteConfig) -> Any:
    """An ISO date or date-time option, site-local unless it names its offset; None when not given."""
    from datetime import datetime

    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            _("{option} {text}: expected an ISO date or date-time (2025-01-31, 2025-01-31T08:00)").format(
                option=option, text=repr(text)
            )
        ) from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=site.tz)


def cmd_engine(args: argparse.Namespace) -> int:
    from wallboard.processes.engine import run_engine

    settings = _settings(args)
    return _run(run_engine(settings, _site_for(settings)))


def cmd_api(args: argparse.Namespace) -> int:
    from wallboard.processes import api

    settings = _settings(args)
    return _run(api.serve_api(settings, pages=_pages()))


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from wallboard.processes.serve import ServeOptions, serve
    from wallboard.store.datadir import resolve_data_dir

    settings = _settings(args)
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
    site = _site_for(settings)  # a bad site file is refused here, before anything starts
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

    # Not _settings(): the site file may be the one about to be written (WALLBOARD_SITE_FILE set already).
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
    settings = _settings(args).model_copy(update={"data_dir": getattr(args, "data_dir", None)})
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


def _site_from_args(args: argparse.Namespace) -> SiteConfig:
    site_file = getattr(args, "site_file", None)
    site = load_site_file(site_file) if site_file else SiteConfig()
    update: dict[str, object] = {}
    if getattr(args, "site", None):
        update["site"] = args.site
    if getattr(args, "tz", None):
        update["timezone"] = _time_zone(args.tz)
    if getattr(args, "short_abandon", None) is not None:
        update["short_abandon_s"] = args.short_abandon
    if getattr(args, "sl_formula", None):
        update["sl_formula"] = args.sl_formula
    thresholds: list[tuple[str, float]] = getattr(args, "sl_threshold", [])
    if thresholds:
        queues = dict(site.queues)
        for name, seconds in thresholds:
            base = queues.get(name, QueueConfig())
            queues[name] = base.model_copy(update={"sl_threshold_s": seconds})
        update["queues"] = queues
    if not update:
        return site
    try:
        return SiteConfig.model_validate({**site.model_dump(exclude_unset=True), **update})
    except ValidationError as exc:
        raise SiteFileError(f"invalid option: {describe_errors(exc)}") from exc


def _time_zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            _("--tz {name} is not an IANA time zone name, expected e.g. Europe/Paris or UTC").format(name=repr(name))
        ) from None
    return name


def cmd_alerts_export_rules(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.core.alert_rules import export_rules

    site = load_site_file(_required_site_file(args, _("the thresholds come from the site file")))
    export = export_rules(site.thresholds, site, datetime.now(UTC), horizon_days=args.horizon_days)
    for skipped in export.skipped:
        log.warning(_("threshold %s is not exported to Prometheus: %s"), skipped.threshold_id, skipped.reason)
    text = export.to_yaml()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(_("cannot write {path}: {reason}").format(path=args.out, reason=exc.strerror)) from exc
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a file and print its figures; a stdout closed early (``| head``) ends quietly with status 0."""
    from wallboard.processes import replay as rp
    from wallboard.processes.report import print_replay_table, replay_progress

    site = _site_from_args(args)
    if args.format == "queue_log_db" or (args.format == "auto" and isinstance(args.path, str)):
        result = _replay_table(args, site)
    else:
        if isinstance(args.path, str) or args.start or args.end:
            raise ConfigError(_("a database URL, --from and --to go with --format queue_log_db (or auto)"))
        frame_times = rp.load_frame_times(args.frame_times) if args.frame_times else None
        with replay_progress(args.path, enabled=not args.json) as progress:
            result = rp.replay_file(args.path, args.format, site, frame_times=frame_times, progress=progress)
    try:
        if args.json:
            json.dump(result.to_json(), sys.stdout, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            print_replay_table(result.to_json())
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    return EXIT_OK


def _discard_stdout() -> None:
    """After the reader of stdout went away: send what is left to /dev/null, so the flush at exit cannot fail."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


CLI_ACTOR = "cli"


def _with_accounts(args: argparse.Namespace, work: Callable[[Accounts], Awaitable[int]], *, writes: bool) -> int:
    """Run ``work(accounts)`` against the site's Redis (see ``_with_store``)."""
    from wallboard.admin.accounts import Accounts, Hashing
    from wallboard.core.users import Passwords

    async def accounts(store: Store) -> int:
        return await work(Accounts(store.accounts, Hashing(Passwords())))

    return _with_store(args, accounts, writes=writes)


def _new_password(settings: Settings) -> str:
    if settings.new_password is not None:
        return settings.new_password.get_secret_value()
    if not sys.stdin.isatty():
        raise ConfigError(_("set WALLBOARD_NEW_PASSWORD or run on a terminal to be asked for the password"))
    first = getpass.getpass(_("Password for the new user: "))
    if getpass.getpass(_("Same password again: ")) != first:
        raise ConfigError(_("the two passwords differ"))
    return first


def _names(text: str) -> tuple[str, ...]:
    """``a,b`` -> ("a", "b") (blanks dropped)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _scope_text(teams: Sequence[str], queues: Sequence[str]) -> str:
    if not teams and not queues:
        return "every team and queue"
    return f"teams {','.join(teams) or '(all)'} queues {','.join(queues) or '(all)'}"


def cmd_users_add(args: argparse.Namespace) -> int:
    password = _new_password(_settings(args))

    async def add(accounts: Accounts) -> int:
        role, scope = Role(args.role), {"teams": args.teams, "queues": args.queues}
        user = await accounts.add_user(args.name, role, password, actor=CLI_ACTOR, **scope)
        added = {"name": user.name, "role": user.role.value, "scope": _scope_text(user.teams, user.queues)}
        if user.teams or user.queues:
            print(_("added user {name} with role {role}, seeing {scope}").format(**added))
        else:
            print(_("added user {name} with role {role}").format(**added))
        return EXIT_OK

    return _with_accounts(args, add, writes=True)


def _print_row(*fields: object) -> None:
    """One line of a listing, tab-separated, stored text escaped (``core.text.printable``): a label holding
    terminal escape sequences is shown as ``\\x1b]0;...``, never run by the terminal."""
    print("\t".join(printable(field) for field in fields))


def cmd_users_list(args: argparse.Namespace) -> int:
    async def show(accounts: Accounts) -> int:
        for user in await accounts.list_users():
            state = "disabled" if user.disabled else "active"
            scope = _scope_text(user.teams, user.queues)
            _print_row(user.name, user.role.value, state, f"created {user.created}", f"sees {scope}")
        return EXIT_OK

    return _with_accounts(args, show, writes=False)


def cmd_users_disable(args: argparse.Namespace) -> int:
    async def disable(accounts: Accounts) -> int:
        await accounts.update_user(args.name, actor=CLI_ACTOR, disabled=True)
        print(_("disabled user {name}").format(name=args.name))
        return EXIT_OK

    return _with_accounts(args, disable, writes=True)


def cmd_users_grant_monitor(args: argparse.Namespace) -> int:
    async def grant(accounts: Accounts) -> int:
        await accounts.update_user(args.name, actor=CLI_ACTOR, may_monitor=not args.revoke)
        done = _("revoked call monitoring from {name}") if args.revoke else _("granted call monitoring to {name}")
        print(done.format(name=args.name))
        return EXIT_OK

    return _with_accounts(args, grant, writes=True)


def cmd_tokens_create(args: argparse.Namespace) -> int:
    async def create(accounts: Accounts) -> int:
        token, shown = await accounts.create_token(args.board, args.label, actor=CLI_ACTOR)
        if shown.board:
            made = _("display token {id} for board {board} (shown only now):").format(id=shown.id, board=shown.board)
        else:
            made = _("display token {id} for any board (shown only now):").format(id=shown.id)
        print(made, file=sys.stderr)
        print(token)
        return EXIT_OK

    return _with_accounts(args, create, writes=True)


def cmd_tokens_list(args: argparse.Namespace) -> int:
    async def show(accounts: Accounts) -> int:
        for token in await accounts.list_tokens():
            _print_row(token.id, token.board or "(any)", token.label, f"created {token.created}")
        return EXIT_OK

    return _with_accounts(args, show, writes=False)


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    async def revoke(accounts: Accounts) -> int:
        shown = (await accounts.revoke_token(args.prefix, actor=CLI_ACTOR))[1]
        if shown.board:
            print(_("revoked display token {id} (board {board})").format(id=shown.id, board=shown.board))
        else:
            print(_("revoked display token {id} (any board)").format(id=shown.id))
        return EXIT_OK

    return _with_accounts(args, revoke, writes=True)


# -- boards: `wallboard boards list|show|put|delete`, the use cases of the boards API (wallboard.admin.boards)

BOARD_MAX_BYTES = 1_000_000


def _add_board_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``boards list``, ``boards show NAME``, ``boards put NAME [FILE]`` and ``boards delete NAME``."""
    boards = _command(sub, "boards", "TV boards: what each TV shows (the documents of /api/v1/boards)", common)
    boards.epilog = _("exit status: 0 done; 2 an invalid board document (each problem on stderr); 1 anything else")
    bsub = boards.add_subparsers(dest="boards_command", required=True, metavar="ACTION")
    _command(bsub, "list", "list the boards (default included)", common).set_defaults(func=cmd_boards_list)
    show = _command(bsub, "show", "print a board as JSON (a file `boards put` reads)", common)
    show.add_argument("name", type=_board_name, help="the board's name")
    show.set_defaults(func=cmd_boards_show)
    put = _command(bsub, "put", "create or replace a board from a JSON or YAML document (validated, audited)", common)
    put.add_argument("name", type=_board_name, help="the board's name (lower case, digits, _ and -)")
    put.add_argument("path", nargs="?", default="-", metavar="FILE", help="the document (default or -: stdin)")
    put.set_defaults(func=cmd_boards_put)
    delete = _command(bsub, "delete", "remove a stored board (default then shows every queue again)", common)
    delete.add_argument("name", type=_board_name, help="the board's name")
    delete.set_defaults(func=cmd_boards_delete)


def _board_name(text: str) -> str:
    import re

    from wallboard.core.boards import NAME_PATTERN

    if not re.match(NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(
            _("expected lower case letters, digits, _ and - (at most 64), read {text}").format(text=repr(text))
        )
    return text


def cmd_boards_list(args: argparse.Namespace) -> int:
    from wallboard.admin import boards

    async def show(store: Store) -> int:
        for name, board in sorted((await boards.list_boards(store.boards)).items()):
            queues = ",".join(board.get("queues") or []) or "(every queue)"
            _print_row(name, f"version {board.get('version')}", board.get("title") or "(untitled)", queues)
        return EXIT_OK

    return _with_store(args, show, writes=False)


def cmd_boards_show(args: argparse.Namespace) -> int:
    from wallboard.admin import boards

    async def show(store: Store) -> int:
        try:
            board = await boards.read_board(store.boards, args.name)
        except boards.UnknownBoardError as exc:
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(json.dumps(board, ensure_ascii=False, indent=1))
        return EXIT_OK

    return _with_store(args, show, writes=False)


def cmd_boards_put(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import boards
    from wallboard.core.boards import parse_board, site_names

    where = "stdin" if args.path == "-" else args.path
    try:
        body = parse_board(_read_board_document(args.path))
    except BoardError as exc:
        return _board_problems(where, exc)
    site = _site_for(_settings(args))

    async def put(store: Store) -> int:
        snapshot = await store.events.load_snapshot()
        if not site.queues and snapshot is None and (body.queues or body.groups or body.teams or body.pages):
            raise ConfigError(
                _("no site file and no snapshot yet to check the board's names against: pass --site-file")
            )
        try:
            board = await boards.put_board(
                store.boards, args.name, body, site_names(site, snapshot), actor=_cli_actor(), now=datetime.now(UTC)
            )
        except BoardError as exc:
            return _board_problems(where, exc)
        except boards.BoardConflictError as exc:
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(_("stored board {name}: version {version}").format(name=args.name, version=board["version"]))
        return EXIT_OK

    return _with_store(args, put, writes=True)


def _read_board_document(path: str) -> object:
    """The JSON or YAML document at ``path`` (``-``: stdin), decoded; ConfigError when unreadable."""
    import yaml

    try:
        raw = sys.stdin.buffer.read(BOARD_MAX_BYTES + 1) if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)) from exc
    if len(raw) > BOARD_MAX_BYTES:
        raise BoardError(
            [("body", _("read more than {limit} bytes, expected a board document").format(limit=BOARD_MAX_BYTES))]
        )
    try:
        return yaml.safe_load(raw.decode("utf-8"))  # YAML 1.1 reads JSON documents too
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BoardError([("body", _("not JSON or YAML: {error}").format(error=exc))]) from exc


def _nothing_stored(where: object, problems: int) -> str:
    return ngettext("{where}: {n} problem, nothing stored", "{where}: {n} problems, nothing stored", problems).format(
        where=where, n=problems
    )


def _board_problems(where: object, exc: BoardError) -> int:
    print(f"wallboard: {_nothing_stored(where, len(exc.problems))}", file=sys.stderr)
    for field, reason in exc.problems:
        print(f"{where}: {field}: {printable(reason)}", file=sys.stderr)
    return EXIT_USAGE


def cmd_boards_delete(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import boards

    async def delete(store: Store) -> int:
        try:
            await boards.delete_board(store.boards, args.name, actor=_cli_actor(), now=datetime.now(UTC))
        except boards.UnknownBoardError as exc:
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(_("deleted board {name}").format(name=args.name))
        return EXIT_OK

    return _with_store(args, delete, writes=True)


# -- schedules: `wallboard schedule import|show|export`, against Redis through the Store


def _add_schedule_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``schedule import FILE``, ``schedule show``, ``schedule export``."""
    schedule = _command(sub, "schedule", "agent schedules for adherence (CSV or JSON files)", common)
    ssub = schedule.add_subparsers(dest="schedule_command", required=True, metavar="ACTION")
    imp = _command(ssub, "import", "validate a file and store it (all rows or nothing)", common)
    imp.add_argument("path", type=Path, metavar="FILE", help="the schedule, CSV or JSON (see examples/schedule.csv)")
    imp.add_argument(
        "--mode",
        choices=["replace", "merge"],
        default="replace",
        help="merge: replace only the (agent, day) pairs the file has rows for",
    )
    imp.add_argument(
        "--format", choices=["csv", "json"], default=None, help="the file's format (default: its extension)"
    )
    imp.set_defaults(func=cmd_schedule_import)
    show = _command(ssub, "show", "print the stored slots", common)
    show.add_argument("--date", type=_iso_date, default=None, metavar="YYYY-MM-DD", help="only this day (default: all)")
    show.add_argument("--agent", default=None, help="only this agent id (default: all)")
    show.set_defaults(func=cmd_schedule_show)
    export = _command(ssub, "export", "write the stored schedule as a file `schedule import` reads", common)
    export.add_argument("--format", choices=["csv", "json"], default="csv", help="the file's format")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=cmd_schedule_export)


def _iso_date(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(_("expected a date YYYY-MM-DD, read {text}").format(text=repr(text))) from exc


def _with_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[int]], *, writes: bool) -> int:
    """Run ``work(store)`` against the site's Redis: ``WALLBOARD_REDIS_URL``, else the data directory's
    (``serve``'s, or started for this command and stopped after, its data kept on disk).

    A command that ``writes`` is refused (exit 2) when its Redis would be a throwaway one, started for
    this command and removed after it: the write would be lost without a word.
    """
    from redis.exceptions import RedisError

    from wallboard.store import Store, StoreError, connect
    from wallboard.store.datadir import redis_link

    settings = _settings(args)

    async def run(url: str) -> int:
        client = connect(url, client_name="wallboard-cli")
        try:
            return await work(Store(client, prefix=settings.key_prefix, site=settings.site))
        finally:
            await client.aclose()

    with redis_link(settings) as link:
        if link.throwaway:
            if writes:
                raise ConfigError(
                    _(
                        "no data directory to write to (the user data directory cannot be created), so this would "
                        "land in a throwaway Redis and be lost: set WALLBOARD_REDIS_URL to your Redis, or "
                        "--data-dir / WALLBOARD_DATA_DIR to the directory `wallboard serve` uses"
                    )
                )
            print("wallboard: " + _("no data directory: reading an empty throwaway Redis"), file=sys.stderr)
        try:
            return asyncio.run(run(link.url))
        except StoreError as exc:  # an unreadable stored document
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except (RedisError, OSError) as exc:
            unreachable = _("cannot reach Redis ({kind}: {error})").format(kind=type(exc).__name__, error=exc)
            print(f"wallboard: {unreachable}", file=sys.stderr)
            return EXIT_FAILED


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def cmd_schedule_import(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import schedules
    from wallboard.core.adherence.schedule import ScheduleError, describe
    from wallboard.store import ConfigConflictError

    settings = _settings(args)
    if settings.site_file is None:
        raise ConfigError(_("a site file gives the time zone and agents: pass --site-file or set WALLBOARD_SITE_FILE"))
    site = _site_for(settings)
    kind: Literal["csv", "json"] = "json" if (args.format or args.path.suffix.lower().lstrip(".")) == "json" else "csv"
    data = _read_schedule_file(args.path)

    async def store_it(store: Store) -> int:
        try:
            imported = await schedules.import_schedule(
                store, data, site, kind, mode=args.mode, actor=_cli_actor(), at=datetime.now(UTC)
            )
        except schedules.UnmergeableScheduleError as exc:
            print("wallboard: " + _("{reason}: import with --mode replace").format(reason=exc.reason), file=sys.stderr)
            return EXIT_FAILED
        except ScheduleError as exc:
            print(f"wallboard: {_nothing_stored(args.path, len(exc.problems))}", file=sys.stderr)
            for problem in exc.problems:
                print(f"{args.path}: {problem}", file=sys.stderr)
            return EXIT_USAGE
        except ConfigConflictError as exc:
            changed = _("the schedule changed meanwhile ({error}); nothing stored, try again").format(error=exc)
            print(f"wallboard: {changed}", file=sys.stderr)
            return EXIT_FAILED
        shown = describe(imported.schedule)
        days = _("{first} to {last}").format(first=shown["first_day"], last=shown["last_day"])
        span = days if shown["days"] else _("no day")
        slots = ngettext("{n} slot", "{n} slots", shown["slots"]).format(n=shown["slots"])
        agents = ngettext("of {n} agent", "of {n} agents", shown["agents"]).format(n=shown["agents"])
        version = imported.document["version"]
        print(_("imported {slots} {agents}, {span}: version {version}").format(
            slots=slots, agents=agents, span=span, version=version))  # fmt: skip
        return EXIT_OK

    return _with_store(args, store_it, writes=True)


def _read_schedule_file(path: Path) -> bytes:
    from wallboard.core.adherence.schedule import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(
                _("{path} has more than {limit} bytes: split it (by days or teams)").format(path=path, limit=MAX_BYTES)
            )
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)) from exc


def _stored_rows(stored: dict[str, Any] | None, date: str | None = None, agent: str | None = None) -> list[Any]:
    rows = stored.get("slots") if stored is not None else None
    return [
        row
        for row in (rows if isinstance(rows, list) else [])
        if isinstance(row, dict) and (date is None or row.get("date") == date) and agent in (None, row.get("agent"))
    ]


def cmd_schedule_show(args: argparse.Namespace) -> int:
    async def show(store: Store) -> int:
        stored = await store.schedules.read_schedules()
        if stored is None:
            print(_("no schedule stored (version 0)"), file=sys.stderr)
            return EXIT_OK
        by = printable(
            _("version {version} by {who} at {when}").format(
                version=stored.get("version"), who=stored.get("updated_by"), when=stored.get("updated_ts")
            )
        )
        print(by, file=sys.stderr)
        for row in _stored_rows(stored, args.date, args.agent):
            _print_row(row.get("agent"), row.get("date"), f"{row.get('start')}-{row.get('end')}", row.get("activity"))
        return EXIT_OK

    return _with_store(args, show, writes=False)


def cmd_schedule_export(args: argparse.Namespace) -> int:
    import csv
    import io

    from wallboard.core.adherence.schedule import COLUMNS

    async def export(store: Store) -> int:
        rows = _stored_rows(await store.schedules.read_schedules())
        if args.format == "json":
            text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
        else:
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            text = out.getvalue()
        if args.out is None:
            sys.stdout.write(text)
            return EXIT_OK
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(_("cannot write {path}: {reason}").format(path=args.out, reason=exc.strerror)) from exc
        return EXIT_OK

    return _with_store(args, export, writes=False)


# -- grafana: `wallboard grafana build [--check]` and `wallboard grafana push --url URL`


def _add_grafana_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``grafana build [--check]`` (generated dashboards, provisioning, recording rules) and ``grafana push``."""
    grafana = _command(sub, "grafana", "history dashboards: generate the files, push them to a Grafana", common)
    gsub = grafana.add_subparsers(dest="grafana_command", required=True, metavar="ACTION")
    build = _command(
        gsub, "build", "regenerate grafana/ and deploy/prometheus/rules/recording.yml (SL formula from --site-file)",
        common,
    )  # fmt: skip
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 listing the stale files")
    build.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    build.set_defaults(func=cmd_grafana_build)
    push = _command(
        gsub, "push", "create the folder and upload the dashboards (token: WALLBOARD_GRAFANA_TOKEN)", common
    )
    push.add_argument("--url", default=None, help="Grafana's base URL (default: WALLBOARD_GRAFANA_URL)")
    push.add_argument("--folder", default="Wallboard", help="folder title (default: Wallboard)")
    push.set_defaults(func=cmd_grafana_push)


def cmd_grafana_build(args: argparse.Namespace) -> int:
    from wallboard.grafana.build import BuildError, artefacts, stale, write

    site_file = getattr(args, "site_file", None)
    formula = load_site_file(site_file).sl_formula if site_file else "offered_minus_short"
    expected = artefacts(formula)
    try:
        if args.check:
            outdated = stale(args.root, expected)
            for path in outdated:
                print(_("stale: {path}").format(path=path), file=sys.stderr)
            if outdated:
                stale_files = _("generated files are out of date: run `wallboard grafana build`")
                print(f"wallboard: {stale_files}", file=sys.stderr)
            return EXIT_FAILED if outdated else EXIT_OK
        for path in write(args.root, expected):
            print(_("wrote {path}").format(path=path))
    except BuildError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_grafana_push(args: argparse.Namespace) -> int:
    from wallboard.grafana.dashboards import board_json, dashboards
    from wallboard.grafana.push import PushError, connect, push

    settings = Settings()
    url = args.url or settings.grafana_url
    if not url:
        raise ConfigError(_("give --url or set WALLBOARD_GRAFANA_URL to Grafana's base URL"))
    if settings.grafana_token is None:
        raise ConfigError(_("set WALLBOARD_GRAFANA_TOKEN to a Grafana service-account token (never given on argv)"))
    boards = {name: board_json(board) for name, board in dashboards().items()}
    try:
        report = push(connect(url, settings.grafana_token.get_secret_value()), boards, args.folder)
    except PushError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    counts = {"uid": report.folder_uid, "created": len(report.created), "updated": len(report.updated),
              "unchanged": len(report.unchanged)}  # fmt: skip
    if report.folder_created:
        print(_("folder {uid} (created): {created} created, {updated} updated, {unchanged} unchanged").format(**counts))
    else:
        print(_("folder {uid}: {created} created, {updated} updated, {unchanged} unchanged").format(**counts))
    return EXIT_OK


# -- history: `wallboard history export`, the closed interval rows the engine keeps in Redis


def _add_history_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``history export --kind queue|agent [--from] [--to] [--format csv|json] [--out FILE]``."""
    history = _command(sub, "history", "closed interval rows per queue and agent, kept in Redis", common)
    hsub = history.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    export = _command(hsub, "export", "write the rows of the intervals starting in [--from, --to)", common)
    export.add_argument("--kind", choices=["queue", "agent"], required=True, help="rows per queue or per agent")
    export.add_argument("--from", dest="start", default=None, help="ISO date or time, site-local (default: yesterday)")
    export.add_argument("--to", dest="end", default=None, help="ISO date (that day included) or time (default: now)")
    export.add_argument("--format", choices=["csv", "json"], default="csv", help="the file's format")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=cmd_history_export)


def cmd_history_export(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin.history import MAX_ROWS, id_range, read_rows
    from wallboard.core.history import AGENT_COLUMNS, QUEUE_COLUMNS, WindowError, to_csv, window

    settings = _settings(args)
    try:
        low, high = window(args.start, args.end, _site_for(settings).tz, datetime.now(UTC))
    except WindowError as exc:
        raise ConfigError(f"--{exc.field}: {exc.reason}") from exc

    async def export(store: Store) -> int:
        rows: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            first, last = id_range(low, high, after)
            page, after = await read_rows(store, args.kind, first, last, {}, MAX_ROWS)
            rows += page
            if after is None:
                break
        columns = QUEUE_COLUMNS if args.kind == "queue" else AGENT_COLUMNS
        text = to_csv(rows, columns) if args.format == "csv" else json.dumps(rows, indent=1) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
        if args.kind == "queue":
            told = ngettext("{n} queue row from {start} to {end}", "{n} queue rows from {start} to {end}", len(rows))
        else:
            told = ngettext("{n} agent row from {start} to {end}", "{n} agent rows from {start} to {end}", len(rows))
        print(told.format(n=len(rows), start=low.isoformat(), end=high.isoformat()), file=sys.stderr)
        return EXIT_OK

    return _with_store(args, export, writes=False)


# -- calls: `wallboard calls export`, the call log the engine keeps in Redis


def _add_calls_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``calls export [--from] [--to] [--queue Q]... [--format csv|json] [--out FILE]``."""
    calls = _command(sub, "calls", "the call log: one record per finished call, kept in Redis", common)
    csub = calls.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    export = _command(csub, "export", "write the calls finished in [--from, --to) (caller numbers in full)", common)
    export.add_argument("--from", dest="start", default=None, help="ISO date or time, site-local (default: today)")
    export.add_argument("--to", dest="end", default=None, help="ISO date (that day included) or time")
    export.add_argument("--queue", action="append", default=None, help="only this queue (may be repeated)")
    export.add_argument("--format", choices=["csv", "json"], default="csv", help="the file's format")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=cmd_calls_export)


def cmd_calls_export(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin.calls import MAX_CALLS, CallFilter, calls_window, id_range, read_calls
    from wallboard.core.calls import calls_csv
    from wallboard.core.history import WindowError

    settings = _settings(args)
    try:
        low, high = calls_window(args.start, args.end, _site_for(settings).tz, datetime.now(UTC))
    except WindowError as exc:
        raise ConfigError(f"--{exc.field}: {exc.reason}") from exc
    wanted = CallFilter(queue=frozenset(args.queue or ()))

    async def export(store: Store) -> int:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            first, last = id_range(low, high, cursor)
            page, cursor = await read_calls(store, first, last, wanted, MAX_CALLS, full=True)
            rows += page
            if cursor is None:
                break
        text = calls_csv(rows) if args.format == "csv" else json.dumps(rows, indent=1) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
        told = ngettext("{n} call from {start} to {end}", "{n} calls from {start} to {end}", len(rows))
        print(told.format(n=len(rows), start=low.isoformat(), end=high.isoformat()), file=sys.stderr)
        return EXIT_OK

    return _with_store(args, export, writes=False)


def main(argv: Sequence[str] | None = None) -> int:
    import os

    use(negotiate(os.environ))  # the messages' language (processes.messages): before the parser's help is made
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(getattr(args, "verbose", 0))
    try:
        code: int = args.func(args)
    except WallboardError as exc:  # every error of the project: one line, its own exit status
        print(f"wallboard: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:
        print("wallboard: " + _("invalid settings: {details}").format(details=describe_errors(exc)), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
