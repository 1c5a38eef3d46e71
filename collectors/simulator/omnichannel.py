"""A seeded model of the contacts that reach a wallboard over HTTP: a web chat queue and an outbound dialer. Pure.

Theory of operation
-------------------
The voice floor is the PBX's (``collectors.simulator.model``, spoken over AMI or ESL); a chat platform and a
dialer are other systems, which post their events to ``POST /api/v1/events`` (``collectors.simulator.http_source``
does, for the demo). ``Omnichannel(chat, campaign, seed=..., start=...)`` keeps a heap of scheduled occurrences in
simulated seconds since ``start``, like ``Simulation``: ``advance(to)`` runs every one due up to ``to`` and returns
the events they made (``wallboard.core.events``, each with its idempotency ``key``), in time order.

Chat (``ChatPolicy``): contacts arrive as a Poisson process whose rate swings slowly around the mean (a sine of
one hour, drawn by thinning), so the queue sometimes backs up. A contact waits (``call_queued``) until an agent
has a free slot: an agent holds at most ``capacity`` chats at once, and the least loaded agent takes the oldest
waiting contact, accepting it a few seconds later (``call_answered``: the slot is held meanwhile). The first
reply follows after a few seconds more (``contact_responded``, timed from the arrival), the chat ends after a
lognormal time (``call_ended``). A contact whose lognormal patience runs out while it waits leaves
(``call_abandoned``). The agents log in at the start (``agent_login``) and stay: the chat team works all day.

Outbound (``CampaignPolicy``): the dialer places calls as a Poisson process (``dial_attempt``); each rings a few
seconds, then ends ``no_answer``, ``busy``, ``machine`` or is answered live. A live answer is ``dropped`` (no agent
free in time) with a probability that wanders between ``drop_pct`` bounds, else connected and talked over: its
``dial_result`` ``answered`` comes at the end of the talk with ``talk_s``, the dropped one two seconds after the
answer. Like a real predictive dialer's pacing, it drops no call that would take its own running drop rate
(dropped / live) over ``pacing_cap_pct``: the rate hovers near the regulator's 3 % and seldom passes it.

Time: the model runs in simulated seconds; an event's ``ts`` is on the wall clock of a run at ``speed``
(``start + seconds / speed``), as the demo's AMI collector stamps the PBX's events when they arrive, while the
durations it tells (``wait_s``, ``response_s``, ``talk_s``) are simulated seconds, as the PBX's are.

Keys: ``<source>/<run>/<contact>/<step>``, with ``run`` the start time in whole seconds: the same seed and start
give the same events and keys (a retried batch is a duplicate), and another run of the demo on the same Redis
(a data directory keeps the API's key markers for days) is not taken for a repeat.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from wallboard.core.events import (
    AgentLogin,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallQueued,
    ContactResponded,
    DialAttempt,
    DialOutcome,
    DialResult,
    Event,
)

__all__ = ["CampaignPolicy", "ChatPolicy", "Omnichannel"]

CHAT_SOURCE = "webchat"
DIALER_SOURCE = "dialer"


@dataclass(frozen=True)
class ChatPolicy:
    """The web chat queue: its agents (site agent ids), their capacity, and the traffic."""

    queue: str = "chat"
    agents: tuple[str, ...] = ("chat01", "chat02", "chat03", "chat04")
    capacity: int = 3  # chats an agent holds at once (the site file's agents.<id>.capacity.chat)
    load: float = 0.8  # mean offered load as a share of every slot: the queue backs up at the swing's top
    swing: float = 0.35  # the arrival rate moves between (1 - swing) and (1 + swing) of its mean, over an hour
    accept_s: tuple[float, float] = (2.0, 12.0)  # from a free slot to the agent accepting the chat
    first_reply_s: tuple[float, float] = (4.0, 30.0)  # from accepting to the first reply
    duration_median_s: float = 360.0  # the chat, accepted to ended (lognormal)
    duration_sigma: float = 0.55
    patience_median_s: float = 240.0  # how long a contact waits before leaving (lognormal)
    patience_sigma: float = 0.8

    def mean_duration_s(self) -> float:
        return self.duration_median_s * math.exp(self.duration_sigma**2 / 2)

    def rate_per_s(self) -> float:
        """The mean arrival rate that offers ``load`` of every agent's slots."""
        return self.load * len(self.agents) * self.capacity / (self.mean_duration_s() + sum(self.accept_s) / 2)


@dataclass(frozen=True)
class CampaignPolicy:
    """The outbound campaign: how often the dialer dials and how its calls end."""

    name: str = "renewals"
    attempts_per_min: float = 6.0
    no_answer: float = 0.36  # shares of the attempts; live answers take the rest
    busy: float = 0.08
    machine: float = 0.21
    ring_s: tuple[float, float] = (6.0, 28.0)
    talk_median_s: float = 150.0
    talk_sigma: float = 0.6
    drop_pct: tuple[float, float] = (1.6, 3.4)  # the drop probability of a live answer wanders in these bounds
    pacing_cap_pct: float = 3.2  # a drop that would take the running drop rate over this is connected instead

    @property
    def live(self) -> float:
        return 1.0 - self.no_answer - self.busy - self.machine


