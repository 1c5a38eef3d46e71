"""The agent actions API over real uvicorn and redis-server: who may act, validation, rate limit, audit, reads,
and the whole path to a scripted AMI server that answers with Asterisk 22's real responses."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import pytest
from api_stack import SITE, running_api, save_snapshot
from waiting import poll_until

from collectors.ami.client import AmiClient, AmiConfig
from collectors.ami.protocol import AmiParser
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.core.actions import FAMILIES
from wallboard.core.site import AgentConfig, SiteConfig
from wallboard.core.users import Role
from wallboard.store import Store
from wallboard.store.sink import StreamSink


def agent(agent_id: str, call: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": agent_id, "name": agent_id, "state": "on_call" if call else "available", "call": call}


CALL = {"call_id": "1795350762.5", "queue": "support", "since": "2023-11-14T22:13:00+00:00"}
SNAPSHOT = {
    "site": SITE,
    "seq": 3,
    "ts": "2023-11-14T22:13:20+00:00",
    "queues": {},
    "agents": {"agent02": agent("agent02"), "agent07": agent("agent07", CALL)},
}
SITE_CONFIG = SiteConfig(
    site=SITE,
    agents={"agent02": AgentConfig(name="Bob Martinez", aliases=("Local/agent02@agents/n",))},
    pause_reasons=("Break", "Coaching"),
)
USERS = {"sup1": Role.SUPERVISOR, "view1": Role.VIEWER, "plan1": Role.PLANNER, "ops1": Role.OPS}
api = functools.partial(
    running_api, users=USERS, display=True, site_config=SITE_CONFIG, actions=FAMILIES, actions_per_minute=5
)


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


async def test_who_may_pause(store: Store) -> None:
    """Supervisors and ops get 202 pending; display tokens, viewers and planners 403; no credential 401."""
    async with api(store) as a:
        answers = {
            name: await a.http.post("/api/v1/agents/agent02/pause", json={"reason": "Break"}, headers=a.headers[name])
            for name in ("sup1", "ops1", "view1", "plan1", "display", "none")
        }
    assert {name: r.status_code for name, r in answers.items()} == {
        "sup1": 202, "ops1": 202, "view1": 403, "plan1": 403, "display": 403, "none": 401,
    }  # fmt: skip
    body = answers["sup1"].json()
    assert (body["state"], body["kind"], body["agent"], body["by"], body["reason"]) == (
        "pending", "pause", "agent02", "sup1", "Break",
    )  # fmt: skip
    assert "may not act on agents" in answers["display"].json()["detail"]


async def test_a_disabled_kind_is_refused_saying_how_to_enable_it(store: Store) -> None:
    """With WALLBOARD_ACTIONS=pause, a login is 403 naming the setting; nothing is queued."""
    async with running_api(store, users=USERS, actions=("pause",)) as a:
        response = await a.http.post(
            "/api/v1/agents/agent02/login", json={"queue": "support"}, headers=a.headers["sup1"]
        )
    assert response.status_code == 403
    assert "WALLBOARD_ACTIONS=pause,login" in response.json()["detail"]
    assert await store.client.xlen(store.keys.actions) == 0


async def test_actions_are_off_by_default(store: Store) -> None:
    """Without WALLBOARD_ACTIONS every kind is refused."""
    async with running_api(store, users=USERS) as a:
        response = await a.http.post("/api/v1/agents/agent02/unpause", json={}, headers=a.headers["sup1"])
    assert response.status_code == 403 and "WALLBOARD_ACTIONS=pause" in response.json()["detail"]


async def test_validation(store: Store) -> None:
    """A reason of 1 to 64 characters (control characters removed first); a login needs a queue; unknown agent 404."""
    async with api(store) as a:
        post = functools.partial(a.http.post, headers=a.headers["sup1"])
        too_long = await post("/api/v1/agents/agent02/pause", json={"reason": "x" * 65})
        only_controls = await post("/api/v1/agents/agent02/pause", json={"reason": "\x1b\x07"})
        cleaned = await post("/api/v1/agents/agent02/pause", json={"reason": "Coach\x1b[2Jing\u202e"})
        no_queue = await post("/api/v1/agents/agent02/login", json={"penalty": 0})
        unknown = await post("/api/v1/agents/nobody/pause", json={"reason": "Break"})
    assert too_long.status_code == only_controls.status_code == no_queue.status_code == 422
    assert [p["field"] for p in no_queue.json()["detail"]] == ["queue"]
    assert cleaned.status_code == 202 and cleaned.json()["reason"] == "Coach[2Jing"
    assert unknown.status_code == 404


async def test_monitor_needs_the_grant_a_call_and_a_phone(store: Store) -> None:
    """Without may_monitor 403; granted: an agent on no call 409, no phone 422, the profile's phone is used."""
    async with api(store) as a:
        post = functools.partial(a.http.post, headers=a.headers["sup1"])
        ungranted = await post("/api/v1/agents/agent07/monitor", json={"mode": "listen", "extension": "PJSIP/2001"})
        await a.accounts.update_user("sup1", actor="test", may_monitor=True)
        no_call = await post("/api/v1/agents/agent02/monitor", json={"mode": "listen", "extension": "PJSIP/2001"})
        no_phone = await post("/api/v1/agents/agent07/monitor", json={"mode": "whisper"})
        profile = await a.http.patch("/api/v1/me/profile", json={"extension": "PJSIP/2001"}, headers=a.headers["sup1"])
        accepted = await post("/api/v1/agents/agent07/monitor", json={"mode": "barge"})
        read_back = await a.http.get("/api/v1/me/profile", headers=a.headers["sup1"])
    assert ungranted.status_code == 403 and "may_monitor" in ungranted.json()["detail"]
    assert no_call.status_code == 409 and "on no call" in no_call.json()["detail"]
    assert no_phone.status_code == 422
    assert profile.status_code == 200
    assert read_back.json() == {"name": "sup1", "extension": "PJSIP/2001", "may_monitor": True, "language": None}
    assert accepted.status_code == 202
    assert (accepted.json()["mode"], accepted.json()["extension"]) == ("barge", "PJSIP/2001")


