"""``wallboard schedule import|show|export``: agent schedules for adherence, against Redis through the Store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from wallboard.cli.common import (
    EXIT_OK,
    ConfigError,
    _command,
    cli_actor,
    command_settings,
    nothing_stored,
    print_row,
    site_for,
    with_store,
)
from wallboard.core.text import printable
from wallboard.errors import EXIT_FAILED, EXIT_USAGE
from wallboard.processes.messages import _, ngettext

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers
    from wallboard.store import Store


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
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


def cmd_schedule_import(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import schedules
    from wallboard.core.adherence.schedule import ScheduleError, describe
    from wallboard.store import ConfigConflictError

    settings = command_settings(args)
    if settings.site_file is None:
        raise ConfigError(_("a site file gives the time zone and agents: pass --site-file or set WALLBOARD_SITE_FILE"))
    site = site_for(settings)
    kind: Literal["csv", "json"] = "json" if (args.format or args.path.suffix.lower().lstrip(".")) == "json" else "csv"
    data = _read_schedule_file(args.path)

    async def store_it(store: Store) -> int:
        try:
            imported = await schedules.import_schedule(
                store, data, site, kind, mode=args.mode, actor=cli_actor(), at=datetime.now(UTC)
            )
        except schedules.UnmergeableScheduleError as exc:
            print("wallboard: " + _("{reason}: import with --mode replace").format(reason=exc.reason), file=sys.stderr)
            return EXIT_FAILED
        except ScheduleError as exc:
            print(f"wallboard: {nothing_stored(args.path, len(exc.problems))}", file=sys.stderr)
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

    return with_store(args, store_it, writes=True)


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
            print_row(row.get("agent"), row.get("date"), f"{row.get('start')}-{row.get('end')}", row.get("activity"))
        return EXIT_OK

    return with_store(args, show, writes=False)


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

    return with_store(args, export, writes=False)
