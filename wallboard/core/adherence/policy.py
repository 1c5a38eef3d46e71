"""How a site judges adherence: which activities exist, what each agent state counts as, the grace periods.

Theory of operation. A schedule names *activities* (``work``, ``break``, ``lunch``...); the engine
knows *derived agent states* (``available``, ``on_call``, ``paused`` with a reason...). The policy is
the table between them, from the site file's ``adherence:`` section::

    adherence:
      grace_s: 120                     # default grace before "out of adherence"
      grace_by_activity: {break: 60}   # per scheduled activity
      activities: [coaching]           # site-defined activities on top of the built-in ones
      pause_reasons: {Coaching 1:1: coaching}   # merged over DEFAULT_PAUSE_REASONS
      states: {ringing: work}          # merged over DEFAULT_STATES

Pause reasons match case-insensitively and ignoring surrounding blanks. A pause reason that maps
nowhere is never guessed: ``actual_activity`` answers ``unmapped:<reason>`` (``unmapped:`` for an
empty reason), which matches no scheduled activity, so the agent is out of adherence and the reason
is shown as it is and counted by whoever calls this.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PrivateAttr, model_validator

BUILTIN_ACTIVITIES: tuple[str, ...] = ("work", "break", "lunch", "training", "meeting", "offline")
UNMAPPED_PREFIX = "unmapped:"
ACTIVITY_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"

DEFAULT_STATES: dict[str, str] = {
    "available": "work",
    "ringing": "work",
    "on_call": "work",
    "wrap_up": "work",
    "logged_out": "offline",
}
DEFAULT_PAUSE_REASONS: dict[str, str] = {
    "break": "break",
    "lunch": "lunch",
    "training": "training",
    "meeting": "meeting",
}


def _fold(reason: str) -> str:
    return reason.strip().casefold()


class AdherencePolicy(BaseModel):
    """The site's mapping of states and pause reasons to activities, and the grace periods."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grace_s: NonNegativeFloat = 120.0
    grace_by_activity: dict[str, NonNegativeFloat] = Field(default_factory=dict)
    activities: tuple[str, ...] = ()
    pause_reasons: dict[str, str] = Field(default_factory=dict)
    states: dict[str, str] = Field(default_factory=dict)
    _reasons: dict[str, str] = PrivateAttr(default_factory=dict)
    _states: dict[str, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._reasons = {**DEFAULT_PAUSE_REASONS, **{_fold(k): v for k, v in self.pause_reasons.items()}}
        self._states = {**DEFAULT_STATES, **self.states}

    @model_validator(mode="after")
    def _known_activities(self) -> AdherencePolicy:
        known = set(self.all_activities)
        problems = [f"activities: {a!r} is not a valid activity name" for a in self.activities if not _slug(a)]
        for where, table in (("grace_by_activity", self.grace_by_activity), ("pause_reasons", self.pause_reasons)):
            values = table if where == "grace_by_activity" else table.values()
            problems += [f"{where}: unknown activity {a!r}" for a in values if a not in known]
        problems += [f"states: unknown activity {a!r}" for a in self.states.values() if a not in known]
        problems += [f"states: unknown state {s!r}" for s in self.states if s not in DEFAULT_STATES]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def all_activities(self) -> tuple[str, ...]:
        """Built-in activities, then the site's own, without repeats."""
        return tuple(dict.fromkeys((*BUILTIN_ACTIVITIES, *self.activities)))

    def grace_for(self, activity: str | None) -> float:
        """Seconds an agent may differ from ``activity`` before being out of adherence."""
        if activity is None:
            return self.grace_s
        return self.grace_by_activity.get(activity, self.grace_s)

    def actual_activity(self, state: str, reason: str | None) -> str:
        """The activity an agent in derived ``state`` (``paused`` with ``reason``) is doing."""
        if state == "paused":
            folded = _fold(reason or "")
            mapped = self._reasons.get(folded)
            return mapped if mapped is not None else UNMAPPED_PREFIX + (reason or "").strip()
        return self._states.get(state, UNMAPPED_PREFIX + state)


def is_unmapped(activity: str) -> bool:
    return activity.startswith(UNMAPPED_PREFIX)


def _slug(name: str) -> bool:
    return re.fullmatch(ACTIVITY_PATTERN, name) is not None
