"""The engine's call events: queued, answered, ended, abandoned, exited, held, transferred, responded, dialed.

A mixin of ``wallboard.core.engine.State`` (whose module docstring, *Calls* and *Channels*, says what each
event means); ``wallboard.core.queues`` and ``wallboard.core.calls`` keep count of what these decide.
"""

from __future__ import annotations

from datetime import datetime

from wallboard.core.agent_state import AgentInput
from wallboard.core.agents import Agent, CallKey
from wallboard.core.calls import exit_outcome
from wallboard.core.campaigns import CampaignBook
from wallboard.core.channels import DIGITAL_CHANNELS, Responded, capacity, first_response, observe
from wallboard.core.engine_base import _NEVER, EngineBase
from wallboard.core.events import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallExited,
    CallHold,
    CallQueued,
    CallTransferred,
    ContactResponded,
    DialAttempt,
    DialResult,
    Event,
)
from wallboard.core.queues import Call, Queue

_EXIT_FIELD = {"timeout": "timed_out", "unknown": "unknown"}  # every other reason: exited_other
_ANSWER = AgentInput.ANSWER


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


class CallHandlers(EngineBase):
    """The State's handlers of call, contact and dialer events, and the helpers its other parts share."""

    def _queue(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = Queue(name, self.site)
        return queue

    def _on_queued(self, event: CallQueued) -> None:
        name, call_id = event.queue, event.call_id
        queue = self._queues.get(name) or self._queue(name)
        key = (name, call_id)
        if call_id in queue.waiting or call_id in queue.uncertain or key in self._talking or key in self._closed:
            self.anomalies["duplicate_queued"] += 1
            return
        call = Call(name, call_id, event.ts)
        call.caller, call.caller_name, call.position = event.caller, event.caller_name, event.position
        call.repeat = self._repeats.entered(event.caller, event.ts)
        queue.waiting[call_id] = call

    def _on_answered(self, event: CallAnswered) -> None:
        name, call_id = event.queue, event.call_id
        queue = self._queues.get(name) or self._queue(name)
        key = (name, call_id)
        if key in self._talking or key in self._closed:
            self.anomalies["duplicate_answer"] += 1
            return
        ts = event.ts
        call = queue.take(call_id) or Call(name, call_id, None)
        agent = self._roster.get(event.agent, event.interface, event.member_name, ts)
        wait = self._plausible("wait", event.wait_s)
        if wait is None and call.enter is not None:  # the source lacked it: from the call's own times
            wait = self._plausible("wait", _seconds(ts, call.enter))
        queue.count_answer(wait)
        if call.repeat:
            queue.count_repeat()
        self._calls.answered(key, wait)
        call.channel = event.agent_channel
        self._open_talk(call, key, agent, ts)
        presence = agent.presence
        presence.expire(ts)
        presence.join(name, ts)
        if queue.channel not in DIGITAL_CHANNELS:  # a chat or email leaves the phone's state alone
            presence.feed(_ANSWER, ts)

    def _open_talk(self, call: Call, key: CallKey, agent: Agent, ts: datetime) -> None:
        call.agent = agent.id
        call.answered_at = ts
        call.epoch = self._epoch
        call.uncertain_since = None
        self._talking[key] = call
        self._by_id[call.call_id] = call
        if call.channel:
            self._by_channel[call.channel] = call
        agent.calls[key] = call
        agent.day.answered += 1
        agent.total.answered += 1
        agent.presence.interval.answered += 1

    def _on_ended(self, event: CallEnded) -> None:
        ts = event.ts
        name = event.queue
        queue = self._queues.get(name) or self._queue(name)
        agent = self._roster.get(event.agent, event.interface, event.member_name, ts)
        if event.call_id is None:
            key = next((k for k in reversed(agent.calls) if k[0] == name), None)
            if key is None:
                self.anomalies["end_without_call"] += 1
                return
        else:
            key = (name, event.call_id)
        call = self._talking.pop(key, None)
        if call is None:
            if key in self._closed:
                self.anomalies["duplicate_end"] += 1
                return
            call = self._first_seen_at_end(queue, key, event, agent)
        owner = self._agents.get(call.agent, agent)
        if event.ended_by == "transfer":
            for stats in (owner.day, owner.total, owner.presence.interval):
                stats.transfers += 1
        talk = self._plausible("talk", event.talk_s)
        self._close_talk(queue, call, key, owner, ts, talk, event.hold_s, None, event.ended_by)

    def _first_seen_at_end(self, queue: Queue, key: CallKey, event: CallEnded, agent: Agent) -> Call:
        call = queue.take(key[1]) or Call(key[0], key[1], None)
        wait = self._plausible("wait", event.wait_s)
        talk = self._plausible("talk", event.talk_s)
        if wait is None and call.enter is not None and talk is not None:
            wait = self._plausible("wait", max(0.0, _seconds(event.ts, call.enter) - talk))
        queue.count_answer(wait)
        if call.repeat:
            queue.count_repeat()
        self._calls.answered(key, wait)
        self._open_talk(call, key, agent, event.ts)
        del self._talking[key]
        return call

    def _close_talk(
        self,
        queue: Queue,
        call: Call,
        key: CallKey,
        agent: Agent,
        ts: datetime,
        talk: float | None,
        hold: float | None,
        wrap: float | None,
        ended_by: str = "unknown",
    ) -> None:
        """Count an answered call's end (and log it); ``talk`` None (unknown or implausible) is from its answer time."""
        if talk is None and call.answered_at is not None:
            talk = self._plausible("talk", _seconds(ts, call.answered_at))
        if hold is None:
            hold = call.hold_s + (_seconds(ts, call.hold_since) if call.hold_since is not None else 0.0)
        hold = self._plausible("hold", hold)
        wrap = self._plausible("wrap", self._wrapup(agent, queue) if wrap is None else wrap)
        times = None if talk is None or hold is None or wrap is None else (talk, hold, wrap)
        queue.count_handled(times)
        self._calls.ended(key, call, ts, True, (talk, hold, wrap), ended_by)
        for stats in (agent.day, agent.total):
            stats.handle(times)
        agent.presence.interval.handle(times)
        medium = queue.channel
        if medium in DIGITAL_CHANNELS and self._load(agent, medium) >= capacity(self.site, agent.id, medium):
            agent.freed_at = ts  # at capacity until now: free for one more from here (its time in state)
        self._forget_talk(call, key, agent)
        presence = agent.presence
        presence.expire(ts)
        if queue.channel not in DIGITAL_CHANNELS and (not agent.calls or not self._on_phone(agent)):
            presence.call_ended(ts, wrap or 0.0)

    def _load(self, agent: Agent, channel: str) -> int:
        """The agent's open contacts of ``channel``."""
        queues = self._queues
        return sum(1 for call in agent.calls.values() if queues[call.queue].channel == channel)

    def _on_phone(self, agent: Agent) -> bool:
        """Whether one of the agent's open calls is a phone call (not a chat or email contact)."""
        queues = self._queues
        return any(queues[call.queue].channel not in DIGITAL_CHANNELS for call in agent.calls.values())

    def _channel_of(self, event: Event) -> None:
        """An event naming a channel other than voice tells its queue's channel (``wallboard.core.channels``)."""
        name = getattr(event, "queue", None)
        if name:
            observe(self._queue(name), getattr(event, "channel", "voice"), self.anomalies)

    def _on_responded(self, event: ContactResponded) -> None:
        """A contact's first reply: its first response time, once per contact (``wallboard.core.channels``)."""
        key = (event.queue, event.call_id)
        responded = self._responded
        if responded is None:  # a State from a checkpoint written before channels existed
            responded = self._responded = Responded()
        if responded.seen(key):
            self.anomalies["duplicate_response"] = self.anomalies.get("duplicate_response", 0) + 1
            return
        queue = self._queue(event.queue)
        call = self._talking.get(key) or queue.waiting.get(event.call_id) or queue.uncertain.get(event.call_id)
        queue.count_response(self._plausible("response", first_response(event, call)))

    def _forget_talk(self, call: Call, key: CallKey, agent: Agent) -> None:
        agent.calls.pop(key, None)
        if self._by_id.get(call.call_id) is call:
            del self._by_id[call.call_id]
        if call.channel and self._by_channel.get(call.channel) is call:
            del self._by_channel[call.channel]
        self._closed.add(key)

    def _plausible(self, figure: str, seconds: float | None) -> float | None:
        """``seconds``, or None when unknown or longer than the site's ``max_duration_s`` (an anomaly, counted)."""
        if seconds is None or seconds <= self._max_duration_s:
            return seconds
        key = f"implausible_{figure}"
        self.anomalies[key] = self.anomalies.get(key, 0) + 1  # .get: a checkpoint may predate the key
        return None

    def _wrapup(self, agent: Agent, queue: Queue) -> float:
        member = agent.presence.memberships.get(queue.name)
        if member is not None and member.wrapup_s:
            return member.wrapup_s
        return queue.wrapup_s

    def _unanswered(self, queue_name: str, call_id: str) -> tuple[Queue, Call | None] | None:
        """Close a call that left the queue unanswered; its queue and call, or None when the outcome is ignored."""
        queue = self._queue(queue_name)
        key = (queue_name, call_id)
        if key in self._talking:
            self.anomalies["outcome_after_answer"] += 1
            return None
        if key in self._closed:
            self.anomalies["duplicate_outcome"] += 1
            return None
        call = queue.take(call_id)
        self._closed.add(key)
        return queue, call

    def _unanswered_wait(self, queue_name: str, call_id: str, ts: datetime, wait_s: float | None) -> float | None:
        """The wait of a call leaving unanswered: as told, else ts - enter time, else unknown (plausible ones only)."""
        wait = self._plausible("wait", wait_s)
        if wait is not None:
            return wait
        queue = self._queues.get(queue_name)
        call = None if queue is None else (queue.waiting.get(call_id) or queue.uncertain.get(call_id))
        return (
            self._plausible("wait", _seconds(ts, call.enter)) if call is not None and call.enter is not None else None
        )

    def _on_abandoned(self, event: CallAbandoned) -> None:
        wait = self._unanswered_wait(event.queue, event.call_id, event.ts, event.wait_s)
        closed = self._unanswered(event.queue, event.call_id)
        if closed is not None:
            short = wait is not None and wait <= self._short_s
            closed[0].count_outcome("abandoned", wait, short=short)
            if closed[1] is not None and closed[1].repeat:
                closed[0].count_repeat()
            outcome = "short_abandon" if short else "abandoned"
            self._calls.unanswered((event.queue, event.call_id), closed[1], outcome, event.ts, wait)

    def _on_exited(self, event: CallExited) -> None:
        wait = self._unanswered_wait(event.queue, event.call_id, event.ts, event.wait_s)
        closed = self._unanswered(event.queue, event.call_id)
        if closed is not None:
            closed[0].count_outcome(_EXIT_FIELD.get(event.reason, "exited_other"), wait)
            if closed[1] is not None and closed[1].repeat:
                closed[0].count_repeat()
            self._calls.unanswered((event.queue, event.call_id), closed[1], exit_outcome(event.reason), event.ts, wait)

    def _close_unknown(self, queue: Queue, call: Call, ts: datetime) -> None:
        until = call.uncertain_since or ts
        key = (queue.name, call.call_id)
        self._closed.add(key)
        wait = self._plausible("wait", _seconds(until, call.enter)) if call.enter else None
        queue.count_outcome("unknown", wait)
        if call.repeat:
            queue.count_repeat()
        self._calls.unanswered(key, call, "unknown", until, wait)

    def _close_uncertain(self, queue: Queue) -> None:
        calls, queue.uncertain = queue.uncertain, {}
        for call in calls.values():
            self._close_unknown(queue, call, call.uncertain_since or _NEVER)

    def _on_hold(self, event: CallHold) -> None:
        call = self._by_id.get(event.call_id) if event.call_id else None
        if call is None and event.pbx_channel:
            call = self._by_channel.get(event.pbx_channel)
        if call is None and event.agent:
            agent = self._agents.get(self._roster.resolve(event.agent))
            if agent is not None and agent.calls:
                call = next(reversed(agent.calls.values()))
        if call is None:
            self.anomalies["hold_without_call"] += 1
            return
        if event.held:
            if call.hold_since is None:
                call.hold_since = event.ts
        elif call.hold_since is not None:
            call.hold_s += _seconds(event.ts, call.hold_since)
            call.hold_since = None

    def _on_transferred(self, event: CallTransferred) -> None:
        """The call's end is a CallEnded: its target goes to the call log; one to an escalation target counts.

        An escalation counts once per call (a second transfer of an escalated call does not), for the agent
        who had the call (today, interval), its team through it, and the queue's windows.
        """
        call_id = event.call_id
        if call_id is None:
            agent = self._agents.get(self._roster.resolve(event.agent))
            key = next((k for k in reversed(agent.calls) if k[0] == event.queue), None) if agent else None
            if key is None:
                return
            call_id = key[1]
        key = (event.queue, call_id)
        escalation = event.target in self._escalation
        call = self._talking.get(key)
        if escalation and (call is None or not call.escalated):
            if call is not None:
                call.escalated = True
            owner = self._agents.get(call.agent) if call is not None else None
            if owner is None:
                owner = self._roster.get(event.agent, None, None, event.ts)
            for stats in (owner.day, owner.total, owner.presence.interval):
                stats.escalations += 1
            self._queue(event.queue).count_escalation()
        self._calls.transferred(key, event.target, escalation)

    # -- outbound campaigns (wallboard.core.campaigns keeps count) --------------------------------

    def _dialer(self) -> CampaignBook:
        book = self._campaigns
        if book is None:  # a new State, or one from a checkpoint written before campaigns existed
            site = self.site
            book = CampaignBook(getattr(site, "campaigns", {}), getattr(site, "campaign_defaults", None))
            self._campaigns = book
        return book

    def _on_dial_attempt(self, event: DialAttempt) -> None:
        """An attempt counts in the campaign's window and total, and today unless its day is over."""
        if not self._dialer().attempt(event.campaign, event.call_id, event.ts, today=event.ts >= self._day_start):
            self.anomalies["duplicate_dial"] = self.anomalies.get("duplicate_dial", 0) + 1

    def _on_dial_result(self, event: DialResult) -> None:
        """An outcome likewise; an implausible talk time (> max_duration_s) is unknown, the outcome still counts."""
        talk = self._plausible("talk", event.talk_s) if event.result == "answered" else None
        today = event.ts >= self._day_start
        if not self._dialer().result(event.campaign, event.call_id, event.result, talk, event.ts, today=today):
            self.anomalies["duplicate_dial"] = self.anomalies.get("duplicate_dial", 0) + 1

    def _on_ignored(self, event: Event) -> None:
        """AlertAction is not about calls (the runner hands it to its AlertBook)."""
