"""Tests for collectors/queue_log/db_collector.py and table.py against real MariaDB and PostgreSQL servers.

Rows are written as Asterisk's realtime queue_log writes them (tests/support/databases.py); events go
through a real ``StreamSink`` into a real Redis, where the tests read them back by idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, tzinfo
from itertools import count
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
from waiting import poll_until

from collectors.queue_log.db_collector import QueueLogDbCollector
from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.table import DatabaseLoginError, QueueLogTable, database_url, source_name
from wallboard.cli import main
from wallboard.config import Settings
from wallboard.processes.collect import collect_queue_log_db
from wallboard.store import Store, connect
from wallboard.store.sink import StreamSink

pytestmark = pytest.mark.database

LINES = (fixture_paths.LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
PARIS = ZoneInfo("Europe/Paris")
WAIT_S = 20.0
_tables = count(1)


@pytest.fixture(params=["mariadb", "postgresql"])
def queue_log_server(request: pytest.FixtureRequest) -> DatabaseServer:
    """Each real server in turn, running."""
    name = "mariadb_server" if request.param == "mariadb" else "postgres_server"
    server: DatabaseServer = request.getfixturevalue(name)
    return ensure_running(server)


@pytest.fixture
def engine(queue_log_server: DatabaseServer) -> Iterator[sa.Engine]:
    engine = queue_log_server.engine()
    yield engine
    engine.dispose()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site="default")
    await client.aclose()


def new_table(engine: sa.Engine, data: DataForm = "adaptive", time_form: TimeForm = "datetime") -> sa.Table:
    return queue_log_table(engine, f"queue_log_{next(_tables)}", data=data, time_form=time_form)


def insert(engine: sa.Engine, table: sa.Table, lines: list[str], tz: tzinfo = PARIS, **changes: object) -> None:
    data: DataForm = "adaptive" if "data1" in table.c else "single"
    time_form: TimeForm = {sa.BigInteger: "epoch", sa.String: "text"}.get(type(table.c.time.type), "datetime")  # type: ignore[assignment]
    rows = queue_log_rows(lines, data=data, time_form=time_form, tz=tz)
    with engine.begin() as conn:
        for row in rows:  # one insert per row, as Asterisk does
            conn.execute(table.insert().values(**(row | changes)))


def expected_keys(lines: list[str]) -> list[str]:
    """The idempotency keys the file collector gives these lines."""
    mapper = QueueLogMapper()
    events = mapper.feed_lines(lines, 1) + mapper.finish()
    return sorted(event.key for event in events if event.key)


async def stream_keys(store: Store) -> list[str]:
    entries = await store.events.read_range(count=100_000)
    return sorted(json.loads(entry.data)["key"] for entry in entries if entry.data)


def collector_for(
    server: DatabaseServer, table: str, store: Store, *, tz: tzinfo = PARIS, from_start: bool = False
) -> QueueLogDbCollector:
    reader = QueueLogTable(database_url(server.url, PASSWORD), table)
    return QueueLogDbCollector(
        reader,
        StreamSink(store),
        store.events.load_position,
        source=source_name(server.url, table),
        tz=tz,
        from_start=from_start,
        poll_interval=0.05,
    )


@contextlib.asynccontextmanager
async def running(collector: QueueLogDbCollector) -> AsyncIterator[QueueLogDbCollector]:
    task = asyncio.create_task(collector.run())
    try:
        yield collector
    finally:
        collector.stop()
        async with asyncio.timeout(WAIT_S):
            await task


async def wait_for_keys(store: Store, keys: list[str], what: str) -> None:
    async def arrived() -> bool:
        return len(await stream_keys(store)) >= len(keys)

    await poll_until(arrived, what, WAIT_S)
    assert await stream_keys(store) == keys


@pytest.mark.parametrize(
    ("data", "time_form"),
    [("adaptive", "datetime"), ("single", "epoch"), ("adaptive", "text"), ("single", "datetime")],
)
async def test_follows_new_rows_live(
    queue_log_server: DatabaseServer, engine: sa.Engine, store: Store, data: DataForm, time_form: TimeForm
) -> None:
    """Rows already there are skipped (a tail), new ones give the events their lines give, in both schemas."""
    table = new_table(engine, data, time_form)
    insert(engine, table, LINES[:30])
    collector = collector_for(queue_log_server, table.name, store)
    async with running(collector):
        await poll_until(lambda: collector.stats.connected, "the collector to start", WAIT_S)
        assert collector.stats.last_id == 30
        insert(engine, table, LINES[30:])
        await wait_for_keys(store, expected_keys(LINES[30:]), "the new rows' events")
    stored = await store.events.load_position(collector.source)
    assert stored == {"id": len(LINES)}
    assert collector.stats.rejected == 0 and collector.stats.records == len(LINES) - 30


async def test_a_restart_resumes_after_the_stored_id_exactly_once(
    queue_log_server: DatabaseServer, engine: sa.Engine, store: Store
) -> None:
    """Stopped and started again, the collector reads only what was written meanwhile: each event once."""
    table = new_table(engine)
    insert(engine, table, LINES[:40])
    first = collector_for(queue_log_server, table.name, store, from_start=True)
    async with running(first):
        await wait_for_keys(store, expected_keys(LINES[:40]), "the first rows' events")
    insert(engine, table, LINES[40:])
    second = collector_for(queue_log_server, table.name, store, from_start=True)
    async with running(second):
        await poll_until(lambda: second.stats.last_id == len(LINES), "the last row", WAIT_S)
    assert second.stats.records == len(LINES) - 40
    keys = await stream_keys(store)
    assert keys == sorted(expected_keys(LINES[:40]) + expected_keys(LINES[40:]))
    assert len(keys) == len(set(keys))
    assert await store.events.load_position(second.source) == {"id": len(LINES)}


async def test_a_bad_row_is_rejected_with_its_id_and_the_rest_counted(
    postgres_server: DatabaseServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A row whose time cannot be read is logged with its id and counted; the rows around it are delivered."""
    engine = ensure_running(postgres_server).engine()
    table = new_table(engine, "adaptive", "text")
    insert(engine, table, LINES[:20])
    insert(engine, table, ["0|c-bad|support|agent01|ENTERQUEUE||100|1"], time="not a time")
    insert(engine, table, LINES[20:])
    engine.dispose()
    collector = collector_for(postgres_server, table.name, store, from_start=True)
    with caplog.at_level(logging.WARNING, logger="collectors.queue_log.db_collector"):
        async with running(collector):
            await poll_until(lambda: collector.stats.last_id == len(LINES) + 1, "the last row", WAIT_S)
    assert await stream_keys(store) == expected_keys(LINES)
    stats = collector.stats
    assert (stats.rejected, stats.rejected_by_reason, stats.records) == (1, {"time": 1}, len(LINES) + 1)
    assert "row id 21: read time 'not a time'" in caplog.text


