"""Users: roles, the permission table, the password policy and argon2 password hashing.

Theory of operation
-------------------
A ``User`` has one ``Role``; what a role may do is the ``PERMISSIONS`` table below (data, not
code): every role and every display token may READ, and each other permission names the roles
that hold it. A display token is not a user: it is the pseudo-role ``"display"``, READ only.

Passwords are hashed with argon2id (``argon2-cffi``). ``Passwords`` wraps one
``argon2.PasswordHasher`` whose parameters are the ones in force: ``verify`` tells whether a
password matches a stored hash *and*, when the hash was made with other parameters (the defaults
were raised, or a test used cheap ones), the new hash to store in its place (rehash on verify). To
answer in the same time whether a user exists or not, a login for an unknown name verifies the
password against ``Passwords.dummy_hash`` (made once with the same parameters) and throws the
answer away.

The policy (``check_password``) asks for at least ``MIN_PASSWORD_LENGTH`` characters, at most
``MAX_PASSWORD_LENGTH`` (argon2 hashes anything, but an unbounded input is a cheap way to burn the
server's CPU), and not the user name itself. Hashing costs tens of milliseconds and 64 MiB by design:
callers in an event loop run ``hash``/``verify`` in a worker thread.

A user may be *scoped* to ``teams`` and ``queues`` (``wallboard.core.scopes.user_scope``): they then read
only those queues and those teams' agents, as a board-bound display token reads its board. A record
without them (older records included) is unscoped: the whole site. ``check_scope_names`` validates them.

Nothing here does I/O or reads the clock: ``created`` is given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from wallboard.errors import WallboardError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.@-]{0,63}$"
SCOPE_NAME_PATTERN = r"^[A-Za-z0-9_.@+-]{1,128}$"  # a queue or team name a user may be scoped to
MAX_SCOPE_NAMES = 200
DISPLAY: Literal["display"] = "display"


class Role(StrEnum):
    VIEWER = "viewer"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    OPS = "ops"
    ADMIN = "admin"
    INGEST = "ingest"  # a system posting events (POST /api/v1/events): reads masked caller numbers, no screens


class Permission(StrEnum):
    READ = "read"  # every role and display tokens
    ACK_ALERTS = "ack_alerts"  # supervisor, ops, admin (acknowledge, snooze, add a note)
    EDIT_THRESHOLDS = "edit_thresholds"  # ops, admin
    MANAGE_BOARDS = "manage_boards"  # ops, admin (what the TV boards show: /api/v1/boards writes)
    EDIT_SCHEDULES = "edit_schedules"  # planner, admin
    MANAGE_TOKENS = "manage_tokens"  # ops, admin (display tokens per board, revocable)
    READ_AUDIT = "read_audit"  # ops, admin
    MANAGE_USERS = "manage_users"  # admin
    ACT_ON_AGENTS = (
        "act_on_agents"  # supervisor, ops, admin (pause, log in/out an agent; monitor also needs may_monitor)
    )
    INGEST_EVENTS = "ingest_events"  # ingest, admin (POST /api/v1/events: events of any source)


RoleName = Role | Literal["display"]

_R = Permission
PERMISSIONS: dict[RoleName, frozenset[Permission]] = {
    DISPLAY: frozenset({_R.READ}),
    Role.VIEWER: frozenset({_R.READ}),
    Role.SUPERVISOR: frozenset({_R.READ, _R.ACK_ALERTS, _R.ACT_ON_AGENTS}),
    Role.PLANNER: frozenset({_R.READ, _R.EDIT_SCHEDULES}),
    Role.OPS: frozenset(
        {
            _R.READ,
            _R.ACK_ALERTS,
            _R.EDIT_THRESHOLDS,
            _R.MANAGE_BOARDS,
            _R.MANAGE_TOKENS,
            _R.READ_AUDIT,
            _R.ACT_ON_AGENTS,
        }
    ),
    Role.INGEST: frozenset({_R.READ, _R.INGEST_EVENTS}),
    Role.ADMIN: frozenset(Permission),
}


def permissions_of(role: RoleName) -> frozenset[Permission]:
    """What ``role`` may do (nothing for a role this version does not know)."""
    return PERMISSIONS.get(role, frozenset())


class UserError(WallboardError):
    """Base of this module's errors."""


