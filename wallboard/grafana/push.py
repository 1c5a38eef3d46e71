"""Upload the dashboards to a running Grafana with grafana-client, idempotently.

Theory of operation
-------------------
``push(api, boards, folder)`` makes Grafana hold exactly the generated dashboards in one folder:

1. the folder: found by its uid (the slug of its title) or its title among ``GET /api/folders``,
   else created (``POST /api/folders``);
2. each dashboard: read by uid (``GET /api/dashboards/uid/<uid>``); a missing one is created, one
   whose content (``id`` and ``version`` aside, which Grafana owns) or folder differs is overwritten
   (``POST /api/dashboards/db`` with ``overwrite``), an identical one is left alone.

So a second push changes nothing: it only reads. Grafana keeps a version per save, so the
comparison also keeps the version history free of empty saves.

The token comes from ``Settings.grafana_token`` (WALLBOARD_GRAFANA_TOKEN), never from the command
line, and is never logged: ``connect`` hands it to grafana-client, which sends it as a bearer
header. URLs are logged with any password masked. Every failure is a ``PushError`` naming the step,
Grafana's status code and message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from wallboard.core.urls import redacted_url
from wallboard.errors import WallboardError

log = logging.getLogger(__name__)

OWNED_BY_GRAFANA = ("id", "version")  # set by Grafana on every save: not part of the content compared
PUSH_MESSAGE = "wallboard grafana push"
TIMEOUT_S = 10.0
NOT_FOUND = 404


class PushError(WallboardError):
    """Grafana refused or failed a step of the push (the message names the step and Grafana's answer)."""


@dataclass
class PushReport:
    """What a push did: the folder's uid, whether it was created, and the dashboards by outcome."""

    folder_uid: str
    folder_created: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.folder_created or bool(self.created or self.updated)


def connect(url: str, token: str, *, timeout: float = TIMEOUT_S) -> GrafanaApi:
    """A grafana-client API for ``url`` authenticating with the bearer ``token``."""
    log.info("pushing to Grafana at %s", redacted_url(url))
    api: GrafanaApi = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    return api


def folder_uid(title: str) -> str:
    """A stable folder uid from its title ("Wallboard" -> "wallboard"; at most 40 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return (slug or "wallboard")[:40]


def push(api: GrafanaApi, boards: Mapping[str, Mapping[str, Any]], folder: str) -> PushReport:
    """Create the folder if missing and upload each of ``boards`` (dashboard JSON by name) that differs."""
    uid, created = _ensure_folder(api, folder)
    report = PushReport(folder_uid=uid, folder_created=created)
    for name, board in boards.items():
        board_uid = str(board["uid"])
        current = _current(api, board_uid)
        if current is None:
            _save(api, board, report.folder_uid, name)
            report.created.append(board_uid)
        elif _content(current.get("dashboard", {})) != _content(board) or _folder_of(current) != report.folder_uid:
            _save(api, board, report.folder_uid, name)
            report.updated.append(board_uid)
        else:
            report.unchanged.append(board_uid)
    log.info(
        "Grafana folder %s: %d dashboards created, %d updated, %d unchanged",
        report.folder_uid,
        len(report.created),
        len(report.updated),
        len(report.unchanged),
    )
    return report


def _ensure_folder(api: GrafanaApi, title: str) -> tuple[str, bool]:
    """The uid of the folder titled ``title`` (or of uid ``folder_uid(title)``), and whether it was created now."""
    uid = folder_uid(title)
    folders = _call("list folders", api.folder.get_all_folders)
    for entry in folders or []:
        if entry.get("uid") == uid or entry.get("title") == title:
            return str(entry["uid"]), False
    created = _call(f"create folder {title!r}", api.folder.create_folder, title, uid=uid)
    log.info("created Grafana folder %s (%s)", title, uid)
    return str(created.get("uid", uid)), True


def _current(api: GrafanaApi, uid: str) -> dict[str, Any] | None:
    """The dashboard Grafana holds under ``uid`` (with its meta), None when it has none."""
    try:
        found: dict[str, Any] = api.dashboard.get_dashboard(uid)
    except GrafanaClientError as exc:
        if exc.status_code == NOT_FOUND:
            return None
        raise PushError(f"read dashboard {uid}: Grafana answered {exc.status_code}: {exc.message}") from exc
    except GrafanaException as exc:
        raise PushError(f"read dashboard {uid}: {exc.message}") from exc
    return found


def _save(api: GrafanaApi, board: Mapping[str, Any], folder: str, name: str) -> None:
    payload = {"dashboard": {**board, "id": None}, "folderUid": folder, "overwrite": True, "message": PUSH_MESSAGE}
    _call(f"save dashboard {name}", api.dashboard.update_dashboard, payload)


def _content(board: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in board.items() if key not in OWNED_BY_GRAFANA}


def _folder_of(current: Mapping[str, Any]) -> str | None:
    meta = current.get("meta") or {}
    return meta.get("folderUid")


def _call(step: str, method: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one grafana-client call; its errors become a PushError naming ``step``."""
    try:
        return method(*args, **kwargs)
    except GrafanaException as exc:
        status = f"Grafana answered {exc.status_code}: " if exc.status_code else ""
        raise PushError(f"{step}: {status}{exc.message}") from exc
