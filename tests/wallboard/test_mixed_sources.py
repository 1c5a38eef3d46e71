"""A site mixing sources: one logical day of calls, delivered all over HTTP, then split across Asterisk (AMI frames
through the real parser and mapping), FreeSWITCH (ESL frames through the real parser and mapping) and
POST /api/v1/events of a real API on a real redis-server. The agent is ``PJSIP/1001`` (member name ``Alice N.``)
on Asterisk, ``1001@default`` on FreeSWITCH and ``alice`` over HTTP, aliased to ``a1001`` in the site file: the
engine fed either event stream gives the same agent and queue figures, and no agent under a raw PBX name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import pytest
from api_stack import SITE, running_api

from collectors.ami.mapping import AmiMapper
from collectors.ami.protocol import AmiParser
from collectors.esl.mapping import EslMapper
from collectors.esl.protocol import EslParser
from wallboard.core.engine import State
from wallboard.core.events import Event, parse_event
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig
from wallboard.core.users import Role
from wallboard.store import Store, connect

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
AGENTS = {  # agent id -> (Asterisk interface, Asterisk member name, FreeSWITCH agent, HTTP name)
    "a1001": ("PJSIP/1001", "Alice N.", "1001@default", "alice"),
    "a1002": ("PJSIP/1002", "PJSIP/1002", "1002@default", "bob"),  # no member name: Asterisk repeats the interface
}


def site(name: str) -> SiteConfig:
    """The aliases name each agent's Asterisk interface, FreeSWITCH agent and HTTP name (not the member name
    ``Alice N.``: the engine learns it from the AMI events that tell it with the interface)."""
    return SiteConfig(
        site=name,
        queues={"support": QueueConfig(sl_threshold_s=20)},
        agents={
            "a1001": AgentConfig(name="Alice Nguyen", aliases=("PJSIP/1001", "1001@default", "alice")),
            "a1002": AgentConfig(name="Bob Martin", aliases=("PJSIP/1002", "1002@default", "bob")),
        },
    )


Path = Literal["ami", "esl", "http"]


@dataclass(frozen=True)
class Call:
    """One call of the day in queue ``support``: answered by ``agent`` (None: abandoned after ``wait`` s)."""

    n: int
    path: Path
    agent: str | None
    wait: int
    talk: int = 0
    missed_by: str | None = None  # an agent rung first who did not answer

    @property
    def start(self) -> datetime:
        return T0 + timedelta(minutes=10 * self.n)


DAY = (
    Call(1, "ami", "a1001", wait=5, talk=60),
    Call(2, "esl", "a1001", wait=8, talk=90, missed_by="a1002"),
    Call(3, "http", "a1002", wait=3, talk=40, missed_by="a1001"),
    Call(4, "ami", "a1002", wait=25, talk=30),
    Call(5, "esl", None, wait=12),
    Call(6, "http", "a1001", wait=2, talk=120),
    Call(7, "http", None, wait=30),
)


# -- each path's bytes or JSON ------------------------------------------------------------------------------------


def http_events(call: Call) -> list[dict[str, Any]]:
    """The call as a contact platform would post it, agents by their HTTP names."""
    at, cid = call.start, f"web-{call.n}"
    base = {"source": "web", "queue": "support", "call_id": cid}

    def ev(kind: str, seconds: float, **fields: Any) -> dict[str, Any]:
        ts = (at + timedelta(seconds=seconds)).isoformat()
        return {**base, "kind": kind, "ts": ts, "key": f"{cid}/{kind}", **fields}

    events = [ev("call_queued", 0, caller=f"555000{call.n}")]
    if call.agent is None:
        return [*events, ev("call_abandoned", call.wait, wait_s=call.wait)]
    if call.missed_by is not None:
        events.append(ev("agent_rang", 1, agent=AGENTS[call.missed_by][3], answered=False))
    http = AGENTS[call.agent][3]
    return [
        *events,
        ev("call_answered", call.wait, agent=http, wait_s=call.wait),
        ev("call_ended", call.wait + call.talk, agent=http, talk_s=call.talk),
    ]


def ami_frame(name: str, at: datetime, **fields: str) -> bytes:
    lines = [f"Event: {name}", "Privilege: agent,all", f"Timestamp: {at.timestamp():.6f}"]
    lines += [f"{field}: {value}" for field, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ami_bytes(call: Call) -> bytes:
    """Asterisk 22's frames of an answered call (fields as in tests/fixtures/asterisk22-light)."""
    assert call.agent is not None, "the AMI calls of this day are answered ones"
    interface, member, _, _ = AGENTS[call.agent]
    uid = f"1796630{call.n:03d}.{call.n}"
    caller = {
        "Channel": f"PJSIP/trunk-0000{call.n:04x}",
        "CallerIDNum": f"555000{call.n}",
        "CallerIDName": "Caller",
        "Context": "queue-entry",
        "Exten": "support",
        "Uniqueid": uid,
        "Linkedid": uid,
        "Queue": "support",
    }
    agent = {
        "DestChannel": f"{interface}-0000{call.n:04x}",
        "DestUniqueid": f"{uid}1",
        "Interface": interface,
        "MemberName": member,
        "HoldTime": str(call.wait),
    }
    answered, ended = call.start + timedelta(seconds=call.wait), call.start + timedelta(seconds=call.wait + call.talk)
    return b"".join(
        (
            ami_frame("QueueCallerJoin", call.start, **caller, Position="1", Count="1"),
            ami_frame("QueueCallerLeave", answered, **caller, Position="1", Count="0"),
            ami_frame("AgentConnect", answered, **caller, **agent, RingTime="1"),
            ami_frame("AgentComplete", ended, **caller, **agent, TalkTime=str(call.talk), Reason="caller"),
        )
    )


