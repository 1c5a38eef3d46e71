"""Tests for collectors/queue_log/parser.py: queue_log lines and CSV rows in, events out."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.queue_log.parser import (
    CSV_COLUMNS,
    MalformedLine,
    QueueLogError,
    QueueLogMapper,
    Record,
    parse_csv_row,
    parse_line,
    read_csv,
)
from wallboard.events import (
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
    SourceReset,
)

DATA = Path(os.environ.get("WALLBOARD_TEST_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
LIGHT = DATA / "asterisk-live" / "light" / "queue_log"
SLACK = DATA / "public" / "asterisk2slack_queue_log.txt"
SLACK_V1 = DATA / "public" / "asterisk2slack_queue_log_v1.txt"


def _lines(path: Path) -> list[str]:
    if not path.exists():
        pytest.skip(f"test data {path} is not available")
    return path.read_text(encoding="utf-8").splitlines()


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


# --- parse_line ---------------------------------------------------------------------------------------


def test_parse_line_splits_the_fixed_columns_and_the_data_fields() -> None:
    """The five fixed columns become fields; the rest is the data tuple; CR/LF is stripped."""
    record = parse_line("1795350765|1795350761.1|support|Alice Nguyen|CONNECT|4|1795350761.2|4\r\n", 7)
    assert record == Record(
        1795350765, "1795350761.1", "support", "Alice Nguyen", "CONNECT", ("4", "1795350761.2", "4"), 7
    )


def test_parse_line_drops_trailing_empty_data_fields_only() -> None:
    """``ADDMEMBER|`` has no data; leading empty fields (ENTERQUEUE's url) stay in place."""
    assert parse_line("1|MANAGER|billing|Local/agent01@agents/n|ADDMEMBER|", 1).data == ()
    assert parse_line("1|c.1|support|NONE|ENTERQUEUE||5039815111|1", 1).data == ("", "5039815111", "1")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1795350750|NONE|NONE|QUEUESTART", "fields"),
        ("garbage", "fields"),
        ("17953x0750|NONE|NONE|NONE|QUEUESTART|", "epoch"),
        ("-5|NONE|NONE|NONE|QUEUESTART|", "epoch"),
        ("１２|NONE|NONE|NONE|QUEUESTART|", "epoch"),
        ("1795350750|NONE|NONE|NONE||x", "verb"),
    ],
)
def test_parse_line_rejects_unreadable_lines_with_lineno_and_excerpt(line: str, reason: str) -> None:
    """A line without five fields, an integer epoch or a verb raises MalformedLine naming line and text."""
    with pytest.raises(MalformedLine) as caught:
        parse_line(line, 42)
    assert caught.value.reason == reason
    assert caught.value.lineno == 42
    assert "line 42" in str(caught.value)
    assert line[:10] in str(caught.value)


def test_malformed_line_excerpt_is_bounded() -> None:
    """A huge bad line is quoted by a short excerpt, not in full."""
    with pytest.raises(MalformedLine) as caught:
        parse_line("x" * 10_000, 1)
    assert len(str(caught.value)) < 200


# --- the light capture (real Asterisk 22) -------------------------------------------------------------


def test_light_queue_log_maps_every_line() -> None:
    """Each verb of the real file gives its events; counts come from counting the verbs in the file."""
    lines = _lines(LIGHT)
    verbs = Counter(line.split("|")[4] for line in lines)
    mapper, events = _run(lines)
    kinds = Counter(type(event) for event in events)

    assert verbs["ENTERQUEUE"] == 17 and verbs["CONNECT"] == 17
    assert verbs["COMPLETEAGENT"] + verbs["COMPLETECALLER"] == 17
    assert kinds[CallQueued] == verbs["ENTERQUEUE"]
    assert kinds[CallAnswered] == verbs["CONNECT"]
    assert kinds[CallEnded] == verbs["COMPLETEAGENT"] + verbs["COMPLETECALLER"]
    assert kinds[AgentPaused] == verbs["PAUSEALL"] + verbs["PAUSE"]
    assert kinds[AgentUnpaused] == verbs["UNPAUSEALL"] + verbs["UNPAUSE"]
    assert kinds[AgentLogin] == verbs["ADDMEMBER"]
    assert kinds[AgentLogout] == verbs["REMOVEMEMBER"]
    assert (mapper.records, mapper.rejected, mapper.duplicates, mapper.reconnects) == (len(lines), 0, 0, 0)
    assert mapper.ignored == verbs["QUEUESTART"] == 1  # the file's first line is just the start
    assert [event.ts for event in events] == sorted(event.ts for event in events)


