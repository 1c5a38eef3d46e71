"""Boards: what a TV shows, its message, and the display tokens that open it. The one copy of each use case,
called by the API (``wallboard.api.board_routes``), the CLI (``wallboard boards ...``) and the demo.

Writes are versioned and audited in the same MULTI as the change (``wallboard.store.boards``): ``board.update``,
``board.delete``, ``board.message`` and ``board.message_clear``, each with the actor and the old and new document.
The documents themselves and their checks are ``wallboard.core.boards``; the caller gives the time and the
names the site has (``core.boards.site_names``).

A display token for a board comes with the TV's URL (``/tv/<board>?token=...``) and that URL as a QR code (an
SVG ``data:`` URI, made with ``segno``), so the ops page shows it once and a phone or a TV's camera reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import segno

from wallboard.admin.accounts import Accounts, DisplayToken, TokenNotFoundError, audit_entry
from wallboard.core.boards import (
    BoardBody,
    BoardError,
    MessageBody,
    SiteNames,
    board_fields,
    default_board,
    name_problems,
)
from wallboard.core.scopes import DEFAULT_BOARD, Scope, board_scope
from wallboard.errors import WallboardError

if TYPE_CHECKING:
    from wallboard.store.boards import BoardStore

__all__ = [
    "BoardConflictError",
    "BoardError",
    "BoardToken",
    "UnknownBoardError",
    "board_tokens",
    "clear_message",
    "create_board_token",
    "default_board",
    "delete_board",
    "list_boards",
    "message_scope_refusal",
    "post_message",
    "put_board",
    "qr_data_uri",
    "read_board",
    "read_message",
    "revoke_board_token",
    "shown_message",
    "tv_path",
]

TV_PREFIX = "/tv"


class UnknownBoardError(WallboardError):
    """No stored board of that name (and it is not ``default``)."""


class BoardConflictError(WallboardError):
    """The board changed since the version the writer read."""


@dataclass(frozen=True)
class BoardToken:
    """A new display token for one board: the token (shown once), its description, the TV's URL and its QR."""

    token: str
    shown: DisplayToken
    url: str
    qr: str


async def list_boards(store: BoardStore) -> dict[str, dict[str, Any]]:
    """Every stored board by name (a field it lacks reads false / empty, as :func:`read_board`), plus ``default``
    while none is stored under that name."""
    stored = await store.list_boards()
    return {DEFAULT_BOARD: default_board(), **{name: {**board_fields(), **board} for name, board in stored.items()}}


async def read_board(store: BoardStore, name: str) -> dict[str, Any]:
    """One board (the default board for ``default`` while none is stored); :class:`UnknownBoardError` else."""
    board = await store.get_board(name)
    if board is not None:
        return {**board_fields(), **board}  # a field it lacks reads false / empty
    if name == DEFAULT_BOARD:
        return default_board()
    raise UnknownBoardError(f"no board {name!r}")


