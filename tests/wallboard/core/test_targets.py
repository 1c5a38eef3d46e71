"""Targets, escalations and repeat callers (wallboard.core.targets) through the engine, from queue_log and AMI.

The real captures in the fixtures hold no transfer of an answered call to a configured escalation target and no
caller calling twice, so escalations and repeats are fed from generated queue_log lines and AMI frames shaped
like the real ones (the real light run is checked to count no repeat where its numbers never repeat).
"""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from engine_events import answered, at, ended, ev, login, queued, run_on
from fixture_paths import LIGHT
from pydantic import ValidationError

from collectors.ami.mapping import AmiMapper
from collectors.ami.protocol import AmiParser
from collectors.queue_log.parser import QueueLogMapper
from wallboard.core.adherence.tracker import merge_figures
from wallboard.core.alerts import Evaluator
from wallboard.core.engine import State
from wallboard.core.events import Event
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig
from wallboard.core.targets import Escalations, RepeatCallers, Targets, dial_key, merged, progress
from wallboard.core.thresholds import Threshold

HOUR = 3600.0
BASE = Targets(calls_per_shift=60, shift_hours=8, aht_s=300, missed_rings_per_day=3, occupancy_pct=(70, 90))
SITE = SiteConfig(
    site="test",
    queues={"support": QueueConfig(sl_threshold_s=20), "level2": QueueConfig()},
    teams={"care": TeamConfig(name="Care", targets=Targets(calls_per_shift=80)), "sales": TeamConfig(name="Sales")},
    agents={"a1": AgentConfig(team="care"), "a2": AgentConfig(team="sales")},
    targets=BASE,
    escalation_targets=("2000", "level2"),
)


# -- targets ----------------------------------------------------------------------------------------


def test_a_team_target_overrides_the_site_field_by_field() -> None:
    care = SITE.agent_targets("care")
    assert care is not None and (care.calls_per_shift, care.aht_s, care.occupancy_pct) == (80, 300, (70, 90))
    assert SITE.agent_targets("sales") == BASE == SITE.agent_targets(None)
    assert merged(None, None) is None and SiteConfig().agent_targets("care") is None


def test_an_occupancy_band_must_be_ordered_within_0_100() -> None:
    with pytest.raises(ValidationError, match="low <= high"):
        Targets(occupancy_pct=(90, 70))


@pytest.mark.parametrize(("handled", "state"), [(15, "met"), (16, "met"), (12, "near"), (11, "behind"), (0, "behind")])
def test_calls_are_judged_pro_rata_to_the_basis(handled: int, state: str) -> None:
    """60 calls in 8 h: two hours in, 15 are expected; 80 % of that (12) is near."""
    figures = progress(
        BASE, handled=handled, aht_s=None, missed_rings=0, occupancy_pct=None, logged_in_s=2 * HOUR, scheduled_s=None
    )
    assert figures["basis"] == "logged_in" and figures["calls_expected"] == pytest.approx(15.0)
    assert figures["calls_pct"] == pytest.approx(100.0 * handled / 15) and figures["calls"] == state


def test_nothing_is_expected_before_any_time_and_the_other_targets_judge_their_figure() -> None:
    figures = progress(
        BASE, handled=0, aht_s=301.0, missed_rings=4, occupancy_pct=69.9, logged_in_s=0.0, scheduled_s=None
    )
    assert (figures["calls_expected"], figures["calls_pct"], figures["calls"]) == (0.0, None, None)
    assert (figures["aht"], figures["missed_rings"], figures["occupancy"]) == ("over", "over", "low")
    within = progress(BASE, handled=0, aht_s=300.0, missed_rings=3, occupancy_pct=90.0, logged_in_s=1, scheduled_s=5)
    assert (within["aht"], within["missed_rings"], within["occupancy"], within["basis"]) == (
        "ok",
        "ok",
        "ok",
        "scheduled",
    )
    unset = progress(
        Targets(), handled=3, aht_s=10, missed_rings=9, occupancy_pct=99, logged_in_s=HOUR, scheduled_s=None
    )
    assert (unset["calls"], unset["aht"], unset["missed_rings"], unset["occupancy"]) == (None, None, None, None)


