"""Simulation events -> the bytes Asterisk 22 writes on AMI (pure; field names and order copied from a real PBX).

Theory of operation
-------------------
``AmiFormatter.events(sim_event)`` returns the frames one model occurrence makes Asterisk
write, as ``AmiEvent(name, privilege bit, bytes)``; the server sends each frame to the
sessions whose event mask has that bit. The formatter is the PBX: it invents channels
(``PJSIP/trunk-0000001a``, ``Local/support@queue-entry-00000000;2``, ``PJSIP/1001-0000001b``,
``Local/agent01@agents-00000003;1``), Uniqueids ``<epoch>.<counter>`` with the first channel of
a call as Linkedid, and remembers them per call until the call hangs up.

Layouts and orders follow app_queue/manager of Asterisk 22 and the captured transcript
(quirks of tests/fixtures/asterisk22-light/PROVENANCE.md):

* queue events: channel snapshot headers, then ``Queue``, ``Position``, ``Count`` (join/leave),
  ``OriginalPosition``, ``HoldTime`` (abandon), ``Dest*`` agent channel and ``Interface``,
  ``MemberName`` (agent events), ``RingTime`` in ms for AgentRingNoAnswer and in s for AgentConnect;
* abandon: QueueCallerAbandon -> QueueCallerLeave -> Hangup; timeout: QueueCallerAbandon ->
  QueueCallerLeave -> VarSet QUEUESTATUS=TIMEOUT -> Hangup; answered: QueueCallerLeave ->
  AgentConnect (same batch) ... AgentComplete -> Hangups; about 3% of AgentComplete come without
  channel fields (quirk 3); transferred: ... BlindTransfer (Transferer = the agent's channel in the
  bridge, Transferee = the caller's queue leg) -> AgentComplete (Reason: transfer) -> BridgeLeave ->
  the agent's Hangup -> the caller's Newexten (Dial at the target) -> Hangups;
* member events use ``MemberName``/``Interface``, QueueStatus' QueueMember ``Name``/``Location``
  (quirk 5); ``Status`` is the numeric device state (a Local channel reports ringing and hold as
  in use, as Asterisk's Local device state does);
* dialplan noise (Newchannel, Newexten, Newstate, DeviceStateChange, Bridge*, Dial*, and many
  VarSets) so that about half of all frames are VarSet, as on a real PBX.

Integer seconds are computed the way app_queue does: ``time(NULL) - start`` of whole epochs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from collectors.simulator.ami_frames import (
    DEVICE_NAME,
    AmiEvent,
    Channel,
    Pairs,
    agent_fields,
    ami_event,
    blind_transfer,
    bridge_fields,
    device_status,
    devstate,
    encode_frame,
    epoch,
    hangup,
    hangup_done,
    hangup_request,
    list_complete,
    member_fields,
    newexten,
    newstate,
    queue_params_fields,
    response,
    status_member_fields,
    varset,
)
from collectors.simulator.config import SimConfig
from collectors.simulator.views import CallerInfo, MemberView, SimEvent, SimKind, SimState


def _member_of(event: SimEvent) -> MemberView:
    assert event.member is not None, f"{event.kind} without a member"
    return event.member


CallerStyle = Literal["pjsip", "local"]


@dataclass(eq=False)
class _Legs:
    """The channels of one call: the caller's (queue leg last) and, per rung agent, the agent's."""

    caller: list[Channel]
    agents: dict[str, list[Channel]] = field(default_factory=dict)
    bridge: str = ""

    @property
    def queue_leg(self) -> Channel:
        return self.caller[-1]


@dataclass
class _Tally:
    """Just enough of a queue's counters for the QUEUE* channel variables (noise)."""

    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0


