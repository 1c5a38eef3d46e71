"""The wallboard HTTP API: REST, the /ws fan-out, users, sessions and display tokens, /metrics (see ``app``)."""

from wallboard.api.app import ApiError, create_app, serving, uvicorn_config

__all__ = ["ApiError", "create_app", "serving", "uvicorn_config"]
