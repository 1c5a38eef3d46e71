"""Simulation events -> the ``CUSTOM callcenter::info`` events FreeSWITCH's mod_callcenter fires (stateful "PBX").

Theory of operation
-------------------
``EslFormatter.events(sim_event)`` returns the events one model occurrence makes mod_callcenter 1.10 fire, each
as ordered ``(header, value)`` pairs (``esl_headers`` writes the long channel header lists and list rows,
``esl_frames`` turns the pairs into plain or JSON frames). The formatter is the switch: it names queues
``<queue>@default`` and agents ``<extension>@default`` (``agent07`` is ``1007@default``),
invents member and channel UUIDs from its seed, and keeps what ``callcenter_config ... list`` answers (agents'
status and state, tiers, waiting members, queue counters). The order of events and their headers follow the
capture in ``tests/fixtures/freeswitch-light`` (and mod_callcenter.c for ``bridge-agent-fail``, absent there):

==========================  ======================================================================================
caller_join                 member-queue-start (member channel), members-count
agent_called                agent-state-change ``Receiving``, agent-offering
agent_connect               bridge-agent-start (agent channel, the member as other leg), agent-state-change
                            ``In a queue call``, members-count
agent_complete              bridge-agent-end, member-queue-end ``Terminated``, agent-state-change ``Waiting``
agent_ring_no_answer        bridge-agent-fail ``ALLOTTED_TIMEOUT``, agent-state-change ``Waiting``
agent_ring_cancelled        bridge-agent-fail ``ORIGINATOR_CANCEL`` (caller left, or another agent answered a
                            ring-all), agent-state-change ``Waiting``
caller_abandon / _timeout   member-queue-end ``Cancel`` with ``BREAK_OUT`` / ``TIMEOUT``, members-count
member_added/removed/       agent-status-change when the agent's status changes: ``Logged Out`` without a queue,
(un)paused                  ``On Break`` while paused in any queue (mod_callcenter's status is per agent), else
                            ``Available``
==========================  ======================================================================================

Device changes (``member_status``) and holds give nothing: mod_callcenter reports its own agent state above and
has no hold event. ``Event-Date-Timestamp`` is the model time in microseconds, the ``CC-*-Time`` fields whole
seconds, exactly as the mapper (``collectors.esl.mapping``) expects of a real switch.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from collectors.simulator.config import SimConfig
from collectors.simulator.esl_frames import (
    AGENT_LIST,
    MEMBER_LIST,
    QUEUE_LIST,
    TIER_LIST,
    Pairs,
    core_headers,
    microseconds,
    seconds,
    table,
)
from collectors.simulator.esl_headers import (
    AVAILABLE,
    LOGGED_OUT,
    ON_BREAK,
    Agent,
    Leg,
    Member,
    agent_name,
    agent_row,
    agent_vars,
    channel_data,
    member_ids,
    member_row,
    member_vars,
    queue_name,
    queue_row,
)
from collectors.simulator.views import MemberView, SimEvent, SimState

__all__ = ["EslFormatter", "agent_name", "queue_name"]  # the names' home is esl_headers; callers import them here

_CC = "mod_callcenter.c"
_STATUS, _STATE = (_CC, "cc_agent_update", 1043), (_CC, "cc_agent_update", 1067)
_START, _COUNT = (_CC, "callcenter_function", 3113), (_CC, "cc_queue_count", 878)
_CANCEL = (_CC, "callcenter_function", 3274)
_OFFER, _BRIDGE = (_CC, "outbound_agent_thread_run", 1717), (_CC, "outbound_agent_thread_run", 1934)
_END, _TERMINATED = (_CC, "outbound_agent_thread_run", 2062), (_CC, "outbound_agent_thread_run", 2098)
_FAIL = (_CC, "outbound_agent_thread_run", 2170)


class EslFormatter:
    """The simulated switch's mod_callcenter: model events in, header lists out (see the module docstring)."""

    def __init__(self, config: SimConfig, state: SimState, *, seed: int = 0) -> None:
        self._config = config
        self._zone = ZoneInfo(config.timezone)
        self._rng = random.Random(f"{seed}:esl")
        self.sequence = 400
        self._members: dict[str, Member] = {}
        self._answered: dict[str, int] = {spec.name: 0 for spec in config.queues}
        self._abandoned: dict[str, int] = {spec.name: 0 for spec in config.queues}
        self._sessions = 0
        self._agents: dict[str, Agent] = {}
        self._tiers: list[tuple[str, str, int, int]] = []  # queue, agent, level, position
        positions: dict[str, int] = {}
        for spec in config.agents:
            wrapup = max((config.queue(queue).wrapup_s for queue, _ in spec.skills), default=0.0)
            name = agent_name(spec.agent_id)
            self._agents[spec.agent_id] = Agent(name, f"user/{name.split('@')[0]}", int(wrapup))
            for queue, penalty in spec.skills:
                positions[queue] = positions.get(queue, 0) + 1
                self._tiers.append((queue_name(queue), name, penalty + 1, positions[queue]))
        for member in state.members:  # static members are in their queues before any event
            self._agent(member).queues[member.queue] = member.paused
        for agent in self._agents.values():
            agent.status = self._status_of(agent)

    # ------------------------------------------------------------------ events

    def events(self, event: SimEvent) -> list[Pairs]:
        """The callcenter::info events of one model occurrence, in the order mod_callcenter fires them."""
        kind, ts = event.kind, event.ts
        if kind == "caller_join":
            return self._join(event)
        if kind in ("caller_abandon", "caller_timeout"):
            return self._cancel(event, "BREAK_OUT" if kind == "caller_abandon" else "TIMEOUT")
        if kind in ("member_added", "member_removed", "member_paused", "member_unpaused"):
            return self._membership(event)
        member = self._members.get(event.caller.call_id) if event.caller else None
        if member is None or event.member is None:
            return []
        agent = self._agent(event.member)
        if kind == "agent_called":
            member.called[agent.name] = ts
            member.state = "Trying"
            agent.last_offered = seconds(ts)
            offering = [
                ("CC-Queue", queue_name(event.queue)),
                ("CC-Action", "agent-offering"),
                ("CC-Agent", agent.name),
                ("CC-Agent-Type", "callback"),
                ("CC-Agent-System", "single_box"),
                *member_ids(member),
            ]
            return [self._state(agent, "Receiving", ts), self._cc(ts, _OFFER, offering)]
        if kind in ("agent_ring_no_answer", "agent_ring_cancelled"):
            return self._fail(event, member, agent)
        if kind == "agent_connect":
            return self._connect(event, member, agent)
        if kind == "agent_complete":
            return self._complete(event, member, agent)
        return []

    def _cc(self, ts: datetime, origin: tuple[str, str, int], pairs: Pairs, channel: Pairs | None = None) -> Pairs:
        self.sequence += 1 + self._rng.randrange(4)  # channel events of the same switch take numbers between
        return [*core_headers(ts, self._zone, self.sequence, origin, "CUSTOM"), *(channel or []), *pairs]

    def next_sequence(self) -> int:
        """A sequence number for an event of the switch that is not callcenter's (HEARTBEAT, BACKGROUND_JOB)."""
        self.sequence += 1
        return self.sequence

    def _agent(self, member: MemberView) -> Agent:
        agent = self._agents.get(member.agent_id)
        if agent is None:  # an agent a QueueAdd created: unknown to the config
            name = agent_name(member.agent_id)
            agent = self._agents[member.agent_id] = Agent(name, f"user/{name.split('@')[0]}", 0)
        return agent

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _count(self, ts: datetime, queue: str, count: int) -> Pairs:
        pairs = [
            ("CC-Queue", queue_name(queue)),
            ("CC-Action", "members-count"),
            ("CC-Count", str(count)),
            ("CC-Selection", "Single-Queue"),
        ]
        return self._cc(ts, _COUNT, pairs)

    def _state(self, agent: Agent, state: str, ts: datetime) -> Pairs:
        agent.state = state
        return self._cc(
            ts, _STATE, [("CC-Agent", agent.name), ("CC-Action", "agent-state-change"), ("CC-Agent-State", state)]
        )

    # ------------------------------------------------------------------ members

    def _join(self, event: SimEvent) -> list[Pairs]:
        assert event.caller is not None
        info, ts = event.caller, event.ts
        self._sessions += 1
        leg = Leg(
            f"sofia/external/{info.number}@192.0.2.10",
            self._uuid(),
            "inbound",
            info.name,
            info.number,
            info.queue,
            "public",
            microseconds(ts),
            answered=microseconds(ts),
            session_id=self._sessions,
        )
        member = self._members[info.call_id] = Member(info, self._uuid(), leg, ts)
        start = [("CC-Queue", queue_name(event.queue)), ("CC-Action", "member-queue-start"), *member_ids(member)]
        channel = channel_data(leg, ("CS_EXECUTE", "ACTIVE", 4), "answered", member_vars(member, "start"))
        return [self._cc(ts, _START, start, channel), self._count(ts, event.queue, event.count)]

    def _cancel(self, event: SimEvent, reason: str) -> list[Pairs]:
        assert event.caller is not None
        member = self._members.pop(event.caller.call_id, None)
        if member is None:
            return []
        ts = event.ts
        self._abandoned[event.queue] = self._abandoned.get(event.queue, 0) + 1
        if reason == "BREAK_OUT":
            member.leg.hangup = microseconds(ts)
            channel = channel_data(
                member.leg,
                ("CS_EXECUTE", "ACTIVE", 10),
                "hangup",
                member_vars(member, "cancel"),
                hangup="NORMAL_CLEARING",
            )
        else:
            channel = channel_data(member.leg, ("CS_EXECUTE", "ACTIVE", 4), "answered", member_vars(member, "cancel"))
        end = [
            ("CC-Queue", queue_name(event.queue)),
            ("CC-Action", "member-queue-end"),
            ("CC-Member-Leaving-Time", str(seconds(ts))),
            ("CC-Member-Joined-Time", str(seconds(member.joined))),
            ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", reason),
            *member_ids(member),
        ]
        return [self._cc(ts, _CANCEL, end, channel), self._count(ts, event.queue, event.count)]

    def _fail(self, event: SimEvent, member: Member, agent: Agent) -> list[Pairs]:
        ts = event.ts
        called = member.called.pop(agent.name, ts)
        if not member.called and member.answered is None:
            member.state = "Waiting"
        missed = event.kind == "agent_ring_no_answer"
        if missed:
            agent.no_answer += 1
        fail = [
            ("CC-Queue", queue_name(event.queue)),
            ("CC-Action", "bridge-agent-fail"),
            ("CC-Hangup-Cause", "ALLOTTED_TIMEOUT" if missed else "ORIGINATOR_CANCEL"),
            ("CC-Agent", agent.name),
            ("CC-Agent-System", "single_box"),
            ("CC-Agent-Called-Time", str(seconds(called))),
            ("CC-Agent-Aborted-Time", str(seconds(ts))),
            *member_ids(member),
            ("CC-Member-Joined-Time", str(seconds(member.joined))),
        ]
        return [self._cc(ts, _FAIL, fail), self._state(agent, "Waiting", ts)]

    def _connect(self, event: SimEvent, member: Member, agent: Agent) -> list[Pairs]:
        ts = event.ts
        called = member.called.pop(agent.name, ts)
        member.answered, member.state, member.serving = ts, "Answered", agent.name
        member.leg.bridged = microseconds(ts)
        extension = agent.name.split("@")[0]
        self._sessions += 1
        leg = member.agent_leg = Leg(
            f"sofia/internal/{extension}@192.0.2.20",
            self._uuid(),
            "outbound",
            member.info.name,
            member.info.number,
            extension,
            "default",
            microseconds(called),
            answered=microseconds(ts),
            progress=microseconds(called),
            bridged=microseconds(ts),
            session_id=self._sessions,
        )
        agent.last_bridge_start = seconds(ts)
        times = self._agent_times(member, agent.name, called)
        start = [
            ("CC-Queue", queue_name(event.queue)),
            ("CC-Action", "bridge-agent-start"),
            ("CC-Agent", agent.name),
            ("CC-Agent-System", "single_box"),
            ("CC-Agent-UUID", leg.uuid),
            *times,
            ("CC-Member-Joined-Time", str(seconds(member.joined))),
            *member_ids(member),
        ]
        channel = channel_data(
            leg,
            ("CS_EXCHANGE_MEDIA", "ACTIVE", 5),
            "answered",
            agent_vars(member, agent, bridged=False),
            other=member.leg,
        )
        return [
            self._cc(ts, _BRIDGE, start, channel),
            self._state(agent, "In a queue call", ts),
            self._count(ts, event.queue, event.count),
        ]

    def _complete(self, event: SimEvent, member: Member, agent: Agent) -> list[Pairs]:
        ts = event.ts
        self._members.pop(member.info.call_id, None)
        leg = member.agent_leg
        if leg is None or member.answered is None:
            return [self._state(agent, "Waiting", ts)]
        called = member.answered
        self._answered[event.queue] = self._answered.get(event.queue, 0) + 1
        agent.answered += 1
        agent.talk += int(event.talk_s)
        agent.last_bridge_end = seconds(ts)
        leg.hangup = member.leg.hangup = microseconds(ts)
        times = self._agent_times(member, agent.name, called)
        queue, joined = queue_name(event.queue), ("CC-Member-Joined-Time", str(seconds(member.joined)))
        end = [
            ("CC-Queue", queue),
            ("CC-Action", "bridge-agent-end"),
            ("CC-Hangup-Cause", "SUCCESS"),
            ("CC-Agent", agent.name),
            ("CC-Agent-System", "single_box"),
            ("CC-Agent-UUID", leg.uuid),
            ("CC-Agent-Bridged", "true"),
            *times,
            joined,
            ("CC-Bridge-Terminated-Time", str(seconds(ts))),
            *member_ids(member),
        ]
        agent_channel = channel_data(
            leg,
            ("CS_REPORTING", "HANGUP", 12),
            "hangup",
            agent_vars(member, agent, bridged=True),
            other=member.leg,
            hangup="NORMAL_CLEARING",
            transfer=True,
        )
        terminated = [
            ("CC-Queue", queue),
            ("CC-Action", "member-queue-end"),
            ("CC-Hangup-Cause", "SUCCESS"),
            ("CC-Cause", "Terminated"),
            ("CC-Agent", agent.name),
            ("CC-Agent-System", "single_box"),
            ("CC-Agent-UUID", leg.uuid),
            *times,
            ("CC-Member-Leaving-Time", str(seconds(ts))),
            joined,
            *member_ids(member),
        ]
        member_channel = channel_data(
            member.leg,
            ("CS_REPORTING", "HANGUP", 12),
            "hangup",
            member_vars(member, "end", agent, leg),
            other=leg,
            hangup="NORMAL_CLEARING",
            transfer=True,
            other_type="originatee",
        )
        return [
            self._cc(ts, _END, end, agent_channel),
            self._cc(ts, _TERMINATED, terminated, member_channel),
            self._state(agent, "Waiting", ts),
        ]

    def _agent_times(self, member: Member, agent: str, called: datetime) -> Pairs:
        answered = member.answered or called
        return [("CC-Agent-Called-Time", str(seconds(called))), ("CC-Agent-Answered-Time", str(seconds(answered)))]

    # ------------------------------------------------------------------ agents

    def _membership(self, event: SimEvent) -> list[Pairs]:
        assert event.member is not None
        agent = self._agent(event.member)
        if event.kind == "member_removed":
            agent.queues.pop(event.queue, None)
        else:
            agent.queues[event.queue] = event.kind == "member_paused" or (
                event.kind == "member_added" and event.member.paused
            )
        status = self._status_of(agent)
        if status == agent.status:
            return []
        agent.status, agent.last_status_change = status, seconds(event.ts)
        pairs = [("CC-Agent", agent.name), ("CC-Action", "agent-status-change"), ("CC-Agent-Status", status)]
        return [self._cc(event.ts, _STATUS, pairs)]

    @staticmethod
    def _status_of(agent: Agent) -> str:
        if not agent.queues:
            return LOGGED_OUT
        return ON_BREAK if any(agent.queues.values()) else AVAILABLE

    # ------------------------------------------------------------------ callcenter_config lists

    def agent_list(self) -> str:
        return table(AGENT_LIST, [agent_row(agent) for agent in self._agents.values()])

    def tier_list(self) -> str:
        return table(TIER_LIST, [[q, a, "Ready", str(level), str(pos)] for q, a, level, pos in self._tiers])

    def queue_list(self) -> str:
        rows = [
            queue_row(spec, self._answered.get(spec.name, 0), self._abandoned.get(spec.name, 0))
            for spec in self._config.queues
        ]
        return table(QUEUE_LIST, rows)

    def queue_names(self) -> list[str]:
        return [queue_name(spec.name) for spec in self._config.queues]

    def member_list(self, queue: str) -> str | None:
        """The members of ``queue`` (``support@default``) waiting, being offered or talking; None: no such queue."""
        if queue not in self.queue_names():
            return None
        rows = [member_row(queue, m) for m in self._members.values() if queue_name(m.info.queue) == queue]
        return table(MEMBER_LIST, rows)

    def member_count(self, queue: str) -> int:
        return sum(1 for m in self._members.values() if queue_name(m.info.queue) == queue and m.state != "Answered")

    def live_legs(self) -> set[str]:
        """The UUIDs of the calls' legs alive now: each waiting or talking caller's, each talking agent's."""
        legs = {member.leg.uuid for member in self._members.values()}
        return legs | {member.agent_leg.uuid for member in self._members.values() if member.agent_leg is not None}

    def tier_queues(self, name: str) -> list[str]:
        """The simulated queues (``support``) of the tiers of the agent mod_callcenter calls ``name``."""
        return [queue.rsplit("@", 1)[0] for queue, agent, _, _ in self._tiers if agent == name]

    def interface_of(self, name: str) -> str | None:
        """The simulated interface of the agent mod_callcenter calls ``name`` (``1007@default``)."""
        for spec in self._config.agents:
            if agent_name(spec.agent_id) == name:
                return spec.interface
        return None
