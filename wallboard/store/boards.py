"""TV boards as configuration: a hash of board name -> board JSON, and each board's message (its own key, expiring
with the message: ``wb:{site}:config:message:<board>``); documents in ``wallboard.core.boards``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT, FieldT

from wallboard.store.base import StoreBase
from wallboard.store.layout import (
    AUDIT_MAXLEN,
    _json_object,
    _text,
)


class BoardStore(StoreBase):
    """TV boards as configuration: a hash of board name -> board JSON (wallboard.api.board_routes)."""

    # -- boards: wb:{site}:config:boards, a hash board name -> board JSON (see wallboard.api.board_routes)

    async def list_boards(self) -> dict[str, dict[str, Any]]:
        raw = await self._do(self.client.hgetall(self.keys.config("boards")))
        return {_text(name): board for name, value in raw.items() if (board := _json_object(value)) is not None}

    async def get_board(self, name: str) -> dict[str, Any] | None:
        return _json_object(await self._do(self.client.hget(self.keys.config("boards"), name)))

    async def write_board(self, name: str, board: Mapping[str, Any] | None, audit: Mapping[str, str]) -> bool:
        """Store (or, with ``board`` None, delete) one board in a MULTI with its audit entry and a
        ``{"type": "board", "name": name}`` notice on the config channel; False if a deleted board did not exist."""
        key = self.keys.config("boards")
        fields: dict[FieldT, EncodableT] = {field: value for field, value in audit.items()}
        notice = json.dumps({"type": "board", "name": name, "version": None if board is None else board.get("version")})
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            if board is None:
                pipe.hdel(key, name)
            else:
                pipe.hset(key, name, json.dumps(dict(board)))
            pipe.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True)
            self._publish(pipe, self.keys.config_channel, notice)
            changed, *_ = await pipe.execute()
        return board is not None or bool(changed)

    # -- a board's message: wb:{site}:config:message:<board>, JSON, expiring with the message (SET EX)

    async def get_message(self, name: str) -> dict[str, Any] | None:
        return _json_object(await self._do(self.client.get(self.keys.config(f"message:{name}"))))

    async def write_message(
        self, name: str, message: Mapping[str, Any] | None, ttl_s: int, audit: Mapping[str, str]
    ) -> bool:
        """Store ``message`` for ``ttl_s`` seconds (or, with None, clear it) in a MULTI with its audit
        entry and a ``{"type": "board_message", "name": name}`` notice on the config channel; False if a cleared one
        did not exist."""
        key = self.keys.config(f"message:{name}")
        fields: dict[FieldT, EncodableT] = {field: value for field, value in audit.items()}
        notice = json.dumps({"type": "board_message", "name": name})
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            if message is None:
                pipe.delete(key)
            else:
                pipe.set(key, json.dumps(dict(message)), ex=ttl_s)
            pipe.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True)
            self._publish(pipe, self.keys.config_channel, notice)
            changed, *_ = await pipe.execute()
        return message is not None or bool(changed)
