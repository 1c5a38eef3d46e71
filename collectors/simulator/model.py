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
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collectors.simulator.config import AgentSpec, QueueSpec, SimConfig, on_shift
from collectors.simulator.names import caller_identity, profile_rate
from collectors.simulator.schedule import PAUSE_REASONS, Conduct, draw_conduct, shift_slots
from collectors.simulator.views import (
    CallerInfo,
    DeviceState,
    EntryView,
    MemberOutcome,
    MemberView,
    QueueView,
    SimEvent,
    SimKind,
    SimState,
)
from wallboard.core.adherence.schedule import Slot
from wallboard.errors import WallboardError


class SimulationError(WallboardError):
    """The simulation was asked something impossible (time going backwards, a naive start time)."""


def extension_of(interface: str, context: str) -> str:
    """The ``exten@context`` that rings an agent: ``1005@<context>`` for ``PJSIP/1005``, ``agent05@agents`` for
    ``Local/agent05@agents/n``."""
    resource = interface.split("/", 1)[-1].removesuffix("/n")
    return resource if "@" in resource else f"{resource}@{context}"


@dataclass(eq=False)
class _Caller:
    info: CallerInfo
    joined: float
    ringing: list[_Agent] = field(default_factory=list)
    ring_token: int = 0
    ring_started: float = 0.0
    retry_at: float = 0.0
    refused: set[str] = field(default_factory=set)
    done: bool = False


@dataclass(eq=False)
class _Member:
    queue: str
    penalty: int
    login: float
    paused: bool = False
    reason: str = ""
    last_pause: float | None = None
    in_call: bool = False
    dynamic: bool = True
    name: str = ""  # the MemberName a QueueAdd gave; empty: the agent's own name
    state_interface: str = ""


@dataclass(eq=False)
class _Call:
    caller: _Caller
    queue: str
    connected: float
    wait_s: float
    ended_by: str
    hold_s: float = 0.0
    on_hold: bool = False
    held_since: float = 0.0


@dataclass(eq=False)
class _Agent:
    spec: AgentSpec
    members: dict[str, _Member] = field(default_factory=dict)
    ringing_for: _Caller | None = None
    call: _Call | None = None
    wrap_until: float = 0.0
    calls_taken: int = 0
    last_call: float | None = None
    shift_token: int = 0
    logout_pending: bool = False
    device: DeviceState = "idle"

    @property
    def logged_in(self) -> bool:
        return bool(self.members)


@dataclass(eq=False)
class _Queue:
    spec: QueueSpec
    waiting: list[_Caller] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    rr_last: int = -1
    burst: tuple[float, float, float] = (0.0, 0.0, 1.0)


