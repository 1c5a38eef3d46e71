"""The supervisor actions a simulated Asterisk 22 obeys: QueueAdd, QueueRemove, QueuePause, Originate, Hangup.

Theory of operation
-------------------
``SupervisorActions(simulation, formatter, spies).run(name, frame, action_id)`` reads an action's
headers as manager.c does (``astman_get_header``: key without case, value trimmed), changes the
model or the originated channels, and returns an ``Outcome``: frames to broadcast before the
response, the response, the model's events (formatted by the server, like the clock's) and frames
to broadcast after. The response strings are app_queue.c's and manager.c's of Asterisk 22.10.1,
checked against the real answers in tests/fixtures/asterisk22-light/ami_control_transcript.txt:

* QueueAdd: ``Added interface to queue`` | ``Unable to add interface: Already there`` |
  ``Unable to add interface to queue: No such queue``; then QueueMemberAdded;
* QueueRemove: ``Removed interface from queue`` | ``Unable to remove interface: Not there`` |
  ``Unable to remove interface from queue: No such queue`` | ``Member not dynamic`` (a static
  member); then QueueMemberRemoved;
* QueuePause: ``Interface paused successfully`` / ``Interface unpaused successfully`` |
  ``Interface not found``; then one QueueMemberPause per queue changed;
* Originate: ``Originate successfully queued``, then OriginateResponse (``Async: true``);
* Hangup: ``Channel Hungup`` | ``No such channel`` (only the originated channels can be hung up).

``AUTHORITY`` is each action's write class (the ``ast_manager_register_xml`` calls): the server
answers ``Permission denied`` when the user's ``write=`` classes miss it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from collectors.ami.protocol import Frame
from collectors.simulator.ami_format import AmiFormatter
from collectors.simulator.ami_frames import EVENT_CLASSES, AmiEvent, response
from collectors.simulator.ami_spy import OriginateRequest, Spies
from collectors.simulator.model import Simulation
from collectors.simulator.views import MemberOutcome, SimEvent

#: The write class each action needs (0: anyone logged in); actions not listed are not supervisor actions.
AUTHORITY: Final[dict[str, int]] = {
    "queueadd": EVENT_CLASSES["agent"],
    "queueremove": EVENT_CLASSES["agent"],
    "queuepause": EVENT_CLASSES["agent"],
    "originate": EVENT_CLASSES["originate"],
    "hangup": EVENT_CLASSES["system"] | EVENT_CLASSES["call"],
}

_ADD: Final[dict[MemberOutcome, str]] = {
    "added": "Added interface to queue",
    "already_there": "Unable to add interface: Already there",
    "no_such_queue": "Unable to add interface to queue: No such queue",
}
_REMOVE: Final[dict[MemberOutcome, str]] = {
    "removed": "Removed interface from queue",
    "not_there": "Unable to remove interface: Not there",
    "no_such_queue": "Unable to remove interface from queue: No such queue",
    "not_dynamic": "Member not dynamic",
}
_TRUE: Final = frozenset(("yes", "true", "y", "t", "1", "on"))


def header(frame: Frame, key: str) -> str:
    """A header's value, key matched case-insensitively and value stripped, as astman_get_header does."""
    wanted = key.lower()
    return next((value.strip() for name, value in frame.fields if name.lower() == wanted), "")


def _number(text: str) -> int:
    """``sscanf("%30d")`` of a penalty: a leading integer, 0 when absent or negative."""
    digits = text.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    end = next((index for index, char in enumerate(digits) if not char.isdigit()), len(digits))
    value = sign * int(digits[:end]) if end else 0
    return max(value, 0)


@dataclass(frozen=True)
class Outcome:
    """What one action made the PBX write: before the response, the response, model events, after."""

    response: bytes
    before: list[AmiEvent] = field(default_factory=list)
    events: list[SimEvent] = field(default_factory=list)
    after: list[AmiEvent] = field(default_factory=list)


