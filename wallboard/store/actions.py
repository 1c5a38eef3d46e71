"""Supervisor actions on agents: the actions stream, each action's status, the recent list, the rate counters.

Layout (``wallboard.store.layout.Keys``)::

    <prefix>:{<site>}:actions             stream, field "a" = an action's JSON (wallboard.core.actions.AgentAction),
                                          XADD MAXLEN ~ ACTIONS_MAXLEN; one consumer group per PBX collector
                                          ("ami", "esl", "ami:east"), each skipping the actions meant for another
    <prefix>:{<site>}:action:<id>         hash: the action's status fields (ActionStatus, "" for none), TTL ACTION_TTL_S
    <prefix>:{<site>}:actions:recent      list of action ids, newest first, capped at RECENT_MAX
    <prefix>:{<site>}:actions:members:<c> string: collector <c>'s directory of agents JSON, TTL MEMBERS_TTL_S
    <prefix>:{<site>}:actions:collectors  set: the collectors that published a directory
    <prefix>:{<site>}:actions:rate:<user> counter of the user's actions in the current minute

Asking for an action (its status, the recent list, the stream entry and its audit entry) is one MULTI, and
so is recording its outcome (status and audit entry): an action is never queued unaudited, nor settled
without its audit entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from wallboard.store.base import StoreBase
from wallboard.store.layout import AUDIT_MAXLEN, _json_object, _text

ACTION_FIELD = b"a"
ACTIONS_GROUP = "ami"
ACTIONS_MAXLEN = 10_000
ACTION_TTL_S = 7 * 86_400
RECENT_MAX = 1000
MEMBERS_TTL_S = 600

# KEYS[1] the user's rate counter. ARGV: the window in ms. Returns the count including this one.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class ActionStore(StoreBase):
    """The actions stream, each action's status, the recent list and rate counters (see the module docstring)."""

    async def count_request(self, user: str, window_s: float = 60.0) -> int:
        """Count one action of ``user`` in the current window; the count so far, this one included."""
        key = self.keys.action_rate(user)
        return int(await self._do(self.client.eval(_COUNT, 1, key, int(window_s * 1000))))

    async def submit(self, action: Mapping[str, Any], status: Mapping[str, str], audit: Mapping[str, str]) -> str:
        """Store the status, list the id, queue the action and write its audit entry, in one MULTI; the entry id."""
        action_id = str(action["id"])
        key = self.keys.action(action_id)
        fields: dict[FieldT, EncodableT] = {ACTION_FIELD: json.dumps(dict(action))}
        entry: dict[FieldT, EncodableT] = dict(audit.items())
        values: dict[FieldT, EncodableT] = dict(status.items())
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)
            pipe.expire(key, ACTION_TTL_S)
            pipe.lpush(self.keys.actions_recent, action_id)
            pipe.ltrim(self.keys.actions_recent, 0, RECENT_MAX - 1)
            pipe.xadd(self.keys.actions, fields, maxlen=ACTIONS_MAXLEN, approximate=True)
            pipe.xadd(self.keys.audit, entry, maxlen=AUDIT_MAXLEN, approximate=True)
            results = await pipe.execute()
        return _text(results[4])

    async def settle(self, action_id: str, changes: Mapping[str, str], audit: Mapping[str, str]) -> None:
        """Change an action's status fields and write the audit entry of the change, in one MULTI."""
        key = self.keys.action(action_id)
        entry: dict[FieldT, EncodableT] = dict(audit.items())
        values: dict[FieldT, EncodableT] = dict(changes.items())
        async with self._deadline(), self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)
            pipe.expire(key, ACTION_TTL_S)
            pipe.xadd(self.keys.audit, entry, maxlen=AUDIT_MAXLEN, approximate=True)
            await pipe.execute()

    async def status(self, action_id: str) -> dict[str, str] | None:
        raw = await self._do(self.client.hgetall(self.keys.action(action_id)))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    async def recent(self, count: int) -> list[dict[str, str]]:
        """The statuses of the latest ``count`` actions, newest first (expired ones left out)."""
        ids = await self._do(self.client.lrange(self.keys.actions_recent, 0, count - 1))
        if not ids:
            return []
        async with self._deadline(), self.client.pipeline(transaction=False) as pipe:
            for action_id in ids:
                pipe.hgetall(self.keys.action(_text(action_id)))
            raw = await pipe.execute()
        return [{_text(k): _text(v) for k, v in fields.items()} for fields in raw if fields]

    # -- the collector's side -------------------------------------------------------------------

    async def ensure_group(self, group: str = ACTIONS_GROUP) -> bool:
        """Create the consumer group at the stream's end if missing (actions asked before it are not run)."""
        try:
            await self._do(self.client.xgroup_create(self.keys.actions, group, id="$", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        return True

    async def read_group(
        self, consumer: str, start: str, count: int, block_ms: int | None, group: str = ACTIONS_GROUP
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """XREADGROUP: ``start`` ``>`` for new actions, ``0`` for this consumer's unacknowledged ones."""
        try:
            command = self.client.xreadgroup(group, consumer, {self.keys.actions: start}, count=count, block=block_ms)
            reply = await self._do(command, extra_s=(block_ms or 0) / 1000)
        except ResponseError as exc:
            if not str(exc).startswith("NOGROUP"):
                raise
            await self.ensure_group(group)
            return []
        return _entries(reply)

    async def ack(self, ids: Sequence[str], group: str = ACTIONS_GROUP) -> None:
        if ids:
            await self._do(self.client.xack(self.keys.actions, group, *ids))

    async def put_members(self, members: Mapping[str, Any], collector: str = ACTIONS_GROUP) -> None:
        """Publish ``collector``'s directory of agents (kept MEMBERS_TTL_S: a collector republishes it sooner)."""
        key = self.keys.action_members(collector)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(key, json.dumps(dict(members)), ex=MEMBERS_TTL_S)
        pipe.sadd(self.keys.action_collectors, collector)
        await self._do(pipe.execute())

    async def directories(self) -> dict[str, dict[str, Any]]:
        """Each collector's directory of agents, by collector name (those published within MEMBERS_TTL_S)."""
        names = sorted(_text(name) for name in await self._do(self.client.smembers(self.keys.action_collectors)))
        if not names:
            return {}
        found = await self._do(self.client.mget([self.keys.action_members(name) for name in names]))
        directories = {name: _json_object(raw) for name, raw in zip(names, found, strict=True)}
        return {name: directory for name, directory in directories.items() if directory is not None}

    async def members(self) -> dict[str, Any]:
        """Every collector's directory merged (empty when no collector published one lately)."""
        merged: dict[str, Any] = {}
        for directory in (await self.directories()).values():
            merged.update(directory)
        return merged


def _entries(reply: Any) -> list[tuple[str, dict[str, Any] | None]]:
    """(id, action JSON object or None) of the one stream of an XREADGROUP reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        items = entries[0] if entries and isinstance(entries[0], list) else entries
    else:
        items = reply[0][1]
    return [(_text(entry_id), _json_object(fields.get(ACTION_FIELD)) if fields else None) for entry_id, fields in items]
