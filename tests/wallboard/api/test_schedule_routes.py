"""The schedules API: planner/admin only, all-or-nothing imports (422 by row), versions (409), audit and notices."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import httpx
import pytest
from api_stack import SITE, running_api, save_snapshot

from wallboard.core.users import Role
from wallboard.store import Store

SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2026-02-02T09:00:00+00:00", "tz": "America/New_York", "agents": {}}
SITE_FILE = """
site: paris
timezone: Europe/Paris
agents: {a1: {name: Ann}, a2: {name: Bob}}
"""
CSV = "agent,date,start,end,activity\na1,2026-02-02,09:00,12:00,work\na2,2026-02-02,22:00,06:00+1,work\n"
BAD = (
    "agent,date,start,end,activity\n"
    "a1,2026-02-02,09:00,12:00,work\n"
    "zed,2026-02-02,09:00,12:00,work\n"
    "a1,2026-02-02,11:00,13:00,break\n"
    "a2,2026-03-29,02:30,04:00,work\n"
)
CSV_TYPE = {"Content-Type": "text/csv"}
WAIT_S = 10.0
SCHEDULES = f"wb:{{{SITE}}}:config:schedules"


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


# with auth on: a user of every role logged in, a display token for any board, no credential
api = functools.partial(running_api, clock=lambda: 1_770_000_000.0, display=True)


async def put_csv(http: httpx.AsyncClient, who: dict[str, str], text: str, **params: str) -> httpx.Response:
    return await http.put("/api/v1/schedules", content=text.encode(), headers={**who, **CSV_TYPE}, params=params)


async def test_nothing_stored_is_version_zero(store: Store, site_file: Path) -> None:
    """Before any import GET answers version 0 without slots (ETag "0"), to any user; a display token gets 403."""
    async with api(store, site_file=site_file) as a:
        viewer = await a.http.get("/api/v1/schedules", headers=a.headers[Role.VIEWER])
        display = await a.http.get("/api/v1/schedules", headers=a.headers["display"])
    assert viewer.status_code == 200 and display.status_code == 403
    assert viewer.headers["etag"] == '"0"'
    assert viewer.json() == {"version": 0, "slots": [], "updated_by": None, "updated_ts": None}


async def test_a_planner_imports_csv_audited_and_announced(store: Store, site_file: Path) -> None:
    """A valid CSV by a planner is version 1: stored as rows, audited with counts only, notice published."""
    async with api(store, site_file=site_file) as a, store.client.pubsub() as pubsub:
        await pubsub.subscribe(f"wb:{{{SITE}}}:config")
        response = await put_csv(a.http, a.headers[Role.PLANNER], CSV)
        notice = None
        async with asyncio.timeout(WAIT_S):
            while notice is None:
                notice = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        stored = await store.schedules.read_schedules()
        (entry,) = [
            fields for _, fields in await store.accounts.read_audit(20) if fields["action"] == "schedules.import"
        ]
    assert response.status_code == 200 and response.headers["etag"] == '"1"'
    assert response.json() == {
        "version": 1,
        "slots": 2,
        "agents": 2,
        "days": 1,
        "first_day": "2026-02-02",
        "last_day": "2026-02-02",
        "updated_by": "planner1",
        "updated_ts": "2026-02-02T02:40:00+00:00",
    }
    assert stored is not None and stored["version"] == 1 and stored["updated_by"] == "planner1"
    assert stored["slots"][1] == {
        "agent": "a2",
        "date": "2026-02-02",
        "start": "22:00",
        "end": "06:00+1",
        "activity": "work",
    }
    assert json.loads(notice["data"]) == {"type": "schedules", "version": 1}
    assert (entry["actor"], entry["target"]) == ("planner1", "schedules")
    assert json.loads(entry["old"]) == {"version": 0, "slots": 0, "agents": 0, "days": 0}
    assert json.loads(entry["new"]) == {"version": 1, "slots": 2, "agents": 2, "days": 1}


async def test_only_planners_and_admins_may_import_or_clear(store: Store, site_file: Path) -> None:
    """No credential 401; viewer, supervisor, ops and display tokens 403; planner and admin 200."""
    async with api(store, site_file=site_file) as a:
        anonymous = await put_csv(a.http, {}, CSV)
        refused = {name: (await put_csv(a.http, a.headers[name], CSV)).status_code for name in (*Role, "display")}
        cleared = {
            name: (await a.http.delete("/api/v1/schedules", headers=a.headers[name])).status_code
            for name in (Role.VIEWER, Role.OPS, "display")
        }
        version = (await a.http.get("/api/v1/schedules", headers=a.headers[Role.VIEWER])).json()["version"]
    assert anonymous.status_code == 401
    assert refused == {
        Role.VIEWER: 403,
        Role.SUPERVISOR: 403,
        Role.PLANNER: 200,
        Role.OPS: 403,
        Role.ADMIN: 200,
        Role.INGEST: 403,
        "display": 403,
    }
    assert cleared == {Role.VIEWER: 403, Role.OPS: 403, "display": 403}
    assert version == 2


async def test_a_bad_file_is_422_by_row_and_nothing_is_stored(store: Store, site_file: Path) -> None:
    """Every problem answers with its row; the stored schedule stays as it was and the rejection is counted."""
    async with api(store, site_file=site_file) as a:
        assert (await put_csv(a.http, a.headers[Role.PLANNER], CSV)).status_code == 200
        before = await store.schedules.read_schedules()
        response = await put_csv(a.http, a.headers[Role.PLANNER], BAD)
        after = await store.schedules.read_schedules()
        health = await store.events.read_health()
        metrics = (await a.http.get("/metrics")).text
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"row": 2, "reason": "unknown agent 'zed': not in the site file's agents"},
            {"row": 3, "reason": "overlaps row 1 (same agent 'a1')"},
            {"row": 4, "reason": "start 02:30 does not exist on 2026-03-29 in Europe/Paris (DST gap)"},
        ]
    }
    assert after == before
    assert health["schedules"]["rejected"] == "1"
    assert 'wallboard_events_rejected_total{site="paris",component="schedules",reason="other"} 1.0' in metrics


async def test_a_stale_if_match_is_409_and_changes_nothing(store: Store, site_file: Path) -> None:
    """If-Match names the version a change is based on: another one is 409; the right one writes."""
    async with api(store, site_file=site_file) as a:
        planner = a.headers[Role.PLANNER]
        first = await put_csv(a.http, planner, CSV)
        stale = await put_csv(a.http, {**planner, "If-Match": '"0"'}, CSV.replace("a1", "a2"))
        stale_delete = await a.http.delete("/api/v1/schedules", headers={**planner, "If-Match": "0"})
        fresh = await put_csv(a.http, {**planner, "If-Match": '"1"'}, CSV)
        stored = await store.schedules.read_schedules()
    assert first.status_code == 200
    assert stale.status_code == 409 and "version 1" in stale.json()["detail"]
    assert stale_delete.status_code == 409
    assert fresh.status_code == 200 and stored is not None and stored["version"] == 2


async def test_concurrent_imports_one_wins(store: Store, site_file: Path) -> None:
    """Two imports based on the same version at once: one is stored, the other is 409."""
    async with api(store, site_file=site_file) as a:
        headers = {**a.headers[Role.PLANNER], "If-Match": "0"}
        responses = await asyncio.gather(
            put_csv(a.http, headers, CSV), put_csv(a.http, headers, CSV.replace("12:00", "13:00"))
        )
        stored = await store.schedules.read_schedules()
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert stored is not None and stored["version"] == 1


async def test_merge_replaces_only_the_agent_days_of_the_file(store: Store, site_file: Path) -> None:
    """mode=merge with a JSON body replaces a1's 2 Feb and keeps a2's night shift."""
    update = [{"agent": "a1", "date": "2026-02-02", "start": "13:00", "end": "17:00", "activity": "training"}]
    async with api(store, site_file=site_file) as a:
        planner = a.headers[Role.PLANNER]
        await put_csv(a.http, planner, CSV)
        merged = await a.http.post("/api/v1/schedules", json=update, headers=planner, params={"mode": "merge"})
        rows = (await a.http.get("/api/v1/schedules", headers=planner)).json()["slots"]
    assert merged.status_code == 200 and merged.json()["slots"] == 2
    assert [(row["agent"], row["start"], row["activity"]) for row in rows] == [
        ("a1", "13:00", "training"),
        ("a2", "22:00", "work"),
    ]


async def test_reading_filters_and_csv(store: Store, site_file: Path) -> None:
    """?agent= and ?date= select rows; ?format=csv answers the file `schedule import` reads."""
    async with api(store, site_file=site_file) as a:
        await put_csv(a.http, a.headers[Role.ADMIN], CSV + "a1,2026-02-03,09:00,10:00,meeting\n")
        viewer = a.headers[Role.VIEWER]
        by_agent = (await a.http.get("/api/v1/schedules", params={"agent": "a1"}, headers=viewer)).json()
        by_day = (await a.http.get("/api/v1/schedules", params={"date": "2026-02-03"}, headers=viewer)).json()
        as_csv = await a.http.get("/api/v1/schedules", params={"format": "csv", "agent": "a2"}, headers=viewer)
    assert [row["date"] for row in by_agent["slots"]] == ["2026-02-02", "2026-02-03"]
    assert [row["activity"] for row in by_day["slots"]] == ["meeting"]
    assert as_csv.headers["content-type"].startswith("text/csv") and as_csv.headers["etag"] == '"1"'
    assert as_csv.text == "agent,date,start,end,activity\na2,2026-02-02,22:00,06:00+1,work\n"


async def test_delete_clears_as_a_new_version(store: Store, site_file: Path) -> None:
    """DELETE stores an empty version N + 1, audited as schedules.delete; with nothing stored it writes nothing."""
    async with api(store, site_file=site_file) as a:
        planner = a.headers[Role.PLANNER]
        nothing = await a.http.delete("/api/v1/schedules", headers=planner)
        await put_csv(a.http, planner, CSV)
        cleared = await a.http.delete("/api/v1/schedules", headers=planner)
        actions = [fields["action"] for _, fields in await store.accounts.read_audit(20)]
    assert nothing.status_code == 200 and nothing.json()["version"] == 0
    assert cleared.status_code == 200 and (cleared.json()["version"], cleared.json()["slots"]) == (2, 0)
    assert actions.count("schedules.delete") == 1 and actions.count("schedules.import") == 1


async def test_content_type_and_size_limits(store: Store, site_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that is neither CSV nor JSON is 415; one beyond MAX_BYTES is 413 (and counted); nothing stored."""
    monkeypatch.setattr("wallboard.api.schedule_routes.MAX_BYTES", 40)
    async with api(store, site_file=site_file) as a:
        planner = a.headers[Role.PLANNER]
        xml = await a.http.put("/api/v1/schedules", content=b"<x/>", headers={**planner, "Content-Type": "text/xml"})
        big = await put_csv(a.http, planner, CSV)
        health = await store.events.read_health()
    assert xml.status_code == 415 and big.status_code == 413
    assert health["schedules"]["rejected"] == "1"
    assert await store.client.get(SCHEDULES) is None


