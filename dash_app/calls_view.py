"""The supervisor's call drill-down as data: which calls a clicked figure lists, the request, the columns. Pure.

Theory of operation
-------------------
On the supervisor page (``dash_app.supervisor``) a click on one of today's queue figures (offered, abandoned,
SL misses: the "Today" table, :func:`queue_figures` of the snapshot) or on an agent's row opens a panel listing
those calls, read in the browser (``tv_assets/calls.js``, which mirrors this module) from the call log,
``GET /api/v1/calls`` (``wallboard.api.call_routes``): today (no ``from``/``to``), the queue or the agent, the
outcomes of :data:`OUTCOMES`, ``caller=`` from the panel's search box, at most :data:`LIMIT` rows
(:func:`query`, :func:`calls_url`). The request carries the page's credential as the page's other reads do
(the session cookie of a login on ``/ops/``; a display token is refused by the API: the panel says so). The
API masks caller numbers by role; the page shows what it gets.

* offered: every call of the queue that left it today (an answered call is in the log once it ended);
* abandoned: ``abandoned`` and ``short_abandon``, as the figure counts them;
* SL misses (:func:`is_sl_miss`): answered calls whose wait was over the queue's ``sl_threshold_s``, and the
  unanswered outcomes of :data:`UNANSWERED_MISSES` (abandoned, timed out, exited; not short abandons, not
  unknown). The API cannot filter on the wait, so the request asks for those outcomes and the page keeps the
  answered calls over the threshold (:func:`shown`);
* an agent: the calls the agent answered today.

"Export CSV" downloads what the panel shows: the same request with ``format=csv`` (:func:`export_url`). For SL
misses the page fetches that CSV when the link is used and keeps the header and the calls it shows
(:func:`kept_calls`), so the file has the server's columns and cells whatever they become.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

from dash_app.grid import translated_headers
from dash_app.i18n import N_

__all__ = [
    "CALLS_PATH",
    "CALL_COLUMN_DEFS",
    "KINDS",
    "LIMIT",
    "OUTCOMES",
    "OUTCOME_WORDS",
    "TITLES",
    "UNANSWERED_MISSES",
    "Kind",
    "calls_config",
    "calls_url",
    "export_url",
    "is_sl_miss",
    "kept_calls",
    "query",
    "queue_figures",
    "shown",
    "title",
]

Kind = Literal["offered", "abandoned", "sl_misses", "agent"]
KINDS: tuple[Kind, ...] = ("offered", "abandoned", "sl_misses", "agent")
CALLS_PATH = "/api/v1/calls"
LIMIT = 2000  # rows the panel asks for; more are left to the export of a narrower search
CALLER_MAX = 40  # the API's longest caller= text
UNANSWERED_MISSES = ("abandoned", "timed_out", "exited_key", "exited_empty", "exited_full", "exited_withdraw")
OUTCOMES: dict[Kind, tuple[str, ...]] = {
    "offered": (),
    "abandoned": ("abandoned", "short_abandon"),
    "sl_misses": ("answered", *UNANSWERED_MISSES),
    "agent": (),
}
TITLES: dict[Kind, str] = {
    "offered": N_("Offered today · {name}"),
    "abandoned": N_("Abandoned today · {name}"),
    "sl_misses": N_("SL misses today · {name}"),
    "agent": N_("Calls answered today · {name}"),
}
NOTES: dict[Kind, str] = {
    "offered": N_("Every call that left the queue today; an answered call is listed once it has ended."),
    "abandoned": N_("Callers who hung up while waiting, short abandons included."),
    "sl_misses": N_(
        "Answered after more than {threshold} s, or abandoned, timed out or exited;"
        " short abandons and calls of unknown outcome are not listed."
    ),
    "agent": N_("Calls the agent answered today, once they have ended."),
}
# The call log's outcomes in words (wbOutcome translates them; the rows keep the raw outcome).
OUTCOME_WORDS: dict[str, str] = {
    "answered": N_("answered"),
    "abandoned": N_("abandoned"),
    "short_abandon": N_("short abandon"),
    "timed_out": N_("timed out"),
    "exited_key": N_("exited (key)"),
    "exited_empty": N_("exited (empty)"),
    "exited_full": N_("exited (full)"),
    "exited_withdraw": N_("exited (withdrawn)"),
    "unknown": N_("unknown"),
}
_SECONDS = {"function": "params.value == null ? '' : wbDuration(params.value)"}
# The panel's grid: wbCallTime, wbTransfer, wbOutcome and wbWords are calls.js's dashAgGridFunctions,
# wbDuration supervisor.js's.
CALL_COLUMN_DEFS: list[dict[str, Any]] = [
    {
        "colId": "time",
        "headerName": N_("Time"),
        "headerTooltip": N_("When the call entered the queue (site time)"),
        "valueGetter": {"function": "wbCallTime(params.data)"},
        "sort": "desc",
        "width": 110,
    },
    {"field": "queue", "headerName": N_("Queue"), "width": 120},
    {
        "field": "caller",
        "headerName": N_("Caller"),
        "tooltipField": "caller_name",
        "width": 150,
    },
    {
        "field": "wait_s",
        "headerName": N_("Wait"),
        "valueFormatter": _SECONDS,
        "filter": "agNumberColumnFilter",
        "width": 90,
    },
    {"field": "agent", "headerName": N_("Agent"), "width": 110},
    {
        "field": "talk_s",
        "headerName": N_("Talk"),
        "valueFormatter": _SECONDS,
        "filter": "agNumberColumnFilter",
        "width": 90,
    },
    {
        "field": "outcome",
        "headerName": N_("Outcome"),
        "valueFormatter": {"function": "wbOutcome(params.value)"},
        "width": 140,
    },
    {
        "colId": "transfer",
        "headerName": N_("Transfer"),
        "headerTooltip": N_("Transfer target (attended or blind)"),
        "valueGetter": {"function": "wbTransfer(params.data)"},
        "width": 150,
    },
    {
        "colId": "missed_by",
        "headerName": N_("Missed by"),
        "headerTooltip": N_("Agents it rang who did not answer"),
        "valueGetter": {"function": "wbWords(params.data.missed_by)"},
        "flex": 1,
        "minWidth": 120,
    },
]


CALL_COLUMN_DEFS = translated_headers(CALL_COLUMN_DEFS)


def query(kind: Kind, name: str, caller: str = "", limit: int = LIMIT) -> list[tuple[str, str]]:
    """The call log's parameters for ``kind`` of the queue or agent ``name``, today, narrowed to numbers holding
    ``caller`` (trimmed; blank: all)."""
    params = [("agent" if kind == "agent" else "queue", name)]
    params += [("outcome", outcome) for outcome in OUTCOMES[kind]]
    wanted = caller.strip()[:CALLER_MAX]
    if wanted:
        params.append(("caller", wanted))
    params.append(("limit", str(limit)))
    return params


def calls_url(params: Sequence[tuple[str, str]]) -> str:
    """The call log's URL for ``params``."""
    return f"{CALLS_PATH}?{urlencode(params)}"


