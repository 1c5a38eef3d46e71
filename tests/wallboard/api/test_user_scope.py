"""A user scoped to teams and queues reads exactly those queues and those teams' agents, on every read route, over
/ws (a scope change reaching open sockets at once) and in the agent actions (real uvicorn, redis-server)."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from api_stack import PASSWORD, SITE, RunningApi, running_api
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws

from wallboard.cli import EXIT_OK, main
from wallboard.core.deltas import diff
from wallboard.core.history import row_ids
from wallboard.core.users import Role
from wallboard.store import CallsWrite, HistoryWrite, Store

WAIT_S = 10.0
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
USERS = {"lead": Role.SUPERVISOR, "boss": Role.SUPERVISOR, "admin1": Role.ADMIN}
SCOPE = {"teams": ["red"], "queues": ["sales"]}


def agent(name: str, team: str, queues: list[str], state: str = "available", **extra: Any) -> dict[str, Any]:
    return {"id": name, "name": name.title(), "team": team, "state": state, "reason": None, "since": None,
            "time_in_state_s": 5.0, "queues": queues, "paused_queues": [], "call": None, **extra}  # fmt: skip


def alert(kind: str, name: str) -> dict[str, Any]:
    return {"alert_id": f"w:{kind}:{name}", "threshold_id": "t", "target": {"kind": kind, "name": name},
            "metric": "waiting", "level": "warn", "severity": "warning", "state": "firing", "value": 1.0,
            "reason": "r", "since": "2026-03-02T09:00:00+00:00"}  # fmt: skip


def site_snapshot(seq: int, sales: int = 1, support: int = 2) -> dict[str, Any]:
    """alice (red) in sales, bob (blue) in support on a call, carol (red) in sales and support, dave (blue) in sales."""
    return {
        "site": SITE,
        "ts": f"2026-03-02T09:00:{seq:02d}+00:00",
        "queues": {
            "sales": {"name": "sales", "group": "front", "waiting": sales},
            "support": {"name": "support", "group": "back", "waiting": support},
        },
        "agents": {
            "alice": agent("alice", "red", ["sales"]),
            "bob": agent("bob", "blue", ["support"], "on_call", call={"call_id": "c9", "queue": "support"}),
            "carol": agent("carol", "red", ["sales", "support"], "paused", reason="lunch", paused_queues=["support"]),
            "dave": agent("dave", "blue", ["sales"]),
        },
        "teams": {"red": {"name": "Red"}, "blue": {"name": "Blue"}},
        "alerts": [alert("queue", "support"), alert("agent", "bob"), alert("agent", "alice"), alert("site", SITE)],
        "seq": seq,
        "stream_id": f"{seq}-0",
    }


def history() -> list[HistoryWrite]:
    """One closed interval (08:00 UTC on the 2nd): a row per queue and per agent."""
    span = {"site": SITE, "start": "2026-03-02T08:00:00+00:00", "end": "2026-03-02T08:15:00+00:00"}
    queues = [{**span, "queue": name, "offered": 3} for name in ("sales", "support")]
    agents = [{**span, "agent": name, "team": team, "handled": 1}
              for name, team in (("alice", "red"), ("bob", "blue"), ("carol", "red"), ("dave", "blue"))]  # fmt: skip
    return [
        HistoryWrite(kind, [(i, json.dumps(row)) for i, row in zip(row_ids(rows), rows, strict=True)])
        for kind, rows in (("queue", queues), ("agent", agents))
    ]


class Publisher:
    """Plays the engine runner: the snapshot key, then the delta from the previous one on the updates channel."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.last: dict[str, Any] | None = None

    async def publish(self, snapshot: dict[str, Any], **records: Any) -> None:
        await self.store.events.save_state(
            json.dumps(snapshot), None, snapshot["stream_id"], snapshot["seq"], **records
        )
        if self.last is not None:
            delta = {"type": "delta", "seq": snapshot["seq"], "base": self.last["seq"]}
            await self.store.events.publish_delta({**delta, "changes": diff(self.last, snapshot)})
        self.last = copy.deepcopy(snapshot)


@pytest.fixture
async def published(store: Store) -> Publisher:
    publisher = Publisher(store)
    await publisher.publish(site_snapshot(1), history=history())
    return publisher


