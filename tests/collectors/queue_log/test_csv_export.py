"""Tests for collectors/queue_log/csv_export.py: rows of the queue_log CSV export give the records of pipe lines."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import fixture_paths
import pytest

from collectors.queue_log.csv_export import CSV_COLUMNS, parse_csv_row, read_csv
from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.records import QueueLogError, parse_line
from wallboard.core.events import AgentPaused, Event

LIGHT = fixture_paths.LIGHT / "queue_log"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _run(lines: Iterable[str | bytes], mapper: QueueLogMapper | None = None) -> tuple[QueueLogMapper, list[Event]]:
    mapper = mapper or QueueLogMapper()
    events: list[Event] = []
    for lineno, line in enumerate(lines, 1):
        events.extend(mapper.feed_line(line, lineno))
    events.extend(mapper.finish())
    return mapper, events


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


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


# --- input that cannot stop or corrupt the reader --------------------------------------------------------


def _light_csv_lines() -> list[str]:
    """The light queue_log as CSV export lines (header first, one record a line)."""
    return _to_csv(_lines(LIGHT)).splitlines(keepends=True)


def _read_all(text: str, **limits: int) -> tuple[QueueLogMapper, list[Event], list[int]]:
    mapper = QueueLogMapper()
    events: list[Event] = []
    linenos: list[int] = []
    for lineno, row in read_csv(io.StringIO(text, newline=""), **limits):
        linenos.append(lineno)
        events.extend(mapper.feed_csv_row(row, lineno))
    return mapper, events + mapper.finish(), linenos


def test_a_field_over_the_csv_modules_default_limit_is_read() -> None:
    """A 200 KiB field (the csv module stops at 128 KiB by default) is read, and so is the rest of the file."""
    lines = _light_csv_lines()
    row = next(csv.reader([lines[41]]))
    row[6] = "x" * (200 * 1024)  # param1 of a record
    out = io.StringIO()
    csv.writer(out).writerow(row)
    lines[41] = out.getvalue()
    mapper, _, linenos = _read_all("".join(lines))
    assert mapper.records == len(lines) - 1 == 96
    assert linenos == list(range(2, len(lines) + 1))


def test_an_overlong_line_is_rejected_with_its_line_number(caplog: pytest.LogCaptureFixture) -> None:
    """A line longer than the record limit is a rejected record (reason length, its line number); the rest is read."""
    lines = _light_csv_lines()
    lines[41] = lines[41].rstrip("\r\n") + "y" * 5000 + "\r\n"
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        mapper, events, _ = _read_all("".join(lines), max_record_chars=4096)
    assert (mapper.records, mapper.rejected, mapper.rejected_by_reason) == (96, 1, {"length": 1})
    assert "line 42: read a line of more than 4096 characters" in caplog.text
    good, good_events, _ = _read_all("".join(lines[:41] + lines[42:]))
    assert events == good_events


@pytest.mark.parametrize("at_end", [False, True], ids=["row-41", "last-row"])
def test_an_unterminated_quote_is_rejected_and_the_rest_is_read(at_end: bool, caplog: pytest.LogCaptureFixture) -> None:
    """An unmatched quote no longer swallows the rest of the file: that row is rejected (reason quote, its line
    number) and every following row is read."""
    lines = _light_csv_lines()
    index = len(lines) - 1 if at_end else 41  # line 42 of the file: data row 41
    fields = lines[index].split(",")
    fields[7] = '"' + fields[7]  # param2 opens a quote and never closes it
    lines[index] = ",".join(fields)
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.parser"):
        mapper, events, linenos = _read_all("".join(lines))
    assert (mapper.records, mapper.rejected, mapper.rejected_by_reason) == (96, 1, {"quote": 1})
    assert f"line {index + 1}: unterminated quoted field" in caplog.text
    assert linenos == list(range(2, len(lines) + 1))
    _, good_events, _ = _read_all("".join(lines[:index] + lines[index + 1 :]))
    assert events == good_events


def test_a_quoted_field_past_the_line_limit_is_an_unterminated_quote() -> None:
    """A quoted field spanning more than max_record_lines lines is rejected; the lines it took are read again."""
    lines = _light_csv_lines()
    lines[41] = lines[41].rstrip("\r\n") + ',"x\r\n'
    mapper, _, _ = _read_all("".join(lines), max_record_lines=8)
    assert (mapper.records, mapper.rejected_by_reason) == (96, {"quote": 1})


def test_quoted_line_ends_inside_a_field_are_still_one_record() -> None:
    """A genuinely multi-line quoted field (within the limits) is one record, numbered by its first line."""
    text = ",".join(CSV_COLUMNS) + "\r\n" + '1,100,NONE,support,Alice,PAUSE,"Lunch\r\nbreak",,,,,,,\r\n'
    text += "2,101,c.2,support,NONE,ENTERQUEUE,,555,1,,,,,\r\n"
    mapper, events, linenos = _read_all(text)
    assert linenos == [2, 4]
    assert (mapper.records, mapper.rejected) == (2, 0)
    assert isinstance(events[0], AgentPaused) and events[0].reason == "Lunch\r\nbreak"


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_csv_with_any_line_end_reads_every_row(end: str) -> None:
    """LF, CRLF and old-Mac CR exports all give every row, with the same events."""
    lines = [line.rstrip("\r\n") for line in _light_csv_lines()]
    mapper, events, linenos = _read_all(end.join(lines) + end)
    _, expected = _run(_lines(LIGHT))
    assert events == expected
    assert linenos == list(range(2, len(lines) + 1))