async def put_board(
    store: BoardStore, name: str, body: BoardBody, names: SiteNames, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Create or replace a board: checked against ``names``, version + 1, audited and announced in one MULTI.

    :class:`BoardError` for names the site does not have, :class:`BoardConflictError` when ``body.version`` is
    given and is not the stored one.
    """
    found = name_problems(name, body, names)
    if found:
        raise BoardError(found)
    old = await store.get_board(name)
    version = int(old["version"]) if old is not None else 0
    if body.version is not None and body.version != version:
        raise BoardConflictError(f"board {name!r} is at version {version}, not {body.version}: reload it")
    board = {**body.model_dump(exclude={"version"}), "version": version + 1}
    board |= {"updated_by": actor, "updated_ts": now.isoformat()}
    await store.write_board(name, board, audit_entry(now, actor, "board.update", f"board:{name}", old, board))
    return board


async def delete_board(store: BoardStore, name: str, *, actor: str, now: datetime) -> dict[str, Any]:
    """Remove a stored board (audited); returns it. ``default`` then falls back to the default board."""
    old = await store.get_board(name)
    if old is None:
        raise UnknownBoardError(f"no stored board {name!r}")
    await store.write_board(name, None, audit_entry(now, actor, "board.delete", f"board:{name}", old, None))
    return old


# -- the board's message


async def post_message(store: BoardStore, name: str, body: MessageBody, *, actor: str, now: datetime) -> dict[str, Any]:
    """Show ``body`` on the board's TVs for ``body.expires_in_s`` (replacing any message); audited."""
    await read_board(store, name)  # UnknownBoardError for a board that does not exist
    old = await store.get_message(name)
    expires = now + timedelta(seconds=body.expires_in_s)
    message = {
        "text": body.text,
        "level": body.level,
        "posted_by": actor,
        "posted_ts": now.isoformat(),
        "expires_ts": expires.isoformat(),
    }
    audit = audit_entry(now, actor, "board.message", f"board:{name}", old, message)
    await store.write_message(name, message, body.expires_in_s, audit)
    return {**message, "expires_in_s": float(body.expires_in_s)}


async def clear_message(store: BoardStore, name: str, *, actor: str, now: datetime) -> bool:
    """Take the board's message down (audited); False when there was none."""
    old = await store.get_message(name)
    if old is None:
        return False
    audit = audit_entry(now, actor, "board.message_clear", f"board:{name}", old, None)
    return await store.write_message(name, None, 0, audit)


async def read_message(store: BoardStore, name: str, now: datetime) -> dict[str, Any] | None:
    """The board's message with the seconds it has left (None: none, or expired even if Redis kept it)."""
    return shown_message(await store.get_message(name), now)


def shown_message(message: Mapping[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """A stored message as TVs are given it, with the seconds it has left at ``now`` (``expires_in_s``: the TV
    counts down by its own clock, which may be off); None when there is none, it has expired, or its expiry is
    unreadable (a TV would never take it down)."""
    if message is None:
        return None
    try:
        expires = datetime.fromisoformat(str(message["expires_ts"]))
        left = (expires - now).total_seconds()
    except (KeyError, TypeError, ValueError):  # TypeError: a naive expiry against an aware now
        return None
    return {**message, "expires_in_s": round(left, 3)} if left > 0 else None


def message_scope_refusal(
    board_name: str,
    board: Mapping[str, Any] | None,
    scope: Scope | None,
    group_queues: Mapping[str, Iterable[str]],
    channel_queues: Mapping[str, str] | None = None,
) -> str | None:
    """Why a user of ``scope`` may not post on (or clear) board ``board_name``'s message, None if they may.

    The board's TVs must show nothing outside the user's scope: with the user scoped to queues, every queue the
    board shows (named, of its pages, and of its ``groups``: ``group_queues`` says which queues a group has now;
    a board naming only ``channels``: every queue of those channels, ``channel_queues`` saying each known queue's
    channel now) must be one of theirs, and a board showing every queue is refused; likewise its teams, when the
    user is scoped to teams. ``board`` None: not stored (``default`` then shows everything, another name nothing:
    the caller answers 404). Unscoped users (``scope`` None) may post on any board.
    """
    if scope is None:
        return None
    shows = board_scope(board_name, board)
    if scope.queues is not None:
        if shows.queues is None and (shows.channels is None or channel_queues is None):
            return f"board {board_name!r} shows every queue, not only {_listed(scope.queues)}"
        if shows.queues is None:
            assert channel_queues is not None and shows.channels is not None
            queues = {queue for queue, channel in channel_queues.items() if channel in shows.channels}
        else:
            queues = set(shows.queues)
        for group in shows.groups:
            queues |= set(group_queues.get(group, ()))
        if shows.channels is not None and channel_queues is not None:  # the board shows only those channels' queues
            queues = {queue for queue in queues if channel_queues.get(queue, "voice") in shows.channels}
        if outside := queues - scope.queues:
            return f"board {board_name!r} shows queue(s) {_listed(outside)} outside {_listed(scope.queues)}"
    if scope.teams is not None:
        if shows.teams is None:
            return f"board {board_name!r} shows every team, not only {_listed(scope.teams)}"
        if strangers := shows.teams - scope.teams:
            return f"board {board_name!r} shows team(s) {_listed(strangers)} outside {_listed(scope.teams)}"
    return None


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


# -- display tokens of a board


def tv_path(board: str, token: str, *, kiosk: bool = False) -> str:
    """The TV's path and query for ``board`` opened with ``token`` (``&kiosk=1`` for a browser allowed sound)."""
    query = {"token": token, **({"kiosk": "1"} if kiosk else {})}
    return f"{TV_PREFIX}/{quote(board, safe='')}?{urlencode(query)}"


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code: an SVG ``data:`` URI (for an ``<img src>``: nothing in it runs)."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=4, dark="#000", light="#fff", border=4))


async def create_board_token(
    accounts: Accounts, store: BoardStore, name: str, label: str, base_url: str, *, actor: str
) -> BoardToken:
    """A new display token bound to ``name`` (which must exist), with the TV's URL under ``base_url`` and its QR."""
    board = await read_board(store, name)
    token, shown = await accounts.create_token(name, label, actor=actor)
    url = base_url.rstrip("/") + tv_path(name, token, kiosk=bool(board.get("kiosk")))
    return BoardToken(token, shown, url, qr_data_uri(url))


async def board_tokens(accounts: Accounts, name: str) -> list[DisplayToken]:
    """The display tokens bound to ``name`` (tokens bound to no board open it too, and are not listed)."""
    return [token for token in await accounts.list_tokens() if token.board == name]


async def revoke_board_token(accounts: Accounts, name: str, token_id: str, *, actor: str) -> tuple[str, DisplayToken]:
    """Revoke the display token ``token_id`` of board ``name``; :class:`TokenNotFoundError` when it is not one."""
    mine = [token for token in await board_tokens(accounts, name) if token.id == token_id.lower()]
    if not mine:
        raise TokenNotFoundError(f"board {name!r} has no display token {token_id!r}")
    return await accounts.revoke_token(mine[0].id, actor=actor)
