"""Event builders shared by the engine's tests: times in seconds after T0, the ``support`` queue by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wallboard.core.engine import State
from wallboard.core.events import Event, event_from_dict
from wallboard.core.site import SiteConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a quarter-hour boundary


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, **fields: Any) -> Event:
    return event_from_dict({"kind": kind, "ts": at(seconds), "source": "test", **fields})


def queued(seconds: float, call_id: str, queue: str = "support", **fields: Any) -> Event:
    return ev("call_queued", seconds, call_id=call_id, queue=queue, **fields)


def answered(seconds: float, call_id: str, agent: str, wait_s: float, queue: str = "support", **fields: Any) -> Event:
    return ev("call_answered", seconds, call_id=call_id, queue=queue, agent=agent, wait_s=wait_s, **fields)


def ended(
    seconds: float, call_id: str | None, agent: str, talk_s: float, queue: str = "support", **fields: Any
) -> Event:
    return ev("call_ended", seconds, call_id=call_id, queue=queue, agent=agent, talk_s=talk_s, **fields)


def login(seconds: float, agent: str, queue: str = "support", **fields: Any) -> Event:
    return ev("agent_login", seconds, agent=agent, queue=queue, **fields)


def run_on(site: SiteConfig, *events: Event) -> State:
    """A State of ``site`` after ``events``; the engine must not have hit an internal error."""
    state = State(site)
    for event in events:
        state.apply(event)
    assert state.anomalies["internal_error"] == 0
    return state


def outcomes() -> list[Event]:
    """Five support calls: answered at 10 s and 25 s, abandoned at 3 s (short) and 40 s, timed out at 60 s."""
    return [
        *(queued(0, call_id) for call_id in ("c1", "c2", "c3", "c4", "c5")),
        answered(10, "c1", "a1", 10),
        answered(25, "c2", "a2", 25),
        ev("call_abandoned", 3, call_id="c3", queue="support"),
        ev("call_abandoned", 40, call_id="c4", queue="support", wait_s=40),
        ev("call_exited", 60, call_id="c5", queue="support", reason="timeout", wait_s=60),
    ]
