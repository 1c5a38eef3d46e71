"""``wallboard replay``: the figures of a recorded AMI transcript, queue_log file or queue_log table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from wallboard.cli.common import EXIT_OK, ConfigError, _command, add_table_options, table_zone, time_zone
from wallboard.config import Settings, describe_errors
from wallboard.core.site import QueueConfig, SiteConfig, SiteFileError, load_site_file
from wallboard.processes.messages import _

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``replay PATH`` with the site's figures overridable on the command line."""
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
    add_table_options(rp)
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


def _replay_input(text: str) -> Path | str:
    """A replay's input: a database URL (``scheme://...``) as given, anything else as a path."""
    from collectors.queue_log.table import is_database_url

    return text if is_database_url(text) else Path(text)


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
    return rp.replay_table(reader, site, tz=table_zone(args, site.timezone), start=start, end=end)


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


def _site_from_args(args: argparse.Namespace) -> SiteConfig:
    site_file = getattr(args, "site_file", None)
    site = load_site_file(site_file) if site_file else SiteConfig()
    update: dict[str, object] = {}
    if getattr(args, "site", None):
        update["site"] = args.site
    if getattr(args, "tz", None):
        update["timezone"] = time_zone(args.tz)
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


def _discard_stdout() -> None:
    """After the reader of stdout went away: send what is left to /dev/null, so the flush at exit cannot fail."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