async def scope(a: RunningApi, name: str, teams: list[str], queues: list[str]) -> dict[str, Any]:
    """PATCH a user's scope as admin1; the user as answered."""
    body = {"teams": teams, "queues": queues}
    response = await a.http.patch(f"/api/v1/users/{name}", json=body, headers=a.headers["admin1"])
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


async def receive(ws: ClientConnection) -> tuple[dict[str, Any], str]:
    """The next message other than a heartbeat, decoded and as sent."""
    async with asyncio.timeout(WAIT_S):
        while True:
            text = str(await ws.recv())
            message: dict[str, Any] = json.loads(text)
            if message["type"] != "heartbeat":
                return message, text


async def test_a_user_is_created_and_changed_with_a_scope_and_each_change_is_audited(published: Publisher) -> None:
    """POST /users with teams and queues stores and shows them; PATCH changes them ([] widens to everything);
    each change writes the old and new scope to the audit trail. Invalid names are a 422."""
    async with running_api(published.store, users={"admin1": Role.ADMIN}) as a:
        body = {"name": "lead", "role": "supervisor", "password": PASSWORD, **SCOPE}
        created = await a.http.post("/api/v1/users", json=body, headers=a.headers["admin1"])
        widened = await scope(a, "lead", [], ["sales", "support"])
        bad = await a.http.patch("/api/v1/users/lead", json={"teams": ["no spaces"]}, headers=a.headers["admin1"])
        listed = (await a.http.get("/api/v1/users", headers=a.headers["admin1"])).json()
        audit = (await a.http.get("/api/v1/audit", headers=a.headers["admin1"])).json()
    assert created.status_code == 201 and created.json()["teams"] == ["red"] and created.json()["queues"] == ["sales"]
    assert widened["teams"] == [] and widened["queues"] == ["sales", "support"]
    assert bad.status_code == 422
    assert {user["name"]: (user["teams"], user["queues"]) for user in listed} == {
        "admin1": ([], []),
        "lead": ([], ["sales", "support"]),
    }
    update = next(entry for entry in audit if entry["action"] == "user.update")
    assert update["old"]["teams"] == ["red"] and update["new"] == {
        **update["new"],
        "teams": [],
        "queues": widened["queues"],
    }
    create = next(entry for entry in audit if entry["action"] == "user.create" and entry["target"] == "user:lead")
    assert create["new"]["teams"] == ["red"] and create["new"]["queues"] == ["sales"]


async def test_a_scoped_user_reads_only_their_queues_agents_and_alerts_over_rest(published: Publisher) -> None:
    """lead (red team, sales) reads sales, alice and carol (naming sales only), alerts about them and the site;
    support and bob are 404, as unknown ones. An unscoped user on the same API reads everything."""
    async with running_api(published.store, users=USERS) as a:
        await scope(a, "lead", **SCOPE)
        lead, boss = a.headers["lead"], a.headers["boss"]
        snapshot = (await a.http.get("/api/v1/snapshot", headers=lead)).json()
        queues = (await a.http.get("/api/v1/queues", headers=lead)).json()["queues"]
        agents = (await a.http.get("/api/v1/agents", headers=lead)).json()["agents"]
        hidden = [await a.http.get(path, headers=lead) for path in ("/api/v1/queues/support", "/api/v1/agents/bob")]
        shown = [await a.http.get(path, headers=lead) for path in ("/api/v1/queues/sales", "/api/v1/agents/carol")]
        alerts = (await a.http.get("/api/v1/alerts", headers=lead)).json()["alerts"]
        everything = (await a.http.get("/api/v1/snapshot", headers=boss)).json()
        all_alerts = (await a.http.get("/api/v1/alerts", headers=boss)).json()["alerts"]
    assert set(snapshot["queues"]) == {"sales"} and [queue["name"] for queue in queues] == ["sales"]
    assert set(snapshot["agents"]) == {"alice", "carol"} and {x["id"] for x in agents} == {"alice", "carol"}
    assert snapshot["agents"]["carol"]["queues"] == ["sales"] and snapshot["agents"]["carol"]["paused_queues"] == []
    assert set(snapshot["teams"]) == {"red"}
    assert [alert["alert_id"] for alert in alerts] == ["w:agent:alice", f"w:site:{SITE}"]
    assert "support" not in json.dumps(snapshot) and "bob" not in json.dumps(snapshot)
    assert [response.status_code for response in hidden] == [404, 404]
    assert [response.status_code for response in shown] == [200, 200]
    assert set(everything["agents"]) == {"alice", "bob", "carol", "dave"} and len(all_alerts) == 4


