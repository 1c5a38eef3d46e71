"""Outbound campaigns through the engine: dialer events in, the snapshot's ``campaigns`` out (its schema), today
at the site's local midnight across a DST change, checkpoints old and new, and the drop-rate threshold's alert."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest
from pydantic import TypeAdapter

from wallboard.core import schema
from wallboard.core.engine import State
from wallboard.core.events import DialAttempt, DialResult, Event, event_to_json, parse_event
from wallboard.core.site import SiteConfig
from wallboard.core.site_book import SiteBook, decode_state, encode_state

MICRO = timedelta(microseconds=1)


def dial(campaign: str, n: int, at: datetime, result: str, talk_s: float | None = None) -> list[Event]:
    """Attempt n of ``campaign`` at ``at`` and its result 10 s later."""
    call = f"{campaign}-{n}"
    return [
        DialAttempt(ts=at, source="dialer", campaign=campaign, call_id=call, key=f"{call}/a"),
        DialResult(ts=at + timedelta(seconds=10), source="dialer", campaign=campaign, call_id=call,
                   result=result, talk_s=talk_s, key=f"{call}/r"),  # type: ignore[arg-type]
    ]  # fmt: skip


def apply(state: State, events: list[Event]) -> None:
    for event in events:
        state.apply(event)


def test_dial_events_round_trip_through_json_exactly() -> None:
    for event in dial("renew", 1, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "answered", 42.5):
        assert parse_event(event_to_json(event)) == event
    with pytest.raises(ValueError, match="result"):
        parse_event('{"kind": "dial_result", "ts": "2026-03-02T09:00:00Z", "source": "d", "campaign": "c", '
                    '"call_id": "1", "result": "voicemail"}')  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "evening_before"),
    [
        ("Europe/London", datetime(2026, 10, 24, 22, 30, tzinfo=UTC)),  # 23:30 BST; the 25 h day 2026-10-25 follows
        ("America/New_York", datetime(2026, 11, 1, 3, 30, tzinfo=UTC)),  # 23:30 EDT; the 25 h day 2026-11-01 follows
    ],
)
def test_today_resets_at_local_midnight_and_the_window_keeps_24_elapsed_hours(
    zone: str, evening_before: datetime
) -> None:
    """A drop half an hour before local midnight: out of today at midnight, in the window for 86,400 s (across
    the 25-hour day of the clock change), out of it at 86,400 s exactly; the engine's own day rolls it."""
    site = SiteConfig(timezone=zone, campaigns={"uk": {"regulator": "ofcom"}})
    state = State(site)
    apply(state, dial("uk", 1, evening_before - timedelta(seconds=10), "dropped"))  # result at evening_before
    apply(state, dial("uk", 2, evening_before - timedelta(seconds=10), "answered", 30.0))
    before_midnight = state.snapshot(evening_before + timedelta(minutes=29))["campaigns"]["uk"]
    assert before_midnight["today"]["dropped"] == 1 and before_midnight["drop_rate_pct"] == 50.0
    midnight = state.snapshot(evening_before + timedelta(minutes=30))
    assert datetime.fromisoformat(midnight["day"]["start"]) == evening_before + timedelta(minutes=30)
    after = midnight["campaigns"]["uk"]
    assert (after["today"]["dropped"], after["today"]["attempts"], after["window"]["dropped"]) == (0, 0, 1)
    end = evening_before + timedelta(seconds=86_400)
    assert state.snapshot(end - MICRO)["campaigns"]["uk"]["window"]["dropped"] == 1
    gone = state.snapshot(end)["campaigns"]["uk"]
    assert (gone["window"]["dropped"], gone["drop_rate_pct"], gone["total"]["dropped"]) == (0, None, 1)


def test_configured_campaigns_show_from_the_start_and_a_site_without_any_has_no_section() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert "campaigns" not in State(SiteConfig()).snapshot(now)
    entry = State(SiteConfig(campaigns={"renew": {"display_name": "Renewals"}})).snapshot(now)["campaigns"]["renew"]
    assert (entry["display_name"], entry["window"]["attempts"], entry["over_limit"]) == ("Renewals", 0, False)


