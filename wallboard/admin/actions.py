"""Supervisor actions on agents, shared by the API (asking, reading) and the PBX collectors (executing).

Theory of operation
-------------------
``AgentActions.request`` stores a new action ``pending``, lists it among the recent ones, appends it
to the site's actions stream and audits it (``agent.<kind>``: who, which agent, queue, reason, mode,
extension), all in one MULTI (``wallboard.store.actions``). Each PBX collector (AMI, ESL; several on a site
mixing PBXs) reads the stream through ``ActionFeed`` in a consumer group of its own (``ami``, ``esl``; one
consumer: each action is delivered once to each collector) and runs the actions meant for it: the API names the
collector whose published directory knows the agent (``AgentAction.collector``; none when there is only one
collector), and records each outcome with ``AgentActions.settle``: ``done`` or ``failed`` with the PBX's message,
audited as ``agent.<kind>.result``; a monitor's ``ended`` (its spy call hung up) as
``agent.monitor.end``. An entry is acknowledged once its outcome is recorded; the entries a previous
run of the collector left unacknowledged (it stopped between sending and recording) are recorded
``failed`` and never sent again: the PBX may have done them, and a second spy call or pause would
be worse than a supervisor asking again.

``get`` shows an action still ``pending`` past ``pending_limit_s`` (no collector took it, or it
stopped) as ``failed``, saying so, without writing: the collector's own outcome wins if it comes.
``allow`` is the per-user rate limit (a fixed one-minute window in Redis, shared by every API process).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from wallboard.admin.accounts import audit_entry
from wallboard.core.actions import ANSWER_TIMEOUT_S, FAMILY_OF, RING_TIMEOUT_S, ActionStatus, AgentAction
from wallboard.store.actions import ACTION_FIELD, ActionStore

log = logging.getLogger(__name__)

CONSUMER = "ami"
TAKE_COUNT = 20
SLACK_S = 5.0  # beyond the collector's own limits, before a pending action is shown failed
Clock = Callable[[], datetime]


class Settled(Protocol):
    """An outcome as the collector reports it (``collectors.ami.actions.Outcome``)."""

    @property
    def action(self) -> AgentAction: ...
    @property
    def state(self) -> str: ...
    @property
    def message(self) -> str: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def pending_limit_s(action: ActionStatus) -> float:
    """How long ``action`` may stay pending before ``get`` shows it failed."""
    ring = RING_TIMEOUT_S if action.kind == "monitor" else 0.0
    return 2 * ANSWER_TIMEOUT_S + ring + SLACK_S  # a late read (up to ANSWER_TIMEOUT_S), then the answer


class AgentActions:
    """Ask for, read and settle supervisor actions of one site (see the module docstring)."""

    def __init__(self, store: ActionStore, *, clock: Clock = _utc_now) -> None:
        self.store = store
        self._clock = clock

    async def allow(self, user: str, per_minute: int) -> bool:
        """Count one action of ``user``; False when it is over ``per_minute`` in the current minute."""
        return await self.store.count_request(user, 60.0) <= per_minute

    async def request(self, action: AgentAction) -> ActionStatus:
        """Queue ``action`` (pending) and audit it; its status."""
        status = ActionStatus(**action.model_dump(exclude={"names", "penalty"}), state="pending")
        asked = {
            name: value
            for name, value in action.model_dump(
                include={"id", "queue", "reason", "penalty", "mode", "extension"}
            ).items()
            if value is not None
        }
        entry = audit_entry(self._clock(), action.by, f"agent.{action.kind}", f"agent:{action.agent}", None, asked)
        await self.store.submit(action.model_dump(mode="json"), _fields(status), entry)
        log.info("%s of agent %s asked by %s (action %s)", action.kind, action.agent, action.by, action.id)
        return status

    async def get(self, action_id: str) -> ActionStatus | None:
        fields = await self.store.status(action_id)
        return self._shown(fields) if fields else None

    async def recent(self, agent: str | None = None, count: int = 50) -> list[ActionStatus]:
        """The latest actions (of ``agent`` when given), newest first."""
        found = []
        for fields in await self.store.recent(500 if agent else count):
            status = self._shown(fields)
            if status is not None and (agent is None or status.agent == agent):
                found.append(status)
        return found[:count]

    async def settle(self, outcome: Settled) -> None:
        """Record an outcome on the action's status and in the audit trail."""
        action, now = outcome.action, self._clock().isoformat()
        target = f"agent:{action.agent}"
        if outcome.state == "ended":
            changes = {"ended": now}
            entry = audit_entry(self._clock(), action.by, "agent.monitor.end", target, None, {"id": action.id})
        else:
            changes = {"state": outcome.state, "message": outcome.message, "finished": now}
            result = {"id": action.id, "state": outcome.state, "message": outcome.message}
            entry = audit_entry(self._clock(), action.by, f"agent.{action.kind}.result", target, None, result)
        await self.store.settle(action.id, changes, entry)

    def _shown(self, fields: Mapping[str, str]) -> ActionStatus | None:
        try:
            status = ActionStatus.model_validate({key: value for key, value in fields.items() if value != ""})
        except ValidationError:
            log.warning("action status %r is not readable; left out", fields.get("id", "?")[:64])
            return None
        if status.state != "pending":
            return status
        try:
            waited = (self._clock() - datetime.fromisoformat(status.requested)).total_seconds()
        except ValueError:
            return status
        limit = pending_limit_s(status)
        if waited <= limit:
            return status
        family = FAMILY_OF[status.kind]
        message = (
            f"no answer within {limit:g} s: is a PBX collector (AMI or ESL) running, with WALLBOARD_ACTIONS including "
            f"{family}?"
        )
        return status.model_copy(update={"state": "failed", "message": message})


