"""Thresholds: the validated configuration that turns a tile amber (warn) or red (alarm) and pages someone.

Theory of operation
-------------------
A ``Threshold`` watches one ``Metric`` over a ``Scope`` and has up to two levels, ``warn`` and
``alarm`` (at least one). ``direction`` says which side is bad: ``above`` (waits, abandons, data age)
or ``below`` (service level, agents available, adherence, collector connected); when omitted it
defaults per metric (``METRICS``). A value is *beyond* a level when it is strictly past it
(``> level`` above, ``< level`` below).

Hysteresis: an active level clears only once the value is back past its clear point (``<= clear``
above, ``>= clear`` below). ``clear`` is the warn level's clear point and defaults to the warn level
itself (no hysteresis); the alarm level clears at ``alarm - (warn - clear)`` (the same band shifted
to the alarm level). With only an alarm level, ``clear`` belongs to the alarm level.

``for_s`` is how long a value must stay beyond a level before that level is entered; ``active``
lists the local hours in the site's time zone when the threshold is evaluated (empty: always;
``start > end`` runs across midnight and ``days`` are the days on which a window *starts*; ``start
== end`` is the whole day); ``min_offered`` is the traffic below which a queue metric is not judged
(offered calls in the metric's window: the current interval, the day for ``service_level_day_pct``).

Scopes: ``site`` (the default: every queue, every agent, every campaign, the pipeline), ``queue:<name>``,
``team:<name>`` or ``campaign:<name>`` (``campaign_drop_rate_pct``, an outbound campaign's drop rate over its
regulator's window: ``wallboard.core.campaigns``); ``channel`` (``chat``...) limits a queue or agent metric to
the queues of that channel and the agents in one of them (``agent_concurrency_pct`` then reads that channel's
load, else the agent's highest). A more specific threshold overrides the site default for the same metric (and
pause reason): ``ThresholdSet.overridden`` names the queues or teams the site default skips.

Validation errors are located at the field (``warn``, ``alarm``, ``clear``, ...) with the reason in
words. ``load_thresholds`` turns them into ``ThresholdError.problems`` with paths such as
``thresholds[2].alarm``; ``ThresholdSet.check_against(site)`` reports queues and teams the site file
does not know.

The metric catalogue (``Metric``, ``MetricSpec``, ``METRICS``) is ``wallboard.core.threshold_metrics`` and the
active hours (``ActiveWindow``) are ``wallboard.core.threshold_hours``; both are re-exported here, and the
classes a checkpoint pickles keep this module's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    NonNegativeInt,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from wallboard.core.events import Channel
from wallboard.core.text import CleanText

# the metric catalogue and the active hours live apart: their names stay importable (and pickled) from here
from wallboard.core.threshold_hours import WEEKDAYS as WEEKDAYS
from wallboard.core.threshold_hours import ActiveWindow as ActiveWindow
from wallboard.core.threshold_hours import Weekday as Weekday
from wallboard.core.threshold_metrics import METRICS as METRICS
from wallboard.core.threshold_metrics import Direction as Direction
from wallboard.core.threshold_metrics import Metric as Metric
from wallboard.core.threshold_metrics import MetricSpec as MetricSpec
from wallboard.core.threshold_metrics import ScopeKind as ScopeKind
from wallboard.core.threshold_metrics import Severity as Severity
from wallboard.core.threshold_metrics import TargetKind as TargetKind
from wallboard.core.threshold_metrics import Unit as Unit
from wallboard.core.threshold_metrics import Window as Window
from wallboard.errors import WallboardError

if TYPE_CHECKING:
    from wallboard.core.site import SiteConfig

CONFIG_NAME = "thresholds"  # the stored document wb:{site}:config:thresholds, and its notices' "type"


_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class ThresholdError(WallboardError):
    """Thresholds that cannot be loaded; ``problems`` lists each field path with the reason in words."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in self.problems))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a threshold: where (``thresholds[2].scope``) and why."""

    path: str
    message: str


# -- scope and active hours -------------------------------------------------------------------------


