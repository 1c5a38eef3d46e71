"""One scheduled agent's track: its pieces of constant scheduled activity, its agent days, its mismatches.

The machinery under ``AdherenceBook`` (``wallboard.core.adherence.tracker``, whose docstring has the theory of
operation and the definitions): ``_Track`` moves one agent's cursor across slot boundaries, day changes and
transitions, keeping the closed sums of its agent day and its open mismatch (``_Episode``); ``_agent_entry`` and
``_group_entry`` make the snapshot entries from those sums. Apart from the book so that the book reads as what it
does per tick (observe, figures, a new schedule) and this module as what a tick means for one agent.

Every class here is pickled in checkpoints (the book is part of the site book's): their ``__module__`` stays
``wallboard.core.adherence.tracker`` (``PICKLED_MODULE``), which re-exports them, so a checkpoint names them as it
always has, before and after this split.
"""

from __future__ import annotations

import bisect
import struct
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from wallboard.core import schema
from wallboard.core.adherence.policy import is_unmapped
from wallboard.core.adherence.schedule import Slot
from wallboard.core.schema import AgentAdherence, ExceptionKind, NextSlot, TeamAdherence

if TYPE_CHECKING:
    from wallboard.core.adherence.tracker import AdherenceBook

# where checkpoints look the pickled classes up; interned, as pickle memoizes the name by identity (``tracker``, once
# imported, points the classes at its own ``__name__`` object, the one ``AdherenceBook`` names: same bytes as before)
PICKLED_MODULE = sys.intern("wallboard.core.adherence.tracker")

OFFLINE = "offline"
_INF = float("inf")
_ABSENT = ("logged_out", None)
_MOVE = struct.Struct("<dI")  # one move of an agent's history: when, the code of the activity (AdherenceBook.code)
# the float fields of a track and of an episode (unpickled, equal ones share one object again)
_TRACK_FLOATS = tuple(
    "cursor day_end piece_end next_break late_start sched_s work_s logged_s match_s in_s out_s late_s".split()
)
_EPISODE_FLOATS = ("start", "end", "grace")

Status = schema.AdherenceStatus  # "in" | "grace" | "out" | "unscheduled"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


