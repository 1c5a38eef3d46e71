"""`wallboard replay` end to end, as a user runs it: a real subprocess on real Asterisk output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixture_paths import LIGHT, PUBLIC

ROOT = Path(__file__).resolve().parents[3]
THRESHOLDS = ["--sl-threshold", "support=20", "--sl-threshold", "sales=30", "--sl-threshold", "billing=30"]

# The table of tests/fixtures/asterisk22-light/PROVENANCE.md (from queue_log and the driver's ground truth).
EXPECTED = {
    "support": {"offered": 8, "answered": 8, "abandoned": 0, "timed_out": 0, "within": 8, "asa": 3.88, "talk": 45.62},
    "sales": {"offered": 7, "answered": 7, "abandoned": 0, "timed_out": 0, "within": 7, "asa": 3.71, "talk": 49.86},
    "billing": {"offered": 2, "answered": 2, "abandoned": 0, "timed_out": 0, "within": 2, "asa": 1.50, "talk": 53.00},
}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wallboard.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def replay_json(*args: str | Path) -> dict[str, Any]:
    proc = run("replay", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def assert_readme_table(result: dict[str, Any]) -> None:
    for name, exp in EXPECTED.items():
        q = result["queues"][name]
        assert q["offered"] == exp["offered"]
        assert q["answered"] == exp["answered"]
        assert q["abandoned"] == exp["abandoned"]
        assert q["timed_out"] == exp["timed_out"]
        assert q["answered_within_sl"] == exp["within"]
        assert q["asa_s"] == pytest.approx(exp["asa"], abs=0.5)
        assert q["avg_talk_s"] == pytest.approx(exp["talk"], abs=0.5)
        assert q["offered"] == q["answered"] + q["abandoned"] + q["timed_out"] + q["exited_other"] + q["unknown"]


def test_queue_log_replay_gives_the_readme_table() -> None:
    """The light queue_log replays to the per-queue table of the capture's PROVENANCE.md."""
    result = replay_json(LIGHT / "queue_log", "--format", "queue_log", *THRESHOLDS)
    assert_readme_table(result)
    assert result["source"]["format"] == "queue_log"
    assert result["source"]["rejected"] == 0
    lines = [line for line in (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert result["source"]["records"] == len(lines)


@pytest.mark.parametrize("line_end", ["\r", "\r\n"], ids=["cr", "crlf"])
def test_queue_log_with_cr_or_crlf_line_ends_replays_like_lf(tmp_path: Path, line_end: str) -> None:
    """Old Mac (bare CR) and Windows (CRLF) line ends give the same table and line count as LF."""
    lines = (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "queue_log"
    path.write_bytes(line_end.join(lines).encode() + line_end.encode())
    result = replay_json(path, "--format", "queue_log", *THRESHOLDS)
    assert_readme_table(result)
    assert result["source"]["records"] == len([line for line in lines if line.strip()])
    assert result["source"]["rejected"] == 0


def test_ami_replay_gives_the_readme_table_and_agrees_with_queue_log() -> None:
    """The AMI transcript of the same run gives the same queue figures and the same per-agent calls."""
    ami = replay_json(LIGHT / "ami_transcript.txt", "--format", "ami", *THRESHOLDS)
    assert_readme_table(ami)
    assert ami["source"]["reconnects"] == 0
    assert ami["source"]["rejected"] == 0
    ql = replay_json(LIGHT / "queue_log", "--format", "queue_log", *THRESHOLDS)
    assert ami["queues"] == ql["queues"]
    for agent, figures in ql["agents"].items():
        assert ami["agents"][agent]["answered"] == figures["answered"]
        assert ami["agents"][agent]["talk_s"] == figures["talk_s"]
        assert ami["agents"][agent]["pauses"] == figures["pauses"]


def _with_hold_time(tmp_path: Path, value: str) -> tuple[Path, Path]:
    """The light AMI transcript with the first support AgentConnect's HoldTime replaced by ``value``, and its
    frame-times index with the later offsets moved by the change of length."""
    data = (LIGHT / "ami_transcript.txt").read_bytes()
    first = data.index(b"Event: AgentConnect")
    frame_at = data.index(b"Event: AgentConnect", first + 1)  # the second: a support call, HoldTime 4
    field_at = data.index(b"HoldTime: ", frame_at) + len(b"HoldTime: ")
    end = data.index(b"\r\n", field_at)
    shift = len(value) - (end - field_at)
    transcript = tmp_path / "ami_transcript.txt"
    transcript.write_bytes(data[:field_at] + value.encode() + data[end:])
    rows = []
    for line in (LIGHT / "ami_frames.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("off", 0) > field_at:
            row["off"] += shift
        rows.append(json.dumps(row))
    times = tmp_path / "ami_frames.jsonl"
    times.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return transcript, times


@pytest.mark.parametrize(("value", "degraded", "implausible"), [("1e30", 1, 0), ("soon", 1, 0), ("99999", 0, 1)])
def test_an_absurd_ami_hold_time_costs_that_figure_not_the_call(
    tmp_path: Path, value: str, degraded: int, implausible: int
) -> None:
    """HoldTime 1e30 (or text) is no figure and 99,999 s is implausible: the call is still answered, its wait
    comes from its own join and answer times, the record is counted, and no average is clamped (ASA is not days)."""
    transcript, times = _with_hold_time(tmp_path, value)
    got = replay_json(transcript, "--format", "ami", "--frame-times", times, *THRESHOLDS)
    expected = replay_json(
        LIGHT / "ami_transcript.txt", "--format", "ami", "--frame-times", LIGHT / "ami_frames.jsonl", *THRESHOLDS
    )
    assert got["source"]["rejected"] == 0
    assert got["source"]["degraded"] == degraded
    assert got["source"]["anomalies"].get("implausible_wait", 0) == implausible
    for name, queue in expected["queues"].items():
        assert got["queues"][name]["answered"] == queue["answered"]
        assert got["queues"][name]["asa_s"] == pytest.approx(queue["asa_s"], abs=1.0)


def test_ami_replay_without_times_reports_no_pause_durations() -> None:
    """Without receive times the AMI replay cannot know pause durations: paused_s is null, not 0."""
    ami = replay_json(LIGHT / "ami_transcript.txt", "--format", "ami")
    assert all(a["paused_s"] is None for a in ami["agents"].values())


def test_frame_times_give_pause_durations_that_agree_with_queue_log() -> None:
    """With ami_frames.jsonl receive times, pause durations agree with the queue_log's within a second."""
    ami = replay_json(
        LIGHT / "ami_transcript.txt", "--format", "ami", "--frame-times", LIGHT / "ami_frames.jsonl", *THRESHOLDS
    )
    ql = replay_json(LIGHT / "queue_log", "--format", "queue_log", *THRESHOLDS)
    paused = {a: f["paused_s"] for a, f in ql["agents"].items() if f["paused_s"]}
    assert paused, "the light run has pauses"
    for agent, seconds in paused.items():
        assert ami["agents"][agent]["paused_s"] == pytest.approx(seconds, abs=2.0)


def test_csv_export_replays_like_the_queue_log(tmp_path: Path) -> None:
    """The CSV export schema of the same queue_log gives identical figures."""
    csv_path = tmp_path / "queue_log.csv"
    rows = ["uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,htime,ttime,time"]
    for uid, line in enumerate((LIGHT / "queue_log").read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("|")
        data = (parts[5:] + ["", "", ""])[:3]
        fields = [str(uid), parts[0], parts[1], parts[2], parts[3], parts[4], *data, "", "", "", "", ""]
        rows.append(",".join('"' + f.replace('"', '""') + '"' for f in fields))
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    from_csv = replay_json(csv_path, "--format", "queue_log_csv", *THRESHOLDS)
    from_log = replay_json(LIGHT / "queue_log", "--format", "queue_log", *THRESHOLDS)
    assert from_csv["queues"] == from_log["queues"]
    assert from_csv["agents"] == from_log["agents"]


def _export_with_times_in_derived_columns(lines: list[str]) -> str:
    """The CSV export as some real exports write it: CONNECT's param1 empty, COMPLETE*'s param1 the caller
    number and its talktime empty, ABANDON's waittime empty: the times only in htime/ttime, positions in
    entpos/expos."""
    rows = ["uid,date_time,callid,queue_name,type,event,param1,param2,param3,entpos,expos,htime,ttime,time"]
    callers: dict[str, str] = {}
    for uid, line in enumerate(lines, 1):
        epoch, callid, queue, agent, verb, *data = line.split("|")
        params = (data + ["", "", ""])[:3]
        derived = {"entpos": "", "expos": "", "htime": "", "ttime": ""}
        if verb == "ENTERQUEUE":
            callers[callid] = params[1]
        elif verb == "CONNECT":
            derived["htime"], params[0] = params[0], ""
        elif verb.startswith("COMPLETE"):
            derived |= {"htime": params[0], "ttime": params[1], "entpos": params[2]}
            params = [callers.get(callid, "") or "5550142", "", ""]
        elif verb == "ABANDON":
            derived |= {"expos": params[0], "entpos": params[1], "htime": params[2]}
            params = ["", "", ""]
        fields = [str(uid), epoch, callid, queue, agent, verb, *params, *derived.values(), ""]
        rows.append(",".join('"' + f.replace('"', '""') + '"' for f in fields))
    return "\n".join(rows) + "\n"


def test_csv_export_with_times_only_in_htime_ttime_counts_every_answered_call(tmp_path: Path) -> None:
    """An export whose hold and talk times live only in the derived columns counts every call in its outcome,
    with the same waits and talk times as the queue_log: nothing rejected, nothing unknown."""
    lines = [line for line in (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert any("|CONNECT|" in line for line in lines) and any("|COMPLETE" in line for line in lines)
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(_export_with_times_in_derived_columns(lines), encoding="utf-8")
    from_csv = replay_json(csv_path, "--format", "queue_log_csv", *THRESHOLDS)
    from_log = replay_json(LIGHT / "queue_log", "--format", "queue_log", *THRESHOLDS)
    assert from_csv["source"]["rejected"] == 0
    for name, expected in from_log["queues"].items():
        got = from_csv["queues"][name]
        for figure in ("offered", "answered", "abandoned", "unknown", "answered_within_sl"):
            assert got[figure] == expected[figure], (name, figure)
        for figure in ("asa_s", "avg_talk_s", "max_wait_s"):
            assert got[figure] == pytest.approx(expected[figure]), (name, figure)


def test_malformed_lines_are_counted_and_the_rest_is_replayed(tmp_path: Path) -> None:
    """Broken queue_log lines are logged with their line number, counted as rejected, and skipped."""
    lines = (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
    broken = [*lines[:20], "garbage without pipes", "notanumber|1.1|support|NONE|ENTERQUEUE||1|1", *lines[20:]]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    proc = run("replay", path, "--format", "queue_log", "--json", *THRESHOLDS)
    assert proc.returncode == 0
    result = json.loads(proc.stdout)
    assert result["source"]["rejected"] == 2
    assert_readme_table(result)
    assert "line 21" in proc.stderr and "line 22" in proc.stderr


def test_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """A missing input exits 2 with one clear line on stderr and nothing on stdout."""
    proc = run("replay", tmp_path / "nope", "--format", "queue_log", "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "nope" in proc.stderr


def test_human_table_lists_queues_and_agents() -> None:
    """Without --json the replay prints readable tables naming every queue and agent."""
    proc = run("replay", LIGHT / "queue_log", "--format", "queue_log", *THRESHOLDS)
    assert proc.returncode == 0, proc.stderr
    for name in ("support", "sales", "billing", "Alice Nguyen", "José Álvarez"):
        assert name in proc.stdout


def test_public_asterisk2slack_queue_log_replays() -> None:
    """A FreePBX queue_log extract with repeated lines and a vendor verb replays without rejects or double counts."""
    result = replay_json(PUBLIC / "asterisk2slack_queue_log.txt", "--format", "queue_log")
    assert result["source"]["rejected"] == 0
    assert result["source"]["ignored"] >= 1
    for q in result["queues"].values():
        assert q["offered"] == q["answered"] + q["abandoned"] + q["timed_out"] + q["exited_other"] + q["unknown"]
        assert q["answered"] <= q["offered"]
