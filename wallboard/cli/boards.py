"""``wallboard boards list|show|put|delete``: the use cases of the boards API (``wallboard.admin.boards``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

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
from wallboard.core.boards import BoardError
from wallboard.core.text import printable
from wallboard.errors import EXIT_FAILED, EXIT_USAGE
from wallboard.processes.messages import _

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers
    from wallboard.store import Store

BOARD_MAX_BYTES = 1_000_000


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
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
            print_row(name, f"version {board.get('version')}", board.get("title") or "(untitled)", queues)
        return EXIT_OK

    return with_store(args, show, writes=False)


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

    return with_store(args, show, writes=False)


def cmd_boards_put(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import boards
    from wallboard.core.boards import parse_board, site_names

    where = "stdin" if args.path == "-" else args.path
    try:
        body = parse_board(_read_board_document(args.path))
    except BoardError as exc:
        return _board_problems(where, exc)
    site = site_for(command_settings(args))

    async def put(store: Store) -> int:
        snapshot = await store.events.load_snapshot()
        if not site.queues and snapshot is None and (body.queues or body.groups or body.teams or body.pages):
            raise ConfigError(
                _("no site file and no snapshot yet to check the board's names against: pass --site-file")
            )
        try:
            board = await boards.put_board(
                store.boards, args.name, body, site_names(site, snapshot), actor=cli_actor(), now=datetime.now(UTC)
            )
        except BoardError as exc:
            return _board_problems(where, exc)
        except boards.BoardConflictError as exc:
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(_("stored board {name}: version {version}").format(name=args.name, version=board["version"]))
        return EXIT_OK

    return with_store(args, put, writes=True)


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


def _board_problems(where: object, exc: BoardError) -> int:
    print(f"wallboard: {nothing_stored(where, len(exc.problems))}", file=sys.stderr)
    for field, reason in exc.problems:
        print(f"{where}: {field}: {printable(reason)}", file=sys.stderr)
    return EXIT_USAGE


def cmd_boards_delete(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.admin import boards

    async def delete(store: Store) -> int:
        try:
            await boards.delete_board(store.boards, args.name, actor=cli_actor(), now=datetime.now(UTC))
        except boards.UnknownBoardError as exc:
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(_("deleted board {name}").format(name=args.name))
        return EXIT_OK

    return with_store(args, delete, writes=True)
