"""The thresholds API: version 0 from the site file, validated compare-and-set writes, audit, notice, history."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from api_stack import SITE, running_api, save_snapshot

from wallboard.api import ApiError, create_app
from wallboard.config import Settings
from wallboard.core.users import Role
from wallboard.store import Store

SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {"sales": {}}, "agents": {}}
SITE_FILE = """
site: paris
queues: {support: {}, sales: {}}
thresholds:
  - {id: sl-low, metric: service_level_pct, warn: 80, alarm: 70}
"""
SL = {"id": "sl-low", "metric": "service_level_pct", "warn": 75, "alarm": 70}
WAIT_S = 10.0


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


api = functools.partial(running_api, clock=lambda: 1_700_000_000.0)  # auth on, a user of every role logged in


async def test_version_zero_is_the_site_file(store: Store, site_file: Path) -> None:
    """Before any change the site file's thresholds are in force as version 0 (ETag "0")."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        response = await a.http.get("/api/v1/thresholds", headers=ops)
    assert response.headers["etag"] == '"0"'
    assert response.json() == {
        "version": 0,
        "thresholds": [
            {
                "id": "sl-low",
                "metric": "service_level_pct",
                "scope": "site",
                "direction": "below",
                "warn": 80,
                "alarm": 70,
                "min_offered": 5,
            }
        ],
        "updated_by": None,
        "updated_ts": None,
        "source": "site_file",
    }


async def test_a_display_token_reads_no_thresholds_a_viewer_does(store: Store, site_file: Path) -> None:
    """No TV shows the thresholds (levels come with the snapshot's alerts): a display token gets 403 on them and on
    their history, a logged-in viewer reads both."""
    async with api(store, site_file=site_file, display=True) as a:
        for path in ("/api/v1/thresholds", "/api/v1/thresholds/history"):
            refused = await a.http.get(path, headers=a.headers["display"])
            assert refused.status_code == 403 and "display token" in refused.json()["detail"], path
            assert (await a.http.get(path, headers=a.headers[Role.VIEWER])).status_code == 200, path


async def test_put_writes_the_next_version_audits_and_announces(store: Store, site_file: Path) -> None:
    """A valid PUT at the current version stores version 1, publishes a notice and audits old -> new."""
    async with api(store, site_file=site_file) as a, store.client.pubsub() as pubsub:
        ops = a.headers[Role.OPS]
        await pubsub.subscribe(f"wb:{{{SITE}}}:config")
        response = await a.http.put("/api/v1/thresholds", json={"version": 0, "thresholds": [SL]}, headers=ops)
        stored = json.loads(await store.client.get(f"wb:{{{SITE}}}:config:thresholds"))
        notice = None
        async with asyncio.timeout(WAIT_S):
            while notice is None:
                notice = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        (entry,) = [entry for entry in await store.accounts.read_audit(10) if entry[1]["action"] == "thresholds.update"]
    written = [{**SL, "scope": "site", "direction": "below", "min_offered": 5}]
    assert response.status_code == 200
    assert response.json() == {
        "version": 1,
        "thresholds": written,
        "updated_by": "ops1",
        "updated_ts": "2023-11-14T22:13:20+00:00",
        "source": "api",
    }
    assert stored == {k: v for k, v in response.json().items() if k != "source"}
    assert json.loads(notice["data"]) == {"type": "thresholds", "version": 1}
    fields = entry[1]
    assert (fields["actor"], fields["action"], fields["target"]) == ("ops1", "thresholds.update", "thresholds")
    assert json.loads(fields["old"])["version"] == 0 and json.loads(fields["old"])["thresholds"][0]["warn"] == 80
    assert json.loads(fields["new"]) == {"version": 1, "thresholds": written}