async def test_a_scoped_user_reads_the_trend_of_their_queues_only(published: Publisher) -> None:
    """/api/v1/trend: sales for lead (scoped to sales), sales and support for an unscoped user."""
    sample_ms = int((NOW - 60) * 1000)
    await published.store.trend.add_trend_sample(sample_ms, {"sales": [1, 50.0], "support": [2, 90.0]}, 3600.0)
    async with running_api(published.store, users=USERS, clock=lambda: NOW) as a:
        await scope(a, "lead", **SCOPE)
        lead = (await a.http.get("/api/v1/trend", headers=a.headers["lead"])).json()
        boss = (await a.http.get("/api/v1/trend", headers=a.headers["boss"])).json()
    assert set(lead) == {"sales"} and set(boss) == {"sales", "support"}


async def test_a_scoped_user_reads_the_history_rows_of_their_queues_and_agents_only(published: Publisher) -> None:
    """History: lead's queue rows are sales only (asking for support gives none), agent rows alice's and carol's
    (red and in sales; asking for bob gives none); a user scoped to a team only reads all that team's rows."""
    day = {"from": "2026-03-02", "to": "2026-03-02"}
    async with running_api(published.store, users=USERS, clock=lambda: NOW) as a:
        await scope(a, "lead", **SCOPE)
        await scope(a, "boss", ["blue"], [])
        lead, boss = a.headers["lead"], a.headers["boss"]
        queue_rows = (await a.http.get("/api/v1/history/queues", params=day, headers=lead)).json()["rows"]
        asked = (await a.http.get("/api/v1/history/queues", params={**day, "queue": "support"}, headers=lead)).json()
        agent_rows = (await a.http.get("/api/v1/history/agents", params=day, headers=lead)).json()["rows"]
        bob = (await a.http.get("/api/v1/history/agents", params={**day, "agent": "bob"}, headers=lead)).json()
        blue = (await a.http.get("/api/v1/history/agents", params=day, headers=boss)).json()["rows"]
        blue_queues = (await a.http.get("/api/v1/history/queues", params=day, headers=boss)).json()["rows"]
    assert [row["queue"] for row in queue_rows] == ["sales"] and asked["rows"] == []
    assert sorted(row["agent"] for row in agent_rows) == ["alice", "carol"] and bob["rows"] == []
    assert sorted(row["agent"] for row in blue) == ["bob", "dave"]
    assert sorted(row["queue"] for row in blue_queues) == ["sales", "support"]


async def test_a_scoped_users_websocket_gets_their_view_and_a_scope_change_at_once(published: Publisher) -> None:
    """/ws: lead's first snapshot and deltas hold only sales and its red agents (a change of support or bob alone
    reaches it as nothing of theirs); PATCHing lead's scope sends the open socket a snapshot of the new view, and
    an empty scope widens it to the whole site, without reconnecting."""
    async with running_api(published.store, users=USERS) as a:
        await scope(a, "lead", **SCOPE)
        url = f"{a.ws_base}/ws"
        async with connect_ws(url, proxy=None, open_timeout=WAIT_S, additional_headers=a.headers["lead"]) as ws:
            first, first_text = await receive(ws)
            assert first["type"] == "snapshot" and set(first["queues"]) == {"sales"}
            assert set(first["agents"]) == {"alice", "carol"}
            changed = site_snapshot(2, sales=4, support=9)
            changed["agents"]["bob"]["state"] = "wrap_up"
            changed["agents"]["alice"]["state"] = "on_call"
            await published.publish(changed)
            delta, delta_text = await receive(ws)
            assert delta["type"] == "delta" and delta["seq"] == 2 and delta["base"] == 1
            assert delta["changes"]["queues"] == {"sales": {"waiting": 4}}
            assert delta["changes"]["agents"] == {"alice": {"state": "on_call"}}
            await scope(a, "lead", ["blue"], [])
            narrowed, _ = await receive(ws)
            assert narrowed["type"] == "snapshot" and set(narrowed["agents"]) == {"bob", "dave"}
            assert set(narrowed["queues"]) == {"sales", "support"} and set(narrowed["teams"]) == {"blue"}
            await scope(a, "lead", [], [])
            widened, _ = await receive(ws)
    for text in (first_text, delta_text):
        assert "support" not in text and "bob" not in text
    assert widened["type"] == "snapshot" and set(widened["agents"]) == {"alice", "bob", "carol", "dave"}


