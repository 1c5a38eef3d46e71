"""The simulated floor's state and the primitives every part of the model shares.

``Floor`` holds what ``collectors.simulator.model.Simulation`` is made of (see its theory of operation): the
clock and the heap of scheduled occurrences (``_at``), the seeded random streams, the queues with their
waiting callers and app_queue counters, the agents with their memberships; and the changes every part
reports the same way: an event (``_emit``), a member's pause (``_set_paused``), a device state reported per
membership (``_set_device``), and the views the events and QueueStatus carry (``_member_view``, ``_queue_view``).
The behaviour is layered on it: ``collectors.simulator.shifts`` (agents' shifts, breaks, schedules, pauses),
then ``collectors.simulator.calls`` (arrivals, dispatch, ringing, calls, transfers, callbacks).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collectors.simulator.config import AgentSpec, QueueSpec, SimConfig
from collectors.simulator.views import CallerInfo, DeviceState, MemberView, QueueView, SimEvent, SimKind
from wallboard.errors import WallboardError


class SimulationError(WallboardError):
    """The simulation was asked something impossible (time going backwards, a naive start time)."""


def extension_of(interface: str, context: str) -> str:
    """The ``exten@context`` that rings an agent: ``1005@<context>`` for ``PJSIP/1005``, ``agent05@agents`` for
    ``Local/agent05@agents/n``."""
    resource = interface.split("/", 1)[-1].removesuffix("/n")
    return resource if "@" in resource else f"{resource}@{context}"


@dataclass(eq=False)
class Caller:
    """A caller in its queue; ``ring_token`` tells a stale ring step (answer, timeout) from the current one."""

    info: CallerInfo
    joined: float
    ringing: list[Agent] = field(default_factory=list)
    ring_token: int = 0
    ring_started: float = 0.0
    retry_at: float = 0.0
    refused: set[str] = field(default_factory=set)
    done: bool = False


@dataclass(eq=False)
class Member:
    """One agent's membership of one queue, as app_queue keeps it."""

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
class Call:
    """An answered call; ``ended_by`` (agent, caller, transfer) is drawn when it is answered."""

    caller: Caller
    queue: str
    connected: float
    wait_s: float
    ended_by: str
    hold_s: float = 0.0
    on_hold: bool = False
    held_since: float = 0.0


@dataclass(eq=False)
class Agent:
    """An agent and its memberships; ``shift_token`` tells a stale shift step from the current shift's."""

    spec: AgentSpec
    members: dict[str, Member] = field(default_factory=dict)
    ringing_for: Caller | None = None
    call: Call | None = None
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
class Queue:
    """A queue's waiting callers and the counters app_queue reports in a QueueStatus."""

    spec: QueueSpec
    waiting: list[Caller] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    rr_last: int = -1
    burst: tuple[float, float, float] = (0.0, 0.0, 1.0)


class Floor:
    """The contact center's state, clock and event log, and the changes every part reports alike; the behaviour is
    layered on it (``Shifts``, ``CallFlow``, ``Simulation``)."""

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
        self._queues = {spec.name: Queue(spec) for spec in config.queues}
        self._agents = [Agent(spec) for spec in config.agents]
        self._order = {agent.spec.agent_id: index for index, agent in enumerate(self._agents)}

    @property
    def current_time(self) -> datetime:
        return self._dt(self.now)

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

    def _take_events(self) -> list[SimEvent]:
        events, self._out = self._out, []
        return events

    def _seconds(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()

    # ------------------------------------------------------------------ changes reported per membership

    def _set_paused(self, agent: Agent, queue: str, paused: bool, reason: str) -> None:
        member = agent.members[queue]
        member.paused, member.reason = paused, reason
        if paused:
            member.last_pause = self.now
        view = self._member_view(agent, queue)
        if not paused:
            member.reason = ""  # an unpause's reason shows in its event only
        kind: SimKind = "member_paused" if paused else "member_unpaused"
        self._emit(kind, queue, member=view, reason=reason)

    def _set_device(self, agent: Agent, device: DeviceState) -> None:
        if agent.device == device:
            return
        agent.device = device
        for queue in agent.members:
            self._emit("member_status", queue, member=self._member_view(agent, queue))

    # ------------------------------------------------------------------ views

    def _members_of(self, queue: str) -> list[Agent]:
        return [agent for agent in self._agents if queue in agent.members]

    def _member_view(self, agent: Agent, queue: str) -> MemberView:
        """The member as the PBX reports it in ``queue``, also after it left the queue during a call."""
        member = agent.members.get(queue)
        penalty = member.penalty if member else dict(agent.spec.skills).get(queue, 0)
        return self._view(agent, queue, penalty, member)

    def _view(self, agent: Agent, queue: str, penalty: int, member: Member | None) -> MemberView:
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

    def _queue_view(self, queue: Queue) -> QueueView:
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
