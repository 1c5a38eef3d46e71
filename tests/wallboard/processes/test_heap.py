"""The engine's heap trim gives freed pages back to the system (glibc: Debian's, this project's platform)."""

from __future__ import annotations

import gc

from wallboard.processes import heap


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_freed_pages_go_back_to_the_system_after_a_trim() -> None:
    """Blocks freed between kept ones leave holes malloc keeps resident until trimmed (what a day of events does)."""
    assert heap._TRIM is not None  # glibc found: the runner's trim is not a silent no-op here
    blocks = [bytes(2000) for _ in range(60_000)]  # ~120 MB, each block its own malloc (over pymalloc's 512 B)
    kept = blocks[::20]  # one in twenty stays: the freed ones cannot shrink the heap from its top
    del blocks
    gc.collect()
    before = _rss_kb()
    assert heap.release_free_memory() is True
    after = _rss_kb()
    assert before - after > 50_000, (before, after)  # most of the ~114 MB freed is given back
    assert len(kept) == 3_000
