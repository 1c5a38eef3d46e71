"""Simulation events -> the ``CUSTOM callcenter::info`` events FreeSWITCH's mod_callcenter fires (stateful "PBX").

Theory of operation
-------------------
``EslFormatter.events(sim_event)`` returns the events one model occurrence makes mod_callcenter 1.10 fire, each
as ordered ``(header, value)`` pairs (``esl_frames`` turns them into plain or JSON frames). The formatter is the
switch: it names queues ``<queue>@default`` and agents ``<extension>@default`` (``agent07`` is ``1007@default``),
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
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from collectors.simulator.config import SimConfig, Strategy
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
from collectors.simulator.views import CallerInfo, MemberView, SimEvent, SimState

DOMAIN: Final = "default"
LOGGED_OUT, ON_BREAK, AVAILABLE = "Logged Out", "On Break", "Available"
STRATEGIES: Final[dict[Strategy, str]] = {
    "ringall": "ring-all",
    "rrmemory": "round-robin",
    "leastrecent": "longest-idle-agent",
    "fewestcalls": "agent-with-fewest-calls",
    "random": "random",
    "linear": "top-down",
}
_CC = "mod_callcenter.c"
_STATUS, _STATE = (_CC, "cc_agent_update", 1043), (_CC, "cc_agent_update", 1067)
_START, _COUNT = (_CC, "callcenter_function", 3113), (_CC, "cc_queue_count", 878)
_CANCEL = (_CC, "callcenter_function", 3274)
_OFFER, _BRIDGE = (_CC, "outbound_agent_thread_run", 1717), (_CC, "outbound_agent_thread_run", 1934)
_END, _TERMINATED = (_CC, "outbound_agent_thread_run", 2062), (_CC, "outbound_agent_thread_run", 2098)
_FAIL = (_CC, "outbound_agent_thread_run", 2170)
_MOH = "local_stream://moh"


def queue_name(queue: str) -> str:
    """mod_callcenter's name of a simulated queue: ``support@default``."""
    return f"{queue}@{DOMAIN}"


def agent_name(agent_id: str) -> str:
    """mod_callcenter's name of a simulated agent: ``1007@default`` for ``agent07``, else ``<id>@default``."""
    found = re.fullmatch(r"agent(\d+)", agent_id)
    return f"{1000 + int(found[1])}@{DOMAIN}" if found else f"{agent_id}@{DOMAIN}"


@dataclass(eq=False)
class _Leg:
    """One channel as its event headers show it."""

    name: str
    uuid: str
    direction: str
    cid_name: str
    cid_number: str
    destination: str
    context: str
    created: int  # epoch microseconds, like every time below (0: not yet)
    answered: int = 0
    progress: int = 0
    bridged: int = 0
    hangup: int = 0
    session_id: int = 0


@dataclass(eq=False)
class _Member:
    info: CallerInfo
    uuid: str
    leg: _Leg
    joined: datetime
    state: str = "Waiting"
    serving: str = ""
    agent_leg: _Leg | None = None
    called: dict[str, datetime] = field(default_factory=dict)  # agent name -> when it was offered the call
    answered: datetime | None = None


@dataclass(eq=False)
class _Agent:
    name: str
    contact: str
    wrapup: int
    queues: dict[str, bool] = field(default_factory=dict)  # queue -> paused
    status: str = LOGGED_OUT
    state: str = "Waiting"
    last_bridge_start: int = 0
    last_bridge_end: int = 0
    last_offered: int = 0
    last_status_change: int = 0
    no_answer: int = 0
    answered: int = 0
    talk: int = 0


