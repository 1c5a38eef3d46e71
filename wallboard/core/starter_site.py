"""A starter site file from what a PBX reports about its queues: records in, commented YAML out.

``wallboard init`` asks Asterisk for ``QueueStatus`` (``collectors.ami.discover``) and hands the answer
here as a ``Discovery``: the queues (``QueueParams``) and their members (``QueueMember``). This
module is pure: it turns those records into a site document and the document into YAML text that
``wallboard.core.site.load_site_file`` accepts, with comments telling the user what to edit.

* **Queues** keep the PBX's names; ``sl_threshold_s`` is the queue's ``ServiceLevel`` (queues.conf
  ``servicelevel``), left out when the PBX says 0 so that the site default applies.
* **Agents**: Asterisk keys a membership by its interface, so one interface in several queues is
  one agent. Memberships sharing a member name (or a state interface) are also one agent: queue_log
  names members by member name, so two agents with one name could not be told apart anyway. The
  aliases are every interface, state interface and member name of the agent, which is how
  ``AgentDirectory`` maps AMI and queue_log names to it.
* **Agent ids** are slugs of the first interface: the extension of a ``Local/`` channel
  (``Local/agent01@agents/n`` -> ``agent01``), else technology and resource (``PJSIP/1001`` ->
  ``pjsip-1001``); a name when there is no interface (``José Álvarez`` -> ``jose-alvarez``). A slug
  that is all digits gets the technology in front; a clash gets ``-2``, ``-3``.
* Everything is sorted, so the same answer always gives the same text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wallboard.core.site import SiteConfig

__all__ = ["Discovery", "MemberFacts", "QueueFacts", "agent_slug", "starter_site", "starter_site_yaml"]

INTERVAL_MINUTES = 15
SL_TARGET_PCT = 80
_SLUG_MAX = 64
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class QueueFacts(BaseModel):
    """One ``QueueParams`` of a QueueStatus answer; ``max_callers`` None means no limit (``Max: 0``)."""

    model_config = _FROZEN

    name: str = Field(min_length=1)
    strategy: str | None = None
    service_level_s: int = Field(default=0, ge=0)
    max_callers: int | None = Field(default=None, gt=0)
    calls: int | None = Field(default=None, ge=0)


class MemberFacts(BaseModel):
    """One ``QueueMember`` of a QueueStatus answer: a membership of one interface in one queue."""

    model_config = _FROZEN

    queue: str = Field(min_length=1)
    interface: str = Field(min_length=1)
    name: str | None = None
    state_interface: str | None = None
    membership: str | None = None  # static, dynamic or realtime
    penalty: int = 0
    paused: bool = False


class Discovery(BaseModel):
    """What a PBX said about its queues, where and when it was asked."""

    model_config = _FROZEN

    host: str
    port: int
    banner: str
    at: datetime
    queues: tuple[QueueFacts, ...] = ()
    members: tuple[MemberFacts, ...] = ()

    @property
    def where(self) -> str:
        """``host:port``, with an IPv6 address in brackets."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def ami_version(self) -> str:
        """The AMI protocol version of the banner (``11.0.0`` on Asterisk 22), not Asterisk's own version."""
        return self.banner.rpartition("/")[2]

    def members_of(self, queue: str) -> tuple[MemberFacts, ...]:
        return tuple(m for m in self.members if m.queue == queue)


# -- agents ---------------------------------------------------------------------------------------


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:_SLUG_MAX].rstrip("-")


def agent_slug(interface: str | None, name: str | None = None) -> str:
    """An agent id for a member: lower-case ASCII letters, digits and ``-`` (see the module docstring)."""
    if not interface:
        slug = _ascii_slug(name or "")
    elif interface.lower().startswith("local/"):
        slug = _ascii_slug(interface[len("local/") :].partition("@")[0])
        slug = f"local-{slug}" if slug.isdigit() else slug
    else:
        slug = _ascii_slug(interface)
    return slug if slug and not slug.isdigit() else f"agent-{slug}".rstrip("-")


_Agents = dict[str, tuple[dict[str, Any], list[MemberFacts]]]  # id -> (site entry, its memberships)


