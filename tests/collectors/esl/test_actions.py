"""Supervisor actions on FreeSWITCH: the sans-I/O runner against the real run's frames (a real ``BACKGROUND_JOB``
of a bgapi originate, a real ``bridge-agent-start``, the real tier list), then the collector against the simulated
switch (``collectors.simulator.esl_server``: FreeSWITCH cannot run here) through a real Redis, as the supervisor
view asks: pause, unpause, logout, login and listen, each done by the switch's own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from fixture_paths import FREESWITCH
from waiting import poll_until

from collectors.esl.actions import EslActionRunner
from collectors.esl.client import SUBSCRIBE_WITH_JOBS, EslClient, EslConfig
from collectors.esl.mapping import table_of
from collectors.esl.protocol import EslFrame, EslParser, callcenter_only
from collectors.simulator.config import build_config
from collectors.simulator.esl_format import agent_name
from collectors.simulator.esl_server import SimulatedEslServer
from collectors.simulator.model import Simulation
from wallboard.admin.actions import ActionFeed, AgentActions
from wallboard.core.actions import FAMILIES, AgentAction
from wallboard.core.events import AgentLogin, AgentLogout, Event
from wallboard.store import Store, connect
from wallboard.store.sink import StreamSink

AT = datetime(2026, 12, 6, 21, 56, tzinfo=UTC)
REAL_JOB = "f75a2200-365d-49e1-83de-154c627fbfee"  # the run's first bgapi originate


def real_frames() -> list[EslFrame]:
    parser = EslParser(drop=callcenter_only)
    parser.receive_data((FREESWITCH / "esl_transcript.txt").read_bytes())
    parser.receive_eof()
    return parser.frames_received()


def action(kind: str, agent: str = "agent01", **fields: object) -> AgentAction:
    return AgentAction.model_validate(
        {
            "id": f"{kind}-1",
            "kind": kind,
            "agent": agent,
            "names": ("1001@default",),
            "by": "sup1",
            "requested": AT.isoformat(),
            **fields,
        }  # fmt: skip
    )


def runner_seeing(frames: list[EslFrame]) -> EslActionRunner:
    runner = EslActionRunner(FAMILIES)
    for frame in frames:
        runner.observe(frame)
    return runner


def test_each_action_is_one_bgapi_with_its_job_uuid_and_the_agent_s_switch_name() -> None:
    """The agent's mod_callcenter name (an alias) is what is sent; the status is one for every queue."""
    runner = runner_seeing(real_frames())
    ids = (f"job-{n}" for n in count())
    sent = {}
    for kind in ("pause", "unpause", "login", "logout"):
        data, failed = runner.start(action(kind, queue="support@default"), AT, 0.0, lambda: next(ids))
        assert failed == []
        sent[kind] = data.decode()
    assert sent["pause"] == "bgapi callcenter_config agent set status 1001@default 'On Break'\nJob-UUID: job-0\n\n"
    assert sent["unpause"].startswith("bgapi callcenter_config agent set status 1001@default 'Available'\n")
    assert sent["login"].startswith("bgapi callcenter_config agent set status 1001@default 'Available'\n")
    assert sent["logout"].startswith("bgapi callcenter_config agent set status 1001@default 'Logged Out'\n")
    assert runner.open == 4
    assert runner.directory.public()["1001@default"]["queues"] == {"support@default": "dynamic"}


def test_a_real_background_job_decides_a_monitor_and_an_error_fails_with_the_switch_s_words() -> None:
    """Listening to 1001 (on its call in the real run: its leg from bridge-agent-start) is an originate to the
    supervisor's phone running eavesdrop on that leg; the real run's BACKGROUND_JOB ``+OK <uuid>`` for that
    Job-UUID makes it done. A ``-ERR`` result fails the action with the switch's words."""
    frames = real_frames()
    start = next(i for i, f in enumerate(frames) if f.event and f.event.get("CC-Action") == "bridge-agent-start")
    runner = runner_seeing(frames[: start + 1])
    leg = frames[start].event["CC-Agent-UUID"]  # type: ignore[index]
    listen = action("monitor", mode="listen", extension="user/1000")
    data, _ = runner.start(listen, AT, 0.0, lambda: REAL_JOB)
    assert data.decode() == (
        "bgapi originate {origination_caller_id_name='listen: 1001@default',originate_timeout=30}"
        f"user/1000 &eavesdrop({leg})\nJob-UUID: {REAL_JOB}\n\n"
    )
    job = next(f for f in frames if f.event and f.event.get("Job-UUID") == REAL_JOB)
    (outcome,) = runner.observe(job)
    assert (outcome.state, outcome.message) == ("done", "spy call answered on user/1000 (listen)")
    whisper, _ = runner.start(action("monitor", mode="whisper", extension="user/1000"), AT, 0.0, lambda: "j2")
    barge, _ = runner.start(action("monitor", mode="barge", extension="user/1000"), AT, 0.0, lambda: "j3")
    assert b"eavesdrop_whisper_aleg=true" in whisper and f"&three_way({leg})".encode() in barge
    error = EslFrame({"Content-Type": "text/event-plain"}, b"", 0, 0)
    error.event, error.event_body = {"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j2"}, "-ERR NO_ANSWER\n"
    (failed,) = runner.observe(error)
    assert (failed.state, failed.message) == ("failed", "-ERR NO_ANSWER")