def test_an_unknown_campaign_still_counts_and_a_repeat_is_an_anomaly() -> None:
    state = State(SiteConfig(campaign_defaults={"regulator": "fcc"}))
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    events = dial("pop-up", 1, at, "answered", 99_999_999.0)  # an implausible talk: unknown, the connect counts
    apply(state, events)
    again = DialResult(ts=at, source="dialer", campaign="pop-up", call_id="pop-up-1", result="dropped")
    state.apply(again)
    snapshot = state.snapshot(at + timedelta(minutes=1))
    entry = snapshot["campaigns"]["pop-up"]
    assert (entry["configured"], entry["regulator"], entry["window"]["connects"]) == (False, "fcc", 1)
    assert (entry["window"]["dropped"], entry["window"]["talk_unknown"]) == (0, 1)
    anomalies = snapshot["counters"]["anomalies"]
    assert (anomalies["duplicate_dial"], anomalies["implausible_talk"]) == (1, 1)


def test_the_snapshot_with_campaigns_fits_the_generated_schema() -> None:
    site = SiteConfig(campaigns={"renew": {"regulator": "fcc"}, "winback": {"regulator": "custom", "window_h": 48,
                                                                            "limit_pct": 2}})  # fmt: skip
    state = State(site)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for n, result in enumerate(["answered", "dropped", "machine", "busy", "no_answer"]):
        apply(state, dial("renew", n, at, result, 60.0 if result == "answered" else None))
    apply(state, dial("other", 1, at, "answered"))
    body: dict[str, Any] = json.loads(json.dumps({**state.snapshot(at + timedelta(minutes=1)), "alerts": [],
                                                  "seq": 1, "stream_id": "1-0"}))  # fmt: skip
    validator = jsonschema_rs.validator_for(schema.snapshot_json_schema(), validate_formats=True)
    assert [error.message for error in validator.iter_errors(body)] == []
    TypeAdapter(schema.Snapshot).validate_json(json.dumps(body), strict=True)
    body["campaigns"]["renew"]["window"]["colour"] = "red"
    assert list(validator.iter_errors(body))


def test_a_checkpoint_keeps_the_window_and_one_from_before_campaigns_still_loads() -> None:
    site = SiteConfig(campaigns={"uk": {}})
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    state = State(site)
    apply(state, dial("uk", 1, at, "dropped"))
    restored = decode_state(encode_state(state))
    apply(restored, dial("uk", 2, at, "answered"))
    assert restored.snapshot(at + timedelta(hours=1))["campaigns"]["uk"]["drop_rate_pct"] == 50.0

    old = State(SiteConfig())  # as a checkpoint written before campaigns: no book, no dial handlers, an older site
    old.snapshot(at)
    old.__dict__.pop("_campaigns", None)
    for kind in ("dial_attempt", "dial_result"):
        del old._handlers[kind]
    for field in ("campaigns", "campaign_defaults"):
        del old.site.__dict__[field]
    loaded = decode_state(encode_state(old))
    apply(loaded, dial("new", 1, at + timedelta(minutes=1), "dropped"))
    entry = loaded.snapshot(at + timedelta(minutes=2))["campaigns"]["new"]
    assert (entry["window"]["dropped"], entry["regulator"]) == (1, "ofcom")
    assert loaded.anomalies["internal_error"] == 0
    assert pickle.loads(pickle.dumps(loaded)).snapshot(at + timedelta(minutes=2))["campaigns"]["new"]["over_limit"]


def test_the_drop_rate_threshold_alerts_per_campaign_through_the_site_book() -> None:
    """The site default (alarm > 3 %) pages for the campaign over it; a campaign within it has no alert."""
    thresholds = [{"id": "drop", "metric": "campaign_drop_rate_pct", "alarm": 3, "label": "Silent calls"}]
    site = SiteConfig(campaigns={"renew": {"display_name": "Renewals"}, "calm": {}}, thresholds=thresholds)
    book = SiteBook(site)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    events = [e for n in range(9) for e in dial("renew", n, at, "answered", 30.0)] + dial("renew", 9, at, "dropped")
    events += [e for n in range(40) for e in dial("calm", n, at, "answered", 30.0)] + dial("calm", 99, at, "dropped")
    for n, event in enumerate(events):
        book.apply(f"{n}-0", event)
    published = book.publish(at + timedelta(minutes=1), health={})
    (alert,) = published["alerts"]
    assert (alert["target"], alert["metric"], alert["level"]) == (
        {"kind": "campaign", "name": "renew"},
        "campaign_drop_rate_pct",
        "alarm",
    )
    assert (
        alert["reason"] == "Campaign Renewals: drop rate 10 % > 3 %" and published["campaigns"]["renew"]["over_limit"]
    )