class PasswordPolicyError(UserError):
    """A new password does not meet the policy; the message says which rule and never shows the password."""


class User(BaseModel):
    """A stored user. ``password_hash`` is an argon2 hash: never show it (``public()`` leaves it out)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    password_hash: str = Field(repr=False)
    created: str  # ISO 8601, UTC
    disabled: bool = False
    epoch: int = 0  # +1 on a password change or disabling: sessions started before stop working
    may_monitor: bool = False  # an admin's grant: may listen to, whisper to or barge into agents' calls
    extension: str | None = None  # the user's own phone (``PJSIP/2001``): where a monitor call rings by default
    language: str | None = None  # the pages' language for this user (``fi``; None: the browser's)
    teams: tuple[str, ...] = ()  # scoped to these teams' agents (empty: every team)
    queues: tuple[str, ...] = ()  # scoped to these queues (empty: every queue)

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        if not value.startswith("$argon2"):
            raise ValueError("expected an argon2 hash")
        return value

    def public(self) -> dict[str, object]:
        """The fields an API response or a listing may show."""
        return {
            "name": self.name,
            "role": self.role.value,
            "created": self.created,
            "disabled": self.disabled,
            "may_monitor": self.may_monitor,
            "teams": list(self.teams),
            "queues": list(self.queues),
        }


def check_name(name: str) -> str:
    """``name`` if it is a valid user name (lower case letters, digits, ``_.@-``, at most 64), else UserError."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise UserError(
            f"user name {name[:80]!r} is not valid: expected 1 to 64 lower-case letters, digits or _.@- "
            "starting with a letter or digit"
        )
    return name


def check_scope_names(names: Iterable[str], what: str) -> tuple[str, ...]:
    """``names`` (teams or queues), deduplicated and sorted, if each is a valid name; else UserError."""
    unique = tuple(sorted(set(names)))
    if len(unique) > MAX_SCOPE_NAMES:
        raise UserError(f"{len(unique)} {what} given, expected at most {MAX_SCOPE_NAMES}")
    for name in unique:
        if not re.fullmatch(SCOPE_NAME_PATTERN, name):
            raise UserError(f"{what} name {name[:80]!r} is not valid: expected 1 to 128 letters, digits or _.@+-")
    return unique


def check_password(password: str, name: str = "") -> str:
    """``password`` if it meets the policy (see the module docstring), else PasswordPolicyError."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password has {len(password)} characters, expected at least {MIN_PASSWORD_LENGTH}")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password has {len(password)} characters, expected at most {MAX_PASSWORD_LENGTH}")
    if name and password.strip().lower() == name.lower():
        raise PasswordPolicyError("password must not be the user name")
    return password


@dataclass(frozen=True)
class Verified:
    """The outcome of ``Passwords.verify``: whether it matched, and a new hash to store if one is due."""

    ok: bool
    rehash: str | None = None


class Passwords:
    """argon2id hashing with one set of parameters (argon2-cffi's RFC 9106 "low memory" defaults by default)."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()
        self.dummy_hash = self._hasher.hash("not a password: the hash unknown users are checked against")

    @classmethod
    def cheap(cls) -> Passwords:
        """Minimal parameters, for tests only: a hash in well under a millisecond."""
        return cls(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> Verified:
        """Whether ``password`` matches; on a match with outdated parameters, the hash to store instead."""
        try:
            self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verified(ok=False)
        if self._hasher.check_needs_rehash(password_hash):
            return Verified(ok=True, rehash=self._hasher.hash(password))
        return Verified(ok=True)

    def waste_time(self, password: str) -> None:
        """Verify against the dummy hash: an unknown user costs what a known one costs."""
        self.verify(self.dummy_hash, password)
