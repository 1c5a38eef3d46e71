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

Permissions per role are the table ``wallboard.core.users.PERMISSIONS``; a display token has READ only,
and only of what a TV shows: routes declared with ``require(..., display=False)`` (schedules, history)
refuse it with 403, like those needing another permission (users, tokens, audit). A token bound to a
board reads that board's part of the site and no other board (``check_board``); an unbound one reads every
board. A user scoped to teams and queues (``User.teams``, ``User.queues``) reads those queues and those
teams' agents; an unscoped one, the whole site.

What a principal may read is computed in one place: ``scope_of`` (the board's or the user's scope,
``wallboard.core.scopes``) and ``view_of`` (the snapshot narrowed to it), which every read route calls; a
websocket joins the hub under ``view_key`` with that scope.

Access ends when it is revoked
------------------------------
A request is checked when it arrives; a websocket stays open, so each site's ``AccessWatch`` keeps
every open socket's credential under watch (``hold``) and ends the socket when the credential ends:

* it re-checks every *distinct* credential held, every ``RECHECK_S`` (2 s), in one batch (an HMGET of
  the tokens, the sessions' GETs in one pipeline without restarting their expiry, an HMGET of their
  users): a thousand TVs on one token cost one lookup per interval;
* it re-checks at once on an ``access`` notice on the site's config channel (a token revoked, a
  session ended, a user written: ``wallboard.store.security``), from any process or the CLI, and then
  also forgets the display tokens ``auth.Authenticator`` trusted, so new requests are checked afresh;
* on a ``board`` notice (and every interval) it re-reads the boards the hub shows, so a changed board
  narrows or widens its sockets' view at once; a user's changed teams or queues (seen with the
  session's user) does the same to that user's sockets: a snapshot of the new view.

Close codes: ``4401`` (``CLOSE_UNAUTHORISED``) with reason ``display token revoked``, ``session ended
(logged out or expired)``, ``user disabled``, ``user removed`` or ``password changed``; ``4403``
(``CLOSE_FORBIDDEN``) when a user's new role may no longer read. A role change that keeps READ changes
the socket's principal and nothing it is sent (what a user sees is their scope, not their role). While
Redis is unreachable nothing is closed (the next successful check decides). Revocation thus reaches every
open socket of every API process within ``RECHECK_S`` plus one Redis round trip, usually at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import HTTPException, Request
from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry
from redis.exceptions import ReadOnlyError, RedisError, ResponseError
from starlette.requests import HTTPConnection

from wallboard.admin.accounts import SESSION_PREFIX, ActiveSession, token_digest
from wallboard.api.auth import presented_token
from wallboard.core.scopes import BoardScope, board_scope, narrow, row_filters, user_scope
from wallboard.core.users import DISPLAY, Permission, Role, RoleName, User, permissions_of
from wallboard.store.errors import StoreError

if TYPE_CHECKING:
    from wallboard.admin.accounts import Accounts
    from wallboard.api.auth import Authenticator
    from wallboard.api.runtime import Runtime, ServedSite
    from wallboard.api.ws import Hub
    from wallboard.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_COOKIE = "wb_session"
CSRF_COOKIE = "wb_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Via = Literal["session", "cookie", "display", "open"]
CLOSE_UNAUTHORISED = 4401  # no credential, or it ended (revoked, logged out, expired, user disabled or removed)
CLOSE_FORBIDDEN = 4403  # the credential holds, but may not read this
RECHECK_S = 2.0  # how often every open websocket's credential is checked again (revocation: within 5 s)
BOARD_VIEW = "board:"  # the hub key of a board's sockets: board:<name>
USER_VIEW = "user:"  # the hub key of a user's sockets: user:<name>
LISTEN_RETRY_S = (0.5, 10.0)  # backoff between subscriptions to the config channel
Ending = tuple[int, str]  # a websocket's close code and reason

__all__ = [
    "AccessWatch",
    "Permission",
    "Principal",
    "Role",
    "authenticate",
    "require",
    "rows_of",
    "scope_of",
    "view_key",
    "view_of",
]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user (``name``, ``role``) or a display token (``display:<board>``).

    ``credential`` is the digest of the session or display token it came with (None: auth off, or a token
    of the settings, which nothing revokes); ``AccessWatch`` re-checks it while a websocket stays open.
    ``scope`` is a user's (None: unscoped); a display token's is its board's (``scope_of``).
    """

    name: str
    role: RoleName
    via: Via = "open"
    board: str | None = None
    credential: str | None = field(default=None, repr=False, compare=False)
    scope: BoardScope | None = None

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
    user = active.user
    scope = user_scope(user.teams, user.queues)
    return Principal(user.name, user.role, via=via, credential=active.digest, scope=scope)


async def _display(runtime: Runtime, served: ServedSite, token: str) -> Principal | None:
    grant = await guarded(runtime.auth.check(token, [served.store.accounts]))
    if grant is None:
        return None
    digest = token_digest(token) if grant.source == "redis" else None
    return Principal(f"display:{grant.board or '*'}", DISPLAY, via="display", board=grant.board, credential=digest)


async def scope_of(served: ServedSite, principal: Principal) -> BoardScope | None:
    """What ``principal`` may read of the site: its board's or its user's scope; None for all of it (unscoped
    users, display tokens bound to no board)."""
    if principal.role != DISPLAY:
        return principal.scope
    if principal.board is None:
        return None
    return board_scope(principal.board, await guarded(served.store.boards.get_board(principal.board)))


async def view_of(served: ServedSite, principal: Principal) -> dict[str, Any]:
    """The site's snapshot as ``principal`` may read it (narrowed to its scope): what every read route answers
    from. 503 before the first snapshot."""
    snapshot = served.feed.snapshot
    if snapshot is None:
        raise HTTPException(503, detail=f"no snapshot of site {served.name!r} yet ({served.feed.problem})")
    scope = await scope_of(served, principal)
    return snapshot if scope is None else narrow(snapshot, scope)


async def rows_of(served: ServedSite, principal: Principal, kind: str) -> dict[str, set[str]] | None:
    """Filters keeping stored rows of ``kind`` (queue, agent, call) within ``principal``'s view (an empty set:
    none); None when it reads them all (``wallboard.core.scopes.row_filters``)."""
    scope = await scope_of(served, principal)
    if scope is None:
        return None
    view = await view_of(served, principal) if served.feed.snapshot is not None else {}
    return row_filters(scope, kind, view)


def view_key(principal: Principal) -> str | None:
    """The hub key ``principal``'s websockets join (None: the whole site, for good): a board's, or a user's, so
    that a later change of the board or of the user's scope reaches them."""
    if principal.role == DISPLAY:
        return None if principal.board is None else BOARD_VIEW + principal.board
    return USER_VIEW + principal.name if principal.via in ("session", "cookie") else None


