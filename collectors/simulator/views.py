"""What the simulation reports: frozen values, PBX-agnostic (the AMI formatter turns them into frames).

``SimEvent`` is one occurrence (a caller joined, an agent was rung, a member paused...); which of
its optional fields are set depends on its ``kind``. ``SimState`` is the whole picture at one
moment, what a QueueStatus answer is made of. Times are aware datetimes, durations float seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from collectors.simulator.config import QueueSpec

DeviceState = Literal["idle", "ringing", "in_use", "on_hold"]
#: What a QueueAdd / QueueRemove did, as app_queue's add_to_queue / remove_from_queue answer.
MemberOutcome = Literal["added", "removed", "already_there", "not_there", "no_such_queue", "not_dynamic"]
SimKind = Literal[
    "caller_join",
    "caller_abandon",
    "caller_timeout",
    "agent_called",
    "agent_ring_cancelled",
    "agent_ring_no_answer",
    "agent_connect",
    "agent_complete",
    "call_hold",
    "call_unhold",
    "member_added",
    "member_removed",
    "member_paused",
    "member_unpaused",
    "member_status",
]


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """A caller as it joined a queue; ``call_id`` is unique in one simulation."""

    call_id: str
    serial: int
    queue: str
    number: str
    name: str
    joined_at: datetime
    original_position: int
    patience_s: float
    attempt: int = 1  # 2, 3...: the same number and name calling back (a repeat caller)


@dataclass(frozen=True, slots=True)
class MemberView:
    """A queue member as the PBX would report it at one moment."""

    agent_id: str
    name: str
    interface: str
    state_interface: str
    queue: str
    penalty: int
    calls_taken: int
    last_call: datetime | None
    last_pause: datetime | None
    login_time: datetime | None
    in_call: bool
    device: DeviceState
    paused: bool
    reason: str
    dynamic: bool = True  # added by QueueAdd or a login; False for a static (queues.conf) member


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One PBX-agnostic occurrence. Which optional fields are set depends on ``kind``:

    caller_join: caller, position, count · caller_abandon / caller_timeout: caller, position,
    count, wait_s · agent_called: caller, member · agent_ring_cancelled: caller, member, reason
    (answered_elsewhere|left) · agent_ring_no_answer:
    caller, member, ring_s · agent_connect: caller, member, position, count, wait_s, ring_s ·
    agent_complete: caller, member, wait_s, talk_s, hold_s, connected_at, reason (agent|caller|transfer),
    target (a transfer's ``exten@context``) ·
    call_hold / call_unhold: caller, member · member_*: member (after the change; paused/unpaused
    carry the pause reason in ``reason``).
    """

    ts: datetime
    kind: SimKind
    queue: str
    caller: CallerInfo | None = None
    member: MemberView | None = None
    position: int = 0
    count: int = 0
    wait_s: float = 0.0
    ring_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    connected_at: datetime | None = None
    reason: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class QueueView:
    """A queue's parameters and counters as app_queue keeps them (QueueParams / QueueSummary)."""

    spec: QueueSpec
    calls: int
    holdtime: int
    talktime: int
    completed: int
    abandoned: int
    completed_in_sl: int
    abandoned_in_sl: int


@dataclass(frozen=True, slots=True)
class EntryView:
    """A caller waiting in a queue now."""

    queue: str
    position: int
    caller: CallerInfo
    wait_s: float


@dataclass(frozen=True, slots=True)
class SimState:
    """Everything a QueueStatus answer needs, at ``ts``."""

    ts: datetime
    queues: tuple[QueueView, ...]
    members: tuple[MemberView, ...]
    entries: tuple[EntryView, ...]
