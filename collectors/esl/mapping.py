"""FreeSWITCH mod_callcenter events (``CUSTOM callcenter::info``) as the project's events. Sans-I/O and pure.

Theory of operation
-------------------
``EslMapper.feed(frame, received_at)`` turns one :class:`collectors.esl.protocol.EslFrame` into events.
Queue keys are mod_callcenter's queue names as they are (``support@default``); agents are its agent names
(``1001@default``). A call is a *member*: its id is ``CC-Member-UUID``. Times come from the event's
``Event-Date-Timestamp`` (epoch microseconds), else from ``received_at``. The rules follow the Asterisk
mapping's (a timeout is not an abandon; a missing figure costs that figure, never the call):

==========================  ==================================================================================
``member-queue-start``      CallQueued (caller number and name from ``CC-Member-CID-*``)
``bridge-agent-start``      CallAnswered by ``CC-Agent``; wait = this event's time - the member's start event
                            (microseconds), else ``CC-Agent-Answered-Time - CC-Member-Joined-Time`` (whole
                            seconds), else unknown
``bridge-agent-fail``       AgentRang(answered=False): a missed ring, unless ``CC-Hangup-Cause`` is
                            ``ORIGINATOR_CANCEL`` (the caller left while it rang: not the agent's miss)
``bridge-agent-end``        CallEnded; talk = this event's time - the answer event's, else
                            ``CC-Bridge-Terminated-Time - CC-Agent-Answered-Time``
``member-queue-end``        ``CC-Cause: Terminated``: the answered call's end (the same key as its
                            ``bridge-agent-end``, so only the first counts); ``Cancel`` with
                            ``CC-Cancel-Reason`` ``BREAK_OUT``: CallAbandoned, ``TIMEOUT``: CallExited(timeout),
                            ``EXIT_WITH_KEY``: exited(key), ``NO_AGENT_TIMEOUT``: exited(empty), else
                            exited(unknown); wait = ``CC-Member-Leaving-Time - CC-Member-Joined-Time``
``agent-status-change``     ``Logged Out``: AgentLogout of each of the agent's queues; ``Available``
                            (``On Demand`` too): AgentLogin (from logged out) or AgentUnpaused (from a break);
                            ``On Break``: AgentLogin paused or AgentPaused, reason ``On Break``
``agent-state-change``      AgentDevice: ``Receiving`` ringing, ``In a queue call`` in use, ``Waiting`` /
                            ``Idle`` idle (mod_callcenter has no wrap-up event: its wrap-up time is invisible)
==========================  ==================================================================================

Memberships: mod_callcenter ties agents to queues by *tiers*. The mapper learns them from a
``callcenter_config tier list`` reply (an ``api/response`` frame in the stream: the client's resync asks
for it on its connection, a replay may prepend the control connection's) and from any event naming both
an agent and a queue (``agent-offering``, ``bridge-agent-*``). A status told before a tier of the agent is
known is remembered and applied to each queue learned later (AgentLogin, paused on a break), at the time
the tier is learned. Everything else (``members-count``, ``agent-max-no-answer``, channel events) gives
nothing; a CC event without the fields its rule needs is rejected, counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypedDict

from collectors.esl.protocol import EslFrame
from wallboard.core.events import (
    AgentDevice,
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
    DeviceState,
    EntryInfo,
    Event,
    ExitReason,
    MemberInfo,
    QueueInfo,
    Snapshot,
)

__all__ = ["EslMapper", "RESYNC_COMMANDS", "table_of", "tiers_of"]

SOURCE = "esl"
LOGGED_OUT, ON_BREAK = "Logged Out", "On Break"
_EXIT: dict[str, ExitReason] = {"TIMEOUT": "timeout", "EXIT_WITH_KEY": "key", "NO_AGENT_TIMEOUT": "empty"}
_DEVICE: dict[str, DeviceState] = {
    "Receiving": "ringing",
    "In a queue call": "in_use",
    "Waiting": "idle",
    "Idle": "idle",
}
_NOT_A_MISS = frozenset({"ORIGINATOR_CANCEL"})
TIER_HEADER = "queue|agent|state|level|position"
CLOSED_MEMORY = 10_000  # member uuids remembered as ended (a Terminated member-queue-end after its bridge end)


class _Meta(TypedDict):
    ts: datetime
    site: str
    source: str
    key: str | None


RESYNC_COMMANDS = (
    "api callcenter_config queue list",
    "api callcenter_config tier list",
    "api callcenter_config agent list",
)  # then ``api callcenter_config queue list members <queue>`` for each queue of the first answer
_WAITING_STATES = frozenset({"Waiting", "Trying"})


def table_of(text: str, first: str) -> list[dict[str, str]]:
    """The rows of a ``callcenter_config ... list`` reply whose header starts with ``first`` (``+OK`` line
    dropped); [] for any other text."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines or not lines[0].startswith(first + "|"):
        return []
    names = lines[0].split("|")
    return [dict(zip(names, line.split("|"), strict=False)) for line in lines[1:] if line != "+OK" and "|" in line]


