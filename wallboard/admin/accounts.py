"""Accounts: users, login sessions, display tokens and the audit trail of one site, over its Store.

Theory of operation
-------------------
The API (``wallboard.api``) and the CLI (``wallboard users ...``, ``wallboard tokens ...``) share this
one implementation, so a user added on the command line and one added over the API are the same.

* **Users** live in the ``wb:{site}:users`` hash as ``wallboard.core.users.User`` JSON (argon2 hash,
  never the password), with the teams and queues a user is scoped to (none: the whole site). Every change
  is audited; a write announces itself, so open websockets take a new scope (or role) at once.
* **Login** is throttled, never locked. Failures are counted per *pair* (user name, client) and per
  *client* (over all names), where a client is an IPv4 address or an IPv6 /64 (``throttle_client``;
  the API finds the address with ``wallboard.api.clients``). A pair may fail ``max_failures`` times
  freely, a client ``max_failures_per_ip`` times; after that each failure makes the next attempt wait
  ``first_delay_s`` (1 s), then 2, 4, 8 ... seconds, at most ``max_delay_s``; meanwhile attempts
  answer ``LoginThrottled`` (HTTP 429 with Retry-After) without looking at the password, and are
  not counted. A pair's or client's failures are forgotten ``window_s`` after the wait of its last
  one ends. So an attacker slows down only their own guesses: the user typing the right password
  from a client that has not been failing logs in at once, however many failures others piled up
  on the name. Per-name failures from every client are also counted (over ``window_s``), as a
  signal only: reaching ``alert_failures_per_user`` writes one ``login.targeted`` audit entry and a
  warning, and delays no one. The check and the counting are one Redis script, run *before*
  looking at the password, so a burst of concurrent guesses cannot all pass a check made before
  any of them failed. A known user's password is verified in a worker thread (argon2 takes tens of
  ms of CPU on purpose; at most ``HASHES_IN_FLIGHT`` at a time so a login burst cannot take the
  machine's memory); an unknown name is verified against the dummy hash, so the answer takes as
  long and says the same (``LoginRefused``: "wrong user name or password", also for a disabled
  user). Every failure is counted by ``on_login_failure`` (the API's Prometheus counter); the
  failure that uses up a pair's or a client's free failures writes one ``login.throttled`` audit
  entry (a burst, not every attempt). A success forgets the pair's failures and takes its own
  attempt back from the client's and the name's counts (without clearing them: one account of the
  attacker's must not reset the client), and rehashes the password when the argon2 parameters
  changed.
* **Sessions** are random bearer tokens (``wbs_`` + 256 bits) stored as
  ``wb:{site}:session:<sha256(token)>`` with a sliding time to live (every use restarts it).
  Each holds a CSRF token's digest for the cookie-carried session of the ops page. Resolving a
  session re-reads the user, so disabling a user or changing a role takes effect at once, and a
  password change ends the user's other sessions (the user's ``epoch`` moves on; sessions carry
  the epoch they started in).
* **Display tokens** (read-only, one board each) live in ``wb:{site}:tokens`` under their sha256;
  they are listed and revoked by ``id``, the first ``TOKEN_ID_CHARS`` hex digits of the digest.
* **Audit** entries are flat string fields ``ts, actor, action, target, old, new`` (``old``/``new``
  JSON), never a password, a hash or a token.

``Accounts`` holds the state and the order of these steps; the stateless parts live beside it, and every
name is still importable from here: ``wallboard.admin.login`` (hashing in threads, ``LoginPolicy``, the
failure subjects), ``wallboard.admin.tokens`` (display tokens, ``token_digest``) and
``wallboard.admin.audit`` (audit entry fields).

Failure subjects are ``pair:<sha256([name, client])>``, ``client:<sha256(client)>`` and
``account:<sha256(name)>``: what an attacker types becomes a fixed-size key.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from pydantic import ValidationError

from wallboard.admin.audit import AUDIT_SCAN_LIMIT, audit_entry, read_entry
from wallboard.admin.login import HASHES_IN_FLIGHT, Attempt, Hashing, LoginPolicy, login_subjects, throttle_client
from wallboard.admin.tokens import (
    MIN_TOKEN_PREFIX,
    TOKEN_ID_CHARS,
    DisplayToken,
    TokenAdder,
    create_display_token,
    describe_token,
    new_display_token,
    token_digest,
)
from wallboard.core.users import Role, User, UserError, check_name, check_password, check_scope_names
from wallboard.errors import WallboardError

log = logging.getLogger(__name__)

SESSION_PREFIX = "wbs_"
DEFAULT_POLICY = LoginPolicy()  # frozen: one shared default
Clock = Callable[[], datetime]


class AccountError(WallboardError):
    """Base of this module's errors (``wallboard.core.users.UserError`` covers invalid names and passwords)."""


