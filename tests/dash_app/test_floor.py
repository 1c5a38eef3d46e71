"""dash_app.floor: totals by state and team, display names, the alert list and the sparklines' axis, from snapshots."""

from __future__ import annotations

from typing import Any

from dash_app.floor import (
    LEVEL_CUES,
    TOTALS,
    alert_rows,
    campaign_rows,
    queue_cards,
    queue_label,
    site_channels,
    spark_ticks,
    state_totals,
    team_label,
    team_totals,
)


def snapshot() -> dict[str, Any]:
    states = ["available", "available", "ringing", "on_call", "wrap_up", "paused", "logged_out"]
    agents = {f"a{n}": {"id": f"a{n}", "name": f"Agent {n}", "state": state} for n, state in enumerate(states)}
    teams = {
        "red-team": {
            "name": "Red team",
            "agents": {"logged_out": 1, "available": 2, "ringing": 1, "on_call": 0, "wrap_up": 0, "paused": 0},
        },
        "blue": {"agents": {"logged_out": 0, "available": 0, "ringing": 0, "on_call": 1, "wrap_up": 1, "paused": 1}},
    }
    queues = {"sales": {"name": "sales", "display_name": "Sales line"}, "support": {"name": "support"}}
    return {"agents": agents, "teams": teams, "queues": queues, "alerts": []}


def test_state_totals_count_every_agent_not_logged_out() -> None:
    """Logged in is every state but logged out; each state counts its agents."""
    assert state_totals(snapshot()) == {
        "logged_in": 6,
        "available": 2,
        "ringing": 1,
        "on_call": 1,
        "wrap_up": 1,
        "paused": 1,
    }
    assert list(state_totals({})) == [key for key, _ in TOTALS]
    assert set(state_totals({}).values()) == {0}


def test_team_totals_use_display_names_and_sum_to_the_site() -> None:
    """One row per team by display name (else its id), logged in = every state but logged out; the rows add up
    to the site's totals when every agent has a team."""
    rows = team_totals(snapshot())
    assert [(row["id"], row["name"]) for row in rows] == [("red-team", "Red team"), ("blue", "blue")]  # code points
    assert rows[0] == {
        "id": "red-team",
        "name": "Red team",
        "logged_in": 3,
        "available": 2,
        "ringing": 1,
        "on_call": 0,
        "wrap_up": 0,
        "paused": 0,
    }
    site = state_totals(snapshot())
    assert {key: sum(row[key] for row in rows) for key in site} == site


def test_labels_fall_back_to_the_id() -> None:
    snap = snapshot()
    assert (team_label(snap, "red-team"), team_label(snap, "blue"), team_label(snap, "gone")) == (
        "Red team",
        "blue",
        "gone",
    )
    assert (queue_label(snap, "sales"), queue_label(snap, "support"), queue_label({}, "x")) == (
        "Sales line",
        "support",
        "x",
    )


def test_alert_rows_name_the_target_and_say_the_state() -> None:
    """The level with its cue, the label (else the metric in words), the target by display name, the state in
    words (who acknowledged, until when snoozed), the note; in the snapshot's order."""
    snap = snapshot()
    snap["alerts"] = [
        {"alert_id": "x1", "level": "alarm", "metric": "service_level_pct",
         "target": {"kind": "queue", "name": "sales"},
         "state": "acknowledged", "acknowledged_by": "ops1", "reason": "SL 60 < 70", "since": "2024-05-06T09:00:00Z",
         "note": "on it"},
        {"alert_id": "x2", "level": "warn", "metric": "agent_pause_s", "label": "Long break",
         "target": {"kind": "agent", "name": "a5"}, "state": "snoozed", "snoozed_until": "2024-05-06T09:45:00+00:00",
         "reason": "paused 16 min", "since": "2024-05-06T09:01:00Z"},
        {"alert_id": "x3", "level": "warn", "metric": "team_adherence_pct",
         "target": {"kind": "team", "name": "red-team"},
         "state": "firing", "reason": "", "since": "2024-05-06T09:02:00Z"},
    ]  # fmt: skip
    rows = alert_rows(snap)
    assert [row["id"] for row in rows] == ["x1", "x2", "x3"]
    assert rows[0]["cue"] == LEVEL_CUES["alarm"] and rows[0]["title"] == "service level"
    assert [row["target"] for row in rows] == ["queue Sales line", "agent Agent 5", "team Red team"]
    assert [row["state_words"] for row in rows] == ["acknowledged by ops1", "snoozed until 09:45", "firing"]
    assert [row["since"] for row in rows] == ["09:00", "09:01", "09:02"]
    snap["tz"] = "Europe/Paris"  # the site's clock: UTC+2 in May
    assert [row["since"] for row in alert_rows(snap)][0] == "11:00"
    assert alert_rows(snap)[1]["state_words"] == "snoozed until 11:45"
    assert (rows[0]["note"], rows[1]["title"], rows[1]["cue"]) == ("on it", "Long break", "▲ warn")


