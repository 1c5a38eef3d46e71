"""Normalised contact-center events: the contract between collectors and the engine.

Every collector (AMI, queue_log, simulator, ...) turns its wire format into these values and
nothing else; the engine consumes nothing else. Each kind of ARCHITECTURE.md is one frozen,
validated pydantic model, so an invalid event cannot exist, and ``Event`` is their union,
discriminated by ``kind``.

Conventions:

* ``ts`` is an aware UTC ``datetime``: the PBX's time when it gives one, else the time the
  collector received the record.
* Durations are seconds (``float``), never milliseconds: collectors convert.
* ``agent`` is the identity the PBX used (member name or interface); the engine resolves it to
  one agent through the site file's aliases. Collectors may fill ``interface`` and
  ``member_name`` when the source tells both, which lets the engine learn the alias.
* ``key`` is an idempotency key set by the collector (unique per source record), so a
  restarted engine never counts the same record twice.

JSON in/out round-trips exactly: ``parse_event(event_to_json(e)) == e``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeFloat, TypeAdapter, model_validator


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Seconds = NonNegativeFloat

ExitReason = Literal["timeout", "key", "empty", "full", "withdraw", "unknown"]
EndedBy = Literal["agent", "caller", "transfer", "unknown"]
DeviceState = Literal[
    "unknown", "idle", "in_use", "busy", "invalid", "unavailable", "ringing", "ring_in_use", "on_hold"
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=4096)

    ts: UtcDatetime
    site: Name = "default"
    source: Name
    key: str | None = None


class CallQueued(_Event):
    """A caller entered a queue (AMI QueueCallerJoin, queue_log ENTERQUEUE)."""

    kind: Literal["call_queued"] = "call_queued"
    call_id: Name
    queue: Name
    position: int = Field(default=1, ge=0)
    caller: str = ""
    caller_name: str = ""


class CallAnswered(_Event):
    """An agent answered a queued call (AMI AgentConnect, queue_log CONNECT).

    ``wait_s`` is None when the source lacks the figure (or garbled it): the engine then takes
    answer time - enter time when it saw the call enter, else the wait is unknown.
    """

    kind: Literal["call_answered"] = "call_answered"
    call_id: Name
    queue: Name
    agent: Name
    wait_s: Seconds | None = None
    ring_s: Seconds | None = None
    agent_channel: str | None = None
    interface: str | None = None
    member_name: str | None = None


class CallEnded(_Event):
    """An answered call finished (AMI AgentComplete, queue_log COMPLETEAGENT/COMPLETECALLER/TRANSFER).

    ``call_id`` is None when the source does not say which call (AgentComplete without
    channel fields): the engine closes the open call of ``agent`` in ``queue``.
    ``wait_s`` is the queue wait the PBX reports again at the end (Asterisk's HoldTime);
    ``hold_s`` is time on hold during the talk, when the source tells it. ``talk_s`` is None when the
    source lacks the figure: the engine then takes end - answer time when it saw the answer.
    """

    kind: Literal["call_ended"] = "call_ended"
    call_id: str | None = None
    queue: Name
    agent: Name
    talk_s: Seconds | None = None
    wait_s: Seconds | None = None
    hold_s: Seconds | None = None
    ended_by: EndedBy = "unknown"
    interface: str | None = None
    member_name: str | None = None


class CallAbandoned(_Event):
    """The caller hung up while waiting (AMI QueueCallerAbandon + Hangup, queue_log ABANDON)."""

    kind: Literal["call_abandoned"] = "call_abandoned"
    call_id: Name
    queue: Name
    wait_s: Seconds | None = None
    position: int | None = Field(default=None, ge=0)


class CallExited(_Event):
    """The call left the queue unanswered for another reason than the caller hanging up.

    ``unknown`` means the source never told the outcome (a gap, a PBX restart, a reconnect).
    """

    kind: Literal["call_exited"] = "call_exited"
    call_id: Name
    queue: Name
    reason: ExitReason
    wait_s: Seconds | None = None
    position: int | None = Field(default=None, ge=0)


class CallTransferred(_Event):
    """The agent transferred the call (informational; the end of the call is a CallEnded)."""

    kind: Literal["call_transferred"] = "call_transferred"
    call_id: str | None = None
    queue: Name
    agent: Name
    target: str = ""


class CallHold(_Event):
    """The agent put the call on hold (``held=True``) or took it off hold (AMI Hold/Unhold)."""

    kind: Literal["call_hold"] = "call_hold"
    call_id: str | None = None
    agent: str | None = None
    channel: str | None = None
    held: bool


class AgentRang(_Event):
    """A member was rung for a call: ``answered=False`` is a ring-no-answer."""

    kind: Literal["agent_rang"] = "agent_rang"
    call_id: str | None = None
    queue: Name
    agent: Name
    answered: bool
    ring_s: Seconds | None = None
    interface: str | None = None
    member_name: str | None = None


class AgentLogin(_Event):
    """A member joined a queue (AMI QueueMemberAdded, queue_log ADDMEMBER/AGENTLOGIN)."""

    kind: Literal["agent_login"] = "agent_login"
    agent: Name
    queue: Name
    interface: str | None = None
    member_name: str | None = None
    wrapup_s: Seconds | None = None
    paused: bool = False
    reason: str = ""


class AgentLogout(_Event):
    """A member left a queue (AMI QueueMemberRemoved, queue_log REMOVEMEMBER/AGENTLOGOFF)."""

    kind: Literal["agent_logout"] = "agent_logout"
    agent: Name
    queue: Name
    interface: str | None = None
    member_name: str | None = None


class AgentPaused(_Event):
    """A member paused; ``queue`` None means every queue (PAUSEALL). A new reason may follow without an unpause."""

    kind: Literal["agent_paused"] = "agent_paused"
    agent: Name
    queue: str | None = None
    reason: str = ""
    interface: str | None = None
    member_name: str | None = None


class AgentUnpaused(_Event):
    """A member unpaused; ``queue`` None means every queue (UNPAUSEALL)."""

    kind: Literal["agent_unpaused"] = "agent_unpaused"
    agent: Name
    queue: str | None = None
    reason: str = ""
    interface: str | None = None
    member_name: str | None = None


class AgentDevice(_Event):
    """A member's device state changed (AMI QueueMemberStatus), with what the PBX says of the member."""

    kind: Literal["agent_device"] = "agent_device"
    agent: Name
    queue: str | None = None
    device_state: DeviceState
    in_call: bool | None = None
    paused: bool | None = None
    reason: str | None = None
    wrapup_s: Seconds | None = None
    interface: str | None = None
    member_name: str | None = None


class QueueInfo(BaseModel):
    """One queue as a state snapshot reports it (AMI QueueParams)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    sl_threshold_s: Seconds | None = None
    strategy: str | None = None


class MemberInfo(BaseModel):
    """One queue member as a state snapshot reports it (AMI QueueMember)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: Name
    agent: Name
    interface: str | None = None
    member_name: str | None = None
    device_state: DeviceState = "unknown"
    in_call: bool = False
    paused: bool = False
    reason: str = ""
    wrapup_s: Seconds | None = None


class EntryInfo(BaseModel):
    """One waiting caller as a state snapshot reports it (AMI QueueEntry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: Name
    call_id: Name
    position: int = Field(default=1, ge=0)
    wait_s: Seconds = 0.0
    caller: str = ""
    caller_name: str = ""


class Snapshot(_Event):
    """The PBX's full view of its queues (AMI QueueStatus list). Corrects state; never counted as calls.

    ``queues`` lists the queues the snapshot covers: members and waiting callers of those
    queues that are missing from it are no longer there.
    """

    kind: Literal["snapshot"] = "snapshot"
    queues: tuple[QueueInfo, ...] = ()
    members: tuple[MemberInfo, ...] = ()
    entries: tuple[EntryInfo, ...] = ()


class SourceReset(_Event):
    """The source lost continuity: an AMI reconnect (new banner) or a PBX restart (QUEUESTART).

    ``restart`` means the PBX itself restarted: every open call is over and its outcome unknown.
    ``reconnect`` means only our view was interrupted: what happened meanwhile may still be told
    (an AgentComplete of a call answered while we were away), so open calls become uncertain
    until the next snapshot or event settles them.
    """

    kind: Literal["source_reset"] = "source_reset"
    reason: Literal["reconnect", "restart"]


class AlertAction(_Event):
    """An operator's action on an alert (appended by the API; the runner hands it to the alert book, not the State).

    ``ack`` acknowledges, ``snooze`` silences notifications until ``until``, ``unsnooze`` ends a
    snooze early, ``note`` adds a note. ``by`` is who did it (the API's principal name). ``key`` is
    the API's idempotency key, so a retried request is applied once.
    """

    kind: Literal["alert_action"] = "alert_action"
    alert_id: Name
    action: Literal["ack", "snooze", "unsnooze", "note"]
    by: Name
    note: str | None = Field(default=None, max_length=1000)
    until: UtcDatetime | None = None

    @model_validator(mode="after")
    def _until_for_snoozes(self) -> AlertAction:
        if (self.action == "snooze") != (self.until is not None):
            raise ValueError(f"a {self.action} action {'needs' if self.action == 'snooze' else 'takes no'} 'until'")
        if self.action == "note" and not self.note:
            raise ValueError("a note action needs a non-empty 'note'")
        return self


Event = Annotated[
    CallQueued
    | CallAnswered
    | CallEnded
    | CallAbandoned
    | CallExited
    | CallTransferred
    | CallHold
    | AgentRang
    | AgentLogin
    | AgentLogout
    | AgentPaused
    | AgentUnpaused
    | AgentDevice
    | Snapshot
    | SourceReset
    | AlertAction,
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes) -> Event:
    """Build an event from its JSON form; raises ``pydantic.ValidationError`` when invalid."""
    return _ADAPTER.validate_json(data)


def event_to_json(event: Event) -> str:
    """The JSON form of an event (compact, every field present)."""
    return event.model_dump_json()


def event_from_dict(data: dict[str, object]) -> Event:
    """Build an event from a plain dict (e.g. decoded JSON); raises ``pydantic.ValidationError``."""
    return _ADAPTER.validate_python(data)