class UnknownUserError(AccountError):
    """No user of that name."""


class UserExistsError(AccountError):
    """A user of that name exists already."""


class LoginRefused(AccountError):
    """Wrong user name or password (or a disabled user): one message for all, on purpose."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class LoginThrottled(AccountError):
    """Too many failed logins of this user name from this client, or of this client; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many failed logins; try again in {max(1, round(retry_after_s))} s")


class TokenNotFoundError(AccountError):
    """No display token has that id (prefix), or the prefix names several."""


class AccountStore(Protocol):
    """The Store operations accounts use (``wallboard.store.Store`` provides them)."""

    async def get_user(self, name: str) -> dict[str, Any] | None: ...
    async def add_user(self, name: str, info: Mapping[str, Any]) -> bool: ...
    async def put_user(self, name: str, info: Mapping[str, Any]) -> None: ...
    async def list_users(self) -> dict[str, dict[str, Any]]: ...
    async def add_session(self, digest: str, info: Mapping[str, Any], ttl_s: float) -> None: ...
    async def touch_session(self, digest: str, ttl_s: float) -> dict[str, Any] | None: ...
    async def end_session(self, digest: str) -> bool: ...
    async def peek_sessions(self, digests: Sequence[str]) -> list[dict[str, Any] | None]: ...
    async def get_users(self, names: Sequence[str]) -> dict[str, dict[str, Any] | None]: ...
    async def count_login_attempt(
        self,
        gated: Sequence[tuple[str, int]],
        watched: str,
        *,
        now_s: float,
        first_delay_s: float,
        max_delay_s: float,
        memory_s: float,
        watch_window_s: float,
    ) -> tuple[float, list[int]]: ...
    async def forgive_login_attempt(self, pair: str, client: str, account: str, *, now_s: float) -> None: ...
    async def append_audit(self, entry: Mapping[str, str]) -> str: ...
    async def read_audit(self, count: int, before: str | None = None) -> list[tuple[str, dict[str, str]]]: ...
    async def add_token(self, token_hash: str, info: Mapping[str, Any]) -> None: ...
    async def revoke_token(self, token_hash: str) -> bool: ...
    async def list_tokens(self) -> dict[str, dict[str, Any]]: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Session:
    """A new session: ``token`` and ``csrf`` are shown once (to the client) and stored only as digests."""

    token: str
    csrf: str
    user: User
    ttl_s: float


@dataclass(frozen=True)
class ActiveSession:
    """A resolved session: who, with which role now, and the digests to end it or check a CSRF token."""

    digest: str
    user: User
    csrf_digest: str


