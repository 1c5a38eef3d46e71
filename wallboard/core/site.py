"""The site file: what a contact center is made of (queues, teams, agents), independent of any PBX.

One agent has one identity across AMI and queue_log: the PBX names a member by its interface
(``Local/agent01@agents/n``, ``PJSIP/1001``) on some lines and by its member name
(``Alice Nguyen``) on others. The site file lists both as aliases of one agent id, and
``AgentDirectory`` resolves any of them. Without a site file, the directory learns the link
whenever a source tells both names at once (every AMI member event does).

Example (YAML)::

    site: paris
    timezone: Europe/Paris
    interval_minutes: 15
    short_abandon_s: 5
    sl_formula: offered_minus_short
    queues:
      support: {sl_threshold_s: 20, sl_target_pct: 80, group: Care, wrapup_s: 3}
    teams:
      care-a: {name: "Care A"}
    agents:
      agent01:
        name: Alice Nguyen
        team: care-a
        aliases: ["Local/agent01@agents/n", "Alice Nguyen"]
    thresholds:            # warn/alarm levels (wallboard.core.thresholds; examples/thresholds.yaml)
      - {id: sl-low, metric: service_level_pct, warn: 80, alarm: 70, for_s: 180}
    adherence:             # activities, pause reasons -> activities, grace (wallboard.core.adherence.policy)
      grace_s: 120
      pause_reasons: {Coaching: training}
    pause_reasons: [Break, Lunch, Coaching]   # the supervisor's pause menu (default: see menu_pause_reasons)
    targets: {calls_per_shift: 60, shift_hours: 8, aht_s: 300, missed_rings_per_day: 3, occupancy_pct: [70, 90]}
    escalation_targets: ["2000", "second-level"]   # transfers there are escalations (wallboard.core.targets)
    repeat_window_h: 24                            # a caller calling again within it is a repeat caller
    campaign_defaults: {regulator: ofcom}          # outbound campaigns not listed below (wallboard.core.campaigns)
    campaigns:
      renewals: {display_name: Renewals, regulator: fcc}           # 30 days, 3 %
      winback: {regulator: custom, window_h: 48, limit_pct: 2.5}
    channel_capacity: {chat: 3}    # contacts per agent at once, per channel (wallboard.core.channels)

A queue's ``channel`` (``voice``, ``chat``, ``email``, ``callback``, ``outbound``) and an agent's
``capacity`` (``{chat: 4}``) sit in their entries.

A threshold scoped to a queue or team the file does not list is an error naming its field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, field_validator, model_validator

from wallboard.core.actions import DEFAULT_PAUSE_REASONS, MAX_REASON
from wallboard.core.adherence.policy import AdherencePolicy
from wallboard.core.campaigns import CampaignConfig, campaign_problems
from wallboard.core.events import Channel
from wallboard.core.targets import Targets, merged
from wallboard.core.thresholds import ThresholdSet
from wallboard.errors import UsageError

SlFormula = Literal["offered_minus_short", "answered", "offered"]
Capacity = Annotated[int, Field(ge=1, le=100)]


class QueueConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sl_threshold_s: NonNegativeFloat | None = None
    sl_target_pct: float = Field(default=80.0, ge=0, le=100)
    group: str | None = None
    wrapup_s: NonNegativeFloat | None = None
    display_name: str | None = None
    channel: Channel | None = None
    """The queue's channel (``wallboard.core.channels``); None: the channel its events name, else voice."""


class TeamConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    targets: Targets | None = None
    """The team's productivity targets, field by field over the site's (``wallboard.core.targets``)."""


class AgentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    team: str | None = None
    aliases: tuple[str, ...] = ()
    capacity: dict[Channel, Capacity] = Field(default_factory=dict)
    """Contacts of a channel the agent handles at once (``{chat: 3}``), over the site's ``channel_capacity``."""


