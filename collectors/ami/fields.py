"""Reading AMI header values for the mapper: tolerant readers, one rule per kind of field.

Asterisk fills headers loosely (placeholders for unknown callers, ``0`` for "unset", durations in
seconds or milliseconds, field names that changed between 11 and 12+). These readers turn a header
into the value an event carries, or None when the figure is unknown: a missing or odd field degrades
that figure and never drops the event. Only a field an event cannot exist without raises ``Reject``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collectors.ami.frames import Frame
from wallboard.core.events import DeviceState

__all__ = [
    "MAX_SECONDS",
    "Reject",
    "caller",
    "chan_key",
    "device_state",
    "event_time",
    "first",
    "flag",
    "integer",
    "member",
    "required",
    "seconds",
    "wrapup",
]

# Asterisk's numeric device states (member Status), in enum order.
_DEVICE_STATES: tuple[DeviceState, ...] = (
    "unknown", "idle", "in_use", "busy", "invalid", "unavailable", "ringing", "ring_in_use", "on_hold",
)  # fmt: skip
_TRUE = frozenset({"1", "true", "yes", "on"})
_NO_CALLER = frozenset({"<unknown>", "unknown"})
# The longest duration a frame may carry (ten years): a longer HoldTime/TalkTime/RingTime (1e30, 1e308), like
# text or a negative number, is no figure: None (unknown), the call still counted; the engine's own plausibility
# bound (the site's max_duration_s) is far shorter.
MAX_SECONDS = 10 * 365 * 86_400.0


class Reject(Exception):
    """A frame the mapper cannot use (missing or invalid required field); never leaves ``feed()``."""


def event_time(frame: Frame, received_at: datetime) -> datetime:
    raw = frame.get("Timestamp")
    if raw is None:
        return received_at
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except (ValueError, OverflowError, OSError):
        return received_at


def required(frame: Frame, key: str) -> str:
    value = frame.get(key)
    if not value:
        raise Reject(f"missing {key}")
    return value


def first(frame: Frame, *keys: str) -> str | None:
    for key in keys:
        value = frame.get(key)
        if value:
            return value
    return None


def seconds(raw: str | None, key: str, scale: float = 1.0) -> float | None:
    """A duration field; None when absent, not a number or outside 0..MAX_SECONDS (a degraded figure, no reject)."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw) * scale
    except ValueError:
        return None
    if not (0 <= value <= MAX_SECONDS):  # NaN fails both comparisons
        return None
    return value


def integer(raw: str | None, key: str) -> int | None:
    """A count field (a position); None when absent, not an integer or negative (unknown, never a reject)."""
    if raw is None or raw == "":
        return None
    if len(raw) > 18 or not (raw.isdigit() and raw.isascii()):
        return None
    return int(raw)


def flag(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() in _TRUE


def caller(raw: str | None) -> str:
    if raw is None or raw.lower() in _NO_CALLER:
        return ""
    return raw


def device_state(raw: str | None) -> DeviceState:
    code = integer(raw, "Status")
    if code is None or code >= len(_DEVICE_STATES):
        return "unknown"
    return _DEVICE_STATES[code]


def wrapup(frame: Frame) -> float | None:
    return seconds(frame.get("Wrapuptime"), "Wrapuptime") or None


def member(frame: Frame) -> dict[str, Any]:
    """``agent``, ``interface``, ``member_name`` of a QueueMember*/Agent* event (11 or 12+ field names)."""
    interface = first(frame, "Interface", "Location", "Member")
    member_name = frame.get("MemberName") or None
    agent = member_name or interface
    if agent is None:
        raise Reject("missing MemberName and Interface")
    return {"agent": agent, "interface": interface, "member_name": member_name}


def chan_key(channel: str) -> str:
    """Both halves of a Local channel (``;1`` and ``;2``) share one key."""
    if channel.startswith("Local/") and channel[-2:] in (";1", ";2"):
        return channel[:-2]
    return channel
