"""Tests for dash_app/grid.py: agent rows, highlights from alerts, queue detail rows."""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

import pytest

from dash_app.grid import (
    CHANNEL_CUES,
    CHANNEL_STATES,
    CHANNEL_WORDS,
    CHANNELS,
    COLUMN_DEFS,
    ROW_CLASS_RULES,
    adherence_fields,
    agent_figures,
    agent_highlights,
    agent_row,
    agent_rows,
    exception_words,
    listed,
    target_fields,
    waiting_rows,
)
from wallboard.core.events import CHANNELS as EVENT_CHANNELS
from wallboard.core.schema import AgentChannel


def agent(agent_id: str, state: str = "available", **extra: Any) -> dict[str, Any]:
    base = {
        "id": agent_id,
        "name": f"Agent {agent_id}",
        "team": "blue",
        "state": state,
        "reason": None,
        "since": "2024-05-06T09:00:00+00:00",
        "time_in_state_s": 30.0,
        "queues": ["support", "sales"],
        "calls_today": 3,
        "aht_s": 125.5,
        "handled_today": 2,
        "missed_rings_today": 1,
        "idle_s": None,
        "last_call_end": "2024-05-06T08:59:00+00:00",
        "occupancy_pct": 62.5,
    }
    return base | extra


def alert(agent_id: str, metric: str, level: str, kind: str = "agent") -> dict[str, Any]:
    return {"target": {"kind": kind, "name": agent_id}, "metric": metric, "level": level}


def test_a_row_holds_the_agent_fields_with_queues_sorted_and_joined() -> None:
    """Name, team, state, reason, since, queues "sales, support", the day's figures and idle come from the entry."""
    row = agent_row(agent("a1", "paused", reason="Lunch"), "long-break-warn")
    assert row == {
        "id": "a1",
        "name": "Agent a1",
        "team": "blue",
        "team_id": "blue",
        "state": "paused",
        "reason": "Lunch",
        "since": "2024-05-06T09:00:00+00:00",
        "time_in_state_s": 30.0,
        "queues": "sales, support",
        "queue_ids": ["sales", "support"],
        "calls_today": 3,
        "aht_s": 125.5,
        "highlight": "long-break-warn",
        "handled_today": 2,
        "missed_rings_today": 1,
        "idle_s": None,
        "last_call_end": "2024-05-06T08:59:00+00:00",
        "occupancy_pct": 62.5,
        "channels": [],
        "channel_ids": ["voice"],
        "scheduled": "",
        "adherence": "",
        "adherence_status": "",
        "out_since": None,
        "exception": "",
    }


def test_a_row_names_its_team_and_queues_by_their_display_names() -> None:
    """The team column shows the team's display name (its id stays in team_id), the queues theirs, sorted by id;
    ids without a display name show as they are."""
    row = agent_row(agent("a1"), "", {"blue": "Blue team"}, {"support": "Customer care"})
    assert (row["team"], row["team_id"]) == ("Blue team", "blue")
    assert (row["queues"], row["queue_ids"]) == ("sales, Customer care", ["sales", "support"])
    snapshot = {
        "agents": {"a1": agent("a1")},
        "teams": {"blue": {"name": "Blue team"}},
        "queues": {"sales": {"name": "sales", "display_name": "Sales line"}, "support": {"name": "support"}},
    }
    (only,) = agent_rows(snapshot)
    assert (only["team"], only["queues"]) == ("Blue team", "Sales line, support")


def test_missing_optional_fields_become_blanks() -> None:
    """No name -> the id; no team, reason -> ""; no calls -> 0; no AHT stays None."""
    row = agent_row({"id": "a9", "state": "available", "since": None, "calls_today": None})
    assert (row["name"], row["team"], row["reason"], row["queues"], row["calls_today"], row["aht_s"]) == (
        "a9",
        "",
        "",
        "",
        0,
        None,
    )


def test_rows_list_logged_in_agents_by_name_with_their_highlight() -> None:
    """A logged-out agent is left out; rows sort by name; a long call alarm marks its agent only."""
    snapshot = {
        "agents": {
            "a2": agent("a2", "on_call", name="Bea"),
            "a1": agent("a1", name="Ann"),
            "a3": agent("a3", "logged_out", name="Cid"),
        },
        "alerts": [alert("a2", "agent_on_call_s", "alarm")],
    }
    rows = agent_rows(snapshot)
    assert [(row["id"], row["highlight"]) for row in rows] == [("a1", ""), ("a2", "long-call-alarm")]


