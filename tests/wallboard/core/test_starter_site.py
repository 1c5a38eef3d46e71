"""The starter site file: QueueStatus records -> a commented YAML site file that load_site_file accepts."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wallboard.core.site import AgentDirectory, SiteConfig, load_site_file
from wallboard.core.starter_site import (
    Discovery,
    MemberFacts,
    QueueFacts,
    agent_slug,
    starter_site,
    starter_site_yaml,
)

AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # within SiteConfig's name pattern [A-Za-z0-9_.-]+


def _member(queue: str, interface: str, name: str | None, **extra: object) -> MemberFacts:
    state = interface[:-2] if interface.startswith("Local/") and interface.endswith("/n") else interface
    return MemberFacts.model_validate(
        {"queue": queue, "interface": interface, "name": name, "state_interface": state, "membership": "dynamic"}
        | extra
    )


def _discovery(*members: MemberFacts, queues: tuple[QueueFacts, ...] | None = None) -> Discovery:
    if queues is None:
        queues = (
            QueueFacts(name="support", strategy="rrmemory", service_level_s=20),
            QueueFacts(name="sales", strategy="ringall", service_level_s=30),
        )
    return Discovery(
        host="pbx.example", port=5038, banner="Asterisk Call Manager/11.0.0", at=AT, queues=queues, members=members
    )


ROSTER = (
    _member("support", "Local/agent01@agents/n", "José Álvarez"),
    _member("sales", "Local/agent01@agents/n", "José Álvarez", penalty=1),
    _member("sales", "PJSIP/1002", "Dana O'Brien", paused=True),
    _member("support", "Local/agent03@agents/n", "Chen Wei", membership="static"),
)


def _load(text: str, tmp_path: Path) -> SiteConfig:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return load_site_file(path)


def _uncomment(text: str, head: str) -> str:
    """Uncomment the commented block that starts with ``# <head>`` (its lines start with ``#   ``)."""
    lines = text.splitlines()
    start = lines.index(f"# {head}")
    end = start + 1
    while end < len(lines) and lines[end].startswith("#   "):
        end += 1
    return "\n".join([*lines[:start], *(line[2:] for line in lines[start:end]), *lines[end:]]) + "\n"


def test_starter_file_loads_with_the_queues_and_agents_of_the_discovery(tmp_path: Path) -> None:
    """load_site_file reads the generated text back: queue SL thresholds and one agent per member, names intact."""
    site = _load(starter_site_yaml(_discovery(*ROSTER), site="paris", timezone="Europe/Paris"), tmp_path)
    assert (site.site, site.timezone, site.interval_minutes) == ("paris", "Europe/Paris", 15)
    assert {name: (q.sl_threshold_s, q.sl_target_pct) for name, q in site.queues.items()} == {
        "support": (20, 80),
        "sales": (30, 80),
    }
    assert {agent_id: agent.name for agent_id, agent in site.agents.items()} == {
        "agent01": "José Álvarez",
        "agent03": "Chen Wei",
        "pjsip-1002": "Dana O'Brien",
    }
    assert site.agents["agent01"].aliases == ("Local/agent01@agents/n", "Local/agent01@agents", "José Álvarez")
    assert site.agents["pjsip-1002"].aliases == ("PJSIP/1002", "Dana O'Brien")
    assert all(agent.team is None for agent in site.agents.values())
    assert site.teams == {} and not site.thresholds.thresholds


def test_every_name_asterisk_uses_for_a_member_resolves_to_its_agent(tmp_path: Path) -> None:
    """Interface, state interface and member name (AMI and queue_log names) all resolve to one agent id."""
    directory = AgentDirectory(_load(starter_site_yaml(_discovery(*ROSTER), site="s", timezone="UTC"), tmp_path))
    for member in ROSTER:
        ids = {directory.resolve(name) for name in (member.interface, member.state_interface, member.name) if name}
        assert len(ids) == 1 and ids <= {"agent01", "agent03", "pjsip-1002"}


def test_a_member_in_several_queues_is_one_agent() -> None:
    """The same interface in two queues gives one agent, not one per membership."""
    agents = starter_site(_discovery(*ROSTER), site="s", timezone="UTC")["agents"]
    assert list(agents) == ["agent01", "agent03", "pjsip-1002"]


def test_memberships_sharing_a_member_name_are_one_agent_with_both_interfaces() -> None:
    """queue_log names members by name, so one name on two interfaces is one agent holding both."""
    members = (_member("support", "PJSIP/1005", "Grace Kim"), _member("sales", "Local/agent05@agents/n", "Grace Kim"))
    agents = starter_site(_discovery(*members), site="s", timezone="UTC")["agents"]
    assert agents == {
        "agent05": {
            "name": "Grace Kim",
            "aliases": ["Local/agent05@agents/n", "PJSIP/1005", "Local/agent05@agents", "Grace Kim"],
        }
    }


def test_clashing_slugs_get_a_numbered_suffix(tmp_path: Path) -> None:
    """Two interfaces whose slugs clash get distinct ids, in sorted order."""
    members = (_member("support", "Local/1001@ctx-a/n", "Ann"), _member("support", "Local/1001@ctx-b/n", "Bea"))
    site = _load(starter_site_yaml(_discovery(*members), site="s", timezone="UTC"), tmp_path)
    assert {agent_id: agent.name for agent_id, agent in site.agents.items()} == {
        "local-1001": "Ann",
        "local-1001-2": "Bea",
    }


