"""Metric definitions: service level, ASA, AHT, abandon rate, occupancy, Erlang C, windows in site time.

Every function here is pure and small; the README quotes their docstrings as the definitions. Figures
are returned unrounded (rounding is a display concern). Percentages are in percent (0-100) and clamped to
that range, so no input can produce an impossible figure; a ratio whose denominator is 0 is ``None``
("no calls yet"), never 0 and never an error.

Definitions (T = the queue's service-level threshold, S = the short-abandon threshold):

* **Service level** (``formula``):
  ``offered_minus_short`` = answered within T / (offered - short abandons) (the default),
  ``answered`` = answered within T / answered, ``offered`` = answered within T / offered.
  A call is answered within T when its wait is <= T (Asterisk's rule).
* **Live service level**: the same, with the callers still waiting longer than T added to the
  denominator (they can no longer be answered within T), so the figure drops before they are lost.
* **ASA** = total wait of answered calls / answered calls.
* **AHT** = (talk + hold + wrap-up) / handled calls.
* A call whose wait (or handle time) is unknown (the source lacked it, or it was implausible) still
  counts in offered and answered (or handled), and is left out of SL and ASA (or the handle averages).
* **Abandon rate** = (abandoned - short abandons) / (offered - short abandons).
* **Repeat rate** = offered calls from a caller who called within the repeat window / offered.
* **First response time** (chat, email) = time from the contact's arrival to the agent's first reply, averaged
  over the contacts first replied to in the window whose time is known.
* **Occupancy** = handling time / (handling time + available time) of logged-in agents.
* **Erlang C**: probability that a call waits, given traffic A = arrival rate x AHT (erlangs) and
  N agents; service level = 1 - C x exp(-(N - A) x T / AHT); required agents = smallest N > A reaching
  the target. Computed with the Erlang B recurrence (no factorials, stable for thousands of agents).

Windows: intervals of 15, 30 or 60 minutes aligned to the *local* clock of the site's time zone and the
site-local day. Bounds are returned as aware UTC datetimes. On a daylight-saving change the day lasts
23 or 25 hours, intervals stay on local quarter hours, and the repeated autumn hour gives two distinct
intervals (the local clock reads the same, the UTC instants differ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from wallboard.core.schema import Window
    from wallboard.core.site import SlFormula


def _pct(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator`` in percent, clamped to [0, 100]; None when the denominator is <= 0."""
    if denominator <= 0:
        return None
    return min(100.0, max(0.0, 100.0 * numerator / denominator))


def _ratio(total: float, count: int) -> float | None:
    """``total / count``, never negative; None when there is nothing to average."""
    if count <= 0:
        return None
    return max(0.0, total / count)


def service_level(
    answered_within: int, offered: int, answered: int, short_abandoned: int, formula: SlFormula
) -> float | None:
    """Service level in percent by ``formula``; None when its denominator is 0."""
    return live_service_level(answered_within, offered, answered, short_abandoned, 0, formula)


def live_service_level(
    answered_within: int,
    offered: int,
    answered: int,
    short_abandoned: int,
    waiting_beyond_sl: int,
    formula: SlFormula,
) -> float | None:
    """Service level counting the callers still waiting beyond T as misses (added to the denominator)."""
    if formula == "answered":
        denominator = answered
    elif formula == "offered":
        denominator = offered
    else:
        denominator = offered - short_abandoned
    return _pct(answered_within, denominator + waiting_beyond_sl)


def asa(wait_s_answered: float, answered: int) -> float | None:
    """Average speed of answer: total wait of answered calls / answered calls (seconds)."""
    return _ratio(wait_s_answered, answered)


def aht(talk_s: float, hold_s: float, wrap_s: float, handled: int) -> float | None:
    """Average handle time: (talk + hold + wrap-up) / handled calls (seconds)."""
    return _ratio(talk_s + hold_s + wrap_s, handled)


def avg(total: float, count: int) -> float | None:
    """A plain average of a non-negative quantity (e.g. talk time per handled call); None when count is 0."""
    return _ratio(total, count)


