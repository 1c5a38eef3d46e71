"""Productivity targets, escalation targets and repeat callers: the site file's words and their meaning. Pure.

Targets
-------
The site file sets ``targets`` for the whole site and, per team, ``teams.<id>.targets``; a team's target
overrides the site's field by field (a field the team does not set is the site's)::

    targets: {calls_per_shift: 60, shift_hours: 8, aht_s: 300, missed_rings_per_day: 3, occupancy_pct: [70, 90]}
    teams:
      care-a: {name: "Care A", targets: {calls_per_shift: 70}}

An agent's progress (:func:`progress`, the snapshot's ``agents.<id>.target``) is judged *pro rata*: the
calls expected so far are ``calls_per_shift x basis / shift`` where the basis is the agent's scheduled
working time so far today when a schedule is in force for the agent, else the time logged in today.
So an agent two hours into an eight-hour shift with a target of 60 is expected to have handled 15:

* calls: ``met`` when handled today >= expected, ``near`` from ``NEAR_PCT`` (80 %) of expected, else
  ``behind``; None without a calls target or before any basis time (nothing is expected yet);
* AHT: ``over`` when today's AHT is above ``aht_s``; missed rings: ``over`` above ``missed_rings_per_day``;
  occupancy: ``low`` / ``high`` outside the ``occupancy_pct`` band (inclusive), else ``ok``; None without
  the target or without the figure.

Escalations
-----------
A transfer whose target the site file lists under ``escalation_targets`` (a supervisor's extension, a
second-level queue's extension or name) is an escalation. Targets are compared by :func:`dial_key`:
case-folded, without the technology prefix (``PJSIP/``, ``Local/``), the dialplan context (``@from-
internal``), a channel's unique suffix (``-0000001a``) or a Local channel's ``/n``; so ``2000``,
``2000@from-internal``, ``PJSIP/2000-0000001a`` and ``Local/2000@from-internal/n`` are all ``2000``.

Repeat callers
--------------
A call is a *repeat* when the same caller number entered any queue of the site within the site file's
``repeat_window_h`` (default 24) before it. Numbers that identify nobody (empty, ``anonymous``,
``unknown``, ``restricted``, ``private``, ``<unknown>``...) are never repeats. :class:`RepeatCallers`
remembers the last entry time per number, as a one-way digest, for the window only (older ones are forgotten),
and at most ``MEMORY`` numbers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, field_validator

__all__ = [
    "NEAR_PCT",
    "Escalations",
    "RepeatCallers",
    "Targets",
    "dial_key",
    "merged",
    "progress",
]

NEAR_PCT = 80.0  # calls at or above this share of the expected count are "near" the target
MEMORY = 100_000  # caller numbers remembered for repeat detection (the oldest forgotten first beyond it)
_NOBODY = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable", "<unknown>", "none"})
_TECH = re.compile(r"^[a-z0-9_]+/")
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{6,}(;\d+)?$")

CallsState = Literal["met", "near", "behind"]
OverState = Literal["ok", "over"]
BandState = Literal["low", "ok", "high"]


class Targets(BaseModel):
    """Productivity targets of the site or of a team (every field optional: unset means not judged)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls_per_shift: NonNegativeInt | None = None
    """Calls an agent should handle in a whole shift."""
    shift_hours: float = Field(default=8.0, gt=0, le=24)
    """The shift the calls target is for."""
    aht_s: PositiveFloat | None = None
    """Highest acceptable average handle time today, seconds."""
    missed_rings_per_day: NonNegativeInt | None = None
    """Most rings an agent may leave unanswered in a day."""
    occupancy_pct: tuple[float, float] | None = None
    """The band of today's occupancy (low, high), percent, inclusive."""

    @field_validator("occupancy_pct")
    @classmethod
    def _band(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] <= value[1] <= 100:
            raise ValueError(f"expected [low, high] with 0 <= low <= high <= 100, read {list(value)}")
        return value


def merged(site: Targets | None, team: Targets | None) -> Targets | None:
    """The targets of a team's agent: the team's fields where it sets them, else the site's."""
    if team is None:
        return site
    if site is None:
        return team
    return site.model_copy(update={name: getattr(team, name) for name in team.model_fields_set})


