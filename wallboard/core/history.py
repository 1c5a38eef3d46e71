"""Interval history rows: per-agent time accounting, the row shapes, their stream ids and CSV. Pure.

Theory of operation
-------------------
When an interval (15/30/60 min, site-local clock) closes, the engine keeps one row per queue (its
``wallboard.core.metrics.Counters``, see ``State.drain_closed_intervals``) and one row per agent that did
anything in it (``State.drain_closed_agent_intervals``). The runner writes both kinds, exactly once,
to the site's history streams in the MULTI that stores the checkpoint which has drained them; the API
exports them as JSON or CSV (``wallboard.api.history_routes``).

Agent time is accounted in an :class:`AgentInterval` per agent (``wallboard.core.agents.TimedPresence``
feeds it): every change of the displayed state adds the time since the last change to the state left
(``spend``), every flush of a pause episode adds its time to the episode's reason (``pause``), and at
the interval end the engine ends an expired wrap-up, flushes the open episode and spends the current
state up to the end (``State._cut_agents``). So within one interval, for one agent:

* ``state_<s>_s`` is the time *displayed* in state s (``wallboard.core.agent_state``); ``logged_in_s`` is
  their sum (every state but ``logged_out``); ``state_paused_s`` is paused in every queue.
* ``paused_s`` is the time paused in *at least one* queue (the snapshot's ``paused_s`` definition),
  split by reason in ``paused_by_reason``; ``pauses`` counts the episodes started in the interval.
  Pausing in one queue of two, or during a call, counts here while the display is available/on_call.
* answered, handled, talk/hold/wrap seconds and ``aht_s`` count the calls answered (handled: ended)
  in the interval, as the queue windows do; ``missed_rings`` the rings the agent did not answer in it;
  ``occupancy_pct`` = (on_call + wrap_up time) / (on_call + wrap_up + available time)
  (``wallboard.core.metrics.occupancy``), from the displayed states.

Exports ask for a window (:func:`window`): rows whose interval starts in [from, to), the bounds ISO
times (site-local without an offset) or dates (site-local midnights; a ``to`` date includes its day);
:class:`WindowError`, this module's one exception, names the bound it could not use.

Stream ids: the rows of one interval get ids ``<start epoch ms>-0``, ``-1``, ... in row order (queues
and agents by name), so a stream is ordered by interval, XRANGE by time finds an interval's rows, and
MINID trims by interval age. The runner never writes rows of an interval its stream already has
(:func:`written`), which also makes the rows of a rebuilt state, or of a write whose outcome was not
heard, idempotent.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from wallboard.core.metrics import aht, occupancy
from wallboard.errors import WallboardError

__all__ = [
    "AGENT_COLUMNS",
    "MAX_RANGE_DAYS",
    "QUEUE_COLUMNS",
    "STATE_COLUMNS",
    "AgentInterval",
    "Kind",
    "WindowError",
    "agent_row",
    "row_ids",
    "stream_id_after",
    "to_csv",
    "window",
    "written",
]

Kind = Literal["queue", "agent"]
MAX_RANGE_DAYS = 93  # the longest window one export may ask for
# Displayed states with a time column (logged_out has none: it is the complement of logged_in_s).
STATE_COLUMNS = ("available", "ringing", "on_call", "wrap_up", "paused")
QUEUE_COLUMNS = (
    "site",
    "queue",
    "channel",
    "start",
    "end",
    "minutes",
    "sl_threshold_s",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "timed_out",
    "exited_other",
    "unknown",
    "answered_within_sl",
    "service_level_pct",
    "asa_s",
    "avg_talk_s",
    "avg_hold_s",
    "avg_wrap_s",
    "aht_s",
    "abandon_rate_pct",
    "max_wait_s",
    "handled",
    "talk_s",
    "hold_s",
    "wrap_s",
    "wait_s_answered",
    "wait_unknown",
    "handle_unknown",
    "missed_rings",
    "escalations",
    "repeat_callers",
    "repeat_rate_pct",
    "responded",
    "first_response_s",
    "first_response_unknown",
    "avg_first_response_s",
)
AGENT_COLUMNS = (
    "site",
    "agent",
    "name",
    "team",
    "start",
    "end",
    "minutes",
    "answered",
    "handled",
    "missed_rings",
    "transfers",
    "escalations",
    "talk_s",
    "hold_s",
    "wrap_s",
    "aht_s",
    "logged_in_s",
    *(f"state_{state}_s" for state in STATE_COLUMNS),
    "paused_s",
    "paused_by_reason",
    "pauses",
    "occupancy_pct",
)


class HandledCalls:
    """An agent's answered and handled calls, their summed talk, hold and wrap-up, missed rings (an agent's day,
    total or interval): a handled call whose times are unknown counts in ``handle_unknown``, out of the sums.

    ``LATE`` names the counters added after checkpoints were written: they start at 0 when an older pickle lacks them.
    """

    __slots__ = (
        "answered",
        "handled",
        "talk_s",
        "hold_s",
        "wrap_s",
        "handle_unknown",
        "missed_rings",
        "transfers",
        "escalations",
    )
    LATE: tuple[str, ...] = ("handle_unknown", "missed_rings", "transfers", "escalations")

    def __init__(self) -> None:
        self.answered = 0
        self.handled = 0
        self.talk_s = 0.0
        self.hold_s = 0.0
        self.wrap_s = 0.0
        self.handle_unknown = 0
        self.missed_rings = 0  # rings not answered (AgentRang answered=False)
        self.transfers = 0  # calls the agent ended by transfer
        self.escalations = 0  # calls the agent transferred to an escalation target

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickle, also a checkpoint written before the ``LATE`` counters existed."""
        for name in self.LATE:
            setattr(self, name, 0)
        for name, value in state[1].items():
            setattr(self, name, value)

    def handle(self, times: tuple[float, float, float] | None) -> None:
        """A call of this agent ended, with its talk, hold and wrap-up seconds (None: unknown)."""
        self.handled += 1
        if times is None:
            self.handle_unknown += 1
        else:
            self.talk_s += times[0]
            self.hold_s += times[1]
            self.wrap_s += times[2]

    def add_handled(self, other: HandledCalls) -> None:
        """Add another identity's call figures (two names found to be one agent)."""
        self.answered += other.answered
        self.handled += other.handled
        self.talk_s += other.talk_s
        self.hold_s += other.hold_s
        self.wrap_s += other.wrap_s
        self.handle_unknown += other.handle_unknown
        self.missed_rings += other.missed_rings
        self.transfers += other.transfers
        self.escalations += other.escalations


