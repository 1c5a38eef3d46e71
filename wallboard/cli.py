"""The ``wallboard`` command: the composition root.

Only this module builds settings from the environment, configures logging, and imports
``collectors`` and ``dash_app`` together with the core. Every subcommand is a small function
that builds its collaborators and hands them over.

Errors: a wrong setting (a malformed ``REDIS_URL``, a bad site name) is reported in one line on
stderr and exits with status 2 at once; a refused AMI login, a port already taken or an embedded
Redis that cannot start exit with status 1, also in one line. An unreachable Redis is not an
error: it may be starting or failing over, so the engine, the collectors and the API retry with
backoff and log each attempt. SIGINT/SIGTERM stop a live command cleanly with status 0.
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
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from collectors.ami.client import AmiAuthError, AmiConfig
from wallboard.config import Settings, describe_errors
from wallboard.site import QueueConfig, SiteConfig, SiteFileError, load_site_file
from wallboard.users import Role

if TYPE_CHECKING:
    from wallboard.accounts import Accounts
    from wallboard.live import PageMount
    from wallboard.store import Store

log = logging.getLogger("wallboard")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class ConfigError(Exception):
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
        raise argparse.ArgumentTypeError(f"expected QUEUE=SECONDS, read {text!r}")
    try:
        value = float(seconds)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of seconds after '=', read {seconds!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"SL threshold must be >= 0, read {value}")
    return queue, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wallboard", description="Real-time contact-center wallboard.")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging on stderr (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="replay a recorded AMI transcript or queue_log and print the figures")
    rp.add_argument("path", type=Path)
    rp.add_argument("--format", required=True, choices=["ami", "queue_log", "queue_log_csv"])
    rp.add_argument("--sl-threshold", type=_sl_threshold, action="append", default=[], metavar="QUEUE=SECONDS")
    rp.add_argument("--short-abandon", type=float, default=None, metavar="SECONDS")
    rp.add_argument("--sl-formula", choices=["offered_minus_short", "answered", "offered"], default=None)
    rp.add_argument("--site-file", type=Path, default=None)
    rp.add_argument("--site", default=None, help="site name (default: the site file's, else 'default')")
    rp.add_argument("--tz", default=None, help="site time zone (IANA name), overrides the site file")
    rp.add_argument("--frame-times", type=Path, default=None, help="ami_frames.jsonl with receive times")
    rp.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    rp.set_defaults(func=cmd_replay)

    sim = sub.add_parser("simulate", help="run the contact-center simulator as an AMI server")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=5038)
    sim.add_argument("--agents", type=int, default=40)
    sim.add_argument("--queues", type=int, default=4)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--username", default="wallboard")
    sim.add_argument(
        "--schedule-out", type=Path, default=None, metavar="FILE.csv", help="write the schedule the agents follow"
    )
    sim.set_defaults(func=cmd_simulate)

    collect = sub.add_parser("collect", help="collect a PBX into the Redis stream")
    csub = collect.add_subparsers(dest="source", required=True)
    ami = csub.add_parser("ami", help="Asterisk Manager Interface (secret from WALLBOARD_AMI_SECRET)")
    ami.add_argument("--host", default="127.0.0.1")
    ami.add_argument("--port", type=int, default=5038)
    ami.add_argument("--username", default="wallboard")
    ami.add_argument("--site", default=None)
    ami.set_defaults(func=cmd_collect_ami)
    ql = csub.add_parser("queue-log", help="follow an Asterisk queue_log file")
    ql.add_argument("path", type=Path)
    ql.add_argument("--from-start", action="store_true", help="read the file from its start (default: its end)")
    ql.add_argument("--site", default=None)
    ql.set_defaults(func=cmd_collect_queue_log)

    eng = sub.add_parser("engine", help="run the engine: stream -> metrics -> snapshot and deltas")
    eng.add_argument("--site", default=None)
    eng.add_argument("--site-file", type=Path, default=None)
    eng.set_defaults(func=cmd_engine)

    api = sub.add_parser("api", help="serve the REST API, /ws, /metrics and the wallboard page")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.add_argument("--site", default=None)
    api.set_defaults(func=cmd_api)

    demo = sub.add_parser("demo", help="everything on one machine: simulator, collector, Redis, engine, API")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--speed", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--agents", type=int, default=40)
    demo.add_argument("--queues", type=int, default=4)
    demo.add_argument("--site", default=None, help="site name (default: WALLBOARD_SITE, else 'default')")
    demo.set_defaults(func=cmd_demo)

    alerts = sub.add_parser("alerts", help="alert thresholds: export them as Prometheus alerting rules")
    asub = alerts.add_subparsers(dest="alerts_command", required=True)
    rules = asub.add_parser("export-rules", help="write the site file's thresholds as a Prometheus rule file")
    rules.add_argument("--site-file", type=Path, required=True)
    rules.add_argument("--out", type=Path, default=None, help="rule file to write (default: stdout)")
    rules.add_argument("--horizon-days", type=int, default=400, help="DST changes are resolved this far ahead")
    rules.set_defaults(func=cmd_alerts_export_rules)
    _add_account_commands(sub)
    _add_schedule_commands(sub)  # issue 7 S
    _add_grafana_commands(sub)  # issue 8 G
    _add_history_commands(sub)  # issue 8 H
    return parser


def _add_account_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``users add|list|disable`` and ``tokens create|list|revoke`` (Redis from WALLBOARD_REDIS_URL)."""
    users = sub.add_parser("users", help="users of the API and the ops page")
    users.add_argument("--site", default=None)
    usub = users.add_subparsers(dest="users_command", required=True)
    add = usub.add_parser("add", help="add a user (password from WALLBOARD_NEW_PASSWORD, else prompted for)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.set_defaults(func=cmd_users_add)
    usub.add_parser("list", help="list the users").set_defaults(func=cmd_users_list)
    disable = usub.add_parser("disable", help="disable a user (its sessions stop working at once)")
    disable.add_argument("name")
    disable.set_defaults(func=cmd_users_disable)

    tokens = sub.add_parser("tokens", help="read-only display tokens for the boards")
    tokens.add_argument("--site", default=None)
    tsub = tokens.add_subparsers(dest="tokens_command", required=True)
    create = tsub.add_parser("create", help="create a display token and print it (shown this once)")
    create.add_argument("--board", default=None)
    create.add_argument("--label", default="")
    create.set_defaults(func=cmd_tokens_create)
    tsub.add_parser("list", help="list display tokens by id").set_defaults(func=cmd_tokens_list)
    revoke = tsub.add_parser("revoke", help="revoke the display token whose id starts with PREFIX")
    revoke.add_argument("prefix")
    revoke.set_defaults(func=cmd_tokens_revoke)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value
        for key, value in (("site", getattr(args, "site", None)), ("host", getattr(args, "host", None)))
        if value is not None
    }
    if getattr(args, "port", None) is not None and args.command in ("api", "demo"):
        overrides["port"] = args.port
    return Settings(**overrides)


