"""The snapshot's type: what the engine publishes and every reader (websocket, REST, exporter, Dash) reads.

Theory of operation
-------------------
The snapshot is plain JSON-ready data (dicts, lists, str, int, float, None) built four times a second for up
to 10,000 agents, so it stays plain dicts: the TypedDicts below describe it for mypy and, through
pydantic, as a JSON Schema (:func:`snapshot_json_schema`, served at ``GET /api/v1/snapshot/schema``). Nothing
validates or converts a snapshot at run time; the tests validate real snapshots against the generated schema.

Who writes what:

* ``wallboard.core.engine.State.snapshot(now)`` -> :class:`StateSnapshot`; its queues and agents come from
  ``wallboard.core.snapshots`` (windows: ``wallboard.core.metrics.Counters.as_dict``).
* With a schedule in force, the adherence figures are merged into it
  (``wallboard.core.adherence.tracker.merge_figures``): the ``adherence`` keys of agents, teams and the
  snapshot, absent otherwise (readers take absent as None).
* The engine runner (``wallboard.processes.engine``) publishes :class:`Snapshot`: that plus the open
  ``alerts`` (``wallboard.core.alerting.AlertBook.alerts``), ``seq`` and ``stream_id``. That is the
  ``wb:{site}:snapshot`` key, the body of ``GET /api/v1/snapshot`` and, with ``"type": "snapshot"`` added,
  the first /ws message; deltas (``wallboard.core.deltas``) change it into the next one.

Conventions: times are ISO 8601 strings in UTC (``2026-03-02T09:00:00+00:00``); durations are seconds
(``_s``, float, unrounded); percentages are 0-100 (``_pct``, float, clamped); a ratio whose denominator is 0
is None ("no calls yet"), never 0. Windows: ``interval`` is the current interval (15, 30 or 60 minutes aligned
to the site-local clock), ``day`` the site-local day so far, ``total`` everything since the engine's state
began (never reset: it backs the Prometheus counters). A call counts in the window in which its wait ended
(answer, abandon, exit); handle times count where the call ended. Definitions: ``wallboard.core.metrics``.

Every object forbids keys it does not declare (``additionalProperties: false``), so a key the engine adds
fails the tests until it is declared here.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, TypeAdapter, with_config
from pydantic.json_schema import WithJsonSchema
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "AdherenceException",
    "AdherenceStatus",
    "Agent",
    "AgentAdherence",
    "AgentCall",
    "AgentChannel",
    "AgentStateName",
    "AlertLevel",
    "AlertSeverity",
    "AlertState",
    "CampaignFigures",
    "CampaignSpan",
    "ChannelName",
    "DayBounds",
    "EngineCounters",
    "ExceptionKind",
    "IntervalBounds",
    "MetricName",
    "NextSlot",
    "OpenAlert",
    "PendingAlert",
    "QueueAgents",
    "QueueFigures",
    "ScheduleOnlyTeam",
    "SiteAdherence",
    "SlFormulaName",
    "Snapshot",
    "StateSnapshot",
    "Target",
    "TargetKind",
    "Team",
    "TeamAdherence",
    "TeamStates",
    "WaitingCall",
    "Window",
    "snapshot_json_schema",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_CLOSED = ConfigDict(extra="forbid", use_attribute_docstrings=True)

IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""An instant in ISO 8601, UTC (``wallboard.core.snapshots.iso``)."""

# Closed sets of values (tests/wallboard/core/test_schema.py checks each against the enum it mirrors).
AgentStateName = Literal["logged_out", "available", "ringing", "on_call", "wrap_up", "paused"]
SlFormulaName = Literal["offered_minus_short", "answered", "offered"]
ChannelName = Literal["voice", "chat", "email", "callback", "outbound"]
AdherenceStatus = Literal["in", "grace", "out", "unscheduled"]
ExceptionKind = Literal["late_login", "early_logout", "wrong_activity", "unmapped_reason"]
AlertLevel = Literal["warn", "alarm"]
AlertState = Literal["firing", "acknowledged", "snoozed"]
TargetKind = Literal["queue", "agent", "team", "site", "component", "campaign"]
CampaignRegulator = Literal["ofcom", "fcc", "custom"]
MetricName = Literal[
    "waiting",
    "longest_wait_s",
    "service_level_pct",
    "service_level_day_pct",
    "abandon_rate_pct",
    "asa_s",
    "aht_s",
    "first_response_s",
    "agents_available",
    "agents_short",
    "agent_pause_s",
    "agent_on_call_s",
    "agent_calls_target_pct",
    "agent_missed_rings",
    "agent_aht_s",
    "agent_occupancy_pct",
    "agent_concurrency_pct",
    "adherence_pct",
    "team_adherence_pct",
    "data_age_s",
    "collector_connected",
    "campaign_drop_rate_pct",
]
AlertSeverity = Literal["page", "ticket", "info", "warning"]


