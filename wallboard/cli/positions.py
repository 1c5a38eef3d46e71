"""``wallboard positions list|forget``: the collectors' stored resume points (``wallboard.admin.positions``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from wallboard.cli.common import EXIT_OK, _command, cli_actor, print_row, with_store
from wallboard.errors import EXIT_FAILED
from wallboard.processes.messages import _

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers
    from wallboard.store import Store


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``positions list`` and ``positions forget SOURCE``."""
    positions = _command(sub, "positions", "where each collector has read its source up to (queue_log files)", common)
    positions.epilog = _("exit status: 0 done; 1 no position stored for that source, or anything else")
    psub = positions.add_subparsers(dest="positions_command", required=True, metavar="ACTION")
    _command(psub, "list", "list the stored positions, one source per line", common).set_defaults(
        func=cmd_positions_list
    )
    forget = _command(
        psub, "forget", "forget a source's position: its collector starts as on its first run (audited)", common
    )
    forget.add_argument("source", help="the source as listed, or the path of its queue_log file")
    forget.set_defaults(func=cmd_positions_forget)


def cmd_positions_list(args: argparse.Namespace) -> int:
    from wallboard.admin import positions

    async def show(store: Store) -> int:
        for source, value in (await positions.positions(store.events)).items():
            print_row(source, json.dumps(value, sort_keys=True) if value is not None else "(unreadable)")
        return EXIT_OK

    return with_store(args, show, writes=False)


def cmd_positions_forget(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import positions

    async def forget(store: Store) -> int:
        try:
            source = await positions.forget(
                store.events, store.accounts, args.source, actor=cli_actor(), now=datetime.now(UTC)
            )
        except positions.UnknownSourceError as exc:
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(_("forgot the position of {source}: its collector starts as on its first run").format(source=source))
        return EXIT_OK

    return with_store(args, forget, writes=True)