def test_an_alarm_beats_a_warn_and_other_alerts_do_not_highlight() -> None:
    """Warn then alarm on one agent -> alarm; queue alerts, other metrics and ok levels are ignored."""
    alerts = [
        alert("a1", "agent_pause_s", "warn"),
        alert("a1", "agent_pause_s", "alarm"),
        alert("a2", "agent_pause_s", "alarm"),
        alert("a2", "agent_pause_s", "warn"),
        alert("a3", "adherence_pct", "warn"),
        alert("a3", "service_level_pct", "alarm"),
        alert("sales", "waiting", "alarm", kind="queue"),
        alert("a4", "agent_on_call_s", "ok"),
    ]
    assert agent_highlights(alerts) == {"a1": "long-break-alarm", "a2": "long-break-alarm", "a3": "adherence-warn"}


def test_every_highlight_has_a_row_class_and_time_in_state_ticks_from_since() -> None:
    """Six row classes (break/call/adherence x warn/alarm); the time-in-state column is computed from since_ms."""
    assert sorted(ROW_CLASS_RULES) == [
        "wb-adherence-alarm",
        "wb-adherence-warn",
        "wb-long-break-alarm",
        "wb-long-break-warn",
        "wb-long-call-alarm",
        "wb-long-call-warn",
    ]
    assert ROW_CLASS_RULES["wb-long-call-warn"] == "params.data.highlight === 'long-call-warn'"
    ticking = next(column for column in COLUMN_DEFS if column.get("colId") == "time_in_state")
    assert "since_ms" in ticking["valueGetter"]["function"]


def test_waiting_rows_are_oldest_first_with_the_time_they_entered() -> None:
    """Two callers waiting 75 s and 5 s at 09:10:00 entered at 09:08:45 and 09:09:55; positions kept."""
    snapshot = {
        "ts": "2024-05-06T09:10:00+00:00",
        "queues": {
            "sales": {
                "waiting_calls": [
                    {
                        "call_id": "c2",
                        "caller": "555-2",
                        "caller_name": None,
                        "position": 2,
                        "wait_s": 5.0,
                        "repeat": True,
                    },
                    {"call_id": "c1", "caller": "555-1", "caller_name": "Jo", "position": 1, "wait_s": 75.0},
                ]
            }
        },
    }
    assert waiting_rows(snapshot, "sales") == [
        {
            "call_id": "c1",
            "position": 1,
            "caller": "Jo",
            "repeat": False,
            "wait_s": 75.0,
            "entered": "2024-05-06T09:08:45+00:00",
        },
        {
            "call_id": "c2",
            "position": 2,
            "caller": "555-2",
            "repeat": True,
            "wait_s": 5.0,
            "entered": "2024-05-06T09:09:55+00:00",
        },
    ]
    assert waiting_rows(snapshot, "support") == []


def adherence(**extra: Any) -> dict[str, Any]:
    """An agent's adherence entry in the shape the engine publishes."""
    base = {
        "scheduled": "available",
        "actual": "Break",
        "status": "out",
        "out_since": "2024-05-06T09:05:00+00:00",
        "out_for_s": 300.0,
        "exception": "wrong_activity",
        "adherence_pct": 91.0,
        "conformance_pct": 100.0,
        "minutes_late": 0.0,
        "next": None,
    }
    return base | extra


def test_adherence_columns_of_an_agent_out_of_adherence() -> None:
    """Scheduled activity, "✖ out" (a cue besides the colour), the raw status, out_since to tick from, the
    exception in words."""
    row = agent_row(agent("a1", "paused", reason="Break", adherence=adherence()))
    assert {k: row[k] for k in ("scheduled", "adherence", "adherence_status", "out_since", "exception")} == {
        "scheduled": "available",
        "adherence": "✖ out",
        "adherence_status": "out",
        "out_since": "2024-05-06T09:05:00+00:00",
        "exception": "wrong activity",
    }


@pytest.mark.parametrize(
    ("status", "cue"), [("in", "✔ in"), ("grace", "◔ grace"), ("out", "✖ out"), ("unscheduled", "– unscheduled")]
)
def test_every_status_has_a_non_colour_cue(status: str, cue: str) -> None:
    """Each status shows an icon and its word, and its cell a colour class of its own."""
    assert adherence_fields({"adherence": adherence(status=status)})["adherence"] == cue
    column = next(c for c in COLUMN_DEFS if c.get("field") == "adherence")
    assert column["cellClassRules"][f"wb-adh-{status}"] == f"params.data.adherence_status === '{status}'"


