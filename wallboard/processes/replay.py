"""Replay a recorded source (AMI transcript, queue_log, queue_log CSV export) through the live code path.

The replay uses the same parser, mapping and engine as the live collectors: bytes or lines go
through ``collectors.ami`` or ``collectors.queue_log`` into ``wallboard.core.engine.State``, and the
result is the engine's whole-input totals plus what the source counted (records read, rejected,
ignored, reconnects). Nothing here computes a metric.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Literal

from collectors.ami.mapping import AmiMapper, make_drop_predicate
from collectors.ami.protocol import AmiParser
from collectors.queue_log.csv_export import read_csv
from collectors.queue_log.parser import QueueLogMapper
from collectors.queue_log.records import QueueLogError
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import SiteConfig
from wallboard.errors import UsageError

log = logging.getLogger(__name__)

ReplayFormat = Literal["ami", "queue_log", "queue_log_csv"]
CHUNK = 1 << 20
LINES_PER_BLOCK = 100  # queue_log lines mapped before their events are applied (see _replay_queue_log)
# Without receive times, AMI frames all get this instant: durations then come from the fields.
_NO_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class ReplayError(UsageError):
    """The input cannot be replayed at all (missing, unreadable, not the announced format)."""


@dataclass
class SourceCounts:
    format: str
    records: int = 0
    rejected: int = 0
    ignored: int = 0
    reconnects: int = 0
    timed: bool = True


@dataclass
class ReplayResult:
    source: SourceCounts
    state: State
    last_ts: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        totals = self.state.totals()
        if not self.source.timed:
            for agent in totals["agents"].values():
                agent["paused_s"] = None
        return {
            "source": {
                "format": self.source.format,
                "records": self.source.records,
                "rejected": self.source.rejected,
                "ignored": self.source.ignored,
                "reconnects": self.source.reconnects,
            },
            "queues": totals["queues"],
            "agents": totals["agents"],
        }


Progress = Callable[[int], None]


def load_frame_times(path: Path) -> dict[int, float]:
    """Receive times by byte offset, from an ``ami_frames.jsonl`` index (as in tests/fixtures/asterisk22-light)."""
    times: dict[int, float] = {}
    try:
        with path.open(encoding="utf-8") as stream:
            for lineno, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ReplayError(f"{path}:{lineno}: not JSON: {exc.msg}") from exc
                if row.get("kind") in ("banner", "event", "response") and "off" in row and "t" in row:
                    times[int(row["off"])] = float(row["t"])
    except OSError as exc:
        raise ReplayError(f"cannot read frame times {path}: {exc.strerror}") from exc
    return times


def open_input(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from exc


def replay(
    path: Path,
    fmt: ReplayFormat,
    site: SiteConfig,
    *,
    frame_times: dict[int, float] | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay ``path`` into a fresh engine; raises ReplayError when the file cannot be read at all.

    The engine keeps no closed-interval rows (nothing here reads them), so memory stays flat over a long input.
    """
    state = State(site, history=False)
    with open_input(path) as stream:
        if fmt == "ami":
            counts, last = _replay_ami(stream, state, site, frame_times, progress)
        elif fmt == "queue_log":
            counts, last = _replay_queue_log(stream, state, site, progress)
        else:
            counts, last = _replay_queue_log_csv(stream, state, site, progress)
    state.finish(last or _NO_TIME)
    return ReplayResult(source=counts, state=state, last_ts=last)


def _apply(state: State, events: list[Event]) -> datetime | None:
    last = None
    for event in events:
        state.apply(event)
        last = event.ts
    return last


def _replay_ami(
    stream: BinaryIO,
    state: State,
    site: SiteConfig,
    frame_times: dict[int, float] | None,
    progress: Progress | None,
) -> tuple[SourceCounts, datetime | None]:
    parser = AmiParser(drop=make_drop_predicate())
    mapper = AmiMapper(site=site.site)
    counts = SourceCounts(format="ami", timed=frame_times is not None)
    received = _NO_TIME
    last: datetime | None = None
    frames = errors = 0

    def drain() -> None:
        nonlocal received, last, frames, errors
        for frame in parser.frames_received():
            frames += 1
            if frame_times is not None:
                t = frame_times.get(frame.offset)
                if t is not None:
                    received = datetime.fromtimestamp(t, UTC)
            if frame_times is None and "Timestamp" in frame:
                counts.timed = True
            last = _apply(state, mapper.feed(frame, received)) or last
        for error in parser.errors():
            errors += 1
            log.warning("AMI input: %s", error)

    while chunk := stream.read(CHUNK):
        parser.receive_data(chunk)
        drain()
        if progress:
            progress(len(chunk))
    parser.receive_eof()
    drain()
    last = _apply(state, mapper.finish(last or received)) or last
    counts.records = frames + parser.dropped + errors
    counts.rejected = errors + mapper.rejected
    counts.ignored = parser.dropped + mapper.ignored
    counts.reconnects = mapper.reconnects
    return counts, last


def _replay_queue_log(
    stream: BinaryIO, state: State, site: SiteConfig, progress: Progress | None
) -> tuple[SourceCounts, datetime | None]:
    """The hot loop of a day's replay: map a block of lines, then apply its events.

    Same events in the same order as line by line; alternating between parser and engine only once
    per block keeps each one's working set in the CPU caches (about 15% faster than per line).
    """
    mapper = QueueLogMapper(site=site.site)
    feed, apply = mapper.feed_lines, state.apply
    last: datetime | None = None
    lineno = 1
    while block := list(islice(stream, LINES_PER_BLOCK)):
        events = feed(block, lineno)
        lineno += len(block)
        for event in events:
            apply(event)
        if events:
            last = events[-1].ts
        if progress:
            progress(sum(map(len, block)))
    last = _apply(state, mapper.finish()) or last
    return _queue_log_counts("queue_log", mapper), last


def _replay_queue_log_csv(
    stream: BinaryIO, state: State, site: SiteConfig, progress: Progress | None
) -> tuple[SourceCounts, datetime | None]:
    mapper = QueueLogMapper(site=site.site)
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    last: datetime | None = None
    try:
        for lineno, row in read_csv(text):
            last = _apply(state, mapper.feed_csv_row(row, lineno)) or last
    except QueueLogError as exc:
        raise ReplayError(f"not a queue_log CSV export: {exc}") from exc
    last = _apply(state, mapper.finish()) or last
    return _queue_log_counts("queue_log_csv", mapper), last


def _queue_log_counts(fmt: str, mapper: QueueLogMapper) -> SourceCounts:
    return SourceCounts(
        format=fmt,
        records=mapper.records,
        rejected=mapper.rejected,
        ignored=mapper.ignored,
        reconnects=mapper.reconnects,
    )
