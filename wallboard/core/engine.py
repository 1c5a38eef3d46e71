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

Layout: ``State`` is this module's class, assembled from one mixin per concern so that no module holds
the whole engine: ``engine_calls`` (call, contact and dialer events), ``engine_agents`` (agent events and
corrections), ``engine_time`` (screening, windows, rolling, the closed rows), over ``engine_base`` (the
attributes they share and the objects a checkpoint pickles, which keep this module's name).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from wallboard.core.agents import CallKey, Roster
from wallboard.core.calls import CallLog, NoCallLog
from wallboard.core.campaigns import CampaignBook
from wallboard.core.channels import ChannelView, Responded
from wallboard.core.engine_agents import AgentHandlers

# the classes a checkpoint pickles are found here by their old name (engine_base.PICKLED_MODULE)
from wallboard.core.engine_base import (
    _NEVER,
    LATEST_TS,
    OLDEST_TS,
    _Bounded,
    _ClosedAgentInterval,
    _ClosedInterval,
)
from wallboard.core.engine_time import Windows
from wallboard.core.events import Event
from wallboard.core.queues import Call, Queue
from wallboard.core.schema import StateSnapshot, TeamStates
from wallboard.core.site import SiteConfig
from wallboard.core.snapshots import STATES, agent_entries, iso, queue_entry, totals
from wallboard.core.targets import Escalations, RepeatCallers
from wallboard.core.timeline import DEFAULT_TOLERANCE_S, Timeline
from wallboard.errors import WallboardError

__all__ = ["ANOMALIES", "EngineError", "State"]

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
CLOSED_CALLS_MEMORY = 50_000
EVENT_KEYS_MEMORY = 200_000
CLOSED_INTERVALS_MEMORY = 100_000


class EngineError(WallboardError):
    """Base of the errors the engine and its deltas raise (``apply`` itself never raises)."""


class State(Windows, AgentHandlers):
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
