"""Queue groups as one combined entry: sums of counters (not averages of percentages), agents counted once."""

from __future__ import annotations

from typing import Any

import pytest

from dash_app.groups import group_agents, group_channels, group_entry, group_window, sl_formula, snapshot_groups
from dash_app.layout import tile_models

SUPPORT_INTERVAL = {
    "offered": 10,
    "answered": 8,
    "abandoned": 2,
    "short_abandoned": 1,
    "answered_within_sl": 6,
    "handled": 7,
    "talk_s": 700.0,
    "hold_s": 70.0,
    "wrap_s": 140.0,
    "wait_s_answered": 80.0,
}
BILLING_INTERVAL = {
    "offered": 5,
    "answered": 5,
    "abandoned": 0,
    "short_abandoned": 0,
    "answered_within_sl": 2,
    "handled": 5,
    "talk_s": 500.0,
    "hold_s": 0.0,
    "wrap_s": 100.0,
    "wait_s_answered": 100.0,
}


def published(window: dict[str, Any], formula: str) -> dict[str, Any]:
    """The window with the SL the engine would publish under ``formula`` (hand-written denominators)."""
    denominators = {
        "offered_minus_short": window["offered"] - window["short_abandoned"],
        "offered": window["offered"],
        "answered": window["answered"],
    }
    return {**window, "service_level_pct": 100.0 * window["answered_within_sl"] / denominators[formula]}


def queue(group: str | None, interval: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "group": group,
        "sl_threshold_s": 20,
        "sl_target_pct": 80,
        "waiting": 0,
        "longest_wait_s": 0.0,
        "waiting_beyond_sl": 0,
        "interval": interval,
        "day": interval,
        "agents": {},
        "required_agents": None,
        **extra,
    }


def agent(state: str, queues: list[str], paused: list[str] | None = None) -> dict[str, Any]:
    return {"state": state, "queues": queues, "paused_queues": paused or []}


AGENTS = {
    "a1": agent("on_call", ["billing", "support"]),
    "a2": agent("available", ["billing", "support"], ["support"]),  # still available to billing
    "a3": agent("paused", ["billing", "support"], ["billing", "support"]),
    "a4": agent("available", ["billing", "sales"], ["billing"]),  # paused in the only care queue it is in
    "a5": agent("available", ["sales"]),
    "a6": agent("logged_out", []),
    "a7": agent("wrap_up", ["support"]),
}


def snapshot(formula: str = "offered_minus_short", **extra: Any) -> dict[str, Any]:
    queues = {
        "support": queue(
            "care", published(SUPPORT_INTERVAL, formula), waiting=3, longest_wait_s=40.2, required_agents=4
        ),
        "billing": queue(
            "care", published(BILLING_INTERVAL, formula), waiting=2, longest_wait_s=75.9, sl_threshold_s=30
        ),
        "sales": queue("revenue", published(BILLING_INTERVAL, formula), waiting=9, longest_wait_s=300.0),
        "lobby": queue(None, {}),
    }
    return {"queues": queues, "agents": AGENTS, "alerts": [], **extra}


def test_group_window_sums_counters_not_percentages() -> None:
    """SL 8/(15-1), ASA 180/13, AHT 1510/12 and abandon (2-1)/(15-1) from the summed counters."""
    window = group_window([SUPPORT_INTERVAL, BILLING_INTERVAL], "offered_minus_short")
    assert window["offered"] == 15 and window["answered_within_sl"] == 8
    assert window["service_level_pct"] == pytest.approx(100 * 8 / 14)  # the average of 66.7 % and 40 % is 53.3 %
    assert window["asa_s"] == pytest.approx(180 / 13)
    assert window["aht_s"] == pytest.approx(1510 / 12)
    assert window["abandon_rate_pct"] == pytest.approx(100 * 1 / 14)


def test_an_empty_window_has_no_figures() -> None:
    """No traffic: every derived figure is None, not 0."""
    window = group_window([{}, {}], "answered")
    assert [window[k] for k in ("service_level_pct", "asa_s", "aht_s", "abandon_rate_pct")] == [None] * 4


@pytest.mark.parametrize(
    ("formula", "expected"),
    [("offered_minus_short", 100 * 8 / 14), ("offered", 100 * 8 / 15), ("answered", 100 * 8 / 13)],
)
def test_the_sl_formula_is_inferred_from_the_published_windows(formula: str, expected: float) -> None:
    """Without sl_formula in the snapshot, the formula that reproduces every queue's SL is used for the sum."""
    snap = snapshot(formula)
    snap["queues"].pop("lobby")  # an empty window fits every formula; the others decide
    assert sl_formula(snap) == formula
    assert group_entry(snap, "care")["interval"]["service_level_pct"] == pytest.approx(expected)


def test_the_snapshot_formula_wins_and_ambiguity_falls_back_to_the_default() -> None:
    """A snapshot's own sl_formula is used as is; with no window to decide, the site default."""
    assert sl_formula({**snapshot("offered"), "sl_formula": "answered"}) == "answered"
    assert sl_formula({"queues": {}}) == "offered_minus_short"


def test_agents_are_counted_once_per_group() -> None:
    """a1..a4 and a7 are in care queues (a5 only in sales, a6 logged out): 5 logged in, a4 counts as paused
    because it is paused in billing, the only care queue it is in, though available to sales."""
    counts = group_agents(snapshot(), ["billing", "support"])
    assert counts == {"logged_in": 5, "available": 1, "ringing": 0, "on_call": 1, "wrap_up": 1, "paused": 2}