def check_board(principal: Principal, name: str) -> None:
    """403 when ``principal`` is a display token bound to another board than ``name``."""
    if principal.role == DISPLAY and principal.board is not None and principal.board != name:
        raise HTTPException(403, detail=f"this display token is for board {principal.board!r}, not {name!r}")


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


def require(
    permission: Permission, *, cookie: bool = False, display: bool = True
) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: ``Depends(require(Permission.ACK_ALERTS))`` -> the Principal, or 401/403.

    The site is the request's ``?site=`` (default: the first one the API serves); ``cookie=True``
    also accepts the ops page's session cookie (with the CSRF check on writes); ``display=False``
    refuses display tokens (403) even where the permission is READ: what no TV shows.
    """

    async def dependency(request: Request) -> Principal:
        runtime: Runtime = request.app.state.runtime
        served = site_named(runtime, request.query_params.get("site"))
        principal = await authorise(runtime, served, request, permission, cookie=cookie)
        if not display and principal.role == DISPLAY:
            raise HTTPException(403, detail=f"a display token may not read {request.url.path}: log in")
        return principal

    return dependency


@dataclass(eq=False)
class Seat:
    """One open websocket under watch: who it serves now, and the close it is told to make."""

    principal: Principal
    ending: asyncio.Future[Ending]

    def end(self, code: int, reason: str) -> None:
        if not self.ending.done():
            self.ending.set_result((code, reason))


class AccessWatch:
    """Ends (or narrows) one site's open websockets when their credential changes (see the module docstring)."""

    def __init__(
        self, store: Store, accounts: Accounts, auth: Authenticator, hub: Hub, *, interval_s: float = RECHECK_S
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._auth = auth
        self._hub = hub
        self._interval_s = interval_s
        self._held: dict[tuple[str, str], set[Seat]] = {}  # (kind, credential digest) -> its open sockets
        self._wake = asyncio.Event()
        self.checks = 0  # batched re-checks made

    @property
    def credentials(self) -> int:
        """Distinct credentials under watch (what one re-check looks up)."""
        return len(self._held)

    @contextlib.contextmanager
    def hold(self, principal: Principal) -> Iterator[Seat]:
        """Watch ``principal``'s credential while the block runs; the seat's ``ending`` says when to close."""
        seat = Seat(principal, asyncio.get_running_loop().create_future())
        key = _watched(principal)
        if key is not None:
            self._held.setdefault(key, set()).add(seat)
        try:
            yield seat
        finally:
            if key is not None and (seats := self._held.get(key)) is not None:
                seats.discard(seat)
                if not seats:
                    del self._held[key]

    async def run(self) -> None:
        """Re-check every ``interval_s`` and on every notice, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen())
            group.create_task(self._poll())

    async def check(self) -> None:
        """Re-check every held credential and every board shown, in one batch (Redis down: nothing changes)."""
        tokens = [digest for kind, digest in self._held if kind == DISPLAY]
        sessions = [digest for kind, digest in self._held if kind == "session"]
        boards = [key.removeprefix(BOARD_VIEW) for key in self._hub.keys if key.startswith(BOARD_VIEW)]
        try:
            infos = await self._store.accounts.get_tokens(tokens)
            live = await self._accounts.peek_sessions(sessions)
            stored = await self._store.boards.list_boards() if boards else {}
        except (RedisError, OSError, StoreError) as exc:
            log.warning("site %s: cannot re-check open websockets' credentials now (%s)", self._store.site, exc)
            return
        self.checks += 1
        for digest, info in zip(tokens, infos, strict=True):
            if info is None:
                self._auth.forget(digest)
                self._end((DISPLAY, digest), CLOSE_UNAUTHORISED, "display token revoked")
        for digest, state in live.items():
            if isinstance(state, str):
                self._end(("session", digest), CLOSE_UNAUTHORISED, state)
            else:
                self._refresh(("session", digest), state.user)
        for name in boards:
            self._hub.rescope(BOARD_VIEW + name, board_scope(name, stored.get(name)))

    def _end(self, key: tuple[str, str], code: int, reason: str) -> None:
        seats = self._held.pop(key, set())
        if seats:
            log.info("site %s: closing %d websocket(s): %s", self._store.site, len(seats), reason)
        for seat in seats:
            seat.end(code, reason)

    def _refresh(self, key: tuple[str, str], user: User) -> None:
        """Bring a session's sockets to its user's current role and scope (a new scope: a snapshot of the new view)."""
        scope = user_scope(user.teams, user.queues)
        self._hub.rescope(USER_VIEW + user.name, scope)  # nothing when the user's sockets see it already
        for seat in list(self._held.get(key, ())):
            if seat.principal.scope != scope:
                log.info("site %s: %s's websocket now sees %s", self._store.site, user.name, _shown(scope))
                seat.principal = dataclasses.replace(seat.principal, scope=scope)
            if seat.principal.role == user.role:
                continue
            log.info("site %s: %s's websocket now has role %s", self._store.site, user.name, user.role.value)
            seat.principal = dataclasses.replace(seat.principal, role=user.role)
            if not seat.principal.can(Permission.READ):
                seat.end(CLOSE_FORBIDDEN, f"role {user.role.value} may not read")

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()
            self._wake.clear()
            if self._held or self._hub.keys:
                await self.check()

    async def _listen(self) -> None:
        """Wake the re-check on every ``access`` or ``board`` notice of the site's config channel."""
        delay = LISTEN_RETRY_S[0]
        while True:
            try:
                async with self._store.config.subscribe_config() as notices:
                    self._wake.set()  # whatever was announced while not subscribed
                    delay = LISTEN_RETRY_S[0]
                    async for notice in notices:
                        kind = notice.get("type")
                        if kind == "access" and notice.get("kind") == "token":
                            self._auth.forget_all()
                        if kind in ("access", "board"):
                            self._wake.set()
            except (RedisError, OSError, StoreError) as exc:
                log.warning(
                    "site %s: access notices interrupted (%s); retrying in %.1f s", self._store.site, exc, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_RETRY_S[1])


def _shown(scope: BoardScope | None) -> str:
    if scope is None:
        return "the whole site"
    return f"teams {sorted(scope.teams or ['(all)'])}, queues {sorted(scope.queues or ['(all)'])}"


def _watched(principal: Principal) -> tuple[str, str] | None:
    """The key under which ``principal``'s credential is watched (None: nothing can revoke it)."""
    if principal.credential is None:
        return None
    return (DISPLAY, principal.credential) if principal.via == DISPLAY else ("session", principal.credential)


def login_failure_counter(registry: CollectorRegistry) -> Counter:
    """``wallboard_login_failures_total{site, reason}`` on the API's registry (reasons: unknown_user,
    bad_password, disabled, throttled)."""
    return Counter(
        "wallboard_login_failures",
        "Failed logins: wrong name or password, disabled user, or refused by the rate limit.",
        ["site", "reason"],
        registry=registry,
    )