async def test_an_unscoped_users_websocket_narrows_when_a_scope_is_given(published: Publisher) -> None:
    """A socket opened while the user saw everything gets a snapshot of the new view when a scope is set."""
    async with running_api(published.store, users=USERS) as a:
        url = f"{a.ws_base}/ws"
        async with connect_ws(url, proxy=None, open_timeout=WAIT_S, additional_headers=a.headers["lead"]) as ws:
            assert set((await receive(ws))[0]["agents"]) == {"alice", "bob", "carol", "dave"}
            await scope(a, "lead", **SCOPE)
            narrowed, _ = await receive(ws)
    assert narrowed["type"] == "snapshot" and set(narrowed["agents"]) == {"alice", "carol"}


async def test_a_scoped_supervisor_acts_only_on_agents_and_queues_in_scope(published: Publisher) -> None:
    """lead may pause alice (202), not bob (404, as unknown), nor alice in support (403); the action reads show
    lead only actions on their agents (boss's pause of bob is neither listed nor readable by id)."""
    async with running_api(published.store, users=USERS, actions=("pause",)) as a:
        await scope(a, "lead", **SCOPE)
        lead, boss = a.headers["lead"], a.headers["boss"]
        mine = await a.http.post("/api/v1/agents/alice/pause", json={"reason": "Coaching"}, headers=lead)
        out = await a.http.post("/api/v1/agents/bob/pause", json={"reason": "Coaching"}, headers=lead)
        elsewhere = await a.http.post(
            "/api/v1/agents/alice/pause", json={"reason": "Coaching", "queue": "support"}, headers=lead
        )
        theirs = await a.http.post("/api/v1/agents/bob/pause", json={"reason": "Coaching"}, headers=boss)
        listed = (await a.http.get("/api/v1/actions", headers=lead)).json()
        by_id = await a.http.get(f"/api/v1/actions/{theirs.json()['id']}", headers=lead)
        everything = (await a.http.get("/api/v1/actions", headers=boss)).json()
    assert (mine.status_code, out.status_code, elsewhere.status_code, theirs.status_code) == (202, 404, 403, 202)
    assert [action["agent"] for action in listed] == ["alice"] and by_id.status_code == 404
    assert sorted(action["agent"] for action in everything) == ["alice", "bob"]


async def test_a_scoped_pause_of_every_queue_pauses_the_agent_only_in_the_users_queues(published: Publisher) -> None:
    """carol is in sales (lead's) and support (not lead's): lead's pause without a queue pauses her in sales only;
    boss (unscoped) still pauses every queue."""
    async with running_api(published.store, users=USERS, actions=("pause",)) as a:
        await scope(a, "lead", **SCOPE)
        scoped = await a.http.post("/api/v1/agents/carol/pause", json={"reason": "Coaching"}, headers=a.headers["lead"])
        whole = await a.http.post("/api/v1/agents/carol/unpause", json={}, headers=a.headers["boss"])
        me = (await a.http.get("/api/v1/me", headers=a.headers["lead"])).json()
    assert (me["teams"], me["queues"]) == (SCOPE["teams"], SCOPE["queues"])
    assert (scoped.status_code, whole.status_code) == (202, 202)
    assert (scoped.json()["queue"], whole.json()["queue"]) == ("sales", None)


async def test_a_scoped_user_reads_and_acts_on_the_alerts_of_their_view_only(published: Publisher) -> None:
    """Alert history: lead reads the records about alice and the site, not support's or bob's; lead may
    acknowledge alice's alert (202) and not bob's (404, as a closed one), which boss (unscoped) may."""
    fired = {"transition": "fired", "at": "2026-03-02T09:00:00Z"}
    targets = (("queue", "support"), ("agent", "bob"), ("agent", "alice"), ("site", SITE))
    records = [{**alert(kind, name), **fired, "key": f"{kind}:{name}:fired"} for kind, name in targets]
    await published.publish(site_snapshot(2), alerts=[json.dumps(record) for record in records])
    async with running_api(published.store, users=USERS) as a:
        await scope(a, "lead", **SCOPE)
        lead, boss = a.headers["lead"], a.headers["boss"]
        mine = (await a.http.get("/api/v1/alerts/history", headers=lead)).json()["records"]
        every = (await a.http.get("/api/v1/alerts/history", headers=boss)).json()["records"]
        acked = await a.http.post("/api/v1/alerts/w:agent:alice/ack", headers=lead)
        refused = await a.http.post("/api/v1/alerts/w:agent:bob/ack", headers=lead)
        allowed = await a.http.post("/api/v1/alerts/w:agent:bob/ack", headers=boss)
    assert [record["alert_id"] for record in mine] == ["w:agent:alice", f"w:site:{SITE}"]
    assert len(every) == 4
    assert (acked.status_code, refused.status_code, allowed.status_code) == (202, 404, 202)


