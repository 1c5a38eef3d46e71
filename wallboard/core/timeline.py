"""Which events may move the engine's clock: no window jumps because of one record. Pure: no I/O, no clock.

Theory of operation
-------------------
The engine's windows (interval, day) follow the time of the events it applies, so one record stamped
in the future (a line appended by hand, a PBX clock set two days ahead and back) would close the day
and count every later call in the future interval. :class:`Timeline` screens the events that would
move the clock by more than ``tolerance`` (15 minutes by default); every other event passes untouched
(the engine compares each event's time with :attr:`Timeline.watch` once: the fast path).

* **Horizon** (live): the caller sets its wall clock (:meth:`Timeline.set_clock`); an event stamped
  after now + tolerance is *ahead*: never applied, counted ``clock_ahead``. A jump that the wall clock
  vouches for (the event is within the tolerance of now: the first event after a stop) is applied.
* **Suspects** (a replay, or a backlog older than the wall clock): an event more than the tolerance
  after the last applied one is held, with the other events of its record (same time, same key up
  to ``/``) and of its call (same queue and call id, not before it by more than the tolerance: one
  call dated ahead is several records). The next other event decides: back near the old time
  (within the tolerance of the last applied event), it *refutes* the jump (the suspects are dropped
  as ``clock_ahead``); later than that, it *confirms* it (an overnight gap, or a file edited out of
  order by hours: the suspects are applied); then it is screened in turn. At most ``MAX_SUSPECTS``
  events are held: one more confirms the jump.
* **End of input** (:meth:`Timeline.finish`): suspects still held are applied when they are not
  after ``now`` + tolerance nor the horizon, and dropped otherwise. A replay passes its last event's
  time, so a legitimate last call after a gap is kept; only a wall clock (a horizon) can tell a
  future-dated last line from it.

Events older than the last applied one are never held here: where they count is the engine's
business (``State``: the previous interval when it is within the tolerance).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wallboard.core.events import Event

__all__ = ["DEFAULT_TOLERANCE_S", "Timeline"]

DEFAULT_TOLERANCE_S = 900.0
MAX_SUSPECTS = 64  # events held for one jump at most (a call's records); one more confirms it
_NEVER = datetime.min.replace(tzinfo=UTC)


def _record(event: Event) -> str | None:
    """The record an event comes from: its key up to ``/`` (a queue_log record's extra events); None: unknown."""
    key = event.key
    return None if key is None else key.partition("/")[0]


def _call(event: Event) -> tuple[str, str] | None:
    """The call an event is about: (queue, call id); None for an event about no call."""
    call_id = getattr(event, "call_id", None)
    return None if call_id is None else (getattr(event, "queue", ""), call_id)


def _together(event: Event, first: Event, tolerance: timedelta) -> bool:
    """Whether ``event`` belongs with the held ``first``: the same record, or the same call near its time."""
    record = _record(first)
    if event.ts == first.ts and record is not None and _record(event) == record:
        return True
    call = _call(first)
    return call is not None and _call(event) == call and event.ts >= first.ts - tolerance


class Timeline:
    """Screens the events that would move the engine's clock far (see the module docstring)."""

    __slots__ = ("tolerance", "horizon", "suspects")

    def __init__(self, tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        self.tolerance = timedelta(seconds=tolerance_s)
        self.horizon: datetime | None = None  # the wall clock + tolerance; None: no wall clock (a replay)
        self.suspects: list[Event] = []  # one record's events, held until the next record decides

    def set_clock(self, now: datetime | None, tolerance_s: float | None = None) -> list[Event]:
        """The caller's wall clock (None: none); returns the held suspects it now vouches for, to apply."""
        if tolerance_s is not None:
            self.tolerance = timedelta(seconds=tolerance_s)
        self.horizon = None if now is None else now + self.tolerance
        suspects = self.suspects
        if suspects and self._vouched(suspects[0].ts):
            self.suspects = []
            return suspects
        return []

    def watch(self, last: datetime | None) -> datetime:
        """The time after which an event needs :meth:`screen` (every event while suspects are held)."""
        if self.suspects or last is None:
            return _NEVER
        watch = last + self.tolerance
        horizon = self.horizon
        return watch if horizon is None or watch < horizon else horizon

    def screen(self, event: Event, last: datetime | None) -> tuple[list[Event], list[Event]]:
        """(events to apply now, in order; events ahead, to drop) for ``event``; ``last``: the last applied time."""
        ts = event.ts
        horizon = self.horizon
        if horizon is not None and ts > horizon:
            return [], [event]
        apply: list[Event] = []
        dropped: list[Event] = []
        suspects = self.suspects
        if suspects:
            first = suspects[0]
            if len(suspects) < MAX_SUSPECTS and _together(event, first, self.tolerance):
                suspects.append(event)
                return [], []
            self.suspects = []
            if last is not None and ts <= last + self.tolerance:
                dropped = suspects  # back near the old time: refuted
            else:  # the clock did move on: confirmed
                apply, latest = suspects, max(held.ts for held in suspects)
                last = latest if last is None or latest > last else last
        if last is not None and ts > last + self.tolerance and not self._vouched(ts):
            self.suspects = [event]
        else:
            apply.append(event)
        return apply, dropped

    def finish(self, now: datetime | None) -> tuple[list[Event], list[Event]]:
        """End of input: (suspects to apply, suspects to drop); see the module docstring."""
        suspects, self.suspects = self.suspects, []
        if not suspects:
            return [], []
        ts, horizon = suspects[0].ts, self.horizon
        if (now is not None and ts > now + self.tolerance) or (horizon is not None and ts > horizon):
            return [], suspects
        return suspects, []

    def _vouched(self, ts: datetime) -> bool:
        """Whether the wall clock says ``ts`` is about now (within the tolerance of it)."""
        horizon = self.horizon
        return horizon is not None and ts >= horizon - 2 * self.tolerance
