"""Credentials never reach a log line: ``redact``, ``TokenRedactor`` and a real process's access log."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from api_process import ApiProcess, api_process
from waiting import poll_until

from wallboard.admin.accounts import create_display_token
from wallboard.api.auth import redact, redact_server_logs
from wallboard.store import Store

SECRET = "s3cr3t-VALUE_0123456789"


@pytest.mark.parametrize(
    "logged",
    [
        f"GET /api/v1/snapshot?token={SECRET} HTTP/1.1",
        f"GET /api/v1/snapshot?%74oken={SECRET} HTTP/1.1",
        f"GET /api/v1/snapshot?site=paris&TOKEN={SECRET}&x=1 HTTP/1.1",
        f"GET /ws?to%6Ben={SECRET}",
        f"GET /ws?%2574%256Fken={SECRET}",
        f"/ws?site=a;token={SECRET}",
        f"Authorization: Bearer {SECRET}",
        f"[(b'authorization', b'Basic {SECRET}'), (b'host', b'x')]",
        f"{{'cookie': 'wb_session={SECRET}; wb_csrf={SECRET}'}}",
        f"Set-Cookie: wb_session={SECRET}; HttpOnly",
        f"login for bob (session={SECRET})",
    ],
)
def test_redact_masks_every_spelling_of_a_credential(logged: str) -> None:
    """Query tokens however encoded, authorization and cookie headers, bearer credentials: all masked."""
    masked = redact(logged)
    assert SECRET not in masked and "***" in masked


def test_redact_keeps_what_is_not_a_credential() -> None:
    """Other parameters and plain text are left as they are."""
    line = '127.0.0.1:5 - "GET /api/v1/history/queues?from=2026-03-02&queue=sales&site=paris HTTP/1.1" 200'
    assert redact(line) == line
    assert redact("token=abc&site=paris") == "token=***&site=paris"


@contextlib.contextmanager
def captured(name: str) -> Iterator[io.StringIO]:
    """A logger ``name`` writing to a string, with its own handler (not propagated)."""
    out = io.StringIO()
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield out
    finally:
        logger.removeHandler(handler)


def test_every_record_through_a_redacted_handler_is_masked() -> None:
    """A handler redact_server_logs saw masks records of any logger: message, args of any type, traceback."""
    with captured("redaction-test") as out:
        redact_server_logs(("redaction-test",))
        child = logging.getLogger("redaction-test.child")
        child.warning("GET %s from %s", f"/ws?%74oken={SECRET}".encode(), {"authorization": f"Bearer {SECRET}"})
        child.info("status %d for %s", 401, f"/api/v1/me?TOKEN={SECRET}")
        try:
            raise ValueError(f"cannot fetch https://host/?token={SECRET}")
        except ValueError:
            child.exception("failed")
    text = out.getvalue()
    assert SECRET not in text
    assert "status 401 for /api/v1/me?TOKEN=***" in text and "ValueError" in text


@pytest.fixture
def api(redis_url: str, tmp_path: Path) -> Iterator[ApiProcess]:
    with api_process(redis_url, tmp_path) as running:
        yield running


async def test_the_access_log_of_a_real_process_never_shows_a_token(api: ApiProcess, store: Store) -> None:
    """A valid token sent as %74oken=, TOKEN=, to%6Ben= or a header is accepted but never logged in clear."""
    token = await create_display_token(store.accounts, label="tv")
    async with httpx.AsyncClient(base_url=api.base) as http:
        encoded = await http.get(f"/api/v1/snapshot?%74oken={token}")
        for query in (f"TOKEN={token}", f"site=paris&to%6Ben={token}"):
            await http.get(f"/api/v1/snapshot?{query}")
        await http.get(
            "/api/v1/snapshot", headers={"Authorization": f"Bearer {token}", "Cookie": f"wb_session={token}"}
        )
    assert encoded.status_code != 401, "the encoded spelling is a working credential"
    with contextlib.suppress(Exception):
        async with websockets.connect(f"ws://127.0.0.1:{api.port}/ws?%74oken={token}", proxy=None, open_timeout=5):
            pass

    def logged() -> str:
        return api.log.read_text(errors="replace")

    await poll_until(lambda: logged().count('"GET /api/v1/snapshot') == 4, "four access log lines", 10)
    await poll_until(lambda: "/ws?%74oken=***" in logged(), "the websocket's log line", 10)
    text = logged()
    assert token not in text
    assert "/api/v1/snapshot?%74oken=*** HTTP/1.1" in text and "to%6Ben=***" in text and "TOKEN=***" in text
