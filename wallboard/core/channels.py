"""Channels: which medium a queue serves, agents' concurrent contacts against their capacity, first responses. Pure.

Theory of operation
-------------------
Every call/contact event names its ``channel`` (``wallboard.core.events.Channel``; ``voice`` by default, so
an event stored before channels existed reads as voice). A queue has one channel:

* the site file's ``queues.<q>.channel`` when set: events cannot change it;
* else the first channel other than ``voice`` an event of the queue names (an event without the field says
  ``voice``, so voice cannot tell a queue anything): a chat queue stays a chat queue;
* an event naming another non-voice channel than its queue's counts a ``channel_mismatch`` anomaly and is
  applied to the queue as it is (the event is never dropped).

Phone channels (``voice``, ``callback``, ``outbound``: ``PHONE_CHANNELS``) occupy the agent's phone: their
answer and end drive the displayed state (``wallboard.core.agent_state``) as before. Digital contacts
(``chat``, ``email``) run side by side: they are the agent's open calls (counted, handled, in the call log
and the queue windows like any call) but leave the displayed state alone, so an agent on two chats can be
``available`` for voice. The snapshot shows, per agent with a digital queue or contact, each channel's
open contacts against the agent's capacity (:func:`agent_channels`): the site file's
``agents.<id>.capacity.<channel>``, else ``channel_capacity.<channel>``, else 1. In a digital queue's agent
counts a member is ``paused`` when paused there, ``on_call`` when at capacity on the queue's channel, else
``available`` (it can take one more), whatever the phone does. An agent on digital channels only shows
``on_call`` while at capacity on all of them (:func:`shown_state`): the phone's ``available`` means nothing there.

First response (``contact_responded``): the time from the contact's arrival to the agent's first reply:
``response_s`` as the source measured it, else ts - the contact's enter time when the engine saw it enter,
else unknown. It counts once per (queue, call_id) (a second one is a ``duplicate_response``) in the queue's
windows where the reply happened: ``responded``, the sum ``first_response_s`` over the known ones,
``first_response_unknown``, and ``avg_first_response_s`` (``wallboard.core.metrics.Counters``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from wallboard.core.events import PHONE_CHANNELS, Channel, ContactResponded

if TYPE_CHECKING:
    from wallboard.core.agent_state import Presence
    from wallboard.core.queues import Call, Queue
    from wallboard.core.schema import AgentChannel, AgentStateName
    from wallboard.core.site import SiteConfig

__all__ = [
    "DIGITAL_CHANNELS",
    "ChannelView",
    "Responded",
    "agent_channels",
    "capacity",
    "digital_queue_state",
    "first_response",
    "observe",
    "queue_channel",
    "shown_state",
]

DIGITAL_CHANNELS = frozenset({"chat", "email"})
_BUSY = frozenset({"ringing", "on_call", "wrap_up"})
ChannelState = Literal["available", "busy", "paused", "logged_out"]


def queue_channel(site: SiteConfig, name: str) -> tuple[Channel, bool]:
    """A new queue's channel and whether the site file fixed it."""
    config = site.queues.get(name)
    configured: Channel | None = getattr(config, "channel", None)  # getattr: a checkpoint's older site file
    return (configured, True) if configured is not None else ("voice", False)


def observe(queue: Queue, channel: Channel, anomalies: dict[str, int]) -> None:
    """An event of ``queue`` names ``channel`` (not voice): learn it, or count a mismatch."""
    if queue.channel == channel:
        return
    if queue.channel == "voice" and not queue.channel_configured:
        queue.channel = channel
        return
    anomalies["channel_mismatch"] = anomalies.get("channel_mismatch", 0) + 1


def capacity(site: SiteConfig, agent_id: str, channel: str) -> int:
    """How many contacts of ``channel`` the agent handles at once (agent entry, else site default, else 1)."""
    config = site.agents.get(agent_id)
    own: dict[str, int] = getattr(config, "capacity", None) or {}  # getattr: a checkpoint's older site file
    default: dict[str, int] = getattr(site, "channel_capacity", None) or {}
    return own.get(channel) or default.get(channel) or 1