def progress(
    targets: Targets,
    *,
    handled: int,
    aht_s: float | None,
    missed_rings: int,
    occupancy_pct: float | None,
    logged_in_s: float,
    scheduled_s: float | None,
) -> dict[str, Any]:
    """An agent's progress against ``targets`` (the snapshot's ``target``; see the module docstring).

    ``scheduled_s``: the agent's scheduled working seconds so far today when a schedule is in force for
    the agent (then the basis), else None (the basis is ``logged_in_s``).
    """
    basis, basis_s = ("scheduled", scheduled_s) if scheduled_s is not None else ("logged_in", logged_in_s)
    basis_s = max(0.0, basis_s)
    expected = pct = None
    calls: CallsState | None = None
    if targets.calls_per_shift is not None:
        expected = targets.calls_per_shift * basis_s / (targets.shift_hours * 3600.0)
        if expected > 0:
            pct = 100.0 * handled / expected
            calls = "met" if pct >= 100.0 else "near" if pct >= NEAR_PCT else "behind"
    aht: OverState | None = None
    if targets.aht_s is not None and aht_s is not None:
        aht = "over" if aht_s > targets.aht_s else "ok"
    rings: OverState | None = None
    if targets.missed_rings_per_day is not None:
        rings = "over" if missed_rings > targets.missed_rings_per_day else "ok"
    band = targets.occupancy_pct
    occupancy: BandState | None = None
    if band is not None and occupancy_pct is not None:
        occupancy = "low" if occupancy_pct < band[0] else "high" if occupancy_pct > band[1] else "ok"
    return {
        "basis": basis,
        "basis_s": basis_s,
        "calls_expected": expected,
        "calls_pct": pct,
        "calls": calls,
        "aht_target_s": targets.aht_s,
        "aht": aht,
        "missed_rings_limit": targets.missed_rings_per_day,
        "missed_rings": rings,
        "occupancy_band": None if band is None else [band[0], band[1]],
        "occupancy": occupancy,
    }


def dial_key(target: str) -> str:
    """A transfer target or escalation entry reduced to the number or name dialled (see the module docstring)."""
    key = target.strip().casefold()
    key = _TECH.sub("", key, count=1)
    key = key.split("@", 1)[0]
    key = key.removesuffix("/n")
    return _CHANNEL_SUFFIX.sub("", key)


class Escalations:
    """Decides whether a transfer target is one of the site's escalation targets."""

    __slots__ = ("_keys",)

    def __init__(self, targets: Iterable[str]) -> None:
        self._keys = frozenset(key for key in (dial_key(t) for t in targets) if key)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __contains__(self, target: object) -> bool:
        return isinstance(target, str) and bool(self._keys) and dial_key(target) in self._keys


class RepeatCallers:
    """The last time each caller number entered a queue; tells whether a new entry is a repeat.

    Numbers are kept as a 64-bit one-way digest (BLAKE2b), never as text: the memory holds no caller number, and
    an entry costs a small int and a float (a day of 100,000 distinct callers: about 10 MB). Two numbers sharing a
    digest would count as one caller: a chance of about 1 in 10^14 a day for such a center.
    """

    __slots__ = ("window_s", "_last")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: dict[int, float] = {}  # digest -> last entry (epoch s), oldest first (insertion order)

    def entered(self, caller: str, ts: datetime) -> bool:
        """A call from ``caller`` entered at ``ts``: True when the same number entered within the window before."""
        number = caller.strip()
        if number.casefold() in _NOBODY:
            return False
        key = int.from_bytes(hashlib.blake2b(number.encode(), digest_size=8).digest(), "big")
        now = ts.timestamp()
        remembered = self._last
        last = remembered.pop(key, None)
        repeat = last is not None and 0.0 <= now - last <= self.window_s
        remembered[key] = now if last is None or now > last else last  # an out-of-order entry keeps the latest
        if len(remembered) > MEMORY:
            del remembered[next(iter(remembered))]
        horizon = now - self.window_s  # numbers not seen within the window are forgotten (personal data)
        while remembered:
            oldest = next(iter(remembered))
            if remembered[oldest] >= horizon:
                break
            del remembered[oldest]
        return repeat

    def __len__(self) -> int:
        return len(self._last)
