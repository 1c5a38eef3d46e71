"""Display tokens: checking them fast and safely (sessions and permissions: ``wallboard.api.security``).

Theory of operation
-------------------
A display token is a random secret (``secrets.token_urlsafe(32)``) given to a TV or a browser.
The server never keeps the token itself: Redis holds ``sha256(token)`` as the field of the
``wb:{site}:tokens`` hash (value: role, board, creation time, label), and the settings may list
extra tokens (``WALLBOARD_DISPLAY_TOKENS``), which are hashed once at start-up. Checking a
presented token hashes it, compares the digest with every configured digest in constant time
(``hmac.compare_digest``, no early exit), then looks the digest up in Redis (a keyed lookup,
which reveals nothing about other tokens' values).

Redis lookups are shared and bounded: concurrent checks of one token wait for a single lookup,
at most ``LOOKUPS_IN_FLIGHT`` lookups run at once (the others wait their turn), and a token found
is trusted for ``GRANT_TTL_S`` seconds without asking again. So when a thousand TVs sharing a token
reconnect at once (an API restart), Redis sees one lookup instead of a burst that would exhaust the
client's connection pool and turn valid tokens away with 503/4503. The price is bounded: a revocation's
notice (``wallboard.api.security.AccessWatch``) makes every API process forget what it trusted at once
(``forget_all``), and without the notice a revoked token is trusted for ``GRANT_TTL_S`` (4 s) at most.
Unknown tokens are never cached, so a token created a moment ago works at once. Sockets already open are
not this module's business: the access watch re-checks them without this cache.

A client presents its token as ``Authorization: Bearer <token>`` or ``?token=<token>`` (the
only option a browser has for a websocket). With auth disabled every request is granted.
Logs never show a token: at most the first 8 hex digits of its digest. uvicorn logs request paths
with their raw query string (access log, websocket accept lines), so ``redact_server_logs`` installs a
filter on its loggers and on the process's log handlers that masks ``token`` values however they are
spelled (``%74oken=``, ``TOKEN=``), ``Authorization`` and cookie headers (``redact``).

``/metrics`` is open to loopback clients (a Prometheus beside the API) and to everyone when
``metrics_public`` is set; otherwise it needs a display token like the rest.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_plus

from wallboard.admin.accounts import token_digest as token_digest
from wallboard.config import Settings

log = logging.getLogger(__name__)

BEARER = "bearer"
TOKEN_QUERY = "token"
DISPLAY = "display"
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")
# A name=value pair of a query string (or a cookie, or a log message's own key=value), its name still encoded
_PARAMETER = re.compile(r"(^|[?&;\s\"'(,])([^=&;\s\"'#?(),]+)=([^&;\s\"'#(),]*)")
_SECRET_NAMES = ("token", "password", "secret", "session", "csrf")  # a name containing one, once decoded, is masked
# A header that is a credential whole, as a line or a repr ("authorization: x", (b'cookie', b'x'), 'cookie': 'x')
_SECRET_HEADER = re.compile(r"((?:authorization|(?:set-)?cookie)[\"']?\s*[:=,]\s*(?:b?[\"'])?)([^\"'\r\n]+)", re.I)
_CREDENTIALS = re.compile(r"\b(bearer|basic)(\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
MASK = "***"
LOOKUPS_IN_FLIGHT = 16  # Redis token lookups at once (the API's Redis pool holds 100 connections)
GRANT_TTL_S = 4.0  # how long a token found in Redis is trusted without asking again (revocation: within 5 s)
MAX_REMEMBERED = 4096  # remembered grants; past that the memory starts over


class TokenStore(Protocol):
    """The two store operations tokens need (``wallboard.store.Store`` provides them)."""

    async def get_token(self, token_hash: str) -> dict[str, Any] | None: ...

    async def add_token(self, token_hash: str, info: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Grant:
    """What a presented token allows: its role, the board it was made for, where it was found."""

    role: str
    board: str | None = None
    label: str = ""
    source: str = "redis"  # "redis", "settings" or "open" (auth disabled)


def fingerprint(token: str) -> str:
    """A short, log-safe name for a token: the first 8 hex digits of its digest."""
    return token_digest(token)[:8]


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token from ``Authorization: Bearer`` (preferred) or the ``token`` query parameter."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == BEARER and credentials.strip():
        return credentials.strip()
    return query.get(TOKEN_QUERY) or None


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for names and anything else."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class Authenticator:
    """Checks presented tokens against the settings' tokens and the store (see the module docstring)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._enabled = settings.auth_enabled
        self._metrics_public = settings.metrics_public
        self._configured = tuple(token_digest(secret.get_secret_value()) for secret in settings.display_tokens)
        self._clock = clock
        self._found: dict[tuple[TokenStore, str], tuple[float, dict[str, Any]]] = {}  # -> (expiry, info)
        self._lookups: dict[tuple[TokenStore, str], asyncio.Future[dict[str, Any] | None]] = {}
        self._gate = asyncio.Semaphore(LOOKUPS_IN_FLIGHT)

    @property
    def enabled(self) -> bool:
        return self._enabled

    async def check(self, token: str | None, stores: Iterable[TokenStore]) -> Grant | None:
        """The grant for ``token`` from the settings or any of ``stores`` (the sites' token hashes).

        None when auth is on and the token is missing or unknown. Store errors propagate: the
        caller answers 503, not 401, since the token may well be valid.
        """
        if not self._enabled:
            return Grant(role=DISPLAY, source="open")
        if not token:
            return None
        digest = token_digest(token)
        if self._matches_configured(digest):
            return Grant(role=DISPLAY, source="settings")
        info = None
        for store in stores:
            if (info := await self._lookup(store, digest)) is not None:
                break
        if info is None:
            log.warning("rejected an unknown display token (sha256 %s...)", digest[:8])
            return None
        return Grant(role=str(info.get("role", DISPLAY)), board=info.get("board"), label=str(info.get("label", "")))

    async def allow_metrics(self, client_host: str | None, token: str | None, stores: Iterable[TokenStore]) -> bool:
        """/metrics: loopback clients, everyone when public, else whoever holds a display token."""
        if self._metrics_public or is_loopback(client_host):
            return True
        return await self.check(token, stores) is not None

    async def _lookup(self, store: TokenStore, digest: str) -> dict[str, Any] | None:
        """The store's info for ``digest``: remembered for GRANT_TTL_S when found, one lookup per token at a time."""
        key = (store, digest)
        found = self._found.get(key)
        if found is not None and found[0] > self._clock():
            return found[1]
        pending = self._lookups.get(key)
        if pending is None:
            pending = self._lookups[key] = asyncio.ensure_future(self._fetch(store, digest))
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)  # a caller that goes away does not cancel the others' lookup

    async def _fetch(self, store: TokenStore, digest: str) -> dict[str, Any] | None:
        async with self._gate:
            info = await store.get_token(digest)
        if info is not None:
            if len(self._found) >= MAX_REMEMBERED:
                self._found.clear()
            self._found[(store, digest)] = (self._clock() + GRANT_TTL_S, info)
        return info

    def forget(self, digest: str) -> None:
        """Stop trusting a remembered token now (it was revoked through this process)."""
        for key in [key for key in self._found if key[1] == digest]:
            del self._found[key]

    def forget_all(self) -> None:
        """Stop trusting every remembered token now (a token was revoked somewhere: which, the notice does not say)."""
        self._found.clear()

    def _settled(self, key: tuple[TokenStore, str], done: asyncio.Future[dict[str, Any] | None]) -> None:
        self._lookups.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone away; each one that waited got it raised

    def _matches_configured(self, digest: str) -> bool:
        found = False
        for known in self._configured:  # no early exit: the time taken does not depend on which one matched
            found |= hmac.compare_digest(known, digest)
        return found


