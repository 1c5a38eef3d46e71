"""The engine's counters and the fields of its health hash (``/readyz``, the ops page and Prometheus read them).

The loop (``wallboard.processes.engine``) decides when to write the hash and reads the stream lag; this
module only says what the hash holds, so its fields are listed in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from wallboard.core.engine import State
from wallboard.core.site_book import BookCounts

HealthFields = dict[str, str | int | float | bool]


@dataclass
class RunnerStats(BookCounts):
    """What the runner has done since it started (written to the engine's health hash): its books' counts, its own."""

    records: int = 0
    ignored: int = 0
    reconnects: int = 0
    published: int = 0
    connected: bool = False


def anomalies(state: State | None) -> dict[str, int]:
    """The engine's anomaly counts since its checkpoint's state began (the non-zero ones)."""
    return {} if state is None else {kind: count for kind, count in state.anomalies.items() if count}


def health_fields(
    stats: RunnerStats,
    *,
    state: State | None,
    seq: int,
    updated_ts: float,
    alerts_open: int,
    thresholds_version: int | None,
    lag: int | None,
) -> HealthFields:
    """The engine's health hash: its counters, seq and clock; the optional fields only when known."""
    fields: HealthFields = {
        "connected": stats.connected,
        "reconnects": stats.reconnects,
        "records": stats.records,
        "applied": stats.applied,
        "rejected": stats.rejected,
        "ignored": stats.ignored,
        "rejected_by_reason": json.dumps(dict(stats.rejected_by_reason), sort_keys=True),
        "anomalies": json.dumps(anomalies(state), sort_keys=True),
        "seq": seq,
        "updated_ts": updated_ts,
        "alerts_open": alerts_open,
        "alert_records": stats.alert_records,
        "alert_actions_rejected": json.dumps(dict(stats.alert_actions_rejected), sort_keys=True),
        "config_errors": stats.config_errors,
    }
    if thresholds_version is not None:
        fields["thresholds_version"] = thresholds_version
    if stats.last_event_ts is not None:
        fields["last_event_ts"] = stats.last_event_ts
    if lag is not None:
        fields["lag"] = lag
    return fields
