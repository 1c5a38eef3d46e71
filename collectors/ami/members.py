"""The member (agent) and QueueStatus-list half of ``AmiMapper``: handlers that read no call state.

``MemberMapping`` is a mixin rather than a helper object so that ``AmiMapper``'s handler table
holds these bound methods directly: one call per frame, no delegation. The rules they follow are
in ``collectors.ami.mapping``'s docstring (agent identity, ``Wrapuptime: 0``, the QueueStatus
snapshot, the QueueSummary lists ignored).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from collectors.ami.fields import (
    Reject,
    caller,
    device_state,
    event_time,
    first,
    flag,
    integer,
    member,
    required,
    seconds,
    wrapup,
)
from collectors.ami.frames import Frame
from collectors.ami.lists import ListAssembler, ListResult
from wallboard.core.events import (
    AgentDevice,
    AgentLogin,
    AgentLogout,
    AgentPaused,
    AgentUnpaused,
    EntryInfo,
    Event,
    MemberInfo,
    QueueInfo,
    Snapshot,
)

__all__ = ["MemberMapping"]

# The mapper's logger: record filters such as wallboard.processes.replay's are attached to it by name.
logger = logging.getLogger("collectors.ami.mapping")


class MemberMapping:
    """Handlers of QueueMember* events and QueueStatus lists, and ``_meta()``, mixed into ``AmiMapper``."""

    site: str
    source: str
    rejected: int
    _lists: ListAssembler

    def _meta(self, frame: Frame, received_at: datetime) -> dict[str, Any]:
        """The fields every event of this frame carries."""
        return {"ts": event_time(frame, received_at), "site": self.site, "source": self.source}

    # -- members ----------------------------------------------------------------------------------

    def _member_added(self, frame: Frame, received_at: datetime) -> list[Event]:
        return [
            AgentLogin(
                **self._meta(frame, received_at),
                **member(frame),
                queue=required(frame, "Queue"),
                wrapup_s=wrapup(frame),
                paused=flag(frame.get("Paused")),
                reason=first(frame, "PausedReason", "Reason") or "",
            )
        ]

    def _member_removed(self, frame: Frame, received_at: datetime) -> list[Event]:
        return [AgentLogout(**self._meta(frame, received_at), **member(frame), queue=required(frame, "Queue"))]

    def _member_pause(self, frame: Frame, received_at: datetime) -> list[Event]:
        paused = frame.get("Paused")
        if paused is None:
            raise Reject("missing Paused")
        model = AgentPaused if flag(paused) else AgentUnpaused
        return [
            model(
                **self._meta(frame, received_at),
                **member(frame),
                queue=frame.get("Queue") or None,
                reason=first(frame, "PausedReason", "Reason") or "",
            )
        ]

    def _member_status(self, frame: Frame, received_at: datetime) -> list[Event]:
        status = frame.get("Status")
        if not status:
            raise Reject("missing Status")
        in_call = frame.get("InCall")
        paused = frame.get("Paused")
        return [
            AgentDevice(
                **self._meta(frame, received_at),
                **member(frame),
                queue=frame.get("Queue") or None,
                device_state=device_state(status),
                in_call=None if in_call is None else flag(in_call),
                paused=None if paused is None else flag(paused),
                reason=frame.get("PausedReason", frame.get("Reason")),
                wrapup_s=wrapup(frame),
            )
        ]

    # -- lists (QueueStatus snapshot) -------------------------------------------------------------

    def _response(self, frame: Frame, received_at: datetime) -> list[Event] | None:
        if frame.action_id is not None:
            self._lists.feed(frame)
        return None

    def _list_item(self, frame: Frame, received_at: datetime) -> list[Event] | None:
        if frame.action_id is None:
            return None  # a QueueParams/QueueMember/QueueEntry outside any list
        result = self._lists.feed(frame)
        if result is None or result.complete is None or result.complete.name != "QueueStatusComplete":
            return None  # not complete yet, or a QueueSummary list (EWMA figures, quirk 13)
        return [self._snapshot(result, event_time(frame, received_at))]

    def _snapshot(self, result: ListResult, ts: datetime) -> Snapshot:
        queues: list[QueueInfo] = []
        members: list[MemberInfo] = []
        entries: list[EntryInfo] = []
        for item in result.items:
            try:
                if item.name == "QueueParams":
                    queues.append(_queue_info(item))
                elif item.name == "QueueMember":
                    members.append(_member_info(item))
                elif item.name == "QueueEntry":
                    entries.append(_entry_info(item))
            except (Reject, ValueError) as exc:
                self.rejected += 1
                logger.warning("rejected AMI %s list item at offset %d: %s", item.name, item.offset, exc)
        return Snapshot(
            ts=ts, site=self.site, source=self.source, queues=(*queues,), members=(*members,), entries=(*entries,)
        )


def _queue_info(frame: Frame) -> QueueInfo:
    return QueueInfo(
        name=required(frame, "Queue"),
        sl_threshold_s=seconds(frame.get("ServiceLevel"), "ServiceLevel") or None,
        strategy=frame.get("Strategy") or None,
    )


def _member_info(frame: Frame) -> MemberInfo:
    interface = frame.get("Location") or frame.get("Interface") or None
    member_name = frame.get("Name") or frame.get("MemberName") or None
    agent = member_name or interface
    if agent is None:
        raise Reject("missing Name and Location")
    return MemberInfo(
        queue=required(frame, "Queue"),
        agent=agent,
        interface=interface,
        member_name=member_name,
        device_state=device_state(frame.get("Status")),
        in_call=flag(frame.get("InCall")),
        paused=flag(frame.get("Paused")),
        reason=first(frame, "PausedReason", "Reason") or "",
        wrapup_s=wrapup(frame),
    )


def _entry_info(frame: Frame) -> EntryInfo:
    call_id = frame.get("Uniqueid") or frame.get("Channel")
    if not call_id:
        raise Reject("missing Uniqueid and Channel")
    position = integer(frame.get("Position"), "Position")
    return EntryInfo(
        queue=required(frame, "Queue"),
        call_id=call_id,
        position=1 if position is None else position,
        wait_s=seconds(frame.get("Wait"), "Wait") or 0.0,
        caller=caller(first(frame, "CallerIDNum", "CallerID")),
        caller_name=caller(frame.get("CallerIDName")),
    )