def test_light_queue_log_agent_column_is_an_interface_for_addmember_and_a_name_for_pause() -> None:
    """ADDMEMBER/REMOVEMEMBER carry the interface, PAUSE the member name (README quirk 6)."""
    _, events = _run(_lines(LIGHT))
    logins = [event for event in events if isinstance(event, AgentLogin | AgentLogout)]
    pauses = [event for event in events if isinstance(event, AgentPaused | AgentUnpaused)]
    assert logins and all(e.interface == e.agent and e.agent.startswith("Local/") for e in logins)
    assert all(e.member_name is None for e in logins)
    assert pauses and all(e.member_name == e.agent and e.interface is None for e in pauses)
    assert {e.agent for e in pauses} >= {"Bob Martinez", "Dana O'Brien", "Fatima Zahra", "Grace Kim"}


def test_light_queue_log_pauseall_is_followed_by_per_queue_pauses() -> None:
    """PAUSEALL gives queue=None and each PAUSE that follows its own queue (quirk 7); both are emitted."""
    _, events = _run(_lines(LIGHT))
    bob = [(e.queue, e.reason) for e in events if isinstance(e, AgentPaused) and e.ts == _at(1795350790)]
    assert bob == [(None, "Break"), ("support", "Break"), ("sales", "Break")]


def test_light_queue_log_gives_the_readme_figures() -> None:
    """Waits and talk times per queue reproduce data/README.md's ASA and average talk table."""
    _, events = _run(_lines(LIGHT))
    expected = {"support": (8, 3.88, 45.62), "sales": (7, 3.71, 49.86), "billing": (2, 1.50, 53.00)}
    for queue, (answered, asa, talk) in expected.items():
        waits = [e.wait_s for e in events if isinstance(e, CallAnswered) and e.queue == queue]
        talks = [e.talk_s for e in events if isinstance(e, CallEnded) and e.queue == queue]
        assert len(waits) == len(talks) == answered
        assert round(sum(waits) / answered, 2) == asa
        assert round(sum(talks) / answered, 2) == talk


def test_light_queue_log_keeps_utf8_names() -> None:
    """Raw UTF-8 member names survive, from str and from bytes input alike."""
    lines = _lines(LIGHT)
    _, from_text = _run(lines)
    _, from_bytes = _run(line.encode("utf-8") + b"\n" for line in lines)
    assert from_bytes == from_text
    assert "José Álvarez" in {e.agent for e in from_text if isinstance(e, CallAnswered)}


# --- asterisk2slack (FreePBX extract, edited by hand) --------------------------------------------------


@pytest.mark.parametrize("path", [SLACK, SLACK_V1])
def test_asterisk2slack_repeated_lines_are_duplicates(path: Path) -> None:
    """Byte-identical repeats are dropped and counted; blank lines count nowhere; DID is ignored."""
    lines = _lines(path)
    non_blank = [line for line in lines if line.strip()]
    repeats = sum(count - 1 for count in Counter(non_blank).values())
    mapper, events = _run(lines)
    enter = "1546015415|1546015415.757927|201|NONE|ENTERQUEUE||+13238679471|1"
    assert non_blank.count(enter) >= 6
    assert [e.call_id for e in events if isinstance(e, CallQueued)].count("1546015415.757927") == 1
    assert mapper.duplicates == repeats
    assert mapper.records == len(non_blank)
    assert (mapper.rejected, mapper.ignored) == (0, 1)  # the vendor DID verb
    assert len(events) == len(non_blank) - repeats - 1


def test_asterisk2slack_near_duplicates_are_all_emitted() -> None:
    """COMPLETEAGENT lines that differ only in origposition are distinct records: each gives a CallEnded."""
    lines = _lines(SLACK)
    call = "1546023970.760296"
    completes = {line for line in lines if f"|{call}|" in line and "|COMPLETEAGENT|" in line}
    _, events = _run(lines)
    ended = [e for e in events if isinstance(e, CallEnded) and e.call_id == call]
    assert len(ended) == len(completes) == 4
    assert {(e.talk_s, e.wait_s, e.ended_by) for e in ended} == {(228.0, 6.0, "agent")}