def _groups(members: tuple[MemberFacts, ...]) -> list[list[MemberFacts]]:
    """Memberships of one agent together: linked by interface, member name or state interface."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key] = parent[parent[key]]
        return key

    for member in members:
        keys = [member.interface, *(k for k in (member.name, member.state_interface) if k)]
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
    grouped: dict[str, list[MemberFacts]] = {}
    for member in members:
        grouped.setdefault(root(member.interface), []).append(member)
    return sorted(grouped.values(), key=lambda group: min(m.interface for m in group))


def _agent(group: list[MemberFacts]) -> dict[str, Any]:
    interfaces = sorted({m.interface for m in group})
    states = sorted({m.state_interface for m in group if m.state_interface} - set(interfaces))
    names = Counter(m.name for m in group if m.name)
    name = min(names, key=lambda n: (-names[n], n)) if names else interfaces[0]
    aliases = [*interfaces, *states, *sorted(set(names) - set(interfaces) - set(states))]
    return {"name": name, "aliases": aliases}


def _agents(discovery: Discovery) -> _Agents:
    """Agents by id; an id never repeats another agent's id or alias (``AgentDirectory`` would mix them)."""
    entries = [(_agent(group), group) for group in _groups(discovery.members)]
    owner = {alias: index for index, (entry, _) in enumerate(entries) for alias in entry["aliases"]}
    agents: _Agents = {}
    for index, (entry, group) in enumerate(entries):
        base = agent_slug(entry["aliases"][0], entry["name"])
        agent_id, n = base, 1
        while agent_id in agents or owner.get(agent_id, index) != index:
            n += 1
            agent_id = f"{base}-{n}"
        agents[agent_id] = (entry, group)
    return dict(sorted(agents.items()))


# -- the document ---------------------------------------------------------------------------------


def _queue(facts: QueueFacts) -> dict[str, Any]:
    queue: dict[str, Any] = {}
    if facts.service_level_s > 0:
        queue["sl_threshold_s"] = facts.service_level_s
    queue["sl_target_pct"] = SL_TARGET_PCT
    return queue


def _build(discovery: Discovery, site: str, timezone: str) -> tuple[dict[str, Any], _Agents]:
    agents = _agents(discovery)
    document: dict[str, Any] = {
        "site": site,
        "timezone": timezone,
        "interval_minutes": INTERVAL_MINUTES,
        "queues": {q.name: _queue(q) for q in sorted(discovery.queues, key=lambda q: q.name)},
        "agents": {agent_id: entry for agent_id, (entry, _) in agents.items()},
    }
    try:
        SiteConfig.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"the starter site is invalid at {where}: {error['msg']}") from None
    return document, agents


def starter_site(discovery: Discovery, *, site: str, timezone: str) -> dict[str, Any]:
    """The site document (plain data, in file order); ``ValueError`` if it would not load."""
    return _build(discovery, site, timezone)[0]


# -- YAML -----------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key (``aliases:`` then ``  - ...``), as people write YAML."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: Any, indent: int = 0) -> str:
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def _comment(text: str, indent: int = 0) -> str:
    """Comment lines; line breaks in PBX-supplied text cannot end the comment early."""
    return "".join(f"{' ' * indent}# {line}".rstrip() + "\n" for line in text.replace("\r", "\n").split("\n"))


def _header(discovery: Discovery) -> str:
    at = discovery.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return _comment(
        f"wallboard site file, generated from the QueueStatus of {discovery.where}\n"
        f"({discovery.banner}) at {at}: {len(discovery.queues)} queues, {len(discovery.members)} memberships.\n"
        "It is a starting point: check it, then edit\n"
        "- site, timezone: the site's name and the time zone of its opening hours and intervals;\n"
        "- queues: SL thresholds and targets, and `group:` to show queues together on the boards;\n"
        "- teams (example at the end): define them, then give each agent a `team:`;\n"
        "- thresholds (example at the end): warn/alarm levels, see examples/thresholds.yaml.\n"
        "Dynamic members who were not logged in then are missing: add them the same way."
    )


