"""The file collector's health says whether it follows a file: ``following`` is 0 while its path names none
(/readyz's ``collector:queue_log`` check reads it)."""

from __future__ import annotations

from pathlib import Path

from collectors.queue_log.collector import QueueLogCollector
from wallboard.core.events import Event


async def ignore(events: list[Event]) -> None:
    return None


async def test_following_is_set_once_the_file_exists(tmp_path: Path) -> None:
    """No file at the path: following 0 in the health fields; once it exists and is opened, 1."""
    path = tmp_path / "queue_log"
    collector = QueueLogCollector(path, ignore)
    try:
        await collector.poll_once()
        assert collector.stats.as_fields()["following"] == "0"
        path.write_bytes(b"")
        await collector.poll_once()
        assert collector.stats.as_fields()["following"] == "1"
    finally:
        collector.close()
