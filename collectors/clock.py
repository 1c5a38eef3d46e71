"""Guard a live source against records stamped in the future. Pure: the clock is an argument.

Theory of operation
-------------------
A PBX writes the time of its own clock into each record; the collector reads the records a moment
later on its clock. The two clocks may disagree by a constant *skew* (no NTP on one of them), and a
record may carry a time that has nothing to do with either (a line appended by hand, a restored
backup, a clock set two days ahead and back). A record stamped more than ``tolerance_s`` ahead of
the collector's clock, once the skew is allowed for, is *ahead*: the collector rejects it
(``clock_ahead``) instead of letting it move the engine's interval and day into the future.

The skew is the median offset (record time - collector time) of the records read **at the live end**
of the source, the only ones whose offset says something about the clocks: a backlog (a file read
from its start, lines written while the collector was down) is old by definition. The collector says
which records are live by setting :attr:`ClockGuard.live` before it feeds them (True when the poll
that read them had caught up with the end of the file).

What keeps one bad record from teaching the guard a wrong skew:

* only the last ``memory`` offsets are kept (bounded), and the skew is their median, which one
  outlier cannot move by more than one rank;
* the skew is trusted only once ``min_samples`` offsets were seen (until then it is 0: a future-dated
  first live line is compared with the collector's clock itself);
* an offset beyond ``max_skew_s`` either way is never observed (a clock hours off is broken, not
  skewed), so a burst of future-dated lines cannot make itself acceptable.
"""

from __future__ import annotations

import time
from bisect import insort
from collections import deque
from collections.abc import Callable

__all__ = ["DEFAULT_TOLERANCE_S", "ClockGuard"]

DEFAULT_TOLERANCE_S = 900.0
DEFAULT_MAX_SKEW_S = 3600.0


class ClockGuard:
    """Says whether a record's time is ahead of the collector's clock (see the module docstring)."""

    def __init__(
        self,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        now: Callable[[], float] = time.time,
        *,
        memory: int = 101,
        min_samples: int = 5,
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
    ) -> None:
        if tolerance_s <= 0:
            raise ValueError(f"tolerance_s must be > 0, got {tolerance_s}")
        if memory < 1 or not 1 <= min_samples <= memory:
            raise ValueError(f"need 1 <= min_samples <= memory, got min_samples={min_samples}, memory={memory}")
        self.tolerance_s = tolerance_s
        self.max_skew_s = max_skew_s
        self.min_samples = min_samples
        self.live = False
        self._now = now
        self._offsets: deque[float] = deque(maxlen=memory)  # arrival order, to forget the oldest
        self._sorted: list[float] = []  # the same offsets, sorted, for the median

    @property
    def skew_s(self) -> float:
        """Record time - collector time, as measured on live records; 0 until ``min_samples`` were seen."""
        ranked = self._sorted
        if len(ranked) < self.min_samples:
            return 0.0
        middle = len(ranked) // 2
        return ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) / 2

    @property
    def skew_note(self) -> str:
        """`` (PBX skew +N s)`` for a message when a skew is in use, else empty."""
        return f" (PBX skew {self.skew_s:+.0f} s)" if len(self._sorted) >= self.min_samples else ""

    @property
    def samples(self) -> int:
        """How many live offsets the skew is the median of."""
        return len(self._sorted)

    def ahead(self, epoch: float) -> bool:
        """Whether a record stamped ``epoch`` (seconds) is beyond now + skew + tolerance; then observes it if live.

        A record is judged by the skew measured before it: it never vouches for itself.
        """
        now = self._now()
        ahead = epoch > now + self.skew_s + self.tolerance_s
        if self.live:
            self._observe(epoch - now)
        return ahead

    def _observe(self, offset: float) -> None:
        if abs(offset) > self.max_skew_s:
            return
        offsets = self._offsets
        if len(offsets) == offsets.maxlen:
            self._sorted.remove(offsets[0])
        offsets.append(offset)
        insort(self._sorted, offset)
