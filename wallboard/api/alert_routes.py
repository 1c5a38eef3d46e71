"""The alerts API: open alerts, their history, and operators' actions (ack, snooze, unsnooze, note).

Theory of operation
-------------------
``GET /api/v1/alerts`` reads the open alerts from the site's in-memory snapshot (the ``alerts`` the
runner publishes, as /ws clients see them). ``GET /api/v1/alerts/history`` reads the lifecycle
records of the ``wb:{site}:alerts`` stream, filtered by threshold and target: from ``since`` (a
time or a stream id) onwards, else the latest ones, oldest first either way.

An action never changes an alert here. ``POST /api/v1/alerts/{alert_id}/ack`` (``/snooze``,
``/unsnooze``, ``/note``) checks the alert against the snapshot (404 if it is not open there, 409
if its history says it resolved, 409 to unsnooze an alert that is not snoozed), appends an
``alert_action`` event to the site's event stream (``by`` is the caller, ``key`` the idempotency
key: ``api:<caller>:<Idempotency-Key header>`` when the client sends one, so a retried request is
applied once, else a random one), writes the audit entry (``alert.ack``, ``alert.snooze``...) and
answers 202 with the event's stream id. The engine applies actions in stream order, exactly once;
the change reaches /ws clients with the next snapshot. Should the alert resolve between the check
and the engine, the engine refuses the action and counts it (``alert_actions_rejected`` in its
health hash). Reads need READ, actions ACK_ALERTS (supervisor, ops, admin); both also accept the
ops page's session cookie (with its CSRF check on writes). A board-bound token or a scoped user reads, and
acts on, only the alerts about its view (``security.view_of``; an alert out of sight is a 404), and the
history records about it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from wallboard.api.responses import GUARDED, Detail, problems
from wallboard.api.security import Permission, Principal, guarded, require, scope_of, site_named, view_of
from wallboard.core.events import AlertAction
from wallboard.core.scopes import sees_alert
from wallboard.core.text import CleanText
from wallboard.store import next_stream_id, stream_id_key

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

Action = Literal["ack", "snooze", "unsnooze", "note"]
HISTORY_PAGE = 500
HISTORY_SCAN_LIMIT = 20_000  # records looked at for one history request (filters may skip most)
RESOLVED_SCAN_LIMIT = 5_000  # records searched, newest first, to tell a resolved alert (409) from an unknown one
_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_ID_PART = 2**64  # each half of a stream id is an unsigned 64-bit number
SiteQuery = Query(default=None, description="Site (default: the first site the API serves).")
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
PersonReader = Annotated[Principal, Depends(require(Permission.READ, cookie=True, display=False))]  # no TV
Acker = Annotated[Principal, Depends(require(Permission.ACK_ALERTS, cookie=True))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=128,
        description="repeat the same key when retrying a request: the engine applies the action once",
    ),
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AlertTarget(BaseModel):
    kind: str = Field(description="queue, agent, team, site or component")
    name: str


class Alert(_Open):
    """An open alert, as in the snapshot's ``alerts`` list."""

    alert_id: str
    threshold_id: str
    target: AlertTarget
    metric: str
    level: Literal["warn", "alarm"]
    severity: str
    state: Literal["firing", "acknowledged", "snoozed"]
    value: float | None
    reason: str
    since: str
    label: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    note: str | None = None
    snoozed_until: str | None = None


class AlertList(BaseModel):
    site: str
    seq: int
    ts: str
    alerts: list[Alert]


class HistoryRecord(_Open):
    """One lifecycle transition (``wallboard.core.alerting.Record``) with its stream id."""

    id: str
    key: str
    alert_id: str
    transition: str
    threshold_id: str
    target: AlertTarget
    level: str
    state: str
    value: float | None
    reason: str
    at: str


class History(BaseModel):
    site: str
    records: list[HistoryRecord]
    next: str | None = Field(description="pass as since= to read on (None: nothing more was found)")


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: CleanText | None = Field(default=None, min_length=1, max_length=1000)


class SnoozeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(ge=1, le=1440, description="silence notifications for this long (at most a day)")
    note: CleanText | None = Field(default=None, min_length=1, max_length=1000)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: CleanText = Field(min_length=1, max_length=1000)


class Accepted(BaseModel):
    """The action is in the event stream; the engine applies it in order (the next snapshot shows it)."""

    alert_id: str
    action: Action
    event_id: str
    key: str
    until: str | None = None


ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **GUARDED,
    404: {"model": Detail, "description": "No open alert with this id."},
    409: {"model": Detail, "description": "The alert is resolved (or, to unsnooze, not snoozed)."},
    503: {"model": Detail, "description": "No snapshot yet, or Redis unreachable."},
}


