"""Accounts over a real Redis: audit paging and filtering, token ids, sessions of disabled users, login counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wallboard.admin.accounts import (
    Accounts,
    Hashing,
    LoginPolicy,
    LoginRefused,
    LoginThrottled,
    TokenNotFoundError,
    audit_entry,
)
from wallboard.core.users import Passwords, Role
from wallboard.store import Store, connect

PASSWORD = "correct horse battery"
NOON = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    client = connect(redis_url)
    yield Store(client, site="paris")
    await client.aclose()


def accounts(store: Store, **policy: Any) -> Accounts:
    return Accounts(store.accounts, Hashing(Passwords.cheap()), LoginPolicy(**policy), clock=lambda: NOON)


async def test_filtered_audit_reads_past_one_page(store: Store) -> None:
    """An action that is rare among 1,200 entries is still found across pages, newest first."""
    for index in range(1200):
        action = "thresholds.update" if index in (10, 600, 1100) else "session.login"
        await store.client.xadd(store.keys.audit, audit_entry(NOON, "u", action, f"t{index}"))
    found = await accounts(store).audit_entries(10, action="thresholds.update")
    assert [entry["target"] for entry in found] == ["t1100", "t600", "t10"]


async def test_audit_before_is_exclusive_and_0_0_is_empty(store: Store) -> None:
    """``before`` pages to strictly older entries (also across a millisecond), and nothing is before 0-0."""
    for entry_id in ("5-0", "5-1", "6-0"):
        await store.client.xadd(store.keys.audit, audit_entry(NOON, "u", "a", entry_id), id=entry_id)
    assert [entry_id for entry_id, _ in await store.accounts.read_audit(10, before="6-0")] == ["5-1", "5-0"]
    assert [entry_id for entry_id, _ in await store.accounts.read_audit(10, before="5-1")] == ["5-0"]
    assert await store.accounts.read_audit(10, before="0-0") == []


async def test_token_revocation_needs_a_unique_prefix(store: Store) -> None:
    """Revoking needs at least 6 characters of an id that names exactly one token."""
    book = accounts(store)
    _, first = await book.create_token("b1", "one", actor="t")
    await book.create_token("b2", "two", actor="t")
    with pytest.raises(TokenNotFoundError, match="at least 6"):
        await book.revoke_token(first.id[:5], actor="t")
    with pytest.raises(TokenNotFoundError, match="no display tokens"):
        await book.revoke_token("ffffff" if not first.id.startswith("ffffff") else "000000", actor="t")
    digest, revoked = await book.revoke_token(first.id.upper(), actor="t")
    assert revoked == first and digest.startswith(first.id)
    assert [token.label for token in await book.list_tokens()] == ["two"]


async def test_a_disabled_users_session_is_removed(store: Store) -> None:
    """Resolving the session of a user disabled since deletes it from Redis."""
    book = accounts(store)
    await book.add_user("ann", Role.OPS, PASSWORD, actor="t")
    session = await book.login("ann", PASSWORD, "192.0.2.1")
    assert (await book.session(session.token)) is not None
    await book.update_user("ann", actor="t", disabled=True)
    assert await book.session(session.token) is None
    assert await store.client.keys(store.keys.session("*")) == []


async def test_success_clears_the_pair_counter_but_not_the_address_counter(store: Store) -> None:
    """A good login forgives its (name, address) pair's failures; the address's keep counting toward its limit."""
    book = accounts(store, max_failures=2, max_failures_per_ip=3, window_s=60)
    await book.add_user("ann", Role.OPS, PASSWORD, actor="t")
    with pytest.raises(LoginRefused):
        await book.login("ann", "wrong password", "192.0.2.1")
    await book.login("ann", PASSWORD, "192.0.2.1")
    with pytest.raises(LoginRefused):
        await book.login("ann", "wrong password", "192.0.2.1")
    await book.login("ann", PASSWORD, "192.0.2.1")  # 1 failure on the name since the last success: allowed
    with pytest.raises(LoginRefused):
        await book.login("bob", "wrong password", "192.0.2.1")  # the address's third failure
    with pytest.raises(LoginThrottled) as throttled:
        await book.login("ann", PASSWORD, "192.0.2.1")
    assert 0 < throttled.value.retry_after_s <= 60
    assert (await book.login("ann", PASSWORD, "198.51.100.9")).user.name == "ann"  # another address


async def test_a_password_change_ends_the_users_sessions(store: Store) -> None:
    """Sessions started before a password change stop working; a new login works."""
    book = accounts(store)
    await book.add_user("ann", Role.OPS, PASSWORD, actor="t")
    before = await book.login("ann", PASSWORD, None)
    await book.update_user("ann", actor="admin", password=PASSWORD + " 2")
    after = await book.login("ann", PASSWORD + " 2", None)
    assert await book.session(before.token) is None
    assert (await book.session(after.token)) is not None


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_a_failing_pair_waits_twice_as_long_after_each_failure_up_to_the_cap(store: Store) -> None:
    """Past the free failures, each failure of one (name, address) pair doubles its wait (1, 2, 4, 8 s), capped;
    a wait over, the next attempt is checked; others' failures never delay the right password from elsewhere."""
    clock = Clock()
    policy = LoginPolicy(max_failures=2, max_failures_per_ip=1000, max_delay_s=8, window_s=60)
    book = Accounts(store.accounts, Hashing(Passwords.cheap()), policy, clock=clock)
    await book.add_user("ann", Role.ADMIN, PASSWORD, actor="test")
    with pytest.raises(LoginRefused):
        await book.login("ann", "wrong password", "192.0.2.1")  # a free failure: no wait
    waits = []
    for _ in range(6):
        with pytest.raises(LoginRefused):
            await book.login("ann", "wrong password", "192.0.2.1")
        with pytest.raises(LoginThrottled) as throttled:
            await book.login("ann", PASSWORD, "192.0.2.1")  # the right password waits too, from there
        waits.append(throttled.value.retry_after_s)
        assert (await book.login("ann", PASSWORD, "198.51.100.9")).user.name == "ann"  # from elsewhere: at once
        clock.advance(throttled.value.retry_after_s)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert (await book.login("ann", PASSWORD, "192.0.2.1")).user.name == "ann"  # wait over: checked, and right


async def test_a_pairs_failures_are_forgotten_a_window_after_its_last_wait(store: Store) -> None:
    """After the last wait plus login_window_s without failures, the pair has its free failures back."""
    clock = Clock()
    book = Accounts(store.accounts, Hashing(Passwords.cheap()), LoginPolicy(max_failures=1, window_s=1), clock=clock)
    with pytest.raises(LoginRefused):
        await book.login("ghost", "wrong password", "192.0.2.1")
    keys = await store.client.keys(store.keys.login_failures("pair:*"))
    assert len(keys) == 1 and 1500 < await store.client.pttl(keys[0]) <= 2000  # wait 1 s + window 1 s


async def test_an_ipv6_client_is_its_64_prefix(store: Store) -> None:
    """Addresses of one IPv6 /64 share one client's failures; another /64 is another client."""
    book = accounts(store, max_failures=1000, max_failures_per_ip=2, window_s=60)
    for address in ("2001:db8:0:1::1", "2001:db8:0:1::2"):
        with pytest.raises(LoginRefused):
            await book.login("someone", "wrong password", address)
    with pytest.raises(LoginThrottled):
        await book.login("other", "wrong password", "2001:db8:0:1:ffff::3")
    with pytest.raises(LoginRefused):
        await book.login("other", "wrong password", "2001:db8:0:2::1")
