"""TV board benchmark: push latency (event into Redis -> tile text in Chromium) and a soak of the page.

Prints each figure with its target and PASS/MISS:
  (1) latency from XADD of an event to the TV tile's text change, p50/p99      target p99 <= 500 ms
  (2) with --soak MINUTES: growth of the page's JS heap and DOM node count       target <= 10 %

Theory of operation
-------------------
A real ``redis-server`` (Debian's binary) runs on a free loopback port in a temporary directory;
``wallboard demo`` runs as a child process against it (simulator over AMI, collector, engine, API,
TV page), at ``--speed`` times real time, so the page works under the demo's live traffic. Debian's
Chromium (Playwright, headless, 1920×1080) opens ``/tv/default`` with the demo's display token.

(1) This process appends its own ``call_queued`` events for a queue of its own (``zz-bench``) to
the site's stream, one every 0.15-0.25 s (jittered across the 250 ms publish period), stamping
``time.time()`` just before each XADD. The n-th marker makes that tile's "Waiting" read n + 1 (one
warm-up call first, so the tile exists); markers coalesced into one delta show together, so marker n
is shown by the first text reading n + 1 or more. A ``MutationObserver`` in the page stamps every change of
that text with ``performance.timeOrigin + performance.now()`` (the same machine's clock). A
marker's latency is the first stamp showing its count minus its XADD stamp; a marker never shown
counts as infinite.

(2) Every minute (``--sample-s``): a forced garbage collection (CDP ``HeapProfiler.collectGarbage``), then the JS
heap in use and the DOM node count (CDP ``Performance.getMetrics``: JSHeapUsedSize, Nodes). Growth is
the last sample against the first one taken after one minute of warm-up.

Run: .venv/bin/python benchmarks/bench_tv.py [--markers 200] [--speed 20] [--soak 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from wallboard.core.events import CallQueued
from wallboard.store import Store, connect

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SITE = "bench"
QUEUE = "zz-bench"
TARGET_P99_MS = 500.0
TARGET_GROWTH_PCT = 10.0
OBSERVE = """(queue) => {
  window.__changes = [];
  const el = document.querySelector(`[data-queue="${queue}"] [data-kpi="waiting"] .v`);
  new MutationObserver(() => window.__changes.push([el.textContent, performance.timeOrigin + performance.now()]))
    .observe(el, {childList: true, characterData: true, subtree: true});
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen([*args, "--dir", directory], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


@contextlib.asynccontextmanager
async def demo(redis_url: str, speed: float) -> AsyncIterator[tuple[str, str]]:
    """``wallboard demo`` on ``redis_url``; yields (base URL, display token)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("WALLBOARD_") and k.upper() != "REDIS_URL"}
    env |= {"WALLBOARD_SITE": SITE, "WALLBOARD_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wallboard.cli", "demo", "--port", str(free_port()), "--speed", str(speed),
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        async with asyncio.timeout(60):
            line = (await child.stdout.readline()).decode().strip()
        match = re.fullmatch(r"(http://[\d.]+:\d+)/\?token=([\w-]+)", line)
        if match is None:
            raise SystemExit(f"the demo did not announce its URL (read {line!r})")
        yield match.group(1), match.group(2)
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await child.wait()


async def queue_call(store: Store, n: int) -> float:
    """XADD one marker call; returns the stamp taken just before the XADD (epoch ms)."""
    event = CallQueued(ts=datetime.now(UTC), site=SITE, source="bench", call_id=f"bench-{n}", queue=QUEUE)
    stamp = time.time() * 1000
    await store.events.append_events([event])
    return stamp


async def latency(page: Page, store: Store, markers: int) -> list[float]:
    await queue_call(store, 0)  # the warm-up call makes the tile appear (the board shows every queue)
    await page.locator(f'[data-queue="{QUEUE}"] [data-kpi="waiting"] .v').filter(has_text="1").wait_for()
    await page.evaluate(OBSERVE, QUEUE)
    stamps = []
    for n in range(1, markers + 1):
        stamps.append(await queue_call(store, n))
        await asyncio.sleep(random.uniform(0.15, 0.25))
    await asyncio.sleep(2.0)  # the last marker's chance to show (a missing one counts as infinite)
    changes: list[list[Any]] = await page.evaluate("window.__changes")
    shown = [(int(text), float(at)) for text, at in changes if str(text).isdigit()]
    # Markers within one publish period arrive in one delta: marker n is shown by the first count >= n + 1.
    return [
        next((at for count, at in shown if count >= n + 1), float("inf")) - stamp for n, stamp in enumerate(stamps, 1)
    ]


async def soak(page: Page, samples: int, every_s: float = 60.0) -> list[tuple[float, float]]:
    """``samples`` + 1 samples ``every_s`` apart of (JS heap used, DOM nodes), after a forced GC each."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    series = []
    for index in range(samples + 1):
        if index:
            await asyncio.sleep(every_s)
        await cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
        elements = await page.evaluate("document.getElementsByTagName('*').length")
        series.append((metrics["JSHeapUsedSize"], metrics["Nodes"]))
        heap, nodes = metrics["JSHeapUsedSize"] / 1e6, metrics["Nodes"]
        print(f"  {index * every_s:6.0f} s: JS heap {heap:7.2f} MB, DOM nodes {nodes:.0f}, elements {elements}")
    return series


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def report(label: str, value: float, target: float, unit: str) -> None:
    verdict = "PASS" if value <= target else "MISS"
    print(f"{label:<48} {value:10.1f} {unit:<3} target <= {target:g} {unit}  {verdict}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--markers", type=int, default=200)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--soak", type=int, default=0, metavar="MINUTES", help="also soak the page (simulator 10x)")
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds between soak samples (default 60)")
    args = parser.parse_args(argv)
    speed = 10.0 if args.soak else args.speed
    with redis_server() as url:
        client = connect(url)
        store = Store(client, site=SITE)
        async with demo(url, speed) as (base, token), async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.goto(f"{base}/tv/default?token={token}")
            await page.locator('[data-kpi="waiting"] .v').first.wait_for()
            samples = await latency(page, store, args.markers)
            shown = [s for s in samples if s != float("inf")]
            print(f"push latency, {len(samples)} markers, {len(samples) - len(shown)} never shown:")
            print(f"  p50 {percentile(samples, 50):.0f} ms, mean {statistics.fmean(shown or [0]):.0f} ms")
            report("TV push latency p99 (XADD -> tile text)", percentile(samples, 99), TARGET_P99_MS, "ms")
            if args.soak:
                series = await soak(page, max(1, round(args.soak * 60 / args.sample_s)), args.sample_s)
                base_heap, base_nodes = series[min(math.ceil(60 / args.sample_s), len(series) - 1)]  # after 1 min
                heap, nodes = series[-1]
                report("JS heap growth over the soak", (heap / base_heap - 1) * 100, TARGET_GROWTH_PCT, "%")
                report("DOM node growth over the soak", (nodes / base_nodes - 1) * 100, TARGET_GROWTH_PCT, "%")
            await browser.close()
        await client.aclose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
