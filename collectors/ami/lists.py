"""AMI list responses: a list-opening response, its item events and the closing event, grouped by ActionID.

Asterisk answers list actions (``QueueStatus``, ``QueueSummary``, ``Status``...) with a success
response (``EventList: start``, or pre-12 a Message ending "will follow"), then one event per item,
then a closing event (``EventList: Complete`` or a name ending with "Complete"), all carrying the
action's ActionID and interleaved with unrelated events. ``ListAssembler`` regroups them, bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from collectors.ami.frames import Frame

__all__ = ["ListAssembler", "ListResult", "ends_list", "starts_list"]

# The parser's logger: record filters such as wallboard.processes.replay's are attached to it by name.
logger = logging.getLogger("collectors.ami.protocol")


@dataclass(frozen=True, slots=True)
class ListResult:
    """A list response with its item events; ``complete`` is None when the list was cut short."""

    action_id: str
    response: Frame
    items: tuple[Frame, ...]
    complete: Frame | None

    @property
    def truncated(self) -> bool:
        return self.complete is None


def starts_list(frame: Frame) -> bool:
    """A success response opening a list: ``EventList: start`` (12+) or a Message ending "will follow" (11)."""
    if frame.kind != "response" or frame.name.lower() != "success":
        return False
    event_list = frame.get("EventList")
    if event_list is not None:
        return event_list.lower() == "start"
    return (frame.get("Message") or "").lower().endswith("will follow")


def ends_list(frame: Frame) -> bool:
    """The event closing a list: ``EventList: Complete``, or a name ending with "Complete"."""
    return (frame.get("EventList") or "").lower() == "complete" or frame.name.endswith("Complete")


class ListAssembler:
    """Groups list responses with their item events by ActionID.

    Use ``owns(frame)`` to tell whether a frame belongs to a list (the list-opening response, an item
    or the closing event of an open list, matched by ActionID); ``feed(frame)`` consumes such a frame
    and returns a ``ListResult`` when a list ends, else None. ``feed()`` ignores (returns None for)
    frames it does not own, so a caller that does not need ``owns()`` may feed everything.

    Bounded: at most ``max_lists`` open lists (opening another cuts the oldest short) and
    ``max_items`` items across them (the list that would pass it is cut short). A list cut short is
    returned with ``complete=None`` and its later items are swallowed until its closing event.
    ``reset()`` (a new connection) drops every open list.
    """

    def __init__(self, *, max_lists: int = 64, max_items: int = 100_000) -> None:
        self._max_lists = max_lists
        self._max_items = max_items
        self._open: dict[str, tuple[Frame, list[Frame]]] = {}
        self._cut: dict[str, None] = {}  # lists cut short: swallow their remaining frames
        self._items = 0

    @property
    def open_lists(self) -> int:
        return len(self._open)

    def owns(self, frame: Frame) -> bool:
        """True if ``feed(frame)`` would consume ``frame``."""
        if frame.kind == "response":
            return frame.action_id is not None and starts_list(frame)
        if frame.kind != "event" or not (self._open or self._cut):
            return False
        action_id = frame.action_id
        return action_id is not None and (action_id in self._open or action_id in self._cut)

    def feed(self, frame: Frame) -> ListResult | None:
        """Consume a list frame; a ``ListResult`` when a list ends (or is cut short), else None."""
        if not self.owns(frame):
            return None
        action_id = cast(str, frame.action_id)
        if frame.kind == "response":
            return self._start(action_id, frame)
        if action_id in self._cut:
            if ends_list(frame):
                del self._cut[action_id]
            return None
        if ends_list(frame):
            return self._close(action_id, frame)
        if self._items >= self._max_items:
            logger.warning("AMI list %s cut short: more than %d items pending", action_id, self._max_items)
            return self._cut_short(action_id)
        self._open[action_id][1].append(frame)
        self._items += 1
        return None

    def reset(self) -> tuple[ListResult, ...]:
        """Forget every open list (the connection was lost); returns them, cut short."""
        abandoned = tuple(self._close(action_id, None) for action_id in list(self._open))
        self._cut.clear()
        return abandoned

    def _start(self, action_id: str, frame: Frame) -> ListResult | None:
        evicted = None
        if action_id in self._open:
            evicted = self._close(action_id, None)
        elif len(self._open) >= self._max_lists:
            oldest = next(iter(self._open))
            logger.warning("AMI list %s cut short: more than %d lists open", oldest, self._max_lists)
            evicted = self._cut_short(oldest)
        self._cut.pop(action_id, None)
        self._open[action_id] = (frame, [])
        return evicted

    def _cut_short(self, action_id: str) -> ListResult:
        result = self._close(action_id, None)
        self._cut[action_id] = None
        while len(self._cut) > self._max_lists:
            del self._cut[next(iter(self._cut))]
        return result

    def _close(self, action_id: str, complete: Frame | None) -> ListResult:
        response, items = self._open.pop(action_id)
        self._items -= len(items)
        return ListResult(action_id, response, tuple(items), complete)
