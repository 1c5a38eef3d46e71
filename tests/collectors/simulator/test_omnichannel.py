"""The web chat and dialer model of the demo's HTTP source: realistic rates, chats within each agent's capacity,
every contact told in order, and the same events and keys for the same seed and start."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from collectors.simulator.omnichannel import CampaignPolicy, ChatPolicy, Omnichannel
from wallboard.core.events import CallAnswered, CallEnded, ContactResponded, DialResult, Event

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = 3600.0


def run(model: Omnichannel, hours: float, step_s: float = 600.0) -> list[Event]:
    events: list[Event] = []
    at = 0.0
    while at < hours * HOUR:
        at = min(hours * HOUR, at + step_s)
        events += model.advance(at)
    return events


def test_the_dialer_ends_calls_at_the_policy_rates_and_its_drop_rate_hovers_near_and_under_3_pct() -> None:
    policy = CampaignPolicy()
    model = Omnichannel(None, policy, seed=5, start=START)
    results: Counter[str] = Counter()
    rates: list[float] = []  # the running drop rate, hour by hour
    for hour in range(1, 13):
        results.update(e.result for e in model.advance(hour * HOUR) if isinstance(e, DialResult))
        live = results["answered"] + results["dropped"]
        rates.append(100.0 * results["dropped"] / live)
    attempts = model.tally.attempts
    assert 12 * 60 * policy.attempts_per_min * 0.9 < attempts < 12 * 60 * policy.attempts_per_min * 1.1
    told = sum(results.values())
    assert attempts - 20 < told <= attempts  # the last calls still ring or talk
    for outcome, share in (("no_answer", policy.no_answer), ("busy", policy.busy), ("machine", policy.machine)):
        assert results[outcome] / told == pytest.approx(share, abs=0.03), outcome
    assert (results["answered"] + results["dropped"]) / told == pytest.approx(policy.live, abs=0.03)
    assert all(rate <= policy.pacing_cap_pct for rate in rates), rates  # the pacing never lets it run away
    assert 1.5 < rates[-1] < 3.0 and results["dropped"] >= 20, (rates, results)
    assert model.tally.results == dict(results) and model.tally.drop_rate_pct == pytest.approx(rates[-1])


def test_an_agent_never_holds_more_chats_than_its_capacity_and_every_contact_is_told_in_order() -> None:
    chat = ChatPolicy(agents=("a", "b", "c"), capacity=2, load=1.3)  # overloaded: the queue backs up, some leave
    model = Omnichannel(chat, None, seed=2, start=START)
    events = run(model, 6)
    held: Counter[str] = Counter()
    most = 0
    steps: dict[str, list[str]] = {}
    answered: dict[str, CallAnswered] = {}
    for event in events:
        call_id = getattr(event, "call_id", None)
        if call_id is not None:
            steps.setdefault(call_id, []).append(event.kind)
        if isinstance(event, CallAnswered):
            held[event.agent] += 1
            most = max(most, held[event.agent])
            answered[event.call_id] = event
        elif isinstance(event, CallEnded):
            held[event.agent] -= 1
        elif isinstance(event, ContactResponded):
            assert event.response_s is not None and event.response_s > answered[event.call_id].wait_s  # type: ignore[operator]
    assert most == chat.capacity  # reached, never passed
    assert set(held) == set(chat.agents) and all(0 <= n <= chat.capacity for n in held.values())
    assert [e.kind for e in events[:3]] == ["agent_login"] * 3 and all(e.queue == "chat" for e in events[:3])  # type: ignore[union-attr]
    done = ["call_queued", "call_answered", "contact_responded", "call_ended"]
    shapes = Counter(tuple(kinds) for kinds in steps.values())
    finished = shapes[tuple(done)] + shapes[("call_queued", "call_abandoned")]
    assert set(shapes) <= {tuple(done[:n]) for n in range(1, 5)} | {("call_queued", "call_abandoned")}, shapes
    assert len(steps) - finished <= 3 * chat.capacity + 30  # only the last contacts are still open
    assert shapes[("call_queued", "call_abandoned")] > 10 and shapes[tuple(done)] > 100, shapes
    assert all(e.channel == "chat" for e in events if e.kind.startswith(("call_", "contact_")))  # type: ignore[union-attr]
    assert (model.tally.offered, model.tally.answered) == (len(steps), len(answered))


def test_the_chat_rate_offers_the_policy_load() -> None:
    chat = ChatPolicy()
    model = Omnichannel(chat, None, seed=9, start=START)
    run(model, 10)
    expected = chat.rate_per_s() * 10 * HOUR
    assert expected * 0.85 < model.tally.offered < expected * 1.15
    assert 0 < model.tally.abandoned < 0.15 * model.tally.offered


def test_the_same_seed_and_start_give_the_same_events_and_keys_whatever_the_steps() -> None:
    """What a retry relies on: a batch is the same events with the same keys; another run has other keys."""
    first = run(Omnichannel(ChatPolicy(), CampaignPolicy(), seed=4, start=START), 2, step_s=7.0)
    again = run(Omnichannel(ChatPolicy(), CampaignPolicy(), seed=4, start=START), 2, step_s=HOUR)
    later = run(Omnichannel(ChatPolicy(), CampaignPolicy(), seed=4, start=START + timedelta(seconds=1)), 2)
    assert first == again and len(first) > 500
    keys = [event.key for event in first]
    assert len(set(keys)) == len(keys) and all(key and key.startswith(("webchat/", "dialer/")) for key in keys)
    assert not set(keys) & {event.key for event in later}


def test_times_are_on_the_wall_clock_of_the_run_and_durations_simulated() -> None:
    model = Omnichannel(ChatPolicy(), None, seed=1, start=START, speed=20.0)
    events = model.advance(HOUR)  # three real minutes at speed 20
    assert max(event.ts for event in events) <= START + timedelta(minutes=3)
    ended = [event for event in events if isinstance(event, CallEnded)]
    assert ended and max(event.talk_s or 0 for event in ended) > 180  # longer than the whole real run