def _site_for(settings: Settings, site_file: Path | None = None) -> SiteConfig:
    path = site_file or settings.site_file
    site = load_site_file(path) if path else SiteConfig()
    if site.site != settings.site:
        site = site.model_copy(update={"site": settings.site})
    return site


def _run(coro: Coroutine[Any, Any, None]) -> int:
    """Run the main coroutine; SIGINT/SIGTERM cancel it and the process exits 0."""
    from wallboard.live import run_until_signalled

    return asyncio.run(run_until_signalled(coro))


def cmd_simulate(args: argparse.Namespace) -> int:
    from wallboard import live

    settings = Settings()
    secret = settings.ami_secret.get_secret_value() if settings.ami_secret else "wallboard"
    if args.schedule_out is not None and not args.schedule_out.resolve().parent.is_dir():
        raise ConfigError(f"--schedule-out: no directory {str(args.schedule_out.resolve().parent)!r} to write into")
    return _run(
        live.simulate(
            args.host,
            args.port,
            agents=args.agents,
            queues=args.queues,
            speed=args.speed,
            seed=args.seed,
            username=args.username,
            secret=secret,
            schedule_out=args.schedule_out,
        )
    )


def cmd_collect_ami(args: argparse.Namespace) -> int:
    from wallboard import live

    settings = _settings(args)
    if settings.ami_secret is None:
        raise ConfigError("set WALLBOARD_AMI_SECRET to the AMI user's secret (it is never read from the command line)")
    config = AmiConfig(args.host, args.port, args.username, settings.ami_secret.get_secret_value(), site=settings.site)
    return _run(live.collect_ami(settings, config))


