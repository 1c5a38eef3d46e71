"""The simulated center's schedule: each agent's shift, breaks and lunch, and how far agents stray from it.

Theory of operation
-------------------
``shift_slots(config, agent, day)`` is the plan of one agent's shift that *starts* on the site-local
``day``: the shift from the roster (``AgentSpec.shift_start_h``/``shift_end_h``, hours of the
simulated day, so ``hour_offset`` moves them on the real clock exactly as the model plays them), cut
into ``work`` slots around two breaks and a lunch. Shift start and end are wall-clock times in the
site's time zone (a wall time in a DST gap moves forward by the gap); breaks sit at a quarter, a
half and about three quarters of the shift's real length, moved by a seeded jitter and rounded to
``round_minutes`` of the clock; a pause that would leave less than ``MIN_WORK_S`` of work around it,
or would start or end in the second pass of a repeated hour (a DST fold, which no wall-clock row can
name), is dropped. Every draw comes from a generator seeded by (config seed, agent, day), so a plan never
depends on what else was generated or simulated. ``generate_schedule`` gathers every agent's plan
for a day into a ``wallboard.core.adherence.schedule.Schedule``; a slot's ``day`` is the local date it
starts on (a night shift's slots after midnight belong to the next day, so the CSV form never needs
a ``+1`` on a start time).

``draw_conduct(indiscipline, seed, slots)`` draws what the agent will actually do on that shift: log in
late, overrun each break, log out early, take one pause the schedule does not have (a reason like
"Personal" that no adherence policy maps). An overrun never takes more than half the work slot after
its pause, and the unscheduled pause falls inside time really worked. The model
(``collectors.simulator.model``) follows the plan and its conduct; nothing else is random about it,
so with ``Indiscipline.none()`` every login, pause, unpause and logout happens exactly at its slot's
boundary (a logout still waits for a call in progress, as a real agent's does).

``schedule_around`` is what a simulation started at a moment plays on its first day (the days before,
of and after it); ``on_wall_clock`` squeezes it for a simulation run faster than real time, whose
events the collector stamps with the wall clock. ``schedule_rows`` / ``schedule_csv`` write a schedule
in the import form ``agent,date,start,end,activity`` (local wall clock; an end on the next day as
``HH:MM+1``).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from collectors.simulator.config import AgentSpec, BreakPolicy, Indiscipline, SchedulePolicy, SimConfig, Span
from wallboard.core.adherence.schedule import Schedule, Slot
from wallboard.core.site import SiteConfig
from wallboard.errors import WallboardError

PAUSE_REASONS: dict[str, str] = {"break": "Break", "lunch": "Lunch"}
"""The pause reason an agent gives for each scheduled pause activity (the default policy maps them back)."""
MIN_WORK_S = 600.0
"""Work kept before, between and after scheduled pauses; a pause that would leave less is dropped."""
CSV_COLUMNS = ("agent", "date", "start", "end", "activity")
_PLAN: tuple[tuple[float, str], ...] = ((0.25, "break"), (0.5, "lunch"), (0.78, "break"))
_MARGIN_S = 300.0  # an unscheduled pause keeps this far from the edges of its work slot


class ScheduleGenerationError(WallboardError, ValueError):
    """A schedule was asked for a site that does not match the simulated center (its time zone)."""


@dataclass(frozen=True, slots=True)
class Conduct:
    """What one agent actually does on one scheduled shift, relative to its slots (seconds)."""

    late_login_s: float = 0.0
    late_returns_s: tuple[float, ...] = ()
    early_logout_s: float = 0.0
    unscheduled: tuple[datetime, float, str] | None = None  # start (UTC), seconds, pause reason

    def late_return_s(self, index: int) -> float:
        """The overrun of the ``index``-th scheduled pause of the shift (0 when there is none)."""
        return self.late_returns_s[index] if index < len(self.late_returns_s) else 0.0


def generate_schedule(config: SimConfig, day: date, site: SiteConfig) -> Schedule:
    """Every agent's shift that starts on the site-local ``day``, with its breaks and lunch."""
    return schedule_for_days(config, (day,), site)


def schedule_for_days(config: SimConfig, days: Iterable[date], site: SiteConfig) -> Schedule:
    """The shifts starting on each of ``days`` (no two overlap: a shift is shorter than a day)."""
    if site.timezone != config.timezone:
        raise ScheduleGenerationError(
            f"the site's time zone is {site.timezone!r} but the simulated center runs in {config.timezone!r}"
        )
    wanted = tuple(days)
    return Schedule.of(slot for agent in config.agents for day in wanted for slot in shift_slots(config, agent, day))