async def test_survives_a_database_restart(queue_log_server: DatabaseServer, engine: sa.Engine, store: Store) -> None:
    """The server goes away and comes back: the collector reconnects and loses or repeats nothing."""
    table = new_table(engine)
    collector = collector_for(queue_log_server, table.name, store, from_start=True)
    async with running(collector):
        insert(engine, table, LINES[:50])
        await wait_for_keys(store, expected_keys(LINES[:50]), "the events before the outage")
        queue_log_server.stop()
        await poll_until(lambda: not collector.stats.connected, "the collector to notice the outage", WAIT_S)
        queue_log_server.start()
        insert(engine, table, LINES[50:])
        await wait_for_keys(store, expected_keys(LINES[:50]) + expected_keys(LINES[50:]), "every event once")
    assert collector.stats.reconnects >= 1
    assert collector.stats.last_id == len(LINES)


async def test_the_process_takes_the_password_from_the_environment(
    postgres_server: DatabaseServer, redis_url: str, store: Store
) -> None:
    """collect_queue_log_db reads WALLBOARD_QUEUE_LOG_DB_PASSWORD; a wrong one is a refused login, not an outage."""
    engine = ensure_running(postgres_server).engine()
    table = new_table(engine, "single", "epoch")
    insert(engine, table, LINES)
    engine.dispose()
    env = {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_QUEUE_LOG_DB_PASSWORD": PASSWORD}
    task = asyncio.create_task(
        collect_queue_log_db(Settings(_env=env), postgres_server.url, table=table.name, tz=UTC, from_start=True)
    )
    try:
        await wait_for_keys(store, expected_keys(LINES), "the table's events")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    wrong = Settings(_env=env | {"WALLBOARD_QUEUE_LOG_DB_PASSWORD": "not-it"})
    with pytest.raises(DatabaseLoginError, match="refused the login of user 'wallboard'") as caught:
        async with asyncio.timeout(WAIT_S):
            await collect_queue_log_db(wrong, postgres_server.url, table=table.name, tz=UTC, from_start=True)
    assert caught.value.exit_code == 1 and "not-it" not in str(caught.value)


@pytest.mark.parametrize("command", [["collect", "queue-log-db"], ["replay"]])
def test_a_url_with_a_password_is_refused_without_printing_it(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The password never comes from the command line: exit 2, and the message does not repeat it."""
    assert main([*command, "mysql://wallboard:hunter2@127.0.0.1:3306/asterisk"]) == 2
    err = capsys.readouterr().err
    assert "carries a password" in err and "WALLBOARD_QUEUE_LOG_DB_PASSWORD" in err
    assert "hunter2" not in err


def test_an_unknown_schema_exits_2(
    mariadb_server: DatabaseServer, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A QueueMetrics table is refused at start with a message naming it (exit 2)."""
    engine = ensure_running(mariadb_server).engine()
    columns = ["partition", "time_id", "call_id", "queue", "agent", "verb", "data1", "data2", "data3", "data4"]
    qm = sa.Table("qm_queue_log", sa.MetaData(), *(sa.Column(name, sa.String(40)) for name in columns))
    qm.drop(engine, checkfirst=True)
    qm.create(engine)
    engine.dispose()
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_QUEUE_LOG_DB_PASSWORD", PASSWORD)
    assert main(["collect", "queue-log-db", mariadb_server.url, "--table", "qm_queue_log"]) == 2
    err = capsys.readouterr().err
    assert "not an Asterisk realtime queue_log table" in err and "QueueMetrics" in err
    assert main(["collect", "queue-log-db", mariadb_server.url, "--table", "no_such_table"]) == 2
    assert "no table 'no_such_table'" in capsys.readouterr().err
