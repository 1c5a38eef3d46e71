"""The engine: a pure, in-memory contact-center state fed with ``Event``s; snapshots, totals and deltas out.

``State.apply(event)`` never does I/O, never reads the clock and never raises for a valid event: time
comes from ``event.ts`` or from the caller's ``now``. Events may arrive out of order, twice, for calls
or agents never seen; every such case has a defined outcome below and is counted in ``anomalies``.

Calls
-----
* Calls are keyed by (queue, call_id). CallQueued opens a *waiting* call (enter time = ts); a
  CallQueued for a call already open or recently closed is ignored (``duplicate_queued``).
* CallAnswered closes the wait: offered += 1, answered += 1, wait = ``event.wait_s``, answered within
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
  wait = ``event.wait_s``, else end - talk - enter time when the enter is known, else 0.
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
100,000 rows are kept; intervals in which nothing at all happened produce no row). An event older than
the current interval (out of order across a boundary) is counted in total and in the *current* windows
(``stale_event``). So a runner applies its backlog before its first ``snapshot(now)``.

Agents
------
Identity goes through ``AgentDirectory``: an event telling both an interface and a member name links
them, and a record kept under either raw name (one that resolved to nothing else) is merged into the
linked one; two agents' records are never merged (hot-desking). Presence, pauses and the
displayed state are ``wallboard.agent_state.Presence`` (see its theory of operation). An event for a
queue membership we did not know (a pause in a queue, a ring, an answer, a device state) implies the
membership: the member was logged in before we started. Ringing is shown from AgentDevice ringing;
AgentRang is a ring's outcome. AgentDevice in_use/busy without a known call shows ``on_call`` (a call
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
* Absurd values cannot break the output: an event stamped before 1970 or after 8999 is ignored
  (``bad_timestamp``); durations are capped at 7 days. A bug in a handler is logged and counted
  (``internal_error``) instead of stopping the engine.

Snapshot schema (``snapshot(now)``; websocket, REST, Prometheus exporter and Dash read exactly this)::

    {"site": str, "ts": iso8601 UTC of now, "tz": str,
     "interval": {"start": iso, "end": iso, "minutes": int}, "day": {"start": iso},
     "queues": {name: {"name", "group", "sl_threshold_s", "sl_target_pct", "waiting": int,
         "longest_wait_s": float, "waiting_beyond_sl": int,
         "waiting_calls": [{"call_id", "caller", "caller_name", "position", "wait_s"}] (oldest first,
             at most 50; position = rank in our list, 1 = oldest),
         "agents": {"logged_in", "available", "ringing", "on_call", "wrap_up", "paused": int},
         "required_agents": int | None (Erlang C: interval offered / elapsed interval seconds (min 60 s),
             AHT of the interval, else of the day),
         "interval": WINDOW, "day": WINDOW, "total": WINDOW, "previous_interval": WINDOW | None}},
     "agents": {agent_id: {"id", "name", "team", "state", "reason" (pause reason when paused, else None),
         "since": iso, "time_in_state_s": float, "queues": [...], "paused_queues": [...],
         "call": {"call_id", "queue", "since"} | None, "calls_today": int, "aht_s": float | None,
         "talk_s": float, "paused_s": float}},   (agents seen in events; today's figures)
     "teams": {team: {"agents": {state: count}}},   (site teams and teams of seen agents)
     "counters": {"events_applied": int, "anomalies": {name: int}}}

    WINDOW = ``wallboard.metrics.Counters.as_dict``: offered, answered, abandoned, short_abandoned,
    timed_out, exited_other, unknown, answered_within_sl, service_level_pct, service_level_live_pct
    (interval and day only, else None), asa_s, avg_talk_s, avg_hold_s, avg_wrap_s, aht_s,
    abandon_rate_pct, max_wait_s, handled, talk_s, hold_s, wrap_s, wait_s_answered.

``totals()`` (what ``wallboard replay --json`` prints): per queue the ``total`` window's counts with
sl_threshold_s (int), service_level_pct, asa_s, avg_talk_s, aht_s, max_wait_s (int) and
abandon_rate_pct; per agent answered, talk_s (int), paused_s (up to the last event) and pauses by
reason. Agents are listed only with at least one answered call, pause or ring: in queue_log, members
log in under their interface and do everything else under their member name, so without site-file
aliases a login-only identity would list every agent twice.

Deltas: ``diff(old, new)`` / ``apply_diff(old, changes)``, see ``diff``.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from wallboard.agent_state import BUSY_STATES, AgentInput, AgentState, Presence
from wallboard.events import (
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
    Event,
    Snapshot,
    SourceReset,
)
from wallboard.metrics import Counters, day_end, day_start, interval_end, interval_start, required_agents
from wallboard.site import AgentDirectory, SiteConfig

logger = logging.getLogger(__name__)

CallKey = tuple[str, str]

ANOMALIES = (
    "duplicate_key",
    "stale_event",
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
)
MAX_DURATION_S = 7 * 86_400.0  # a longer wait/talk/hold/wrap is a source error (and inf would break JSON)
OLDEST_TS = datetime(1970, 1, 1, tzinfo=UTC)  # events outside [OLDEST_TS, LATEST_TS) are ignored: bad_timestamp
LATEST_TS = datetime(9000, 1, 1, tzinfo=UTC)
CLOSED_CALLS_MEMORY = 50_000
EVENT_KEYS_MEMORY = 200_000
CLOSED_INTERVALS_MEMORY = 100_000
WAITING_CALLS_SHOWN = 50
_EXIT_FIELD = {"timeout": "timed_out", "unknown": "unknown"}  # every other reason: exited_other
_RING_DEVICE = frozenset({"ringing", "ring_in_use"})
_BUSY_DEVICE = frozenset({"in_use", "busy", "on_hold"})
_IDLE_DEVICE = frozenset({"idle", "unavailable", "invalid"})
_STATES = tuple(state.value for state in AgentState)
_NAME = {state: state.value for state in AgentState}  # plain str for JSON (faster than .value)
_NEVER = datetime.min.replace(tzinfo=UTC)


class EngineError(Exception):
    """Base of the errors this module raises (``apply`` itself never raises)."""


class DiffError(EngineError):
    """A delta cannot be applied: the message says what was read and what was expected."""


class _Bounded:
    """A set that remembers at least its last ``size`` members: two generations of ``size`` each."""

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
        if item in self._current or item in self._previous:
            return True
        self.add(item)
        return False


class _Call:
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


class _AgentStats:
    __slots__ = ("answered", "handled", "talk_s", "hold_s", "wrap_s")

    def __init__(self) -> None:
        self.answered = 0
        self.handled = 0
        self.talk_s = 0.0
        self.hold_s = 0.0
        self.wrap_s = 0.0

    def add(self, other: _AgentStats) -> None:
        self.answered += other.answered
        self.handled += other.handled
        self.talk_s += other.talk_s
        self.hold_s += other.hold_s
        self.wrap_s += other.wrap_s


class _Agent:
    __slots__ = ("id", "presence", "calls", "day", "total", "rang", "since", "since_iso")

    def __init__(self, agent_id: str, ts: datetime) -> None:
        self.id = agent_id
        self.presence = Presence(ts)
        self.calls: dict[CallKey, _Call] = {}
        self.day = _AgentStats()
        self.total = _AgentStats()
        self.rang = False
        self.since: datetime | None = None  # cache of presence.since in ISO form for snapshots
        self.since_iso = ""


class _Queue:
    __slots__ = (
        "name",
        "group",
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
    )

    def __init__(self, name: str, site: SiteConfig) -> None:
        config = site.queues.get(name)
        self.name = name
        self.group = config.group if config else None
        configured = config.sl_threshold_s if config else None
        self.threshold_configured = configured is not None
        self.threshold = configured if configured is not None else site.default_sl_threshold_s
        self.target = config.sl_target_pct if config else site.default_sl_target_pct
        self.wrapup_s = (config.wrapup_s if config else None) or 0.0
        self.waiting: dict[str, _Call] = {}
        self.uncertain: dict[str, _Call] = {}
        self.interval = Counters()
        self.day = Counters()
        self.total = Counters()
        self.windows = (self.interval, self.day, self.total)
        self.previous: Counters | None = None

    def set_windows(self, interval: Counters, day: Counters) -> None:
        self.interval, self.day = interval, day
        self.windows = (interval, day, self.total)


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def _capped(seconds: float) -> float:
    return seconds if seconds <= MAX_DURATION_S else MAX_DURATION_S


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


class State:
    """The whole state of one site; see the module docstring for the semantics."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.applied = 0
        self.anomalies: dict[str, int] = dict.fromkeys(ANOMALIES, 0)
        self._tz = site.tz
        self._formula = site.sl_formula
        self._short_s = site.short_abandon_s
        self._directory = AgentDirectory(site)
        self._pairs: dict[tuple[str, str], str] = {}
        self._resolved: dict[str, str] = {}  # name -> agent id; cleared whenever the directory learns
        self._queues: dict[str, _Queue] = {}
        self._agents: dict[str, _Agent] = {}
        self._talking: dict[CallKey, _Call] = {}
        self._by_id: dict[str, _Call] = {}
        self._by_channel: dict[str, _Call] = {}
        self._closed = _Bounded(CLOSED_CALLS_MEMORY)
        self._keys = _Bounded(EVENT_KEYS_MEMORY)
        self._closed_rows: deque[dict[str, Any]] = deque(maxlen=CLOSED_INTERVALS_MEMORY)
        self._epoch = 0
        self._last_ts: datetime | None = None
        self._interval_start = _NEVER
        self._interval_end = _NEVER
        self._day_start = _NEVER
        self._day_end = _NEVER
        self._handlers: dict[str, Callable[[Any], None]] = {
            "call_queued": self._on_queued,
            "call_answered": self._on_answered,
            "call_ended": self._on_ended,
            "call_abandoned": self._on_abandoned,
            "call_exited": self._on_exited,
            "call_transferred": self._on_ignored,
            "call_hold": self._on_hold,
            "agent_rang": self._on_rang,
            "agent_login": self._on_login,
            "agent_logout": self._on_logout,
            "agent_paused": self._on_paused,
            "agent_unpaused": self._on_unpaused,
            "agent_device": self._on_device,
            "snapshot": self._on_snapshot,
            "source_reset": self._on_reset,
        }
        for name in site.queues:
            self._queue(name)

    # -- input ----------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply one event (idempotent on ``event.key``); never raises."""
        key = event.key
        if key is not None and self._keys.seen(key):
            self.anomalies["duplicate_key"] += 1
            return
        ts = event.ts
        if ts >= self._interval_end:
            if not self._roll(ts):
                self.anomalies["bad_timestamp"] += 1
                return
        elif ts < self._interval_start:
            if ts < OLDEST_TS:
                self.anomalies["bad_timestamp"] += 1
                return
            self.anomalies["stale_event"] += 1
        last = self._last_ts
        if last is None or ts > last:
            self._last_ts = ts
        try:
            self._handlers[event.kind](event)
        except Exception:  # a bug must not stop a live wallboard; it is logged and counted
            self.anomalies["internal_error"] += 1
            logger.exception("engine failed to apply %s event at %s", event.kind, ts)
        self.applied += 1

    def finish(self, now: datetime) -> None:
        """End of input: close uncertain calls as unknown and bring paused time up to ``now``.

        An absurd ``now`` (see ``bad_timestamp``) is replaced by the last applied event's time.
        """
        if not OLDEST_TS <= now < LATEST_TS:
            now = self._last_ts or OLDEST_TS
        if now >= self._interval_end:
            self._roll(now)
        for queue in self._queues.values():
            self._close_uncertain(queue)
        for agent in self._agents.values():
            agent.presence.flush_pause(now)

    # -- calls ----------------------------------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue(name, self.site)
        return queue

    def _is_known(self, queue: _Queue, key: CallKey) -> bool:
        call_id = key[1]
        return call_id in queue.waiting or call_id in queue.uncertain or key in self._talking or key in self._closed

    def _on_queued(self, event: CallQueued) -> None:
        queue = self._queue(event.queue)
        if self._is_known(queue, (event.queue, event.call_id)):
            self.anomalies["duplicate_queued"] += 1
            return
        call = _Call(event.queue, event.call_id, event.ts)
        call.caller, call.caller_name, call.position = event.caller, event.caller_name, event.position
        queue.waiting[event.call_id] = call

    def _take(self, queue: _Queue, call_id: str) -> _Call | None:
        """Remove a call from the waiting or uncertain list of ``queue``."""
        call = queue.waiting.pop(call_id, None)
        return call if call is not None else queue.uncertain.pop(call_id, None)

    def _count_answer(self, queue: _Queue, wait: float) -> None:
        wait = _capped(wait)
        within = wait <= queue.threshold
        for window in queue.windows:
            window.offered += 1
            window.answered += 1
            window.wait_s_answered += wait
            if within:
                window.answered_within_sl += 1
            if window.max_wait_s is None or wait > window.max_wait_s:
                window.max_wait_s = wait

    def _count_outcome(self, queue: _Queue, field: str, wait: float | None, short: bool = False) -> None:
        if wait is not None:
            wait = _capped(wait)
        for window in queue.windows:
            window.offered += 1
            setattr(window, field, getattr(window, field) + 1)
            if short:
                window.short_abandoned += 1
            if wait is not None and (window.max_wait_s is None or wait > window.max_wait_s):
                window.max_wait_s = wait

    def _on_answered(self, event: CallAnswered) -> None:
        queue = self._queue(event.queue)
        key = (event.queue, event.call_id)
        if key in self._talking or key in self._closed:
            self.anomalies["duplicate_answer"] += 1
            return
        ts = event.ts
        call = self._take(queue, event.call_id) or _Call(event.queue, event.call_id, None)
        agent = self._agent(event.agent, event.interface, event.member_name, ts)
        self._count_answer(queue, event.wait_s)
        call.channel = event.agent_channel
        self._open_talk(call, key, agent, ts)
        presence = agent.presence
        presence.expire(ts)
        presence.join(event.queue, ts)
        presence.feed(AgentInput.ANSWER, ts)

    def _open_talk(self, call: _Call, key: CallKey, agent: _Agent, ts: datetime) -> None:
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

    def _on_ended(self, event: CallEnded) -> None:
        ts = event.ts
        queue = self._queue(event.queue)
        agent = self._agent(event.agent, event.interface, event.member_name, ts)
        if event.call_id is None:
            key = next((k for k in reversed(agent.calls) if k[0] == event.queue), None)
            if key is None:
                self.anomalies["end_without_call"] += 1
                return
        else:
            key = (event.queue, event.call_id)
        call = self._talking.pop(key, None)
        if call is None:
            if key in self._closed:
                self.anomalies["duplicate_end"] += 1
                return
            call = self._first_seen_at_end(queue, key, event, agent)
        owner = self._agents.get(call.agent, agent)
        self._close_talk(queue, call, key, owner, ts, event.talk_s, event.hold_s, None)

    def _first_seen_at_end(self, queue: _Queue, key: CallKey, event: CallEnded, agent: _Agent) -> _Call:
        call = self._take(queue, key[1]) or _Call(key[0], key[1], None)
        wait = event.wait_s
        if wait is None:
            wait = 0.0 if call.enter is None else max(0.0, _seconds(event.ts, call.enter) - event.talk_s)
        self._count_answer(queue, wait)
        self._open_talk(call, key, agent, event.ts)
        del self._talking[key]
        return call

    def _close_talk(
        self,
        queue: _Queue,
        call: _Call,
        key: CallKey,
        agent: _Agent,
        ts: datetime,
        talk: float,
        hold: float | None,
        wrap: float | None,
    ) -> None:
        if hold is None:
            hold = call.hold_s + (_seconds(ts, call.hold_since) if call.hold_since is not None else 0.0)
        if wrap is None:
            wrap = self._wrapup(agent, queue)
        talk, hold, wrap = _capped(talk), _capped(hold), _capped(wrap)
        for window in queue.windows:
            window.handled += 1
            window.talk_s += talk
            window.hold_s += hold
            window.wrap_s += wrap
        for stats in (agent.day, agent.total):
            stats.handled += 1
            stats.talk_s += talk
            stats.hold_s += hold
            stats.wrap_s += wrap
        self._forget_talk(call, key, agent)
        presence = agent.presence
        presence.expire(ts)
        if not agent.calls:
            presence.call_ended(ts, wrap)

    def _forget_talk(self, call: _Call, key: CallKey, agent: _Agent) -> None:
        agent.calls.pop(key, None)
        if self._by_id.get(call.call_id) is call:
            del self._by_id[call.call_id]
        if call.channel and self._by_channel.get(call.channel) is call:
            del self._by_channel[call.channel]
        self._closed.add(key)

    def _wrapup(self, agent: _Agent, queue: _Queue) -> float:
        member = agent.presence.memberships.get(queue.name)
        if member is not None and member.wrapup_s:
            return member.wrapup_s
        return queue.wrapup_s

    def _unanswered(self, queue_name: str, call_id: str) -> _Queue | None:
        """Close a call that left the queue unanswered; its queue, or None when the outcome is ignored."""
        queue = self._queue(queue_name)
        key = (queue_name, call_id)
        if key in self._talking:
            self.anomalies["outcome_after_answer"] += 1
            return None
        if key in self._closed:
            self.anomalies["duplicate_outcome"] += 1
            return None
        self._take(queue, call_id)
        self._closed.add(key)
        return queue

    def _unanswered_wait(self, queue_name: str, call_id: str, ts: datetime, wait_s: float | None) -> float | None:
        """The wait of a call leaving unanswered: as told, else ts - enter time, else unknown."""
        if wait_s is not None:
            return wait_s
        queue = self._queues.get(queue_name)
        call = None if queue is None else (queue.waiting.get(call_id) or queue.uncertain.get(call_id))
        return _seconds(ts, call.enter) if call is not None and call.enter is not None else None

    def _on_abandoned(self, event: CallAbandoned) -> None:
        wait = self._unanswered_wait(event.queue, event.call_id, event.ts, event.wait_s)
        queue = self._unanswered(event.queue, event.call_id)
        if queue is not None:
            self._count_outcome(queue, "abandoned", wait, short=wait is not None and wait <= self._short_s)

    def _on_exited(self, event: CallExited) -> None:
        wait = self._unanswered_wait(event.queue, event.call_id, event.ts, event.wait_s)
        queue = self._unanswered(event.queue, event.call_id)
        if queue is not None:
            self._count_outcome(queue, _EXIT_FIELD.get(event.reason, "exited_other"), wait)

    def _close_unknown(self, queue: _Queue, call: _Call, ts: datetime) -> None:
        until = call.uncertain_since or ts
        self._closed.add((queue.name, call.call_id))
        self._count_outcome(queue, "unknown", _seconds(until, call.enter) if call.enter else None)

    def _close_uncertain(self, queue: _Queue) -> None:
        calls, queue.uncertain = queue.uncertain, {}
        for call in calls.values():
            self._close_unknown(queue, call, call.uncertain_since or _NEVER)

    def _on_hold(self, event: CallHold) -> None:
        call = self._by_id.get(event.call_id) if event.call_id else None
        if call is None and event.channel:
            call = self._by_channel.get(event.channel)
        if call is None and event.agent:
            agent = self._agents.get(self._resolve(event.agent))
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

    def _on_ignored(self, event: Event) -> None:
        """CallTransferred is informational: the transferred call's end is a CallEnded."""

    # -- agents ---------------------------------------------------------------------------------

    def _agent(self, name: str, interface: str | None, member_name: str | None, ts: datetime) -> _Agent:
        if interface and member_name:
            agent_id = self._pairs.get((interface, member_name))
            if agent_id is None:
                agent_id = self._learn(interface, member_name, ts)
        else:
            agent_id = self._resolved.get(name) or self._resolve(name)
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = self._agents[agent_id] = _Agent(agent_id, ts)
        return agent

    def _resolve(self, name: str) -> str:
        agent_id = self._resolved[name] = self._directory.resolve(name)
        return agent_id

    def _learn(self, interface: str, member_name: str, ts: datetime) -> str:
        """Link an interface and a member name; a record kept under either raw name joins the linked id.

        Only raw names merge: a record under another member's name stays apart. A new member name on an
        interface already linked to another (not site-configured) agent is hot-desking: it is its own
        agent and the directory is left as it is (``AgentDirectory.learn`` would alias the new name to
        the previous agent).
        """
        by_interface, by_name = self._directory.resolve(interface), self._directory.resolve(member_name)
        learned_elsewhere = by_interface not in (interface, member_name) and by_interface not in self.site.agents
        if by_name == member_name and learned_elsewhere and by_interface in self._agents:  # hot-desking
            self._pairs[(interface, member_name)] = member_name
            return member_name
        agent_id = self._directory.learn(interface, member_name) or member_name
        self._resolved.clear()
        for old in {by_interface, by_name} - {agent_id}:
            if old in (interface, member_name) and old in self._agents:
                self._merge(old, agent_id, ts)
        self._pairs[(interface, member_name)] = agent_id
        return agent_id

    def _merge(self, old: str, new: str, ts: datetime) -> None:
        """Two names turned out to be one agent: move everything ``old`` had to ``new``."""
        source = self._agents.pop(old)
        self._pairs = {pair: agent_id for pair, agent_id in self._pairs.items() if agent_id != old}
        for call in source.calls.values():
            call.agent = new
        target = self._agents.get(new)
        if target is None:
            source.id = new
            self._agents[new] = source
            return
        target.presence.absorb(source.presence, ts)
        target.calls.update(source.calls)
        target.day.add(source.day)
        target.total.add(source.total)
        target.rang = target.rang or source.rang

    def _member_event(
        self, name: str, interface: str | None, member_name: str | None, queue: str | None, ts: datetime
    ) -> _Agent:
        """Resolve the agent, end an expired wrap-up and, when a queue is named, imply that membership."""
        agent = self._agent(name, interface, member_name, ts)
        agent.presence.expire(ts)
        if queue is not None:
            self._queue(queue)
            agent.presence.join(queue, ts)
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
        agent.presence.feed(AgentInput.RING_END, event.ts)

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

    def _device(self, agent: _Agent, device_state: str, in_call: bool, ts: datetime) -> None:
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
                queue.threshold = _capped(info.sl_threshold_s)
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

    def _drop_lost_calls(self, agent: _Agent, ts: datetime) -> None:
        """Calls answered before a reconnect whose member the PBX now says is not in a call."""
        for key, call in list(agent.calls.items()):
            if call.epoch < self._epoch:
                self._talking.pop(key, None)
                self._forget_talk(call, key, agent)
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
                call = _Call(entry.queue, entry.call_id, ts - timedelta(seconds=_capped(entry.wait_s)))
                call.caller, call.caller_name = entry.caller, entry.caller_name
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
            owner = self._agents.get(call.agent) or self._agent(call.agent, None, None, ts)
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
        for queue in self._queues.values():
            self._closed_rows.append(self._interval_row(queue))
            queue.previous = queue.interval if contiguous else Counters()
            queue.set_windows(Counters(), Counters() if new_day else queue.day)
        self._set_bounds(ts, start)
        if new_day:
            for agent in self._agents.values():
                agent.presence.roll_day(self._day_start)
                agent.day = _AgentStats()
        return True

    def _set_bounds(self, ts: datetime, start: datetime) -> None:
        tz, minutes = self._tz, self.site.interval_minutes
        self._interval_start, self._interval_end = start, interval_end(start, tz, minutes)
        self._day_start, self._day_end = day_start(ts, tz), day_end(ts, tz)

    def _interval_row(self, queue: _Queue) -> dict[str, Any]:
        row: dict[str, Any] = {
            "site": self.site.site,
            "queue": queue.name,
            "start": _iso(self._interval_start),
            "end": _iso(self._interval_end),
            "minutes": self.site.interval_minutes,
            "sl_threshold_s": queue.threshold,
        }
        row.update(queue.interval.as_dict(self._formula, None))
        return row

    def drain_closed_intervals(self) -> list[dict[str, Any]]:
        """Each closed interval's per-queue rows, oldest first, returned once."""
        rows = list(self._closed_rows)
        self._closed_rows.clear()
        return rows

    # -- output ---------------------------------------------------------------------------------

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """The whole state at ``now`` as JSON-ready data (schema in the module docstring)."""
        if now >= self._interval_end:
            self._roll(now)
        counts = {name: dict.fromkeys(("logged_in", *_STATES[1:]), 0) for name in self._queues}
        teams = {team: dict.fromkeys(_STATES, 0) for team in self.site.teams}
        agents = self._agents_snapshot(now, counts, teams)
        return {
            "site": self.site.site,
            "ts": _iso(now),
            "tz": self.site.timezone,
            "interval": {
                "start": _iso(self._interval_start),
                "end": _iso(self._interval_end),
                "minutes": self.site.interval_minutes,
            },
            "day": {"start": _iso(self._day_start)},
            "queues": {name: self._queue_dict(queue, now, counts[name]) for name, queue in self._queues.items()},
            "agents": agents,
            "teams": {team: {"agents": states} for team, states in teams.items()},
            "counters": {"events_applied": self.applied, "anomalies": dict(self.anomalies)},
        }

    def _queue_dict(self, queue: _Queue, now: datetime, agents: dict[str, int]) -> dict[str, Any]:
        waiting = queue.waiting.values()
        waits = [_seconds(now, call.enter or now) for call in waiting]
        beyond = sum(1 for wait in waits if wait > queue.threshold)
        shown = heapq.nsmallest(WAITING_CALLS_SHOWN, waiting, key=lambda call: call.enter or now)
        formula = self._formula
        return {
            "name": queue.name,
            "group": queue.group,
            "sl_threshold_s": queue.threshold,
            "sl_target_pct": queue.target,
            "waiting": len(waits),
            "longest_wait_s": max(waits, default=0.0),
            "waiting_beyond_sl": beyond,
            "waiting_calls": [
                {
                    "call_id": call.call_id,
                    "caller": call.caller,
                    "caller_name": call.caller_name,
                    "position": rank,
                    "wait_s": _seconds(now, call.enter or now),
                }
                for rank, call in enumerate(shown, 1)
            ],
            "agents": agents,
            "required_agents": self._required(queue, now),
            "interval": queue.interval.as_dict(formula, beyond),
            "day": queue.day.as_dict(formula, beyond),
            "total": queue.total.as_dict(formula, None),
            "previous_interval": None if queue.previous is None else queue.previous.as_dict(formula, None),
        }

    def _required(self, queue: _Queue, now: datetime) -> int | None:
        interval = queue.interval
        elapsed = max(60.0, (now - self._interval_start).total_seconds())
        source = interval if interval.handled else queue.day
        if not interval.offered or not source.handled:
            return None
        handle = (source.talk_s + source.hold_s + source.wrap_s) / source.handled
        return required_agents(interval.offered / elapsed, handle, queue.threshold, queue.target)

    def _agents_snapshot(
        self, now: datetime, counts: dict[str, dict[str, int]], teams: dict[str, dict[str, int]]
    ) -> dict[str, Any]:
        """Every agent's snapshot entry; adds each agent to its queues' and team's state counts.

        The hottest loop of ``snapshot`` (10,000 agents): lookups are hoisted, nothing is called per
        agent that can be avoided. Per-queue states follow ``Presence.queue_state``.
        """
        out: dict[str, Any] = {}
        configured = self.site.agents
        wrap_up, paused_state = AgentState.WRAP_UP, AgentState.PAUSED
        for agent_id, agent in self._agents.items():
            presence = agent.presence
            if presence.state is wrap_up:
                presence.expire(now)
            state = presence.state
            name = _NAME[state]
            busy = state in BUSY_STATES
            memberships = presence.memberships
            paused_queues = []
            for queue, member in memberships.items():
                row = counts[queue]
                row["logged_in"] += 1
                if member.paused:
                    paused_queues.append(queue)
                    row[name if busy else "paused"] += 1
                else:
                    row[name if busy else "available"] += 1
            config = configured.get(agent_id)
            team = config.team if config else None
            if team:
                team_row = teams.get(team)
                if team_row is None:
                    team_row = teams[team] = dict.fromkeys(_STATES, 0)
                team_row[name] += 1
            since = presence.since
            if since is not agent.since:
                agent.since, agent.since_iso = since, _iso(since)
            pause_since = presence.pause_since
            paused_s = presence.paused_day_s
            if pause_since is not None and now > pause_since:
                paused_s += (now - pause_since).total_seconds()
            day = agent.day
            out[agent_id] = {
                "id": agent_id,
                "name": (config.name if config else None) or agent_id,
                "team": team,
                "state": name,
                "reason": presence.pause_reason if state is paused_state else None,
                "since": agent.since_iso,
                "time_in_state_s": max(0.0, (now - since).total_seconds()),
                "queues": sorted(memberships) if len(memberships) > 1 else list(memberships),
                "paused_queues": sorted(paused_queues) if len(paused_queues) > 1 else paused_queues,
                "call": _call_dict(next(reversed(agent.calls.values())), now) if agent.calls else None,
                "calls_today": day.answered,
                "aht_s": (day.talk_s + day.hold_s + day.wrap_s) / day.handled if day.handled else None,
                "talk_s": day.talk_s,
                "paused_s": paused_s,
            }
        return out

    def totals(self) -> dict[str, Any]:
        """Whole-input totals (``wallboard replay --json``); schema in the module docstring."""
        queues: dict[str, Any] = {}
        for name, queue in self._queues.items():
            window = queue.total.as_dict(self._formula, None)
            row = {key: window[key] for key in _TOTAL_COUNTS}
            row["sl_threshold_s"] = round(queue.threshold)
            for key in ("service_level_pct", "asa_s", "avg_talk_s", "aht_s"):
                row[key] = window[key]
            row["max_wait_s"] = None if queue.total.max_wait_s is None else round(queue.total.max_wait_s)
            row["abandon_rate_pct"] = window["abandon_rate_pct"]
            queues[name] = row
        last = self._last_ts or _NEVER
        agents: dict[str, Any] = {}
        for agent_id, agent in self._agents.items():
            presence = agent.presence
            if agent.total.answered or presence.pauses_total or agent.rang:
                agents[agent_id] = {
                    "answered": agent.total.answered,
                    "talk_s": round(agent.total.talk_s),
                    "paused_s": presence.paused_s(last, day=False),
                    "pauses": dict(sorted(presence.pauses_total.items())),
                }
        return {"queues": queues, "agents": agents}


