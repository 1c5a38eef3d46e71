"""What a principal may read: the part of a snapshot a board-bound display token or a scoped user sees. Pure.

Theory of operation
-------------------
One :class:`BoardScope` (alias :data:`Scope`) describes both: a board's filters (:func:`board_scope`) and a
user's (:func:`user_scope`: the ``teams`` and ``queues`` of the user record; both empty: unscoped, the whole
site). Every read route narrows through the same :func:`narrow` (the API's ``security.view_of``); interval
history rows go through :func:`row_filters`, and a single agent, queue or alert through :func:`narrow`'s view.

A board (``wallboard.api.board_routes``) names ``queues``, ``groups`` (of queues), ``pages`` (each a list of
queues), ``teams`` and ``channels``. Its :class:`BoardScope` turns those lists into filters:

* queues: the named ones, the ones of the named groups and those of every page; when the board names
  none of these, every queue, including queues that appear later; in each case only the queues of the board's
  ``channels`` when it names some (a queue's channel as the snapshot says it, ``voice`` when it names none),
  so a token of a chat board reads no voice queue;
* teams: the named ones; when it names none, every team;
* agents: those that are members of (or on a call from) a visible queue *and* whose team is visible;
  each list it does not filter on lets every agent through (a board naming only channels filters on queues).

:func:`narrow` applies a scope to a snapshot and returns a snapshot of the same shape (the published
:class:`wallboard.core.schema.Snapshot`): the visible queues, teams and agents; an agent's ``queues``,
``paused_queues`` and ``call`` name only visible queues; alerts (and pending alerts) about a queue, agent or team
out of sight are left out (site and component alerts stay); the adherence exceptions are those of visible
agents. Site-wide totals (``counters``, the site's adherence figure) are kept as they are.

A board that does not exist shows nothing (:data:`NOTHING`), except ``default``, which shows everything
while none is stored, as ``GET /api/v1/boards/default`` answers. Deleting a board therefore never widens
what a token bound to it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_BOARD",
    "EVERYTHING",
    "NOTHING",
    "BoardScope",
    "Scope",
    "board_scope",
    "narrow",
    "queue_channel",
    "row_filters",
    "sees_alert",
    "user_scope",
]

DEFAULT_BOARD = "default"
Snapshot = dict[str, Any]


@dataclass(frozen=True)
class BoardScope:
    """Filters of a board: ``None`` lets everything through; ``groups`` count only when ``queues`` is set."""

    queues: frozenset[str] | None = None
    groups: frozenset[str] = frozenset()
    teams: frozenset[str] | None = None
    channels: frozenset[str] | None = None  # a board's channels: only their queues, whatever the lists say

    @property
    def filters_queues(self) -> bool:
        """Whether some queues (and so some agents) may be out of sight."""
        return self.queues is not None or self.channels is not None

    def sees_queue(self, name: str, queue: Mapping[str, Any] | None) -> bool:
        if self.channels is not None and queue_channel(queue) not in self.channels:
            return False
        if self.queues is None or name in self.queues:
            return True
        group = queue.get("group") if queue is not None else None
        return group is not None and group in self.groups

    def sees_team(self, name: str | None) -> bool:
        return self.teams is None or (name is not None and name in self.teams)


Scope = BoardScope  # a board's or a user's: the same filters
EVERYTHING = BoardScope()
NOTHING = BoardScope(queues=frozenset(), teams=frozenset())


def user_scope(teams: Iterable[str], queues: Iterable[str]) -> BoardScope | None:
    """The scope of a user record's ``teams`` and ``queues`` (each empty: no filter); None when both are empty."""
    team_names, queue_names = _names(teams), _names(queues)
    if not team_names and not queue_names:
        return None
    return BoardScope(queues=queue_names or None, teams=team_names or None)


def board_scope(name: str, board: Mapping[str, Any] | None) -> BoardScope:
    """The scope of the stored board ``name`` (``board`` None: not stored; see the module docstring)."""
    if board is None:
        return EVERYTHING if name == DEFAULT_BOARD else NOTHING
    queues = _names(board.get("queues"))
    for page in board.get("pages") or ():
        if isinstance(page, Mapping):
            queues |= _names(page.get("queues"))
    groups = _names(board.get("groups"))
    teams = _names(board.get("teams"))
    channels = _names(board.get("channels"))
    return BoardScope(
        queues=queues if queues or groups else None,
        groups=groups,
        teams=teams or None,
        channels=channels or None,
    )


def queue_channel(queue: Mapping[str, Any] | None) -> str:
    """A snapshot queue entry's channel, ``voice`` when it names none (or is missing)."""
    channel = queue.get("channel") if isinstance(queue, Mapping) else None
    return str(channel) if channel else "voice"


