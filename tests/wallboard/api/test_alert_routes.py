"""The alerts API over real uvicorn and redis-server: reads, actions into the event stream, audit, permissions.

The snapshot and the alert records are written to Redis as the runner writes them (``save_state``); the
engine itself is not running here (tests/wallboard/test_alerting_e2e.py runs the whole chain).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_stack import SITE, running_api, save_snapshot

from wallboard.core.events import AlertAction, parse_event
from wallboard.core.users import Role
from wallboard.store import Store

NOW = 1_700_000_000.0  # the API's clock
FIRING = "waiting:queue:support:1699999000"
SNOOZED = "slow:queue:sales:1699999100"
GONE = "waiting:queue:support:1699990000"  # fired and resolved earlier: in the history only


def alert(alert_id: str, threshold: str, queue: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "threshold_id": threshold,
        "target": {"kind": "queue", "name": queue},
        "metric": "waiting",
        "level": "warn",
        "severity": "warning",
        "state": state,
        "value": 3.0,
        "reason": "Calls waiting 3 > 2",
        "since": "2023-11-14T21:56:40+00:00",
        **extra,
    }


ALERTS = [
    alert(FIRING, "waiting", "support", "firing"),
    alert(SNOOZED, "slow", "sales", "snoozed", snoozed_until="2023-11-14T23:00:00+00:00"),
]
SNAPSHOT = {"site": SITE, "seq": 7, "ts": "2023-11-14T22:13:20+00:00", "queues": {}, "agents": {}, "alerts": ALERTS}


def record(alert_id: str, transition: str, threshold: str, queue: str, n: int) -> dict[str, Any]:
    return {
        "key": f"{alert_id}:{transition}:{n}",
        "alert_id": alert_id,
        "transition": transition,
        "threshold_id": threshold,
        "target": {"kind": "queue", "name": queue},
        "metric": "waiting",
        "level": "warn",
        "severity": "warning",
        "state": "resolved" if transition == "resolved" else "firing",
        "value": 3.0,
        "reason": "r",
        "at": "2023-11-14T21:00:00+00:00",
        "since": "2023-11-14T21:00:00+00:00",
        "notify": True,
    }


HISTORY = [
    record(GONE, "fired", "waiting", "support", 1),
    record(GONE, "resolved", "waiting", "support", 2),
    record(FIRING, "fired", "waiting", "support", 1),
    record(SNOOZED, "fired", "slow", "sales", 1),
    record(SNOOZED, "snoozed", "slow", "sales", 2),
]


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT, alerts=[json.dumps(r) for r in HISTORY])
    return store


# with auth on; headers by user name: supervisor sup1, viewer view1, a display token, none
api = functools.partial(
    running_api, clock=lambda: NOW, users={"sup1": Role.SUPERVISOR, "view1": Role.VIEWER}, display="tv1"
)


async def stream_actions(store: Store) -> list[AlertAction]:
    events = [parse_event(entry.data or b"") for entry in await store.events.read_range()]
    return [event for event in events if isinstance(event, AlertAction)]


async def audit(store: Store, action: str) -> list[dict[str, str]]:
    return [fields for _, fields in await store.accounts.read_audit(50) if fields["action"] == action]


async def test_open_alerts_are_read_from_the_snapshot(store: Store) -> None:
    """Viewers and display tokens read the snapshot's alerts; without a credential it is 401."""
    async with api(store) as a:
        responses = {
            name: await a.http.get("/api/v1/alerts", headers=a.headers[name]) for name in ("view1", "display", "none")
        }
    assert responses["view1"].status_code == responses["display"].status_code == 200
    assert responses["view1"].json() == {"site": SITE, "seq": 7, "ts": SNAPSHOT["ts"], "alerts": ALERTS}
    assert responses["none"].status_code == 401


async def test_an_ack_becomes_an_alert_action_event_and_an_audit_entry(store: Store) -> None:
    """POST ack: 202, an alert_action in the event stream by the supervisor, keyed by Idempotency-Key, audited."""
    async with api(store) as a:
        headers = a.headers["sup1"] | {"Idempotency-Key": "click-1"}
        response = await a.http.post(f"/api/v1/alerts/{FIRING}/ack", json={"note": "on it"}, headers=headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["alert_id"], body["action"], body["key"], body["until"]) == (FIRING, "ack", "api:sup1:click-1", None)
    (event,) = await stream_actions(store)
    assert (event.alert_id, event.action, event.by, event.note, event.key) == (
        FIRING,
        "ack",
        "sup1",
        "on it",
        body["key"],
    )
    assert event.ts == datetime.fromtimestamp(NOW, UTC) and event.site == SITE
    (entry,) = await audit(store, "alert.ack")
    assert (entry["actor"], entry["target"]) == ("sup1", FIRING)
    assert json.loads(entry["old"])["state"] == "firing"
    assert json.loads(entry["new"]) == {"action": "ack", "note": "on it", "until": None, "event_id": body["event_id"]}


