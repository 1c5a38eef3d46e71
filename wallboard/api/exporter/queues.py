"""The per-queue figures: gauges of "now", per-window rates, agents by state, the channel info and the counters.

Gauges describe "now" (calls waiting, service level of the current interval and of the day); counters come
from the engine's ``total`` window (everything since the engine's state began). A queue's channel is the
``channel`` label of ``wallboard_queue_info`` only (one series per queue), never a label of its figures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wallboard.api.exporter.family import SITE_QUEUE, SITE_QUEUE_STATE, SITE_QUEUE_WINDOW, Family, counter, gauge

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


class QueueFamilies:
    """The families of this section."""

    def __init__(self) -> None:
        sq = SITE_QUEUE
        self.waiting = gauge("calls_waiting", "Callers waiting in the queue now.", sq)
        self.longest = gauge("longest_wait_seconds", "Wait of the oldest caller in the queue now.", sq)
        self.beyond = gauge("calls_waiting_beyond_sl", "Callers waiting longer than the SL threshold now.", sq)
        self.windowed = {name: gauge(name, doc, SITE_QUEUE_WINDOW) for name, (_, doc) in WINDOW_GAUGES.items()}
        self.agents = gauge("agents", "Logged-in agents of the queue by derived state.", SITE_QUEUE_STATE)
        self.staffed = gauge("agents_staffed", "Agents logged in to the queue.", sq)
        self.required = gauge("required_agents", "Agents needed now to reach the SL target (Erlang C).", sq)
        self.queue_info = gauge(
            "queue_info",
            "1 per queue: its channel (voice, chat, email, callback, outbound); join on (site, queue) to filter.",
            ("site", "queue", "channel"),
        )
        self.totals = {name: counter(name, doc, sq) for name, (_, doc) in TOTAL_COUNTERS.items()}

    def all(self) -> Iterator[Family]:
        yield from (self.waiting, self.longest, self.beyond, *self.windowed.values(), self.agents)
        yield from (self.staffed, self.required, self.queue_info, *self.totals.values())


def add_queue(families: QueueFamilies, site: str, queue: str, data: Mapping[str, Any]) -> None:
    """Fill the section's families from one queue of a site's snapshot."""
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
