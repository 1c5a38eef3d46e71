"""The alert lifecycle stream, the notifier's consumer group and dead letters."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from wallboard.store.base import StoreBase
from wallboard.store.layout import (
    ALERT_FIELD,
    DEAD_LETTER_MAXLEN,
    _json_object,
    _text,
)

log = logging.getLogger(__name__)


def _alert_entries(reply: Any) -> list[tuple[str, dict[str, Any] | None]]:
    """The entries of an XREADGROUP reply on the alerts stream (RESP2 list or RESP3 map, as ``_group_entries``)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        items = entries[0] if entries and isinstance(entries[0], list) else entries
    else:
        items = reply[0][1]
    return [(_text(entry_id), _alert_record(fields)) for entry_id, fields in items or ()]


def _alert_record(fields: Any) -> dict[str, Any] | None:
    """The record of an alerts stream entry (alerting, B); None when trimmed or not a JSON object."""
    return _json_object(fields.get(ALERT_FIELD)) if fields else None


# KEYS[1] a versioned config document, KEYS[2] the audit stream. ARGV: the version expected in force, the new
# document, the audit MAXLEN, the notice channel and message, then the audit entry's field/value pairs.
# Returns {1, version found} when written, {0, version found} when another version is in force.


class AlertStore(StoreBase):
    """The alert lifecycle stream, the notifier's consumer group and dead letters."""

    # -- alerting (B): the alert lifecycle stream, the notifier's consumer group and dead letters, config notices
    # <prefix>:{<site>}:alerts        stream, field "a" = one lifecycle record (wallboard.core.alerting.Record) as JSON,
    #                                 written by the runner in its snapshot MULTI; consumer group(s) of notifiers
    # <prefix>:{<site>}:alerts:dead   stream of notifications a receiver never accepted (fields: receiver, ...)

    async def alert_records(
        self, start: str = "-", end: str = "+", count: int = 100, *, newest_first: bool = False
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """Alert records between two stream ids (inclusive; ``(id`` excludes), oldest or newest first.

        A record that is not a JSON object comes back as None (the id still tells where it was).
        """
        if newest_first:
            raw: Any = await self._do(self.client.xrevrange(self.keys.alerts, end, start, count=count))
        else:
            raw = await self._do(self.client.xrange(self.keys.alerts, start, end, count=count))
        return [(_text(entry_id), _alert_record(fields)) for entry_id, fields in raw or ()]

    async def ensure_alerts_group(self, group: str) -> bool:
        """Create the alerts stream's consumer group ``group`` at the stream's end if missing; True if created now.

        A new group starts with what is written from now on: history from before it is not re-sent.
        """
        try:
            await self._do(self.client.xgroup_create(self.keys.alerts, group, id="$", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        log.info("created consumer group %s on %s", group, self.keys.alerts)
        return True

    async def read_alerts_group(
        self, group: str, consumer: str, start: str, count: int, block_ms: int | None
    ) -> list[tuple[str, dict[str, Any] | None]]:
        """XREADGROUP on the alerts stream: ``start`` ``>`` for new records, an id for this consumer's pending ones."""
        try:
            command = self.client.xreadgroup(group, consumer, {self.keys.alerts: start}, count=count, block=block_ms)
            reply = await self._do(command, extra_s=(block_ms or 0) / 1000)
        except ResponseError as exc:
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                raise
            log.warning(
                "consumer group %s on %s is gone (Redis lost its data?); recreating it", group, self.keys.alerts
            )
            await self.ensure_alerts_group(group)
            return []
        return _alert_entries(reply)

    async def ack_alerts(self, group: str, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        return int(await self._do(self.client.xack(self.keys.alerts, group, *ids)))

    async def add_dead_letter(self, fields: Mapping[str, str]) -> str:
        """XADD a notification no receiver accepted to ``alerts:dead`` (capped at DEAD_LETTER_MAXLEN)."""
        mapping: dict[FieldT, EncodableT] = {name: value for name, value in fields.items()}
        entry_id = self.client.xadd(self.keys.dead_letters, mapping, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        return _text(await self._do(entry_id))

    async def dead_letters(self, count: int = 100) -> list[tuple[str, dict[str, str]]]:
        """The newest dead letters first."""
        raw: Any = await self._do(self.client.xrevrange(self.keys.dead_letters, "+", "-", count=count))
        return [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}) for entry_id, fields in raw or ()]
