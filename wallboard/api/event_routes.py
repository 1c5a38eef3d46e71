"""``POST /api/v1/events``: events of any source (a chat platform, a dialer, a CRM) into the site's stream.

=========================================  ==========================================================================
``POST /api/v1/events``                    a JSON array of events (``Content-Type: application/json``) or one per
                                           line (``application/x-ndjson``); ``ingest`` and ``admin`` only (403 for
                                           the others and display tokens). 202 ``{"accepted": n, "duplicates": m}``;
                                           422 ``{"detail": [{"index": i, "reason": "..."}]}`` for a batch with any
                                           invalid event (nothing of it is appended); 429 over the source's rate.
``GET /api/v1/events/schema``              the JSON Schema of one event (any logged-in user)
=========================================  ==========================================================================

An event is the project's own event model (``wallboard.core.events``: ``call_queued``, ``call_answered``,
``call_ended``, ``call_abandoned``, ``call_exited``, ``agent_login``, ``agent_paused``..., a dialer's ``dial_attempt``
and ``dial_result``: ``wallboard.core.campaigns``), the same the collectors append, with the same validation, plus:

* ``key`` (required): unique per source record. A repeated key is a no-op counted in ``duplicates``, across
  retries, API processes and restarts (a marker per key kept ``WALLBOARD_INGEST_DEDUP_S``, 7 days by default,
  set in the same Redis script that appends: ``StreamStore.append_ingested``);
* ``source`` (required): who sent it (``chat``, ``dialer-eu``), a label of the Prometheus counters;
* ``site``: defaults to the server's (``?site=``); another site is refused;
* ``version``: the event model's version, ``1`` (the only one so far; absent means 1). A later version adds fields
  and keeps these meanings.

The body limit of every request applies (``wallboard.api.limits``), and at most ``MAX_EVENTS`` events per
request. Each source may post ``WALLBOARD_INGEST_RATE`` events per second on average (a token bucket per API
process holding a burst of ten seconds' worth): beyond that 429 with ``Retry-After``. Counters:
``wallboard_ingested_events_total{site,source,result}`` (accepted, duplicate, rejected) and
``wallboard_ingest_requests_total{site,answer}``; sources beyond ``MAX_SOURCES`` distinct names count as ``other``.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError

from wallboard.api.responses import GUARDED
from wallboard.api.security import Permission, Principal, guarded, require, site_named
from wallboard.core.events import Event, event_from_dict

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime

__all__ = ["MAX_EVENTS", "SCHEMA_VERSION", "build_event_router", "event_schema"]

SCHEMA_VERSION = 1
MAX_EVENTS = 5000
MAX_KEY = 256
MAX_SOURCES = 100
REFUSED_KINDS = {"alert_action": "alert actions are posted through /api/v1/alerts"}
NDJSON = "application/x-ndjson"

Ingester = Annotated[Principal, Depends(require(Permission.INGEST_EVENTS, display=False))]
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True, display=False))]


def event_schema() -> dict[str, Any]:
    """The JSON Schema of one posted event: the event model, with ``version`` and a required ``key`` and ``source``."""
    schema = TypeAdapter(Event).json_schema()
    for definition in schema.get("$defs", {}).values():
        if "kind" in definition.get("properties", {}):
            properties = definition["properties"]
            properties["version"] = {"const": SCHEMA_VERSION, "description": "the event model's version (absent: 1)"}
            properties["key"] = {"type": "string", "minLength": 1, "maxLength": MAX_KEY,
                                 "description": "unique per source record: a repeat is a no-op"}  # fmt: skip
            required = set(definition.get("required", ())) | {"key", "source"}
            required.discard("site")
            definition["required"] = sorted(required)
    schema["title"] = "Event"
    schema["description"] = (
        "One event of POST /api/v1/events (a JSON array of them, or one per line as application/x-ndjson)."
    )
    return schema


class _Bucket:
    """A token bucket: ``rate`` tokens a second, holding at most ``burst``."""

    __slots__ = ("tokens", "at")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens, self.at = burst, now

    def take(self, n: int, rate: float, burst: float, now: float) -> float:
        """0 when ``n`` tokens were taken, else the seconds until they would be there."""
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if n <= self.tokens:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / rate if rate > 0 else math.inf


def _items(body: bytes, content_type: str) -> list[Any]:
    """The posted items (not validated yet); HTTPException 400 for a body that is not JSON or NDJSON."""
    text = body.decode("utf-8", "replace")
    try:
        if content_type.split(";")[0].strip().lower() == NDJSON:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except ValueError as exc:
        raise HTTPException(400, detail=f"the body is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise HTTPException(400, detail="expected a JSON array of events (or application/x-ndjson, one per line)")
    return data


def _event(item: Any, site: str) -> Event:
    """One posted item as an event; ValueError with the reason in words."""
    if not isinstance(item, dict):
        raise ValueError("an event is a JSON object")
    fields = dict(item)
    version = fields.pop("version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ValueError(f"version {version!r} is not supported (this server reads version {SCHEMA_VERSION})")
    kind = fields.get("kind")
    if isinstance(kind, str) and kind in REFUSED_KINDS:
        raise ValueError(REFUSED_KINDS[kind])
    key = fields.get("key")
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"key: a non-empty string of at most {MAX_KEY} characters is required")
    if not isinstance(fields.get("source"), str) or not fields["source"]:
        raise ValueError("source: a non-empty string is required")
    fields.setdefault("site", site)
    if fields["site"] != site:
        raise ValueError(f"site {fields['site']!r} is not this request's site {site!r}")
    try:
        return event_from_dict(fields)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or 'event'}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(reasons) from None


def build_event_router(runtime: Runtime) -> APIRouter:
    """``/api/v1/events`` and its schema, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1")
    ingested = Counter(
        "wallboard_ingested_events",
        "Events posted to /api/v1/events, by source and result (accepted, duplicate, rejected).",
        ["site", "source", "result"],
        registry=runtime.registry,
    )
    answers = Counter(
        "wallboard_ingest_requests",
        "Requests to POST /api/v1/events, by answer (accepted, invalid, rate_limited).",
        ["site", "answer"],
        registry=runtime.registry,
    )
    buckets: dict[tuple[str, str], _Bucket] = {}
    sources: set[str] = set()
    schema = event_schema()

    def label(source: str) -> str:
        if source in sources or len(sources) < MAX_SOURCES:
            sources.add(source)
            return source
        return "other"

    @router.get("/events/schema", responses=GUARDED)
    async def get_schema(principal: Reader, site: str | None = None) -> Any:
        """The JSON Schema of one event of ``POST /api/v1/events`` (its ``version`` says which)."""
        return schema

    @router.post("/events", status_code=202, responses=GUARDED)
    async def post_events(request: Request, principal: Ingester, site: str | None = None) -> Any:
        """Append a batch of events (all valid, or none); repeats of a ``key`` are no-ops."""
        served = site_named(runtime, site)
        items = _items(await request.body(), request.headers.get("content-type", ""))
        if len(items) > MAX_EVENTS:
            answers.labels(served.name, "invalid").inc()
            raise HTTPException(413, detail=f"{len(items)} events in one request; at most {MAX_EVENTS}")
        events: list[Event] = []
        problems: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                events.append(_event(item, served.name))
            except ValueError as exc:
                problems.append({"index": index, "reason": str(exc)})
        if problems:
            answers.labels(served.name, "invalid").inc()
            for item in items:
                source = item.get("source") if isinstance(item, dict) else None
                ingested.labels(served.name, label(str(source or "unknown")), "rejected").inc()
            raise HTTPException(422, detail=problems)
        per_source: dict[str, int] = {}
        for event in events:
            per_source[event.source] = per_source.get(event.source, 0) + 1
        rate = runtime.settings.ingest_rate
        now = time.monotonic()
        for source, count in per_source.items():
            bucket = buckets.setdefault((served.name, source), _Bucket(rate * 10, now))
            wait = bucket.take(count, rate, rate * 10, now)
            if wait:
                answers.labels(served.name, "rate_limited").inc()
                retry = str(max(1, math.ceil(wait)))
                return JSONResponse(
                    {"detail": f"source {source!r} posts more than {rate:g} events a second: retry in {retry} s"},
                    status_code=429,
                    headers={"Retry-After": retry},
                )
        appended = await guarded(served.store.events.append_ingested(events, runtime.settings.ingest_dedup_s))
        answers.labels(served.name, "accepted").inc()
        for event, new in zip(events, appended, strict=True):
            ingested.labels(served.name, label(event.source), "accepted" if new else "duplicate").inc()
        accepted = sum(appended)
        return {"accepted": accepted, "duplicates": len(appended) - accepted}

    return router
