"""The pages' browser code: one websocket client, in one asset file, loaded by both live pages; each page's own
script and styles next to it; no JavaScript in Python strings; every asset shipped with the package."""

from __future__ import annotations

import ast
import fnmatch
import random
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dash import Dash
from playwright.async_api import Browser

from dash_app.ops import build_ops_app
from dash_app.static import ASSETS, CLIENT, assets_of
from dash_app.supervisor import build_supervisor_app
from dash_app.tv import build_tv_app
from wallboard.core.deltas import apply_diff, diff

ROOT = Path(__file__).resolve().parents[2]
DASH_APP = ROOT / "dash_app"
# What only a websocket client does: open the socket, check it is open, apply deltas, time STALE and retries.
CLIENT_CODE = ("new WebSocket(", "WebSocket.OPEN", "applyDiff(", "STALE_MS", "RETRY_MAX_MS")
# JavaScript in a Python string: an arrow or a function, a declaration, the DOM, an assignment to a global.
JAVASCRIPT = re.compile(r"=>|\bfunction\s*\w*\s*\(|\b(const|let|var)\s+\w+\s*=|\bdocument\.|\bwindow\.[\w.]+\s*=[^=]")
PAGES: dict[str, tuple[Callable[[], Dash], set[str]]] = {
    "/tv": (build_tv_app, {CLIENT, "i18n-catalogs.js", "i18n.js", "tv.js", "tv.css", "banner.js", "banner.css"}),
    "/supervisor": (
        build_supervisor_app,
        {
            CLIENT,
            "i18n-catalogs.js",
            "i18n.js",
            "actions.js",
            "grid_figures.js",
            "supervisor-alerts.js",
            "supervisor-trends.js",
            "supervisor.js",
            "calls.js",
            "supervisor.css",
            "calls.css",
        },
    ),
    "/ops": (
        build_ops_app,
        {"theme.css", "ops.css", "i18n-catalogs.js", "i18n.js", "ops-boards.js", "ops-people.js", "ops.js"},
    ),
}


def source_files() -> list[Path]:
    return sorted(p for p in DASH_APP.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def loaded_assets(prefix: str, html: str) -> set[str]:
    """The asset files a page's HTML loads (``<script src>`` and ``<link href>`` under ``prefix/assets/``)."""
    return set(re.findall(rf'(?:src|href)="{re.escape(prefix)}/assets/([^"?]+)', html))


def test_the_websocket_client_exists_once() -> None:
    """Opening the socket, applying deltas, STALE and reconnect timing appear in wallboard-client.js and in no other
    file under dash_app/ (scripts, styles, Python modules and their strings), and the client opens one socket."""
    client = ASSETS / CLIENT
    elsewhere = {
        f"{path.relative_to(ROOT)}: {marker}"
        for path in source_files()
        if path != client
        for marker in CLIENT_CODE
        if marker in path.read_text(encoding="utf-8", errors="replace")
    }
    assert elsewhere == set()
    text = client.read_text(encoding="utf-8")
    assert all(marker in text for marker in CLIENT_CODE)
    assert text.count("new WebSocket(") == 1


# The lines of i18n-catalogs.js that dash_app.i18n.build_js writes.
GENERATED = ("window.WB_LANGUAGES = ", "window.WB_CATALOGS = ", "window.WB_PLURALS = ", ": (n) => ")


def test_no_javascript_in_python_strings() -> None:
    """No string in dash_app's Python is JavaScript: the pages' code is in .js assets (the ag-grid expressions of
    dash_app.grid, such as ``params.data.highlight === 'x'``, are data for dash-ag-grid, not code; dash_app.i18n
    writes the generated data file i18n-catalogs.js, assignments of JSON and of each language's plural rule, an
    arithmetic expression checked by dash_app.i18n.rule_js: its lines are that file's content)."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}"
        for path in sorted(DASH_APP.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and JAVASCRIPT.search(node.value)
        and not (path.name == "i18n.py" and node.value.startswith(GENERATED))
    ]  # fmt: skip
    assert found == []


@pytest.mark.parametrize("prefix", sorted(PAGES))
def test_each_page_loads_its_own_assets_and_the_live_pages_the_client(prefix: str) -> None:
    """The TV and supervisor pages' HTML load the shared client and their own script and styles, the ops page only
    its script; none loads another page's files, and each URL serves the file."""
    build, wanted = PAGES[prefix]
    http = build().server.test_client()
    with http.get("/") as page:
        assert page.status_code == 200
        assert loaded_assets(prefix, page.get_data(as_text=True)) == wanted
    for name in wanted:
        with http.get(f"/assets/{name}") as served:
            assert served.status_code == 200 and served.data == (ASSETS / name).read_bytes(), name


def test_every_asset_is_loaded_by_a_page() -> None:
    """No file in the assets folder is left over: each is one page's or the shared client."""
    assert {path.name for path in ASSETS.iterdir()} == set().union(*(files for _, files in PAGES.values()))


def test_assets_of_refuses_a_file_the_folder_does_not_hold() -> None:
    """A misspelt asset name fails when the page is built, naming what the folder holds."""
    with pytest.raises(FileNotFoundError, match=r"no tv\.jss in .*it holds \[.*'tv\.js'"):
        assets_of("tv.jss")


def test_the_assets_ship_with_the_package() -> None:
    """pyproject.toml's package data for dash_app covers every asset file, so an installed wallboard serves them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["dash_app"]
    shipped = [path.relative_to(DASH_APP).as_posix() for path in ASSETS.iterdir()]
    assert [name for name in shipped if not any(fnmatch.fnmatchcase(name, p) for p in patterns)] == []


def tree(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A JSON-like dict over few keys, so that two of them share keys, subtrees and values."""

    def value(level: int) -> Any:
        kind = rng.randrange(7 if level < 3 else 5)
        leaves = [None, rng.randrange(4), rng.choice(["a", "b", ""]), rng.random() < 0.5, [rng.randrange(3)]]
        return leaves[kind] if kind < 5 else tree(rng, level + 1)

    return {key: value(depth) for key in rng.sample("abcde", rng.randrange(5))}


@pytest.mark.browser
async def test_the_clients_apply_diff_follows_the_delta_format(browser: Browser) -> None:
    """For random pairs of JSON-like snapshots, the client's applyDiff turns the old one into the new one with the
    changes wallboard.core.deltas.diff makes, as deltas.apply_diff does."""
    rng = random.Random(20240101)
    pairs = [(tree(rng), tree(rng)) for _ in range(300)]
    cases = [[old, diff(old, new)] for old, new in pairs]
    page = await browser.new_page()
    await page.set_content("<!DOCTYPE html><title>client</title>")
    await page.add_script_tag(path=str(ASSETS / CLIENT))
    applied = await page.evaluate(
        "(cases) => cases.map(([old, changes]) => wallboardClient.applyDiff(old, changes))", cases
    )
    assert applied == [new for _, new in pairs] == [apply_diff(old, changes) for old, changes in cases]
    await page.close()
