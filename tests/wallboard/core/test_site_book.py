"""Tests for wallboard/core/site_book.py without Redis: entries in, snapshots and the outbox out, checkpoints, reloads.

The reference for every figure is a pure ``State`` fed the same events; the clock is passed in. Alerts
come from one threshold on calls waiting (warn above 1, alarm above 3), schedules from ``dump_schedule``
documents as the API stores them.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wallboard.core.adherence.schedule import Schedule, Slot, dump_schedule
from wallboard.core.adherence.tracker import AdherenceBook
from wallboard.core.alerting import AlertBook
from wallboard.core.engine import State
from wallboard.core.events import AgentLogin, AlertAction, CallAnswered, CallQueued, Event, event_to_json
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig, TeamConfig
from wallboard.core.site_book import (
    CHECKPOINT_FORMAT,
    PICKLE_PROTOCOL,
    SCHEDULES,
    THRESHOLDS,
    TREND_EVERY_S,
    BookCounts,
    SiteBook,
    UnreadableCheckpointError,
    encode_state,
    read_versioned,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a quarter-hour boundary
WAITING = {"id": "waiting", "metric": "waiting", "scope": "queue:support", "warn": 1, "alarm": 3, "clear": 0}
SITE = SiteConfig(
    site="paris",
    queues={"support": QueueConfig(), "sales": QueueConfig()},
    teams={"care": TeamConfig()},
    agents={"a1": AgentConfig(name="Alice", team="care"), "a2": AgentConfig(name="Bob", team="care")},
    thresholds=[WAITING],
)
ALERT_ID = f"waiting:queue:support:{int(T0.timestamp()) + 5}"  # fired at 5 s


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def common(key: str, seconds: float, site: str = "paris") -> dict[str, Any]:
    return {"ts": at(seconds), "site": site, "source": "test", "key": key}


def waiting(count: int, first: int = 0) -> list[Event]:
    """``count`` support callers queued one second apart from ``first`` s."""
    return [CallQueued(**common(f"q{n}", n), call_id=f"c{n}", queue="support") for n in range(first, first + count)]


def feed(book: SiteBook, events: list[Event]) -> None:
    """Each event as the runner hands it over: its stream JSON decoded, then applied."""
    for n, event in enumerate(events):
        decoded = book.decode(f"{n + 1}-0", event_to_json(event).encode())
        assert decoded is not None
        book.apply(f"{n + 1}-0", decoded)


def pure(events: list[Event]) -> State:
    state = State(SITE)
    for event in events:
        state.apply(event)
    return state


def schedule_document(version: int, minutes: int = 60) -> dict[str, Any]:
    """a1 and a2 work 09:00 to 09:00 + ``minutes``, as the API stores it."""
    end = T0 + timedelta(minutes=minutes)
    schedule = Schedule.of([Slot(agent, T0, end, "work", T0.date()) for agent in ("a1", "a2")])
    return {"version": version, "slots": dump_schedule(schedule, SITE)}


def thresholds_document(version: int, **changes: Any) -> dict[str, Any]:
    return {"version": version, "thresholds": [{**WAITING, **changes}]}


# -- entries ----------------------------------------------------------------------------------------


def test_events_reach_the_state_and_the_snapshot_is_the_states_with_the_alerts() -> None:
    """Decoded and applied events give the figures of a pure State; the snapshot adds ``alerts`` only."""
    events = [AgentLogin(**common("l1", 1), agent="a1", queue="support"), *waiting(2, first=2)]
    book = SiteBook(SITE)
    feed(book, events)
    snapshot = book.publish(at(30))
    assert snapshot == {**pure(events).snapshot(at(30)), "alerts": [], "pending": []}
    assert (book.counts.applied, book.counts.rejected, book.counts.last_event_ts) == (3, 0, at(3).timestamp())


def test_entries_that_cannot_be_applied_are_counted_by_reason() -> None:
    """A trimmed entry, bad JSON, an invalid event and another site's event are refused, the State untouched."""
    book = SiteBook(SITE)
    lyon = event_to_json(waiting(1)[0].model_copy(update={"site": "lyon"})).encode()
    for n, data in enumerate((None, b"{not json", b'{"kind": "call_queued"}', lyon)):
        assert book.decode(f"{n}-1", data) is None
    assert dict(book.counts.rejected_by_reason) == {"trimmed": 1, "bad_json": 1, "invalid_event": 1, "site_mismatch": 1}
    assert book.counts.rejected == 4 and book.counts.applied == 0
    assert book.publish(at(5))["queues"]["support"]["waiting"] == 0


def test_counts_are_shared_with_the_caller() -> None:
    """A book counts into the object it is given, so a rebuilt book goes on with the runner's counts."""
    counts = BookCounts(applied=5)
    feed(SiteBook(SITE, counts), waiting(1))
    assert counts.applied == 6


