"""Outbound campaigns: dialer attempts and outcomes per campaign, and the abandoned-call rate the law limits. Pure.

Theory of operation
-------------------
A dialer calls numbers for a *campaign* and tells each call twice: ``dial_attempt`` when it dials and
``dial_result`` with the outcome (``wallboard.core.events``). ``CampaignBook`` counts them per campaign in three
spans: the regulator's rolling **window**, the site-local **day** (reset when the engine rolls its day at the
site's midnight, ``wallboard.core.metrics.day_start``) and the **total** (never reset: it backs the Prometheus
counters). An event of a campaign the site file does not list still counts, under the site's
``campaign_defaults`` (degrade, never drop).

Figures of a span:

* attempts = ``dial_attempt`` events; results = ``dial_result`` events, by outcome;
* connects = ``answered`` results (a live person connected to an agent);
* connect rate = connects / results, percent (the calls whose outcome is known: one still ringing is not judged);
* talk = the sum of the connects' ``talk_s`` (a connect without one is ``talk_unknown``, out of the average);
* live = connects + dropped: the calls a live person answered;
* **drop rate** = dropped / live, percent; None without a live answer. ``over_limit`` = drop rate > limit.

The drop rate is the definition both regulators use (the same formula; they differ in window):

* **Ofcom** (UK), *Revised statement of policy on the persistent misuse of an electronic communications network
  or service* (2016), abandoned calls: the abandoned call rate must be no more than **3 % of live calls, per
  campaign or per call centre, over any 24-hour period**. An abandoned call is answered by a live person and
  not connected to a live operator within two seconds of the greeting; live calls are the calls answered by a
  live person, the abandoned ones included, plus a reasoned estimate of answering-machine-detection (AMD)
  false positives.
* **FCC** (US), 47 CFR 64.1200(a)(7): no more than **3 % of all calls answered live by a person, measured over
  a 30-day period for a single calling campaign**; a call is abandoned when it is not connected to a live sales
  representative within two seconds of the called person's completed greeting.

So drop rate = dropped / (connects + dropped): calls answered by a machine are not live (out of the
denominator); a dialer that estimates its AMD false positives reports them as ``dropped`` (a person was
there). The FCC computes successive 30-day periods of a campaign; a rolling window contains each of them (the
window ending at a period's end *is* that period), so a campaign that keeps the rolling figure within the
limit complies with both readings. ``custom`` takes the site file's ``window_h`` and ``limit_pct``.

The window is elapsed time (UTC seconds), never local time: 24 h is 86,400 s across a daylight-saving
change, when the local day has 23 or 25 hours. Memory is bounded: the window's figures are kept in
buckets of ``bucket_seconds(window)`` (60 s up to a 24 h window, 1,800 s for the FCC's 30 days: at most some
1,440 buckets per campaign whatever the traffic). A bucket holds the events in ``(end - width, end]`` and
counts while ``end > now - window``: an event at ``t`` counts from ``t`` until at least ``t + window``
(exactly then when ``t`` falls on a bucket end, such as a whole minute), never less, and at most one
bucket longer. The regulator's figure is never understated; it may carry a minute of past drops more.

Duplicates: a second attempt or result of the same (campaign, call id) is ignored (the engine counts it as
``duplicate_dial``); the last 50,000 keys at least are remembered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wallboard.core.schema import CampaignFigures, CampaignSpan

__all__ = [
    "OUTCOMES",
    "REGULATIONS",
    "CampaignBook",
    "CampaignConfig",
    "CampaignRule",
    "Regulation",
    "Regulator",
    "Tally",
    "bucket_seconds",
    "campaign_problems",
    "campaign_rule",
]

Regulator = Literal["ofcom", "fcc", "custom"]
Outcome = Literal["answered", "no_answer", "busy", "machine", "dropped"]
OUTCOMES: tuple[Outcome, ...] = ("answered", "no_answer", "busy", "machine", "dropped")
SEEN_MEMORY = 50_000
MAX_BUCKETS = 1440  # buckets per window (its resolution): 60 s for 24 h


@dataclass(frozen=True)
class Regulation:
    """A regulator's rolling window and limit on the drop rate."""

    window_h: float
    limit_pct: float


REGULATIONS: dict[str, Regulation] = {
    "ofcom": Regulation(window_h=24.0, limit_pct=3.0),  # any 24-hour period
    "fcc": Regulation(window_h=30 * 24.0, limit_pct=3.0),  # a 30-day period
}


