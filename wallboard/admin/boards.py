"""Boards: what a TV shows, stored as configuration in Redis (``wb:{site}:config:boards``)."""

from __future__ import annotations

from typing import Any


def default_board(title: str = "") -> dict[str, Any]:
    """The board shown when none is stored: every queue, the standard tiles."""
    return {
        "title": title,
        "queues": [],
        "groups": [],
        "tiles": [],
        "pages": [],
        "group_tiles": False,
        "team_tiles": False,
        "teams": [],
        "version": 0,
    }
