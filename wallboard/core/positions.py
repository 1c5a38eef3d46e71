"""Where a collector has read up to in its source: stored with the events read before it, atomically.

A :class:`SourcePosition` names its source (``queue_log:/var/log/asterisk/queue_log``,
``queue_log_db:mysql://pbx/asterisk#queue_log``) and holds what the collector needs to resume there
(a file's identity, byte offset and a hash of the last line read; a table's last row id). The store
writes it in the same transaction as the events read before it (``StreamStore.append_events``), so
after a crash the position never claims events that were not appended, nor misses ones that were.
Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SourcePosition"]


@dataclass(frozen=True)
class SourcePosition:
    """A source's name and its JSON-serialisable resume point (the collector's own format)."""

    source: str
    value: Mapping[str, Any]
