"""The outbound dialer figures of the snapshot's "campaigns" (wallboard.core.campaigns).

Counters from each campaign's total (attempts, results by outcome, talk seconds), so connect and drop rates over
any range are PromQL; gauges of the regulator's rolling window (drop rate, connect rate), the limit and 1 while
over it. Labels: site, campaign (and result). Nothing is exported for a site without campaigns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wallboard.api.exporter.family import Family, counter, gauge

SITE_CAMPAIGN = ("site", "campaign")
# The "result" label -> the field of a campaign span counting it
CAMPAIGN_RESULTS = {
    "answered": "connects",
    "no_answer": "no_answer",
    "busy": "busy",
    "machine": "machine",
    "dropped": "dropped",
}


class CampaignFamilies:
    """The families of this section."""

    def __init__(self) -> None:
        self.attempts = counter("campaign_dial_attempts", "Calls the dialer placed for the campaign.", SITE_CAMPAIGN)
        self.results = counter(
            "campaign_dial_results",
            "Dialer outcomes: answered (a live person connected to an agent), dropped (a live person the dialer "
            "abandoned), machine, no_answer, busy.",
            ("site", "campaign", "result"),
        )
        self.talk = counter("campaign_talk_seconds", "Seconds of talk on the campaign's connects.", SITE_CAMPAIGN)
        self.drop_rate = gauge(
            "campaign_drop_rate_percent",
            "Dropped / (answered + dropped) over the regulator's rolling window (Ofcom 24 h, FCC 30 days), in %.",
            SITE_CAMPAIGN,
        )
        self.connect_rate = gauge(
            "campaign_connect_rate_percent", "Answered / results over the campaign's window, in %.", SITE_CAMPAIGN
        )
        self.limit = gauge("campaign_drop_limit_percent", "The most the campaign's drop rate may be.", SITE_CAMPAIGN)
        self.over = gauge("campaign_over_limit", "1 while the window's drop rate is above the limit.", SITE_CAMPAIGN)

    def all(self) -> Iterator[Family]:
        yield from (self.attempts, self.results, self.talk, self.drop_rate, self.connect_rate, self.limit, self.over)


def add_campaigns(families: CampaignFamilies, site: str, snapshot: Mapping[str, Any]) -> None:
    """Fill the section's families from one site's snapshot (nothing without ``snapshot["campaigns"]``)."""
    campaigns = snapshot.get("campaigns")
    if not isinstance(campaigns, Mapping):
        return
    for name, campaign in sorted(campaigns.items()):
        if not isinstance(campaign, Mapping):
            continue
        labels = (site, str(name))
        total = campaign.get("total") or {}
        families.attempts.add(labels, total.get("attempts"))
        for result, key in CAMPAIGN_RESULTS.items():
            families.results.add((*labels, result), total.get(key))
        families.talk.add(labels, total.get("talk_s"))
        families.drop_rate.add(labels, campaign.get("drop_rate_pct"))
        families.connect_rate.add(labels, (campaign.get("window") or {}).get("connect_rate_pct"))
        families.limit.add(labels, campaign.get("limit_pct"))
        over = campaign.get("over_limit")
        families.over.add(labels, None if over is None else float(bool(over)))
