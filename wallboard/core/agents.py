"""The engine's agents: one record per identity, and the roster that resolves the names the PBX uses. Pure.

Theory of operation
-------------------
The PBX names a member by its interface (``Local/agent01@agents/n``), by its member name (``Alice
Nguyen``) or both. :class:`Roster` keeps one :class:`Agent` per identity and resolves every name
through ``wallboard.core.site.AgentDirectory`` (the site file's aliases plus what events taught it):

* an event telling both an interface and a member name links them (``AgentDirectory.learn``); a
  record kept under either raw name (one that resolved to nothing else) is merged into the linked
  one (:meth:`Roster.get` does both);
* two agents' records are never merged: a new member name on an interface already linked to another
  agent that is not in the site file is hot-desking, and stays its own agent;
* resolutions are cached per name (``resolved``) and per (interface, member name) pair; the name cache
  is cleared whenever the directory learns.

An :class:`Agent` holds its :class:`TimedPresence` (a ``wallboard.core.agent_state.Presence``:
memberships, pauses, displayed state; timed: it also accounts the current interval's time per state
and pause reason in a ``wallboard.core.history.AgentInterval``), its open calls (keyed ``(queue,
call_id)``, oldest first) and today's and all-time figures.

Live figures of an agent (the snapshot's, see ``wallboard.core.snapshots``):

* missed rings: every ``AgentRang(answered=False)`` (queue_log RINGNOANSWER, AMI AgentRingNoAnswer),
  today (:class:`AgentStats`) and this interval (``AgentInterval.missed_rings``); a ring the agent's
  own later answer of the same call follows is still a missed ring;
* transfers: the calls the agent ended by transfer (``CallEnded.ended_by == "transfer"``);
* idle: the time *displayed available* since the last call's end (``TimedPresence.last_call_end``),
  closed available periods summed in ``idle_s`` as the state changes, the open one added at snapshot time;
* occupancy today: displayed on_call + wrap_up time over that plus available time, from the intervals
  closed today (``day_state_s``, summed by :meth:`TimedPresence.cut`) and the current one, the
  definition of the history rows' ``occupancy_pct`` (``wallboard.core.metrics.occupancy``);
* logged in today: the time displayed in any state but ``logged_out``, from the same sums;
* escalations: the calls the agent transferred to an escalation target (``wallboard.core.targets``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from wallboard.core.agent_state import AgentInput, AgentState, Presence
from wallboard.core.history import AgentInterval, HandledCalls
from wallboard.core.metrics import occupancy
from wallboard.core.site import AgentDirectory, SiteConfig

if TYPE_CHECKING:
    from wallboard.core.queues import Call

__all__ = ["Agent", "AgentStats", "CallKey", "Roster", "TimedPresence"]

CallKey = tuple[str, str]  # (queue, call_id)
_AVAILABLE = AgentState.AVAILABLE
_LOGGED_OUT = AgentState.LOGGED_OUT
OCCUPANCY_STATES = (AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE)  # the states occupancy reads


class AgentStats(HandledCalls):
    """An agent's answered and handled calls with their talk, hold and wrap-up seconds, missed rings, transfers
    and escalations (today or the whole run)."""

    __slots__ = ()

    @property
    def aht_s(self) -> float | None:
        """Average handle time over the handled calls whose times are known; None without any."""
        timed = self.handled - self.handle_unknown
        return (self.talk_s + self.hold_s + self.wrap_s) / timed if timed > 0 else None

    def add(self, other: AgentStats) -> None:
        """Add another record's figures to these (two names found to be one agent)."""
        self.add_handled(other)