def abandon_rate(abandoned: int, short_abandoned: int, offered: int) -> float | None:
    """(abandoned - short abandons) / (offered - short abandons), in percent."""
    return _pct(abandoned - short_abandoned, offered - short_abandoned)


def repeat_rate(repeat_callers: int, offered: int) -> float | None:
    """Offered calls from a caller who had called within the repeat window / offered calls, in percent."""
    return _pct(repeat_callers, offered)


def occupancy(handling_s: float, available_s: float) -> float | None:
    """Time handling (talk + hold + wrap) / (handling + available), in percent."""
    return _pct(handling_s, handling_s + available_s)


@dataclass(slots=True)
class Counters:
    """The counts of one window of one queue; the engine increments the fields directly.

    ``offered`` = answered + abandoned + timed_out + exited_other + unknown, each counted when the call
    finished waiting. ``handled``, ``talk_s``, ``hold_s`` and ``wrap_s`` are counted when the call ends.
    ``wait_unknown`` answered calls have no wait in ``wait_s_answered`` (the source lacked it or it was
    implausible): ASA and SL are over the others. ``handle_unknown`` handled calls have no times in the
    sums: the averages of talk, hold, wrap-up and handle time are over the others. ``missed_rings`` counts
    the rings of the queue's members that were not answered (not calls: a call may ring several members).
    ``escalations`` counts the answered calls transferred to an escalation target (counted at the transfer),
    ``repeat_callers`` the offered calls whose caller had called within the repeat window (counted with the
    outcome, so ``repeat_rate`` = repeat_callers / offered; ``wallboard.core.targets``). ``responded`` counts
    the contacts whose first reply came in the window (``wallboard.core.channels``), ``first_response_s`` sums
    their first response times but for the ``first_response_unknown`` ones.
    """

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    exited_other: int = 0
    unknown: int = 0
    answered_within_sl: int = 0
    handled: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    wait_s_answered: float = 0.0
    max_wait_s: float | None = None
    wait_unknown: int = 0
    handle_unknown: int = 0
    missed_rings: int = 0
    escalations: int = 0
    repeat_callers: int = 0
    responded: int = 0
    first_response_s: float = 0.0
    first_response_unknown: int = 0

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickle, also a checkpoint written before the last fields existed (they start at their defaults)."""
        values = state[1]
        for item in fields(self):
            object.__setattr__(self, item.name, values.get(item.name, item.default))

    def as_dict(self, formula: SlFormula, waiting_beyond_sl: int | None) -> Window:
        """The window's counts and derived metrics (``wallboard.core.schema.Window``); the live SL only when
        ``waiting_beyond_sl`` is given."""
        judged = self.wait_unknown  # answered calls whose wait is unknown cannot be judged against T
        sl_args = (self.answered_within_sl, self.offered - judged, self.answered - judged, self.short_abandoned)
        timed = self.handled - self.handle_unknown
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "timed_out": self.timed_out,
            "exited_other": self.exited_other,
            "unknown": self.unknown,
            "answered_within_sl": self.answered_within_sl,
            "service_level_pct": service_level(*sl_args, formula),
            "service_level_live_pct": (
                None if waiting_beyond_sl is None else live_service_level(*sl_args, waiting_beyond_sl, formula)
            ),
            "asa_s": asa(self.wait_s_answered, self.answered - judged),
            "avg_talk_s": avg(self.talk_s, timed),
            "avg_hold_s": avg(self.hold_s, timed),
            "avg_wrap_s": avg(self.wrap_s, timed),
            "aht_s": aht(self.talk_s, self.hold_s, self.wrap_s, timed),
            "abandon_rate_pct": abandon_rate(self.abandoned, self.short_abandoned, self.offered),
            "max_wait_s": self.max_wait_s,
            "handled": self.handled,
            "talk_s": self.talk_s,
            "hold_s": self.hold_s,
            "wrap_s": self.wrap_s,
            "wait_s_answered": self.wait_s_answered,
            "wait_unknown": self.wait_unknown,
            "handle_unknown": self.handle_unknown,
            "missed_rings": self.missed_rings,
            "escalations": self.escalations,
            "repeat_callers": self.repeat_callers,
            "repeat_rate_pct": repeat_rate(self.repeat_callers, self.offered),
            "responded": self.responded,
            "first_response_s": self.first_response_s,
            "first_response_unknown": self.first_response_unknown,
            "avg_first_response_s": avg(self.first_response_s, self.responded - self.first_response_unknown),
        }


# -- Erlang C ---------------------------------------------------------------------------------------


def _erlang_c_from_b(traffic: float, agents: int, erlang_b: float) -> float:
    """Erlang C from Erlang B for the same (traffic, agents): C = N·B / (N - A·(1 - B))."""
    if agents <= traffic:
        return 1.0
    return min(1.0, max(0.0, agents * erlang_b / (agents - traffic * (1.0 - erlang_b))))


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Probability that a call has to wait, for ``traffic_erlangs`` offered to ``agents`` agents.

    Uses the Erlang B recurrence B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)), then
    C = N·B / (N - A·(1 - B)). 1.0 when N <= A (the queue grows without bound), 0.0 without traffic.
    """
    if traffic_erlangs <= 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic_erlangs * b / (n + traffic_erlangs * b)
    return _erlang_c_from_b(traffic_erlangs, agents, b)


