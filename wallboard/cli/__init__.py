"""The ``wallboard`` command: the composition root.

Only this package builds settings from the environment, configures logging, and imports
``collectors`` and ``dash_app`` together with the core. Every subcommand is a small function
that builds its collaborators and hands them over; they live by subject: ``replay``, ``run`` (the
live processes: simulate, collect, engine, api, serve, demo, init), ``monitoring`` (alerts, grafana),
``accounts`` (users, tokens), ``boards``, ``schedule``, ``history`` (history, calls), all on ``common``.

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
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from wallboard.cli import accounts, boards, history, monitoring, positions, replay, run, schedule
from wallboard.cli.common import EXIT_OK, ConfigError, HelpFormatter, common_options
from wallboard.config import describe_errors
from wallboard.errors import EXIT_FAILED, EXIT_USAGE, WallboardError
from wallboard.processes.messages import _, negotiate, use

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "ConfigError", "build_parser", "main"]


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand, in the order ``wallboard --help`` lists them."""
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="wallboard",
        description=_("Real-time contact-center wallboard."),
        parents=[common],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wallboard {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    replay.add_commands(sub, common)
    run.add_commands(sub, common)
    monitoring.add_alerts_commands(sub, common)
    accounts.add_commands(sub, common)
    boards.add_commands(sub, common)
    schedule.add_commands(sub, common)
    monitoring.add_grafana_commands(sub, common)
    history.add_commands(sub, common)
    positions.add_commands(sub, common)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wallboard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


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