class _Days:
    """Site-local dates and midnights as epoch seconds (cached per date)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._starts: dict[date, float] = {}
        self._dates: dict[date, date] = {}

    def date_of(self, t: float) -> date:
        day = datetime.fromtimestamp(t, self.tz).date()
        return self._dates.setdefault(day, day)  # one object per date (agent days share it)

    def start(self, day: date) -> float:
        start = self._starts.get(day)
        if start is None:
            start = self._starts[day] = datetime.combine(day, time(), tzinfo=self.tz).timestamp()
        return start

    def midnight_after(self, t: float) -> float:
        return self.start(self.date_of(t) + timedelta(days=1))


_Plan = tuple[Slot, ...]  # one agent's slots in time order: the schedule's own tuple, shared (never copied)


def _slot_start(slot: Slot) -> float:
    return slot.start.timestamp()


def _piece(plan: _Plan, t: float) -> tuple[int, str | None, float]:
    """(index of the slot holding ``t``, -1 outside any slot; its activity or None; when that piece ends)."""
    k = bisect.bisect_right(plan, t, key=_slot_start) - 1
    if k >= 0:
        slot = plan[k]
        end = slot.end.timestamp()
        if t < end:
            return k, slot.activity, end
    if k + 1 < len(plan):
        return -1, None, plan[k + 1].start.timestamp()
    return -1, None, _INF


def _starts_block(plan: _Plan, k: int) -> bool:
    """Slot ``k`` (a working one) starts a work block: no working slot ends where it starts."""
    if k == 0:
        return True
    before = plan[k - 1]
    return before.end != plan[k].start or before.activity == OFFLINE


def _spans(plan: _Plan) -> list[tuple[float, float, date]]:
    """(first slot start, last slot end, day) of each day of the plan, by start."""
    spans: dict[date, tuple[float, float]] = {}
    for slot in plan:
        start, end = slot.start.timestamp(), slot.end.timestamp()
        first, last = spans.get(slot.day, (start, end))
        spans[slot.day] = (min(first, start), max(last, end))
    return sorted((first, last, day) for day, (first, last) in spans.items())


def _agent_day(plan: _Plan, t: float, days: _Days) -> tuple[date, float]:
    """(agent day at ``t``, when it may change next): see the module docstring."""
    following = _INF
    for start, end, day in _spans(plan):
        if start <= t < end:
            return day, end
        if start > t:
            following = start
            break
    return days.date_of(t), min(following, days.midnight_after(t))


class _Nexts:
    """The ``next`` entries ({"activity", "start"} of a slot), one dict per distinct slot start, shared and never
    mutated: agents whose shifts start together show the same object."""

    LIMIT = 65536

    def __init__(self) -> None:
        self._known: dict[tuple[str, datetime], NextSlot] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"_known": {}}  # pickled empty: it fills again

    def after(self, plan: _Plan, t: float) -> NextSlot | None:
        """The first slot of ``plan`` starting after ``t``."""
        k = bisect.bisect_right(plan, t, key=_slot_start)
        if k >= len(plan):
            return None
        slot = plan[k]
        key = (slot.activity, slot.start)
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= self.LIMIT:
                self._known = {}
            found = self._known[key] = {"activity": slot.activity, "start": _iso(slot.start.timestamp())}
        return found


class _Episode:
    """One mismatch: from ``start`` until ``end`` (None while open); an exception once longer than ``grace``."""

    __slots__ = ("actual", "agent", "day", "end", "grace", "kind", "scheduled", "stale", "start", "start_iso")

    def __init__(
        self, track: _Track, start: float, grace: float, kind: ExceptionKind, scheduled: str, start_iso: str
    ) -> None:
        self.agent, self.day, self.start, self.grace, self.kind = track.agent, track.day, start, grace, kind
        self.scheduled, self.actual = scheduled, track.act
        self.end: float | None = None
        self.stale = False  # closed within its grace: never listed again (nor once its agent ``day`` is gone)
        self.start_iso = start_iso  # read every tick while open; "" once closed (made again when listed)

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _Episode.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(_Episode.__slots__, state, strict=True):
            setattr(self, name, value)

    def started(self) -> str:
        return self.start_iso or _iso(self.start)


class _Track:
    """One scheduled agent: its actual activity, cursor, the closed sums of its agent day, the open mismatch."""

    __slots__ = tuple(
        "act agent block_logged cached cursor day day_end entry episode history in_s key late_s "
        "late_start logged logged_s match_s next next_break out_s piece piece_end plan sched sched_s "
        "scheduled_today team work_s".split()
    )

    def __init__(self, agent: str, plan: _Plan, start: float, act: str, book: AdherenceBook) -> None:
        self.agent, self.plan, self.team = agent, plan, book.team_of(agent)
        self.key: tuple[str, str | None] = _ABSENT
        self.act, self.logged, self.cursor = act, act != OFFLINE, start
        # the activity history of the agent day, for a new schedule's replay: (time, activity code) packed
        self.history = _MOVE.pack(start, book.code(act))
        self.cached: tuple[AgentAdherence, tuple[float, ...]] | None = None  # entry while it cannot change
        self.entry: AgentAdherence | None = None  # the snapshot entry, updated in place (no garbage per tick)
        self.episode: _Episode | None = None
        self.late_start: float | None = None
        self.block_logged = self.logged
        self.day, self.day_end = _agent_day(plan, start, book.days)
        self.piece, self.sched, self.piece_end = _piece(plan, start)
        self.next_break = min(self.piece_end, self.day_end)
        self.next = book.nexts.after(plan, start)
        self._reset_sums()

    def __getstate__(self) -> tuple[Any, ...]:
        """Pickled without the snapshot entry (made again by the next ``figures``)."""
        return tuple(None if name in ("cached", "entry") else getattr(self, name) for name in _TRACK_FIELDS)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(_TRACK_FIELDS, state, strict=True):
            setattr(self, name, value)

    def _reset_sums(self) -> None:
        self.sched_s = self.work_s = self.logged_s = self.match_s = self.in_s = self.out_s = self.late_s = 0.0
        self.scheduled_today = any(slot.day == self.day for slot in self.plan)

    def begin(self, book: AdherenceBook) -> None:
        """Settle the first moment (a block starting exactly then starts late when logged out)."""
        self._enter(self.cursor, book, boundary=True)

    # -- moving the cursor -----------------------------------------------------------------------

    def advance(self, to: float, book: AdherenceBook) -> None:
        """Close the pieces up to ``to`` with the current activity."""
        while self.next_break <= to:
            end = self.next_break
            self._add(end)
            self._cross(end, book)
        if to > self.cursor:
            self._add(to)

    def _add(self, end: float) -> None:
        """Add [cursor, end) to the sums (one piece, one activity)."""
        span = end - self.cursor
        if span <= 0:
            return
        self.cached = None
        if self.logged:
            self.logged_s += span
        sched = self.sched
        if sched is not None:
            self.sched_s += span
            if sched != OFFLINE:
                self.work_s += span
            if sched == self.act:
                self.match_s += span
        self.cursor = end

    def _cross(self, t: float, book: AdherenceBook) -> None:
        """At a boundary: the next piece, maybe the next agent day, then what that means at ``t``."""
        self.cursor, self.cached = t, None
        if t >= self.piece_end:
            self.piece, self.sched, self.piece_end = _piece(self.plan, t)
        if t >= self.day_end:
            self._roll(t, book)
        self.next_break = min(self.piece_end, self.day_end)
        self.next = book.nexts.after(self.plan, t)
        self._enter(t, book, boundary=True)

    def _roll(self, t: float, book: AdherenceBook) -> None:
        """The agent day may change at ``t``: if it does, close what is open, forget the day's sums and exceptions."""
        day, self.day_end = _agent_day(self.plan, t, book.days)
        if day == self.day:
            return
        self._close_episode(t)
        self._stop_late(t)
        self.day = day
        self.history = _MOVE.pack(t, book.code(self.act))
        self._reset_sums()

    def transition(self, t: float, act: str, book: AdherenceBook) -> None:
        """The actual activity becomes ``act`` at ``t`` (not before the cursor)."""
        self.advance(t, book)
        self.act, self.logged, self.cached = act, act != OFFLINE, None
        self.history += _MOVE.pack(self.cursor, book.code(act))
        self._enter(self.cursor, book, boundary=False)

    # -- what a moment means ---------------------------------------------------------------------

    def _enter(self, t: float, book: AdherenceBook, *, boundary: bool) -> None:
        """Settle lateness, block and mismatch after the piece, the day or the activity changed at ``t``."""
        sched, plan, k = self.sched, self.plan, self.piece
        working = sched is not None and sched != OFFLINE
        if boundary and working and t == plan[k].start.timestamp() and _starts_block(plan, k):
            self._stop_late(t)
            self.block_logged = self.logged
            if not self.logged:
                self.late_start = t
        if not working or self.logged:
            self._stop_late(t)
        if self.logged:
            self.block_logged = True
        matches = sched is None or sched == self.act
        if matches:
            self._close_episode(t)
        elif self.episode is None:
            assert sched is not None
            self._open_episode(t, sched, book)

    def _stop_late(self, t: float) -> None:
        if self.late_start is not None:
            self.late_s += t - self.late_start
            self.late_start = None

    def _open_episode(self, t: float, sched: str, book: AdherenceBook) -> None:
        act = self.act
        kind: ExceptionKind
        if is_unmapped(act):
            kind = "unmapped_reason"
        elif act == OFFLINE and sched != OFFLINE:
            kind = "early_logout" if self.block_logged else "late_login"
        else:
            kind = "wrong_activity"
        episode = _Episode(self, t, book.policy.grace_for(sched), kind, sched, book.iso(t))
        self.episode = episode
        book.listed.append(episode)

    def _close_episode(self, t: float) -> None:
        episode = self.episode
        if episode is None:
            return
        length = t - episode.start
        if length > episode.grace:
            self.out_s += length
            episode.end = t
        else:
            self.in_s += length
            episode.stale = True
        episode.start_iso = ""
        self.episode = None


