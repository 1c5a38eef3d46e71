"""The other side of bench_esl.py's comparison: genesis (an asyncio FreeSWITCH ESL library) parsing the same bytes.

Runs in the isolated venv bench_esl.py builds (genesis pins versions that conflict with ours); it imports nothing
from wallboard. genesis's parser is not sans-I/O: it reads from an ``asyncio.StreamReader`` (one ``readline()``
per header line, ``readexactly()`` for a body) inside ``Protocol.handler()``, its connection's read loop, and
queues one ``ESLEvent`` (a dict of URL-decoded headers, the outer and the ``text/event-plain`` ones merged) per
frame. So this drives that very loop with no server: the StreamReader is fed the bytes in 4 KiB chunks, as a
socket gives them, and the queued events are drained after each chunk (so they do not pile up in memory), as
its consumer would. Nothing is dispatched to handlers: like bench_esl.py's (a), bytes -> decoded frames.

Run: <venv>/bin/python benchmarks/esl_genesis_side.py FILE  -> prints {"frames": N, "seconds": S} as JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from genesis.protocol.base import Protocol

CHUNK = 4096


async def _parse(data: bytes) -> int:
    protocol = Protocol()
    reader = asyncio.StreamReader()
    protocol.reader, protocol.is_connected = reader, True
    frames = 0

    def drain() -> None:
        nonlocal frames
        while not protocol.events.empty():
            if protocol.events.get_nowait() is not None:  # None: genesis's end-of-stream mark
                frames += 1

    async def feed() -> None:
        for start in range(0, len(data), CHUNK):
            reader.feed_data(data[start : start + CHUNK])
            await asyncio.sleep(0)  # the read loop takes the chunk
            drain()
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    await protocol.handler()
    await feeder
    drain()
    return frames


def main() -> int:
    data = Path(sys.argv[1]).read_bytes()
    started = time.perf_counter()
    frames = asyncio.run(_parse(data))
    print(json.dumps({"frames": frames, "seconds": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