def cmd_collect_queue_log(args: argparse.Namespace) -> int:
    from wallboard import live

    settings = _settings(args)
    return _run(live.collect_queue_log(settings, args.path, from_start=args.from_start))


def cmd_engine(args: argparse.Namespace) -> int:
    from wallboard.runner import run_engine

    settings = _settings(args)
    return _run(run_engine(settings, _site_for(settings, args.site_file)))


def cmd_api(args: argparse.Namespace) -> int:
    from wallboard import live

    settings = _settings(args)
    return _run(live.serve_api(settings, pages=_pages()))


def cmd_demo(args: argparse.Namespace) -> int:
    from wallboard import live

    settings = _settings(args)
    options = live.DemoOptions(speed=args.speed, seed=args.seed, agents=args.agents, queues=args.queues)
    return _run(live.demo(settings, options, announce=_announce, inform=_inform, pages=_pages()))


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
    site = load_site_file(args.site_file) if args.site_file else SiteConfig()
    update: dict[str, object] = {}
    if getattr(args, "site", None):
        update["site"] = args.site
    if getattr(args, "tz", None):
        update["timezone"] = args.tz
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
        return SiteConfig.model_validate({**site.model_dump(), **update})
    except ValueError as exc:
        raise SiteFileError(f"invalid option: {exc}") from exc