class EslFormatter:
    """The simulated switch's mod_callcenter: model events in, header lists out (see the module docstring)."""

    def __init__(self, config: SimConfig, state: SimState, *, seed: int = 0) -> None:
        self._config = config
        self._zone = ZoneInfo(config.timezone)
        self._rng = random.Random(f"{seed}:esl")
        self.sequence = 400
        self._members: dict[str, _Member] = {}
        self._answered: dict[str, int] = {spec.name: 0 for spec in config.queues}
        self._abandoned: dict[str, int] = {spec.name: 0 for spec in config.queues}
        self._sessions = 0
        self._agents: dict[str, _Agent] = {}
        self._tiers: list[tuple[str, str, int, int]] = []  # queue, agent, level, position
        positions: dict[str, int] = {}
        for spec in config.agents:
            wrapup = max((config.queue(queue).wrapup_s for queue, _ in spec.skills), default=0.0)
            name = agent_name(spec.agent_id)
            self._agents[spec.agent_id] = _Agent(name, f"user/{name.split('@')[0]}", int(wrapup))
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
                *self._member_ids(member),
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

    def _agent(self, member: MemberView) -> _Agent:
        agent = self._agents.get(member.agent_id)
        if agent is None:  # an agent a QueueAdd created: unknown to the config
            name = agent_name(member.agent_id)
            agent = self._agents[member.agent_id] = _Agent(name, f"user/{name.split('@')[0]}", 0)
        return agent

    @staticmethod
    def _member_ids(member: _Member) -> Pairs:
        return [
            ("CC-Member-UUID", member.uuid),
            ("CC-Member-Session-UUID", member.leg.uuid),
            ("CC-Member-CID-Name", member.info.name),
            ("CC-Member-CID-Number", member.info.number),
        ]

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

    def _state(self, agent: _Agent, state: str, ts: datetime) -> Pairs:
        agent.state = state
        return self._cc(
            ts, _STATE, [("CC-Agent", agent.name), ("CC-Action", "agent-state-change"), ("CC-Agent-State", state)]
        )

    # ------------------------------------------------------------------ members

    def _join(self, event: SimEvent) -> list[Pairs]:
        assert event.caller is not None
        info, ts = event.caller, event.ts
        self._sessions += 1
        leg = _Leg(
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
        member = self._members[info.call_id] = _Member(info, self._uuid(), leg, ts)
        start = [("CC-Queue", queue_name(event.queue)), ("CC-Action", "member-queue-start"), *self._member_ids(member)]
        channel = self._channel(leg, ("CS_EXECUTE", "ACTIVE", 4), "answered", self._member_vars(member, "start"))
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
            channel = self._channel(
                member.leg,
                ("CS_EXECUTE", "ACTIVE", 10),
                "hangup",
                self._member_vars(member, "cancel"),
                hangup="NORMAL_CLEARING",
            )
        else:
            channel = self._channel(
                member.leg, ("CS_EXECUTE", "ACTIVE", 4), "answered", self._member_vars(member, "cancel")
            )
        end = [
            ("CC-Queue", queue_name(event.queue)),
            ("CC-Action", "member-queue-end"),
            ("CC-Member-Leaving-Time", str(seconds(ts))),
            ("CC-Member-Joined-Time", str(seconds(member.joined))),
            ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", reason),
            *self._member_ids(member),
        ]
        return [self._cc(ts, _CANCEL, end, channel), self._count(ts, event.queue, event.count)]

    def _fail(self, event: SimEvent, member: _Member, agent: _Agent) -> list[Pairs]:
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
            *self._member_ids(member),
            ("CC-Member-Joined-Time", str(seconds(member.joined))),
        ]
        return [self._cc(ts, _FAIL, fail), self._state(agent, "Waiting", ts)]

    def _connect(self, event: SimEvent, member: _Member, agent: _Agent) -> list[Pairs]:
        ts = event.ts
        called = member.called.pop(agent.name, ts)
        member.answered, member.state, member.serving = ts, "Answered", agent.name
        member.leg.bridged = microseconds(ts)
        extension = agent.name.split("@")[0]
        self._sessions += 1
        leg = member.agent_leg = _Leg(
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
            *self._member_ids(member),
        ]
        channel = self._channel(
            leg,
            ("CS_EXCHANGE_MEDIA", "ACTIVE", 5),
            "answered",
            self._agent_vars(member, agent, bridged=False),
            other=member.leg,
        )
        return [
            self._cc(ts, _BRIDGE, start, channel),
            self._state(agent, "In a queue call", ts),
            self._count(ts, event.queue, event.count),
        ]

    def _complete(self, event: SimEvent, member: _Member, agent: _Agent) -> list[Pairs]:
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
            *self._member_ids(member),
        ]
        agent_channel = self._channel(
            leg,
            ("CS_REPORTING", "HANGUP", 12),
            "hangup",
            self._agent_vars(member, agent, bridged=True),
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
            *self._member_ids(member),
        ]
        member_channel = self._channel(
            member.leg,
            ("CS_REPORTING", "HANGUP", 12),
            "hangup",
            self._member_vars(member, "end", agent, leg),
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

    def _agent_times(self, member: _Member, agent: str, called: datetime) -> Pairs:
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
    def _status_of(agent: _Agent) -> str:
        if not agent.queues:
            return LOGGED_OUT
        return ON_BREAK if any(agent.queues.values()) else AVAILABLE

    # ------------------------------------------------------------------ channels

    def _channel(
        self,
        leg: _Leg,
        state: tuple[str, str, int],
        answer: str,
        variables: Pairs,
        *,
        other: _Leg | None = None,
        hangup: str | None = None,
        transfer: bool = False,
        other_type: str = "originator",
    ) -> Pairs:
        """``switch_channel_event_set_data``: the channel's state, its caller profile, the other leg's, variables."""
        pairs = [
            ("Channel-State", state[0]),
            ("Channel-Call-State", state[1]),
            ("Channel-State-Number", str(state[2])),
            ("Channel-Name", leg.name),
            ("Unique-ID", leg.uuid),
            ("Call-Direction", leg.direction),
            ("Presence-Call-Direction", leg.direction),
            ("Channel-HIT-Dialplan", str(leg.direction == "inbound").lower()),
            ("Channel-Call-UUID", leg.uuid),
            ("Answer-State", answer),
        ]
        if hangup is not None:
            pairs.append(("Hangup-Cause", hangup))
        for direction in ("Read", "Write"):
            pairs += [
                (f"Channel-{direction}-Codec-Name", "PCMA"),
                (f"Channel-{direction}-Codec-Rate", "8000"),
                (f"Channel-{direction}-Codec-Bit-Rate", "64000"),
            ]
        pairs += _profile("Caller-", leg, index=True, transfer=transfer)
        if other is not None:
            pairs += [("Other-Type", other_type), *_profile("Other-Leg-", other, index=False, transfer=False)]
        return pairs + variables

    def _member_vars(
        self, member: _Member, stage: str, agent: _Agent | None = None, agent_leg: _Leg | None = None
    ) -> Pairs:
        leg, queue = member.leg, queue_name(member.info.queue)
        pairs = [
            ("variable_direction", "inbound"),
            ("variable_uuid", leg.uuid),
            ("variable_session_id", str(leg.session_id)),
            ("variable_channel_name", leg.name),
            ("variable_call_uuid", leg.uuid),
            ("variable_current_application_data", queue),
            ("variable_current_application", "callcenter"),
            ("variable_cc_side", "member"),
            ("variable_cc_member_uuid", member.uuid),
            ("variable_cc_queue_joined_epoch", str(seconds(member.joined))),
            ("variable_cc_queue", queue),
        ]
        if stage == "end" and agent is not None and agent_leg is not None and member.answered is not None:
            end = leg.hangup // 1_000_000
            pairs += [
                ("variable_cc_agent_uuid", agent_leg.uuid),
                ("variable_cc_agent_bridged", "true"),
                ("variable_cc_agent", agent.name),
                ("variable_cc_queue_answered_epoch", str(seconds(member.answered))),
                ("variable_cc_cause", "answered"),
                ("variable_hangup_cause", "NORMAL_CLEARING"),
                ("variable_end_epoch", str(end)),
                ("variable_cc_queue_terminated_epoch", str(end)),
            ]
        return pairs

    @staticmethod
    def _agent_vars(member: _Member, agent: _Agent, *, bridged: bool) -> Pairs:
        leg = member.agent_leg
        assert leg is not None
        pairs = [
            ("variable_direction", "outbound"),
            ("variable_is_outbound", "true"),
            ("variable_uuid", leg.uuid),
            ("variable_session_id", str(leg.session_id)),
            ("variable_channel_name", leg.name),
            ("variable_call_uuid", leg.uuid),
            ("variable_cc_side", "agent"),
            ("variable_cc_queue", queue_name(member.info.queue)),
            ("variable_cc_agent", agent.name),
            ("variable_cc_agent_type", "callback"),
            ("variable_cc_member_uuid", member.uuid),
            ("variable_cc_member_session_uuid", member.leg.uuid),
        ]
        if bridged:
            pairs += [("variable_cc_agent_bridged", "true"), ("variable_hangup_cause", "NORMAL_CLEARING")]
        return pairs

    # ------------------------------------------------------------------ callcenter_config lists

    def agent_list(self) -> str:
        rows = [
            [
                a.name,
                "single_box",
                "",
                "callback",
                a.contact,
                a.status,
                a.state,
                "3",
                str(a.wrapup),
                "10",
                "60",
                "0",
                str(a.last_bridge_start),
                str(a.last_bridge_end),
                str(a.last_offered),
                str(a.last_status_change),
                str(a.no_answer),
                str(a.answered),
                str(a.talk),
                "0",
                "0",
            ]
            for a in self._agents.values()
        ]
        return table(AGENT_LIST, rows)

    def tier_list(self) -> str:
        return table(TIER_LIST, [[q, a, "Ready", str(level), str(pos)] for q, a, level, pos in self._tiers])

    def queue_list(self) -> str:
        rows = [
            [
                queue_name(spec.name),
                STRATEGIES[spec.strategy],
                _MOH,
                "system",
                "false",
                "300",
                "true",
                "false",
                "60",
                "false",
                str(int(spec.timeout_s)),
                "0",
                "5",
                "",
                str(self._answered.get(spec.name, 0)),
                str(self._abandoned.get(spec.name, 0)),
                "0",
                "true",
                ON_BREAK,
            ]
            for spec in self._config.queues
        ]
        return table(QUEUE_LIST, rows)

    def queue_names(self) -> list[str]:
        return [queue_name(spec.name) for spec in self._config.queues]

    def member_list(self, queue: str) -> str | None:
        """The members of ``queue`` (``support@default``) waiting, being offered or talking; None: no such queue."""
        if queue not in self.queue_names():
            return None
        rows = [
            [
                queue,
                "single_box",
                m.uuid,
                m.leg.uuid,
                m.info.number,
                m.info.name,
                str(seconds(m.joined)),
                str(seconds(m.joined)),
                "0",
                str(seconds(m.answered)) if m.answered else "0",
                "0",
                "0",
                "0",
                m.serving,
                "single_box" if m.serving else "",
                m.state,
                "0",
            ]
            for m in self._members.values()
            if queue_name(m.info.queue) == queue
        ]
        return table(MEMBER_LIST, rows)

    def member_count(self, queue: str) -> int:
        return sum(1 for m in self._members.values() if queue_name(m.info.queue) == queue and m.state != "Answered")

    def interface_of(self, name: str) -> str | None:
        """The simulated interface of the agent mod_callcenter calls ``name`` (``1007@default``)."""
        for spec in self._config.agents:
            if agent_name(spec.agent_id) == name:
                return spec.interface
        return None


def _profile(prefix: str, leg: _Leg, *, index: bool, transfer: bool) -> Pairs:
    """A caller profile's headers (``switch_caller_profile_event_set_data``)."""
    callee = "Outbound Call" if leg.direction == "outbound" else ""
    pairs = [
        (f"{prefix}Direction", leg.direction),
        (f"{prefix}Logical-Direction", leg.direction),
        (f"{prefix}Dialplan", "xml"),
        (f"{prefix}Caller-ID-Name", leg.cid_name),
        (f"{prefix}Caller-ID-Number", leg.cid_number),
        (f"{prefix}Orig-Caller-ID-Name", leg.cid_name),
        (f"{prefix}Orig-Caller-ID-Number", leg.cid_number),
        (f"{prefix}Callee-ID-Name", callee),
        (f"{prefix}Callee-ID-Number", leg.destination if callee else ""),
        (f"{prefix}ANI", leg.cid_number),
        (f"{prefix}Destination-Number", leg.destination),
        (f"{prefix}Unique-ID", leg.uuid),
        (f"{prefix}Source", "mod_sofia"),
    ]
    if transfer:
        pairs.append((f"{prefix}Transfer-Source", f"{leg.bridged // 1_000_000}:{leg.uuid}:uuid_br:{leg.uuid}"))
    pairs += [(f"{prefix}Context", leg.context), (f"{prefix}Channel-Name", leg.name)]
    if index:
        pairs.append((f"{prefix}Profile-Index", "2" if transfer else "1"))
    times = [
        ("Profile-Created", leg.created),
        ("Channel-Created", leg.created),
        ("Channel-Answered", leg.answered),
        ("Channel-Progress", leg.progress),
        ("Channel-Progress-Media", 0),
        ("Channel-Hangup", leg.hangup),
        ("Channel-Transfer", 0),
        ("Channel-Resurrect", 0),
        ("Channel-Bridged", leg.bridged),
    ]
    pairs += [(f"{prefix}{name}-Time", str(value)) for name, value in times]
    pairs += [
        (f"{prefix}Channel-Last-Hold", "0"),
        (f"{prefix}Channel-Hold-Accum", "0"),
        (f"{prefix}Screen-Bit", "true"),
        (f"{prefix}Privacy-Hide-Name", "false"),
        (f"{prefix}Privacy-Hide-Number", "false"),
    ]
    return pairs
