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
