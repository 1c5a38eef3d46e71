"""Agent state as the wallboard shows it: derived from facts, moved only by the transition table below.

Theory of operation
-------------------
The PBX never tells "this agent is in wrap-up": the displayed state is derived. ``TRANSITIONS`` maps
(state, input) to the next state; ``next_state`` is its only reader and an input missing from a row
leaves the state unchanged, so every (state, input) pair has exactly one answer (a test walks them all).
For speed ``Presence.feed`` reads ``_SETTLED``, a copy computed once from the table through
``next_state`` with the pause re-assertion below folded in. Key paths::

    logged_out --login--> available --ring--> ringing --answer--> on_call --call_end--> wrap_up
    wrap_up --wrap_end--> available          available/wrap_up --pause--> paused --unpause--> available
    any state --logout (last queue)--> logged_out

* ``paused`` is a *fact* kept beside the state (``Presence.paused_all``), not only a state: after every
  input the fact is re-asserted by feeding ``pause`` (or ``unpause``) once more. Pausing during a call
  (Asterisk allows it) therefore leaves the agent ``on_call`` (the row ignores ``pause``), and when the
  call ends the re-assertion turns ``wrap_up`` into ``paused``: a paused agent goes straight to paused
  when the call ends, skipping the displayed wrap-up (AHT still counts the queue's wrap-up time).
* Ringing comes from the device (``ring``: AgentDevice ringing); ``ring_end`` is a ring's outcome
  (AgentRang, answered or not) or the device going idle.
* ``device_busy`` (in use without a known call: a call outside the queue) shows ``on_call`` unless
  the agent is paused; ``device_idle`` while ``on_call`` shows ``available`` (the call record stays
  open in the engine: its end may still come, late).
* ``reset`` (the PBX restarted) drops ringing, calls and wrap-up; membership and pauses persist.
* ``logged_out`` only leaves on ``login`` or ``pause`` (a pause proves a membership).

Multi-queue agents: an agent is a member of several queues, each with its own paused flag. The agent
is displayed ``paused`` only when paused in *every* queue it is logged in to; per-queue counts use
the per-queue flag (``Presence.queue_state``): paused in billing only counts as paused in billing and
available in support. A queue-less pause (queue_log PAUSEALL) pauses every known membership; for an
agent none of whose memberships is known it stands for them: memberships seen later start paused, until
an unpause.

Pause episodes (pause counts and paused time): the agent is "paused" at agent level while paused in at
least one queue. An episode starts when that becomes true, or when a new reason arrives without an
unpause (quirk 7 of tests/fixtures/asterisk22-light/PROVENANCE.md); PAUSEALL followed by one PAUSE per
queue with the same reason is one episode. Paused time accumulates per site-local day and in total; an
open episode is flushed at a day boundary and at the end of input.

Displayed as ``paused:<reason>`` (the reason of the current episode).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class AgentInput(StrEnum):
    LOGIN = "login"  # first queue membership
    LOGOUT = "logout"  # last queue membership left
    RING = "ring"
    RING_END = "ring_end"
    ANSWER = "answer"
    CALL_END = "call_end"  # the agent's last open call ended
    WRAP_END = "wrap_end"
    PAUSE = "pause"  # paused in every queue (re-asserted after every input while true)
    UNPAUSE = "unpause"  # no longer paused in every queue
    DEVICE_IDLE = "device_idle"
    DEVICE_BUSY = "device_busy"
    RESET = "reset"  # the PBX restarted


S = AgentState
In = AgentInput

TRANSITIONS: dict[AgentState, dict[AgentInput, AgentState]] = {
    S.LOGGED_OUT: {In.LOGIN: S.AVAILABLE, In.PAUSE: S.PAUSED},
    S.AVAILABLE: {
        In.LOGOUT: S.LOGGED_OUT,
        In.RING: S.RINGING,
        In.ANSWER: S.ON_CALL,
        In.CALL_END: S.WRAP_UP,
        In.PAUSE: S.PAUSED,
        In.DEVICE_BUSY: S.ON_CALL,
    },
    S.RINGING: {
        In.LOGOUT: S.LOGGED_OUT,
        In.RING_END: S.AVAILABLE,
        In.ANSWER: S.ON_CALL,
        In.CALL_END: S.WRAP_UP,
        In.DEVICE_IDLE: S.AVAILABLE,
        In.DEVICE_BUSY: S.ON_CALL,
        In.RESET: S.AVAILABLE,
    },
    S.ON_CALL: {
        In.LOGOUT: S.LOGGED_OUT,
        In.CALL_END: S.WRAP_UP,
        In.DEVICE_IDLE: S.AVAILABLE,
        In.RESET: S.AVAILABLE,
    },
    S.WRAP_UP: {
        In.LOGOUT: S.LOGGED_OUT,
        In.RING: S.RINGING,
        In.ANSWER: S.ON_CALL,
        In.WRAP_END: S.AVAILABLE,
        In.PAUSE: S.PAUSED,
        In.DEVICE_BUSY: S.ON_CALL,
        In.RESET: S.AVAILABLE,
    },
    S.PAUSED: {In.LOGOUT: S.LOGGED_OUT, In.ANSWER: S.ON_CALL, In.UNPAUSE: S.AVAILABLE},
}

BUSY_STATES = frozenset({S.RINGING, S.ON_CALL, S.WRAP_UP})


def next_state(current: AgentState, event: AgentInput) -> AgentState:
    """The state after ``event``; an input a state does not react to leaves it unchanged."""
    return TRANSITIONS[current].get(event, current)


def _settled(current: AgentState, event: AgentInput, paused: bool) -> AgentState:
    """``next_state``, then the re-assertion of the pause fact (see the theory of operation)."""
    state = next_state(current, event)
    if paused:
        return next_state(state, In.PAUSE)
    return next_state(state, In.UNPAUSE) if state is S.PAUSED else state


# The table with the pause re-assertion folded in, precomputed once from TRANSITIONS: (paused) -> state -> input.
_SETTLED = {
    paused: {state: {event: _settled(state, event, paused) for event in AgentInput} for state in AgentState}
    for paused in (False, True)
}


class Membership:
    """One queue membership of an agent: paused flag, reason, and the member's own wrap-up time."""

    __slots__ = ("paused", "reason", "wrapup_s")

    def __init__(self) -> None:
        self.paused = False
        self.reason = ""
        self.wrapup_s: float | None = None


