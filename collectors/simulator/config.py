"""Configuration of the simulated contact center: frozen, validated, built once and passed down.

``build_config(agents, queues, seed=...)`` generates a plausible site from a seed: agent names
(some non-ASCII), interfaces (``PJSIP/1001`` or ``Local/agent01@agents/n``), skills (a primary
queue at penalty 0, sometimes secondary queues at penalty 1-2), staggered shifts covering the
day with a small night crew, and per-queue parameters modelled on a real ``queues.conf``
(strategy, servicelevel, wrap-up, timeout, autopause).

Arrival rates are sized from the staffing: for each queue, the agents on shift at the most
constrained moment of the day profile, less breaks, with square-root staffing headroom
(``offered erlangs = n - sqrt(n)``), divided by the queue's mean handling time. A default run
is then busy but mostly within service level; bursts (random windows of 1.6-2.6x the rate)
create real waits, abandons and timeouts. ``load_factor`` scales every arrival rate.
``site_config()`` gives the matching wallboard site (queues, teams, agents and their aliases, targets
and the escalation extension).

Answered calls now and then end in a blind transfer (``QueueSpec.transfer_share``, to a colleague
or, for ``TransferPolicy.escalation_share`` of them, to the supervisor's escalation extension), and
some callers call back later with the same number (``CallbackPolicy``: repeat callers).
"""

from __future__ import annotations

import math
import random
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from collectors.simulator.names import DAY_PROFILE, agent_names, profile_rate, queue_names
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig
from wallboard.core.targets import Targets

