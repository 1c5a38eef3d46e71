"""Login, logout and /me; users, display tokens and the audit trail: the HTTP face of ``wallboard.admin.accounts``.

| route                           | permission    | answers                                                 |
|---------------------------------|---------------|---------------------------------------------------------|
| POST   /api/v1/login            | (none)        | a session token (cookies with ``"cookie": true``); 429  |
| POST   /api/v1/logout           | a session     | 204; ends the session (bearer or ops-page cookie)       |
| GET    /api/v1/me               | READ          | who the credential is and what it may do                |
| GET    /api/v1/users            | MANAGE_USERS  | users (never a hash)                                    |
| POST   /api/v1/users            | MANAGE_USERS  | 201; 409 if the name is taken; 422 password policy      |
| PATCH  /api/v1/users/{name}     | MANAGE_USERS  | role, disabled, password, teams, queues; 409: admin lockout |
| GET    /api/v1/tokens           | MANAGE_TOKENS | display tokens by id (first 12 hex digits of sha256)    |
| POST   /api/v1/tokens           | MANAGE_TOKENS | 201 with the token, shown this once                     |
| DELETE /api/v1/tokens/{id}      | MANAGE_TOKENS | 204; 404 unless the id prefix names exactly one token   |
| GET    /api/v1/audit            | READ_AUDIT    | audit entries, newest first, paged with ``before``      |

Validation problems of any route answer 422 ``{"detail": [{"field": ..., "reason": ...}]}``
(``validation_problems`` is the app's handler for request validation errors). ``may_monitor`` is the grant to
listen to agents' calls (``wallboard.api.action_routes``). ``teams`` and ``queues`` scope a user: they read only
those queues and those teams' agents (both empty: the whole site; ``wallboard.core.scopes``); a change reaches
the user's open websockets at once.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from wallboard.admin.accounts import (
    MIN_TOKEN_PREFIX,
    LoginRefused,
    LoginThrottled,
    Session,
    TokenNotFoundError,
    UnknownUserError,
    UserExistsError,
)
from wallboard.api.clients import client_address, client_scheme
from wallboard.api.responses import GUARDED, R401, R422, Detail, problems
from wallboard.api.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Permission,
    Principal,
    authenticate,
    guarded,
    require,
    session_of,
    site_named,
    unauthorised,
)
from wallboard.core.text import CleanText
from wallboard.core.users import (
    MAX_PASSWORD_LENGTH,
    MAX_SCOPE_NAMES,
    NAME_PATTERN,
    SCOPE_NAME_PATTERN,
    Role,
    User,
    UserError,
)

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime

log = logging.getLogger(__name__)

SiteQuery = Query(default=None, description="Site (default: the first site the API serves).")
AUDIT_PAGE_MAX = 1000
STREAM_ID_PART = 2**64  # each part of a Redis stream id is an unsigned 64-bit number
UserManager = Annotated[Principal, Depends(require(Permission.MANAGE_USERS, cookie=True))]
TokenManager = Annotated[Principal, Depends(require(Permission.MANAGE_TOKENS, cookie=True))]
AuditReader = Annotated[Principal, Depends(require(Permission.READ_AUDIT, cookie=True))]
Reader = Annotated[Principal, Depends(require(Permission.READ, cookie=True))]
ScopeName = Annotated[str, Field(pattern=SCOPE_NAME_PATTERN)]
ScopeNames = Annotated[list[ScopeName], Field(max_length=MAX_SCOPE_NAMES)]


class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    cookie: bool = Field(default=False, description="set HttpOnly session + CSRF cookies (ops page) instead")


class UserOut(BaseModel):
    name: str
    role: Role
    created: str
    disabled: bool
    may_monitor: bool = False
    teams: list[str] = Field(default=[], description="scoped to these teams' agents (empty: every team)")
    queues: list[str] = Field(default=[], description="scoped to these queues (empty: every queue)")


class LoginResponse(BaseModel):
    token: str | None = Field(description="bearer session token (absent with cookie login)")
    expires_in_s: float = Field(description="idle time after which the session ends; each use restarts it")
    user: UserOut


class Me(BaseModel):
    name: str
    role: str
    via: str
    board: str | None
    permissions: list[str]
    teams: list[str] = Field(default=[], description="a scoped user's teams (empty: every team)")
    queues: list[str] = Field(default=[], description="a scoped user's queues (empty: every queue)")


class NewUser(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    teams: ScopeNames = Field(default=[], description="see only these teams' agents (empty: every team)")
    queues: ScopeNames = Field(default=[], description="see only these queues (empty: every queue)")


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH)
    may_monitor: bool | None = Field(default=None, description="may listen to, whisper to or barge into calls")
    teams: ScopeNames | None = Field(default=None, description="the teams the user sees ([]: every team)")
    queues: ScopeNames | None = Field(default=None, description="the queues the user sees ([]: every queue)")


class NewToken(BaseModel):
    board: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    label: CleanText = Field(default="", max_length=200)


class TokenOut(BaseModel):
    id: str
    board: str | None
    label: str
    created: str


class CreatedToken(TokenOut):
    token: str = Field(description="the display token: shown only in this response")


class AuditEntry(BaseModel):
    id: str
    ts: str
    actor: str
    action: str
    target: str
    old: Any = None
    new: Any = None


def _entry_id_in_range(entry_id: str | None) -> str | None:
    """A stream entry id whose two parts fit Redis's unsigned 64 bits (anything else is a 422, not Redis's error)."""
    if entry_id is not None and any(int(part) >= STREAM_ID_PART for part in entry_id.split("-")):
        raise ValueError(f"read {entry_id!r}: each part of an entry id is a number below 2**64")
    return entry_id


def build_admin_router(runtime: Runtime) -> APIRouter:
    """Login/logout/me, users, display tokens and audit routes, bound to ``runtime``."""
    router = APIRouter(prefix="/api/v1")
    _session_routes(router, runtime)
    _user_routes(router, runtime)
    _token_routes(router, runtime)

    @router.get("/audit", response_model=list[AuditEntry], responses=GUARDED)
    async def audit(
        principal: AuditReader,
        site: str | None = SiteQuery,
        count: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
        before: Annotated[
            str | None,
            Query(pattern=r"^\d{1,20}-\d{1,20}$", description="an entry id"),
            AfterValidator(_entry_id_in_range),
        ] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first: who changed what, when, old -> new (never a secret)."""
        accounts = site_named(runtime, site).accounts
        return await guarded(accounts.audit_entries(count, before=before, action=action))

    return router


