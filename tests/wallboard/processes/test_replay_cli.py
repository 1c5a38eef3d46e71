"""`wallboard replay` on what users actually hand it: no --format, the wrong one, not a file, a closed pipe."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixture_paths import FREESWITCH, LIGHT, PUBLIC

from wallboard.cli import main
from wallboard.processes.replay import detect_format

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "replay", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def copy(tmp_path: Path, source: Path, name: str | None = None) -> Path:
    """A real file in tmp_path, with a name that says nothing about its format."""
    target = tmp_path / (name or "capture")
    shutil.copyfile(source, target)
    return target


def csv_export(tmp_path: Path) -> Path:
    path = tmp_path / "export"
    rows = ["uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,htime,ttime,time"]
    for uid, line in enumerate((LIGHT / "queue_log").read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("|")
        data = (parts[5:] + ["", "", ""])[:3]
        rows.append(",".join([str(uid), *parts[:5], *data, "", "", "", "", ""]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (LIGHT / "ami_transcript.txt", "ami"),
        (PUBLIC / "panoramisk_agent_loggued_in.ami", "ami"),  # no banner, starts with a blank line
        (LIGHT / "queue_log", "queue_log"),
        (PUBLIC / "asterisk2slack_queue_log.txt", "queue_log"),
        (LIGHT / "PROVENANCE.md", None),
    ],
)
def test_detect_format_reads_the_start_of_real_captures(source: Path, expected: str | None) -> None:
    """AMI (banner or Key: Value), queue_log lines and prose are told apart from the first bytes."""
    assert detect_format(source.read_bytes()[:4096]) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [(LIGHT / "ami_transcript.txt", "ami"), (LIGHT / "queue_log", "queue_log"), (None, "queue_log_csv")],
)
def test_without_format_the_file_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: Path | None, expected: str
) -> None:
    """Without --format each real capture is replayed in its own format, and the JSON says which."""
    path = csv_export(tmp_path) if source is None else copy(tmp_path, source)
    assert main(["replay", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["source"]["format"] == expected
    assert result["source"]["rejected"] == 0
    assert result["queues"]["support"]["offered"] == 8


def test_an_undetectable_file_exits_2_naming_the_formats_tried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prose is none of the formats: exit 2, one line listing what was tried."""
    path = copy(tmp_path, LIGHT / "PROVENANCE.md")
    assert main(["replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "ami, queue_log, queue_log_csv" in captured.err


@pytest.mark.parametrize(
    ("source", "given", "looks_like"),
    [
        (LIGHT / "ami_transcript.txt", "queue_log", "ami"),  # every line rejected
        (LIGHT / "queue_log", "ami", "queue_log"),  # an empty table
        (LIGHT / "queue_log", "queue_log_csv", "queue_log"),  # no CSV header
        (None, "queue_log", "queue_log_csv"),
    ],
)
def test_the_wrong_format_exits_3_naming_the_right_one(
    tmp_path: Path, source: Path | None, given: str, looks_like: str
) -> None:
    """A --format that rejects nearly everything exits 3; the last line names the format the file looks like."""
    path = csv_export(tmp_path) if source is None else copy(tmp_path, source)
    proc = run(path, "--format", given, "--json")
    assert proc.returncode == 3, proc.stderr[-500:]
    assert proc.stdout == ""
    assert f"looks like {looks_like}: use --format {looks_like}, or leave --format out" in last_line(proc.stderr)
    assert len(proc.stderr.splitlines()) <= 25, "rejected lines are logged up to a bound, then counted"


@pytest.mark.parametrize("kind", ["directory", "/dev/null", "/dev/zero", "empty"])
def test_what_is_not_a_recorded_file_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A directory, a device (never read: /dev/zero has no end) or an empty file: one line, exit 2."""
    if kind == "directory":
        path = tmp_path
    elif kind == "empty":
        path = tmp_path / "empty"
        path.write_bytes(b"")
    else:
        path = Path(kind)
    assert main(["replay", str(path), "--format", "queue_log"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert str(path) in captured.err
    assert "no such file" not in captured.err


def test_a_bad_time_zone_names_the_option_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """--tz Paris is not an IANA name: one line naming --tz and Europe/Paris, exit 2."""
    assert main(["replay", str(LIGHT / "queue_log"), "--tz", "Paris"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--tz" in err and "Europe/Paris" in err


@pytest.mark.parametrize("json_output", [True, False])
def test_a_stdout_closed_early_ends_quietly_with_status_0(json_output: bool) -> None:
    """Like `| head -c 10` gone before the output: no BrokenPipeError traceback, exit 0."""
    args = [sys.executable, "-m", "wallboard.cli", "replay", str(LIGHT / "ami_transcript.txt")]
    with subprocess.Popen(
        args + (["--json"] if json_output else []), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader goes away while the replay is still running
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_the_table_fits_an_80_column_terminal() -> None:
    """With COLUMNS=80 no line of the human table is wider than 80 characters, and every figure is whole."""
    proc = run(LIGHT / "queue_log", env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in proc.stdout
    for name in ("support", "sales", "billing", "Alice Nguyen", "José Álvarez", "100.0"):
        assert name in proc.stdout


@pytest.mark.parametrize("name", ["esl_transcript.txt", "esl_transcript_cc_json.txt"])
def test_a_freeswitch_capture_replays_as_esl_with_the_ground_truth_per_queue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The real FreeSWITCH 1.10.12 event socket captures (plain and JSON) are told apart and replayed as esl."""
    path = copy(tmp_path, FREESWITCH / name)
    assert main(["replay", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["source"]["format"], result["source"]["rejected"]) == ("esl", 0)
    truth = json.loads((FREESWITCH / "ground_truth.json").read_text())["queues"]
    fields = ("offered", "answered", "abandoned", "timed_out")
    assert {q: {f: v[f] for f in fields} for q, v in result["queues"].items()} == {
        q: {f: v[f] for f in fields} for q, v in truth.items()
    }
