"""The TV's tile models: formats, levels from the snapshot's alerts, board selection, grid shape."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dash_app.figures import (
    alert_levels,
    fmt_count,
    fmt_duration,
    fmt_limit,
    fmt_percent,
    fmt_ratio,
    pending_text,
    team_levels,
    worst,
)
from dash_app.layout import KPI_KEYS, catalogue, tile_models
from wallboard.api.board_routes import TILE_KEYS


def queue(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "waiting": 3,
        "longest_wait_s": 187.9,
        "sl_target_pct": 80,
        "sl_threshold_s": 20,
        "group": "care",
        "interval": {"service_level_pct": 66.5, "asa_s": 12.2, "aht_s": 3723.0, "abandon_rate_pct": None},
        "day": {"service_level_pct": 91.49},
        "agents": {"available": 2, "ringing": 1, "on_call": 4, "wrap_up": 1, "paused": 0, "logged_in": 8},
        "required_agents": 9,
    }
    return base | extra


def alert(name: str, metric: str, level: str) -> dict[str, Any]:
    return {"target": {"kind": "queue", "name": name}, "metric": metric, "level": level}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (59.99, "59s"), (60, "1:00"), (187.9, "3:07"), (3723, "1:02:03"), (-4, "0s")],
)
def test_duration_is_truncated_like_a_clock(seconds: float | None, text: str) -> None:
    """Durations show whole seconds under a minute, else m:ss or h:mm:ss; missing is a dash."""
    assert fmt_duration(seconds) == text


def test_percent_count_and_ratio() -> None:
    """Percentages round half up; counts are integers; the ratio is 'needed / staffed'."""
    assert [fmt_percent(66.5), fmt_percent(91.49), fmt_percent(None), fmt_percent(float("nan"))] == [
        "67%",
        "91%",
        "—",
        "—",
    ]
    assert [fmt_count(3), fmt_count(True), fmt_count("3")] == ["3", "—", "—"]
    assert fmt_ratio(9, 8) == "9 / 8" and fmt_ratio(None, 8) == "— / 8"


def test_alert_levels_keep_the_worst_per_queue_and_metric() -> None:
    """Two alerts on one queue and metric give the worse level; non-queue targets are ignored."""
    alerts = [
        alert("a", "waiting", "warn"),
        alert("a", "waiting", "alarm"),
        alert("b", "asa_s", "warn"),
        {"target": {"kind": "team", "name": "a"}, "metric": "waiting", "level": "alarm"},
    ]
    assert alert_levels(alerts) == {("a", "waiting"): "alarm", ("b", "asa_s"): "warn"}
    assert worst([]) == "ok" and worst(["warn", "ok"]) == "warn"


def test_tile_models_of_the_standard_board() -> None:
    """Every figure of the queue, formatted, with the interval's length and the SL target in the label and levels
    from the alerts; the agents by state add up to those logged in."""
    alerts = [alert("support", "service_level_pct", "alarm")]
    snapshot = {"queues": {"support": queue()}, "alerts": alerts, "interval": {"minutes": 15}}
    (tile,) = tile_models(snapshot, {})
    shown = {kpi.key: (kpi.label, kpi.text, kpi.level) for kpi in tile.kpis}
    assert (tile.name, tile.level, tile.icon, tile.word) == ("support", "alarm", "■", "ALARM")
    assert shown["waiting"] == ("Waiting", "3", "ok")
    assert shown["longest_wait"] == ("Longest wait", "3:07", "ok")
    assert shown["sl_interval"] == ("SL 15 min 80/20", "67%", "alarm")
    assert shown["sl_day"] == ("SL today 80/20", "91%", "ok")
    assert shown["asa"][1] == "12s" and shown["aht"][1] == "1:02:03" and shown["abandon"][1] == "—"
    states = ("available", "ringing", "on_call", "wrap_up", "paused")
    assert [shown[k][1] for k in states] == ["2", "1", "4", "1", "0"]
    assert sum(int(shown[k][1]) for k in states) == int(shown["logged_in"][1]) == 8
    assert shown["needed"] == ("Need / staffed", "9 / 8", "ok")
    assert [k.key for k in tile.kpis][-6:] == ["logged_in", *states]  # shown in the order they add up


def test_sl_labels_say_their_window() -> None:
    """The interval's SL names the site's interval length from the snapshot; without one it says "interval"."""
    for minutes, label in ((30, "SL 30 min"), (None, "SL interval")):
        snapshot = {"queues": {"q": queue(sl_target_pct=None)}, "interval": {"minutes": minutes}}
        (tile,) = tile_models(snapshot, {"tiles": ["sl_interval", "sl_day"]})
        assert [k.label for k in tile.kpis] == [label, "SL today"]


def pending(kind: str, name: str, metric: str, level: str, due: str) -> dict[str, Any]:
    return {"target": {"kind": kind, "name": name}, "metric": metric, "level": level, "due": due}


def test_a_pending_breach_shows_on_its_figure_and_tile() -> None:
    """A threshold past its level but inside its for_s: the figure stays at its level with the level coming and
    its due time; the tile carries the soonest; a level already reached is not pending; groups and teams too."""
    snapshot = {
        "queues": {"support": queue(), "billing": queue()},
        "agents": {"a1": {"team": "blue"}},
        "teams": {"blue": {"adherence": {"adherence_pct": 91.0}}},
        "alerts": [alert("support", "waiting", "warn")],
        "pending": [
            pending("queue", "support", "service_level_pct", "warn", "2024-01-01T09:00:40+00:00"),
            pending("queue", "support", "waiting", "warn", "2024-01-01T09:00:10+00:00"),  # already warn: not shown
            pending("queue", "billing", "service_level_pct", "alarm", "2024-01-01T09:00:20+00:00"),
            pending("agent", "a1", "adherence_pct", "warn", "2024-01-01T09:00:30+00:00"),
        ],
    }
    support, billing = tile_models(snapshot, {"queues": ["support", "billing"]})
    kpis = {k.key: k for k in support.kpis}
    assert kpis["sl_interval"].pending == ("warn", "2024-01-01T09:00:40+00:00")
    assert kpis["waiting"].pending is None and kpis["waiting"].level == "warn"
    assert (support.level, support.pending) == ("warn", ("warn", "2024-01-01T09:00:40+00:00"))
    assert billing.pending == ("alarm", "2024-01-01T09:00:20+00:00")
    (group,) = tile_models(snapshot, {"group_tiles": True, "groups": ["care"], "tiles": ["sl_interval"]})
    assert group.pending == ("alarm", "2024-01-01T09:00:20+00:00")  # the soonest of its queues
    (team,) = tile_models(snapshot, {"queues": [], "groups": ["none"], "team_tiles": True})
    assert team.kpis[0].pending == ("warn", "2024-01-01T09:00:30+00:00") and team.level == "ok"


def test_pending_text_counts_down_to_the_due_time() -> None:
    due = "2024-01-01T09:00:40+00:00"
    now = datetime.fromisoformat("2024-01-01T09:00:00+00:00").timestamp()
    assert pending_text("warn", due, now) == "WARN in 40s"
    assert pending_text("alarm", due, now - 60.5) == "ALARM in 1:41"
    assert pending_text("warn", due, now + 41) == "WARN now"


def test_board_picks_queues_groups_and_tiles() -> None:
    """A board's queues keep its order; groups filter; pages rotate; tiles keep catalogue order; no queues: all."""
    snapshot = {"queues": {"b": queue(group="x"), "a": queue(group="y"), "c": queue(group="x")}}
    assert [t.name for t in tile_models(snapshot, {})] == ["a", "b", "c"]
    assert [t.name for t in tile_models(snapshot, {"queues": ["c", "a"]})] == ["c", "a"]
    assert [t.name for t in tile_models(snapshot, {"groups": ["x"]})] == ["b", "c"]
    pages = {"queues": ["a"], "pages": [{"queues": ["b"], "seconds": 10}, {"queues": ["c", "a"], "seconds": 5}]}
    assert [[t.name for t in tile_models(snapshot, pages, page)] for page in range(3)] == [["b"], ["c", "a"], ["b"]]
    (tile,) = tile_models(snapshot, {"queues": ["a"], "tiles": ["aht", "waiting"]})
    assert [k.key for k in tile.kpis] == ["waiting", "aht"]