class TimedPresence(Presence):
    """A Presence that also accounts the current interval's time per displayed state and pause reason.

    Every state change goes through ``feed`` and every paused second through ``flush_pause``, so
    these two overrides see all of it (see ``wallboard.core.history``); ``cut`` closes the interval.
    """

    def __init__(self, ts: datetime, counted_from: datetime | None = None) -> None:
        super().__init__(ts)
        # An agent first seen in a late event (before the current interval's start) has its time counted
        # from that start: the intervals before it are closed and their rows already written.
        begin = ts if counted_from is None else max(ts, counted_from)
        self.interval = AgentInterval(begin)
        self.interval_begin: datetime | None = begin
        self.pauses_mark: dict[str, int] = {}  # pauses_total at the last cut
        self.last_call_end: datetime | None = None  # when the agent's last call ended (the agent became free)
        self.idle_s = 0.0  # available time since last_call_end, up to the start of the current state
        self.day_state_s: dict[str, float] = {}  # time per displayed state of today's closed intervals

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also a checkpoint written before the idle and day accounting existed."""
        self.last_call_end = None
        self.idle_s = 0.0
        self.day_state_s = {}
        self.__dict__.update(state)

    def feed(self, event: AgentInput, ts: datetime) -> None:
        """``Presence.feed``, then the time in the state left (inlined ``AgentInterval.spend``: the hot path)."""
        before, since = self.state, self.since
        Presence.feed(self, event, ts)
        if self.state is not before:
            interval = self.interval
            mark = interval.mark
            if ts > mark:
                spent = interval.state_s
                spent[before] = spent.get(before, 0.0) + (ts - mark).total_seconds()
                interval.mark = ts
            if before is _AVAILABLE and self.last_call_end is not None:
                start = max(since, self.last_call_end)
                if ts > start:
                    self.idle_s += (ts - start).total_seconds()

    def call_ended(self, ts: datetime, wrapup_s: float) -> None:
        """``Presence.call_ended``; idle time counts again from ``ts``, the last call's end."""
        self.last_call_end, self.idle_s = ts, 0.0
        Presence.call_ended(self, ts, wrapup_s)

    def idle_at(self, now: datetime) -> float | None:
        """Seconds displayed available since the last call's end, up to ``now``; None before any call ended."""
        end = self.last_call_end
        if end is None:
            return None
        idle = self.idle_s
        if self.state is _AVAILABLE:
            start = max(self.since, end)
            if now > start:
                idle += (now - start).total_seconds()
        return idle

    def occupancy_day(self, now: datetime) -> float | None:
        """Today's occupancy in percent up to ``now`` (see the module docstring); None without such time."""
        day, spent = self.day_state_s, self.interval.state_s
        on_call, wrap_up, available = (day.get(state, 0.0) + spent.get(state, 0.0) for state in OCCUPANCY_STATES)
        state, mark = self.state, self.interval.mark
        if now > mark and state in OCCUPANCY_STATES:
            open_s = (now - mark).total_seconds()
            if state is _AVAILABLE:
                available += open_s
            else:
                on_call += open_s
        return occupancy(on_call + wrap_up, available)

    def logged_in_at(self, now: datetime) -> float:
        """Seconds displayed in any state but ``logged_out`` today, up to ``now``."""
        day, spent = self.day_state_s, self.interval.state_s
        logged = sum(s for state, s in day.items() if state != _LOGGED_OUT)
        logged += sum(s for state, s in spent.items() if state != _LOGGED_OUT)
        mark = self.interval.mark
        if now > mark and self.state is not _LOGGED_OUT:
            logged += (now - mark).total_seconds()
        return logged

    interval_begin: datetime | None = None  # a class default for a presence restored from an older checkpoint

    def flush_pause(self, ts: datetime) -> None:
        since = self.pause_since
        if since is not None and self.interval_begin is not None:
            since = max(since, self.interval_begin)  # a late pause: its time before this interval is not this one's
        if since is not None and ts > since:
            self.interval.pause(self.pause_reason, (ts - since).total_seconds())
        super().flush_pause(ts)

    def absorb(self, other: Presence, ts: datetime) -> None:
        if isinstance(other, TimedPresence):
            self.interval.add(other.interval)
            for state, seconds in other.day_state_s.items():
                self.day_state_s[state] = self.day_state_s.get(state, 0.0) + seconds
            theirs = other.last_call_end
            if theirs is not None and (self.last_call_end is None or theirs > self.last_call_end):
                self.last_call_end, self.idle_s = theirs, other.idle_s
        super().absorb(other, ts)

    def roll_day(self, boundary: datetime) -> None:
        super().roll_day(boundary)
        self.day_state_s = {}

    def cut(self, end: datetime) -> tuple[AgentInterval, dict[str, int]]:
        """Close the interval at ``end``: (its figures, pause episodes started in it); a new one starts at ``end``."""
        self.expire(end)
        self.flush_pause(end)
        closed = self.interval
        closed.spend(self.state, end)
        day = self.day_state_s
        for state, seconds in closed.state_s.items():
            if seconds and state is not _LOGGED_OUT:  # logged-out time is read nowhere: not kept
                day[state] = day.get(state, 0.0) + seconds
        totals = self.pauses_total
        mark = self.pauses_mark
        pauses = {
            reason: count - mark.get(reason, 0) for reason, count in totals.items() if count > mark.get(reason, 0)
        }
        self.interval, self.pauses_mark = AgentInterval(max(end, closed.mark)), dict(totals)
        self.interval_begin = end
        return closed, pauses


