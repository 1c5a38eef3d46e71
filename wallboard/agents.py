"""The engine's agents: one record per identity, and the roster that resolves the names the PBX uses. Pure.

Theory of operation
-------------------
The PBX names a member by its interface (``Local/agent01@agents/n``), by its member name (``Alice
Nguyen``) or both. :class:`Roster` keeps one :class:`Agent` per identity and resolves every name
through ``wallboard.site.AgentDirectory`` (the site file's aliases plus what events taught it):

* an event telling both an interface and a member name links them (``AgentDirectory.learn``); a
  record kept under either raw name (one that resolved to nothing else) is merged into the linked
  one (:meth:`Roster.get` does both);
* two agents' records are never merged: a new member name on an interface already linked to another
  agent that is not in the site file is hot-desking, and stays its own agent;
* resolutions are cached per name (``resolved``) and per (interface, member name) pair; the name cache
  is cleared whenever the directory learns.

An :class:`Agent` holds its ``wallboard.agent_state.Presence`` (memberships, pauses, displayed
state), its open calls (keyed ``(queue, call_id)``, oldest first) and today's and all-time figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from wallboard.agent_state import Presence
from wallboard.site import AgentDirectory, SiteConfig

if TYPE_CHECKING:
    from wallboard.queues import Call

__all__ = ["Agent", "AgentStats", "CallKey", "Roster"]

CallKey = tuple[str, str]  # (queue, call_id)


class AgentStats:
    """An agent's answered and handled calls with their talk, hold and wrap-up seconds."""

    __slots__ = ("answered", "handled", "talk_s", "hold_s", "wrap_s")

    def __init__(self) -> None:
        self.answered = 0
        self.handled = 0
        self.talk_s = 0.0
        self.hold_s = 0.0
        self.wrap_s = 0.0

    def add(self, other: AgentStats) -> None:
        """Add another record's figures to these (two names found to be one agent)."""
        self.answered += other.answered
        self.handled += other.handled
        self.talk_s += other.talk_s
        self.hold_s += other.hold_s
        self.wrap_s += other.wrap_s


class Agent:
    """One agent: presence, open calls, figures of the day and of the whole run."""

    __slots__ = ("id", "presence", "calls", "day", "total", "rang", "since", "since_iso")

    def __init__(self, agent_id: str, ts: datetime) -> None:
        self.id = agent_id
        self.presence = Presence(ts)
        self.calls: dict[CallKey, Call] = {}
        self.day = AgentStats()
        self.total = AgentStats()
        self.rang = False
        self.since: datetime | None = None  # cache of presence.since in ISO form for snapshots
        self.since_iso = ""


class Roster:
    """Every agent seen, by resolved id; resolves the PBX's names (see the module docstring)."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.agents: dict[str, Agent] = {}
        self._directory = AgentDirectory(site)
        self._pairs: dict[tuple[str, str], str] = {}
        self._resolved: dict[str, str] = {}  # name -> agent id; cleared whenever the directory learns

    def get(self, name: str, interface: str | None, member_name: str | None, ts: datetime) -> Agent:
        """The agent an event names (created when new); learns the link when both names are told."""
        if interface and member_name:
            agent_id = self._pairs.get((interface, member_name))
            if agent_id is None:
                agent_id = self._learn(interface, member_name, ts)
        else:
            agent_id = self._resolved.get(name) or self.resolve(name)
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id, ts)
        return agent

    def resolve(self, name: str) -> str:
        """The agent id ``name`` stands for (``name`` itself when nothing links it)."""
        agent_id = self._resolved[name] = self._directory.resolve(name)
        return agent_id

    def _learn(self, interface: str, member_name: str, ts: datetime) -> str:
        """Link an interface and a member name; a record kept under either raw name joins the linked id.

        Only raw names merge: a record under another member's name stays apart. A new member name on an
        interface already linked to another (not site-configured) agent is hot-desking: it is its own
        agent and the directory is left as it is (``AgentDirectory.learn`` would alias the new name to
        the previous agent).
        """
        by_interface, by_name = self._directory.resolve(interface), self._directory.resolve(member_name)
        learned_elsewhere = by_interface not in (interface, member_name) and by_interface not in self.site.agents
        if by_name == member_name and learned_elsewhere and by_interface in self.agents:  # hot-desking
            self._pairs[(interface, member_name)] = member_name
            return member_name
        agent_id = self._directory.learn(interface, member_name) or member_name
        self._resolved.clear()
        for old in {by_interface, by_name} - {agent_id}:
            if old in (interface, member_name) and old in self.agents:
                self._merge(old, agent_id, ts)
        self._pairs[(interface, member_name)] = agent_id
        return agent_id

    def _merge(self, old: str, new: str, ts: datetime) -> None:
        """Two names turned out to be one agent: move everything ``old`` had to ``new``."""
        source = self.agents.pop(old)
        self._pairs = {pair: agent_id for pair, agent_id in self._pairs.items() if agent_id != old}
        for call in source.calls.values():
            call.agent = new
        target = self.agents.get(new)
        if target is None:
            source.id = new
            self.agents[new] = source
            return
        target.presence.absorb(source.presence, ts)
        target.calls.update(source.calls)
        target.day.add(source.day)
        target.total.add(source.total)
        target.rang = target.rang or source.rang
