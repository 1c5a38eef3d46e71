"""The /ws fan-out: the hub on its own, then real uvicorn + redis-server + the websockets client library."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from api_stack import running_api
from waiting import poll_until
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_ws
from websockets.exceptions import ConnectionClosed

from wallboard.api import create_app, uvicorn_config
from wallboard.api.app import serving
from wallboard.api.ws import Hub, Outbox
from wallboard.config import Settings
from wallboard.core.deltas import apply_diff, diff
from wallboard.store import Store

WAIT_S = 10.0


# -- the hub without a network ----------------------------------------------------------------


@dataclass
class FakeFeed:
    snapshot: dict[str, Any] | None = None


def board(seq: int, waiting: int, **extra: Any) -> dict[str, Any]:
    return {"site": "paris", "seq": seq, "ts": f"t{seq}", "queues": {"support": {"waiting": waiting}}, **extra}


def drain(outbox: Outbox) -> list[dict[str, Any]]:
    messages = []
    while len(outbox):
        messages.append(json.loads(outbox._items.popleft()))
    return messages


def test_outbox_refuses_past_its_limit_and_replace_drops_the_rest() -> None:
    """offer() fails once the outbox holds its limit; replace() leaves exactly one message and counts the drops."""
    outbox = Outbox(3)
    assert [outbox.offer(str(n)) for n in range(4)] == [True, True, True, False]
    outbox.replace("snap")
    assert (len(outbox), outbox.dropped) == (1, 3)


async def test_outbox_get_waits_for_a_message() -> None:
    """get() blocks until something is offered."""
    outbox = Outbox(2)
    getter = asyncio.create_task(outbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    outbox.offer("hello")
    async with asyncio.timeout(WAIT_S):
        assert await getter == "hello"


def test_hub_coalesces_changes_into_one_delta_from_what_was_broadcast() -> None:
    """Two updates between ticks give one delta whose base is the seq last broadcast, applying to the newest."""
    feed = FakeFeed(board(1, 0))
    hub = Hub(feed)
    outbox = hub.connect()
    first = board(1, 0)
    assert drain(outbox) == [{"type": "snapshot", **first, "alerts": []}]
    feed.snapshot = board(2, 4)
    feed.snapshot = board(3, 7)
    hub.tick()
    (delta,) = drain(outbox)
    assert (delta["type"], delta["seq"], delta["base"]) == ("delta", 3, 1)
    assert apply_diff(first, delta["changes"]) == board(3, 7)


def test_hub_sends_nothing_when_the_seq_did_not_move() -> None:
    """A tick without a new seq queues nothing."""
    feed = FakeFeed(board(1, 0))
    hub = Hub(feed)
    outbox = hub.connect()
    drain(outbox)
    feed.snapshot = board(1, 0)
    hub.tick()
    assert len(outbox) == 0


def test_hub_shares_one_serialised_message_among_clients() -> None:
    """Every client's outbox holds the very same string object: serialised once, not per client."""
    feed = FakeFeed(board(1, 0))
    hub = Hub(feed)
    clients = [hub.connect() for _ in range(3)]
    assert len({id(c._items[0]) for c in clients}) == 1
    feed.snapshot = board(2, 1)
    hub.tick()
    assert len({id(c._items[1]) for c in clients}) == 1


def test_client_before_any_snapshot_gets_the_first_one() -> None:
    """A client connected while nothing was published receives the first snapshot when it appears."""
    feed = FakeFeed()
    hub = Hub(feed)
    outbox = hub.connect()
    assert len(outbox) == 0
    feed.snapshot = board(5, 2)
    hub.tick()
    assert [m["type"] for m in drain(outbox)] == ["snapshot"]