class AgentInterval(HandledCalls):
    """One agent's figures in the current interval: time per displayed state, paused time, calls."""

    __slots__ = ("mark", "state_s", "paused_s")

    def __init__(self, mark: datetime) -> None:
        self.mark = mark  # the time up to which state time has been accounted
        self.state_s: dict[str, float] = {}  # keys: AgentState members (a StrEnum: equal to their names)
        self.paused_s: dict[str, float] = {}
        super().__init__()

    def spend(self, state: str, ts: datetime) -> None:
        """The agent was in ``state`` from the mark until ``ts`` (nothing when ``ts`` is not after the mark)."""
        if ts > self.mark:
            self.state_s[state] = self.state_s.get(state, 0.0) + (ts - self.mark).total_seconds()
            self.mark = ts

    def pause(self, reason: str, seconds: float) -> None:
        """``seconds`` more of a pause episode with ``reason``."""
        self.paused_s[reason] = self.paused_s.get(reason, 0.0) + seconds

    def add(self, other: AgentInterval) -> None:
        """Add another identity's figures (two names found to be one agent)."""
        for mine, theirs in ((self.state_s, other.state_s), (self.paused_s, other.paused_s)):
            for key, seconds in theirs.items():
                mine[key] = mine.get(key, 0.0) + seconds
        self.add_handled(other)

    @property
    def active(self) -> bool:
        """Anything to report: logged in, paused or a call at some point of the interval."""
        logged_in = any(seconds > 0 for state, seconds in self.state_s.items() if state != "logged_out")
        return logged_in or bool(self.paused_s) or self.answered > 0 or self.handled > 0