class Scope(BaseModel):
    """Where a threshold applies: the whole site (default), one queue, or one team (its agents)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ScopeKind = "site"
    name: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """Accept ``"site"``, ``"queue:sales"``, ``"team:care-a"`` and ``{"queue": "sales"}``."""
        if isinstance(data, str):
            kind, _, name = data.partition(":")
            return {"kind": kind.strip(), "name": name.strip() or None}
        if isinstance(data, Mapping) and len(data) == 1 and next(iter(data)) in ("queue", "team", "campaign"):
            ((kind, name),) = data.items()
            return {"kind": kind, "name": name}
        return data

    @model_validator(mode="after")
    def _named(self) -> Scope:
        if self.kind == "site" and self.name is not None:
            raise ValueError(f"a site scope takes no name, read {self.name!r}")
        if self.kind != "site" and self.name is None:
            raise ValueError(f"a {self.kind} scope needs a name, e.g. '{self.kind}:sales'")
        return self

    def __str__(self) -> str:
        return self.kind if self.name is None else f"{self.kind}:{self.name}"


# -- the threshold ----------------------------------------------------------------------------------


def _spec(info: ValidationInfo) -> MetricSpec | None:
    metric = info.data.get("metric")
    return METRICS[metric] if isinstance(metric, Metric) else None


def _check_unit(name: str, value: float | None, spec: MetricSpec | None) -> None:
    if value is None or spec is None:
        return
    if spec.unit == "percent" and not 0 <= value <= 100:
        raise ValueError(f"{name} {value:g} is not a percentage: expected 0 to 100")
    if spec.unit == "flag" and not 0 <= value <= 1:
        raise ValueError(f"{name} {value:g} is outside 0 (disconnected) to 1 (connected)")
    if spec.unit == "seconds" and value < 0:
        raise ValueError(f"{name} {value:g} is a duration in seconds: expected >= 0")
    if spec.unit == "count" and value < 0 and not spec.signed:
        raise ValueError(f"{name} {value:g} is a count: expected >= 0")


def _past(value: float, level: float, direction: Direction) -> bool:
    """Strictly beyond ``level`` on the bad side."""
    return value > level if direction is Direction.ABOVE else value < level


class Threshold(BaseModel):
    """One metric watched over one scope with warn/alarm levels; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="stable slug, unique in the set")
    metric: Metric
    scope: Scope = Scope()
    reason: str | None = Field(default=None, min_length=1, max_length=64, description="agent_pause_s only")
    channel: Channel | None = None
    """Only queues of this channel (queue metrics) or agents in a queue of it (agent metrics); None: all."""
    direction: Direction = Direction.ABOVE  # default per metric, filled in by _defaults
    warn: FiniteFloat | None = None
    alarm: FiniteFloat | None = Field(default=None, validate_default=True)
    clear: FiniteFloat | None = None
    for_s: FiniteFloat = 0.0
    active: tuple[ActiveWindow, ...] = ()
    min_offered: NonNegativeInt = 0  # default per metric, filled in by _defaults
    severity: Severity = "page"
    label: CleanText = Field(default="", max_length=200)  # shown on TVs and in notifications

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """Fill ``direction`` and ``min_offered`` from the metric's defaults when they are missing."""
        if not isinstance(data, Mapping):
            return data
        metric = data.get("metric")
        if not isinstance(metric, str) or metric not in METRICS:
            return data
        spec = METRICS[Metric(metric)]
        filled = dict(data)
        if filled.get("direction") is None:
            filled["direction"] = spec.direction
        if filled.get("min_offered") is None:
            filled["min_offered"] = spec.min_offered
        return filled

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(_SLUG, value):
            raise ValueError(
                f"read {value!r}, expected a stable slug: lowercase letters, digits, '-' or '_', at most 64 characters"
            )
        return value

    @field_validator("for_s")
    @classmethod
    def _duration(cls, value: float) -> float:
        if value < 0:
            raise ValueError(f"for_s {value:g} is a duration in seconds: expected >= 0")
        return value

    @field_validator("metric", mode="before")
    @classmethod
    def _known_metric(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in METRICS:
            raise ValueError(f"unknown metric {value!r}: expected one of {', '.join(METRICS)}")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_fits(cls, value: Scope, info: ValidationInfo) -> Scope:
        spec = _spec(info)
        if spec is not None and value.kind not in spec.scopes:
            allowed = " or ".join(sorted(spec.scopes))
            raise ValueError(f"{info.data['metric']} cannot be scoped to a {value.kind}: expected {allowed}")
        return value

    @field_validator("reason")
    @classmethod
    def _reason_for_pauses(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("metric") not in (None, Metric.AGENT_PAUSE_S):
            raise ValueError(f"a pause reason filters agent_pause_s only, not {info.data['metric']}")
        return value

    @field_validator("channel")
    @classmethod
    def _channel_for_queues_and_agents(cls, value: str | None, info: ValidationInfo) -> str | None:
        spec = _spec(info)
        if value is not None and spec is not None and spec.target not in ("queue", "agent"):
            raise ValueError(f"a channel limits queue and agent metrics only, not {info.data['metric']}")
        return value

    @field_validator("warn")
    @classmethod
    def _warn_unit(cls, value: float | None, info: ValidationInfo) -> float | None:
        _check_unit("warn", value, _spec(info))
        return value

    @field_validator("alarm")
    @classmethod
    def _alarm_order(cls, value: float | None, info: ValidationInfo) -> float | None:
        warn, direction = info.data.get("warn"), info.data.get("direction")
        if value is None:
            if warn is None and "warn" in info.data:
                raise ValueError("set a warn level, an alarm level or both (both are empty)")
            return value
        _check_unit("alarm", value, _spec(info))
        if warn is not None and direction is not None and _past(warn, value, direction):
            side = "below" if direction is Direction.ABOVE else "above"
            raise ValueError(
                f"alarm {value:g} is {side} warn {warn:g}: with direction {direction} the alarm level must be "
                f"the same as or further {direction} than the warn level"
            )
        return value

    @field_validator("clear")
    @classmethod
    def _clear_side(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return value
        _check_unit("clear", value, _spec(info))
        direction = info.data.get("direction")
        level = info.data.get("warn")
        if level is None:
            level = info.data.get("alarm")
        if level is not None and direction is not None and _past(value, level, direction):
            name = "warn" if info.data.get("warn") is not None else "alarm"
            need = "<=" if direction is Direction.ABOVE else ">="
            raise ValueError(
                f"clear {value:g} must be {need} the {name} level {level:g} (direction {direction}): "
                "an active level clears once the value is back past it"
            )
        return value

    @field_validator("min_offered")
    @classmethod
    def _traffic_window(cls, value: int, info: ValidationInfo) -> int:
        spec = _spec(info)
        if spec is not None and spec.window is None and value:
            raise ValueError(f"min_offered applies to queue metrics only, not {info.data['metric']}")
        return value

    @field_serializer("scope")
    def _dump_scope(self, value: Scope) -> str:
        return str(value)

    # -- derived levels ---------------------------------------------------------------------------

    @property
    def spec(self) -> MetricSpec:
        return METRICS[self.metric]

    @property
    def key(self) -> tuple[Metric, str | None]:
        """Thresholds with the same key: a more specific scope overrides the site default."""
        return self.metric, None if self.reason is None else self.reason.casefold()

    @property
    def warn_clear(self) -> float | None:
        """Where an active warn clears: ``clear``, else the warn level itself."""
        if self.warn is None:
            return None
        return self.warn if self.clear is None else self.clear

    @property
    def alarm_clear(self) -> float | None:
        """Where an active alarm de-escalates: the alarm level shifted by the warn level's hysteresis band."""
        if self.alarm is None:
            return None
        if self.warn is None:
            return self.alarm if self.clear is None else self.clear
        band = self.warn - (self.warn_clear if self.warn_clear is not None else self.warn)
        return self.alarm - band

    def beyond(self, value: float, level: float) -> bool:
        """``value`` strictly past ``level`` on this threshold's bad side."""
        return _past(value, level, self.direction)

    def is_active(self, now: datetime, tz: ZoneInfo) -> bool:
        """Inside the active hours at ``now`` (always when ``active`` is empty)."""
        if not self.active:
            return True
        local = now.astimezone(tz)
        return any(window.contains(local) for window in self.active)

    def active_text(self) -> str:
        return "always" if not self.active else "; ".join(str(window) for window in self.active)


# -- the set ----------------------------------------------------------------------------------------


class ThresholdSet(BaseModel):
    """A site's thresholds: site-scoped ones are the site default, queue/team-scoped ones override it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thresholds: tuple[Threshold, ...] = ()

    @field_validator("thresholds")
    @classmethod
    def _unique_ids(cls, value: tuple[Threshold, ...]) -> tuple[Threshold, ...]:
        seen: dict[str, int] = {}
        for index, threshold in enumerate(value):
            if threshold.id in seen:
                raise ValueError(f"duplicate id {threshold.id!r} at thresholds[{seen[threshold.id]}] and [{index}]")
            seen[threshold.id] = index
        return value

    def get(self, threshold_id: str) -> Threshold | None:
        return next((t for t in self.thresholds if t.id == threshold_id), None)

    def overridden(self, threshold: Threshold) -> frozenset[str]:
        """For a site-scoped threshold: the queues (or teams) where a specific threshold of the same key applies."""
        if threshold.scope.kind != "site":
            return frozenset()
        target = threshold.spec.target
        kind = "team" if target in ("agent", "team") else "campaign" if target == "campaign" else "queue"
        return frozenset(
            t.scope.name
            for t in self.thresholds
            if t.key == threshold.key and t.scope.kind == kind and t.scope.name is not None
        )

    def effective(self, metric: Metric, *, queue: str | None = None, team: str | None = None) -> list[Threshold]:
        """The thresholds of ``metric`` that apply to ``queue`` (queue metrics) or to agents of ``team``."""
        chosen: list[Threshold] = []
        for threshold in self.thresholds:
            if threshold.metric is not metric:
                continue
            name = queue if threshold.scope.kind == "queue" else team
            if threshold.scope.kind == "site":
                specific = queue if threshold.spec.target != "agent" else team
                if specific is None or specific not in self.overridden(threshold):
                    chosen.append(threshold)
            elif threshold.scope.name == name:
                chosen.append(threshold)
        return chosen

    def check_against(self, site: SiteConfig) -> list[Problem]:
        """Queues and teams named by a scope that the site file does not know, by field path."""
        problems: list[Problem] = []
        known: dict[str, Mapping[str, object]] = {
            "queue": site.queues,
            "team": site.teams,
            "campaign": getattr(site, "campaigns", {}),
        }
        for index, threshold in enumerate(self.thresholds):
            scope = threshold.scope
            if scope.kind == "site" or scope.name in known[scope.kind]:
                continue
            names = ", ".join(sorted(known[scope.kind])) or "none"
            message = f"{scope.kind} {scope.name!r} is not in the site file (known {scope.kind}s: {names})"
            problems.append(Problem(f"thresholds[{index}].scope", message))
        return problems


# -- load and dump ----------------------------------------------------------------------------------


def load_thresholds(data: Mapping[str, Any] | Sequence[Any] | None) -> ThresholdSet:
    """A ``ThresholdSet`` from the site file's ``thresholds:`` section (a list) or a mapping holding it.

    Raises ``ThresholdError`` whose problems name each field (``thresholds[2].alarm``) and the reason.
    """
    if data is None:
        return ThresholdSet()
    if isinstance(data, Mapping):
        if set(data) - {"thresholds"} and "thresholds" not in data:
            raise ThresholdError([Problem("thresholds", "expected a list of thresholds or a 'thresholds:' key")])
        items = data.get("thresholds") or []
    else:
        items = data
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ThresholdError([Problem("thresholds", f"expected a list of thresholds, read {type(items).__name__}")])
    try:
        return ThresholdSet.model_validate({"thresholds": list(items)})
    except ValidationError as exc:
        raise ThresholdError(problems_of(exc)) from exc


def problems_of(error: ValidationError) -> list[Problem]:
    """Pydantic's errors as ``Problem``s with dotted paths (``thresholds[2].active[0].start``)."""
    problems = []
    for item in error.errors(include_url=False):
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(Problem(path or "thresholds", message))
    return problems


def dump_thresholds(thresholds: ThresholdSet) -> dict[str, Any]:
    """The set as plain data for YAML or JSON; ``load_thresholds(dump_thresholds(s)) == s``."""
    rows = []
    for threshold in thresholds.thresholds:
        row = threshold.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        row = {key: _tidy(value) for key, value in row.items()}
        row["metric"] = threshold.metric.value
        row["direction"] = threshold.direction.value  # explicit: a reader need not know the default
        rows.append(row)
    return {"thresholds": rows}


def _tidy(value: Any) -> Any:
    """80.0 -> 80 for a readable YAML dump (loading turns it back into 80.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def format_duration(seconds: float) -> str:
    """Seconds in words as the board shows them: ``45 s``, ``90 s``, ``2 min 05 s``, ``47 min``, ``1 h 05 min``."""
    total = max(0, round(seconds))
    if total < 100:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 10:
        return f"{minutes} min" if secs == 0 else f"{minutes} min {secs:02d} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d} min"
