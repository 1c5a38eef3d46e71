"""Agreement: a closed interval's SL and abandon rate from Prometheus equal the engine's history row.

The chain is real: events in the Redis stream -> ``EngineRunner`` -> history row in Redis -> the API's
``/api/v1/history/queues``; and the same runner's snapshots -> the API's ``/metrics`` -> a real
``prometheus`` scraping it (tests/support/stack.py's ``live_stack`` without a PBX, and prom_stack.py's
``prometheus``).

Why not ``prom_stack`` itself: its events carry the wall clock (the AMI collector stamps what it
receives), so its first interval closes only after up to 15 real minutes. Here the runner's clock
and the events' times are simulated and moved by the test, so quarters close at once. Prometheus
still stamps its samples with real time, so the interval [09:00, 09:15) is the real range from a
moment when the counters held everything before 09:00 (and nothing after) to one when they held
everything up to 09:15: the calls are placed away from the boundaries and each phase waits until
Prometheus has scraped the counters' new values. With scrape alignment so removed, the figures must
agree exactly (the issue allows one call for the misalignment of a live system), because both come
from the same counts: the exporter's counters are the engine's ``total`` window, the row its interval.

Prometheus figures use the counters' values at the two instants (``@`` modifiers), not ``increase()``,
which extrapolates to the range's edges and returns fractions of calls on a range this short.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prom_stack import Prometheus, PromQueryError, prometheus, prometheus_binary
from stack import LiveStack, live_stack
from waiting import poll_until

from wallboard.core.backoff import Backoff
from wallboard.core.events import AgentLogin, CallAbandoned, CallAnswered, CallEnded, CallExited, CallQueued, Event
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.processes.engine import EngineRunner

pytestmark = pytest.mark.prometheus

SITE = SiteConfig(
    site="agree",
    short_abandon_s=5,
    queues={"support": QueueConfig(sl_threshold_s=20), "sales": QueueConfig(sl_threshold_s=30)},
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the interval compared: [09:00, 09:15)
WAIT_S = 20.0


class SimClock:
    """The runner's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Calls:
    """Builds call events with unique ids and keys."""

    def __init__(self) -> None:
        self.n = 0

    def _common(self, queue: str) -> dict[str, Any]:
        self.n += 1
        return {"site": SITE.site, "source": "test", "queue": queue, "call_id": f"c{self.n}"}

    def answered(self, queue: str, enter: float, wait: float) -> list[Event]:
        common = self._common(queue)
        n, answer = self.n, at(enter + wait)
        return [
            CallQueued(ts=at(enter), key=f"q{n}", **common),
            CallAnswered(ts=answer, key=f"a{n}", agent=f"agent{n % 3}", wait_s=wait, **common),
            CallEnded(ts=answer + timedelta(seconds=60), key=f"e{n}", agent=f"agent{n % 3}", talk_s=60.0, **common),
        ]

    def abandoned(self, queue: str, enter: float, wait: float) -> list[Event]:
        common = self._common(queue)
        n = self.n
        return [
            CallQueued(ts=at(enter), key=f"q{n}", **common),
            CallAbandoned(ts=at(enter + wait), key=f"x{n}", wait_s=wait, position=1, **common),
        ]

    def timed_out(self, queue: str, enter: float, wait: float) -> list[Event]:
        common = self._common(queue)
        n = self.n
        return [
            CallQueued(ts=at(enter), key=f"q{n}", **common),
            CallExited(ts=at(enter + wait), key=f"t{n}", wait_s=wait, reason="timeout", **common),
        ]


def logins() -> list[Event]:
    return [
        AgentLogin(ts=at(-840), key=f"l{a}{q}", site=SITE.site, source="test", agent=f"agent{a}", queue=q)
        for a in range(3)
        for q in SITE.queues
    ]


def before_the_interval(calls: Calls) -> list[Event]:
    """08:46-08:55: support 3 answered within 20 s, sales 1 abandoned after 40 s (all ended before 09:00)."""
    return [
        *calls.answered("support", -840, 5),
        *calls.answered("support", -700, 12),
        *calls.answered("support", -600, 19),
        *calls.abandoned("sales", -400, 40),
    ]


def in_the_interval(calls: Calls) -> list[Event]:
    """09:01-09:12. support: 6 answered within 20 s, 2 after it (25 s, 40 s), 2 abandoned (3 s short, 50 s):
    SL = 6 / (10 - 1) = 66.7 %, abandon = (2 - 1) / (10 - 1) = 11.1 %.
    sales: 3 answered within 30 s, 1 timed out after 60 s: SL = 3 / 4 = 75 %, abandon = 0 / 4 = 0 %."""
    support = [calls.answered("support", 60 + 40 * i, wait) for i, wait in enumerate((1, 4, 9, 15, 20, 20, 25, 40))]
    return [
        *(event for call in support for event in call),
        *calls.abandoned("support", 500, 3),
        *calls.abandoned("support", 520, 50),
        *calls.answered("sales", 100, 10),
        *calls.answered("sales", 200, 29),
        *calls.answered("sales", 300, 30),
        *calls.timed_out("sales", 400, 60),
    ]


