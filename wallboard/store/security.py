"""Display tokens (only their sha256), users, sessions, login failures and the audit stream."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from redis.typing import EncodableT, FieldT

from wallboard.store.base import StoreBase
from wallboard.store.layout import (
    AUDIT_MAXLEN,
    _json_object,
    _previous_stream_id,
    _text,
)

# Login throttling (see wallboard.admin.accounts). KEYS: the gated subjects (hashes of n = failures and
# until = ms epoch before which no attempt is checked), then the watched subject (a plain counter).
# ARGV: now_ms, first_delay_ms, max_delay_ms, memory_ms, watch_window_ms, then each gated subject's free
# failures. If any gated subject is still waiting, count nothing and return the wait; else count this attempt
# as a failure of every subject up front (a burst of guesses cannot all pass the check before any fails):
# past its free failures a subject waits first_delay * 2^(n - free), at most max_delay, and is forgotten
# memory_ms after that wait ends. Returns {wait_ms, count of each subject}.
_COUNT_ATTEMPT = """
local now, first, cap, memory, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[5])
local gated, watched = #KEYS - 1, KEYS[#KEYS]
local wait, counts = 0, {}
for i = 1, gated do
  local state = redis.call('HMGET', KEYS[i], 'n', 'until')
  counts[i] = tonumber(state[1] or '0')
  wait = math.max(wait, tonumber(state[2] or '0') - now)
end
if wait > 0 then
  counts[#KEYS] = tonumber(redis.call('GET', watched) or '0')
  return {wait, unpack(counts)}
end
for i = 1, gated do
  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)
  local over = n - tonumber(ARGV[5 + i])
  local delay = 0
  if over >= 0 then delay = math.min(first * math.pow(2, math.min(over, 60)), cap) end
  if delay > 0 then  -- never an 'until' of "now" alone: a concurrent attempt stamped a little earlier would wait
    local was = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
    redis.call('HSET', KEYS[i], 'until', math.max(was, math.floor(now + delay)))
  end
  redis.call('PEXPIRE', KEYS[i], math.floor(delay + memory))
  counts[i] = n
end
local total = redis.call('INCR', watched)
if total == 1 or redis.call('PTTL', watched) < 0 then redis.call('PEXPIRE', watched, window) end
counts[#KEYS] = total
return {0, unpack(counts)}
"""

# After a success: KEYS[1] (the pair) is forgotten; KEYS[2] (the client) takes back the attempt counted up
# front, never below zero, and the wait that attempt reserved (ARGV[1] = now_ms) ends; so does KEYS[3] (the
# name's plain counter).
_FORGIVE_ATTEMPT = """
redis.call('DEL', KEYS[1])
local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
if n > 0 then
  redis.call('HINCRBY', KEYS[2], 'n', -1)
  local now = tonumber(ARGV[1])
  if tonumber(redis.call('HGET', KEYS[2], 'until') or '0') > now then redis.call('HSET', KEYS[2], 'until', now) end
end
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
return n
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
        """Remove a token and announce it; True if it existed."""
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.tokens, token_hash)
            self._announce(pipe, "token")
            removed, _ = await pipe.execute()
        return bool(removed)

    async def get_tokens(self, token_hashes: Sequence[str]) -> list[dict[str, Any] | None]:
        """The info of each token in ``token_hashes`` (None where there is none), in one HMGET."""
        if not token_hashes:
            return []
        raw = await self._do(self.client.hmget(self.keys.tokens, list(token_hashes)))
        return [_json_object(value) for value in raw]

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
        """Write a user and announce it (its role, disabled flag or epoch may have changed)."""
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.users, name, json.dumps(dict(info)))
            self._announce(pipe, "user")
            await pipe.execute()

    async def get_users(self, names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The record of each user in ``names`` (None where there is none), in one HMGET."""
        unique = list(dict.fromkeys(names))
        if not unique:
            return {}
        raw = await self._do(self.client.hmget(self.keys.users, unique))
        return {name: _json_object(value) for name, value in zip(unique, raw, strict=True)}

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

    async def peek_sessions(self, digests: Sequence[str]) -> list[dict[str, Any] | None]:
        """The info of each session in ``digests`` (None: expired or ended), its time to live untouched."""
        if not digests:
            return []
        keys = [self.keys.session(digest) for digest in digests]
        async with self._deadline(), self.client.pipeline(transaction=False) as pipe:
            for key in keys:  # GETs in one pipeline, not MGET: the keys may sit in several slots of a cluster
                pipe.get(key)
            raw = await pipe.execute()
        return [_json_object(value) for value in raw]

    async def end_session(self, digest: str) -> bool:
        """End a session and announce it; True if it existed."""
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(digest))
            self._announce(pipe, "session")
            removed, _ = await pipe.execute()
        return bool(removed)

    def _announce(self, pipe: Any, kind: str) -> None:
        """Queue the ``access`` notice of a changed credential on ``pipe`` (see the module docstring)."""
        self._publish(pipe, self.keys.config_channel, json.dumps({"type": "access", "kind": kind}))

    async def count_login_attempt(
        self,
        gated: Sequence[tuple[str, int]],
        watched: str,
        *,
        now_s: float,
        first_delay_s: float,
        max_delay_s: float,
        memory_s: float,
        watch_window_s: float,
    ) -> tuple[float, list[int]]:
        """Atomically check and count one login attempt (see ``_COUNT_ATTEMPT``).

        ``gated`` are (subject, free failures); ``watched`` is only counted (over ``watch_window_s``). Returns
        (seconds to wait, failures of each gated subject then of ``watched``): a wait above 0 means nothing
        was counted and the attempt must be refused; 0 means it was counted as a failure of every subject.
        """
        keys = [self.keys.login_failures(subject) for subject, _ in gated] + [self.keys.login_failures(watched)]
        ms = (now_s, first_delay_s, max_delay_s, memory_s, watch_window_s)
        args = [int(value * 1000) for value in ms] + [free for _, free in gated]
        reply = await self._do(self.client.eval(_COUNT_ATTEMPT, len(keys), *keys, *args))
        return max(int(reply[0]), 0) / 1000, [int(count) for count in reply[1:]]

    async def forgive_login_attempt(self, pair: str, client: str, account: str, *, now_s: float) -> None:
        """A success: forget ``pair``'s failures; take the attempt counted up front back from ``client``'s and
        ``account``'s counts."""
        keys = [self.keys.login_failures(subject) for subject in (pair, client, account)]
        await self._do(self.client.eval(_FORGIVE_ATTEMPT, len(keys), *keys, int(now_s * 1000)))

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
