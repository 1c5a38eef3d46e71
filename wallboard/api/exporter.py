"""Prometheus exposition of the wallboard: a custom collector that reads the latest snapshot at scrape time.

Theory of operation
-------------------
Nothing is counted here. The engine already keeps every figure in its snapshot, and the collectors
and the runner keep their health in ``wb:{site}:health:<component>`` hashes; at scrape time
``WallboardCollector.collect`` asks its ``read`` callable for one ``SiteReading`` per site (the
snapshot dict, the health hashes as read from Redis, and the current time) and turns them into
metric families in a single pass over the queues. The API process passes a reader over its
in-memory snapshot copy and the health hashes it fetched just before rendering (``render``);
any other process (the runner, a benchmark) passes its own.

Each family (``_Family``, a prometheus_client ``Metric``) is filled with *rows*: a tuple of label
values (one tuple shared by a queue's rows) and a float, kept in two parallel lists. ``render``
writes the text exposition straight from the rows; the ``samples`` that prometheus_client's own
consumers read (``generate_latest``, ``get_sample_value``) are built from them on first access. So
a 500-queue scrape (11,000 samples) creates no ``Sample`` and no other object per sample that the
garbage collector tracks: it neither pays for them nor sets off full collections, which in an API
process holding a large snapshot cost more than the scrape itself.

The collector is registered on an explicit ``CollectorRegistry`` handed in by the caller, never
on prometheus_client's global one. Every name starts with ``wallboard_``; labels are ``site``,
``queue``, ``window``, ``state``, ``component`` and ``reason`` (low cardinality). Per-agent series
(``agent`` label) are opt-in. A queue's channel is the ``channel`` label of ``wallboard_queue_info`` only (one
series per queue), never a label of the queue's figures: a queue whose channel is learned later keeps its series,
and a query filters by channel with a join, e.g.::

    wallboard_calls_waiting * on(site, queue) group_left(channel) wallboard_queue_info{channel="chat"}

Gauges describe "now" (calls waiting, service level of the current interval and of the day);
counters come from the engine's ``total`` window (everything since the engine's state began), so
service level over any range is computable in PromQL, e.g.::

    increase(wallboard_calls_answered_within_sl_total[1h]) / increase(wallboard_calls_offered_total[1h])

A value the engine reports as ``None`` (no calls yet, so no ASA) yields no sample rather than a
made-up zero; so does a field an older engine's snapshot lacks (``escalations``, ``repeat_callers``).
The per-agent counts of the day (calls, handled, missed rings, transfers, escalations) are counters
that reset at the site's midnight, which ``increase()`` treats as a counter reset. No label ever
carries a caller's number: repeat callers are a count per queue.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
WINDOWS = ("interval", "day")
# Agent counts per queue as the snapshot names them; "logged_in" is exported as agents_staffed.
AGENT_STATES = ("available", "ringing", "on_call", "wrap_up", "paused")
# Counter name (without _total) -> field of the snapshot's "total" window.
TOTAL_COUNTERS = {
    "calls_offered": ("offered", "Calls that entered the queue and finished (answered, abandoned or exited)."),
    "calls_answered": ("answered", "Calls answered by an agent."),
    "calls_answered_within_sl": ("answered_within_sl", "Calls answered within the queue's service-level threshold."),
    "calls_abandoned": ("abandoned", "Calls the caller hung up while waiting (short abandons included)."),
    "calls_short_abandoned": ("short_abandoned", "Abandons within the short-abandon threshold."),
    "calls_timed_out": ("timed_out", "Calls that left the queue on the queue timeout."),
    "calls_exited_other": ("exited_other", "Calls that left the queue by key press, empty queue or similar."),
    "calls_unknown": ("unknown", "Calls whose outcome the sources did not tell."),
    "talk_seconds": ("talk_s", "Seconds of talk time on answered calls."),
    "wait_seconds_answered": ("wait_s_answered", "Seconds answered callers waited before the answer."),
    "missed_rings": ("missed_rings", "Rings of the queue's members that were not answered (a call may ring several)."),
    "calls_escalated": (
        "escalations",
        "Answered calls transferred to an escalation target (a supervisor or second-level queue of the site file).",
    ),
    "contacts_responded": ("responded", "Contacts (chat, email) an agent sent a first reply to."),
    "calls_repeat": (
        "repeat_callers",
        "Offered calls whose caller had called before within the site's repeat window (default 24 h).",
    ),
}
# Gauge name -> (window field, help) for the per-window rates.
WINDOW_GAUGES = {
    "service_level_percent": ("service_level_pct", "Service level in percent, per window."),
    "asa_seconds": ("asa_s", "Average speed of answer in seconds, per window."),
    "aht_seconds": ("aht_s", "Average handle time (talk + hold + wrap) in seconds, per window."),
    "abandon_rate_percent": ("abandon_rate_pct", "Abandon rate in percent (short abandons excluded), per window."),
    "first_response_seconds": (
        "avg_first_response_s",
        "Average first response time (contact arrival to the agent's first reply; chat, email), per window.",
    ),
}


@dataclass(frozen=True)
class SiteReading:
    """What one scrape knows about one site: the snapshot (or None before the first), health hashes, now."""

    site: str
    snapshot: Mapping[str, Any] | None
    health: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    now: float = 0.0


Reader = Callable[[], Iterable[SiteReading]]


class WallboardCollector(Collector):
    """Yields the ``wallboard_*`` families from whatever ``read`` returns at scrape time."""

    def __init__(self, read: Reader, *, per_agent: bool = False) -> None:
        self._read = read
        self._per_agent = per_agent

    def describe(self) -> list[Metric]:
        """The families without samples, so a registry detects clashes without reading anything."""
        return list(_Families(self._per_agent).all())

    def collect(self) -> Iterator[Metric]:
        families = _Families(self._per_agent)
        for reading in self._read():
            if reading.snapshot is not None:
                _add_snapshot(families, reading.site, reading.snapshot, reading.now)
            _add_health(families, reading.site, reading.health, reading.now)
        yield from families.all()


def register(registry: CollectorRegistry, read: Reader, *, per_agent: bool = False) -> WallboardCollector:
    """Build a collector over ``read`` and register it on ``registry`` (never the global registry)."""
    collector = WallboardCollector(read, per_agent=per_agent)
    registry.register(collector)
    return collector


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition (format 0.0.4, served with ``CONTENT_TYPE``) of every family in ``registry``.

    Same output as ``prometheus_client.generate_latest`` (label order aside). The wallboard's own
    families are written from their rows, with each label set rendered once per scrape: about a
    fifth of generate_latest's cost, which keeps a 500-queue scrape well inside its 50 ms budget.
    """
    lines: list[str] = []
    label_text = _LabelText()
    for metric in registry.collect():
        name, kind = _exposed(metric)
        lines.append(_header(name, kind, metric.documentation))
        if isinstance(metric, _Family):
            _render_rows(metric, label_text, lines)
            continue
        extra: dict[str, list[str]] = {}  # OpenMetrics-only samples become gauges of their own, as upstream does
        suffixed = {metric.name + suffix: suffix for suffix in ("_created", "_gsum", "_gcount")}
        for sample in metric.samples:
            line = f"{sample.name}{label_text(tuple(sample.labels), tuple(sample.labels.values()))} "
            suffix = suffixed.get(sample.name)
            target = lines if suffix is None else extra.setdefault(suffix, [])
            target.append(f"{line}{_go_float(sample.value)}\n")
        for suffix, samples in sorted(extra.items()):
            lines.append(_header(metric.name + suffix, "gauge", metric.documentation))
            lines.extend(samples)
    return "".join(lines).encode("utf-8")


