"""``wallboard history export`` (the closed interval rows) and ``wallboard calls export`` (the call log): what the
engine keeps in Redis, written as CSV or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wallboard.cli.common import EXIT_OK, ConfigError, _command, command_settings, site_for, with_store
from wallboard.processes.messages import ngettext

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers
    from wallboard.store import Store


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``history export`` and ``calls export``."""
    _add_history_commands(sub, common)
    _add_calls_commands(sub, common)


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

    settings = command_settings(args)
    try:
        low, high = window(args.start, args.end, site_for(settings).tz, datetime.now(UTC))
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

    return with_store(args, export, writes=False)


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

    settings = command_settings(args)
    try:
        low, high = calls_window(args.start, args.end, site_for(settings).tz, datetime.now(UTC))
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

    return with_store(args, export, writes=False)