@pytest.mark.parametrize(
    ("interface", "name", "slug"),
    [
        ("Local/agent01@agents/n", "Alice", "agent01"),
        ("Local/1001@from-queue/n", "Alice", "local-1001"),
        ("PJSIP/1001", "Alice", "pjsip-1001"),
        ("SIP/Álvaro_Díaz", None, "sip-alvaro-diaz"),
        ("1001", None, "agent-1001"),
        (None, "José Álvarez", "jose-alvarez"),
        (None, "李雷", "agent"),
    ],
)
def test_agent_slug(interface: str | None, name: str | None, slug: str) -> None:
    """Ids are lower-case ASCII slugs of the interface (the extension of a Local channel), else of the name."""
    assert agent_slug(interface, name) == slug
    assert ID_PATTERN.match(slug)


def test_service_level_zero_leaves_the_site_default(tmp_path: Path) -> None:
    """A queue with ServiceLevel 0 has no sl_threshold_s: the site's default threshold applies."""
    discovery = _discovery(queues=(QueueFacts(name="billing", strategy="leastrecent", service_level_s=0),))
    text = starter_site_yaml(discovery, site="s", timezone="UTC")
    site = _load(text, tmp_path)
    assert site.queues["billing"].sl_threshold_s is None
    assert site.queues["billing"].sl_target_pct == 80
    assert "no ServiceLevel" in text


def test_output_is_the_same_whatever_the_order_of_the_records() -> None:
    """Queues and agents are sorted: shuffled QueueStatus items give the same text."""
    expected = starter_site_yaml(_discovery(*ROSTER), site="s", timezone="UTC")
    members = list(ROSTER)
    random.Random(4).shuffle(members)
    queues = (QueueFacts(name="sales", service_level_s=30, strategy="ringall"),
              QueueFacts(name="support", service_level_s=20, strategy="rrmemory"))  # fmt: skip
    assert starter_site_yaml(_discovery(*members, queues=queues), site="s", timezone="UTC") == expected


def test_non_ascii_names_are_written_as_text() -> None:
    """Names stay readable UTF-8 in the file (allow_unicode), not \\u escapes."""
    text = starter_site_yaml(_discovery(*ROSTER), site="s", timezone="UTC")
    assert "name: José Álvarez" in text and "name: Dana O'Brien" in text
    assert "\\u" not in text and "\\x" not in text


def test_header_says_where_and_when_it_was_generated() -> None:
    """The first comment names the PBX, the banner and the time of the QueueStatus."""
    text = starter_site_yaml(_discovery(*ROSTER), site="s", timezone="UTC")
    head = "".join(line for line in text.splitlines(keepends=True)[:3])
    assert "QueueStatus of pbx.example:5038" in head
    assert "Asterisk Call Manager/11.0.0" in head and "2026-03-02 11:00:00 UTC" in head
    assert all(line.startswith("#") for line in head.splitlines())


def test_the_commented_examples_are_valid_once_uncommented(tmp_path: Path) -> None:
    """Uncommenting the teams and thresholds examples gives a file that still loads."""
    text = starter_site_yaml(_discovery(*ROSTER), site="s", timezone="UTC")
    site = _load(_uncomment(_uncomment(text, "teams:"), "thresholds:"), tmp_path)
    assert set(site.teams) == {"care-a", "care-b"}
    assert {t.id for t in site.thresholds.thresholds} == {"sl-interval", "calls-waiting", "longest-wait-sales"}


def test_a_line_break_in_the_host_cannot_escape_the_comment(tmp_path: Path) -> None:
    """Text from outside (the host name) is commented line by line, so it cannot add YAML keys."""
    discovery = _discovery(*ROSTER).model_copy(update={"host": "pbx\nsite: evil"})
    site = _load(starter_site_yaml(discovery, site="good", timezone="UTC"), tmp_path)
    assert site.site == "good"


def test_no_queues_and_no_members_still_loads(tmp_path: Path) -> None:
    """A PBX without queues gives an empty but valid site file."""
    site = _load(starter_site_yaml(_discovery(queues=()), site="s", timezone="UTC"), tmp_path)
    assert site.queues == {} and site.agents == {}


@pytest.mark.parametrize(("site", "timezone", "where"), [("a b", "UTC", "site"), ("s", "Mars/Olympus", "timezone")])
def test_an_invalid_site_name_or_time_zone_is_refused(site: str, timezone: str, where: str) -> None:
    """A site name or time zone SiteConfig would refuse raises ValueError naming the field."""
    with pytest.raises(ValueError, match=f"invalid at {where}"):
        starter_site_yaml(_discovery(*ROSTER), site=site, timezone=timezone)


def test_an_id_is_never_another_agents_alias(tmp_path: Path) -> None:
    """A member named like another member's slug does not get its name taken as an id by someone else."""
    members = (_member("support", "Local/agent01@agents/n", "Alice"), _member("support", "PJSIP/9", "agent01"))
    site = _load(starter_site_yaml(_discovery(*members), site="s", timezone="UTC"), tmp_path)
    directory = AgentDirectory(site)
    assert directory.resolve("Local/agent01@agents/n") != directory.resolve("PJSIP/9")
    assert directory.resolve("agent01") == directory.resolve("PJSIP/9")
