"""The call log: one record per finished queue call, its row shape, caller masking and CSV. Pure.

Theory of operation
-------------------
The engine (``wallboard.core.engine``) decides when a call is *finished* and hands it to its
:class:`CallLog`, which keeps a compact :class:`CallRecord` until the runner drains it
(``State.drain_call_records``): rows are built only then, so the per-call cost in a replay is one small
object. A call is finished, and gets exactly one record, when

* it leaves a queue unanswered: abandoned (``short_abandon`` when its wait is at most the site's
  ``short_abandon_s``), exited (``timed_out``, ``exited_key``, ``exited_empty``, ``exited_full``,
  ``exited_withdraw``, ``unknown``), or closed as ``unknown`` (uncertain at a day rollover, ``finish()``, a
  source restart);
* an answered call ends (``answered``): its CallEnded, a source restart (ended_by ``unknown``), or a
  snapshot telling that its member is no longer in a call after a reconnect (its end was lost: ``ended``
  and ``talk_s`` stay empty). An answered call still talking has no record yet.

So each record counts exactly where the queue windows count the call's outcome: the unanswered outcomes
at ``ended`` (when the call left the queue), ``answered`` at its answer time. ``finished`` is the time the
record was made (the outcome's or the end's event time) and orders the log (the runner's stream ids).

While a call is open the log keeps what the ``Call`` itself does not: ring attempts and the agents that
did not answer them (``AgentRang``), the wait told at the answer, the transfer target
(``CallTransferred``); that memory is bounded (``OPEN_MEMORY`` calls), the records waiting to be drained
too (``RECORDS_MEMORY``: the oldest are dropped first). The transfer kind is read from the target:
``attended`` when it names a bridge or channel (``|`` or ``/``), else ``blind`` (an extension). ``escalation``
says the target is one of the site's escalation targets, ``repeat_caller`` that the caller had called within
the repeat window (``wallboard.core.targets``).

Caller numbers are personal data: :func:`masked` keeps the last 4 characters of a number only (the
API shows full numbers to supervisor, ops and admin only, ``FULL_CALLER_ROLES``).
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from wallboard.core.queues import Call
    from wallboard.core.site import SiteConfig

__all__ = [
    "CALL_COLUMNS",
    "FULL_CALLER_ROLES",
    "OPEN_MEMORY",
    "OUTCOMES",
    "RECORDS_MEMORY",
    "CallLog",
    "NoCallLog",
    "CallRecord",
    "calls_csv",
    "day_bounds",
    "exit_outcome",
    "finished_ms",
    "masked",
    "transfer_kind",
]

OPEN_MEMORY = 50_000  # open calls whose rings, wait and transfer are remembered
RECORDS_MEMORY = 100_000  # records waiting to be drained
MASK = "\u2022"
FULL_CALLER_ROLES = frozenset({"supervisor", "ops", "admin"})
OUTCOMES = (
    "answered",
    "abandoned",
    "short_abandon",
    "timed_out",
    "exited_key",
    "exited_empty",
    "exited_full",
    "exited_withdraw",
    "unknown",
)
_EXIT_OUTCOME = {
    "timeout": "timed_out",
    "key": "exited_key",
    "empty": "exited_empty",
    "full": "exited_full",
    "withdraw": "exited_withdraw",
}
_ENDED_BY = {
    "abandoned": "caller",
    "short_abandon": "caller",
    "exited_key": "caller",
    "exited_withdraw": "caller",
    "timed_out": "system",
    "exited_empty": "system",
    "exited_full": "system",
}
CALL_COLUMNS = (
    "site",
    "call_id",
    "queue",
    "channel",
    "caller",
    "caller_name",
    "entered",
    "answered",
    "ended",
    "entered_local",
    "answered_local",
    "ended_local",
    "wait_s",
    "ring_attempts",
    "missed_by",
    "agent",
    "team",
    "talk_s",
    "hold_s",
    "wrap_s",
    "outcome",
    "ended_by",
    "transfer_target",
    "transfer_kind",
    "escalation",
    "repeat_caller",
    "finished",
)

CallKey = tuple[str, str]


def exit_outcome(reason: str) -> str:
    """The outcome of a CallExited reason (``unknown`` for ``unknown`` and anything unexpected)."""
    return _EXIT_OUTCOME.get(reason, "unknown")


def transfer_kind(target: str | None) -> str | None:
    """``attended`` for a bridge or channel target, ``blind`` for an extension, None without a transfer."""
    if not target:
        return None
    return "attended" if "|" in target or "/" in target else "blind"


def masked(number: str) -> str:
    """A caller number with all but its last 4 characters replaced (``•••••0142``); empty stays empty."""
    if len(number) <= 4:
        return MASK * len(number)
    return MASK * (len(number) - 4) + number[-4:]


class _Open:
    """What the log remembers of a call still open: ring attempts, who missed it, wait, transfer target."""

    __slots__ = ("attempts", "missed", "wait", "target", "escalated")

    def __init__(self) -> None:
        self.attempts = 0
        self.missed: list[str] = []
        self.wait: float | None = None
        self.target: str | None = None
        self.escalated = False


class CallRecord(NamedTuple):
    """One finished call, compact until drained: a tuple of atoms, which the garbage collector stops tracking."""

    n: int  # the log's record number, from 1: the runner writes each number once
    call_id: str
    queue: str
    outcome: str
    finished: datetime
    caller: str
    caller_name: str
    entered: datetime | None
    answered: datetime | None
    ended: datetime | None
    wait: float | None
    attempts: int
    missed: tuple[str, ...]
    agent: str
    talk: float | None
    hold: float | None
    wrap: float | None
    ended_by: str
    target: str | None
    escalated: bool
    repeat: bool

    def row(self, site: SiteConfig, tz: ZoneInfo) -> dict[str, Any]:
        """The record as a JSON-ready row (times in UTC ISO and site-local ISO without offset)."""
        config = site.agents.get(self.agent) if self.agent else None
        return {
            "site": site.site,
            "call_id": self.call_id,
            "queue": self.queue,
            "channel": "voice",
            "caller": self.caller,
            "caller_name": self.caller_name,
            "entered": _utc(self.entered),
            "answered": _utc(self.answered),
            "ended": _utc(self.ended),
            "entered_local": _local(self.entered, tz),
            "answered_local": _local(self.answered, tz),
            "ended_local": _local(self.ended, tz),
            "wait_s": self.wait,
            "ring_attempts": self.attempts,
            "missed_by": list(self.missed),
            "agent": self.agent or None,
            "team": config.team if config else None,
            "talk_s": self.talk,
            "hold_s": self.hold,
            "wrap_s": self.wrap,
            "outcome": self.outcome,
            "ended_by": self.ended_by,
            "transfer_target": self.target,
            "transfer_kind": transfer_kind(self.target),
            "escalation": self.escalated,
            "repeat_caller": self.repeat,
            "finished": _utc(self.finished),
        }


def _utc(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).isoformat()


def _local(ts: datetime | None, tz: ZoneInfo) -> str | None:
    return None if ts is None else ts.astimezone(tz).replace(tzinfo=None).isoformat()


class CallLog:
    """The engine's call log: open calls' extras and the finished records waiting to be drained."""

    __slots__ = ("open", "records", "dropped", "made")

    def __init__(self) -> None:
        self.made = 0  # records made so far (the last record's number)
        self.open: dict[CallKey, _Open] = {}
        self.records: deque[CallRecord] = deque(maxlen=RECORDS_MEMORY)
        self.dropped = 0  # records pushed out of a full buffer before a drain

    def _extras(self, key: CallKey) -> _Open:
        extras = self.open.get(key)
        if extras is None:
            if len(self.open) >= OPEN_MEMORY:
                del self.open[next(iter(self.open))]
            extras = self.open[key] = _Open()
        return extras

    def rang(self, key: CallKey, agent: str, answered: bool) -> None:
        """A ring attempt of the call; ``agent`` missed it unless ``answered``."""
        extras = self._extras(key)
        extras.attempts += 1
        if not answered and agent not in extras.missed:
            extras.missed.append(agent)

    def answered(self, key: CallKey, wait: float | None) -> None:
        """The call was answered after ``wait`` seconds (None: unknown)."""
        self._extras(key).wait = wait

    def transferred(self, key: CallKey, target: str, escalation: bool = False) -> None:
        """The agent transferred the call to ``target`` (an escalation target when ``escalation``)."""
        extras = self._extras(key)
        extras.target = target or None
        extras.escalated = extras.escalated or escalation

    def unanswered(self, key: CallKey, call: Call | None, outcome: str, ts: datetime, wait: float | None) -> None:
        """A call left its queue unanswered at ``ts`` (``call`` None: never seen queued)."""
        extras = self.open.pop(key, None)
        attempts, missed, target = (extras.attempts, tuple(extras.missed), extras.target) if extras else (0, (), None)
        caller, name, entered = (call.caller, call.caller_name, call.enter) if call is not None else ("", "", None)
        ended_by = _ENDED_BY.get(outcome, "unknown")
        self._keep(
            key,
            outcome,
            ts,
            (caller, name, entered, None, ts, wait, attempts, missed, ""),
            (None,) * 3,
            ended_by,
            (target, False, call is not None and call.repeat),
        )

    def ended(
        self,
        key: CallKey,
        call: Call,
        ts: datetime,
        ended: bool,
        times: tuple[float | None, float | None, float | None],
        ended_by: str,
    ) -> None:
        """An answered call finished at ``ts``: ended there (``ended``) or its end lost; talk, hold and wrap-up."""
        extras = self.open.pop(key, None)
        attempts, missed, target = (extras.attempts, tuple(extras.missed), extras.target) if extras else (0, (), None)
        wait = extras.wait if extras else None
        answered, enter = call.answered_at, call.enter
        if wait is None and enter is not None and answered is not None:
            wait = max(0.0, (answered - enter).total_seconds())
        head = (
            call.caller,
            call.caller_name,
            enter,
            answered,
            ts if ended else None,
            wait,
            attempts,
            missed,
            call.agent,
        )
        escalated = extras.escalated if extras else False
        self._keep(key, "answered", ts, head, times, ended_by, (target, escalated or call.escalated, call.repeat))

    def _keep(
        self,
        key: CallKey,
        outcome: str,
        ts: datetime,
        head: tuple[Any, ...],
        times: tuple[float | None, float | None, float | None],
        ended_by: str,
        tail: tuple[str | None, bool, bool],
    ) -> None:
        """Keep a record; ``tail`` = (transfer target, escalated, repeat caller)."""
        self.made += 1
        records = self.records
        if len(records) == RECORDS_MEMORY:
            self.dropped += 1
        records.append(CallRecord._make((self.made, key[1], key[0], outcome, ts, *head, *times, ended_by, *tail)))

    def drain(self, site: SiteConfig) -> list[tuple[int, dict[str, Any]]]:
        """(number, row) of the finished records, in the order they finished, returned once."""
        tz = site.tz
        rows = [(record.n, record.row(site, tz)) for record in self.records]
        self.records.clear()
        return rows


class NoCallLog(CallLog):
    """A call log that keeps nothing: for a State whose caller never drains records (a replay: ``history=False``)."""

    __slots__ = ()

    def rang(self, key: CallKey, agent: str, answered: bool) -> None:
        return None

    def answered(self, key: CallKey, wait: float | None) -> None:
        return None

    def transferred(self, key: CallKey, target: str, escalation: bool = False) -> None:
        return None

    def unanswered(self, key: CallKey, call: Call | None, outcome: str, ts: datetime, wait: float | None) -> None:
        return None

    def ended(self, *args: Any, **kwargs: Any) -> None:
        return None


def finished_ms(row: Mapping[str, Any]) -> int:
    """A row's ``finished`` time in epoch ms (its stream id's time)."""
    return int(datetime.fromisoformat(row["finished"]).timestamp() * 1000)


def day_bounds(day: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the site-local day of ``day``."""
    local = day.astimezone(tz).date()
    start = datetime(local.year, local.month, local.day, tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    if isinstance(value, int | float | str):
        return value
    return str(value)


def calls_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV with the header ``CALL_COLUMNS`` (``missed_by`` space-separated)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CALL_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CALL_COLUMNS])
    return out.getvalue()
