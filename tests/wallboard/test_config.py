"""Tests for wallboard/config.py: environment parsing, the REDIS_URL fallback, secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from wallboard.config import Settings, redacted_url


def test_defaults_are_the_contract_values() -> None:
    """With an empty environment every field has the default the pipeline contract gives."""
    settings = Settings(_env={})
    assert settings.redis_url is None
    assert (settings.key_prefix, settings.site, settings.site_file) == ("wb", "default", None)
    assert (settings.stream_maxlen, settings.snapshot_interval_s, settings.checkpoint_interval_s) == (
        1_000_000,
        0.25,
        5.0,
    )
    assert (settings.auth_enabled, settings.display_tokens) == (True, ())
    assert (settings.metrics_public, settings.metrics_per_agent) == (False, False)
    assert (settings.ws_heartbeat_s, settings.ws_max_message_bytes, settings.ws_send_queue) == (2.0, 4096, 8)


def test_prefixed_variables_are_read_and_converted() -> None:
    """WALLBOARD_* variables (any case) become typed fields."""
    settings = Settings(
        _env={
            "WALLBOARD_SITE": "paris",
            "wallboard_key_prefix": "wbtest",
            "WALLBOARD_SITE_FILE": "/etc/wallboard/paris.yaml",
            "WALLBOARD_STREAM_MAXLEN": "5000",
            "WALLBOARD_SNAPSHOT_INTERVAL_S": "0.5",
            "WALLBOARD_AUTH_ENABLED": "false",
            "WALLBOARD_METRICS_PUBLIC": "1",
            "WALLBOARD_PORT": "9000",
        }
    )
    assert (settings.site, settings.key_prefix, settings.site_file) == (
        "paris",
        "wbtest",
        Path("/etc/wallboard/paris.yaml"),
    )
    assert (settings.stream_maxlen, settings.snapshot_interval_s, settings.port) == (5000, 0.5, 9000)
    assert (settings.auth_enabled, settings.metrics_public) == (False, True)


def test_keyword_arguments_override_the_environment() -> None:
    """An explicit keyword wins over the variable of the same field."""
    assert Settings(site="lyon", _env={"WALLBOARD_SITE": "paris"}).site == "lyon"


def test_the_process_environment_is_read_when_none_is_injected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without _env, os.environ is the source; with _env, os.environ is ignored."""
    monkeypatch.setenv("WALLBOARD_SITE", "nice")
    assert Settings().site == "nice"
    assert Settings(_env={}).site == "default"


def test_conventional_redis_url_is_the_fallback() -> None:
    """REDIS_URL is used when WALLBOARD_REDIS_URL is not set; the prefixed one wins when both are."""
    assert Settings(_env={"REDIS_URL": "redis://cache:6379/2"}).redis_url == "redis://cache:6379/2"
    both = {"REDIS_URL": "redis://cache:6379/2", "WALLBOARD_REDIS_URL": "unix:///run/redis/redis.sock"}
    assert Settings(_env=both).redis_url == "unix:///run/redis/redis.sock"


def test_an_invalid_fallback_is_ignored_when_the_prefixed_url_is_set() -> None:
    """A broken REDIS_URL meant for another program does not matter when WALLBOARD_REDIS_URL is set."""
    env = {"REDIS_URL": "http://elsewhere", "WALLBOARD_REDIS_URL": "rediss://user:pw@cache.example:6380/0"}
    assert Settings(_env=env).redis_url == "rediss://user:pw@cache.example:6380/0"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REDIS_URL", "http://user:s3cret@cache:6379", "REDIS_URL must use one of the schemes"),
        ("REDIS_URL", "cache:6379", "REDIS_URL must use one of the schemes"),
        ("WALLBOARD_REDIS_URL", "redis://user:s3cret@cache:99999", "WALLBOARD_REDIS_URL is not a valid URL"),
        ("WALLBOARD_REDIS_URL", "redis:///0", "WALLBOARD_REDIS_URL has no host"),
        ("WALLBOARD_REDIS_URL", "redis://user:s3cret@cache:6379/main", "WALLBOARD_REDIS_URL names database 'main'"),
        ("REDIS_URL", "unix://?db=1", "REDIS_URL is a unix:// URL without a socket path"),
    ],
)
def test_an_invalid_redis_url_names_its_variable_and_hides_the_value(variable: str, value: str, message: str) -> None:
    """A bad URL is a ValidationError naming the variable, never echoing the URL (it may hold a password)."""
    with pytest.raises(ValidationError) as caught:
        Settings(_env={variable: value})
    text = str(caught.value)
    assert message in text
    assert "s3cret" not in text and value not in text


def test_display_tokens_are_comma_separated_secrets() -> None:
    """WALLBOARD_DISPLAY_TOKENS splits on commas, drops blanks, and the tokens never show in a repr."""
    settings = Settings(_env={"WALLBOARD_DISPLAY_TOKENS": " tok-a, tok-b ,,tok-c "})
    assert [token.get_secret_value() for token in settings.display_tokens] == ["tok-a", "tok-b", "tok-c"]
    assert "tok-a" not in repr(settings) and "tok-a" not in str(settings.model_dump())


def test_the_redis_url_is_kept_out_of_the_repr() -> None:
    """The URL may carry a password: repr(settings) does not show it; redacted_url masks the password."""
    settings = Settings(_env={"REDIS_URL": "redis://default:s3cret@cache:6379/0"})
    assert "s3cret" not in repr(settings)
    assert redacted_url(settings.redis_url or "") == "redis://default:***@cache:6379/0"
    assert redacted_url("unix:///run/redis.sock") == "unix:///run/redis.sock"


@pytest.mark.parametrize("site", ["a:b", "{paris}", "", "with space"])
def test_site_names_cannot_break_the_key_layout(site: str) -> None:
    """Colons, braces and blanks would break the {site} hash tag: rejected."""
    with pytest.raises(ValidationError, match="site"):
        Settings(_env={"WALLBOARD_SITE": site})


def test_settings_are_immutable() -> None:
    """One Settings is built and passed down; nobody can change it on the way."""
    settings = Settings(_env={})
    with pytest.raises(ValidationError):
        settings.site = "other"  # type: ignore[misc]
