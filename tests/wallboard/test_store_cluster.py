"""Tests for the wallboard.store package on a real Redis Cluster: three redis-server masters (Debian package, >= 7).

The session fixture starts the three nodes on free loopback ports, joins them with
``redis-cli --cluster create`` and waits until every node reports ``cluster_state:ok``. Two sites
are picked whose hash tags land on different masters, so "never mix" is tested across shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from waiting import poll_until

from wallboard.api.feed import SiteFeed
from wallboard.config import Settings
from wallboard.core.backoff import Backoff
from wallboard.core.deltas import apply_diff
from wallboard.core.engine import State
from wallboard.core.events import AgentLogin, CallAnswered, CallEnded, CallQueued, Event, parse_event
from wallboard.core.site import QueueConfig, SiteConfig
from wallboard.processes.engine import EngineRunner
from wallboard.store import (
    Checkpoint,
    Client,
    ClusterConfigError,
    ClusterUnavailableError,
    Store,
    SubscriptionLostError,
    connect,
)

START_TIMEOUT_S = 20.0
WAIT_S = 10.0
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # an interval start: every event below falls in [T0, T0 + 15 min)
SITE_NAMES = ("paris", "lyon", "berlin", "madrid", "rome", "oslo", "vienna", "dublin")


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all bound at once, then released)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


START_POLL_S = 0.02


def _poll(condition: Any, what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Wait for an external process' condition (polled), failing with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(START_POLL_S)  # start-up poll of external processes, not a settle-sleep


class Cluster:
    """Three redis-server masters in cluster mode on 127.0.0.1, data and logs in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        ports = _free_ports(6)
        self.ports, self.bus_ports = ports[:3], ports[3:]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """Two seeds only: the client discovers the third node from the cluster."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]},127.0.0.1:{self.ports[1]}/"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=5)

    def start(self) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            pytest.fail("redis-server/redis-cli are not installed: run scripts/bootstrap (Debian package redis-server)")
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            argv += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
            argv += ["--cluster-port", str(bus_port), "--appendonly", "no", "--save", "", "--logfile", f"{port}.log"]
            self.processes.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        for port in self.ports:
            _poll(lambda port=port: self._answers(port), f"redis-server on port {port}")
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        create = [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=START_TIMEOUT_S)
        _poll(self._formed, "cluster_state:ok on every node")

    def _answers(self, port: int) -> bool:
        with contextlib.suppress(RedisError), self.node(port) as node:
            return bool(node.ping())
        return False

    def _formed(self) -> bool:
        """Every node: state ok, all slots assigned, the three masters known."""
        wanted = {"cluster_state": "ok", "cluster_slots_assigned": "16384", "cluster_known_nodes": "3"}
        for port in self.ports:
            with self.node(port) as node:
                info = node.execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
            if {name: info.get(name) for name in wanted} != wanted:
                return False
        return True

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def owner(self, slot: int) -> int:
        """The port of the master serving ``slot``, as every node sees it (None while they disagree)."""
        with self.node(self.ports[0]) as node:
            for start, end, master, *_ in node.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise AssertionError(f"slot {slot} is not served")

    def site_port(self, site: str) -> int:
        return self.owner(key_slot(site.encode()))

    def count_keys(self, port: int, slot: int) -> int:
        """How many keys of ``slot`` the node on ``port`` holds."""
        with self.node(port) as node:
            return int(node.execute_command("CLUSTER COUNTKEYSINSLOT", slot))

    def flush(self) -> None:
        for port in self.ports:
            with self.node(port) as node:
                node.flushall()

    def move_slot(self, slot: int, target: int) -> None:
        """Reshard ``slot`` (and its keys) to the master on port ``target``, the way redis-cli does it."""
        source = self.owner(slot)
        ids = {}
        for port in self.ports:
            with self.node(port) as node:
                ids[port] = node.execute_command("CLUSTER MYID").decode()
        with self.node(source) as from_node, self.node(target) as to_node:
            to_node.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
            from_node.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
            while keys := from_node.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                from_node.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        for port in [target, source] + [p for p in self.ports if p not in (source, target)]:
            with self.node(port) as node:
                node.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target])
        _poll(lambda: self._everyone_sees(slot, target), f"slot {slot} served by port {target} on every node")

    def _everyone_sees(self, slot: int, port: int) -> bool:
        for node_port in self.ports:
            with self.node(node_port) as node:
                ranges = node.execute_command("CLUSTER SLOTS")
            if not any(start <= slot <= end and int(master[1]) == port for start, end, master, *_ in ranges):
                return False
        return True


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A real 3-master Redis Cluster for the whole session, torn down at the end."""
    cluster = Cluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sites(cluster: Cluster) -> tuple[str, str]:
    """Two site names whose hash tags are served by different masters."""
    first = SITE_NAMES[0]
    second = next(name for name in SITE_NAMES if cluster.site_port(name) != cluster.site_port(first))
    return first, second


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[Client]:
    """A cluster client from the cluster's URL, on an emptied cluster."""
    cluster.flush()
    client = connect(cluster.url, client_name="test-cluster")
    yield client
    await client.aclose()