@pytest.mark.parametrize(
    ("asked", "why"),
    [
        (action("pause", agent="x y", names=()), "cannot be sent to FreeSWITCH"),
        (action("monitor", mode="listen", extension="user/1000&hangup"), "is no dial string"),
        (action("monitor", mode="listen", extension="user/1000"), "on no call the collector has seen"),
        (action("monitor", mode="listen"), "needs the supervisor's extension"),
    ],
)
def test_what_cannot_be_sent_safely_fails_before_anything_is_sent(asked: AgentAction, why: str) -> None:
    data, (outcome,) = EslActionRunner(FAMILIES).start(asked, AT, 0.0, lambda: "j")
    assert data == b"" and outcome.state == "failed" and why in outcome.message


def test_no_answer_a_late_action_a_family_not_enabled_and_a_lost_connection_fail() -> None:
    runner = EslActionRunner(["pause"], answer_timeout_s=5)
    late = action("pause").model_copy(update={"requested": (AT - timedelta(seconds=6)).isoformat()})
    assert "not sent" in runner.start(late, AT, 0.0, lambda: "a")[1][0].message
    assert "not enabled" in runner.start(action("logout"), AT, 0.0, lambda: "b")[1][0].message
    runner.start(action("pause"), AT, 0.0, lambda: "c")
    assert runner.expire(4.9) == []
    (overdue,) = runner.expire(5.0)
    assert overdue.message == "no answer from FreeSWITCH within 5 s"
    runner.start(action("unpause"), AT, 10.0, lambda: "d")
    (lost,) = runner.lost()
    assert lost.state == "failed" and "lost" in lost.message and runner.open == 0


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    try:
        yield Store(client, site="paris")
    finally:
        await client.aclose()


async def test_the_collector_executes_the_supervisor_s_actions_on_the_simulated_switch(store: Store) -> None:
    """Through Redis as the API queues them: a pause puts the agent On Break (the switch's own status event comes
    back), an unpause makes it Available, a logout Logged Out and a login Available again; listening to an agent
    on a call originates to the supervisor's phone; each is done by its BACKGROUND_JOB, audited, counted."""
    config = build_config(6, 2, seed=3)
    server = SimulatedEslServer(Simulation(config, 3, start=datetime.now(UTC)), password="pw", speed=None)
    await server.start("127.0.0.1", 0)
    actions = AgentActions(store.actions)
    statuses: list[tuple[str, str]] = []

    async def sink(batch: list[Event]) -> None:
        await StreamSink(store)(batch)
        statuses.extend((e.kind, e.agent) for e in batch if isinstance(e, AgentLogin | AgentLogout))

    client = EslClient(
        EslConfig("127.0.0.1", server.port, "pw", site="paris"), sink, actions=ActionFeed(actions), enabled=FAMILIES
    )
    task = asyncio.create_task(client.run())
    agent = config.agents[0].agent_id
    name = agent_name(agent)

    def status_on_switch() -> str:
        """The agent's status as the switch's own agent list says it."""
        rows = table_of(server.api("callcenter_config agent list"), "name")
        return next(row["status"] for row in rows if row["name"] == name)

    try:
        await poll_until(lambda: client.stats.connected, "the collector connects", 10)
        await poll_until(store.actions.members, "the agents are published for the API", 10)

        async def run(kind: str, who: str = agent, **fields: object) -> str:
            asked = AgentAction.model_validate(
                {
                    "id": f"{kind}-{len(statuses)}",
                    "kind": kind,
                    "agent": who,
                    "names": (agent_name(who),),
                    "by": "sup1",
                    "requested": datetime.now(UTC).isoformat(),
                    **fields,
                }  # fmt: skip
            )
            await actions.request(asked)

            async def settled() -> bool:
                status = await actions.get(asked.id)
                return status is not None and status.state != "pending"

            await poll_until(settled, f"the {kind} is settled", 10)
            status = await actions.get(asked.id)
            assert status is not None
            return f"{status.state}: {status.message}"

        assert await run("pause", reason="Coaching") == "done: +OK: status On Break"
        await poll_until(lambda: status_on_switch() == "On Break", "the switch says On Break", 10)
        assert (await run("unpause")).startswith("done: +OK: status Available")
        await poll_until(lambda: status_on_switch() == "Available", "the switch says Available", 10)
        assert (await run("logout")).startswith("done: +OK: status Logged Out")
        await poll_until(lambda: status_on_switch() == "Logged Out", "the switch says Logged Out", 10)
        assert (await run("login", queue="support@default")).startswith("done: +OK: status Available")
        await poll_until(lambda: status_on_switch() == "Available", "the switch says Available again", 10)
        assert ("agent_logout", name) in statuses and statuses[-1] == ("agent_login", name)  # as the engine hears it
        refused = await run("monitor", mode="listen", extension="user/1000")
        assert refused.startswith("failed:") and "on no call" in refused  # nobody is talking yet

        on_call: list[str] = []

        async def talking() -> bool:
            await server.advance(5.0)  # the simulated day moves on only when told
            members = await store.actions.members()
            on_call.extend(who for who, member in members.items() if member.get("channel"))
            return bool(on_call)

        await poll_until(talking, "an agent takes a call", 20)
        spied = config.agents[[agent_name(a.agent_id) for a in config.agents].index(on_call[0])].agent_id
        assert await run("monitor", spied, mode="listen", extension="user/1000") == (
            "done: spy call answered on user/1000 (listen)"
        )
        assert (await run("monitor", spied, mode="listen", extension="sofia/gw/x")).startswith("failed: -ERR")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()
    assert client.stats.actions_by_result == {
        "pause:done": 1, "unpause:done": 1, "logout:done": 1, "login:done": 1, "monitor:failed": 2, "monitor:done": 1
    }  # fmt: skip
    assert SUBSCRIBE_WITH_JOBS.endswith("CUSTOM callcenter::info")  # CUSTOM last: mod_event_socket reads subclasses