def schedule_around(config: SimConfig, site: SiteConfig, moment: datetime) -> Schedule:
    """The shifts starting the site-local day before, the day of and the day after ``moment``: every shift
    a simulation started at ``moment`` plays in its first day, and the night crew's shift running at it."""
    today = moment.astimezone(ZoneInfo(config.timezone)).date()
    return schedule_for_days(config, (today + timedelta(days=offset) for offset in (-1, 0, 1)), site)


def on_wall_clock(schedule: Schedule, origin: datetime, speed: float, timezone: str) -> Schedule:
    """The schedule as seen on the wall clock of a simulation started at ``origin`` and run ``speed`` times
    faster than real time (``SimulatedAmiServer(speed=...)``): model time ``t`` happens at wall time
    ``origin + (t - origin) / speed``, rounded to the second; each slot's ``day`` is its new local start date.
    """
    if speed <= 0:
        raise ScheduleGenerationError(f"speed must be positive, got {speed}")
    if speed == 1:
        return schedule
    tz = ZoneInfo(timezone)

    def wall(moment: datetime) -> datetime:
        seconds = round((moment - origin).total_seconds() / speed)
        return origin.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=seconds)

    slots = (
        Slot(s.agent, wall(s.start), wall(s.end), s.activity, wall(s.start).astimezone(tz).date())
        for s in schedule.slots
    )
    return Schedule.of(slot for slot in slots if slot.end > slot.start)


def shift_slots(config: SimConfig, agent: AgentSpec, day: date) -> tuple[Slot, ...]:
    """The agent's shift starting on ``day`` as consecutive slots (empty when the roster gives no shift)."""
    tz = ZoneInfo(config.timezone)
    bounds = shift_bounds(config, agent, day, tz)
    if bounds is None:
        return ()
    start, end = bounds
    policy = config.schedule or SchedulePolicy()
    rng = random.Random(f"{config.seed}:plan:{agent.agent_id}:{day.isoformat()}")
    pauses = _pauses(policy, config.breaks, start, end, rng, tz)
    edges = [start, *(moment for begin, finish, _ in pauses for moment in (begin, finish)), end]
    activities = ["work"]
    for _, _, activity in pauses:
        activities += [activity, "work"]
    return tuple(
        Slot(agent.agent_id, begin, finish, activity, begin.astimezone(tz).date())
        for (begin, finish), activity in zip(pairwise(edges), activities, strict=True)
        if finish > begin
    )