# -- queues -----------------------------------------------------------------------------------------


@with_config(_CLOSED)
class Window(TypedDict):
    """Counts and metrics of one queue over one window (``wallboard.core.metrics.Counters.as_dict``).

    Offered = answered + abandoned + timed_out + exited_other + unknown, each counted when the call's wait
    ended; calls still waiting are not offered yet. Handle times count in the window where the call ended.
    """

    offered: int
    """Calls whose wait ended in the window, whatever the outcome."""
    answered: int
    """Calls an agent answered."""
    abandoned: int
    """Calls the caller hung up while waiting (short abandons included)."""
    short_abandoned: int
    """Abandons within the site's short-abandon threshold (default 5 s)."""
    timed_out: int
    """Calls that left on the queue timeout (never counted as abandons)."""
    exited_other: int
    """Calls that left by key press, empty or full queue, withdrawal."""
    unknown: int
    """Calls whose outcome the sources never told (closed by a restart or a day rollover)."""
    answered_within_sl: int
    """Answered calls whose wait was <= the queue's ``sl_threshold_s`` (Asterisk's rule)."""
    service_level_pct: float | None
    """Answered within SL over the snapshot's ``sl_formula`` denominator, percent; None without calls."""
    service_level_live_pct: float | None
    """The service level with the callers still waiting beyond the threshold counted as misses, percent;
    only in ``interval`` and ``day`` (None in ``total`` and ``previous_interval``, and without calls)."""
    asa_s: float | None
    """Average speed of answer: wait of answered calls / answered, seconds."""
    avg_talk_s: float | None
    """Talk time per handled call, seconds."""
    avg_hold_s: float | None
    """Hold time per handled call, seconds."""
    avg_wrap_s: float | None
    """Wrap-up time per handled call, seconds."""
    aht_s: float | None
    """Average handle time: (talk + hold + wrap-up) / handled, seconds."""
    abandon_rate_pct: float | None
    """(abandoned - short abandons) / (offered - short abandons), percent."""
    max_wait_s: float | None
    """Longest wait among the calls whose wait ended in the window, seconds; None before the first."""
    handled: int
    """Calls that ended (after being answered) in the window."""
    talk_s: float
    """Sum of talk time of the handled calls, seconds."""
    hold_s: float
    """Sum of hold time of the handled calls, seconds."""
    wrap_s: float
    """Sum of wrap-up time of the handled calls, seconds."""
    wait_s_answered: float
    """Sum of the waits of the answered calls, seconds (ASA's numerator)."""
    wait_unknown: int
    """Answered calls whose wait is unknown (the source lacked it, or it was implausible): out of ASA and SL."""
    handle_unknown: int
    """Handled calls whose talk, hold or wrap-up is unknown: out of the talk, hold, wrap and handle averages."""
    missed_rings: int
    """Rings of the queue's members that were not answered (queue_log RINGNOANSWER, AMI AgentRingNoAnswer); one
    call may ring several members, and a member it rang in vain may still answer it later."""
    escalations: int
    """Answered calls an agent transferred to one of the site file's ``escalation_targets`` (counted at the
    transfer)."""
    repeat_callers: int
    """Offered calls whose caller number had entered a queue of the site within ``repeat_window_h`` before."""
    repeat_rate_pct: float | None
    """``repeat_callers`` / ``offered``, percent (the nearest open-PBX measure of first-contact resolution)."""
    responded: int
    """Contacts (chat, email) whose first reply an agent sent in the window (``contact_responded``)."""
    first_response_s: float
    """Sum of the first response times of the ``responded`` contacts whose time is known, seconds."""
    first_response_unknown: int
    """Responded contacts whose first response time is unknown (out of the average)."""
    avg_first_response_s: float | None
    """First response time: arrival to the agent's first reply, averaged, seconds; None before the first."""


@with_config(_CLOSED)
class WaitingCall(TypedDict):
    """A caller waiting in a queue now."""

    call_id: str
    caller: str
    """Caller number ("" when unknown)."""
    caller_name: str
    """Caller name ("" when unknown)."""
    position: int
    """Rank among the queue's waiting calls as the engine lists them, 1 = the oldest."""
    wait_s: float
    """Seconds since the call entered the queue."""
    repeat: bool
    """The caller's number entered a queue of the site within ``repeat_window_h`` before this call."""


@with_config(_CLOSED)
class QueueAgents(TypedDict):
    """A queue's members by derived state (an agent counts in every queue it is a member of)."""

    logged_in: int
    """Members of the queue (every state below)."""
    available: int
    """Members neither busy nor paused in this queue."""
    ringing: int
    on_call: int
    wrap_up: int
    paused: int
    """Members paused in this queue (and not busy)."""