def test_a_queue_missing_from_the_snapshot_shows_dashes() -> None:
    """A board queue the snapshot lacks still gets its tile, every figure a dash."""
    (tile,) = tile_models({"queues": {}}, {"queues": ["ghost"], "tiles": ["waiting", "needed"]})
    assert [k.text for k in tile.kpis] == ["—", "— / —"]
    assert tile.kpis[0].label == "Waiting"


def test_catalogue_and_api_agree() -> None:
    """The API accepts exactly the figure keys the layout knows, and the catalogue lists them all."""
    assert set(KPI_KEYS) == set(TILE_KEYS)
    assert [k["key"] for k in catalogue()["kpis"]] == list(KPI_KEYS)


def test_layout_and_figures_are_pure() -> None:
    """layout.py, figures.py and groups.py import only the standard library and each other (STYLE.md: pure modules)."""
    root = Path(__file__).resolve().parents[2] / "dash_app"
    allowed = {"__future__", "math", "collections", "dataclasses", "datetime", "typing", "dash_app"}
    for name in ("layout.py", "figures.py", "groups.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert {module.split(".")[0] for module in imported} <= allowed, (name, imported)
        assert ".now(" not in (root / name).read_text(encoding="utf-8"), name  # times parsed, never the clock read


def team_snapshot(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Teams blue (with adherence figures, the shape the engine publishes) and red (no schedule: adherence None)."""
    adherence = {"adherence_pct": 92.5, "conformance_pct": 98.04, "scheduled_now": 12, "out_now": 3, "minutes_late": 14}
    return {
        "queues": {"a": queue()},
        "agents": {"x1": {"team": "blue"}, "x2": {"team": "red"}, "x3": {"team": None}},
        "teams": {"red": {"adherence": None}, "blue": {"name": "Blue team", "adherence": adherence}},
        "alerts": alerts,
    }


def test_team_adherence_tiles_follow_the_queue_tiles() -> None:
    """team_tiles adds one tile per team (every team, sorted, when the board names none) after the queues: adherence
    93 %, 3 out of 12 scheduled, conformance 98 %, 14 minutes late; a team without schedule shows dashes."""
    tiles = tile_models(team_snapshot([]), {"team_tiles": True, "tiles": ["waiting"]})
    assert [(t.kind, t.name, t.title) for t in tiles] == [
        ("queue", "a", "a"),
        ("team", "blue", "Adherence · Blue team"),
        ("team", "red", "Adherence · red"),
    ]
    assert [(k.key, k.label, k.text) for k in tiles[1].kpis] == [
        ("adherence", "Adherence", "93%"),
        ("out_now", "Out now / scheduled", "3 / 12"),
        ("conformance", "Conformance", "98%"),
        ("minutes_late", "Minutes late", "14"),
    ]
    assert [k.text for k in tiles[2].kpis] == ["—", "— / —", "—", "—"]
    named = tile_models(team_snapshot([]), {"queues": ["a"], "team_tiles": True, "teams": ["red"]})
    assert [t.name for t in named] == ["a", "red"]


def test_team_tile_level_from_adherence_alerts_on_the_team_or_its_agents() -> None:
    """An adherence alarm on agent x1 (team blue) and a team adherence warn on team red colour those tiles; an agent
    of no team and other metrics colour nothing."""
    alerts = [
        {"target": {"kind": "agent", "name": "x1"}, "metric": "adherence_pct", "level": "alarm"},
        {"target": {"kind": "team", "name": "red"}, "metric": "team_adherence_pct", "level": "warn"},
        {"target": {"kind": "agent", "name": "x3"}, "metric": "adherence_pct", "level": "alarm"},
        {"target": {"kind": "agent", "name": "x2"}, "metric": "agent_pause_s", "level": "alarm"},
    ]
    _, blue, red = tile_models(team_snapshot(alerts), {"team_tiles": True, "tiles": ["waiting"]})
    assert (blue.level, blue.icon, blue.word) == ("alarm", "■", "ALARM")
    assert [k.level for k in blue.kpis] == ["alarm", "alarm", "ok", "ok"]
    assert red.level == "warn"
    assert team_levels(alerts, team_snapshot(alerts)) == {
        ("blue", "adherence_pct"): "alarm",
        ("red", "adherence_pct"): "warn",
        ("red", "agent_pause_s"): "alarm",
    }


def test_group_tiles_with_named_groups_and_queues() -> None:
    """group_tiles with groups and queues named: those groups combined, then those queues one by one; pages
    ignore group_tiles."""
    snapshot = {"queues": {"b": queue(group="x"), "a": queue(group="y"), "c": queue(group=None)}}
    board = {"group_tiles": True, "groups": ["y"], "queues": ["b"]}
    assert [(t.kind, t.name) for t in tile_models(snapshot, board)] == [("group", "y"), ("queue", "b")]
    every = tile_models(snapshot, {"group_tiles": True})
    assert [(t.kind, t.name) for t in every] == [("group", "x"), ("group", "y"), ("queue", "c")]
    paged = {"group_tiles": True, "pages": [{"queues": ["a"], "seconds": 10}]}
    assert [(t.kind, t.name) for t in tile_models(snapshot, paged)] == [("queue", "a")]


def campaign(**extra: Any) -> dict[str, Any]:
    """A campaign entry as the engine publishes it (schema.CampaignFigures), Ofcom's 24 h and 3 %."""
    window = {"attempts": 900, "connects": 400, "live": 410, "dropped": 10, "connect_rate_pct": 44.4,
              "drop_rate_pct": 2.439, "avg_talk_s": 101.0}  # fmt: skip
    today = {"attempts": 300, "connects": 120, "live": 122, "dropped": 2, "connect_rate_pct": 40.4,
             "drop_rate_pct": 1.64, "avg_talk_s": 95.6}  # fmt: skip
    base = {"name": "renewals", "display_name": "Renewals", "configured": True, "regulator": "ofcom",
            "window_h": 24.0, "limit_pct": 3.0, "drop_rate_pct": 2.439, "over_limit": False, "window": window,
            "today": today}  # fmt: skip
    return base | extra


def campaign_alert(name: str, level: str) -> dict[str, Any]:
    return {"target": {"kind": "campaign", "name": name}, "metric": "campaign_drop_rate_pct", "level": level}


def test_campaign_tile_shows_the_drop_rate_against_the_limit_and_today() -> None:
    """campaign_tiles adds one tile per campaign (every one of the snapshot, sorted, when the board names none) after
    the queues: titled with its display name, the headline the window's drop rate to a tenth against the limit,
    labelled with the window, then today's dialling; an OK campaign has no badge."""
    snapshot = {"queues": {"a": queue()}, "campaigns": {"renewals": campaign(), "b2b": campaign(display_name=None)}}
    tiles = tile_models(snapshot, {"campaign_tiles": True, "tiles": ["waiting"]})
    assert [(t.kind, t.name, t.title) for t in tiles] == [
        ("queue", "a", "a"),
        ("campaign", "b2b", "b2b"),
        ("campaign", "renewals", "Renewals"),
    ]
    shown = tiles[2]
    assert [(k.key, k.label, k.text, k.level) for k in shown.kpis] == [
        ("drop_rate", "Dropped 24 h", "2.4% / 3%", "ok"),
        ("attempts", "Dialled today", "300", "ok"),
        ("connects", "Connected today", "120", "ok"),
        ("connect_rate", "Connect rate today", "40%", "ok"),
        ("dropped", "Dropped / live today", "2 / 122", "ok"),
        ("avg_talk", "Avg talk today", "1:35", "ok"),
    ]
    assert (shown.level, shown.word, shown.badge) == ("ok", "OK", "")
    named = tile_models(snapshot, {"queues": ["a"], "campaign_tiles": True, "campaigns": ["renewals"]})
    assert [t.name for t in named] == ["a", "renewals"]
    assert [t.kind for t in tile_models(snapshot, {"campaigns": ["renewals"]})] == ["queue"]  # no campaign_tiles


def test_campaign_tile_level_from_over_limit_and_its_alerts() -> None:
    """Over the limit the tile is alarm, its headline too, and the heading says OVER LIMIT in words (not colour
    alone); else the worst open alert on the campaign sets it; a pending one shows on the headline; alerts on other
    targets or campaigns colour nothing; 30 days read as days."""
    over = {"campaigns": {"renewals": campaign(over_limit=True, window={"drop_rate_pct": 3.04})}}
    (tile,) = tile_models(over, {"campaign_tiles": True})
    assert (tile.level, tile.icon, tile.word, tile.badge) == ("alarm", "■", "ALARM", "OVER LIMIT")
    assert (tile.kpis[0].text, tile.kpis[0].level) == ("3.0% / 3%", "alarm")
    due = "2024-01-01T09:00:40+00:00"
    alerts = [
        campaign_alert("renewals", "warn"),
        campaign_alert("other", "alarm"),
        alert("renewals", "waiting", "alarm"),
    ]
    warned = {
        "campaigns": {"renewals": campaign()},
        "alerts": alerts,
        "pending": [pending("campaign", "renewals", "campaign_drop_rate_pct", "alarm", due)],
    }
    (tile,) = tile_models(warned, {"campaign_tiles": True, "campaigns": ["renewals"]})
    assert (tile.level, tile.badge, tile.kpis[0].level, tile.kpis[0].pending) == ("warn", "", "warn", ("alarm", due))
    assert tile.pending == ("alarm", due)
    fcc = {"campaigns": {"renewals": campaign(regulator="fcc", window_h=720.0, limit_pct=2.5)}}
    (tile,) = tile_models(fcc, {"campaign_tiles": True})
    assert (tile.kpis[0].label, tile.kpis[0].text) == ("Dropped 30 d", "2.4% / 2.5%")


def test_campaign_tile_missing_figures_are_dashes() -> None:
    """A named campaign the snapshot lacks, or one without a live answer yet, shows dashes (never drops the tile)."""
    empty = campaign(window={"drop_rate_pct": None}, today={"attempts": 4, "live": 0, "dropped": 0})
    snapshot = {"campaigns": {"quiet": empty}}
    ghost, quiet = tile_models(snapshot, {"campaign_tiles": True, "campaigns": ["ghost", "quiet"]})
    assert [(k.label, k.text) for k in ghost.kpis] == [
        ("Dropped", "— / —"),
        ("Dialled today", "—"),
        ("Connected today", "—"),
        ("Connect rate today", "—"),
        ("Dropped / live today", "— / —"),
        ("Avg talk today", "—"),
    ]
    assert (ghost.title, ghost.level, ghost.badge) == ("ghost", "ok", "")
    assert [k.text for k in quiet.kpis] == ["— / 3%", "4", "—", "—", "0 / 0", "—"]


def test_limit_format_rounds_to_a_tenth() -> None:
    """A drop rate shows a tenth (half up) so 2.96 % does not read as the 3 % limit; the limit as it is."""
    assert [fmt_limit(2.96, 3), fmt_limit(2.94, 3.0), fmt_limit(0.05, 2.5), fmt_limit(None, None)] == [
        "3.0% / 3%",
        "2.9% / 3%",
        "0.1% / 2.5%",
        "— / —",
    ]


def test_channel_badge_and_a_chat_queues_own_figures() -> None:
    """A chat or email queue's tile: its display name, a badge naming the channel, first response in ASA's place,
    "At capacity" for the agents counted on call, no Erlang C, ringing nor wrap-up (never meaningful there); a voice
    queue has no badge, callback and outbound have a badge and the voice figures."""
    chat = queue(channel="chat", display_name="Web chat")
    chat["interval"] |= {"avg_first_response_s": 42.7}
    snapshot = {
        "queues": {"chat": chat, "mail": queue(channel="email"), "voice": queue(channel="voice"),
                   "back": queue(channel="callback")},
        "alerts": [alert("chat", "first_response_s", "warn")],
    }  # fmt: skip
    back, tile, mail, voice = tile_models(snapshot, {})
    shown = {k.key: (k.label, k.text, k.level) for k in tile.kpis}
    assert (tile.title, tile.badge, tile.level) == ("Web chat", "Chat", "warn")
    assert shown["first_response"] == ("First response", "42s", "warn")
    assert shown["on_call"] == ("At capacity", "4", "ok")
    assert not {"asa", "needed", "ringing", "wrap_up"} & set(shown)
    assert [k.key for k in tile.kpis][-4:] == ["logged_in", "available", "on_call", "paused"]
    assert (mail.badge, mail.kpis[4].key) == ("Email", "first_response")
    assert (voice.badge, [k.key for k in voice.kpis]) == ("", list(KPI_KEYS))
    assert (back.badge, [k.key for k in back.kpis]) == ("Callback", list(KPI_KEYS))
    (picked,) = tile_models(snapshot, {"queues": ["chat"], "tiles": ["waiting", "asa", "needed"]})
    assert [k.key for k in picked.kpis] == ["waiting", "first_response"]


def test_a_chat_board_shows_only_chat_tiles() -> None:
    """``channels`` keeps only the queues of those channels: with no queues named every one of them, else the named
    ones of them (in the board's order), a page's likewise; a group tile combines the group's queues of those
    channels, one tile per channel (a group with none has no tile). A queue naming no channel is voice; one whose
    channel is learned later joins the board when the snapshot says so."""
    snapshot: dict[str, Any] = {
        "queues": {"chat": queue(channel="chat"), "web": queue(channel="chat", group="sales"),
                   "mail": queue(channel="email"), "phone": queue(), "sales": queue(channel="voice", group="sales")},
    }  # fmt: skip
    chat = {"channels": ["chat"]}
    assert [t.name for t in tile_models(snapshot, chat)] == ["chat", "web"]
    assert {t.badge for t in tile_models(snapshot, chat)} == {"Chat"}
    assert [t.name for t in tile_models(snapshot, {**chat, "queues": ["web", "phone", "chat"]})] == ["web", "chat"]
    assert [t.name for t in tile_models(snapshot, {"channels": ["voice"], "groups": ["care"]})] == ["phone"]
    paged = {**chat, "pages": [{"queues": ["mail", "chat"], "seconds": 10}]}
    assert [t.name for t in tile_models(snapshot, paged)] == ["chat"]
    digital = tile_models(snapshot, {"group_tiles": True, "channels": ["chat", "email"], "tiles": ["waiting"]})
    assert [(t.kind, t.title, t.badge, t.kpis[0].text) for t in digital] == [
        ("group", "care · 1 queue", "Chat", "3"),  # chat and mail each on their own, not phone
        ("group", "care · 1 queue", "Email", "3"),
        ("group", "sales · 1 queue", "Chat", "3"),
    ]
    assert [t.name for t in tile_models(snapshot, {"group_tiles": True, "channels": ["email"]})] == ["care"]
    named = {**chat, "queues": ["phone"]}
    assert tile_models(snapshot, named) == []
    snapshot["queues"]["phone"] |= {"channel": "chat"}  # its first chat event: the engine learns its channel
    assert [t.name for t in tile_models(snapshot, named)] == ["phone"]
    assert [t.name for t in tile_models(snapshot, chat)] == ["chat", "phone", "web"]


def test_group_title_is_a_plural_message() -> None:
    """The group heading's English forms come from one plural message (the browser picks the language's form)."""
    snapshot = {"queues": {"a": queue(group="x"), "b": queue(group="y"), "c": queue(group="y")}}
    assert [t.title for t in tile_models(snapshot, {"group_tiles": True})] == ["x · 1 queue", "y · 2 queues"]
    assert catalogue()["group_title"] == ["{group} · {n} queue", "{group} · {n} queues"]
