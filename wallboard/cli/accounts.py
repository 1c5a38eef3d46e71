"""``wallboard users add|list|disable|grant-monitor`` and ``wallboard tokens create|list|revoke``: the accounts
use cases (``wallboard.admin.accounts``) against the site's Redis."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from wallboard.cli.common import EXIT_OK, ConfigError, _command, command_settings, print_row, with_store
from wallboard.config import Settings
from wallboard.core.users import Role
from wallboard.processes.messages import _

if TYPE_CHECKING:
    from wallboard.admin.accounts import Accounts
    from wallboard.cli.common import Subparsers
    from wallboard.store import Store

CLI_ACTOR = "cli"


def add_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
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


def _with_accounts(args: argparse.Namespace, work: Callable[[Accounts], Awaitable[int]], *, writes: bool) -> int:
    """Run ``work(accounts)`` against the site's Redis (see ``with_store``)."""
    from wallboard.admin.accounts import Accounts, Hashing
    from wallboard.core.users import Passwords

    async def accounts(store: Store) -> int:
        return await work(Accounts(store.accounts, Hashing(Passwords())))

    return with_store(args, accounts, writes=writes)


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
    password = _new_password(command_settings(args))

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


def cmd_users_list(args: argparse.Namespace) -> int:
    async def show(accounts: Accounts) -> int:
        for user in await accounts.list_users():
            state = "disabled" if user.disabled else "active"
            scope = _scope_text(user.teams, user.queues)
            print_row(user.name, user.role.value, state, f"created {user.created}", f"sees {scope}")
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
            print_row(token.id, token.board or "(any)", token.label, f"created {token.created}")
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
