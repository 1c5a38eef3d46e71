"""The layout of single FreeSWITCH event-socket frames as mod_event_socket 1.10 writes them (pure).

Checked against the real capture in ``tests/fixtures/freeswitch-light`` (its QUIRKS.md):

* ``auth/request`` and ``command/reply`` frames are a header block without ``Content-Length``; an event
  frame puts ``Content-Length`` before ``Content-Type``, ``api/response`` and ``text/disconnect-notice``
  put ``Content-Type`` first. Lines end with a bare LF.
* ``text/event-plain``: ``Name: value`` lines, values URL-encoded except ``,'()/``, then a blank line that
  the length covers; a body of its own (BACKGROUND_JOB) follows its own ``Content-Length`` and a blank line.
* ``text/event-json``: one compact object of string values, not encoded, nothing after it; an own body is
  its ``_body`` member.
* The common head of every event (``core_headers``): ``Event-Subclass`` before ``Event-Name`` in a CUSTOM
  event, ``Event-Date-Timestamp`` in epoch microseconds, ``Event-Date-GMT`` as an RFC 822 date.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from collectors.esl.protocol import encoded

Pairs = list[tuple[str, str]]

CORE_UUID: Final = "3f1c0f52-6a8e-4b7e-9d0e-5c2b8a7d4e61"
HOSTNAME: Final = "fs-sim"
IPV4: Final = "192.0.2.2"
IPV6: Final = "fd00::2"
VERSION: Final = "1.10.12-release~64bit"
SUBCLASS: Final = "callcenter::info"

AUTH_REQUEST: Final = b"Content-Type: auth/request\n\n"
DISCONNECT_TEXT: Final = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def command_reply(text: str, *extra: tuple[str, str]) -> bytes:
    """A ``command/reply`` (``+OK accepted``, ``-ERR invalid``); ``extra`` headers after ``Reply-Text``."""
    lines = [f"Content-Type: command/reply\nReply-Text: {text}\n", *(f"{key}: {value}\n" for key, value in extra)]
    return "".join(lines).encode() + b"\n"


def api_response(text: str) -> bytes:
    """An ``api/response``: ``Content-Type`` first, then the length of the body."""
    body = text.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


def disconnect_notice() -> bytes:
    """The notice mod_event_socket sends before it closes (``Content-Type`` before ``Content-Length``)."""
    body = DISCONNECT_TEXT.encode()
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(body) + body


def microseconds(ts: datetime) -> int:
    """Epoch microseconds, as ``Event-Date-Timestamp`` and the channel times carry them."""
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


def seconds(ts: datetime) -> int:
    """Whole epoch seconds, as the ``CC-*-Time`` fields and the list replies carry them."""
    return microseconds(ts) // 1_000_000


def core_headers(ts: datetime, zone: ZoneInfo, sequence: int, origin: tuple[str, str, int], name: str,
                 subclass: bool = True) -> Pairs:  # fmt: skip
    """The head of every event: subclass (CUSTOM), name, the switch's identity, the date three ways, the
    emitting function (``origin``: file, function, line) and the sequence number."""
    file, function, line = origin
    utc = ts.astimezone(UTC)
    head: Pairs = [("Event-Subclass", SUBCLASS), ("Event-Name", "CUSTOM")] if subclass else [("Event-Name", name)]
    return [
        *head,
        ("Core-UUID", CORE_UUID),
        ("FreeSWITCH-Hostname", HOSTNAME),
        ("FreeSWITCH-Switchname", HOSTNAME),
        ("FreeSWITCH-IPv4", IPV4),
        ("FreeSWITCH-IPv6", IPV6),
        ("Event-Date-Local", ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")),
        ("Event-Date-GMT", utc.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ("Event-Date-Timestamp", str(microseconds(ts))),
        ("Event-Calling-File", file),
        ("Event-Calling-Function", function),
        ("Event-Calling-Line-Number", str(line)),
        ("Event-Sequence", str(sequence)),
    ]


def plain_event(pairs: Sequence[tuple[str, str]], body: str | None = None) -> bytes:
    """A ``text/event-plain`` frame; ``body`` (BACKGROUND_JOB) after its own ``Content-Length``."""
    text = "".join(f"{key}: {encoded(value)}\n" for key, value in pairs)
    if body is not None:
        text += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        text += "\n"
    data = text.encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(data) + data


def json_event(pairs: Sequence[tuple[str, str]], body: str | None = None) -> bytes:
    """A ``text/event-json`` frame: every value a string, not encoded; ``body`` as ``Content-Length``/``_body``."""
    values = dict(pairs)
    if body is not None:
        values["Content-Length"] = str(len(body.encode()))
        values["_body"] = body
    data = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(data) + data


def table(header: str, rows: Sequence[Sequence[str]]) -> str:
    """A ``callcenter_config ... list`` reply: ``|``-separated header and rows, then ``+OK``."""
    return "".join(f"{line}\n" for line in [header, *("|".join(row) for row in rows), "+OK"])


AGENT_LIST: Final = (
    "name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|busy_delay_time|"
    "no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|last_status_change|no_answer_count|"
    "calls_answered|talk_time|ready_time|external_calls_count"
)
TIER_LIST: Final = "queue|agent|state|level|position"
QUEUE_LIST: Final = (
    "name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|tier_rule_wait_multiply_level|"
    "tier_rule_no_agent_no_wait|discard_abandoned_after|abandoned_resume_allowed|max_wait_time|"
    "max_wait_time_with_no_agent|max_wait_time_with_no_agent_time_reached|record_template|calls_answered|"
    "calls_abandoned|ring_progressively_delay|skip_agents_with_external_calls|agent_no_answer_status"
)
MEMBER_LIST: Final = (
    "queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|bridge_epoch|"
    "abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state|score"
)


def status_text(booted: datetime, now: datetime, sessions: int, peak: int) -> str:
    """The reply to ``api status`` (switch_core's layout), for an uptime from ``booted`` to ``now``."""
    up = max(0, microseconds(now) - microseconds(booted))
    secs, usec = divmod(up, 1_000_000)
    days, rest = divmod(secs, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"UP 0 years, {days} days, {hours} hours, {minutes} minutes, {secs} seconds, {usec // 1000} milliseconds, "
        f"{usec % 1000} microseconds\n"
        "FreeSWITCH (Version 1.10.12-release  64bit) is ready\n"
        f"{peak} session(s) since startup\n"
        f"{sessions} session(s) - peak {peak}, last 5min {peak} \n"
        f"0 session(s) per Sec out of max 200, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/99.70\n"
        "Current Stack Size/Max 240K/8192K\n"
    )
