"""Schedules: wb:{site}:config:schedules, versioned like the thresholds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from wallboard.core.adherence.schedule import CONFIG_NAME
from wallboard.store.base import StoreBase
from wallboard.store.config import ConfigStore
from wallboard.store.errors import ConfigConflictError
from wallboard.store.layout import OP_TIMEOUT_S, Client

SCHEDULES_CONFIG = CONFIG_NAME


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _schedule_counts(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """Version and counts of a schedules document, for the audit trail."""
    if document is None:
        return {"version": 0, "slots": 0, "agents": 0, "days": 0}
    rows = [row for row in document.get("slots") or () if isinstance(row, Mapping)]
    return {
        "version": _int_or_none(document.get("version")),
        "slots": len(rows),
        "agents": len({row.get("agent") for row in rows}),
        "days": len({row.get("date") for row in rows}),
    }


class ScheduleStore(StoreBase):
    """Schedules: wb:{site}:config:schedules, versioned like the thresholds (through the config section)."""

    def __init__(
        self,
        client: Client,
        config: ConfigStore,
        *,
        prefix: str = "wb",
        site: str = "default",
        maxlen: int = 1_000_000,
        op_timeout_s: float = OP_TIMEOUT_S,
    ) -> None:
        super().__init__(client, prefix=prefix, site=site, maxlen=maxlen, op_timeout_s=op_timeout_s)
        self.config = config

    # -- schedules: wb:{site}:config:schedules, versioned like the thresholds
    # {"version", "slots": [wallboard.core.adherence.schedule.dump_schedule rows], "updated_by", "updated_ts"};
    # absent = version 0, no schedule. Rejected imports count in wb:{site}:health:schedules field "rejected".

    async def read_schedules(self) -> dict[str, Any] | None:
        """The stored schedules document, None when absent; raises ConfigFormatError when unreadable."""
        return await self.config.load_config_checked(SCHEDULES_CONFIG)

    async def write_schedules(
        self, document: Mapping[str, Any], expected_version: int, actor: str, *, at: datetime, action: str
    ) -> dict[str, Any]:
        """Store ``document["slots"]`` as version ``expected_version + 1`` (compare-and-set, see ``replace_config``)
        with its audit entry ``action`` (old/new: version and counts, never the rows) and the config notice.

        Returns the stored document; raises ConfigConflictError when ``expected_version`` is not the stored one.
        """
        old = await self.config.load_config(SCHEDULES_CONFIG)
        found = old.get("version") if old is not None else 0
        if found != expected_version:
            raise ConfigConflictError(self.keys.config(SCHEDULES_CONFIG), expected_version, _int_or_none(found))
        slots = list(document.get("slots") or [])
        stored = {"version": expected_version + 1, "slots": slots, "updated_by": actor, "updated_ts": at.isoformat()}
        audit = {
            "ts": at.isoformat(),
            "actor": actor,
            "action": action,
            "target": SCHEDULES_CONFIG,
            "old": json.dumps(_schedule_counts(old), sort_keys=True, separators=(",", ":")),
            "new": json.dumps(_schedule_counts(stored), sort_keys=True, separators=(",", ":")),
        }
        await self.config.replace_config(SCHEDULES_CONFIG, stored, audit)
        return stored

    async def count_schedule_rejection(self) -> int:
        """One more rejected schedule import (``wallboard_events_rejected_total{component="schedules"}``)."""
        return int(await self._do(self.client.hincrby(self.keys.health(SCHEDULES_CONFIG), "rejected", 1)))
