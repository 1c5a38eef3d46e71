"""Tests for collectors/queue_log/verbs.py: each verb's data fields land in its events' fields."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, Field

from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.records import MalformedLine, parse_line
from collectors.queue_log.verbs import HANDLERS, construct, new
from wallboard.core.events import (
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallQueued,
    CallTransferred,
    Event,
    parse_event,
)


def _run(lines: Iterable[str | bytes], mapper: QueueLogMapper | None = None) -> tuple[QueueLogMapper, list[Event]]:
    mapper = mapper or QueueLogMapper()
    events: list[Event] = []
    for lineno, line in enumerate(lines, 1):
        events.extend(mapper.feed_line(line, lineno))
    events.extend(mapper.finish())
    return mapper, events


def _one(line: str) -> list[Event]:
    mapper, events = _run([line])
    assert mapper.rejected == 0, mapper.rejected_by_reason
    return events


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


VERB_CASES: list[tuple[str, Event]] = [
    (
        "100|c.1|support|NONE|ENTERQUEUE||5039815111|2|Jane Doe",
        CallQueued(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            position=2,
            caller="5039815111",
            caller_name="Jane Doe",
        ),
    ),
    (
        "100|c.1|support|NONE|ENTERQUEUE|url|5039815111",  # Asterisk <= 1.4: no position
        CallQueued(ts=_at(100), source="queue_log", call_id="c.1", queue="support", position=1, caller="5039815111"),
    ),
    (
        "100|c.1|support|Alice|CONNECT|4|1795350761.2|3",
        CallAnswered(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            agent="Alice",
            wait_s=4,
            ring_s=3,
            member_name="Alice",
        ),
    ),
    (
        "100|c.1|support|Alice|CONNECT|4|SIP/alice-00000001",  # old Asterisk: holdtime|bridged channel
        CallAnswered(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            agent="Alice",
            wait_s=4,
            agent_channel="SIP/alice-00000001",
            member_name="Alice",
        ),
    ),
    (
        "100|c.1|support|SIP/100|CONNECT|4|c.2|1",  # a member without a name: membername is the interface
        CallAnswered(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            agent="SIP/100",
            wait_s=4,
            ring_s=1,
            interface="SIP/100",
        ),
    ),
    (
        "100|c.1|support|Alice|COMPLETEAGENT|4|35|1",
        CallEnded(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            agent="Alice",
            talk_s=35,
            wait_s=4,
            ended_by="agent",
            member_name="Alice",
        ),
    ),
    (
        "100|c.1|support|Alice|COMPLETECALLER|4|35|1",
        CallEnded(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            agent="Alice",
            talk_s=35,
            wait_s=4,
            ended_by="caller",
            member_name="Alice",
        ),
    ),
    (
        "100|c.1|support|NONE|ABANDON|3|1|17",
        CallAbandoned(ts=_at(100), source="queue_log", call_id="c.1", queue="support", wait_s=17, position=3),
    ),
    (
        "100|c.1|support|NONE|EXITWITHTIMEOUT|2|1|60",
        CallExited(
            ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="timeout", wait_s=60, position=2
        ),
    ),
    (
        "100|c.1|support|NONE|EXITWITHTIMEOUT|2",  # Asterisk 1.8 sometimes wrote the position only
        CallExited(ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="timeout", position=2),
    ),
    (
        "100|c.1|support|NONE|EXITWITHKEY|5|2|1|37",
        CallExited(
            ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="key", wait_s=37, position=2
        ),
    ),
    (
        "100|c.1|support|NONE|EXITEMPTY|1|1|9",
        CallExited(
            ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="empty", wait_s=9, position=1
        ),
    ),
    (
        "100|c.1|support|NONE|WITHDRAW|1|1|12|moved",
        CallExited(
            ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="withdraw", wait_s=12, position=1
        ),
    ),
    (
        "100|c.1|support|NONE|FULL|",
        CallExited(ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="full", wait_s=0),
    ),
    (
        "100|c.1|support|NONE|JOINEMPTY|",
        CallExited(ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="empty", wait_s=0),
    ),
    (
        "100|c.1|support|NONE|JOINUNAVAIL|",
        CallExited(ts=_at(100), source="queue_log", call_id="c.1", queue="support", reason="empty", wait_s=0),
    ),
    (
        "100|c.1|support|Bob|RINGNOANSWER|15000",
        AgentRang(
            ts=_at(100),
            source="queue_log",
            call_id="c.1",
            queue="support",
            agent="Bob",
            answered=False,
            ring_s=15.0,
            member_name="Bob",
        ),
    ),
    (
        "100|MANAGER|support|Local/agent01@agents/n|ADDMEMBER|",
        AgentLogin(
            ts=_at(100),
            source="queue_log",
            agent="Local/agent01@agents/n",
            queue="support",
            interface="Local/agent01@agents/n",
        ),
    ),
    (
        "100|MANAGER|support|Local/agent01@agents/n|ADDMEMBER|PAUSED",
        AgentLogin(
            ts=_at(100),
            source="queue_log",
            agent="Local/agent01@agents/n",
            queue="support",
            interface="Local/agent01@agents/n",
            paused=True,
        ),
    ),
    (
        "100|REALTIME|support|Alice Nguyen|ADDMEMBER|",  # log_membername_as_agent=yes
        AgentLogin(ts=_at(100), source="queue_log", agent="Alice Nguyen", queue="support", member_name="Alice Nguyen"),
    ),
    (
        "100|MANAGER|support|Local/agent03@agents/n|REMOVEMEMBER|",
        AgentLogout(
            ts=_at(100),
            source="queue_log",
            agent="Local/agent03@agents/n",
            queue="support",
            interface="Local/agent03@agents/n",
        ),
    ),
    (
        "100|c.9|sales|Agent/1001|AGENTCALLBACKLOGIN|1001@agents",  # a vendor line naming the queue
        AgentLogin(ts=_at(100), source="queue_log", agent="Agent/1001", queue="sales", interface="Agent/1001"),
    ),
    (
        "100|c.9|sales|Agent/1001|AGENTLOGOFF|SIP/1001-0001|3600",
        AgentLogout(ts=_at(100), source="queue_log", agent="Agent/1001", queue="sales", interface="Agent/1001"),
    ),
    (
        "100|NONE|billing|Grace Kim|PAUSE|Auto-Pause",
        AgentPaused(
            ts=_at(100),
            source="queue_log",
            agent="Grace Kim",
            queue="billing",
            reason="Auto-Pause",
            member_name="Grace Kim",
        ),
    ),
    (
        "100|NONE|billing|Grace Kim|UNPAUSE|",
        AgentUnpaused(ts=_at(100), source="queue_log", agent="Grace Kim", queue="billing", member_name="Grace Kim"),
    ),
    (
        "100|NONE|NONE|Bob|PAUSEALL|Lunch",
        AgentPaused(ts=_at(100), source="queue_log", agent="Bob", queue=None, reason="Lunch", member_name="Bob"),
    ),
    (
        "100|NONE|NONE|Bob|UNPAUSEALL|",
        AgentUnpaused(ts=_at(100), source="queue_log", agent="Bob", queue=None, member_name="Bob"),
    ),
]


@pytest.mark.parametrize(("line", "expected"), VERB_CASES, ids=[case[0].split("|")[4] for case in VERB_CASES])
def test_each_verb_maps_to_its_event(line: str, expected: Event) -> None:
    """Each verb's data fields land in the event fields app_queue's layout says."""
    (event,) = _one(line)
    assert event.model_copy(update={"key": None}) == expected
    assert event.key is not None and event.key.startswith("ql:100:")


@pytest.mark.parametrize(
    ("line", "target", "wait_s", "talk_s"),
    [
        ("100|c.1|support|Alice|TRANSFER|200|from-internal|4|61|1", "200@from-internal", 4.0, 61.0),
        ("100|c.1|support|Alice|BLINDTRANSFER|200|default|5|30|2", "200@default", 5.0, 30.0),
        ("100|c.1|support|Alice|ATTENDEDTRANSFER|BRIDGE|b-uid|6|40|1", "BRIDGE|b-uid", 6.0, 40.0),
        ("100|c.1|support|Alice|ATTENDEDTRANSFER|APP|VoiceMail|7|41|1", "APP|VoiceMail", 7.0, 41.0),
        (
            "100|c.1|support|Alice|ATTENDEDTRANSFER|LINK|Local/a-1;1|Local/b-2;2|8|42|1",
            "LINK|Local/a-1;1|Local/b-2;2",
            8.0,
            42.0,
        ),
        ("100|c.1|support|Alice|TRANSFER|200|from-internal", "200@from-internal", None, None),  # Asterisk 1.2
    ],
)
def test_transfers_end_the_call(line: str, target: str, wait_s: float | None, talk_s: float | None) -> None:
    """A transfer gives CallTransferred then CallEnded(transfer): queue_log writes no COMPLETE after it."""
    transferred, ended = _one(line)
    assert isinstance(transferred, CallTransferred) and isinstance(ended, CallEnded)
    assert (transferred.call_id, transferred.queue, transferred.agent, transferred.target) == (
        "c.1",
        "support",
        "Alice",
        target,
    )
    assert (ended.call_id, ended.ended_by, ended.wait_s, ended.talk_s) == ("c.1", "transfer", wait_s, talk_s)
    assert transferred.key == f"{ended.key}/transfer"


@pytest.mark.parametrize(
    "line",
    [
        "100|c.1|support|Bob|RINGCANCELED|3000",
        "100|NONE|NONE|NONE|CONFIGRELOAD|",
        "100|c.1|support|NONE|DID|+15556667775",
        "100|c.1|support|Bob|SYSCOMPAT|",
        "100|c.1|support|NONE|INFO|something",
        "100|c.1|support|NONE|MYVENDORVERB|a|b|c",
        "100|c.1|NONE|Agent/1001|AGENTLOGIN|SIP/1001-0001",  # chan_agent: no queue to log in to
    ],
)
def test_known_and_vendor_verbs_without_events_are_ignored_not_rejected(line: str) -> None:
    """Verbs carrying nothing for the wallboard count as ignored, yield nothing and log no warning."""
    mapper, events = _run([line])
    assert events == []
    assert (mapper.records, mapper.ignored, mapper.rejected) == (1, 1, 0)


def _common() -> dict[str, Any]:
    return {"ts": _at(100), "site": "paris", "source": "queue_log", "key": "ql:100:0123456789abcdef"}


TRANSFER_LINES = [
    "100|c.1|support|Alice|TRANSFER|200|from-internal|4|61|1",
    "100|c.1|support|Alice|ATTENDEDTRANSFER|LINK|Local/a-1;1|Local/b-2;2|8|42|1",
    "100|MANAGER|support|Alice|COMPLETEAGENT|4|35|1",
]


@pytest.mark.parametrize("line", [case[0] for case in VERB_CASES] + TRANSFER_LINES)
def test_constructed_events_equal_validated_ones(line: str) -> None:
    """construct() builds what validation would: same values, field order, fields set and JSON."""
    record = parse_line(line, 1)
    handler = HANDLERS[record.verb]
    built, validated = handler(record, _common(), construct), handler(record, _common(), new)
    assert built == validated
    for fast, checked in zip(built, validated, strict=True):
        assert type(fast) is type(checked)
        assert list(fast.__dict__) == list(checked.__dict__)
        assert fast.model_fields_set == checked.model_fields_set
        assert fast.model_dump_json() == checked.model_dump_json()
        assert parse_event(fast.model_dump_json()) == fast


def test_handlers_check_in_a_fixed_order() -> None:
    """When several fields are wrong, the first check of the verb's layout names the reason."""
    record = parse_line("100|NONE|NONE|NONE|CONNECT|x", 1)
    with pytest.raises(MalformedLine) as caught:
        HANDLERS["CONNECT"](record, _common(), construct)
    assert caught.value.reason == "call_id"
    record = parse_line("100|c.1|NONE|NONE|CONNECT|x", 1)
    with pytest.raises(MalformedLine) as caught:
        HANDLERS["CONNECT"](record, _common(), construct)
    assert caught.value.reason == "queue"  # the queue is read before the agent column


def test_construct_refuses_models_with_default_factories() -> None:
    """construct() copies plain defaults only; a model whose default comes from a factory must be validated."""

    class WithFactory(BaseModel):
        items: list[int] = Field(default_factory=list)

    with pytest.raises(TypeError, match="default factory"):
        construct(WithFactory, {})
    assert new(WithFactory, {}).items == []
