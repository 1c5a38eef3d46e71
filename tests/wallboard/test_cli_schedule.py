"""`wallboard schedule import|show|export` against a real Redis: all-or-nothing imports, exit 2 on a bad file."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
import redis

from wallboard.cli import EXIT_OK, EXIT_USAGE, main

SITE_FILE = "site: paris\ntimezone: Europe/Paris\nagents: {a1: {}, a2: {}}\n"
CSV = "agent,date,start,end,activity\na1,2026-02-02,09:00,12:00,work\na2,2026-02-02,22:00,06:00+1,work\n"
KEY = "wb:{paris}:config:schedules"


@pytest.fixture
def env(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE_FILE, encoding="utf-8")
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", "paris")
    monkeypatch.setenv("WALLBOARD_SITE_FILE", str(site_file))
    return redis_url


def stored(url: str) -> dict[str, object] | None:
    with redis.Redis.from_url(url) as client:
        raw = client.get(KEY)
    return None if raw is None else dict(json.loads(raw))


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_stores_version_one_as_the_os_user(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid CSV is stored as version 1 by cli:<user>, with its audit entry; the summary is printed."""
    assert main(["schedule", "import", write(tmp_path, "week.csv", CSV)]) == EXIT_OK
    document = stored(env)
    assert document is not None and document["version"] == 1
    assert document["updated_by"] == f"cli:{getpass.getuser()}"
    assert len(document["slots"]) == 2  # type: ignore[arg-type]
    assert capsys.readouterr().out == "imported 2 slots of 2 agents, 2026-02-02 to 2026-02-02: version 1\n"
    with redis.Redis.from_url(env) as client:
        (entry,) = client.xrange("wb:{paris}:audit")
    assert entry[1][b"action"] == b"schedules.import"


def test_a_bad_file_exits_2_with_one_line_per_problem(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every problem on its own stderr line with the file and row; nothing stored; the rejection counted."""
    path = write(tmp_path, "bad.csv", CSV + "zed,2026-02-02,09:00,10:00,work\na1,2026-02-02,11:00,13:00,lunch\n")
    assert main(["schedule", "import", path]) == EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"wallboard: {path}: 2 problems, nothing stored",
        f"{path}: row 3: unknown agent 'zed': not in the site file's agents",
        f"{path}: row 4: overlaps row 1 (same agent 'a1')",
    ]
    assert stored(env) is None
    with redis.Redis.from_url(env) as client:
        assert client.hget("wb:{paris}:health:schedules", "rejected") == b"1"


def test_merge_json_then_show_and_export(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--mode merge replaces a1's day only; show filters; export csv is the merged file."""
    update = [{"agent": "a1", "date": "2026-02-02", "start": "13:00", "end": "24:00", "activity": "training"}]
    assert main(["schedule", "import", write(tmp_path, "week.csv", CSV)]) == EXIT_OK
    merge = ["schedule", "import", write(tmp_path, "a1.json", json.dumps(update)), "--mode", "merge"]
    assert main(merge) == EXIT_OK
    capsys.readouterr()
    assert main(["schedule", "show", "--agent", "a1", "--date", "2026-02-02"]) == EXIT_OK
    shown = capsys.readouterr()
    assert shown.out == "a1\t2026-02-02\t13:00-24:00\ttraining\n"
    assert shown.err.startswith("version 2 by cli:")
    assert main(["schedule", "export"]) == EXIT_OK
    assert capsys.readouterr().out == (
        "agent,date,start,end,activity\na1,2026-02-02,13:00,24:00,training\na2,2026-02-02,22:00,06:00+1,work\n"
    )


def test_export_json_reimports_as_the_same_rows(env: str, tmp_path: Path) -> None:
    """export --format json --out FILE, imported again, stores the same rows as the next version."""
    assert main(["schedule", "import", write(tmp_path, "week.csv", CSV)]) == EXIT_OK
    out = tmp_path / "export.json"
    assert main(["schedule", "export", "--format", "json", "--out", str(out)]) == EXIT_OK
    first = stored(env)
    assert main(["schedule", "import", str(out)]) == EXIT_OK
    second = stored(env)
    assert first is not None and second is not None
    assert (second["version"], second["slots"]) == (2, first["slots"])


def test_usage_errors_exit_2(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file, or no site file to give the time zone, is a one-line usage error."""
    assert main(["schedule", "import", str(tmp_path / "nope.csv")]) == EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err
    monkeypatch.delenv("WALLBOARD_SITE_FILE")
    assert main(["schedule", "import", write(tmp_path, "week.csv", CSV)]) == EXIT_USAGE
    assert "--site-file" in capsys.readouterr().err
    assert stored(env) is None


def test_show_without_a_schedule(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing stored: show says so and exits 0."""
    assert main(["schedule", "show"]) == EXIT_OK
    assert capsys.readouterr().err == "no schedule stored (version 0)\n"


def test_an_unreadable_stored_schedule_is_repaired_by_a_replace(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Garbage under the key: merge refuses (exit 1), show says why, replace writes version 1 over it."""
    with redis.Redis.from_url(env) as client:
        client.set(KEY, b"\x00not json")
    path = write(tmp_path, "week.csv", CSV)
    assert main(["schedule", "import", path, "--mode", "merge"]) == 1
    assert main(["schedule", "show"]) == 1
    assert capsys.readouterr().err.count("not a JSON object") == 2
    assert main(["schedule", "import", path]) == EXIT_OK
    document = stored(env)
    assert document is not None and document["version"] == 1
