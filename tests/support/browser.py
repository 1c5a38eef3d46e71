"""Debian's Chromium, headless, through Playwright: the one launch every browser test goes through.

Playwright's own browser download is not used: the tests drive ``/usr/bin/chromium`` (scripts/bootstrap
installs the Debian package) and fail, naming the package, where it is missing. Pages open at 1920x1080
(a TV) with a 15 s default timeout for every wait; screenshots go to build/screenshots (gitignored;
scripts/screenshot copies the README's pictures to docs/)::

    async with chromium_page(base_url) as page:
        await page.goto("/tv/default?token=...")

tests/conftest.py marks every test of a module importing ``chromium`` or ``chromium_page`` ``browser``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
HD: ViewportSize = {"width": 1920, "height": 1080}
WAIT_MS = 15_000


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Debian Chromium for the block, closed at its end; fails the test if the package is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap (Debian package chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser, base_url: str | None = None, *, viewport: ViewportSize = HD, wait_ms: float = WAIT_MS
) -> Page:
    """A page of ``browser`` resolving paths against ``base_url``, at ``viewport``, waiting ``wait_ms`` at most."""
    page = await browser.new_page(base_url=base_url, viewport=viewport)
    page.set_default_timeout(wait_ms)
    return page


@contextlib.asynccontextmanager
async def chromium_page(base_url: str, *, viewport: ViewportSize = HD) -> AsyncIterator[Page]:
    """One page (``new_page``) in a Chromium of its own, for a test that needs no second page."""
    async with chromium() as browser:
        yield await new_page(browser, base_url, viewport=viewport)


def screenshot_path(name: str) -> Path:
    """Where a test saves the screenshot ``name`` (build/screenshots/, made if missing)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