class Presence:
    """One agent's memberships, pause facts and pause episodes, and the derived display state."""

    def __init__(self, ts: datetime) -> None:
        self.state = S.LOGGED_OUT
        self.since = ts
        self.memberships: dict[str, Membership] = {}
        self.unscoped_pause: str | None = None  # a queue-less pause while no membership is known
        self.paused_all = False
        self.wrap_until: datetime | None = None
        self.pause_since: datetime | None = None
        self.pause_reason = ""
        self.paused_day_s = 0.0
        self.paused_total_s = 0.0
        self.pauses_day: dict[str, int] = {}
        self.pauses_total: dict[str, int] = {}

    # -- the state machine ----------------------------------------------------------------------

    def feed(self, event: AgentInput, ts: datetime) -> None:
        """Apply ``event`` through the table, then re-assert the pause fact."""
        state = _SETTLED[self.paused_all][self.state][event]
        if state is not self.state:
            self.state = state
            self.since = ts
            if state is not S.WRAP_UP:
                self.wrap_until = None

    def call_ended(self, ts: datetime, wrapup_s: float) -> None:
        """The agent's last open call ended: wrap-up until ``ts + wrapup_s`` (none when 0)."""
        self.feed(In.CALL_END, ts)
        if self.state is S.WRAP_UP:
            if wrapup_s > 0:
                self.wrap_until = ts + timedelta(seconds=wrapup_s)
            else:
                self.feed(In.WRAP_END, ts)

    def expire(self, now: datetime) -> None:
        """End a wrap-up whose time is over (evaluated lazily, at the agent's next event or snapshot)."""
        if self.state is S.WRAP_UP:
            until = self.wrap_until
            if until is None or now >= until:
                self.feed(In.WRAP_END, until or now)

    def queue_state(self, queue: str) -> AgentState:
        """The state this agent counts as in ``queue``: busy anywhere is busy here, else this queue's pause flag."""
        if self.state in BUSY_STATES:
            return self.state
        member = self.memberships.get(queue)
        return S.PAUSED if member is not None and member.paused else S.AVAILABLE

    # -- memberships and pauses -----------------------------------------------------------------

    def join(self, queue: str, ts: datetime, wrapup_s: float | None = None) -> Membership:
        """Log in to ``queue`` (idempotent); returns the membership."""
        member = self.memberships.get(queue)
        if member is None:
            member = self.memberships[queue] = Membership()
            if self.unscoped_pause is not None:  # the queue-less pause stood for this membership
                member.paused, member.reason = True, self.unscoped_pause
            first = len(self.memberships) == 1
            self._sync(ts, None, In.LOGIN if first else None)
        if wrapup_s is not None:
            member.wrapup_s = wrapup_s
        return member

    def leave(self, queue: str, ts: datetime) -> bool:
        """Log out of ``queue``; False when the agent was not a member."""
        if self.memberships.pop(queue, None) is None:
            return False
        if not self.memberships:
            self.unscoped_pause = None
            self._sync(ts, None, In.LOGOUT)
        else:
            self._sync(ts, None, None)
        return True

    def pause(self, queue: str | None, reason: str, ts: datetime) -> None:
        """Pause in ``queue`` (None: every queue); a new reason while paused starts a new episode."""
        if queue is None:
            if not self.memberships:
                self.unscoped_pause = reason
            for member in self.memberships.values():
                member.paused, member.reason = True, reason
        else:
            member = self.join(queue, ts)
            member.paused, member.reason = True, reason
        self._sync(ts, reason, None)

    def unpause(self, queue: str | None, ts: datetime) -> None:
        """Unpause in ``queue`` (None: every queue)."""
        self.unscoped_pause = None
        if queue is None:
            for member in self.memberships.values():
                member.paused = False
        else:
            self.join(queue, ts).paused = False
        self._sync(ts, None, None)

    def observe(self, queue: str, paused: bool, reason: str | None, ts: datetime) -> None:
        """What a snapshot or device event says of the pause in ``queue``: act only on a difference.

        An empty or missing reason from an observation is "not told", never a new episode.
        """
        member = self.join(queue, ts)
        if paused and (not member.paused or (reason and reason != member.reason)):
            self.pause(queue, reason or member.reason, ts)
        elif not paused and member.paused:
            self.unpause(queue, ts)

    def _sync(self, ts: datetime, reason: str | None, event: AgentInput | None) -> None:
        """Recompute the pause facts, open/close episodes, then feed ``event`` (or the pause re-assertion)."""
        if self.memberships:
            paused_any, paused_all = False, True
            for member in self.memberships.values():
                if member.paused:
                    paused_any = True
                else:
                    paused_all = False
            self.paused_all = paused_all
        else:
            paused_any = self.paused_all = self.unscoped_pause is not None
        if paused_any:
            if self.pause_since is None:
                self._start_episode(ts, reason or "")
            elif reason is not None and reason != self.pause_reason:
                self._close_episode(ts)
                self._start_episode(ts, reason)
        elif self.pause_since is not None:
            self._close_episode(ts)
        self.feed(event or (In.PAUSE if self.paused_all else In.UNPAUSE), ts)

    def _start_episode(self, ts: datetime, reason: str) -> None:
        self.pause_since = ts
        self.pause_reason = reason
        self.pauses_day[reason] = self.pauses_day.get(reason, 0) + 1
        self.pauses_total[reason] = self.pauses_total.get(reason, 0) + 1

    def _close_episode(self, ts: datetime) -> None:
        self.flush_pause(ts)
        self.pause_since = None

    # -- paused time ----------------------------------------------------------------------------

    def flush_pause(self, ts: datetime) -> None:
        """Add the open episode's time up to ``ts`` to the paused totals; the episode stays open."""
        since = self.pause_since
        if since is not None and ts > since:
            seconds = (ts - since).total_seconds()
            self.paused_day_s += seconds
            self.paused_total_s += seconds
            self.pause_since = ts

    def paused_s(self, now: datetime, *, day: bool) -> float:
        """Paused time of the day (or in total), the open episode counted up to ``now``."""
        base = self.paused_day_s if day else self.paused_total_s
        since = self.pause_since
        if since is not None and now > since:
            base += (now - since).total_seconds()
        return base

    def roll_day(self, boundary: datetime) -> None:
        """A new site-local day starts at ``boundary``: split the open episode there, reset day figures."""
        self.flush_pause(boundary)
        self.paused_day_s = 0.0
        self.pauses_day = {}

    def absorb(self, other: Presence, ts: datetime) -> None:
        """Merge another identity's presence into this one (two names found to be one agent)."""
        for queue, member in other.memberships.items():
            if queue not in self.memberships:
                if self.unscoped_pause is not None:  # as in join(): the queue-less pause stood for it
                    member.paused, member.reason = True, self.unscoped_pause
                self.memberships[queue] = member
        self.paused_day_s += other.paused_day_s
        self.paused_total_s += other.paused_total_s
        for mine, theirs in ((self.pauses_day, other.pauses_day), (self.pauses_total, other.pauses_total)):
            for reason, count in theirs.items():
                mine[reason] = mine.get(reason, 0) + count
        if self.pause_since is None and other.pause_since is not None:
            self.pause_since, self.pause_reason = other.pause_since, other.pause_reason
        if self.unscoped_pause is None:
            self.unscoped_pause = other.unscoped_pause
        if self.state is S.LOGGED_OUT or (other.state in BUSY_STATES and self.state not in BUSY_STATES):
            self.state, self.since, self.wrap_until = other.state, other.since, other.wrap_until
        self._sync(ts, None, In.LOGIN if self.memberships else None)
