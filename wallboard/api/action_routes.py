"""Supervisor actions on agents: pause, unpause, log in, log out and monitor, executed by the PBX.

| route                                      | body                                       | needs                    |
|--------------------------------------------|--------------------------------------------|--------------------------|
| POST /api/v1/agents/{agent_id}/pause       | ``{"reason": "Coaching", "queue": null}``  | ACT_ON_AGENTS, ``pause`` |
| POST /api/v1/agents/{agent_id}/unpause     | ``{"queue": null}``                        | ACT_ON_AGENTS, ``pause`` |
| POST /api/v1/agents/{agent_id}/login       | ``{"queue": "support", "penalty": 0}``     | ACT_ON_AGENTS, ``login`` |
| POST /api/v1/agents/{agent_id}/logout      | ``{"queue": null}``                        | ACT_ON_AGENTS, ``login`` |
| POST /api/v1/agents/{agent_id}/monitor     | ``{"mode": "listen", "extension": null}``  | ``monitor``, may_monitor |
| GET  /api/v1/actions/{id}                  |                                            | ACT_ON_AGENTS            |
| GET  /api/v1/actions?agent=&limit=         |                                            | ACT_ON_AGENTS            |
| GET  /api/v1/actions/options               |                                            | ACT_ON_AGENTS            |
| GET  /api/v1/me/profile                    |                                            | a user, not a token      |
| PATCH /api/v1/me/profile                   | ``{"extension": "PJSIP/2001"}``            | ACT_ON_AGENTS (a user)   |

Every action answers 202 ``{"id", "state": "pending", ...}`` (``wallboard.core.actions.ActionStatus``): the AMI
collector executes it and ``GET /api/v1/actions/{id}`` then shows ``done`` or ``failed`` with the PBX's own
message (``wallboard.admin.actions``). A pause shows in the snapshot as the PBX's QueueMemberPause comes back
through the collector and the engine, like any pause.

Refusals, in the order checked: 401/403 without the permission (display tokens, viewers and planners); 403
when the kind is not enabled (``WALLBOARD_ACTIONS``, none by default), or for a monitor without the
user's grant (``wallboard users grant-monitor NAME`` or ``PATCH /api/v1/users/{name}`` ``may_monitor``);
422 for an invalid body (a reason of 1 to 64 characters, control characters removed; login needs a
queue; monitor needs an extension, given or the user's own); 404 for an agent the snapshot does not
list; 409 for a monitor of an agent on no call, for a logout of a static member (the AMI
collector's member directory tells the membership), and, on a site with several PBX collectors (AMI and ESL), for
an agent in none of their directories (the action names the collector whose directory knows the agent, so only
that one runs it); 429 past ``WALLBOARD_ACTIONS_PER_MINUTE`` (30) per
user. A user scoped to teams and queues acts only within their view (``security.view_of``): an agent out of
it is a 404, as an unknown one, a queue out of it a 403; a pause, unpause or logout of "every queue" means every
queue of the agent in their view (the one such queue, or the user names it: 422 when there are several); the
action reads show only their agents' actions.
Requests are counted in ``wallboard_agent_action_requests_total{site,kind,answer}``; the outcomes in
``wallboard_agent_actions_total{site,kind,result}`` (from the collector's health).

The agent is named to the PBX by every name the wallboard knows for it: its id, the site file's display
name and aliases (the collector takes the first the PBX knows as an interface or member name).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from wallboard.admin.accounts import UnknownUserError
from wallboard.admin.actions import AgentActions
from wallboard.api.responses import GUARDED, Detail, problems
from wallboard.api.security import Permission, Principal, guarded, require, scope_of, site_named, view_of
from wallboard.core.actions import (
    DEFAULT_PAUSE_REASONS,
    FAMILIES,
    FAMILY_OF,
    INTERFACE_PATTERN,
    MAX_REASON,
    MONITOR_OPTIONS,
    ActionKind,
    ActionStatus,
    AgentAction,
    MonitorMode,
)
from wallboard.core.text import CleanText
from wallboard.core.users import DISPLAY

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

QUEUE_PATTERN = r"^[A-Za-z0-9_.@+-]{1,128}$"
SiteQuery = Query(default=None, description="Site (default: the first site the API serves).")
Actor = Annotated[Principal, Depends(require(Permission.ACT_ON_AGENTS, cookie=True))]
Person = Annotated[Principal, Depends(require(Permission.READ, cookie=True, display=False))]
Queue = Annotated[str | None, Field(default=None, pattern=QUEUE_PATTERN, description="absent: every queue")]


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: CleanText = Field(min_length=1, max_length=MAX_REASON)
    queue: Queue = None


class QueueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: Queue = None


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str = Field(pattern=QUEUE_PATTERN, description="the queue to log the agent in to")
    penalty: int = Field(default=0, ge=0, le=1000)


class MonitorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: MonitorMode
    extension: str | None = Field(
        default=None, pattern=INTERFACE_PATTERN, description="the phone to ring (default: the user's own)"
    )


class Profile(BaseModel):
    name: str
    extension: str | None
    may_monitor: bool
    language: str | None = Field(default=None, description="the pages' language for you (null: your browser's)")


class ProfileChange(BaseModel):
    """The fields given are changed, the others kept."""

    model_config = ConfigDict(extra="forbid")
    extension: str | None = Field(
        default=None, pattern=INTERFACE_PATTERN, description="your phone, e.g. PJSIP/2001 (null: none)"
    )
    language: str | None = Field(
        default=None, pattern=r"^[a-z]{2}$", description="the pages' language: en, fi, nl, el, cs, de, fr, es"
    )


class Options(BaseModel):
    enabled: list[str] = Field(description="kinds enabled: pause (and unpause), login (and logout), monitor")
    pause_reasons: list[str]
    modes: list[str]
    may_monitor: bool
    extension: str | None


ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **GUARDED,
    404: {"model": Detail, "description": "No such agent in the snapshot."},
    409: {"model": Detail, "description": "The agent is on no call (monitor), or a static member (logout)."},
    429: {"model": Detail, "description": "Too many actions by this user this minute."},
    503: {"model": Detail, "description": "No snapshot yet, or Redis unreachable."},
}


def build_action_router(runtime: Runtime) -> APIRouter:
    """The agent action routes, the action reads and the user's profile, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1")
    requests = Counter(
        "wallboard_agent_action_requests",
        "Supervisor actions asked through the API, by answer (accepted, forbidden, disabled, conflict, rate_limited).",
        ["site", "kind", "answer"],
        registry=runtime.registry,
    )

    async def act(site: str | None, principal: Principal, agent_id: str, kind: ActionKind, **fields: Any) -> Any:
        served = site_named(runtime, site)

        def refuse(status: int, answer: str, detail: str) -> HTTPException:
            requests.labels(served.name, kind, answer).inc()
            return HTTPException(status, detail=detail)

        family = FAMILY_OF[kind]
        if family not in runtime.settings.actions:
            enabled = ",".join((*runtime.settings.actions, family))
            why = f"{kind} actions are disabled on this wallboard: enable them with WALLBOARD_ACTIONS={enabled}"
            raise refuse(403, "disabled", why)
        if kind == "monitor":
            fields["extension"] = await _monitor_extension(served, principal, fields.get("extension"), refuse)
        view = await view_of(served, principal)
        agent = _agent(served, view, agent_id)
        queue = fields.get("queue")
        scoped = await scope_of(served, principal) is not None
        if queue is not None and queue not in view["queues"] and scoped:
            raise refuse(403, "forbidden", f"queue {queue!r} is outside what {principal.name} may act on")
        if queue is None and scoped and kind in ("pause", "unpause", "logout"):
            fields["queue"] = _queue_in_scope(served, view, agent_id, principal.name, refuse)
        if kind == "monitor" and not agent.get("call"):
            raise refuse(409, "conflict", f"agent {agent_id} is on no call: there is nothing to listen to")
        names = _names(runtime, served, agent_id, agent)
        directories = await guarded(served.store.actions.directories())
        collector, member = _collector_of(directories, (agent_id, *names))
        if collector is None and len(directories) > 1:
            known = ", ".join(sorted(directories))
            detail = f"agent {agent_id} is in the directory of no PBX collector ({known}): which PBX to ask is unknown"
            raise refuse(409, "conflict", detail)
        if kind == "logout" and (static := _static_only(member, fields.get("queue"))):
            detail = f"agent {agent_id} is a static member of {static} (queues.conf): a logout cannot remove it"
            raise refuse(409, "conflict", detail)
        actions = AgentActions(served.store.actions)
        if not await guarded(actions.allow(principal.name, runtime.settings.actions_per_minute)):
            per_minute = runtime.settings.actions_per_minute
            raise refuse(429, "rate_limited", f"{principal.name} asked for more than {per_minute} actions this minute")
        action = AgentAction(
            id=secrets.token_hex(8),
            kind=kind,
            agent=agent_id,
            names=names,
            by=principal.name,
            requested=datetime.fromtimestamp(runtime.clock(), UTC).isoformat(),
            collector=collector,
            **fields,
        )
        status = await guarded(actions.request(action))
        requests.labels(served.name, kind, "accepted").inc()
        return status

    @router.post("/agents/{agent_id}/pause", status_code=202, response_model=ActionStatus, responses=ACTION_ERRORS)
    async def pause(agent_id: str, body: PauseBody, principal: Actor, site: str | None = SiteQuery) -> Any:
        """Pause the agent (in every queue, or in ``queue``) with a reason."""
        return await act(site, principal, agent_id, "pause", reason=body.reason, queue=body.queue)

    @router.post("/agents/{agent_id}/unpause", status_code=202, response_model=ActionStatus, responses=ACTION_ERRORS)
    async def unpause(agent_id: str, body: QueueBody, principal: Actor, site: str | None = SiteQuery) -> Any:
        """End the agent's pause (in every queue, or in ``queue``)."""
        return await act(site, principal, agent_id, "unpause", queue=body.queue)

    @router.post("/agents/{agent_id}/login", status_code=202, response_model=ActionStatus, responses=ACTION_ERRORS)
    async def login(agent_id: str, body: LoginBody, principal: Actor, site: str | None = SiteQuery) -> Any:
        """Log the agent in to ``queue`` (QueueAdd of its interface, member name and state interface)."""
        return await act(site, principal, agent_id, "login", queue=body.queue, penalty=body.penalty)

    @router.post("/agents/{agent_id}/logout", status_code=202, response_model=ActionStatus, responses=ACTION_ERRORS)
    async def logout(agent_id: str, body: QueueBody, principal: Actor, site: str | None = SiteQuery) -> Any:
        """Log the agent out of ``queue``, or of every queue it joined dynamically."""
        return await act(site, principal, agent_id, "logout", queue=body.queue)

    @router.post("/agents/{agent_id}/monitor", status_code=202, response_model=ActionStatus, responses=ACTION_ERRORS)
    async def monitor(agent_id: str, body: MonitorBody, principal: Actor, site: str | None = SiteQuery) -> Any:
        """Ring the supervisor's phone and, when answered, listen to (whisper to, barge into) the agent's call."""
        return await act(site, principal, agent_id, "monitor", mode=body.mode, extension=body.extension)

    _read_routes(router, runtime)
    _profile_routes(router, runtime)
    return router