@pytest.mark.parametrize(
    ("entry", "reason", "words"),
    [
        ({"exception": "late_login"}, None, "late login"),
        ({"exception": "early_logout"}, None, "early logout"),
        ({"exception": "wrong_activity"}, "Lunch", "wrong activity"),
        ({"exception": "unmapped_reason", "actual": "unmapped:Smoke"}, "Smoke", "unmapped reason: Smoke"),
        ({"exception": "unmapped_reason", "actual": "paused"}, "Dentist", "unmapped reason: Dentist"),
        ({"exception": None}, None, ""),
    ],
)
def test_exceptions_in_words(entry: dict[str, Any], reason: str | None, words: str) -> None:
    """Exception kinds read as words; an unmapped reason names the reason."""
    assert exception_words(entry, reason) == words


def test_no_slot_today_leaves_the_adherence_columns_blank() -> None:
    """adherence None (no slot today) or absent: blank columns, nothing to tick."""
    for entry in (agent("a1", adherence=None), agent("a1")):
        fields = adherence_fields(entry)
        assert fields == {"scheduled": "", "adherence": "", "adherence_status": "", "out_since": None, "exception": ""}


def test_out_for_ticks_from_out_since() -> None:
    """The "Out for" column is computed in the browser from out_since_ms, like time in state."""
    column = next(c for c in COLUMN_DEFS if c.get("colId") == "out_for")
    assert "out_since_ms" in column["valueGetter"]["function"]


def test_a_logged_out_agent_out_of_adherence_is_listed() -> None:
    """A late login (logged out, status out) and one in its grace are listed; logged out and in adherence (an
    offline slot) or unscheduled is not."""
    late = agent("a1", "logged_out", since=None, adherence=adherence(exception="late_login", actual="offline"))
    grace = agent("a2", "logged_out", adherence=adherence(status="grace", exception=None))
    offline = agent("a3", "logged_out", adherence=adherence(status="in", exception=None))
    unscheduled = agent("a4", "logged_out", adherence=None)
    assert [listed(a) for a in (late, grace, offline, unscheduled)] == [True, True, False, False]
    rows = agent_rows({"agents": {a["id"]: a for a in (late, grace, offline, unscheduled)}})
    assert [(row["id"], row["adherence"], row["exception"]) for row in rows] == [
        ("a1", "✖ out", "late login"),
        ("a2", "◔ grace", ""),
    ]


# -- targets, escalations and the cues of the figures (agent_figures) -------------------------------------------------


def target(**extra: Any) -> dict[str, Any]:
    base = {"basis": "logged_in", "basis_s": 12_300.0, "calls_expected": 15.4, "calls_pct": 77.9, "calls": "behind",
            "aht_target_s": 240.0, "aht": "ok", "missed_rings_limit": 3, "missed_rings": "ok",
            "occupancy_band": [60.0, 85.0], "occupancy": "ok"}  # fmt: skip
    return base | extra


def test_the_target_cell_shows_handled_over_expected_with_percent_cue_and_level() -> None:
    """12 handled of 15.4 expected, 77.9 %, behind: "▼ 12/15 78 %", level alarm, the basis in the tooltip."""
    figures = agent_figures(agent("a1", handled_today=12, target=target(), escalations_today=2))
    assert figures == {
        "target_pct": 77.9,
        "target": "▼ 12/15 78 %",
        "target_level": "alarm",
        "target_title": "12 handled, 15 expected for 3:25 logged in: behind",
        "escalations": 2,
        "aht_cue": "",
        "missed_rings_cue": "",
        "occupancy_cue": "",
    }


@pytest.mark.parametrize(
    ("status", "cue", "level"), [("met", "▲", "ok"), ("near", "●", "warn"), ("behind", "▼", "alarm")]
)
def test_each_target_status_has_a_glyph_beside_its_colour(status: str, cue: str, level: str) -> None:
    """met ▲ ok, near ● warn, behind ▼ alarm: colour is never the only cue."""
    fields = target_fields(agent("a1", target=target(calls=status)))
    assert fields["target"].startswith(f"{cue} ") and fields["target_level"] == level


def test_halves_round_up_as_in_the_browser() -> None:
    """2.5 expected and 62.5 % read 3 and 63 (Math.round), not Python's 2 and 62."""
    fields = target_fields(agent("a1", handled_today=1, target=target(calls_expected=2.5, calls_pct=62.5, calls=None)))
    assert fields["target"] == "1/3 63 %" and fields["target_level"] == ""


def test_a_target_without_expectation_or_percent() -> None:
    """No calls_expected: a blank cell; no calls_pct: handled/expected only; a scheduled basis says so."""
    assert target_fields(agent("a1", target=target(calls_expected=None)))["target"] == ""
    fields = target_fields(agent("a1", target=target(calls_pct=None, calls="near", basis="scheduled", basis_s=3600)))
    assert fields["target"] == "● 2/15" and fields["target_pct"] is None
    assert fields["target_title"] == "2 handled, 15 expected for 1:00 scheduled: near"


