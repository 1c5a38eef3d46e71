"""Browser-test helper: how long after the page last heard from the server its STALE banner went up.

The STALE promise is measured by the page's own clock: from the last websocket message the page received
to the moment the banner became visible (the banner follows the data's age, which is at least the time since
the last message that brought data). Waiting for the banner uses a generous timeout, so that a loaded
machine slowing the test harness (not the page) cannot fail a test, while the page's own figure stays exact.
"""

from __future__ import annotations

from playwright.async_api import Page

# The pages show STALE once the data is 6 s old; the last message brought data at most that old, so the banner is up
# within 6 s of it, plus the browser's timer slack: a timeout fires a few ms late on an idle machine, and up to a few
# hundred when the test command's other worker keeps both cores busy (measured: 6.22 s once). A page polling its
# data's age once a second instead of timing it would still fail this bound about half the time.
STALE_PROMISE_S = 6.5
STALE_WAIT_MS = 20_000
# A page whose server went away retries with a backoff doubling to 5 s, jittered up to +25 % (wallboard-client.js):
# after the server is back, it may wait 6.25 s before its next try, then connect and draw. Waiting for the recovery
# allows that plus a loaded machine's slack; the page's promise here is "recovers without a reload", not a time.
RECOVERY_WAIT_MS = 20_000
_RECORD_FRAMES = """(() => {
  window.__lastFrame = 0;
  window.__heartbeats = 0;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        window.__lastFrame = Date.now();
        if (ev.data.includes('"type":"heartbeat"')) window.__heartbeats += 1;
      });
    }
  };
})();"""
_WATCH_BANNER = """(selector) => {
  window.__staleAt = 0;
  const banner = document.querySelector(selector);
  new MutationObserver(() => {
    if (!window.__staleAt && getComputedStyle(banner).display !== "none") { window.__staleAt = Date.now(); }
  }).observe(banner, {attributes: true});
}"""


async def record_frames(page: Page) -> None:
    """Before the page loads: remember when its websockets last received a message (and count heartbeats)."""
    await page.add_init_script(_RECORD_FRAMES)


async def watch_banner(page: Page, selector: str) -> None:
    """From now on: remember when the banner at ``selector`` first became visible."""
    await page.evaluate(_WATCH_BANNER, selector)


async def stale_after_s(page: Page) -> float:
    """Seconds from the page's last websocket message to its STALE banner going up (page clock)."""
    last, stale = await page.evaluate("[window.__lastFrame, window.__staleAt]")
    assert last and stale, f"no frame ({last}) or no banner ({stale}) recorded"
    return float(stale - last) / 1000
