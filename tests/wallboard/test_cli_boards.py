"""`wallboard boards list|show|put|delete` against a real Redis: the boards API's use cases, validated by field,
audited; and a token made with `tokens create --board` opens that board from `/?token=`."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import httpx
import pytest
import redis
from api_process import api_process

from wallboard.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

SITE_FILE = """
site: paris
queues: {support: {group: care}, sales: {group: revenue}}
teams: {red: {}}
"""
BOARD_YAML = """
title: Floor 1
queues: [sales]
tiles: [waiting, sl_interval]
pages:
  - {title: Sales, queues: [sales], seconds: 20}
sound: true
"""


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The test's Redis, site paris, its site file; returns the site file."""
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE_FILE, encoding="utf-8")
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", "paris")
    monkeypatch.setenv("WALLBOARD_SITE_FILE", str(site_file))
    return site_file


def stored(url: str) -> dict[str, dict[str, object]]:
    with redis.Redis.from_url(url) as client:
        return {k.decode(): json.loads(v) for k, v in client.hgetall("wb:{paris}:config:boards").items()}


def audit(url: str) -> list[dict[str, str]]:
    with redis.Redis.from_url(url) as client:
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in client.xrange("wb:{paris}:audit")]


def test_put_reads_yaml_from_a_file_and_show_prints_it(
    env: Path, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`boards put NAME FILE` (YAML) stores version 1 by the CLI's user, audited; `show` prints it as JSON and
    `list` names it beside default."""
    path = tmp_path / "floor-1.yaml"
    path.write_text(BOARD_YAML, encoding="utf-8")
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_OK
    assert main(["boards", "show", "floor-1"]) == EXIT_OK
    shown = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert main(["boards", "list"]) == EXIT_OK
    listing = capsys.readouterr().out.splitlines()
    board = stored(redis_url)["floor-1"]
    assert board["version"] == 1 and board["sound"] is True and board["queues"] == ["sales"]
    assert str(board["updated_by"]).startswith("cli")
    assert shown["title"] == "Floor 1" and shown["pages"][0]["seconds"] == 20
    assert [line.split("\t")[0] for line in listing] == ["default", "floor-1"]
    assert audit(redis_url)[-1]["action"] == "board.update"


def test_put_reads_json_from_stdin_and_checks_the_version(
    env: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON document on stdin; a stale ``version`` in it is refused (exit 1) and nothing changes."""
    for text in ('{"title": "A", "queues": ["support"]}', '{"title": "B", "version": 0}'):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        code = main(["boards", "put", "floor-2"])
        if text.endswith("0}"):
            assert code == EXIT_FAILED
        else:
            assert code == EXIT_OK
    assert stored(redis_url)["floor-2"]["title"] == "A"
    assert "at version 1, not 0" in capsys.readouterr().err


def test_an_invalid_board_is_refused_naming_each_field(
    env: Path, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown queues and teams, a bad tile, a too short page and an unknown field: exit 2, one line per field."""
    path = tmp_path / "bad.json"
    path.write_text('{"tiles": ["weather"], "pages": [{"queues": ["sales"], "seconds": 1}], "colour": 1}')
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    path.write_text('{"queues": ["nope"], "teams": ["red", "blue"]}')
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_USAGE
    names = capsys.readouterr().err
    assert f"{path}: tiles[0]:" in err and f"{path}: pages[0].seconds:" in err and f"{path}: colour:" in err
    assert f"{path}: queues[0]: unknown queue 'nope'" in names and f"{path}: teams[1]: unknown team 'blue'" in names
    assert stored(redis_url) == {}


def test_not_a_document_and_a_bad_name_are_usage_errors(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list, or text that is neither JSON nor YAML: exit 2; a name the API would refuse: argparse's exit 2."""
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_USAGE
    path.write_text("{unclosed: [")
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_USAGE
    with pytest.raises(SystemExit) as exited:
        main(["boards", "put", "Floor 1", str(path)])
    assert exited.value.code == EXIT_USAGE
    assert "expected a mapping" in capsys.readouterr().err


def test_delete_removes_audits_and_refuses_what_is_not_stored(
    env: Path, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`boards delete` removes a stored board (board.delete); again, or `show` of it: exit 1."""
    path = tmp_path / "b.json"
    path.write_text('{"title": "B"}')
    assert main(["boards", "put", "lobby", str(path)]) == EXIT_OK
    assert main(["boards", "delete", "lobby"]) == EXIT_OK
    assert main(["boards", "delete", "lobby"]) == EXIT_FAILED
    assert main(["boards", "show", "lobby"]) == EXIT_FAILED
    assert stored(redis_url) == {} and audit(redis_url)[-1]["action"] == "board.delete"
    assert "no stored board 'lobby'" in capsys.readouterr().err


def test_a_token_made_for_a_board_opens_that_board_from_the_root(
    env: Path, redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tokens create --board floor-1`, then `wallboard api`'s `/?token=`: the page moves on to /tv/floor-1."""
    path = tmp_path / "floor-1.yaml"
    path.write_text(BOARD_YAML, encoding="utf-8")
    assert main(["boards", "put", "floor-1", str(path)]) == EXIT_OK
    assert main(["tokens", "create", "--board", "floor-1", "--label", "floor tv"]) == EXIT_OK
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with api_process(redis_url, tmp_path) as api, httpx.Client(base_url=api.base, timeout=10.0) as http:
        root = http.get("/", params={"token": token})
        board = http.get("/tv/floor-1", params={"token": token})
    assert root.status_code == 200 and '"/tv/floor-1"' in root.text and "/tv/default" not in root.text
    assert token not in root.text and board.status_code == 200