def _session_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.post(
        "/login",
        response_model=LoginResponse,
        responses={401: {"model": Detail}, 429: {"model": Detail, "description": "Too many failures."}, **R422},
    )
    async def login(body: LoginRequest, request: Request, response: Response, site: str | None = SiteQuery) -> Any:
        """Exchange a user name and password for a session (bearer token, or cookies for the ops page)."""
        accounts = site_named(runtime, site).accounts
        proxies = runtime.settings.trusted_proxies
        client = client_address(request, proxies)
        try:
            session = await guarded(accounts.login(body.name, body.password, client))
        except LoginThrottled as exc:
            raise HTTPException(
                429, detail=str(exc), headers={"Retry-After": str(math.ceil(exc.retry_after_s))}
            ) from exc
        except LoginRefused as exc:
            raise unauthorised(str(exc)) from exc
        if body.cookie:
            _set_cookies(response, session, secure=client_scheme(request, proxies) == "https")
        return {
            "token": None if body.cookie else session.token,
            "expires_in_s": session.ttl_s,
            "user": session.user.public(),
        }

    @router.post("/logout", status_code=204, responses={**R401, 403: {"model": Detail}})
    async def logout(request: Request, site: str | None = SiteQuery) -> Response:
        """End the session the request carries (bearer token or the ops page's cookie)."""
        served = site_named(runtime, site)
        principal = await authenticate(runtime, served, request, cookie=True)  # checks CSRF for the cookie
        if principal is None:
            raise unauthorised()
        active = await session_of(runtime, served, request)
        if active is None:
            raise HTTPException(403, detail="only a login session can log out (display tokens are revoked instead)")
        await guarded(served.accounts.logout(active))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
        response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
        return response

    @router.get("/me", response_model=Me, responses={**R401})
    async def me(
        principal: Reader,
        site: str | None = SiteQuery,
    ) -> dict[str, Any]:
        """Who the credential is, and what it may do."""
        return {
            "name": principal.name,
            "role": str(principal.role),
            "via": principal.via,
            "board": principal.board,
            "permissions": principal.permissions,
            "teams": sorted(scope.teams or ()) if (scope := principal.scope) is not None else [],
            "queues": sorted(scope.queues or ()) if scope is not None else [],
        }


