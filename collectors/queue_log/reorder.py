"""A reorder window: items stamped in whole seconds go in in reading order and come out in time order. Pure.

Theory of operation
-------------------
Real queue_log files are out of order by a second, edited ones by far more. Each pushed batch is held
and released, sorted by second and stable (ties in arrival order), once a batch more than
``window_s`` seconds newer has been pushed, or by :meth:`ReorderBuffer.flush`. A batch older than what
was already released is released at once, as it is: it is never dropped, and never held behind newer
items it can no longer precede.

Held batches are a deque sorted by second, arrival order within a second: a batch in reading order (the
usual case) is appended, a late one is inserted after the last batch of its second or earlier (found by
bisection); releasing pops from the oldest end. Memory is bounded by what ``window_s`` seconds of input
hold (plus what arrives before the next flush when the input stops).

A batch may carry a *mark*, the reading position of what it came from (a line number, a byte offset):
:attr:`ReorderBuffer.first_mark` is the smallest mark still held, so a reader that saves where it has
read up to can save that mark instead of its own position, and never claim input whose items were not
released yet.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from operator import itemgetter
from typing import Generic, TypeVar

__all__ = ["ReorderBuffer"]

T = TypeVar("T")
_second = itemgetter(0)


class ReorderBuffer(Generic[T]):
    """Hold batches for ``window_s`` seconds of newer input; release them sorted by second, stable."""

    __slots__ = ("_window", "_held", "_newest", "_released")

    def __init__(self, window_s: int) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        self._window = window_s
        self._held: deque[tuple[int, list[T], int | None]] = deque()
        self._newest = -1
        self._released = -1

    def __len__(self) -> int:
        """Batches held."""
        return len(self._held)

    @property
    def first_mark(self) -> int | None:
        """The smallest mark of the batches held (None when none is held, or none held has a mark)."""
        return min((mark for _, _, mark in self._held if mark is not None), default=None)

    def push(self, second: int, items: list[T], mark: int | None = None) -> list[T]:
        """Add ``items`` stamped ``second`` (read at ``mark``); return what is now ready, oldest first."""
        held = self._held
        if second >= self._newest:
            self._newest = second
            held.append((second, items, mark))
        elif second < self._released:
            return items
        else:
            self._insert(second, items, mark)
        before = self._newest - self._window
        return self._release(before) if held[0][0] < before else []

    def flush(self) -> list[T]:
        """Release everything held (end of input, or the input is idle); pushing may continue."""
        return self._release(self._newest + 1) if self._held else []

    def _insert(self, second: int, items: list[T], mark: int | None) -> None:
        """Place a late batch after every held batch of its second or earlier (stable)."""
        self._held.insert(bisect_right(self._held, second, key=_second), (second, items, mark))

    def _release(self, before: int) -> list[T]:
        held = self._held
        out: list[T] = []
        while held and held[0][0] < before:
            second, items, _ = held.popleft()
            out += items
            self._released = second
        return out
