"""Who is asking, and may they: ``Principal``, ``authenticate`` and the ``require(permission)`` dependency.

Theory of operation
-------------------
A request carries at most one credential, looked for in this order:

1. ``Authorization: Bearer <token>``: a session token (``wbs_...``, from ``POST /api/v1/login``)
   or a display token. A session token resolves to its user's *current* role (a disabled user's
   sessions stop working at once); anything else is checked as a display token.
2. ``?token=<token>``: display tokens only (a browser cannot set a header on a websocket). A
   session token is never accepted in a URL, where it would end up in access logs and history.
3. The ``wb_session`` cookie (HttpOnly, SameSite=Strict), set by a login with ``"cookie": true``:
   only on routes declared with ``require(..., cookie=True)`` (the ones the ops page calls). A
   write (any method but GET/HEAD/OPTIONS) through the cookie must also send the ``X-CSRF-Token``
   header equal to the ``wb_csrf`` cookie *and* to the token minted with that session (double
   submit, bound to the session), else 403.

No credential, or one that resolves to nothing, is 401; a valid one without the permission is
403; Redis unreachable while checking is 503 (the credential may well be valid). With
``auth_enabled=False`` (tests, development) every request is the admin principal ``anonymous``.

Permissions per role are the table ``wallboard.core.users.PERMISSIONS``; a display token has READ only.
A revoked display token keeps working on a process that checked it within the last
``auth.GRANT_TTL_S`` (5 s) at most; the process that revokes it forgets it at once.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from fastapi import HTTPException, Request
from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry
from redis.exceptions import ReadOnlyError, RedisError, ResponseError
from starlette.requests import HTTPConnection

from wallboard.admin.accounts import SESSION_PREFIX, ActiveSession, token_digest
from wallboard.api.auth import presented_token
from wallboard.core.users import DISPLAY, Permission, Role, RoleName, permissions_of

if TYPE_CHECKING:
    from wallboard.api.runtime import Runtime, ServedSite

log = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_COOKIE = "wb_session"
CSRF_COOKIE = "wb_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Via = Literal["session", "cookie", "display", "open"]

__all__ = ["Permission", "Principal", "Role", "authenticate", "require"]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user (``name``, ``role``) or a display token (``display:<board>``)."""

    name: str
    role: RoleName
    via: Via = "open"
    board: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in permissions_of(self.role)

    @property
    def permissions(self) -> list[str]:
        return sorted(permission.value for permission in permissions_of(self.role))


ANONYMOUS = Principal("anonymous", Role.ADMIN, via="open")


def unauthorised(detail: str = "missing or unknown credentials") -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="wallboard"'})


def forbidden(principal: Principal, permission: Permission) -> HTTPException:
    who = "a display token" if principal.role == DISPLAY else f"{principal.name} (role {principal.role})"
    return HTTPException(403, detail=f"{who} may not {permission.value.replace('_', ' ')}")


async def guarded(check: Awaitable[T]) -> T:
    """Await a Redis-backed step; Redis unreachable (or read-only while failing over) is a 503, not a 401 or a 500."""
    try:
        return await check
    except (RedisError, OSError) as exc:
        if isinstance(exc, ResponseError) and not isinstance(exc, ReadOnlyError):
            raise  # Redis refused the command itself: a bug to see, not an outage
        log.warning("cannot check a credential: Redis unreachable (%s)", exc)
        raise HTTPException(503, detail="cannot check the credentials now: Redis unreachable") from exc


def site_named(runtime: Runtime, name: str | None) -> ServedSite:
    """The served site ``name`` (default: the first); 404 if this API does not serve it, 503 while starting."""
    wanted = name or runtime.site_names[0]
    served = runtime.sites.get(wanted)
    if served is None:
        if wanted in runtime.site_names:
            raise HTTPException(503, detail=f"site {wanted!r} is not being followed yet (starting or stopping)")
        raise HTTPException(404, detail=f"no site {wanted!r} here; this API serves {', '.join(runtime.site_names)}")
    return served