def esl_frame(action: str, at: datetime, **fields: str) -> bytes:
    """A ``callcenter::info`` event as FreeSWITCH 1.10 writes it (tests/fixtures/freeswitch-light): values
    URL-encoded, the outer Content-Length counting the body."""
    headers = {
        "Event-Subclass": "callcenter::info",
        "Event-Name": "CUSTOM",
        "Event-Date-Timestamp": str(int(at.timestamp() * 1_000_000)),
        "CC-Queue": "support",
        "CC-Action": action,
        **fields,
    }
    body = "".join(f"{name}: {quote(value, safe='')}\n" for name, value in headers.items()).encode() + b"\n"
    return f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n".encode() + body


def esl_bytes(call: Call) -> bytes:
    at = call.start
    member = {
        "CC-Member-UUID": f"5b4e0000-0000-4000-8000-{call.n:012d}",
        "CC-Member-CID-Number": f"555000{call.n}",
        "CC-Member-Joined-Time": str(int(at.timestamp())),
    }
    frames = [esl_frame("member-queue-start", at, **member)]
    left = at + timedelta(seconds=call.wait)
    if call.agent is None:
        leaving = {"CC-Member-Leaving-Time": str(int(left.timestamp()))}
        cancel = {"CC-Cause": "Cancel", "CC-Cancel-Reason": "BREAK_OUT", "CC-Hangup-Cause": "NORMAL_CLEARING"}
        return b"".join([*frames, esl_frame("member-queue-end", left, **member, **leaving, **cancel)])
    if call.missed_by is not None:
        rung = {"CC-Agent": AGENTS[call.missed_by][2], "CC-Hangup-Cause": "NO_ANSWER"}
        frames.append(esl_frame("bridge-agent-fail", at + timedelta(seconds=1), **member, **rung))
    ended = left + timedelta(seconds=call.talk)
    agent = {
        "CC-Agent": AGENTS[call.agent][2],
        "CC-Agent-Called-Time": str(int(left.timestamp()) - 1),
        "CC-Agent-Answered-Time": str(int(left.timestamp())),
    }
    end = {"CC-Bridge-Terminated-Time": str(int(ended.timestamp())), "CC-Hangup-Cause": "SUCCESS"}
    leaving = {"CC-Member-Leaving-Time": str(int(ended.timestamp())), "CC-Cause": "Terminated"}
    return b"".join(
        [
            *frames,
            esl_frame("bridge-agent-start", left, **member, **agent),
            esl_frame("bridge-agent-end", ended, **member, **agent, **end),
            esl_frame("member-queue-end", ended, **member, **agent, **end, **leaving),
        ]
    )


