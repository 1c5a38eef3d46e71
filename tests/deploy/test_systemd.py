"""The systemd unit of deploy/ runs `wallboard serve` with options the CLI accepts, and systemd accepts the unit."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

from wallboard.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "wallboard.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_the_unit_runs_serve_with_options_the_cli_accepts() -> None:
    service = _service()
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/.venv/bin/wallboard") and argv[1] == "serve"
    args = build_parser().parse_args(argv[1:])
    assert args.func.__name__ == "cmd_serve" and args.ami == [("pbx.example.net", 5038)]
    lines = UNIT.read_text().splitlines()
    assert "Environment=WALLBOARD_DATA_DIR=/var/lib/wallboard" in lines and "StateDirectory=wallboard" in lines
    assert service["KillMode"] == "mixed" and int(service["TimeoutStopSec"]) > 10  # serve's own stop takes <= 10 s
    assert service["RestartPreventExitStatus"] == "2"
    assert "AMI_SECRET" not in service["ExecStart"]  # secrets only from the environment file


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, its ExecStart pointed at this checkout's wallboard (it must exist)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is needed to check the unit"
    wallboard = ROOT / ".venv" / "bin" / "wallboard"
    unit = tmp_path / "wallboard.service"
    unit.write_text(UNIT.read_text().replace("/opt/wallboard/.venv/bin/wallboard", str(wallboard)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