@with_config(_CLOSED)
class QueueFigures(TypedDict):
    """One queue: its configuration, the callers waiting now, its agents and its windows."""

    name: str
    channel: ChannelName
    """The queue's channel: the site file's, else the first non-voice channel its events named, else ``voice``."""
    group: str | None
    """The queue's group in the site file (tiles can sum a group), None without one."""
    display_name: str | None
    """The queue's name for people (site file ``display_name``), None without one: show ``name``."""
    sl_threshold_s: float
    """Service-level threshold T, seconds (site file, else the PBX's, else the site default 20 s)."""
    sl_target_pct: float
    """Service-level target, percent (shown beside the SL as target/threshold, e.g. 80/20)."""
    waiting: int
    """Callers waiting now."""
    longest_wait_s: float
    """Wait of the oldest caller waiting now, seconds (0.0 when nobody waits)."""
    waiting_beyond_sl: int
    """Callers waiting now for longer than ``sl_threshold_s``."""
    waiting_calls: list[WaitingCall]
    """The waiting callers, oldest first, at most ``wallboard.core.snapshots.WAITING_CALLS_SHOWN`` (50)."""
    agents: QueueAgents
    required_agents: int | None
    """Erlang C: agents needed now to reach the target, from the interval's arrival rate (offered / elapsed
    interval seconds, at least 60 s) and the AHT of the interval, else of the day; None without traffic."""
    interval: Window
    """The current interval."""
    day: Window
    """The site-local day so far."""
    total: Window
    """Since the engine's state began (never reset)."""
    previous_interval: Window | None
    """The interval before the current one (all zero when the input skipped it); None before the first ends."""


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


# -- site ---------------------------------------------------------------------------------------------


@with_config(_CLOSED)
class AdherenceException(TypedDict):
    """A mismatch that lasted longer than its grace period today (open or closed)."""

    agent: str
    name: str
    team: str | None
    kind: ExceptionKind
    scheduled: str
    """The activity scheduled when the mismatch started."""
    actual: str
    """The agent's activity when the mismatch started."""
    start: IsoTime
    end: IsoTime | None
    """None while it lasts."""
    minutes: float
    """Its length so far, minutes."""


@with_config(_CLOSED)
class SiteAdherence(TypedDict):
    """The site's adherence with a schedule in force."""

    site: TeamAdherence
    schedule_version: int
    """Version of the stored schedule in force (``wb:{site}:config:schedules``)."""
    exceptions: list[AdherenceException]
    """Today's exceptions, newest first, at most 200."""
    unmapped: dict[str, int]
    """Transitions of scheduled agents into an unmapped pause reason since the site-local midnight, by reason."""


@with_config(_CLOSED)
class IntervalBounds(TypedDict):
    """The current interval."""

    start: IsoTime
    end: IsoTime
    minutes: int
    """Its length: 15, 30 or 60."""


@with_config(_CLOSED)
class DayBounds(TypedDict):
    """The site-local day."""

    start: IsoTime
    """Site-local midnight, in UTC."""


@with_config(_CLOSED)
class EngineCounters(TypedDict):
    """What the engine's state has counted since it began."""

    events_applied: int
    anomalies: dict[str, int]
    """Events ignored or corrected, by kind (``wallboard.core.engine.ANOMALIES``: duplicate_key, stale_event...)."""


@with_config(_CLOSED)
class Target(TypedDict):
    """What an alert is about."""

    kind: TargetKind
    name: str


@with_config(_CLOSED)
class OpenAlert(TypedDict):
    """An open alert (``wallboard.core.alerting``): optional keys only when set."""

    alert_id: str
    """``<threshold>:<target kind>:<target name>:<epoch of firing>``, stable while the alert is open."""
    threshold_id: str
    target: Target
    metric: MetricName
    level: AlertLevel
    severity: AlertSeverity
    """The threshold's severity (page, ticket, info) at ``alarm``; ``warning`` at ``warn``."""
    state: AlertState
    value: float | None
    """The metric's value at the last evaluation (its unit is the metric's)."""
    reason: str
    """Why, in words."""
    since: IsoTime
    """When it fired."""
    label: NotRequired[str]
    acknowledged_by: NotRequired[str]
    acknowledged_at: NotRequired[IsoTime]
    note: NotRequired[str]
    snoozed_until: NotRequired[IsoTime]


@with_config(_CLOSED)
class PendingAlert(TypedDict):
    """A threshold breached but not for its ``for_s`` yet (``wallboard.core.alerts.Evaluator.pending_alerts``):
    the level it heads for and when that level is entered if the value stays where it is."""

    target: Target
    threshold_id: str
    metric: MetricName
    level: AlertLevel
    """The level that is coming (warn, or alarm over a firing warn)."""
    value: float | None
    due: IsoTime
    """When the breach will have lasted the threshold's ``for_s``."""
    reason: str