# -- delivery -----------------------------------------------------------------------------------------------------


class Collectors:
    """The AMI and ESL collectors' parse-and-map halves, one connection each for the day; ``events(call)`` is
    what the call's path's collector appends to the site's stream."""

    def __init__(self, site_name: str) -> None:
        self.ami, self.ami_map = AmiParser(), AmiMapper(site=site_name)
        self.ami.receive_data(b"Asterisk Call Manager/9.0.0\r\n")
        self.esl, self.esl_map = EslParser(), EslMapper(site=site_name)

    def events(self, call: Call) -> list[Event]:
        events: list[Event] = []
        if call.path == "ami":
            self.ami.receive_data(ami_bytes(call))
            for frame in self.ami.frames_received():
                events += self.ami_map.feed(frame, call.start)
        else:
            self.esl.receive_data(esl_bytes(call))
            for esl_frame in self.esl.frames_received():
                events += self.esl_map.feed(esl_frame, call.start)
        return events

    def clean(self) -> None:
        assert list(self.ami.errors()) == [] and list(self.esl.errors()) == []
        assert (self.ami_map.rejected, sum(self.esl_map.rejected.values())) == (0, 0)


async def figures(store: Store, calls: Sequence[Call]) -> dict[str, Any]:
    """Deliver ``calls`` in time order, each over its path, to ``store``'s site; the engine's snapshot of the
    stream at noon: every agent's and the queue's figures."""
    collectors = Collectors(store.site)
    async with running_api(store, users={"ingest1": Role.INGEST}) as api:
        for call in calls:
            if call.path == "http":
                posted = await api.http.post("/api/v1/events", json=http_events(call), headers=api.headers["ingest"])
                assert posted.status_code == 202, posted.text
            else:
                events = collectors.events(call)
                assert events, call
                await store.events.append_events(events)
    collectors.clean()
    state = State(site(store.site))
    for entry in await store.events.read_range(count=10_000):
        state.apply(parse_event(entry.data or b""))
    snapshot = state.snapshot(T0.replace(hour=12))
    return {"agents": snapshot["agents"], "queue": snapshot["queues"]["support"]["day"]}


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    redis = connect(redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


AGENT_FIGURES = ("calls_today", "handled_today", "talk_s", "aht_s", "missed_rings_today")


async def test_an_agent_keeps_one_identity_and_the_figures_whichever_path_delivered_the_events(client: Any) -> None:
    one_path = await figures(Store(client, site="lyon"), [replace(call, path="http") for call in DAY])
    mixed = await figures(Store(client, site=SITE), DAY)
    assert {c.path for c in DAY} == {"ami", "esl", "http"}
    # one agent per site-file id, none under a PBX's or the platform's own name
    assert set(one_path["agents"]) == set(mixed["agents"]) == {"a1001", "a1002"}
    for agent in ("a1001", "a1002"):
        ours, theirs = ({name: result["agents"][agent][name] for name in AGENT_FIGURES} for result in (mixed, one_path))
        assert ours == theirs, agent
    alice = mixed["agents"]["a1001"]
    assert (alice["handled_today"], alice["talk_s"], alice["missed_rings_today"]) == (3, 270, 1)
    assert mixed["queue"] == one_path["queue"]
    queue = mixed["queue"]
    assert (queue["offered"], queue["answered"], queue["abandoned"], queue["handled"]) == (7, 5, 2, 5)