EXPECTED = {"support": (66.67, 11.11), "sales": (75.0, 0.0)}  # (SL %, abandon %) computed above


@dataclass
class Stack:
    """The live stack on the test's clock, and the Prometheus scraping it."""

    clock: SimClock
    live: LiveStack
    prom: Prometheus

    async def by_queue(self, expr: str) -> dict[str, float]:
        return {row["metric"]["queue"]: float(row["value"][1]) for row in await self.prom.query(expr)}

    async def scraped(self, offered: dict[str, float]) -> None:
        """Wait until Prometheus holds these offered counts (the engine applied and published, then a scrape)."""
        expr = f'wallboard_calls_offered_total{{site="{SITE.site}"}}'

        async def holds() -> bool:
            with contextlib.suppress(PromQueryError, httpx.TransportError, KeyError, ValueError):
                return await self.by_queue(expr) == offered
            return False

        await poll_until(holds, f"Prometheus to scrape offered {offered}", WAIT_S)

    async def rows(self, start: datetime) -> list[dict[str, Any]]:
        """The API's queue rows of the interval starting at ``start`` (waits until the runner wrote them)."""
        params = {"from": start.isoformat(), "to": (start + timedelta(minutes=15)).isoformat()}
        rows: list[dict[str, Any]] = []

        async def written() -> bool:
            response = await self.live.http.get("/api/v1/history/queues", params=params)
            rows[:] = response.json()["rows"]
            return bool(rows)

        await poll_until(written, f"the history rows of {start}", WAIT_S)
        return rows


@contextlib.asynccontextmanager
async def stack(tmp_path: Path, redis_url: str) -> AsyncIterator[Stack]:
    clock = SimClock(at(-870))
    engine = functools.partial(EngineRunner, clock=clock, backoff=Backoff(initial=0.01, cap=0.1), tick_s=0.05)
    settings = {"auth_enabled": False, "snapshot_interval_s": 0.05, "checkpoint_interval_s": 0.1}
    async with (
        live_stack(redis_url, SITE, engine=engine, settings=settings) as live,
        prometheus(tmp_path, live.api_url, scrape_interval="200ms") as prom,
    ):
        yield Stack(clock, live, prom)


def prom_rates(start: float, end: float) -> tuple[str, str]:
    """SL % and abandon % of the queues between two instants, from the counters (as the issue defines them)."""

    def delta(name: str) -> str:
        series = f'wallboard_calls_{name}_total{{site="{SITE.site}"}}'
        return f"({series} @ {end:.3f} - {series} @ {start:.3f})"

    offered_less_short = f"({delta('offered')} - {delta('short_abandoned')})"
    sl = f"100 * {delta('answered_within_sl')} / {offered_less_short}"
    abandon = f"100 * ({delta('abandoned')} - {delta('short_abandoned')}) / {offered_less_short}"
    return sl, abandon


async def test_prometheus_and_the_interval_rows_agree(tmp_path: Path, redis_url: str) -> None:
    """[09:00, 09:15): Prometheus's SL/abandon from the counters = the history row's = the hand-computed ones."""
    try:
        prometheus_binary()
    except PromQueryError as exc:
        pytest.skip(str(exc))
    calls = Calls()
    async with stack(tmp_path, redis_url) as s:
        await s.live.store.events.append_events(logins() + before_the_interval(calls))
        await s.scraped({"support": 3.0, "sales": 1.0})
        start = time.time()  # Prometheus's counters now hold everything before 09:00 and nothing after
        s.clock.now = at(30)
        await s.live.store.events.append_events(in_the_interval(calls))
        await s.scraped({"support": 13.0, "sales": 5.0})
        end = time.time()  # ... and now everything up to 09:15
        s.clock.now = at(15 * 60 + 30)  # the next publish closes [09:00, 09:15)
        rows = {row["queue"]: row for row in await s.rows(T0)}
        sl_expr, abandon_expr = prom_rates(start, end)
        sl, abandon = await s.by_queue(sl_expr), await s.by_queue(abandon_expr)
        offered = await s.by_queue(
            f'wallboard_calls_offered_total{{site="{SITE.site}"}} @ {end:.3f}'
            f' - wallboard_calls_offered_total{{site="{SITE.site}"}} @ {start:.3f}'
        )
    for queue, (expected_sl, expected_abandon) in EXPECTED.items():
        row = rows[queue]
        assert (row["start"], row["end"]) == (T0.isoformat(), at(900).isoformat())
        assert abs(offered[queue] - row["offered"]) <= 1  # the bound: within one call
        assert offered[queue] == row["offered"]  # and exactly, the boundaries being quiet
        assert sl[queue] == pytest.approx(row["service_level_pct"], abs=1e-9)
        assert abandon[queue] == pytest.approx(row["abandon_rate_pct"], abs=1e-9)
        assert (round(row["service_level_pct"], 2), round(row["abandon_rate_pct"], 2)) == (
            expected_sl,
            expected_abandon,
        )