@dataclass
class _Contact:
    n: int
    arrived: float
    agent: str | None = None
    accepted: float = 0.0
    gone: bool = False


@dataclass
class Tally:
    """What the model has emitted, for its tests and the demo's log line."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    responded: int = 0
    ended: int = 0
    attempts: int = 0
    results: dict[str, int] = field(default_factory=dict)

    @property
    def drop_rate_pct(self) -> float | None:
        live = self.results.get("answered", 0) + self.results.get("dropped", 0)
        return None if live == 0 else 100.0 * self.results.get("dropped", 0) / live


class Omnichannel:
    """The chat queue and the campaign, advanced by the caller: ``advance(to)`` returns the events until ``to``."""

    def __init__(
        self,
        chat: ChatPolicy | None,
        campaign: CampaignPolicy | None,
        *,
        seed: int,
        start: datetime,
        speed: float = 1.0,
        site: str = "default",
    ) -> None:
        if start.tzinfo is None:
            raise ValueError(f"start must be timezone-aware, got naive {start.isoformat()}")
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.chat, self.campaign = chat, campaign
        self.start, self.speed, self.site = start, speed, site
        self.now = 0.0
        self.tally = Tally()
        self._run = str(int(start.timestamp()))
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._out: list[Event] = []
        self._rng_chat = random.Random(f"{seed}:chat")
        self._rng_dial = random.Random(f"{seed}:dialer")
        self._waiting: list[_Contact] = []
        self._load: dict[str, int] = {}  # agent -> chats held (accepting or open)
        self._serial = 0
        self._drop_p = 0.0
        self._decided: dict[str, int] = {}
        if chat is not None:
            self._load = dict.fromkeys(chat.agents, 0)
            for agent in chat.agents:
                self._emit(AgentLogin, CHAT_SOURCE, f"{agent}/login", agent=agent, queue=chat.queue)
            self._next_chat(chat)
        if campaign is not None:
            self._drop_p = sum(campaign.drop_pct) / 200.0
            self._next_attempt(campaign)
            self._at(600.0, lambda: self._wander(campaign))

    @property
    def load(self) -> dict[str, int]:
        """The chats each agent holds now (accepting or open)."""
        return dict(self._load)

    def advance(self, to: float) -> list[Event]:
        """Run every occurrence due up to ``to`` simulated seconds since the start; the events, in time order."""
        while self._heap and self._heap[0][0] <= to:
            when, _, handler = heapq.heappop(self._heap)
            self.now = when
            handler()
        self.now = max(self.now, to)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ plumbing

    def _at(self, when: float, handler: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (max(when, self.now), self._seq, handler))

    def _emit(self, kind: Callable[..., Event], source: str, key: str, **fields: object) -> None:
        ts = self.start + timedelta(seconds=self.now / self.speed)
        self._out.append(kind(ts=ts, site=self.site, source=source, key=f"{source}/{self._run}/{key}", **fields))

    # ------------------------------------------------------------------ chat

    def _chat_rate(self, chat: ChatPolicy, when: float) -> float:
        return chat.rate_per_s() * (1.0 + chat.swing * math.sin(2 * math.pi * when / 3600.0))

    def _next_chat(self, chat: ChatPolicy) -> None:
        """Thinning: candidates at the highest rate, each kept with probability rate(t) / highest."""
        ceiling = chat.rate_per_s() * (1.0 + chat.swing)
        if ceiling <= 0:
            return
        when = self.now + self._rng_chat.expovariate(ceiling)

        def candidate() -> None:
            if self._rng_chat.random() * ceiling < self._chat_rate(chat, self.now):
                self._arrive(chat)
            self._next_chat(chat)

        self._at(when, candidate)

    def _arrive(self, chat: ChatPolicy) -> None:
        self._serial += 1
        contact = _Contact(self._serial, self.now)
        self.tally.offered += 1
        self._chat_event(CallQueued, contact, "q", position=len(self._waiting) + 1)
        self._waiting.append(contact)
        patience = self._rng_chat.lognormvariate(math.log(chat.patience_median_s), chat.patience_sigma)
        self._at(self.now + patience, lambda: self._abandon(contact))
        self._dispatch(chat)

    def _chat_event(self, kind: Callable[..., Event], contact: _Contact, step: str, **fields: object) -> None:
        assert self.chat is not None
        self._emit(kind, CHAT_SOURCE, f"c{contact.n}/{step}", call_id=f"chat-{self._run}-{contact.n}",
                   queue=self.chat.queue, channel="chat", **fields)  # fmt: skip

    def _abandon(self, contact: _Contact) -> None:
        if contact.agent is not None or contact.gone:
            return
        position = self._waiting.index(contact) + 1
        self._waiting.remove(contact)
        contact.gone = True
        self.tally.abandoned += 1
        self._chat_event(CallAbandoned, contact, "x", wait_s=round(self.now - contact.arrived, 3), position=position)

    def _dispatch(self, chat: ChatPolicy) -> None:
        """The oldest waiting contacts to the least loaded agents with a free slot (ties: the site's order)."""
        while self._waiting:
            free = [agent for agent in chat.agents if self._load[agent] < chat.capacity]
            if not free:
                return
            agent = min(free, key=lambda name: self._load[name])
            contact = self._waiting.pop(0)
            contact.agent = agent
            self._load[agent] += 1
            self._at(self.now + self._rng_chat.uniform(*chat.accept_s), partial(self._accept, chat, contact))

    def _accept(self, chat: ChatPolicy, contact: _Contact) -> None:
        contact.accepted = self.now
        self.tally.answered += 1
        self._chat_event(CallAnswered, contact, "a", agent=contact.agent, wait_s=round(self.now - contact.arrived, 3))
        reply = self.now + self._rng_chat.uniform(*chat.first_reply_s)
        end = self.now + self._rng_chat.lognormvariate(math.log(chat.duration_median_s), chat.duration_sigma)
        self._at(min(reply, end), lambda: self._respond(contact))
        self._at(max(reply, end), lambda: self._end(chat, contact))

    def _respond(self, contact: _Contact) -> None:
        self.tally.responded += 1
        self._chat_event(ContactResponded, contact, "r", agent=contact.agent,
                         response_s=round(self.now - contact.arrived, 3))  # fmt: skip

    def _end(self, chat: ChatPolicy, contact: _Contact) -> None:
        assert contact.agent is not None
        self.tally.ended += 1
        ended_by = "agent" if self._rng_chat.random() < 0.6 else "caller"
        self._chat_event(CallEnded, contact, "e", agent=contact.agent, talk_s=round(self.now - contact.accepted, 3),
                         wait_s=round(contact.accepted - contact.arrived, 3), ended_by=ended_by)  # fmt: skip
        self._load[contact.agent] -= 1
        self._dispatch(chat)

    # ------------------------------------------------------------------ outbound

    def _next_attempt(self, campaign: CampaignPolicy) -> None:
        if campaign.attempts_per_min <= 0:
            return
        self._at(self.now + self._rng_dial.expovariate(campaign.attempts_per_min / 60.0), lambda: self._dial(campaign))

    def _wander(self, campaign: CampaignPolicy) -> None:
        """Every ten minutes the drop probability takes a step, pulled back towards the middle of its bounds."""
        low, high = (bound / 100.0 for bound in campaign.drop_pct)
        middle = (low + high) / 2
        step = self._rng_dial.gauss(0.25 * (middle - self._drop_p), (high - low) / 8)
        self._drop_p = min(high, max(low, self._drop_p + step))
        self._at(self.now + 600.0, lambda: self._wander(campaign))

    def _dial(self, campaign: CampaignPolicy) -> None:
        self._serial += 1
        n = self._serial
        call_id = f"dial-{self._run}-{n}"
        self.tally.attempts += 1
        self._emit(DialAttempt, DIALER_SOURCE, f"d{n}/a", campaign=campaign.name, call_id=call_id)
        rng = self._rng_dial
        ring = rng.uniform(*campaign.ring_s)
        draw = rng.random()
        outcome: DialOutcome
        if draw < campaign.no_answer:
            outcome = "no_answer"
        elif draw < campaign.no_answer + campaign.busy:
            outcome, ring = "busy", min(ring, 4.0)
        elif draw < campaign.no_answer + campaign.busy + campaign.machine:
            outcome = "machine"
        else:
            outcome = "dropped" if rng.random() < self._drop_p and self._may_drop(campaign) else "answered"
        talk = rng.lognormvariate(math.log(campaign.talk_median_s), campaign.talk_sigma) if outcome == "answered" else 0
        self._decided[outcome] = self._decided.get(outcome, 0) + 1  # the pacing's count, before the results are told
        after = ring + (2.0 if outcome == "dropped" else talk)
        self._at(self.now + after, lambda: self._result(campaign, n, call_id, outcome, talk))
        self._next_attempt(campaign)

    def _may_drop(self, campaign: CampaignPolicy) -> bool:
        dropped = self._decided.get("dropped", 0) + 1
        return 100.0 * dropped / (self._decided.get("answered", 0) + dropped) <= campaign.pacing_cap_pct

    def _result(self, campaign: CampaignPolicy, n: int, call_id: str, outcome: DialOutcome, talk: float) -> None:
        talk_s = round(talk, 3) if outcome == "answered" else None
        self.tally.results[outcome] = self.tally.results.get(outcome, 0) + 1
        self._emit(DialResult, DIALER_SOURCE, f"d{n}/r", campaign=campaign.name, call_id=call_id, result=outcome,
                   talk_s=talk_s)  # fmt: skip
