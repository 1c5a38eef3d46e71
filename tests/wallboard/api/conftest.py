"""The API tests' Store and site file.

``store`` is site ``paris`` on the test's redis-server (emptied), empty until a test, or a module's own
``store`` fixture requesting this one, saves a snapshot into it. ``site_file`` is the test module's
``SITE_FILE`` text written to a site.yaml of the test's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_stack import SITE

from wallboard.store import Store, connect


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    try:
        yield Store(client, site=SITE)
    finally:
        await client.aclose()


@pytest.fixture
def site_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(request.module.SITE_FILE, encoding="utf-8")
    return path
