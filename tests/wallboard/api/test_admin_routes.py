"""Login, logout, /me, users, display tokens and audit over a real uvicorn and a real Redis."""

from __future__ import annotations

import functools

import argon2
import pytest
import redis.asyncio as aioredis
from api_stack import PASSWORD, SITE, running_api, save_snapshot

from wallboard.admin.accounts import Accounts, Hashing
from wallboard.core.users import Passwords, Role
from wallboard.store import Store

SNAPSHOT = {"site": SITE, "seq": 1, "ts": "2024-01-01T09:00:00+00:00", "queues": {}, "agents": {}}
api = functools.partial(running_api, sessions=False)  # users of every role, logged in by each test


@pytest.fixture
async def store(store: Store) -> Store:
    await save_snapshot(store, SNAPSHOT)
    return store


async def test_login_gives_a_session_that_reads_and_knows_its_role(store: Store) -> None:
    """A correct login returns a wbs_ bearer token; /me shows the role's permissions; data routes accept it."""
    async with api(store) as a:
        response = await a.http.post("/api/v1/login", json={"name": "supervisor1", "password": PASSWORD})
        body = response.json()
        headers = {"Authorization": f"Bearer {body['token']}"}
        me = (await a.http.get("/api/v1/me", headers=headers)).json()
        snapshot = await a.http.get("/api/v1/snapshot", headers=headers)
    assert response.status_code == 200
    assert body["token"].startswith("wbs_") and body["expires_in_s"] == 12 * 3600
    assert body["user"] == {
        "name": "supervisor1",
        "role": "supervisor",
        "created": body["user"]["created"],
        "disabled": False,
        "may_monitor": False,
        "teams": [],
        "queues": [],
    }
    assert me == {
        "name": "supervisor1",
        "role": "supervisor",
        "via": "session",
        "board": None,
        "permissions": ["ack_alerts", "act_on_agents", "read"],
        "teams": [],
        "queues": [],
    }
    assert snapshot.status_code == 200 and snapshot.json()["seq"] == 1


