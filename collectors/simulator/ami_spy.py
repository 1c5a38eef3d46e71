"""Originated channels and ChanSpy on the simulated PBX (pure): what a supervisor's listen call makes Asterisk write.

Theory of operation
-------------------
``Spies(formatter)`` owns the channels an ``Originate`` action creates. ``originate(request, ts)``
rings and answers the requested channel at once (the supervisor's phone auto-answers) and returns
the frames Asterisk 22 writes for it, in its order: Newchannel, Newexten ``AppDial2``, the caller
id (NewCallerid, NewConnectedLine), DialBegin, Newstate Ringing/Up with the endpoint's device
state, DialEnd ``ANSWER``, Newexten of the application, then ``OriginateResponse`` (manager.c
fast_originate(): ``Reason: 4``, answered). A technology the PBX has no driver for fails with
``Response: Failure``, ``Reason: 0``, the requested name as Channel and ``Uniqueid: <unknown>``.

An originated channel running ``ChanSpy(<prefix>,<options>)`` is a spy. As app_chanspy does, it
listens to the first live channel whose name starts with the prefix (case-insensitive): the
queue calls' channels the formatter keeps (``AmiFormatter.live_channels()``), never another
spy. ``update()``, called after each model event while a spy exists, moves every spy on:

* listening, and its spyee has hung up: ``ChanSpyStop``; with option ``E`` the spy's call ends
  (Hangup), otherwise it looks for the next channel;
* looking: a matching channel starts ``ChanSpyStart``; with none and option ``S`` the spy's call
  ends at once. Without ``S`` it waits (ChanSpy keeps scanning), e.g. for the agent's next call.

Any other application, or a Context/Exten originate (the simulator has no dialplan), ends its
channel as soon as it is answered. ``hangup(name)`` is the Hangup action on a spy: SoftHangupRequest,
ChanSpyStop when it was listening, Hangup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from collectors.simulator.ami_format import AmiFormatter
from collectors.simulator.ami_frames import (
    AmiEvent,
    Channel,
    Pairs,
    ami_event,
    chanspy,
    devstate,
    hangup_done,
    newexten,
    newstate,
    originate_response,
)

#: Channel drivers the simulated PBX has loaded (ast_get_channel_tech matches without case).
KNOWN_TECHNOLOGIES: Final = frozenset({"pjsip", "sip", "iax2", "dahdi", "local"})
#: The dialplan context of the supervisors' PJSIP endpoints.
ENDPOINT_CONTEXT: Final = "from-internal"
_ANSWERED: Final = 4  # AST_CONTROL_ANSWER, OriginateResponse's Reason for a call that was answered
_CALLERID: Final = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<num>[^>]*)>')


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """The fields of an Originate action that the simulator acts on."""

    channel: str
    action_id: str | None = None
    application: str = ""
    data: str = ""
    context: str = ""
    exten: str = ""
    callerid: str = ""
    run_async: bool = True


@dataclass(frozen=True, slots=True)
class Originated:
    """What an Originate did: ``ok`` False is manager.c's ``Originate failed`` (a synchronous failure).

    ``setup`` frames go out before the response of a synchronous originate and after the one of an
    asynchronous originate (which carries its OriginateResponse there); ``after`` always follows.
    """

    ok: bool
    setup: list[AmiEvent]
    after: list[AmiEvent]


@dataclass(eq=False)
class _Spy:
    chan: Channel
    device: str
    prefix: str
    exit_on_hangup: bool
    stop_when_none: bool
    spyee: Channel | None = None


def parse_callerid(text: str) -> tuple[str, str]:
    """``"Name" <number>``, ``Name <number>``, a bare number or a bare name -> (number, name)."""
    found = _CALLERID.match(text)
    if found:
        return found["num"].strip(), found["name"].strip()
    text = text.strip()
    if text and all(char.isdigit() or char in "+-() .#*" for char in text):
        return "".join(char for char in text if char not in "-() ."), ""
    return "", text


def chanspy_options(data: str) -> tuple[str, set[str]]:
    """ChanSpy's argument -> (channel prefix, option letters); option arguments in parentheses are skipped."""
    prefix, _, options = data.partition(",")
    letters, depth = set(), 0
    for char in options:
        depth += (char == "(") - (char == ")")
        if depth == 0 and char.isalpha():
            letters.add(char)
    return prefix.strip(), letters


