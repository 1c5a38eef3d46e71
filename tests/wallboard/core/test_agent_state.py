"""The agent transition table (walked exhaustively) and Presence: multi-queue pauses, episodes, wrap-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wallboard.core.agent_state import TRANSITIONS, AgentInput, AgentState, Presence, next_state

S, In = AgentState, AgentInput
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def walk(start: AgentState, *inputs: AgentInput) -> AgentState:
    state = start
    for event in inputs:
        state = next_state(state, event)
    return state


# -- the table ---------------------------------------------------------------------------------------


def test_table_answers_every_pair_with_a_state() -> None:
    """Every (state, input) pair gives an AgentState, and the table only names real inputs."""
    assert set(TRANSITIONS) == set(AgentState)
    for state in AgentState:
        assert set(TRANSITIONS[state]) <= set(AgentInput)
        for event in AgentInput:
            assert isinstance(next_state(state, event), AgentState)


def test_call_cycle() -> None:
    """available -> ringing -> on_call -> wrap_up -> available."""
    assert next_state(S.AVAILABLE, In.RING) is S.RINGING
    assert next_state(S.RINGING, In.ANSWER) is S.ON_CALL
    assert next_state(S.ON_CALL, In.CALL_END) is S.WRAP_UP
    assert next_state(S.WRAP_UP, In.WRAP_END) is S.AVAILABLE
    assert walk(S.AVAILABLE, In.RING, In.RING_END) is S.AVAILABLE


def test_logout_from_any_state_and_logged_out_only_leaves_on_login_or_pause() -> None:
    """Logout always ends in logged_out; logged_out ignores every input but login and pause."""
    for state in AgentState:
        assert next_state(state, In.LOGOUT) is S.LOGGED_OUT
    for event in AgentInput:
        expected = {In.LOGIN: S.AVAILABLE, In.PAUSE: S.PAUSED}.get(event, S.LOGGED_OUT)
        assert next_state(S.LOGGED_OUT, event) is expected


def test_pause_is_deferred_during_a_call() -> None:
    """Pause does not interrupt ringing or a call; it applies when available or in wrap-up."""
    assert next_state(S.ON_CALL, In.PAUSE) is S.ON_CALL
    assert next_state(S.RINGING, In.PAUSE) is S.RINGING
    assert next_state(S.AVAILABLE, In.PAUSE) is S.PAUSED
    assert next_state(S.WRAP_UP, In.PAUSE) is S.PAUSED
    assert next_state(S.PAUSED, In.UNPAUSE) is S.AVAILABLE
    assert next_state(S.PAUSED, In.ANSWER) is S.ON_CALL


def test_device_inputs() -> None:
    """Busy without a call shows on_call (not while paused); idle clears a stale call or ring."""
    assert next_state(S.AVAILABLE, In.DEVICE_BUSY) is S.ON_CALL
    assert next_state(S.PAUSED, In.DEVICE_BUSY) is S.PAUSED
    assert next_state(S.ON_CALL, In.DEVICE_IDLE) is S.AVAILABLE
    assert next_state(S.RINGING, In.DEVICE_IDLE) is S.AVAILABLE
    assert next_state(S.WRAP_UP, In.DEVICE_IDLE) is S.WRAP_UP


def test_reset_drops_calls_but_keeps_pause_and_login() -> None:
    """A PBX restart ends ringing, calls and wrap-up; paused and logged-out agents stay so."""
    for state in (S.RINGING, S.ON_CALL, S.WRAP_UP):
        assert next_state(state, In.RESET) is S.AVAILABLE
    assert next_state(S.PAUSED, In.RESET) is S.PAUSED
    assert next_state(S.LOGGED_OUT, In.RESET) is S.LOGGED_OUT


# -- Presence ----------------------------------------------------------------------------------------


def logged_in(*queues: str) -> Presence:
    presence = Presence(at(0))
    for queue in queues:
        presence.join(queue, at(0))
    return presence


def test_paused_during_call_goes_to_paused_when_the_call_ends() -> None:
    """Paused while on a call: still on_call, then paused (no displayed wrap-up) at the end."""
    presence = logged_in("support")
    presence.feed(In.ANSWER, at(10))
    presence.pause(None, "Break", at(20))
    assert presence.state is S.ON_CALL
    presence.call_ended(at(30), wrapup_s=5.0)
    assert presence.state is S.PAUSED
    assert presence.since == at(30)


def test_wrap_up_ends_lazily() -> None:
    """After a call the agent is in wrap-up for wrapup_s, then available from the wrap end."""
    presence = logged_in("support")
    presence.feed(In.ANSWER, at(10))
    presence.call_ended(at(40), wrapup_s=15.0)
    assert presence.state is S.WRAP_UP
    presence.expire(at(50))
    assert presence.state is S.WRAP_UP
    presence.expire(at(60))
    assert presence.state is S.AVAILABLE
    assert presence.since == at(55)


def test_no_wrap_up_time_means_available_at_once() -> None:
    """A wrap-up time of 0 goes straight back to available."""
    presence = logged_in("support")
    presence.feed(In.ANSWER, at(10))
    presence.call_ended(at(40), wrapup_s=0.0)
    assert presence.state is S.AVAILABLE


def test_multi_queue_agent_paused_in_one_queue() -> None:
    """Paused in billing only: displayed available; counts as paused in billing, available in support."""
    presence = logged_in("support", "billing")
    presence.pause("billing", "Training", at(5))
    assert presence.state is S.AVAILABLE
    assert presence.queue_state("billing") is S.PAUSED
    assert presence.queue_state("support") is S.AVAILABLE
    presence.pause("support", "Training", at(6))
    assert presence.state is S.PAUSED
    assert presence.pauses_total == {"Training": 1}


def test_busy_agent_counts_busy_in_every_queue() -> None:
    """An agent on a call counts on_call in all its queues, paused flag or not."""
    presence = logged_in("support", "billing")
    presence.pause("billing", "Training", at(5))
    presence.feed(In.ANSWER, at(10))
    assert presence.queue_state("billing") is S.ON_CALL
    assert presence.queue_state("support") is S.ON_CALL


def test_pauseall_then_per_queue_pauses_is_one_episode() -> None:
    """queue_log PAUSEALL + one PAUSE per queue, same reason and second: one pause of 45 s."""
    presence = Presence(at(0))  # memberships unknown (logged in under another name)
    presence.pause(None, "Break", at(40))
    presence.pause("support", "Break", at(40))
    presence.pause("sales", "Break", at(40))
    assert presence.state is S.PAUSED
    presence.unpause(None, at(85))
    presence.unpause("support", at(85))
    presence.unpause("sales", at(85))
    assert presence.state is S.AVAILABLE
    assert presence.pauses_total == {"Break": 1}
    assert presence.paused_total_s == pytest.approx(45.0)


def test_new_reason_without_unpause_is_a_new_episode() -> None:
    """Break at 230 s, Lunch at 250 s, unpause at 290 s: two pauses, 60 s paused."""
    presence = logged_in("support", "sales")
    presence.pause(None, "Break", at(230))
    presence.pause(None, "Lunch", at(250))
    assert presence.pause_reason == "Lunch"
    presence.unpause(None, at(290))
    assert presence.pauses_total == {"Break": 1, "Lunch": 1}
    assert presence.paused_total_s == pytest.approx(60.0)


def test_observation_without_reason_is_not_a_new_episode() -> None:
    """A snapshot saying 'paused' with no reason keeps the current episode."""
    presence = logged_in("support")
    presence.pause("support", "Lunch", at(10))
    presence.observe("support", True, "", at(20))
    presence.observe("support", True, None, at(30))
    assert presence.pauses_total == {"Lunch": 1}
    presence.observe("support", False, None, at(40))
    assert presence.state is S.AVAILABLE
    assert presence.paused_total_s == pytest.approx(30.0)


def test_logout_closes_the_pause() -> None:
    """Logging out of the last queue ends the pause episode and the agent is logged out."""
    presence = logged_in("support")
    presence.pause("support", "Break", at(10))
    assert presence.leave("support", at(25))
    assert presence.state is S.LOGGED_OUT
    assert presence.pause_since is None
    assert presence.paused_total_s == pytest.approx(15.0)
    assert not presence.leave("support", at(30))


def test_day_rollover_splits_paused_time() -> None:
    """Paused from 100 s, day boundary at 400 s, now 500 s: 300 s yesterday, 100 s today, 400 s total."""
    presence = logged_in("support")
    presence.pause("support", "Break", at(100))
    presence.roll_day(at(400))
    assert presence.paused_s(at(500), day=True) == pytest.approx(100.0)
    assert presence.paused_s(at(500), day=False) == pytest.approx(400.0)
    assert presence.pauses_day == {}
    assert presence.pauses_total == {"Break": 1}


def test_out_of_order_unpause_never_gives_negative_time() -> None:
    """An unpause stamped before its pause adds nothing instead of a negative duration."""
    presence = logged_in("support")
    presence.pause("support", "Break", at(100))
    presence.unpause("support", at(90))
    assert presence.paused_total_s == 0.0


def test_absorb_merges_two_identities() -> None:
    """The interface identity (logged in to support) merged into the member-name identity (paused)."""
    by_name = Presence(at(0))
    by_name.pause(None, "Break", at(10))
    by_interface = logged_in("support")
    by_name.absorb(by_interface, at(20))
    assert set(by_name.memberships) == {"support"}
    assert by_name.state is S.PAUSED
    assert by_name.pauses_total == {"Break": 1}