def shift_bounds(config: SimConfig, agent: AgentSpec, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """UTC start and end of the agent's shift starting on ``day``, on the real clock (``hour_offset`` applied)."""
    length_h = (agent.shift_end_h - agent.shift_start_h) % 24
    if length_h == 0:
        return None
    start_min = round((agent.shift_start_h - config.hour_offset) % 24 * 60) % 1440  # to the minute, on ``day``
    midnight = datetime.combine(day, time(), tzinfo=tz)
    start = _utc(midnight + timedelta(minutes=start_min))
    end = _utc(midnight + timedelta(minutes=start_min + round(length_h * 60)))
    return (start, end) if end > start else None


def _utc(wall: datetime) -> datetime:
    """A local wall time as UTC; one that does not exist (DST gap) comes out moved forward by the gap."""
    return wall.astimezone(UTC)


def _pauses(
    policy: SchedulePolicy, breaks: BreakPolicy, start: datetime, end: datetime, rng: random.Random, tz: ZoneInfo
) -> list[tuple[datetime, datetime, str]]:
    length = (end - start).total_seconds()
    plan: list[tuple[datetime, datetime, str]] = []
    earliest = start + timedelta(seconds=MIN_WORK_S)
    for share, activity in _PLAN:
        jitter = rng.uniform(-policy.jitter_minutes, policy.jitter_minutes) * 60  # drawn even when dropped
        if not breaks.enabled:
            continue
        minutes = breaks.break_minutes if activity == "break" else breaks.lunch_minutes
        begin = _round(start + timedelta(seconds=length * share + jitter), policy.round_minutes)
        finish = begin + timedelta(minutes=minutes)
        if begin < earliest or finish > end - timedelta(seconds=MIN_WORK_S) or _repeated(begin, finish, tz=tz):
            continue
        plan.append((begin, finish, activity))
        earliest = finish + timedelta(seconds=MIN_WORK_S)
    return plan


def _repeated(*moments: datetime, tz: ZoneInfo) -> bool:
    """Whether a moment falls in the second pass of a repeated hour (DST fold): no wall-clock row names it."""
    return any(moment.astimezone(tz).fold for moment in moments)


def _round(moment: datetime, minutes: int) -> datetime:
    step = minutes * 60
    seconds = round(moment.timestamp() / step) * step
    return datetime.fromtimestamp(seconds, UTC)


def draw_conduct(indiscipline: Indiscipline, seed: int, slots: Sequence[Slot]) -> Conduct:
    """The seeded deviations of one agent on one shift (``slots`` as ``shift_slots`` gives them)."""
    if not slots:
        return Conduct()
    rng = random.Random(f"{seed}:conduct:{slots[0].agent}:{slots[0].start.isoformat()}")
    shift_s = (slots[-1].end - slots[0].start).total_seconds()
    late = min(_maybe(rng, indiscipline.late_login_p, indiscipline.late_login_minutes) * 60, shift_s / 3)
    pauses = [slot for slot in slots if slot.activity in PAUSE_REASONS]
    after = {slot.start: slot.seconds for slot in slots}  # an overrun keeps half the work that follows
    returns = tuple(
        min(_maybe(rng, indiscipline.late_return_p, indiscipline.late_return_s), after.get(pause.end, 0.0) / 2)
        for pause in pauses
    )
    early = min(_maybe(rng, indiscipline.early_logout_p, indiscipline.early_logout_minutes) * 60, shift_s / 3)
    worked = _worked(slots, late, returns, early)
    return Conduct(late, returns, early, _unscheduled(rng, indiscipline, worked))


def _maybe(rng: random.Random, probability: float, span: Span) -> float:
    """An amount drawn from ``span`` with ``probability``, else 0 (always two draws, so streams stay aligned)."""
    happens = rng.random() < probability
    amount = rng.uniform(*span)
    return amount if happens else 0.0


def _worked(
    slots: Sequence[Slot], late: float, returns: Sequence[float], early: float
) -> list[tuple[datetime, datetime]]:
    """The spans of the work slots the agent will really be at work: after a late login or a late return,
    before an early logout."""
    spans, delay, pause = [], late, 0
    for index, slot in enumerate(slots):
        if slot.activity in PAUSE_REASONS:
            delay, pause = returns[pause], pause + 1
            continue
        cut = early if index == len(slots) - 1 else 0.0
        spans.append((slot.start + timedelta(seconds=delay), slot.end - timedelta(seconds=cut)))
        delay = 0.0
    return spans


def _unscheduled(
    rng: random.Random, indiscipline: Indiscipline, worked: Sequence[tuple[datetime, datetime]]
) -> tuple[datetime, float, str] | None:
    """One pause inside the time really worked, away from its edges (always the same draws)."""
    happens = rng.random() < indiscipline.unscheduled_pause_p
    seconds = rng.uniform(*indiscipline.unscheduled_pause_minutes) * 60
    reason = rng.choice(indiscipline.unscheduled_reasons)
    room = [(begin, end) for begin, end in worked if (end - begin).total_seconds() > seconds + 2 * _MARGIN_S]
    if not happens or not room:
        return None
    begin, end = rng.choice(room)
    offset = rng.uniform(_MARGIN_S, (end - begin).total_seconds() - seconds - _MARGIN_S)
    return begin + timedelta(seconds=offset), seconds, reason


def schedule_rows(schedule: Schedule, timezone: str) -> list[dict[str, str]]:
    """The schedule as import rows: ``agent,date,start,end,activity``, local wall clock, ``HH:MM+1`` ends."""
    tz = ZoneInfo(timezone)
    return [
        {
            "agent": slot.agent,
            "date": slot.day.isoformat(),
            "start": _clock(slot.start.astimezone(tz), slot.day),
            "end": _clock(slot.end.astimezone(tz), slot.day),
            "activity": slot.activity,
        }
        for slot in sorted(schedule.slots, key=lambda slot: (slot.start, slot.agent))
    ]


def schedule_csv(schedule: Schedule, timezone: str) -> str:
    """``schedule_rows`` as CSV text with its header (what ``wallboard schedule import`` reads)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(schedule_rows(schedule, timezone))
    return out.getvalue()


def _clock(moment: datetime, day: date) -> str:
    days = (moment.date() - day).days
    if days not in (0, 1):
        raise ScheduleGenerationError(f"{moment.isoformat()} is more than a day after {day.isoformat()}")
    text = moment.strftime("%H:%M:%S" if moment.second else "%H:%M")
    return text + ("+1" if days else "")