def test_spark_ticks_span_the_hour_up_to_now() -> None:
    assert spark_ticks(60) == [(-60, "-60 min"), (-45, "-45"), (-30, "-30"), (-15, "-15"), (0, "now")]
    assert spark_ticks(10) == [(-10, "-10 min"), (0, "now")]


def channel_snapshot() -> dict[str, Any]:
    window = {"avg_first_response_s": 42.5, "responded": 7, "service_level_pct": 90.0}
    queues = {
        "sales": {"name": "sales", "channel": "voice", "interval": {"avg_first_response_s": None, "responded": 0}},
        "chat": {"name": "chat", "channel": "chat", "display_name": "Web chat", "interval": window},
        "mail": {"name": "mail", "channel": "email", "interval": {"avg_first_response_s": None, "responded": "x"}},
        "old": {"name": "old"},  # an older snapshot: no channel, voice
    }
    span = {"attempts": 120, "connects": 40, "connect_rate_pct": 40.0}
    campaigns = {
        "winback": {"name": "winback", "display_name": None, "limit_pct": 2.5, "drop_rate_pct": 4.0,
                    "over_limit": True, "window_h": 48.0, "today": span},
        "renewals": {"name": "renewals", "display_name": "Renewals", "limit_pct": 3.0, "drop_rate_pct": None,
                     "over_limit": False, "window_h": 720.0, "today": {"attempts": 3}},
        "odd": {"limit_pct": 3.0, "drop_rate_pct": 5.0},  # no over_limit: judged here; no today: blanks
    }  # fmt: skip
    return {"queues": queues, "campaigns": campaigns, "agents": {}, "teams": {}, "alerts": []}


def test_site_channels_and_queue_cards_say_each_queues_channel_and_first_response() -> None:
    """The channels in the API's order (voice when a queue does not say); chat and email cards carry the interval's
    first response and responded (an odd count: None), voice ones None; a channel narrows the cards."""
    snap = channel_snapshot()
    assert site_channels(snap) == ["voice", "chat", "email"]
    assert site_channels({}) == []
    cards = queue_cards(snap)
    assert [(c["id"], c["name"], c["channel"]) for c in cards] == [
        ("chat", "Web chat", "chat"),
        ("mail", "mail", "email"),
        ("old", "old", "voice"),
        ("sales", "sales", "voice"),
    ]
    assert [(c["first_response_s"], c["responded"]) for c in cards] == [(42.5, 7), (None, None), (None, None),
                                                                       (None, None)]  # fmt: skip
    assert [c["id"] for c in queue_cards(snap, "voice")] == ["old", "sales"]
    assert queue_cards(snap, "outbound") == []


def test_campaign_rows_judge_the_window_against_the_limit_with_todays_dialer_figures() -> None:
    """By display name; over the limit as the snapshot says, else drop rate > limit; missing figures None."""
    rows = campaign_rows(channel_snapshot())
    assert [row["name"] for row in rows] == ["Renewals", "odd", "winback"]
    renewals, odd, winback = rows
    assert winback == {"id": "winback", "name": "winback", "window_h": 48.0, "limit_pct": 2.5, "drop_rate_pct": 4.0,
                       "over_limit": True, "attempts": 120, "connects": 40, "connect_rate_pct": 40.0}  # fmt: skip
    assert (renewals["over_limit"], renewals["drop_rate_pct"], renewals["attempts"], renewals["connects"]) == (
        False,
        None,
        3,
        None,
    )
    assert (odd["over_limit"], odd["attempts"], odd["window_h"]) == (True, None, None)
    assert campaign_rows({}) == []


def test_a_campaign_alert_names_the_campaign() -> None:
    snap = channel_snapshot()
    snap["alerts"] = [{"alert_id": "d1", "level": "alarm", "metric": "campaign_drop_rate_pct",
                       "target": {"kind": "campaign", "name": "renewals"}}]  # fmt: skip
    (row,) = alert_rows(snap)
    assert (row["title"], row["target"]) == ("drop rate", "campaign Renewals")