class SiteConfig(BaseModel):
    """A site: its time zone, the metric windows and definitions, queues, teams and agents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str = Field(default="default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    timezone: str = "UTC"
    interval_minutes: Literal[15, 30, 60] = 15
    short_abandon_s: NonNegativeFloat = 5.0
    default_sl_threshold_s: NonNegativeFloat = 20.0
    default_sl_target_pct: float = Field(default=80.0, ge=0, le=100)
    sl_formula: SlFormula = "offered_minus_short"
    max_duration_s: float = Field(default=86_400.0, gt=0, le=30 * 86_400)
    """The longest plausible wait, talk, hold or wrap-up: a longer one is an anomaly, left out of the figures."""
    queues: dict[str, QueueConfig] = Field(default_factory=dict)
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    thresholds: ThresholdSet = Field(default_factory=ThresholdSet)
    adherence: AdherencePolicy = Field(default_factory=AdherencePolicy)
    pause_reasons: tuple[Annotated[str, Field(min_length=1, max_length=MAX_REASON)], ...] | None = None
    """The pause reasons a supervisor picks from; None: ``menu_pause_reasons`` chooses."""
    targets: Targets | None = None
    """Productivity targets of every agent (a team's ``targets`` override them field by field)."""
    escalation_targets: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = ()
    """Transfer targets that make a transfer an escalation: extensions, queue extensions or names."""
    repeat_window_h: float = Field(default=24.0, gt=0, le=30 * 24)
    """A caller who calls again within this many hours is a repeat caller."""
    campaigns: dict[str, CampaignConfig] = Field(default_factory=dict)
    """Outbound campaigns: display name, regulator (``ofcom``, ``fcc``, ``custom``), drop-rate window and limit."""
    campaign_defaults: CampaignConfig = Field(default_factory=CampaignConfig)
    """How campaigns the file does not list are judged (regulator ``ofcom`` when unset)."""
    channel_capacity: dict[Channel, Capacity] = Field(default_factory=dict)
    """Every agent's capacity per channel (``{chat: 3, email: 5}``); a channel not listed: 1."""

    def agent_targets(self, team: str | None) -> Targets | None:
        """The targets of an agent of ``team`` (None: no team): the team's over the site's; None without any."""
        config = self.teams.get(team) if team else None
        return merged(self.targets, config.targets if config else None)

    @property
    def menu_pause_reasons(self) -> tuple[str, ...]:
        """``pause_reasons``, else the reasons of the site file's adherence table and then a sensible list."""
        if self.pause_reasons is not None:
            return self.pause_reasons
        configured = [reason for reason in self.adherence.pause_reasons if 0 < len(reason) <= MAX_REASON]
        known = {reason.casefold() for reason in configured}
        return (*configured, *(reason for reason in DEFAULT_PAUSE_REASONS if reason.casefold() not in known))

    @field_validator("thresholds", mode="before")
    @classmethod
    def _threshold_list(cls, value: Any) -> Any:
        return {"thresholds": value} if isinstance(value, list | tuple) else value

    @model_validator(mode="after")
    def _campaigns_resolve(self) -> SiteConfig:
        problems = campaign_problems(self.campaigns, self.campaign_defaults)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _thresholds_name_known_targets(self) -> SiteConfig:
        problems = self.thresholds.check_against(self)
        if problems:
            raise ValueError("; ".join(f"{problem.path}: {problem.message}" for problem in problems))
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SiteFileError(UsageError):
    """The site file is missing, unreadable or invalid; the message says which and where."""


def load_site_file(path: Path) -> SiteConfig:
    """Read and validate a YAML site file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SiteFileError(f"cannot read site file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SiteFileError(f"site file {path} is not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SiteFileError(f"site file {path} must be a mapping, read {type(raw).__name__}")
    try:
        return SiteConfig.model_validate(raw)
    except ValueError as exc:
        raise SiteFileError(f"site file {path} is invalid: {exc}") from exc


class AgentDirectory:
    """Resolves any name the PBX uses for a member to one agent id.

    Resolution order: a site-file agent id or alias; else a link learned from a source that
    told two names at once (interface and member name); else the name itself. When a link is
    learned, the member name is the id (the name the PBX uses on call lines), so replay keys
    are stable whichever record came first.
    """

    def __init__(self, site: SiteConfig) -> None:
        self._alias: dict[str, str] = {}
        for agent_id, agent in site.agents.items():
            self._alias[agent_id] = agent_id
            for alias in agent.aliases:
                self._alias[alias] = agent_id
            if agent.name:
                self._alias.setdefault(agent.name, agent_id)
        self._configured = frozenset(site.agents)

    def resolve(self, name: str) -> str:
        return self._alias.get(name, name)

    def learn(self, interface: str | None, member_name: str | None) -> str | None:
        """Link an interface and a member name; return the agent id, or None if nothing to learn.

        Returns the id the pair now resolves to. When the interface was already known under
        its own name (it logged in before we learned its member name), the caller should
        merge that old identity into the returned one: ``previous_id`` tells it.
        """
        if not interface or not member_name:
            return None
        by_interface = self._alias.get(interface)
        by_name = self._alias.get(member_name)
        agent_id = by_name or by_interface or member_name
        if by_interface in self._configured and by_name is None:
            agent_id = by_interface
        self._alias[interface] = agent_id
        self._alias[member_name] = agent_id
        return agent_id

    def aliases_of(self, agent_id: str) -> list[str]:
        return sorted(name for name, target in self._alias.items() if target == agent_id and name != agent_id)