def test_without_agent_entries_the_queue_counts_are_summed() -> None:
    """The documented approximation: no agents in the snapshot, so the queues' own counts add up."""
    snap = snapshot(agents={})
    snap["queues"]["support"]["agents"] = {"logged_in": 4, "available": 1, "on_call": 3}
    snap["queues"]["billing"]["agents"] = {"logged_in": 2, "available": 2}
    counts = group_agents(snap, ["billing", "support"])
    assert counts["logged_in"] == 6 and counts["available"] == 3 and counts["on_call"] == 3


def test_group_entry_figures() -> None:
    """Waiting 3+2, longest wait max(40.2, 75.9), needs 4 (billing has none), thresholds differ so none is
    common, the target 80 is."""
    entry = group_entry(snapshot(), "care")
    assert entry["queues"] == ["billing", "support"]
    assert entry["waiting"] == 5 and entry["longest_wait_s"] == 75.9
    assert entry["required_agents"] == 4
    assert entry["sl_threshold_s"] is None and entry["sl_target_pct"] == 80
    assert snapshot_groups(snapshot()) == ["care", "revenue"]


def test_a_group_tile_on_a_board() -> None:
    """group_tiles: one tile per group, then ungrouped queues; figures from the sums, levels the worst of the
    group's queues per metric, and the tile's level the worst alert of its queues whatever the metric."""
    alerts = [
        {"target": {"kind": "queue", "name": "support"}, "metric": "service_level_pct", "level": "warn"},
        {"target": {"kind": "queue", "name": "billing"}, "metric": "service_level_pct", "level": "alarm"},
        {"target": {"kind": "queue", "name": "sales"}, "metric": "waiting", "level": "alarm"},
    ]
    board = {"group_tiles": True, "tiles": ["waiting", "sl_interval", "needed"]}
    care, revenue, lobby = tile_models(snapshot(alerts=alerts), board)
    assert [(t.kind, t.name, t.title) for t in (care, revenue, lobby)] == [
        ("group", "care", "care · 2 queues"),
        ("group", "revenue", "revenue · 1 queue"),
        ("queue", "lobby", "lobby"),
    ]
    assert [(k.label, k.text, k.level) for k in care.kpis] == [
        ("Waiting", "5", "ok"),
        ("SL interval", "57%", "alarm"),  # 8/14; thresholds 20 and 30 differ: no target in the label
        ("Need / staffed", "4 / 5", "ok"),
    ]
    assert (care.level, care.icon, care.word) == ("alarm", "■", "ALARM")
    assert revenue.kpis[0].level == "alarm" and revenue.kpis[1].label == "SL interval 80/20"
    aht_only = [{"target": {"kind": "queue", "name": "billing"}, "metric": "aht_s", "level": "warn"}]
    (care,) = tile_models(snapshot(alerts=aht_only), {"group_tiles": True, "groups": ["care"], "tiles": ["waiting"]})
    assert care.kpis[0].level == "ok" and care.level == "warn"  # an alert on a figure not shown still counts


def test_a_group_of_several_channels_is_one_entry_per_channel() -> None:
    """Channels are never summed: each channel of a group is its own entry (phone channels first), a chat entry sums
    the first responses and counts its agents as a chat queue does (at capacity: on_call; the phone's state aside)."""
    snap = snapshot()
    chat_window = {**published(SUPPORT_INTERVAL, "offered_minus_short"), "responded": 7}
    chat_window |= {"first_response_s": 120.0, "first_response_unknown": 1}
    snap["queues"] |= {
        "webchat": queue("care", chat_window, channel="chat", waiting=4, longest_wait_s=12.0),
        "mail": queue("care", {}, channel="email", waiting=30),
        "callback": queue("care", {}, channel="callback", waiting=1),
    }
    snap["agents"] = {
        **AGENTS,
        "c1": agent("on_call", ["support", "webchat"]) | {"channels": {"chat": {"open": 1, "capacity": 3}}},
        "c2": agent("available", ["webchat"]) | {"channels": {"chat": {"open": 2, "capacity": 2}}},
        "c3": agent("available", ["webchat"], ["webchat"]),
    }
    assert group_channels(snap, "care") == ["voice", "callback", "chat", "email"]
    assert group_channels(snap, "care", {"chat", "email"}) == ["chat", "email"]
    voice = group_entry(snap, "care", channel="voice")
    assert voice["queues"] == ["billing", "support"] and voice["waiting"] == 5 and voice["channel"] == "voice"
    assert group_entry(snap, "care") == voice  # no channel named: the first one
    chat = group_entry(snap, "care", channel="chat")
    assert chat["queues"] == ["webchat"] and chat["waiting"] == 4 and chat["channel"] == "chat"
    assert chat["interval"]["avg_first_response_s"] == pytest.approx(20.0)  # 120 s over the 6 known
    assert chat["agents"] == {"logged_in": 3, "available": 1, "ringing": 0, "on_call": 1, "wrap_up": 0, "paused": 1}
    assert group_entry(snap, "care", {"voice"}, channel="chat")["queues"] == []  # not one of the board's channels
    tiles = tile_models(snap, {"group_tiles": True, "groups": ["care"], "tiles": ["waiting", "asa"]})
    assert [(t.channel, t.badge, t.title, [(k.label, k.text) for k in t.kpis]) for t in tiles] == [
        ("voice", "", "care · 2 queues", [("Waiting", "5"), ("ASA", "13s")]),  # 180 s over 13
        ("callback", "Callback", "care · 1 queue", [("Waiting", "1"), ("ASA", "—")]),
        ("chat", "Chat", "care · 1 queue", [("Waiting", "4"), ("First response", "20s")]),
        ("email", "Email", "care · 1 queue", [("Waiting", "30"), ("First response", "—")]),
    ]
