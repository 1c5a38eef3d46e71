"""The engine's time: screening events (``wallboard.core.timeline``), placing them in their windows, rolling.

A mixin of ``wallboard.core.engine.State`` (whose module docstring, *Windows* and *Corrections*, says what
happens to late, stale and ahead events). Every event passes ``_place`` and ``_handle`` here on its way to
its handler; an interval's end moves the windows (``_roll``) and keeps the closed interval's rows, per queue
and per agent, until they are drained.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from wallboard.core.agents import AgentStats
from wallboard.core.engine_base import _NEVER, LATEST_TS, OLDEST_TS, _ClosedAgentInterval, _ClosedInterval
from wallboard.core.engine_calls import CallHandlers
from wallboard.core.events import Event
from wallboard.core.history import agent_row
from wallboard.core.metrics import Counters, day_end, day_start, interval_end, interval_start
from wallboard.core.snapshots import iso
from wallboard.core.timeline import Timeline

logger = logging.getLogger("wallboard.core.engine")  # the engine's log lines keep the engine's logger name

AHEAD_LOGGED = 10  # clock_ahead events logged one by one; then every AHEAD_LOG_EVERY-th
AHEAD_LOG_EVERY = 1000
GAP_INTERVALS_FILLED = 96  # skipped intervals given agent rows after a gap in the input (a day of quarters)


class Windows(CallHandlers):
    """The State's clock and windows: screen, place and handle each event; roll and drain the intervals."""

    # -- time -----------------------------------------------------------------------------------

    def _clockwork(self) -> Timeline:
        timeline = self._timeline
        if timeline is None:  # a State from a checkpoint written before the timeline existed
            timeline = self._timeline = Timeline()
        return timeline

    def _screen(self, event: Event) -> None:
        """The slow path of ``apply``: an event past ``_watch`` (a jump, the horizon), or any while suspects wait."""
        if not OLDEST_TS <= event.ts < LATEST_TS:
            self.anomalies["bad_timestamp"] += 1
            return
        self._settle(*self._clockwork().screen(event, self._last_ts))

    def _settle(self, apply: list[Event], dropped: list[Event]) -> None:
        """Drop the events ahead of the clock, apply the others in order, then set the fast path's bound again."""
        for event in dropped:
            self._ahead(event)
        for event in apply:
            self._place(event)
        self._watch = self._clockwork().watch(self._last_ts)

    def _ahead(self, event: Event) -> None:
        count = self.anomalies.get("clock_ahead", 0) + 1
        self.anomalies["clock_ahead"] = count
        if count <= AHEAD_LOGGED or count % AHEAD_LOG_EVERY == 0:
            horizon = self._clockwork().horizon
            against = f"the wall clock + tolerance ({iso(horizon)})" if horizon else "the events after it"
            logger.warning(
                "%s event at %s (key %s) is ahead of %s: not applied (clock_ahead: %d so far)",
                event.kind,
                iso(event.ts),
                event.key,
                against,
                count,
            )

    def _place(self, event: Event) -> None:
        """Apply a screened event in the windows its time belongs to."""
        ts = event.ts
        if ts >= self._interval_end:
            if not self._roll(ts):
                self.anomalies["bad_timestamp"] += 1
                return
        elif ts < self._interval_start:
            if ts < OLDEST_TS:
                self.anomalies["bad_timestamp"] += 1
                return
            self._place_late(event)
            return
        last = self._last_ts
        if last is None or ts > last:
            self._last_ts = ts
        self._handle(event)

    def _handle(self, event: Event) -> None:
        try:
            if getattr(event, "channel", "voice") != "voice":  # a chat, email... contact: its queue's channel
                self._channel_of(event)
            self._handlers[event.kind](event)
        except Exception:  # a bug must not stop a live wallboard; it is logged and counted
            self.anomalies["internal_error"] += 1
            logger.exception("engine failed to apply %s event at %s", event.kind, event.ts)
        self.applied += 1

    def _place_late(self, event: Event) -> None:
        """An event older than the current interval, counted where it belongs while that window is held.

        Within the tolerance of the last event and in the previous interval (contiguous): in that
        interval's counters (``late_event``); otherwise in the current interval (``stale_event``). Never in
        a day it does not belong to: an event of a day already closed counts in no day window (nor in the
        current interval). The total always counts it.
        """
        ts, previous, last = event.ts, self._previous_start, self._last_ts
        late = previous is not None and ts >= previous and (last is None or ts >= last - self._clockwork().tolerance)
        name = "late_event" if late else "stale_event"
        self.anomalies[name] = self.anomalies.get(name, 0) + 1
        day_gone = ts < self._day_start
        if not (late or day_gone):
            self._handle(event)
            return
        queues = list(self._queues.values())
        for queue in queues:
            interval = queue.previous if late and queue.previous is not None else Counters()
            queue.windows = (interval, Counters() if day_gone else queue.day, queue.total)
        try:
            self._handle(event)
        finally:
            for queue in queues:
                queue.set_windows(queue.interval, queue.day)

    # -- windows --------------------------------------------------------------------------------

    def _roll(self, ts: datetime) -> bool:
        """Move the windows forward so that ``ts`` is inside the current interval; False for an absurd ts."""
        if not OLDEST_TS <= ts < LATEST_TS:
            return False
        tz, minutes = self._tz, self.site.interval_minutes
        start = interval_start(ts, tz, minutes)
        if self._interval_end is _NEVER:
            self._set_bounds(ts, start)
            return True
        new_day = ts >= self._day_end
        if new_day:
            for queue in self._queues.values():
                self._close_uncertain(queue)
        contiguous = start == self._interval_end
        begin, end = self._interval_start, self._interval_end
        for queue in self._queues.values():
            if self.history:
                self._closed_rows.append(_ClosedInterval(queue.name, begin, end, queue.threshold, queue.interval))
            queue.previous = queue.interval if contiguous else Counters()
            queue.set_windows(Counters(), Counters() if new_day else queue.day)
        self._cut_agents(begin, end, keep=self.history)
        if not contiguous and self.history:
            self._fill_gap(end, start)
        self._previous_start = begin if contiguous else None
        self._set_bounds(ts, start)
        if new_day:
            self._dialer().roll_day()
            for agent in self._agents.values():
                agent.presence.roll_day(self._day_start)
                agent.day = AgentStats()
        return True

    def _set_bounds(self, ts: datetime, start: datetime) -> None:
        tz, minutes = self._tz, self.site.interval_minutes
        self._interval_start, self._interval_end = start, interval_end(start, tz, minutes)
        self._day_start, self._day_end = day_start(ts, tz), day_end(ts, tz)
        self._roster.interval_start = start

    def _cut_agents(self, begin: datetime, end: datetime, *, keep: bool = True) -> None:
        """Close every agent's interval [begin, end) at ``end``; rows of the agents active in it (when ``keep``)."""
        closed = self._closed_agents
        for agent_id, agent in self._agents.items():
            figures, pauses = agent.presence.cut(end)
            if keep and figures.active:
                closed.append(_ClosedAgentInterval(agent_id, begin, end, figures, pauses))

    def _fill_gap(self, end: datetime, start: datetime) -> None:
        """Rows for the intervals the input skipped between ``end`` and ``start`` (at most GAP_INTERVALS_FILLED)."""
        tz, minutes = self._tz, self.site.interval_minutes
        for _ in range(GAP_INTERVALS_FILLED):
            if end >= start:
                return
            begin, end = end, interval_end(end, tz, minutes)
            self._cut_agents(begin, end)
        if end < start:  # a longer gap: the rest of it is not reported
            self._cut_agents(end, start, keep=False)

    def drain_closed_agent_intervals(self) -> list[dict[str, Any]]:
        """Each closed interval's rows of the agents active in it, oldest first then by agent id, returned once."""
        site, minutes, configured = self.site.site, self.site.interval_minutes, self.site.agents
        rows: list[dict[str, Any]] = []
        closed = sorted(self._closed_agents, key=lambda c: (c.start, c.agent))
        for item in closed:
            config = configured.get(item.agent)
            head = {
                "site": site,
                "agent": item.agent,
                "name": (config.name if config else None) or item.agent,
                "team": config.team if config else None,
                "start": iso(item.start),
                "end": iso(item.end),
            }
            rows.append(agent_row(head, item.figures, item.pauses, minutes))
        self._closed_agents.clear()
        return rows

    def drain_closed_intervals(self) -> list[dict[str, Any]]:
        """Each closed interval's per-queue rows, oldest first, returned once."""
        site, minutes, formula = self.site.site, self.site.interval_minutes, self._formula
        rows: list[dict[str, Any]] = []
        for closed in self._closed_rows:
            row: dict[str, Any] = {
                "site": site,
                "queue": closed.queue,
                "channel": self._queues[closed.queue].channel if closed.queue in self._queues else "voice",
                "start": iso(closed.start),
                "end": iso(closed.end),
                "minutes": minutes,
                "sl_threshold_s": closed.threshold,
            }
            row.update(closed.counts.as_dict(formula, None))
            rows.append(row)
        self._closed_rows.clear()
        return rows