def test_the_snapshot_judges_each_agent_against_its_team_s_target_over_its_logged_in_time() -> None:
    """a1 (care: 80 calls/8 h) logged in for 1 h expects 10; a2 (sales: the site's 60) expects 7.5."""
    events = [login(0, "a1"), login(0, "a2")]
    for n in range(8):
        events += [
            queued(100 * n, f"c{n}"),
            answered(100 * n + 5, f"c{n}", "a1", 5),
            ended(100 * n + 65, f"c{n}", "a1", 60),
        ]
    state = run_on(SITE, *events)
    agents = state.snapshot(at(HOUR))["agents"]
    a1, a2 = agents["a1"], agents["a2"]
    assert a1["logged_in_s"] == pytest.approx(HOUR) and a2["logged_in_s"] == pytest.approx(HOUR)
    assert a1["target"] is not None and a2["target"] is not None
    assert a1["target"]["calls_expected"] == pytest.approx(10.0) and a1["target"]["calls"] == "near"  # 8 of 10
    assert a2["target"]["calls_expected"] == pytest.approx(7.5) and a2["target"]["calls"] == "behind"
    assert a1["target"]["aht"] == "ok" and a1["target"]["occupancy_band"] == [70.0, 90.0]
    untargeted = run_on(SiteConfig(site="plain"), login(0, "a1")).snapshot(at(10))["agents"]["a1"]
    assert untargeted["target"] is None and untargeted["logged_in_s"] == pytest.approx(10.0)


def test_logged_in_time_spans_closed_intervals_and_stops_at_logout() -> None:
    state = run_on(SITE, login(0, "a1"))
    state.set_wall_clock(at(2 * HOUR))  # a live runner's clock: the logout two hours later is applied at once
    state.apply(ev("agent_logout", 2 * HOUR, queue="support", agent="a1"))
    assert state.snapshot(at(3 * HOUR))["agents"]["a1"]["logged_in_s"] == pytest.approx(2 * HOUR)


def test_with_a_schedule_the_basis_is_the_scheduled_working_time() -> None:
    """An agent scheduled 4 h so far is expected 4/8 of the shift's calls, whatever time it logged in."""
    state = run_on(SITE, login(0, "a2"))
    snapshot = state.snapshot(at(HOUR))
    entry = {"adherence_pct": 50.0, "scheduled_work_s": 4 * HOUR}
    figures = {
        "agents": {"a2": entry},
        "teams": {},
        "site": {},
        "schedule_version": 1,
        "exceptions": [],
        "unmapped": [],
    }
    merge_figures(snapshot, figures, SITE)  # type: ignore[arg-type]
    target = snapshot["agents"]["a2"]["target"]
    assert target is not None and (target["basis"], target["basis_s"]) == ("scheduled", 4 * HOUR)
    assert target["calls_expected"] == pytest.approx(30.0)


def test_thresholds_alert_on_the_agent_targets() -> None:
    """calls vs target below 50 % alarms; missed rings above 1 alarms; both name the agent."""
    events = [login(0, "a2")]
    for n in range(3):
        events.append(ev("agent_rang", 10 + n, call_id=f"r{n}", queue="support", agent="a2", answered=False))
    snapshot = run_on(SITE, *events).snapshot(at(2 * HOUR))
    book = Evaluator(
        [
            Threshold.model_validate({"id": "behind", "metric": "agent_calls_target_pct", "alarm": 50}),
            Threshold.model_validate({"id": "rings", "metric": "agent_missed_rings", "alarm": 1}),
        ],
        "UTC",
    )
    statuses = {(s.threshold_id, s.target.name): s for s in book.evaluate(snapshot, at(2 * HOUR))}
    behind, rings = statuses[("behind", "a2")], statuses[("rings", "a2")]
    assert (behind.level, behind.value) == ("alarm", 0.0) and "calls vs target 0 %" in behind.reason
    assert (rings.level, rings.value) == ("alarm", 3.0) and "missed rings today 3" in rings.reason


