"""`wallboard grafana push` against a local fake of the Grafana HTTP API that records every request.

Grafana itself cannot run here (no image, no binary on this machine), so the fake implements the few
endpoints grafana-client calls (folders, dashboards by uid, save) on a real socket (port 0), checks
the bearer token like Grafana, stores what is saved the way Grafana does (``id`` and ``version``
set by the server) and answers 404 for an unknown dashboard.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wallboard.cli import main
from wallboard.grafana.dashboards import BUILDERS, board_json, dashboards
from wallboard.grafana.push import folder_uid

TOKEN = "glsa_test-token-7f3c9e"


@dataclass
class Request:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class FakeGrafana:
    """Grafana's state (folders, dashboards by uid with their folder) and the requests it received."""

    token: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    boards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {"dashboard": ..., "folderUid": ...}
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writes(self) -> list[Request]:
        return [request for request in self.requests if request.method != "GET"]

    def handle(self, request: Request) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(request)
            if request.authorization != f"Bearer {self.token}":
                return 401, {"message": "Unauthorized"}
            return self._route(request)

    def _route(self, request: Request) -> tuple[int, Any]:
        path = request.path.split("?")[0]
        if (request.method, path) == ("GET", "/api/folders"):
            return 200, list(self.folders.values())
        if (request.method, path) == ("POST", "/api/folders"):
            uid = request.body.get("uid") or f"f{len(self.folders)}"
            self.folders[uid] = {"id": len(self.folders) + 1, "uid": uid, "title": request.body["title"]}
            return 200, self.folders[uid]
        if request.method == "GET" and path.startswith("/api/dashboards/uid/"):
            stored = self.boards.get(path.rsplit("/", 1)[1])
            if stored is None:
                return 404, {"message": "Dashboard not found"}
            return 200, {"dashboard": stored["dashboard"], "meta": {"folderUid": stored["folderUid"]}}
        if (request.method, path) == ("POST", "/api/dashboards/db"):
            return self._save(request.body)
        return 404, {"message": f"no route {request.method} {path}"}

    def _save(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found"}
        board = dict(body["dashboard"])
        previous = self.boards.get(board["uid"])
        version = 1 if previous is None else previous["dashboard"]["version"] + 1
        board.update(id=len(self.boards) + 100 if previous is None else previous["dashboard"]["id"], version=version)
        self.boards[board["uid"]] = {"dashboard": board, "folderUid": body["folderUid"]}
        return 200, {"status": "success", "uid": board["uid"], "version": version}


def handler_for(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(
                self.command, self.path, json.loads(raw) if raw else None, self.headers.get("Authorization")
            )
            status, answer = fake.handle(request)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            return

    return Handler


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    """The fake Grafana on 127.0.0.1:<free port>, and its base URL."""
    fake = FakeGrafana(token=TOKEN)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    thread = threading.Thread(target=server.serve_forever, name="fake-grafana", daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALLBOARD_GRAFANA_TOKEN", TOKEN)
    monkeypatch.delenv("WALLBOARD_GRAFANA_URL", raising=False)


def uids() -> set[str]:
    return {str(board_json(board)["uid"]) for board in dashboards().values()}


def test_first_push_creates_the_folder_and_every_dashboard_and_second_push_only_reads(
    grafana: tuple[FakeGrafana, str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Push 1: one folder + a save per dashboard, bearer token; push 2: no write at all; the token is never printed."""
    fake, url = grafana
    caplog.set_level(logging.DEBUG)
    assert main(["grafana", "push", "--url", url]) == 0
    writes = fake.writes()
    assert [(w.method, w.path) for w in writes[:1]] == [("POST", "/api/folders")]
    saves = [w for w in writes if w.path == "/api/dashboards/db"]
    assert {w.body["dashboard"]["uid"] for w in saves} == uids() and len(saves) == len(BUILDERS)
    assert all(w.body["folderUid"] == "wallboard" and w.body["overwrite"] is True for w in saves)
    assert all(r.authorization == f"Bearer {TOKEN}" for r in fake.requests)
    first = len(fake.requests)
    assert main(["grafana", "push", "--url", url]) == 0
    assert fake.writes() == writes  # nothing written the second time
    assert all(r.method == "GET" for r in fake.requests[first:])
    out, err = capsys.readouterr()
    assert f"0 created, 0 updated, {len(BUILDERS)} unchanged" in out
    assert TOKEN not in out + err + caplog.text


def test_a_dashboard_changed_in_grafana_is_overwritten_alone(grafana: tuple[FakeGrafana, str]) -> None:
    """After someone edits the staffing dashboard in Grafana, a push saves that one dashboard only."""
    fake, url = grafana
    assert main(["grafana", "push", "--url", url]) == 0
    fake.boards["wallboard-staffing"]["dashboard"]["title"] = "edited by hand"
    before = len(fake.writes())
    assert main(["grafana", "push", "--url", url]) == 0
    again = fake.writes()[before:]
    assert [(w.path, w.body["dashboard"]["uid"]) for w in again] == [("/api/dashboards/db", "wallboard-staffing")]
    assert fake.boards["wallboard-staffing"]["dashboard"]["title"] == "Wallboard / Staffing"


def test_an_existing_folder_is_found_by_title_and_a_moved_dashboard_moves_back(
    grafana: tuple[FakeGrafana, str],
) -> None:
    """A folder titled "Ops boards" (uid abc) is reused; a dashboard left in another folder is saved into it."""
    fake, url = grafana
    fake.folders["abc"] = {"id": 1, "uid": "abc", "title": "Ops boards"}
    fake.folders["other"] = {"id": 2, "uid": "other", "title": "Other"}
    assert main(["grafana", "push", "--url", url, "--folder", "Ops boards"]) == 0
    assert not [w for w in fake.writes() if w.path == "/api/folders"]
    assert {stored["folderUid"] for stored in fake.boards.values()} == {"abc"}
    fake.boards["wallboard-agents"]["folderUid"] = "other"
    before = len(fake.writes())
    assert main(["grafana", "push", "--url", url, "--folder", "Ops boards"]) == 0
    assert [w.body["dashboard"]["uid"] for w in fake.writes()[before:]] == ["wallboard-agents"]
    assert fake.boards["wallboard-agents"]["folderUid"] == "abc"


def test_a_refused_token_fails_with_status_1_without_echoing_it(
    grafana: tuple[FakeGrafana, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grafana answers 401 to another token: exit 1, the message says Unauthorized, the token is not shown."""
    fake, url = grafana
    monkeypatch.setenv("WALLBOARD_GRAFANA_TOKEN", "wrong-token-123")
    assert main(["grafana", "push", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "list folders" in err and "Unauthorized" in err
    assert "wrong-token-123" not in err
    assert fake.boards == {}


def test_the_token_comes_only_from_the_environment(
    grafana: tuple[FakeGrafana, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without WALLBOARD_GRAFANA_TOKEN the push stops (status 2) naming it; there is no --token option."""
    fake, url = grafana
    monkeypatch.delenv("WALLBOARD_GRAFANA_TOKEN")
    assert main(["grafana", "push", "--url", url]) == 2
    assert "WALLBOARD_GRAFANA_TOKEN" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["grafana", "push", "--url", url, "--token", TOKEN])
    assert exited.value.code == 2
    assert fake.requests == []


def test_folder_uid_is_a_slug_of_the_title() -> None:
    """Titles become lowercase dash-separated uids, at most 40 characters."""
    assert folder_uid("Wallboard") == "wallboard"
    assert folder_uid("Ops boards / Paris") == "ops-boards-paris"
    assert len(folder_uid("x" * 60)) == 40