def cmd_alerts_export_rules(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.alert_rules import export_rules

    site = load_site_file(args.site_file)
    export = export_rules(site.thresholds, site, datetime.now(UTC), horizon_days=args.horizon_days)
    for skipped in export.skipped:
        log.warning("threshold %s is not exported to Prometheus: %s", skipped.threshold_id, skipped.reason)
    text = export.to_yaml()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {args.out}: {exc.strerror}") from exc
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from wallboard import replay as rp
    from wallboard.report import print_replay_table, replay_progress

    site = _site_from_args(args)
    frame_times = rp.load_frame_times(args.frame_times) if args.frame_times else None
    if not args.path.is_file():
        raise rp.ReplayError(f"cannot read {args.path}: no such file")
    with replay_progress(args.path, enabled=not args.json) as progress:
        result = rp.replay(args.path, args.format, site, frame_times=frame_times, progress=progress)
    if args.json:
        json.dump(result.to_json(), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_replay_table(result.to_json())
    return EXIT_OK


CLI_ACTOR = "cli"


def _with_accounts(args: argparse.Namespace, work: Callable[[Accounts], Awaitable[int]]) -> int:
    """Run ``work(accounts)`` against the site's Redis (embedded when no URL is set, as the demo does)."""
    from redis.exceptions import RedisError

    from wallboard.accounts import Accounts, Hashing
    from wallboard.live import redis_for
    from wallboard.store import Store
    from wallboard.users import Passwords

    settings = _settings(args)

    async def run() -> int:
        async with redis_for(settings, "wallboard-cli") as (client, _):
            store = Store(client, prefix=settings.key_prefix, site=settings.site)
            return await work(Accounts(store, Hashing(Passwords())))

    try:
        return asyncio.run(run())
    except (RedisError, OSError) as exc:
        print(f"wallboard: cannot reach Redis ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_FAILED


def _new_password(settings: Settings) -> str:
    if settings.new_password is not None:
        return settings.new_password.get_secret_value()
    if not sys.stdin.isatty():
        raise ConfigError("set WALLBOARD_NEW_PASSWORD or run on a terminal to be asked for the password")
    first = getpass.getpass("Password for the new user: ")
    if getpass.getpass("Same password again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    password = _new_password(_settings(args))

    async def add(accounts: Accounts) -> int:
        user = await accounts.add_user(args.name, Role(args.role), password, actor=CLI_ACTOR)
        print(f"added user {user.name} with role {user.role.value}")
        return EXIT_OK

    return _with_accounts(args, add)


def cmd_users_list(args: argparse.Namespace) -> int:
    async def show(accounts: Accounts) -> int:
        for user in await accounts.list_users():
            state = "disabled" if user.disabled else "active"
            print(f"{user.name}\t{user.role.value}\t{state}\tcreated {user.created}")
        return EXIT_OK

    return _with_accounts(args, show)


def cmd_users_disable(args: argparse.Namespace) -> int:
    async def disable(accounts: Accounts) -> int:
        await accounts.update_user(args.name, actor=CLI_ACTOR, disabled=True)
        print(f"disabled user {args.name}")
        return EXIT_OK

    return _with_accounts(args, disable)


def cmd_tokens_create(args: argparse.Namespace) -> int:
    async def create(accounts: Accounts) -> int:
        token, shown = await accounts.create_token(args.board, args.label, actor=CLI_ACTOR)
        print(f"display token {shown.id} for board {shown.board or '(any)'} (shown only now):", file=sys.stderr)
        print(token)
        return EXIT_OK

    return _with_accounts(args, create)


def cmd_tokens_list(args: argparse.Namespace) -> int:
    async def show(accounts: Accounts) -> int:
        for token in await accounts.list_tokens():
            print(f"{token.id}\t{token.board or '(any)'}\t{token.label}\tcreated {token.created}")
        return EXIT_OK

    return _with_accounts(args, show)


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    async def revoke(accounts: Accounts) -> int:
        _, shown = await accounts.revoke_token(args.prefix, actor=CLI_ACTOR)
        print(f"revoked display token {shown.id} (board {shown.board or '(any)'})")
        return EXIT_OK

    return _with_accounts(args, revoke)


# -- schedules (issue 7 S): `wallboard schedule import|show|export`, against Redis through the Store


def _add_schedule_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``schedule import FILE``, ``schedule show``, ``schedule export`` (Redis from WALLBOARD_REDIS_URL)."""
    schedule = sub.add_parser("schedule", help="agent schedules for adherence (CSV or JSON files)")
    schedule.add_argument("--site", default=None)
    ssub = schedule.add_subparsers(dest="schedule_command", required=True)
    imp = ssub.add_parser("import", help="validate a file and store it (all rows or nothing)")
    imp.add_argument("path", type=Path, metavar="FILE")
    imp.add_argument(
        "--mode",
        choices=["replace", "merge"],
        default="replace",
        help="merge: replace only the (agent, day) pairs the file has rows for",
    )
    imp.add_argument("--format", choices=["csv", "json"], default=None, help="default: from the extension")
    imp.add_argument(
        "--site-file", type=Path, default=None, help="time zone, agents, activities (default: WALLBOARD_SITE_FILE)"
    )
    imp.set_defaults(func=cmd_schedule_import)
    show = ssub.add_parser("show", help="print the stored slots")
    show.add_argument("--date", type=_iso_date, default=None, metavar="YYYY-MM-DD")
    show.add_argument("--agent", default=None)
    show.set_defaults(func=cmd_schedule_show)
    export = ssub.add_parser("export", help="write the stored schedule as a file `schedule import` reads")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=cmd_schedule_export)


def _iso_date(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, read {text!r}") from exc


def _with_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[int]]) -> int:
    """Run ``work(store)`` against the site's Redis (embedded when no URL is set, as ``users`` does)."""
    from redis.exceptions import RedisError

    from wallboard.live import redis_for
    from wallboard.store import Store, StoreError

    settings = _settings(args)

    async def run() -> int:
        async with redis_for(settings, "wallboard-cli") as (client, _):
            return await work(Store(client, prefix=settings.key_prefix, site=settings.site))

    try:
        return asyncio.run(run())
    except StoreError as exc:  # an unreadable stored document
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (RedisError, OSError) as exc:
        print(f"wallboard: cannot reach Redis ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_FAILED


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def cmd_schedule_import(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.adherence import schedule as sc
    from wallboard.store import ConfigConflictError, ConfigFormatError

    settings = _settings(args)
    if args.site_file is None and settings.site_file is None:
        raise ConfigError("a site file gives the time zone and agents: pass --site-file or set WALLBOARD_SITE_FILE")
    site = _site_for(settings, args.site_file)
    kind: sc.Format = "json" if (args.format or args.path.suffix.lower().lstrip(".")) == "json" else "csv"
    data = _read_schedule_file(args.path)
    actor = _cli_actor()

    async def store_it(store: Store) -> int:
        try:
            stored = await store.read_schedules()
        except ConfigFormatError as exc:
            if args.mode == "merge":
                print(f"wallboard: {exc}: import with --mode replace", file=sys.stderr)
                return EXIT_FAILED
            stored = None  # unreadable counts as version 0 (see Store.replace_config): a replace repairs it
        version = stored.get("version", 0) if stored is not None else 0
        try:
            base = sc.schedule_from_document(stored, site) if args.mode == "merge" and stored is not None else None
            schedule = sc.parse_bytes(data, site, kind, merge_into=base)
            rows = sc.dump_schedule(schedule, site)
        except sc.ScheduleError as exc:
            await store.count_schedule_rejection()
            log.info("rejected %s by %s: %d problem(s)", args.path, actor, len(exc.problems))
            print(f"wallboard: {args.path}: {len(exc.problems)} problem(s), nothing stored", file=sys.stderr)
            for problem in exc.problems:
                print(f"{args.path}: {problem}", file=sys.stderr)
            return EXIT_USAGE
        at = datetime.now(UTC)
        try:
            written = await store.write_schedules({"slots": rows}, version, actor, at=at, action="schedules.import")
        except ConfigConflictError as exc:
            print(f"wallboard: the schedule changed meanwhile ({exc}); nothing stored, try again", file=sys.stderr)
            return EXIT_FAILED
        shown = sc.describe(schedule)
        span = f"{shown['first_day']} to {shown['last_day']}" if shown["days"] else "no day"
        print(f"imported {shown['slots']} slots of {shown['agents']} agents, {span}: version {written['version']}")
        return EXIT_OK

    return _with_store(args, store_it)


def _read_schedule_file(path: Path) -> bytes:
    from wallboard.adherence.schedule import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path} has more than {MAX_BYTES} bytes: split it (by days or teams)")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _stored_rows(stored: dict[str, Any] | None, date: str | None = None, agent: str | None = None) -> list[Any]:
    rows = stored.get("slots") if stored is not None else None
    return [
        row
        for row in (rows if isinstance(rows, list) else [])
        if isinstance(row, dict) and (date is None or row.get("date") == date) and agent in (None, row.get("agent"))
    ]


def cmd_schedule_show(args: argparse.Namespace) -> int:
    async def show(store: Store) -> int:
        stored = await store.read_schedules()
        if stored is None:
            print("no schedule stored (version 0)", file=sys.stderr)
            return EXIT_OK
        print(
            f"version {stored.get('version')} by {stored.get('updated_by')} at {stored.get('updated_ts')}",
            file=sys.stderr,
        )
        for row in _stored_rows(stored, args.date, args.agent):
            print(f"{row.get('agent')}\t{row.get('date')}\t{row.get('start')}-{row.get('end')}\t{row.get('activity')}")
        return EXIT_OK

    return _with_store(args, show)


def cmd_schedule_export(args: argparse.Namespace) -> int:
    import csv
    import io

    from wallboard.adherence.schedule import COLUMNS

    async def export(store: Store) -> int:
        rows = _stored_rows(await store.read_schedules())
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
            raise ConfigError(f"cannot write {args.out}: {exc.strerror}") from exc
        return EXIT_OK

    return _with_store(args, export)


# -- grafana (issue 8 G): `wallboard grafana build [--check]` and `wallboard grafana push --url URL`


def _add_grafana_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``grafana build [--check]`` (generated dashboards, provisioning, recording rules) and ``grafana push``."""
    grafana = sub.add_parser("grafana", help="history dashboards: generate the files, push them to a Grafana")
    gsub = grafana.add_subparsers(dest="grafana_command", required=True)
    build = gsub.add_parser("build", help="regenerate grafana/ and deploy/prometheus/rules/recording.yml")
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 listing the stale files")
    build.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    build.add_argument("--site-file", type=Path, default=None, help="take the SL formula from this site file")
    build.set_defaults(func=cmd_grafana_build)
    push = gsub.add_parser("push", help="create the folder and upload the dashboards (token: WALLBOARD_GRAFANA_TOKEN)")
    push.add_argument("--url", default=None, help="Grafana's base URL (default: WALLBOARD_GRAFANA_URL)")
    push.add_argument("--folder", default="Wallboard", help="folder title (default: Wallboard)")
    push.set_defaults(func=cmd_grafana_push)


def cmd_grafana_build(args: argparse.Namespace) -> int:
    from wallboard.grafana.build import BuildError, artefacts, stale, write

    formula = load_site_file(args.site_file).sl_formula if args.site_file else "offered_minus_short"
    expected = artefacts(formula)
    try:
        if args.check:
            outdated = stale(args.root, expected)
            for path in outdated:
                print(f"stale: {path}", file=sys.stderr)
            if outdated:
                print("wallboard: generated files are out of date: run `wallboard grafana build`", file=sys.stderr)
            return EXIT_FAILED if outdated else EXIT_OK
        for path in write(args.root, expected):
            print(f"wrote {path}")
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
        raise ConfigError("give --url or set WALLBOARD_GRAFANA_URL to Grafana's base URL")
    if settings.grafana_token is None:
        raise ConfigError("set WALLBOARD_GRAFANA_TOKEN to a Grafana service-account token (never given on argv)")
    boards = {name: board_json(board) for name, board in dashboards().items()}
    try:
        report = push(connect(url, settings.grafana_token.get_secret_value()), boards, args.folder)
    except PushError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    created = " (created)" if report.folder_created else ""
    print(f"folder {report.folder_uid}{created}: {len(report.created)} created, {len(report.updated)} updated, "
          f"{len(report.unchanged)} unchanged")  # fmt: skip
    return EXIT_OK


def _account_errors() -> tuple[type[Exception], ...]:
    from wallboard.accounts import AccountError
    from wallboard.users import UserError

    return (AccountError, UserError)


def _startup_errors() -> tuple[type[Exception], ...]:
    """Errors that stop a live command with a message of their own (no traceback): no Redis, no port, bad login."""
    from wallboard.api.app import ApiError
    from wallboard.embedded import EmbeddedRedisError
    from wallboard.runner import RunnerError

    return (ApiError, EmbeddedRedisError, RunnerError)


# -- history (issue 8 H): `wallboard history export`, the closed interval rows the engine keeps in Redis


def _add_history_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``history export --kind queue|agent [--from] [--to] [--format csv|json] [--out FILE]``."""
    history = sub.add_parser("history", help="closed interval rows per queue and agent, kept in Redis")
    history.add_argument("--site", default=None)
    hsub = history.add_subparsers(dest="history_command", required=True)
    export = hsub.add_parser("export", help="write the rows of the intervals starting in [--from, --to)")
    export.add_argument("--kind", choices=["queue", "agent"], required=True)
    export.add_argument("--from", dest="start", default=None, help="ISO date or time, site-local (default: yesterday)")
    export.add_argument("--to", dest="end", default=None, help="ISO date (that day included) or time (default: now)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.add_argument("--site-file", type=Path, default=None, help="for the time zone (default: WALLBOARD_SITE_FILE)")
    export.set_defaults(func=cmd_history_export)


def cmd_history_export(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.api.history_routes import MAX_ROWS, id_range, read_rows
    from wallboard.history import AGENT_COLUMNS, QUEUE_COLUMNS, WindowError, to_csv, window

    settings = _settings(args)
    try:
        low, high = window(args.start, args.end, _site_for(settings, args.site_file).tz, datetime.now(UTC))
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
        print(f"{len(rows)} {args.kind} rows from {low.isoformat()} to {high.isoformat()}", file=sys.stderr)
        return EXIT_OK

    return _with_store(args, export)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    from wallboard.replay import ReplayError

    try:
        code: int = args.func(args)
    except (ReplayError, SiteFileError, ConfigError) as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        print(f"wallboard: invalid settings: {describe_errors(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except AmiAuthError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except _startup_errors() as exc:  # evaluated only when an exception gets here: imports stay lazy
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except _account_errors() as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