class Accounts:
    """Users, sessions, display tokens and audit of one site (see the module docstring)."""

    def __init__(
        self,
        store: AccountStore,
        hashing: Hashing,
        policy: LoginPolicy = DEFAULT_POLICY,
        *,
        clock: Clock = utc_now,
        on_login_failure: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.store = store
        self.hashing = hashing
        self.policy = policy
        self._clock = clock
        self._on_login_failure = on_login_failure

    # -- audit ----------------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str, old: Any = None, new: Any = None) -> str:
        return await self.store.append_audit(audit_entry(self._clock(), actor, action, target, old, new))

    async def audit_entries(
        self, count: int, *, before: str | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Up to ``count`` entries, newest first, older than ``before``; only ``action``'s when given."""
        found: list[dict[str, Any]] = []
        scanned = 0
        while len(found) < count and scanned < AUDIT_SCAN_LIMIT:
            page = await self.store.read_audit(count if action is None else 500, before)
            for entry_id, fields in page:
                if action is None or fields.get("action") == action:
                    found.append(read_entry(entry_id, fields))
            if len(page) < (count if action is None else 500):
                break
            scanned += len(page)
            before = page[-1][0]
        return found[:count]

    # -- users ----------------------------------------------------------------------------------

    async def get_user(self, name: str) -> User | None:
        info = await self.store.get_user(name)
        if info is None:
            return None
        try:
            return User.model_validate({**info, "name": name})
        except ValidationError:
            log.warning("user record %r is not valid; treating it as absent", name[:64])
            return None

    async def list_users(self) -> list[User]:
        users = [await self.get_user(name) for name in sorted(await self.store.list_users())]
        return [user for user in users if user is not None]

    async def add_user(
        self,
        name: str,
        role: Role,
        password: str,
        *,
        actor: str,
        teams: Sequence[str] = (),
        queues: Sequence[str] = (),
    ) -> User:
        """Create a user (scoped to ``teams`` and ``queues`` when given); UserError for an invalid name, password,
        team or queue, UserExistsError if taken."""
        check_name(name)
        check_password(password, name)
        scope = {"teams": check_scope_names(teams, "team"), "queues": check_scope_names(queues, "queue")}
        password_hash = await self.hashing.hash(password)
        user = User(name=name, role=role, password_hash=password_hash, created=self._now(), **scope)
        if not await self.store.add_user(name, _record(user)):
            raise UserExistsError(f"user {name!r} exists already")
        await self.audit(
            actor,
            "user.create",
            f"user:{name}",
            None,
            {**_audited(user), **(_scope(user) if user.teams or user.queues else {})},
        )
        log.info("user %s created with role %s by %s", name, role.value, actor)
        return user

    async def update_user(
        self,
        name: str,
        *,
        actor: str,
        role: Role | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        may_monitor: bool | None = None,
        teams: Sequence[str] | None = None,
        queues: Sequence[str] | None = None,
    ) -> User:
        """Change a user's role, disabled flag, monitor grant, scope (``teams``, ``queues``: empty for every one) or
        password (audited; the password only as "changed")."""
        user = await self.get_user(name)
        if user is None:
            raise UnknownUserError(f"no user {name!r}")
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role
        if disabled is not None:
            changes["disabled"] = disabled
        if may_monitor is not None:
            changes["may_monitor"] = may_monitor
        if teams is not None:
            changes["teams"] = check_scope_names(teams, "team")
        if queues is not None:
            changes["queues"] = check_scope_names(queues, "queue")
        if password is not None:
            changes["password_hash"] = await self.hashing.hash(check_password(password, name))
        if password is not None or disabled:
            changes["epoch"] = user.epoch + 1
        updated = user.model_copy(update=changes)
        await self.store.put_user(name, _record(updated))
        old, new = _audited(user), _audited(updated)
        if password is not None:
            old, new = {**old, "password": "(old)"}, {**new, "password": "changed"}
        if may_monitor is not None:
            old, new = {**old, "may_monitor": user.may_monitor}, {**new, "may_monitor": may_monitor}
        if teams is not None or queues is not None:
            old, new = {**old, **_scope(user)}, {**new, **_scope(updated)}
        await self.audit(actor, "user.update", f"user:{name}", old, new)
        return updated

    async def set_extension(self, name: str, extension: str | None, *, actor: str) -> User:
        """Set a user's own phone (where a monitor call rings by default); audited."""
        return await self.set_profile(name, {"extension": extension}, actor=actor)

    async def set_profile(self, name: str, changes: dict[str, str | None], *, actor: str) -> User:
        """Set fields of a user's profile (``extension``, ``language``); audited with the old and new values."""
        unknown = set(changes) - {"extension", "language"}
        if unknown:
            raise ValueError(f"not profile fields: {sorted(unknown)}")
        user = await self.get_user(name)
        if user is None:
            raise UnknownUserError(f"no user {name!r}")
        updated = user.model_copy(update=changes)
        await self.store.put_user(name, _record(updated))
        old = {field: getattr(user, field) for field in changes}
        await self.audit(actor, "user.profile", f"user:{name}", old, dict(changes))
        return updated

    # -- login and sessions ---------------------------------------------------------------------

    async def login(self, name: str, password: str, client: str | None) -> Session:
        """A new session for a correct name and password; LoginThrottled or LoginRefused otherwise."""
        pair, source, account = login_subjects(name, client)
        policy = self.policy
        wait, (pair_failures, client_failures, name_failures) = await self.store.count_login_attempt(
            [(pair, policy.max_failures), (source, policy.max_failures_per_ip)],
            account,
            now_s=self._clock().timestamp(),
            first_delay_s=policy.first_delay_s,
            max_delay_s=policy.max_delay_s,
            memory_s=policy.window_s,
            watch_window_s=policy.window_s,
        )
        if wait > 0:
            self._on_login_failure("throttled")
            raise LoginThrottled(wait)
        attempt = Attempt(name[:64], client, throttle_client(client), pair_failures, client_failures, name_failures)
        user = await self.get_user(name) if len(name) <= 64 else None
        if user is None:
            await self.hashing.waste_time(password)
            await self._failed(attempt, "unknown_user")
        verified = await self.hashing.verify(user.password_hash, password)
        if not verified.ok or user.disabled:
            await self._failed(attempt, "disabled" if verified.ok else "bad_password")
        if verified.rehash is not None:
            user = user.model_copy(update={"password_hash": verified.rehash})
            await self.store.put_user(user.name, _record(user))
            log.info("user %s: password rehashed with the current argon2 parameters", user.name)
        await self.store.forgive_login_attempt(pair, source, account, now_s=self._clock().timestamp())
        return await self._start_session(user, client)

    async def _failed(self, attempt: Attempt, why: str) -> NoReturn:
        """Refuse a login already counted as a failure; audit the failure that used up free ones (or alerts)."""
        self._on_login_failure(why)
        policy, client = self.policy, attempt.client or "?"
        if attempt.pair_failures == policy.max_failures:
            what = "%d failed logins for %s from %s: its next attempts from there wait"
            log.warning(what, attempt.pair_failures, attempt.name, client)
            new = {"failures": attempt.pair_failures, "client": client}
            await self.audit("anonymous", "login.throttled", f"user:{attempt.name}", None, new)
        if attempt.client_failures == policy.max_failures_per_ip:
            log.warning("%d failed logins from %s: its next attempts wait", attempt.client_failures, client)
            new = {"failures": attempt.client_failures, "client": client}
            await self.audit("anonymous", "login.throttled", f"client:{attempt.throttled_as}", None, new)
        if attempt.name_failures == policy.alert_failures_per_user:
            what = "%d failed logins for %s from any client within %.0f s: someone may be guessing its password"
            log.warning(what, attempt.name_failures, attempt.name, policy.window_s)
            new = {"failures": attempt.name_failures, "window_s": policy.window_s, "client": client}
            await self.audit("anonymous", "login.targeted", f"user:{attempt.name}", None, new)
        raise LoginRefused()

    async def _start_session(self, user: User, client: str | None) -> Session:
        token, csrf = SESSION_PREFIX + secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        info = {
            "name": user.name,
            "epoch": user.epoch,
            "created": self._now(),
            "client": client,
            "csrf": token_digest(csrf),
        }
        await self.store.add_session(token_digest(token), info, self.policy.session_ttl_s)
        await self.audit(user.name, "session.login", f"user:{user.name}", None, {"client": client})
        log.info("user %s logged in from %s", user.name, client or "?")
        return Session(token=token, csrf=csrf, user=user, ttl_s=self.policy.session_ttl_s)

    async def session(self, token: str) -> ActiveSession | None:
        """The live session of ``token`` (its expiry restarted), None if unknown, expired or its user disabled."""
        digest = token_digest(token)
        info = await self.store.touch_session(digest, self.policy.session_ttl_s)
        if info is None:
            return None
        user = await self.get_user(str(info.get("name", "")))
        if _session_ended(info, user) is not None or user is None:
            await self.store.end_session(digest)
            return None
        return ActiveSession(digest=digest, user=user, csrf_digest=str(info.get("csrf", "")))

    async def peek_sessions(self, digests: Sequence[str]) -> dict[str, ActiveSession | str]:
        """Each session of ``digests``: live (with its user's role now), or why it ended; expiries untouched.

        Two round trips however many sessions: what an API process re-checks for its open websockets.
        """
        infos = dict(zip(digests, await self.store.peek_sessions(digests), strict=True))
        names = [str(info.get("name", "")) for info in infos.values() if info is not None]
        records = await self.store.get_users(names)
        found: dict[str, ActiveSession | str] = {}
        for digest, info in infos.items():
            if info is None:
                found[digest] = "session ended (logged out or expired)"
                continue
            name = str(info.get("name", ""))
            user = _user_of(name, records.get(name))
            ended = _session_ended(info, user)
            if ended is None and user is not None:
                found[digest] = ActiveSession(digest, user, str(info.get("csrf", "")))
            else:
                found[digest] = ended or "user removed"
        return found

    async def logout(self, session: ActiveSession) -> None:
        await self.store.end_session(session.digest)
        await self.audit(session.user.name, "session.logout", f"user:{session.user.name}")

    # -- display tokens -------------------------------------------------------------------------

    async def create_token(self, board: str | None, label: str, *, actor: str) -> tuple[str, DisplayToken]:
        """A new display token (returned once) and its public description."""
        token, created = await new_display_token(self.store, board, label, self._clock())
        digest = token_digest(token)
        shown = DisplayToken(digest[:TOKEN_ID_CHARS], board, label, created)
        await self.audit(actor, "token.create", f"token:{shown.id}", None, {"board": board, "label": label})
        return token, shown

    async def list_tokens(self) -> list[DisplayToken]:
        return [describe_token(digest, info) for digest, info in sorted((await self.store.list_tokens()).items())]

    async def revoke_token(self, prefix: str, *, actor: str) -> tuple[str, DisplayToken]:
        """Revoke the one token whose id starts with ``prefix``; returns its digest and description."""
        prefix = prefix.lower()
        if len(prefix) < MIN_TOKEN_PREFIX:
            raise TokenNotFoundError(f"give at least {MIN_TOKEN_PREFIX} characters of the token id")
        matches = [(d, i) for d, i in (await self.store.list_tokens()).items() if d.startswith(prefix)]
        if len(matches) != 1:
            raise TokenNotFoundError(f"{len(matches) or 'no'} display tokens have an id starting with {prefix!r}")
        digest, info = matches[0]
        await self.store.revoke_token(digest)
        shown = describe_token(digest, info)
        await self.audit(actor, "token.revoke", f"token:{shown.id}", shown.public(), None)
        log.info("display token %s (board %s) revoked by %s", shown.id, shown.board or "(any)", actor)
        return digest, shown

    def _now(self) -> str:
        return self._clock().isoformat()


def _session_ended(info: Mapping[str, Any], user: User | None) -> str | None:
    """Why a stored session no longer counts (its user gone, disabled, or past a password change), else None."""
    if user is None:
        return "user removed"
    if user.disabled:
        return "user disabled"
    if info.get("epoch", 0) != user.epoch:
        return "password changed"
    return None


def _user_of(name: str, record: Mapping[str, Any] | None) -> User | None:
    if record is None:
        return None
    try:
        return User.model_validate({**record, "name": name})
    except ValidationError:
        return None


def _record(user: User) -> dict[str, Any]:
    """What the users hash holds for ``user`` (the name is the field)."""
    return user.model_dump(mode="json", exclude={"name"})


def _audited(user: User) -> dict[str, Any]:
    """What an audit entry may say about a user: never the hash."""
    return {"role": user.role.value, "disabled": user.disabled}


def _scope(user: User) -> dict[str, Any]:
    """A user's scope for an audit entry (empty lists: unscoped)."""
    return {"teams": list(user.teams), "queues": list(user.queues)}


__all__ = [
    "AUDIT_SCAN_LIMIT",
    "HASHES_IN_FLIGHT",
    "MIN_TOKEN_PREFIX",
    "SESSION_PREFIX",
    "TOKEN_ID_CHARS",
    "AccountError",
    "AccountStore",
    "Accounts",
    "ActiveSession",
    "DisplayToken",
    "Hashing",
    "LoginPolicy",
    "LoginRefused",
    "LoginThrottled",
    "Session",
    "TokenAdder",
    "TokenNotFoundError",
    "UnknownUserError",
    "UserError",
    "UserExistsError",
    "audit_entry",
    "create_display_token",
    "login_subjects",
    "new_display_token",
    "read_entry",
    "throttle_client",
    "token_digest",
    "utc_now",
]
