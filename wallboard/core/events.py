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
* ``channel`` (every call/contact event) is the contact's medium: ``voice`` (the default, so events
  stored before channels existed read as voice), ``chat``, ``email``, ``callback`` or ``outbound``.
  The engine gives each queue one channel (``wallboard.core.channels``).

JSON in/out round-trips exactly: ``parse_event(event_to_json(e)) == e``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

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
Channel = Literal["voice", "chat", "email", "callback", "outbound"]
CHANNELS: tuple[Channel, ...] = ("voice", "chat", "email", "callback", "outbound")
PHONE_CHANNELS: frozenset[str] = frozenset({"voice", "callback", "outbound"})
"""Channels whose contacts occupy the agent's phone (one at a time, and the displayed state follows them);
``chat`` and ``email`` contacts run side by side up to the agent's capacity (``wallboard.core.channels``)."""
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
    channel: Channel = "voice"
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
    channel: Channel = "voice"
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
    channel: Channel = "voice"
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
    channel: Channel = "voice"
    wait_s: Seconds | None = None
    position: int | None = Field(default=None, ge=0)


class CallExited(_Event):
    """The call left the queue unanswered for another reason than the caller hanging up.

    ``unknown`` means the source never told the outcome (a gap, a PBX restart, a reconnect).
    """

    kind: Literal["call_exited"] = "call_exited"
    call_id: Name
    queue: Name
    channel: Channel = "voice"
    reason: ExitReason
    wait_s: Seconds | None = None
    position: int | None = Field(default=None, ge=0)


class CallTransferred(_Event):
    """The agent transferred the call (informational; the end of the call is a CallEnded)."""

    kind: Literal["call_transferred"] = "call_transferred"
    call_id: str | None = None
    queue: Name
    channel: Channel = "voice"
    agent: Name
    target: str = ""


class CallHold(_Event):
    """The agent put the call on hold (``held=True``) or took it off hold (AMI Hold/Unhold).

    ``pbx_channel`` is the PBX's channel name (``PJSIP/1001-00000001``), which matches the call when the
    source lacks its id. Events stored before channels existed called it ``channel``: such a key whose
    value is no contact channel (``voice``, ``chat``...) is read as ``pbx_channel`` (:meth:`_old_pbx_key`).
    """

    kind: Literal["call_hold"] = "call_hold"
    call_id: str | None = None
    agent: str | None = None
    pbx_channel: str | None = None
    channel: Channel = "voice"
    held: bool

    @model_validator(mode="before")
    @classmethod
    def _old_pbx_key(cls, data: Any) -> Any:
        """An old event's ``channel`` (None or a PBX channel name) is its ``pbx_channel``."""
        if isinstance(data, dict) and "channel" in data and data["channel"] not in CHANNELS:
            data = dict(data)
            old = data.pop("channel")
            if data.get("pbx_channel") is None:
                data["pbx_channel"] = old
        return data


class ContactResponded(_Event):
    """An agent sent the first reply of a contact (a chat's first message, an email's first answer).

    ``response_s`` is the first response time the source measured (from the contact's arrival); None: the
    engine takes ts - the contact's enter time when it saw it enter, else the figure is unknown. Counted once
    per contact (``wallboard.core.channels``).
    """

    kind: Literal["contact_responded"] = "contact_responded"
    call_id: Name
    queue: Name
    channel: Channel = "voice"
    agent: str | None = None
    response_s: Seconds | None = None


class AgentRang(_Event):
    """A member was rung for a call: ``answered=False`` is a ring-no-answer."""

    kind: Literal["agent_rang"] = "agent_rang"
    call_id: str | None = None
    queue: Name
    channel: Channel = "voice"
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


DialOutcome = Literal["answered", "no_answer", "busy", "machine", "dropped"]


class DialAttempt(_Event):
    """An outbound dialer placed a call for a campaign (``wallboard.core.campaigns``).

    No dialled number: the engine needs none, and the event stream would keep it at rest; a collector
    correlates an attempt with its result by ``call_id``. ``agent`` is the agent the dialer reserved
    (preview and progressive dialing), when it tells one.
    """

    kind: Literal["dial_attempt"] = "dial_attempt"
    campaign: Name
    call_id: Name
    agent: str | None = None


class DialResult(_Event):
    """The outcome of a dialer's call (``wallboard.core.campaigns``).

    ``answered``: a live person answered and was connected to an agent; ``dropped``: a live person
    answered and the dialer abandoned the call (no agent free in time: the regulators' abandoned call);
    ``machine``: an answering machine (not a live answer); ``no_answer`` and ``busy`` never connected.
    ``talk_s`` is the connected call's talk time when the dialer reports the outcome at its end.
    """

    kind: Literal["dial_result"] = "dial_result"
    campaign: Name
    call_id: Name
    result: DialOutcome
    agent: str | None = None
    talk_s: Seconds | None = None


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
    | ContactResponded
    | AgentRang
    | AgentLogin
    | AgentLogout
    | AgentPaused
    | AgentUnpaused
    | AgentDevice
    | Snapshot
    | SourceReset
    | AlertAction
    | DialAttempt
    | DialResult,
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
