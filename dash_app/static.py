"""The files the pages load in the browser: one folder of JavaScript and CSS, and which of its files each page takes.

Every page is a Dash app whose ``assets_folder`` is :data:`ASSETS` (``dash_app/tv_assets/``, shipped with the
package by pyproject.toml's ``[tool.setuptools.package-data]``). Dash writes a ``<script>`` or ``<link>`` into
its page for each .js and .css file of that folder that its ``assets_ignore`` pattern does not match, in file-name
order, ahead of its renderer; :func:`assets_of` turns "these files" into that pattern, so a page loads its own
files and none of another page's. The live pages (TV, supervisor) take :data:`CLIENT`, the one websocket client:
``/ws?token=``, snapshot and deltas, heartbeats, reconnect with backoff, the STALE banner, "not authorised", the
clock and the data's age. Their own scripts only render, and find the client at ``window.wallboardClient`` once
the layout is rendered, whatever the order of the tags.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypedDict

__all__ = ["ASSETS", "CLIENT", "AssetOptions", "assets_of"]

ASSETS = Path(__file__).with_name("tv_assets")
CLIENT = "wallboard-client.js"


class AssetOptions(TypedDict):
    """The keyword arguments of ``Dash()`` that choose a page's assets."""

    assets_folder: str
    assets_ignore: str


def assets_of(*files: str) -> AssetOptions:
    """Keyword arguments for ``Dash()``: serve :data:`ASSETS` and load only ``files`` (names in that folder)."""
    missing = sorted(name for name in files if not (ASSETS / name).is_file())
    if missing:
        raise FileNotFoundError(
            f"no {', '.join(missing)} in {ASSETS}; it holds {sorted(p.name for p in ASSETS.iterdir())}"
        )
    wanted = "|".join(re.escape(name) for name in files)
    return AssetOptions(assets_folder=str(ASSETS), assets_ignore=f"^(?!(?:{wanted})$)")