# -- alerts and the outbox --------------------------------------------------------------------------


def test_an_evaluation_opens_an_alert_and_queues_its_record_until_saved() -> None:
    """With the health hashes the thresholds are evaluated: the alert shows, its record waits in the outbox."""
    book = SiteBook(SITE)
    feed(book, waiting(2))
    assert book.publish(at(5))["alerts"] == []  # no health hashes: no evaluation
    assert book.evaluates and not book.pending
    snapshot = book.publish(at(5), {})
    [alert] = snapshot["alerts"]
    assert (alert["alert_id"], alert["level"]) == (ALERT_ID, "warn")
    [record] = [json.loads(text) for text in book.records]
    assert (record["alert_id"], record["transition"]) == (ALERT_ID, "fired")
    assert book.pending and book.counts.alert_records == 1
    book.saved(1)
    assert not book.pending and book.records == []


def test_alert_actions_go_to_the_alert_book_and_refused_ones_are_counted() -> None:
    """An ack of the open alert is a record; an ack of an unknown alert is counted under its reason."""
    book = SiteBook(SITE)
    feed(book, waiting(2))
    book.publish(at(5), {})
    book.saved(len(book.records))
    ack = AlertAction(**common("ack1", 6, site="paris"), alert_id=ALERT_ID, action="ack", by="alice")
    unknown = AlertAction(**common("ack2", 7, site="paris"), alert_id="nope", action="ack", by="alice")
    feed(book, [ack, unknown])
    assert [json.loads(text)["transition"] for text in book.records] == ["acknowledged"]
    assert dict(book.counts.alert_actions_rejected) == {"unknown_alert": 1}
    assert book.publish(at(8))["alerts"][0]["state"] == "acknowledged"
    assert book.state.snapshot(at(8))["counters"]["events_applied"] == 2  # the actions never reached the State


def test_a_publish_after_the_interval_end_drains_its_rows_into_the_outbox() -> None:
    """The closed quarter's rows (per queue, per active agent) wait in the outbox until saved."""
    events: list[Event] = [
        AgentLogin(**common("l1", 1), agent="a1", queue="support"),
        *waiting(1, first=2),
        CallAnswered(**common("a2", 10), call_id="c2", queue="support", agent="a1", wait_s=8.0),
    ]
    book = SiteBook(SITE)
    feed(book, events)
    book.publish(at(60))
    assert not book.pending
    book.publish(at(15 * 60 + 1))
    assert "support" in {row["queue"] for row in book.rows["queue"]}
    assert [row["agent"] for row in book.rows["agent"]] == ["a1"]
    book.saved(0)
    assert book.rows == {"queue": [], "agent": []}


def test_trend_samples_are_due_every_trend_every_s_until_stopped() -> None:
    """The first publish samples, one TREND_EVERY_S later the next; after stop_trend never again."""
    book = SiteBook(SITE)
    feed(book, waiting(3))
    snapshot = book.publish(at(5))
    assert book.sample_trend(snapshot, at(5)) == {"support": [3, None], "sales": [0, None]}
    assert book.sample_trend(snapshot, at(5 + TREND_EVERY_S / 2)) is None
    assert book.sample_trend(snapshot, at(5 + TREND_EVERY_S)) is not None
    book.stop_trend()
    assert book.sample_trend(snapshot, at(3600)) is None


# -- configuration documents ------------------------------------------------------------------------


def test_thresholds_reload_by_version() -> None:
    """The site file's first (version 0), then a stored version; the same version again changes nothing."""
    book = SiteBook(SITE)
    assert book.thresholds_version is None
    assert book.reload(THRESHOLDS, None) is False  # thresholds change no snapshot by themselves
    assert book.thresholds_version == 0
    book.reload(THRESHOLDS, thresholds_document(2, warn=5, alarm=8))
    assert book.thresholds_version == 2 and book.alerts.thresholds.thresholds[0].warn == 5
    book.reload(THRESHOLDS, thresholds_document(2, warn=9, alarm=10))
    assert book.alerts.thresholds.thresholds[0].warn == 5
    book.reload(THRESHOLDS, None)
    assert book.thresholds_version == 0 and book.alerts.thresholds.thresholds[0].warn == 1


