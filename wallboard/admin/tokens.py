"""Display tokens: read-only bearer tokens, one board each, stored only as their sha256 digest.

They live in ``wb:{site}:tokens`` under that digest and are listed and revoked by ``id``, the first
``TOKEN_ID_CHARS`` hex digits of it (``wallboard.admin.accounts.Accounts`` audits both). The creation
functions take only the one Store operation they need, so a demo or a test can make a token without
an ``Accounts``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from wallboard.core.text import clean
from wallboard.core.users import DISPLAY

log = logging.getLogger("wallboard.admin.accounts")  # the logger token creation always used

TOKEN_ID_CHARS = 12
MIN_TOKEN_PREFIX = 6


def token_digest(token: str) -> str:
    """The sha256 hex digest under which a token (display or session) is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DisplayToken:
    """A display token's public description (the token itself is shown once, at creation)."""

    id: str
    board: str | None
    label: str
    created: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "board": self.board, "label": self.label, "created": self.created}


class TokenAdder(Protocol):
    async def add_token(self, token_hash: str, info: Mapping[str, Any]) -> None: ...


async def new_display_token(store: TokenAdder, board: str | None, label: str, now: datetime) -> tuple[str, str]:
    """Store a new display token's digest with its metadata; returns the token (shown once) and its creation time.

    The label is stored without control characters, whoever gives it (the API validates it too; the CLI does not).
    """
    token = secrets.token_urlsafe(32)
    created = now.isoformat()
    info = {"role": DISPLAY, "board": board, "created": created, "label": clean(label)}
    await store.add_token(token_digest(token), info)
    return token, created


async def create_display_token(store: TokenAdder, board: str | None = None, label: str = "") -> str:
    """Make a new display token, store its digest with its metadata, and return the token (shown once)."""
    token, _ = await new_display_token(store, board, label, datetime.now(UTC))
    log.info("created display token sha256 %s... for board %s", token_digest(token)[:8], board or "(any)")
    return token


def describe_token(digest: str, info: Mapping[str, Any]) -> DisplayToken:
    """The public description of the token stored under ``digest`` with ``info``."""
    board = info.get("board")
    return DisplayToken(
        digest[:TOKEN_ID_CHARS], str(board) if board else None, str(info.get("label", "")), str(info.get("created", ""))
    )