def queued(n: int, site: str) -> Event:
    return CallQueued(ts=T0 + timedelta(seconds=n), site=site, source="test", key=f"q{n}", call_id=f"c{n}", queue="q1")


def calls(site: str, count: int) -> list[Event]:
    """An agent logs in, then ``count`` calls queue, are answered after n s and end after 30 s of talk."""
    events: list[Event] = [AgentLogin(ts=T0, site=site, source="test", key="login", agent="a1", queue="q1")]
    for n in range(count):
        start = T0 + timedelta(seconds=60 * n + 1)
        common = {"site": site, "source": "test", "call_id": f"c{n}", "queue": "q1"}
        answered = start + timedelta(seconds=n)
        events.append(CallQueued(ts=start, key=f"q{n}", **common))
        events.append(CallAnswered(ts=answered, key=f"a{n}", agent="a1", wait_s=float(n), **common))
        events.append(CallEnded(ts=answered + timedelta(seconds=30), key=f"e{n}", agent="a1", talk_s=30.0, **common))
    return events


def site_config(site: str) -> SiteConfig:
    return SiteConfig(site=site, queues={"q1": QueueConfig(wrapup_s=5)})


def replayed(site: str, events: Sequence[Event]) -> dict[str, Any]:
    """What a pure State fed ``events`` shows at T0, JSON-normalised as a reader sees it."""
    state = State(site_config(site))
    for event in events:
        state.apply(event)
    snapshot: dict[str, Any] = json.loads(json.dumps(state.snapshot(T0)))
    return snapshot


def figures(snapshot: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    """The engine's part of a published snapshot: the fields of ``like`` (not seq, stream_id, alerts...)."""
    return {key: snapshot.get(key) for key in like}


async def test_cluster_urls_give_a_cluster_client_with_every_seed_and_the_credentials() -> None:
    """rediss+cluster://user:pw@a,b:7001 -> a RedisCluster over TLS seeded with both nodes; redis:// stays plain."""
    cluster_client, plain_client = (
        connect("rediss+cluster://ops:s3cret@127.0.0.1,127.0.0.2:7001/"),
        connect("redis://h/0"),
    )
    assert isinstance(cluster_client, RedisCluster) and not isinstance(plain_client, RedisCluster)
    assert sorted(node.name for node in cluster_client.startup_nodes) == ["127.0.0.1:6379", "127.0.0.2:7001"]
    options = cluster_client.get_connection_kwargs()
    assert (options["username"], options["password"], options["connection_class"]) == ("ops", "s3cret", SSLConnection)
    assert options["socket_timeout"] is None
    await cluster_client.aclose()
    await plain_client.aclose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+cluster://127.0.0.1:7000,,127.0.0.1:7001/", "empty seed node"),
        ("redis+cluster://127.0.0.1:7000,127.0.0.1:x/", "not host:port"),
        ("redis+cluster://u:hunter2@127.0.0.1:7000/2", "only database 0"),
    ],
)
def test_bad_cluster_urls_are_refused_naming_the_variable_not_the_password(url: str, problem: str) -> None:
    """Settings rejects a malformed cluster URL with a message naming WALLBOARD_REDIS_URL and the problem."""
    with pytest.raises(ValueError) as caught:
        Settings(_env={"WALLBOARD_REDIS_URL": url})
    assert "WALLBOARD_REDIS_URL" in str(caught.value) and problem in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert (
        Settings(_env={"WALLBOARD_REDIS_URL": "redis+cluster://h1:7000,h2/"}).redis_url == "redis+cluster://h1:7000,h2/"
    )