# -- outbound campaigns -------------------------------------------------------------------------------


@with_config(_CLOSED)
class CampaignSpan(TypedDict):
    """A campaign's dialer figures over one span (``wallboard.core.campaigns``, its theory of operation)."""

    attempts: int
    """Calls the dialer placed (``dial_attempt``)."""
    results: int
    """Calls whose outcome the dialer told (``dial_result``): connects + no_answer + busy + machine + dropped."""
    connects: int
    """Calls a live person answered and an agent took (result ``answered``)."""
    no_answer: int
    busy: int
    machine: int
    """Calls an answering machine took (not live answers: out of the drop rate)."""
    dropped: int
    """Calls a live person answered and the dialer abandoned (no agent in time): the regulators' abandoned calls."""
    live: int
    """Calls answered by a live person: connects + dropped (the drop rate's denominator)."""
    connect_rate_pct: float | None
    """connects / results, percent; None before the first result."""
    drop_rate_pct: float | None
    """dropped / live, percent (Ofcom's and the FCC's abandoned-call rate); None without a live answer."""
    talk_s: float
    """Sum of the connects' talk time, seconds (the ones the dialer reported)."""
    avg_talk_s: float | None
    """talk_s / connects with a talk time, seconds; None without any."""
    talk_unknown: int
    """Connects without a talk time (out of the average)."""


@with_config(_CLOSED)
class CampaignFigures(TypedDict):
    """An outbound campaign: the site file's (from the start) or one seen in dialer events (site defaults)."""

    name: str
    display_name: str | None
    """The campaign's name for people (site file ``display_name``), None without one: show ``name``."""
    configured: bool
    """Listed in the site file's ``campaigns`` (False: judged by ``campaign_defaults``)."""
    regulator: CampaignRegulator
    """Whose rule sets the window and the limit: ``ofcom`` (24 h, 3 %), ``fcc`` (30 days, 3 %) or ``custom``."""
    window_h: float
    """The rolling window of ``window`` and of the drop rate, hours of elapsed time (DST-proof)."""
    limit_pct: float
    """The most the drop rate may be, percent."""
    drop_rate_pct: float | None
    """``window.drop_rate_pct``: the figure the limit applies to; None without a live answer in the window."""
    over_limit: bool
    """The window's drop rate is above ``limit_pct``: a legal matter for the site."""
    window: CampaignSpan
    """The last ``window_h`` hours (to the minute for 24 h, 30 minutes for 30 days; never shorter)."""
    today: CampaignSpan
    """The site-local day so far."""
    total: CampaignSpan
    """Since the engine's state began (never reset: it backs the Prometheus counters)."""


# -- the snapshot -------------------------------------------------------------------------------------


@with_config(_CLOSED)
class StateSnapshot(TypedDict):
    """What ``State.snapshot(now)`` returns (with the adherence keys once the runner merged them)."""

    site: str
    ts: IsoTime
    """The snapshot's ``now``: the age of the data is measured from it."""
    tz: str
    """The site's IANA time zone (windows are aligned to its clock)."""
    sl_formula: SlFormulaName
    """Denominator of every service level: offered - short abandons, answered, or offered."""
    interval: IntervalBounds
    day: DayBounds
    queues: dict[str, QueueFigures]
    """Every queue of the site file or seen in events, by name."""
    agents: dict[str, Agent]
    """Every agent seen in events (and scheduled ones), by id."""
    teams: dict[str, Team | ScheduleOnlyTeam]
    """Teams of the site file and of seen agents, by id."""
    counters: EngineCounters
    campaigns: NotRequired[dict[str, CampaignFigures]]
    """Outbound campaigns by name: present when the site file lists campaigns or a dialer event was seen."""
    adherence: NotRequired[SiteAdherence | None]
    """Present with a schedule in force."""


@with_config(_CLOSED)
class Snapshot(StateSnapshot):
    """The published snapshot of a site: what the runner stores, ``GET /api/v1/snapshot`` answers and /ws
    sends first (with ``"type": "snapshot"``)."""

    alerts: list[OpenAlert]
    """Open alerts, alarms first, then oldest first."""
    pending: NotRequired[list[PendingAlert]]
    """Breaches still inside their ``for_s`` delay, soonest due first (absent: none known)."""
    seq: int
    """Increases by one per publish; deltas carry it."""
    stream_id: str | None
    """Id of the last event-stream entry applied, None before the first."""


def snapshot_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :class:`Snapshot`, generated from the types above (a copy: yours)."""
    return copy.deepcopy(_generated())


@cache
def _generated() -> dict[str, Any]:
    """Generated once per process (some 0.1 s)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **TypeAdapter(Snapshot).json_schema()}