# -- escalations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["2000", "2000@from-internal", "PJSIP/2000-0000001a", "Local/2000@from-internal/n", "SIP/2000", "LEVEL2"],
)
def test_escalation_targets_match_however_the_pbx_names_them(target: str) -> None:
    escalations = Escalations(SITE.escalation_targets)
    assert target in escalations and dial_key(target) in {"2000", "level2"}


@pytest.mark.parametrize("target", ["2001", "20000@x", "agent05@agents", "", "LINK|Local/a-1;1|Local/b-2;2"])
def test_other_targets_are_not_escalations(target: str) -> None:
    assert target not in Escalations(SITE.escalation_targets)
    assert target not in Escalations(())


def _queue_log_events(lines: list[str]) -> list[Event]:
    mapper = QueueLogMapper()
    events = [event for n, line in enumerate(lines, 1) for event in mapper.feed_line(line, n)]
    return events + mapper.finish()


def _at_s(seconds: int) -> int:
    return int(at(seconds).timestamp())


def test_queue_log_transfers_to_an_escalation_target_count_per_agent_team_queue_and_call() -> None:
    """Asterisk queue_log lines: c1 blind-transferred to 2000 (an escalation), c2 to 2001 (a plain transfer)."""
    lines = [
        f"{_at_s(0)}|NONE|support|a1|ADDMEMBER|",
        f"{_at_s(1)}|c1|support|NONE|ENTERQUEUE||5550101|1",
        f"{_at_s(5)}|c1|support|a1|CONNECT|4|c1.agent|2",
        f"{_at_s(60)}|c1|support|a1|BLINDTRANSFER|2000|from-internal|4|55|1",
        f"{_at_s(70)}|c2|support|NONE|ENTERQUEUE||5550102|1",
        f"{_at_s(72)}|c2|support|a1|CONNECT|2|c2.agent|1",
        f"{_at_s(90)}|c2|support|a1|BLINDTRANSFER|2001|from-internal|2|18|1",
    ]
    state = State(SITE)
    for event in _queue_log_events(lines):
        state.apply(event)
    snapshot = state.snapshot(at(100))
    a1, support = snapshot["agents"]["a1"], snapshot["queues"]["support"]
    assert (a1["escalations_today"], a1["transfers_today"]) == (1, 2)
    assert snapshot["teams"]["care"]["escalations_today"] == 1 and snapshot["teams"]["care"]["handled_today"] == 2
    assert [support[w]["escalations"] for w in ("interval", "day", "total")] == [1, 1, 1]
    rows = {row["call_id"]: row for _, row in state.drain_call_records()}
    assert (rows["c1"]["escalation"], rows["c1"]["transfer_target"], rows["c1"]["transfer_kind"]) == (
        True,
        "2000@from-internal",
        "blind",
    )
    assert (rows["c2"]["escalation"], rows["c2"]["transfer_target"]) == (False, "2001@from-internal")
    state.snapshot(at(16 * 60))  # closes the interval
    (queue_row,) = [row for row in state.drain_closed_intervals() if row["queue"] == "support"]
    (agent_row,) = state.drain_closed_agent_intervals()
    assert queue_row["escalations"] == 1 and (agent_row["escalations"], agent_row["transfers"]) == (1, 2)


def _ami(text: str) -> list:  # type: ignore[type-arg]
    parser = AmiParser(expect_banner=False)
    parser.receive_data(text.replace("\n", "\r\n").encode())
    return parser.frames_received()