async def test_a_stale_version_is_409(store: Store, site_file: Path) -> None:
    """A PUT based on an older version (or a mismatching If-Match) changes nothing: 409."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        first = await a.http.put("/api/v1/thresholds", json={"version": 0, "thresholds": [SL]}, headers=ops)
        stale = await a.http.put("/api/v1/thresholds", json={"version": 0, "thresholds": []}, headers=ops)
        if_match = await a.http.put(
            "/api/v1/thresholds", json={"version": 1, "thresholds": []}, headers={**ops, "If-Match": '"7"'}
        )
        now = (await a.http.get("/api/v1/thresholds", headers=ops)).json()
    assert first.status_code == 200
    assert stale.status_code == 409 and "version 1" in stale.json()["detail"]
    assert if_match.status_code == 409
    assert now["version"] == 1 and now["thresholds"][0]["warn"] == 75


async def test_concurrent_writers_one_wins(store: Store, site_file: Path) -> None:
    """Two PUTs at the same version at once: exactly one is stored, the other gets 409."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        bodies = [{"version": 0, "thresholds": [{**SL, "warn": warn}]} for warn in (76, 77)]
        responses = await asyncio.gather(*(a.http.put("/api/v1/thresholds", json=b, headers=ops) for b in bodies))
        now = (await a.http.get("/api/v1/thresholds", headers=ops)).json()
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = next(r for r in responses if r.status_code == 200).json()
    assert now["version"] == 1 and now["thresholds"] == winner["thresholds"]


@pytest.mark.parametrize(
    ("threshold", "field", "words"),
    [
        ({**SL, "warn": 70, "alarm": 80}, "thresholds[0].alarm", "alarm 80 is above warn 70"),
        ({**SL, "warn": 120}, "thresholds[0].warn", "not a percentage"),
        ({**SL, "scope": "queue:billing"}, "thresholds[0].scope", "queue 'billing' is not in the site file"),
        ({**SL, "metric": "mood"}, "thresholds[0].metric", ""),
    ],
)
async def test_invalid_thresholds_are_422_by_field(
    store: Store, site_file: Path, threshold: dict[str, Any], field: str, words: str
) -> None:
    """Order, units, unknown queues and metrics answer 422 naming the field; nothing is stored."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        response = await a.http.put("/api/v1/thresholds", json={"version": 0, "thresholds": [threshold]}, headers=ops)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["field"] == field and words in problem["reason"]
    assert await store.config.load_config("thresholds") is None


async def test_without_a_site_file_queues_are_checked_against_the_snapshot(store: Store) -> None:
    """No site file: a queue the snapshot shows is accepted, another is 422; version 0 is empty."""
    async with api(store) as a:
        ops = a.headers[Role.OPS]
        empty = (await a.http.get("/api/v1/thresholds", headers=ops)).json()
        unknown = {"version": 0, "thresholds": [{**SL, "scope": "queue:support"}]}
        refused = await a.http.put("/api/v1/thresholds", json=unknown, headers=ops)
        known = {"version": 0, "thresholds": [{**SL, "scope": "queue:sales"}]}
        accepted = await a.http.put("/api/v1/thresholds", json=known, headers=ops)
    assert (empty["version"], empty["thresholds"], empty["source"]) == (0, [], "none")
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "thresholds[0].scope"
    assert accepted.status_code == 200


async def test_history_lists_versions_newest_first(store: Store, site_file: Path) -> None:
    """Every version written through the API is in the history, newest first, with who and when."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        for version, warn in enumerate((75, 76, 77)):
            body = {"version": version, "thresholds": [{**SL, "warn": warn}]}
            assert (await a.http.put("/api/v1/thresholds", json=body, headers=ops)).status_code == 200
        history = (await a.http.get("/api/v1/thresholds/history", params={"count": 2}, headers=ops)).json()
    assert [(h["version"], h["updated_by"], h["thresholds"][0]["warn"]) for h in history] == [
        (3, "ops1", 77),
        (2, "ops1", 76),
    ]


async def test_a_broken_body_is_422_by_field(store: Store, site_file: Path) -> None:
    """A body without a version, or with a non-list, answers 422 naming the field."""
    async with api(store, site_file=site_file) as a:
        ops = a.headers[Role.OPS]
        response = await a.http.put("/api/v1/thresholds", json={"thresholds": "all of them"}, headers=ops)
    fields = sorted(problem["field"] for problem in response.json()["detail"])
    assert response.status_code == 422 and fields == ["thresholds", "version"]


def test_an_unreadable_site_file_stops_the_api_at_once(tmp_path: Path) -> None:
    """The API checks thresholds against its site file: one it cannot load is an ApiError at build time."""
    broken = tmp_path / "site.yaml"
    broken.write_text("queues: [this is not a mapping", encoding="utf-8")
    with pytest.raises(ApiError, match="cannot load the site file"):
        create_app(Settings(site=SITE, site_file=broken, redis_url="redis://127.0.0.1:1/0"))
