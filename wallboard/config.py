"""Settings: the one typed configuration object, read from ``WALLBOARD_*`` environment variables.

This is the only module that reads ``os.environ``. The CLI (or ``create_app``) builds one
``Settings`` and passes it down; nothing builds one at import time. Tests construct it with
explicit keyword arguments and, to exercise the environment parsing, an injected mapping::

    Settings(_env={"WALLBOARD_SITE": "paris", "REDIS_URL": "redis://cache:6379/0"})

Resolution of each field: keyword argument, else ``WALLBOARD_<FIELD>`` (case-insensitive), else
the default. The Redis URL also accepts the conventional ``REDIS_URL`` when
``WALLBOARD_REDIS_URL`` is not set; with neither, ``redis_url`` is None and the CLI starts an
embedded Redis (``wallboard.embedded``). A URL is checked here (scheme, host, port, database) so a
typo fails at start-up with a message naming the variable, and never echoes the URL itself (it
may hold a password). Display tokens are ``SecretStr`` so they never appear in a repr or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "WALLBOARD_"
CONVENTIONAL_REDIS_URL = "REDIS_URL"
REDIS_SCHEMES = ("redis", "rediss", "unix")

_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
# The environment the next Settings() reads, when a test injects one (``_env=``).
_INJECTED_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("wallboard_injected_env", default=None)


def check_redis_url(url: str, variable: str) -> str:
    """Return ``url`` if it is a usable Redis URL, else raise ValueError naming ``variable`` (never the URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{variable} is not a valid URL ({exc})") from exc
    if parts.scheme not in REDIS_SCHEMES:
        shown = repr(parts.scheme) if parts.scheme else "none"
        raise ValueError(f"{variable} must use one of the schemes {', '.join(REDIS_SCHEMES)}; read scheme {shown}")
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


def redacted_url(url: str) -> str:
    """The URL with any password replaced by ``***``, fit for a log line."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<invalid URL>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


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
    embedded_dir: Path | None = None
    stream_maxlen: PositiveInt = 1_000_000
    snapshot_interval_s: PositiveFloat = 0.25
    checkpoint_interval_s: PositiveFloat = 5.0  # the State pickle is MBs on a busy day: not 4 times a second
    # API and websockets
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    auth_enabled: bool = True
    display_tokens: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    metrics_public: bool = False
    metrics_per_agent: bool = False
    ws_heartbeat_s: PositiveFloat = 5.0
    ws_max_message_bytes: PositiveInt = 4096
    ws_send_queue: PositiveInt = 8
    # Collectors (the AMI secret only ever comes from the environment: WALLBOARD_AMI_SECRET)
    ami_secret: SecretStr | None = None

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
