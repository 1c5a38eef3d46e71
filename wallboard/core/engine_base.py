"""What every part of the engine's ``State`` shares: its attributes, its time bounds and its pickled memories.

``wallboard.core.engine.State`` is one class assembled from mixins, one module per concern, so that no
module holds the whole engine: ``engine_calls`` (call and campaign events), ``engine_agents`` (agent,
membership and correction events), ``engine_time`` (screening, windows, rolling, closed rows). Each mixin
reads and writes the State's attributes, declared once here (``EngineBase``) and set by ``State.__init__``;
the mixins add no per-event indirection: a handler is a method of the State like before.

Checkpoints pickle the State with the objects below in it. Their module stays ``wallboard.core.engine``
(``__module__``, re-exported there) so a checkpoint names them as it always has: one written before this
split loads, and one written after it loads in an engine from before it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from wallboard.core.agents import Agent, CallKey, Roster
from wallboard.core.calls import CallLog
from wallboard.core.campaigns import CampaignBook
from wallboard.core.channels import Responded
from wallboard.core.history import AgentInterval
from wallboard.core.metrics import Counters
from wallboard.core.queues import Call, Queue
from wallboard.core.site import SiteConfig, SlFormula
from wallboard.core.targets import Escalations, RepeatCallers
from wallboard.core.timeline import Timeline

PICKLED_MODULE = "wallboard.core.engine"  # where checkpoints look the classes below up
OLDEST_TS = datetime(1970, 1, 1, tzinfo=UTC)  # events outside [OLDEST_TS, LATEST_TS) are ignored: bad_timestamp
LATEST_TS = datetime(9000, 1, 1, tzinfo=UTC)
_NEVER = datetime.min.replace(tzinfo=UTC)


class _Bounded:
    """A set that remembers at least its last ``size`` members: two generations of ``size`` each."""

    __module__ = PICKLED_MODULE
    __slots__ = ("_size", "_current", "_previous")

    def __init__(self, size: int) -> None:
        self._size = size
        self._current: set[Any] = set()
        self._previous: set[Any] = set()

    def __contains__(self, item: object) -> bool:
        return item in self._current or item in self._previous

    def add(self, item: Any) -> None:
        current = self._current
        current.add(item)
        if len(current) >= self._size:
            self._previous, self._current = current, set()

    def seen(self, item: Any) -> bool:
        """True when ``item`` was added before; otherwise add it and return False (one call on the hot path)."""
        current = self._current
        if item in current or item in self._previous:
            return True
        current.add(item)
        if len(current) >= self._size:
            self._previous, self._current = current, set()
        return False


class _ClosedInterval:
    """A closed interval of one queue, kept compact until ``drain_closed_intervals`` builds its row."""

    __module__ = PICKLED_MODULE
    __slots__ = ("queue", "start", "end", "threshold", "counts")

    def __init__(self, queue: str, start: datetime, end: datetime, threshold: float, counts: Counters) -> None:
        self.queue, self.start, self.end, self.threshold, self.counts = queue, start, end, threshold, counts


class _ClosedAgentInterval:
    """A closed interval of one agent, kept compact until ``drain_closed_agent_intervals`` builds its row."""

    __module__ = PICKLED_MODULE
    __slots__ = ("agent", "start", "end", "figures", "pauses")

    def __init__(
        self, agent: str, start: datetime, end: datetime, figures: AgentInterval, pauses: dict[str, int]
    ) -> None:
        self.agent, self.start, self.end, self.figures, self.pauses = agent, start, end, figures, pauses


class EngineBase:
    """The State's attributes, typed for the mixins (``State.__init__`` sets them; see its module docstring)."""

    site: SiteConfig
    history: bool  # keep closed-interval rows
    applied: int
    anomalies: dict[str, int]
    _tz: ZoneInfo
    _formula: SlFormula
    _short_s: float
    _max_duration_s: float
    _escalation: Escalations
    _repeats: RepeatCallers
    _roster: Roster
    _agents: dict[str, Agent]
    _queues: dict[str, Queue]
    _talking: dict[CallKey, Call]  # answered calls not ended yet
    _by_id: dict[str, Call]  # the talking calls by call id and by agent channel (CallHold names either)
    _by_channel: dict[str, Call]
    _closed: _Bounded  # keys of closed calls
    _keys: _Bounded  # keys of applied events
    _key_seen: Callable[[Any], bool]
    _closed_rows: deque[_ClosedInterval]
    _closed_agents: deque[_ClosedAgentInterval]
    _calls: CallLog
    _epoch: int  # SourceReset count: calls answered in an older epoch may have ended while we were away
    _last_ts: datetime | None
    _interval_start: datetime
    _interval_end: datetime
    _day_start: datetime
    _day_end: datetime
    _timeline: Timeline | None
    _watch: datetime
    _previous_start: datetime | None
    _campaigns: CampaignBook | None
    _responded: Responded | None
    _handlers: dict[str, Callable[[Any], None]]
