"""The README's examples are real: its event batches parse as the HTTP event API's events, and its site-file
snippets load as site files. A README that shows a field the code does not take (or misses one it needs) fails
here instead of in a newcomer's terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from wallboard.core.events import parse_event
from wallboard.core.site import SiteConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.DOTALL)


def _site_snippets() -> list[str]:
    """The YAML blocks that are site files: those setting a top-level key of SiteConfig."""
    fields = set(SiteConfig.model_fields)
    found = []
    for lang, body in BLOCKS:
        if lang != "yaml":
            continue
        try:
            loaded = yaml.safe_load(body)
        except yaml.YAMLError:  # an excerpt with "..." for what it leaves out: not a whole site file
            continue
        if isinstance(loaded, dict) and set(loaded) <= fields and set(loaded) & {"campaigns", "channel_capacity"}:
            found.append(body)
    return found


def test_the_curl_event_batch_is_valid_and_says_its_channel() -> None:
    """The chat batch of the HTTP event API section: every event parses, and a chat says it is one."""
    batches = [m for _, body in BLOCKS for m in re.findall(r"/api/v1/events -d '(\[.*?\])'", body, flags=re.DOTALL)]
    assert len(batches) == 1
    events = [parse_event(json.dumps(item)) for item in json.loads(batches[0])]
    assert [event.kind for event in events] == ["call_queued", "call_answered", "call_ended"]
    assert {getattr(event, "channel", None) for event in events} == {"chat"}
    assert len({event.key for event in events}) == len(events)  # each its own key: none would be a duplicate


@pytest.mark.parametrize("snippet", _site_snippets(), ids=lambda s: s.split(":", 1)[0])
def test_the_site_file_snippets_load(snippet: str) -> None:
    """The Channels and Outbound campaigns snippets are valid site files (thresholds included)."""
    site = SiteConfig.model_validate(yaml.safe_load(snippet))
    assert site.campaigns or site.channel_capacity


def test_both_site_snippets_are_found() -> None:
    """The snippet finder is not vacuous: the channels and the campaigns examples are both there."""
    snippets = _site_snippets()
    assert any("channel_capacity" in s for s in snippets) and any("campaigns:" in s for s in snippets)
