"""The demo's chat platform and dialer: the ``Omnichannel`` model's events, posted to ``POST /api/v1/events``.

``EventPoster`` logs in as an ``ingest`` user (``POST /api/v1/login``) and posts a batch as one JSON array until
the API takes it (202). The batch's body is made once, so every retry sends the same events with the same keys:
a retry of a batch the API appended before the answer was lost is counted as duplicates, never twice. It waits
and tries again while the API is down or answers 5xx (``Backoff``, seeded), after ``Retry-After`` on 429, and
logs in again on 401 (the session expired, or the demo's Redis came back without it). A batch the API refuses
(422, 403, 413) is a bug of the model or of the wiring: logged with the API's reasons and dropped, counted in
``stats.refused``. Nothing here logs the password or the session token.

``feed(model, poster, speed=...)`` advances the model with the event loop's clock (simulated seconds = elapsed
x ``speed``, as the simulated PBX's clock runs) and posts what happened every ``tick_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from collectors.simulator.omnichannel import Omnichannel
from wallboard.core.backoff import Backoff
from wallboard.core.events import Event

__all__ = ["EventPoster", "PostStats", "feed"]

log = logging.getLogger(__name__)

BATCH_MAX = 1000  # events per request (the API takes up to 5,000)
TICK_S = 1.0
REQUEST_TIMEOUT_S = 10.0
REFUSED = frozenset({400, 403, 404, 413, 422})  # answers a retry cannot change


@dataclass
class PostStats:
    """What the poster did: batches taken by the API, their events, and the attempts that failed."""

    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0  # failed attempts retried (API down, 5xx, 429, 401)
    refused: int = 0  # batches the API refused and the poster dropped
    logins: int = 0


class EventPoster:
    """Posts batches of events as ``user`` to the API at ``base_url``, retrying each until it is taken."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        *,
        seed: int = 1,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S)
        self._user, self._password = user, password
        self._backoff = backoff or Backoff(initial=0.5, cap=30.0, rng=random.Random(f"{seed}:http-source"))
        self._sleep = sleep
        self._headers: dict[str, str] = {}
        self.stats = PostStats()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(self, events: Sequence[Event]) -> tuple[int, int]:
        """Post ``events`` as one batch until the API takes it; (accepted, duplicates), or (0, 0) when refused."""
        body = json.dumps([event.model_dump(mode="json") for event in events]).encode()
        while True:
            outcome = await self._attempt(body, len(events))
            if isinstance(outcome, tuple):
                return outcome
            self.stats.retries += 1
            await self._sleep(outcome)

    async def _attempt(self, body: bytes, count: int) -> tuple[int, int] | float:
        """One try: (accepted, duplicates) when the batch is settled (taken or refused), else the seconds to wait
        before the next."""
        try:
            if not self._headers:
                refused = await self._login()
                if refused is not None:
                    return refused
            response = await self._http.post(
                "/api/v1/events", content=body, headers={**self._headers, "Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            return self._down(f"the API did not answer ({type(exc).__name__})")
        if response.status_code == 202:
            answer: dict[str, Any] = response.json()
            taken = (int(answer["accepted"]), int(answer["duplicates"]))
            self.stats.batches += 1
            self.stats.accepted += taken[0]
            self.stats.duplicates += taken[1]
            self._backoff.reset()
            return taken
        if response.status_code == 401:
            self._headers = {}  # the session is gone: log in again at once
            return 0.0
        if response.status_code == 429:
            return _retry_after(response, self._backoff)
        if response.status_code in REFUSED:
            self.stats.refused += 1
            log.error("the API refused a batch of %d events (%d): %s", count, response.status_code,
                      response.text[:2000])  # fmt: skip
            return (0, 0)
        return self._down(f"the API answered {response.status_code}")

    async def _login(self) -> float | None:
        """Log in (the session's header kept); None when done, else the seconds to wait before trying again."""
        response = await self._http.post("/api/v1/login", json={"name": self._user, "password": self._password})
        if response.status_code == 429:
            return _retry_after(response, self._backoff)
        if response.status_code != 200:
            return self._down(f"the API refused the login of {self._user!r} ({response.status_code})")
        self._headers = {"Authorization": f"Bearer {response.json()['token']}"}
        self.stats.logins += 1
        return None

    def _down(self, why: str) -> float:
        delay = next(self._backoff)
        log.warning("%s; posting again in %.1f s", why, delay)
        return delay


def _retry_after(response: httpx.Response, backoff: Backoff) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return next(backoff)


async def feed(model: Omnichannel, poster: EventPoster, *, speed: float, tick_s: float = TICK_S) -> None:
    """Advance ``model`` with the event loop's clock at ``speed`` and post its events every ``tick_s``, forever."""
    loop = asyncio.get_running_loop()
    origin = loop.time() - model.now / speed
    try:
        while True:
            events = model.advance((loop.time() - origin) * speed)
            for first in range(0, len(events), BATCH_MAX):
                await poster.post(events[first : first + BATCH_MAX])
            await asyncio.sleep(tick_s)
    finally:
        await poster.aclose()
