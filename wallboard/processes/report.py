"""Human-readable output of ``wallboard replay``: per-queue and per-agent tables, and a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def print_replay_table(result: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if console.width < 160:
            console = Console(width=160)
    src = result["source"]
    console.print(
        f"[bold]{src['format']}[/]: {src['records']} records, {src['rejected']} rejected, "
        f"{src['ignored']} ignored, {src['reconnects']} reconnects"
    )
    queues = Table(title="Queues", title_justify="left")
    columns = [
        ("queue", None),
        ("offered", "offered"),
        ("answered", "answered"),
        ("aband.", "abandoned"),
        ("short", "short_abandoned"),
        ("timeout", "timed_out"),
        ("other", "exited_other"),
        ("unknown", "unknown"),
        ("in SL", "answered_within_sl"),
        ("SL %", "service_level_pct"),
        ("ASA s", "asa_s"),
        ("talk s", "avg_talk_s"),
        ("AHT s", "aht_s"),
        ("max wait", "max_wait_s"),
        ("aband. %", "abandon_rate_pct"),
    ]
    for title, _ in columns:
        queues.add_column(title, justify="left" if title == "queue" else "right", no_wrap=True)
    for name, q in sorted(result["queues"].items()):
        queues.add_row(f"{name} (SL {q['sl_threshold_s']} s)", *(_fmt(q[key], 1) for _, key in columns[1:] if key))
    console.print(queues)
    agents = Table(title="Agents", title_justify="left")
    for title in ("agent", "answered", "talk s", "paused s", "pauses"):
        agents.add_column(title, justify="left" if title in ("agent", "pauses") else "right")
    for name, a in sorted(result["agents"].items()):
        pauses = ", ".join(f"{reason or '(none)'}×{n}" for reason, n in sorted(a["pauses"].items()))
        agents.add_row(name, _fmt(a["answered"]), _fmt(a["talk_s"]), _fmt(a["paused_s"], 0), pauses)
    console.print(agents)