def test_an_unusable_document_is_counted_once_per_version_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A bad version or a queue the site lacks is logged and counted once per version; what is in force stays."""
    book = SiteBook(SITE)
    book.reload(THRESHOLDS, thresholds_document(1))
    for _ in range(3):
        book.reload(THRESHOLDS, thresholds_document(2, scope="queue:nowhere"))
    assert book.counts.config_errors == 1 and book.thresholds_version == 1
    assert "stored thresholds (version 2) are unusable, keeping version 1: " in caplog.text
    assert "queue 'nowhere'" in caplog.text
    book.reload(THRESHOLDS, {"version": True, "thresholds": []})
    book.refuse(SCHEDULES, "unreadable", ValueError("not a JSON object"))
    book.refuse(SCHEDULES, "unreadable", ValueError("not a JSON object"))
    assert book.counts.config_errors == 3


def test_a_schedule_reload_changes_the_snapshot() -> None:
    """A stored schedule puts the adherence fields into the snapshot; removing it takes them out again."""
    book = SiteBook(SITE)
    assert book.reload(SCHEDULES, None) is False  # no schedule was in force: nothing changes
    assert "adherence" not in book.publish(at(60))
    assert book.reload(SCHEDULES, schedule_document(1)) is True
    assert book.reload(SCHEDULES, schedule_document(1, minutes=30)) is False  # same version: not even parsed
    snapshot = book.publish(at(120))
    assert snapshot["adherence"]["schedule_version"] == 1
    assert snapshot["agents"]["a1"]["adherence"]["status"] == "grace"  # scheduled, not logged in: tracked from now
    assert book.publish(at(400))["agents"]["a1"]["adherence"]["status"] == "out"  # past the 120 s grace
    assert book.reload(SCHEDULES, None) is True
    assert book.adherence.schedule is None and "adherence" not in book.publish(at(180))


def test_read_versioned_parses_only_a_document_not_in_force() -> None:
    """The generic reader: None when the version is in force, (version, content) otherwise, an error when bad."""
    assert read_versioned(SCHEDULES, None, SITE, (0, True)) is None
    assert read_versioned(SCHEDULES, None, SITE, (3, False)) == (0, None)
    assert read_versioned(SCHEDULES, {"version": 3, "slots": "unparsed"}, SITE, (3, False)) is None
    version, schedule = read_versioned(SCHEDULES, schedule_document(0), SITE, (0, True)) or (None, None)
    assert version == 0 and schedule is not None and schedule.agents() == ("a1", "a2")
    with pytest.raises(Exception, match="expected a positive integer version, read -1"):
        read_versioned(SCHEDULES, {"version": -1}, SITE, None)
    with pytest.raises(Exception, match="version: expected a positive integer, read 0"):
        read_versioned(THRESHOLDS, {"version": 0}, SITE, None)


# -- checkpoint -------------------------------------------------------------------------------------


def test_the_checkpoint_round_trips_the_whole_book() -> None:
    """restore(checkpoint()) publishes the same snapshot and keeps the alerts, thresholds and schedule."""
    book = SiteBook(SITE)
    book.reload(THRESHOLDS, thresholds_document(4))
    book.reload(SCHEDULES, schedule_document(2))
    feed(book, [AgentLogin(**common("l1", 1), agent="a1", queue="support"), *waiting(3, first=2)])
    book.publish(at(30), {})
    restored = SiteBook.restore(book.checkpoint())
    assert restored.site == SITE
    assert restored.publish(at(40)) == book.publish(at(40))
    assert restored.alerts.thresholds == book.alerts.thresholds and restored.adherence.version == 2
    assert restored.state.totals() == book.state.totals()
    assert SiteBook.restore(restored.checkpoint()).publish(at(50)) == book.publish(at(50))


def test_the_payload_keeps_its_format() -> None:
    """The payload is (CHECKPOINT_FORMAT, State, AlertBook, AdherenceBook) pickled, so older checkpoints load."""
    book = SiteBook(SITE)
    feed(book, waiting(2))
    assert book.checkpoint() == encode_state(book.state, book.alerts, book.adherence)
    version, state, alerts, adherence = pickle.loads(book.checkpoint())
    assert version == CHECKPOINT_FORMAT == 5
    assert (type(state), type(alerts), type(adherence)) == (State, AlertBook, AdherenceBook)
    partial = SiteBook.restore(encode_state(pure(waiting(2))))  # no alert or adherence book: fresh ones
    assert len(partial.alerts) == 0 and partial.adherence.schedule is None
    assert partial.publish(at(5)) == {**pure(waiting(2)).snapshot(at(5)), "alerts": [], "pending": []}


def test_a_payload_of_another_format_is_unreadable() -> None:
    """A format-4 payload or foreign bytes raise UnreadableCheckpointError (the runner rebuilds)."""
    with pytest.raises(UnreadableCheckpointError, match="format 4"):
        SiteBook.restore(pickle.dumps((4, State(SITE), None), protocol=PICKLE_PROTOCOL))
    with pytest.raises(UnreadableCheckpointError, match="cannot unpickle"):
        SiteBook.restore(b"not a pickle")