async def test_two_sites_on_different_masters_keep_their_own_streams(
    cluster: Cluster, sites: tuple[str, str], client: Client
) -> None:
    """Each site's events go to its own master's stream; reads, acks and pending counts never mix."""
    (first, second), ports = sites, [cluster.site_port(site) for site in sites]
    stores = [Store(client, site=site) for site in sites]
    for store in stores:
        assert await store.events.ensure_group() is True
    first_ids = await stores[0].events.append_events([queued(n, first) for n in range(3)])
    second_ids = await stores[1].events.append_events([queued(n, second) for n in range(10, 12)])
    read_first = await stores[0].events.read_new("engine", 100, 1)
    read_second = await stores[1].events.read_new("engine", 100, 1)
    assert [entry.id for entry in read_first] == first_ids and [entry.id for entry in read_second] == second_ids
    assert {parse_event(entry.data or b"").site for entry in read_first} == {first}
    assert [parse_event(entry.data or b"").key for entry in read_second] == ["q10", "q11"]
    assert await stores[0].events.ack(first_ids[:2]) == 2
    assert (await stores[0].events.pending_count(), await stores[1].events.pending_count()) == (1, 2)
    assert (await stores[0].events.stream_lag(), await stores[1].events.stream_lag()) == (1, 2)
    for store, port in zip(stores, ports, strict=True):  # the site's slot holds one key (its stream) on its master only
        slot = key_slot(store.site.encode())
        assert {node: cluster.count_keys(node, slot) for node in cluster.ports} == {
            node: int(node == port) for node in cluster.ports
        }


async def test_snapshot_and_checkpoint_are_one_multi_exec_on_the_site_master(
    cluster: Cluster, sites: tuple[str, str], client: Client
) -> None:
    """save_state runs MULTI/EXEC on the master owning the site's slot; both keys read back."""
    store, port = Store(client, site=sites[0]), cluster.site_port(sites[0])

    def exec_calls() -> dict[int, int]:
        counts = {}
        for node_port in cluster.ports:
            with cluster.node(node_port) as node:
                counts[node_port] = int(node.info("commandstats").get("cmdstat_exec", {}).get("calls", 0))
        return counts

    before = exec_calls()
    await store.events.save_state('{"seq": 7}', b"\x00state", "5-1", 7)
    after = exec_calls()
    assert {node_port: after[node_port] - before[node_port] for node_port in cluster.ports} == {
        node_port: int(node_port == port) for node_port in cluster.ports
    }
    assert await store.events.load_snapshot() == {"seq": 7}
    assert await store.events.load_checkpoint() == Checkpoint("5-1", 7, b"\x00state")


async def test_deltas_travel_by_sharded_pubsub_and_stay_with_their_site(
    cluster: Cluster, sites: tuple[str, str], client: Client
) -> None:
    """Each site's subscriber hears its own deltas in order, through SSUBSCRIBE on the site's master."""
    stores = [Store(client, site=site) for site in sites]
    async with stores[0].events.subscribe_updates() as first, stores[1].events.subscribe_updates() as second:
        with cluster.node(cluster.site_port(sites[0])) as owner:
            assert owner.pubsub_shardnumsub(stores[0].keys.updates) == [(stores[0].keys.updates.encode(), 1)]
            assert owner.pubsub_numsub(stores[0].keys.updates) == [(stores[0].keys.updates.encode(), 0)]
        assert await stores[0].events.publish_delta({"seq": 1}) == 1
        assert await stores[1].events.publish_delta({"seq": 100}) == 1
        assert await stores[0].events.publish_delta({"seq": 2}) == 1
        async with asyncio.timeout(WAIT_S):
            heard_first = [await anext(aiter(first)), await anext(aiter(first))]
            heard_second = await anext(aiter(second))
    assert heard_first == [{"seq": 1}, {"seq": 2}]
    assert heard_second == {"seq": 100}


async def test_health_and_tokens_are_read_back_per_site(sites: tuple[str, str], client: Client) -> None:
    """read_health scans only the site's master and returns that site's components; tokens stay per site."""
    stores = [Store(client, site=site) for site in sites]
    await stores[0].events.write_health("engine", {"connected": True, "lag": 0})
    await stores[1].events.write_health("collector:ami", {"connected": False})
    await stores[1].accounts.add_token("ab" * 32, {"role": "display"})
    assert await stores[0].events.read_health() == {"engine": {"connected": "1", "lag": "0"}}
    assert await stores[1].events.read_health() == {"collector:ami": {"connected": "0"}}
    assert (await stores[0].accounts.get_token("ab" * 32), await stores[1].accounts.get_token("ab" * 32)) == (
        None,
        {"role": "display"},
    )