async def test_logout_of_a_static_member_is_a_conflict(store: Store) -> None:
    """The collector's member directory says agent02 is static in support: 409; a dynamic queue is accepted."""
    members = {
        "Local/agent02@agents/n": {
            "interface": "Local/agent02@agents/n",
            "member_name": "Bob Martinez",
            "queues": {"support": "static", "sales": "dynamic"},
        }
    }
    await store.actions.put_members(members)
    async with api(store) as a:
        post = functools.partial(a.http.post, headers=a.headers["sup1"])
        static = await post("/api/v1/agents/agent02/logout", json={"queue": "support"})
        dynamic = await post("/api/v1/agents/agent02/logout", json={"queue": "sales"})
    assert static.status_code == 409 and "static member of support" in static.json()["detail"]
    assert dynamic.status_code == 202


async def test_rate_limit_per_user(store: Store) -> None:
    """Past WALLBOARD_ACTIONS_PER_MINUTE (5 here) a user gets 429; another user is not slowed."""
    async with api(store) as a:
        codes = [
            (await a.http.post("/api/v1/agents/agent02/unpause", json={}, headers=a.headers["sup1"])).status_code
            for _ in range(6)
        ]
        other = await a.http.post("/api/v1/agents/agent02/unpause", json={}, headers=a.headers["ops1"])
    assert codes == [202] * 5 + [429]
    assert other.status_code == 202


async def test_an_action_is_audited_listed_and_read_back(store: Store) -> None:
    """The audit trail has who, agent, action and reason; GET by id and the agent's recent list show it."""
    async with api(store) as a:
        body = (
            await a.http.post(
                "/api/v1/agents/agent02/pause", json={"reason": "Coaching", "queue": "sales"}, headers=a.headers["sup1"]
            )
        ).json()
        one = await a.http.get(f"/api/v1/actions/{body['id']}", headers=a.headers["sup1"])
        listed = await a.http.get("/api/v1/actions", params={"agent": "agent02"}, headers=a.headers["sup1"])
        other = await a.http.get("/api/v1/actions", params={"agent": "agent07"}, headers=a.headers["sup1"])
        options = await a.http.get("/api/v1/actions/options", headers=a.headers["sup1"])
        missing = await a.http.get("/api/v1/actions/abcdef", headers=a.headers["sup1"])
    assert one.json()["state"] == "pending" and one.json()["id"] == body["id"]
    assert [item["id"] for item in listed.json()] == [body["id"]] and other.json() == []
    assert missing.status_code == 404
    assert options.json()["pause_reasons"] == ["Break", "Coaching"] and options.json()["enabled"] == list(FAMILIES)
    (entry,) = [fields for _, fields in await store.accounts.read_audit(20) if fields["action"] == "agent.pause"]
    assert (entry["actor"], entry["target"]) == ("sup1", "agent:agent02")
    assert json.loads(entry["new"]) == {"id": body["id"], "queue": "sales", "reason": "Coaching"}
    entries = await store.client.xrange(store.keys.actions)
    action = json.loads(entries[0][1][b"a"])
    assert action["names"] == ["Bob Martinez", "Local/agent02@agents/n"]


# -- the whole path: API -> Redis -> AMI collector -> a PBX answering with Asterisk 22's real responses --------