def build_alert_router(runtime: Runtime) -> APIRouter:
    """GET /api/v1/alerts, GET /api/v1/alerts/history and the action routes, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1/alerts")

    @router.get(
        "", response_model=AlertList, response_model_exclude_unset=True, responses={**GUARDED, 503: {"model": Detail}}
    )
    async def get_alerts(principal: Reader, site: str | None = SiteQuery) -> dict[str, Any]:
        """The open alerts of the site: alarms first, then the oldest (a board's token: those of its board)."""
        snapshot = await view_of(site_named(runtime, site), principal)
        return {
            "site": snapshot["site"],
            "seq": snapshot["seq"],
            "ts": snapshot["ts"],
            "alerts": snapshot.get("alerts", []),
        }

    @router.get("/history", response_model=History, response_model_exclude_unset=True, responses=GUARDED)
    async def get_history(
        principal: PersonReader,
        site: str | None = SiteQuery,
        since: Annotated[str | None, Query(description="ISO time or stream id; records after it")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        threshold: Annotated[str | None, Query(max_length=64, description="threshold id")] = None,
        target: Annotated[str | None, Query(max_length=300, description="kind:name, or a name")] = None,
    ) -> dict[str, Any]:
        """Lifecycle records (fired, acknowledged, resolved...), oldest first."""
        served = site_named(runtime, site)
        start = _since(since)
        view = await view_of(served, principal) if await scope_of(served, principal) is not None else None
        records, next_id = await guarded(_history(served, start, limit, Filter(threshold, target, view)))
        return {"site": served.name, "records": records, "next": next_id}

    async def act(
        site: str | None, principal: Principal, alert_id: str, action: Action, key: str | None, **fields: Any
    ) -> dict[str, Any]:
        served = site_named(runtime, site)
        alert = await _open_alert(served, await view_of(served, principal), alert_id)
        if action == "unsnooze" and alert.get("state") != "snoozed":
            raise HTTPException(409, detail=f"alert {alert_id!r} is {alert.get('state')}, not snoozed")
        return await _append(runtime, served, principal, alert, action, key, **fields)

    @router.post("/{alert_id}/ack", status_code=202, response_model=Accepted, responses=ACTION_ERRORS)
    async def ack(
        alert_id: str,
        principal: Acker,
        body: Annotated[AckBody | None, Body()] = None,
        site: str | None = SiteQuery,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Acknowledge an alert (optionally with a note): someone is on it."""
        note = body.note if body is not None else None
        return await act(site, principal, alert_id, "ack", idempotency_key, note=note)

    @router.post("/{alert_id}/snooze", status_code=202, response_model=Accepted, responses=ACTION_ERRORS)
    async def snooze(
        alert_id: str,
        body: SnoozeBody,
        principal: Acker,
        site: str | None = SiteQuery,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Silence an alert's notifications for ``minutes``; it notifies again then if still open."""
        until = _now(runtime) + timedelta(minutes=body.minutes)
        return await act(site, principal, alert_id, "snooze", idempotency_key, note=body.note, until=until)

    @router.post("/{alert_id}/unsnooze", status_code=202, response_model=Accepted, responses=ACTION_ERRORS)
    async def unsnooze(
        alert_id: str,
        principal: Acker,
        body: Annotated[AckBody | None, Body()] = None,
        site: str | None = SiteQuery,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """End a snooze now."""
        note = body.note if body is not None else None
        return await act(site, principal, alert_id, "unsnooze", idempotency_key, note=note)

    @router.post("/{alert_id}/note", status_code=202, response_model=Accepted, responses=ACTION_ERRORS)
    async def note(
        alert_id: str,
        body: NoteBody,
        principal: Acker,
        site: str | None = SiteQuery,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Add a note to an alert (kept on it, in its history and in the audit trail)."""
        return await act(site, principal, alert_id, "note", idempotency_key, note=body.note)

    return router


def _now(runtime: Runtime) -> datetime:
    return datetime.fromtimestamp(runtime.clock(), UTC)


async def _open_alert(served: ServedSite, view: dict[str, Any], alert_id: str) -> dict[str, Any]:
    """The alert as the caller's view lists it; 404 when it is not open there, 409 when its history says it
    resolved."""
    for alert in view.get("alerts", []):
        if alert.get("alert_id") == alert_id:
            return dict(alert)
    if await guarded(_resolved(served, alert_id)):
        raise HTTPException(409, detail=f"alert {alert_id!r} is resolved")
    raise HTTPException(404, detail=f"no open alert {alert_id!r} at site {served.name!r}")


async def _resolved(served: ServedSite, alert_id: str) -> bool:
    """Whether the latest record of ``alert_id`` among the newest RESOLVED_SCAN_LIMIT is a resolution."""
    end, scanned = "+", 0
    while scanned < RESOLVED_SCAN_LIMIT:
        page = await served.store.alerts.alert_records("-", end, HISTORY_PAGE, newest_first=True)
        for _, record in page:
            if record is not None and record.get("alert_id") == alert_id:
                return record.get("transition") == "resolved"
        if len(page) < HISTORY_PAGE:
            return False
        scanned += len(page)
        end = _before(page[-1][0])
    return False


async def _append(
    runtime: Runtime,
    served: ServedSite,
    principal: Principal,
    alert: dict[str, Any],
    action: Action,
    client_key: str | None,
    *,
    note: str | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The alert_action event into the stream, then its audit entry; the 202 body."""
    key = f"api:{principal.name}:{client_key}" if client_key else f"api:{secrets.token_hex(16)}"
    alert_id = str(alert["alert_id"])
    event = AlertAction(
        ts=_now(runtime),
        site=served.name,
        source="api",
        key=key,
        alert_id=alert_id,
        action=action,
        by=principal.name,
        note=note,
        until=until,
    )
    (event_id,) = await guarded(served.store.events.append_events([event]))
    old = {name: alert.get(name) for name in ("state", "level", "acknowledged_by", "note", "snoozed_until")}
    new = {"action": action, "note": note, "until": until.isoformat() if until else None, "event_id": event_id}
    await guarded(served.accounts.audit(principal.name, f"alert.{action}", alert_id, old, new))
    return {
        "alert_id": alert_id,
        "action": action,
        "event_id": event_id,
        "key": key,
        "until": until.isoformat() if until else None,
    }


def _since(since: str | None) -> str | None:
    """The first stream id to read for ``since`` (exclusive), or None to read the latest records; 422 if unreadable."""
    if since is None:
        return None
    text = since.strip()
    if _STREAM_ID.match(text):
        ms, seq = stream_id_key(text)
        if ms >= _ID_PART or seq >= _ID_PART - 1:
            raise problems(("since", f"read {since!r}: a stream id is two numbers below 2**64"))
        return next_stream_id(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise problems(("since", f"read {since!r}, expected an ISO 8601 time or a stream id")) from None
    if moment.tzinfo is None:
        raise problems(("since", "a time needs its offset, e.g. 2024-05-06T09:00:00Z"))
    return f"{max(0, int(moment.timestamp() * 1000) + 1)}-0"


@dataclass(frozen=True)
class Filter:
    """Which history records a request reads: of ``threshold``, about ``target``, within ``view`` (None: all)."""

    threshold: str | None = None
    target: str | None = None
    view: dict[str, Any] | None = None

    def __call__(self, record: dict[str, Any]) -> bool:
        if self.view is not None and not sees_alert(record, self.view):
            return False
        return _matches(record, self.threshold, self.target)


def _matches(record: dict[str, Any], threshold: str | None, target: str | None) -> bool:
    if threshold is not None and record.get("threshold_id") != threshold:
        return False
    if target is None:
        return True
    about = record.get("target") or {}
    name = f"{about.get('kind')}:{about.get('name')}"
    return target in (name, about.get("name"))


async def _history(
    served: ServedSite, start: str | None, limit: int, wanted: Filter
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` matching records, oldest first, and the id to read on from (None: the end was reached)."""
    if start is None:
        return await _latest(served, limit, wanted), None
    found: list[dict[str, Any]] = []
    scanned = 0
    while scanned < HISTORY_SCAN_LIMIT:
        page = await served.store.alerts.alert_records(start, "+", HISTORY_PAGE)
        for entry_id, record in page:
            if record is not None and wanted(record):
                found.append({"id": entry_id, **record})
                if len(found) == limit:
                    return found, entry_id
        if len(page) < HISTORY_PAGE:
            return found, None
        scanned += len(page)
        start = next_stream_id(page[-1][0])
    return found, page[-1][0]


async def _latest(served: ServedSite, limit: int, wanted: Filter) -> list[dict[str, Any]]:
    """The newest ``limit`` matching records, oldest first."""
    found: list[dict[str, Any]] = []
    end, scanned = "+", 0
    while scanned < HISTORY_SCAN_LIMIT and len(found) < limit:
        page = await served.store.alerts.alert_records("-", end, HISTORY_PAGE, newest_first=True)
        found += [{"id": entry_id, **record} for entry_id, record in page if record and wanted(record)]
        if len(page) < HISTORY_PAGE:
            break
        scanned += len(page)
        end = _before(page[-1][0])
    return list(reversed(found[:limit]))


def _before(entry_id: str) -> str:
    """The largest stream id below ``entry_id`` (exclusive ranges without Redis 6.2's ``(``)."""
    ms, seq = stream_id_key(entry_id)
    return f"{ms}-{seq - 1}" if seq > 0 else f"{ms - 1}-{2**64 - 1}"
