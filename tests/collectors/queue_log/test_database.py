"""Tests for collectors/queue_log/database.py: rows of a realtime queue_log table give the records of pipe lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import fixture_paths
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.queue_log.database import (
    ADAPTIVE_DATA,
    MalformedRow,
    TableLayout,
    UnknownSchema,
    detect_layout,
    epoch_of,
    parse_row,
)
from collectors.queue_log.records import MalformedLine, Record, parse_line
from wallboard.errors import EXIT_USAGE

LIGHT = fixture_paths.LIGHT / "queue_log"
PARIS = ZoneInfo("Europe/Paris")
ADAPTIVE = detect_layout("queue_log", ["id", "time", "callid", "queuename", "agent", "event", *ADAPTIVE_DATA])
SINGLE = detect_layout("queue_log", ["id", "time", "callid", "queuename", "agent", "event", "data"])


def row_of(line: str, row_id: int, layout: TableLayout, time: object = None) -> dict[str, object]:
    """The row Asterisk inserts for ``line``: data split at its first four pipes, or kept whole."""
    stamp, callid, queue, agent, event, *data = line.split("|")
    row: dict[str, object] = {"id": row_id, "time": stamp if time is None else time, "callid": callid}
    row |= {"queuename": queue, "agent": agent, "event": event}
    if layout.data == ADAPTIVE_DATA:
        parts = "|".join(data).split("|", 4)
        row |= {name: parts[i] if i < len(parts) else "" for i, name in enumerate(ADAPTIVE_DATA)}
    else:
        row["data"] = "|".join(data)
    return row


def test_detects_the_adaptive_and_the_single_data_forms() -> None:
    """data1..data5 is read when present (as Asterisk writes it), else the single data column."""
    assert ADAPTIVE.data == ADAPTIVE_DATA
    assert SINGLE.data == ("data",)
    both = detect_layout("t", ["ID", "Time", "CallId", "QueueName", "Agent", "Event", "data", *ADAPTIVE_DATA])
    assert both.data == ADAPTIVE_DATA
    assert both.columns["id"] == "ID" and both.columns["queuename"] == "QueueName"


def test_refuses_a_queuemetrics_table_naming_it() -> None:
    """A QueueMetrics table is not Asterisk's: a usage error (exit 2) that says what it lacks and what it looks like."""
    columns = ["partition", "time_id", "call_id", "queue", "agent", "verb", *ADAPTIVE_DATA, "unique_row_count"]
    with pytest.raises(UnknownSchema) as caught:
        detect_layout("queue_log", columns)
    message = str(caught.value)
    assert "QueueMetrics" in message and "lacks id, time, callid, queuename, event" in message
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    ("columns", "lacking"),
    [
        (["id", "time", "callid", "queuename", "agent", "event"], "data1..data5 or data"),
        (["time", "callid", "queuename", "agent", "event", "data"], "lacks id"),
        ([], "no columns"),
    ],
)
def test_refuses_an_unknown_schema(columns: list[str], lacking: str) -> None:
    """A table without the realtime columns is refused with what it lacks."""
    with pytest.raises(UnknownSchema, match=lacking):
        detect_layout("queue_log", columns)


@pytest.mark.parametrize("layout", [ADAPTIVE, SINGLE], ids=["data1-5", "data"])
def test_every_fixture_line_gives_the_same_record_as_a_row(layout: TableLayout) -> None:
    """Each line of a real queue_log, inserted as Asterisk does, reads back as the line's own record."""
    lines = LIGHT.read_text(encoding="utf-8").splitlines()
    for row_id, line in enumerate(lines, 1):
        expected = parse_line(line, row_id)
        assert parse_row(row_of(line, row_id, layout), layout, UTC) == expected


def test_data5_keeps_the_rest_of_the_fields() -> None:
    """Asterisk splits the data at its first four pipes: data5 holds the rest, and the record has every field."""
    row = row_of("1700000000|c1|q|a|CUSTOM|1|2|3|4|5|6|7", 3, ADAPTIVE)
    assert row["data5"] == "5|6|7"
    assert parse_row(row, ADAPTIVE, UTC).data == ("1", "2", "3", "4", "5", "6", "7")


