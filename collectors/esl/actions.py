"""Supervisor actions on FreeSWITCH mod_callcenter (sans-I/O): agent actions in, ``bgapi`` commands out, frames in,
outcomes out. The FreeSWITCH twin of ``collectors.ami.actions`` (same ``Outcome``, same ``ActionSource``).

Theory of operation
-------------------
``EslActionRunner`` does no I/O and reads no clock: the ESL client hands it every frame it reads (``observe``),
each new action (``start``, which returns the bytes to send) and the time (``expire``).

* **Who the agent is.** An action names the agent by every name the API knows (its id, the site file's name and
  aliases); the first that mod_callcenter has shown (an agent of the resync's ``agent list`` or ``tier list``, or of
  any ``callcenter::info`` event: ``CC-Agent``) is used, else the agent id. Its current call is learned from
  ``bridge-agent-start`` (``CC-Agent-UUID``, the agent's leg) and forgotten at its ``bridge-agent-end``.
* **What is sent.** Every action is one ``bgapi`` with its own ``Job-UUID`` (the switch answers ``+OK Job-UUID``
  at once and runs the command in the background: an originate never holds the socket). mod_callcenter's agent
  *status* is one for all the agent's queues, so pause is ``callcenter_config agent set status <agent> 'On
  Break'``, unpause and login ``... 'Available'``, logout ``... 'Logged Out'``; with a queue named, the outcome
  says it applied to every queue of the agent (mod_callcenter pauses nothing per queue). Monitor is ``originate
  {origination_caller_id_name='<mode>: <agent>',originate_timeout=<ring s>}<extension> &eavesdrop(<agent leg>)``
  for listen, the same with ``eavesdrop_whisper_aleg=true`` for whisper (the supervisor talks to the agent), and
  ``&three_way(<agent leg>)`` for barge. Names and dial strings outside a safe set of characters are refused
  before anything is sent (no command injection through an alias or an extension).
* **Outcomes.** The ``BACKGROUND_JOB`` event with the action's ``Job-UUID`` decides: a body starting ``+OK`` is
  ``done`` (for an originate: the supervisor answered), ``-ERR ...`` is ``failed`` with the switch's words
  (``-ERR Invalid Agent!``, ``-ERR NO_ANSWER``...). No job result within ``answer_timeout_s`` (an originate: the
  ring time on top) is ``failed``; so is every open action when the connection drops, and an action read more
  than ``answer_timeout_s`` after it was asked. The spy call's hang-up is not followed (the client subscribes to
  no channel events): a monitor ends ``done`` when answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectors.ami.actions import Outcome, OutcomeState
from collectors.esl.mapping import table_of, tiers_of
from collectors.esl.protocol import EslFrame, encode_command
from wallboard.core.actions import ANSWER_TIMEOUT_S, RING_TIMEOUT_S, ActionFamily, AgentAction, not_runnable

__all__ = ["EslActionRunner", "STATUS_OF"]

STATUS_OF = {"pause": "On Break", "unpause": "Available", "login": "Available", "logout": "Logged Out"}
_SAFE_NAME = re.compile(r"^[\w.@+-]{1,128}$")  # an agent name in a command: 1001@default
_SAFE_DIAL = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*/[\w.@+:/-]{1,120}$")  # user/1000, sofia/internal/1000@pbx
_SAFE_UUID = re.compile(r"^[0-9A-Za-z-]{8,64}$")


@dataclass
class _Open:
    """An action sent and not answered yet."""

    action: AgentAction
    job: str
    deadline: float
    note: str = ""  # added to the switch's answer when done (a per-queue ask applied to every queue)


@dataclass
class _Agents:
    """The agents mod_callcenter has shown: their queues (tiers) and the leg of the call they are on."""

    queues: dict[str, set[str]] = field(default_factory=dict)
    legs: dict[str, str] = field(default_factory=dict)  # agent -> CC-Agent-UUID of its bridged call
    version: int = 0

    def seen(self, agent: str, queue: str | None = None) -> None:
        """``agent`` exists (with a tier in ``queue``); the version moves on only with something new."""
        queues = self.queues.get(agent)
        if queues is None:
            queues = self.queues[agent] = set()
            self.version += 1
        if queue and queue not in queues:
            queues.add(queue)
            self.version += 1

    def public(self) -> dict[str, dict[str, Any]]:
        return {
            agent: {
                "interface": agent,
                "member_name": agent,
                "state_interface": None,
                "queues": dict.fromkeys(sorted(queues), "dynamic"),  # tiers: any can be changed
                "channel": self.legs.get(agent),
            }
            for agent, queues in sorted(self.queues.items())
        }


class EslActionRunner:
    """Turns agent actions into ``bgapi`` commands and ``BACKGROUND_JOB`` events into outcomes (see the module
    docstring)."""

    def __init__(
        self,
        enabled: Iterable[ActionFamily],
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        ring_timeout_s: float = RING_TIMEOUT_S,
    ) -> None:
        self.enabled = frozenset(enabled)
        self.answer_timeout_s = answer_timeout_s
        self.ring_timeout_s = ring_timeout_s
        self.agents = _Agents()
        self._open: dict[str, _Open] = {}  # by Job-UUID

    @property
    def open(self) -> int:
        return len(self._open)

    @property
    def directory(self) -> _Agents:
        """What the client republishes for the API (``version`` moves on with every change)."""
        return self.agents

    def start(
        self, action: AgentAction, at: datetime, now: float, next_id: Callable[[], str]
    ) -> tuple[bytes, list[Outcome]]:
        """The bytes to send for ``action`` (b"" when it fails at once, with its outcome)."""
        if why := not_runnable(action, at, self.enabled, self.answer_timeout_s):
            return b"", [Outcome(action, "failed", why)]
        try:
            command, note = self._command(action)
        except ValueError as exc:
            return b"", [Outcome(action, "failed", str(exc))]
        job = next_id()
        waited = self.answer_timeout_s + (self.ring_timeout_s if action.kind == "monitor" else 0.0)
        self._open[job] = _Open(action, job, now + waited, note)
        return encode_command(f"bgapi {command}", {"Job-UUID": job}), []

    def observe(self, frame: EslFrame) -> list[Outcome]:
        """Feed every frame read: agents and their calls are learned, job results become outcomes."""
        event = frame.event
        if event is None:
            if frame.content_type == "api/response":  # the resync's agent list and tier list
                for queue, agent in tiers_of(frame.text):
                    self.agents.seen(agent, queue)
                for row in table_of(frame.text, "name"):
                    if row.get("name") and "status" in row:
                        self.agents.seen(row["name"])
            return []
        if event.get("Event-Name") == "BACKGROUND_JOB":
            return self._job(event.get("Job-UUID"), frame.event_body or "")
        if event.get("Event-Subclass") == "callcenter::info":
            self._learn(event)
        return []

    def expire(self, now: float) -> list[Outcome]:
        """Every open action whose answer is overdue, failed."""
        overdue = [entry for entry in self._open.values() if entry.deadline <= now]
        outcomes = []
        for entry in overdue:
            waited = self.answer_timeout_s + (self.ring_timeout_s if entry.action.kind == "monitor" else 0.0)
            outcomes.append(self._close(entry, "failed", f"no answer from FreeSWITCH within {waited:g} s"))
        return outcomes

    def lost(self) -> list[Outcome]:
        """The connection dropped: every open action failed; calls are learned again."""
        outcomes = [
            self._close(entry, "failed", "the connection to FreeSWITCH was lost before its answer")
            for entry in list(self._open.values())
        ]
        if self.agents.legs:
            self.agents.legs.clear()
            self.agents.version += 1
        return outcomes

    # -- commands -------------------------------------------------------------------------------

    def _command(self, action: AgentAction) -> tuple[str, str]:
        """The command (after ``bgapi``) and a note for its outcome; ValueError when it cannot be sent."""
        agent = next((name for name in action.candidates if name in self.agents.queues), action.agent)
        if not _SAFE_NAME.match(agent):
            raise ValueError(f"agent name {agent!r} cannot be sent to FreeSWITCH (letters, digits, ._@+- only)")
        if action.kind == "monitor":
            return self._monitor(action, agent), ""
        note = ""
        if action.queue:
            note = f" (mod_callcenter's status is one for every queue of {agent}: not {action.queue} alone)"
        return f"callcenter_config agent set status {agent} '{STATUS_OF[action.kind]}'", note

    def _monitor(self, action: AgentAction, agent: str) -> str:
        if not action.extension or action.mode is None:
            raise ValueError("a monitor action needs the supervisor's extension and a mode")
        if not _SAFE_DIAL.match(action.extension):
            raise ValueError(f"extension {action.extension!r} is no dial string FreeSWITCH is sent (user/1000)")
        leg = self.agents.legs.get(agent)
        if leg is None or not _SAFE_UUID.match(leg):
            raise ValueError(f"agent {agent} is on no call the collector has seen (no bridge-agent-start)")
        variables = [f"origination_caller_id_name='{action.mode}: {agent}'"]
        variables.append(f"originate_timeout={int(self.ring_timeout_s)}")
        if action.mode == "whisper":
            variables.append("eavesdrop_whisper_aleg=true")
        application = f"three_way({leg})" if action.mode == "barge" else f"eavesdrop({leg})"
        return f"originate {{{','.join(variables)}}}{action.extension} &{application}"

    # -- answers --------------------------------------------------------------------------------

    def _job(self, job: str | None, body: str) -> list[Outcome]:
        entry = self._open.get(job or "")
        if entry is None:
            return []
        answer = body.strip() or "(no result)"
        if not answer.startswith("+OK"):
            return [self._close(entry, "failed", answer)]
        if entry.action.kind == "monitor":
            return [self._close(entry, "done", f"spy call answered on {entry.action.extension} ({entry.action.mode})")]
        status = STATUS_OF[entry.action.kind]
        return [self._close(entry, "done", f"{answer}: status {status}{entry.note}")]

    def _learn(self, event: dict[str, str]) -> None:
        agent, queue = event.get("CC-Agent"), event.get("CC-Queue")
        if not agent:
            return
        self.agents.seen(agent, queue)
        action = event.get("CC-Action")
        if action == "bridge-agent-start" and event.get("CC-Agent-UUID"):
            self.agents.legs[agent] = event["CC-Agent-UUID"]
            self.agents.version += 1
        elif action == "bridge-agent-end" and self.agents.legs.pop(agent, None) is not None:
            self.agents.version += 1

    def _close(self, entry: _Open, state: OutcomeState, message: str) -> Outcome:
        self._open.pop(entry.job, None)
        return Outcome(entry.action, state, message)
