"""Tests for collectors/queue_log/parser.py: the mapper (lines in, events out: counters, duplicates, keys).

The line format is tested in test_records.py, the CSV export in test_csv_export.py, each verb in
test_verbs.py and the ordering in test_reorder.py."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import cast

import fixture_paths
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.records import parse_line
from wallboard.core.events import (
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallTransferred,
    Event,
    SourceReset,
    event_to_json,
    parse_event,
)

LIGHT = fixture_paths.LIGHT / "queue_log"
SLACK = fixture_paths.PUBLIC / "asterisk2slack_queue_log.txt"
SLACK_V1 = fixture_paths.PUBLIC / "asterisk2slack_queue_log_v1.txt"


def _lines(path: Path) -> list[str]:
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


def _enter(epoch: int, call: str) -> str:
    return f"{epoch}|{call}|support|NONE|ENTERQUEUE||555|1"


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
    """ADDMEMBER/REMOVEMEMBER carry the interface, PAUSE the member name (PROVENANCE.md quirk 6)."""
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
    """Waits and talk times per queue reproduce the ASA and average talk table of the capture's PROVENANCE.md."""
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
    ("100|NONE|support|Alice|CONNECT|4|c.2|1", "call_id"),
    ("100|c.1|NONE|Alice|CONNECT|4|c.2|1", "queue"),
    ("100|c.1|support|NONE|CONNECT|4|c.2|1", "agent"),
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
    physical = [part for text in texts for part in re.split("\r\n|\r|\n", text.rstrip("\r\n"))]  # a CR ends a line
    assert mapper.records == sum(1 for text in physical if text and not text.isspace())
    mapped = mapper.records - mapper.rejected - mapper.ignored - mapper.duplicates
    assert mapped >= 0
    transfers = sum(1 for e in events if isinstance(e, CallTransferred))
    assert len(events) == mapped + transfers
    assert mapper.pending == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.binary(max_size=60), _structured), max_size=12))
def test_feed_lines_is_feed_line_one_by_one(lines: list[str | bytes]) -> None:
    """feed_lines gives the events, counters and keys feeding the same lines one at a time gives."""
    one, by_line = _run(lines)
    block = QueueLogMapper()
    by_block = block.feed_lines(lines, 1) + block.finish()
    assert by_block == by_line
    assert [e.key for e in by_block] == [e.key for e in by_line]
    counters = ("records", "rejected", "ignored", "duplicates", "reconnects", "rejected_by_reason")
    assert [getattr(block, name) for name in counters] == [getattr(one, name) for name in counters]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), _structured), max_size=12))
def test_every_event_is_valid(lines: list[str]) -> None:
    """Events built without running the validators pass them: each survives a JSON round trip unchanged."""
    _, events = _run(lines)
    for event in events:
        assert parse_event(event_to_json(event)) == event


def test_long_and_surrogate_lines_are_still_validated() -> None:
    """Fields over the events' limits and lone surrogates are rejected as invalid, whatever the build path."""
    lines = [
        "100|c.1|support|NONE|ENTERQUEUE||" + "5" * 5000 + "|1",
        "100|c.2|" + "q" * 257 + "|NONE|ENTERQUEUE||555|1",
        "100|c.3|support|NONE|ENTERQUEUE||\ud800|1",
        "100|c.4|support|NONE|ENTERQUEUE||555|1",
    ]
    mapper, events = _run(lines)
    assert mapper.rejected_by_reason == {"invalid": 3}
    assert [e.call_id for e in events if isinstance(e, CallQueued)] == ["c.4"]


def test_an_invalid_site_rejects_every_event() -> None:
    """A site name the events refuse makes every record invalid (it is never built unchecked)."""
    mapper, events = _run([_enter(100, "a"), _enter(101, "b")], QueueLogMapper(site=""))
    assert events == []
    assert mapper.rejected_by_reason == {"invalid": 2}


def test_a_number_too_large_for_seconds_is_degraded_not_raised() -> None:
    """A 400-digit holdtime cannot be seconds: the answer is kept with an unknown wait, feed_line does not raise."""
    mapper, events = _run(["100|c.1|support|Alice|CONNECT|" + "9" * 400 + "|c.2|1", _enter(101, "b")])
    assert (mapper.rejected, mapper.degraded_by_reason) == (0, {"holdtime": 1})
    assert [type(e) for e in events] == [CallAnswered, CallQueued]