async def test_without_a_site_file_the_snapshot_gives_the_time_zone(store: Store) -> None:
    """No site file: rows are read in the snapshot's zone (New York) and any agent id is accepted."""
    async with api(store) as a:
        response = await put_csv(
            a.http, a.headers[Role.PLANNER], "agent,date,start,end,activity\nzed,2026-03-08,02:30,04:00,work\n"
        )
        ok = await put_csv(
            a.http, a.headers[Role.PLANNER], "agent,date,start,end,activity\nzed,2026-03-29,02:30,04:00,work\n"
        )
    assert (
        response.json()["detail"][0]["reason"]
        == "start 02:30 does not exist on 2026-03-08 in America/New_York (DST gap)"
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "params", "status"),
    [
        (b"", "text/csv", {}, 422),
        (b"\xff\xfe", "text/csv", {}, 422),
        (b"null", "application/json", {}, 422),
        (b'{"slots": 3}', "application/json", {}, 422),
        (b"[1, [2], {}]", "application/json", {}, 422),
        (b'"a1,2026-02-02"', "application/json; charset=utf-8", {}, 422),
        (b"agent,date,start,end,activity\n" + b'"a1' * 10, "text/csv", {}, 422),
        (CSV.encode(), "text/csv", {"mode": "sideways"}, 422),
        (b"agent,date,start,end,activity\n", "text/csv", {"mode": "merge"}, 200),
    ],
)
async def test_odd_bodies_are_client_errors(
    store: Store, site_file: Path, body: bytes, content_type: str, params: dict[str, str], status: int
) -> None:
    """Empty, undecodable, mis-shaped or badly quoted bodies and unknown modes are 4xx, never 5xx; nothing stored."""
    async with api(store, site_file=site_file) as a:
        headers = {**a.headers[Role.PLANNER], "Content-Type": content_type}
        response = await a.http.put("/api/v1/schedules", content=body, headers=headers, params=params)
    assert response.status_code == status, response.text
    if status == 422:
        assert await store.client.get(SCHEDULES) is None