def _queues_text(discovery: Discovery, queues: dict[str, Any]) -> str:
    lines = [
        _comment(
            "Queues as the PBX names them. sl_threshold_s is the queue's ServiceLevel (left out when the PBX\n"
            "says 0: the site default, 20 s, applies); sl_target_pct is the share of calls to answer within it.\n"
            "Add `group: Care` to show queues together, `wrapup_s: 5` for the wrap-up time."
        ),
        "queues:\n" if queues else "queues: {}\n",
    ]
    facts = {q.name: q for q in discovery.queues}
    for name, queue in queues.items():
        q = facts[name]
        notes = [f"strategy {q.strategy}"] if q.strategy else []
        notes.append(f"ServiceLevel {q.service_level_s} s" if q.service_level_s else "no ServiceLevel")
        members = len(discovery.members_of(name))
        notes.append(f"{members} member{'' if members == 1 else 's'} logged in")
        notes += [f"at most {q.max_callers} callers"] if q.max_callers else []
        lines.append(_comment(", ".join(notes), 2))
        lines.append(_dump({name: queue}, 2))
    return "".join(lines)


def _agents_text(agents: _Agents) -> str:
    lines = [
        _comment(
            "Agents: one per queue member. `name` is what the boards show: edit it freely. Keep the\n"
            "aliases (interfaces and member names as Asterisk uses them on AMI and in queue_log): they\n"
            "map the PBX's names to the agent. Add `team: <team id>` once the teams are defined."
        ),
        "agents:\n" if agents else "agents: {}\n",
    ]
    for agent_id, (entry, group) in agents.items():
        queues = ", ".join(_membership(m) for m in sorted(group, key=lambda m: m.queue))
        lines.append(_comment(f"queues: {queues}", 2))
        lines.append(_dump({agent_id: entry}, 2))
    return "".join(lines)


def _membership(member: MemberFacts) -> str:
    notes = [f"penalty {member.penalty}"] if member.penalty else []
    notes += [member.membership] if member.membership and member.membership != "dynamic" else []
    notes += ["paused"] if member.paused else []
    return f"{member.queue} ({', '.join(notes)})" if notes else member.queue


def _examples(queues: dict[str, Any]) -> str:
    teams = {"care-a": {"name": "Care A"}, "care-b": {"name": "Care B"}}
    thresholds: list[dict[str, Any]] = [
        {"id": "sl-interval", "label": "Service level (interval)", "metric": "service_level_pct",
         "warn": 80, "alarm": 70, "clear": 82, "for_s": 180, "min_offered": 5, "severity": "page"},
        {"id": "calls-waiting", "metric": "waiting", "warn": 5, "alarm": 10, "clear": 3, "for_s": 60,
         "severity": "ticket"},
    ]  # fmt: skip
    if queues:
        first = next(iter(queues))
        thresholds.append(
            {"id": f"longest-wait-{_ascii_slug(first) or 'queue'}", "metric": "longest_wait_s",
             "scope": f"queue:{first}", "warn": 30, "alarm": 60, "for_s": 15, "severity": "page"}
        )  # fmt: skip
    return (
        _comment("Teams: uncomment and rename, then add `team: care-a` to the agents above.")
        + _comment(_dump({"teams": teams}).rstrip("\n"))
        + "\n"
        + _comment("Thresholds: turn tiles amber (warn) or red (alarm); every field is explained in")
        + _comment("examples/thresholds.yaml. A queue-scoped one replaces the site default for that queue.")
        + _comment(_dump({"thresholds": thresholds}).rstrip("\n"))
    )


def starter_site_yaml(discovery: Discovery, *, site: str, timezone: str) -> str:
    """The starter site file as YAML text with comments; ``ValueError`` if ``site`` or ``timezone`` is invalid."""
    document, agents = _build(discovery, site, timezone)
    settings = {key: document[key] for key in ("site", "timezone", "interval_minutes")}
    return "\n".join(
        (
            _header(discovery) + _dump(settings),
            _queues_text(discovery, document["queues"]),
            _agents_text(agents),
            _examples(document["queues"]),
        )
    )
