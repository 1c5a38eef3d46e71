"""Channels through the engine (wallboard.core.channels): a queue's channel, concurrent chats, first responses."""

from __future__ import annotations

import pickle
from datetime import timedelta

from engine_events import answered, at, ended, ev, login, queued, run_on

from wallboard.core.alerts import Evaluator
from wallboard.core.events import Event
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig
from wallboard.core.thresholds import Threshold

SITE = SiteConfig(
    site="test",
    queues={"support": QueueConfig(), "email": QueueConfig(channel="email")},
    agents={"a1": AgentConfig(capacity={"chat": 3}), "a2": AgentConfig()},
    channel_capacity={"chat": 2, "email": 4},
)


def chat(kind: str, seconds: float, **fields: object) -> Event:
    return ev(kind, seconds, queue="webchat", channel="chat", **fields)


def _blended() -> list[Event]:
    """a1 in support (voice) and webchat: two chats open, then a voice call."""
    return [
        login(0, "a1"),
        login(0, "a1", queue="webchat"),
        chat("call_queued", 1, call_id="k1"),
        chat("call_queued", 2, call_id="k2"),
        chat("call_answered", 5, call_id="k1", agent="a1", wait_s=4),
        chat("call_answered", 6, call_id="k2", agent="a1", wait_s=4),
    ]


def test_a_queue_takes_the_channel_its_events_name_and_keeps_it() -> None:
    """webchat is unknown to the site file: its first chat event makes it a chat queue; a voice event does not undo."""
    state = run_on(SITE, *_blended(), ev("call_queued", 9, call_id="v9", queue="webchat"))
    snapshot = state.snapshot(at(10))
    assert snapshot["queues"]["webchat"]["channel"] == "chat"
    assert snapshot["queues"]["support"]["channel"] == "voice"
    assert snapshot["queues"]["email"]["channel"] == "email"
    assert snapshot["queues"]["webchat"]["interval"]["answered"] == 2
    assert snapshot["queues"]["webchat"]["waiting"] == 1
    assert snapshot["counters"]["anomalies"]["channel_mismatch"] == 0


def test_a_channel_the_site_file_fixes_is_not_changed_by_events_and_a_mismatch_is_counted() -> None:
    state = run_on(SITE, ev("call_queued", 1, call_id="e1", queue="email", channel="chat"))
    snapshot = state.snapshot(at(2))
    assert snapshot["queues"]["email"]["channel"] == "email"
    assert snapshot["queues"]["email"]["waiting"] == 1  # applied all the same
    assert snapshot["counters"]["anomalies"]["channel_mismatch"] == 1


def test_an_agent_on_two_chats_is_available_for_voice_and_busy_at_capacity() -> None:
    state = run_on(SITE, *_blended())
    snapshot = state.snapshot(at(10))
    agent = snapshot["agents"]["a1"]
    assert agent["state"] == "available"
    assert agent["channels"]["chat"] == {"open": 2, "capacity": 3, "concurrency_pct": 200 / 3, "state": "available"}
    assert agent["channels"]["voice"]["state"] == "available"
    assert snapshot["queues"]["webchat"]["agents"]["available"] == 1
    assert snapshot["queues"]["support"]["agents"]["available"] == 1

    state.apply(chat("call_answered", 11, call_id="k3", agent="a1", wait_s=0))
    snapshot = state.snapshot(at(12))
    agent = snapshot["agents"]["a1"]
    assert (agent["channels"]["chat"]["open"], agent["channels"]["chat"]["state"]) == (3, "busy")
    assert snapshot["queues"]["webchat"]["agents"]["on_call"] == 1
    assert snapshot["queues"]["webchat"]["agents"]["available"] == 0
    assert snapshot["queues"]["support"]["agents"]["available"] == 1


