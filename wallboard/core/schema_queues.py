"""The snapshot's queue figures: ``QueueFigures`` per queue with its ``Window``s, waiting calls and agent counts.

Part of ``wallboard.core.schema`` (the snapshot's types, re-exported there): see its docstring for the
conventions and who writes what.
"""

from __future__ import annotations

from pydantic import with_config
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

from wallboard.core.schema_common import CLOSED as _CLOSED
from wallboard.core.schema_common import ChannelName

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
