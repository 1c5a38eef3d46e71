"""Readiness judged from what the API can read: the snapshot's age and the collectors' health hashes (pure).

``/readyz`` (``wallboard.api.routes``) does the I/O (a PING bounded to a second or two, the health hashes) and
asks this module what the readings mean. Each check has a name, the one ``/readyz`` reports when it fails:

    redis          Redis answered PING in time (judged by the route: it is the I/O)
    feed           the API follows the site's updates (its subscription is up, none of its tasks died)
    engine         a snapshot exists and its ``ts`` (the engine's clock) is at most ``max_age_s`` old: the engine
                   publishes at least once a second, events or not, so an older one means it stopped
    collector:<name>  its health hash (``wb:{site}:health:collector:<kind>[:<which>]``, written every second: the
                   ``<which>`` part names one of several collectors of a kind, ``--name``) is at most
                   ``stale_s`` old and says it reads its source: ``connected`` (the AMI client: connected and
                   logged in; the queue_log table collector: its database answers) and, for the file collector,
                   ``following`` (an existing file is open)

Times are arguments (``now`` in epoch seconds); the engine's and the API's clocks are assumed to agree (NTP), as
for every age the wallboard shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

COLLECTOR_PREFIX = "collector:"
NO_SNAPSHOT = "no snapshot published yet"
# What a collector's own fields must say, by health hash name (any other collector: connected).
REQUIRED: Mapping[str, tuple[tuple[str, str], ...]] = {
    "collector:ami": (("connected", "not connected and logged in to the AMI"),),
    "collector:queue_log": (("connected", "not running"), ("following", "not following an existing file")),
    "collector:queue_log_db": (("connected", "not connected to its database"),),
}
DEFAULT_REQUIRED = (("connected", "not connected to its source"),)


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``detail`` says what is wrong (None when ``ok``)."""

    name: str
    ok: bool
    detail: str | None = None


def snapshot_age_s(snapshot: Mapping[str, Any] | None, now: float) -> float | None:
    """Seconds from the snapshot's ``ts`` to ``now`` (never negative); None without a readable ``ts``."""
    text = snapshot.get("ts") if snapshot is not None else None
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return max(0.0, now - stamp.timestamp())


def engine_check(snapshot: Mapping[str, Any] | None, now: float, max_age_s: float) -> Check:
    """The engine's freshness: a snapshot whose ``ts`` is at most ``max_age_s`` old."""
    if snapshot is None:
        return Check("engine", False, NO_SNAPSHOT)
    age = snapshot_age_s(snapshot, now)
    if age is None:
        return Check("engine", False, "the snapshot has no readable ts")
    if age > max_age_s:
        return Check("engine", False, f"the engine's snapshot is {age:.1f} s old (at most {max_age_s:g} s)")
    return Check("engine", True)


def collector_checks(health: Mapping[str, Mapping[str, str]], now: float, stale_s: float) -> list[Check]:
    """One check per collector health hash, in name order (other components' hashes are not judged here)."""
    return [
        _collector(name, fields, now, stale_s)
        for name, fields in sorted(health.items())
        if name.startswith(COLLECTOR_PREFIX)
    ]


def _collector(name: str, fields: Mapping[str, str], now: float, stale_s: float) -> Check:
    try:
        updated = float(fields.get("updated_ts", ""))
    except ValueError:
        return Check(name, False, "its health hash has no readable updated_ts")
    age = now - updated
    if age > stale_s:
        return Check(name, False, f"stale: its health was last written {age:.0f} s ago (at most {stale_s:g} s)")
    kind = ":".join(name.split(":", 2)[:2])  # collector:queue_log:<which> is judged as collector:queue_log
    for field, problem in REQUIRED.get(kind, DEFAULT_REQUIRED):
        if fields.get(field) != "1":
            return Check(name, False, problem)
    return Check(name, True)