def _read_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("/actions/options", response_model=Options, responses=GUARDED)
    async def options(principal: Actor, site: str | None = SiteQuery) -> Any:
        """What the action menu offers this user: the kinds enabled, the pause reasons, the monitor modes."""
        served = site_named(runtime, site)
        user = await _user(served, principal)
        config = runtime.site_config if served.name == runtime.settings.site else None
        reasons = config.menu_pause_reasons if config is not None else DEFAULT_PAUSE_REASONS
        return {
            "enabled": [family for family in FAMILIES if family in runtime.settings.actions],
            "pause_reasons": list(reasons),
            "modes": list(MONITOR_OPTIONS),
            "may_monitor": _may_monitor(runtime, principal, user),
            "extension": user.extension if user is not None else None,
        }

    @router.get("/actions", response_model=list[ActionStatus], responses=GUARDED)
    async def recent(
        principal: Actor,
        site: str | None = SiteQuery,
        agent: Annotated[str | None, Query(max_length=256)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> Any:
        """The latest actions, newest first (of ``agent`` when given; a scoped user: of their agents)."""
        served = site_named(runtime, site)
        found = await guarded(AgentActions(served.store.actions).recent(agent, limit))
        if await scope_of(served, principal) is None:
            return found
        visible = (await view_of(served, principal))["agents"]
        return [status for status in found if status.agent in visible]

    @router.get("/actions/{action_id}", response_model=ActionStatus, responses={**GUARDED, 404: {"model": Detail}})
    async def get_action(
        action_id: Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")],
        principal: Actor,
        site: str | None = SiteQuery,
    ) -> Any:
        """Where an action stands: pending, done, or failed with the PBX's message."""
        served = site_named(runtime, site)
        status = await guarded(AgentActions(served.store.actions).get(action_id))
        if status is not None and await scope_of(served, principal) is not None:
            status = status if status.agent in (await view_of(served, principal))["agents"] else None
        if status is None:
            raise HTTPException(404, detail=f"no action {action_id!r} (unknown, or older than a week)")
        return status


def _profile_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("/me/profile", response_model=Profile, responses=GUARDED)
    async def get_profile(principal: Person, site: str | None = SiteQuery) -> Any:
        """Your profile: your phone (where a monitor call rings) and whether you may monitor calls."""
        served = site_named(runtime, site)
        user = await _user(served, principal)
        extension = user.extension if user is not None else None
        language = user.language if user is not None else None
        may_monitor = _may_monitor(runtime, principal, user)
        return {"name": principal.name, "extension": extension, "may_monitor": may_monitor, "language": language}

    @router.patch("/me/profile", response_model=Profile, responses={**GUARDED, 409: {"model": Detail}})
    async def change_profile(body: ProfileChange, principal: Actor, site: str | None = SiteQuery) -> Any:
        """Set your phone (``PJSIP/2001``; null for none: where your monitor calls ring) and your pages' language."""
        served = site_named(runtime, site)
        changes = {field: getattr(body, field) for field in body.model_fields_set}
        try:
            user = await guarded(served.accounts.set_profile(principal.name, changes, actor=principal.name))
        except UnknownUserError as exc:
            raise HTTPException(409, detail=f"{principal.name} has no user record to keep a profile in") from exc
        return {
            "name": user.name,
            "extension": user.extension,
            "may_monitor": user.may_monitor,
            "language": user.language,
        }


async def _user(served: ServedSite, principal: Principal) -> Any:
    if principal.role == DISPLAY or principal.via in ("open", "display"):
        return None
    return await guarded(served.accounts.get_user(principal.name))


def _may_monitor(runtime: Runtime, principal: Principal, user: Any) -> bool:
    if not runtime.auth.enabled:
        return True
    return bool(user is not None and user.may_monitor)


async def _monitor_extension(served: ServedSite, principal: Principal, given: str | None, refuse: Any) -> str:
    """The phone a monitor call rings: the one given, else the user's own; 403 without the user's grant."""
    user = await _user(served, principal)
    if principal.via != "open" and (user is None or not user.may_monitor):
        raise refuse(403, "forbidden", f"{principal.name} may not monitor calls: an admin must grant it (may_monitor)")
    extension = given or (user.extension if user is not None else None)
    if not extension:
        reason = "give the phone to ring, or set yours with PATCH /api/v1/me/profile"
        raise problems(("extension", reason))
    return str(extension)


def _agent(served: ServedSite, view: dict[str, Any], agent_id: str) -> dict[str, Any]:
    """The agent as the caller's view shows it; 404 when it is not there (unknown, or out of scope)."""
    agent = (view.get("agents") or {}).get(agent_id)
    if agent is None:
        raise HTTPException(404, detail=f"no agent {agent_id!r} at site {served.name!r}")
    return dict(agent)


def _names(runtime: Runtime, served: ServedSite, agent_id: str, agent: dict[str, Any]) -> tuple[str, ...]:
    """The agent's other names: the site file's display name and aliases, and the snapshot's name."""
    names: list[str] = []
    config = runtime.site_config if served.name == runtime.settings.site else None
    configured = config.agents.get(agent_id) if config is not None else None
    if configured is not None:
        names += [name for name in (configured.name, *configured.aliases) if name]
    if agent.get("name"):
        names.append(str(agent["name"]))
    return tuple(name for name in dict.fromkeys(names) if name != agent_id)


def _queue_in_scope(
    served: ServedSite,
    view: dict[str, Any],
    agent_id: str,
    user: str,
    refuse: Any,
) -> str | None:
    """ "Every queue" as a scoped user may mean it: None when all the agent's queues are in the user's view, the
    one queue in it when there is one; else the user must name the queue (422) or may not act (403)."""
    whole = served.feed.snapshot or {}
    theirs = list(((whole.get("agents") or {}).get(agent_id) or {}).get("queues") or [])
    mine = [queue for queue in theirs if queue in view["queues"]]
    if len(mine) == len(theirs):
        return None
    if len(mine) == 1:
        return str(mine[0])
    if not mine:
        raise refuse(403, "forbidden", f"agent {agent_id} is in no queue {user} may act on")
    listed = ", ".join(sorted(mine))
    raise refuse(422, "queue_needed", f"agent {agent_id} is also in queues outside {user}'s view: name one of {listed}")


def _collector_of(
    directories: dict[str, dict[str, Any]], names: tuple[str, ...]
) -> tuple[str | None, dict[str, Any] | None]:
    """The collector whose directory knows the agent (by any of ``names``) and its entry there; with one collector
    only, that one (an agent it has not shown yet may still be asked of it); else (None, None)."""
    for collector, members in sorted(directories.items()):
        member = next((info for info in members.values() if _named(info, names)), None)
        if member is not None:
            return collector, member
    if len(directories) == 1:
        return next(iter(directories)), None
    return None, None


def _static_only(member: dict[str, Any] | None, queue: str | None) -> str | None:
    """The queues that make a logout impossible (a static membership), as text; None when it may go ahead."""
    queues: dict[str, str] = dict(member.get("queues") or {}) if isinstance(member, dict) else {}
    if queue is not None:
        return queue if queues.get(queue) == "static" else None
    if queues and all(membership == "static" for membership in queues.values()):
        return ", ".join(sorted(queues))
    return None


def _named(info: Any, names: tuple[str, ...]) -> bool:
    return isinstance(info, dict) and (info.get("interface") in names or info.get("member_name") in names)
