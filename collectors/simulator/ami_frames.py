"""The layout of single AMI frames as Asterisk 22 writes them (pure): field names, order, units.

Every function returns the ``(key, value)`` pairs or the bytes of one frame; nothing here keeps
state except ``Channel``, a channel's snapshot headers (``ast_manager_build_channel_state_string``).
Sources: main/manager.c, main/manager_channels.c and apps/app_queue.c of Asterisk 22, checked
against the captured transcript in tests/fixtures/asterisk22-light (quirks 3, 4, 5 of its PROVENANCE.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from collectors.simulator.views import MemberView, QueueView

BANNER: Final = b"Asterisk Call Manager/11.0.0\r\n"

#: Asterisk's event classes (include/asterisk/manager.h), by name.
EVENT_CLASSES: Final[dict[str, int]] = {
    "system": 1 << 0,
    "call": 1 << 1,
    "log": 1 << 2,
    "verbose": 1 << 3,
    "command": 1 << 4,
    "agent": 1 << 5,
    "user": 1 << 6,
    "config": 1 << 7,
    "dtmf": 1 << 8,
    "reporting": 1 << 9,
    "cdr": 1 << 10,
    "dialplan": 1 << 11,
    "originate": 1 << 12,
    "agi": 1 << 13,
    "cc": 1 << 15,
    "aoc": 1 << 16,
    "test": 1 << 17,
    "security": 1 << 18,
    "message": 1 << 30,
}
ALL_EVENTS: Final = sum(EVENT_CLASSES.values())

Pairs = list[tuple[str, str]]

STATE_DESC: Final = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
DEVICE_STATUS: Final = {"idle": 1, "in_use": 2, "ringing": 6, "on_hold": 8}
DEVICE_NAME: Final = {1: "NOT_INUSE", 2: "INUSE", 6: "RINGING", 8: "ONHOLD"}
CAUSES: Final = {16: "Normal Clearing", 26: "Answered elsewhere"}


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """One frame as written on the wire, with the event class that decides who receives it."""

    name: str
    privilege: int
    data: bytes


def encode_frame(pairs: Iterable[tuple[str, str]]) -> bytes:
    """``Key: value`` lines with CRLF and the terminating blank line, UTF-8."""
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode("utf-8") + b"\r\n"


def event_frame(name: str, privilege: str, pairs: Sequence[tuple[str, str]]) -> AmiEvent:
    """An unsolicited event: ``Event``, ``Privilege: <class>,all``, then the fields."""
    head = [("Event", name), ("Privilege", f"{privilege},all")]
    return AmiEvent(name, EVENT_CLASSES[privilege], encode_frame([*head, *pairs]))


def response(status: str, action_id: str | None, pairs: Sequence[tuple[str, str]] = ()) -> bytes:
    """``Response: <status>``, the ActionID when the action had one, then the fields."""
    head = [("Response", status)] + ([("ActionID", action_id)] if action_id else [])
    return encode_frame([*head, *pairs])


def list_complete(name: str, action_id: str | None, items: int) -> bytes:
    """The event closing a list response (``astman_send_list_complete_start``)."""
    head = [("Event", name)] + ([("ActionID", action_id)] if action_id else [])
    return encode_frame([*head, ("EventList", "Complete"), ("ListItems", str(items))])


def epoch(ts: datetime) -> int:
    return math.floor(ts.timestamp())


def eventtv(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}" + ts.strftime("%z")


def fully_booted(uptime_s: int) -> AmiEvent:
    return event_frame(
        "FullyBooted", "system", [("Uptime", str(uptime_s)), ("LastReload", str(uptime_s)), ("Status", "Fully Booted")]
    )


def request_not_allowed(ts: datetime, account: str, session_id: int, local: str, remote: str, action: str) -> AmiEvent:
    """The security event of an action the user may not run (manager.c report_req_not_allowed)."""
    tv = eventtv(ts)
    return event_frame(
        "RequestNotAllowed",
        "security",
        [
            ("EventTV", tv),
            ("Severity", "Error"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", account),
            ("SessionID", f"0x{session_id:012x}"),
            ("LocalAddress", f"IPV4/TCP/{local}"),
            ("RemoteAddress", f"IPV4/TCP/{remote}"),
            ("RequestType", f"Action: {action}"),
            ("SessionTV", tv),
        ],
    )


def successful_auth(ts: datetime, account: str, session_id: int, local: str, remote: str) -> AmiEvent:
    """The security event Asterisk broadcasts to every session when one logs in (quirk 11)."""
    tv = eventtv(ts)
    return event_frame(
        "SuccessfulAuth",
        "security",
        [
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", account),
            ("SessionID", f"0x{session_id:012x}"),
            ("LocalAddress", f"IPV4/TCP/{local}"),
            ("RemoteAddress", f"IPV4/TCP/{remote}"),
            ("UsingPassword", "0"),
            ("SessionTV", tv),
        ],
    )


@dataclass(eq=False)
class Channel:
    """One channel as its snapshot headers show it (``ast_manager_build_channel_state_string``)."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    cid_num: str = ""
    cid_name: str = ""

    def pairs(self, prefix: str = "") -> Pairs:
        num, name = self.cid_num or "<unknown>", self.cid_name or "<unknown>"
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC[self.state]),
            (f"{prefix}CallerIDNum", num),
            (f"{prefix}CallerIDName", name),
            (f"{prefix}ConnectedLineNum", num),
            (f"{prefix}ConnectedLineName", name),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


def ami_event(name: str, privilege: str, *groups: Pairs) -> AmiEvent:
    """An event frame from groups of fields (channel blocks, then the event's own fields)."""
    return event_frame(name, privilege, [pair for group in groups for pair in group])


