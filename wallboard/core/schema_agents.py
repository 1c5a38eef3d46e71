"""The snapshot's agents and teams: ``Agent`` per agent (its call, channels, adherence and targets), ``Team`` and
``TeamStates`` per team.

Part of ``wallboard.core.schema`` (the snapshot's types, re-exported there): see its docstring for the
conventions and who writes what.
"""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

from wallboard.core.schema_common import CLOSED as _CLOSED
from wallboard.core.schema_common import AdherenceStatus, AgentStateName, ExceptionKind, IsoTime

# -- agents -----------------------------------------------------------------------------------------


@with_config(_CLOSED)
class AgentChannel(TypedDict):
    """An agent's load on one channel (``wallboard.core.channels.agent_channels``)."""

    open: int
    """The agent's open contacts of this channel (answered, not ended)."""
    capacity: int
    """Contacts of this channel the agent handles at once (site file ``capacity``, else ``channel_capacity``, 1)."""
    concurrency_pct: float
    """``open`` / ``capacity``, percent (at most 100)."""
    state: Literal["available", "busy", "paused", "logged_out"]
    """``busy``: at capacity (a phone channel: ringing, on a call or in wrap-up); ``paused``: paused in every queue
    of the channel; ``logged_out``: in no queue of the channel; else ``available``: it can take one more."""


@with_config(_CLOSED)
class AgentCall(TypedDict):
    """The call an agent is on (its most recent open call)."""

    call_id: str
    queue: str
    since: IsoTime
    """When the call was answered."""


@with_config(_CLOSED)
class NextSlot(TypedDict):
    """The agent's next scheduled slot."""

    activity: str
    start: IsoTime


@with_config(_CLOSED)
class AgentAdherence(TypedDict):
    """An agent's schedule adherence now and over its agent day (``wallboard.core.adherence.tracker``)."""

    scheduled: str | None
    """Activity scheduled now (``work``, ``break``, ``offline``...); None outside any slot."""
    actual: str
    """What the agent is doing per the site's adherence policy (``unmapped:<reason>`` for an unmapped pause)."""
    status: AdherenceStatus
    """``in``: matches; ``grace``: mismatch within its grace period; ``out``: mismatch beyond it;
    ``unscheduled``: no slot now."""
    out_since: IsoTime | None
    """Start of the current mismatch (status grace or out), else None."""
    out_for_s: float | None
    """Seconds since ``out_since``, else None."""
    exception: ExceptionKind | None
    """The kind of exception while ``out``, else None."""
    adherence_pct: float | None
    """Seconds in adherence / scheduled seconds so far, percent; None before any scheduled time."""
    conformance_pct: float | None
    """Logged-in seconds / scheduled working seconds so far, percent (can exceed 100)."""
    scheduled_work_s: float
    """Seconds scheduled to a working (not ``offline``) activity so far on the agent day."""
    minutes_late: float
    """Minutes late at the starts of the agent's work blocks today."""
    next: NextSlot | None
    """The next slot starting after now, None after the last."""


@with_config(_CLOSED)
class AgentTarget(TypedDict):
    """An agent's progress against its targets, pro rata to the time scheduled (with a schedule) or logged in."""

    basis: Literal["logged_in", "scheduled"]
    """``scheduled``: the agent's scheduled working time so far today; ``logged_in``: the time logged in today."""
    basis_s: float
    calls_expected: float | None
    """calls_per_shift x basis_s / shift; None without a calls target."""
    calls_pct: float | None
    """handled_today / calls_expected, percent; None when nothing is expected yet."""
    calls: Literal["met", "near", "behind"] | None
    """``met`` >= 100 %, ``near`` >= 80 %, else ``behind``."""
    aht_target_s: float | None
    aht: Literal["ok", "over"] | None
    missed_rings_limit: int | None
    missed_rings: Literal["ok", "over"] | None
    occupancy_band: list[float] | None
    """[low, high] percent."""
    occupancy: Literal["low", "ok", "high"] | None


