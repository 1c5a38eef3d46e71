"""Display tokens (only their sha256), users, sessions, login failures and the audit stream."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT, FieldT

from wallboard.store.base import StoreBase
from wallboard.store.layout import (
    AUDIT_MAXLEN,
    _json_object,
    _previous_stream_id,
    _text,
)

_COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""

# KEYS[1] the counter: DECR it if it still exists and is positive (an expired one stays gone).

_FORGIVE_FAILURE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class SecurityStore(StoreBase):
    """Display tokens (only their sha256), users, sessions, login failures and the audit stream."""

    # -- display tokens (only their sha256 is ever stored) ----------------------------------

    async def add_token(self, token_hash: str, info: Mapping[str, Any]) -> None:
        await self._do(self.client.hset(self.keys.tokens, token_hash, json.dumps(dict(info))))

    async def get_token(self, token_hash: str) -> dict[str, Any] | None:
        raw = await self._do(self.client.hget(self.keys.tokens, token_hash))
        if raw is None:
            return None
        info = json.loads(raw)
        return info if isinstance(info, dict) else None

    async def revoke_token(self, token_hash: str) -> bool:
        """Remove a token; True if it existed."""
        return bool(await self._do(self.client.hdel(self.keys.tokens, token_hash)))

    async def list_tokens(self) -> dict[str, dict[str, Any]]:
        raw = await self._do(self.client.hgetall(self.keys.tokens))
        return {_text(k): json.loads(v) for k, v in raw.items()}

    # -- security (A): users, sessions, login failures, audit, versioned config --------------
    # Secrets never reach Redis: sessions are stored under sha256(token), passwords as argon2 hashes.

    async def get_user(self, name: str) -> dict[str, Any] | None:
        return _json_object(await self._do(self.client.hget(self.keys.users, name)))

    async def add_user(self, name: str, info: Mapping[str, Any]) -> bool:
        """Store a new user; False (nothing written) if the name is taken."""
        return bool(await self._do(self.client.hsetnx(self.keys.users, name, json.dumps(dict(info)))))

    async def put_user(self, name: str, info: Mapping[str, Any]) -> None:
        await self._do(self.client.hset(self.keys.users, name, json.dumps(dict(info))))

    async def list_users(self) -> dict[str, dict[str, Any]]:
        raw = await self._do(self.client.hgetall(self.keys.users))
        return {_text(name): info for name, value in raw.items() if (info := _json_object(value)) is not None}

    async def add_session(self, digest: str, info: Mapping[str, Any], ttl_s: float) -> None:
        await self._do(self.client.set(self.keys.session(digest), json.dumps(dict(info)), px=int(ttl_s * 1000)))

    async def touch_session(self, digest: str, ttl_s: float) -> dict[str, Any] | None:
        """The session's info, its time to live restarted at ``ttl_s`` (sliding expiry); None if expired or unknown."""
        key = self.keys.session(digest)
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.get(key)
            pipe.pexpire(key, int(ttl_s * 1000))
            raw, _ = await pipe.execute()
        return _json_object(raw)

    async def end_session(self, digest: str) -> bool:
        return bool(await self._do(self.client.delete(self.keys.session(digest))))

    async def count_login_failure(self, subject: str, window_s: float) -> tuple[int, float]:
        """Count one failure; the count resets ``window_s`` after the first one. Returns (failures, seconds left)."""
        reply = await self._do(
            self.client.eval(_COUNT_FAILURE, 1, self.keys.login_failures(subject), int(window_s * 1000))
        )
        return int(reply[0]), max(int(reply[1]), 0) / 1000

    async def clear_login_failures(self, subject: str) -> None:
        await self._do(self.client.delete(self.keys.login_failures(subject)))

    async def forgive_login_failure(self, subject: str) -> None:
        """Take back one counted failure (an attempt counted up front that succeeded), never below zero."""
        await self._do(self.client.eval(_FORGIVE_FAILURE, 1, self.keys.login_failures(subject)))

    async def append_audit(self, entry: Mapping[str, str]) -> str:
        """XADD one audit entry (fields ts, actor, action, target, old, new); returns its id."""
        fields: dict[FieldT, EncodableT] = {name: value for name, value in entry.items()}
        return _text(await self._do(self.client.xadd(self.keys.audit, fields, maxlen=AUDIT_MAXLEN, approximate=True)))

    async def read_audit(self, count: int, before: str | None = None) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` audit entries, newest first, older than the id ``before`` when given."""
        end = "+" if before is None else _previous_stream_id(before)
        if end is None:
            return []
        raw: Any = await self._do(self.client.xrevrange(self.keys.audit, end, "-", count=count))
        return [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}) for entry_id, fields in raw or ()]
