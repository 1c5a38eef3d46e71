"""Tests for ``wallboard replay --format queue_log_db``: a queue_log table replays to the figures of its file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import fixture_paths
import pytest
import sqlalchemy as sa
from databases import (
    PASSWORD,
    DatabaseServer,
    DataForm,
    TimeForm,
    ensure_running,
    mariadb_server_fixture,  # noqa: F401  (the mariadb_server fixture)
    postgres_server_fixture,  # noqa: F401  (the postgres_server fixture)
    queue_log_rows,
    queue_log_table,
)

from wallboard.cli import main

pytestmark = pytest.mark.database

QUEUE_LOG = fixture_paths.LIGHT / "queue_log"
LINES = QUEUE_LOG.read_text(encoding="utf-8").splitlines()
ZONE = "Europe/Paris"
CASES = [("mariadb_server", "adaptive", "datetime"), ("postgres_server", "single", "epoch")]


@pytest.fixture(params=CASES, ids=["mariadb-data1-5-datetime", "postgresql-data-epoch"])
def loaded(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabaseServer]:
    """A server whose table ``replayed`` holds the fixture's lines, written site-local; the password in the env."""
    name, data, time_form = request.param
    server: DatabaseServer = ensure_running(request.getfixturevalue(name))
    engine = server.engine()
    form: tuple[DataForm, TimeForm] = (data, time_form)
    table = queue_log_table(engine, "replayed", data=form[0], time_form=form[1])
    with engine.begin() as conn:
        conn.execute(table.insert(), queue_log_rows(LINES, data=form[0], time_form=form[1], tz=ZoneInfo(ZONE)))
    engine.dispose()
    monkeypatch.setenv("WALLBOARD_QUEUE_LOG_DB_PASSWORD", PASSWORD)
    yield server
    engine = server.engine()
    table.drop(engine)
    engine.dispose()


def replay_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["replay", *argv, "--json", "--tz", ZONE]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def without_format(result: dict[str, object]) -> dict[str, object]:
    source = dict(result["source"])  # type: ignore[call-overload]
    source.pop("format")
    return result | {"source": source}


@pytest.mark.parametrize("fmt", [[], ["--format", "queue_log_db"]], ids=["auto", "queue_log_db"])
def test_the_table_replays_to_the_figures_of_its_file(
    loaded: DatabaseServer, fmt: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row of the table gives what the file gives, the URL told from its scheme with --format auto."""
    from_file = replay_json(capsys, str(QUEUE_LOG))
    from_table = replay_json(capsys, loaded.url, "--table", "replayed", *fmt)
    assert from_table["source"]["format"] == "queue_log_db"  # type: ignore[index]
    assert from_table["source"]["records"] == len(LINES)  # type: ignore[index]
    assert without_format(from_table) == without_format(from_file)
    assert from_table["queues"] and from_table["agents"]


def test_a_range_replays_to_the_figures_of_its_lines(
    loaded: DatabaseServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--from (inclusive) and --to (exclusive), site-local, keep exactly the lines of that range."""
    zone = ZoneInfo(ZONE)
    stamps = [int(line.split("|")[0]) for line in LINES]
    start, end = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    assert start < end
    part = [line for line, ts in zip(LINES, stamps, strict=True) if start <= ts < end]
    assert 0 < len(part) < len(LINES)
    subset = tmp_path / "queue_log"
    subset.write_text("\n".join(part) + "\n", encoding="utf-8")
    local = [datetime.fromtimestamp(ts, zone).replace(tzinfo=None).isoformat() for ts in (start, end)]
    from_file = replay_json(capsys, str(subset))
    from_table = replay_json(capsys, loaded.url, "--table", "replayed", "--from", local[0], "--to", local[1])
    assert from_table["source"]["records"] == len(part)  # type: ignore[index]
    assert without_format(from_table) == without_format(from_file)


def test_a_range_outside_the_table_is_empty(loaded: DatabaseServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Dates before the table's first row give nothing (and are read as dates, site-local)."""
    result = replay_json(capsys, loaded.url, "--table", "replayed", "--from", "2001-01-01", "--to", "2001-01-02")
    assert result["source"]["records"] == 0  # type: ignore[index]


def test_replay_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    """A date that is not ISO, or --from with a file, is a usage error (exit 2) saying what was expected."""
    assert main(["replay", "mysql://u@127.0.0.1:1/db", "--from", "yesterday"]) == 2
    assert "expected an ISO date" in capsys.readouterr().err
    assert main(["replay", str(QUEUE_LOG), "--from", "2025-01-01"]) == 2
    assert "--format queue_log_db" in capsys.readouterr().err
    assert main(["replay", "oracle://u@h/db"]) == 2
    assert "expected one of mysql, mariadb, postgresql, postgres" in capsys.readouterr().err


def test_an_unknown_table_is_a_usage_error(
    loaded: DatabaseServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table that is not there exits 2 naming it; a wrong password exits 1 without printing it."""
    assert main(["replay", loaded.url, "--table", "missing_table"]) == 2
    assert "no table 'missing_table'" in capsys.readouterr().err
    monkeypatch.setenv("WALLBOARD_QUEUE_LOG_DB_PASSWORD", "wrong-pw")
    assert main(["replay", loaded.url, "--table", "replayed"]) == 1
    err = capsys.readouterr().err
    assert "refused the login" in err and "wrong-pw" not in err


def test_the_table_holds_every_line(loaded: DatabaseServer) -> None:
    """The fixture's rows are all there (the comparison above is not of two empty results)."""
    engine = loaded.engine()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM replayed")).scalar() == len(LINES)
    engine.dispose()
