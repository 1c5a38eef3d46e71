"""Cursors, ids and limits in query strings are checked against their real range: 422, never a 500.

Auth is off here (every request is the admin ``anonymous``): what is checked is the validation of each route kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_stack import RunningApi, running_api

from wallboard.store import Store

TOO_BIG = str(2**64)  # one past the largest part of a Redis stream id
LARGEST = str(2**64 - 1)


@pytest.fixture
async def api(store: Store) -> AsyncIterator[RunningApi]:
    async with running_api(store, users=False, auth_enabled=False) as running:
        yield running


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/audit?before={TOO_BIG}-0", "before"),
        (f"/api/v1/audit?before=0-{TOO_BIG}", "before"),
        (f"/api/v1/audit?before=9{TOO_BIG}-0", "before"),
        ("/api/v1/audit?count=99999999999999999999999", "count"),
        (f"/api/v1/history/queues?after={TOO_BIG}-0", "after"),
        (f"/api/v1/history/agents?after=1-{LARGEST}", "after"),
        ("/api/v1/history/queues?from=0001-01-01T00:00:00%2B01:00", "from"),
        ("/api/v1/history/agents?from=2026-01-01&to=9999-12-31T23:00:00-05:00", "to"),
        (f"/api/v1/alerts/history?since={TOO_BIG}-0", "since"),
        (f"/api/v1/alerts/history?since=1-{LARGEST}", "since"),
        ("/api/v1/alerts/history?limit=0", "limit"),
        ("/api/v1/schedules?date=0000-01-01", "date"),
    ],
)
async def test_out_of_range_query_values_are_422(api: RunningApi, path: str, field: str) -> None:
    """Each value past its range is a 422 naming its field (Redis never sees it)."""
    reply = await api.http.get(path)
    assert reply.status_code == 422, reply.text
    assert any(problem["field"].endswith(field) for problem in reply.json()["detail"]), reply.text


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/audit?before={LARGEST}-{LARGEST}",
        "/api/v1/audit?before=0-0",
        f"/api/v1/history/queues?after={LARGEST}-{2**64 - 2}",
        f"/api/v1/alerts/history?since={LARGEST}",
    ],
)
async def test_the_largest_values_in_range_are_served(api: RunningApi, path: str) -> None:
    """The edges of the range are valid requests (an empty page)."""
    reply = await api.http.get(path)
    assert reply.status_code == 200, reply.text


async def test_a_schedule_version_that_is_not_a_number_is_a_conflict(api: RunningApi) -> None:
    """If-Match of any text names a version the schedule is not at: 409, not a 500."""
    for version in ("abc", "99999999999999999999999"):
        reply = await api.http.delete("/api/v1/schedules", headers={"If-Match": version})
        assert reply.status_code == 409, reply.text