def tiers_of(text: str) -> list[tuple[str, str]]:
    """(queue, agent) pairs of a ``callcenter_config tier list`` reply; [] for any other text."""
    lines = text.strip().splitlines()
    if not lines or lines[0].strip() != TIER_HEADER:
        return []
    pairs = []
    for line in lines[1:]:
        fields = line.split("|")
        if len(fields) >= 2 and fields[0] and fields[1]:
            pairs.append((fields[0], fields[1]))
    return pairs


def _seconds(later: str | None, earlier: str | None) -> float | None:
    """``later - earlier`` of two whole-second epoch fields, None when either is missing, odd or negative."""
    if not later or not earlier or not later.isdigit() or not earlier.isdigit():
        return None
    value = int(later) - int(earlier)
    return float(value) if value >= 0 else None


class EslMapper:
    """Turns ESL frames into events (see the module docstring); ``rejected`` counts CC events it could not map."""

    def __init__(self, site: str = "default") -> None:
        self.site = site
        self.tiers: dict[str, set[str]] = {}  # agent -> queues
        self.status: dict[str, str] = {}  # agent -> last status told
        self._started: dict[str, datetime] = {}  # member uuid -> its member-queue-start time
        self._answered: dict[str, datetime] = {}  # member uuid -> its bridge-agent-start time
        self._fails: Counter[str] = Counter()
        self._closed: dict[str, None] = {}  # member uuids whose end was mapped (oldest first, bounded)
        self.rejected: Counter[str] = Counter()
        self.mapped = 0

    def feed(self, frame: EslFrame, received_at: datetime) -> list[Event]:
        """The events of one frame (none for most frames)."""
        event = frame.event
        if event is None:
            if frame.content_type == "api/response":
                return self.learn_tiers(tiers_of(frame.text), received_at)
            return []
        if event.get("Event-Subclass") != "callcenter::info":
            return []
        action = event.get("CC-Action", "")
        handler = self._handlers.get(action)
        if handler is None:
            return []
        ts = _timestamp(event.get("Event-Date-Timestamp"), received_at)
        events = handler(self, event, ts)
        if events is None:
            self.rejected[f"{action}: missing fields"] += 1
            return []
        self.mapped += 1
        return events

    def learn_tiers(self, pairs: Iterable[tuple[str, str]], ts: datetime) -> list[Event]:
        """Learn (queue, agent) memberships; an agent whose status is known joins each new queue now."""
        events: list[Event] = []
        for queue, agent in pairs:
            queues = self.tiers.setdefault(agent, set())
            if queue in queues:
                continue
            queues.add(queue)
            status = self.status.get(agent)
            if status is not None and status != LOGGED_OUT:
                events.append(self._login(agent, queue, ts, status))
        return events

    def resync(self, queues: str, tiers: str, agents: str, members: Iterable[str], ts: datetime) -> list[Event]:
        """A Snapshot of the PBX's view from the replies to ``RESYNC_COMMANDS`` and the queues' member lists.

        Every queue listed is covered: its agents logged in (not ``Logged Out``) are members, paused on a
        break, ringing or in a call as their state says; its members ``Waiting`` or ``Trying`` are the waiting
        callers (wait from their ``joined_epoch``). The statuses and tiers are remembered for later events.
        """
        names = [row["name"] for row in table_of(queues, "name") if row.get("name")]
        self.tiers = {}
        for queue, agent in tiers_of(tiers):
            self.tiers.setdefault(agent, set()).add(queue)
        member_rows: list[MemberInfo] = []
        for row in table_of(agents, "name"):
            agent, status, state = row.get("name", ""), row.get("status", ""), row.get("state", "")
            if not agent or not status:
                continue
            self.status[agent] = status
            if status == LOGGED_OUT:
                continue
            device = _DEVICE.get(state, "unknown")
            for queue in sorted(self.tiers.get(agent, ())):
                member_rows.append(
                    MemberInfo(
                        queue=queue,
                        agent=agent,
                        device_state=device,
                        in_call=device == "in_use",
                        paused=status == ON_BREAK,
                        reason=ON_BREAK if status == ON_BREAK else "",
                    )
                )
        entries: list[EntryInfo] = []
        now = ts.timestamp()
        for text in members:
            waiting = [row for row in table_of(text, "queue") if row.get("state") in _WAITING_STATES]
            for position, row in enumerate(sorted(waiting, key=lambda r: r.get("joined_epoch", "")), 1):
                joined = row.get("joined_epoch", "")
                entries.append(
                    EntryInfo(
                        queue=row["queue"],
                        call_id=row.get("uuid") or "?",
                        position=position,
                        wait_s=max(0.0, now - int(joined)) if joined.isdigit() else 0.0,
                        caller=row.get("cid_number", ""),
                        caller_name=row.get("cid_name", ""),
                    )
                )
        snapshot = Snapshot(
            **self._meta(ts, None),
            queues=tuple(QueueInfo(name=name) for name in names),
            members=tuple(member_rows),
            entries=tuple(entries),
        )
        return [snapshot]

    # -- calls ------------------------------------------------------------------------------------

    def _meta(self, ts: datetime, key: str | None) -> _Meta:
        return {"ts": ts, "site": self.site, "source": SOURCE, "key": key}

    def _queue_start(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        queue, uuid = event.get("CC-Queue"), event.get("CC-Member-UUID")
        if not queue or not uuid:
            return None
        self._started[uuid] = ts
        return [
            CallQueued(
                **self._meta(ts, f"{uuid}/queued"),
                call_id=uuid,
                queue=queue,
                caller=event.get("CC-Member-CID-Number", ""),
                caller_name=event.get("CC-Member-CID-Name", ""),
            )
        ]

    def _offering(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        queue, agent = event.get("CC-Queue"), event.get("CC-Agent")
        if not queue or not agent:
            return None
        return self.learn_tiers([(queue, agent)], ts)

    def _bridge_start(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        queue, agent, uuid = event.get("CC-Queue"), event.get("CC-Agent"), event.get("CC-Member-UUID")
        if not queue or not agent or not uuid:
            return None
        events = self.learn_tiers([(queue, agent)], ts)
        started = self._started.get(uuid)
        wait = (
            max(0.0, (ts - started).total_seconds())
            if started is not None
            else _seconds(event.get("CC-Agent-Answered-Time"), event.get("CC-Member-Joined-Time"))
        )
        self._answered[uuid] = ts
        events.append(
            CallAnswered(
                **self._meta(ts, f"{uuid}/answered"),
                call_id=uuid,
                queue=queue,
                agent=agent,
                wait_s=wait,
                ring_s=_seconds(event.get("CC-Agent-Answered-Time"), event.get("CC-Agent-Called-Time")),
                agent_channel=event.get("CC-Agent-UUID") or None,
            )
        )
        return events

    def _bridge_fail(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        queue, agent, uuid = event.get("CC-Queue"), event.get("CC-Agent"), event.get("CC-Member-UUID")
        if not queue or not agent or not uuid:
            return None
        events = self.learn_tiers([(queue, agent)], ts)
        if event.get("CC-Hangup-Cause", "") in _NOT_A_MISS:
            return events
        self._fails[uuid] += 1
        events.append(
            AgentRang(
                **self._meta(ts, f"{uuid}/fail/{agent}/{self._fails[uuid]}"),
                call_id=uuid,
                queue=queue,
                agent=agent,
                answered=False,
            )
        )
        return events

    def _bridge_end(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        return self._ended(event, ts)

    def _ended(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        queue, agent, uuid = event.get("CC-Queue"), event.get("CC-Agent"), event.get("CC-Member-UUID")
        if not queue or not agent or not uuid:
            return None
        answered = self._answered.pop(uuid, None)
        self._started.pop(uuid, None)
        self._fails.pop(uuid, None)
        self._closed[uuid] = None
        if len(self._closed) > CLOSED_MEMORY:
            del self._closed[next(iter(self._closed))]
        talk = (
            max(0.0, (ts - answered).total_seconds())
            if answered is not None
            else _seconds(
                event.get("CC-Bridge-Terminated-Time") or event.get("CC-Member-Leaving-Time"),
                event.get("CC-Agent-Answered-Time"),
            )  # fmt: skip
        )
        return [
            CallEnded(
                **self._meta(ts, f"{uuid}/end"),
                call_id=uuid,
                queue=queue,
                agent=agent,
                talk_s=talk,
                wait_s=_seconds(event.get("CC-Agent-Answered-Time"), event.get("CC-Member-Joined-Time")),
            )
        ]

    def _queue_end(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        cause = event.get("CC-Cause", "")
        if cause == "Terminated":
            return [] if event.get("CC-Member-UUID") in self._closed else self._ended(event, ts)
        queue, uuid = event.get("CC-Queue"), event.get("CC-Member-UUID")
        if not queue or not uuid:
            return None
        started = self._started.pop(uuid, None)
        self._fails.pop(uuid, None)
        wait = _seconds(event.get("CC-Member-Leaving-Time"), event.get("CC-Member-Joined-Time"))
        if started is not None:
            wait = max(0.0, (ts - started).total_seconds())
        reason = event.get("CC-Cancel-Reason", "")
        meta = self._meta(ts, f"{uuid}/outcome")
        if reason == "BREAK_OUT":
            return [CallAbandoned(**meta, call_id=uuid, queue=queue, wait_s=wait)]
        exit_reason: ExitReason = _EXIT.get(reason, "unknown")
        return [CallExited(**meta, call_id=uuid, queue=queue, reason=exit_reason, wait_s=wait)]

    # -- agents -----------------------------------------------------------------------------------

    def _login(self, agent: str, queue: str, ts: datetime, status: str) -> Event:
        paused = status == ON_BREAK
        return AgentLogin(
            **self._meta(ts, None),
            agent=agent,
            queue=queue,
            paused=paused,
            reason=ON_BREAK if paused else "",
        )

    def _status(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        agent, status = event.get("CC-Agent"), event.get("CC-Agent-Status")
        if not agent or not status:
            return None
        before = self.status.get(agent, LOGGED_OUT)
        self.status[agent] = status
        queues = sorted(self.tiers.get(agent, ()))
        meta = self._meta(ts, None)
        if status == LOGGED_OUT:
            if before == LOGGED_OUT:
                return []
            return [AgentLogout(**meta, agent=agent, queue=queue) for queue in queues]
        if before == LOGGED_OUT:
            return [self._login(agent, queue, ts, status) for queue in queues]
        if status == ON_BREAK:
            return [AgentPaused(**meta, agent=agent, reason=ON_BREAK)] if queues else []
        if before == ON_BREAK:
            return [AgentUnpaused(**meta, agent=agent)] if queues else []
        return []

    def _state(self, event: dict[str, str], ts: datetime) -> list[Event] | None:
        agent, state = event.get("CC-Agent"), event.get("CC-Agent-State")
        if not agent or not state:
            return None
        device = _DEVICE.get(state)
        if device is None or not self.tiers.get(agent):
            return []
        return [
            AgentDevice(
                **self._meta(ts, None),
                agent=agent,
                device_state=device,
                in_call=device == "in_use",
            )
        ]

    _handlers = {
        "member-queue-start": _queue_start,
        "agent-offering": _offering,
        "bridge-agent-start": _bridge_start,
        "bridge-agent-fail": _bridge_fail,
        "bridge-agent-end": _bridge_end,
        "member-queue-end": _queue_end,
        "agent-status-change": _status,
        "agent-state-change": _state,
    }


def _timestamp(value: str | None, received_at: datetime) -> datetime:
    """``Event-Date-Timestamp`` (epoch microseconds) as UTC, else ``received_at``."""
    if value and value.isdigit():
        return datetime.fromtimestamp(int(value) / 1_000_000, UTC)
    return received_at
