"""Free text set through the API (token labels, board titles, alert notes) is stored without control characters.

Auth is off here (every request is the admin ``anonymous``): what is checked is what reaches Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_stack import SITE, RunningApi, running_api, save_snapshot
from waiting import poll_until

from wallboard.core.events import AlertAction, parse_event
from wallboard.store import Store

TITLE_ATTACK = "\x1b]0;pwned\x07\x1b[2J"
ALERT_ID = "waiting:queue:support:1699999000"
ALERT = {
    "alert_id": ALERT_ID,
    "threshold_id": "waiting",
    "target": {"kind": "queue", "name": "support"},
    "metric": "waiting",
    "level": "warn",
    "severity": "warning",
    "state": "firing",
    "value": 3.0,
    "reason": "Calls waiting 3 > 2",
    "since": "2023-11-14T21:56:40+00:00",
}
SNAPSHOT: dict[str, Any] = {
    "site": SITE,
    "seq": 7,
    "ts": "2023-11-14T22:13:20+00:00",
    "queues": {},
    "agents": {},
    "alerts": [ALERT],
}


def controls(text: str) -> list[str]:
    return [ch for ch in text if not ch.isprintable()]


@pytest.fixture
async def api(store: Store) -> AsyncIterator[RunningApi]:
    """The API on a site with a snapshot (one open alert), once its feed has read it."""
    await save_snapshot(store, SNAPSHOT)
    async with running_api(store, users=False, auth_enabled=False) as running:

        async def followed() -> bool:
            return (await running.http.get("/api/v1/alerts")).status_code == 200

        await poll_until(followed, "the API to read the snapshot", 10)
        yield running


async def test_a_token_label_with_escape_sequences_is_stored_clean(api: RunningApi, store: Store) -> None:
    """POST /api/v1/tokens with a label that would retitle and clear a terminal: stored (and shown) without them."""
    created = await api.http.post("/api/v1/tokens", json={"label": f"lobby {TITLE_ATTACK}"})
    assert created.status_code == 201 and created.json()["label"] == "lobby ]0;pwned[2J"
    (stored,) = (await store.accounts.list_tokens()).values()
    assert stored["label"] == "lobby ]0;pwned[2J" and not controls(stored["label"])


async def test_board_titles_are_stored_clean(api: RunningApi, store: Store) -> None:
    """PUT /api/v1/boards/{name}: the board's title loses its control characters."""
    body = {"title": f"Sales{TITLE_ATTACK}\r\nfloor", "queues": [], "pages": []}
    written = await api.http.put("/api/v1/boards/lobby", json=body)
    assert written.status_code == 200, written.text
    stored = await store.boards.get_board("lobby")
    assert stored is not None and stored["title"] == "Sales]0;pwned[2J floor"


async def test_alert_notes_are_stored_clean_and_a_note_of_controls_only_is_422(api: RunningApi, store: Store) -> None:
    """A note reaches the event stream without controls; one made only of controls is empty, so 422."""
    noted = await api.http.post(f"/api/v1/alerts/{ALERT_ID}/note", json={"note": f"on it{TITLE_ATTACK}"})
    empty = await api.http.post(f"/api/v1/alerts/{ALERT_ID}/ack", json={"note": "\x1b\x07"})
    assert (noted.status_code, empty.status_code) == (202, 422)
    events = [parse_event(entry.data or b"") for entry in await store.events.read_range()]
    assert [event.note for event in events if isinstance(event, AlertAction)] == ["on it]0;pwned[2J"]