class SupervisorActions:
    """Runs supervisor actions against one simulation and its originated channels."""

    def __init__(self, simulation: Simulation, formatter: AmiFormatter, spies: Spies) -> None:
        self._sim = simulation
        self._fmt = formatter
        self._spies = spies

    def run(self, name: str, frame: Frame, action_id: str | None) -> Outcome:
        """Answer the action ``name`` (lower case, one of ``AUTHORITY``)."""
        handler = {
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepause": self._queue_pause,
            "originate": self._originate,
            "hangup": self._hangup,
        }[name]
        return handler(frame, action_id)

    @staticmethod
    def _reply(action_id: str | None, ok: bool, message: str) -> bytes:
        return response("Success" if ok else "Error", action_id, [("Message", message)])

    def _queue_add(self, frame: Frame, action_id: str | None) -> Outcome:
        queue, interface = header(frame, "Queue"), header(frame, "Interface")
        if not queue:
            return Outcome(self._reply(action_id, False, "'Queue' not specified."))
        if not interface:
            return Outcome(self._reply(action_id, False, "'Interface' not specified."))
        outcome, events = self._sim.add_member(
            queue,
            interface,
            penalty=_number(header(frame, "Penalty")),
            paused=header(frame, "Paused").lower() in _TRUE,
            reason=header(frame, "Reason"),
            name=header(frame, "MemberName"),
            state_interface=header(frame, "StateInterface"),
        )
        return Outcome(self._reply(action_id, outcome == "added", _ADD[outcome]), events=events)

    def _queue_remove(self, frame: Frame, action_id: str | None) -> Outcome:
        queue, interface = header(frame, "Queue"), header(frame, "Interface")
        if not queue or not interface:
            return Outcome(self._reply(action_id, False, "Need 'Queue' and 'Interface' parameters."))
        outcome, events = self._sim.remove_member(queue, interface)
        return Outcome(self._reply(action_id, outcome == "removed", _REMOVE[outcome]), events=events)

    def _queue_pause(self, frame: Frame, action_id: str | None) -> Outcome:
        interface, paused_text = header(frame, "Interface"), header(frame, "Paused")
        if not interface or not paused_text:
            return Outcome(self._reply(action_id, False, "Need 'Interface' and 'Paused' parameters."))
        paused = paused_text.lower() in _TRUE
        queue = header(frame, "Queue") or None
        found, events = self._sim.pause_member(interface, paused, queue, header(frame, "Reason"))
        if not found:
            return Outcome(self._reply(action_id, False, "Interface not found"))
        message = "Interface paused successfully" if paused else "Interface unpaused successfully"
        return Outcome(self._reply(action_id, True, message), events=events)

    def _originate(self, frame: Frame, action_id: str | None) -> Outcome:
        channel, application = header(frame, "Channel"), header(frame, "Application")
        context, exten, priority = header(frame, "Context"), header(frame, "Exten"), header(frame, "Priority")
        if not channel:
            return Outcome(self._reply(action_id, False, "Channel not specified"))
        if "/" not in channel:
            return Outcome(self._reply(action_id, False, "Invalid channel"))
        run_async = header(frame, "Async").lower() in _TRUE
        if not run_async and not application and not (exten and context and priority):
            return Outcome(self._reply(action_id, False, "Originate with 'Exten' requires 'Context' and 'Priority'"))
        request = OriginateRequest(
            channel=channel,
            action_id=action_id,
            application=application,
            data=header(frame, "Data"),
            context=context,
            exten=exten,
            callerid=header(frame, "CallerID"),
            run_async=run_async,
        )
        done = self._spies.originate(request, self._sim.current_time)
        if not done.ok:
            return Outcome(self._reply(action_id, False, "Originate failed"))
        reply = self._reply(action_id, True, "Originate successfully queued")
        if request.run_async:
            return Outcome(reply, after=done.setup + done.after)
        return Outcome(reply, before=done.setup, after=done.after)

    def _hangup(self, frame: Frame, action_id: str | None) -> Outcome:
        channel = header(frame, "Channel")
        if not channel:
            return Outcome(self._reply(action_id, False, "No channel specified"))
        frames = self._spies.hangup(channel)
        if frames is None:
            return Outcome(self._reply(action_id, False, "No such channel"))
        return Outcome(self._reply(action_id, True, "Channel Hungup"), after=frames)