class TokenRedactor(logging.Filter):
    """Masks credentials (see ``redact``) in a record's message, arguments and traceback (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redacted_arg(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _redacted_arg(arg: object) -> object:
    """A log argument with its credentials masked; numbers (and anything without one) unchanged."""
    if isinstance(arg, int | float) or arg is None:
        return arg
    text = arg.decode("latin-1") if isinstance(arg, bytes | bytearray) else str(arg)
    masked = redact(text)
    return arg if masked == text and not isinstance(arg, str) else masked


def redact(text: str) -> str:
    """``text`` with its credentials replaced by ``***``, however they are spelled.

    Masked: the value of every query parameter (or ``name=value`` pair) whose name, once
    percent-decoded (``%74oken``, ``to%6Ben``, ``TOKEN``), contains token, password, secret,
    session or csrf; the whole value of an ``Authorization``, ``Cookie`` or ``Set-Cookie`` header;
    the credentials after ``Bearer`` or ``Basic``.
    """
    if "=" in text:
        text = _PARAMETER.sub(_masked_parameter, text)
    return _CREDENTIALS.sub(rf"\1\2{MASK}", _SECRET_HEADER.sub(rf"\1{MASK}", text))


def _masked_parameter(match: re.Match[str]) -> str:
    name = match.group(2)
    for _ in range(3):  # names encoded more than once are still found (a harmless over-masking at worst)
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    if any(secret in name.lower() for secret in _SECRET_NAMES):
        return f"{match.group(1)}{match.group(2)}={MASK}"
    return match.group(0)


def redact_server_logs(names: Iterable[str] = SERVER_LOGGERS) -> None:
    """Install a TokenRedactor on uvicorn's loggers and on the handlers the CLI configured (once each).

    A filter on a logger sees only that logger's own records; one on a handler sees every record it
    writes, whichever logger it came from: so every log line of the process is redacted.
    """
    loggers = [logging.getLogger(name) for name in names]
    handlers = [handler for logger in (logging.getLogger(), *loggers) for handler in logger.handlers]
    for target in (*loggers, *handlers):
        if not any(isinstance(existing, TokenRedactor) for existing in target.filters):
            target.addFilter(TokenRedactor())
