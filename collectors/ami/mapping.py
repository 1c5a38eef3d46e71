"""AMI frames -> normalised events (pure): what Asterisk 11 to 22 says, turned into ``wallboard.core.events``.

Theory of operation
-------------------
``AmiMapper.feed(frame, received_at)`` looks the frame's name up in a dict of small handlers and
returns the events it implies (often none). Time is an argument: an event's ``ts`` is the frame's
``Timestamp:`` header (``timestampevents=yes``, epoch seconds, UTC) when present, else
``received_at``. Nothing here reads the clock or does I/O.

A waiting call is tracked per Uniqueid of its queue leg, because the outcome of a call that leaves
the queue unanswered is only known *after* the leave (tests/fixtures/asterisk22-light/PROVENANCE.md, quirks 1 and 12)::

    joined ──QueueCallerAbandon──► abandoned? ──Leave──► (pending) ──Hangup───────────► CallAbandoned
       │                                                    └────VarSet QUEUESTATUS──► CallExited(reason)
       └──Leave──► left (pending) ──AgentConnect──► answered ──AgentComplete──► CallEnded
                        ├──VarSet QUEUESTATUS──► CallExited(reason)
                        └──Hangup──► CallExited("unknown")

* Asterisk sends QueueCallerAbandon for timeouts (and leave-when-empty) too: only a Hangup with
  no ``QUEUESTATUS`` VarSet before it is an abandon. The AMI user therefore needs the ``dialplan``
  read class (VarSet); the other VarSets are dropped by ``make_drop_predicate()`` before parsing.
* ``QUEUESTATUS`` values: TIMEOUT -> timeout, FULL -> full, JOINEMPTY/LEAVEEMPTY/JOINUNAVAIL/
  LEAVEUNAVAIL -> empty, WITHDRAW -> withdraw, CONTINUE -> nothing (an answered call continuing),
  anything else -> unknown. A QUEUESTATUS for a Uniqueid never seen in a queue (FULL or JOINEMPTY
  at join time: no QueueCallerJoin is sent) is ignored: that call never entered the queue.
* A leave with neither a connect nor an abandon and no QUEUESTATUS (exit with key, or a dialplan
  that cleared the variable) is ``CallExited("unknown")``: AMI cannot tell an exit with key.
  Nothing is ever *guessed* abandoned.
* The outcome event carries the time the caller left the queue (the QueueCallerAbandon or Leave,
  whichever came first), not the time of the Hangup/VarSet that decided it; ``wait_s`` is the
  abandon's HoldTime, else leave minus join time (None when the join was not seen).
* On AgentConnect the mapper emits ``AgentRang(answered=True)`` *then* ``CallAnswered``
  (the ring ends, then the talk begins); a call never seen joining is still answered. AgentConnect
  RingTime is seconds, AgentRingNoAnswer RingTime is milliseconds (quirk 4). AgentCalled carries
  nothing used (ringing is told by QueueMemberStatus) and is dropped with the other chatter.
* AgentComplete without channel fields (quirk 3) is matched to the only open answered call of
  that member in that queue; with none or several, ``call_id`` stays None and the engine resolves.
* Agent identity: ``agent`` is the member name, else the interface; ``interface`` and
  ``member_name`` are always filled when the frame tells them (``MemberName``/``Interface`` in
  12+ events, ``Location``/``Member`` in 11, ``Name``/``Location`` in QueueStatus lists; quirk 5).
* Caller ids: Asterisk's placeholders ``<unknown>`` and ``unknown`` (any case) become ``""``;
  real CNAM text such as ``WIRELESS CALLER`` is kept.
* Member ``Wrapuptime: 0`` means "use the queue's wrap-up time": it is mapped to ``None``, as is
  ``ServiceLevel: 0`` (unset).
* Channel matching uses a call's caller channel and agent channel, with a ``Local/...;1``/``;2``
  suffix removed so both halves of a Local channel match, and the agent leg's Uniqueid. Every
  Hold/Unhold (11: ``Hold`` with ``Status: On/Off``) is a ``CallHold``, with ``call_id``/``agent``
  when its channel or Uniqueid belongs to a known call. A successful Attended/BlindTransfer (11:
  ``Transfer``) is a ``CallTransferred`` only when one of its channels or Uniqueids belongs to an
  answered queue call (target: ``Extension@Context``, else the target channel or ``DestApp``); the
  call still ends with its AgentComplete (Reason: transfer).
* Lists: QueueStatus/QueueSummary responses and their items go to a ``ListAssembler``; a complete
  QueueStatus list becomes one ``Snapshot``. QueueSummary figures are EWMA (quirk 13): ignored.
* A banner after a session (or ``connection_lost()``) is a reconnect: pending outcomes become
  ``CallExited("unknown")`` (stamped with their leave time), then ``SourceReset("reconnect")``; all
  per-connection tracking and the list assembler are reset. The first banner emits nothing.
* ``finish()`` closes pending outcomes the same way, without a reset; calls still waiting are
  left open (their outcome is not over, only unseen).
* Counters: ``ignored`` counts well-formed frames that carry nothing for the wallboard (responses,
  unrelated events, Hangups of other channels...); unusable frames (missing or invalid required
  fields) are logged at WARNING with their byte offset and counted in ``rejected``; ``feed()``
  never raises. The call map is bounded
  (``max_calls``, oldest dropped first and counted in ``evicted``) so lost Hangups cannot leak.

Layout: the call handlers (queue, answer, hold, transfer) and the call bookkeeping are here; the
member and QueueStatus-list handlers are ``collectors.ami.members.MemberMapping``, mixed into
``AmiMapper``; the header readers they share are ``collectors.ami.fields``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from collectors.ami.fields import MAX_SECONDS as MAX_SECONDS  # re-exported: importers of the old module
from collectors.ami.fields import Reject, caller, chan_key, event_time, first, integer, member, required, seconds
from collectors.ami.frames import Frame
from collectors.ami.lists import ListAssembler
from collectors.ami.members import MemberMapping
from collectors.ami.protocol import drop_events
from wallboard.core.events import (
    AgentRang,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallHold,
    CallQueued,
    CallTransferred,
    EndedBy,
    Event,
    ExitReason,
    SourceReset,
)

logger = logging.getLogger(__name__)

MAX_CALLS = 100_000

_QUEUESTATUS: dict[str, ExitReason | None] = {
    "TIMEOUT": "timeout", "FULL": "full", "WITHDRAW": "withdraw", "CONTINUE": None,
    "JOINEMPTY": "empty", "LEAVEEMPTY": "empty", "JOINUNAVAIL": "empty", "LEAVEUNAVAIL": "empty",
}  # fmt: skip
_ENDED_BY: dict[str, EndedBy] = {"caller": "caller", "agent": "agent", "transfer": "transfer"}
# The figure an event should carry, and the reason a frame without it is counted as degraded.
_FIGURES = {"call_answered": ("wait_s", "HoldTime"), "call_ended": ("talk_s", "TalkTime")}
_LIST_NAMES = "QueueParams QueueMember QueueEntry QueueStatusComplete QueueSummary QueueSummaryComplete".split()
# Where a transfer names its channels and Uniqueids (12+ Attended/BlindTransfer, 11 Transfer).
_TRANSFER_PARTIES = "Transferer Transferee OrigTransferer SecondTransferer TransferTarget Target".split()
_TRANSFER_UIDS = (*(p + "Uniqueid" for p in _TRANSFER_PARTIES), "Uniqueid")
_TRANSFER_CHANNELS = (*(p + "Channel" for p in _TRANSFER_PARTIES), "Channel")

# Events the mapper never needs, dropped as bytes before parsing (VarSet is kept for QUEUESTATUS only).
# AgentCalled/AgentDump carry nothing used: ringing comes from QueueMemberStatus, ring outcomes from
# AgentConnect/AgentRingNoAnswer.
DROPPED_EVENTS = tuple(
    """
    VarSet Newexten Newchannel NewCallerid NewConnectedLine NewAccountCode Newstate
    DialBegin DialEnd DialState Dial Bridge BridgeCreate BridgeDestroy BridgeEnter BridgeLeave BridgeMerge
    BridgeInfoChannel BridgeInfoComplete BridgeVideoSourceUpdate LocalBridge LocalOptimizationBegin
    LocalOptimizationEnd DeviceStateChange ExtensionStatus SoftHangupRequest HangupRequest RTCPSent
    RTCPReceived Cdr CEL AGIExec AGIExecStart AGIExecEnd ChannelUpdate PeerStatus ContactStatus Registry
    MusicOnHoldStart MusicOnHoldStop NewPeerAccount DTMFBegin DTMFEnd AgentCalled AgentDump
    """.split()
)

_PENDING = ("left", "abandoned")


class _Call:
    """What the mapper knows of one queue call, keyed by the Uniqueid of its queue leg."""

    __slots__ = ("uid", "queue", "state", "joined_at", "left_at", "position", "wait_s", "agent_key", "links")

    def __init__(self, uid: str, queue: str) -> None:
        self.uid = uid
        self.queue = queue
        self.state = "waiting"  # waiting | left | abandoned | answered | done
        self.joined_at: datetime | None = None
        self.left_at: datetime | None = None
        self.position: int | None = None
        self.wait_s: float | None = None
        self.agent_key: tuple[str, str] | None = None  # (queue, agent) of an answered call
        self.links: list[str] = []  # channel keys / agent Uniqueids that point to this call


_Handler = Callable[[Frame, datetime], list[Event] | None]


def make_drop_predicate() -> Callable[[bytes], bool]:
    """A byte predicate for ``AmiParser(drop=...)`` dropping every frame the mapper never needs."""
    return drop_events(DROPPED_EVENTS, keep_varset=("QUEUESTATUS",))


class AmiMapper(MemberMapping):
    """Turns parsed AMI frames into normalised events; see the module docstring for the rules."""

    def __init__(self, *, site: str = "default", source: str = "ami", max_calls: int = MAX_CALLS) -> None:
        self.site = site
        self.source = source
        self.max_calls = max_calls
        self.ignored = 0
        self.rejected = 0
        self.degraded = 0  # frames mapped without their HoldTime or TalkTime (absent, not a number, absurd)
        self.degraded_by_reason: dict[str, int] = {}
        self.reconnects = 0
        self.evicted = 0
        self._session_open = False
        self._calls: dict[str, _Call] = {}
        self._links: dict[str, str] = {}
        self._open: dict[tuple[str, str], list[str]] = {}
        self._lists = ListAssembler()
        self._handlers: dict[str, _Handler] = {
            "QueueCallerJoin": self._join,
            "Join": self._join,
            "QueueCallerAbandon": self._abandon,
            "QueueCallerLeave": self._leave,
            "Leave": self._leave,
            "VarSet": self._varset,
            "Hangup": self._hangup,
            "AgentConnect": self._connect,
            "AgentComplete": self._complete,
            "AgentRingNoAnswer": self._ring_no_answer,
            "QueueMemberAdded": self._member_added,
            "QueueMemberRemoved": self._member_removed,
            "QueueMemberPause": self._member_pause,
            "QueueMemberPaused": self._member_pause,
            "QueueMemberStatus": self._member_status,
            "Hold": self._hold,
            "Unhold": self._hold,
            "AttendedTransfer": self._transfer,
            "BlindTransfer": self._transfer,
            "Transfer": self._transfer,
        }
        for name in _LIST_NAMES:
            self._handlers[name] = self._list_item

    # -- public API -------------------------------------------------------------------------------

    def feed(self, frame: Frame, received_at: datetime) -> list[Event]:
        """The events one frame implies (often none); never raises for any frame."""
        kind = frame.kind
        if kind == "banner":
            return self._banner(received_at)
        self._session_open = True
        if kind == "event":
            handler = self._handlers.get(frame.name)
        elif kind == "response":
            handler = self._response
        else:
            handler = None
        if handler is None:
            self.ignored += 1
            return []
        try:
            events = handler(frame, received_at)
        except (Reject, ValueError) as exc:  # pydantic.ValidationError is a ValueError
            self.rejected += 1
            logger.warning("rejected AMI %s frame at offset %d: %s", frame.name, frame.offset, exc)
            return []
        if events is None:
            self.ignored += 1
            return []
        for event in events:
            figure = _FIGURES.get(event.kind)
            if figure is not None and getattr(event, figure[0]) is None:
                self.degraded += 1
                self.degraded_by_reason[figure[1]] = self.degraded_by_reason.get(figure[1], 0) + 1
        return events

    def connection_lost(self, at: datetime) -> list[Event]:
        """The socket dropped: same effect as a new banner (nothing if no session was open)."""
        if not self._session_open:
            return []
        self._session_open = False
        return self._reset(at)

    def finish(self, at: datetime) -> list[Event]:
        """End of input: pending outcomes can no longer be told and become ``CallExited("unknown")``."""
        return self._close_pending(at)

    # -- connection -------------------------------------------------------------------------------

    def _banner(self, received_at: datetime) -> list[Event]:
        if not self._session_open:
            self._session_open = True
            return []
        return self._reset(received_at)

    def _reset(self, at: datetime) -> list[Event]:
        events = self._close_pending(at)
        events.append(SourceReset(ts=at, site=self.site, source=self.source, reason="reconnect"))
        self._calls.clear()
        self._links.clear()
        self._open.clear()
        self._lists.reset()
        self.reconnects += 1
        return events

    def _close_pending(self, at: datetime) -> list[Event]:
        events: list[Event] = []
        for call in [c for c in self._calls.values() if c.state in _PENDING]:
            events.append(self._exited(call, "unknown", call.left_at or at))
            self._forget(call)
        return events

    # -- call bookkeeping -------------------------------------------------------------------------

    def _remember(self, call: _Call) -> None:
        self._calls[call.uid] = call
        while len(self._calls) > self.max_calls:
            oldest = self._calls[next(iter(self._calls))]
            self._forget(oldest)
            self.evicted += 1

    def _forget(self, call: _Call) -> None:
        if self._calls.get(call.uid) is call:
            del self._calls[call.uid]
        for link in call.links:
            if self._links.get(link) == call.uid:
                del self._links[link]
        if call.agent_key is not None:
            uids = self._open.get(call.agent_key)
            if uids is not None and call.uid in uids:
                uids.remove(call.uid)
                if not uids:
                    del self._open[call.agent_key]
        call.links = []
        call.agent_key = None

    def _link(self, call: _Call, key: str | None) -> None:
        if key:
            self._links[key] = call.uid
            call.links.append(key)

    def _call_for(self, frame: Frame, queue: str) -> _Call:
        """The tracked call of the frame's Uniqueid, or a new one (it joined while we were away)."""
        uid = required(frame, "Uniqueid")
        call = self._calls.get(uid)
        if call is None or call.state == "done":
            call = _Call(uid, queue)
            self._remember(call)
        return call

    def _exited(self, call: _Call, reason: ExitReason, ts: datetime) -> CallExited:
        call.state = "done"
        return CallExited(
            ts=ts,
            site=self.site,
            source=self.source,
            call_id=call.uid,
            queue=call.queue,
            reason=reason,
            wait_s=self._wait(call),
            position=call.position,
        )

    @staticmethod
    def _wait(call: _Call) -> float | None:
        if call.wait_s is not None:
            return call.wait_s
        if call.joined_at is not None and call.left_at is not None:
            return max(0.0, (call.left_at - call.joined_at).total_seconds())
        return None

    # -- waiting calls ----------------------------------------------------------------------------

    def _join(self, frame: Frame, received_at: datetime) -> list[Event]:
        uid = required(frame, "Uniqueid")
        queue = required(frame, "Queue")
        position = integer(frame.get("Position"), "Position")
        meta = self._meta(frame, received_at)
        ts: datetime = meta["ts"]
        event = CallQueued(
            **meta,
            call_id=uid,
            queue=queue,
            position=1 if position is None else position,
            caller=caller(first(frame, "CallerIDNum", "CallerID")),
            caller_name=caller(frame.get("CallerIDName")),
        )
        events: list[Event] = []
        previous = self._calls.get(uid)
        if previous is not None:  # the same channel queues again: what it did before is over
            if previous.state in _PENDING:
                events.append(self._exited(previous, "unknown", previous.left_at or ts))
            self._forget(previous)
        call = _Call(uid, queue)
        call.joined_at = ts
        call.position = position
        self._remember(call)
        channel = frame.get("Channel")
        self._link(call, chan_key(channel) if channel else None)
        events.append(event)
        return events

    def _abandon(self, frame: Frame, received_at: datetime) -> list[Event]:
        queue = required(frame, "Queue")
        wait = seconds(first(frame, "HoldTime", "Holdtime"), "HoldTime")
        position = integer(frame.get("Position"), "Position")
        call = self._call_for(frame, queue)
        if call.state in ("answered", "done"):
            return []
        call.state = "abandoned"
        call.wait_s = wait
        call.position = position if position is not None else call.position
        call.left_at = call.left_at or event_time(frame, received_at)
        return []

    def _leave(self, frame: Frame, received_at: datetime) -> list[Event]:
        queue = required(frame, "Queue")
        position = integer(frame.get("Position"), "Position")
        call = self._call_for(frame, queue)
        if call.state != "waiting":
            return []
        call.state = "left"
        call.left_at = event_time(frame, received_at)
        call.position = position if position is not None else call.position
        return []

    def _varset(self, frame: Frame, received_at: datetime) -> list[Event] | None:
        if frame.get("Variable") != "QUEUESTATUS":
            return None
        call = self._calls.get(frame.get("Uniqueid") or "")
        if call is None or call.state in ("answered", "done"):
            return None
        value = (frame.get("Value") or "").strip().upper()
        reason = _QUEUESTATUS.get(value, "unknown")
        if reason is None:
            return None
        ts = call.left_at or event_time(frame, received_at)
        return [self._exited(call, reason, ts)]

    def _hangup(self, frame: Frame, received_at: datetime) -> list[Event] | None:
        call = self._calls.get(frame.get("Uniqueid") or "")
        if call is None:
            return None
        if call.state == "answered":  # the AgentComplete ends it (it may even come later, quirk 3)
            return []
        if call.state == "done":
            self._forget(call)
            return []
        ts = call.left_at or event_time(frame, received_at)
        if call.state == "abandoned":
            event: Event = CallAbandoned(
                ts=ts,
                site=self.site,
                source=self.source,
                call_id=call.uid,
                queue=call.queue,
                wait_s=call.wait_s,
                position=call.position,
            )
            call.state = "done"
        else:  # left (exit with key?) or still waiting with its Leave lost: never guessed abandoned
            event = self._exited(call, "unknown", ts)
        self._forget(call)
        return [event]

    # -- answered calls ---------------------------------------------------------------------------

    def _connect(self, frame: Frame, received_at: datetime) -> list[Event]:
        uid = required(frame, "Uniqueid")
        queue = required(frame, "Queue")
        who = member(frame)
        wait = seconds(first(frame, "HoldTime", "Holdtime"), "HoldTime")
        ring = seconds(first(frame, "RingTime", "Ringtime"), "RingTime")
        new_layout = "DestChannel" in frame  # 12+: Channel is the caller, DestChannel the agent
        agent_channel = frame.get("DestChannel") if new_layout else frame.get("Channel")
        meta = self._meta(frame, received_at)
        rang = AgentRang(**meta, **who, call_id=uid, queue=queue, answered=True, ring_s=ring)
        answered = CallAnswered(
            **meta,
            **who,
            call_id=uid,
            queue=queue,
            wait_s=wait,
            ring_s=ring,
            agent_channel=agent_channel or None,
        )
        call = self._call_for(frame, queue)
        if call.state == "answered":  # a repeated AgentConnect: already tracked
            return [rang, answered]
        call.state = "answered"
        call.agent_key = (queue, answered.agent)
        self._open.setdefault(call.agent_key, []).append(uid)
        caller_channel = frame.get("Channel") if new_layout else None
        self._link(call, chan_key(caller_channel) if caller_channel else None)
        self._link(call, chan_key(agent_channel) if agent_channel else None)
        self._link(call, frame.get("DestUniqueid") or frame.get("BridgedChannel"))
        return [rang, answered]

    def _complete(self, frame: Frame, received_at: datetime) -> list[Event]:
        queue = required(frame, "Queue")
        who = member(frame)
        talk = seconds(frame.get("TalkTime"), "TalkTime")
        uid = frame.get("Uniqueid") or None
        call = self._calls.get(uid) if uid else self._only_open_call(queue, who["agent"])
        event = CallEnded(
            **self._meta(frame, received_at),
            **who,
            call_id=uid or (call.uid if call else None),
            queue=queue,
            talk_s=talk,
            wait_s=seconds(first(frame, "HoldTime", "Holdtime"), "HoldTime"),
            ended_by=_ENDED_BY.get((frame.get("Reason") or "").lower(), "unknown"),
        )
        if call is not None and call.state == "answered":
            self._forget(call)
        return [event]

    def _only_open_call(self, queue: str, agent: str) -> _Call | None:
        uids = self._open.get((queue, agent))
        if uids is None or len(uids) != 1:
            return None
        return self._calls.get(uids[0])

    def _ring_no_answer(self, frame: Frame, received_at: datetime) -> list[Event]:
        ring = seconds(first(frame, "RingTime", "Ringtime"), "RingTime", scale=0.001)  # ms (quirk 4)
        return [
            AgentRang(
                **self._meta(frame, received_at),
                **member(frame),
                call_id=frame.get("Uniqueid") or None,
                queue=required(frame, "Queue"),
                answered=False,
                ring_s=ring,
            )
        ]

    def _hold(self, frame: Frame, received_at: datetime) -> list[Event]:
        channel = required(frame, "Channel")
        status = frame.get("Status")  # Asterisk 11: Event: Hold with Status: On/Off
        held = frame.name == "Hold" and (status is None or status.lower() != "off")
        call = self._calls.get(frame.get("Uniqueid") or "")
        if call is None:
            uid = self._links.get(chan_key(channel))
            call = self._calls.get(uid) if uid else None
        return [
            CallHold(
                **self._meta(frame, received_at),
                call_id=call.uid if call else None,
                agent=call.agent_key[1] if call and call.agent_key else None,
                pbx_channel=channel,
                held=held,
            )
        ]

    def _transfer(self, frame: Frame, received_at: datetime) -> list[Event] | None:
        result = frame.get("Result")
        if result is not None and result.lower() != "success":
            return None
        call = self._transferred_call(frame)
        if call is None or call.agent_key is None:
            return None
        extension = frame.get("Extension") or frame.get("TransferExten")
        context = frame.get("Context") or frame.get("TransferContext")
        if extension:
            target = f"{extension}@{context}" if context else extension
        else:
            target = first(frame, "TransferTargetChannel", "DestApp", "TargetChannel") or ""
        return [
            CallTransferred(
                **self._meta(frame, received_at),
                call_id=call.uid,
                queue=call.agent_key[0],
                agent=call.agent_key[1],
                target=target,
            )
        ]

    def _transferred_call(self, frame: Frame) -> _Call | None:
        """The answered queue call one of the transfer's channels or Uniqueids belongs to."""
        for key in _TRANSFER_UIDS:
            uid = frame.get(key)
            if uid:
                call = self._calls.get(uid) or self._calls.get(self._links.get(uid, ""))
                if call is not None and call.state == "answered":
                    return call
        for key in _TRANSFER_CHANNELS:
            channel = frame.get(key)
            if channel:
                call = self._calls.get(self._links.get(chan_key(channel), ""))
                if call is not None and call.state == "answered":
                    return call
        return None
