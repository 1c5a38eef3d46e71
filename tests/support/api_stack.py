"""The API as tests drive it: ``create_app`` on a real uvicorn on 127.0.0.1:0, an httpx client on it, users.

``running_api(store, ...)`` serves one site's Store (the caller owns its client) and yields a ``RunningApi``:
the base URL, the client, the app and its runtime, the ``Accounts`` the users were added with, and bearer
headers per caller. By default there is one user per role, named after it (``viewer1`` ... ``admin1``, password
PASSWORD), each logged in through POST /api/v1/login: ``headers[Role.OPS]`` (or ``headers["ops"]``, or by the
user's name) is that session's header, ``headers["none"]`` is no credential and, with ``display=``, a display
token's header is ``headers["display"]``. ``sessions=False`` leaves the users logged out (``login()`` logs one in),
for tests that count sessions or audit entries.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from wallboard.admin.accounts import Accounts, Hashing
from wallboard.api import create_app
from wallboard.api.app import serving
from wallboard.api.runtime import Runtime
from wallboard.config import Settings
from wallboard.core.site import SiteConfig
from wallboard.core.users import Passwords, Role
from wallboard.store import Store

SITE = "paris"
PASSWORD = "correct horse battery"
WAIT_S = 10.0
EVERY_ROLE: Mapping[str, Role] = {f"{role.value}1": role for role in Role}


@dataclass
class RunningApi:
    """A running API and what a test drives it with (see the module docstring)."""

    base: str
    http: httpx.AsyncClient
    app: FastAPI
    store: Store
    accounts: Accounts
    headers: dict[str, dict[str, str]] = field(default_factory=lambda: {"none": {}})
    display_token: str | None = None

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def ws_base(self) -> str:
        """The base URL for websockets: ws://127.0.0.1:<port>."""
        return self.base.replace("http://", "ws://", 1)

    async def login(self, name: str, password: str = PASSWORD) -> dict[str, str]:
        """Log ``name`` in through the API; its session's bearer header."""
        response = await self.http.post("/api/v1/login", json={"name": name, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


@contextlib.asynccontextmanager
async def running_api(
    store: Store,
    *,
    settings: Settings | None = None,
    site_config: SiteConfig | None = None,
    clock: Callable[[], float] | None = None,
    passwords: Passwords | None = None,
    sites: Sequence[str] = (),
    ws_interval_s: float | None = None,
    users: bool | Mapping[str, Role] = True,
    sessions: bool = True,
    display: bool | str = False,
    **values: Any,
) -> AsyncIterator[RunningApi]:
    """Serve ``create_app`` for ``store``'s site (and ``sites``) until the block ends.

    ``settings`` is used as given; otherwise ``Settings(site=store.site, **values)`` without reading the
    environment. ``users``: True for one user per role (EVERY_ROLE), a mapping of names to roles, or False
    for none. ``display``: True for a display token for any board, a board name for one bound to it.
    ``passwords`` defaults to ``Passwords.cheap()``; ``clock`` and ``ws_interval_s`` to create_app's.
    """
    if settings is not None and values:
        raise TypeError(f"pass settings or Settings values, not both: {sorted(values)}")
    settings = settings or Settings(_env={}, site=store.site, **values)
    passwords = passwords or Passwords.cheap()
    options: dict[str, Any] = {"clock": clock, "ws_interval_s": ws_interval_s}
    options = {name: value for name, value in options.items() if value is not None}
    app = create_app(settings, store=store, sites=sites, passwords=passwords, site_config=site_config, **options)
    # proxy_headers off, as uvicorn_config has it: the client address is wallboard.api.clients' to find
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on", proxy_headers=False)
    async with serving(config) as base, httpx.AsyncClient(base_url=base, timeout=WAIT_S) as http:
        api = RunningApi(base, http, app, store, Accounts(store.accounts, Hashing(passwords)))
        for name, role in (EVERY_ROLE if users is True else users or {}).items():
            await api.accounts.add_user(name, role, PASSWORD, actor="test")
            if sessions:
                api.headers[name] = await api.login(name)
                api.headers.setdefault(role, api.headers[name])
        if display is not False:
            board = None if display is True else display
            api.display_token, _ = await api.accounts.create_token(board, "tv", actor="test")
            api.headers["display"] = {"Authorization": f"Bearer {api.display_token}"}
        yield api


async def save_snapshot(store: Store, snapshot: Mapping[str, Any], **records: Any) -> None:
    """Store ``snapshot`` (and any ``alerts=`` / ``history=`` records) as the engine runner saves them."""
    await store.events.save_state(json.dumps(snapshot), None, "1-0", snapshot["seq"], **records)
