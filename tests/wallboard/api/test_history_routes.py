"""GET /api/v1/history/queues and /agents over real uvicorn and redis-server: windows in site time, filters,
CSV, paging, who may read. Rows are written as the runner writes them (``save_state(history=...)``)."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_stack import SITE, running_api, save_snapshot

from wallboard.cli import main
from wallboard.core.history import AGENT_COLUMNS, MAX_RANGE_DAYS, QUEUE_COLUMNS, row_ids
from wallboard.core.site import AgentConfig, QueueConfig, SiteConfig
from wallboard.store import HistoryWrite, Store, connect

PARIS = SiteConfig(
    site=SITE,
    timezone="Europe/Paris",  # UTC+1 in March
    queues={"support": QueueConfig(), "sales": QueueConfig()},
    agents={"a1": AgentConfig(name="Alice", team="blue"), "a2": AgentConfig(name="Bob", team="red")},
)
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC).timestamp()  # 11:00 in Paris on the 3rd
SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2026-03-03T10:00:00+00:00", "tz": "Europe/Paris", "queues": {}, "agents": {}}
# Interval starts in UTC: 23:45 and 00:00 Paris time on the night of the 1st to the 2nd and of the 2nd to the 3rd.
STARTS = [
    datetime(2026, 3, 1, 22, 45, tzinfo=UTC),
    datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
    datetime(2026, 3, 2, 22, 45, tzinfo=UTC),
    datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
]


def span(start: datetime) -> dict[str, Any]:
    return {"site": SITE, "start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat()}


def queue_rows() -> list[dict[str, Any]]:
    """Per interval: support offered 10 + n, sales offered n (n = the interval's index)."""
    rows = []
    for n, start in enumerate(STARTS):
        rows.append({**span(start), "queue": "support", "offered": 10 + n, "service_level_pct": 90.0, "asa_s": None})
        rows.append({**span(start), "queue": "sales", "offered": n, "service_level_pct": None, "asa_s": 3.5})
    return rows


def agent_rows() -> list[dict[str, Any]]:
    rows = []
    for start in STARTS:
        for agent, team in (("a1", "blue"), ("a2", "red")):
            rows.append({**span(start), "agent": agent, "team": team, "handled": 2, "paused_by_reason": {"lunch": 60}})
    return rows


def batch(kind: str, rows: list[dict[str, Any]]) -> HistoryWrite:
    return HistoryWrite(kind, [(i, json.dumps(row)) for i, row in zip(row_ids(rows), rows, strict=True)])


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT, history=[batch("queue", queue_rows()), batch("agent", agent_rows())])
    return store


# with auth on: a user of every role logged in, a display token, no credential
api = functools.partial(running_api, clock=lambda: NOW, site_config=PARIS, display="tv1")


def starts_and_queues(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(row["start"], row["queue"]) for row in body["rows"]]


