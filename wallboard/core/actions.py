"""Supervisor actions on agents: what a supervisor asks the PBX to do, and how far it got (pure models).

Theory of operation
-------------------
A supervisor asks for one ``AgentAction`` (pause, unpause, login, logout or monitor an agent). The API
validates it, stores it ``pending`` and appends it to the site's actions stream; the AMI collector
executes it on the PBX and records the outcome: ``done`` when the PBX confirmed it, ``failed`` with
the PBX's own message (or the collector's reason: an agent it cannot find, a static member, no call
to listen to, no answer within the time limit). A monitor action is ``done`` once the spy call is
answered, and gets ``ended`` when that call hangs up.

Kinds are enabled in families (``FAMILIES``): ``pause`` covers pause and unpause, ``login`` covers
login and logout, ``monitor`` is on its own. Nothing is enabled unless the settings say so.

Agent identity: the wallboard's agent id is the site file's id or the PBX's member name; the PBX
knows a member by its interface and member name. The API passes every name it knows for the agent
(``names``: the id, the site file's display name and aliases) and the collector, which sees the
members' interfaces, takes the first it knows (``collectors.ami.actions``).

``MONITOR_OPTIONS`` are ChanSpy options (Asterisk's ChanSpy documentation): ``q`` no beep nor channel
name spoken, ``E`` exit when the spied-on channel hangs up, ``S`` stop when no channel is left to spy
on; ``w`` whisper (the supervisor talks to the agent only), ``B`` barge (the supervisor talks to both
parties; lower-case ``b`` would only restrict spying to bridged channels). The spied channel is the
agent's current call channel, given as ChanSpy's prefix: no other channel is listened to.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ActionKind = Literal["pause", "unpause", "login", "logout", "monitor"]
ActionFamily = Literal["pause", "login", "monitor"]
ActionState = Literal["pending", "done", "failed"]
MonitorMode = Literal["listen", "whisper", "barge"]

KINDS: tuple[ActionKind, ...] = ("pause", "unpause", "login", "logout", "monitor")
FAMILIES: tuple[ActionFamily, ...] = ("pause", "login", "monitor")
FAMILY_OF: dict[ActionKind, ActionFamily] = {
    "pause": "pause",
    "unpause": "pause",
    "login": "login",
    "logout": "login",
    "monitor": "monitor",
}
MONITOR_OPTIONS: dict[MonitorMode, str] = {"listen": "qES", "whisper": "qESw", "barge": "qESB"}
MAX_REASON = 64
ANSWER_TIMEOUT_S = 10.0  # a PBX response that has not come by then: the action failed
RING_TIMEOUT_S = 30.0  # how long the supervisor's phone rings for a monitor call (Originate Timeout)
DEFAULT_PAUSE_REASONS = ("Break", "Lunch", "Coaching", "Training", "Meeting", "Admin")
INTERFACE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*/[^\s,|;()]{1,120}$"  # PJSIP/2001, SIP/alice, Local/2001@from-internal


class AgentAction(BaseModel):
    """One action as the API queued it; the collector executes it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    kind: ActionKind
    agent: str = Field(min_length=1, max_length=256)
    names: tuple[str, ...] = ()
    by: str
    requested: str  # ISO 8601, UTC
    queue: str | None = None
    reason: str | None = Field(default=None, max_length=MAX_REASON)
    penalty: int | None = Field(default=None, ge=0, le=1000)
    mode: MonitorMode | None = None
    extension: str | None = Field(default=None, pattern=INTERFACE_PATTERN)
    collector: str | None = Field(default=None, max_length=64)  # the PBX collector to run it (None: the only one)

    @property
    def family(self) -> ActionFamily:
        return FAMILY_OF[self.kind]

    @property
    def candidates(self) -> tuple[str, ...]:
        """The agent's names to look the PBX member up by, the agent id first."""
        return tuple(dict.fromkeys((self.agent, *self.names)))


class ActionStatus(BaseModel):
    """Where an action stands, as ``GET /api/v1/actions/{id}`` shows it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    kind: ActionKind
    agent: str
    by: str
    requested: str
    state: ActionState
    message: str | None = None
    finished: str | None = None  # when it became done or failed
    ended: str | None = None  # a monitor action: when the spy call hung up
    queue: str | None = None
    reason: str | None = None
    mode: MonitorMode | None = None
    extension: str | None = None


def chanspy_data(channel: str, mode: MonitorMode) -> str:
    """ChanSpy's argument: the agent's exact channel as the prefix, then the options of ``mode``."""
    return f"{channel},{MONITOR_OPTIONS[mode]}"


def parse_families(raw: str | tuple[str, ...] | list[str]) -> tuple[ActionFamily, ...]:
    """The enabled families of ``pause,login,monitor`` (``all`` for every one, empty or ``none`` for none).

    Raises ValueError naming an unknown entry.
    """
    entries = raw.split(",") if isinstance(raw, str) else list(raw)
    wanted: list[ActionFamily] = []
    for entry in (item.strip().lower() for item in entries):
        if entry in ("", "none"):
            continue
        if entry == "all":
            return FAMILIES
        family = next((f for f in FAMILIES if f == entry), None)
        if family is None:
            raise ValueError(f"unknown action kind {entry!r}, expected some of {', '.join(FAMILIES)} (or all)")
        wanted.append(family)
    return tuple(f for f in FAMILIES if f in wanted)


def not_runnable(
    action: AgentAction, at: datetime, enabled: Collection[ActionFamily], answer_timeout_s: float
) -> str | None:
    """Why a collector must not run ``action`` read at ``at``: its kind not enabled there, or asked more than
    ``answer_timeout_s`` ago (the PBX was unreachable meanwhile: doing it now would surprise the supervisor); None
    when it may."""
    if action.family not in enabled:
        return f"{action.kind} actions are not enabled on this collector"
    try:
        late = (at - datetime.fromisoformat(action.requested)).total_seconds()
    except (ValueError, TypeError):
        late = 0.0
    if late > answer_timeout_s:
        return f"asked {late:.0f} s ago, more than {answer_timeout_s:g} s: not sent (was the PBX unreachable?)"
    return None
