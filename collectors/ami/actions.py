"""Supervisor actions on the PBX (sans-I/O): agent actions in, AMI actions out, frames in, outcomes out.

Theory of operation
-------------------
``ActionRunner`` is what the AMI client consults for the supervisor actions queued by the API
(``wallboard.core.actions``). It does no I/O and reads no clock: the client hands it every frame it
reads (``observe``), each new action (``start``, which returns the bytes to send) and the time
(``expire``); each returns ``Outcome`` values for the client to record.

* **Who the agent is on the PBX.** ``MemberDirectory`` learns every queue member from the frames the
  collector reads anyway: the QueueStatus list's ``QueueMember`` (``Name``, ``Location``) and the
  ``QueueMemberAdded``/``Status``/``Pause``/``Removed`` events (``MemberName``, ``Interface``), with the
  ``StateInterface`` and the ``Membership`` (dynamic, static or realtime) per queue; and the agent's
  current call channel from ``AgentConnect``'s ``DestChannel`` (forgotten at its ``AgentComplete``
  or the channel's ``Hangup``). An action names the agent by every name the API knows (its id, the
  site file's display name and aliases): the first that is a member's interface or member name
  wins; an alias that looks like an interface (``PJSIP/2001``) is used as one for an agent never
  seen. A new connection forgets memberships and calls (the QueueStatus resync tells them again)
  but keeps interfaces, so an agent logged out of every queue can be logged in again.
* **What is sent.** pause/unpause: ``QueuePause`` (``Interface``, ``Paused``, ``Queue`` when given,
  ``Reason``); login: ``QueueAdd`` (``Queue``, ``Interface``, ``Penalty``, ``MemberName``,
  ``StateInterface`` when known); logout: one ``QueueRemove`` (``Queue``, ``Interface``) per queue
  asked, or per *dynamic* queue of the member when none is (a static member cannot be removed:
  that fails here, before the PBX says "Member not dynamic"); monitor: ``Originate`` (``Channel``
  the supervisor's extension, ``Application: ChanSpy``, ``Data`` the agent's channel and the
  mode's options, ``CallerID``, ``Timeout``, ``Async: true``).
* **Outcomes.** Each AMI action carries its own ActionID; its ``Response: Success`` makes the action
  ``done`` (all of them, for a logout from several queues), ``Response: Error`` makes it ``failed``
  with the PBX's ``Message`` (``Interface not found``, ``Unable to add interface: Already there``,
  ``Permission denied``...). An Originate's ``Success`` only means queued: its ``OriginateResponse``
  event (same ActionID) decides, ``Success`` when the supervisor answered (``done``) or ``Failure``
  with its reason code; the originated channel's ``Hangup`` later gives the monitor's ``ended``.
  No answer within ``answer_timeout_s`` (an Originate: the ring time on top) is ``failed``; so is
  every open action when the connection drops (``lost``), and an action read more than
  ``answer_timeout_s`` after it was asked (the PBX was unreachable meanwhile: doing it now would
  surprise the supervisor).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from collectors.ami.protocol import Frame, encode_action
from wallboard.core.actions import (
    ANSWER_TIMEOUT_S,
    RING_TIMEOUT_S,
    ActionFamily,
    AgentAction,
    chanspy_data,
    not_runnable,
)

__all__ = ["ActionRunner", "ActionSource", "Member", "MemberDirectory", "Outcome", "ORIGINATE_REASONS"]

log = logging.getLogger(__name__)

OutcomeState = Literal["done", "failed", "ended"]
# OriginateResponse Reason: the control frame that ended the dialling (Asterisk's enum ast_control_frame_type)
ORIGINATE_REASONS = {
    "0": "the channel could not be created (unknown technology or device, or not reachable)",
    "1": "hung up before answering",
    "3": "rang without an answer",
    "5": "busy",
    "8": "congestion",
}
_MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPaused"})


@dataclass(frozen=True)
class Outcome:
    """How an action ended (``done``/``failed``), or that a monitor's spy call hung up (``ended``)."""

    action: AgentAction
    state: OutcomeState
    message: str


class ActionSource(Protocol):
    """Where the client takes actions from and records their outcomes (``wallboard.admin.actions.ActionFeed``)."""

    async def take(self, block_s: float) -> list[AgentAction]: ...
    async def settle(self, outcome: Outcome) -> None: ...
    async def publish_members(self, members: Mapping[str, Mapping[str, Any]]) -> None: ...