def narrow(snapshot: Snapshot, scope: BoardScope) -> Snapshot:
    """``snapshot`` as a token of ``scope`` may read it (a new top level; untouched entries are shared)."""
    if scope == EVERYTHING:
        return snapshot
    all_queues: Mapping[str, Any] = snapshot.get("queues") or {}
    queues = {name: queue for name, queue in all_queues.items() if scope.sees_queue(name, queue)}
    teams = {name: team for name, team in (snapshot.get("teams") or {}).items() if scope.sees_team(name)}
    agents: dict[str, Any] = {}
    for agent_id, agent in (snapshot.get("agents") or {}).items():
        if scope.sees_team(agent.get("team")) and _in_queues(agent, queues, scope):
            agents[agent_id] = _narrowed_agent(agent, queues) if scope.filters_queues else agent
    narrowed = {**snapshot, "queues": queues, "teams": teams, "agents": agents}
    if "alerts" in snapshot:
        narrowed["alerts"] = [a for a in snapshot["alerts"] or () if _sees_alert(a, queues, agents, teams)]
    if "pending" in snapshot:
        narrowed["pending"] = [a for a in snapshot["pending"] or () if _sees_alert(a, queues, agents, teams)]
    adherence = snapshot.get("adherence")
    if isinstance(adherence, Mapping):
        exceptions = [e for e in adherence.get("exceptions") or () if e.get("agent") in agents]
        narrowed["adherence"] = {**adherence, "exceptions": exceptions}
    return narrowed


def row_filters(scope: BoardScope, kind: str, view: Snapshot) -> dict[str, set[str]]:
    """Filters (field -> allowed values; an empty set keeps nothing) that keep rows of ``kind`` within ``scope``:
    interval history rows (``queue``, ``agent``) or call log rows (``call``). ``view`` is the current snapshot
    narrowed to the scope (it tells the queues of groups and who is where).

    Queue rows: the scope's queues and those visible now. Agent rows: the scope's teams, and, when the scope
    names queues, the agents visible now (a row does not say which queues its agent served). Calls: those of
    the queues a queue row may name, answered by an agent of the scope's teams (when it names teams).
    """
    filters: dict[str, set[str]] = {}
    if kind in ("queue", "call") and scope.queues is not None:
        filters["queue"] = set(scope.queues) | set(view.get("queues") or ())
        if scope.channels is not None:  # a named queue of another channel stays out
            filters["queue"] = set(view.get("queues") or ())
    elif kind in ("queue", "call") and scope.channels is not None:
        filters["queue"] = set(view.get("queues") or ())  # the queues of the board's channels now
    if kind in ("agent", "call") and scope.teams is not None:
        filters["team"] = set(scope.teams)
    if kind == "agent" and scope.filters_queues:
        filters["agent"] = set(view.get("agents") or ())
    return filters


def sees_alert(alert: Mapping[str, Any], view: Snapshot) -> bool:
    """Whether an alert (or an alert history record) is about something in ``view`` (a narrowed snapshot)."""
    return _sees_alert(alert, view.get("queues") or {}, view.get("agents") or {}, view.get("teams") or {})


def _names(values: Any) -> frozenset[str]:
    return frozenset(str(value) for value in values or () if value is not None)


def _in_queues(agent: Mapping[str, Any], queues: Mapping[str, Any], scope: BoardScope) -> bool:
    if not scope.filters_queues:
        return True
    call = agent.get("call")
    return any(name in queues for name in agent.get("queues") or ()) or (
        isinstance(call, Mapping) and call.get("queue") in queues
    )


def _narrowed_agent(agent: dict[str, Any], queues: Mapping[str, Any]) -> dict[str, Any]:
    """The agent naming only visible queues (the same dict when it names no other)."""
    call = agent.get("call")
    hidden_call = isinstance(call, Mapping) and call.get("queue") not in queues
    if not hidden_call and _within(agent.get("queues"), queues) and _within(agent.get("paused_queues"), queues):
        return agent
    return {
        **agent,
        "queues": [name for name in agent.get("queues") or () if name in queues],
        "paused_queues": [name for name in agent.get("paused_queues") or () if name in queues],
        "call": None if hidden_call else call,
    }


def _within(names: Iterable[str] | None, queues: Mapping[str, Any]) -> bool:
    return all(name in queues for name in names or ())


def _sees_alert(alert: Mapping[str, Any], queues: Mapping[str, Any], agents: Mapping[str, Any], teams: Any) -> bool:
    target = alert.get("target") or {}
    kind, name = target.get("kind"), target.get("name")
    if kind == "queue":
        return name in queues
    if kind == "agent":
        return name in agents
    if kind == "team":
        return name in teams
    return True  # site and component alerts: the freshness of the data every board shows
