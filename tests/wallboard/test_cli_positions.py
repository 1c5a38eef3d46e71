"""`wallboard positions list|forget` against a real Redis: the positions a queue_log collector stored with its
events (written here through the store, as the collector's sink writes them), listed and forgotten, audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis

from collectors.queue_log.position import source_name
from wallboard.cli import EXIT_FAILED, EXIT_OK, main
from wallboard.core.positions import SourcePosition
from wallboard.store import Store, connect


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", "paris")
    return redis_url


def store_position(url: str, source: str, value: dict[str, object]) -> None:
    async def write() -> None:
        client = connect(url)
        try:
            await Store(client, site="paris").events.append_events([], SourcePosition(source, value))
        finally:
            await client.aclose()

    asyncio.run(write())


def test_list_then_forget_by_path_is_audited_and_a_second_forget_fails(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two sources listed with what is stored; `forget` by the queue_log file's path removes that one only, audited
    with what was stored; forgetting it again exits 1 naming the sources still stored."""
    log = tmp_path / "queue_log"
    value = {"dev": 1, "ino": 2, "offset": 300, "hash": "ab12"}
    store_position(env, source_name(log), value)
    store_position(env, "queue_log:/var/log/asterisk/other", {"dev": 1, "ino": 9, "offset": 0, "hash": ""})
    assert main(["positions", "list"]) == EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == sorted([source_name(log), "queue_log:/var/log/asterisk/other"])
    rows = dict(line.split("\t") for line in listed)
    assert json.loads(rows[source_name(log)]) == value
    assert main(["positions", "forget", str(log)]) == EXIT_OK
    assert source_name(log) in capsys.readouterr().out
    with redis.Redis.from_url(env) as client:
        left = [key.decode() for key in client.hkeys("wb:{paris}:positions")]
        (entry,) = [{k.decode(): v.decode() for k, v in f.items()} for _, f in client.xrange("wb:{paris}:audit")]
    assert left == ["queue_log:/var/log/asterisk/other"]
    assert (entry["action"], entry["target"]) == ("collector.position.forget", f"source:{source_name(log)}")
    assert json.loads(entry["old"]) == value and json.loads(entry["new"]) is None
    assert main(["positions", "forget", str(log)]) == EXIT_FAILED
    assert "stored: queue_log:/var/log/asterisk/other" in capsys.readouterr().err