EPOCH = int(datetime(2025, 1, 31, 13, 5, 9, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 1, 31, 14, 5, 9),
        datetime(2025, 1, 31, 14, 5, 9, 987654),
        "2025-01-31 14:05:09.987654",
        "2025-01-31 14:05:09",
        datetime(2025, 1, 31, 13, 5, 9, 500000, tzinfo=UTC),
        datetime(2025, 1, 31, 15, 5, 9, tzinfo=timezone(timedelta(hours=2))),
        EPOCH,
        str(EPOCH),
        f"{EPOCH}.25",
        Decimal(EPOCH),
        float(EPOCH) + 0.75,
        str(EPOCH).encode(),
    ],
    ids=repr,
)
def test_every_time_form_gives_the_same_second(value: object) -> None:
    """Date-times (naive ones in the table's zone, fractions dropped) and epochs, as numbers or strings."""
    assert epoch_of(value, PARIS) == EPOCH


def test_naive_times_are_read_in_the_zone_given() -> None:
    """The same DATETIME is an hour apart in Paris and in UTC (queue_log_realtime_use_gmt)."""
    stamp = datetime(2025, 7, 1, 12, 0, 0)
    assert epoch_of(stamp, UTC) - epoch_of(stamp, PARIS) == 2 * 3600


def test_a_repeated_local_time_is_its_first_occurrence() -> None:
    """02:30 happens twice on the autumn DST change: the first one (summer time, +02:00) is taken."""
    assert epoch_of("2025-10-26 02:30:00", PARIS) == int(datetime(2025, 10, 26, 0, 30, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        ({"time": None}, "time", "read time None"),
        ({"time": "yesterday"}, "time", "read time 'yesterday'"),
        ({"time": -5}, "time", "expected epoch seconds"),
        ({"time": "1969-12-31 23:00:00"}, "time", "before 1970"),
        ({"event": ""}, "verb", "empty event"),
        ({"event": None}, "verb", "empty event"),
        ({"data5": "x" * (1 << 20)}, "length", "more than"),
    ],
)
def test_a_bad_row_is_rejected_with_its_id(change: dict[str, object], reason: str, detail: str) -> None:
    """A row that cannot be a record raises MalformedRow naming its id, with a reason for the counters."""
    row = row_of("1700000000|c1|support|agent01|ENTERQUEUE||100|1", 42, ADAPTIVE) | change
    with pytest.raises(MalformedRow) as caught:
        parse_row(row, ADAPTIVE, UTC)
    assert caught.value.reason == reason and caught.value.row_id == 42
    assert str(caught.value).startswith("row id 42: ") and detail in str(caught.value)


def test_nulls_are_empty_and_bytes_are_utf8() -> None:
    """NULL columns read as empty fields, binary ones as UTF-8 (invalid bytes replaced)."""
    row = row_of("1700000000|c1|support|agent01|ENTERQUEUE||100|1", 5, ADAPTIVE)
    row |= {"callid": None, "queuename": "supp\u00f4rt".encode(), "agent": b"\xff", "data3": None}
    record = parse_row(row, ADAPTIVE, UTC)
    assert record == Record(1700000000, "", "supp\u00f4rt", "\ufffd", "ENTERQUEUE", ("", "100"), 5)


_VALUES = st.one_of(st.none(), st.text(max_size=30), st.integers(min_value=-(10**20), max_value=10**20), st.binary())


@given(st.fixed_dictionaries({role: _VALUES for role in ADAPTIVE.roles[1:]}), st.integers(0, 10**12))
def test_any_row_is_a_record_or_malformed(row: dict[str, object], row_id: int) -> None:
    """Whatever the columns hold, a row is either a record or rejected with MalformedLine (never another error)."""
    try:
        record = parse_row(row | {"id": row_id}, ADAPTIVE, PARIS)
    except MalformedLine as exc:
        assert exc.lineno == row_id
    else:
        assert record.lineno == row_id and record.verb and record.ts >= 0