async def test_default_window_is_yesterday_and_today_in_site_time(store: Store) -> None:
    """No from/to: from the 2nd 00:00 Paris (1st 23:00 UTC) to now; the 23:45 Paris quarter of the 1st is out."""
    async with api(store) as a:
        response = await a.http.get("/api/v1/history/queues", headers=a.headers["viewer"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["kind"], body["site"], body["from"], body["to"], body["next"]) == (
        "queue",
        SITE,
        "2026-03-01T23:00:00+00:00",
        "2026-03-03T10:00:00+00:00",
        None,
    )
    assert starts_and_queues(body) == [(start.isoformat(), q) for start in STARTS[1:] for q in ("support", "sales")]


async def test_a_date_window_is_whole_site_local_days(store: Store) -> None:
    """from=to=2026-03-02: the Paris day, 1st 23:00 UTC to 2nd 23:00 UTC; ?queue=sales keeps sales."""
    async with api(store) as a:
        viewer = a.headers["viewer"]
        day = await a.http.get("/api/v1/history/queues?from=2026-03-02&to=2026-03-02", headers=viewer)
        sales = await a.http.get(
            "/api/v1/history/queues",
            params={"from": "2026-03-02", "to": "2026-03-02", "queue": "sales"},
            headers=viewer,
        )
        naive = await a.http.get(
            "/api/v1/history/queues",
            params={"from": "2026-03-02T23:45:00", "to": "2026-03-03T01:00:00+01:00"},
            headers=viewer,
        )
    assert starts_and_queues(day.json()) == [(s.isoformat(), q) for s in STARTS[1:3] for q in ("support", "sales")]
    assert [(row["start"], row["offered"]) for row in sales.json()["rows"]] == [
        (STARTS[1].isoformat(), 1),
        (STARTS[2].isoformat(), 2),
    ]
    # 23:45 Paris (no offset: site time) up to 01:00+01:00 = the 2nd 22:45 and 23:00 UTC quarters
    assert starts_and_queues(naive.json()) == [(s.isoformat(), q) for s in STARTS[2:] for q in ("support", "sales")]


async def test_csv_has_the_fixed_header_and_one_line_per_row(store: Store) -> None:
    """format=csv and Accept: text/csv: the QUEUE_COLUMNS header, None as empty, one line per row."""
    params = {"from": "2026-03-02", "to": "2026-03-02", "queue": "support"}
    async with api(store) as a:
        by_param = await a.http.get(
            "/api/v1/history/queues", params=params | {"format": "csv"}, headers=a.headers["viewer"]
        )
        by_accept = await a.http.get(
            "/api/v1/history/queues", params=params, headers=a.headers["viewer"] | {"Accept": "text/csv"}
        )
    assert by_param.status_code == 200 and by_param.headers["content-type"].startswith("text/csv")
    assert by_param.text == by_accept.text
    assert "attachment" in by_param.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(by_param.text)))
    assert by_param.text.splitlines()[0] == ",".join(QUEUE_COLUMNS)
    assert [(line["start"], line["offered"], line["service_level_pct"], line["asa_s"]) for line in table] == [
        (STARTS[1].isoformat(), "11", "90.0", ""),
        (STARTS[2].isoformat(), "12", "90.0", ""),
    ]


async def test_agent_rows_filter_by_agent_and_team_with_json_cells_in_csv(store: Store) -> None:
    """?team=red is a2's rows; ?agent=a1&format=csv has the AGENT_COLUMNS header and pauses as JSON."""
    window = {"from": "2026-03-02", "to": "2026-03-02"}
    async with api(store) as a:
        red = await a.http.get("/api/v1/history/agents", params=window | {"team": "red"}, headers=a.headers["viewer"])
        alice = await a.http.get(
            "/api/v1/history/agents", params=window | {"agent": "a1", "format": "csv"}, headers=a.headers["viewer"]
        )
    assert [(row["agent"], row["start"]) for row in red.json()["rows"]] == [
        ("a2", STARTS[1].isoformat()),
        ("a2", STARTS[2].isoformat()),
    ]
    assert alice.text.splitlines()[0] == ",".join(AGENT_COLUMNS)
    table = list(csv.DictReader(io.StringIO(alice.text)))
    assert [(line["agent"], line["paused_by_reason"], line["name"]) for line in table] == [
        ("a1", '{"lunch":60}', "")
    ] * 2


async def test_pages_follow_each_other_with_next(store: Store) -> None:
    """limit=4 over 6 rows: the first page's next is its 4th row's id; after=next gives the last 2."""
    async with api(store) as a:
        viewer = a.headers["viewer"]
        first = (await a.http.get("/api/v1/history/queues", params={"limit": 4}, headers=viewer)).json()
        second = (
            await a.http.get("/api/v1/history/queues", params={"limit": 4, "after": first["next"]}, headers=viewer)
        ).json()
        csv_page = await a.http.get("/api/v1/history/queues", params={"limit": 4, "format": "csv"}, headers=viewer)
    third_ms = int(STARTS[2].timestamp() * 1000)
    assert first["next"] == f"{third_ms}-1"  # rows: STARTS[1] support, sales; STARTS[2] support, sales
    assert len(first["rows"]) == 4
    assert starts_and_queues(second) == [(STARTS[3].isoformat(), "support"), (STARTS[3].isoformat(), "sales")]
    assert second["next"] is None
    assert csv_page.headers["x-next-after"] == first["next"]