def export_url(params: Sequence[tuple[str, str]]) -> str:
    """The CSV of the same request (for SL misses: the file the page keeps the calls shown of)."""
    return calls_url([*params, ("format", "csv")])


def is_sl_miss(row: Mapping[str, Any], threshold_s: float) -> bool:
    """Whether a call log row missed the service level: answered after more than ``threshold_s`` seconds, or left
    unanswered other than by a short abandon (or an unknown outcome)."""
    outcome = row.get("outcome")
    if outcome in UNANSWERED_MISSES:
        return True
    wait = row.get("wait_s")
    return outcome == "answered" and isinstance(wait, int | float) and wait > threshold_s


def shown(kind: Kind, rows: Iterable[Mapping[str, Any]], threshold_s: float | None) -> list[Mapping[str, Any]]:
    """The rows the panel lists: all of them, but only the misses for SL misses (a threshold of None: 0 s)."""
    if kind != "sl_misses":
        return list(rows)
    return [row for row in rows if is_sl_miss(row, threshold_s or 0.0)]


def title(kind: Kind, name: str) -> str:
    """The panel's heading."""
    return TITLES[kind].format(name=name)


def note(kind: Kind, threshold_s: float | None) -> str:
    """What the panel lists, in words (the SL threshold in whole seconds, as the browser rounds it)."""
    return NOTES[kind].format(threshold=math.floor((threshold_s or 0.0) + 0.5))


def kept_calls(text: str, call_ids: Iterable[str]) -> str:
    """The call log's CSV ``text`` with its header and only the calls of ``call_ids`` (its ``call_id`` column)."""
    wanted = set(call_ids)
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        return ""
    column = records[0].index("call_id")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([records[0], *(r for r in records[1:] if len(r) > column and r[column] in wanted)])
    return out.getvalue()


def _count(window: Mapping[str, Any], key: str) -> int:
    value = window.get(key)
    return value if isinstance(value, int) else 0


def queue_figures(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Today's figures of each queue, by name: offered, abandoned (short abandons included) and SL misses
    (answered beyond the threshold, with a known wait, plus unanswered other than short abandons and unknown)."""
    out = []
    for name, entry in sorted((snapshot.get("queues") or {}).items()):
        day = entry.get("day") or {}
        late = _count(day, "answered") - _count(day, "answered_within_sl") - _count(day, "wait_unknown")
        unanswered = _count(day, "abandoned") - _count(day, "short_abandoned")
        unanswered += _count(day, "timed_out") + _count(day, "exited_other")
        out.append(
            {
                "queue": name,
                "offered": _count(day, "offered"),
                "abandoned": _count(day, "abandoned"),
                "sl_misses": max(0, late) + max(0, unanswered),
                "threshold_s": entry.get("sl_threshold_s"),
            }
        )
    return out


def calls_config() -> dict[str, Any]:
    """What ``tv_assets/calls.js`` needs of this module (the page's ``sup-config`` store, key ``calls``)."""
    return {
        "path": CALLS_PATH,
        "limit": LIMIT,
        "caller_max": CALLER_MAX,
        "outcomes": OUTCOMES,
        "misses": UNANSWERED_MISSES,
        "titles": TITLES,
        "notes": NOTES,
        "outcome_words": OUTCOME_WORDS,
    }