class AmiFormatter:
    """Turns ``SimEvent``s into Asterisk 22 AMI frames and answers QueueStatus/QueueSummary."""

    def __init__(
        self,
        config: SimConfig,
        *,
        seed: int = 0,
        caller_style: CallerStyle = "pjsip",
        bare_complete_probability: float = 0.03,
    ) -> None:
        self._config = config
        self._rng = random.Random(f"{seed}:ami")
        self._caller_style = caller_style
        self._bare_p = bare_complete_probability
        self._uid = 0
        self._pjsip_seq = 0x1A
        self._local_seq = 0
        self._calls: dict[str, _Legs] = {}
        self._tally = {spec.name: _Tally() for spec in config.queues}
        self._device: dict[str, int] = {}
        self._handlers: dict[SimKind, Callable[[SimEvent], list[AmiEvent]]] = {
            "caller_join": self._on_caller_join,
            "caller_abandon": lambda event: self._unanswered(event, timeout=False),
            "caller_timeout": lambda event: self._unanswered(event, timeout=True),
            "agent_called": self._on_agent_called,
            "agent_ring_cancelled": self._on_agent_ring_cancelled,
            "agent_ring_no_answer": self._on_agent_ring_no_answer,
            "agent_connect": self._on_agent_connect,
            "agent_complete": self._on_agent_complete,
            "call_hold": lambda event: self._hold(event, "Hold"),
            "call_unhold": lambda event: self._hold(event, "Unhold"),
            "member_added": lambda event: self._member_event(event, "QueueMemberAdded", pause_device=True),
            "member_removed": lambda event: self._member_event(event, "QueueMemberRemoved"),
            "member_paused": lambda event: self._member_event(event, "QueueMemberPause", pause_device=True),
            "member_unpaused": lambda event: self._member_event(event, "QueueMemberPause", pause_device=True),
            "member_status": self._on_member_status,
        }

    # ------------------------------------------------------------------ public

    def events(self, event: SimEvent) -> list[AmiEvent]:
        """The frames Asterisk writes for one simulation event, in order."""
        return self._handlers[event.kind](event)

    def queue_status(
        self, state: SimState, action_id: str | None, queue: str | None = None, member: str | None = None
    ) -> bytes:
        """The whole answer to ``Action: QueueStatus``: ack, QueueParams/QueueMember/QueueEntry, complete."""
        parts = [response("Success", action_id, [("EventList", "start"), ("Message", "Queue status will follow")])]
        tail = [("ActionID", action_id)] if action_id else []
        now = epoch(state.ts)
        items = 0
        for view in state.queues:
            if queue and view.spec.name.lower() != queue.lower():
                continue
            parts.append(encode_frame([("Event", "QueueParams"), *queue_params_fields(view), *tail]))
            items += 1
            for m in state.members:
                if m.queue == view.spec.name and (not member or member in (m.interface, m.name)):
                    parts.append(encode_frame([("Event", "QueueMember"), *status_member_fields(m), *tail]))
                    items += 1
            for entry in state.entries:
                if entry.queue == view.spec.name:
                    parts.append(
                        encode_frame([("Event", "QueueEntry"), *self._entry(entry.caller, entry.position, now), *tail])
                    )
                    items += 1
        parts.append(list_complete("QueueStatusComplete", action_id, items))
        return b"".join(parts)

    def queue_summary(self, state: SimState, action_id: str | None, queue: str | None = None) -> bytes:
        """The whole answer to ``Action: QueueSummary``."""
        parts = [response("Success", action_id, [("EventList", "start"), ("Message", "Queue summary will follow")])]
        tail = [("ActionID", action_id)] if action_id else []
        now = epoch(state.ts)
        items = 0
        for view in state.queues:
            name = view.spec.name
            if queue and name.lower() != queue.lower():
                continue
            members = [m for m in state.members if m.queue == name]
            waits = [now - epoch(e.caller.joined_at) for e in state.entries if e.queue == name]
            pairs = [
                ("Queue", name),
                ("LoggedIn", str(len(members))),
                ("Available", str(sum(device_status(m) == 1 and not m.paused for m in members))),
                ("Callers", str(view.calls)),
                ("HoldTime", str(view.holdtime)),
                ("TalkTime", str(view.talktime)),
                ("LongestHoldTime", str(max(waits, default=0))),
            ]
            parts.append(encode_frame([("Event", "QueueSummary"), *pairs, *tail]))
            items += 1
        parts.append(list_complete("QueueSummaryComplete", action_id, items))
        return b"".join(parts)

    # ------------------------------------------------------------------ channels

    def new_channel(self, base: str, ts: datetime, context: str, exten: str) -> Channel:
        """A channel outside the queue calls (an originated one): ``PJSIP/2001-0000001c`` or a Local ``;1``."""
        return self._new_chans(base, ts, None, context, exten)[0]

    def live_channels(self) -> list[Channel]:
        """The channels of the calls in progress, callers' legs then agents', oldest call first."""
        return [
            chan for legs in self._calls.values() for chans in (legs.caller, *legs.agents.values()) for chan in chans
        ]

    def _uniqueid(self, ts: datetime) -> str:
        uid = f"{epoch(ts)}.{self._uid}"
        self._uid += 1
        return uid

    def _new_chans(self, base: str, ts: datetime, linkedid: str | None, context: str, exten: str) -> list[Channel]:
        """One PJSIP channel, or the ;1/;2 pair of a Local channel."""
        if base.startswith("Local/"):
            name = f"{base.removesuffix('/n')}-{self._local_seq:08x}"
            self._local_seq += 1
            first = self._uniqueid(ts)
            link = linkedid or first
            return [
                Channel(f"{name};1", first, link, context, exten),
                Channel(f"{name};2", self._uniqueid(ts), link, context, exten),
            ]
        name = f"{base}-{self._pjsip_seq:08x}"
        self._pjsip_seq += 1
        uid = self._uniqueid(ts)
        return [Channel(name, uid, linkedid or uid, context, exten)]

    # ------------------------------------------------------------------ frame helpers

    def _queue_vars(self, chan: Channel, queue: str, calls: int) -> list[AmiEvent]:
        spec, tally = self._config.queue(queue), self._tally[queue]
        perf = 100.0 * tally.completed / max(tally.completed + tally.abandoned, 1) if tally.completed else 0.0
        values = [
            ("QUEUENAME", queue),
            ("QUEUEMAX", "0"),
            ("QUEUESTRATEGY", spec.strategy),
            ("QUEUECALLS", str(calls)),
            ("QUEUEHOLDTIME", str(tally.holdtime)),
            ("QUEUETALKTIME", str(tally.talktime)),
            ("QUEUECOMPLETED", str(tally.completed)),
            ("QUEUEABANDONED", str(tally.abandoned)),
            ("QUEUESRVLEVEL", str(spec.servicelevel_s)),
            ("QUEUESRVLEVELPERF", f"{perf:.1f}"),
        ]
        return [varset(chan, key, value) for key, value in values]

    def _entry(self, caller: CallerInfo, position: int, now: int) -> Pairs:
        legs = self._calls.get(caller.call_id)
        channel, uid = (legs.queue_leg.name, legs.queue_leg.uniqueid) if legs else (caller.call_id, caller.call_id)
        num, name = caller.number or "unknown", caller.name or "unknown"
        return [
            ("Queue", caller.queue),
            ("Position", str(position)),
            ("Channel", channel),
            ("Uniqueid", uid),
            ("CallerIDNum", num),
            ("CallerIDName", name),
            ("ConnectedLineNum", num),
            ("ConnectedLineName", name),
            ("Wait", str(now - epoch(caller.joined_at))),
            ("Priority", "0"),
        ]

    def _legs(self, event: SimEvent) -> tuple[CallerInfo, _Legs]:
        caller = event.caller
        assert caller is not None, f"{event.kind} without a caller"
        legs = self._calls.get(caller.call_id)
        if legs is None:  # a join, or a call that joined before this formatter existed: make its channels
            legs = self._join_legs(caller, event.ts)
        return caller, legs

    # ------------------------------------------------------------------ callers

    def _join_legs(self, caller: CallerInfo, ts: datetime) -> _Legs:
        if self._caller_style == "local":
            chans = self._new_chans(f"Local/{caller.queue}@queue-entry", ts, None, "queue-entry", caller.queue)
        else:
            chans = self._new_chans("PJSIP/trunk", ts, None, "from-trunk", caller.queue)
        for chan in chans:
            chan.cid_num, chan.cid_name = caller.number, caller.name
        legs = _Legs(chans)
        self._calls[caller.call_id] = legs
        return legs

    def _on_caller_join(self, event: SimEvent) -> list[AmiEvent]:
        caller, legs = self._legs(event)
        spec = self._config.queue(event.queue)
        leg = legs.queue_leg
        out = [ami_event("Newchannel", "call", chan.pairs()) for chan in legs.caller]
        for chan in legs.caller:
            out.append(varset(chan, "__CALLERSEGMENT", f"{caller.serial % 7}"))
        timeout = f"{spec.timeout_s:g}"
        out.append(newexten(leg, "NoOp", f'caller "{caller.name}" <{caller.number}> for queue {caller.queue}'))
        leg.priority = 2
        out += [newexten(leg, "Answer", ""), newstate(leg, 6)]
        for chan in legs.caller[:-1]:
            out.append(newstate(chan, 6))
        leg.priority = 3
        out.append(newexten(leg, "Queue", f"{caller.queue},t,,,{timeout}"))
        for variable in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS"):
            out.append(varset(leg, variable, ""))
        if event.count == 1:
            out.append(devstate(f"Queue:{caller.queue}", "RINGING"))
        out.append(
            ami_event(
                "QueueCallerJoin",
                "agent",
                leg.pairs(),
                [("Queue", caller.queue), ("Position", str(event.position)), ("Count", str(event.count))],
            )
        )
        return out

    def _leave(self, leg: Channel, event: SimEvent) -> list[AmiEvent]:
        out = []
        if event.count == 0:
            out.append(devstate(f"Queue:{event.queue}", "NOT_INUSE"))
        position = [("Queue", event.queue), ("Position", str(event.position)), ("Count", str(event.count))]
        out.append(ami_event("QueueCallerLeave", "agent", leg.pairs(), position))
        out.append(varset(leg, "QUEUEPOSITION", str(event.position)))
        return out

    def _unanswered(self, event: SimEvent, timeout: bool) -> list[AmiEvent]:
        caller, legs = self._legs(event)
        leg, tally = legs.queue_leg, self._tally[event.queue]
        tally.abandoned += 1
        hold = epoch(event.ts) - epoch(caller.joined_at)
        phone = legs.caller[0]
        out = [] if timeout else [hangup_request(phone)]
        out.append(varset(leg, "ABANDONED", "TRUE"))
        out += self._queue_vars(leg, event.queue, event.count + 1)
        fields = [
            ("Queue", event.queue),
            ("Position", str(event.position)),
            ("OriginalPosition", str(caller.original_position)),
            ("HoldTime", str(hold)),
        ]
        out.append(ami_event("QueueCallerAbandon", "agent", leg.pairs(), fields))
        out += [varset(leg, "QUEUEWAIT", str(hold)), varset(leg, "QUEUEWAIT_MS", str(hold * 1000))]
        out += self._leave(leg, event)
        if timeout:
            out.append(varset(leg, "QUEUESTATUS", "TIMEOUT"))
            leg.priority += 1
            out.append(newexten(leg, "Hangup", ""))
        for chan in legs.caller:
            out += [hangup_done(chan)] if chan is phone and not timeout else hangup(chan)
        del self._calls[caller.call_id]
        return out

    # ------------------------------------------------------------------ agents ringing

    def _agent_legs(self, legs: _Legs, member: MemberView, ts: datetime) -> list[Channel]:
        chans = legs.agents.get(member.agent_id)
        if chans is None:
            chans = self._new_chans(member.interface, ts, legs.queue_leg.linkedid, "agents", member.queue)
            legs.agents[member.agent_id] = chans
        return chans

    def _on_agent_called(self, event: SimEvent) -> list[AmiEvent]:
        caller, legs = self._legs(event)
        member = _member_of(event)
        chans = self._agent_legs(legs, member, event.ts)
        leg, dial = legs.queue_leg, chans[0]
        out = [ami_event("Newchannel", "call", chan.pairs()) for chan in chans]
        for chan in chans:
            chan.cid_num, chan.cid_name = caller.number, caller.name
            out.append(varset(chan, "DIALEDPEERNUMBER", member.interface.split("/", 1)[1]))
            out.append(
                ami_event(
                    "NewCallerid", "call", chan.pairs(), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
                )
            )
        out.append(ami_event("AgentCalled", "agent", leg.pairs(), dial.pairs("Dest"), agent_fields(member)))
        out.append(ami_event("DialBegin", "call", leg.pairs(), dial.pairs("Dest"), [("DialString", member.interface)]))
        if len(chans) == 1:
            out.append(newstate(dial, 5))
        return out

    def _end_ring(self, legs: _Legs, member: MemberView, status: str, cause: int) -> list[AmiEvent]:
        chans = legs.agents.pop(member.agent_id, [])
        if not chans:
            return []
        out = [ami_event("DialEnd", "call", legs.queue_leg.pairs(), chans[0].pairs("Dest"), [("DialStatus", status)])]
        for chan in reversed(chans):
            out += hangup(chan, cause)
        return out

    def _on_agent_ring_cancelled(self, event: SimEvent) -> list[AmiEvent]:
        _, legs = self._legs(event)
        cause = 26 if event.reason == "answered_elsewhere" else 16
        return self._end_ring(legs, _member_of(event), "CANCEL", cause)

    def _on_agent_ring_no_answer(self, event: SimEvent) -> list[AmiEvent]:
        _, legs = self._legs(event)
        member = _member_of(event)
        chans = self._agent_legs(legs, member, event.ts)
        ring = [("RingTime", str(round(event.ring_s * 1000)))]
        out = [
            ami_event(
                "AgentRingNoAnswer",
                "agent",
                legs.queue_leg.pairs(),
                chans[0].pairs("Dest"),
                agent_fields(member),
                ring,
            )
        ]
        return out + self._end_ring(legs, member, "NOANSWER", 16)

    # ------------------------------------------------------------------ calls

    def _on_agent_connect(self, event: SimEvent) -> list[AmiEvent]:
        caller, legs = self._legs(event)
        member = _member_of(event)
        chans = self._agent_legs(legs, member, event.ts)
        leg, dial, tally = legs.queue_leg, chans[0], self._tally[event.queue]
        hold = epoch(event.ts) - epoch(caller.joined_at)
        tally.holdtime = (3 * tally.holdtime + hold) // 4
        out: list[AmiEvent] = []
        for chan in chans[::-1]:
            if chan.state != 6:
                out.append(newstate(chan, 6))
        out.append(ami_event("DialEnd", "call", leg.pairs(), dial.pairs("Dest"), [("DialStatus", "ANSWER")]))
        member_vars = [
            ("MEMBERINTERFACE", member.interface),
            ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)),
            ("MEMBERLASTCALL", "0" if member.last_call is None else str(epoch(member.last_call))),
            ("MEMBERPENALTY", str(member.penalty)),
            ("MEMBERDYNAMIC", "1"),
            ("MEMBERREALTIME", "0"),
        ]
        for chan in (leg, dial):
            out += [varset(chan, key, value) for key, value in member_vars]
        for chan in (leg, dial):
            out += [
                varset(chan, "QEHOLDTIME", str(hold)),
                varset(chan, "QEORIGINALPOS", str(caller.original_position)),
            ]
        for chan in (leg, dial):
            out += self._queue_vars(chan, event.queue, event.count + 1)
        out += self._leave(leg, event)
        out += [varset(leg, "QUEUEWAIT", str(hold)), varset(leg, "QUEUEWAIT_MS", str(hold * 1000))]
        timing = [("HoldTime", str(hold)), ("RingTime", str(int(event.ring_s)))]
        out.append(ami_event("AgentConnect", "agent", leg.pairs(), dial.pairs("Dest"), agent_fields(member), timing))
        legs.bridge = self._bridge_id()
        out.append(self._bridge("BridgeCreate", legs.bridge, 0))
        for count, chan in enumerate((dial, leg), start=1):
            out.append(ami_event("BridgeEnter", "call", bridge_fields(legs.bridge, count), chan.pairs()))
        out += [varset(dial, "BRIDGEPEER", leg.name), varset(leg, "BRIDGEPEER", dial.name)]
        return out

    def _bridge_id(self) -> str:
        hexes = f"{self._rng.getrandbits(128):032x}"
        return f"{hexes[:8]}-{hexes[8:12]}-4{hexes[13:16]}-a{hexes[17:20]}-{hexes[20:]}"

    def _bridge(self, name: str, bridge: str, channels: int) -> AmiEvent:
        return ami_event(name, "call", bridge_fields(bridge, channels))

    def _hold(self, event: SimEvent, name: str) -> list[AmiEvent]:
        _, legs = self._legs(event)
        chans = legs.agents.get(_member_of(event).agent_id)
        if not chans:
            return []
        extra = [("MusicClass", "default")] if name == "Hold" else []
        return [ami_event(name, "call", chans[0].pairs(), extra)]

    def _on_agent_complete(self, event: SimEvent) -> list[AmiEvent]:
        caller, legs = self._legs(event)
        member = _member_of(event)
        assert event.connected_at is not None, "agent_complete without connected_at"
        chans = self._agent_legs(legs, member, event.ts)
        leg, dial, tally = legs.queue_leg, chans[0], self._tally[event.queue]
        hold = epoch(event.connected_at) - epoch(caller.joined_at)
        talk = epoch(event.ts) - epoch(event.connected_at)
        tally.completed += 1
        tally.talktime = (3 * tally.talktime + talk) // 4
        timing = [("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", event.reason)]
        if self._rng.random() < self._bare_p:
            complete = ami_event("AgentComplete", "agent", agent_fields(member), timing)
        else:
            complete = ami_event(
                "AgentComplete", "agent", leg.pairs(), dial.pairs("Dest"), agent_fields(member), timing
            )
        del self._calls[caller.call_id]
        if event.reason == "transfer":
            return self._transferred(event, legs, chans, complete, talk)
        # the side that hangs up first asks for it now; channels are destroyed after Queue() returns
        first = chans[-1] if event.reason == "agent" else legs.caller[0]
        out = hangup(first) if first.name.endswith(";2") else [hangup_request(first)]
        out += [varset(dial, "BRIDGEPEER", ""), varset(leg, "BRIDGEPEER", ""), complete]
        for count, chan in enumerate((dial, leg)):
            out.append(ami_event("BridgeLeave", "call", bridge_fields(legs.bridge, 1 - count), chan.pairs()))
        out.append(self._bridge("BridgeDestroy", legs.bridge, 0))
        out += self._answered_vars(leg, event, talk)
        for chan in [*chans[::-1], *legs.caller[::-1]]:
            out += self._teardown(chan, first)
        return out

    def _transferred(
        self, event: SimEvent, legs: _Legs, chans: list[Channel], complete: AmiEvent, talk: int
    ) -> list[AmiEvent]:
        """The agent blind-transfers the caller (a phone's REFER, or a Local agent's transfer feature).

        Asterisk marks the caller's channel, reports BlindTransfer, app_queue then AgentComplete (Reason:
        transfer); the caller is kicked out of the bridge to the target's extension, the agent's side
        hangs up, Queue() returns and the caller's channel dials the target in the dialplan. The talk
        with the target is not simulated: the caller's channels hang up after the Dial starts.
        """
        leg, dial = legs.queue_leg, chans[0]
        exten, _, context = event.target.partition("@")
        context = context or self._config.transfers.context
        external = not dial.name.startswith("Local/")
        out = [varset(leg, "BLINDTRANSFER", dial.name)]
        out += [blind_transfer(dial, leg, bridge_fields(legs.bridge, 2), exten, context, external), complete]
        out.append(ami_event("BridgeLeave", "call", bridge_fields(legs.bridge, 1), leg.pairs()))
        out += [varset(dial, "BRIDGEPEER", ""), varset(leg, "BRIDGEPEER", "")]
        first = chans[-1]
        out += hangup(first) if first.name.endswith(";2") else [hangup_request(first)]
        out.append(ami_event("BridgeLeave", "call", bridge_fields(legs.bridge, 0), dial.pairs()))
        out.append(self._bridge("BridgeDestroy", legs.bridge, 0))
        for chan in chans[::-1]:
            out += self._teardown(chan, first)
        out += self._answered_vars(leg, event, talk)
        leg.context, leg.exten, leg.priority = context, exten, 1
        local = context != self._config.transfers.context
        out.append(newexten(leg, "Dial", f"Local/{exten}@{context}/n,30" if local else f"PJSIP/{exten},30"))
        for chan in legs.caller[::-1]:
            out += hangup(chan)
        return out

    def _answered_vars(self, leg: Channel, event: SimEvent, talk: int) -> list[AmiEvent]:
        """What Queue() sets on the caller's channel when the answered call's bridge ends."""
        out = self._queue_vars(leg, event.queue, 0)
        ms = round(event.talk_s * 1000)
        return out + [varset(leg, "ANSWEREDTIME", str(talk)), varset(leg, "ANSWEREDTIME_MS", str(ms))]

    @staticmethod
    def _teardown(chan: Channel, first: Channel) -> list[AmiEvent]:
        """A channel's hangup at the end of a call; ``first`` already asked for it (a ;2 has hung up whole)."""
        if chan is not first:
            return hangup(chan)
        return [] if chan.name.endswith(";2") else [hangup_done(chan)]

    # ------------------------------------------------------------------ members

    def _member_event(self, event: SimEvent, name: str, pause_device: bool = False) -> list[AmiEvent]:
        """A QueueMember* event; added/pause also flip the queue's ``Queue:<q>_pause_<interface>`` device."""
        member = _member_of(event)
        out = [ami_event(name, "agent", member_fields(member))]
        if pause_device:
            state = "INUSE" if member.paused else "NOT_INUSE"
            out.insert(0, devstate(f"Queue:{member.queue}_pause_{member.interface}", state))
        return out

    def _on_member_status(self, event: SimEvent) -> list[AmiEvent]:
        member = _member_of(event)
        status = device_status(member)
        out = []
        if self._device.get(member.agent_id) != status:
            self._device[member.agent_id] = status
            out.append(devstate(member.state_interface, DEVICE_NAME[status]))
        out.append(ami_event("QueueMemberStatus", "agent", member_fields(member)))
        return out