async def test_wrong_password_and_unknown_user_get_the_same_401(store: Store) -> None:
    """Whether the name exists or not, the answer is the same 401 body."""
    async with api(store) as a:
        wrong = await a.http.post("/api/v1/login", json={"name": "ops1", "password": "not the password"})
        unknown = await a.http.post("/api/v1/login", json={"name": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong user name or password"}


async def test_logout_ends_the_session(store: Store) -> None:
    """After logout the token is refused with 401 and its Redis key is gone."""
    async with api(store) as a:
        headers = await a.login("viewer1")
        out = await a.http.post("/api/v1/logout", headers=headers)
        after = await a.http.get("/api/v1/me", headers=headers)
        sessions = [key async for key in store.client.scan_iter(match=f"wb:{{{SITE}}}:session:*")]
    assert out.status_code == 204
    assert after.status_code == 401
    assert sessions == []


async def test_session_expiry_slides_with_use(store: Store) -> None:
    """Each use restarts the session's time to live (session_ttl_s)."""
    async with api(store, session_ttl_s=100.0) as a:
        headers = await a.login("viewer1")
        (key,) = [key async for key in store.client.scan_iter(match=f"wb:{{{SITE}}}:session:*")]
        await store.client.pexpire(key, 5_000)
        await a.http.get("/api/v1/me", headers=headers)
        ttl_ms = await store.client.pttl(key)
    assert 90_000 < ttl_ms <= 100_000


async def test_disabling_a_user_stops_its_sessions_at_once(store: Store) -> None:
    """A disabled user's live session is refused on its next request, and it cannot log in again."""
    async with api(store) as a:
        admin, ops = await a.login("admin1"), await a.login("ops1")
        changed = await a.http.patch("/api/v1/users/ops1", json={"disabled": True}, headers=admin)
        refused = await a.http.get("/api/v1/me", headers=ops)
        again = await a.http.post("/api/v1/login", json={"name": "ops1", "password": PASSWORD})
    assert changed.status_code == 200 and changed.json()["disabled"] is True
    assert refused.status_code == 401
    assert again.status_code == 401


async def test_a_role_change_applies_to_live_sessions(store: Store) -> None:
    """Sessions carry no role: the user's current role decides (viewer promoted to ops may edit tokens)."""
    async with api(store) as a:
        admin, viewer = await a.login("admin1"), await a.login("viewer1")
        before = await a.http.get("/api/v1/tokens", headers=viewer)
        await a.http.patch("/api/v1/users/viewer1", json={"role": "ops"}, headers=admin)
        after = await a.http.get("/api/v1/tokens", headers=viewer)
    assert before.status_code == 403 and after.status_code == 200


async def test_user_management(store: Store) -> None:
    """Create (201), duplicate (409), weak password (422 on the field), list without hashes, unknown (404)."""
    async with api(store) as a:
        admin = await a.login("admin1")
        created = await a.http.post(
            "/api/v1/users", json={"name": "carol", "role": "planner", "password": "a long passphrase"}, headers=admin
        )
        duplicate = await a.http.post(
            "/api/v1/users", json={"name": "carol", "role": "viewer", "password": "another passphrase"}, headers=admin
        )
        weak = await a.http.post(
            "/api/v1/users", json={"name": "dave", "role": "viewer", "password": "short"}, headers=admin
        )
        listed = await a.http.get("/api/v1/users", headers=admin)
        unknown = await a.http.patch("/api/v1/users/nobody", json={"role": "ops"}, headers=admin)
        login = await a.http.post("/api/v1/login", json={"name": "carol", "password": "a long passphrase"})
    assert created.status_code == 201 and created.json()["role"] == "planner"
    assert duplicate.status_code == 409
    assert weak.status_code == 422
    assert weak.json() == {
        "detail": [{"field": "password", "reason": "password has 5 characters, expected at least 12"}]
    }
    assert [user["name"] for user in listed.json()] == [
        "admin1",
        "carol",
        "ingest1",
        "ops1",
        "planner1",
        "supervisor1",
        "viewer1",
    ]
    assert "$argon2" not in listed.text and "password" not in listed.text
    assert unknown.status_code == 404
    assert login.status_code == 200


async def test_an_admin_cannot_lock_themselves_out(store: Store) -> None:
    """Disabling oneself or dropping one's own admin role is refused (409); another admin may."""
    async with api(store) as a:
        admin = await a.login("admin1")
        disable = await a.http.patch("/api/v1/users/admin1", json={"disabled": True}, headers=admin)
        demote = await a.http.patch("/api/v1/users/admin1", json={"role": "viewer"}, headers=admin)
        other = await a.http.patch("/api/v1/users/ops1", json={"role": "viewer"}, headers=admin)
    assert disable.status_code == demote.status_code == 409
    assert other.status_code == 200


async def test_display_tokens_created_listed_and_revoked(store: Store) -> None:
    """A new token is shown once, reads data, is listed by id only, and stops working when revoked."""
    async with api(store) as a:
        ops = await a.login("ops1")
        created = (await a.http.post("/api/v1/tokens", json={"board": "floor-2", "label": "TV 2"}, headers=ops)).json()
        display = {"Authorization": f"Bearer {created['token']}"}
        reads = await a.http.get("/api/v1/snapshot", headers=display)
        me = (await a.http.get("/api/v1/me", headers=display)).json()
        listed = await a.http.get("/api/v1/tokens", headers=ops)
        revoked = await a.http.delete(f"/api/v1/tokens/{created['id'][:8]}", headers=ops)
        after = await a.http.get("/api/v1/snapshot", headers=display)
        again = await a.http.delete(f"/api/v1/tokens/{created['id']}", headers=ops)
    assert reads.status_code == 200
    assert me == {
        "name": "display:floor-2",
        "role": "display",
        "via": "display",
        "board": "floor-2",
        "permissions": ["read"],
        "teams": [],
        "queues": [],
    }
    assert listed.json() == [{"id": created["id"], "board": "floor-2", "label": "TV 2", "created": created["created"]}]
    assert created["token"] not in listed.text
    assert revoked.status_code == 204
    assert after.status_code == 401  # this process forgot the grant at once (others: within GRANT_TTL_S)
    assert again.status_code == 404


async def test_audit_records_who_did_what(store: Store) -> None:
    """User and token changes are audited with actor, action, target and old -> new; ops may read it."""
    async with api(store) as a:
        admin, ops, supervisor = await a.login("admin1"), await a.login("ops1"), await a.login("supervisor1")
        await a.http.patch("/api/v1/users/viewer1", json={"role": "supervisor"}, headers=admin)
        token = (await a.http.post("/api/v1/tokens", json={"board": "b1"}, headers=ops)).json()
        entries = (await a.http.get("/api/v1/audit", params={"count": 3}, headers=ops)).json()
        older = await a.http.get(
            "/api/v1/audit", params={"before": entries[-1]["id"], "action": "user.create"}, headers=ops
        )
        refused = await a.http.get("/api/v1/audit", headers=supervisor)
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("ops1", "token.create", f"token:{token['id']}"),
        ("admin1", "user.update", "user:viewer1"),
        ("supervisor1", "session.login", "user:supervisor1"),
    ]
    assert entries[0]["new"] == {"board": "b1", "label": ""}
    assert entries[1]["old"] == {"role": "viewer", "disabled": False}
    assert entries[1]["new"] == {"role": "supervisor", "disabled": False}
    assert [e["target"] for e in older.json()] == [f"user:{r.value}1" for r in reversed(Role)]
    assert refused.status_code == 403


async def test_audit_rejects_a_malformed_entry_id(store: Store) -> None:
    """``before`` must look like a stream id: anything else is 422, never a Redis error."""
    async with api(store) as a:
        response = await a.http.get("/api/v1/audit", params={"before": "abc"}, headers=await a.login("ops1"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query.before"


async def test_login_rehashes_a_password_made_with_old_parameters(store: Store) -> None:
    """Logging in with a hash of other argon2 parameters stores a hash with the current ones."""
    current = Passwords(argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    async with api(store, passwords=current) as a:
        await Accounts(store.accounts, Hashing(Passwords.cheap())).add_user(
            "olduser", Role.VIEWER, PASSWORD, actor="test"
        )
        before = (await store.accounts.get_user("olduser") or {})["password_hash"]
        await a.login("olduser")
        after = (await store.accounts.get_user("olduser") or {})["password_hash"]
    assert "m=8,t=1" in before and "m=16,t=2" in after


async def test_cookie_login_sets_strict_httponly_cookies(store: Store) -> None:
    """With "cookie": true the token goes only into an HttpOnly SameSite=Strict cookie, with a CSRF cookie."""
    async with api(store) as a:
        response = await a.http.post("/api/v1/login", json={"name": "ops1", "password": PASSWORD, "cookie": True})
    cookies = {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}
    assert response.json()["token"] is None
    session, csrf = cookies["wb_session"].lower(), cookies["wb_csrf"].lower()
    assert "httponly" in session and "samesite=strict" in session and "path=/" in session
    assert "httponly" not in csrf and "samesite=strict" in csrf


async def test_login_failures_are_counted_in_prometheus(store: Store) -> None:
    """wallboard_login_failures_total counts failures by reason on the API's /metrics."""
    async with api(store) as a:
        await a.http.post("/api/v1/login", json={"name": "ops1", "password": "wrong password!"})
        await a.http.post("/api/v1/login", json={"name": "ops1", "password": "wrong password!"})
        await a.http.post("/api/v1/login", json={"name": "ghost", "password": "wrong password!"})
        text = (await a.http.get("/metrics")).text
    assert 'wallboard_login_failures_total{site="paris",reason="bad_password"} 2.0' in text
    assert 'wallboard_login_failures_total{site="paris",reason="unknown_user"} 1.0' in text


async def test_auth_disabled_is_an_anonymous_admin(store: Store) -> None:
    """With auth_enabled=False every request acts as the admin "anonymous" (development and tests)."""
    async with api(store, auth_enabled=False) as a:
        me = (await a.http.get("/api/v1/me")).json()
        users = await a.http.get("/api/v1/users")
    assert me["name"] == "anonymous" and me["role"] == "admin"
    assert users.status_code == 200


async def test_redis_down_while_logging_in_is_503(store: Store) -> None:
    """A login that cannot reach Redis answers 503 (not a 500, not a 401)."""
    async with api(store) as a:
        unreachable = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
        store.accounts.client, reachable = unreachable, store.accounts.client
        try:
            response = await a.http.post("/api/v1/login", json={"name": "ops1", "password": PASSWORD})
        finally:
            store.accounts.client = reachable
            await unreachable.aclose()
    assert response.status_code == 503