def test_a_chat_only_agent_at_capacity_shows_on_call_and_is_not_counted_available() -> None:
    """a2 serves webchat only (capacity 2, the site default): below capacity it shows available, at capacity
    on_call (nothing more to give), in its team's and the queue's counts alike, its time in that state counted from
    the chat that filled it (not from its login); back under capacity, available since the chat that freed it."""
    events = [
        login(0, "a2", queue="webchat"),
        chat("call_queued", 1, call_id="k1"),
        chat("call_queued", 2, call_id="k2"),
        chat("call_answered", 5, call_id="k1", agent="a2", wait_s=4),
    ]
    state = run_on(SITE, *events)
    assert state.snapshot(at(6))["agents"]["a2"]["state"] == "available"
    state.apply(chat("call_answered", 7, call_id="k2", agent="a2", wait_s=5))
    snapshot = state.snapshot(at(8))
    assert snapshot["agents"]["a2"]["state"] == "on_call"
    assert snapshot["agents"]["a2"]["since"] == at(7).isoformat()
    assert snapshot["agents"]["a2"]["time_in_state_s"] == 1.0
    assert snapshot["agents"]["a2"]["channels"]["chat"]["state"] == "busy"
    assert snapshot["queues"]["webchat"]["agents"]["on_call"] == 1
    assert snapshot["queues"]["webchat"]["agents"]["available"] == 0
    state.apply(chat("call_ended", 9, call_id="k1", agent="a2", talk_s=4))
    back = state.snapshot(at(10))["agents"]["a2"]
    assert back["state"] == "available" and back["time_in_state_s"] == 1.0  # freed from capacity at 9, not login
    state.apply(chat("call_ended", 11, call_id="k2", agent="a2", talk_s=4))  # below capacity already: no change
    assert state.snapshot(at(12))["agents"]["a2"]["time_in_state_s"] == 3.0


def test_a_voice_call_drives_the_displayed_state_while_chats_stay_open() -> None:
    events = [*_blended(), queued(20, "v1"), answered(22, "v1", "a1", 2)]
    state = run_on(SITE, *events)
    agent = state.snapshot(at(25))["agents"]["a1"]
    assert agent["state"] == "on_call"
    assert (agent["channels"]["voice"]["state"], agent["channels"]["chat"]["state"]) == ("busy", "available")
    state.apply(chat("call_ended", 30, call_id="k1", agent="a1", talk_s=25))  # a chat ends: still on the phone
    assert state.snapshot(at(31))["agents"]["a1"]["state"] == "on_call"
    state.apply(ended(40, "v1", "a1", 18))  # the phone call ends while a chat is open: free for voice again
    agent = state.snapshot(at(41))["agents"]["a1"]
    assert agent["state"] == "available"
    assert agent["channels"]["chat"]["open"] == 1
    assert agent["handled_today"] == 2


def test_capacity_falls_back_to_the_site_default_then_one() -> None:
    events = [login(0, "a2", queue="webchat"), login(0, "a3", queue="webchat"), chat("call_queued", 0, call_id="x")]
    agents = run_on(SITE, *events).snapshot(at(1))["agents"]
    assert agents["a2"]["channels"]["chat"]["capacity"] == 2  # channel_capacity
    no_default = SiteConfig(site="test")
    agents = run_on(no_default, *events).snapshot(at(1))["agents"]
    assert agents["a3"]["channels"]["chat"]["capacity"] == 1


def test_voice_only_agents_have_no_channel_entry() -> None:
    snapshot = run_on(SITE, login(0, "a2"), queued(1, "v1"), answered(2, "v1", "a2", 1)).snapshot(at(3))
    assert "channels" not in snapshot["agents"]["a2"]


