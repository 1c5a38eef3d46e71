"""The CLI's `users` and `tokens` commands against a real Redis: passwords never on the command line or output."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
import redis

from wallboard.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from wallboard.core.users import Passwords

PASSWORD = "a long enough passphrase"


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", "paris")
    monkeypatch.delenv("WALLBOARD_NEW_PASSWORD", raising=False)
    return redis_url


def users_hash(url: str) -> dict[str, dict[str, object]]:
    with redis.Redis.from_url(url) as client:
        return {k.decode(): json.loads(v) for k, v in client.hgetall("wb:{paris}:users").items()}


def test_users_add_reads_the_password_from_the_environment(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`users add` stores an argon2 hash of WALLBOARD_NEW_PASSWORD; the password is printed nowhere."""
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", PASSWORD)
    assert main(["users", "add", "alice", "--role", "ops"]) == EXIT_OK
    assert main(["users", "list"]) == EXIT_OK
    out, err = capsys.readouterr()
    stored = users_hash(env)["alice"]
    assert stored["role"] == "ops" and Passwords().verify(str(stored["password_hash"]), PASSWORD).ok
    assert out.splitlines()[0] == "added user alice with role ops"
    assert out.splitlines()[1].startswith("alice\tops\tactive\tcreated ")
    assert PASSWORD not in out + err and "$argon2" not in out + err


def test_users_add_prompts_twice_on_a_terminal(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the variable the password is asked for twice; two different answers add nobody."""
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter([PASSWORD, PASSWORD, PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "add", "bob", "--role", "viewer"]) == EXIT_OK
    assert main(["users", "add", "carol", "--role", "viewer"]) == EXIT_USAGE
    assert sorted(users_hash(env)) == ["bob"]
    assert "the two passwords differ" in capsys.readouterr().err


def test_users_add_without_a_password_source_is_a_usage_error(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No variable and no terminal: exit 2 saying how to give the password."""
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert main(["users", "add", "dave", "--role", "viewer"]) == EXIT_USAGE
    assert "WALLBOARD_NEW_PASSWORD" in capsys.readouterr().err


def test_weak_password_and_duplicate_user_fail(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password under 12 characters and an existing name exit 1 with the reason."""
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", "short")
    assert main(["users", "add", "erin", "--role", "viewer"]) == EXIT_FAILED
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", PASSWORD)
    assert main(["users", "add", "erin", "--role", "viewer"]) == EXIT_OK
    assert main(["users", "add", "erin", "--role", "admin"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "expected at least 12" in err and "exists already" in err


def test_users_disable(env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`users disable` marks the user disabled; an unknown name exits 1."""
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", PASSWORD)
    main(["users", "add", "frank", "--role", "supervisor"])
    assert main(["users", "disable", "frank"]) == EXIT_OK
    assert main(["users", "disable", "nobody"]) == EXIT_FAILED
    assert users_hash(env)["frank"]["disabled"] is True


def test_tokens_create_list_revoke(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The token is printed once on stdout (its sha256 is what Redis holds); list shows its id; revoke removes it."""
    assert main(["tokens", "create", "--board", "floor-1", "--label", "TV 1"]) == EXIT_OK
    token = capsys.readouterr().out.strip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    with redis.Redis.from_url(env) as client:
        assert [k.decode() for k in client.hkeys("wb:{paris}:tokens")] == [digest]
    assert main(["tokens", "list"]) == EXIT_OK
    listed = capsys.readouterr().out
    assert listed.startswith(f"{digest[:12]}\tfloor-1\tTV 1\tcreated ") and token not in listed
    assert main(["tokens", "revoke", digest[:8]]) == EXIT_OK
    assert capsys.readouterr().out == f"revoked display token {digest[:12]} (board floor-1)\n"
    assert main(["tokens", "revoke", digest[:8]]) == EXIT_FAILED
    main(["tokens", "list"])
    assert capsys.readouterr().out == ""