def test_epochs_are_exact_across_steps_and_jumps() -> None:
    """Each event's ts is its epoch second, whether the second follows the last one closely or not."""
    epochs = [100, 101, 101, 3700, 3699, 5000, 5000 + 3599, 2**33, 7]
    _, events = _run([_enter(epoch, f"c{n}") for n, epoch in enumerate(epochs)], QueueLogMapper(reorder_window_s=0))
    assert sorted((e.call_id, e.ts) for e in events) == sorted((f"c{n}", _at(e)) for n, e in enumerate(epochs))


# --- input that cannot stop the mapper ------------------------------------------------------------------

_POISON = ["9" * 5000, "1" * 19, "NaN", "inf", "-inf", "1e30", "1E5", "+4", "-4", " 4", "4 ", "1_0", "٤", "0x10"]


@pytest.mark.parametrize("number", _POISON)
def test_an_epoch_that_is_not_plain_digits_is_rejected_with_its_line(
    number: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Huge, NaN, inf, exponent, signed, spaced or non-ASCII epochs: a rejected line (logged with its number), never
    an exception, and the next line is still read."""
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        mapper, events = _run([f"{number}|c.1|support|NONE|ENTERQUEUE||555|1", _enter(101, "b")])
    assert (mapper.records, mapper.rejected) == (2, 1)
    assert set(mapper.rejected_by_reason) == {"epoch"}
    assert "line 1:" in caplog.text
    assert [e.call_id for e in events if isinstance(e, CallQueued)] == ["b"]


@pytest.mark.parametrize("number", _POISON)
@pytest.mark.parametrize(
    ("template", "kind", "figure", "reason"),
    [
        ("100|c.1|support|Alice|CONNECT|{n}|c.2|1", CallAnswered, "wait_s", "holdtime"),
        ("100|c.1|support|Alice|COMPLETEAGENT|4|{n}|1", CallEnded, "talk_s", "talktime"),
        ("100|c.1|support|NONE|ABANDON|1|1|{n}", CallAbandoned, "wait_s", "waittime"),
    ],
    ids=["holdtime", "talktime", "waittime"],
)
def test_a_figure_that_is_not_plain_digits_degrades_the_record_not_the_call(
    template: str, kind: type[Event], figure: str, reason: str, number: str
) -> None:
    """A garbled wait or talk time costs that figure (None, counted as degraded), never the call: the event is
    still emitted, nothing is rejected and nothing raises."""
    mapper, events = _run([template.format(n=number), _enter(101, "b")])
    (mapped,) = [e for e in events if isinstance(e, kind)]
    assert getattr(mapped, figure) is None
    assert (mapper.records, mapper.rejected, mapper.degraded) == (2, 0, 1)
    assert mapper.degraded_by_reason == {reason: 1}


@pytest.mark.parametrize("number", _POISON)
@pytest.mark.parametrize(
    "template",
    ["100|c.1|support|Alice|RINGNOANSWER|{n}", "100|c.1|support|NONE|ABANDON|{n}|1|5"],
    ids=["ringtime", "position"],
)
def test_a_garbled_ring_time_or_position_is_unknown(template: str, number: str) -> None:
    """A ring time or a position that is not plain digits is unknown (None); the record is mapped, not rejected."""
    mapper, events = _run([template.format(n=number)])
    assert (mapper.records, mapper.rejected) == (1, 0)
    (event,) = events
    assert getattr(event, "ring_s", None) is None and getattr(event, "position", None) is None


def test_a_connect_without_holdtime_still_answers_the_call() -> None:
    """CONNECT with an empty holdtime (as real CSV exports write it) is an answer with an unknown wait, counted."""
    mapper, events = _run(["100|c.1|support|NONE|ENTERQUEUE||555|1", "130|c.1|support|Alice|CONNECT||c.2|1"])
    (answered,) = [e for e in events if isinstance(e, CallAnswered)]
    assert answered.wait_s is None and answered.agent == "Alice"
    assert (mapper.rejected, mapper.degraded_by_reason) == (0, {"holdtime": 1})


def _truncate(line: str, cut: int) -> str:
    return line[: cut % (len(line) + 1)]


def _swap(line: str, i: int, j: int) -> str:
    fields = line.split("|")
    i, j = i % len(fields), j % len(fields)
    fields[i], fields[j] = fields[j], fields[i]
    return "|".join(fields)


def _replace_field(line: str, index: int, value: str) -> str:
    fields = line.split("|")
    fields[index % len(fields)] = value
    return "|".join(fields)


_LIGHT_LINES = LIGHT.read_text(encoding="utf-8").splitlines()
_BAD_NUMBER = st.sampled_from(["9" * 5000, "NaN", "inf", "-inf", "1e30", "-1", " 7", "+7", "1_0", "", "٣"])
_BAD_BYTES = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xe2\x82"])
_MUTATION = st.one_of(
    st.tuples(st.just("keep"), st.none()),
    st.tuples(st.just("truncate"), st.integers(0, 200)),
    st.tuples(st.just("swap"), st.tuples(st.integers(0, 9), st.integers(0, 9))),
    st.tuples(st.just("number"), st.tuples(st.integers(0, 9), _BAD_NUMBER)),
    st.tuples(st.just("bytes"), st.tuples(st.integers(0, 200), _BAD_BYTES)),
)


def _mutate(line: str, mutation: tuple[str, object]) -> str | bytes:
    kind, arg = mutation
    if kind == "truncate":
        return _truncate(line, cast(int, arg))
    if kind == "swap":
        i, j = cast(tuple[int, int], arg)
        return _swap(line, i, j)
    if kind == "number":
        index, value = cast(tuple[int, str], arg)
        return _replace_field(line, index, value)
    if kind == "bytes":
        at, junk = cast(tuple[int, bytes], arg)
        data = line.encode("utf-8")
        at %= len(data) + 1
        return data[:at] + junk + data[at:]
    return line


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_LIGHT_LINES) - 1), _MUTATION), min_size=1, max_size=40))
def test_mutated_real_lines_are_all_accounted_for(picks: list[tuple[int, tuple[str, object]]]) -> None:
    """Real lines truncated, with fields swapped, poison numbers or invalid UTF-8: nothing raises, and every line read
    is accepted (mapped to events), rejected, ignored or a duplicate."""
    lines = [_mutate(_LIGHT_LINES[index], mutation) for index, mutation in picks]
    mapper, events = _run(lines)
    texts = [line.decode("utf-8", "replace") if isinstance(line, bytes) else line for line in lines]
    assert mapper.records == sum(1 for text in texts if text and not text.isspace())
    accepted = len(events) - sum(1 for e in events if isinstance(e, CallTransferred))
    assert accepted + mapper.rejected + mapper.ignored + mapper.duplicates == mapper.records
    assert mapper.rejected == sum(mapper.rejected_by_reason.values())


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_a_file_with_any_line_end_replays_as_its_lines(end: bytes) -> None:
    """LF, CRLF and old-Mac CR files give the same events and line numbers, read the way a replay reads a file
    (binary iteration, which splits at LF only, in blocks)."""
    lines = LIGHT.read_bytes().splitlines()
    lines[40] = b"garbage"
    expected_mapper, expected = _run(lines)
    stream = io.BytesIO(end.join(lines) + end)
    mapper, events, lineno = QueueLogMapper(), [], 1
    while block := list(islice(stream, 7)):
        events += mapper.feed_lines(block, lineno)
        lineno += len(block)
    events += mapper.finish()
    assert events == expected
    assert (mapper.records, mapper.rejected) == (expected_mapper.records, 1) == (len(lines), 1)


def test_line_numbers_count_lines_found_inside_a_fed_line(caplog: pytest.LogCaptureFixture) -> None:
    """A CR-only chunk fed as one line moves the numbers of what is fed after it by the lines it held."""
    mapper = QueueLogMapper()
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        mapper.feed_line(f"{_enter(100, 'a')}\rbad one\r{_enter(101, 'b')}\r", 1)
        mapper.feed_line("bad two\n", 2)
    assert "line 2: " in caplog.text and "line 4: " in caplog.text
    assert (mapper.records, mapper.rejected) == (4, 2)