def test_asterisk2slack_ringnoanswer_is_milliseconds() -> None:
    """RINGNOANSWER lines become unanswered AgentRang events for the member named."""
    _, events = _run(_lines(SLACK))
    rang = [e for e in events if isinstance(e, AgentRang)]
    assert [(e.agent, e.answered, e.ring_s) for e in rang] == [
        ("John Rembold", False, 0.0),
        ("Tania Lissete Flores Zavala", False, 0.0),
        ("Sara Sangri", False, 0.0),
    ]


def test_asterisk2slack_lines_far_out_of_order_are_never_dropped() -> None:
    """Lines an hour older than what was released come out as they are, none lost."""
    _, events = _run(_lines(SLACK))
    answered = [(e.call_id, e.ts) for e in events if isinstance(e, CallAnswered)]
    assert sorted(answered) == [
        ("1546015415.757927", _at(1546015425)),
        ("1546023970.760296", _at(1546023976)),
        ("1546027663.761192", _at(1546027677)),
    ]


# --- every verb ---------------------------------------------------------------------------------------

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
        ("100|c.1|support|Alice|TRANSFER|200|from-internal", "200@from-internal", None, 0.0),  # Asterisk 1.2
    ],
)
def test_transfers_end_the_call(line: str, target: str, wait_s: float | None, talk_s: float) -> None:
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


# --- QUEUESTART ---------------------------------------------------------------------------------------


def test_queuestart_first_is_just_the_start() -> None:
    """The QUEUESTART a file begins with yields nothing."""
    mapper, events = _run(["100|NONE|NONE|NONE|QUEUESTART|"])
    assert events == [] and mapper.reconnects == 0


def test_queuestart_after_other_records_is_a_restart() -> None:
    """A QUEUESTART in the middle is a PBX restart: SourceReset(restart) in timestamp order."""
    lines = [
        "100|NONE|NONE|NONE|QUEUESTART|",
        "101|c.1|support|NONE|ENTERQUEUE||555|1",
        "200|NONE|NONE|NONE|QUEUESTART|",
        "201|c.2|support|NONE|ENTERQUEUE||556|1",
    ]
    mapper, events = _run(lines)
    assert [type(e) for e in events] == [CallQueued, SourceReset, CallQueued]
    reset = events[1]
    assert isinstance(reset, SourceReset) and reset.reason == "restart" and reset.ts == _at(200)
    assert mapper.reconnects == 1


# --- malformed lines ----------------------------------------------------------------------------------


