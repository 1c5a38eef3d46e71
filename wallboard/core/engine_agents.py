"""The engine's agent events and corrections: logins, pauses, rings, devices, snapshots, source resets.

A mixin of ``wallboard.core.engine.State`` (whose module docstring, *Agents* and *Corrections*, says what
each event means); ``wallboard.core.agent_state.Presence`` keeps each agent's state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from wallboard.core.agent_state import AgentInput
from wallboard.core.agents import Agent, CallKey
from wallboard.core.engine_calls import CallHandlers, _seconds
from wallboard.core.events import (
    AgentDevice,
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    Snapshot,
    SourceReset,
)
from wallboard.core.queues import Call, capped

_RING_DEVICE = frozenset({"ringing", "ring_in_use"})
_BUSY_DEVICE = frozenset({"in_use", "busy", "on_hold"})
_IDLE_DEVICE = frozenset({"idle", "unavailable", "invalid"})
_RING_END = AgentInput.RING_END


class AgentHandlers(CallHandlers):
    """The State's handlers of agent, snapshot and source-reset events."""

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
