"""Agents on the simulated floor: shifts, breaks, lunch and training, schedules followed, auto-pauses, logouts.

Without a schedule an agent logs in around its shift's start, pauses for breaks, lunch and (sometimes)
training, now and then rolling from one pause to the next, and logs out around its end, after its call if it
is on one (or, rarely, is removed from its queues during the call). With ``config.schedule`` it follows its
generated shift instead, moved by the shift's seeded ``Conduct``. Every scheduled step carries the agent's shift
token: a step of an earlier shift finds the token changed and does nothing. See ``collectors.simulator.model``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from collectors.simulator.config import on_shift
from collectors.simulator.floor import Agent, Floor, Member, SimulationError
from collectors.simulator.schedule import PAUSE_REASONS, Conduct, draw_conduct, shift_slots
from wallboard.core.adherence.schedule import Slot


class Shifts(Floor):
    """Agents' logins, pauses and logouts, on the floor's clock and agents' stream."""

    # ------------------------------------------------------------------ agents: shifts, pauses

    def _schedule_shift(self, agent: Agent, first: bool = False) -> None:
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

    def _login(self, agent: Agent, token: int, logout: float) -> None:
        if token != agent.shift_token or agent.logged_in:
            return
        self._add_members(agent)
        self._plan_breaks(agent, logout)
        self._at(logout, lambda: self._on_shift_end(agent, token))

    def _add_members(self, agent: Agent) -> None:
        agent.logout_pending = False
        for queue, penalty in agent.spec.skills:
            agent.members[queue] = Member(queue, penalty, self.now)
            self._emit("member_added", queue, member=self._member_view(agent, queue))

    def _plan_breaks(self, agent: Agent, logout: float) -> None:
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

    def _pause_later(self, agent: Agent, reason: str, duration: float) -> Callable[[], None]:
        token = agent.shift_token
        return lambda: self._start_pause(agent, token, reason, duration)

    def _start_pause(self, agent: Agent, token: int, reason: str, duration: float) -> None:
        if token != agent.shift_token or not agent.logged_in or agent.logout_pending:
            return
        self._pause_all(agent, reason)
        self._at(self.now + duration, lambda: self._end_pause(agent, token, reason))

    def _end_pause(self, agent: Agent, token: int, reason: str) -> None:
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

    def _pause_all(self, agent: Agent, reason: str) -> None:
        for queue in agent.members:
            self._set_paused(agent, queue, True, reason)

    # ------------------------------------------------------------------ agents: following a schedule

    def _schedule_planned_shift(self, agent: Agent, first: bool) -> None:
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

    def _next_plan(self, agent: Agent, first: bool) -> tuple[tuple[Slot, ...], Conduct] | None:
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

    def _planned_login(
        self, agent: Agent, token: int, slots: tuple[Slot, ...], conduct: Conduct, logout: float
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
        self, agent: Agent, reason: str, until: float, *, unless_paused: bool = False
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

    def _planned_unpause(self, agent: Agent, token: int, reason: str) -> None:
        if token != agent.shift_token or not any(member.reason == reason for member in agent.members.values()):
            return
        for queue, member in agent.members.items():
            if member.paused:
                self._set_paused(agent, queue, False, "")

    def _auto_pause(self, agent: Agent, queue: str) -> None:
        if agent.members[queue].paused:
            return
        self._set_paused(agent, queue, True, "Auto-Pause")
        delay = self._rng_agents.uniform(*self.config.breaks.auto_unpause_s)
        token = agent.shift_token
        self._at(self.now + delay, lambda: self._auto_unpause(agent, token, queue))

    def _auto_unpause(self, agent: Agent, token: int, queue: str) -> None:
        member = agent.members.get(queue)
        if token == agent.shift_token and member is not None and member.reason == "Auto-Pause":
            self._set_paused(agent, queue, False, "")

    def _on_shift_end(self, agent: Agent, token: int) -> None:
        if token != agent.shift_token or not agent.logged_in:
            return
        busy = agent.call is not None or agent.ringing_for is not None
        if busy and not (agent.call and self._rng_agents.random() < self.config.breaks.removed_during_call_probability):
            agent.logout_pending = True
            return
        self._logout(agent)

    def _maybe_logout(self, agent: Agent) -> None:
        if agent.logout_pending and agent.call is None and agent.ringing_for is None:
            self._logout(agent)

    def _logout(self, agent: Agent) -> None:
        for queue in list(agent.members):
            view = self._member_view(agent, queue)
            del agent.members[queue]
            self._emit("member_removed", queue, member=view)
        agent.logout_pending = False
        self._schedule_shift(agent)
