"""GET /api/v1/calls and `wallboard calls export` over real uvicorn and redis-server: today by default, filters,
cursor pages, CSV, caller numbers masked per role, display tokens refused. Records are written as the runner
writes them (``stage_calls`` + ``save_state``)."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_stack import SITE, running_api, save_snapshot

from wallboard.cli import main
from wallboard.core.calls import CALL_COLUMNS
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig
from wallboard.store import CallsWrite, Store, connect

PARIS = SiteConfig(
    site=SITE,
    timezone="Europe/Paris",
    queues={"support": QueueConfig(), "sales": QueueConfig()},
    agents={"a1": AgentConfig(team="blue"), "a2": AgentConfig(team="red")},
)
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # 11:00 in Paris on the 3rd
SNAPSHOT = {"site": SITE, "seq": 1, "ts": NOW.isoformat(), "tz": "Europe/Paris", "queues": {}, "agents": {}}
NUMBER = "0140000142"


def record(n: int, finished: datetime, queue: str, outcome: str, agent: str | None) -> dict[str, Any]:
    team = {"a1": "blue", "a2": "red"}.get(agent or "")
    return {"call_id": f"c{n}", "queue": queue, "outcome": outcome, "agent": agent, "team": team,
            "caller": NUMBER, "caller_name": "Ada", "finished": finished.isoformat(), "missed_by": ["a2"]}  # fmt: skip


# yesterday 23:30 Paris (22:30 UTC on the 2nd), then six calls this morning (07:00-07:50 UTC on the 3rd)
RECORDS = [record(0, datetime(2026, 3, 2, 22, 30, tzinfo=UTC), "support", "answered", "a1")] + [
    record(n, datetime(2026, 3, 3, 7, 0, tzinfo=UTC) + timedelta(minutes=10 * (n - 1)), queue, outcome, agent)
    for n, (queue, outcome, agent) in enumerate(
        [
            ("support", "answered", "a1"),
            ("sales", "abandoned", None),
            ("support", "answered", "a2"),
            ("support", "timed_out", None),
            ("sales", "answered", "a1"),
            ("support", "short_abandon", None),
        ],
        1,
    )
]


async def write_records(store: Store) -> None:
    entries = [
        (f"{int(datetime.fromisoformat(r['finished']).timestamp() * 1000)}-0", n, json.dumps(r))
        for n, r in enumerate(RECORDS, 1)
    ]
    store.events.stage_calls(CallsWrite(entries))
    await save_snapshot(store, SNAPSHOT)


@pytest.fixture
async def store(store: Store) -> Store:
    await write_records(store)
    return store


api = functools.partial(running_api, clock=NOW.timestamp, site_config=PARIS, display="tv1")


def ids(body: dict[str, Any]) -> list[str]:
    return [row["call_id"] for row in body["calls"]]


async def test_today_by_default_and_filters(store: Store) -> None:
    """No from/to: today in Paris (yesterday's 23:30 call is out); queue, agent, team, outcome filters."""
    async with api(store) as a:
        viewer = a.headers["viewer"]

        async def get(**params: Any) -> list[str]:
            response = await a.http.get("/api/v1/calls", params=params, headers=viewer)
            assert response.status_code == 200, response.text
            return ids(response.json())

        assert await get() == ["c1", "c2", "c3", "c4", "c5", "c6"]
        assert await get(**{"from": "2026-03-02", "to": "2026-03-02"}) == ["c0"]
        assert await get(queue="sales") == ["c2", "c5"]
        assert await get(agent="a1") == ["c1", "c5"]
        assert await get(team="red") == ["c3"]
        assert await get(outcome=["abandoned", "short_abandon"]) == ["c2", "c6"]
        assert (await a.http.get("/api/v1/calls", params={"outcome": "lost"}, headers=viewer)).status_code == 422
        bad = await a.http.get("/api/v1/calls", params={"from": "2026-03-03", "to": "2026-03-01"}, headers=viewer)
        assert bad.status_code == 422


async def test_cursor_pages_and_csv(store: Store) -> None:
    """limit=4: a first page and its next_cursor, then the rest; CSV has the fixed header and the same cursor."""
    async with api(store) as a:
        viewer = a.headers["viewer"]
        first = (await a.http.get("/api/v1/calls", params={"limit": 4}, headers=viewer)).json()
        rest = (await a.http.get("/api/v1/calls", params={"cursor": first["next_cursor"]}, headers=viewer)).json()
        page = await a.http.get("/api/v1/calls", params={"limit": 4, "format": "csv"}, headers=viewer)
    assert (ids(first), ids(rest), rest["next_cursor"]) == (["c1", "c2", "c3", "c4"], ["c5", "c6"], None)
    assert page.headers["content-type"].startswith("text/csv") and page.headers["x-next-cursor"] == first["next_cursor"]
    table = list(csv.DictReader(io.StringIO(page.text)))
    assert list(table[0]) == list(CALL_COLUMNS) and [line["call_id"] for line in table] == ["c1", "c2", "c3", "c4"]
    assert table[0]["missed_by"] == "a2"


async def test_caller_numbers_per_role_and_display_tokens_refused(store: Store) -> None:
    """Viewer, planner and ingest see •••••• + the last 4 digits; supervisor, ops, admin the number; TVs get 403."""
    async with api(store) as a:
        seen = {}
        for role in ("viewer", "planner", "ingest", "supervisor", "ops", "admin"):
            response = await a.http.get("/api/v1/calls", params={"limit": 1}, headers=a.headers[role])
            seen[role] = (response.json()["calls"][0]["caller"], response.json()["calls"][0]["caller_name"])
        masked_csv = await a.http.get("/api/v1/calls", params={"format": "csv"}, headers=a.headers["viewer"])
        probe = await a.http.get("/api/v1/calls", params={"caller": "01400"}, headers=a.headers["viewer"])
        found = await a.http.get("/api/v1/calls", params={"caller": "01400"}, headers=a.headers["supervisor"])
        refused = [(await a.http.get("/api/v1/calls", headers=a.headers[c])).status_code for c in ("display", "none")]
    hidden = ("\u2022" * 6 + "0142", "\u2022" * 3)
    assert seen == {
        "viewer": hidden,
        "planner": hidden,
        "ingest": hidden,
        **dict.fromkeys(("supervisor", "ops", "admin"), (NUMBER, "Ada")),
    }
    assert NUMBER not in masked_csv.text
    assert ids(probe.json()) == [] and len(ids(found.json())) == 6  # a masked reader cannot search by number
    assert refused == [403, 401]


def test_cli_export_writes_full_numbers(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wallboard calls export` reads Redis directly (no site file: UTC) and writes numbers in full."""

    async def write() -> None:
        client = connect(redis_url)
        await write_records(Store(client, site=SITE))
        await client.aclose()

    asyncio.run(write())
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    out = tmp_path / "calls.json"
    argv = ["calls", "--site", SITE, "export", "--from", "2026-03-02", "--to", "2026-03-03", "--queue", "sales"]
    assert main([*argv, "--format", "json", "--out", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [(row["call_id"], row["caller"]) for row in rows] == [("c2", NUMBER), ("c5", NUMBER)]
    assert main([*argv[:6], "--to", "2026-03-01"]) == 2  # --to before --from: a usage error