MEMBER = (
    "Event: QueueMemberAdded\r\nPrivilege: agent,all\r\nQueue: support\r\nMemberName: Bob Martinez\r\n"
    "Interface: Local/agent02@agents/n\r\nStateInterface: Local/agent02@agents\r\nMembership: dynamic\r\n"
    "Penalty: 0\r\nCallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795350752\r\nInCall: 0\r\n"
    "Status: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
)  # as Asterisk 22 sent it (tests/fixtures/asterisk22-light/ami_control_transcript.txt)
PAUSED = "Response: Success\r\nActionID: {id}\r\nMessage: Interface paused successfully\r\n\r\n"


async def test_a_pause_through_the_api_is_done_by_the_pbx(store: Store) -> None:
    """POST pause -> the collector sends QueuePause for the interface it learned -> the PBX's answer -> done."""
    sent: list[dict[str, str]] = []

    async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        parser = AmiParser(expect_banner=False)
        try:
            await _answer(reader, writer, parser)
        finally:
            writer.close()

    async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser) -> None:
        while data := await reader.read(65536):
            parser.receive_data(data)
            for frame in parser.frames_received():
                sent.append(dict(frame.fields))
                answer = f"Response: Success\r\nActionID: {frame.action_id}\r\n\r\n"
                if frame.name == "QueueStatus":
                    answer += MEMBER
                if frame.name == "QueuePause":
                    answer = PAUSED.format(id=frame.action_id)
                writer.write(answer.encode())

    server = await asyncio.start_server(pbx, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = AmiConfig("127.0.0.1", port, "wallboard", "secret", site=SITE)
    collector = AmiClient(config, StreamSink(store), actions=ActionFeed(AgentActions(store.actions)), enabled=FAMILIES)
    task = asyncio.create_task(collector.run())
    try:
        async with api(store) as a:
            await poll_until(store.actions.members, "the collector publishes its members", 10)
            body = (
                await a.http.post(
                    "/api/v1/agents/agent02/pause", json={"reason": "Coaching"}, headers=a.headers["sup1"]
                )
            ).json()
            await poll_until(functools.partial(_is_done, a, body["id"]), "the action is done", 10)
            final = (await a.http.get(f"/api/v1/actions/{body['id']}", headers=a.headers["sup1"])).json()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()
    assert (final["state"], final["message"]) == ("done", "Interface paused successfully")
    (pause,) = [fields for fields in sent if fields.get("Action") == "QueuePause"]
    assert (pause["Interface"], pause["Paused"], pause["Reason"]) == ("Local/agent02@agents/n", "true", "Coaching")


async def _is_done(a: Any, action_id: str) -> bool:
    response = await a.http.get(f"/api/v1/actions/{action_id}", headers=a.headers["sup1"])
    return bool(response.json()["state"] == "done")


async def test_on_a_site_with_two_pbxs_an_action_goes_to_the_collector_that_knows_the_agent(store: Store) -> None:
    """An AMI collector knows agent02 (by its member name), an ESL collector knows agent07 (by its id): each
    action names the collector of its agent, and each collector's feed takes only its own (the other
    acknowledges it unrun); an agent neither knows is 409 (which PBX to ask is unknown)."""
    await store.actions.put_members(
        {"Local/agent02@agents/n": {"interface": "Local/agent02@agents/n", "member_name": "Bob Martinez",
                                    "queues": {"support": "dynamic"}}}, "ami")  # fmt: skip
    await store.actions.put_members(
        {"agent07": {"interface": "agent07", "member_name": "agent07", "queues": {"support@default": "dynamic"}}}, "esl"
    )
    ami, esl = ActionFeed(AgentActions(store.actions)), ActionFeed(AgentActions(store.actions), collector="esl")
    await ami.take(0.01), await esl.take(0.01)  # their consumer groups, from now on
    async with api(store) as a:
        post = functools.partial(a.http.post, headers=a.headers["sup1"], json={"reason": "Coaching"})
        bob, alice = await post("/api/v1/agents/agent02/pause"), await post("/api/v1/agents/agent07/pause")
        taken_ami, taken_esl = await ami.take(0.5), await esl.take(0.5)
        await store.actions.put_members({}, "esl")  # agent07 no longer on the FreeSWITCH: neither knows it
        unknown = await post("/api/v1/agents/agent07/pause")
    assert (bob.status_code, alice.status_code) == (202, 202)
    assert [(action.agent, action.collector) for action in taken_ami] == [("agent02", "ami")]
    assert [(action.agent, action.collector) for action in taken_esl] == [("agent07", "esl")]
    assert unknown.status_code == 409 and "no PBX collector (ami, esl)" in unknown.json()["detail"]
    pending = await store.client.xpending(store.keys.actions, "esl")
    assert pending["pending"] == 1  # its own, until settled; agent02's was acknowledged unrun
