"""Request bounds (wallboard.api.limits) on a real ``wallboard api`` process, driven with raw sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from api_process import ApiProcess, api_process, raw_request, read_response, read_to_end

from wallboard.core.adherence.schedule import MAX_BYTES as SCHEDULE_MAX_BYTES

MIB = 1024 * 1024
HUGE = 100 * MIB
CHUNK = bytes(MIB)


@pytest.fixture
def api(redis_url: str, tmp_path: Path) -> Iterator[ApiProcess]:
    with api_process(redis_url, tmp_path) as running:
        yield running


def connect(api: ApiProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", api.port), timeout=30)


def send_zeros(sock: socket.socket, size: int) -> None:
    view = memoryview(CHUNK)
    for offset in range(0, size, len(CHUNK)):
        sock.sendall(view[: min(len(CHUNK), size - offset)])


def upload_then_read(api: ApiProcess, size: int) -> tuple[int, bytes, float]:
    """POST a ``size``-byte body to /api/v1/login, all of it, before reading: status, body, seconds taken."""
    started = time.monotonic()
    with connect(api) as sock:
        head = {"Content-Type": "application/json", "Content-Length": str(size)}
        sock.sendall(raw_request("POST", "/api/v1/login", head))
        send_zeros(sock, size)
        status, _, body = read_response(sock)
        assert read_to_end(sock) == b"", "nothing after the answer, then a clean close (no reset)"
    return status, body, time.monotonic() - started


class PeakRss:
    """The highest resident set size of a process while the block runs (sampled every 10 ms)."""

    def __init__(self, api: ApiProcess) -> None:
        self.api = api
        self.peak = api.rss_bytes()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, self.api.rss_bytes())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.api.rss_bytes())


def test_six_concurrent_100_mib_login_bodies_are_refused_and_memory_stays_bounded(api: ApiProcess) -> None:
    """Six unauthenticated 100 MiB bodies at once: each reads 413 after sending it all; RSS grows < 50 MB."""
    warm = httpx.post(f"{api.base}/api/v1/login", json={"name": "nobody"})  # the route's code paths, loaded
    assert warm.status_code == 422
    before = api.rss_bytes()
    with PeakRss(api) as rss, ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: upload_then_read(api, HUGE), range(6)))
    assert [status for status, _, _ in results] == [413] * 6
    assert all(b"expected at most 1048576 bytes" in body for _, body, _ in results)
    assert max(seconds for _, _, seconds in results) < 30
    assert rss.peak - before < 50 * MIB, f"RSS went from {before} to {rss.peak} bytes"


def test_an_announced_oversize_body_is_answered_before_it_is_sent(api: ApiProcess) -> None:
    """Content-Length past the bound: the 413 arrives before a single body byte, and sending it all still works."""
    with connect(api) as sock:
        sock.sendall(raw_request("POST", "/api/v1/login", {"Content-Length": str(HUGE)}))
        status, headers, body = read_response(sock)
        assert (status, headers["connection"]) == (413, "close")
        assert b"read Content-Length 104857600" in body
        send_zeros(sock, HUGE)
        assert read_to_end(sock) == b""


def test_a_chunked_body_is_refused_once_it_passes_the_bound(api: ApiProcess) -> None:
    """Without Content-Length the body is counted as read: 413 past 1 MiB, the rest read and discarded."""
    with connect(api) as sock:
        sock.sendall(raw_request("POST", "/api/v1/login", {"Transfer-Encoding": "chunked"}))
        for _ in range(20):
            sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        status, _, body = read_response(sock)
        assert status == 413 and b"read more than 1048576 bytes of body" in body
        assert read_to_end(sock) == b""


def test_a_body_within_the_bound_reaches_the_route(api: ApiProcess) -> None:
    """A body just under 1 MiB is parsed by the route (a 422 for its JSON), not refused."""
    padding = "x" * (MIB - 100)
    reply = httpx.post(f"{api.base}/api/v1/login", content=f'{{"name": "{padding}"}}'.encode())
    assert reply.status_code == 422


def test_the_schedule_import_has_its_own_larger_bound(api: ApiProcess) -> None:
    """PUT /api/v1/schedules: a 2 MiB body passes the bounds (401 without a login), one past MAX_BYTES is 413."""
    for size, expected in ((2 * MIB, 401), (SCHEDULE_MAX_BYTES + 1, 413)):
        with connect(api) as sock:
            head = {"Content-Type": "text/csv", "Content-Length": str(size)}
            sock.sendall(raw_request("PUT", "/api/v1/schedules", head))
            send_zeros(sock, size)
            status, _, _ = read_response(sock)
        assert status == expected, size


def test_a_query_string_past_the_bound_is_414(api: ApiProcess) -> None:
    """An 8 KiB query string is served; one byte more is 414."""
    ok = httpx.get(f"{api.base}/healthz?pad=" + "x" * (8 * 1024 - 4))
    long = httpx.get(f"{api.base}/healthz?pad=" + "x" * (8 * 1024 - 3))
    assert ok.status_code != 414 and long.status_code == 414


def test_request_headers_past_the_bound_are_refused_by_the_parser(api: ApiProcess) -> None:
    """A request head still unfinished after 16 KiB is refused by h11 (400, closed) before the app sees it."""
    small = httpx.get(f"{api.base}/healthz", headers={"X-Pad": "x" * 8 * 1024})
    assert small.status_code == 200
    with connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"x" * 20 * 1024)
        status, headers, _ = read_response(sock)
        assert (status, headers["connection"]) == (400, "close")
        read_to_end(sock)  # then the server closes (its message has no Content-Length: it runs to the close)


def test_refusals_are_counted_on_metrics(api: ApiProcess) -> None:
    """Each refusal adds one to wallboard_http_requests_refused_total{reason} on the process's /metrics."""
    httpx.get(f"{api.base}/healthz?pad=" + "x" * 9000)
    with connect(api) as sock:
        sock.sendall(raw_request("POST", "/api/v1/login", {"Content-Length": str(2 * MIB)}))
        send_zeros(sock, 2 * MIB)
        read_response(sock)
    metrics = httpx.get(f"{api.base}/metrics").text
    assert 'wallboard_http_requests_refused_total{reason="query_too_long"} 1.0' in metrics
    assert 'wallboard_http_requests_refused_total{reason="body_too_large"} 1.0' in metrics