def test_an_ami_transfer_to_an_escalation_target_counts_once_per_call() -> None:
    """Asterisk 11 SIP frames: the agent transfers c5.1 to 2000, then (a second leg) again: one escalation."""
    frames = _ami(
        "Event: QueueCallerJoin\nQueue: support\nUniqueid: 5.1\nChannel: SIP/caller-00000009\n"
        "CallerIDNum: 5550199\nPosition: 1\nCount: 1\n\n"
        "Event: AgentConnect\nQueue: support\nUniqueid: 5.1\nChannel: SIP/a1-0000000a\nMember: SIP/a1\n"
        "MemberName: a1\nHoldTime: 9\nBridgedChannel: 5.2\nRingTime: 3\n\n"
        "Event: Transfer\nTransferMethod: SIP\nTransferType: Blind\nChannel: SIP/a1-0000000a\nUniqueid: 5.2\n"
        "TargetChannel: SIP/caller-00000009\nTargetUniqueid: 5.1\nTransferExten: 2000\nTransferContext: default\n\n"
        "Event: Transfer\nTransferMethod: SIP\nTransferType: Blind\nChannel: SIP/a1-0000000a\nUniqueid: 5.2\n"
        "TargetChannel: SIP/caller-00000009\nTargetUniqueid: 5.1\nTransferExten: 2000\nTransferContext: default\n\n"
    )
    mapper, state = AmiMapper(site="test"), State(SITE)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for n, frame in enumerate(frames):
        for event in mapper.feed(frame, start + timedelta(seconds=n)):
            state.apply(event)
    snapshot = state.snapshot(start + timedelta(seconds=10))
    assert snapshot["agents"]["a1"]["escalations_today"] == 1
    assert snapshot["queues"]["support"]["day"]["escalations"] == 1


def test_a_checkpoint_from_before_escalations_and_repeats_loads_and_counts_on() -> None:
    state = run_on(SITE, login(0, "a1"), queued(1, "c1", caller="5550101"))
    for name in ("_escalation", "_repeats"):
        del state.__dict__[name]
    call = state._queues["support"].waiting["c1"]
    del call.repeat, call.escalated
    loaded = pickle.loads(pickle.dumps(state))
    loaded.apply(answered(5, "c1", "a1", 4))
    loaded.apply(ev("call_transferred", 9, call_id="c1", queue="support", agent="a1", target="2000"))
    loaded.apply(queued(20, "c2", caller="5550102"))
    loaded.apply(queued(21, "c3", caller="5550102"))
    snapshot = loaded.snapshot(at(30))
    assert snapshot["agents"]["a1"]["escalations_today"] == 1
    assert [c["repeat"] for c in snapshot["queues"]["support"]["waiting_calls"]] == [False, True]


# -- repeat callers ---------------------------------------------------------------------------------


def test_a_caller_calling_again_within_the_window_is_a_repeat_in_the_waiting_list_the_rate_and_the_log() -> None:
    day = 24 * 3600
    state = run_on(
        SITE,
        login(0, "a1"),
        queued(0, "c1", caller="5550142"),
        ev("call_abandoned", 30, call_id="c1", queue="support", wait_s=30),
        queued(600, "c2", caller="5550142"),  # 10 min later: a repeat
        queued(601, "c3", caller="anonymous"),
        queued(602, "c4", caller="anonymous"),  # nobody: never a repeat
        queued(603, "c5", caller="5550143", queue="level2"),
    )
    waiting = {c["call_id"]: c["repeat"] for c in state.snapshot(at(700))["queues"]["support"]["waiting_calls"]}
    assert waiting == {"c2": True, "c3": False, "c4": False}
    state.apply(answered(710, "c2", "a1", 110))
    state.apply(ended(800, "c2", "a1", 90))
    total = state.snapshot(at(800))["queues"]["support"]["total"]
    assert (total["repeat_callers"], total["offered"]) == (1, 2)  # c2 of c1 and c2 (c3 and c4 still wait)
    assert total["repeat_rate_pct"] == pytest.approx(50.0)
    rows = {row["call_id"]: row for _, row in state.drain_call_records()}
    state.set_wall_clock(at(600 + day + 10))
    state.apply(queued(600 + day + 1, "c6", caller="5550142"))  # more than 24 h after c2: not a repeat
    state.apply(queued(603 + day + 1, "c7", caller="5550143"))  # a day and a second after c5: not a repeat
    state.apply(queued(603 + day + 2, "c8", caller="5550143"))  # one second after c7: a repeat
    later = state.snapshot(at(600 + day + 10))["queues"]["support"]
    assert {c["call_id"]: c["repeat"] for c in later["waiting_calls"] if c["call_id"] > "c5"} == {
        "c6": False,
        "c7": False,
        "c8": True,
    }
    assert rows["c2"]["repeat_caller"] is True and rows["c1"]["repeat_caller"] is False


