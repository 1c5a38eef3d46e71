"""GET /api/v1/trend over real uvicorn and redis-server: samples of the last N minutes per queue, auth, trimming."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_stack import SITE, RunningApi, running_api, save_snapshot

from wallboard.admin.accounts import create_display_token
from wallboard.api.trend_routes import pivot
from wallboard.store import Store

NOW = 1_700_000_000.0  # the API's clock (epoch seconds)
NOW_MS = int(NOW * 1000)
SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2023-11-14T22:13:20+00:00", "queues": {}, "agents": {}}
KEEP_S = 65 * 60.0


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


@pytest.fixture
async def api(store: Store) -> AsyncIterator[RunningApi]:
    async with running_api(store, users=False, clock=lambda: NOW) as api:
        yield api


def test_pivot_groups_points_by_queue_in_epoch_seconds() -> None:
    """Two samples of two queues -> two series of [s, waiting, sl]; a malformed value is skipped."""
    samples = [(1_000, {"a": [1, 90.0], "b": [0, None]}), (11_000, {"a": [2, 80.0], "b": "junk"})]
    assert pivot(samples) == {"a": [[1.0, 1, 90.0], [11.0, 2, 80.0]], "b": [[1.0, 0, None]]}


async def test_the_last_hour_is_served_per_queue_oldest_first(store: Store, api: RunningApi) -> None:
    """Samples 70, 50 and 10 minutes ago: ?minutes=60 returns the last two, ?minutes=5 none."""
    for minutes_ago, waiting, sl in ((70, 9, 10.0), (50, 3, 75.5), (10, 1, None)):
        at_ms = NOW_MS - minutes_ago * 60_000
        assert await store.trend.add_trend_sample(at_ms, {"sales": [waiting, sl], "support": [0, 100.0]}, 24 * 3600.0)
    token = await create_display_token(store.accounts)
    auth = {"Authorization": f"Bearer {token}"}
    hour = await api.http.get("/api/v1/trend", params={"minutes": 60}, headers=auth)
    recent = await api.http.get("/api/v1/trend", params={"minutes": 5}, headers=auth)
    assert hour.status_code == 200
    fifty, ten = NOW - 50 * 60, NOW - 10 * 60
    assert hour.json() == {
        "sales": [[fifty, 3, 75.5], [ten, 1, None]],
        "support": [[fifty, 0, 100.0], [ten, 0, 100.0]],
    }
    assert recent.json() == {}


async def test_no_token_is_401_a_wrong_one_too_and_minutes_are_bounded(store: Store, api: RunningApi) -> None:
    """Without a credential or with an unknown token: 401; minutes above what is kept: 422."""
    token = await create_display_token(store.accounts)
    missing = await api.http.get("/api/v1/trend")
    wrong = await api.http.get("/api/v1/trend", params={"token": "not-a-token"})
    too_far = await api.http.get("/api/v1/trend", params={"minutes": 600, "token": token})
    assert (missing.status_code, wrong.status_code, too_far.status_code) == (401, 401, 422)


async def test_samples_older_than_the_kept_window_are_trimmed_and_time_only_moves_forward(store: Store) -> None:
    """With keep 65 min, a sample 2 h after the first trims it; a sample not after the newest is refused."""
    first, later = NOW_MS, NOW_MS + 2 * 3600_000
    assert await store.trend.add_trend_sample(first, {"sales": [1, 50.0]}, KEEP_S)
    for n in range(1, 200):  # enough entries for an approximate (~) trim to drop whole nodes
        assert await store.trend.add_trend_sample(first + n, {"sales": [1, 50.0]}, KEEP_S)
    assert await store.trend.add_trend_sample(later, {"sales": [4, 60.0]}, KEEP_S)
    assert not await store.trend.add_trend_sample(later, {"sales": [5, 70.0]}, KEEP_S)
    kept = await store.trend.trend_samples(0)
    assert kept[-1] == (later, {"sales": [4, 60.0]})
    assert all(at_ms >= later - KEEP_S * 1000 for at_ms, _ in kept)
