"""The readiness judgements (wallboard.core.readiness): the snapshot's age and the collectors' health hashes."""

from __future__ import annotations

from wallboard.core.readiness import NO_SNAPSHOT, collector_checks, engine_check, snapshot_age_s

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def test_the_engine_is_fresh_up_to_the_age_limit() -> None:
    """A snapshot 9 s old passes a 10 s limit, 11 s old fails naming its age; none, or no readable ts, fails."""
    assert engine_check({"ts": "2023-11-14T22:13:11+00:00"}, NOW, 10.0).ok
    old = engine_check({"ts": "2023-11-14T22:13:09+00:00"}, NOW, 10.0)
    assert not old.ok and old.detail == "the engine's snapshot is 11.0 s old (at most 10 s)"
    assert engine_check(None, NOW, 10.0).detail == NO_SNAPSHOT
    assert not engine_check({"ts": "yesterday"}, NOW, 10.0).ok
    assert snapshot_age_s({"ts": "2023-11-14T22:13:30+00:00"}, NOW) == 0.0  # ahead of the clock: fresh


def test_collectors_are_judged_by_their_own_fields_and_freshness() -> None:
    """Only collector hashes count; each needs a recent updated_ts and its source fields set to 1."""
    fresh = str(NOW - 1)
    health = {
        "engine": {"connected": "0", "updated_ts": "0"},
        "collector:ami": {"connected": "1", "updated_ts": fresh},
        "collector:queue_log": {"connected": "1", "following": "0", "updated_ts": fresh},
        "collector:queue_log_db": {"connected": "1", "updated_ts": str(NOW - 30)},
        "collector:esl": {"connected": "0", "updated_ts": fresh},
    }
    checks = {check.name: check for check in collector_checks(health, NOW, 10.0)}
    assert list(checks) == ["collector:ami", "collector:esl", "collector:queue_log", "collector:queue_log_db"]
    assert checks["collector:ami"].ok
    assert checks["collector:esl"].detail == "not connected to its source"
    assert checks["collector:queue_log"].detail == "not following an existing file"
    assert checks["collector:queue_log_db"].detail == "stale: its health was last written 30 s ago (at most 10 s)"


def test_one_of_several_collectors_of_a_kind_is_judged_by_its_kind() -> None:
    """collector:queue_log:<path> (serve's --name for a second file) needs ``following`` like collector:queue_log."""
    fresh = str(NOW - 1)
    health = {
        "collector:queue_log:/var/log/a/queue_log": {"connected": "1", "following": "1", "updated_ts": fresh},
        "collector:queue_log:/var/log/b/queue_log": {"connected": "1", "following": "0", "updated_ts": fresh},
    }
    checks = {check.name: check for check in collector_checks(health, NOW, 10)}
    assert checks["collector:queue_log:/var/log/a/queue_log"].ok
    assert checks["collector:queue_log:/var/log/b/queue_log"].detail == "not following an existing file"