class Agent:
    """One agent: presence, open calls, figures of the day and of the whole run."""

    __slots__ = (
        "id", "presence", "calls", "day", "total", "rang", "since", "since_iso", "ended", "ended_iso", "freed_at"
    )  # fmt: skip

    def __init__(self, agent_id: str, ts: datetime, counted_from: datetime | None = None) -> None:
        self.id = agent_id
        self.presence = TimedPresence(ts, counted_from)
        self.calls: dict[CallKey, Call] = {}
        self.day = AgentStats()
        self.total = AgentStats()
        self.rang = False
        self.since: datetime | None = None  # cache of presence.since in ISO form for snapshots
        self.since_iso = ""
        self.ended: datetime | None = None  # cache of presence.last_call_end in ISO form for snapshots
        self.ended_iso: str | None = None
        self.freed_at: datetime | None = None  # when a chat or email at capacity ended (free for one more since)

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickle, also a checkpoint written before the ``ended`` cache or ``freed_at`` existed."""
        self.ended, self.ended_iso, self.freed_at = None, None, None
        for name, value in state[1].items():
            setattr(self, name, value)


class Roster:
    """Every agent seen, by resolved id; resolves the PBX's names (see the module docstring)."""

    interval_start: datetime | None = None  # the current interval's start (the engine sets it); a class default
    # so a Roster restored from an older checkpoint has it too

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.agents: dict[str, Agent] = {}
        self._directory = AgentDirectory(site)
        self._pairs: dict[tuple[str, str], str] = {}
        self._resolved: dict[str, str] = {}  # name -> agent id; cleared whenever the directory learns

    def get(self, name: str, interface: str | None, member_name: str | None, ts: datetime) -> Agent:
        """The agent an event names (created when new); learns the link when both names are told."""
        if interface and member_name:
            agent_id = self._pairs.get((interface, member_name))
            if agent_id is None:
                agent_id = self._learn(interface, member_name, ts)
        else:
            agent_id = self._resolved.get(name) or self.resolve(name)
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id, ts, self.interval_start)
        return agent

    def resolve(self, name: str) -> str:
        """The agent id ``name`` stands for (``name`` itself when nothing links it)."""
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
        if by_name == member_name and learned_elsewhere and by_interface in self.agents:  # hot-desking
            self._pairs[(interface, member_name)] = member_name
            return member_name
        agent_id = self._directory.learn(interface, member_name) or member_name
        self._resolved.clear()
        for old in {by_interface, by_name} - {agent_id}:
            if old in (interface, member_name) and old in self.agents:
                self._merge(old, agent_id, ts)
        self._pairs[(interface, member_name)] = agent_id
        return agent_id

    def _merge(self, old: str, new: str, ts: datetime) -> None:
        """Two names turned out to be one agent: move everything ``old`` had to ``new``."""
        source = self.agents.pop(old)
        self._pairs = {pair: agent_id for pair, agent_id in self._pairs.items() if agent_id != old}
        for call in source.calls.values():
            call.agent = new
        target = self.agents.get(new)
        if target is None:
            source.id = new
            self.agents[new] = source
            return
        target.presence.absorb(source.presence, ts)
        target.calls.update(source.calls)
        target.day.add(source.day)
        target.total.add(source.total)
        target.rang = target.rang or source.rang