async def test_display_tokens_are_refused_and_no_credential_is_401(store: Store) -> None:
    """Per-agent data is not for TVs: a display token gets 403 on both routes; nothing at all gets 401."""
    async with api(store) as a:
        codes = [
            (await a.http.get(f"/api/v1/history/{kind}", headers=a.headers[caller])).status_code
            for kind in ("queues", "agents")
            for caller in ("display", "none", "viewer")
        ]
    assert codes == [403, 401, 200, 403, 401, 200]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-03", "to": "2026-03-01"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2025-01-01", "to": "2026-03-02"}, "to"),
        ({"after": "not-an-id"}, "after"),
        ({"after": f"{2**64}-0"}, "after"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "to"),
        ({"limit": 0}, "limit"),
    ],
)
async def test_bad_windows_are_422_naming_the_field(store: Store, params: dict[str, Any], field: str) -> None:
    """A window ending before it starts, an unreadable date, more than MAX_RANGE_DAYS, a bad cursor: 422."""
    assert MAX_RANGE_DAYS < 400  # the third case spans 425 days
    async with api(store) as a:
        response = await a.http.get("/api/v1/history/queues", params=params, headers=a.headers["viewer"])
    assert response.status_code == 422, response.text
    assert field in [problem["field"].rpartition(".")[2] for problem in response.json()["detail"]]


def test_the_cli_exports_the_same_rows(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wallboard history export --kind queue --from/--to 2026-03-02` (no site file: UTC) writes that day's rows."""

    async def write() -> None:
        client = connect(redis_url)
        await Store(client, site=SITE).events.save_state(
            json.dumps(SNAPSHOT), None, "1-0", 1, history=[batch("queue", queue_rows())]
        )
        await client.aclose()

    asyncio.run(write())
    monkeypatch.setenv("WALLBOARD_REDIS_URL", redis_url)
    out = tmp_path / "rows.csv"
    argv = ["history", "--site", SITE, "export", "--kind", "queue", "--from", "2026-03-02", "--to", "2026-03-02"]
    assert main([*argv, "--out", str(out)]) == 0
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    # the UTC day of the 2nd: the quarters starting 22:45 and 23:00 UTC
    assert [(line["start"], line["queue"]) for line in table] == [
        (start.isoformat(), queue) for start in STARTS[2:] for queue in ("support", "sales")
    ]
    assert main([*argv[:-1], "2026-01-01"]) == 2  # --to before --from: a usage error


async def test_queue_rows_filter_by_channel_and_rows_without_one_are_voice(store: Store) -> None:
    """?channel=chat keeps the chat queue's row; ?channel=voice keeps the rows written before channels existed."""
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    chat_row = {**span(start), "queue": "webchat", "channel": "chat", "offered": 4, "avg_first_response_s": 21.0}
    await save_snapshot(store, SNAPSHOT, history=[batch("queue", [chat_row])])
    window = {"from": "2026-03-02", "to": "2026-03-03"}
    async with api(store) as a:
        viewer = a.headers["viewer"]
        chat = await a.http.get("/api/v1/history/queues", params={**window, "channel": "chat"}, headers=viewer)
        voice = await a.http.get("/api/v1/history/queues", params={**window, "channel": "voice"}, headers=viewer)
    assert chat.status_code == voice.status_code == 200, chat.text
    assert [(row["queue"], row["avg_first_response_s"]) for row in chat.json()["rows"]] == [("webchat", 21.0)]
    assert {row["queue"] for row in voice.json()["rows"]} == {"support", "sales"}
    assert len(voice.json()["rows"]) == 6