def test_first_response_counts_once_from_the_enter_time_or_as_told() -> None:
    state = run_on(
        SITE,
        *_blended(),
        chat("contact_responded", 31, call_id="k1", agent="a1"),  # entered at 1: 30 s
        chat("contact_responded", 40, call_id="k1", agent="a1"),  # a second reply: not a first response
        chat("contact_responded", 50, call_id="k2", agent="a1", response_s=12),
        chat("contact_responded", 51, call_id="never-seen", agent="a1"),  # unknown figure, counted
    )
    window = state.snapshot(at(60))["queues"]["webchat"]["interval"]
    assert (window["responded"], window["first_response_unknown"]) == (3, 1)
    assert window["first_response_s"] == 42.0
    assert window["avg_first_response_s"] == 21.0
    assert state.anomalies["duplicate_response"] == 1


def test_interval_rows_and_call_records_carry_the_channel() -> None:
    state = run_on(
        SITE,
        *_blended(),
        chat("contact_responded", 20, call_id="k1", agent="a1"),
        chat("call_ended", 100, call_id="k1", agent="a1", talk_s=90),
        queued(110, "v1"),
        ev("call_abandoned", 130, call_id="v1", queue="support"),
    )
    state.snapshot(at(16 * 60))  # closes the first interval
    rows = {row["queue"]: row for row in state.drain_closed_intervals()}
    assert (rows["webchat"]["channel"], rows["support"]["channel"]) == ("chat", "voice")
    assert rows["webchat"]["responded"] == 1 and rows["webchat"]["avg_first_response_s"] == 19.0
    records = {row["call_id"]: row for _, row in state.drain_call_records()}
    assert (records["k1"]["channel"], records["v1"]["channel"]) == ("chat", "voice")


def test_a_threshold_limited_to_a_channel_judges_only_that_channel() -> None:
    chat_waits = Threshold(id="chat-wait", metric="waiting", channel="chat", warn=0)
    concurrency = Threshold(id="chat-load", metric="agent_concurrency_pct", channel="chat", warn=50)
    first = Threshold(id="frt", metric="first_response_s", channel="chat", warn=20)
    events = [*_blended(), queued(7, "v1"), chat("call_queued", 8, call_id="k3")]
    events += [chat("contact_responded", 31, call_id="k1")]
    snapshot = run_on(SITE, *events).snapshot(at(40))
    statuses = Evaluator([chat_waits, concurrency, first], "UTC").evaluate(snapshot, at(40))
    seen = {(s.threshold_id, s.target.name): s.level.value for s in statuses}
    assert seen == {("chat-wait", "webchat"): "warn", ("chat-load", "a1"): "warn", ("frt", "webchat"): "warn"}


def test_a_channel_cannot_limit_a_site_metric() -> None:
    try:
        Threshold(id="age", metric="data_age_s", channel="chat", warn=30)
    except ValueError as exc:
        assert "channel limits queue and agent metrics only" in str(exc)
    else:
        raise AssertionError("a channel on data_age_s was accepted")


def test_a_checkpoint_from_before_channels_loads_and_counts_chats() -> None:
    """A State pickled before channels existed (no ``_responded``, no handler, queues without a channel) goes on."""
    site = SiteConfig(site="test", queues={"support": QueueConfig(), "mail": QueueConfig(channel="email")})
    state = run_on(site, login(0, "a1"), queued(1, "v1"))
    del state.__dict__["_responded"]
    del state._handlers["contact_responded"]
    for queue in state._queues.values():
        del queue.channel, queue.channel_configured
        for window in (queue.interval, queue.day, queue.total):
            del window.responded, window.first_response_s, window.first_response_unknown
    loaded = pickle.loads(pickle.dumps(state))
    loaded.apply(chat("call_queued", 2, call_id="k1"))
    loaded.apply(chat("contact_responded", 12, call_id="k1", agent="a1"))
    snapshot = loaded.snapshot(at(20) + timedelta(seconds=1))
    assert snapshot["queues"]["mail"]["channel"] == "email"  # from the site file again
    assert snapshot["queues"]["support"]["channel"] == "voice"
    assert snapshot["queues"]["webchat"]["interval"]["avg_first_response_s"] == 10.0
    assert snapshot["queues"]["support"]["interval"]["responded"] == 0
    assert loaded.anomalies["internal_error"] == 0
