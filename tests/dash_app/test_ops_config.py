"""The ops page's configuration: its vocabularies are the API's, and each section's permission is one the API grants."""

from __future__ import annotations

from typing import get_args

from dash_app.layout import KPI_KEYS
from dash_app.ops import ASSETS, CHANNELS, DIRECTIONS, METRICS, PASSWORD_MIN, ROLES, SECTIONS, SEVERITIES, ops_config
from wallboard.api.board_routes import TILE_KEYS
from wallboard.core.events import CHANNELS as EVENT_CHANNELS
from wallboard.core.thresholds import Direction, Metric, Severity
from wallboard.core.users import MIN_PASSWORD_LENGTH, Permission, Role


def test_the_vocabularies_are_the_apis() -> None:
    """Metrics, severities, directions and roles offered by the page are exactly those the API accepts."""
    assert METRICS == tuple(Metric)
    assert SEVERITIES == get_args(Severity)
    assert DIRECTIONS == tuple(Direction)
    assert ROLES == tuple(Role)
    assert CHANNELS == EVENT_CHANNELS
    assert PASSWORD_MIN == MIN_PASSWORD_LENGTH


def test_every_section_asks_for_a_real_permission() -> None:
    """Each section is shown for a permission /api/v1/me can list, and no two sections share a key."""
    assert {section.permission for section in SECTIONS} <= {str(p) for p in Permission}
    assert len({section.key for section in SECTIONS}) == len(SECTIONS)


def test_the_board_tiles_are_the_tvs_and_the_api_takes_them() -> None:
    """The tiles a board may choose are the TV's figures, in its order, and the boards API accepts each of them."""
    offered = [tile["key"] for tile in ops_config()["tiles"]]
    assert offered == list(KPI_KEYS)
    assert sorted(set(offered) - set(TILE_KEYS)) == []


def test_every_offered_value_has_a_label_to_translate() -> None:
    """Severities, directions, roles and channels each have a label for the browser to translate (the value sent
    stays)."""
    config = ops_config()
    for kind in ("severities", "directions", "roles", "channels"):
        assert sorted(config["labels"][kind]) == sorted(config[kind])


def test_the_page_loads_its_languages_before_its_script() -> None:
    """The catalogs and i18n.js sort ahead of ops.js, and so do its parts (which only register their sections for
    ops.js to build): Dash loads a page's assets in file-name order."""
    scripts = [name for name in ASSETS if name.endswith(".js")]
    assert scripts == sorted(scripts) == ["i18n-catalogs.js", "i18n.js", "ops-boards.js", "ops-people.js", "ops.js"]
