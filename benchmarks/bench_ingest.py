"""Ingest benchmark: AMI bytes -> frames -> events -> engine, queue_log lines, and panoramisk side by side.

Prints, in one run:
  (a) AMI bytes -> frames, frames/s (the light transcript repeated to >= 200k frames, 4 KiB reads)
  (b) frames -> events -> engine, frames/s, and (a+b) end to end
  (c) queue_log lines/s: 1,000,000 generated lines replayed through the real `wallboard replay` path
      from a file (best and median of --repeat runs), with the tracemalloc peak at each quarter of the
      input (streamed: memory must stay flat once the engine's bounded memories are full)
  (d) panoramisk's own parser (AMIProtocol.data_received + Message.from_line) on the same bytes,
      and our parser's speed as a ratio of it.
Targets: >= 50,000 AMI frames/s/core end to end, >= 3x panoramisk, 1M queue_log lines <= 10 s.

Run: .venv/bin/python benchmarks/bench_ingest.py [--frames 200000] [--lines 1000000] [--only a,b,c,d] [--repeat 3]
(``--only c`` runs only the queue_log part; a and b always run together, d needs a's figure.)
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.ami.mapping import AmiMapper, make_drop_predicate  # noqa: E402
from collectors.ami.protocol import AmiParser, Frame  # noqa: E402
from wallboard.core.engine import State  # noqa: E402
from wallboard.core.site import SiteConfig  # noqa: E402
from wallboard.processes.replay import replay  # noqa: E402

LIGHT = ROOT / "tests" / "fixtures" / "asterisk22-light"  # a real Asterisk 22 capture (its PROVENANCE.md)
CHUNK = 4096


def _transcript(min_frames: int) -> tuple[bytes, int]:
    one = (LIGHT / "ami_transcript.txt").read_bytes()
    per_copy = sum(1 for _ in _parse(one, drop=False))
    copies = -(-min_frames // per_copy)
    return one * copies, per_copy * copies


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _parse(data: bytes, *, drop: bool) -> list[Frame]:
    parser = AmiParser(drop=make_drop_predicate() if drop else None)
    out: list[Frame] = []
    for chunk in _chunks(data):
        parser.receive_data(chunk)
        out.extend(parser.frames_received())
    parser.receive_eof()
    out.extend(parser.frames_received())
    return out


def bench_ami(min_frames: int) -> float:
    data, frames = _transcript(min_frames)
    chunks = _chunks(data)
    print(f"AMI input: {len(data) / 1e6:.1f} MB, {frames} frames (light transcript x{frames // 3059})")

    gc.collect()
    t0 = time.perf_counter()
    parser = AmiParser(drop=make_drop_predicate())
    kept: list[Frame] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        kept.extend(parser.frames_received())
    parser.receive_eof()
    kept.extend(parser.frames_received())
    t_parse = time.perf_counter() - t0
    print(f"(a) bytes -> frames:          {frames / t_parse:>12,.0f} frames/s  ({parser.dropped} dropped unparsed)")

    at = datetime(2026, 11, 22, tzinfo=UTC)
    gc.collect()
    t0 = time.perf_counter()
    mapper = AmiMapper()
    state = State(SiteConfig())
    events = 0
    for frame in kept:
        for event in mapper.feed(frame, at):
            state.apply(event)
            events += 1
    t_map = time.perf_counter() - t0
    print(f"(b) frames -> events -> engine: {frames / t_map:>10,.0f} frames/s  ({events} events)")
    e2e = frames / (t_parse + t_map)
    print(f"(a+b) end to end:             {e2e:>12,.0f} frames/s/core   target >= 50,000")
    return frames / t_parse


def bench_panoramisk(min_frames: int, ours: float) -> None:
    try:
        from panoramisk.ami_protocol import AMIProtocol
    except ImportError:
        print("(d) panoramisk not installed: skipped")
        return
    data, frames = _transcript(min_frames)
    chunks = _chunks(data)

    class _Transport:
        def write(self, data: bytes) -> None:
            pass

    counted = 0

    class Counting(AMIProtocol):  # type: ignore[misc]
        def handle_message(self, message: object) -> None:
            nonlocal counted
            counted += 1

    proto = Counting()
    proto.connection_made(_Transport())
    proto.encoding = "utf-8"
    gc.collect()
    t0 = time.perf_counter()
    for chunk in chunks:
        proto.data_received(chunk)
    elapsed = time.perf_counter() - t0
    theirs = frames / elapsed
    print(f"(d) panoramisk parser:        {theirs:>12,.0f} frames/s  ({counted} messages)")
    print(f"    ours / panoramisk:        {ours / theirs:>12.1f} x   target >= 3x")


def _queue_log_lines(n: int) -> list[str]:
    base = [line for line in (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines() if line.strip()]
    t0 = int(base[0].split("|", 1)[0])
    span = int(base[-1].split("|", 1)[0]) - t0 + 60
    # copies of the capture back to back, the last ending a day before now: a replay sets aside lines dated
    # after the present (clock_ahead), so generated days must lie in the past like any real file
    start = int(time.time()) - (n // len(base) + 1) * span - 86_400
    out: list[str] = []
    copy = 0
    while len(out) < n:
        shift = start - t0 + copy * span
        for line in base:
            ts, callid, rest = line.split("|", 2)
            if callid not in ("NONE", "MANAGER"):
                callid = f"{callid}-{copy}"
            out.append(f"{int(ts) + shift}|{callid}|{rest}")
            if len(out) == n:
                break
        copy += 1
    return out


def _write_queue_log(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as stream:
        block: list[str] = []
        for line in _queue_log_lines(n):
            block.append(line)
            if len(block) == 10_000:
                stream.write("\n".join(block) + "\n")
                block.clear()
        if block:
            stream.write("\n".join(block) + "\n")


def bench_queue_log(n: int, repeat: int) -> None:
    """Part (c): one replay under tracemalloc (peak sampled at each quarter of the input), then timed runs."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queue_log"
        _write_queue_log(path, n)
        marks = [path.stat().st_size * quarter // 4 for quarter in (1, 2, 3)]
        peaks: list[int] = []
        read = 0

        def sample(nbytes: int) -> None:  # the replay's progress callback: bytes read so far
            nonlocal read
            read += nbytes
            while len(peaks) < len(marks) and read >= marks[len(peaks)]:
                peaks.append(tracemalloc.get_traced_memory()[1])

        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        result = replay(path, "queue_log", SiteConfig(), progress=sample)
        traced = time.perf_counter() - t0
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        offered = sum(q["offered"] for q in result.state.totals()["queues"].values())
        print(
            f"(c) queue_log {n:,} lines under tracemalloc: {traced:.2f} s, {result.source.records:,} records, "
            f"{offered} calls offered"
        )
        shown = " / ".join(f"{peak / 1e6:.1f}" for peak in peaks)
        print(
            f"    peak memory at 1/4, 1/2, 3/4, all of the input: {shown} MB (all / half: x{peaks[3] / peaks[1]:.2f})"
        )
        print(
            "    (the engine's bounded memories, >= 200,000 event keys and >= 50,000 closed calls kept in two\n"
            "    generations each, fill up over the first ~600,000 lines; memory is flat after that)"
        )
        del result
        times = []
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            replay(path, "queue_log", SiteConfig())
            times.append(time.perf_counter() - t0)
        best, median = min(times), statistics.median(times)
        print(
            f"(c) queue_log {n:,} lines replayed in {best:.2f} s best, {median:.2f} s median of {repeat} "
            f"({n / best:,.0f} lines/s)   target <= 10 s"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"    process max RSS: {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--only", default="a,b,c,d", help="comma-separated parts to run (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="timed replays in part (c) (best and median)")
    args = parser.parse_args()
    parts = set(args.only.replace(" ", "").split(","))
    if parts & {"a", "b", "d"}:
        ours = bench_ami(args.frames)
        if "d" in parts:
            bench_panoramisk(args.frames, ours)
    if "c" in parts:
        bench_queue_log(args.lines, args.repeat)


if __name__ == "__main__":
    main()
