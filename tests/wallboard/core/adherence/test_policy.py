"""The site's adherence policy: states and pause reasons to activities, grace periods, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wallboard.core.adherence.policy import AdherencePolicy, is_unmapped
from wallboard.core.site import SiteConfig


def test_default_states_map_to_work_and_offline() -> None:
    """Handling calls in any form is work; logged out is offline."""
    policy = AdherencePolicy()
    assert [policy.actual_activity(s, None) for s in ("available", "ringing", "on_call", "wrap_up")] == ["work"] * 4
    assert policy.actual_activity("logged_out", None) == "offline"


def test_pause_reasons_match_ignoring_case_and_blanks() -> None:
    """' BREAK ' from the PBX is the Break activity; site entries extend the defaults."""
    policy = AdherencePolicy(pause_reasons={"Coaching 1:1": "training"})
    assert policy.actual_activity("paused", " BREAK ") == "break"
    assert policy.actual_activity("paused", "coaching 1:1") == "training"
    assert policy.actual_activity("paused", "Lunch") == "lunch"


def test_unmapped_reason_is_named_not_guessed() -> None:
    """An unknown reason (and an empty one) is reported as unmapped with the reason as given."""
    policy = AdherencePolicy()
    assert policy.actual_activity("paused", "Auto-Pause") == "unmapped:Auto-Pause"
    assert policy.actual_activity("paused", None) == "unmapped:"
    assert is_unmapped(policy.actual_activity("paused", "Personal"))
    assert not is_unmapped(policy.actual_activity("paused", "Break"))


def test_grace_per_activity_over_the_default() -> None:
    """A per-activity grace wins; anything else gets the site default."""
    policy = AdherencePolicy(grace_s=90, grace_by_activity={"break": 30})
    assert (policy.grace_for("break"), policy.grace_for("lunch"), policy.grace_for(None)) == (30, 90, 90)


def test_site_activities_can_be_mapped_to() -> None:
    """A site-defined activity is known once listed under activities."""
    policy = AdherencePolicy(activities=("coaching",), pause_reasons={"Coach": "coaching"})
    assert policy.all_activities[-1] == "coaching"
    assert policy.actual_activity("paused", "coach") == "coaching"


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"pause_reasons": {"Coach": "coaching"}}, "pause_reasons: unknown activity 'coaching'"),
        ({"grace_by_activity": {"nap": 10}}, "grace_by_activity: unknown activity 'nap'"),
        ({"states": {"on_hold": "work"}}, "states: unknown state 'on_hold'"),
        ({"activities": ["Bad Name"]}, "not a valid activity name"),
    ],
)
def test_site_file_rejects_unknown_names(section: dict[str, object], words: str) -> None:
    """A policy naming an activity or state that does not exist is an error that says which."""
    with pytest.raises(ValidationError, match=words):
        SiteConfig.model_validate({"adherence": section})