@dataclass
class Member:
    """One queue member as the PBX showed it."""

    interface: str
    member_name: str | None = None
    state_interface: str | None = None
    queues: dict[str, str] = field(default_factory=dict)  # queue -> membership (dynamic, static, realtime)
    channel: str | None = None  # the channel of the call it is on (AgentConnect DestChannel)

    def public(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "member_name": self.member_name,
            "state_interface": self.state_interface,
            "queues": dict(sorted(self.queues.items())),
            "channel": self.channel,
        }


class MemberDirectory:
    """Queue members by interface and by member name, from the frames (see the module docstring)."""

    def __init__(self) -> None:
        self._members: dict[str, Member] = {}
        self._names: dict[str, str] = {}  # member name -> interface
        self.version = 0  # moves on with every change (the client republishes the directory then)

    def find(self, names: Iterable[str]) -> Member | None:
        """The member the first of ``names`` is the interface or the member name of."""
        for name in names:
            member = self._members.get(name) or self._members.get(self._names.get(name, ""))
            if member is not None:
                return member
        return None

    def public(self) -> dict[str, dict[str, Any]]:
        """Every member by interface (what the API checks an action against)."""
        return {interface: member.public() for interface, member in sorted(self._members.items())}

    def observe(self, frame: Frame) -> None:
        name = frame.name
        if frame.kind != "event":
            return
        if name in _MEMBER_EVENTS:
            self._learn(frame, frame.get("Interface"), frame.get("MemberName"))
        elif name == "QueueMember":  # an item of the QueueStatus list
            self._learn(frame, frame.get("Location") or frame.get("Interface"), frame.get("Name"))
        elif name == "QueueMemberRemoved":
            member = self._members.get(frame.get("Interface") or "")
            if member is not None and member.queues.pop(frame.get("Queue") or "", None) is not None:
                self._changed()
        elif name == "AgentConnect":
            self._learn(frame, frame.get("Interface"), frame.get("MemberName"), membership=False)
            self._on_call(frame.get("Interface"), frame.get("DestChannel"))
        elif name == "AgentComplete":
            member = self._members.get(frame.get("Interface") or "")
            channel = frame.get("DestChannel")
            if member is not None and member.channel is not None and channel in (None, member.channel):
                self._on_call(member.interface, None)
        elif name == "Hangup":
            channel = frame.get("Channel")
            for member in self._members.values():
                if channel is not None and member.channel == channel:
                    self._on_call(member.interface, None)

    def new_connection(self) -> None:
        """Forget memberships and calls (the resync tells them again); keep who is who."""
        for member in self._members.values():
            member.queues.clear()
            member.channel = None
        self._changed()

    def _learn(self, frame: Frame, interface: str | None, member_name: str | None, *, membership: bool = True) -> None:
        if not interface:
            return
        member = self._members.setdefault(interface, Member(interface))
        before = member.public()
        if member_name:
            member.member_name = member_name
            self._names[member_name] = interface
        member.state_interface = frame.get("StateInterface") or member.state_interface
        queue = frame.get("Queue")
        if queue and membership:
            member.queues[queue] = (frame.get("Membership") or "dynamic").lower()
        if member.public() != before:
            self._changed()

    def _on_call(self, interface: str | None, channel: str | None) -> None:
        member = self._members.get(interface or "")
        if member is not None and member.channel != channel:
            member.channel = channel
            self._changed()

    def _changed(self) -> None:
        self.version += 1


@dataclass
class _Open:
    """An action sent and not answered yet."""

    action: AgentAction
    parts: dict[str, str]  # ActionID -> what it is about (a queue name, "all queues", the extension)
    deadline: float
    answers: list[tuple[str, str]] = field(default_factory=list)  # (about, message) of the successes
    queued: bool = False  # an Originate the PBX queued: its OriginateResponse decides