class ActionFeed:
    """A PBX collector's side of the actions stream (``collectors.ami.actions.ActionSource``): its own consumer group
    (``collector``: ``ami``, ``esl``, ``ami:east``), so every collector sees every action and runs those meant for it
    (``AgentAction.collector`` naming it, or naming none); the others it acknowledges unrun."""

    def __init__(self, actions: AgentActions, *, consumer: str = CONSUMER, collector: str = CONSUMER) -> None:
        self._actions = actions
        self._store = actions.store
        self._consumer = consumer
        self.collector = collector
        self._entries: dict[str, str] = {}  # action id -> stream entry id, until settled
        self._ready = False

    async def take(self, block_s: float) -> list[AgentAction]:
        """New actions (waiting up to ``block_s`` for one); first, fail what a previous run left unsettled."""
        group = self.collector
        if not self._ready:
            await self._store.ensure_group(group)
            await self._abandon_leftovers()
            self._ready = True
        taken = []
        read = await self._store.read_group(self._consumer, ">", TAKE_COUNT, int(block_s * 1000), group=group)
        for entry_id, raw in read:
            action = _action(raw)
            if action is None:
                log.warning("actions stream entry %s is not an action; skipped", entry_id)
                await self._store.ack([entry_id], group=group)
                continue
            if action.collector not in (None, group):  # another PBX's: its collector runs it
                await self._store.ack([entry_id], group=group)
                continue
            self._entries[action.id] = entry_id
            taken.append(action)
        return taken

    async def settle(self, outcome: Settled) -> None:
        await self._actions.settle(outcome)
        entry_id = self._entries.pop(outcome.action.id, None) if outcome.state != "ended" else None
        if entry_id is not None:
            await self._store.ack([entry_id], group=self.collector)

    async def publish_members(self, members: Mapping[str, Mapping[str, Any]]) -> None:
        await self._store.put_members(members, self.collector)

    async def _abandon_leftovers(self) -> None:
        for entry_id, raw in await self._store.read_group(self._consumer, "0", 1000, None, group=self.collector):
            action = _action(raw)
            if action is not None and action.collector in (None, self.collector):
                why = "the collector stopped before recording the PBX's answer; not sent again (check the agent)"
                await self._actions.settle(_Left(action, "failed", why))
                log.warning("action %s (%s of %s) left by a previous run: failed", action.id, action.kind, action.agent)
            await self._store.ack([entry_id], group=self.collector)


class _Left:
    """The outcome recorded for an action a previous run of the collector left unsettled."""

    def __init__(self, action: AgentAction, state: str, message: str) -> None:
        self.action, self.state, self.message = action, state, message


def _action(raw: Mapping[str, Any] | None) -> AgentAction | None:
    if raw is None:
        return None
    try:
        return AgentAction.model_validate(raw)
    except ValidationError:
        return None


def _fields(status: ActionStatus) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in status.model_dump().items()}


__all__ = ["ACTION_FIELD", "ActionFeed", "AgentActions", "Settled", "pending_limit_s"]