async def test_runners_on_two_shards_feed_an_api_feed_and_a_plain_subscriber(
    cluster: Cluster, sites: tuple[str, str], client: Client
) -> None:
    """One engine per site: the API's SiteFeed and a subscribe_updates() client end with their site's replay."""
    events = {sites[0]: calls(sites[0], 6), sites[1]: calls(sites[1], 2)}
    stores = [Store(client, site=site) for site in sites]
    settings = Settings(_env={}, snapshot_interval_s=0.02, checkpoint_interval_s=0.05)
    runners = [
        EngineRunner(settings, store, site_config(store.site), clock=lambda: T0, backoff=Backoff(initial=0.01, cap=0.1))
        for store in stores
    ]
    feed = SiteFeed(stores[0])
    async with stores[1].events.subscribe_updates() as updates:  # before the runner publishes its first snapshot
        tasks = [asyncio.create_task(job) for job in (feed.run(), *(runner.run() for runner in runners))]
        try:
            last_ids = [(await store.events.append_events(events[store.site]))[-1] for store in stores]
            chain: dict[str, Any] = {}
            async with asyncio.timeout(WAIT_S):
                async for delta in updates:
                    chain = apply_diff(chain if delta["base"] is not None else {}, delta["changes"])
                    if chain.get("stream_id") == last_ids[1]:
                        break
            await poll_until(
                lambda: feed.snapshot is not None and feed.snapshot.get("stream_id") == last_ids[0],
                "the first site's snapshot to reach the last entry",
                WAIT_S,
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
    expected = [replayed(site, events[site]) for site in sites]
    assert feed.snapshot is not None and figures(feed.snapshot, expected[0]) == expected[0]
    assert figures(chain, expected[1]) == expected[1]
    assert expected[0]["site"] == sites[0] and expected[0] != expected[1]


async def test_the_store_follows_its_site_when_the_slot_moves(cluster: Cluster, client: Client) -> None:
    """After a reshard the sharded subscription ends (SubscriptionLostError); commands follow to the new master."""
    site = "zurich"
    slot, store = key_slot(site.encode()), Store(client, site=site)
    source = cluster.owner(slot)
    target = next(port for port in cluster.ports if port != source)
    await store.events.ensure_group()
    first = await store.events.append_events([queued(1, site)])
    try:
        async with store.events.subscribe_updates() as updates:
            cluster.move_slot(slot, target)
            with pytest.raises(SubscriptionLostError):
                async with asyncio.timeout(WAIT_S):
                    await anext(aiter(updates))
        second = await store.events.append_events([queued(2, site)])  # MOVED: redirected, not retried blindly
        assert [entry.id for entry in await store.events.read_new("engine", 10, 1)] == first + second
        await store.events.save_state('{"seq": 1}', b"cp", second[0], 1)
        assert await store.events.load_checkpoint() == Checkpoint(second[0], 1, b"cp")
        async with store.events.subscribe_updates() as updates:
            assert await store.events.publish_delta({"seq": 2}) == 1
            async with asyncio.timeout(WAIT_S):
                assert await anext(aiter(updates)) == {"seq": 2}
        with cluster.node(target) as node:
            assert node.xlen(store.keys.events) == 2
    finally:
        cluster.move_slot(slot, source)


async def test_a_dropped_connection_fails_the_append_instead_of_resending_it(
    cluster: Cluster, sites: tuple[str, str], client: Client
) -> None:
    """The master closes our connections: the next append raises ConnectionError, the one after appends once."""
    store, port = Store(client, site=sites[0]), cluster.site_port(sites[0])
    await store.events.append_events([queued(1, sites[0])])
    with cluster.node(port) as node:
        assert node.client_kill_filter(_type="normal", skipme=True) >= 1
    with pytest.raises(RedisConnectionError):
        await store.events.append_events([queued(2, sites[0])])
    await store.events.append_events([queued(3, sites[0])])
    assert [parse_event(entry.data or b"").key for entry in await store.events.read_range()] == ["q1", "q3"]


async def test_an_unreachable_cluster_is_a_transient_connection_error() -> None:
    """No seed answers: ClusterUnavailableError, a redis ConnectionError the runner and API back off on."""
    (port,) = _free_ports(1)
    client = connect(f"redis+cluster://127.0.0.1:{port}/")
    try:
        with pytest.raises(ClusterUnavailableError) as caught:
            await Store(client, site="paris").events.append_events([queued(1, "paris")])
    finally:
        await client.aclose()
    assert isinstance(caught.value, RedisConnectionError)


async def test_a_cluster_url_naming_a_plain_server_is_a_configuration_error(redis_url: str) -> None:
    """redis+cluster:// pointing at a server without cluster mode raises ClusterConfigError, not a retryable error."""
    client = connect(redis_url.replace("redis://", "redis+cluster://").removesuffix("/0") + "/")
    try:
        with pytest.raises(ClusterConfigError):
            await Store(client, site="paris").events.load_snapshot()
    finally:
        await client.aclose()
