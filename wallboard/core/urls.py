"""URLs in log lines: a URL may carry a password, which never reaches a log."""

from __future__ import annotations

from urllib.parse import urlsplit


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