def _sl_from_c(c: float, traffic: float, agents: int, aht_s: float, threshold_s: float) -> float:
    if agents <= traffic:
        return 0.0
    value = 100.0 * (1.0 - c * math.exp(-(agents - traffic) * threshold_s / aht_s))
    return min(100.0, max(0.0, value))


def erlang_c_service_level(arrival_rate_per_s: float, aht_s: float, agents: int, threshold_s: float) -> float | None:
    """Expected service level in percent with ``agents`` agents; None without traffic or AHT."""
    if arrival_rate_per_s <= 0 or aht_s <= 0:
        return None
    traffic = arrival_rate_per_s * aht_s
    return _sl_from_c(erlang_c(traffic, agents), traffic, agents, aht_s, threshold_s)


def required_agents(
    arrival_rate_per_s: float, aht_s: float, threshold_s: float, target_pct: float, max_agents: int = 2000
) -> int | None:
    """Smallest number of agents N > traffic whose Erlang C service level reaches ``target_pct``.

    None when there is no traffic or no AHT, or when even ``max_agents`` agents do not reach the target.
    One pass of the Erlang B recurrence: O(N).
    """
    if arrival_rate_per_s <= 0 or aht_s <= 0:
        return None
    traffic = arrival_rate_per_s * aht_s
    b = 1.0
    for n in range(1, max_agents + 1):
        b = traffic * b / (n + traffic * b)
        if n <= traffic:
            continue
        c = _erlang_c_from_b(traffic, n, b)
        if _sl_from_c(c, traffic, n, aht_s, threshold_s) >= target_pct:
            return n
    return None


# -- windows in the site's time zone ----------------------------------------------------------------


def interval_start(ts: datetime, tz: ZoneInfo, minutes: int) -> datetime:
    """Start (aware UTC) of the ``minutes``-long interval holding ``ts``, aligned to the local clock in ``tz``."""
    local = ts.astimezone(tz)
    floored = local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)
    start = floored.astimezone(UTC)
    if start > ts:  # the floor fell into a skipped local half hour (Lord Howe): align to UTC instead
        utc = ts.astimezone(UTC)
        return utc.replace(minute=utc.minute - utc.minute % minutes, second=0, microsecond=0)
    return start


def interval_end(start: datetime, tz: ZoneInfo, minutes: int) -> datetime:
    """End (aware UTC, exclusive) of the interval that starts at ``start``: the next local boundary."""
    candidate = start + timedelta(minutes=minutes)
    aligned = interval_start(candidate, tz, minutes)
    return aligned if aligned > start else candidate


def day_start(ts: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the site-local day holding ``ts``, as aware UTC."""
    return _local_midnight(ts.astimezone(tz).date(), tz)


def day_end(ts: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight that ends the site-local day holding ``ts`` (exclusive), as aware UTC."""
    return _local_midnight(ts.astimezone(tz).date() + timedelta(days=1), tz)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
