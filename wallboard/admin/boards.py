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
    default_board,
    name_problems,
)
from wallboard.core.scopes import DEFAULT_BOARD
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
    "post_message",
    "put_board",
    "qr_data_uri",
    "read_board",
    "read_message",
    "revoke_board_token",
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
    """Every stored board by name, plus ``default`` while none is stored under that name."""
    return {DEFAULT_BOARD: default_board(), **await store.list_boards()}


async def read_board(store: BoardStore, name: str) -> dict[str, Any]:
    """One board (the default board for ``default`` while none is stored); :class:`UnknownBoardError` else."""
    board = await store.get_board(name)
    if board is not None:
        return {**default_board(), **board}
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
    message = await store.get_message(name)
    if message is None:
        return None
    try:
        left = (datetime.fromisoformat(str(message["expires_ts"])) - now).total_seconds()
    except (KeyError, ValueError):
        return None
    return {**message, "expires_in_s": round(left, 3)} if left > 0 else None


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