BAD_LINES = [
    ("1795350750|NONE|NONE|QUEUESTART", "fields"),
    ("17953x0750|c.1|support|NONE|ENTERQUEUE||555|1", "epoch"),
    ("99999999999999999999|c.1|support|NONE|ENTERQUEUE||555|1", "epoch"),
    ("100|c.1|support|Alice|CONNECT|four|c.2|1", "number"),
    ("100|c.1|support|Alice|CONNECT||c.2|1", "number"),
    ("100|c.1|support|Alice|CONNECT|-4|c.2|1", "number"),
    ("100|NONE|support|Alice|CONNECT|4|c.2|1", "call_id"),
    ("100|c.1|NONE|Alice|CONNECT|4|c.2|1", "queue"),
    ("100|c.1|support|NONE|CONNECT|4|c.2|1", "agent"),
    ("100|c.1|support|Alice|COMPLETEAGENT|4||1", "number"),
    ("100|c.1||NONE|ENTERQUEUE||555|1", "queue"),
    ("100|NONE|NONE|Bob|PAUSE|Break", "queue"),
    ("100|c.1|support|NONE|ENTERQUEUE||" + "5" * 5000 + "|1", "invalid"),
    ("100|" + "c" * 300 + "|support|NONE|ENTERQUEUE||555|1", "invalid"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_malformed_lines_are_rejected_and_logged_with_lineno(
    line: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad line is logged at WARNING with its line number and an excerpt, counted, and the rest still parsed."""
    good = "101|c.9|sales|NONE|ENTERQUEUE||556|1"
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        mapper, events = _run([good, line, good.replace("c.9", "c.10")])
    assert [e.call_id for e in events if isinstance(e, CallQueued)] == ["c.9", "c.10"]
    assert (mapper.records, mapper.rejected, mapper.rejected_by_reason) == (3, 1, {reason: 1})
    (logged,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "line 2" in logged.getMessage()
    assert line[:12] in logged.getMessage()


def test_blank_lines_count_nowhere() -> None:
    """Empty and whitespace-only lines are skipped silently."""
    mapper, events = _run(["", "   ", "\n", b"\r\n", "101|c.9|sales|NONE|ENTERQUEUE||556|1"])
    assert len(events) == 1
    assert (mapper.records, mapper.rejected, mapper.ignored, mapper.duplicates) == (1, 0, 0, 0)


def test_invalid_utf8_bytes_are_replaced_not_fatal() -> None:
    """Bytes that are not UTF-8 decode with replacement characters; the record still maps."""
    mapper, events = _run([b"100|NONE|support|Jos\xe9|PAUSE|Break"])
    (event,) = events
    assert isinstance(event, AgentPaused) and event.agent == "Jos\ufffd"


# --- ordering -----------------------------------------------------------------------------------------


def _enter(epoch: int, call: str) -> str:
    return f"{epoch}|{call}|support|NONE|ENTERQUEUE||555|1"


def test_events_are_held_until_a_record_more_than_the_window_newer() -> None:
    """With a 2 s window, an event at t is released when a record newer than t + 2 arrives."""
    mapper = QueueLogMapper(reorder_window_s=2)
    assert mapper.feed_line(_enter(100, "a"), 1) == []
    assert mapper.feed_line(_enter(102, "b"), 2) == []
    released = mapper.feed_line(_enter(103, "c"), 3)
    assert [e.call_id for e in released if isinstance(e, CallQueued)] == ["a"]
    assert mapper.pending == 2
    assert [e.call_id for e in mapper.finish() if isinstance(e, CallQueued)] == ["b", "c"]
    assert mapper.pending == 0


def test_out_of_order_lines_come_out_sorted_and_stable_within_the_window() -> None:
    """Lines a second or two out of order are released sorted by time, ties in reading order."""
    order = [(101, "a"), (100, "b"), (102, "c"), (100, "d"), (103, "e"), (101, "f"), (110, "g")]
    _, events = _run([_enter(epoch, call) for epoch, call in order], QueueLogMapper(reorder_window_s=2))
    expected = [call for _, call in sorted(order, key=lambda item: item[0])]  # sorted() is stable
    assert [e.call_id for e in events if isinstance(e, CallQueued)] == expected


def test_records_older_than_released_ones_pass_through_immediately() -> None:
    """A record older than what was already released is released at once, never dropped."""
    mapper = QueueLogMapper(reorder_window_s=2)
    mapper.feed_line(_enter(100, "a"), 1)
    assert [e.call_id for e in mapper.feed_line(_enter(200, "b"), 2) if isinstance(e, CallQueued)] == ["a"]
    late = mapper.feed_line(_enter(50, "late"), 3)
    assert [e.call_id for e in late if isinstance(e, CallQueued)] == ["late"]


def test_feeding_may_continue_after_finish() -> None:
    """finish() releases everything held; later records are mapped as usual."""
    mapper = QueueLogMapper()
    mapper.feed_line(_enter(100, "a"), 1)
    assert len(mapper.finish()) == 1
    assert mapper.feed_line(_enter(101, "b"), 2) == []
    assert [e.call_id for e in mapper.finish() if isinstance(e, CallQueued)] == ["b"]


def test_window_zero_releases_each_second_once_the_next_starts() -> None:
    """reorder_window_s=0 holds only records of the newest second."""
    mapper = QueueLogMapper(reorder_window_s=0)
    assert mapper.feed_line(_enter(100, "a"), 1) == []
    assert len(mapper.feed_line(_enter(101, "b"), 2)) == 1


def test_constructor_rejects_negative_window_and_empty_dedup_memory() -> None:
    """Nonsense settings fail at construction."""
    with pytest.raises(ValueError, match="reorder_window_s"):
        QueueLogMapper(reorder_window_s=-1)
    with pytest.raises(ValueError, match="dedup_memory"):
        QueueLogMapper(dedup_memory=0)


# --- duplicates and keys ------------------------------------------------------------------------------


def test_duplicate_memory_is_bounded() -> None:
    """A repeat seen long before (more than two generations of dedup_memory lines) is a new record again."""
    lines = [_enter(100, "a"), _enter(100, "b"), _enter(100, "a")]
    assert _run(lines, QueueLogMapper(dedup_memory=2))[0].duplicates == 1
    spaced = [_enter(100, "a"), *(_enter(100, f"x{i}") for i in range(5)), _enter(100, "a")]
    mapper, events = _run(spaced, QueueLogMapper(dedup_memory=2))
    assert mapper.duplicates == 0
    assert [e.call_id for e in events if isinstance(e, CallQueued)].count("a") == 2


def test_keys_are_content_based_and_stable() -> None:
    """The same line gives the same key at any line number and in any mapper; other lines other keys."""
    line = "1795350765|1795350761.1|support|Alice Nguyen|CONNECT|4|1795350761.2|4"
    (first,) = _run([line])[1]
    (again,) = _run(["", _enter(1, "x"), line])[1][1:]
    (other,) = _run([line.replace("|4|1795", "|5|1795")])[1]
    assert first.key == again.key and first.key is not None and first.key.startswith("ql:1795350765:")
    assert other.key != first.key


def test_light_queue_log_keys_are_unique() -> None:
    """Every event of a real file has its own key."""
    _, events = _run(_lines(LIGHT))
    assert len({event.key for event in events}) == len(events)


def test_feed_accepts_records_and_line_gives_the_canonical_text() -> None:
    """feed(parse_line(x)) equals feed_line(x), and Record.line() drops only trailing empty fields."""
    line = "100|MANAGER|support|Local/agent01@agents/n|ADDMEMBER|"
    record = parse_line(line, 1)
    assert record.line() == line.rstrip("|")
    via_record = QueueLogMapper().feed(record)
    via_line = QueueLogMapper().feed_line(line, 1)
    assert via_record == via_line == []  # held for the window
    assert QueueLogMapper().finish() == []


# --- CSV export ---------------------------------------------------------------------------------------


def _to_csv(lines: list[str]) -> str:
    """The CSV export of pipe lines: params 1-3 and data fields 4-5 in ttime/entpos (transfers) or htime."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for uid, line in enumerate(lines, 1):
        epoch, callid, queue, agent, verb, *data = line.split("|")
        params = (data + ["", "", ""])[:3]
        derived = {"entpos": "", "expos": "", "htime": "", "ttime": "", "time": ""}
        if verb == "EXITWITHKEY" and len(data) > 3:
            derived["htime"] = data[3]
        if verb.endswith("TRANSFER") and len(data) > 3:
            derived["ttime"] = data[3]
            derived["entpos"] = data[4] if len(data) > 4 else ""
        writer.writerow([uid, epoch, callid, queue, agent, verb, *params, *derived.values()])
    return out.getvalue()


def test_csv_export_of_the_light_file_gives_the_same_events(tmp_path: Path) -> None:
    """The light queue_log converted to the CSV export maps to exactly the pipe-format events."""
    lines = _lines(LIGHT)
    path = tmp_path / "queue_log.csv"
    path.write_text(_to_csv(lines), encoding="utf-8")
    _, from_pipe = _run(lines)
    mapper = QueueLogMapper()
    from_csv: list[Event] = []
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(read_csv(stream))
    for lineno, row in rows:
        from_csv.extend(mapper.feed_csv_row(row, lineno))
    from_csv.extend(mapper.finish())
    assert from_csv == from_pipe
    assert (mapper.records, mapper.rejected) == (len(lines), 0)
    assert [parse_csv_row(row, n) for n, row in rows] == [parse_line(line, n + 1) for n, line in enumerate(lines, 1)]


@pytest.mark.parametrize(
    "line",
    [
        "100|c.1|support|NONE|EXITWITHKEY|5|2|1|37",
        "100|c.1|support|Alice|TRANSFER|200|from-internal|4|61|1",
        "100|c.1|support|Alice|ATTENDEDTRANSFER|BRIDGE|b-uid|6|40|1",
    ],
)
def test_csv_fields_beyond_param3_come_from_the_derived_columns(line: str) -> None:
    """EXITWITHKEY's waittime is htime; a transfer's calltime and origposition are ttime and entpos."""
    ((lineno, row),) = read_csv(io.StringIO(_to_csv([line])))
    assert lineno == 2
    assert parse_csv_row(row, 1) == parse_line(line, 1)


def test_csv_transfer_holdtime_falls_back_to_htime() -> None:
    """An empty param3 on a transfer takes the holdtime from htime."""
    text = "uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,htime,ttime,time\n"
    text += "7,100,c.1,support,Alice,BLINDTRANSFER,200,default,,2,,5,30,\n"
    ((lineno, row),) = read_csv(io.StringIO(text))
    assert parse_csv_row(row, lineno).data == ("200", "default", "5", "30", "2")


def test_csv_quoted_fields_keep_their_commas() -> None:
    """Quoted fields may hold commas and quotes; the header may be in any case and order."""
    text = "EVENT,Date_Time,callid,queue_name,type,param1,param2,param3\n"
    text += 'PAUSE,100,NONE,support,"Doe, ""JJ"" John",Lunch,,\n'
    ((_, row),) = read_csv(io.StringIO(text))
    mapper = QueueLogMapper()
    (event,) = mapper.feed_csv_row(row, 2) + mapper.finish()
    assert event == AgentPaused(
        ts=_at(100),
        source="queue_log",
        key=event.key,
        agent='Doe, "JJ" John',
        queue="support",
        reason="Lunch",
        member_name='Doe, "JJ" John',
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty CSV"),
        ("1,100,c.1,support,NONE,ENTERQUEUE,,555,1,,,,,\n", "lacks"),
        ("uid,date_time,callid,queue,agent,verb\n", "lacks"),
    ],
)
def test_csv_without_its_header_is_an_error(text: str, message: str) -> None:
    """A missing or wrong header raises QueueLogError saying what was expected."""
    with pytest.raises(QueueLogError, match=message) as caught:
        list(read_csv(io.StringIO(text)))
    assert "date_time" in str(caught.value) or message == "empty CSV"


def test_csv_short_row_is_rejected_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A row lacking columns is a rejected line (with its line number), not an exception."""
    text = ",".join(CSV_COLUMNS) + "\n1,100,c.1\n2,101,c.2,support,NONE,ENTERQUEUE,,555,1,,,,,\n"
    mapper = QueueLogMapper()
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        for lineno, row in read_csv(io.StringIO(text)):
            mapper.feed_csv_row(row, lineno)
    assert (mapper.records, mapper.rejected, mapper.rejected_by_reason) == (2, 1, {"fields": 1})
    assert "line 2" in caplog.text
    assert len(mapper.finish()) == 1


# --- property: any line is parsed or counted -----------------------------------------------------------

VERBS = [
    "ENTERQUEUE", "CONNECT", "COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER",
    "ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY", "WITHDRAW", "FULL", "JOINEMPTY", "JOINUNAVAIL",
    "RINGNOANSWER", "RINGCANCELED", "ADDMEMBER", "REMOVEMEMBER", "AGENTLOGIN", "AGENTLOGOFF", "PAUSE", "UNPAUSE",
    "PAUSEALL", "UNPAUSEALL", "QUEUESTART", "CONFIGRELOAD", "DID", "VENDOR",
]  # fmt: skip
_field_text = st.one_of(
    st.sampled_from(["", "NONE", "MANAGER", "support", "Alice", "Local/a@b/n", "0", "5", "-3", "x"]),
    st.text(max_size=8),
    st.integers(min_value=-5, max_value=10**6).map(str),
)
_structured = st.builds(
    lambda epoch, head, verb, data: "|".join([epoch, *head, verb, *data]),
    st.one_of(st.integers(min_value=0, max_value=2**40).map(str), st.text(max_size=12)),
    st.lists(_field_text, min_size=3, max_size=3),
    st.sampled_from(VERBS),
    st.lists(_field_text, max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.binary(max_size=60), _structured), max_size=12))
def test_any_line_is_mapped_or_counted_and_never_raises(lines: list[str | bytes]) -> None:
    """feed_line never raises; every non-blank line is mapped, rejected, ignored or a duplicate."""
    mapper, events = _run(lines)
    texts = [line.decode("utf-8", "replace") if isinstance(line, bytes) else line for line in lines]
    assert mapper.records == sum(1 for text in texts if text and not text.isspace())
    mapped = mapper.records - mapper.rejected - mapper.ignored - mapper.duplicates
    assert mapped >= 0
    transfers = sum(1 for e in events if isinstance(e, CallTransferred))
    assert len(events) == mapped + transfers
    assert mapper.pending == 0
