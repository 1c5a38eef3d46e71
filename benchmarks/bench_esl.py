"""ESL benchmark: FreeSWITCH event socket bytes -> frames -> events -> engine, on the real light run's bytes.

Prints:
  (a) bytes -> frames, every frame decoded (``event plain ALL``: channel events included), frames/s
  (b) the collector's path: frames of other events dropped unread (``callcenter_only``), callcenter::info frames
      mapped (``EslMapper``) and applied to the engine, frames/s of the whole stream, end to end
Target: >= 50,000 frames/s/core end to end (the AMI path's target). The transcript is repeated, its member
UUIDs made unique per copy, to >= --frames frames; 4 KiB reads as a socket gives them.

Run: .venv/bin/python benchmarks/bench_esl.py [--frames 200000]
"""

from __future__ import annotations

import argparse
import gc
import sys
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


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--frames", type=int, default=200_000)
    args = options.parse_args()
    data, frames = _transcript(args.frames)
    gc.collect()
    for label, drop, apply in (("(a) bytes -> frames, all decoded", False, False),
                               ("(b) end to end: parse, drop, map, engine", True, True)):  # fmt: skip
        started = time.perf_counter()
        counted = _run(data, drop=drop, apply=apply)
        elapsed = time.perf_counter() - started
        assert counted == frames, (counted, frames)
        rate = frames / elapsed
        verdict = "" if drop is False else (" [target >= 50,000: " + ("met" if rate >= TARGET else "MISSED") + "]")
        print(f"{label}: {frames:,} frames in {elapsed:.2f} s = {rate:,.0f} frames/s{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
