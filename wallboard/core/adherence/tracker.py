"""Real-time adherence and the day's figures per agent, team and site. Pure: time is always an argument.

Theory of operation
-------------------
An ``AdherenceBook`` holds the schedule in force and one *track* per scheduled agent. Every tick the
runner hands it the snapshot's ``agents`` (``observe(agents, now)``) and asks for the figures
(``figures(now)``). A change of an agent's (``state``, ``reason``) is a transition at the agent's
``since``; the policy (``wallboard.core.adherence.policy``) turns it into the *actual activity*
(``work``, ``break``, ``offline``, ``unmapped:<reason>``...). A scheduled agent absent from the
snapshot is ``offline``. The book knows nothing before an agent's first observation: tracking starts
at its ``since`` then (at the first ``now`` for an absent agent), and scheduled time before that
counts nowhere.

Each agent's timeline is cut at its slot boundaries and day changes into *pieces* of constant
scheduled activity (or none: unscheduled). A track keeps the sums of the pieces it has closed and a
cursor; per tick only the open piece (cursor to now) is added on the fly, and a track moves its cursor
only when a transition arrives or ``now`` passes its next boundary. So a tick costs a few attribute
reads per agent, whatever the length of the day.

Memory (10,000 agents: the book is checkpointed and lives in the engine beside the State). A track's
plan is the schedule's own tuple of slots, read where a piece or day begins (no copy of the schedule);
its activity history is one ``bytes`` of (time, activity code) pairs; strings that repeat (activities,
``next`` entries, episode start times, (state, reason) keys) are one object each; an episode closed
within its grace, or of a day gone, is dropped from ``listed`` at the next compaction. Pickled, the book
leaves out its caches and the snapshot entries, and unpickling shares equal floats again.

Definitions (per agent and per *agent day*)
-------------------------------------------
* Agent day. The ``day`` of a slot is its schedule row's site-local date, even for a night shift that
  crosses midnight. An agent's day at time t is the day whose *shift span* (first slot start to last
  slot end of that day) contains t, else the site-local date of t. So a night shift's figures run
  to the end of the shift, and the next day's start after it. Figures are None on a day with no slot.
* Scheduled seconds: time inside a slot of the day (every activity, ``offline`` slots included);
  time outside any slot is unscheduled and counts nowhere. Scheduled *working* seconds: inside a
  non-``offline`` slot.
* In adherence: actual activity == scheduled activity. A *mismatch* is a maximal stretch of scheduled
  time where they differ (either may change within it; it ends at a match or at unscheduled time).
  Its grace is ``policy.grace_for`` of the scheduled activity at its start. A mismatch that lasts
  at most its grace counts as in adherence (status ``grace`` while it lasts); once it lasts longer,
  the *whole* mismatch from its start counts as out (status ``out``) and it is an exception.
* adherence % = seconds in adherence / scheduled seconds so far * 100 (in + out = scheduled).
* conformance % = logged-in seconds of the agent day (any non-``offline`` actual activity, scheduled
  or not) / scheduled working seconds so far * 100; it can exceed 100.
* Work block: a run of contiguous non-``offline`` slots (one shift, or one part of a split shift).
  minutes late = for each block that started while the agent was logged out: from the block start to
  the login (to the block end, or to now, if there is none yet); whatever the grace.
* Exception kinds, decided when the mismatch starts: ``unmapped_reason`` when the actual activity is
  unmapped; else, actual ``offline`` against a scheduled working activity: ``late_login`` when the
  agent has not been logged in since the start of the block, ``early_logout`` when it has; else
  ``wrong_activity`` (a late return from a break, a break taken during work, work during an
  ``offline`` slot...).
* Team and site figures sum the agents' seconds (agents without figures today are left out);
  ``scheduled_now`` counts agents scheduled to a working activity now, ``out_now`` agents whose
  status is ``out``; ``minutes_late`` is the sum.
* ``unmapped``: transitions of scheduled agents into an unmapped activity, per reason, since the
  site-local midnight.

A new schedule (``set_schedule``) replays each agent's activity history of its current day
against it, so the figures are always those of the schedule in force.
"""

from __future__ import annotations

import bisect
import logging
import struct
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict, cast
from zoneinfo import ZoneInfo

from wallboard.core import schema
from wallboard.core.adherence.policy import AdherencePolicy, is_unmapped
from wallboard.core.adherence.schedule import Schedule, Slot
from wallboard.core.schema import AdherenceException, AgentAdherence, ExceptionKind, NextSlot, TeamAdherence
from wallboard.core.site import SiteConfig
from wallboard.core.targets import progress

__all__ = ["EXCEPTIONS_SHOWN", "OFFLINE", "AdherenceBook", "AdherenceFigures", "Status", "merge_figures"]