def _set_cookies(response: Response, session: Session, *, secure: bool) -> None:
    """The session in an HttpOnly cookie; the CSRF token in a readable one (echoed in the X-CSRF-Token header)."""
    same_site: Literal["strict"] = "strict"
    age = int(session.ttl_s)
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=age, path="/", secure=secure, httponly=True, samesite=same_site
    )
    response.set_cookie(CSRF_COOKIE, session.csrf, max_age=age, path="/", secure=secure, samesite=same_site)


def _user_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("/users", response_model=list[UserOut], responses=GUARDED)
    async def list_users(principal: UserManager, site: str | None = SiteQuery) -> list[Any]:
        """Every user of the site (name, role, created, disabled)."""
        return [user.public() for user in await guarded(site_named(runtime, site).accounts.list_users())]

    @router.post("/users", response_model=UserOut, status_code=201, responses={**GUARDED, 409: {"model": Detail}})
    async def add_user(body: NewUser, principal: UserManager, site: str | None = SiteQuery) -> Any:
        """Create a user (password at least 12 characters), scoped to ``teams`` and ``queues`` when given."""
        accounts = site_named(runtime, site).accounts
        try:
            user = await guarded(
                accounts.add_user(
                    body.name, body.role, body.password, actor=principal.name, teams=body.teams, queues=body.queues
                )
            )
        except UserExistsError as exc:
            raise HTTPException(409, detail=str(exc)) from exc
        except UserError as exc:
            raise problems(("password" if "password" in str(exc) else "name", str(exc))) from exc
        return user.public()

    @router.patch(
        "/users/{name}", response_model=UserOut, responses={**GUARDED, 404: {"model": Detail}, 409: {"model": Detail}}
    )
    async def change_user(name: str, body: UserChange, principal: UserManager, site: str | None = SiteQuery) -> Any:
        """Change a user's role, disable or enable it, set its password, or its scope (teams, queues)."""
        accounts = site_named(runtime, site).accounts
        if name == principal.name and (body.disabled or (body.role is not None and body.role is not Role.ADMIN)):
            raise HTTPException(409, detail="you cannot disable yourself or give up your own admin role")
        try:
            user: User = await guarded(
                accounts.update_user(
                    name,
                    actor=principal.name,
                    role=body.role,
                    disabled=body.disabled,
                    password=body.password,
                    may_monitor=body.may_monitor,
                    teams=body.teams,
                    queues=body.queues,
                )
            )
        except UnknownUserError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        except UserError as exc:
            raise problems(("password", str(exc))) from exc
        return user.public()


def _token_routes(router: APIRouter, runtime: Runtime) -> None:
    @router.get("/tokens", response_model=list[TokenOut], responses=GUARDED)
    async def list_tokens(principal: TokenManager, site: str | None = SiteQuery) -> list[Any]:
        """Display tokens of the site (their ids: the tokens themselves are never stored)."""
        return [token.public() for token in await guarded(site_named(runtime, site).accounts.list_tokens())]

    @router.post("/tokens", response_model=CreatedToken, status_code=201, responses=GUARDED)
    async def create_token(body: NewToken, principal: TokenManager, site: str | None = SiteQuery) -> Any:
        """A new read-only display token for one board: the response is the only place it is ever shown."""
        accounts = site_named(runtime, site).accounts
        token, shown = await guarded(accounts.create_token(body.board, body.label, actor=principal.name))
        return {**shown.public(), "token": token}

    @router.delete("/tokens/{token_id}", status_code=204, responses={**GUARDED, 404: {"model": Detail}})
    async def revoke_token(
        token_id: Annotated[str, Path(min_length=MIN_TOKEN_PREFIX, max_length=64, pattern=r"^[0-9a-fA-F]+$")],
        principal: TokenManager,
        site: str | None = SiteQuery,
    ) -> Response:
        """Revoke a display token by its id (or a unique prefix of at least 6 hex digits)."""
        accounts = site_named(runtime, site).accounts
        try:
            digest, _ = await guarded(accounts.revoke_token(token_id, actor=principal.name))
        except TokenNotFoundError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        runtime.auth.forget(digest)
        return Response(status_code=204)
