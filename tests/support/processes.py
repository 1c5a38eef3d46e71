"""Running ``wallboard`` commands as real processes in tests: free ports, a clean environment, stopping.

The environment of a child keeps only what a fresh login has (PATH, HOME, LANG) plus what the test
gives: no WALLBOARD_* or REDIS_URL of the developer's shell leaks into it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WALLBOARD = (sys.executable, "-m", "wallboard.cli")
KEPT = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A fresh user's environment: HOME, PATH and the locale, plus ``extra``."""
    env = {name: os.environ[name] for name in KEPT if name in os.environ}
    env["HOME"] = str(home)
    env.update(extra or {})
    return env


def wallboard(*args: str, env: Mapping[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one ``wallboard`` command to its end."""
    return subprocess.run(
        [*WALLBOARD, *args], env=dict(env), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def start(*args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running ``wallboard`` command; its stdout and stderr go to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([*WALLBOARD, *args], env=dict(env), cwd=ROOT, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)  # fmt: skip


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout``; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise AssertionError(f"exited with status {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listened on port {port} within {timeout:.0f} s")
        time.sleep(0.05)  # start-up poll of an external process, bounded by the deadline
