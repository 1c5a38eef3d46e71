"""The site file: validation, clear errors, and one identity per agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from wallboard.core.site import AgentConfig, AgentDirectory, SiteConfig, SiteFileError, load_site_file


def test_site_file_loads(tmp_path: Path) -> None:
    """A YAML site file gives its queues, agents and time zone."""
    path = tmp_path / "site.yaml"
    path.write_text(
        "site: paris\ntimezone: Europe/Paris\nqueues:\n  support: {sl_threshold_s: 20, wrapup_s: 3}\n"
        "agents:\n  agent01: {name: Alice Nguyen, team: care, aliases: ['Local/agent01@agents/n']}\n",
        encoding="utf-8",
    )
    site = load_site_file(path)
    assert site.site == "paris"
    assert site.tz.key == "Europe/Paris"
    assert site.queues["support"].sl_threshold_s == 20
    assert site.agents["agent01"].aliases == ("Local/agent01@agents/n",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("timezone: Mars/Olympus\n", "unknown time zone"),
        ("site: [unclosed\n", "not valid YAML"),
        ("- a list\n", "must be a mapping"),
        ("queues:\n  q: {sl_threshold_s: -1}\n", "invalid"),
        ("colour: blue\n", "invalid"),
    ],
)
def test_bad_site_files_say_what_is_wrong(tmp_path: Path, text: str, needle: str) -> None:
    """Bad zones, bad YAML, wrong shapes, negative thresholds and unknown keys are rejected with the file named."""
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SiteFileError) as info:
        load_site_file(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_missing_site_file(tmp_path: Path) -> None:
    """A missing site file is a SiteFileError naming it."""
    with pytest.raises(SiteFileError, match="cannot read site file"):
        load_site_file(tmp_path / "nope.yaml")


def test_directory_resolves_site_aliases() -> None:
    """Interface, member name and id of a configured agent all resolve to its id."""
    site = SiteConfig(agents={"agent01": AgentConfig(name="Alice Nguyen", aliases=("Local/agent01@agents/n",))})
    directory = AgentDirectory(site)
    assert directory.resolve("Local/agent01@agents/n") == "agent01"
    assert directory.resolve("Alice Nguyen") == "agent01"
    assert directory.resolve("agent01") == "agent01"
    assert directory.resolve("Bob") == "Bob"


def test_directory_learns_links_from_the_source() -> None:
    """Without a site file, an event naming both interface and member name links them under the member name."""
    directory = AgentDirectory(SiteConfig())
    assert directory.learn("Local/agent02@agents/n", "Bob Martinez") == "Bob Martinez"
    assert directory.resolve("Local/agent02@agents/n") == "Bob Martinez"
    assert directory.learn(None, "Bob Martinez") is None