def test_full_outbox_is_replaced_by_a_snapshot_the_next_delta_builds_on() -> None:
    """A client that does not drain keeps at most queue_size messages; after the overflow it holds one snapshot."""
    feed = FakeFeed(board(1, 0))
    hub = Hub(feed, queue_size=3)
    slow = hub.connect()
    for seq in range(2, 12):
        feed.snapshot = board(seq, seq)
        hub.tick()
        assert len(slow) <= 3
    assert hub.overflows >= 1 and slow.dropped > 0
    held: dict[str, Any] | None = None
    for message in drain(slow):
        if message["type"] == "snapshot":
            held = {k: v for k, v in message.items() if k not in ("type", "alerts")}
        else:
            assert held is not None and message["base"] == held["seq"]
            held = apply_diff(held, message["changes"])
    assert held == board(11, 11)


def test_resync_replaces_pending_messages_with_the_broadcast_state() -> None:
    """resync() drops what was pending and queues the snapshot of the state last broadcast."""
    feed = FakeFeed(board(1, 0))
    hub = Hub(feed)
    outbox = hub.connect()
    feed.snapshot = board(2, 3)
    hub.tick()
    feed.snapshot = board(3, 9)  # not broadcast yet: the resync must not jump ahead of the deltas
    hub.resync(outbox)
    (message,) = drain(outbox)
    assert (message["type"], message["seq"], message["queues"]) == ("snapshot", 2, {"support": {"waiting": 3}})


def test_a_lower_seq_is_broadcast_as_a_snapshot() -> None:
    """When the runner starts over (seq goes down), clients get a full snapshot, not a delta."""
    feed = FakeFeed(board(10, 1))
    hub = Hub(feed)
    outbox = hub.connect()
    drain(outbox)
    feed.snapshot = board(1, 2)
    hub.tick()
    assert [(m["type"], m["seq"]) for m in drain(outbox)] == [("snapshot", 1)]


def test_heartbeat_carries_the_clock_time() -> None:
    """heartbeat() queues {"type": "heartbeat", "ts", "data_ts"} with the injected clock's time in UTC (no data yet)."""
    hub = Hub(FakeFeed(), clock=lambda: 1_700_000_000.0)
    outbox = hub.connect()
    hub.heartbeat()
    assert drain(outbox) == [{"type": "heartbeat", "ts": "2023-11-14T22:13:20Z", "data_ts": None}]


def test_tick_says_whether_it_sent_anything() -> None:
    """tick() is True after a broadcast; False with nobody connected or when the seq did not move."""
    feed = FakeFeed(board(1, 0))
    hub = Hub(feed)
    assert hub.tick() is False  # nobody to send to: the state is adopted silently
    outbox = hub.connect()
    feed.snapshot = board(2, 3)
    assert hub.tick() is True
    assert hub.tick() is False
    assert [m["seq"] for m in drain(outbox)] == [1, 2]