async def authenticate(
    runtime: Runtime, served: ServedSite, connection: HTTPConnection, *, cookie: bool = False
) -> Principal | None:
    """The principal of a request or websocket (see the module docstring); None when no credential is valid."""
    if not runtime.auth.enabled:
        return ANONYMOUS
    bearer = presented_token(connection.headers, {})
    if bearer is not None:
        if bearer.startswith(SESSION_PREFIX) and (active := await guarded(served.accounts.session(bearer))):
            return _user(active, "session")
        return await _display(runtime, served, bearer)
    query_token = connection.query_params.get("token")
    if query_token:
        return await _display(runtime, served, query_token)
    session_cookie = connection.cookies.get(SESSION_COOKIE) if cookie else None
    if session_cookie and (active := await guarded(served.accounts.session(session_cookie))):
        if connection.scope.get("method", "GET") not in SAFE_METHODS:
            _check_csrf(connection, active)
        return _user(active, "cookie")
    return None


async def session_of(runtime: Runtime, served: ServedSite, connection: HTTPConnection) -> ActiveSession | None:
    """The session a request carries (bearer header or cookie), for logging out; None if it carries none."""
    if not runtime.auth.enabled:
        return None
    token = presented_token(connection.headers, {}) or connection.cookies.get(SESSION_COOKIE)
    if not token or not token.startswith(SESSION_PREFIX):
        return None
    return await guarded(served.accounts.session(token))


def _user(active: ActiveSession, via: Via) -> Principal:
    return Principal(active.user.name, active.user.role, via=via)


async def _display(runtime: Runtime, served: ServedSite, token: str) -> Principal | None:
    grant = await guarded(runtime.auth.check(token, [served.store.accounts]))
    if grant is None:
        return None
    return Principal(f"display:{grant.board or '*'}", DISPLAY, via="display", board=grant.board)


def _check_csrf(connection: HTTPConnection, active: ActiveSession) -> None:
    """Double submit bound to the session: header == cookie == the token minted at login."""
    header = connection.headers.get(CSRF_HEADER, "")
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    same = hmac.compare_digest(header.encode(), cookie.encode())
    bound = hmac.compare_digest(token_digest(header).encode(), active.csrf_digest.encode())
    if not (header and same and bound):
        log.warning("refused a cookie-authenticated write by %s: CSRF token missing or wrong", active.user.name)
        raise HTTPException(403, detail=f"a write with the session cookie needs the {CSRF_HEADER} header")


async def authorise(
    runtime: Runtime, served: ServedSite, connection: HTTPConnection, permission: Permission, *, cookie: bool = False
) -> Principal:
    """The request's principal if it holds ``permission``; else 401 (no valid credential) or 403."""
    principal = await authenticate(runtime, served, connection, cookie=cookie)
    if principal is None:
        raise unauthorised()
    if not principal.can(permission):
        raise forbidden(principal, permission)
    return principal


def require(permission: Permission, *, cookie: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: ``Depends(require(Permission.ACK_ALERTS))`` -> the Principal, or 401/403.

    The site is the request's ``?site=`` (default: the first one the API serves); ``cookie=True``
    also accepts the ops page's session cookie (with the CSRF check on writes).
    """

    async def dependency(request: Request) -> Principal:
        runtime: Runtime = request.app.state.runtime
        served = site_named(runtime, request.query_params.get("site"))
        return await authorise(runtime, served, request, permission, cookie=cookie)

    return dependency


def login_failure_counter(registry: CollectorRegistry) -> Counter:
    """``wallboard_login_failures_total{site, reason}`` on the API's registry (reasons: unknown_user,
    bad_password, disabled, throttled)."""
    return Counter(
        "wallboard_login_failures",
        "Failed logins: wrong name or password, disabled user, or refused by the rate limit.",
        ["site", "reason"],
        registry=registry,
    )