class Simulation:
    """The contact center, advanced by the caller: ``advance(to)`` returns what happened until ``to``."""

    def __init__(self, config: SimConfig, seed: int | None = None, *, start: datetime) -> None:
        if start.tzinfo is None:
            raise SimulationError(f"start must be timezone-aware, got naive {start.isoformat()}")
        self.config = config
        self.seed = config.seed if seed is None else seed
        self.start = start
        self.now = 0.0
        self._tz = ZoneInfo(config.timezone)
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._out: list[SimEvent] = []
        self._serial = 0
        self._rng_arrivals = random.Random(f"{self.seed}:arrivals")
        self._rng_calls = random.Random(f"{self.seed}:calls")
        self._rng_agents = random.Random(f"{self.seed}:agents")
        self._rng_transfers = random.Random(f"{self.seed}:transfers")
        self._rng_callbacks = random.Random(f"{self.seed}:callbacks")
        self._queues = {spec.name: _Queue(spec) for spec in config.queues}
        self._agents = [_Agent(spec) for spec in config.agents]
        self._order = {agent.spec.agent_id: index for index, agent in enumerate(self._agents)}
        for queue in self._queues.values():
            self._next_burst(queue)
            self._schedule_arrival(queue)
        for agent in self._agents:
            if agent.spec.static:
                agent.members = {
                    queue: _Member(queue, penalty, 0.0, dynamic=False) for queue, penalty in agent.spec.skills
                }
            else:
                self._schedule_shift(agent, first=True)

    # ------------------------------------------------------------------ public API

    @property
    def current_time(self) -> datetime:
        return self._dt(self.now)

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
        member = _Member(found, penalty, self.now, paused=paused, reason=reason, name=name or interface,
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

    def _take_events(self) -> list[SimEvent]:
        events, self._out = self._out, []
        return events

    def _queue_named(self, name: str) -> str | None:
        """A queue's name, matched without case as app_queue does; None if there is none."""
        wanted = name.lower()
        return next((queue for queue in self._queues if queue.lower() == wanted), None)

    def _agent_by_interface(self, interface: str) -> _Agent | None:
        wanted = interface.lower()
        return next((agent for agent in self._agents if agent.spec.interface.lower() == wanted), None)

    def _new_agent(self, interface: str, name: str, queue: str, penalty: int) -> _Agent:
        spec = AgentSpec(agent_id=interface, name=name or interface, interface=interface, skills=((queue, penalty),),
                         shift_start_h=0, shift_end_h=0)  # fmt: skip
        agent = _Agent(spec)
        self._order[interface] = len(self._agents)
        self._agents.append(agent)
        return agent

    # ------------------------------------------------------------------ scheduling

    def _at(self, when: float, handler: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (max(when, self.now), self._seq, handler))

    def _dt(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def _local_hour(self, seconds: float) -> float:
        """The hour of the simulated day: local time, shifted by ``hour_offset``."""
        local = self._dt(seconds).astimezone(self._tz)
        return (local.hour + local.minute / 60 + local.second / 3600 + self.config.hour_offset) % 24

    def _emit(self, kind: SimKind, queue: str, **fields: Any) -> None:
        self._out.append(SimEvent(self._dt(self.now), kind, queue, **fields))

    # ------------------------------------------------------------------ arrivals

    def _rate(self, queue: _Queue, when: float) -> float:
        """Arrivals per second at ``when``."""
        while when >= queue.burst[1]:
            self._next_burst(queue)
        factor = queue.burst[2] if when >= queue.burst[0] else 1.0
        per_min = queue.spec.peak_rate_per_min * self.config.load_factor
        return per_min / 60.0 * profile_rate(self._local_hour(when), self.config.profile) * factor

    def _max_rate(self, queue: _Queue) -> float:
        peak = max(rate for _, rate in self.config.profile)
        per_min = queue.spec.peak_rate_per_min * self.config.load_factor
        return per_min / 60.0 * peak * max(self.config.burst_factor[1], 1.0)

    def _next_burst(self, queue: _Queue) -> None:
        rng, cfg = self._rng_arrivals, self.config
        if cfg.bursts_per_hour <= 0:
            queue.burst = (math.inf, math.inf, 1.0)
            return
        begin = max(queue.burst[1], self.now) + rng.expovariate(cfg.bursts_per_hour / 3600.0)
        length = rng.uniform(*cfg.burst_minutes) * 60.0
        queue.burst = (begin, begin + length, rng.uniform(*cfg.burst_factor))

    def _schedule_arrival(self, queue: _Queue) -> None:
        """Thinning: candidates at the maximum rate, each kept with probability rate(t) / max."""
        ceiling = self._max_rate(queue)
        if ceiling <= 0:
            return
        when = self.now + self._rng_arrivals.expovariate(ceiling)
        self._at(when, lambda: self._on_candidate(queue, ceiling))

    def _on_candidate(self, queue: _Queue, ceiling: float) -> None:
        if self._rng_arrivals.random() * ceiling < self._rate(queue, self.now):
            self._join(queue)
        self._schedule_arrival(queue)

    def _join(self, queue: _Queue, identity: tuple[str, str] | None = None, attempt: int = 1) -> None:
        """A caller enters ``queue``: a new one, or (``identity``) one calling back for the ``attempt``-th time."""
        self._serial += 1
        number, name = identity or caller_identity(self._rng_calls)
        policy = self.config.callers
        patience = self._rng_calls.lognormvariate(math.log(policy.patience_median_s), policy.patience_sigma)
        position = len(queue.waiting) + 1
        info = CallerInfo(
            f"sim-{self._serial:06d}",
            self._serial,
            queue.spec.name,
            number,
            name,
            self._dt(self.now),
            position,
            patience,
            attempt,
        )
        caller = _Caller(info, self.now)
        queue.waiting.append(caller)
        self._emit("caller_join", queue.spec.name, caller=info, position=position, count=len(queue.waiting))
        if patience < queue.spec.timeout_s:
            self._at(self.now + patience, lambda: self._leave_unanswered(caller, "caller_abandon"))
        else:
            self._at(self.now + queue.spec.timeout_s, lambda: self._leave_unanswered(caller, "caller_timeout"))

    def _leave_unanswered(self, caller: _Caller, kind: SimKind) -> None:
        if caller.done:
            return
        queue = self._queues[caller.info.queue]
        self._cancel_rings(caller)
        position, count = self._remove(caller)
        wait = self.now - caller.joined
        queue.abandoned += 1
        queue.abandoned_in_sl += int(wait <= queue.spec.servicelevel_s)
        self._emit(kind, queue.spec.name, caller=caller.info, position=position, count=count, wait_s=wait)
        self._maybe_call_back(caller.info, answered=False)

    def _maybe_call_back(self, info: CallerInfo, *, answered: bool) -> None:
        """Perhaps schedule the same caller's next call (``config.callbacks``)."""
        policy, rng = self.config.callbacks, self._rng_callbacks
        chance = policy.after_answer_p if answered else policy.after_abandon_p
        if info.attempt >= policy.max_attempts or rng.random() >= chance:
            return
        median = policy.answer_delay_median_s if answered else policy.abandon_delay_median_s
        delay = min(max(rng.lognormvariate(math.log(median), policy.delay_sigma), 60.0), policy.max_delay_s)
        queue = self._queues[info.queue]
        self._at(self.now + delay, lambda: self._join(queue, (info.number, info.name), info.attempt + 1))

    def _remove(self, caller: _Caller) -> tuple[int, int]:
        """Take a caller out of its queue; return (its position, callers left)."""
        caller.done = True
        waiting = self._queues[caller.info.queue].waiting
        position = waiting.index(caller) + 1
        waiting.remove(caller)
        return position, len(waiting)

    # ------------------------------------------------------------------ dispatch and ringing

    def _free(self, agent: _Agent) -> bool:
        return (
            agent.logged_in
            and not agent.logout_pending
            and agent.call is None
            and agent.ringing_for is None
            and agent.wrap_until <= self.now
        )

    def _dispatch(self) -> None:
        free = [agent for agent in self._agents if self._free(agent)]
        if not free:
            return
        waiting = [c for q in self._queues.values() for c in q.waiting if not c.ringing and c.retry_at <= self.now]
        waiting.sort(key=lambda caller: (caller.joined, caller.info.serial))
        for caller in waiting:
            chosen = self._choose(caller, free)
            if chosen:
                self._ring(caller, chosen)
                free = [agent for agent in free if agent not in chosen]
                if not free:
                    return

    def _choose(self, caller: _Caller, free: list[_Agent]) -> list[_Agent]:
        queue = self._queues[caller.info.queue]
        name = queue.spec.name
        eligible = [a for a in free if name in a.members and not a.members[name].paused]
        fresh = [a for a in eligible if a.spec.agent_id not in caller.refused]
        pool = fresh or eligible
        if not pool:
            return []
        best = min(agent.members[name].penalty for agent in pool)
        tier = [agent for agent in pool if agent.members[name].penalty == best]
        return self._by_strategy(queue, tier)

    def _by_strategy(self, queue: _Queue, tier: list[_Agent]) -> list[_Agent]:
        strategy = queue.spec.strategy
        if strategy == "ringall":
            return tier
        if strategy == "rrmemory":
            after = [a for a in tier if self._order[a.spec.agent_id] > queue.rr_last]
            pick = min(after or tier, key=lambda a: self._order[a.spec.agent_id])
            queue.rr_last = self._order[pick.spec.agent_id]
            return [pick]
        if strategy == "leastrecent":
            return [min(tier, key=lambda a: -1.0 if a.last_call is None else a.last_call)]
        if strategy == "fewestcalls":
            return [min(tier, key=lambda a: a.calls_taken)]
        if strategy == "random":
            return [self._rng_calls.choice(tier)]
        return [min(tier, key=lambda a: self._order[a.spec.agent_id])]

    def _ring(self, caller: _Caller, agents: list[_Agent]) -> None:
        caller.ring_token += 1
        caller.ringing = list(agents)
        caller.ring_started = self.now
        token, queue = caller.ring_token, self._queues[caller.info.queue]
        answers: list[tuple[float, int, _Agent]] = []
        for index, agent in enumerate(agents):
            agent.ringing_for = caller
            self._emit(
                "agent_called", queue.spec.name, caller=caller.info, member=self._member_view(agent, queue.spec.name)
            )
            self._set_device(agent, "ringing")
            if self._rng_calls.random() >= agent.spec.no_answer_probability:
                answers.append((self._rng_calls.uniform(*self.config.callers.ring_s), index, agent))
        timeout = queue.spec.ring_timeout_s
        if answers and min(answers)[0] < timeout:
            ring_s, _, winner = min(answers)
            self._at(self.now + ring_s, lambda: self._on_answer(caller, token, winner))
        else:
            self._at(self.now + timeout, lambda: self._on_ring_timeout(caller, token))

    def _release_ring(self, agent: _Agent) -> None:
        agent.ringing_for = None
        self._set_device(agent, "idle")
        self._maybe_logout(agent)

    def _cancel_rings(self, caller: _Caller, keep: _Agent | None = None) -> None:
        rung, caller.ringing = caller.ringing, []
        caller.ring_token += 1
        for agent in rung:
            if agent is not keep:
                member = self._member_view(agent, caller.info.queue)
                why = "left" if keep is None else "answered_elsewhere"
                self._emit("agent_ring_cancelled", caller.info.queue, caller=caller.info, member=member, reason=why)
                self._release_ring(agent)

    def _on_ring_timeout(self, caller: _Caller, token: int) -> None:
        if caller.done or caller.ring_token != token:
            return
        queue = self._queues[caller.info.queue]
        rung, caller.ringing = caller.ringing, []
        for agent in rung:
            ring_s = self.now - caller.ring_started
            member = self._member_view(agent, queue.spec.name)
            self._emit("agent_ring_no_answer", queue.spec.name, caller=caller.info, member=member, ring_s=ring_s)
            caller.refused.add(agent.spec.agent_id)
            if queue.spec.autopause and queue.spec.name in agent.members:
                self._auto_pause(agent, queue.spec.name)
            self._release_ring(agent)
        caller.retry_at = self.now + queue.spec.retry_s
        self._at(caller.retry_at, lambda: None)

    def _on_answer(self, caller: _Caller, token: int, agent: _Agent) -> None:
        if caller.done or caller.ring_token != token:
            return
        self._cancel_rings(caller, keep=agent)
        queue = self._queues[caller.info.queue]
        ring_s = self.now - caller.ring_started
        position, count = self._remove(caller)
        wait = self.now - caller.joined
        queue.holdtime = (3 * queue.holdtime + int(wait)) // 4
        agent.ringing_for = None
        policy = self.config.callers
        ended_by = "caller" if self._rng_calls.random() < policy.caller_hangup_fraction else "agent"
        if self._rng_transfers.random() < queue.spec.transfer_share:
            ended_by = "transfer"
        call = _Call(caller, queue.spec.name, self.now, wait, ended_by)
        agent.call = call
        if queue.spec.name in agent.members:
            agent.members[queue.spec.name].in_call = True
        member = self._member_view(agent, queue.spec.name)
        self._emit("agent_connect", queue.spec.name, caller=caller.info, member=member, position=position, count=count,
                   wait_s=wait, ring_s=ring_s)  # fmt: skip
        self._set_device(agent, "in_use")
        self._plan_call(agent, call, queue.spec)

    # ------------------------------------------------------------------ calls

    def _plan_call(self, agent: _Agent, call: _Call, spec: QueueSpec) -> None:
        rng, policy = self._rng_calls, self.config.callers
        talk = rng.lognormvariate(math.log(spec.talk_median_s), spec.talk_sigma)
        if rng.random() < spec.hold_probability:
            hold = rng.lognormvariate(math.log(policy.hold_median_s), policy.hold_sigma)
            hold_at = self.now + talk * rng.uniform(0.2, 0.6)
            self._at(hold_at, lambda: self._on_hold(agent, call, True))
            self._at(hold_at + hold, lambda: self._on_hold(agent, call, False))
            talk += hold
        self._at(self.now + talk, lambda: self._on_complete(agent, call))

    def _on_hold(self, agent: _Agent, call: _Call, held: bool) -> None:
        if agent.call is not call or call.on_hold == held:
            return
        call.on_hold = held
        if not held:
            call.hold_s += self.now - call.held_since
        call.held_since = self.now
        kind: SimKind = "call_hold" if held else "call_unhold"
        self._emit(kind, call.queue, caller=call.caller.info, member=self._member_view(agent, call.queue))
        self._set_device(agent, "on_hold" if held else "in_use")

    def _on_complete(self, agent: _Agent, call: _Call) -> None:
        if agent.call is not call:
            return
        if call.on_hold:
            self._on_hold(agent, call, False)
        queue = self._queues[call.queue]
        talk = self.now - call.connected
        still_member = call.queue in agent.members
        if still_member:
            queue.completed += 1
            queue.completed_in_sl += int(call.wait_s <= queue.spec.servicelevel_s)
            queue.talktime = (3 * queue.talktime + int(talk)) // 4
            agent.members[call.queue].in_call = False
        agent.call = None
        agent.calls_taken += 1
        agent.last_call = self.now
        target = self._transfer_target(agent) if call.ended_by == "transfer" else ""
        self._emit("agent_complete", call.queue, caller=call.caller.info, member=self._member_view(agent, call.queue),
                   wait_s=call.wait_s, talk_s=talk, hold_s=call.hold_s, connected_at=self._dt(call.connected),
                   reason=call.ended_by, target=target)  # fmt: skip
        self._maybe_call_back(call.caller.info, answered=True)
        agent.wrap_until = self.now + queue.spec.wrapup_s
        self._set_device(agent, "idle")
        self._maybe_logout(agent)
        if agent.wrap_until > self.now:
            self._at(agent.wrap_until, lambda: None)

    def _transfer_target(self, agent: _Agent) -> str:
        """Where ``agent`` blind-transfers its caller: ``exten@context`` of the supervisor or of a colleague."""
        policy, rng = self.config.transfers, self._rng_transfers
        escalate = rng.random() < policy.escalation_share
        colleagues = [other for other in self._agents if other is not agent and other.logged_in]
        if escalate or not colleagues:
            return f"{policy.escalation_extension}@{policy.context}"
        return extension_of(rng.choice(colleagues).spec.interface, policy.context)

    # ------------------------------------------------------------------ agents: shifts, pauses

    def _schedule_shift(self, agent: _Agent, first: bool = False) -> None:
        """Schedule the agent's next shift; log in at once when the simulation starts inside one."""
        if self.config.schedule is not None:
            self._schedule_planned_shift(agent, first)
            return
        rng, spec = self._rng_agents, agent.spec
        if first and on_shift(spec, self._local_hour(0.0)):
            login, logout = 0.0, self._next_local(spec.shift_end_h, 0.0)
        else:
            login = self._next_local(spec.shift_start_h, self.now) + rng.uniform(-8, 8) * 60
            logout = self._next_local(spec.shift_end_h, login + 60)
        logout += rng.uniform(0, 10) * 60
        agent.shift_token += 1
        token = agent.shift_token
        self._at(login, lambda: self._login(agent, token, logout))

    def _next_local(self, hour: float, after: float) -> float:
        """Seconds since start of the next ``hour`` of the simulated day strictly after ``after``."""
        real_hour = (hour - self.config.hour_offset) % 24
        local = self._dt(after).astimezone(self._tz)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(-1, 3):
            candidate = (day + timedelta(days=offset, hours=real_hour)).astimezone(self.start.tzinfo)
            seconds = (candidate - self.start).total_seconds()
            if seconds > after:
                return seconds
        raise SimulationError(f"no local hour {hour} after {after}")  # pragma: no cover - three days always hold one

    def _login(self, agent: _Agent, token: int, logout: float) -> None:
        if token != agent.shift_token or agent.logged_in:
            return
        self._add_members(agent)
        self._plan_breaks(agent, logout)
        self._at(logout, lambda: self._on_shift_end(agent, token))

    def _add_members(self, agent: _Agent) -> None:
        agent.logout_pending = False
        for queue, penalty in agent.spec.skills:
            agent.members[queue] = _Member(queue, penalty, self.now)
            self._emit("member_added", queue, member=self._member_view(agent, queue))

    def _plan_breaks(self, agent: _Agent, logout: float) -> None:
        policy, rng = self.config.breaks, self._rng_agents
        if not policy.enabled:
            return
        length = logout - self.now
        plan = [
            (0.25, "Break", policy.break_minutes),
            (0.5, "Lunch", policy.lunch_minutes),
            (0.78, "Break", policy.break_minutes),
        ]
        if rng.random() < policy.training_probability:
            plan.append((rng.uniform(0.35, 0.65), "Training", policy.training_minutes))
        for share, reason, minutes in plan:
            begin = self.now + length * share + rng.uniform(-15, 15) * 60
            duration = minutes * 60 * rng.uniform(0.8, 1.3)
            if self.now < begin and begin + duration < logout:
                self._at(begin, self._pause_later(agent, reason, duration))

    def _pause_later(self, agent: _Agent, reason: str, duration: float) -> Callable[[], None]:
        token = agent.shift_token
        return lambda: self._start_pause(agent, token, reason, duration)

    def _start_pause(self, agent: _Agent, token: int, reason: str, duration: float) -> None:
        if token != agent.shift_token or not agent.logged_in or agent.logout_pending:
            return
        self._pause_all(agent, reason)
        self._at(self.now + duration, lambda: self._end_pause(agent, token, reason))

    def _end_pause(self, agent: _Agent, token: int, reason: str) -> None:
        if token != agent.shift_token or not agent.logged_in:
            return
        if not any(member.reason == reason for member in agent.members.values()):
            return
        policy, rng = self.config.breaks, self._rng_agents
        if rng.random() < policy.chain_probability:
            follow = rng.choice([r for r in ("Break", "Lunch", "Training") if r != reason])
            self._start_pause(agent, token, follow, rng.uniform(3, 12) * 60)
            return
        for queue, member in agent.members.items():
            if member.paused:
                self._set_paused(agent, queue, False, "")

    def _pause_all(self, agent: _Agent, reason: str) -> None:
        for queue in agent.members:
            self._set_paused(agent, queue, True, reason)

    # ------------------------------------------------------------------ agents: following a schedule

    def _schedule_planned_shift(self, agent: _Agent, first: bool) -> None:
        """Log in for the next planned shift (the current one when the simulation starts inside it)."""
        found = self._next_plan(agent, first)
        if found is None:
            return
        slots, conduct = found
        start, end = self._seconds(slots[0].start), self._seconds(slots[-1].end)
        login = max(start, self.now) + conduct.late_login_s
        logout = end - conduct.early_logout_s
        agent.shift_token += 1
        token = agent.shift_token
        if login >= logout:  # started too near the end of a shift to work any of it
            self._at(end, lambda: self._schedule_shift(agent) if token == agent.shift_token else None)
            return
        self._at(login, lambda: self._planned_login(agent, token, slots, conduct, logout))

    def _next_plan(self, agent: _Agent, first: bool) -> tuple[tuple[Slot, ...], Conduct] | None:
        """The first planned shift starting after now, or (``first``) the one running now."""
        today = self.current_time.astimezone(self._tz).date()
        policy = self.config.schedule
        assert policy is not None
        seed = self.seed if policy.indiscipline.seed is None else policy.indiscipline.seed
        for offset in range(-1, 3):
            slots = shift_slots(self.config, agent.spec, today + timedelta(days=offset))
            if not slots:
                continue
            start, end = self._seconds(slots[0].start), self._seconds(slots[-1].end)
            if start > self.now or (first and start <= self.now < end):
                return slots, draw_conduct(policy.indiscipline, seed, slots)
        return None

    def _seconds(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()

    def _planned_login(
        self, agent: _Agent, token: int, slots: tuple[Slot, ...], conduct: Conduct, logout: float
    ) -> None:
        if token != agent.shift_token or agent.logged_in:
            return
        self._add_members(agent)
        pauses = [slot for slot in slots if slot.activity in PAUSE_REASONS]
        for index, slot in enumerate(pauses):
            begin, end = self._seconds(slot.start), self._seconds(slot.end)
            if end > self.now and begin < logout:
                back = end + conduct.late_return_s(index)
                self._at(begin, self._planned_pause(agent, PAUSE_REASONS[slot.activity], back))
        if conduct.unscheduled is not None:
            when, seconds, reason = conduct.unscheduled
            begin = self._seconds(when)
            if self.now < begin < logout:
                self._at(begin, self._planned_pause(agent, reason, begin + seconds, unless_paused=True))
        self._at(logout, lambda: self._on_shift_end(agent, token))

    def _planned_pause(
        self, agent: _Agent, reason: str, until: float, *, unless_paused: bool = False
    ) -> Callable[[], None]:
        token = agent.shift_token

        def pause() -> None:
            if token != agent.shift_token or not agent.logged_in or agent.logout_pending:
                return
            if unless_paused and any(member.paused for member in agent.members.values()):
                return
            self._pause_all(agent, reason)
            self._at(until, lambda: self._planned_unpause(agent, token, reason))

        return pause

    def _planned_unpause(self, agent: _Agent, token: int, reason: str) -> None:
        if token != agent.shift_token or not any(member.reason == reason for member in agent.members.values()):
            return
        for queue, member in agent.members.items():
            if member.paused:
                self._set_paused(agent, queue, False, "")

    def _auto_pause(self, agent: _Agent, queue: str) -> None:
        if agent.members[queue].paused:
            return
        self._set_paused(agent, queue, True, "Auto-Pause")
        delay = self._rng_agents.uniform(*self.config.breaks.auto_unpause_s)
        token = agent.shift_token
        self._at(self.now + delay, lambda: self._auto_unpause(agent, token, queue))

    def _auto_unpause(self, agent: _Agent, token: int, queue: str) -> None:
        member = agent.members.get(queue)
        if token == agent.shift_token and member is not None and member.reason == "Auto-Pause":
            self._set_paused(agent, queue, False, "")

    def _set_paused(self, agent: _Agent, queue: str, paused: bool, reason: str) -> None:
        member = agent.members[queue]
        member.paused, member.reason = paused, reason
        if paused:
            member.last_pause = self.now
        view = self._member_view(agent, queue)
        if not paused:
            member.reason = ""  # an unpause's reason shows in its event only
        kind: SimKind = "member_paused" if paused else "member_unpaused"
        self._emit(kind, queue, member=view, reason=reason)

    def _on_shift_end(self, agent: _Agent, token: int) -> None:
        if token != agent.shift_token or not agent.logged_in:
            return
        busy = agent.call is not None or agent.ringing_for is not None
        if busy and not (agent.call and self._rng_agents.random() < self.config.breaks.removed_during_call_probability):
            agent.logout_pending = True
            return
        self._logout(agent)

    def _maybe_logout(self, agent: _Agent) -> None:
        if agent.logout_pending and agent.call is None and agent.ringing_for is None:
            self._logout(agent)

    def _logout(self, agent: _Agent) -> None:
        for queue in list(agent.members):
            view = self._member_view(agent, queue)
            del agent.members[queue]
            self._emit("member_removed", queue, member=view)
        agent.logout_pending = False
        self._schedule_shift(agent)

    def _set_device(self, agent: _Agent, device: DeviceState) -> None:
        if agent.device == device:
            return
        agent.device = device
        for queue in agent.members:
            self._emit("member_status", queue, member=self._member_view(agent, queue))

    # ------------------------------------------------------------------ views

    def _members_of(self, queue: str) -> list[_Agent]:
        return [agent for agent in self._agents if queue in agent.members]

    def _member_view(self, agent: _Agent, queue: str) -> MemberView:
        """The member as the PBX reports it in ``queue``, also after it left the queue during a call."""
        member = agent.members.get(queue)
        penalty = member.penalty if member else dict(agent.spec.skills).get(queue, 0)
        return self._view(agent, queue, penalty, member)

    def _view(self, agent: _Agent, queue: str, penalty: int, member: _Member | None) -> MemberView:
        spec = agent.spec
        return MemberView(
            agent_id=spec.agent_id,
            name=member.name if member and member.name else spec.name,
            interface=spec.interface,
            state_interface=member.state_interface if member and member.state_interface else spec.state_interface,
            queue=queue,
            penalty=penalty,
            calls_taken=agent.calls_taken,
            last_call=None if agent.last_call is None else self._dt(agent.last_call),
            last_pause=None if member is None or member.last_pause is None else self._dt(member.last_pause),
            login_time=None if member is None else self._dt(member.login),
            in_call=bool(member and member.in_call),
            device=agent.device,
            paused=bool(member and member.paused),
            reason=member.reason if member else "",
            dynamic=member.dynamic if member else True,
        )

    def _queue_view(self, queue: _Queue) -> QueueView:
        return QueueView(
            queue.spec,
            len(queue.waiting),
            queue.holdtime,
            queue.talktime,
            queue.completed,
            queue.abandoned,
            queue.completed_in_sl,
            queue.abandoned_in_sl,
        )