class SlowDiff:
    """engine.diff taking ``seconds`` of wall time (a large site's broadcast); records when each call started."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.starts: list[float] = []

    def __call__(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        self.starts.append(asyncio.get_running_loop().time())
        time.sleep(self.seconds)  # simulated work inside the broadcast, not a wait for something to settle
        return diff(old, new)


async def test_broadcasts_start_interval_apart_counted_from_the_previous_start() -> None:
    """Back-to-back updates go out interval_s apart, counted from the start of the previous broadcast:
    a broadcast that takes long does not push the next one a whole interval further."""
    interval, work = 0.4, 0.3
    feed = FakeFeed(board(1, 0))
    slow = SlowDiff(work)
    hub = Hub(feed, interval_s=interval, heartbeat_s=3600, diff=slow)
    outbox = hub.connect()
    assert json.loads(await outbox.get())["type"] == "snapshot"
    running = asyncio.create_task(hub.run())
    try:
        for seq in (2, 3, 4):
            feed.snapshot = board(seq, seq)
            hub.notify()
            async with asyncio.timeout(WAIT_S):
                assert json.loads(await outbox.get())["seq"] == seq
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    gaps = [later - earlier for earlier, later in zip(slow.starts, slow.starts[1:], strict=False)]
    assert len(gaps) == 2
    assert all(gap >= interval - 0.001 for gap in gaps), gaps  # never more than one broadcast per interval
    assert all(gap < interval + work for gap in gaps), gaps  # counted from the start, not the end


# -- end to end: uvicorn, redis-server, websockets ---------------------------------------------


@dataclass
class Publisher:
    """Plays the runner: writes the snapshot key, then publishes the delta from the previous publish."""

    store: Store
    seq: int = 0
    published: dict[str, Any] = field(default_factory=dict)

    async def publish(self, snapshot: dict[str, Any], *, announce: bool = True) -> dict[str, Any]:
        self.seq += 1
        full = {**snapshot, "seq": self.seq, "stream_id": f"{self.seq}-0"}
        await self.store.events.save_state(json.dumps(full), None, full["stream_id"], self.seq)
        if announce:
            changes = diff(self.published, full)
            await self.store.events.publish_delta(
                {"type": "delta", "seq": self.seq, "base": self.seq - 1, "changes": changes}
            )
        self.published = full
        return full


def site_board(site: str, waiting: int, **extra: Any) -> dict[str, Any]:
    return {"site": site, "ts": "2024-01-01T09:00:00+00:00", "queues": {"support": {"waiting": waiting}}, **extra}


@pytest.fixture
def stores(store: Store) -> dict[str, Store]:
    return {"paris": store, "lyon": Store(store.client, site="lyon")}


api = functools.partial(running_api, users=False, auth_enabled=False, ws_interval_s=0.01)


async def wait_for(condition: Any) -> None:
    await poll_until(condition, "the condition", WAIT_S)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] != "heartbeat":
                return message


def open_ws(url: str, **options: Any) -> connect_ws:
    return connect_ws(url, proxy=None, open_timeout=WAIT_S, **options)


async def test_snapshot_first_then_deltas_after_a_publish(stores: dict[str, Store]) -> None:
    """A client gets the stored snapshot first, then a delta that turns it into the next published one."""
    publisher = Publisher(stores["paris"])
    first = await publisher.publish(site_board("paris", 2))
    async with api(stores["paris"]) as a, open_ws(f"{a.ws_base}/ws") as ws:
        snapshot = await receive(ws)
        assert snapshot == {"type": "snapshot", **first, "alerts": []}
        second = await publisher.publish(site_board("paris", 5))
        delta = await receive(ws)
        assert (delta["type"], delta["seq"], delta["base"]) == ("delta", 2, 1)
        held = {k: v for k, v in snapshot.items() if k not in ("type", "alerts")}
        assert apply_diff(held, delta["changes"]) == second


async def test_gap_in_published_seq_rereads_the_snapshot_key(stores: dict[str, Store]) -> None:
    """A delta whose base is not the seq held makes the API re-read the key; clients still see no gap."""
    publisher = Publisher(stores["paris"])
    await publisher.publish(site_board("paris", 1))
    async with api(stores["paris"]) as a, open_ws(f"{a.ws_base}/ws") as ws:
        assert (await receive(ws))["seq"] == 1
        await publisher.publish(site_board("paris", 2), announce=False)  # the delta of seq 2 is lost
        third = await publisher.publish(site_board("paris", 3))  # seq 3 on base 2: a gap for the API
        delta = await receive(ws)
        assert (delta["seq"], delta["base"]) == (3, 1)
        assert a.runtime.sites["paris"].feed.reloads == 1
        assert a.runtime.sites["paris"].feed.snapshot == third


async def test_engine_restarted_from_nothing_replaces_a_higher_seq(stores: dict[str, Store]) -> None:
    """Redis lost its data and a new engine restarts at seq 1 (base None): the API and its clients follow it."""
    old = Publisher(stores["paris"])
    for waiting in (1, 2, 3):
        await old.publish(site_board("paris", waiting))
    async with api(stores["paris"]) as a, open_ws(f"{a.ws_base}/ws") as ws:
        assert (await receive(ws))["seq"] == 3
        fresh = {**site_board("paris", 9), "seq": 1, "stream_id": "1-0"}
        await stores["paris"].events.save_state(json.dumps(fresh), None, "1-0", 1)
        await stores["paris"].events.publish_delta(
            {"type": "delta", "seq": 1, "base": None, "changes": diff({}, fresh)}
        )
        message = await receive(ws)
        assert message["type"] == "snapshot" and message["seq"] == 1
        assert message["queues"]["support"]["waiting"] == 9
        assert a.runtime.sites["paris"].feed.snapshot == fresh


async def test_resync_request_answers_with_a_snapshot(stores: dict[str, Store]) -> None:
    """{"type": "resync"} gets a full snapshot of the current state."""
    publisher = Publisher(stores["paris"])
    await publisher.publish(site_board("paris", 1))
    async with api(stores["paris"]) as a, open_ws(f"{a.ws_base}/ws") as ws:
        await receive(ws)
        latest = await publisher.publish(site_board("paris", 8))
        assert (await receive(ws))["type"] == "delta"
        await ws.send(json.dumps({"type": "resync"}))
        assert await receive(ws) == {"type": "snapshot", **latest, "alerts": []}


async def test_unknown_message_gets_an_error_and_the_connection_stays(stores: dict[str, Store]) -> None:
    """An unknown type and a non-JSON message each get {"type": "error"}; the socket still serves a resync."""
    await Publisher(stores["paris"]).publish(site_board("paris", 1))
    async with api(stores["paris"]) as a, open_ws(f"{a.ws_base}/ws") as ws:
        await receive(ws)
        await ws.send(json.dumps({"type": "subscribe", "queue": "support"}))
        error = await receive(ws)
        assert error["type"] == "error" and "'subscribe'" in error["message"]
        await ws.send("not json")
        assert (await receive(ws))["type"] == "error"
        await ws.send(json.dumps({"type": "resync"}))
        assert (await receive(ws))["type"] == "snapshot"


async def test_oversize_message_closes_with_1009(stores: dict[str, Store]) -> None:
    """A client message over ws_max_message_bytes closes the connection with code 1009."""
    await Publisher(stores["paris"]).publish(site_board("paris", 1))
    async with api(stores["paris"], ws_max_message_bytes=256) as a, open_ws(f"{a.ws_base}/ws") as ws:
        await receive(ws)
        await ws.send(json.dumps({"type": "resync", "padding": "x" * 300}))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_uvicorn_config_makes_the_server_refuse_oversize_frames(stores: dict[str, Store]) -> None:
    """With uvicorn_config, uvicorn itself closes with 1009 on a frame over ws_max_message_bytes."""
    settings = Settings(auth_enabled=False, site="paris", port=0, ws_max_message_bytes=256)
    app = create_app(settings, store=stores["paris"])
    async with serving(uvicorn_config(app, settings)) as base, open_ws(base.replace("http", "ws", 1) + "/ws") as ws:
        await ws.send("x" * 1000)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_uvicorn_config_turns_permessage_deflate_off(stores: dict[str, Store]) -> None:
    """A client offering permessage-deflate is answered without it: one encoding of a delta serves every client."""
    await Publisher(stores["paris"]).publish(site_board("paris", 1))
    settings = Settings(auth_enabled=False, site="paris", port=0)
    app = create_app(settings, store=stores["paris"])
    async with serving(uvicorn_config(app, settings)) as base, open_ws(base.replace("http", "ws", 1) + "/ws") as ws:
        assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers
        assert (await receive(ws))["type"] == "snapshot"
    assert uvicorn_config(app, settings, ws_per_message_deflate=True).ws_per_message_deflate is True


async def test_heartbeats_arrive_every_heartbeat_interval(stores: dict[str, Store]) -> None:
    """With nothing published, the server still sends {"type": "heartbeat"} messages."""
    await Publisher(stores["paris"]).publish(site_board("paris", 1))
    async with api(stores["paris"], ws_heartbeat_s=0.05) as a, open_ws(f"{a.ws_base}/ws") as ws:
        kinds: list[str] = []
        async with asyncio.timeout(WAIT_S):  # under load the API's feed may still be loading: heartbeats first
            while "snapshot" not in kinds or kinds[kinds.index("snapshot") :].count("heartbeat") < 2:
                kinds.append(json.loads(await ws.recv())["type"])
        assert set(kinds) == {"snapshot", "heartbeat"} and kinds.count("snapshot") == 1


async def test_two_sites_are_isolated(stores: dict[str, Store]) -> None:
    """One API serving two sites: a publish for lyon reaches lyon's clients and never paris's."""
    paris, lyon = Publisher(stores["paris"]), Publisher(stores["lyon"])
    await paris.publish(site_board("paris", 1))
    await lyon.publish(site_board("lyon", 10))
    async with (
        api(stores["paris"], sites=("lyon",), ws_heartbeat_s=0.05) as a,
        open_ws(f"{a.ws_base}/ws") as ws_paris,
        open_ws(f"{a.ws_base}/ws?site=lyon") as ws_lyon,
    ):
        assert (await receive(ws_paris))["site"] == "paris"
        assert (await receive(ws_lyon))["site"] == "lyon"
        await lyon.publish(site_board("lyon", 11))
        assert (await receive(ws_lyon))["changes"]["queues"] == {"support": {"waiting": 11}}
        # paris hears heartbeats only: wait for two of them after lyon's delta was delivered
        beats = 0
        async with asyncio.timeout(WAIT_S):
            while beats < 2:
                message = json.loads(await ws_paris.recv())
                assert message["type"] == "heartbeat", message
                beats += 1


async def test_unknown_site_closes_with_4404(stores: dict[str, Store]) -> None:
    """/ws?site= naming a site the API does not serve closes with 4404."""
    async with api(stores["paris"]) as a, open_ws(f"{a.ws_base}/ws?site=nowhere") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


def small_buffer_socket(url: str) -> socket.socket:
    """A connected TCP socket whose receive buffer is tiny, so the server's sends back up quickly."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


