"""Tests for wallboard/core/agents.py: one record per identity; names resolved, linked, merged, never mixed."""

from __future__ import annotations

from engine_events import answered, at, ended, ev, login, run_on

from wallboard.core.agents import Roster
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig

SITE = SiteConfig(
    site="test",
    short_abandon_s=5,
    queues={
        "support": QueueConfig(sl_threshold_s=20, wrapup_s=5),
        "sales": QueueConfig(sl_threshold_s=30),
        "billing": QueueConfig(sl_threshold_s=20, sl_target_pct=80),
    },
)


def run(*events: Event, site: SiteConfig = SITE) -> State:
    return run_on(site, *events)


def test_identity_learned_from_interface_and_member_name() -> None:
    """Logged in as SIP/100, then a device event naming both SIP/100 and Alice: one agent, Alice."""
    state = run(
        login(0, "SIP/100", interface="SIP/100"),
        ev("agent_device", 5, agent="Alice", interface="SIP/100", member_name="Alice", device_state="idle"),
        answered(10, "c1", "Alice", 3),
    )
    snapshot = state.snapshot(at(11))
    assert list(snapshot["agents"]) == ["Alice"]
    assert (snapshot["agents"]["Alice"]["queues"], snapshot["agents"]["Alice"]["state"]) == (["support"], "on_call")
    assert snapshot["queues"]["support"]["agents"]["logged_in"] == 1


def test_hot_desked_phone_keeps_two_agents() -> None:
    """SIP/7 used by Ann, then by Ben: two agents, each with their own call."""
    state = run(
        answered(10, "c1", "Ann", 3, interface="SIP/7", member_name="Ann"),
        ended(40, "c1", "Ann", 30, interface="SIP/7", member_name="Ann"),
        answered(50, "c2", "Ben", 3, interface="SIP/7", member_name="Ben"),
    )
    agents = state.totals()["agents"]
    assert (agents["Ann"]["answered"], agents["Ann"]["talk_s"], agents["Ben"]["answered"]) == (1, 30, 1)


def test_roster_resolves_aliases_and_caches_pairs() -> None:
    """Site aliases resolve to the configured id; a told (interface, name) pair is one agent from then on."""
    site = SiteConfig(agents={"agent01": AgentConfig(aliases=("Local/agent01@agents/n",))})
    roster = Roster(site)
    configured = roster.get("Local/agent01@agents/n", None, None, at(0))
    assert configured.id == "agent01" and roster.resolve("Local/agent01@agents/n") == "agent01"
    linked = roster.get("Bob", "SIP/200", "Bob", at(1))
    assert roster.get("SIP/200", None, None, at(2)) is linked
    assert set(roster.agents) == {"agent01", "Bob"}


def test_roster_merges_a_record_kept_under_a_raw_name() -> None:
    """Calls counted under an interface move to the member name once the two are linked."""
    roster = Roster(SiteConfig())
    raw = roster.get("SIP/300", None, None, at(0))
    raw.day.answered = raw.total.answered = 2
    merged = roster.get("Carol", "SIP/300", "Carol", at(5))
    assert list(roster.agents) == ["Carol"]
    assert (merged.id, merged.day.answered, merged.total.answered) == ("Carol", 2, 2)
