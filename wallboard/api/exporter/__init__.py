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

Each family (``Family``, a prometheus_client ``Metric``) is filled with *rows*: a tuple of label
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

The package has one module per section of families (``queues``, ``agents``, ``health``, ``grafana``,
``adherence``, ``campaigns``) over the rows of ``family``; ``collector`` composes them at scrape time and ``text``
writes the exposition. What other modules import is re-exported here.
"""

from __future__ import annotations

from wallboard.api.exporter.collector import Reader, SiteReading, WallboardCollector, register
from wallboard.api.exporter.family import Family
from wallboard.api.exporter.family import Family as _Family  # the name the exporter's tests know the rows by
from wallboard.api.exporter.queues import AGENT_STATES, TOTAL_COUNTERS, WINDOW_GAUGES, WINDOWS
from wallboard.api.exporter.text import CONTENT_TYPE, render

__all__ = [
    "AGENT_STATES",
    "CONTENT_TYPE",
    "TOTAL_COUNTERS",
    "WINDOWS",
    "WINDOW_GAUGES",
    "Family",
    "Reader",
    "SiteReading",
    "WallboardCollector",
    "_Family",
    "register",
    "render",
]
