"""A real ``wallboard api`` process for tests that need its server as shipped (uvicorn options, access log, RSS).

``api_process(redis_url, tmp_path)`` starts ``wallboard -v api`` on a free port against the test's Redis (site
``paris``) and yields an ``ApiProcess``: its port, its pid, the log its stderr goes to. The process is stopped
when the block ends. ``raw_request`` and ``read_response`` speak HTTP/1.1 on a plain socket, for tests that send
what no well-behaved client would (huge bodies, long heads).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from processes import clean_env, free_port, start, stop, wait_listening

SITE = "paris"


@dataclass(frozen=True)
class ApiProcess:
    port: int
    pid: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """The process's resident set size now (VmRSS of /proc/<pid>/status)."""
        for line in (Path("/proc") / str(self.pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS in /proc/{self.pid}/status")


@contextlib.contextmanager
def api_process(redis_url: str, home: Path, extra: Mapping[str, str] | None = None) -> Iterator[ApiProcess]:
    """``wallboard -v api`` on a free port (INFO logs, uvicorn's access log included) until the block ends."""
    port = free_port()
    env = clean_env(home, {"WALLBOARD_REDIS_URL": redis_url, "WALLBOARD_SITE": SITE, **(extra or {})})
    log = home / "api.log"
    process = start("-v", "api", "--port", str(port), env=env, log=log)
    try:
        wait_listening(port, process, log)
        yield ApiProcess(port, process.pid, log)
    finally:
        stop(process)


def raw_request(method: str, target: str, headers: Mapping[str, str] | None = None) -> bytes:
    """An HTTP/1.1 request head for 127.0.0.1 (the body, if any, is the caller's to send)."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one response with a Content-Length, read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response head; read {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(body)} of {length} body bytes")
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def read_to_end(sock: socket.socket) -> bytes:
    """Whatever the server still sends until it closes the connection (raises ConnectionResetError on a reset)."""
    rest = b""
    while chunk := sock.recv(65536):
        rest += chunk
    return rest
