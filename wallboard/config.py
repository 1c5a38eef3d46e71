"""Settings: the one typed configuration object, read from ``WALLBOARD_*`` environment variables.

This is the only module that reads ``os.environ``. The CLI (or ``create_app``) builds one
``Settings`` and passes it down; nothing builds one at import time. Tests construct it with
explicit keyword arguments and, to exercise the environment parsing, an injected mapping::

    Settings(_env={"WALLBOARD_SITE": "paris", "REDIS_URL": "redis://cache:6379/0"})

Resolution of each field: keyword argument, else ``WALLBOARD_<FIELD>`` (case-insensitive), else
the default. The Redis URL also accepts the conventional ``REDIS_URL`` when
``WALLBOARD_REDIS_URL`` is not set; with neither, ``redis_url`` is None and the commands share the
embedded Redis of the data directory (``data_dir``, see ``wallboard.store.datadir``). A URL is checked here
(scheme, host, port, database) so a typo fails at start-up with a message naming the variable, and
never echoes the URL itself (it may hold a password). A Redis Cluster is named by its own schemes,
``redis+cluster://`` or ``rediss+cluster://`` (TLS), followed by one or more comma-separated seed nodes and no database:
``redis+cluster://user:secret@10.0.0.1:6379,10.0.0.2:6379/``; any seed that answers reveals the
whole cluster (``wallboard.store.connect`` builds a ``RedisCluster`` client for it). Display tokens
are ``SecretStr`` so they never appear in a repr or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from wallboard.core.actions import ActionFamily, parse_families
from wallboard.core.urls import redacted_url as redacted_url  # re-exported: log lines of the URLs named here

ENV_PREFIX = "WALLBOARD_"
CONVENTIONAL_REDIS_URL = "REDIS_URL"
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
REDIS_SCHEMES = ("redis", "rediss", "unix", *CLUSTER_SCHEMES)
DEFAULT_REDIS_PORT = 6379

_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
# The environment the next Settings() reads, when a test injects one (``_env=``).
_INJECTED_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("wallboard_injected_env", default=None)


def cluster_seeds(url: str, variable: str = "the Redis URL") -> list[tuple[str, int]]:
    """The (host, port) seed nodes of a ``redis+cluster://`` URL; ValueError naming ``variable`` if unusable.

    ``scheme://[user:password@]host[:port][,host[:port]...][/][?options]``: the port defaults to
    6379, IPv6 hosts go in brackets, and the path may only name database 0 (a cluster has no other).
    """
    parts = urlsplit(url.strip())
    seeds: list[tuple[str, int]] = []
    for seed in parts.netloc.rpartition("@")[2].split(","):
        try:
            node = urlsplit("//" + seed.strip())
            port = node.port
        except ValueError as exc:
            raise ValueError(f"{variable} has a seed node that is not host:port ({exc})") from exc
        if not node.hostname:
            raise ValueError(f"{variable} has an empty seed node (expected {parts.scheme}://host:port[,host:port...]/)")
        if port == 0:
            raise ValueError(f"{variable} has a seed node with port 0")
        seeds.append((node.hostname, port or DEFAULT_REDIS_PORT))
    if parts.path.strip("/") not in ("", "0"):
        raise ValueError(f"{variable} names a database; a Redis Cluster has only database 0")
    return seeds


def check_redis_url(url: str, variable: str) -> str:
    """Return ``url`` if it is a usable Redis URL, else raise ValueError naming ``variable`` (never the URL).

    Schemes: ``redis``, ``rediss`` (TLS), ``unix`` for one server; ``redis+cluster`` and
    ``rediss+cluster`` for a Redis Cluster given by comma-separated seed nodes (see ``cluster_seeds``).
    """
    try:
        parts = urlsplit(url.strip())
        if parts.scheme in CLUSTER_SCHEMES:
            port = None
        else:
            port = parts.port
    except ValueError as exc:
        raise ValueError(f"{variable} is not a valid URL ({exc})") from exc
    if parts.scheme not in REDIS_SCHEMES:
        shown = repr(parts.scheme) if parts.scheme else "none"
        raise ValueError(f"{variable} must use one of the schemes {', '.join(REDIS_SCHEMES)}; read scheme {shown}")
    if parts.scheme in CLUSTER_SCHEMES:
        cluster_seeds(url, variable)
        return url.strip()
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"{variable} is a unix:// URL without a socket path")
    elif not parts.hostname:
        raise ValueError(f"{variable} has no host (expected {parts.scheme}://host:port/db)")
    elif port == 0:
        raise ValueError(f"{variable} has port 0")
    db = parts.path.lstrip("/") if parts.scheme != "unix" else ""
    if db and not db.isdigit():
        raise ValueError(f"{variable} names database {db!r}; expected a number")
    return url.strip()


def describe_errors(exc: ValidationError) -> str:
    """A validation error of Settings as one line: each problem, named by its field unless it names its variable.

    Input values are never shown (``hide_input_in_errors``): a URL may hold a password.
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        problems.append(f"{field}: {message}" if field and ENV_PREFIX + field.upper() not in message else message)
    return "; ".join(problems)


