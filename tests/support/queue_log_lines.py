"""Real queue_log lines for live tests: the captured Asterisk 22 run (tests/fixtures/asterisk22-light), moved to now."""

from __future__ import annotations

import time
from pathlib import Path

from fixture_paths import LIGHT


def shifted_lines() -> list[bytes]:
    """The captured queue_log's lines, their epochs moved so the first is now."""
    lines = (LIGHT / "queue_log").read_bytes().splitlines(keepends=True)
    shift = int(time.time()) - int(lines[0].split(b"|", 1)[0])
    return [b"%d|%s" % (int(epoch) + shift, rest) for epoch, rest in (line.split(b"|", 1) for line in lines)]


def entered(data: bytes) -> list[str]:
    """The call ids of the ENTERQUEUE lines of ``data``, in order."""
    return [
        fields[1].decode() for fields in (line.split(b"|") for line in data.splitlines()) if fields[4] == b"ENTERQUEUE"
    ]


def append(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path``, as the PBX does."""
    with path.open("ab") as stream:
        stream.write(data)