class Spies:
    """The originated channels of one simulated PBX and the ChanSpy sessions they run."""

    def __init__(self, formatter: AmiFormatter) -> None:
        self._fmt = formatter
        self._spies: list[_Spy] = []

    @property
    def active(self) -> bool:
        return bool(self._spies)

    def channels(self) -> list[Channel]:
        """The spies' own channels, oldest first."""
        return [spy.chan for spy in self._spies]

    def spyee(self, channel: str) -> Channel | None:
        """The channel the spy ``channel`` listens to now, if any."""
        spy = self._find(channel)
        return spy.spyee if spy else None

    # ------------------------------------------------------------------ originate

    def originate(self, request: OriginateRequest, ts: datetime) -> Originated:
        tech, _, resource = request.channel.partition("/")
        num, name = parse_callerid(request.callerid)
        target: Pairs = (
            [("Application", request.application), ("Data", request.data)]
            if request.application
            else [("Context", request.context), ("Exten", request.exten)]
        )
        if tech.lower() not in KNOWN_TECHNOLOGIES:
            if not request.run_async:
                return Originated(False, [], [])
            failure = originate_response(request.action_id, False, request.channel, target, 0, "<unknown>", num, name)
            return Originated(True, [failure], [])
        chan, device, setup = self._dial(f"{tech}/{resource}", num, name, ts)
        if request.application:
            setup.append(newexten(chan, request.application, request.data))
        else:
            chan.context, chan.exten = request.context, request.exten
        if request.run_async:
            setup.append(
                originate_response(request.action_id, True, chan.name, target, _ANSWERED, chan.uniqueid, num, name)
            )
        if request.application.lower() != "chanspy":
            return Originated(True, setup, [hangup_done(chan), devstate(device, "NOT_INUSE")])
        prefix, options = chanspy_options(request.data)
        spy = _Spy(chan, device, prefix, "E" in options, "S" in options)
        self._spies.append(spy)
        return Originated(True, setup, self._look(spy, self._fmt.live_channels()))

    def _dial(self, base: str, num: str, name: str, ts: datetime) -> tuple[Channel, str, list[AmiEvent]]:
        """The outbound channel created, called and answered (the dial API's events, no caller channel)."""
        local = base.lower().startswith("local/")
        if local:
            exten, _, context = base.split("/", 1)[1].removesuffix("/n").partition("@")
            chan = self._fmt.new_channel(base, ts, context or "default", exten)
            device = base.removesuffix("/n")
        else:
            chan = self._fmt.new_channel(base, ts, ENDPOINT_CONTEXT, "s")
            device = base
        out = [ami_event("Newchannel", "call", chan.pairs()), newexten(chan, "AppDial2", "(Outgoing Line)")]
        if num or name:
            chan.cid_num, chan.cid_name = num, name
            unknown = {"ConnectedLineNum": "<unknown>", "ConnectedLineName": "<unknown>"}
            callerid = [(key, unknown.get(key, value)) for key, value in chan.pairs()]
            out.append(
                ami_event(
                    "NewCallerid", "call", callerid, [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
                )
            )
            out.append(ami_event("NewConnectedLine", "call", chan.pairs()))
        out.append(ami_event("DialBegin", "call", chan.pairs("Dest"), [("DialString", base.split("/", 1)[1])]))
        if not local:
            out += [newstate(chan, 5), devstate(device, "RINGING")]
        out += [newstate(chan, 6), devstate(device, "INUSE")]
        out.append(ami_event("DialEnd", "call", chan.pairs("Dest"), [("DialStatus", "ANSWER")]))
        return chan, device, out

    # ------------------------------------------------------------------ spying

    def update(self) -> list[AmiEvent]:
        """Move every spy on after the channels changed (a call began or ended)."""
        if not self._spies:
            return []
        live = self._fmt.live_channels()
        alive = {id(chan) for chan in live}
        out: list[AmiEvent] = []
        for spy in list(self._spies):
            if spy.spyee is not None and id(spy.spyee) not in alive:
                out.append(chanspy("ChanSpyStop", spy.chan, spy.spyee))
                spy.spyee = None
                if spy.exit_on_hangup:
                    out += self._end(spy)
                    continue
            if spy.spyee is None:
                out += self._look(spy, live)
        return out

    def _look(self, spy: _Spy, live: list[Channel]) -> list[AmiEvent]:
        prefix = spy.prefix.lower()
        spy.spyee = next((chan for chan in live if chan.name.lower().startswith(prefix)), None)
        if spy.spyee is not None:
            return [chanspy("ChanSpyStart", spy.chan, spy.spyee)]
        return self._end(spy) if spy.stop_when_none else []

    def _end(self, spy: _Spy, cause: int = 16) -> list[AmiEvent]:
        self._spies.remove(spy)
        return [hangup_done(spy.chan, cause), devstate(spy.device, "NOT_INUSE")]

    def hangup(self, channel: str) -> list[AmiEvent] | None:
        """The Hangup action on a spy's channel; None when no such channel is the simulator's to end."""
        spy = self._find(channel)
        if spy is None:
            return None
        out = [ami_event("SoftHangupRequest", "call", spy.chan.pairs(), [("Cause", "16")])]
        if spy.spyee is not None:
            out.append(chanspy("ChanSpyStop", spy.chan, spy.spyee))
        return out + self._end(spy)

    def _find(self, channel: str) -> _Spy | None:
        wanted = channel.lower()
        return next((spy for spy in self._spies if spy.chan.name.lower() == wanted), None)
