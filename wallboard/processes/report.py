"""Human-readable output of ``wallboard replay``: per-queue and per-agent tables, and a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

PROGRESS_MIN_BYTES = 4 << 20


@contextmanager
def replay_progress(path: Path, *, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress callback (bytes read) shown on stderr for files over a few MB, else None."""
    size = path.stat().st_size if path.is_file() else 0
    if not enabled or size < PROGRESS_MIN_BYTES:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(f"replaying {path.name}", total=size)
        yield lambda n: bar.advance(task, n)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_COUNTS = [
    ("offered", "offered"),
    ("answered", "answered"),
    ("aband.", "abandoned"),
    ("short", "short_abandoned"),
    ("timeout", "timed_out"),
    ("other", "exited_other"),
    ("unknown", "unknown"),
    ("in SL", "answered_within_sl"),
]
_TIMES = [
    ("SL %", "service_level_pct"),
    ("ASA s", "asa_s"),
    ("talk s", "avg_talk_s"),
    ("AHT s", "aht_s"),
    ("max wait", "max_wait_s"),
    ("aband. %", "abandon_rate_pct"),
]


def _queue_table(title: str, queues: dict[str, Any], columns: list[tuple[str, str]], *, compact: bool) -> Table:
    """A row per queue; ``compact`` drops the borders, and the SL threshold becomes a column of its own."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
    if compact:
        table.padding, table.collapse_padding, table.pad_edge = (0, 1), True, False
    table.add_column("queue", overflow="fold")
    shown = [("SL s", "sl_threshold_s"), *columns] if compact and columns is _TIMES else columns
    for header, _ in shown:
        table.add_column(header, justify="right", no_wrap=True)
    for name, q in sorted(queues.items()):
        label = name if compact else f"{name} (SL {q['sl_threshold_s']} s)"
        table.add_row(label, *(_fmt(q[key], 1) for _, key in shown))
    return table


def _queue_tables(queues: dict[str, Any], width: int) -> list[Table]:
    """One table of every queue figure when it fits ``width``, else the counts and the times apart."""
    whole = _queue_table("Queues", queues, _COUNTS + _TIMES, compact=False)
    if _natural_width(whole) <= width:
        return [whole]
    return [
        _queue_table("Queues: calls", queues, _COUNTS, compact=True),
        _queue_table("Queues: times", queues, _TIMES, compact=True),
    ]


def _natural_width(table: Table) -> int:
    return Console(width=10_000).measure(table).maximum


class _Console(Console):
    """Rich's console, but a closed stdout is the caller's to handle (rich's own choice is to exit 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def print_replay_table(result: dict[str, Any], console: Console | None = None) -> None:
    """The tables, fitted to the console's width (the terminal's, else ``COLUMNS``, else 80): wide columns wrap."""
    if console is None:
        console = _Console()
    src = result["source"]
    console.print(
        f"[bold]{src['format']}[/]: {src['records']} records, {src['rejected']} rejected, "
        f"{src['ignored']} ignored, {src['reconnects']} reconnects"
    )
    if src.get("degraded"):
        reasons = ", ".join(f"{reason} {count}" for reason, count in src["degraded_by_reason"].items())
        console.print(f"{src['degraded']} records without a figure, counted with it unknown ({reasons})")
    if src.get("anomalies"):
        kinds = ", ".join(f"{kind} {count}" for kind, count in src["anomalies"].items())
        console.print(f"engine anomalies: {kinds}")
    for table in _queue_tables(result["queues"], console.width):
        console.print(table)
    agents = Table(title="Agents", title_justify="left")
    for title in ("agent", "answered", "talk s", "paused s", "pauses"):
        agents.add_column(title, justify="left" if title in ("agent", "pauses") else "right")
    for name, a in sorted(result["agents"].items()):
        pauses = ", ".join(f"{reason or '(none)'}×{n}" for reason, n in sorted(a["pauses"].items()))
        agents.add_row(name, _fmt(a["answered"]), _fmt(a["talk_s"]), _fmt(a["paused_s"], 0), pauses)
    console.print(agents)
