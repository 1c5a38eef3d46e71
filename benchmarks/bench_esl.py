"""ESL benchmark: FreeSWITCH event socket bytes -> frames -> events -> engine, on the real light run's bytes.

Prints:
  (a) bytes -> frames, every frame decoded (``event plain ALL``: channel events included), frames/s
  (b) the collector's path: frames of other events dropped unread (``callcenter_only``), callcenter::info frames
      mapped (``EslMapper``) and applied to the engine, frames/s of the whole stream, end to end
  (c) the same bytes parsed by genesis, an existing asyncio ESL library, in its own read loop (asyncio
      StreamReader fed 4 KiB chunks -> one dict of decoded headers per frame, benchmarks/esl_genesis_side.py):
      like (a), bytes -> decoded frames. genesis pins versions that conflict with ours, so it runs in an
      isolated venv that uv builds on first use under .cache/bench-venvs/ (git-ignored); when that venv cannot
      be built (offline, no uv) the reason is printed in place of (c) and (a) and (b) still are.
Target: >= 50,000 frames/s/core end to end (the AMI path's target); the exit status is 1 when (b) misses it.
The transcript is repeated, its member UUIDs made unique per copy, to >= --frames frames; 4 KiB reads as a
socket gives them.

Run: .venv/bin/python benchmarks/bench_esl.py [--frames 200000] [--no-compare]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.esl.mapping import EslMapper  # noqa: E402
from collectors.esl.protocol import EslParser, callcenter_only  # noqa: E402
from wallboard.core.engine import State  # noqa: E402
from wallboard.core.site import SiteConfig  # noqa: E402

LIGHT = ROOT / "tests" / "fixtures" / "freeswitch-light"  # a real FreeSWITCH 1.10.12 capture (its PROVENANCE.md)
CHUNK = 4096
TARGET = 50_000
GENESIS = "genesis==2026.10.18"  # exact: a comparison is only repeatable against one version
VENVS = ROOT / ".cache" / "bench-venvs"  # git-ignored


def _transcript(min_frames: int) -> tuple[bytes, int]:
    one = (LIGHT / "esl_transcript.txt").read_bytes()
    parser = EslParser()
    parser.receive_data(one)
    per_copy = len(parser.frames_received())
    copies = -(-min_frames // per_copy)
    # each copy's calls are other calls: a distinct member UUID prefix (same length, so Content-Length holds)
    return b"".join(one.replace(b"-4", f"-{n % 10}".encode()) for n in range(copies)), per_copy * copies


def _run(data: bytes, *, drop: bool, apply: bool) -> int:
    parser = EslParser(drop=callcenter_only if drop else None)
    mapper, state = EslMapper(site="bench"), State(SiteConfig(site="bench"), history=False)
    received = datetime(2026, 12, 6, tzinfo=UTC)
    frames = 0
    for start in range(0, len(data), CHUNK):
        parser.receive_data(data[start : start + CHUNK])
        for frame in parser.frames_received():
            frames += 1
            if apply:
                for event in mapper.feed(frame, received):
                    state.apply(event)
    return frames + parser.dropped


def _why(done: subprocess.CompletedProcess[str]) -> str:
    """A failed command's stderr on one line (uv's error, its cause and hint; a traceback's last lines)."""
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return " / ".join(lines[-3:]) if lines else f"exit status {done.returncode}"


def _uv() -> str | None:
    local = ROOT / ".venv" / "bin" / "uv"  # scripts/bootstrap installs the uv version uv.lock pins
    return str(local) if local.exists() else shutil.which("uv")


def _genesis_python() -> tuple[Path | None, str]:
    """The isolated venv's interpreter, the venv built on first use; or None and why it could not be built.

    A stamp written last marks a complete venv, so an interrupted build is redone rather than trusted."""
    venv = VENVS / GENESIS.replace("==", "-")
    python, stamp = venv / "bin" / "python", venv / ".complete"
    if stamp.exists():
        return python, ""
    uv = _uv()
    if uv is None:
        return None, "uv is neither in .venv/bin (scripts/bootstrap) nor on PATH"
    shutil.rmtree(venv, ignore_errors=True)
    interpreter = sys.executable if sys.version_info < (3, 13) else "3.12"  # genesis supports 3.10 to 3.12
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    for command in (
        [uv, "venv", "--quiet", "--python", interpreter, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(python), GENESIS],
    ):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"`uv {command[1]}` failed: {exc}"
        if done.returncode != 0:
            return None, f"`uv {command[1]}` failed: {_why(done)}"
    stamp.write_text(GENESIS + "\n")
    return python, ""


def _genesis(data: bytes, frames: int) -> tuple[float | None, str]:
    """genesis's frames/s over ``data``, or None and why there is no figure."""
    python, why = _genesis_python()
    if python is None:
        return None, why
    with tempfile.NamedTemporaryFile(dir=VENVS, suffix=".esl") as copy:
        copy.write(data)
        copy.flush()
        side = ROOT / "benchmarks" / "esl_genesis_side.py"
        done = subprocess.run(
            [str(python), str(side), copy.name], capture_output=True, text=True, timeout=3600, check=False
        )
    if done.returncode != 0:
        return None, f"its run failed: {_why(done)}"
    result = json.loads(done.stdout)
    if result["frames"] != frames:  # not the same work: no figure rather than a misleading one
        return None, f"it counted {result['frames']:,} frames, not {frames:,}"
    return frames / result["seconds"], f"{frames:,} frames in {result['seconds']:.2f} s"


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--frames", type=int, default=200_000)
    options.add_argument("--no-compare", action="store_true", help="skip (c), the genesis comparison")
    args = options.parse_args()
    data, frames = _transcript(args.frames)
    gc.collect()
    rates: list[float] = []
    for label, drop, apply in (("(a) ours, bytes -> frames, all decoded", False, False),
                               ("(b) ours, end to end: parse, drop, map, engine", True, True)):  # fmt: skip
        started = time.perf_counter()
        counted = _run(data, drop=drop, apply=apply)
        elapsed = time.perf_counter() - started
        assert counted == frames, (counted, frames)
        rates.append(frames / elapsed)
        verdict = "" if drop is False else (" [target >= 50,000: " + ("met" if rates[-1] >= TARGET else "MISSED") + "]")
        print(f"{label}: {frames:,} frames in {elapsed:.2f} s = {rates[-1]:,.0f} frames/s{verdict}", flush=True)
    label = f"(c) {GENESIS.replace('==', ' ')}, bytes -> frames, all decoded"
    if args.no_compare:
        print(f"{label}: skipped (--no-compare)")
    else:
        rate, detail = _genesis(data, frames)
        if rate is None:
            print(f"{label}: NO FIGURE, {detail}")
        else:
            print(f"{label}: {detail} = {rate:,.0f} frames/s")
            print(f"same bytes, frames/s: ours (a) {rates[0]:,.0f} = {rates[0] / rate:.1f}x genesis {rate:,.0f}; "
                  f"ours end to end (b) {rates[1]:,.0f}; target {TARGET:,} end to end")  # fmt: skip
    return 0 if rates[1] >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