async def test_slow_client_keeps_a_bounded_queue_and_resumes_from_a_snapshot(stores: dict[str, Store]) -> None:
    """A client that does not read: its outbox never passes ws_send_queue, its pending deltas are dropped,
    and once it reads again it gets a snapshot that the following deltas build on, up to the last publish."""
    publisher = Publisher(stores["paris"])
    await publisher.publish(site_board("paris", 0))
    async with api(stores["paris"], ws_send_queue=4) as a:
        sock = small_buffer_socket(a.ws_base)
        async with open_ws(f"{a.ws_base}/ws", sock=sock, max_queue=1, compression=None, max_size=None) as ws:
            hub = a.runtime.sites["paris"].hub
            await wait_for(lambda: len(hub.clients) == 1)
            (outbox,) = hub.clients
            longest = 0
            for n in range(1, 200):
                blob = base64.b64encode(os.urandom(96_000)).decode()  # incompressible, ~128 kB per delta
                await publisher.publish(site_board("paris", n, blob=blob))
                await wait_for(lambda: hub.sent_seq == publisher.seq)
                longest = max(longest, len(outbox))
                if outbox.dropped:
                    break
            assert outbox.dropped > 0, "the client never fell behind: the test did not exercise the overflow"
            assert longest <= 4
            last = await publisher.publish(site_board("paris", -1))
            held: dict[str, Any] | None = None
            snapshots = 0
            async with asyncio.timeout(WAIT_S):
                while held is None or held["seq"] != last["seq"]:
                    message = json.loads(await ws.recv())
                    if message["type"] == "snapshot":
                        snapshots += 1
                        held = {k: v for k, v in message.items() if k not in ("type", "alerts")}
                    elif message["type"] == "delta":
                        assert held is not None and message["base"] == held["seq"]
                        held = apply_diff(held, message["changes"])
            assert snapshots >= 2  # the first one, and the one that replaced the dropped deltas
            assert held == last
