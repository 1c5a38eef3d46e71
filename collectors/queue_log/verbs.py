"""queue_log verbs: one function per verb turns a Record into events. Pure: no I/O, no clock.

Theory of operation
-------------------
``HANDLERS`` maps each verb to a function ``(record, common, build) -> events``; ``common`` holds the
fields every event of the record shares (``ts``, ``site``, ``source``, ``key``) and belongs to the
handler, which adds its own fields to it. The data layouts are app_queue.c's ``ast_queue_log`` calls;
older Asterisk wrote fewer fields, so every field past the ones an event needs is optional. A record
is rejected only when its call or outcome cannot be known: it raises :class:`MalformedLine` (reasons
``queue``, ``call_id``, ``agent``) when it lacks what names them; the checks run in a fixed order and the
first failing one names the reason. A figure (a wait, a talk time, a position) that is absent, empty or
not digits is None: degraded, never a rejection (the engine derives the wait or talk from the call's
times when it can, else leaves it out of the averages; the mapper counts the degraded records). A verb mapped
to :func:`ignore` is known to carry nothing for the wallboard; QUEUESTART is the mapper's business (it
needs to know whether anything came before it).

``build`` makes the event: :func:`new` runs the models' own pydantic-core validators on the dict (the
checks of ``Model(**fields)`` without its Python frame; an event they refuse raises
``pydantic.ValidationError``, which the mapper reports as ``invalid``); :func:`construct` builds the
same event without them, for records the mapper can vouch for (see ``TRUSTED_CHARS`` there): every
field is then a slice of a short record text, and the handlers check what else the models would.

Mapping choices (the brief's open questions, settled):

* CONNECT gives one CallAnswered carrying ``ring_s`` (seconds); no extra AgentRang(answered=True).
* A transfer (TRANSFER, BLINDTRANSFER, ATTENDEDTRANSFER) gives CallTransferred, then
  CallEnded(ended_by="transfer", talk_s=calltime, wait_s=holdtime): queue_log writes no COMPLETE
  after it. Asterisk 1.2 wrote no calltime: talk_s is then 0. The CallTransferred is keyed
  ``<key>/transfer``.
* ABANDON / EXIT* ``position`` is the position when the caller left (the join position is in
  CallQueued). FULL / JOINEMPTY / JOINUNAVAIL are calls offered that never joined: CallExited
  with reason full / empty / empty and ``wait_s=0``. WITHDRAW is CallExited(reason="withdraw").
* RINGNOANSWER's ringtime is in milliseconds (tests/fixtures/asterisk22-light/PROVENANCE.md, quirk 4).
* The agent column names an interface when it contains ``/`` (``Local/agent01@agents/n``:
  ADDMEMBER/REMOVEMEMBER by default, every verb for members without a name), else a member name;
  events get ``interface`` or ``member_name`` accordingly and ``agent`` is the column verbatim.
* PAUSEALL / UNPAUSEALL give queue=None, and the per-queue PAUSE lines that follow are emitted too.
* AGENTLOGIN / AGENTLOGOFF / AGENTCALLBACK* (chan_agent) name no queue (``NONE``) in real Asterisk:
  AgentLogin needs one, so they are ignored unless a queue is named (vendor QueueLog() lines).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from collectors.queue_log.records import MAX_DIGITS, MalformedLine, Record, parse_digits
from wallboard.core.events import (
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallQueued,
    CallTransferred,
    Event,
)

__all__ = ["HANDLERS", "NOT_CALLS", "NOT_NAMES", "Build", "Fields", "Handler", "bad", "construct", "ignore", "new"]

NOT_CALLS = frozenset({"", "NONE", "MANAGER", "REALTIME", "CLI"})
NOT_NAMES = frozenset({"", "NONE"})

Fields = dict[str, Any]

_M = TypeVar("_M", bound=BaseModel)
_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
_object_new = object.__new__
_set_dict = object.__setattr__
# BaseModel's slots, set through their descriptors (faster than object.__setattr__ by name)
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_ExitReason = Literal["timeout", "key", "empty", "full", "withdraw"]
_EXIT_REASONS: dict[str, _ExitReason] = {
    "EXITWITHTIMEOUT": "timeout",
    "EXITWITHKEY": "key",
    "EXITEMPTY": "empty",
    "WITHDRAW": "withdraw",
    "FULL": "full",
    "JOINEMPTY": "empty",
    "JOINUNAVAIL": "empty",
}


class Build(Protocol):
    """How a handler turns its fields into an event: :func:`new` (validating) or :func:`construct`."""

    def __call__(self, model: type[_M], fields: Fields, /) -> _M: ...


Handler = Callable[[Record, Fields, Build], list[Event]]


def new(model: type[_M], fields: Fields) -> _M:
    """Validate ``fields`` into ``model``: the checks of ``model(**fields)`` without its Python frame."""
    event: _M = model.__pydantic_validator__.validate_python(fields)
    return event


def construct(model: type[_M], fields: Fields) -> _M:
    """``model`` from ``fields`` the validators would accept unchanged, without running them.

    The result equals ``new(model, fields)`` (same values, field order, ``model_fields_set``) when
    the caller guarantees validity: see ``TRUSTED_CHARS`` in the mapper (short record text, no
    surrogates, valid site and source, the handlers' own checks; ``ts`` already an aware UTC datetime).
    Twice as fast as validating; ``model_construct`` is slower than both. Models whose defaults come
    from a factory are refused (TypeError): none of the events has one.
    """
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        fields_info = model.model_fields
        if any(info.default_factory is not None for info in fields_info.values()):
            raise TypeError(f"{model.__name__} has a default factory: build it with new()")
        defaults = _DEFAULTS[model] = {
            name: None if info.is_required() else info.default for name, info in fields_info.items()
        }
    values = defaults.copy()  # every field in declaration order (None stands in for required ones)
    values.update(fields)
    event = _object_new(model)
    _set_dict(event, "__dict__", values)
    _set_fields_set(event, set(fields))
    _set_extra(event, None)
    _set_private(event, None)
    return event


def bad(rec: Record, reason: str, detail: str) -> MalformedLine:
    """The error for a record that breaks its verb's layout."""
    return MalformedLine(rec.lineno, reason, f"{rec.verb}: {detail}", rec.line())


def _field(rec: Record, index: int) -> str:
    data = rec.data
    return data[index] if index < len(data) else ""


def _int(rec: Record, index: int) -> int | None:
    """Data field ``index`` as a non-negative integer; None when absent, empty or not digits (a degraded figure)."""
    data = rec.data
    text = data[index] if index < len(data) else ""
    return parse_digits(text) if text else None


def _secs(rec: Record, index: int) -> float | None:
    """Data field ``index`` as non-negative seconds; None when absent, empty or not digits (``_int`` inlined: hot)."""
    data = rec.data
    text = data[index] if index < len(data) else ""
    if not text or len(text) > MAX_DIGITS or not (text.isdigit() and text.isascii()):
        return None
    return float(int(text))


def _queue(rec: Record) -> str:
    queue = rec.queue
    if queue in NOT_NAMES:
        raise bad(rec, "queue", f"needs a queue, read {queue!r}")
    return queue


def _call_id(rec: Record) -> str:
    call_id = rec.call_id
    if call_id in NOT_CALLS:
        raise bad(rec, "call_id", f"needs a call id, read {call_id!r}")
    return call_id


def _agent(rec: Record, fields: Fields) -> Fields:
    """Add ``agent`` plus ``interface`` or ``member_name``, as the agent column tells; returns ``fields``."""
    agent = rec.agent
    if agent in NOT_NAMES:
        raise bad(rec, "agent", f"needs an agent, read {agent!r}")
    fields["agent"] = agent
    fields["interface" if "/" in agent else "member_name"] = agent
    return fields


def _enterqueue(rec: Record, common: Fields, build: Build) -> list[Event]:
    # url|callerid|position[|callername]; Asterisk <= 1.4: url|callerid
    position = _int(rec, 2)
    common["call_id"] = _call_id(rec)
    common["queue"] = _queue(rec)
    common["position"] = 1 if position is None else position
    common["caller"] = _field(rec, 1)
    common["caller_name"] = _field(rec, 3)
    return [build(CallQueued, common)]


def _connect(rec: Record, common: Fields, build: Build) -> list[Event]:
    # holdtime|member-uniqueid|ringtime (seconds); old Asterisk: holdtime|bridged channel
    peer = _field(rec, 1)
    common["call_id"] = _call_id(rec)
    common["queue"] = _queue(rec)
    common["wait_s"] = _secs(rec, 0)
    common["ring_s"] = _secs(rec, 2)
    common["agent_channel"] = peer if "/" in peer else None
    return [build(CallAnswered, _agent(rec, common))]


def _ended(
    rec: Record, fields: Fields, build: Build, times: tuple[float | None, float | None], ended_by: str
) -> CallEnded:
    fields["call_id"] = None if rec.call_id in NOT_CALLS else rec.call_id
    fields["queue"] = _queue(rec)
    _agent(rec, fields)
    fields["talk_s"], fields["wait_s"] = times
    fields["ended_by"] = ended_by
    return build(CallEnded, fields)


def _complete(rec: Record, common: Fields, build: Build) -> list[Event]:
    # holdtime|talktime|origposition
    ended_by = "agent" if rec.verb == "COMPLETEAGENT" else "caller"
    times = _secs(rec, 1), _secs(rec, 0)
    return [_ended(rec, common, build, times, ended_by)]


def _transferred(rec: Record, common: Fields, build: Build, target: str, times_at: int) -> list[Event]:
    wait_s = _secs(rec, times_at)
    talk_s = _secs(rec, times_at + 1)
    fields = dict(common)
    ended = _ended(rec, common, build, (talk_s, wait_s), "transfer")
    fields |= {"key": f"{fields['key']}/transfer", "call_id": ended.call_id, "queue": ended.queue}
    fields |= {"agent": ended.agent, "target": target}
    return [build(CallTransferred, fields), ended]


def _transfer(rec: Record, common: Fields, build: Build) -> list[Event]:
    # TRANSFER / BLINDTRANSFER: extension|context|holdtime|calltime|origposition (Asterisk 1.2: extension|context)
    exten, context = _field(rec, 0), _field(rec, 1)
    return _transferred(rec, common, build, f"{exten}@{context}" if context else exten, 2)


def _attended_transfer(rec: Record, common: Fields, build: Build) -> list[Event]:
    # BRIDGE|uid|holdtime|calltime|origposition, APP|app|..., LINK|chan1|chan2|holdtime|calltime|origposition
    times_at = max(2, len(rec.data) - 3)
    return _transferred(rec, common, build, "|".join(rec.data[:times_at]), times_at)


def _exited(rec: Record, common: Fields, build: Build, wait_s: float | None, position: int | None) -> list[Event]:
    common["call_id"] = _call_id(rec)
    common["queue"] = _queue(rec)
    common["reason"] = _EXIT_REASONS[rec.verb]
    common["wait_s"] = wait_s
    common["position"] = position
    return [build(CallExited, common)]


def _abandon(rec: Record, common: Fields, build: Build) -> list[Event]:
    # position|origposition|waittime
    common["call_id"] = _call_id(rec)
    common["queue"] = _queue(rec)
    common["wait_s"] = _secs(rec, 2)
    common["position"] = _int(rec, 0)
    return [build(CallAbandoned, common)]


def _exit(rec: Record, common: Fields, build: Build) -> list[Event]:
    # EXITWITHTIMEOUT / EXITEMPTY / WITHDRAW: position|origposition|waittime[|info]
    return _exited(rec, common, build, _secs(rec, 2), _int(rec, 0))


def _exit_with_key(rec: Record, common: Fields, build: Build) -> list[Event]:
    # key|position|origposition|waittime
    return _exited(rec, common, build, _secs(rec, 3), _int(rec, 1))


def _not_joined(rec: Record, common: Fields, build: Build) -> list[Event]:
    # FULL / JOINEMPTY / JOINUNAVAIL: offered, never joined (no ENTERQUEUE before it)
    return _exited(rec, common, build, 0.0, None)


def _ring_no_answer(rec: Record, common: Fields, build: Build) -> list[Event]:
    # ringtime in MILLISECONDS (quirk 4 of tests/fixtures/asterisk22-light/PROVENANCE.md)
    ring_ms = _int(rec, 0)
    common["call_id"] = None if rec.call_id in NOT_CALLS else rec.call_id
    common["queue"] = _queue(rec)
    _agent(rec, common)
    common["answered"] = False
    common["ring_s"] = None if ring_ms is None else ring_ms / 1000
    return [build(AgentRang, common)]


def _member(rec: Record, common: Fields, build: Build) -> list[Event]:
    # ADDMEMBER [PAUSED] / REMOVEMEMBER: the agent column is the interface unless log_membername_as_agent
    return _login(rec, common, build, _queue(rec), rec.verb == "ADDMEMBER")


def _chan_agent(rec: Record, common: Fields, build: Build) -> list[Event]:
    # chan_agent AGENT[CALLBACK]LOGIN/LOGOFF: queue NONE, agent Agent/1001, data channel[|logintime]
    if rec.queue in NOT_NAMES:
        return []
    return _login(rec, common, build, rec.queue, rec.verb.endswith("LOGIN"))


def _login(rec: Record, common: Fields, build: Build, queue: str, login: bool) -> list[Event]:
    _agent(rec, common)
    common["queue"] = queue
    if login:
        common["paused"] = _field(rec, 0) == "PAUSED"
        return [build(AgentLogin, common)]
    return [build(AgentLogout, common)]


def _pause(rec: Record, common: Fields, build: Build) -> list[Event]:
    # PAUSE / UNPAUSE: reason, free text, "Auto-Pause" kept verbatim; UNPAUSE may carry one too ("Auto-Unpause")
    # PAUSEALL / UNPAUSEALL: queue NONE, every queue of the member (one PAUSE per queue follows: both are emitted)
    verb = rec.verb
    queue = None if verb.endswith("ALL") else _queue(rec)
    _agent(rec, common)
    common["queue"] = queue
    common["reason"] = _field(rec, 0)
    if verb.startswith("PAUSE"):
        return [build(AgentPaused, common)]
    return [build(AgentUnpaused, common)]


def ignore(rec: Record, common: Fields, build: Build) -> list[Event]:
    """A verb known to carry nothing for the wallboard."""
    return []


HANDLERS: dict[str, Handler] = {
    "ENTERQUEUE": _enterqueue,
    "CONNECT": _connect,
    "COMPLETEAGENT": _complete,
    "COMPLETECALLER": _complete,
    "TRANSFER": _transfer,
    "BLINDTRANSFER": _transfer,
    "ATTENDEDTRANSFER": _attended_transfer,
    "ABANDON": _abandon,
    "EXITWITHTIMEOUT": _exit,
    "EXITEMPTY": _exit,
    "WITHDRAW": _exit,
    "EXITWITHKEY": _exit_with_key,
    "FULL": _not_joined,
    "JOINEMPTY": _not_joined,
    "JOINUNAVAIL": _not_joined,
    "RINGNOANSWER": _ring_no_answer,
    "ADDMEMBER": _member,
    "REMOVEMEMBER": _member,
    "AGENTLOGIN": _chan_agent,
    "AGENTCALLBACKLOGIN": _chan_agent,
    "AGENTLOGOFF": _chan_agent,
    "AGENTCALLBACKLOGOFF": _chan_agent,
    "PAUSE": _pause,
    "UNPAUSE": _pause,
    "PAUSEALL": _pause,
    "UNPAUSEALL": _pause,
    # known, and nothing for the wallboard:
    "RINGCANCELED": ignore,
    "CONFIGRELOAD": ignore,
    "SYSCOMPAT": ignore,
    "INFO": ignore,
    "DID": ignore,
    "AGENTDUMP": ignore,
    "PENALTY": ignore,
    "RINGINUSE": ignore,
    "OUTCALL": ignore,
}
