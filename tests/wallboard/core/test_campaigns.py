"""The campaign calculator: the regulator's rolling window across its boundary and a DST change, the FCC's 30
days, bounded memory, the definitions of the rates, and the site file's campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from wallboard.core import schema
from wallboard.core.campaigns import (
    MAX_BUCKETS,
    REGULATIONS,
    CampaignBook,
    CampaignConfig,
    Regulator,
    bucket_seconds,
    campaign_rule,
)
from wallboard.core.site import SiteConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a whole minute: a bucket end of every window
MICRO = timedelta(microseconds=1)


def book(**campaigns: dict[str, object]) -> CampaignBook:
    configs = {name: CampaignConfig.model_validate(config) for name, config in campaigns.items()}
    return CampaignBook(configs, CampaignConfig())


def live(b: CampaignBook, campaign: str, ts: datetime, answered: int, dropped: int, prefix: str = "") -> None:
    """``answered`` connects and ``dropped`` abandoned calls of ``campaign`` at ``ts``."""
    for n in range(answered):
        b.result(campaign, f"{prefix}a{n}", "answered", 60.0, ts, today=True)
    for n in range(dropped):
        b.result(campaign, f"{prefix}d{n}", "dropped", None, ts, today=True)


def window(b: CampaignBook, campaign: str, now: datetime) -> schema.CampaignSpan:
    return b.figures(now)[campaign]["window"]


def test_drop_rate_is_dropped_over_live_answers_and_machines_are_not_live() -> None:
    """3 dropped, 97 connects, 50 machines, 40 no answer, 10 busy: drop rate 3 % (not over a 3 % limit); connect
    rate 97 / 200; talk averaged over the connects that told it."""
    b = book(renew={})
    live(b, "renew", T0, 97, 3)
    for outcome, count in (("machine", 50), ("no_answer", 40), ("busy", 10)):
        for n in range(count):
            b.result("renew", f"{outcome}{n}", outcome, None, T0, today=True)
    b.result("renew", "late-talk", "answered", None, T0, today=True)  # a connect without a talk time
    entry = b.figures(T0)["renew"]
    span = entry["window"]
    assert (span["live"], span["dropped"], span["connects"], span["results"]) == (101, 3, 98, 201)
    assert span["drop_rate_pct"] == pytest.approx(100 * 3 / 101)
    assert span["connect_rate_pct"] == pytest.approx(100 * 98 / 201)
    assert (span["talk_s"], span["talk_unknown"], span["avg_talk_s"]) == (97 * 60.0, 1, 60.0)
    assert entry["over_limit"] is False and entry["drop_rate_pct"] == span["drop_rate_pct"]


def test_exactly_the_limit_is_not_over_it_and_above_is() -> None:
    """ "No more than 3 %": 3 dropped of 100 live is within the limit; a fourth drop is over it."""
    b = book(renew={})
    live(b, "renew", T0, 97, 3)
    assert b.figures(T0)["renew"]["drop_rate_pct"] == 3.0 and not b.figures(T0)["renew"]["over_limit"]
    b.result("renew", "one-more", "dropped", None, T0, today=True)
    assert b.figures(T0)["renew"]["over_limit"] is True


def test_no_live_answer_means_no_drop_rate_and_not_over_the_limit() -> None:
    b = book(renew={})
    b.attempt("renew", "c1", T0, today=True)
    b.result("renew", "c1", "machine", None, T0, today=True)
    entry = b.figures(T0)["renew"]
    assert entry["drop_rate_pct"] is None and entry["over_limit"] is False
    assert entry["window"]["attempts"] == 1 and entry["window"]["connect_rate_pct"] == 0.0


def test_a_drop_leaves_the_24_hour_window_exactly_24_hours_later_not_before() -> None:
    """Ofcom: a drop at T0 (a whole minute) counts until T0 + 24 h excluded; 1 µs before it still counts."""
    b = book(uk={"regulator": "ofcom"})
    live(b, "uk", T0, 9, 1)
    live(b, "uk", T0 + timedelta(hours=1), 10, 0, prefix="later")
    end = T0 + timedelta(hours=24)
    before = window(b, "uk", end - MICRO)
    assert (before["dropped"], before["live"]) == (1, 20)
    at = window(b, "uk", end)
    assert (at["dropped"], at["live"], at["drop_rate_pct"]) == (0, 10, 0.0)
    assert b.figures(end - MICRO)["uk"]["total"]["dropped"] == 1  # the total never forgets


def test_a_drop_between_minutes_counts_at_least_a_whole_window_and_at_most_a_minute_more() -> None:
    """A drop at 09:00:20 still counts at 09:00:20 the next day (never understated) and is gone at 09:01."""
    b = book(uk={})
    at = T0 + timedelta(seconds=20)
    live(b, "uk", at, 0, 1)
    assert window(b, "uk", at + timedelta(hours=24))["dropped"] == 1
    assert window(b, "uk", T0 + timedelta(hours=24, minutes=1) - MICRO)["dropped"] == 1
    assert window(b, "uk", T0 + timedelta(hours=24, minutes=1))["dropped"] == 0


@pytest.mark.parametrize(
    ("zone", "before_change"),
    [
        ("Europe/London", datetime(2026, 10, 24, 12, 0, tzinfo=UTC)),  # BST ends 2026-10-25 01:00 UTC: a 25 h day
        ("America/New_York", datetime(2026, 10, 31, 16, 0, tzinfo=UTC)),  # EDT ends 2026-11-01 06:00 UTC
        ("Europe/London", datetime(2026, 3, 28, 12, 0, tzinfo=UTC)),  # BST starts 2026-03-29 01:00 UTC: 23 h
    ],
)
def test_the_24_hour_window_stays_24_elapsed_hours_across_a_dst_change(zone: str, before_change: datetime) -> None:
    """A drop the day before a clock change leaves the window 86,400 s later, though the local clock then reads
    an hour more (autumn) or less (spring) than at the drop."""
    b = book(uk={"regulator": "ofcom"})
    live(b, "uk", before_change, 4, 1)
    end = before_change + timedelta(seconds=86_400)
    local = ZoneInfo(zone)
    assert end.astimezone(local).hour != before_change.astimezone(local).hour  # the local clock moved by an hour
    assert window(b, "uk", end - MICRO)["dropped"] == 1
    assert window(b, "uk", end)["dropped"] == 0


def test_the_fcc_window_is_30_days_of_1800_second_buckets() -> None:
    """FCC: a drop counts for 30 days (2,592,000 s) and not a moment longer when it falls on a bucket end."""
    b = book(us={"regulator": "fcc"})
    entry = b.figures(T0)["us"]
    assert (entry["regulator"], entry["window_h"], entry["limit_pct"]) == ("fcc", 720.0, 3.0)
    live(b, "us", T0, 0, 1)
    live(b, "us", T0 + timedelta(days=20), 32, 0, prefix="later")
    end = T0 + timedelta(days=30)
    assert window(b, "us", end - MICRO)["drop_rate_pct"] == pytest.approx(100 / 33)
    assert b.figures(end - MICRO)["us"]["over_limit"] is True
    assert window(b, "us", end)["dropped"] == 0 and b.figures(end)["us"]["over_limit"] is False
    assert bucket_seconds(30 * 86_400) == 1800 and bucket_seconds(86_400) == 60


def test_memory_is_bounded_by_the_buckets_of_one_window() -> None:
    """Three days of a call every 10 s (25,920 results): at most one window of 60 s buckets is held."""
    b = book(uk={})
    for n in range(3 * 8640):
        outcome = "dropped" if n % 50 == 0 else "answered"
        b.result("uk", f"c{n}", outcome, 30.0, T0 + timedelta(seconds=10 * n), today=True)
    assert b.buckets("uk") <= MAX_BUCKETS + 1
    now = T0 + timedelta(days=3)
    b.figures(now)
    assert b.buckets("uk") <= MAX_BUCKETS
    inside = [n for n in range(3 * 8640) if 10 * n > 2 * 86_400]  # (now - 24 h, now]: the call at now - 24 h is out
    span = window(b, "uk", now)
    assert (span["results"], span["dropped"]) == (len(inside), sum(1 for n in inside if n % 50 == 0)) == (8639, 173)


def test_an_event_older_than_the_window_counts_in_the_total_only() -> None:
    b = book(uk={})
    live(b, "uk", T0 + timedelta(days=2), 1, 0)
    live(b, "uk", T0, 0, 1, prefix="old")
    figures = b.figures(T0 + timedelta(days=2))["uk"]
    assert (figures["window"]["dropped"], figures["total"]["dropped"]) == (0, 1)


def test_today_resets_when_the_day_rolls_and_the_window_does_not() -> None:
    b = book(uk={})
    live(b, "uk", T0, 9, 1)
    b.roll_day()
    figures = b.figures(T0 + timedelta(hours=15))["uk"]
    assert figures["today"]["live"] == 0 and figures["window"]["live"] == 10
    b.result("uk", "x", "answered", None, T0, today=False)  # a late event of yesterday: not today's
    assert b.figures(T0 + timedelta(hours=15))["uk"]["today"]["connects"] == 0


def test_a_repeated_attempt_or_result_counts_once() -> None:
    b = book()
    assert b.attempt("x", "c1", T0, today=True) and not b.attempt("x", "c1", T0, today=True)
    assert b.result("x", "c1", "dropped", None, T0, today=True)
    assert not b.result("x", "c1", "answered", 5.0, T0, today=True)
    span = window(b, "x", T0)
    assert (span["attempts"], span["dropped"], span["connects"]) == (1, 1, 0)


def test_a_campaign_the_site_file_does_not_list_is_counted_under_the_site_default() -> None:
    b = CampaignBook({}, CampaignConfig(regulator="fcc"))
    assert len(b) == 0
    live(b, "pop-up", T0, 1, 1)
    entry = b.figures(T0)["pop-up"]
    assert (entry["configured"], entry["regulator"], entry["window_h"]) == (False, "fcc", 720.0)


def test_rules_resolve_the_regulator_the_campaign_and_the_site_default() -> None:
    default = CampaignConfig(regulator="custom", window_h=48, limit_pct=2.0)
    assert campaign_rule(None, default).window_h == 48  # unlisted: the default
    assert campaign_rule(CampaignConfig(limit_pct=1.0), default).limit_pct == 1.0  # own field over the default
    ofcom = campaign_rule(CampaignConfig(regulator="ofcom"), default)
    assert (ofcom.window_h, ofcom.limit_pct) == (24.0, 3.0)  # its regulator's, not the custom default's
    custom = campaign_rule(CampaignConfig(regulator="custom", display_name="Win back"), default)
    assert (custom.window_h, custom.limit_pct, custom.display_name) == (48, 2.0, "Win back")
    assert set(REGULATIONS) | {"custom"} == set(get_args(Regulator)) == set(get_args(schema.CampaignRegulator))


def test_the_site_file_refuses_a_custom_campaign_without_its_window_or_limit() -> None:
    with pytest.raises(ValueError, match=r"campaigns\.winback: a custom regulator needs limit_pct"):
        SiteConfig.model_validate({"campaigns": {"winback": {"regulator": "custom", "window_h": 48}}})
    with pytest.raises(ValueError, match="window_h"):
        SiteConfig.model_validate({"campaigns": {"a": {"window_h": 0}}})
    site = SiteConfig.model_validate(
        {"campaign_defaults": {"regulator": "fcc"}, "campaigns": {"renew": {"display_name": "Renewals"}}}
    )
    assert campaign_rule(site.campaigns["renew"], site.campaign_defaults).regulator == "fcc"
