"""Versioned configuration documents (thresholds, schedules): compare-and-set with their audit entry and a
notice on the site's config channel, which the engine follows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT

from wallboard.store.base import StoreBase
from wallboard.store.errors import ConfigConflictError, ConfigFormatError
from wallboard.store.layout import AUDIT_MAXLEN, _json_object
from wallboard.store.updates import Updates

# KEYS[1] a versioned config document, KEYS[2] the audit stream. ARGV: the version expected in force, the new
# document, the audit MAXLEN, the notice channel and message, then the audit entry's field/value pairs.
# Returns {1, version found} when written, {0, version found} when another version is in force.
_REPLACE_CONFIG = """
local raw = redis.call('GET', KEYS[1])
local found = 0
if raw then
  local ok, doc = pcall(cjson.decode, raw)
  if ok and type(doc) == 'table' and type(doc['version']) == 'number' then found = doc['version'] end
end
if found ~= tonumber(ARGV[1]) then return {0, found} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 6))
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, found}
"""


class ConfigStore(StoreBase):
    """Versioned configuration documents ``wb:{site}:config:<name>`` and the config notices channel."""

    def subscribe_config(self) -> Updates:
        """A subscription to the config notices channel (``{"type": "thresholds", "version": N}``)."""
        return Updates(self.client.pubsub(), self.keys.config_channel, self.op_timeout_s)

    async def load_config_checked(self, name: str) -> dict[str, Any] | None:
        """The document ``wb:{site}:config:<name>``, None when absent; raises ConfigFormatError when unreadable."""
        raw = await self._do(self.client.get(self.keys.config(name)))
        if raw is None:
            return None
        document = _json_object(raw)
        if document is None:
            raise ConfigFormatError(f"{self.keys.config(name)} holds {len(raw)} bytes that are not a JSON object")
        return document

    async def load_config(self, name: str) -> dict[str, Any] | None:
        """The versioned config document ``wb:{site}:config:<name>`` (None when absent or not a JSON object)."""
        return _json_object(await self._do(self.client.get(self.keys.config(name))))

    async def replace_config(self, name: str, document: Mapping[str, Any], audit: Mapping[str, str]) -> None:
        """Compare-and-set a config document at ``document["version"]`` (stored version + 1), atomically with
        its audit entry and a ``{"type": name, "version": N}`` notice on the config channel (one Lua script:
        both keys share the site's hash tag, so this works on a Redis Cluster too).

        Raises ConfigConflictError when the stored version is not ``document["version"] - 1``.
        """
        key, version = self.keys.config(name), int(document["version"])
        notice = json.dumps({"type": name, "version": version})
        pairs = [item for field_value in audit.items() for item in field_value]
        args: list[EncodableT] = [version - 1, json.dumps(dict(document)), AUDIT_MAXLEN, self.keys.config_channel]
        args += [notice, *pairs]
        reply = await self._do(self.client.eval(_REPLACE_CONFIG, 2, key, self.keys.audit, *args))
        written, found = int(reply[0]), int(reply[1])
        if not written:
            raise ConfigConflictError(key, version - 1, found)