def _render_rows(family: _Family, label_text: _LabelText, lines: list[str]) -> None:
    """One line per row; label sets come from the scrape's cache, finite values are written inline."""
    prefix, names = family.sample_name, family.label_names
    texts = label_text.of(names)
    for values, value in zip(family.label_values, family.values, strict=True):
        labels = texts.get(values) or label_text(names, values)
        number = repr(value) if value - value == 0.0 else _go_float(value)
        lines.append(f"{prefix}{labels} {number}\n")


class _LabelText:
    """``{name="value",...}`` of each label set, rendered once per scrape (values escaped once each)."""

    def __init__(self) -> None:
        self._rendered: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}
        self._escaped: dict[str, str] = {}

    def of(self, names: tuple[str, ...]) -> dict[tuple[str, ...], str]:
        """The label sets of ``names`` rendered so far, by their values."""
        return self._rendered.setdefault(names, {})

    def __call__(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        rendered = self.of(names)
        text = rendered.get(values)
        if text is None:
            pairs = ",".join(f'{name}="{self._escape(value)}"' for name, value in zip(names, values, strict=True))
            text = rendered[values] = "{" + pairs + "}" if pairs else ""
        return text

    def _escape(self, raw: str) -> str:
        text = self._escaped.get(raw)
        if text is None:
            text = self._escaped[raw] = raw.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        return text


def _header(name: str, kind: str, documentation: str) -> str:
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def _exposed(metric: Metric) -> tuple[str, str]:
    """The family name and type as the 0.0.4 text format spells them."""
    if metric.type == "counter":
        return metric.name + "_total", "counter"
    if metric.type in ("info", "stateset"):
        return (metric.name + "_info" if metric.type == "info" else metric.name), "gauge"
    return metric.name, {"unknown": "untyped", "gaugehistogram": "histogram"}.get(metric.type, metric.type)


def _go_float(value: float) -> str:
    if type(value) is float and value - value == 0.0:  # finite (the common case, tested once)
        return repr(value)
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


SITE = ("site",)
SITE_QUEUE = ("site", "queue")
SITE_QUEUE_WINDOW = ("site", "queue", "window")
SITE_QUEUE_STATE = ("site", "queue", "state")
SITE_COMPONENT = ("site", "component")
SITE_COMPONENT_REASON = ("site", "component", "reason")
SITE_AGENT = ("site", "agent")
SITE_AGENT_STATE = ("site", "agent", "state")


class _Family(Metric):
    """A gauge or counter family of rows (label values, value); ``samples`` is built from the rows when read."""

    def __init__(self, name: str, documentation: str, kind: str, label_names: tuple[str, ...]) -> None:
        self._samples: list[Sample] | None = None
        super().__init__(name, documentation, kind)
        self.label_names = label_names
        self.sample_name = name + "_total" if kind == "counter" else name
        self.label_values: list[tuple[str, ...]] = []
        self.values: list[float] = []

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            names, name = self.label_names, self.sample_name
            rows = zip(self.label_values, self.values, strict=True)
            self._samples = [Sample(name, dict(zip(names, labels, strict=True)), value) for labels, value in rows]
        return self._samples

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        self._samples = samples or None  # Metric.__init__ sets [], which here means "built from the rows"

    def add(self, values: tuple[str, ...], value: Any) -> None:
        """Add one row (skipped when the value is absent or not a number)."""
        if value is None:
            return
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        self.label_values.append(values)
        self.values.append(number)
        self._samples = None


class _Families:
    """One empty family per exported name; ``all()`` yields them in a stable order."""

    def __init__(self, per_agent: bool) -> None:
        sq = SITE_QUEUE
        self.waiting = _gauge("calls_waiting", "Callers waiting in the queue now.", sq)
        self.longest = _gauge("longest_wait_seconds", "Wait of the oldest caller in the queue now.", sq)
        self.beyond = _gauge("calls_waiting_beyond_sl", "Callers waiting longer than the SL threshold now.", sq)
        self.windowed = {name: _gauge(name, doc, SITE_QUEUE_WINDOW) for name, (_, doc) in WINDOW_GAUGES.items()}
        self.agents = _gauge("agents", "Logged-in agents of the queue by derived state.", SITE_QUEUE_STATE)
        self.staffed = _gauge("agents_staffed", "Agents logged in to the queue.", sq)
        self.required = _gauge("required_agents", "Agents needed now to reach the SL target (Erlang C).", sq)
        self.queue_info = _gauge(
            "queue_info",
            "1 per queue: its channel (voice, chat, email, callback, outbound); join on (site, queue) to filter.",
            ("site", "queue", "channel"),
        )
        self.agent_channel = _gauge(
            "agent_channel_contacts",
            "Open contacts of the agent on the channel (per-agent, opt-in); capacity in agent_channel_capacity.",
            ("site", "agent", "channel"),
        )
        self.agent_capacity = _gauge(
            "agent_channel_capacity",
            "Contacts of the channel the agent handles at once (per-agent, opt-in).",
            ("site", "agent", "channel"),
        )
        self.totals = {name: _counter(name, doc, sq) for name, (_, doc) in TOTAL_COUNTERS.items()}
        self.seq = _gauge("snapshot_seq", "Sequence number of the latest snapshot.", SITE)
        self.age = _gauge("snapshot_age_seconds", "Seconds since the latest snapshot was computed.", SITE)
        self.ingested = _counter("events_ingested", "Records read by a collector.", SITE_COMPONENT)
        self.rejected = _counter("events_rejected", "Records rejected.", SITE_COMPONENT_REASON)
        self.degraded = _counter(
            "events_degraded",
            "Records counted without one of their figures (absent or unreadable; the figure is unknown).",
            SITE_COMPONENT_REASON,
        )
        self.anomalies = _counter(
            "engine_anomalies",
            "Events the engine applied with a defined outcome for an odd input (duplicates, implausible durations...).",
            ("site", "kind"),
        )
        self.lag = _gauge("stream_lag", "Stream entries the engine has not applied yet.", SITE)
        self.event_age = _gauge("last_event_age_seconds", "Seconds since a component's last event.", SITE_COMPONENT)
        self.health_age = _gauge(
            "health_age_seconds", "Seconds since a component last wrote its health.", SITE_COMPONENT
        )
        self.connected = _gauge(
            "collector_connected", "1 when the collector is connected to its source.", SITE_COMPONENT
        )
        self.reconnects = _counter("collector_reconnects", "Reconnections of a collector.", SITE_COMPONENT)
        self.actions = _counter(
            "agent_actions",
            "Supervisor actions the AMI collector settled, by result (done, failed; ended: a spy call hung up).",
            ("site", "kind", "result"),
        )
        self.per_agent = per_agent
        self.agent_state = _gauge("agent_state", "1 for the agent's current derived state.", SITE_AGENT_STATE)
        self.agent_calls = _counter("agent_calls", "Calls the agent answered today.", SITE_AGENT)
        self.agent_handled = _counter("agent_handled", "Calls the agent finished (handled) today.", SITE_AGENT)
        self.agent_missed = _counter(
            "agent_missed_rings", "Rings the agent did not answer today (reset at the site's midnight).", SITE_AGENT
        )
        self.agent_transfers = _counter(
            "agent_transfers", "Calls the agent transferred today (reset at the site's midnight).", SITE_AGENT
        )
        self.agent_escalations = _counter(
            "agent_escalations",
            "Calls the agent transferred to an escalation target today (reset at the site's midnight).",
            SITE_AGENT,
        )
        self.agent_occupancy = _gauge(
            "agent_occupancy_ratio",
            "The agent's occupancy today: (on call + wrap-up) / (on call + wrap-up + available) time, 0 to 1.",
            SITE_AGENT,
        )
        self.grafana = GrafanaFamilies(per_agent)  # see the section at the end
        self.adherence = AdherenceFamilies(per_agent)  # see the section at the end
        self.campaigns = CampaignFamilies()  # see the section at the end

    def all(self) -> Iterator[_Family]:
        yield from (self.waiting, self.longest, self.beyond, *self.windowed.values(), self.agents)
        yield from (self.staffed, self.required, self.queue_info, *self.totals.values(), self.seq, self.age)
        yield from (self.ingested, self.rejected, self.degraded, self.anomalies, self.lag, self.event_age)
        yield self.health_age
        yield from (self.connected, self.reconnects, self.actions)
        yield from self.grafana.all()
        yield from self.adherence.all()
        yield from self.campaigns.all()
        if self.per_agent:
            yield from (self.agent_state, self.agent_calls, self.agent_handled, self.agent_missed)
            yield from (self.agent_transfers, self.agent_escalations, self.agent_occupancy)
            yield from (self.agent_channel, self.agent_capacity)


def _gauge(name: str, doc: str, labels: tuple[str, ...]) -> _Family:
    return _Family(f"wallboard_{name}", doc, "gauge", labels)


def _counter(name: str, doc: str, labels: tuple[str, ...]) -> _Family:
    return _Family(f"wallboard_{name}", doc, "counter", labels)


def _add_snapshot(families: _Families, site: str, snapshot: Mapping[str, Any], now: float) -> None:
    for name, queue in snapshot.get("queues", {}).items():
        _add_queue(families, site, str(name), queue)
    families.seq.add((site,), snapshot.get("seq"))
    add_grafana(families.grafana, site, snapshot)
    add_adherence(families.adherence, site, snapshot)
    add_campaigns(families.campaigns, site, snapshot)
    computed = _epoch(snapshot.get("ts"))
    if computed is not None:
        families.age.add((site,), max(0.0, now - computed))
    if families.per_agent:
        for agent_id, agent in snapshot.get("agents", {}).items():
            _add_agent(families, site, str(agent_id), agent)


def _add_queue(families: _Families, site: str, queue: str, data: Mapping[str, Any]) -> None:
    labels = (site, queue)  # shared by this queue's rows
    families.waiting.add(labels, data.get("waiting"))
    families.longest.add(labels, data.get("longest_wait_s"))
    families.beyond.add(labels, data.get("waiting_beyond_sl"))
    for window in WINDOWS:
        values = data.get(window) or {}
        windowed = (site, queue, window)
        for name, (key, _) in WINDOW_GAUGES.items():
            families.windowed[name].add(windowed, values.get(key))
    agents = data.get("agents") or {}
    for state in AGENT_STATES:
        families.agents.add((site, queue, state), agents.get(state))
    families.staffed.add(labels, agents.get("logged_in"))
    families.required.add(labels, data.get("required_agents"))
    families.queue_info.add((site, queue, str(data.get("channel") or "voice")), 1.0)
    total = data.get("total") or {}
    for name, (key, _) in TOTAL_COUNTERS.items():
        families.totals[name].add(labels, total.get(key))


def _add_agent(families: _Families, site: str, agent_id: str, data: Mapping[str, Any]) -> None:
    state = data.get("state")
    if state is not None:
        families.agent_state.add((site, agent_id, str(state)), 1.0)
    labels = (site, agent_id)
    families.agent_calls.add(labels, data.get("calls_today"))
    families.agent_handled.add(labels, data.get("handled_today"))
    families.agent_missed.add(labels, data.get("missed_rings_today"))
    families.agent_transfers.add(labels, data.get("transfers_today"))
    families.agent_escalations.add(labels, data.get("escalations_today"))
    occupancy = _number(data.get("occupancy_pct"))
    families.agent_occupancy.add(labels, None if occupancy is None else occupancy / 100.0)
    loads = data.get("channels")
    if isinstance(loads, Mapping):
        for channel, load in loads.items():
            if isinstance(load, Mapping):
                families.agent_channel.add((site, agent_id, str(channel)), load.get("open"))
                families.agent_capacity.add((site, agent_id, str(channel)), load.get("capacity"))


def _add_health(families: _Families, site: str, health: Mapping[str, Mapping[str, Any]], now: float) -> None:
    for component, fields in sorted(health.items()):
        labels = (site, component)
        if component == "engine":
            families.lag.add((site,), fields.get("lag"))
        if component.startswith("collector:"):
            families.ingested.add(labels, fields.get("records"))
            families.connected.add(labels, fields.get("connected"))
            families.reconnects.add(labels, fields.get("reconnects"))
            actions = _reasons(fields.get("actions_by_result"), site, component, "actions_by_result")
            for key, count in sorted(actions.items()):
                kind, _, result = key.partition(":")
                families.actions.add((site, kind, result), count)
        _add_rejections(families, site, component, fields)
        for reason, count in sorted(
            _reasons(fields.get("degraded_by_reason"), site, component, "degraded_by_reason").items()
        ):
            families.degraded.add((site, component, reason), count)
        if component == "engine":
            for kind, count in sorted(_reasons(fields.get("anomalies"), site, component, "anomalies").items()):
                families.anomalies.add((site, kind), count)
        for family, key in ((families.event_age, "last_event_ts"), (families.health_age, "updated_ts")):
            stamp = _number(fields.get(key))
            if stamp is not None:
                family.add(labels, max(0.0, now - stamp))


def _add_rejections(families: _Families, site: str, component: str, fields: Mapping[str, Any]) -> None:
    """Rejections by reason; what the reasons do not account for of ``rejected`` is reason="other"."""
    by_reason = _reasons(fields.get("rejected_by_reason"), site, component)
    for reason, count in sorted(by_reason.items()):
        families.rejected.add((site, component, reason), count)
    total = _number(fields.get("rejected"))
    rest = (total or 0.0) - sum(by_reason.values())
    if rest > 0 or (total is not None and not by_reason):
        families.rejected.add((site, component, "other"), max(rest, 0.0))


def _reasons(raw: Any, site: str, component: str, name: str = "rejected_by_reason") -> dict[str, float]:
    if raw is None or raw == "" or raw == b"":
        return {}
    try:
        decoded = json.loads(raw) if isinstance(raw, str | bytes) else raw
        return {str(reason): float(count) for reason, count in dict(decoded).items()}
    except (ValueError, TypeError) as exc:
        log.warning("site %s: health of %s has an unreadable %s (%s)", site, component, name, exc)
        return {}


def _number(value: Any) -> float | None:
    """A float from a snapshot value or a Redis hash field (str or bytes); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 timestamp (aware) or a number."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return _number(value)


# -- grafana ----------------------------------------------------------------------------
# What the history dashboards need beyond the families above (grafana/dashboards, wallboard.grafana):
# handle-time counters per queue (AHT over any range: (talk + hold + wrap) / handled), agents by
# state per team, paused agents by team and pause reason, and with the opt-in per-agent series each
# agent's name and team (to join and filter per-agent series by team) and today's AHT and pause time.

SITE_TEAM_STATE = ("site", "team", "state")
SITE_TEAM_REASON = ("site", "team", "reason")
SITE_AGENT_NAME_TEAM = ("site", "agent", "name", "team")
NO_TEAM = ""  # an agent the site file does not place in a team
NO_REASON = "none"  # paused without a reason given by the PBX
# Counter name (without _total) -> (field of the "total" window, help).
HANDLE_COUNTERS = {
    "calls_handled": ("handled", "Answered calls that ended (talk, hold and wrap-up counted), per queue."),
    "hold_seconds": ("hold_s", "Seconds of hold on handled calls."),
    "wrap_seconds": ("wrap_s", "Seconds of wrap-up after handled calls."),
}


class GrafanaFamilies:
    """The families of this section; the per-agent ones only when per-agent series are on."""

    def __init__(self, per_agent: bool) -> None:
        self.per_agent = per_agent
        self.handle = {name: _counter(name, doc, SITE_QUEUE) for name, (_, doc) in HANDLE_COUNTERS.items()}
        self.team_agents = _gauge("team_agents", "Agents of the team by derived state now.", SITE_TEAM_STATE)
        self.paused = _gauge("agents_paused", "Paused agents now by team and pause reason.", SITE_TEAM_REASON)
        self.agent_info = _gauge("agent_info", "1 per agent seen: its name and team.", SITE_AGENT_NAME_TEAM)
        self.agent_aht = _gauge("agent_aht_seconds", "The agent's average handle time today.", SITE_AGENT)
        self.agent_paused = _gauge("agent_paused_seconds", "Seconds the agent was paused today.", SITE_AGENT)

    def all(self) -> Iterator[_Family]:
        yield from (*self.handle.values(), self.team_agents, self.paused)
        if self.per_agent:
            yield from (self.agent_info, self.agent_aht, self.agent_paused)


def add_grafana(families: GrafanaFamilies, site: str, snapshot: Mapping[str, Any]) -> None:
    """Fill the section's families from one site's snapshot."""
    for name, queue in snapshot.get("queues", {}).items():
        total = queue.get("total") or {}
        for family_name, (field_name, _) in HANDLE_COUNTERS.items():
            families.handle[family_name].add((site, str(name)), total.get(field_name))
    for team, entry in sorted(snapshot.get("teams", {}).items()):
        for state, count in sorted((entry.get("agents") or {}).items()):
            families.team_agents.add((site, str(team), str(state)), count)
    paused: dict[tuple[str, str, str], int] = {}
    for agent_id, agent in snapshot.get("agents", {}).items():
        team = str(agent.get("team") or NO_TEAM)
        if agent.get("state") == "paused":
            reason = (site, team, str(agent.get("reason") or NO_REASON))
            paused[reason] = paused.get(reason, 0) + 1
        if families.per_agent:
            labels = (site, str(agent_id))
            families.agent_info.add((*labels, str(agent.get("name") or agent_id), team), 1.0)
            families.agent_aht.add(labels, agent.get("aht_s"))
            families.agent_paused.add(labels, agent.get("paused_s"))
    for labels_of_reason, count in sorted(paused.items()):
        families.paused.add(labels_of_reason, count)


# -- adherence ---------------------------------------------------------------------------
# The schedule adherence figures the runner merges into the snapshot (wallboard.core.adherence.tracker):
# per team and for the whole site, today's adherence and conformance, agents out of adherence and
# scheduled to work now, minutes late; unmapped pause reasons (transitions today: the counter resets
# at the site-local midnight, which rate() and increase() treat as a counter reset). Per agent (opt-in):
# adherence today and 1 while out of adherence. Nothing is exported when no schedule is loaded.

SITE_TEAM = ("site", "team")
SITE_REASON = ("site", "reason")
# Family suffix -> (field of the snapshot's team/site "adherence" entry, help)
ADHERENCE_GAUGES = {
    "adherence_percent": ("adherence_pct", "Adherence today: seconds in adherence / scheduled seconds so far, in %."),
    "conformance_percent": (
        "conformance_pct",
        "Conformance today: logged-in seconds / scheduled working seconds, in %.",
    ),
    "agents_out_of_adherence": ("out_now", "Agents out of adherence now (beyond the grace period)."),
    "agents_scheduled": ("scheduled_now", "Agents scheduled to a working activity now."),
    "minutes_late": ("minutes_late", "Minutes late today (shift starts to logins), summed over the agents."),
}


class AdherenceFamilies:
    """The families of this section; the per-agent ones only when per-agent series are on."""

    def __init__(self, per_agent: bool) -> None:
        self.per_agent = per_agent
        self.team = {name: _gauge(f"team_{name}", doc, SITE_TEAM) for name, (_, doc) in ADHERENCE_GAUGES.items()}
        self.site = {name: _gauge(f"site_{name}", doc, SITE) for name, (_, doc) in ADHERENCE_GAUGES.items()}
        self.unmapped = _counter(
            "adherence_unmapped",
            "Transitions today into a pause reason the adherence policy does not map.",
            SITE_REASON,
        )
        self.agent_pct = _gauge("agent_adherence_percent", "The agent's adherence today, in %.", SITE_AGENT)
        self.agent_out = _gauge("agent_out_of_adherence", "1 while the agent is out of adherence.", SITE_AGENT)

    def all(self) -> Iterator[_Family]:
        yield from (*self.team.values(), *self.site.values(), self.unmapped)
        if self.per_agent:
            yield from (self.agent_pct, self.agent_out)


def add_adherence(families: AdherenceFamilies, site: str, snapshot: Mapping[str, Any]) -> None:
    """Fill the section's families from one site's snapshot (nothing without ``snapshot["adherence"]``)."""
    summary = snapshot.get("adherence")
    if not isinstance(summary, Mapping):
        return
    for team, entry in sorted((snapshot.get("teams") or {}).items()):
        figures = entry.get("adherence") if isinstance(entry, Mapping) else None
        if isinstance(figures, Mapping):
            for name, (key, _) in ADHERENCE_GAUGES.items():
                families.team[name].add((site, str(team)), figures.get(key))
    whole = summary.get("site") or {}
    for name, (key, _) in ADHERENCE_GAUGES.items():
        families.site[name].add((site,), whole.get(key))
    for reason, count in sorted((summary.get("unmapped") or {}).items()):
        families.unmapped.add((site, str(reason)), count)
    if families.per_agent:
        for agent_id, agent in (snapshot.get("agents") or {}).items():
            figures = agent.get("adherence") if isinstance(agent, Mapping) else None
            if isinstance(figures, Mapping):
                families.agent_pct.add((site, str(agent_id)), figures.get("adherence_pct"))
                families.agent_out.add((site, str(agent_id)), 1.0 if figures.get("status") == "out" else 0.0)


# -- outbound campaigns ----------------------------------------------------------------------
# The dialer figures of the snapshot's "campaigns" (wallboard.core.campaigns): counters from each campaign's
# total (attempts, results by outcome, talk seconds), so connect and drop rates over any range are PromQL;
# gauges of the regulator's rolling window (drop rate, connect rate), the limit and 1 while over it. Labels:
# site, campaign (and result). Nothing is exported for a site without campaigns.

SITE_CAMPAIGN = ("site", "campaign")
# The "result" label -> the field of a campaign span counting it
CAMPAIGN_RESULTS = {
    "answered": "connects",
    "no_answer": "no_answer",
    "busy": "busy",
    "machine": "machine",
    "dropped": "dropped",
}


class CampaignFamilies:
    """The families of this section."""

    def __init__(self) -> None:
        self.attempts = _counter("campaign_dial_attempts", "Calls the dialer placed for the campaign.", SITE_CAMPAIGN)
        self.results = _counter(
            "campaign_dial_results",
            "Dialer outcomes: answered (a live person connected to an agent), dropped (a live person the dialer "
            "abandoned), machine, no_answer, busy.",
            ("site", "campaign", "result"),
        )
        self.talk = _counter("campaign_talk_seconds", "Seconds of talk on the campaign's connects.", SITE_CAMPAIGN)
        self.drop_rate = _gauge(
            "campaign_drop_rate_percent",
            "Dropped / (answered + dropped) over the regulator's rolling window (Ofcom 24 h, FCC 30 days), in %.",
            SITE_CAMPAIGN,
        )
        self.connect_rate = _gauge(
            "campaign_connect_rate_percent", "Answered / results over the campaign's window, in %.", SITE_CAMPAIGN
        )
        self.limit = _gauge("campaign_drop_limit_percent", "The most the campaign's drop rate may be.", SITE_CAMPAIGN)
        self.over = _gauge("campaign_over_limit", "1 while the window's drop rate is above the limit.", SITE_CAMPAIGN)

    def all(self) -> Iterator[_Family]:
        yield from (self.attempts, self.results, self.talk, self.drop_rate, self.connect_rate, self.limit, self.over)


def add_campaigns(families: CampaignFamilies, site: str, snapshot: Mapping[str, Any]) -> None:
    """Fill the section's families from one site's snapshot (nothing without ``snapshot["campaigns"]``)."""
    campaigns = snapshot.get("campaigns")
    if not isinstance(campaigns, Mapping):
        return
    for name, campaign in sorted(campaigns.items()):
        if not isinstance(campaign, Mapping):
            continue
        labels = (site, str(name))
        total = campaign.get("total") or {}
        families.attempts.add(labels, total.get("attempts"))
        for result, key in CAMPAIGN_RESULTS.items():
            families.results.add((*labels, result), total.get(key))
        families.talk.add(labels, total.get("talk_s"))
        families.drop_rate.add(labels, campaign.get("drop_rate_pct"))
        families.connect_rate.add(labels, (campaign.get("window") or {}).get("connect_rate_pct"))
        families.limit.add(labels, campaign.get("limit_pct"))
        over = campaign.get("over_limit")
        families.over.add(labels, None if over is None else float(bool(over)))