def agent_row(
    head: Mapping[str, Any], interval: AgentInterval, pauses: Mapping[str, int], minutes: int
) -> dict[str, Any]:
    """One agent's row; ``head`` holds site, agent, name, team, start and end (ISO), ``pauses`` the episodes."""
    state_s = interval.state_s
    times = {f"state_{state}_s": state_s.get(state, 0.0) for state in STATE_COLUMNS}
    handling = times["state_on_call_s"] + times["state_wrap_up_s"]
    return {
        **{key: head[key] for key in AGENT_COLUMNS[:6]},
        "minutes": minutes,
        "answered": interval.answered,
        "handled": interval.handled,
        "missed_rings": interval.missed_rings,
        "transfers": interval.transfers,
        "escalations": interval.escalations,
        "talk_s": interval.talk_s,
        "hold_s": interval.hold_s,
        "wrap_s": interval.wrap_s,
        "aht_s": aht(interval.talk_s, interval.hold_s, interval.wrap_s, interval.handled - interval.handle_unknown),
        "logged_in_s": sum(seconds for state, seconds in state_s.items() if state != "logged_out"),
        **times,
        "paused_s": sum(interval.paused_s.values()),
        "paused_by_reason": dict(sorted(interval.paused_s.items())),
        "pauses": dict(sorted(pauses.items())),
        "occupancy_pct": occupancy(handling, times["state_available_s"]),
    }


def row_ids(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Stream ids for rows in drain order: ``<start ms>-<n>``, n counting the rows of the same start from 0."""
    ids: list[str] = []
    last_ms, n = -1, 0
    for row in rows:
        ms = int(datetime.fromisoformat(row["start"]).timestamp() * 1000)
        n = n + 1 if ms == last_ms else 0
        last_ms = ms
        ids.append(f"{ms}-{n}")
    return ids


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def written(ids: Sequence[str], last: str | None) -> int:
    """How many leading ids belong to intervals the stream already has: starting at or before ``last``'s.

    An interval's rows are written together (one MULTI), so an interval the stream has is complete.
    """
    if last is None:
        return 0
    bound = _id_key(last)[0]
    skipped = 0
    for entry_id in ids:
        if _id_key(entry_id)[0] > bound:
            break
        skipped += 1
    return skipped


def stream_id_after(entry_id: str) -> str:
    """The smallest stream id greater than ``entry_id`` (where a next page starts)."""
    ms, seq = _id_key(entry_id)
    return f"{ms}-{seq + 1}"


def _cell(value: Any) -> str | int | float:
    """A CSV cell: empty for None, JSON for a mapping, the value itself otherwise."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"), sort_keys=True)
    if isinstance(value, int | float | str):
        return value
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV with the header ``columns`` (fixed order; missing fields empty, extra fields left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


# -- export windows: [from, to) in UTC from ISO dates or times in the site's time zone


class WindowError(WallboardError, ValueError):
    """A ``from``/``to`` that cannot be read, or a window that is empty or too long."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _bound(text: str, tz: ZoneInfo, field: str, *, end: bool) -> datetime:
    """An ISO time (naive: site-local) or a date (site-local midnight; the next one for an ``end``)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), tz).astimezone(UTC)
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a time before year 1 or after 9999 once in UTC
        raise WindowError(field, f"read {text[:40]!r}, expected an ISO date or time") from None


def window(start: str | None, end: str | None, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The [from, to) of a request in UTC; default from = yesterday's site-local midnight, to = now."""
    if start is None:
        yesterday = now.astimezone(tz).date() - timedelta(days=1)
        low = datetime.combine(yesterday, time(), tz).astimezone(UTC)
    else:
        low = _bound(start, tz, "from", end=False)
    high = now if end is None else _bound(end, tz, "to", end=True)
    if high <= low:
        raise WindowError("to", f"{high.isoformat()} is not after from {low.isoformat()}")
    if high - low > timedelta(days=MAX_RANGE_DAYS):
        raise WindowError("to", f"the window is longer than {MAX_RANGE_DAYS} days")
    return low, high
