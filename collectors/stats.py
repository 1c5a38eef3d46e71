"""What every collector counts, and how it hands a batch to its sink (shared by the AMI and queue_log collectors).

``CollectorStats`` holds the counters of a collector's health hash (``wb:{site}:health:collector:<name>``,
see the pipeline contract). ``as_fields()`` renders every dataclass field, a subclass's own counters
included, as the string the hash stores (a bool as ``0``/``1``, a dict as sorted JSON, a float with
three decimals, None as the empty string), plus ``updated_ts``: the time of rendering, which is the
time the hash is written, so a reader can tell a live collector from a dead one.

``deliver(sink, batch, stats, backoff)`` awaits the sink with one batch and, when the sink raises,
offers it the *same* batch again (same events, same idempotency keys) after a backoff delay, until it
is taken. The collector's loop awaits ``deliver``, so a failing or slow sink stops the reading of
the socket or file: back-pressure on the source instead of lost events or growing memory.
Every exception is retried, a permanent one too (it is logged at WARNING on each attempt, at most
every ``backoff.cap`` seconds, and counted in ``sink_errors``): a collector never drops a batch on
its own judgement. Cancellation goes through at once. ``events`` and ``last_event_ts`` count what
the sink took.

With ``position`` (a collector that can resume where it left off), the sink is a ``PositionedSink``
and gets the batch and the source's resume point together, retried together; a position with an
empty batch (the source moved on through lines that carry no event) is delivered too, so the resume
point keeps up with what was read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Protocol, cast

from wallboard.core.backoff import Backoff
from wallboard.core.events import Event
from wallboard.core.positions import SourcePosition

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], Awaitable[None]]


class PositionedSink(Protocol):
    """A sink that also stores the source's resume point with the batch, atomically (``StreamSink``)."""

    def __call__(self, events: list[Event], position: SourcePosition | None = None, /) -> Awaitable[None]: ...


@dataclass
class CollectorStats:
    """The health counters every collector publishes (subclasses add their own fields)."""

    connected: bool = False
    reconnects: int = 0
    records: int = 0
    events: int = 0
    rejected: int = 0
    ignored: int = 0
    sink_errors: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    degraded_by_reason: dict[str, int] = field(default_factory=dict)  # records mapped without one of their figures
    last_event_ts: float | None = None

    def as_fields(self, now: float | None = None) -> dict[str, str]:
        """Every field as the health hash stores it, and ``updated_ts`` (``now``, epoch seconds; default: the clock)."""
        rendered = {f.name: field_text(getattr(self, f.name)) for f in fields(self)}
        rendered["updated_ts"] = field_text(time.time() if now is None else float(now))
        return rendered


def field_text(value: object) -> str:
    """One health field's text: bool -> 0/1, dict -> sorted JSON, float -> 3 decimals, None -> ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


async def deliver(
    sink: Sink | PositionedSink,
    batch: list[Event],
    stats: CollectorStats,
    backoff: Backoff,
    *,
    source: str,
    position: SourcePosition | None = None,
) -> None:
    """Hand ``batch`` (and ``position``) to ``sink``, retrying the same batch with backoff until the sink takes it."""
    if not batch and position is None:
        return
    while True:
        try:
            if position is None:
                await sink(batch)
            else:
                await cast(PositionedSink, sink)(batch, position)
        except Exception as exc:  # any sink failure: keep the batch, push back on the source
            stats.sink_errors += 1
            delay = next(backoff)
            log.warning(
                "%s: the sink failed on a batch of %d events (%s: %s): retrying the same batch in %.2f s",
                source,
                len(batch),
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            continue
        if backoff.attempt:
            log.info("%s: the sink took the batch after %d failures", source, backoff.attempt)
        backoff.reset()
        if batch:
            stats.events += len(batch)
            stats.last_event_ts = batch[-1].ts.timestamp()
        return