class ActionRunner:
    """Turns agent actions into AMI actions and frames into their outcomes (see the module docstring)."""

    def __init__(
        self,
        enabled: Iterable[ActionFamily],
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        ring_timeout_s: float = RING_TIMEOUT_S,
    ) -> None:
        self.enabled = frozenset(enabled)
        self.answer_timeout_s = answer_timeout_s
        self.ring_timeout_s = ring_timeout_s
        self.directory = MemberDirectory()
        self._open: dict[str, _Open] = {}  # by the action's id
        self._by_action_id: dict[str, str] = {}  # AMI ActionID -> the action's id
        self._spying: dict[str, AgentAction] = {}  # Uniqueid (and channel) of a spy call -> its action

    @property
    def open(self) -> int:
        return len(self._open)

    def start(
        self, action: AgentAction, at: datetime, now: float, next_id: Callable[[], str]
    ) -> tuple[bytes, list[Outcome]]:
        """The bytes to send for ``action`` (b"" when it fails at once, with its outcome)."""
        if why := not_runnable(action, at, self.enabled, self.answer_timeout_s):
            return b"", [self._fail(action, why)]
        try:
            parts = self._build(action, next_id)
        except _Refused as exc:
            return b"", [self._fail(action, str(exc))]
        self._open[action.id] = _Open(action, {aid: about for aid, about, _ in parts}, now + self.answer_timeout_s)
        for action_id, _, _ in parts:
            self._by_action_id[action_id] = action.id
        return b"".join(data for _, _, data in parts), []

    def observe(self, frame: Frame) -> list[Outcome]:
        """Feed every frame read: members and calls are learned, answers become outcomes."""
        self.directory.observe(frame)
        if frame.kind == "response":
            return self._response(frame)
        if frame.kind == "event":
            if frame.name == "OriginateResponse":
                return self._originated(frame)
            if frame.name == "Hangup":
                return self._hung_up(frame)
        return []

    def expire(self, now: float) -> list[Outcome]:
        """Every open action whose answer is overdue, failed."""
        overdue = [entry for entry in self._open.values() if entry.deadline <= now]
        outcomes = []
        for entry in overdue:
            waited = self.answer_timeout_s + (self.ring_timeout_s if entry.queued else 0.0)
            outcomes.append(self._close(entry, "failed", f"no answer from the PBX within {waited:g} s"))
        return outcomes

    def lost(self) -> list[Outcome]:
        """The connection dropped: every open action failed (a spy call in progress keeps going, unwatched)."""
        outcomes = [
            self._close(entry, "failed", "the connection to the PBX was lost before its answer")
            for entry in list(self._open.values())
        ]
        self._spying.clear()
        self.directory.new_connection()
        return outcomes

    # -- building AMI actions -------------------------------------------------------------------

    def _build(self, action: AgentAction, next_id: Callable[[], str]) -> list[tuple[str, str, bytes]]:
        member = self.directory.find(action.candidates)
        kind = action.kind
        if kind == "monitor":
            return [self._originate(action, member, next_id())]
        interface = member.interface if member is not None else _interface_alias(action)
        if interface is None:
            tried = ", ".join(action.candidates)
            raise _Refused(f"the PBX has shown no queue member named {tried}: its interface is unknown")
        if kind in ("pause", "unpause"):
            fields = {"Interface": interface, "Paused": "true" if kind == "pause" else "false"}
            if action.queue:
                fields["Queue"] = action.queue
            if kind == "pause" and action.reason:
                fields["Reason"] = action.reason
            action_id = next_id()
            return [(action_id, action.queue or "all queues", encode_action("QueuePause", fields, action_id=action_id))]
        if kind == "login":
            return [self._queue_add(action, member, interface, next_id())]
        return [
            (aid, queue, encode_action("QueueRemove", {"Queue": queue, "Interface": interface}, action_id=aid))
            for queue, aid in ((queue, next_id()) for queue in _removable(action, member))
        ]

    def _queue_add(
        self, action: AgentAction, member: Member | None, interface: str, action_id: str
    ) -> tuple[str, str, bytes]:
        if not action.queue:
            raise _Refused("a login needs the queue to log the agent in to")
        name = member.member_name if member is not None and member.member_name else _display_name(action)
        fields = {"Queue": action.queue, "Interface": interface, "Penalty": str(action.penalty or 0)}
        fields["Paused"] = "false"
        fields["MemberName"] = name
        if member is not None and member.state_interface:
            fields["StateInterface"] = member.state_interface
        return action_id, action.queue, encode_action("QueueAdd", fields, action_id=action_id)

    def _originate(self, action: AgentAction, member: Member | None, action_id: str) -> tuple[str, str, bytes]:
        if not action.extension or action.mode is None:
            raise _Refused("a monitor action needs the supervisor's extension and a mode")
        if member is None or member.channel is None:
            raise _Refused(f"agent {action.agent} is on no call the collector has seen (no AgentConnect)")
        who = (member.member_name or action.agent).translate({ord(c): None for c in '"<>'})
        fields = {
            "Channel": action.extension,
            "Application": "ChanSpy",
            "Data": chanspy_data(member.channel, action.mode),
            "CallerID": f'"{action.mode}: {who}"'[:80],
            "Timeout": str(int(self.ring_timeout_s * 1000)),
            "Async": "true",
        }
        return action_id, action.extension, encode_action("Originate", fields, action_id=action_id)

    # -- answers --------------------------------------------------------------------------------

    def _response(self, frame: Frame) -> list[Outcome]:
        entry = self._entry_of(frame.action_id)
        if entry is None or frame.action_id is None:
            return []
        message = frame.get("Message") or frame.name
        about = entry.parts.get(frame.action_id, "")
        if frame.name.lower() != "success":
            label = f"{about}: {message}" if len(entry.parts) > 1 else message
            return [self._close(entry, "failed", label)]
        if entry.action.kind == "monitor":
            entry.queued = True
            entry.deadline += self.ring_timeout_s
            return []
        del entry.parts[frame.action_id]
        del self._by_action_id[frame.action_id]
        entry.answers.append((about, message))
        if entry.parts:
            return []
        if len(entry.answers) == 1:
            return [self._close(entry, "done", message)]
        done = sorted({text for _, text in entry.answers})
        return [self._close(entry, "done", f"{'; '.join(done)} ({', '.join(q for q, _ in entry.answers)})")]

    def _originated(self, frame: Frame) -> list[Outcome]:
        entry = self._entry_of(frame.action_id)
        if entry is None:
            return []
        channel = frame.get("Channel") or entry.action.extension or "?"
        if (frame.get("Response") or "").lower() == "success":
            for key in (frame.get("Uniqueid"), frame.get("Channel")):
                if key and key != "<unknown>":
                    self._spying[key] = entry.action
            return [self._close(entry, "done", f"spy call answered on {channel} ({entry.action.mode})")]
        reason = frame.get("Reason") or "?"
        text = ORIGINATE_REASONS.get(reason, "failed")
        return [self._close(entry, "failed", f"OriginateResponse: Failure, Reason: {reason} ({channel}: {text})")]

    def _hung_up(self, frame: Frame) -> list[Outcome]:
        action = None
        for key in (frame.get("Uniqueid"), frame.get("Channel")):
            if key and key in self._spying:
                action = self._spying[key]
        if action is None:
            return []
        for key in [key for key, spied in self._spying.items() if spied is action]:
            del self._spying[key]
        cause = frame.get("Cause-txt") or frame.get("Cause") or "hung up"
        return [Outcome(action, "ended", f"spy call hung up ({cause})")]

    def _entry_of(self, action_id: str | None) -> _Open | None:
        key = self._by_action_id.get(action_id or "")
        return self._open.get(key) if key is not None else None

    def _close(self, entry: _Open, state: OutcomeState, message: str) -> Outcome:
        self._open.pop(entry.action.id, None)
        for action_id in [aid for aid, key in self._by_action_id.items() if key == entry.action.id]:
            del self._by_action_id[action_id]
        return Outcome(entry.action, state, message)

    @staticmethod
    def _fail(action: AgentAction, message: str) -> Outcome:
        return Outcome(action, "failed", message)


class _Refused(Exception):
    """An action that cannot be sent as asked; never leaves ``ActionRunner.start``."""


def _removable(action: AgentAction, member: Member | None) -> list[str]:
    """The queues a logout sends QueueRemove for (see the module docstring)."""
    queues = dict(member.queues) if member is not None else {}
    if action.queue:
        if queues.get(action.queue) == "static":
            raise _Refused(f"{action.agent} is a static member of {action.queue} (queues.conf): it cannot be removed")
        return [action.queue]
    dynamic = sorted(queue for queue, membership in queues.items() if membership != "static")
    if dynamic:
        return dynamic
    if queues:
        static = ", ".join(sorted(queues))
        raise _Refused(f"{action.agent} is a static member of {static} (queues.conf): it cannot be removed")
    raise _Refused(f"{action.agent} is in no queue the collector knows of")


def _interface_alias(action: AgentAction) -> str | None:
    """An alias of the agent that names an interface (``PJSIP/2001``), for an agent the PBX has not shown yet."""
    return next((name for name in action.candidates if "/" in name), None)


def _display_name(action: AgentAction) -> str:
    """The member name for an agent the PBX has not shown yet: the site file's name, else the agent id."""
    return next((name for name in action.names if "/" not in name), action.agent)
