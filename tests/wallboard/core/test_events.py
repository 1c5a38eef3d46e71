"""Events are frozen, validated values whose JSON round-trips exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from wallboard.core import events as ev

TS = datetime(2026, 11, 22, 12, 32, 30, 582000, tzinfo=UTC)


def _examples() -> list[ev.Event]:
    return [
        ev.CallQueued(ts=TS, source="ami", call_id="1795350761.1", queue="support", position=1, caller="5039815111"),
        ev.CallAnswered(
            ts=TS, source="ami", call_id="1.1", queue="support", agent="Alice Nguyen", wait_s=4, ring_s=1.5
        ),
        ev.CallEnded(ts=TS, source="queue_log", queue="support", agent="Bob", talk_s=26, wait_s=5, ended_by="agent"),
        ev.CallAbandoned(ts=TS, source="ami", call_id="1.2", queue="sales", wait_s=12.5, position=2),
        ev.CallExited(ts=TS, source="ami", call_id="1.3", queue="sales", reason="timeout", wait_s=120),
        ev.CallTransferred(ts=TS, source="queue_log", call_id="1.4", queue="sales", agent="Dana", target="200"),
        ev.CallHold(ts=TS, source="ami", pbx_channel="PJSIP/1001-0001", held=True),
        ev.AgentRang(ts=TS, source="ami", call_id="1.5", queue="billing", agent="Grace Kim", answered=False, ring_s=12),
        ev.ContactResponded(
            ts=TS, source="http", call_id="chat-7", queue="webchat", channel="chat", agent="Alice", response_s=42.5
        ),
        ev.AgentLogin(ts=TS, source="ami", agent="José Álvarez", queue="billing", interface="Local/agent08@agents/n"),
        ev.AgentLogout(ts=TS, source="queue_log", agent="Local/agent03@agents/n", queue="support"),
        ev.AgentPaused(ts=TS, source="queue_log", agent="Dana O'Brien", reason="Lunch"),
        ev.AgentUnpaused(ts=TS, source="queue_log", agent="Dana O'Brien", queue="sales"),
        ev.AgentDevice(ts=TS, source="ami", agent="Grace Kim", queue="billing", device_state="in_use", in_call=True),
        ev.Snapshot(
            ts=TS,
            source="ami",
            queues=(ev.QueueInfo(name="support", sl_threshold_s=20),),
            members=(ev.MemberInfo(queue="support", agent="Alice Nguyen", paused=True, reason="Break"),),
            entries=(ev.EntryInfo(queue="support", call_id="1.9", position=1, wait_s=7),),
        ),
        ev.SourceReset(ts=TS, source="ami", reason="reconnect", key="ami:1:0"),
        ev.AlertAction(
            ts=TS,
            source="api",
            key="api:7f3a",
            alert_id="waiting:queue:support:1795350761",
            action="snooze",
            by="alice",
            note="storm, on it",
            until=TS + timedelta(minutes=30),
        ),
        ev.DialAttempt(ts=TS, source="dialer", campaign="renewals", call_id="d-1", agent="Alice", key="d-1/a"),
        ev.DialResult(ts=TS, source="dialer", campaign="renewals", call_id="d-1", result="answered", talk_s=95.5),
    ]


@pytest.mark.parametrize("event", _examples(), ids=lambda e: e.kind)
def test_json_round_trip_is_exact(event: ev.Event) -> None:
    """Every kind survives event_to_json -> parse_event unchanged, and so does its JSON text."""
    text = ev.event_to_json(event)
    back = ev.parse_event(text)
    assert back == event
    assert type(back) is type(event)
    assert ev.event_to_json(back) == text


def test_every_kind_of_the_union_has_an_example() -> None:
    """The examples above cover every event kind, so the round-trip test covers the whole union."""
    kinds = {e.kind for e in _examples()}
    union = {m.model_fields["kind"].default for m in ev._Event.__subclasses__()}
    assert kinds == union


def test_events_are_frozen() -> None:
    """An event cannot be changed once built."""
    event = _examples()[0]
    with pytest.raises(ValidationError):
        event.queue = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "call_queued", "ts": "2026-11-22T12:00:00", "source": "ami", "call_id": "1", "queue": "q"},
        {"kind": "call_queued", "ts": "2026-11-22T12:00:00Z", "source": "ami", "call_id": "", "queue": "q"},
        {
            "kind": "call_answered",
            "ts": "2026-11-22T12:00:00Z",
            "source": "ami",
            "call_id": "1",
            "queue": "q",
            "agent": "a",
            "wait_s": -1,
        },
        {
            "kind": "call_exited",
            "ts": "2026-11-22T12:00:00Z",
            "source": "ami",
            "call_id": "1",
            "queue": "q",
            "reason": "bored",
        },
        {"kind": "no_such_kind", "ts": "2026-11-22T12:00:00Z", "source": "ami"},
        {"kind": "agent_login", "ts": "2026-11-22T12:00:00Z", "source": "ami", "agent": "a", "queue": "q", "x": 1},
    ],
    ids=["naive-ts", "empty-call-id", "negative-wait", "unknown-reason", "unknown-kind", "extra-field"],
)
def test_invalid_events_cannot_exist(data: dict[str, object]) -> None:
    """Naive timestamps, empty ids, negative durations, unknown reasons/kinds and extra fields are rejected."""
    with pytest.raises(ValidationError):
        ev.event_from_dict(data)


def test_timestamps_are_normalised_to_utc() -> None:
    """A timestamp given in another offset is stored as the same instant in UTC."""
    paris = timezone(timedelta(hours=1))
    event = ev.AgentPaused(ts=datetime(2026, 11, 22, 13, 0, tzinfo=paris), source="sim", agent="a")
    assert event.ts == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert event.ts.utcoffset() == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(
    call_id=st.text(min_size=1, max_size=40),
    queue=st.text(min_size=1, max_size=40),
    wait=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    micros=st.integers(min_value=0, max_value=10**15),
)
def test_round_trip_property(call_id: str, queue: str, wait: float, micros: int) -> None:
    """Any valid abandon (any unicode ids, any wait, any instant) round-trips through JSON exactly."""
    ts = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    event = ev.CallAbandoned(ts=ts, source="x", call_id=call_id, queue=queue, wait_s=wait)
    assert ev.parse_event(ev.event_to_json(event)) == event


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "snooze"},
        {"action": "ack", "until": "2026-11-22T13:00:00Z"},
        {"action": "note"},
        {"action": "note", "note": ""},
        {"action": "mute"},
    ],
    ids=["snooze-without-until", "ack-with-until", "note-without-note", "empty-note", "unknown-action"],
)
def test_alert_actions_say_what_they_need(fields: dict[str, object]) -> None:
    """A snooze needs its end, other actions take none, a note needs text, and only four actions exist."""
    base = {"kind": "alert_action", "ts": "2026-11-22T12:00:00Z", "source": "api", "alert_id": "a:1", "by": "bob"}
    with pytest.raises(ValidationError):
        ev.event_from_dict(base | fields)


# -- channels ---------------------------------------------------------------------------------------


def test_call_events_default_to_voice_and_carry_their_channel_through_json() -> None:
    """An event without ``channel`` is voice; a chat one keeps ``chat`` through JSON."""
    chat = ev.CallQueued(ts=TS, source="http", call_id="c1", queue="webchat", channel="chat")
    assert ev.CallQueued(ts=TS, source="ami", call_id="c1", queue="support").channel == "voice"
    assert ev.parse_event(ev.event_to_json(chat)) == chat
    assert '"channel":"chat"' in ev.event_to_json(chat)
    with pytest.raises(ValidationError, match="channel"):
        ev.event_from_dict(
            {"kind": "call_queued", "ts": TS.isoformat(), "source": "x", "call_id": "1", "queue": "q", "channel": "fax"}
        )


def test_old_stored_json_without_channel_parses_as_voice() -> None:
    """Events stored before channels existed (no ``channel`` key) still parse, as voice."""
    old = (
        '{"ts":"2026-11-22T12:32:30Z","site":"default","source":"ami","key":"k1","kind":"call_answered",'
        '"call_id":"1.1","queue":"support","agent":"Alice","wait_s":4.0,"ring_s":null,"agent_channel":null,'
        '"interface":null,"member_name":null}'
    )
    event = ev.parse_event(old)
    assert isinstance(event, ev.CallAnswered) and event.channel == "voice" and event.wait_s == 4.0


@pytest.mark.parametrize(
    ("stored", "pbx", "channel"),
    [
        ('"channel":"PJSIP/1001-00000001"', "PJSIP/1001-00000001", "voice"),
        ('"channel":null', None, "voice"),
        ('"pbx_channel":"SIP/a-1","channel":"chat"', "SIP/a-1", "chat"),
        ('"channel":"callback"', None, "callback"),
    ],
)
def test_call_hold_reads_the_old_pbx_channel_key(stored: str, pbx: str | None, channel: str) -> None:
    """A call_hold stored with the old ``channel`` (a PBX channel name or null) reads it as ``pbx_channel``."""
    text = f'{{"ts":"2026-11-22T12:32:30Z","source":"ami","kind":"call_hold","call_id":null,{stored},"held":true}}'
    event = ev.parse_event(text)
    assert isinstance(event, ev.CallHold)
    assert (event.pbx_channel, event.channel) == (pbx, channel)
    assert ev.parse_event(ev.event_to_json(event)) == event