def test_figures_off_target_get_a_cue() -> None:
    """AHT over and missed rings over: ▲; occupancy high ▲, low ▼; ok or absent: none."""
    high = agent_figures(agent("a1", target=target(aht="over", missed_rings="over", occupancy="high")))
    assert (high["aht_cue"], high["missed_rings_cue"], high["occupancy_cue"]) == ("▲", "▲", "▲")
    assert agent_figures(agent("a1", target=target(occupancy="low", aht=None)))["occupancy_cue"] == "▼"
    assert agent_figures(agent("a1", target=target(occupancy="low", aht=None)))["aht_cue"] == ""


def test_an_older_snapshot_without_the_fields_gives_blanks() -> None:
    """No target, escalations or logged-in time (an older snapshot), or target None: every figure blank."""
    blank = {"target_pct": None, "target": "", "target_level": "", "target_title": "", "escalations": None,
             "aht_cue": "", "missed_rings_cue": "", "occupancy_cue": ""}  # fmt: skip
    assert agent_figures(agent("a1")) == blank
    assert agent_figures(agent("a1", target=None, escalations_today=None)) == blank
    assert agent_figures(agent("a1", escalations_today=0))["escalations"] == 0


def test_the_target_columns_are_compact_and_read_the_figures() -> None:
    """ "Target" (by percent, cue classes lvl-ok/warn/alarm) and "Esc." are narrow columns; AHT, missed rings and
    occupancy carry the cue in their text and lvl-warn off target; the row itself gains no field."""
    by_id = {column.get("colId") or column.get("field"): column for column in COLUMN_DEFS}
    assert by_id["target"]["width"] <= 130 and by_id["escalations"]["width"] <= 80
    assert by_id["escalations"]["headerName"] == "Esc."
    assert set(by_id["target"]["cellClassRules"]) == {"lvl-ok", "lvl-warn", "lvl-alarm"}
    assert "target_pct" in by_id["target"]["valueGetter"]["function"]
    for name, figure in (("aht_s", "aht"), ("missed_rings_today", "missed_rings"), ("occupancy_pct", "occupancy")):
        assert f"{figure}_cue" in by_id[name]["valueFormatter"]["function"]
        assert set(by_id[name]["cellClassRules"]) == {"lvl-warn"}
    assert "target" not in agent_row(agent("a1", target=target()))


def test_channel_chips_list_every_channel_but_voice_in_order_with_their_state() -> None:
    """Voice is the phone state: no chip; the others in the API's channel order; an odd count reads None and an
    unknown state "", the chip stays; no ``channels`` entry (a voice agent): no chip."""
    channels = {
        "voice": {"open": 0, "capacity": 1, "concurrency_pct": 0.0, "state": "busy"},
        "email": {"open": "2", "capacity": 5, "concurrency_pct": 40.0, "state": "sleeping"},
        "chat": {"open": 2, "capacity": 3, "concurrency_pct": 66.7, "state": "available"},
    }
    row = agent_row(agent("c1", channels=channels), channels={"support": "chat", "sales": "voice"})
    assert row["channels"] == [
        {"channel": "chat", "open": 2, "capacity": 3, "state": "available"},
        {"channel": "email", "open": None, "capacity": 5, "state": ""},
    ]
    assert row["channel_ids"] == ["chat", "voice"]
    assert agent_row(agent("v1"))["channels"] == []
    assert agent_row(agent("v1", channels=None))["channels"] == []


def test_rows_take_each_queues_channel_from_the_snapshot() -> None:
    """channel_ids are the channels of the agent's queues as the snapshot says (voice when it does not)."""
    snapshot = {
        "agents": {"a1": agent("a1"), "c1": agent("c1", queues=["chat"])},
        "queues": {"chat": {"channel": "chat"}, "sales": {"channel": "voice"}, "support": {}},
    }
    assert {row["id"]: row["channel_ids"] for row in agent_rows(snapshot)} == {"a1": ["voice"], "c1": ["chat"]}


def test_the_channels_are_the_apis_and_every_chip_state_has_a_cue_and_words() -> None:
    """The channels are the events' (in their order), each with a word; every AgentChannel state has a glyph (the
    non-colour cue) and words for the chip's tooltip; the column sits right after the phone state."""
    assert CHANNELS == EVENT_CHANNELS and sorted(CHANNEL_WORDS) == sorted(CHANNELS)
    states = set(get_args(get_type_hints(AgentChannel)["state"]))
    assert set(CHANNEL_CUES) == set(CHANNEL_STATES) == states
    assert len(set(CHANNEL_CUES.values())) == len(CHANNEL_CUES)
    ids = [column.get("colId") or column.get("field") for column in COLUMN_DEFS]
    assert ids[ids.index("state") + 1] == "channels"