async def test_a_snooze_ends_minutes_after_the_request(store: Store) -> None:
    """Snooze 30 min: until = the API's clock + 30 min; 0 and 1441 minutes are 422 naming the field."""
    async with api(store) as a:
        sup = a.headers["sup1"]
        response = await a.http.post(f"/api/v1/alerts/{FIRING}/snooze", json={"minutes": 30}, headers=sup)
        too_short = await a.http.post(f"/api/v1/alerts/{FIRING}/snooze", json={"minutes": 0}, headers=sup)
        too_long = await a.http.post(f"/api/v1/alerts/{FIRING}/snooze", json={"minutes": 1441}, headers=sup)
    until = datetime.fromtimestamp(NOW, UTC) + timedelta(minutes=30)
    assert response.status_code == 202 and response.json()["until"] == until.isoformat()
    (event,) = await stream_actions(store)
    assert (event.action, event.until) == ("snooze", until)
    for refused in (too_short, too_long):
        assert refused.status_code == 422
        assert [problem["field"] for problem in refused.json()["detail"]] == ["minutes"]


async def test_unsnooze_and_note(store: Store) -> None:
    """Unsnooze a snoozed alert and note a firing one (202); unsnooze a firing one is 409; an empty note 422."""
    async with api(store) as a:
        sup = a.headers["sup1"]
        unsnoozed = await a.http.post(f"/api/v1/alerts/{SNOOZED}/unsnooze", headers=sup)
        noted = await a.http.post(f"/api/v1/alerts/{FIRING}/note", json={"note": "storm"}, headers=sup)
        not_snoozed = await a.http.post(f"/api/v1/alerts/{FIRING}/unsnooze", headers=sup)
        empty = await a.http.post(f"/api/v1/alerts/{FIRING}/note", json={"note": ""}, headers=sup)
    assert (unsnoozed.status_code, noted.status_code, not_snoozed.status_code, empty.status_code) == (
        202,
        202,
        409,
        422,
    )
    assert [(e.alert_id, e.action, e.note) for e in await stream_actions(store)] == [
        (SNOOZED, "unsnooze", None),
        (FIRING, "note", "storm"),
    ]
    assert [entry["target"] for entry in await audit(store, "alert.note")] == [FIRING]


async def test_unknown_and_resolved_alerts(store: Store) -> None:
    """An id never seen is 404; one whose history ends resolved is 409; nothing reaches the stream."""
    async with api(store) as a:
        unknown = await a.http.post("/api/v1/alerts/waiting:queue:support:1/ack", headers=a.headers["sup1"])
        resolved = await a.http.post(f"/api/v1/alerts/{GONE}/ack", headers=a.headers["sup1"])
    assert (unknown.status_code, resolved.status_code) == (404, 409)
    assert "resolved" in resolved.json()["detail"]
    assert await stream_actions(store) == []


@pytest.mark.parametrize(("caller", "status"), [("none", 401), ("display", 403), ("view1", 403)])
async def test_actions_need_the_ack_permission(store: Store, caller: str, status: int) -> None:
    """No credential is 401; a display token or a viewer is 403, on every action."""
    async with api(store) as a:
        statuses = [
            (await a.http.post(f"/api/v1/alerts/{FIRING}/{action}", json=body, headers=a.headers[caller])).status_code
            for action, body in (("ack", {}), ("snooze", {"minutes": 5}), ("unsnooze", {}), ("note", {"note": "x"}))
        ]
    assert statuses == [status] * 4
    assert await stream_actions(store) == []


async def test_history_filters_and_pages(store: Store) -> None:
    """History: latest first page, filters by threshold and target, since= a stream id pages on with next."""
    async with api(store) as a:
        viewer = a.headers["view1"]
        get = a.http.get
        everything = (await get("/api/v1/alerts/history", headers=viewer)).json()
        by_threshold = (await get("/api/v1/alerts/history?threshold=slow", headers=viewer)).json()
        by_target = (await get("/api/v1/alerts/history?target=queue:support&limit=2", headers=viewer)).json()
        first = (await get("/api/v1/alerts/history?since=0-0&limit=2", headers=viewer)).json()
        second = (await get(f"/api/v1/alerts/history?since={first['next']}&limit=2", headers=viewer)).json()
        third = (await get(f"/api/v1/alerts/history?since={second['next']}&limit=2", headers=viewer)).json()
        future = (await get("/api/v1/alerts/history?since=2999-01-01T00:00:00Z", headers=viewer)).json()
        bad = [
            await get(f"/api/v1/alerts/history?since={since}", headers=viewer)
            for since in ("yesterday", "2024-05-06T09:00:00", "18446744073709551616-0")
        ]
    keys = [r["key"] for r in HISTORY]
    assert [r["key"] for r in everything["records"]] == keys and everything["next"] is None
    assert [r["key"] for r in by_threshold["records"]] == keys[3:]
    assert [r["key"] for r in by_target["records"]] == keys[1:3]  # the latest two of support
    assert [r["key"] for r in first["records"] + second["records"] + third["records"]] == keys
    assert third["next"] is None and future["records"] == []
    assert [(r.status_code, r.json()["detail"][0]["field"]) for r in bad] == [(422, "since")] * 3
