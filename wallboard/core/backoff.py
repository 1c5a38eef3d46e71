"""Reconnect delays: exponential growth, jitter, a cap, and a reset after a success.

A ``Backoff`` is an endless iterator of delays in seconds. Attempt ``n`` (0-based since the
last ``reset()``) has the nominal delay ``min(cap, initial * factor**n)``; the delay actually
returned is drawn uniformly from ``[nominal * (1 - jitter), nominal]``, so many clients that lost
the same server do not come back in lock-step, and no delay ever exceeds ``cap``. A loop calls
``next()`` after each failure and ``reset()`` once it has done useful work again::

    backoff = Backoff()
    while True:
        try:
            await session()
        except ConnectionError:
            delay = next(backoff)
            log.warning("reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

Pure: no clock and no sleeping here; the random source is injectable for deterministic tests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


class Backoff(Iterator[float]):
    """Endless exponential backoff delays with jitter and a cap; ``reset()`` after a success."""

    def __init__(
        self,
        *,
        initial: float = 0.1,
        factor: float = 2.0,
        cap: float = 30.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0:
            raise ValueError(f"initial delay must be > 0, read {initial}")
        if factor < 1:
            raise ValueError(f"factor must be >= 1, read {factor}")
        if cap < initial:
            raise ValueError(f"cap must be >= the initial delay {initial}, read {cap}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, read {jitter}")
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Delays handed out since the last reset."""
        return self._attempt

    def nominal(self, attempt: int) -> float:
        """The delay before jitter for 0-based ``attempt``."""
        try:
            return min(self.cap, self.initial * self.factor**attempt)
        except OverflowError:  # float power past 1e308: far beyond the cap
            return self.cap

    def __next__(self) -> float:
        nominal = self.nominal(self._attempt)
        self._attempt += 1
        return nominal * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Start again from the initial delay (call after a successful connection)."""
        self._attempt = 0
