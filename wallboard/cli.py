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