log = logging.getLogger(__name__)

OFFLINE = "offline"
EXCEPTIONS_SHOWN = 200
MAX_LOOKBACK_S = 2 * 86400.0  # an agent's first ``since`` is not followed further back than this
_INF = float("inf")
_ABSENT = ("logged_out", None)
_MOVE = struct.Struct("<dI")  # one move of an agent's history: when, the code of the activity (AdherenceBook.code)
# the float fields of a track and of an episode (unpickled, equal ones share one object again)
_TRACK_FLOATS = tuple(
    "cursor day_end piece_end next_break late_start sched_s work_s logged_s match_s in_s out_s late_s".split()
)
_EPISODE_FLOATS = ("start", "end", "grace")

Status = schema.AdherenceStatus  # "in" | "grace" | "out" | "unscheduled"


class AdherenceFigures(TypedDict):
    """``AdherenceBook.figures``: each scheduled agent's and team's entry, and the snapshot's ``adherence``."""

    agents: dict[str, AgentAdherence | None]
    teams: dict[str, TeamAdherence]
    site: TeamAdherence
    schedule_version: int
    exceptions: list[AdherenceException]
    unmapped: dict[str, int]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _epoch(value: Any, default: float) -> float:
    """Epoch seconds of an ISO 8601 ``since`` (``default`` when absent or unreadable)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return default
    if isinstance(value, datetime):
        return value.timestamp()
    return default


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


class AdherenceBook:
    """The schedule in force and every scheduled agent's adherence (see the module docstring)."""

    def __init__(self, site: SiteConfig, schedule: Schedule | None = None, version: int = 0) -> None:
        self.site = site
        self.policy: AdherencePolicy = site.adherence
        self.days = _Days(site.tz)
        self.schedule: Schedule | None = None
        self.version = version
        self.listed: list[_Episode] = []  # every episode of the agents' current days, in opening order
        self.nexts = _Nexts()
        self._tracks: dict[str, _Track] = {}
        self._keys: dict[tuple[str, str | None], tuple[str, str | None]] = {}  # (state, reason) keys, shared
        self._isos: dict[float, str] = {}
        self._activities: list[str] = []  # the activities of the histories, by code
        self._codes: dict[str, int] = {}
        self._now: float | None = None
        self._unmapped: dict[str, int] = {}
        self._site_day_end = -_INF
        self._compact_at = 4096
        self.set_schedule(schedule, version)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the caches of shared strings and keys (they fill again)."""
        return {**self.__dict__, "_isos": {}, "_keys": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled floats are one object each: equal ones (instants, boundaries, zero sums, graces) share one."""
        self.__dict__.update(state)
        shared: dict[float, float] = {}
        for objects, names in ((self._tracks.values(), _TRACK_FLOATS), (self.listed, _EPISODE_FLOATS)):
            for obj in objects:
                for name in names:
                    value = getattr(obj, name)
                    if value is not None:
                        setattr(obj, name, shared.setdefault(value, value))

    def __len__(self) -> int:
        return len(self.schedule.agents()) if self.schedule is not None else 0

    def team_of(self, agent: str) -> str | None:
        config = self.site.agents.get(agent)
        return config.team if config is not None else None

    def _plans(self) -> Iterator[tuple[str, _Plan]]:
        """Each scheduled agent and its slots (the schedule's own tuples: nothing is copied)."""
        schedule = self.schedule
        if schedule is not None:
            for agent in schedule.agents():
                yield agent, schedule.for_agent(agent)

    def code(self, act: str) -> int:
        """The number of the activity ``act`` in the histories (the same for the book's lifetime)."""
        found = self._codes.get(act)
        if found is None:
            found = self._codes[act] = len(self._activities)
            self._activities.append(act)
        return found

    def moves(self, history: bytes) -> list[tuple[float, str]]:
        """A track's packed history as (time, activity)."""
        activities = self._activities
        return [(t, activities[code]) for t, code in _MOVE.iter_unpack(history)]

    def iso(self, t: float) -> str:
        """``t`` in ISO 8601, one string per instant (mismatches often start together, at a slot boundary)."""
        found = self._isos.get(t)
        if found is None:
            if len(self._isos) >= 4096:
                self._isos = {}
            found = self._isos[t] = _iso(t)
        return found

    def _key(self, key: tuple[str, str | None]) -> tuple[str, str | None]:
        """The one (state, reason) tuple equal to ``key`` (agents in the same state share it)."""
        shared = self._keys.get(key)
        if shared is None:
            if len(self._keys) >= 4096:
                self._keys = {}
            shared = self._keys[key] = key
        return shared

    # -- inputs -----------------------------------------------------------------------------------

    def set_schedule(self, schedule: Schedule | None, version: int) -> None:
        """Put ``schedule`` in force; every agent's current day is replayed against it."""
        self.schedule, self.version = schedule, version
        old, self._tracks, self.listed, self.nexts = self._tracks, {}, [], _Nexts()
        if self._now is None:
            return
        for agent, plan in self._plans():
            previous = old.get(agent)
            history = self.moves(previous.history) if previous is not None else [(self._now, OFFLINE)]
            track = self._tracks[agent] = _Track(agent, plan, history[0][0], history[0][1], self)
            track.key = previous.key if previous is not None else _ABSENT
            track.begin(self)
            for t, act in history[1:]:
                track.transition(t, act, self)
            track.advance(self._now, self)
        self._compact(force=True)
        log.info("adherence: schedule version %d in force for %d agents", version, len(self._tracks))

    def observe(self, agents: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
        """Take the snapshot's agents at ``now``: a changed (state, reason) is a transition at ``since``."""
        t = now.timestamp()
        if self._now is not None and t < self._now:
            t = self._now  # the clock stepped back: hold time still
        self._roll_site_day(t)
        if self._now is None:
            self._now = t
            self._start_tracks(agents, t)
        self._now = t
        tracks, policy, unmapped = self._tracks, self.policy, self._unmapped
        for agent, track in tracks.items():
            row = agents.get(agent)
            key = (row.get("state") or "logged_out", row.get("reason")) if row is not None else _ABSENT
            if key != track.key:
                track.key = self._key(key)
                act = policy.actual_activity(key[0], key[1])
                if act != track.act:
                    act = sys.intern(act)  # shared by the histories (an unmapped one is made anew)
                    since = _epoch(row.get("since"), t) if row is not None else t
                    track.transition(min(t, max(since, track.cursor)), act, self)
                    if is_unmapped(act):
                        reason = act.partition(":")[2]
                        unmapped[reason] = unmapped.get(reason, 0) + 1
            if track.next_break <= t:
                track.advance(t, self)
        self._compact()

    def _start_tracks(self, agents: Mapping[str, Mapping[str, Any]], t: float) -> None:
        """First observation: each scheduled agent is tracked from its ``since`` (absent ones from ``t``)."""
        for agent, plan in self._plans():
            row = agents.get(agent)
            key = (row.get("state") or "logged_out", row.get("reason")) if row is not None else _ABSENT
            act = sys.intern(self.policy.actual_activity(key[0], key[1]))
            since = _epoch(row.get("since"), t) if row is not None else t
            start = min(t, max(since, t - MAX_LOOKBACK_S))
            track = self._tracks[agent] = _Track(agent, plan, start, act, self)
            track.key = self._key(key)
            track.begin(self)

    def _roll_site_day(self, t: float) -> None:
        if t >= self._site_day_end:
            self._unmapped = {}
            self._site_day_end = self.days.midnight_after(t)

    def _compact(self, *, force: bool = False) -> None:
        """Drop the episodes never listed again, when there are twice as many as at the last time."""
        listed = self.listed
        if force or len(listed) > self._compact_at:
            tracks = self._tracks
            self.listed = [e for e in listed if not e.stale and e.day == tracks[e.agent].day]
            self._compact_at = max(4096, 2 * len(self.listed))

    # -- outputs ----------------------------------------------------------------------------------

    def figures(self, now: datetime) -> AdherenceFigures:
        """The day's figures at ``now`` (after ``observe``): ``{"agents", "teams", "site", "exceptions", ...}``.

        ``agents`` maps every scheduled agent to its entry (None on a day without slots); the rest
        is ``snapshot["adherence"]`` (see ``merge_figures``). The agent entries are the book's own dicts,
        updated in place by the next call (so that 10,000 agents leave no garbage per tick): serialise
        or copy them before calling again.
        """
        t = max(now.timestamp(), self._now if self._now is not None else -_INF)
        agents: dict[str, AgentAdherence | None] = {}
        groups: dict[str | None, list[float]] = {}  # team (None: no team) -> the seven sums of _group_entry
        for agent, track in self._tracks.items():
            if track.next_break <= t:
                track.advance(t, self)  # figures asked for a later moment than the last observe
            if not track.scheduled_today:
                agents[agent] = None
                continue
            team = track.team
            sums = groups.get(team)
            if sums is None:
                sums = groups[team] = [0.0] * 7
            cached = track.cached
            if cached is None:
                agents[agent] = _agent_entry(track, t, sums)
            else:
                agents[agent] = cached[0]
                for i, value in enumerate(cached[1]):
                    sums[i] += value
        site = [sum(values) for values in zip(*groups.values(), strict=True)] if groups else [0.0] * 7
        return {
            "agents": agents,
            "teams": {team: _group_entry(sums) for team, sums in groups.items() if team is not None},
            "site": _group_entry(site),
            "schedule_version": self.version,
            "exceptions": self.exceptions(t),
            "unmapped": dict(self._unmapped),
        }

    def exceptions(self, t: float) -> list[AdherenceException]:
        """Today's exceptions (mismatches beyond their grace), newest first, at most EXCEPTIONS_SHOWN."""
        found: list[_Episode] = []
        tracks = self._tracks
        for episode in reversed(self.listed):
            if episode.stale or episode.day != tracks[episode.agent].day:
                continue
            end = episode.end if episode.end is not None else t
            if end - episode.start > episode.grace:
                found.append(episode)
                if len(found) == EXCEPTIONS_SHOWN:
                    break
        found.sort(key=lambda episode: episode.start, reverse=True)
        return [self._exception(episode, t) for episode in found]

    def _exception(self, episode: _Episode, t: float) -> AdherenceException:
        end = episode.end
        config = self.site.agents.get(episode.agent)
        return {
            "agent": episode.agent,
            "name": (config.name if config is not None else None) or episode.agent,
            "team": config.team if config is not None else None,
            "kind": episode.kind,
            "scheduled": episode.scheduled,
            "actual": episode.actual,
            "start": episode.started(),
            "end": None if end is None else _iso(end),
            "minutes": ((end if end is not None else t) - episode.start) / 60.0,
        }


_TRACK_FIELDS = _Track.__slots__


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


def merge_figures(snapshot: schema.StateSnapshot, figures: AdherenceFigures | None, site: SiteConfig) -> None:
    """Put ``figures`` (``AdherenceBook.figures``; None: no schedule loaded) into ``snapshot`` in place.

    Every agent gets ``adherence`` (None when not scheduled today) and ``adherence_pct``; a scheduled
    agent the engine never saw is added as ``logged_out`` (``since`` None) so that its late login shows.
    Teams get ``adherence``; the snapshot gets ``adherence`` (None without a schedule).
    """
    agents = snapshot.setdefault("agents", {})
    by_agent = figures["agents"] if figures is not None else {}
    for agent_id in by_agent:
        if agent_id not in agents:
            agents[agent_id] = _absent_agent(agent_id, site)
    for agent_id, row in agents.items():
        entry = by_agent.get(agent_id)
        row["adherence"] = entry
        row["adherence_pct"] = entry["adherence_pct"] if entry is not None else None
        if entry is not None:
            _scheduled_target(row, entry, site)
    teams = snapshot.setdefault("teams", {})
    by_team = figures["teams"] if figures is not None else {}
    for team, team_row in teams.items():
        team_row["adherence"] = by_team.get(team)
    for team, team_entry in by_team.items():
        if team not in teams:
            teams[team] = {"agents": {}, "adherence": team_entry}  # no name, no counts: schema.ScheduleOnlyTeam
    if figures is None:
        snapshot["adherence"] = None
        return
    snapshot["adherence"] = {
        "site": figures["site"],
        "schedule_version": figures["schedule_version"],
        "exceptions": figures["exceptions"],
        "unmapped": figures["unmapped"],
    }


def _scheduled_target(row: schema.Agent, entry: AgentAdherence, site: SiteConfig) -> None:
    """An agent scheduled today is judged against its targets pro rata to its scheduled working time so far."""
    targets = site.agent_targets(row.get("team"))
    if targets is None:
        return
    figures = progress(
        targets,
        handled=row.get("handled_today", 0),
        aht_s=row.get("aht_s"),
        missed_rings=row.get("missed_rings_today", 0),
        occupancy_pct=row.get("occupancy_pct"),
        logged_in_s=row.get("logged_in_s", 0.0),
        scheduled_s=entry.get("scheduled_work_s", 0.0),
    )
    row["target"] = cast(schema.AgentTarget, figures)


def _absent_agent(agent_id: str, site: SiteConfig) -> schema.Agent:
    config = site.agents.get(agent_id)
    return {
        "id": agent_id,
        "name": (config.name if config else None) or agent_id,
        "team": config.team if config else None,
        "state": "logged_out",
        "reason": None,
        "since": None,
        "time_in_state_s": 0.0,
        "queues": [],
        "paused_queues": [],
        "call": None,
        "calls_today": 0,
        "aht_s": None,
        "talk_s": 0.0,
        "paused_s": 0.0,
        "handled_today": 0,
        "handled_interval": 0,
        "missed_rings_today": 0,
        "missed_rings_interval": 0,
        "transfers_today": 0,
        "escalations_today": 0,
        "logged_in_s": 0.0,
        "last_call_end": None,
        "idle_s": None,
        "occupancy_pct": None,
        "target": None,
    }
