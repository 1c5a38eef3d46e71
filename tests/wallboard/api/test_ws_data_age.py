"""Every /ws message says how old its data is: deltas and heartbeats carry ``data_ts``, the ts of the snapshot they
bring or last brought, so a page sees data that stopped moving although heartbeats go on."""

from __future__ import annotations

import json
from typing import Any

from wallboard.api.ws import Hub


class Source:
    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None


def board(seq: int, ts: str, waiting: int) -> dict[str, Any]:
    return {"site": "paris", "seq": seq, "ts": ts, "queues": {"support": {"waiting": waiting}}}


def test_deltas_and_heartbeats_carry_the_data_time() -> None:
    """A delta's data_ts is its snapshot's ts; a heartbeat's is the ts last broadcast, unchanged while nothing new
    comes (the engine stopped), next to the server's own time."""
    source = Source()
    hub = Hub(source, clock=lambda: 1_700_000_100.0)
    source.snapshot = board(1, "2023-11-14T22:13:10+00:00", 0)
    outbox = hub.connect()
    source.snapshot = board(2, "2023-11-14T22:13:11+00:00", 4)
    hub.tick()
    hub.heartbeat()
    hub.heartbeat()
    messages = [json.loads(outbox._items.popleft()) for _ in range(len(outbox))]
    assert [m["type"] for m in messages] == ["snapshot", "delta", "heartbeat", "heartbeat"]
    assert messages[0]["ts"] == "2023-11-14T22:13:10+00:00"
    assert messages[1]["data_ts"] == "2023-11-14T22:13:11+00:00"
    assert [m["data_ts"] for m in messages[2:]] == ["2023-11-14T22:13:11+00:00"] * 2
    assert messages[2]["ts"] == "2023-11-14T22:15:00Z"
