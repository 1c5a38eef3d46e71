"""A seeded discrete-event model of a contact center: callers, queues and agents, with no PBX in it.

Theory of operation
-------------------
``Simulation(config, seed, start)`` keeps a heap of scheduled occurrences, each a time in
seconds since ``start``, a sequence number (ties resolve in scheduling order, so a seed gives
one exact history) and a handler. ``advance(to)`` pops and runs every occurrence due up to
``to`` and returns what happened as ``SimEvent`` values in time order. Handlers never read a
clock: time is the heap's. Cancelling is by state, not by removal: a handler checks that its
caller, ring attempt or call is still the current one (a token) and otherwise does nothing.

* Arrivals per queue are a Poisson process whose rate is ``peak rate x day profile(local hour)
  x burst factor x load factor``, drawn by thinning against the maximum rate. The local hour is
  the site's (``timezone``), moved by ``hour_offset`` for demos outside office hours.
* A caller joins at the end of the queue with a lognormal patience; the earlier of patience
  and the queue timeout decides whether it abandons or times out, unless an agent answers first.
* Dispatch offers the longest-waiting callers (across queues) to free agents: logged in, not
  ringing, not on a call, wrap-up over, membership of the caller's queue not paused; lowest
  penalty first, then the queue's strategy (``ringall`` rings the whole tier at once).
* A ring is answered after 1-6 s, or not at all (``no_answer_probability``): after the member
  ring timeout every rung agent gets a ring-no-answer, an ``autopause`` queue pauses the
  member ("Auto-Pause", undone 15-60 s later) and the caller is offered again after ``retry_s``.
* An answered call talks for a lognormal time (sometimes with a hold), ends by the agent or the
  caller, then the agent wraps up for the queue's ``wrapup_s`` (shared across queues). The queue's
  ``transfer_share`` of answered calls end instead by the agent blind-transferring the caller: to the
  supervisor's escalation extension (``transfers.escalation_share`` of them) or to a logged-in
  colleague's extension; the transfer is a completed call of the queue, as app_queue counts it.
* Callers call back (``callbacks``): after an abandon or timeout often and soon, after an answered
  call seldom and hours later; the callback is a new call with the same number and name and the
  next ``attempt``. Transfers and callbacks draw from their own seeded streams.
* Agents log in and out with their shift, take breaks, lunch and training (pauses on every
  queue, sometimes rolling from one reason to the next without an unpause) and are now and
  then removed from their queues while still on a call (Asterisk quirk 2).
* With ``config.schedule`` set, agents instead follow their generated schedule
  (``collectors.simulator.schedule``): log in at the shift's first slot, pause "Break"/"Lunch"
  at each break and lunch slot, unpause at its end, log out at the last slot's end, each moved
  by the shift's seeded ``Conduct`` (late login, overrun breaks, early logout, one unscheduled
  pause). A simulation starting inside a shift logs its agents in at once (plus any late login),
  already paused when a break or lunch is running.

Supervisor actions change the model between two ``advance()`` calls, at the current time, and
return their events at once: ``pause_member`` (QueuePause), ``add_member`` (QueueAdd: the member
takes calls of the queue at once), ``remove_member`` (QueueRemove: no more calls from that queue;
static members, ``AgentSpec.static``, are in their queues all day and cannot be removed).

Every device change is reported per membership (``member_status``), as Asterisk does with
QueueMemberStatus; ``state()`` answers a QueueStatus with queue counters kept the way
app_queue keeps them (exponentially weighted hold/talk time, timeouts counted as abandoned).

The model is layered by subject, each a class on the one before: ``collectors.simulator.floor`` (state,
clock, events, views), ``collectors.simulator.shifts`` (agents' shifts and pauses),
``collectors.simulator.calls`` (callers, dispatch, calls, transfers, callbacks), and here the public API.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from collectors.simulator.calls import CallFlow
from collectors.simulator.config import AgentSpec, SimConfig
from collectors.simulator.floor import Agent, Member, SimulationError, extension_of
from collectors.simulator.views import EntryView, MemberOutcome, SimEvent, SimState

__all__ = ["Simulation", "SimulationError", "extension_of"]


class Simulation(CallFlow):
    """The contact center, advanced by the caller: ``advance(to)`` returns what happened until ``to``."""

    def __init__(self, config: SimConfig, seed: int | None = None, *, start: datetime) -> None:
        super().__init__(config, seed, start=start)
        for queue in self._queues.values():
            self._next_burst(queue)
            self._schedule_arrival(queue)
        for agent in self._agents:
            if agent.spec.static:
                agent.members = {
                    queue: Member(queue, penalty, 0.0, dynamic=False) for queue, penalty in agent.spec.skills
                }
            else:
                self._schedule_shift(agent, first=True)

    # ------------------------------------------------------------------ public API

    def advance(self, to: datetime) -> list[SimEvent]:
        """Run every occurrence due up to ``to`` (inclusive); return the events in time order."""
        if to.tzinfo is None:
            raise SimulationError(f"advance() needs a timezone-aware time, got naive {to.isoformat()}")
        target = (to - self.start).total_seconds()
        if target < self.now:
            raise SimulationError(f"cannot go back from {self.current_time.isoformat()} to {to.isoformat()}")
        while self._heap and self._heap[0][0] <= target:
            when, _, handler = heapq.heappop(self._heap)
            self.now = when
            handler()
            self._dispatch()
        self.now = target
        events, self._out = self._out, []
        return events

    def pause_member(
        self, interface: str, paused: bool, queue: str | None = None, reason: str = ""
    ) -> tuple[bool, list[SimEvent]]:
        """QueuePause: (un)pause ``interface`` in ``queue``, or in every queue it is in; False if in none.

        As app_queue's set_member_paused: one member_paused/unpaused per queue, also when nothing
        changes; an unpause with a reason reports it in its event only.
        """
        agent = self._agent_by_interface(interface)
        if agent is None:
            return False, []
        wanted = None if queue is None else queue.lower()
        names = [name for name in self._queues if name in agent.members and wanted in (None, name.lower())]
        for name in names:
            self._set_paused(agent, name, paused, reason)
        if names:
            self._dispatch()
        return bool(names), self._take_events()

    def add_member(
        self,
        queue: str,
        interface: str,
        *,
        penalty: int = 0,
        paused: bool = False,
        reason: str = "",
        name: str = "",
        state_interface: str = "",
    ) -> tuple[MemberOutcome, list[SimEvent]]:
        """QueueAdd: ``interface`` becomes a dynamic member of ``queue`` and takes its calls (unless paused).

        An interface no agent of the config has becomes a new agent with no shift.
        """
        found = self._queue_named(queue)
        if found is None:
            return "no_such_queue", []
        agent = self._agent_by_interface(interface) or self._new_agent(interface, name, found, penalty)
        if found in agent.members:
            return "already_there", []
        member = Member(found, penalty, self.now, paused=paused, reason=reason, name=name or interface,
                         state_interface=state_interface or interface)  # fmt: skip
        if paused:
            member.last_pause = self.now
        agent.members[found] = member
        agent.logout_pending = False
        self._emit("member_added", found, member=self._member_view(agent, found))
        self._dispatch()
        return "added", self._take_events()

    def remove_member(self, queue: str, interface: str) -> tuple[MemberOutcome, list[SimEvent]]:
        """QueueRemove: a dynamic member leaves ``queue`` (a call it is on goes on); static ones stay."""
        found = self._queue_named(queue)
        if found is None:
            return "no_such_queue", []
        agent = self._agent_by_interface(interface)
        if agent is None or found not in agent.members:
            return "not_there", []
        if not agent.members[found].dynamic:
            return "not_dynamic", []
        view = self._member_view(agent, found)
        del agent.members[found]
        self._emit("member_removed", found, member=view)
        return "removed", self._take_events()

    def log_out(self, interface: str) -> tuple[bool, list[SimEvent]]:
        """mod_callcenter's ``Logged Out``: the agent leaves every queue it is in, static or not (a call it is on
        goes on); False if no agent has ``interface``."""
        agent = self._agent_by_interface(interface)
        if agent is None:
            return False, []
        for name in list(agent.members):
            view = self._member_view(agent, name)
            del agent.members[name]
            self._emit("member_removed", name, member=view)
        return True, self._take_events()

    def state(self) -> SimState:
        """Queues, members and waiting callers now (the answer to a QueueStatus)."""
        queues = tuple(self._queue_view(queue) for queue in self._queues.values())
        members = tuple(self._member_view(agent, name) for name in self._queues for agent in self._members_of(name))
        entries = tuple(
            EntryView(name, position, caller.info, self.now - caller.joined)
            for name, queue in self._queues.items()
            for position, caller in enumerate(queue.waiting, start=1)
        )
        return SimState(self.current_time, queues, members, entries)

    # ------------------------------------------------------------------ lookups

    def _queue_named(self, name: str) -> str | None:
        """A queue's name, matched without case as app_queue does; None if there is none."""
        wanted = name.lower()
        return next((queue for queue in self._queues if queue.lower() == wanted), None)

    def _agent_by_interface(self, interface: str) -> Agent | None:
        wanted = interface.lower()
        return next((agent for agent in self._agents if agent.spec.interface.lower() == wanted), None)

    def _new_agent(self, interface: str, name: str, queue: str, penalty: int) -> Agent:
        spec = AgentSpec(agent_id=interface, name=name or interface, interface=interface, skills=((queue, penalty),),
                         shift_start_h=0, shift_end_h=0)  # fmt: skip
        agent = Agent(spec)
        self._order[interface] = len(self._agents)
        self._agents.append(agent)
        return agent
