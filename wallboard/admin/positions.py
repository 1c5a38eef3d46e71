"""The collectors' stored resume points (where each source was read up to): listing them and forgetting one.

A collector stores its position with the events it read (``wallboard.store.streams``), under its source's name
(``queue_log:<absolute path>``, ``queue_log_db:...``). Forgetting one makes that collector start as on its first
run at its next start (``--from-start`` then applies again): for a PBX whose log was replaced, or a source retired.
Forgetting is audited (``collector.position.forget``, with what was stored).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Protocol

from wallboard.admin.audit import audit_entry

__all__ = ["PositionStore", "UnknownSourceError", "forget", "positions", "source_of"]

AUDIT_ACTION = "collector.position.forget"


class PositionStore(Protocol):
    async def positions(self) -> dict[str, dict[str, Any] | None]: ...
    async def forget_position(self, source: str) -> bool: ...


class AuditLog(Protocol):
    async def append_audit(self, entry: dict[str, str]) -> str: ...


class UnknownSourceError(LookupError):
    """No position is stored for the source asked."""


def source_of(text: str, known: list[str]) -> str:
    """The stored source ``text`` names: itself when stored, else the queue_log source of the file path it is."""
    if text in known:
        return text
    return f"queue_log:{os.path.abspath(text)}"


async def positions(store: PositionStore) -> dict[str, dict[str, Any] | None]:
    """Every stored position by source, sorted (None: stored but unreadable)."""
    return dict(sorted((await store.positions()).items()))


async def forget(store: PositionStore, audit: AuditLog, text: str, *, actor: str, now: datetime) -> str:
    """Forget the position of the source ``text`` names (a stored name or a queue_log path); its name."""
    stored = await positions(store)
    source = source_of(text, list(stored))
    if source not in stored:
        listed = ", ".join(stored) or "none"
        raise UnknownSourceError(f"no position is stored for {source} (stored: {listed})")
    if await store.forget_position(source):
        await audit.append_audit(audit_entry(now, actor, AUDIT_ACTION, f"source:{source}", stored[source], None))
    return source
