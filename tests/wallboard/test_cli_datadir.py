"""Every command talks to the same data: the data directory's Redis, the site file's site, options anywhere.

Commands run as new processes with a fresh user's environment (only HOME, PATH and the locale), as
someone who just installed the project would run them; the in-process ones use a real redis-server.
"""

from __future__ import annotations

import argparse
import re
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from processes import ROOT, WALLBOARD, clean_env, free_port, stop, wallboard

from wallboard.cli import EXIT_OK, EXIT_USAGE, build_parser, main

PASSWORD = "correct horse battery staple"


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh HOME with a short path: the data directory's socket path must stay within 103 bytes."""
    path = Path(tempfile.mkdtemp(prefix="wb-home-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_users_added_in_one_process_are_listed_by_the_next(home: Path) -> None:
    tmp_path = home
    env = clean_env(home)
    added = wallboard("users", "add", "alice", "--role", "ops", env={**env, "WALLBOARD_NEW_PASSWORD": PASSWORD})
    assert added.returncode == 0, added.stderr
    listed = wallboard("users", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [["alice", "ops", "active"]]
    assert (tmp_path / ".local" / "share" / "wallboard" / "redis" / "appendonly.aof").is_file()
    token = wallboard("tokens", "create", "--board", "floor-1", env=env)
    assert token.returncode == 0
    tokens = wallboard("tokens", "list", env=env)
    assert "\tfloor-1\t" in tokens.stdout


def test_a_write_that_would_be_thrown_away_is_refused(tmp_path: Path) -> None:
    """No usable data directory (HOME is a file): a write would land in a throwaway Redis, so it is refused."""
    home = tmp_path / "not-a-directory"
    home.write_text("")
    env = clean_env(home, {"WALLBOARD_NEW_PASSWORD": PASSWORD})
    for command in (["users", "add", "bob", "--role", "ops"], ["tokens", "create"], ["users", "disable", "bob"]):
        refused = wallboard(*command, env=env)
        assert refused.returncode == EXIT_USAGE, refused
        assert refused.stdout == ""
        [line] = refused.stderr.splitlines()
        assert line.startswith("wallboard: ") and "WALLBOARD_REDIS_URL" in line and "--data-dir" in line
    listed = wallboard("users", "list", env=env)  # reading an empty one is harmless, and says so
    assert listed.returncode == EXIT_OK and listed.stdout == "" and "throwaway" in listed.stderr
    kept = wallboard("users", "add", "bob", "--role", "ops", "--data-dir", str(tmp_path / "d"), env=env)
    assert kept.returncode == EXIT_OK  # naming a directory fixes it


@pytest.fixture
def env(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Redis given by URL (a user's choice, never refused) and a site file naming site paris."""
    for name in ("WALLBOARD_SITE", "WALLBOARD_SITE_FILE", "WALLBOARD_DATA_DIR", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", PASSWORD)
    site_file = tmp_path / "site.yaml"
    site_file.write_text("site: paris\ntimezone: Europe/Paris\nqueues:\n  support: {sl_threshold_s: 20}\n")
    return site_file


def _users(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["users", "list", *args]) == EXIT_OK
    return [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]


def test_site_before_or_after_the_command(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--site", "lyon", "users", "add", "ann", "--role", "viewer"]) == EXIT_OK
    assert main(["users", "add", "ben", "--role", "viewer", "--site", "lyon"]) == EXIT_OK
    assert main(["users", "--site", "lyon", "add", "cat", "--role", "viewer"]) == EXIT_OK
    assert _users(capsys, "--site", "lyon") == ["ann", "ben", "cat"]
    assert _users(capsys) == []  # site "default": nothing there
    capsys.readouterr()
    assert main(["schedule", "show", "--site", "lyon"]) == EXIT_OK


def test_the_site_files_site_is_every_commands_default(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["users", "add", "dan", "--role", "viewer", "--site-file", str(env)]) == EXIT_OK
    assert _users(capsys, "--site", "paris") == ["dan"]
    monkeypatch.setenv("WALLBOARD_SITE_FILE", str(env))
    assert _users(capsys) == ["dan"]
    monkeypatch.setenv("WALLBOARD_SITE", "lyon")  # the environment's site wins over the file's
    assert _users(capsys) == []
    assert _users(capsys, "--site", "paris") == ["dan"]  # and the option over both


def _options(parser: argparse.ArgumentParser, path: str = "wallboard") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _options(child, f"{path} {name}")
        elif action.option_strings and not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((f"{path} {action.option_strings[-1]}", action))
    return found


def test_every_option_has_help_text_with_its_default() -> None:
    options = _options(build_parser())
    assert len(options) > 100
    missing = [name for name, action in options if not (action.help or "").strip()]
    assert missing == []
    shown = subprocess.run([*WALLBOARD, "simulate", "--help"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "port to listen on (default: 5038 AMI, 8021 ESL)" in " ".join(shown.stdout.split())


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert re.fullmatch(r"wallboard \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def _demo_url(tmp_path: Path, data_dir: Path | None, **extra: str) -> tuple[str, str]:
    """Start the demo, read its URL's token and the stderr lines before it, stop it; returns (token, stderr)."""
    argv = [*WALLBOARD, "demo", "--port", str(free_port()), "--speed", "20", "--agents", "8", "--queues", "2"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    err = tmp_path / "demo.err"
    with err.open("w") as stderr:
        env = clean_env(tmp_path, extra)
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the demo announced no URL within 60 s"
        line = process.stdout.readline()
        assert line.startswith("http://127.0.0.1:") and "/?token=" in line, line
        token = parse_qs(urlsplit(line.strip()).query)["token"][0]
    finally:
        assert stop(process) == 0
        process.stdout.close() if process.stdout else None
    return token, err.read_text()


@pytest.mark.slow  # the demo (simulator, collector, engine, API) as a process, twice
def test_the_demo_keeps_its_token_in_a_data_directory_and_not_without(tmp_path: Path) -> None:
    first, stderr = _demo_url(tmp_path, tmp_path / "data")
    assert f"redis: unix://{tmp_path / 'data' / 'redis' / 'redis.sock'}" in stderr
    again, _ = _demo_url(tmp_path, tmp_path / "data")
    assert again == first  # an open TV keeps working across a restart
    password = re.search(r"password '([^']+)'", stderr)
    assert password is not None and f"password '{password.group(1)}'" in (tmp_path / "demo.err").read_text()
    # Only --data-dir: WALLBOARD_DATA_DIR may name a real site's data, which simulated calls must not fill.
    throwaway, stderr = _demo_url(tmp_path, None, WALLBOARD_DATA_DIR=str(tmp_path / "data"))
    assert throwaway != first and "(throwaway: gone when the demo stops)" in stderr
