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

The per-agent machinery (``_Track``, ``_Episode``, pieces and agent days, the snapshot entries) is in
``wallboard.core.adherence.track``; its classes are pickled with the book and keep this module's name.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, TypedDict, cast

from wallboard.core import schema
from wallboard.core.adherence.policy import AdherencePolicy, is_unmapped
from wallboard.core.adherence.schedule import Schedule
from wallboard.core.adherence.track import (  # the classes a checkpoint names under this module are found here
    _ABSENT,
    _EPISODE_FLOATS,
    _INF,
    _MOVE,
    _TRACK_FLOATS,
    OFFLINE,
    Status,
    _agent_entry,
    _Days,
    _Episode,
    _group_entry,
    _iso,
    _Nexts,
    _Plan,
    _Track,
)
from wallboard.core.schema import AdherenceException, AgentAdherence, TeamAdherence
from wallboard.core.site import SiteConfig
from wallboard.core.targets import progress

__all__ = ["EXCEPTIONS_SHOWN", "OFFLINE", "AdherenceBook", "AdherenceFigures", "Status", "merge_figures"]

log = logging.getLogger(__name__)

EXCEPTIONS_SHOWN = 200
MAX_LOOKBACK_S = 2 * 86400.0  # an agent's first ``since`` is not followed further back than this


class AdherenceFigures(TypedDict):
    """``AdherenceBook.figures``: each scheduled agent's and team's entry, and the snapshot's ``adherence``."""

    agents: dict[str, AgentAdherence | None]
    teams: dict[str, TeamAdherence]
    site: TeamAdherence
    schedule_version: int
    exceptions: list[AdherenceException]
    unmapped: dict[str, int]


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


# The classes moved to ``track`` name this module by the very string object ``AdherenceBook`` does: pickle memoizes
# the module name by identity, so a book pickles byte-identically to one pickled before the split, whoever imported
# this module first (``track`` interns the name; this module's own ``__name__`` may not be the interned one).
_Days.__module__ = _Nexts.__module__ = _Episode.__module__ = _Track.__module__ = AdherenceBook.__module__


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