_TRACK_FIELDS = _Track.__slots__

# set after the classes are built, as ``wallboard.core.threshold_metrics`` does for its enums
_Days.__module__ = _Nexts.__module__ = _Episode.__module__ = _Track.__module__ = PICKLED_MODULE


def _agent_entry(track: _Track, t: float, sums: list[float]) -> AgentAdherence:
    """One agent's snapshot entry at ``t`` (the open piece added on the fly); adds its seconds to ``sums``."""
    span = t - track.cursor if t > track.cursor else 0.0
    sched, act = track.sched, track.act
    in_s, out_s, sched_s, work_s = track.match_s + track.in_s, track.out_s, track.sched_s, track.work_s
    logged_s = track.logged_s + span if track.logged else track.logged_s
    if sched is not None:
        sched_s += span
        if sched != OFFLINE:
            work_s += span
            sums[5] += 1.0
        if sched == act:
            in_s += span
    late_s = track.late_s if track.late_start is None else track.late_s + t - track.late_start
    episode = track.episode
    status: Status = "in" if sched is not None else "unscheduled"
    out_since: str | None = None
    out_for: float | None = None
    kind: ExceptionKind | None = None
    if episode is not None:
        out_for = t - episode.start
        out_since = episode.start_iso
        if out_for > episode.grace:
            out_s += out_for
            status, kind = "out", episode.kind
            sums[6] += 1.0
        else:
            in_s += out_for
            status = "grace"
    sums[0] += in_s
    sums[1] += sched_s
    sums[2] += logged_s
    sums[3] += work_s
    sums[4] += late_s
    entry = track.entry
    if entry is None:
        entry = track.entry = cast(AgentAdherence, {})  # filled below
    entry["scheduled"] = sched
    entry["actual"] = act
    entry["status"] = status
    entry["out_since"] = out_since
    entry["out_for_s"] = out_for
    entry["exception"] = kind
    entry["adherence_pct"] = in_s * 100.0 / sched_s if sched_s > 0 else None
    entry["conformance_pct"] = logged_s * 100.0 / work_s if work_s > 0 else None
    entry["scheduled_work_s"] = work_s
    entry["minutes_late"] = late_s / 60.0
    entry["next"] = track.next
    if sched is None and episode is None and track.late_start is None and not track.logged:
        track.cached = (entry, (in_s, sched_s, logged_s, work_s, late_s, 0.0, 0.0))  # nothing grows
    return entry


def _group_entry(sums: list[float]) -> TeamAdherence:
    """Team or site figures from the sums: in, scheduled, logged in, working, late, scheduled_now, out_now."""
    in_s, sched_s, logged_s, work_s, late_s, scheduled_now, out_now = sums
    return {
        "adherence_pct": in_s * 100.0 / sched_s if sched_s > 0 else None,
        "conformance_pct": logged_s * 100.0 / work_s if work_s > 0 else None,
        "scheduled_now": int(scheduled_now),
        "out_now": int(out_now),
        "minutes_late": late_s / 60.0,
    }
