"""Per-queue accounting: the calls a queue holds and the windows it counts them in. Pure: no I/O, no clock.

Theory of operation
-------------------
The engine (``wallboard.core.engine``) decides what happened to a call; a :class:`Queue` only holds and
counts. It holds the calls waiting in it (``waiting``) and those a reconnect or a snapshot made
uncertain (``uncertain``), both keyed by call id in arrival order. It counts into three windows of
``wallboard.core.metrics.Counters`` at once: ``interval``, ``day`` and ``total`` (``windows`` is the
tuple of the three, rebuilt by :meth:`Queue.set_windows` when the engine rolls a window forward).

* :meth:`Queue.count_answer`: offered, answered, the wait of answered calls, answered within the SL
  threshold (wait <= threshold: Asterisk's rule) and the longest wait;
* :meth:`Queue.count_outcome`: offered plus one outcome field (abandoned, timed_out, exited_other,
  unknown), a short abandon, the longest wait when the wait is known;
* :meth:`Queue.count_handled`: a call that ended, with its talk, hold and wrap-up times.

The engine hands over only plausible durations (at most the site's ``max_duration_s``, a day by
default): a longer one is an anomaly it counts, and it arrives here as None (unknown), kept out of
the averages, never clamped into them. ``capped`` (7 days) bounds what is not an average, such as an
SL threshold from a PBX snapshot or the enter time of a call a snapshot lists. A :class:`Call` is
the engine's record of one call, from its enter (or first sight) to its close.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from wallboard.core.channels import queue_channel
from wallboard.core.metrics import Counters

if TYPE_CHECKING:
    from wallboard.core.site import SiteConfig

__all__ = ["MAX_DURATION_S", "Call", "Queue", "capped"]

MAX_DURATION_S = 7 * 86_400.0  # a longer wait/talk/hold/wrap is a source error (and inf would break JSON)


def capped(seconds: float) -> float:
    """``seconds``, at most ``MAX_DURATION_S``."""
    return seconds if seconds <= MAX_DURATION_S else MAX_DURATION_S


class Call:
    """One call: where it waits or waited, who answered it, its hold time so far."""

    __slots__ = (
        "queue",
        "call_id",
        "enter",
        "caller",
        "caller_name",
        "position",
        "agent",
        "answered_at",
        "channel",
        "hold_s",
        "hold_since",
        "epoch",
        "uncertain_since",
        "repeat",
        "escalated",
    )

    def __init__(self, queue: str, call_id: str, enter: datetime | None) -> None:
        self.queue = queue
        self.call_id = call_id
        self.enter = enter
        self.caller = ""
        self.caller_name = ""
        self.position = 0
        self.agent = ""
        self.answered_at: datetime | None = None
        self.channel: str | None = None
        self.hold_s = 0.0
        self.hold_since: datetime | None = None
        self.epoch = 0
        self.uncertain_since: datetime | None = None
        self.repeat = False  # the caller entered within the repeat window before (wallboard.core.targets)
        self.escalated = False  # transferred to an escalation target (counted once)

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickle, also a call of a checkpoint written before ``repeat`` and ``escalated`` existed."""
        self.repeat = self.escalated = False
        for name, value in state[1].items():
            setattr(self, name, value)


class Queue:
    """One queue's configuration (SL threshold and target, wrap-up), calls and counting windows."""

    __slots__ = (
        "name",
        "group",
        "display_name",
        "threshold",
        "threshold_configured",
        "target",
        "wrapup_s",
        "waiting",
        "uncertain",
        "interval",
        "day",
        "total",
        "windows",
        "previous",
        "channel",
        "channel_configured",
    )

    def __init__(self, name: str, site: SiteConfig) -> None:
        config = site.queues.get(name)
        self.name = name
        # the queue's channel: the site file's, else learned from its events (wallboard.core.channels)
        self.channel, self.channel_configured = queue_channel(site, name)
        self.group = config.group if config else None
        self.display_name = config.display_name if config else None
        configured = config.sl_threshold_s if config else None
        self.threshold_configured = configured is not None
        self.threshold = configured if configured is not None else site.default_sl_threshold_s
        self.target = config.sl_target_pct if config else site.default_sl_target_pct
        self.wrapup_s = (config.wrapup_s if config else None) or 0.0
        self.waiting: dict[str, Call] = {}
        self.uncertain: dict[str, Call] = {}
        self.interval = Counters()
        self.day = Counters()
        self.total = Counters()
        self.windows = (self.interval, self.day, self.total)
        self.previous: Counters | None = None

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickle, also a queue of a checkpoint written before ``display_name`` or ``channel`` existed."""
        self.display_name = None
        self.channel, self.channel_configured = "voice", False
        for name, value in state[1].items():
            setattr(self, name, value)

    def set_windows(self, interval: Counters, day: Counters) -> None:
        """Replace the interval and day windows (the total window is never replaced)."""
        self.interval, self.day = interval, day
        self.windows = (interval, day, self.total)

    def take(self, call_id: str) -> Call | None:
        """Remove a call from the waiting or the uncertain list."""
        call = self.waiting.pop(call_id, None)
        return call if call is not None else self.uncertain.pop(call_id, None)

    def count_answer(self, wait: float | None) -> None:
        """An answered call that waited ``wait`` seconds (None: unknown, out of ASA and SL), in every window."""
        if wait is None:
            for window in self.windows:
                window.offered += 1
                window.answered += 1
                window.wait_unknown += 1
            return
        within = wait <= self.threshold
        for window in self.windows:
            window.offered += 1
            window.answered += 1
            window.wait_s_answered += wait
            if within:
                window.answered_within_sl += 1
            if window.max_wait_s is None or wait > window.max_wait_s:
                window.max_wait_s = wait

    def count_outcome(self, field: str, wait: float | None, short: bool = False) -> None:
        """A call that left unanswered, counted in ``field`` (and as a short abandon when ``short``)."""
        for window in self.windows:
            window.offered += 1
            setattr(window, field, getattr(window, field) + 1)
            if short:
                window.short_abandoned += 1
            if wait is not None and (window.max_wait_s is None or wait > window.max_wait_s):
                window.max_wait_s = wait

    def count_repeat(self) -> None:
        """The call just counted in an outcome came from a repeat caller, in every window."""
        for window in self.windows:
            window.repeat_callers += 1

    def count_escalation(self) -> None:
        """An answered call was transferred to an escalation target, in every window."""
        for window in self.windows:
            window.escalations += 1

    def count_response(self, seconds: float | None) -> None:
        """A contact's first response after ``seconds`` (None: unknown, out of the average), in every window."""
        for window in self.windows:
            window.responded += 1
            if seconds is None:
                window.first_response_unknown += 1
            else:
                window.first_response_s += seconds

    def count_handled(self, times: tuple[float, float, float] | None) -> None:
        """A call that ended, with its talk, hold and wrap-up seconds (None: unknown, out of the averages)."""
        if times is None:
            for window in self.windows:
                window.handled += 1
                window.handle_unknown += 1
            return
        talk, hold, wrap = times
        for window in self.windows:
            window.handled += 1
            window.talk_s += talk
            window.hold_s += hold
            window.wrap_s += wrap