def varset(chan: Channel, variable: str, value: str) -> AmiEvent:
    return ami_event("VarSet", "dialplan", chan.pairs(), [("Variable", variable), ("Value", value)])


def newexten(chan: Channel, app: str, data: str) -> AmiEvent:
    return ami_event(
        "Newexten", "dialplan", chan.pairs(), [("Extension", chan.exten), ("Application", app), ("AppData", data)]
    )


def newstate(chan: Channel, state: int) -> AmiEvent:
    """Move the channel to ``state`` and report it."""
    chan.state = state
    return ami_event("Newstate", "call", chan.pairs())


def hangup_request(chan: Channel, cause: int = 16) -> AmiEvent:
    return ami_event("HangupRequest", "call", chan.pairs(), [("Cause", str(cause))])


def hangup_done(chan: Channel, cause: int = 16) -> AmiEvent:
    return ami_event("Hangup", "call", chan.pairs(), [("Cause", str(cause)), ("Cause-txt", CAUSES[cause])])


def hangup(chan: Channel, cause: int = 16) -> list[AmiEvent]:
    return [hangup_request(chan, cause), hangup_done(chan, cause)]


def devstate(device: str, state: str) -> AmiEvent:
    return ami_event("DeviceStateChange", "call", [("Device", device), ("State", state)])


def device_status(member: MemberView) -> int:
    """The numeric device state; a Local channel reports ringing and hold as in use."""
    status = DEVICE_STATUS[member.device]
    if member.interface.startswith("Local/") and status != 1:
        return 2
    return status


def member_fields(member: MemberView) -> Pairs:
    """queue_member_blob_create(): the fields of every QueueMember* event, in order."""
    return [
        ("Queue", member.queue),
        ("MemberName", member.name),
        ("Interface", member.interface),
        ("StateInterface", member.state_interface),
        *_member_tail(member),
        ("Ringinuse", "0"),
        ("Wrapuptime", "0"),
    ]


def status_member_fields(member: MemberView) -> Pairs:
    """manager_queues_status(): QueueMember says Name/Location and has no Ringinuse (quirk 5)."""
    return [
        ("Queue", member.queue),
        ("Name", member.name),
        ("Location", member.interface),
        ("StateInterface", member.state_interface),
        *_member_tail(member),
        ("Wrapuptime", "0"),
    ]


def _member_tail(member: MemberView) -> Pairs:
    def stamp(ts: datetime | None) -> str:
        return "0" if ts is None else str(epoch(ts))

    return [
        ("Membership", "dynamic" if member.dynamic else "static"),
        ("Penalty", str(member.penalty)),
        ("CallsTaken", str(member.calls_taken)),
        ("LastCall", stamp(member.last_call)),
        ("LastPause", stamp(member.last_pause)),
        ("LoginTime", stamp(member.login_time)),
        ("InCall", str(int(member.in_call))),
        ("Status", str(device_status(member))),
        ("Paused", str(int(member.paused))),
        ("PausedReason", member.reason),
    ]


def queue_params_fields(view: QueueView) -> Pairs:
    done, abandoned = view.completed, view.abandoned
    perf = 100.0 * view.completed_in_sl / done if done else 0.0
    perf2 = 100.0 * (view.completed_in_sl + view.abandoned_in_sl) / (done + abandoned) if done + abandoned else 0.0
    return [
        ("Queue", view.spec.name),
        ("Max", "0"),
        ("Strategy", view.spec.strategy),
        ("Calls", str(view.calls)),
        ("Holdtime", str(view.holdtime)),
        ("TalkTime", str(view.talktime)),
        ("Completed", str(done)),
        ("Abandoned", str(abandoned)),
        ("ServiceLevel", str(view.spec.servicelevel_s)),
        ("ServicelevelPerf", f"{perf:.1f}"),
        ("ServicelevelPerf2", f"{perf2:.1f}"),
        ("Weight", "0"),
    ]


def agent_fields(member: MemberView) -> Pairs:
    return [("Queue", member.queue), ("Interface", member.interface), ("MemberName", member.name)]


def bridge_fields(bridge: str, channels: int) -> Pairs:
    return [
        ("BridgeUniqueid", bridge),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


def blind_transfer(transferer: Channel, transferee: Channel, bridge: Pairs, exten: str, context: str,
                   external: bool) -> AmiEvent:  # fmt: skip
    """stasis_bridges.c blind_transfer_to_ami(): a successful BlindTransfer of ``transferee`` to exten@context.

    ``external``: the transfer came from the channel driver (a SIP REFER from the phone), not a bridge feature.
    """
    tail = [("IsExternal", "Yes" if external else "No"), ("Context", context), ("Extension", exten)]
    return ami_event(
        "BlindTransfer", "call", [("Result", "Success")], transferer.pairs("Transferer"),
        transferee.pairs("Transferee"), bridge, tail,
    )  # fmt: skip


def originate_response(
    action_id: str | None,
    success: bool,
    channel: str,
    target: Pairs,
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
) -> AmiEvent:
    """manager.c fast_originate(): ``target`` is Context/Exten, or Application/Data for an application."""
    head = [("ActionID", action_id)] if action_id else []
    return event_frame(
        "OriginateResponse",
        "call",
        [
            *head,
            ("Response", "Success" if success else "Failure"),
            ("Channel", channel),
            *target,
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", cid_num or "<unknown>"),
            ("CallerIDName", cid_name or "<unknown>"),
        ],
    )


def chanspy(name: str, spyer: Channel, spyee: Channel) -> AmiEvent:
    """ChanSpyStart / ChanSpyStop (manager_channels.c): the spyer's snapshot, then the spyee's."""
    return ami_event(name, "call", spyer.pairs("Spyer"), spyee.pairs("Spyee"))
