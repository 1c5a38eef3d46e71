"""The CLI's listings of stored text (`tokens list`, `users list`) escape control characters before printing."""

from __future__ import annotations

import hashlib
import json

import pytest
import redis

from wallboard.cli import EXIT_OK, main
from wallboard.core.users import Passwords

TITLE_ATTACK = "\x1b]0;pwned\x07\x1b[2J"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", "paris")
    return redis_url


def test_tokens_list_escapes_a_label_written_straight_to_redis(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A label stored with escape sequences (no API in between) is printed as visible escapes, never run."""
    digest = hashlib.sha256(b"some display token").hexdigest()
    info = {"role": "display", "board": None, "created": "2026-03-02T09:00:00+00:00", "label": f"tv{TITLE_ATTACK}"}
    with redis.Redis.from_url(env) as client:
        client.hset("wb:{paris}:tokens", digest, json.dumps(info))
    assert main(["tokens", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out == f"{digest[:12]}\t(any)\ttv{SHOWN}\tcreated 2026-03-02T09:00:00+00:00\n"
    assert "\x1b" not in out and "\x07" not in out


def test_users_list_escapes_stored_fields(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every field of a listed user goes through the same escaping (here its stored creation time)."""
    record = {"role": "viewer", "password_hash": Passwords.cheap().hash("x" * 12), "created": f"2026{TITLE_ATTACK}"}
    with redis.Redis.from_url(env) as client:
        client.hset("wb:{paris}:users", "alice", json.dumps(record))
    assert main(["users", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out == f"alice\tviewer\tactive\tcreated 2026{SHOWN}\tsees every team and queue\n"


def test_a_label_given_to_tokens_create_is_stored_clean(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`wallboard tokens create --label` stores the label without its control characters (as the API does)."""
    assert main(["tokens", "create", "--label", f"door{TITLE_ATTACK}"]) == EXIT_OK
    capsys.readouterr()
    with redis.Redis.from_url(env) as client:
        (stored,) = client.hvals("wb:{paris}:tokens")
    assert json.loads(stored)["label"] == "door]0;pwned[2J"
