"""Calls on the simulated floor: arrivals, queueing, dispatch and ringing, the call itself, transfers, callbacks.

Arrivals per queue are thinned from a Poisson process at the queue's maximum rate; a caller waits with
a lognormal patience; dispatch offers the longest-waiting callers to free agents by penalty and strategy;
a ring is answered, or times out (ring-no-answer, perhaps an auto-pause); an answered call talks, perhaps
holds, and ends by the agent, the caller or a blind transfer; callers may call back. Calls draw from the
calls stream, transfers and callbacks from their own. See ``collectors.simulator.model``.
"""

from __future__ import annotations

import math

from collectors.simulator.config import QueueSpec
from collectors.simulator.floor import Agent, Call, Caller, Queue, extension_of
from collectors.simulator.names import caller_identity, profile_rate
from collectors.simulator.shifts import Shifts
from collectors.simulator.views import CallerInfo, SimKind


class CallFlow(Shifts):
    """Callers through the queues to the agents, on the floor's clock and the calls' streams."""

    # ------------------------------------------------------------------ arrivals

    def _rate(self, queue: Queue, when: float) -> float:
        """Arrivals per second at ``when``."""
        while when >= queue.burst[1]:
            self._next_burst(queue)
        factor = queue.burst[2] if when >= queue.burst[0] else 1.0
        per_min = queue.spec.peak_rate_per_min * self.config.load_factor
        return per_min / 60.0 * profile_rate(self._local_hour(when), self.config.profile) * factor

    def _max_rate(self, queue: Queue) -> float:
        peak = max(rate for _, rate in self.config.profile)
        per_min = queue.spec.peak_rate_per_min * self.config.load_factor
        return per_min / 60.0 * peak * max(self.config.burst_factor[1], 1.0)

    def _next_burst(self, queue: Queue) -> None:
        rng, cfg = self._rng_arrivals, self.config
        if cfg.bursts_per_hour <= 0:
            queue.burst = (math.inf, math.inf, 1.0)
            return
        begin = max(queue.burst[1], self.now) + rng.expovariate(cfg.bursts_per_hour / 3600.0)
        length = rng.uniform(*cfg.burst_minutes) * 60.0
        queue.burst = (begin, begin + length, rng.uniform(*cfg.burst_factor))

    def _schedule_arrival(self, queue: Queue) -> None:
        """Thinning: candidates at the maximum rate, each kept with probability rate(t) / max."""
        ceiling = self._max_rate(queue)
        if ceiling <= 0:
            return
        when = self.now + self._rng_arrivals.expovariate(ceiling)
        self._at(when, lambda: self._on_candidate(queue, ceiling))

    def _on_candidate(self, queue: Queue, ceiling: float) -> None:
        if self._rng_arrivals.random() * ceiling < self._rate(queue, self.now):
            self._join(queue)
        self._schedule_arrival(queue)

    def _join(self, queue: Queue, identity: tuple[str, str] | None = None, attempt: int = 1) -> None:
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
        caller = Caller(info, self.now)
        queue.waiting.append(caller)
        self._emit("caller_join", queue.spec.name, caller=info, position=position, count=len(queue.waiting))
        if patience < queue.spec.timeout_s:
            self._at(self.now + patience, lambda: self._leave_unanswered(caller, "caller_abandon"))
        else:
            self._at(self.now + queue.spec.timeout_s, lambda: self._leave_unanswered(caller, "caller_timeout"))

    def _leave_unanswered(self, caller: Caller, kind: SimKind) -> None:
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

    def _remove(self, caller: Caller) -> tuple[int, int]:
        """Take a caller out of its queue; return (its position, callers left)."""
        caller.done = True
        waiting = self._queues[caller.info.queue].waiting
        position = waiting.index(caller) + 1
        waiting.remove(caller)
        return position, len(waiting)

    # ------------------------------------------------------------------ dispatch and ringing

    def _free(self, agent: Agent) -> bool:
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

    def _choose(self, caller: Caller, free: list[Agent]) -> list[Agent]:
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

    def _by_strategy(self, queue: Queue, tier: list[Agent]) -> list[Agent]:
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

    def _ring(self, caller: Caller, agents: list[Agent]) -> None:
        caller.ring_token += 1
        caller.ringing = list(agents)
        caller.ring_started = self.now
        token, queue = caller.ring_token, self._queues[caller.info.queue]
        answers: list[tuple[float, int, Agent]] = []
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

    def _release_ring(self, agent: Agent) -> None:
        agent.ringing_for = None
        self._set_device(agent, "idle")
        self._maybe_logout(agent)

    def _cancel_rings(self, caller: Caller, keep: Agent | None = None) -> None:
        rung, caller.ringing = caller.ringing, []
        caller.ring_token += 1
        for agent in rung:
            if agent is not keep:
                member = self._member_view(agent, caller.info.queue)
                why = "left" if keep is None else "answered_elsewhere"
                self._emit("agent_ring_cancelled", caller.info.queue, caller=caller.info, member=member, reason=why)
                self._release_ring(agent)

    def _on_ring_timeout(self, caller: Caller, token: int) -> None:
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

    def _on_answer(self, caller: Caller, token: int, agent: Agent) -> None:
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
        call = Call(caller, queue.spec.name, self.now, wait, ended_by)
        agent.call = call
        if queue.spec.name in agent.members:
            agent.members[queue.spec.name].in_call = True
        member = self._member_view(agent, queue.spec.name)
        self._emit("agent_connect", queue.spec.name, caller=caller.info, member=member, position=position, count=count,
                   wait_s=wait, ring_s=ring_s)  # fmt: skip
        self._set_device(agent, "in_use")
        self._plan_call(agent, call, queue.spec)

    # ------------------------------------------------------------------ calls

    def _plan_call(self, agent: Agent, call: Call, spec: QueueSpec) -> None:
        rng, policy = self._rng_calls, self.config.callers
        talk = rng.lognormvariate(math.log(spec.talk_median_s), spec.talk_sigma)
        if rng.random() < spec.hold_probability:
            hold = rng.lognormvariate(math.log(policy.hold_median_s), policy.hold_sigma)
            hold_at = self.now + talk * rng.uniform(0.2, 0.6)
            self._at(hold_at, lambda: self._on_hold(agent, call, True))
            self._at(hold_at + hold, lambda: self._on_hold(agent, call, False))
            talk += hold
        self._at(self.now + talk, lambda: self._on_complete(agent, call))

    def _on_hold(self, agent: Agent, call: Call, held: bool) -> None:
        if agent.call is not call or call.on_hold == held:
            return
        call.on_hold = held
        if not held:
            call.hold_s += self.now - call.held_since
        call.held_since = self.now
        kind: SimKind = "call_hold" if held else "call_unhold"
        self._emit(kind, call.queue, caller=call.caller.info, member=self._member_view(agent, call.queue))
        self._set_device(agent, "on_hold" if held else "in_use")

    def _on_complete(self, agent: Agent, call: Call) -> None:
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

    def _transfer_target(self, agent: Agent) -> str:
        """Where ``agent`` blind-transfers its caller: ``exten@context`` of the supervisor or of a colleague."""
        policy, rng = self.config.transfers, self._rng_transfers
        escalate = rng.random() < policy.escalation_share
        colleagues = [other for other in self._agents if other is not agent and other.logged_in]
        if escalate or not colleagues:
            return f"{policy.escalation_extension}@{policy.context}"
        return extension_of(rng.choice(colleagues).spec.interface, policy.context)