class CampaignConfig(BaseModel):
    """A campaign in the site file (``campaigns:``), or the site's default (``campaign_defaults:``).

    A field left out takes the campaign's regulator's (``REGULATIONS``); a campaign without a regulator takes the
    site default's fields. ``custom`` needs ``window_h`` and ``limit_pct`` on the campaign or in the default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=128)
    regulator: Regulator | None = None
    window_h: float | None = Field(default=None, gt=0, le=31 * 24)
    limit_pct: float | None = Field(default=None, ge=0, le=100)


@dataclass(frozen=True)
class CampaignRule:
    """A campaign's resolved configuration: what its tile shows and how its drop rate is judged."""

    display_name: str | None
    regulator: Regulator
    window_h: float
    limit_pct: float
    configured: bool

    @property
    def window_s(self) -> float:
        return self.window_h * 3600.0


def campaign_rule(config: CampaignConfig | None, default: CampaignConfig) -> CampaignRule:
    """The rule of a campaign (``config`` None: one the site file does not list); ValueError for a custom one
    without a window or limit."""
    entry = config or CampaignConfig()
    inherit = entry.regulator is None
    regulator: Regulator = entry.regulator or default.regulator or "ofcom"
    regulation = REGULATIONS.get(regulator)
    fallback = default if (inherit or regulation is None) else CampaignConfig()
    window_h = _first(entry.window_h, fallback.window_h, regulation.window_h if regulation else None)
    limit_pct = _first(entry.limit_pct, fallback.limit_pct, regulation.limit_pct if regulation else None)
    if window_h is None or limit_pct is None:
        missing = " and ".join(name for name, v in (("window_h", window_h), ("limit_pct", limit_pct)) if v is None)
        raise ValueError(f"a custom regulator needs {missing} (on the campaign or in campaign_defaults)")
    return CampaignRule(entry.display_name, regulator, window_h, limit_pct, config is not None)


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def campaign_problems(campaigns: Mapping[str, CampaignConfig], default: CampaignConfig) -> list[str]:
    """What is wrong with the site file's campaigns, as ``campaigns.<name>: reason`` lines."""
    problems = []
    for name, config in [("campaign_defaults", None), *((f"campaigns.{n}", c) for n, c in campaigns.items())]:
        try:
            campaign_rule(config, default)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    return problems


def bucket_seconds(window_s: float) -> int:
    """The width of a window's buckets: a whole number of minutes, at most ``MAX_BUCKETS`` per window."""
    return max(60, math.ceil(window_s / MAX_BUCKETS / 60) * 60)


@dataclass(slots=True)
class Tally:
    """The counts of one span (or one bucket) of one campaign."""

    attempts: int = 0
    answered: int = 0
    no_answer: int = 0
    busy: int = 0
    machine: int = 0
    dropped: int = 0
    talk_s: float = 0.0
    talk_unknown: int = 0

    def add(self, other: Tally) -> None:
        self.attempts += other.attempts
        self.answered += other.answered
        self.no_answer += other.no_answer
        self.busy += other.busy
        self.machine += other.machine
        self.dropped += other.dropped
        self.talk_s += other.talk_s
        self.talk_unknown += other.talk_unknown

    def count(self, outcome: Outcome, talk_s: float | None) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if outcome == "answered":
            if talk_s is None:
                self.talk_unknown += 1
            else:
                self.talk_s += talk_s

    def span(self) -> CampaignSpan:
        """The snapshot's figures of this span (see the module docstring)."""
        results = self.answered + self.no_answer + self.busy + self.machine + self.dropped
        live = self.answered + self.dropped
        timed = self.answered - self.talk_unknown
        return {
            "attempts": self.attempts,
            "results": results,
            "connects": self.answered,
            "no_answer": self.no_answer,
            "busy": self.busy,
            "machine": self.machine,
            "dropped": self.dropped,
            "live": live,
            "connect_rate_pct": _pct(self.answered, results),
            "drop_rate_pct": _pct(self.dropped, live),
            "talk_s": self.talk_s,
            "avg_talk_s": self.talk_s / timed if timed > 0 else None,
            "talk_unknown": self.talk_unknown,
        }


def _pct(part: int, whole: int) -> float | None:
    return None if whole <= 0 else min(100.0, max(0.0, 100.0 * part / whole))