_TOTAL_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "timed_out",
    "exited_other",
    "unknown",
    "answered_within_sl",
)


def _call_dict(call: _Call, now: datetime) -> dict[str, Any]:
    return {"call_id": call.call_id, "queue": call.queue, "since": _iso(call.answered_at or now)}


# -- deltas ---------------------------------------------------------------------------------------


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The changes that turn ``old`` into ``new``: a JSON merge patch (RFC 7396) made exact.

    * a key of ``old`` missing from ``new`` maps to ``None`` (removed);
    * a dict that was a dict maps to the (non-empty) diff of the two;
    * any other changed value maps to itself, except ``None`` and lists, which are wrapped in a
      one-element list ``[value]`` ("set verbatim"): a bare ``None`` means "removed", and wrapping
      every list keeps the rule simple for clients;
    * a dict where there was none (or a non-dict) maps to ``diff({}, value)``.

    Values are compared with ``==`` (a C-speed deep compare prunes unchanged subtrees) plus, at the
    changed key, their type: ``1`` -> ``1.0`` or ``True`` is a change, inside an otherwise equal list
    or dict it is not (the engine's snapshot fields each have one type, so this never matters there).
    ``apply_diff(old, diff(old, new)) == new`` for any JSON-like dicts. A client without this module:
    ``null`` -> delete the key; array -> set its only element; object -> merge recursively into the
    existing object (or into ``{}``); anything else -> set.
    """
    changes: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key in old:
            before = old[key]
            if type(before) is type(value) and before == value:
                continue
            if isinstance(value, dict) and isinstance(before, dict):
                nested = diff(before, value)
                if nested:
                    changes[key] = nested
                continue
        changes[key] = _encode(value)
    return changes


def apply_diff(old: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``old`` with ``changes`` (from ``diff``) applied, as a new dict; ``old`` is not modified.

    Unchanged nested values are shared with ``old``. Raises ``DiffError`` for a list that is not a
    one-element wrapper.
    """
    result = dict(old)
    for key, change in changes.items():
        if change is None:
            result.pop(key, None)
        elif isinstance(change, dict):
            base = result.get(key)
            result[key] = apply_diff(base if isinstance(base, dict) else {}, change)
        elif isinstance(change, list):
            if len(change) != 1:
                raise DiffError(f"change of {key!r} is a list of {len(change)} items, expected exactly 1 ([value])")
            result[key] = change[0]
        else:
            result[key] = change
    return result


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return diff({}, value)
    if value is None or isinstance(value, list):
        return [value]
    return value
