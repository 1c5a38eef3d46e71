"""Human-readable output of ``wallboard replay``: per-queue and per-agent tables, and a progress bar.

Titles, column headers and the summary lines are in the language of ``processes.messages`` (the figures are not
localised: a table of numbers reads the same everywhere); ``replay --json`` is for programs and stays as it is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from wallboard.processes.messages import N_, _, ngettext

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
        task = bar.add_task(_("replaying {name}").format(name=path.name), total=size)
        yield lambda n: bar.advance(task, n)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# (column header, figure): the headers are translated where the table is made
_COUNTS = [
    (N_("offered"), "offered"),
    (N_("answered"), "answered"),
    (N_("aband."), "abandoned"),
    (N_("short"), "short_abandoned"),
    (N_("timeout"), "timed_out"),
    (N_("other"), "exited_other"),
    (N_("unknown"), "unknown"),
    (N_("in SL"), "answered_within_sl"),
]
_TIMES = [
    (N_("SL %"), "service_level_pct"),
    (N_("ASA s"), "asa_s"),
    (N_("talk s"), "avg_talk_s"),
    (N_("AHT s"), "aht_s"),
    (N_("max wait"), "max_wait_s"),
    (N_("aband. %"), "abandon_rate_pct"),
]


def _queue_table(title: str, queues: dict[str, Any], columns: list[tuple[str, str]], *, compact: bool) -> Table:
    """A row per queue; ``compact`` drops the borders, and the SL threshold becomes a column of its own."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
    if compact:
        table.padding, table.collapse_padding, table.pad_edge = (0, 1), True, False
    table.add_column(_("queue"), overflow="fold")
    shown = [(N_("SL s"), "sl_threshold_s"), *columns] if compact and columns is _TIMES else columns
    for header, _figure in shown:
        table.add_column(_(header), justify="right", no_wrap=True)
    for name, q in sorted(queues.items()):
        label = name if compact else _("{queue} (SL {seconds} s)").format(queue=name, seconds=q["sl_threshold_s"])
        table.add_row(label, *(_fmt(q[key], 1) for _header, key in shown))
    return table


def _queue_tables(queues: dict[str, Any], width: int) -> list[Table]:
    """One table of every queue figure when it fits ``width``, else the counts and the times apart."""
    whole = _queue_table(_("Queues"), queues, _COUNTS + _TIMES, compact=False)
    if _natural_width(whole) <= width:
        return [whole]
    return [
        _queue_table(_("Queues: calls"), queues, _COUNTS, compact=True),
        _queue_table(_("Queues: times"), queues, _TIMES, compact=True),
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
    counts = {name: src[name] for name in ("records", "rejected", "ignored", "reconnects")}
    read = _("{records} records, {rejected} rejected, {ignored} ignored, {reconnects} reconnects").format(**counts)
    console.print(f"[bold]{src['format']}[/]: {read}")
    if src.get("degraded"):
        reasons = ", ".join(f"{reason} {count}" for reason, count in src["degraded_by_reason"].items())
        degraded = ngettext(
            "{n} record without a figure, counted with it unknown ({reasons})",
            "{n} records without a figure, counted with it unknown ({reasons})",
            src["degraded"],
        )
        console.print(degraded.format(n=src["degraded"], reasons=reasons))
    if src.get("anomalies"):
        kinds = ", ".join(f"{kind} {count}" for kind, count in src["anomalies"].items())
        console.print(_("engine anomalies: {kinds}").format(kinds=kinds))
    for table in _queue_tables(result["queues"], console.width):
        console.print(table)
    agents = Table(title=_("Agents"), title_justify="left")
    for title in (N_("agent"), N_("answered"), N_("talk s"), N_("paused s"), N_("pauses")):
        agents.add_column(_(title), justify="left" if title in ("agent", "pauses") else "right")
    unnamed = _("(none)")
    for name, a in sorted(result["agents"].items()):
        pauses = ", ".join(f"{reason or unnamed}×{n}" for reason, n in sorted(a["pauses"].items()))
        agents.add_row(name, _fmt(a["answered"]), _fmt(a["talk_s"]), _fmt(a["paused_s"], 0), pauses)
    console.print(agents)