async def test_a_scoped_user_reads_the_calls_of_their_queues_and_teams_only(published: Publisher) -> None:
    """/api/v1/calls: lead (red, sales) reads sales' calls answered by red agents; asking for support gives none;
    a user scoped to sales only reads every sales call, abandoned ones included; an unscoped one, all."""
    calls = [("c1", "sales", "alice", "red"), ("c2", "sales", None, None), ("c3", "support", "bob", "blue"),
             ("c4", "sales", "dave", "blue")]  # fmt: skip
    entries = []
    for n, (call_id, queue, agent_id, team) in enumerate(calls, 1):
        finished = f"2026-03-02T09:0{n}:00+00:00"
        row = {"call_id": call_id, "queue": queue, "outcome": "answered" if agent_id else "abandoned",
               "agent": agent_id, "team": team, "caller": "0140000142", "finished": finished}  # fmt: skip
        entries.append((f"{int(datetime.fromisoformat(finished).timestamp() * 1000)}-0", n, json.dumps(row)))
    published.store.events.stage_calls(CallsWrite(entries))
    await published.publish(site_snapshot(2))
    async with running_api(published.store, users={**USERS, "sales1": Role.VIEWER}, clock=lambda: NOW) as a:
        await scope(a, "lead", **SCOPE)
        await scope(a, "sales1", [], ["sales"])
        lead = (await a.http.get("/api/v1/calls", headers=a.headers["lead"])).json()["calls"]
        asked = (await a.http.get("/api/v1/calls", params={"queue": "support"}, headers=a.headers["lead"])).json()
        sales = (await a.http.get("/api/v1/calls", headers=a.headers["sales1"])).json()["calls"]
        every = (await a.http.get("/api/v1/calls", headers=a.headers["boss"])).json()["calls"]
    assert [call["call_id"] for call in lead] == ["c1"] and asked["calls"] == []
    assert [call["call_id"] for call in sales] == ["c1", "c2", "c4"]
    assert [call["call_id"] for call in every] == ["c1", "c2", "c3", "c4"]


async def test_a_scoped_user_may_not_read_the_whole_sites_metrics(published: Publisher) -> None:
    """/metrics from a remote client (behind a trusted proxy): 403 to lead (scoped), 200 to boss (unscoped)."""
    remote = {"X-Forwarded-For": "198.51.100.7"}
    async with running_api(published.store, users=USERS, trusted_proxies="127.0.0.1") as a:
        await scope(a, "lead", **SCOPE)
        lead = await a.http.get("/metrics", headers={**a.headers["lead"], **remote})
        boss = await a.http.get("/metrics", headers={**a.headers["boss"], **remote})
        nobody = await a.http.get("/metrics", headers=remote)
    assert (lead.status_code, boss.status_code, nobody.status_code) == (403, 200, 401)


def test_the_cli_adds_a_scoped_user_and_lists_its_scope(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`users add --teams --queues` stores the scope on the record; `users list` shows it (and everything for
    an unscoped user)."""
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    monkeypatch.setenv("WALLBOARD_SITE", SITE)
    monkeypatch.setenv("WALLBOARD_NEW_PASSWORD", PASSWORD)
    assert main(["users", "add", "lead", "--role", "supervisor", "--teams", "red,blue", "--queues", "sales"]) == EXIT_OK
    assert main(["users", "add", "boss", "--role", "viewer"]) == EXIT_OK
    assert main(["users", "list"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "added user lead with role supervisor, seeing teams blue,red queues sales"
    assert out[2].startswith("boss\tviewer\tactive\t") and out[2].endswith("\tsees every team and queue")
    assert out[3].startswith("lead\tsupervisor\t") and out[3].endswith("\tsees teams blue,red queues sales")
