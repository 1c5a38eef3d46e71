"""What the simulated mod_callcenter's events and lists say about channels, members and agents (pure).

``esl_format.EslFormatter`` decides which events one model occurrence fires, in which order; this module holds
the records it keeps (``Leg``, ``Member``, ``Agent``) and writes their long header and row lists, in the order
FreeSWITCH 1.10 writes them (checked against ``tests/fixtures/freeswitch-light``):

* ``channel_data``: ``switch_channel_event_set_data``, the channel's state, its caller profile (``profile``), the
  other leg's profile and the channel variables (``member_vars``, ``agent_vars``);
* ``member_ids``: the ``CC-Member-*`` headers every member event carries;
* ``agent_row``, ``queue_row``, ``member_row``: one row of ``callcenter_config agent|queue|member list``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from collectors.simulator.config import QueueSpec, Strategy
from collectors.simulator.esl_frames import Pairs, seconds
from collectors.simulator.views import CallerInfo

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
_MOH = "local_stream://moh"


def queue_name(queue: str) -> str:
    """mod_callcenter's name of a simulated queue: ``support@default``."""
    return f"{queue}@{DOMAIN}"


def agent_name(agent_id: str) -> str:
    """mod_callcenter's name of a simulated agent: ``1007@default`` for ``agent07``, else ``<id>@default``."""
    found = re.fullmatch(r"agent(\d+)", agent_id)
    return f"{1000 + int(found[1])}@{DOMAIN}" if found else f"{agent_id}@{DOMAIN}"


@dataclass(eq=False)
class Leg:
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
class Member:
    info: CallerInfo
    uuid: str
    leg: Leg
    joined: datetime
    state: str = "Waiting"
    serving: str = ""
    agent_leg: Leg | None = None
    called: dict[str, datetime] = field(default_factory=dict)  # agent name -> when it was offered the call
    answered: datetime | None = None


@dataclass(eq=False)
class Agent:
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


def member_ids(member: Member) -> Pairs:
    """The ``CC-Member-*`` headers of every event about ``member``."""
    return [
        ("CC-Member-UUID", member.uuid),
        ("CC-Member-Session-UUID", member.leg.uuid),
        ("CC-Member-CID-Name", member.info.name),
        ("CC-Member-CID-Number", member.info.number),
    ]


# ---------------------------------------------------------------------- channels


def channel_data(
    leg: Leg,
    state: tuple[str, str, int],
    answer: str,
    variables: Pairs,
    *,
    other: Leg | None = None,
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
    pairs += profile("Caller-", leg, index=True, transfer=transfer)
    if other is not None:
        pairs += [("Other-Type", other_type), *profile("Other-Leg-", other, index=False, transfer=False)]
    return pairs + variables


def member_vars(member: Member, stage: str, agent: Agent | None = None, agent_leg: Leg | None = None) -> Pairs:
    """The variables of the member's (caller's) channel; at the ``end`` stage those of the answered call too."""
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


def agent_vars(member: Member, agent: Agent, *, bridged: bool) -> Pairs:
    """The variables of the agent's channel to ``member`` (its ``agent_leg``)."""
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


def profile(prefix: str, leg: Leg, *, index: bool, transfer: bool) -> Pairs:
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


# ---------------------------------------------------------------------- callcenter_config lists


def agent_row(agent: Agent) -> list[str]:
    """The agent's row of ``callcenter_config agent list`` (columns of ``esl_frames.AGENT_LIST``)."""
    a = agent
    return [
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


def queue_row(spec: QueueSpec, answered: int, abandoned: int) -> list[str]:
    """The queue's row of ``callcenter_config queue list`` (columns of ``esl_frames.QUEUE_LIST``)."""
    return [
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
        str(answered),
        str(abandoned),
        "0",
        "true",
        ON_BREAK,
    ]


def member_row(queue: str, member: Member) -> list[str]:
    """The member's row of ``callcenter_config queue list members`` (columns of ``esl_frames.MEMBER_LIST``)."""
    m = member
    return [
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