class _Campaign:
    """One campaign's spans and window buckets (keyed by their end, epoch seconds), with the window's sum.

    ``sum`` is the sum of ``buckets``: an event adds to both, and when pruning drops a bucket (about once a
    bucket width) the sum is made again from the buckets left, so a snapshot costs no pass over them.
    """

    __slots__ = ("rule", "width", "buckets", "sum", "day", "total", "newest")

    def __init__(self, rule: CampaignRule) -> None:
        self.rule = rule
        self.width = bucket_seconds(rule.window_s)
        self.buckets: dict[int, Tally] = {}
        self.sum = Tally()
        self.day = Tally()
        self.total = Tally()
        self.newest = -math.inf  # the latest event time seen (epoch seconds): the pruning clock of a replay

    def bucket(self, ts: datetime) -> Tally | None:
        """The window bucket of an event at ``ts``; None when it is already out of the window."""
        epoch = ts.timestamp()
        end = math.ceil(epoch / self.width) * self.width
        if epoch > self.newest:
            self.newest = epoch
        if end <= self.newest - self.rule.window_s:
            return None
        tally = self.buckets.get(end)
        if tally is None:
            self.prune(self.newest)
            tally = self.buckets[end] = Tally()
        return tally

    def prune(self, now: float) -> None:
        """Drop the buckets that ended at or before ``now - window``."""
        cutoff = now - self.rule.window_s
        gone = [end for end in self.buckets if end <= cutoff]
        if not gone:
            return
        for end in gone:
            del self.buckets[end]
        self.sum = Tally()
        for bucket in self.buckets.values():
            self.sum.add(bucket)

    def window(self, now: float) -> Tally:
        self.prune(now)
        return self.sum


class _Seen:
    """Keys remembered in two generations of ``size`` each (at least the last ``size``)."""

    __slots__ = ("size", "current", "previous")

    def __init__(self, size: int) -> None:
        self.size = size
        self.current: set[tuple[str, str, str]] = set()
        self.previous: set[tuple[str, str, str]] = set()

    def seen(self, key: tuple[str, str, str]) -> bool:
        """True when ``key`` was added before; otherwise add it."""
        if key in self.current or key in self.previous:
            return True
        self.current.add(key)
        if len(self.current) >= self.size:
            self.previous, self.current = self.current, set()
        return False


class CampaignBook:
    """Every campaign of a site: the configured ones from the start, the others from their first event."""

    def __init__(self, configs: Mapping[str, CampaignConfig], default: CampaignConfig | None = None) -> None:
        self._configs = dict(configs)
        self._default = default or CampaignConfig()
        self._campaigns: dict[str, _Campaign] = {}
        self._seen = _Seen(SEEN_MEMORY)
        for name in configs:
            self._campaign(name)

    def __len__(self) -> int:
        return len(self._campaigns)

    def _campaign(self, name: str) -> _Campaign:
        campaign = self._campaigns.get(name)
        if campaign is None:
            campaign = self._campaigns[name] = _Campaign(campaign_rule(self._configs.get(name), self._default))
        return campaign

    def attempt(self, name: str, call_id: str, ts: datetime, *, today: bool) -> bool:
        """Count a dial attempt (``today``: in the site-local day); False for a duplicate (not counted)."""
        if self._seen.seen(("attempt", name, call_id)):
            return False
        campaign = self._campaign(name)
        for tally in self._spans(campaign, ts, today):
            tally.attempts += 1
        return True

    def result(
        self, name: str, call_id: str, outcome: Outcome, talk_s: float | None, ts: datetime, *, today: bool
    ) -> bool:
        """Count a dial outcome (``talk_s`` None: unknown); False for a duplicate (not counted)."""
        if self._seen.seen(("result", name, call_id)):
            return False
        campaign = self._campaign(name)
        for tally in self._spans(campaign, ts, today):
            tally.count(outcome, talk_s)
        return True

    @staticmethod
    def _spans(campaign: _Campaign, ts: datetime, today: bool) -> list[Tally]:
        spans = [campaign.total]
        if today:
            spans.append(campaign.day)
        bucket = campaign.bucket(ts)
        if bucket is not None:
            spans += (bucket, campaign.sum)
        return spans

    def roll_day(self) -> None:
        """A new site-local day: every campaign's day figures start from zero."""
        for campaign in self._campaigns.values():
            campaign.day = Tally()

    def buckets(self, name: str) -> int:
        """How many window buckets a campaign holds (its memory; 0 for an unknown campaign)."""
        campaign = self._campaigns.get(name)
        return 0 if campaign is None else len(campaign.buckets)

    def figures(self, now: datetime) -> dict[str, CampaignFigures]:
        """Each campaign's snapshot entry at ``now``; buckets out of the window are dropped."""
        epoch = now.timestamp()
        return {name: _entry(name, campaign, epoch) for name, campaign in self._campaigns.items()}


def _entry(name: str, campaign: _Campaign, now: float) -> CampaignFigures:
    rule = campaign.rule
    window = campaign.window(now).span()
    rate = window["drop_rate_pct"]
    return {
        "name": name,
        "display_name": rule.display_name,
        "configured": rule.configured,
        "regulator": rule.regulator,
        "window_h": rule.window_h,
        "limit_pct": rule.limit_pct,
        "drop_rate_pct": rate,
        "over_limit": rate is not None and rate > rule.limit_pct,
        "window": window,
        "today": campaign.day.span(),
        "total": campaign.total.span(),
    }
