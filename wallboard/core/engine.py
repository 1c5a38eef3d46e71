"""The engine: a pure, in-memory contact-center state fed with ``Event``s; snapshots, totals and deltas out.

``State.apply(event)`` never does I/O, never reads the clock and never raises for a valid event: time
comes from ``event.ts`` or from the caller's ``now``. Events may arrive out of order, twice, for calls
or agents never seen; every such case has a defined outcome below and is counted in ``anomalies``.

Calls
-----
* Calls are keyed by (queue, call_id). CallQueued opens a *waiting* call (enter time = ts); a
  CallQueued for a call already open or recently closed is ignored (``duplicate_queued``).
* CallAnswered closes the wait: offered += 1, answered += 1, wait = ``event.wait_s`` (when the source
  lacked it: answer - enter time when the enter was seen, else unknown: out of ASA and SL), answered within
  SL when wait <= the queue's threshold (Asterisk's rule); it opens a *talking* call attached to the
  agent. A CallAnswered for a call never seen (it joined while we were away) is still counted.
* CallAbandoned: offered += 1, abandoned += 1, short abandon when wait <= ``short_abandon_s``; wait
  is ``event.wait_s``, else ts - enter time, else unknown (then not short).
* CallExited: ``timeout`` -> timed_out, ``key``/``empty``/``full``/``withdraw`` -> exited_other,
  ``unknown`` -> unknown. All are offered; a timeout is never an abandon.
* CallEnded closes the talking call: handled += 1 with talk, hold (``event.hold_s``, else the sum of
  CallHold periods matched by call_id, agent channel or agent) and wrap-up (the member's ``wrapup_s``
  when > 0, else the queue's ``wrapup_s`` from the site file, else 0). With ``call_id`` None it closes
  the agent's most recent open call in that queue (none: ``end_without_call``, nothing counted).
  A CallEnded for a call never seen answered (first seen at its end) counts as answered too, with
  wait = ``event.wait_s``, else end - talk - enter time when both are known, else unknown. Talk is
  ``event.talk_s``, else end - answer time; a call whose talk, hold or wrap-up stays unknown counts
  as handled with its times out of the sums (``handle_unknown``).
* A second answer or end of a call, or an outcome for a closed call, is ignored and counted
  (``duplicate_answer``, ``duplicate_end``, ``duplicate_outcome``, ``outcome_after_answer``). Closed
  call keys are remembered in a bounded memory (at least the last 50,000).
* Offered = answered + abandoned + timed_out + exited_other + unknown, in every window. Calls still
  waiting are not offered yet.

Windows
-------
Each queue keeps ``interval`` (15/30/60 min aligned to the site-local clock), ``day`` (site-local
midnight) and ``total`` (the whole run, never reset: it backs Prometheus counters). A call counts in
the window in which its wait finished (answer, abandon, exit); handle times count where the call
ended. When an event's ts (or ``snapshot(now)``/``finish(now)``) passes the interval end, the interval
closes: its figures stay available as ``previous_interval`` (an empty window when the new interval
does not follow it directly) and as one row per queue from ``drain_closed_intervals()`` (the last
100,000 rows are kept; intervals in which nothing at all happened produce no row), and one row per
agent active in it from ``drain_closed_agent_intervals()`` (time per displayed state, paused time by
reason, calls, occupancy: ``wallboard.core.history``; when the input skips whole intervals, as after a
stop, agents still logged in get rows for the skipped ones too, for at most a day of them). An event older than
the current interval (out of order across a boundary) counts in total and, when it is within the tolerance
of the last event and in the previous (contiguous) interval, in that interval's counters: the snapshot's
``previous_interval`` and its closed row if not drained yet (``late_event``); otherwise in the *current*
interval (``stale_event``). It never counts in a day it does not belong to (an event of a closed day
counts in total only). So a runner applies its backlog before its first ``snapshot(now)``.

Agents
------
Identity goes through ``AgentDirectory``: an event telling both an interface and a member name links
them, and a record kept under either raw name (one that resolved to nothing else) is merged into the
linked one; two agents' records are never merged (hot-desking). Presence, pauses and the
displayed state are ``wallboard.core.agent_state.Presence`` (see its theory of operation). An event for a
queue membership we did not know (a pause in a queue, a ring, an answer, a device state) implies the
membership: the member was logged in before we started. Ringing is shown from AgentDevice ringing;
AgentRang is a ring's outcome: one not answered is a missed ring of the agent (today, interval) and of the
queue's windows, even when the agent answers the same call later. A CallEnded by transfer is a transfer of
the agent who had the call. AgentDevice in_use/busy without a known call shows ``on_call`` (a call
outside the queue); AgentDevice idle while a call of that agent is open fixes the display to
``available`` but keeps the call (its end may be late). Wrap-up ends lazily, at the agent's next event
or at ``snapshot(now)``.

Corrections
-----------
* Snapshot events correct state and are never counted as calls. Members missing from a snapshot are
  logged out of the queues it covers (``Snapshot.queues``); listed ones are logged in with their
  paused flag, reason, device state. Listed waiting calls unknown to us are added with enter =
  ts - wait_s (never a call already answered or closed); our waiting calls missing from a covered
  queue become *uncertain*: not waiting, not yet offered, settled by a later event, put back by a
  later snapshot, closed as ``unknown`` by ``finish()`` or a day rollover.
* SourceReset(reconnect): waiting calls become uncertain; talking calls stay open. A later snapshot
  saying a member is not in a call closes that member's calls answered before the reconnect without
  counting them handled (``call_end_lost``: their end happened while we were away).
* SourceReset(restart): every waiting or uncertain call is closed as unknown; talking calls are closed
  as ended with talk = ts - answer time and no wrap-up; agents keep their membership and pauses but
  lose ringing, calls and wrap-up.
* Idempotency: an event whose ``key`` was already applied is ignored (``duplicate_key``); the last
  200,000 keys at least are remembered (two generations). Events without a key are always applied.
* Time cannot run away (``wallboard.core.timeline``): the windows never move backwards, and never jump
  because of one record. With a wall clock (``set_wall_clock(now)``, the live runner) an event stamped
  after now + tolerance (15 min) is not applied (``clock_ahead``, logged), so no window, and no
  checkpoint, gets further ahead of the wall clock than the tolerance. Without one (a replay), an event
  more than the tolerance after the last one is held with the rest of its record and call until the next event
  refutes the jump (back near the old time: ``clock_ahead``) or confirms it (any later time: applied);
  ``finish()`` applies what is still held unless it is ahead of its ``now`` + tolerance.
* Absurd values cannot break the output: an event stamped before 1970 or after 8999 is ignored
  (``bad_timestamp``); a wait, talk, hold or wrap-up longer than the site's ``max_duration_s`` (a day
  by default) is counted (``implausible_wait`` ...) and taken as unknown: the call still counts in its
  outcome, the figure stays out of the averages, never clamped into them. A bug in a handler is logged and counted
  (``internal_error``) instead of stopping the engine.

Channels (``wallboard.core.channels``): an event naming a channel other than voice tells its queue's channel
(``channel_mismatch`` when it contradicts it); a chat or email contact is an open call of its agent that leaves
the displayed (phone) state alone; ``contact_responded`` counts a first response time once per contact
(``duplicate_response``).

Call log: every finished call gives one record (``wallboard.core.calls``, its theory of operation), made
where its outcome is counted (an unanswered outcome, closed unknown) or where an answered call ends
(CallEnded, a restart, a lost end), and handed out once by ``drain_call_records()``.

Output: ``snapshot(now)`` and ``totals()`` are built by ``wallboard.core.snapshots``; the snapshot's type and
schema are ``wallboard.core.schema``; deltas between two snapshots are ``wallboard.core.deltas``. Per-queue
counting is ``wallboard.core.queues`` and agent identities are ``wallboard.core.agents``: this module decides
what an event means, they keep count.

Speed: a day's replay (1 M queue_log lines) spends about a third of its time here, some 2 µs an event,
so the per-event path stays a few dict lookups and method calls; a closed interval is kept as its
bounds and its ``Counters`` (the row dict is built when drained), which also keeps memory small.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from wallboard.core.agent_state import AgentInput
from wallboard.core.agents import Agent, AgentStats, CallKey, Roster
from wallboard.core.calls import CallLog, NoCallLog, exit_outcome
from wallboard.core.campaigns import CampaignBook
from wallboard.core.channels import DIGITAL_CHANNELS, ChannelView, Responded, first_response, observe
from wallboard.core.events import (
    AgentDevice,
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallHold,
    CallQueued,
    CallTransferred,
    ContactResponded,
    DialAttempt,
    DialResult,
    Event,
    Snapshot,
    SourceReset,
)
from wallboard.core.history import AgentInterval, agent_row
from wallboard.core.metrics import Counters, day_end, day_start, interval_end, interval_start
from wallboard.core.queues import Call, Queue, capped
from wallboard.core.schema import StateSnapshot, TeamStates
from wallboard.core.site import SiteConfig
from wallboard.core.snapshots import STATES, agent_entries, iso, queue_entry, totals
from wallboard.core.targets import Escalations, RepeatCallers
from wallboard.core.timeline import DEFAULT_TOLERANCE_S, Timeline
from wallboard.errors import WallboardError

__all__ = ["ANOMALIES", "EngineError", "State"]

logger = logging.getLogger(__name__)

ANOMALIES = (
    "duplicate_key",
    "stale_event",
    "late_event",
    "clock_ahead",
    "duplicate_queued",
    "duplicate_answer",
    "duplicate_end",
    "duplicate_outcome",
    "outcome_after_answer",
    "end_without_call",
    "hold_without_call",
    "logout_without_login",
    "call_end_lost",
    "bad_timestamp",
    "internal_error",
    "channel_mismatch",
    "duplicate_response",
    "implausible_response",
    "implausible_wait",
    "implausible_talk",
    "implausible_hold",
    "implausible_wrap",
    "duplicate_dial",
)
OLDEST_TS = datetime(1970, 1, 1, tzinfo=UTC)  # events outside [OLDEST_TS, LATEST_TS) are ignored: bad_timestamp
LATEST_TS = datetime(9000, 1, 1, tzinfo=UTC)
CLOSED_CALLS_MEMORY = 50_000
EVENT_KEYS_MEMORY = 200_000
CLOSED_INTERVALS_MEMORY = 100_000
AHEAD_LOGGED = 10  # clock_ahead events logged one by one; then every AHEAD_LOG_EVERY-th
AHEAD_LOG_EVERY = 1000
GAP_INTERVALS_FILLED = 96  # skipped intervals given agent rows after a gap in the input (a day of quarters)
_EXIT_FIELD = {"timeout": "timed_out", "unknown": "unknown"}  # every other reason: exited_other
_RING_DEVICE = frozenset({"ringing", "ring_in_use"})
_BUSY_DEVICE = frozenset({"in_use", "busy", "on_hold"})
_IDLE_DEVICE = frozenset({"idle", "unavailable", "invalid"})
_NEVER = datetime.min.replace(tzinfo=UTC)
_ANSWER, _RING_END = AgentInput.ANSWER, AgentInput.RING_END


class EngineError(WallboardError):
    """Base of the errors the engine and its deltas raise (``apply`` itself never raises)."""


class _Bounded:
    """A set that remembers at least its last ``size`` members: two generations of ``size`` each."""

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


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


class _ClosedInterval:
    """A closed interval of one queue, kept compact until ``drain_closed_intervals`` builds its row."""

    __slots__ = ("queue", "start", "end", "threshold", "counts")

    def __init__(self, queue: str, start: datetime, end: datetime, threshold: float, counts: Counters) -> None:
        self.queue, self.start, self.end, self.threshold, self.counts = queue, start, end, threshold, counts


class _ClosedAgentInterval:
    """A closed interval of one agent, kept compact until ``drain_closed_agent_intervals`` builds its row."""

    __slots__ = ("agent", "start", "end", "figures", "pauses")

    def __init__(
        self, agent: str, start: datetime, end: datetime, figures: AgentInterval, pauses: dict[str, int]
    ) -> None:
        self.agent, self.start, self.end, self.figures, self.pauses = agent, start, end, figures, pauses


class State:
    """The whole state of one site; see the module docstring for the semantics."""

    # Defaults of the attributes a checkpoint written before they existed lacks (see _clockwork()).
    _timeline: Timeline | None = None
    _watch = _NEVER
    _previous_start: datetime | None = None
    _campaigns: CampaignBook | None = None
    _responded: Responded | None = None

    def __init__(
        self,
        site: SiteConfig,
        *,
        history: bool = True,
        calls: bool | None = None,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
    ) -> None:
        """``history=False``: keep no closed-interval rows (a replay that never drains them stays flat in memory).

        ``tolerance_s``: how far an event may move the clock at once (``wallboard.core.timeline``).
        """
        self.site = site
        self.history = history
        self.applied = 0
        self.anomalies: dict[str, int] = dict.fromkeys(ANOMALIES, 0)
        self._tz = site.tz
        self._formula = site.sl_formula
        self._short_s = site.short_abandon_s
        self._max_duration_s = site.max_duration_s
        self._escalation = Escalations(site.escalation_targets)
        self._repeats = RepeatCallers(site.repeat_window_h * 3600.0)
        self._roster = Roster(site)
        self._agents = self._roster.agents
        self._queues: dict[str, Queue] = {}
        self._talking: dict[CallKey, Call] = {}
        self._by_id: dict[str, Call] = {}
        self._by_channel: dict[str, Call] = {}
        self._closed = _Bounded(CLOSED_CALLS_MEMORY)
        self._keys = _Bounded(EVENT_KEYS_MEMORY)
        self._key_seen = self._keys.seen  # bound once: apply's first call
        self._closed_rows: deque[_ClosedInterval] = deque(maxlen=CLOSED_INTERVALS_MEMORY)
        self._closed_agents: deque[_ClosedAgentInterval] = deque(maxlen=CLOSED_INTERVALS_MEMORY)
        # finished calls' records (wallboard.core.calls), drained by drain_call_records; by default kept only
        # with the history (a replay's State keeps neither: nobody drains them)
        self._calls = CallLog() if (history if calls is None else calls) else NoCallLog()
        self._epoch = 0
        self._last_ts: datetime | None = None
        self._interval_start = _NEVER
        self._interval_end = _NEVER
        self._day_start = _NEVER
        self._day_end = _NEVER
        self._timeline = Timeline(tolerance_s)
        self._watch = _NEVER  # an event stamped after this is screened by the timeline first (see apply)
        self._previous_start = None  # the previous interval's start, while its counters are held (contiguous)
        self._responded = Responded()  # contacts whose first response was counted (wallboard.core.channels)
        self._handlers: dict[str, Callable[[Any], None]] = {
            "call_queued": self._on_queued,
            "call_answered": self._on_answered,
            "call_ended": self._on_ended,
            "call_abandoned": self._on_abandoned,
            "call_exited": self._on_exited,
            "call_transferred": self._on_transferred,
            "call_hold": self._on_hold,
            "agent_rang": self._on_rang,
            "agent_login": self._on_login,
            "agent_logout": self._on_logout,
            "agent_paused": self._on_paused,
            "agent_unpaused": self._on_unpaused,
            "agent_device": self._on_device,
            "snapshot": self._on_snapshot,
            "source_reset": self._on_reset,
            "alert_action": self._on_ignored,  # the runner hands these to its AlertBook (wallboard.core.alerting)
            "dial_attempt": self._on_dial_attempt,
            "dial_result": self._on_dial_result,
            "contact_responded": self._on_responded,
        }
        for name in site.queues:
            self._queue(name)

    # -- input ----------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply one event (idempotent on ``event.key``); never raises."""
        key = event.key
        if key is not None and self._key_seen(key):
            self.anomalies["duplicate_key"] += 1
            return
        if event.ts > self._watch:
            self._screen(event)
        else:
            self._place(event)

    def set_wall_clock(self, now: datetime | None, tolerance_s: float | None = None) -> None:
        """The caller's wall clock (None: none): events stamped after ``now`` + tolerance are not applied.

        Suspects held for lack of a wall clock (``wallboard.core.timeline``) that ``now`` vouches for are
        applied. A live runner calls this before each batch and each snapshot; a replay never does.
        """
        self._settle(self._clockwork().set_clock(now, tolerance_s), [])

    @property
    def horizon(self) -> datetime | None:
        """The latest time an event may carry to be applied (the wall clock + tolerance), None without a clock."""
        return self._clockwork().horizon

    def finish(self, now: datetime) -> None:
        """End of input: settle held suspects, close uncertain calls as unknown, bring paused time up to ``now``.

        Suspects (an event far ahead of the last one, that no later event confirmed) are applied unless
        they are after ``now`` + tolerance or the horizon: a replay's last call after an overnight gap
        counts. An absurd ``now`` (see ``bad_timestamp``) is replaced by the last applied event's time.
        """
        sane = OLDEST_TS <= now < LATEST_TS
        self._settle(*self._clockwork().finish(now if sane else None))
        if not sane:
            now = self._last_ts or OLDEST_TS
        if now >= self._interval_end:
            self._roll(now)
        for queue in self._queues.values():
            self._close_uncertain(queue)
        for agent in self._agents.values():
            agent.presence.flush_pause(now)

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

    # -- calls ----------------------------------------------------------------------------------

    def _queue(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = Queue(name, self.site)
        return queue

    def _on_queued(self, event: CallQueued) -> None:
        name, call_id = event.queue, event.call_id
        queue = self._queues.get(name) or self._queue(name)
        key = (name, call_id)
        if call_id in queue.waiting or call_id in queue.uncertain or key in self._talking or key in self._closed:
            self.anomalies["duplicate_queued"] += 1
            return
        call = Call(name, call_id, event.ts)
        call.caller, call.caller_name, call.position = event.caller, event.caller_name, event.position
        call.repeat = self._repeats.entered(event.caller, event.ts)
        queue.waiting[call_id] = call

    def _on_answered(self, event: CallAnswered) -> None:
        name, call_id = event.queue, event.call_id
        queue = self._queues.get(name) or self._queue(name)
        key = (name, call_id)
        if key in self._talking or key in self._closed:
            self.anomalies["duplicate_answer"] += 1
            return
        ts = event.ts
        call = queue.take(call_id) or Call(name, call_id, None)
        agent = self._roster.get(event.agent, event.interface, event.member_name, ts)
        wait = self._plausible("wait", event.wait_s)
        if wait is None and call.enter is not None:  # the source lacked it: from the call's own times
            wait = self._plausible("wait", _seconds(ts, call.enter))
        queue.count_answer(wait)
        if call.repeat:
            queue.count_repeat()
        self._calls.answered(key, wait)
        call.channel = event.agent_channel
        self._open_talk(call, key, agent, ts)
        presence = agent.presence
        presence.expire(ts)
        presence.join(name, ts)
        if queue.channel not in DIGITAL_CHANNELS:  # a chat or email leaves the phone's state alone
            presence.feed(_ANSWER, ts)

    def _open_talk(self, call: Call, key: CallKey, agent: Agent, ts: datetime) -> None:
        call.agent = agent.id
        call.answered_at = ts
        call.epoch = self._epoch
        call.uncertain_since = None
        self._talking[key] = call
        self._by_id[call.call_id] = call
        if call.channel:
            self._by_channel[call.channel] = call
        agent.calls[key] = call
        agent.day.answered += 1
        agent.total.answered += 1
        agent.presence.interval.answered += 1

    def _on_ended(self, event: CallEnded) -> None:
        ts = event.ts
        name = event.queue
        queue = self._queues.get(name) or self._queue(name)
        agent = self._roster.get(event.agent, event.interface, event.member_name, ts)
        if event.call_id is None:
            key = next((k for k in reversed(agent.calls) if k[0] == name), None)
            if key is None:
                self.anomalies["end_without_call"] += 1
                return
        else:
            key = (name, event.call_id)
        call = self._talking.pop(key, None)
        if call is None:
            if key in self._closed:
                self.anomalies["duplicate_end"] += 1
                return
            call = self._first_seen_at_end(queue, key, event, agent)
        owner = self._agents.get(call.agent, agent)
        if event.ended_by == "transfer":
            for stats in (owner.day, owner.total, owner.presence.interval):
                stats.transfers += 1
        talk = self._plausible("talk", event.talk_s)
        self._close_talk(queue, call, key, owner, ts, talk, event.hold_s, None, event.ended_by)

    def _first_seen_at_end(self, queue: Queue, key: CallKey, event: CallEnded, agent: Agent) -> Call:
        call = queue.take(key[1]) or Call(key[0], key[1], None)
        wait = self._plausible("wait", event.wait_s)
        talk = self._plausible("talk", event.talk_s)
        if wait is None and call.enter is not None and talk is not None:
            wait = self._plausible("wait", max(0.0, _seconds(event.ts, call.enter) - talk))
        queue.count_answer(wait)
        if call.repeat:
            queue.count_repeat()
        self._calls.answered(key, wait)
        self._open_talk(call, key, agent, event.ts)
        del self._talking[key]
        return call

    def _close_talk(
        self,
        queue: Queue,
        call: Call,
        key: CallKey,
        agent: Agent,
        ts: datetime,
        talk: float | None,
        hold: float | None,
        wrap: float | None,
        ended_by: str = "unknown",
    ) -> None:
        """Count an answered call's end (and log it); ``talk`` None (unknown or implausible) is from its answer time."""
        if talk is None and call.answered_at is not None:
            talk = self._plausible("talk", _seconds(ts, call.answered_at))
        if hold is None:
            hold = call.hold_s + (_seconds(ts, call.hold_since) if call.hold_since is not None else 0.0)
        hold = self._plausible("hold", hold)
        wrap = self._plausible("wrap", self._wrapup(agent, queue) if wrap is None else wrap)
        times = None if talk is None or hold is None or wrap is None else (talk, hold, wrap)
        queue.count_handled(times)
        self._calls.ended(key, call, ts, True, (talk, hold, wrap), ended_by)
        for stats in (agent.day, agent.total):
            stats.handle(times)
        agent.presence.interval.handle(times)
        self._forget_talk(call, key, agent)
        presence = agent.presence
        presence.expire(ts)
        if queue.channel not in DIGITAL_CHANNELS and (not agent.calls or not self._on_phone(agent)):
            presence.call_ended(ts, wrap or 0.0)

    def _on_phone(self, agent: Agent) -> bool:
        """Whether one of the agent's open calls is a phone call (not a chat or email contact)."""
        queues = self._queues
        return any(queues[call.queue].channel not in DIGITAL_CHANNELS for call in agent.calls.values())

    def _channel_of(self, event: Event) -> None:
        """An event naming a channel other than voice tells its queue's channel (``wallboard.core.channels``)."""
        name = getattr(event, "queue", None)
        if name:
            observe(self._queue(name), getattr(event, "channel", "voice"), self.anomalies)

    def _on_responded(self, event: ContactResponded) -> None:
        """A contact's first reply: its first response time, once per contact (``wallboard.core.channels``)."""
        key = (event.queue, event.call_id)
        responded = self._responded
        if responded is None:  # a State from a checkpoint written before channels existed
            responded = self._responded = Responded()
        if responded.seen(key):
            self.anomalies["duplicate_response"] = self.anomalies.get("duplicate_response", 0) + 1
            return
        queue = self._queue(event.queue)
        call = self._talking.get(key) or queue.waiting.get(event.call_id) or queue.uncertain.get(event.call_id)
        queue.count_response(self._plausible("response", first_response(event, call)))

    def _forget_talk(self, call: Call, key: CallKey, agent: Agent) -> None:
        agent.calls.pop(key, None)
        if self._by_id.get(call.call_id) is call:
            del self._by_id[call.call_id]
        if call.channel and self._by_channel.get(call.channel) is call:
            del self._by_channel[call.channel]
        self._closed.add(key)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a checkpoint, also one written before the newest attributes existed (they get their defaults)."""
        self.__dict__.update(state)
        if "_calls" not in state:
            self._calls = CallLog()
        if "_max_duration_s" not in state:
            self._max_duration_s = getattr(self.site, "max_duration_s", 86_400.0)
        if "_escalation" not in state:
            self._escalation = Escalations(getattr(self.site, "escalation_targets", ()))
            self._repeats = RepeatCallers(getattr(self.site, "repeat_window_h", 24.0) * 3600.0)
        if "dial_result" not in self._handlers:  # a checkpoint written before campaigns existed
            self._handlers["dial_attempt"] = self._on_dial_attempt
            self._handlers["dial_result"] = self._on_dial_result
        if "contact_responded" not in self._handlers:  # a checkpoint written before channels existed
            self._handlers["contact_responded"] = self._on_responded
            for queue in self._queues.values():
                config = self.site.queues.get(queue.name)
                configured = getattr(config, "channel", None)
                if configured is not None:
                    queue.channel, queue.channel_configured = configured, True

    def _plausible(self, figure: str, seconds: float | None) -> float | None:
        """``seconds``, or None when unknown or longer than the site's ``max_duration_s`` (an anomaly, counted)."""
        if seconds is None or seconds <= self._max_duration_s:
            return seconds
        key = f"implausible_{figure}"
        self.anomalies[key] = self.anomalies.get(key, 0) + 1  # .get: a checkpoint may predate the key
        return None

    def _wrapup(self, agent: Agent, queue: Queue) -> float:
        member = agent.presence.memberships.get(queue.name)
        if member is not None and member.wrapup_s:
            return member.wrapup_s
        return queue.wrapup_s

    def _unanswered(self, queue_name: str, call_id: str) -> tuple[Queue, Call | None] | None:
        """Close a call that left the queue unanswered; its queue and call, or None when the outcome is ignored."""
        queue = self._queue(queue_name)
        key = (queue_name, call_id)
        if key in self._talking:
            self.anomalies["outcome_after_answer"] += 1
            return None
        if key in self._closed:
            self.anomalies["duplicate_outcome"] += 1
            return None
        call = queue.take(call_id)
        self._closed.add(key)
        return queue, call

    def _unanswered_wait(self, queue_name: str, call_id: str, ts: datetime, wait_s: float | None) -> float | None:
        """The wait of a call leaving unanswered: as told, else ts - enter time, else unknown (plausible ones only)."""
        wait = self._plausible("wait", wait_s)
        if wait is not None:
            return wait
        queue = self._queues.get(queue_name)
        call = None if queue is None else (queue.waiting.get(call_id) or queue.uncertain.get(call_id))
        return (
            self._plausible("wait", _seconds(ts, call.enter)) if call is not None and call.enter is not None else None
        )

    def _on_abandoned(self, event: CallAbandoned) -> None:
        wait = self._unanswered_wait(event.queue, event.call_id, event.ts, event.wait_s)
        closed = self._unanswered(event.queue, event.call_id)
        if closed is not None:
            short = wait is not None and wait <= self._short_s
            closed[0].count_outcome("abandoned", wait, short=short)
            if closed[1] is not None and closed[1].repeat:
                closed[0].count_repeat()
            outcome = "short_abandon" if short else "abandoned"
            self._calls.unanswered((event.queue, event.call_id), closed[1], outcome, event.ts, wait)

    def _on_exited(self, event: CallExited) -> None:
        wait = self._unanswered_wait(event.queue, event.call_id, event.ts, event.wait_s)
        closed = self._unanswered(event.queue, event.call_id)
        if closed is not None:
            closed[0].count_outcome(_EXIT_FIELD.get(event.reason, "exited_other"), wait)
            if closed[1] is not None and closed[1].repeat:
                closed[0].count_repeat()
            self._calls.unanswered((event.queue, event.call_id), closed[1], exit_outcome(event.reason), event.ts, wait)

    def _close_unknown(self, queue: Queue, call: Call, ts: datetime) -> None:
        until = call.uncertain_since or ts
        key = (queue.name, call.call_id)
        self._closed.add(key)
        wait = self._plausible("wait", _seconds(until, call.enter)) if call.enter else None
        queue.count_outcome("unknown", wait)
        if call.repeat:
            queue.count_repeat()
        self._calls.unanswered(key, call, "unknown", until, wait)

    def _close_uncertain(self, queue: Queue) -> None:
        calls, queue.uncertain = queue.uncertain, {}
        for call in calls.values():
            self._close_unknown(queue, call, call.uncertain_since or _NEVER)

    def _on_hold(self, event: CallHold) -> None:
        call = self._by_id.get(event.call_id) if event.call_id else None
        if call is None and event.pbx_channel:
            call = self._by_channel.get(event.pbx_channel)
        if call is None and event.agent:
            agent = self._agents.get(self._roster.resolve(event.agent))
            if agent is not None and agent.calls:
                call = next(reversed(agent.calls.values()))
        if call is None:
            self.anomalies["hold_without_call"] += 1
            return
        if event.held:
            if call.hold_since is None:
                call.hold_since = event.ts
        elif call.hold_since is not None:
            call.hold_s += _seconds(event.ts, call.hold_since)
            call.hold_since = None

    def _on_transferred(self, event: CallTransferred) -> None:
        """The call's end is a CallEnded: its target goes to the call log; one to an escalation target counts.

        An escalation counts once per call (a second transfer of an escalated call does not), for the agent
        who had the call (today, interval), its team through it, and the queue's windows.
        """
        call_id = event.call_id
        if call_id is None:
            agent = self._agents.get(self._roster.resolve(event.agent))
            key = next((k for k in reversed(agent.calls) if k[0] == event.queue), None) if agent else None
            if key is None:
                return
            call_id = key[1]
        key = (event.queue, call_id)
        escalation = event.target in self._escalation
        call = self._talking.get(key)
        if escalation and (call is None or not call.escalated):
            if call is not None:
                call.escalated = True
            owner = self._agents.get(call.agent) if call is not None else None
            if owner is None:
                owner = self._roster.get(event.agent, None, None, event.ts)
            for stats in (owner.day, owner.total, owner.presence.interval):
                stats.escalations += 1
            self._queue(event.queue).count_escalation()
        self._calls.transferred(key, event.target, escalation)

    # -- outbound campaigns (wallboard.core.campaigns keeps count) --------------------------------

    def _dialer(self) -> CampaignBook:
        book = self._campaigns
        if book is None:  # a new State, or one from a checkpoint written before campaigns existed
            site = self.site
            book = CampaignBook(getattr(site, "campaigns", {}), getattr(site, "campaign_defaults", None))
            self._campaigns = book
        return book

    def _on_dial_attempt(self, event: DialAttempt) -> None:
        """An attempt counts in the campaign's window and total, and today unless its day is over."""
        if not self._dialer().attempt(event.campaign, event.call_id, event.ts, today=event.ts >= self._day_start):
            self.anomalies["duplicate_dial"] = self.anomalies.get("duplicate_dial", 0) + 1

    def _on_dial_result(self, event: DialResult) -> None:
        """An outcome likewise; an implausible talk time (> max_duration_s) is unknown, the outcome still counts."""
        talk = self._plausible("talk", event.talk_s) if event.result == "answered" else None
        today = event.ts >= self._day_start
        if not self._dialer().result(event.campaign, event.call_id, event.result, talk, event.ts, today=today):
            self.anomalies["duplicate_dial"] = self.anomalies.get("duplicate_dial", 0) + 1

    def _on_ignored(self, event: Event) -> None:
        """AlertAction is not about calls (the runner hands it to its AlertBook)."""

    # -- agents ---------------------------------------------------------------------------------

    def _member_event(
        self, name: str, interface: str | None, member_name: str | None, queue: str | None, ts: datetime
    ) -> Agent:
        """Resolve the agent, end an expired wrap-up and, when a queue is named, imply that membership."""
        agent = self._roster.get(name, interface, member_name, ts)
        presence = agent.presence
        presence.expire(ts)
        if queue is not None:
            if queue not in self._queues:
                self._queue(queue)
            presence.join(queue, ts)
        return agent

    def _on_login(self, event: AgentLogin) -> None:
        agent = self._member_event(event.agent, event.interface, event.member_name, None, event.ts)
        self._queue(event.queue)
        agent.presence.join(event.queue, event.ts, event.wrapup_s)
        if event.paused:
            agent.presence.observe(event.queue, True, event.reason, event.ts)

    def _on_logout(self, event: AgentLogout) -> None:
        agent = self._member_event(event.agent, event.interface, event.member_name, None, event.ts)
        if not agent.presence.leave(event.queue, event.ts):
            self.anomalies["logout_without_login"] += 1

    def _on_paused(self, event: AgentPaused) -> None:
        agent = self._member_event(event.agent, event.interface, event.member_name, event.queue, event.ts)
        agent.presence.pause(event.queue, event.reason, event.ts)

    def _on_unpaused(self, event: AgentUnpaused) -> None:
        agent = self._member_event(event.agent, event.interface, event.member_name, event.queue, event.ts)
        agent.presence.unpause(event.queue, event.ts)

    def _on_rang(self, event: AgentRang) -> None:
        agent = self._member_event(event.agent, event.interface, event.member_name, event.queue, event.ts)
        agent.rang = True
        presence = agent.presence
        presence.feed(_RING_END, event.ts)
        if not event.answered:  # a missed ring, even when the agent answers the same call later
            agent.day.missed_rings += 1
            agent.total.missed_rings += 1
            presence.interval.missed_rings += 1
            for window in self._queues[event.queue].windows:
                window.missed_rings += 1
        if event.call_id is not None:
            self._calls.rang((event.queue, event.call_id), agent.id, event.answered)

    def _on_device(self, event: AgentDevice) -> None:
        ts = event.ts
        agent = self._member_event(event.agent, event.interface, event.member_name, event.queue, ts)
        presence = agent.presence
        queues = [event.queue] if event.queue is not None else list(presence.memberships)
        for name in queues:
            member = presence.memberships.get(name)
            if member is not None and event.wrapup_s is not None:
                member.wrapup_s = event.wrapup_s
            if event.paused is not None:
                presence.observe(name, event.paused, event.reason, ts)
        self._device(agent, event.device_state, bool(event.in_call), ts)

    def _device(self, agent: Agent, device_state: str, in_call: bool, ts: datetime) -> None:
        if device_state in _RING_DEVICE:
            agent.presence.feed(AgentInput.RING, ts)
        elif in_call or device_state in _BUSY_DEVICE:
            agent.presence.feed(AgentInput.DEVICE_BUSY, ts)
        elif device_state in _IDLE_DEVICE:
            agent.presence.feed(AgentInput.DEVICE_IDLE, ts)

    # -- corrections ----------------------------------------------------------------------------

    def _on_snapshot(self, event: Snapshot) -> None:
        ts = event.ts
        covered = {info.name for info in event.queues}
        for info in event.queues:
            queue = self._queue(info.name)
            if info.sl_threshold_s and not queue.threshold_configured:
                queue.threshold = capped(info.sl_threshold_s)
        present = self._snapshot_members(event, ts)
        for agent in self._agents.values():
            for name in [q for q in agent.presence.memberships if q in covered]:
                if (name, agent.id) not in present:
                    agent.presence.leave(name, ts)
        self._snapshot_entries(event, covered, ts)

    def _snapshot_members(self, event: Snapshot, ts: datetime) -> set[tuple[str, str]]:
        present: set[tuple[str, str]] = set()
        in_call: dict[str, bool] = {}
        for info in event.members:
            agent = self._member_event(info.agent, info.interface, info.member_name, info.queue, ts)
            presence = agent.presence
            presence.join(info.queue, ts, info.wrapup_s)
            presence.observe(info.queue, info.paused, info.reason, ts)
            self._device(agent, info.device_state, info.in_call, ts)
            present.add((info.queue, agent.id))
            in_call[agent.id] = in_call.get(agent.id, False) or info.in_call or info.device_state in _BUSY_DEVICE
        for agent_id, busy in in_call.items():
            lost = None if busy else self._agents.get(agent_id)
            if lost is not None:
                self._drop_lost_calls(lost, ts)
        return present

    def _drop_lost_calls(self, agent: Agent, ts: datetime) -> None:
        """Calls answered before a reconnect whose member the PBX now says is not in a call."""
        for key, call in list(agent.calls.items()):
            if call.epoch < self._epoch:
                self._talking.pop(key, None)
                self._forget_talk(call, key, agent)
                self._calls.ended(key, call, ts, False, (None, None, None), "unknown")
                self.anomalies["call_end_lost"] += 1
        if not agent.calls:
            agent.presence.feed(AgentInput.DEVICE_IDLE, ts)

    def _snapshot_entries(self, event: Snapshot, covered: set[str], ts: datetime) -> None:
        listed: set[CallKey] = set()
        for entry in event.entries:
            queue = self._queue(entry.queue)
            key = (entry.queue, entry.call_id)
            listed.add(key)
            call = queue.waiting.get(entry.call_id) or queue.uncertain.pop(entry.call_id, None)
            if call is None:
                if key in self._talking or key in self._closed:
                    continue
                call = Call(entry.queue, entry.call_id, ts - timedelta(seconds=capped(entry.wait_s)))
                call.caller, call.caller_name = entry.caller, entry.caller_name
                call.repeat = self._repeats.entered(entry.caller, call.enter or ts)
            call.position = entry.position
            call.uncertain_since = None
            queue.waiting[entry.call_id] = call
        for name in covered:
            queue = self._queues[name]
            for call_id in [c for c in queue.waiting if (name, c) not in listed]:
                call = queue.waiting.pop(call_id)
                call.uncertain_since = ts
                queue.uncertain[call_id] = call

    def _on_reset(self, event: SourceReset) -> None:
        ts = event.ts
        self._epoch += 1
        if event.reason == "reconnect":
            for queue in self._queues.values():
                for call in queue.waiting.values():
                    call.uncertain_since = ts
                queue.uncertain.update(queue.waiting)
                queue.waiting = {}
            return
        for queue in self._queues.values():
            calls = [*queue.waiting.values(), *queue.uncertain.values()]
            queue.waiting, queue.uncertain = {}, {}
            for call in calls:
                self._close_unknown(queue, call, ts)
        for key, call in list(self._talking.items()):
            del self._talking[key]
            owner = self._agents.get(call.agent) or self._roster.get(call.agent, None, None, ts)
            talk = _seconds(ts, call.answered_at) if call.answered_at else 0.0
            self._close_talk(self._queue(key[0]), call, key, owner, ts, talk, None, 0.0)
        for agent in self._agents.values():
            agent.presence.feed(AgentInput.RESET, ts)

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

    def drain_call_records(self) -> list[tuple[int, dict[str, Any]]]:
        """(number, row) of each call finished since the last drain, in finish order, returned once.

        Rows: ``wallboard.core.calls`` (one per finished call; numbers count from 1 over the State's life).
        """
        records = self._calls.drain(self.site)
        for _, row in records:
            queue = self._queues.get(row["queue"])
            if queue is not None:
                row["channel"] = queue.channel
        return records

    @property
    def call_records_made(self) -> int:
        """How many call records this State has made (the last record's number)."""
        return self._calls.made

    def continue_call_numbers(self, made: int) -> None:
        """Number the next call record ``made + 1`` (a State rebuilt after its records were written)."""
        self._calls.made = made

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

    # -- output ---------------------------------------------------------------------------------

    def snapshot(self, now: datetime) -> StateSnapshot:
        """The whole state at ``now`` as JSON-ready data (schema: ``wallboard.core.schema.StateSnapshot``)."""
        if now >= self._interval_end:
            self._roll(now)
        counts = {name: dict.fromkeys(("logged_in", *STATES[1:]), 0) for name in self._queues}
        teams = {team: dict.fromkeys(STATES, 0) for team in self.site.teams}
        team_figures: dict[str, list[int]] = {}
        agents = agent_entries(self._agents, self.site, now, counts, teams, team_figures, self._channel_view())
        formula, start = self._formula, self._interval_start
        snapshot: StateSnapshot = {
            "site": self.site.site,
            "ts": iso(now),
            "tz": self.site.timezone,
            "sl_formula": self.site.sl_formula,
            "interval": {"start": iso(start), "end": iso(self._interval_end), "minutes": self.site.interval_minutes},
            "day": {"start": iso(self._day_start)},
            "queues": {name: queue_entry(q, now, counts[name], formula, start) for name, q in self._queues.items()},
            "agents": agents,
            "teams": {
                team: {
                    "name": self._team_name(team),
                    "agents": cast(TeamStates, states),
                    "handled_today": team_figures.get(team, (0, 0))[0],
                    "escalations_today": team_figures.get(team, (0, 0))[1],
                }
                for team, states in teams.items()
            },
            "counters": {"events_applied": self.applied, "anomalies": dict(self.anomalies)},
        }
        dialer = self._dialer()
        if len(dialer):  # outbound campaigns: the site file's, or seen in dialer events
            snapshot["campaigns"] = dialer.figures(now)
        return snapshot

    def _channel_view(self) -> ChannelView | None:
        """The queues that are not voice (None: none, the snapshot shows no channel detail for agents)."""
        queues = {name: queue.channel for name, queue in self._queues.items() if queue.channel != "voice"}
        return ChannelView(queues, self.site) if queues else None

    def _team_name(self, team: str) -> str:
        config = self.site.teams.get(team)
        return (config.name if config else None) or team

    def totals(self) -> dict[str, Any]:
        """Whole-input totals (``wallboard replay --json``; schema: ``wallboard.core.snapshots``)."""
        return totals(self._queues, self._agents, self._formula, self._last_ts)