class _EnvSource(EnvSettingsSource):
    """The environment source, reading an injected mapping when there is one, plus ``REDIS_URL``."""

    def _environ(self) -> Mapping[str, str]:
        injected = _INJECTED_ENV.get()
        return os.environ if injected is None else injected

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = self._environ()
        if self.case_sensitive:
            return dict(environ)
        return {name.lower(): value for name, value in environ.items()}

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for name, value in self._environ().items():
            if name.upper() == CONVENTIONAL_REDIS_URL and value:
                data[CONVENTIONAL_REDIS_URL] = value
        return data


class Settings(BaseSettings):
    """Everything a wallboard process needs to know that is not in the site file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    # Redis and the pipeline
    redis_url: str | None = Field(default=None, repr=False)  # may hold a password: see redacted_url()
    key_prefix: str = Field(default="wb", min_length=1, max_length=32, pattern=_NAME_PATTERN)
    site: str = Field(default="default", min_length=1, max_length=64, pattern=_NAME_PATTERN)
    site_file: Path | None = None
    data_dir: Path | None = None  # the embedded Redis' directory when no redis_url (wallboard.store.datadir)
    stream_maxlen: PositiveInt = 1_000_000
    snapshot_interval_s: PositiveFloat = 0.25
    checkpoint_interval_s: PositiveFloat = 5.0  # the State pickle is MBs on a busy day: not 4 times a second
    history_retention_days: PositiveInt = 35  # history: closed interval rows kept in Redis
    # A record stamped further ahead of the wall clock than this (after the PBX's measured skew, in the
    # collectors) is not applied: it would move the interval and the day into the future (clock_ahead)
    clock_tolerance_s: PositiveFloat = 900.0
    # API and websockets
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    auth_enabled: bool = True
    display_tokens: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    metrics_public: bool = False
    metrics_per_agent: bool = False
    ws_heartbeat_s: PositiveFloat = 2.0  # each carries the data's time: well inside the pages' 6 s STALE threshold
    ws_max_message_bytes: PositiveInt = 4096
    ws_send_queue: PositiveInt = 8
    # Readiness (/readyz, wallboard.core.readiness): Redis answers PING within ready_redis_timeout_s, the snapshot
    # is at most ready_snapshot_max_age_s old (the engine publishes every second), and every collector's health
    # hash was written within ready_collector_stale_s (they write it every second) and says it is connected
    ready_redis_timeout_s: float = Field(default=1.5, gt=0, le=5)
    ready_snapshot_max_age_s: PositiveFloat = 10.0
    ready_collector_stale_s: PositiveFloat = 10.0
    # Request bounds (wallboard.api.limits documents them all): a larger body is 413, a longer query 414, and a
    # request line plus headers past max_header_bytes is refused by the HTTP parser (400)
    max_body_bytes: PositiveInt = 1024 * 1024
    max_query_bytes: PositiveInt = 8 * 1024
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    # Users and sessions (wallboard.admin.accounts)
    session_ttl_s: PositiveFloat = 12 * 3600.0  # sliding: every request with the session restarts it
    # Login throttling (wallboard.admin.accounts): failures are counted per (user name, client) pair and per
    # client; past its free failures a pair (or client) waits 1 s after its next failure, then 2, 4, 8 ... up to
    # login_max_delay_s (429 with Retry-After meanwhile). Nothing ever locks a user out: a client that has not
    # been failing logs in at once, whatever others did. A client is an IPv4 address or an IPv6 /64.
    login_max_failures: PositiveInt = 5  # free failures of one (user name, client) pair before it waits
    login_max_failures_per_ip: PositiveInt = 20  # free failures of one client, over all names, before it waits
    login_max_delay_s: PositiveFloat = 300.0  # the longest wait after a failure
    login_window_s: PositiveFloat = 300.0  # failures are forgotten this long after the wait of the last one ends
    # failures of one user name from any client within login_window_s that write one login.targeted audit entry
    # (and a warning): a signal of a distributed attack, never a delay for the user
    login_alert_failures_per_user: PositiveInt = 100
    # Proxies whose X-Forwarded-For (and X-Forwarded-Proto) is believed: comma-separated IPs or CIDRs, none by
    # default (the client is the TCP peer, loopback included). Set it to the reverse proxy's address behind one,
    # else every user shares the proxy's address (wallboard.api.clients)
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # The address TVs and phones reach the wallboard at (http(s)://host[:port][/path]), for the TV URL and QR code
    # of new display tokens; none: the request's own, through trusted_proxies' X-Forwarded-Proto/-Host (behind a
    # proxy that sends neither, the request's host is the proxy's upstream: set it)
    public_url: str | None = None
    # Supervisor actions on agents (wallboard.core.actions): the kinds enabled, comma-separated among pause
    # (pause/unpause), login (login/logout) and monitor, or all; none by default. The API refuses a disabled kind
    # and the AMI collector executes only the enabled ones. Each user may ask for actions_per_minute at most.
    actions: Annotated[tuple[ActionFamily, ...], NoDecode] = ()
    actions_per_minute: PositiveInt = 30
    # Collectors (the AMI secret only ever comes from the environment: WALLBOARD_AMI_SECRET)
    ami_secret: SecretStr | None = None
    # POST /api/v1/events: events a second per source (a burst of ten seconds' worth), and how long a key is
    # remembered so that its repeat is a no-op
    ingest_rate: PositiveFloat = 1000.0
    ingest_dedup_s: PositiveInt = 7 * 86_400
    esl_password: SecretStr | None = None  # FreeSWITCH event socket password (WALLBOARD_ESL_PASSWORD)
    # `wallboard collect queue-log-db` and `replay --format queue_log_db`: the database user's password, only ever
    # from WALLBOARD_QUEUE_LOG_DB_PASSWORD (a URL carrying one is refused)
    queue_log_db_password: SecretStr | None = None
    # `wallboard users add`: the new user's password (else it is prompted for; never a command-line argument)
    new_password: SecretStr | None = None
    # Alert notifications (wallboard.processes.notify): comma-separated receivers "[generic:|slack:|teams:]https://..."
    # (a receiver's URL may be its credential, e.g. a Slack webhook: secret); bodies signed with webhook_secret.
    webhook_urls: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    webhook_secret: SecretStr | None = None
    webhook_timeout_s: PositiveFloat = 10.0
    webhook_max_attempts: PositiveInt = 6
    # `wallboard grafana push`: Grafana's URL (--url overrides) and its service-account token,
    # only ever from WALLBOARD_GRAFANA_TOKEN (never a command-line argument, never logged)
    grafana_url: str | None = Field(default=None, repr=False)  # may hold user:password@
    grafana_token: SecretStr | None = None

    def __init__(self, _env: Mapping[str, str] | None = None, **values: Any) -> None:
        token = _INJECTED_ENV.set(_env)
        try:
            super().__init__(**values)
        finally:
            _INJECTED_ENV.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _EnvSource(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _conventional_redis_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or CONVENTIONAL_REDIS_URL not in data:
            return data
        data = dict(data)
        conventional = data.pop(CONVENTIONAL_REDIS_URL)
        if not data.get("redis_url") and isinstance(conventional, str):
            data["redis_url"] = check_redis_url(conventional, CONVENTIONAL_REDIS_URL)
        return data

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_redis_url(value, ENV_PREFIX + "REDIS_URL")

    @field_validator("display_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(token.strip() for token in value.split(",") if token.strip())
        return value

    @field_validator("actions", mode="before")
    @classmethod
    def _split_actions(cls, value: Any) -> Any:
        if isinstance(value, str | list | tuple):
            try:
                return parse_families(value)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}ACTIONS: {exc}") from exc
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        """Comma-separated addresses or networks (host bits allowed: ``10.0.0.7/8`` is ``10.0.0.0/8``)."""
        if isinstance(value, str):
            value = tuple(entry.strip() for entry in value.split(",") if entry.strip())
        if isinstance(value, list | tuple):
            try:
                return tuple(ip_network(entry, strict=False) for entry in value)
            except ValueError as exc:
                problem = f"{ENV_PREFIX}TRUSTED_PROXIES takes comma-separated IP addresses or CIDRs ({exc})"
                raise ValueError(problem) from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _valid_public_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host (an empty one means none), kept without its trailing slash."""
        if value is None or not value.strip():
            return None
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018  # raises ValueError for a port that is not a number
        except ValueError as exc:
            raise ValueError(f"{ENV_PREFIX}PUBLIC_URL is not a valid URL ({exc})") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{ENV_PREFIX}PUBLIC_URL must be http(s)://host[:port][/path], without query or fragment")
        if parts.username is not None:
            raise ValueError(f"{ENV_PREFIX}PUBLIC_URL must not hold a user name or password")
        return value.strip().rstrip("/")

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _no_empty_secret(cls, value: Any) -> Any:
        """An empty WALLBOARD_WEBHOOK_SECRET (compose passes one through when unset) means no secret."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split_webhooks(cls, value: Any) -> Any:
        """Comma-separated receivers, each checked (format prefix, http(s) URL) without ever echoing it."""
        if isinstance(value, str):
            value = tuple(entry.strip() for entry in value.split(",") if entry.strip())
        if isinstance(value, list | tuple):
            for index, entry in enumerate(value):
                text = entry.get_secret_value() if isinstance(entry, SecretStr) else str(entry)
                webhook_target(text, f"{ENV_PREFIX}WEBHOOK_URLS item {index + 1}")
        return value


WEBHOOK_FORMATS = ("generic", "slack", "teams")


def webhook_target(entry: str, variable: str = "a webhook") -> tuple[str, str]:
    """(format, url) of a receiver entry ``[generic:|slack:|teams:]https://host/...``; the format defaults to generic.

    Raises ValueError naming ``variable`` (never the URL, which may hold a credential).
    """
    fmt, sep, rest = entry.strip().partition(":")
    if sep and fmt in WEBHOOK_FORMATS:
        url = rest.strip()
    else:
        fmt, url = "generic", entry.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{variable} is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        formats = "|".join(WEBHOOK_FORMATS)
        raise ValueError(f"{variable} must be [{formats}:]http(s)://host/path (read scheme {parts.scheme or 'none'!r})")
    return fmt, url
