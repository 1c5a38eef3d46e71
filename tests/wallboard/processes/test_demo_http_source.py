"""``wallboard demo`` posts a simulated web chat and an outbound campaign to its own ``POST /api/v1/events`` as an
``ingest`` user: the snapshot shows the chat queue (``channel: chat``) and the campaign with its limit, a repeated
batch is all duplicates, the display token may not post, and the user's password is shown once, never logged."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import ROOT, WALLBOARD, clean_env, free_port, stop
from waiting import poll_until

from wallboard.cli import build_parser

START_S = 45.0


def test_the_http_source_is_on_by_default_and_an_option_turns_it_off() -> None:
    parser = build_parser()
    assert parser.parse_args(["demo"]).http_source is True
    assert parser.parse_args(["demo", "--no-http-source"]).http_source is False


@pytest.mark.slow  # the whole demo as a process: Redis, simulator, AMI collector, engine, API, HTTP source
async def test_the_demo_posts_a_chat_queue_and_a_campaign_over_http_as_an_ingest_user(tmp_path: Path) -> None:
    env = clean_env(tmp_path, {"PYTHONUNBUFFERED": "1"})
    log = tmp_path / "demo.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [*WALLBOARD, "demo", "--port", str(free_port()), "--speed", "20", "--agents", "8", "--queues", "2"],
            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert process.stdout is not None
    try:
        line = process.stdout.readline().strip()  # the URL, once the API holds a snapshot
        found = re.fullmatch(r"(http://[\d.]+:\d+)/\?token=([\w-]+)", line)
        assert found, f"the demo announced {line!r}:\n{log.read_text()[-2000:]}"
        base, token = found[1], found[2]
        feeds = re.search(r"as user 'feeds', password '([^']+)'", log.read_text())
        assert feeds, log.read_text()[-2000:]
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            shown: dict[str, Any] = {}

            async def posted() -> bool:
                shown.update((await http.get("/api/v1/snapshot", headers={"Authorization": f"Bearer {token}"})).json())
                chat, renewals = shown["queues"].get("chat"), shown.get("campaigns", {}).get("renewals")
                return bool(chat and chat["total"]["answered"] > 0 and renewals and renewals["window"]["results"] > 0)

            await poll_until(posted, "chats answered and dial results in the snapshot", START_S)
            chat, renewals = shown["queues"]["chat"], shown["campaigns"]["renewals"]
            assert (chat["channel"], chat["display_name"]) == ("chat", "Web chat")
            assert (renewals["regulator"], renewals["limit_pct"], renewals["window_h"]) == ("ofcom", 3.0, 24.0)
            assert any(name.startswith("chat0") for name in shown["agents"])

            login = await http.post("/api/v1/login", json={"name": "feeds", "password": feeds[1]})
            assert login.status_code == 200, login.text
            ingest = {"Authorization": f"Bearer {login.json()['token']}"}
            batch = [{"kind": "dial_attempt", "source": "test", "key": "test/extra/1", "campaign": "renewals",
                      "call_id": "extra-1", "ts": datetime.now(UTC).isoformat()}]  # fmt: skip
            first = await http.post("/api/v1/events", json=batch, headers=ingest)
            again = await http.post("/api/v1/events", json=batch, headers=ingest)
            assert (first.status_code, first.json()) == (202, {"accepted": 1, "duplicates": 0})
            assert (again.status_code, again.json()) == (202, {"accepted": 0, "duplicates": 1})
            display = await http.post("/api/v1/events", json=batch, headers={"Authorization": f"Bearer {token}"})
            assert display.status_code in (401, 403), display.text
        assert log.read_text().count(feeds[1]) == 1  # shown once, as the admin's password is; never logged
    finally:
        stop(process)  # type: ignore[arg-type]
        process.stdout.close()