@with_config(_CLOSED)
class Agent(TypedDict):
    """One agent: derived state now and today's figures. Agents seen in events, plus (with a schedule)
    scheduled agents never seen, listed as ``logged_out`` with ``since`` None."""

    id: str
    name: str
    """Display name (site file), else the id."""
    team: str | None
    """Team id (site file), None without one."""
    state: AgentStateName
    reason: str | None
    """Pause reason while ``paused`` ("" when the PBX gave none), else None."""
    since: IsoTime | None
    """When the agent entered ``state``; None for a scheduled agent the engine never saw."""
    time_in_state_s: float
    """Seconds since ``since``."""
    queues: list[str]
    """Queues the agent is a member of, sorted."""
    paused_queues: list[str]
    """Queues in which the agent is paused, sorted."""
    call: AgentCall | None
    calls_today: int
    """Calls the agent answered today."""
    aht_s: float | None
    """(talk + hold + wrap-up) / handled calls today, seconds; None before the first."""
    talk_s: float
    """Talk time today, seconds."""
    paused_s: float
    """Time paused today, seconds."""
    handled_today: int
    """Calls the agent finished (handled) today."""
    handled_interval: int
    """Calls the agent finished in the current interval."""
    missed_rings_today: int
    """Rings the agent did not answer today (a ring the agent answered later for the same call included)."""
    missed_rings_interval: int
    """Rings the agent did not answer in the current interval."""
    transfers_today: int
    """Calls the agent ended by transferring them, today."""
    escalations_today: int
    """Calls the agent transferred to one of the site file's ``escalation_targets``, today."""
    logged_in_s: float
    """Time logged in today (any displayed state but ``logged_out``), seconds."""
    last_call_end: IsoTime | None
    """When the agent's last call ended (the agent had no call left); None before the first."""
    idle_s: float | None
    """Seconds displayed ``available`` since ``last_call_end`` (it grows with the time while ``available``, from
    the snapshot's ts on); None before the first call ended."""
    occupancy_pct: float | None
    """Today's (on_call + wrap_up) / (on_call + wrap_up + available) displayed time, percent; None without any."""
    target: AgentTarget | None
    """Progress against the targets of the agent's team or site (``wallboard.core.targets``); None without any."""
    channels: NotRequired[dict[str, AgentChannel]]
    """Load per channel of an agent in a chat, email, callback or outbound queue or with such a contact open;
    absent for an agent with voice only (``wallboard.core.channels``)."""
    adherence: NotRequired[AgentAdherence | None]
    """Present with a schedule in force: None when the agent has no slot on its day."""
    adherence_pct: NotRequired[float | None]
    """Present with a schedule in force: ``adherence.adherence_pct`` (None without adherence)."""


# -- teams --------------------------------------------------------------------------------------------


@with_config(_CLOSED)
class TeamStates(TypedDict):
    """A team's agents by derived state."""

    logged_out: int
    available: int
    ringing: int
    on_call: int
    wrap_up: int
    paused: int


@with_config(_CLOSED)
class TeamAdherence(TypedDict):
    """Adherence of a team or of the whole site: the sums of its scheduled agents' seconds."""

    adherence_pct: float | None
    conformance_pct: float | None
    scheduled_now: int
    """Agents scheduled to a working (not ``offline``) activity now."""
    out_now: int
    """Agents whose status is ``out`` now."""
    minutes_late: float
    """Sum of the agents' minutes late today."""


@with_config(_CLOSED)
class Team(TypedDict):
    """A team of the site file or of a seen agent."""

    name: str
    """Display name (site file), else the id."""
    agents: TeamStates
    handled_today: int
    """Calls the team's agents handled today."""
    escalations_today: int
    """Calls the team's agents transferred to an escalation target today."""
    adherence: NotRequired[TeamAdherence | None]
    """Present with a schedule in force: None when no agent of the team is scheduled today."""


@with_config(_CLOSED)
class ScheduleOnlyTeam(TypedDict):
    """A team known only from the schedule (its scheduled agents' team is in no site-file ``teams`` entry
    and none of them was seen): added by ``merge_figures`` without a name or state counts."""

    agents: dict[str, int]
    """Always empty."""
    adherence: TeamAdherence | None