class Responded:
    """The (queue, call_id) pairs whose first response was counted: at least the last ``size`` (two generations)."""

    __slots__ = ("_size", "_current", "_previous")

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._current: set[tuple[str, str]] = set()
        self._previous: set[tuple[str, str]] = set()

    def seen(self, key: tuple[str, str]) -> bool:
        """True when ``key`` was counted before; otherwise remember it and return False."""
        if key in self._current or key in self._previous:
            return True
        self._current.add(key)
        if len(self._current) >= self._size:
            self._previous, self._current = self._current, set()
        return False

    def __getstate__(self) -> tuple[int, set[tuple[str, str]], set[tuple[str, str]]]:
        return self._size, self._current, self._previous

    def __setstate__(self, state: tuple[int, set[tuple[str, str]], set[tuple[str, str]]]) -> None:
        self._size, self._current, self._previous = state


def first_response(event: ContactResponded, call: Call | None) -> float | None:
    """The first response time the event tells, else from the contact's enter time; None when unknown."""
    if event.response_s is not None:
        return event.response_s
    if call is not None and call.enter is not None:
        return max(0.0, (event.ts - call.enter).total_seconds())
    return None


class ChannelView:
    """What a snapshot needs to show channels: the queues that are not voice, and the site's capacities."""

    __slots__ = ("queues", "site", "_capacity")

    def __init__(self, queues: Mapping[str, str], site: SiteConfig) -> None:
        self.queues = queues  # queue name -> channel, voice queues left out
        self.site = site
        self._capacity: dict[tuple[str, str], int] = {}

    def capacity(self, agent_id: str, channel: str) -> int:
        key = (agent_id, channel)
        found = self._capacity.get(key)
        if found is None:
            found = self._capacity[key] = capacity(self.site, agent_id, channel)
        return found


def agent_channels(
    agent_id: str, presence: Presence, calls: dict[Any, Call], state: str, view: ChannelView
) -> dict[str, AgentChannel] | None:
    """The agent's per-channel load (``schema.AgentChannel``); None for an agent with voice queues and calls only.

    A phone channel is ``busy`` while the displayed state is (ringing, on a call, wrap-up); a digital one when
    its open contacts reach the capacity. Otherwise ``paused`` when paused in every queue of that channel it
    belongs to, ``logged_out`` when it belongs to none (an open contact only), else ``available``.
    """
    queues = view.queues
    opened: dict[str, int] = {}
    for call in calls.values():
        channel = queues.get(call.queue, "voice")
        opened[channel] = opened.get(channel, 0) + 1
    member: dict[str, bool] = {}  # channel -> paused in every queue of it so far
    for name, membership in presence.memberships.items():
        channel = queues.get(name, "voice")
        member[channel] = member.get(channel, True) and membership.paused
    if all(channel == "voice" for channel in (*opened, *member)):
        return None
    out: dict[str, AgentChannel] = {}
    for channel in sorted({*opened, *member}):
        cap = view.capacity(agent_id, channel)
        count = opened.get(channel, 0)
        out[channel] = {
            "open": count,
            "capacity": cap,
            "concurrency_pct": min(100.0, 100.0 * count / cap),
            "state": _channel_state(channel, count, cap, member.get(channel), state),
        }
    return out


def _channel_state(channel: str, count: int, cap: int, all_paused: bool | None, state: str) -> ChannelState:
    busy = state in _BUSY if channel in PHONE_CHANNELS else count >= cap
    if busy:
        return "busy"
    if all_paused is None:
        return "logged_out"
    return "paused" if all_paused else "available"


def digital_queue_state(paused: bool, channels: dict[str, AgentChannel] | None, channel: str) -> str:
    """The state a member counts as in a digital queue: paused there, else on_call at capacity, else available."""
    if paused:
        return "paused"
    entry = channels.get(channel) if channels is not None else None
    return "on_call" if entry is not None and entry["open"] >= entry["capacity"] else "available"


def shown_state(state: AgentStateName, channels: dict[str, AgentChannel] | None) -> AgentStateName:
    """The state an agent shows: its phone's, but an agent on digital channels only (no phone queue nor phone
    contact) who is at capacity on every one of them shows ``on_call``: it can take nothing more, and a supervisor
    counting who is available must not count it (the phone's ``available`` of a chat-only agent means nothing)."""
    if state != "available" or not channels:
        return state
    for channel, entry in channels.items():
        if channel not in DIGITAL_CHANNELS or entry["state"] not in ("busy", "logged_out"):
            return state
    return "on_call" if any(entry["state"] == "busy" for entry in channels.values()) else state


def is_digital(channel: str) -> bool:
    """Contacts of ``channel`` leave the displayed (phone) state alone."""
    return channel in DIGITAL_CHANNELS