Strategy = Literal["ringall", "rrmemory", "leastrecent", "fewestcalls", "random", "linear"]
InterfaceStyle = Literal["pjsip", "local", "mixed"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class QueueSpec(BaseModel):
    """One queue as queues.conf and the dialplan's ``Queue()`` call define it, plus its traffic."""

    model_config = _FROZEN

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: Strategy = "rrmemory"
    servicelevel_s: int = Field(default=20, ge=0)
    wrapup_s: float = Field(default=5.0, ge=0)
    timeout_s: float = Field(default=300.0, gt=0, description="Queue() timeout: EXITWITHTIMEOUT after this wait")
    ring_timeout_s: float = Field(default=15.0, gt=0, description="member ring timeout (queues.conf timeout)")
    retry_s: float = Field(default=5.0, ge=0)
    autopause: bool = False
    peak_rate_per_min: float = Field(default=1.0, ge=0, description="arrivals per minute at profile 1.0")
    talk_median_s: float = Field(default=180.0, gt=0)
    talk_sigma: float = Field(default=0.6, ge=0)
    hold_probability: float = Field(default=0.15, ge=0, le=1)
    transfer_share: float = Field(
        default=0.04, ge=0, le=1, description="answered calls the agent ends by a blind transfer (TransferPolicy)"
    )


class AgentSpec(BaseModel):
    """One agent: identity on the PBX, skills (queue, penalty) and a daily shift in local hours."""

    model_config = _FROZEN

    agent_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    interface: str = Field(min_length=1)
    skills: tuple[tuple[str, int], ...] = Field(min_length=1)
    shift_start_h: float = Field(ge=0, lt=24)
    shift_end_h: float = Field(ge=0, lt=24, description="earlier than the start for an overnight shift")
    no_answer_probability: float = Field(default=0.04, ge=0, le=1)
    static: bool = Field(
        default=False,
        description="a ``member =>`` line of queues.conf: in its queues all day (no shifts), QueueRemove refuses it",
    )

    @property
    def state_interface(self) -> str:
        """The device Asterisk watches: ``Local/agent01@agents`` for ``Local/agent01@agents/n``."""
        if self.interface.startswith("Local/") and self.interface.endswith("/n"):
            return self.interface[:-2]
        return self.interface


class BreakPolicy(BaseModel):
    """How agents pause and leave: breaks, lunch, training, auto-pause recovery, logouts mid-call."""

    model_config = _FROZEN

    enabled: bool = True
    break_minutes: float = Field(default=15.0, gt=0)
    lunch_minutes: float = Field(default=30.0, gt=0)
    training_probability: float = Field(default=0.15, ge=0, le=1)
    training_minutes: float = Field(default=30.0, gt=0)
    chain_probability: float = Field(default=0.15, ge=0, le=1, description="a pause rolls into another reason")
    auto_unpause_s: tuple[float, float] = (15.0, 60.0)
    removed_during_call_probability: float = Field(default=0.05, ge=0, le=1)


Span = tuple[float, float]


def _ordered(span: Span) -> Span:
    low, high = span
    if not 0 <= low <= high:
        raise ValueError(f"need 0 <= low <= high, got ({low}, {high})")
    return span


class Indiscipline(BaseModel):
    """How far agents stray from their schedule; each draw is per agent and shift, seeded.

    A probability says how often it happens on a shift, the span how much (uniform in [low, high]).
    ``seed`` None uses the simulation's seed. The defaults make a 40-agent demo show a few
    exceptions within its first minutes: late logins, breaks overrun past the 2-minute grace, a
    "Personal" pause (a reason no policy maps), and early logouts later in the day.
    """

    model_config = _FROZEN

    late_login_p: float = Field(default=0.15, ge=0, le=1)
    late_login_minutes: Span = (3.0, 12.0)
    late_return_p: float = Field(default=0.25, ge=0, le=1, description="per scheduled break or lunch")
    late_return_s: Span = (150.0, 600.0)
    early_logout_p: float = Field(default=0.1, ge=0, le=1)
    early_logout_minutes: Span = (5.0, 30.0)
    unscheduled_pause_p: float = Field(default=0.15, ge=0, le=1, description="one pause not in the schedule")
    unscheduled_pause_minutes: Span = (3.0, 10.0)
    unscheduled_reasons: tuple[str, ...] = Field(default=("Personal",), min_length=1)
    seed: int | None = None

    @field_validator("late_login_minutes", "late_return_s", "early_logout_minutes", "unscheduled_pause_minutes")
    @classmethod
    def _ordered_span(cls, span: Span) -> Span:
        return _ordered(span)

    @classmethod
    def none(cls) -> Indiscipline:
        """Perfect discipline: every transition exactly on its schedule."""
        return cls(late_login_p=0, late_return_p=0, early_logout_p=0, unscheduled_pause_p=0)


class SchedulePolicy(BaseModel):
    """Agents follow a generated schedule (``collectors.simulator.schedule``) instead of random breaks.

    Breaks and lunch last ``BreakPolicy.break_minutes`` / ``lunch_minutes``; they sit at a quarter,
    half and about three quarters of the shift, moved by up to ``jitter_minutes`` and rounded to
    ``round_minutes`` of the clock.
    """

    model_config = _FROZEN

    jitter_minutes: float = Field(default=15.0, ge=0)
    round_minutes: int = Field(default=5, ge=1, le=60)
    indiscipline: Indiscipline = Indiscipline()


class CallerPolicy(BaseModel):
    """Caller and conversation behaviour shared by every queue."""

    model_config = _FROZEN

    patience_median_s: float = Field(default=110.0, gt=0)
    patience_sigma: float = Field(default=0.9, ge=0)
    caller_hangup_fraction: float = Field(default=0.2, ge=0, le=1)
    ring_s: tuple[float, float] = (1.0, 6.0)
    hold_median_s: float = Field(default=35.0, gt=0)
    hold_sigma: float = Field(default=0.6, ge=0)


class TransferPolicy(BaseModel):
    """Where agents blind-transfer their callers (``QueueSpec.transfer_share`` says how often).

    ``escalation_share`` of the transfers go to the supervisor's ``escalation_extension``, the
    others to a colleague's extension (another agent's: ``1005`` for ``PJSIP/1005``, ``agent05``
    in the ``agents`` context for ``Local/agent05@agents/n``); ``context`` is the dialplan context
    of a phone's extensions.
    """

    model_config = _FROZEN

    escalation_extension: str = Field(default="2000", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.+*#-]+$")
    escalation_share: float = Field(default=1 / 3, ge=0, le=1)
    context: str = Field(default="from-internal", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class CallbackPolicy(BaseModel):
    """Callers who call again later with the same number and name (repeat callers), drawn per call, seeded.

    A caller who abandoned or timed out calls back with probability ``after_abandon_p``, soon
    (lognormal, median ``abandon_delay_median_s``); one who was answered with ``after_answer_p``,
    later (median ``answer_delay_median_s``: the problem was not solved). Every delay is at least a
    minute and at most ``max_delay_s``; a caller calls at most ``max_attempts`` times in all.
    """

    model_config = _FROZEN

    after_abandon_p: float = Field(default=0.4, ge=0, le=1)
    after_answer_p: float = Field(default=0.04, ge=0, le=1)
    abandon_delay_median_s: float = Field(default=600.0, gt=0)
    answer_delay_median_s: float = Field(default=5400.0, gt=0)
    delay_sigma: float = Field(default=0.8, ge=0)
    max_delay_s: float = Field(default=6 * 3600.0, ge=60)
    max_attempts: int = Field(default=3, ge=1)


class SimConfig(BaseModel):
    """The whole simulated site. ``seed`` is the default seed of a ``Simulation`` built from it."""

    model_config = _FROZEN

    seed: int = 0
    timezone: str = "UTC"
    hour_offset: float = Field(
        default=0.0, ge=-24, le=24, description="play the day this many hours ahead of the local clock (demos)"
    )
    load_factor: float = Field(default=1.0, ge=0)
    agents: tuple[AgentSpec, ...]
    queues: tuple[QueueSpec, ...] = Field(min_length=1)
    breaks: BreakPolicy = BreakPolicy()
    schedule: SchedulePolicy | None = Field(default=None, description="None: random breaks (no schedule)")
    callers: CallerPolicy = CallerPolicy()
    transfers: TransferPolicy = TransferPolicy()
    callbacks: CallbackPolicy = CallbackPolicy()
    profile: tuple[tuple[float, float], ...] = DAY_PROFILE
    bursts_per_hour: float = Field(default=0.6, ge=0, description="per queue")
    burst_factor: tuple[float, float] = (1.6, 2.6)
    burst_minutes: tuple[float, float] = (4.0, 12.0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def queue(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return spec
        raise KeyError(name)


# name-independent defaults by queue index: strategy, servicelevel, wrap-up, timeout, talk median, autopause
_QUEUE_TEMPLATES: tuple[tuple[Strategy, int, float, float, float, bool], ...] = (
    ("rrmemory", 20, 5.0, 300.0, 210.0, False),
    ("ringall", 30, 3.0, 240.0, 170.0, False),
    ("leastrecent", 30, 10.0, 300.0, 240.0, True),
    ("fewestcalls", 60, 15.0, 420.0, 320.0, False),
    ("rrmemory", 30, 5.0, 300.0, 200.0, False),
    ("linear", 20, 5.0, 180.0, 150.0, False),
)

# shift templates: (start hour, end hour, share of the agents); staffing follows DAY_PROFILE
_SHIFTS: tuple[tuple[float, float, float], ...] = (
    (7.0, 15.5, 0.14),
    (8.0, 16.5, 0.20),
    (9.0, 17.5, 0.22),
    (10.5, 19.0, 0.20),
    (12.0, 20.5, 0.14),
    (19.5, 7.5, 0.10),
)
_NIGHT = len(_SHIFTS) - 1

SITE_CALLS_PER_SHIFT = 60  # site_config(): the calls target of every agent
BUSY_TEAM_CALLS_PER_SHIFT = 75  # ... and of the busiest queue's team (a team's override)


def build_config(
    agents: int = 40,
    queues: int = 4,
    *,
    seed: int = 0,
    load_factor: float = 1.0,
    timezone: str = "UTC",
    interface_style: InterfaceStyle = "mixed",
    hour_offset: float = 0.0,
    schedule: SchedulePolicy | None = None,
) -> SimConfig:
    """A generated site of ``agents`` agents and ``queues`` queues, identical for the same arguments."""
    if agents < 1 or queues < 1:
        raise ValueError(f"need at least one agent and one queue, got agents={agents} queues={queues}")
    rng = random.Random(f"{seed}:roster")
    names = queue_names(queues)
    weights = [1.0 / (index + 2) for index in range(queues)]
    shifts = _apportion(agents, [share for _, _, share in _SHIFTS], rng)
    primaries = _apportion(agents, weights, rng)
    specs = [
        _agent_spec(index, name, names, primaries[index], shifts[index], interface_style, rng)
        for index, name in enumerate(agent_names(agents, rng))
    ]
    pool = _peak_pool(specs)
    total = sum(weights)
    sized = tuple(_queue_spec(index, name, pool * weights[index] / total) for index, name in enumerate(names))
    return SimConfig(
        seed=seed,
        timezone=timezone,
        hour_offset=hour_offset,
        load_factor=load_factor,
        agents=tuple(specs),
        queues=sized,
        schedule=schedule,
    )


def _apportion(count: int, weights: list[float], rng: random.Random) -> list[int]:
    """``count`` slot indexes shared by weight (largest remainder), in a seeded random order."""
    total = sum(weights)
    quotas = [count * weight / total for weight in weights]
    sizes = [int(quota) for quota in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda index: sizes[index] - quotas[index])
    for index in by_remainder[: count - sum(sizes)]:
        sizes[index] += 1
    slots = [index for index, size in enumerate(sizes) for _ in range(size)]
    rng.shuffle(slots)
    return slots


def _agent_spec(
    index: int,
    name: str,
    queues: list[str],
    primary: int,
    shift: int,
    style: InterfaceStyle,
    rng: random.Random,
) -> AgentSpec:
    number = index + 1
    pjsip = style == "pjsip" or (style == "mixed" and index % 2 == 1)
    interface = f"PJSIP/{1000 + number}" if pjsip else f"Local/agent{number:02d}@agents/n"
    skills = [(queues[primary], 0)]
    others = [queue for queue in queues if queue != queues[primary]]
    rng.shuffle(others)
    if shift == _NIGHT:
        skills.extend((queue, 1) for queue in others)
    else:
        extra = (1 if rng.random() < 0.6 else 0) + (1 if rng.random() < 0.2 else 0)
        skills.extend((queue, penalty) for penalty, queue in enumerate(others[:extra], start=1))
    start, end, _ = _SHIFTS[shift]
    return AgentSpec(
        agent_id=f"agent{number:02d}",
        name=name,
        interface=interface,
        skills=tuple(skills),
        shift_start_h=start,
        shift_end_h=end,
        no_answer_probability=round(rng.uniform(0.01, 0.07), 3),
    )


def _queue_spec(index: int, name: str, agents_at_peak: float) -> QueueSpec:
    """A queue from the template of its index, with arrivals sized for ``agents_at_peak`` agents."""
    strategy, servicelevel, wrapup, timeout, talk, autopause = _QUEUE_TEMPLATES[index % len(_QUEUE_TEMPLATES)]
    spec = QueueSpec(
        name=name,
        strategy=strategy,
        servicelevel_s=servicelevel,
        wrapup_s=wrapup,
        timeout_s=timeout,
        autopause=autopause,
        talk_median_s=talk,
    )
    erlangs = max(agents_at_peak - math.sqrt(agents_at_peak), 0.3 * agents_at_peak)
    rate = round(erlangs * 60.0 / mean_handle_s(spec, CallerPolicy()), 4)
    return spec.model_copy(update={"peak_rate_per_min": rate})


def mean_handle_s(queue: QueueSpec, callers: CallerPolicy) -> float:
    """Expected handling time of one call: talk (lognormal mean) + hold + wrap-up + ring."""
    talk = queue.talk_median_s * math.exp(queue.talk_sigma**2 / 2)
    hold = queue.hold_probability * callers.hold_median_s * math.exp(callers.hold_sigma**2 / 2)
    ring = sum(callers.ring_s) / 2
    return talk + hold + queue.wrapup_s + ring


def on_shift(agent: AgentSpec, hour: float) -> bool:
    """Whether a local hour of day falls inside the agent's shift (overnight shifts wrap)."""
    if agent.shift_start_h <= agent.shift_end_h:
        return agent.shift_start_h <= hour < agent.shift_end_h
    return hour >= agent.shift_start_h or hour < agent.shift_end_h


def _peak_pool(agents: list[AgentSpec]) -> float:
    """Agents available at profile 1.0: staffing / profile over the day (20th percentile), less breaks.

    The percentile rather than the minimum lets the shoulders of the day (shift changes) run a
    little short, as real rosters do, instead of idling the whole afternoon peak.
    """
    ratios = []
    for step in range(96):
        hour = step / 4
        load = profile_rate(hour)
        if load >= 0.3:
            ratios.append(sum(on_shift(agent, hour) for agent in agents) / load)
    ratios.sort()
    return ratios[len(ratios) // 5] * 0.88 if ratios else 0.0


def site_config(config: SimConfig, site: str = "sim") -> SiteConfig:
    """The site file matching a simulated center: queues with their SL thresholds, agents with their aliases.

    Agents are grouped in one team per primary queue, so a demo wallboard has teams to show. The site has
    productivity targets (an AHT target a little above the expected handling time) and the team of the
    busiest queue a higher calls target of its own; the supervisor's extension is the escalation target.
    """
    queues = {
        spec.name: QueueConfig(sl_threshold_s=spec.servicelevel_s, wrapup_s=spec.wrapup_s) for spec in config.queues
    }
    targets = site_targets(config)
    busiest = max(config.queues, key=lambda spec: spec.peak_rate_per_min).name
    # the team's targets spell out every field (the site's, but for the calls): a site file dumped and read
    # back (model_dump() marks every field set) then still means the same
    busy = targets.model_copy(update={"calls_per_shift": BUSY_TEAM_CALLS_PER_SHIFT})
    teams = {
        f"{spec.name}-team": TeamConfig(
            name=f"{spec.name.capitalize()} team", targets=busy if spec.name == busiest else None
        )
        for spec in config.queues
    }
    agents = {
        agent.agent_id: AgentConfig(
            name=agent.name, team=f"{agent.skills[0][0]}-team", aliases=(agent.interface, agent.name)
        )
        for agent in config.agents
    }
    return SiteConfig(
        site=site,
        timezone=config.timezone,
        queues=queues,
        teams=teams,
        agents=agents,
        targets=targets,
        escalation_targets=(config.transfers.escalation_extension,),
    )


def site_targets(config: SimConfig) -> Targets:
    """The site's targets: 60 calls a shift of 8 h, AHT 15 % above the expected handling time (rounded up to
    10 s), 3 missed rings a day, occupancy 70-90 %."""
    total = sum(spec.peak_rate_per_min for spec in config.queues)
    if total > 0:
        handle = sum(spec.peak_rate_per_min * mean_handle_s(spec, config.callers) for spec in config.queues) / total
    else:
        handle = sum(mean_handle_s(spec, config.callers) for spec in config.queues) / len(config.queues)
    return Targets(
        calls_per_shift=SITE_CALLS_PER_SHIFT,
        shift_hours=8,
        aht_s=math.ceil(handle * 1.15 / 10) * 10,
        missed_rings_per_day=3,
        occupancy_pct=(70, 90),
    )
