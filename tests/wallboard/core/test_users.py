"""Users: the permission table, the password policy, argon2 hashing with rehash on verify."""

from __future__ import annotations

import argon2
import pytest
from pydantic import ValidationError

from wallboard.core.users import (
    DISPLAY,
    PERMISSIONS,
    PasswordPolicyError,
    Passwords,
    Permission,
    Role,
    User,
    UserError,
    check_name,
    check_password,
    permissions_of,
)

P = Permission


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (DISPLAY, {P.READ}),
        (Role.VIEWER, {P.READ}),
        (Role.SUPERVISOR, {P.READ, P.ACK_ALERTS, P.ACT_ON_AGENTS}),
        (Role.PLANNER, {P.READ, P.EDIT_SCHEDULES}),
        (
            Role.OPS,
            {P.READ, P.ACK_ALERTS, P.EDIT_THRESHOLDS, P.MANAGE_BOARDS, P.MANAGE_TOKENS, P.READ_AUDIT, P.ACT_ON_AGENTS},
        ),
        (Role.ADMIN, set(Permission)),
    ],
)
def test_permission_table(role: Role, allowed: set[Permission]) -> None:
    """Each role holds exactly the permissions the contract gives it; display tokens only READ."""
    assert permissions_of(role) == allowed


def test_every_role_reads_and_only_admin_manages_users() -> None:
    """READ is universal; MANAGE_USERS belongs to admin alone."""
    assert all(P.READ in granted for granted in PERMISSIONS.values())
    assert [role for role, granted in PERMISSIONS.items() if P.MANAGE_USERS in granted] == [Role.ADMIN]


def test_unknown_role_has_no_permission() -> None:
    """A role this version does not know (a newer record) may do nothing."""
    assert permissions_of("superuser") == frozenset()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("password", "name", "rule"),
    [
        ("short-pass1", "", "at least 12"),
        ("x" * 1025, "", "at most 1024"),
        ("alice.martin", "alice.martin", "user name"),
    ],
)
def test_password_policy_refuses(password: str, name: str, rule: str) -> None:
    """Too short, too long and the user name are refused, naming the rule and never the password."""
    with pytest.raises(PasswordPolicyError, match=rule) as caught:
        check_password(password, name)
    assert password not in str(caught.value)


def test_password_policy_accepts_twelve_characters() -> None:
    """Exactly 12 characters is enough."""
    assert check_password("abcdefghijkl", "bob") == "abcdefghijkl"


@pytest.mark.parametrize("name", ["Alice", "", "-bob", "a b", "x" * 65, "ève"])
def test_invalid_user_names(name: str) -> None:
    """Names are 1-64 lower-case ASCII letters, digits or _.@- starting with a letter or digit."""
    with pytest.raises(UserError):
        check_name(name)


def test_hash_and_verify() -> None:
    """A hash verifies its own password only, and is an argon2id hash (never the password)."""
    passwords = Passwords.cheap()
    hashed = passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert passwords.verify(hashed, "correct horse battery").ok
    assert not passwords.verify(hashed, "correct horse batterY").ok
    assert not passwords.verify("not-a-hash", "anything at all").ok


def test_rehash_when_the_parameters_change() -> None:
    """A hash made with other parameters verifies and comes back rehashed with the current ones."""
    old = Passwords(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    new = Passwords(argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    verified = new.verify(old.hash("correct horse battery"), "correct horse battery")
    assert verified.ok and verified.rehash is not None
    assert "m=16,t=2" in verified.rehash
    assert new.verify(verified.rehash, "correct horse battery") == type(verified)(ok=True, rehash=None)


def test_dummy_hash_never_matches_a_typed_password() -> None:
    """The dummy hash that unknown users are checked against uses the current parameters."""
    passwords = Passwords.cheap()
    assert passwords.dummy_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    passwords.waste_time("whatever was typed")  # returns nothing, raises nothing


def test_user_public_view_leaves_out_the_hash() -> None:
    """``public()`` is what responses show: no hash; the repr hides it too."""
    user = User(name="ops1", role=Role.OPS, password_hash=Passwords.cheap().hash("x" * 12), created="2024-01-01")
    assert user.public() == {
        "name": "ops1",
        "role": "ops",
        "created": "2024-01-01",
        "disabled": False,
        "may_monitor": False,
        "teams": [],
        "queues": [],
    }
    assert "$argon2" not in repr(user)


def test_user_requires_an_argon2_hash() -> None:
    """A record whose hash is not argon2 (a plain password stored by mistake) is invalid."""
    with pytest.raises(ValidationError):
        User(name="ops1", role=Role.OPS, password_hash="hunter2hunter2", created="2024-01-01")