def test_the_repeat_memory_forgets_numbers_outside_the_window() -> None:
    repeats = RepeatCallers(60.0)
    assert not repeats.entered("5550100", at(0))
    assert repeats.entered("5550100", at(30))
    assert not repeats.entered("5550199", at(200))
    assert len(repeats) == 1  # 5550100, last seen at 30, is forgotten (personal data)
    assert not repeats.entered("5550100", at(210))  # not a repeat any more
    assert "5550199" not in repr(vars(repeats) if hasattr(repeats, "__dict__") else repeats._last)  # digests only


def test_the_real_light_run_counts_as_many_repeats_as_its_numbers_repeat() -> None:
    """The real Asterisk 22 queue_log: the engine's repeat count equals the ENTERQUEUE numbers seen before
    within 24 h, counted from the raw lines (none in this capture: every number is distinct)."""
    lines = (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
    seen: dict[str, int] = {}
    expected = Counter()  # type: Counter[str]
    for line in lines:
        fields = line.split("|")
        if fields[4:5] == ["ENTERQUEUE"] and len(fields) > 6 and fields[6]:
            ts, number = int(fields[0]), fields[6]
            if number in seen and ts - seen[number] <= 24 * 3600:
                expected[fields[2]] += 1
            seen[number] = ts
    state = State(SiteConfig(site="light"))
    events = _queue_log_events(lines)
    for event in events:
        state.apply(event)
    state.finish(max(event.ts for event in events))
    queues = state.snapshot(max(event.ts for event in events))["queues"]
    assert {name: q["total"]["repeat_callers"] for name, q in queues.items()} == {
        name: expected.get(name, 0) for name in queues
    }
    assert all(q["total"]["offered"] > 0 for q in queues.values())


def test_targets_judge_the_agents_of_the_real_light_run_from_their_own_calls_and_time() -> None:
    """The real Asterisk 22 queue_log: each agent's progress is its handled calls (COMPLETE* and transfer lines of
    its member name, counted from the raw lines) over 60 calls x its logged-in time / 8 h."""
    lines = (LIGHT / "queue_log").read_text(encoding="utf-8").splitlines()
    ends = Counter(
        fields[3]
        for fields in (line.split("|") for line in lines)
        if fields[4:5]
        and fields[4] in ("COMPLETECALLER", "COMPLETEAGENT", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")
    )
    site = SiteConfig(site="light", targets=Targets(calls_per_shift=60, shift_hours=8))
    state = State(site)
    events = _queue_log_events(lines)
    for event in events:
        state.apply(event)
    last = max(event.ts for event in events)
    agents = state.snapshot(last)["agents"]
    judged = {agent_id: entry for agent_id, entry in agents.items() if entry["handled_today"]}
    assert {agent_id: entry["handled_today"] for agent_id, entry in judged.items()} == dict(ends)
    for entry in judged.values():
        target = entry["target"]
        assert target is not None and entry["logged_in_s"] > 0
        expected = 60 * entry["logged_in_s"] / (8 * HOUR)
        assert target["calls_expected"] == pytest.approx(expected)
        assert target["calls_pct"] == pytest.approx(100 * entry["handled_today"] / expected)
