"""Boards as documents: what a TV shows, and the message a supervisor posts to it. Pure: models and checks.

Theory of operation
-------------------
A board is a JSON document (stored by ``wallboard.store.boards``, written through ``wallboard.admin.boards``
by the API and the CLI alike)::

    {"title": str, "queues": [queue...], "groups": [group...], "tiles": [figure key...],
     "pages": [{"title": str, "queues": [queue...], "seconds": int}], "group_tiles": bool,
     "team_tiles": bool, "teams": [team...], "campaign_tiles": bool, "campaigns": [campaign...],
     "channels": [channel...], "sound": bool, "kiosk": bool, "version": int, "updated_by": str | None,
     "updated_ts": iso | None}

:class:`BoardBody` is a board as written (validated when built: an invalid board cannot exist);
:func:`name_problems` then checks its queue, group, team and campaign names against the site's (:class:`SiteNames`),
so every problem is reported by field (``queues[1]``, ``pages[0].seconds``) whoever wrote the board.
``sound`` makes the TV chime when a tile enters alarm; ``kiosk`` says the TV's browser plays sound without a
user gesture (started with ``--autoplay-policy=no-user-gesture-required``), so the page does not ask for a
click first. ``campaign_tiles`` adds a tile per outbound campaign of ``campaigns`` (none: every campaign the
snapshot has). ``channels`` (``wallboard.core.events.CHANNELS``; none: every channel) keeps only the queues of
those channels on the board's queue and group tiles (``dash_app.layout``): a chat board, whichever queues it names.
Stored boards without these fields read as false / empty (:func:`board_fields`); the board shown
while none is stored under ``default`` (:func:`default_board`) shows every queue and every campaign.

A message (:class:`MessageBody`) is one line of cleaned text shown as a banner on the board's TVs, ``info`` or
``warn``, for ``expires_in_s`` seconds (bounded); :data:`MESSAGE_ROLES` may post and clear it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wallboard.core.events import CHANNELS, Channel
from wallboard.core.site import SiteConfig
from wallboard.core.text import CleanText
from wallboard.core.users import Role
from wallboard.errors import UsageError

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
RESERVED = frozenset({"assets"})  # paths of the TV's Dash app under /tv/
TileKey = Literal[
    "waiting",
    "longest_wait",
    "sl_interval",
    "sl_day",
    "asa",
    "aht",
    "abandon",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
    "logged_in",
    "needed",
]
TILE_KEYS: tuple[str, ...] = get_args(TileKey)  # the figures of dash_app.layout.KPIS (a test keeps them equal)
QueueName = Annotated[str, Field(min_length=1, max_length=128)]

MESSAGE_MAX_CHARS = 280
MESSAGE_MIN_S = 60
MESSAGE_MAX_S = 86_400
MESSAGE_DEFAULT_S = 3600
MESSAGE_ROLES = frozenset({Role.SUPERVISOR, Role.OPS, Role.ADMIN})  # who may post and clear a board's message


class BoardPage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: CleanText = Field(default="", max_length=80)
    queues: list[QueueName] = Field(min_length=1, max_length=50)
    seconds: int = Field(ge=5, le=3600)


class BoardBody(BaseModel):
    """A board as written (``version``: the stored version it replaces, checked when given)."""

    model_config = ConfigDict(extra="forbid")
    title: CleanText = Field(default="", max_length=80)
    queues: list[QueueName] = Field(default=[], max_length=200)
    groups: list[QueueName] = Field(default=[], max_length=50)
    tiles: list[TileKey] = Field(default=[], max_length=len(TILE_KEYS))
    pages: list[BoardPage] = Field(default=[], max_length=20)
    group_tiles: bool = False
    team_tiles: bool = False
    teams: list[QueueName] = Field(default=[], max_length=200)
    campaign_tiles: bool = Field(default=False, description="a tile per outbound campaign")
    campaigns: list[QueueName] = Field(default=[], max_length=200, description="their campaigns (none: every one)")
    channels: list[Channel] = Field(
        default=[], max_length=len(CHANNELS), description="only the queues of these channels (none: every channel)"
    )
    sound: bool = Field(default=False, description="chime when a tile enters alarm")
    kiosk: bool = Field(default=False, description="the TV's browser may play sound without a user gesture")
    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}$",
        description="the TVs' language (en, fi, nl, el, cs, de, fr, es; null: the browser's)",
    )
    version: int | None = Field(default=None, ge=0)


class Board(BaseModel):
    """A board as read."""

    title: str
    queues: list[str]
    groups: list[str]
    tiles: list[str]
    pages: list[dict[str, Any]]
    group_tiles: bool = False
    team_tiles: bool = False
    teams: list[str] = []
    campaign_tiles: bool = False
    campaigns: list[str] = []
    channels: list[str] = []
    sound: bool = False
    kiosk: bool = False
    language: str | None = None
    version: int
    updated_by: str | None = None
    updated_ts: str | None = None


class MessageBody(BaseModel):
    """A message for a board's TVs, as posted."""

    model_config = ConfigDict(extra="forbid")
    text: CleanText = Field(min_length=1, max_length=MESSAGE_MAX_CHARS)
    level: Literal["info", "warn"] = "info"
    expires_in_s: int = Field(default=MESSAGE_DEFAULT_S, ge=MESSAGE_MIN_S, le=MESSAGE_MAX_S)


class Message(BaseModel):
    """A board's message as read: ``expires_in_s`` is what is left of it when read."""

    text: str
    level: Literal["info", "warn"]
    posted_by: str
    posted_ts: str
    expires_ts: str
    expires_in_s: float


class BoardError(UsageError):
    """A board document that cannot be stored: ``problems`` lists ``(field, reason)``."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        shown = "; ".join(f"{where}: {reason}" for where, reason in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the board: {shown}")


@dataclass(frozen=True)
class SiteNames:
    """The queue, group, team and campaign names a board may name."""

    queues: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)
    campaigns: frozenset[str] = field(default_factory=frozenset)


def default_board(title: str = "") -> dict[str, Any]:
    """The board shown when none is stored: every queue with the standard tiles, and every campaign (a site with
    outbound campaigns sees their drop rate against the legal limit without configuring anything)."""
    return {**board_fields(title), "campaign_tiles": True}


def board_fields(title: str = "") -> dict[str, Any]:
    """Every field of a board, as a stored board lacking it reads (false, empty: boards stored before a field
    existed keep showing what they showed)."""
    return {
        "title": title,
        "queues": [],
        "groups": [],
        "tiles": [],
        "pages": [],
        "group_tiles": False,
        "team_tiles": False,
        "teams": [],
        "campaign_tiles": False,
        "campaigns": [],
        "channels": [],
        "sound": False,
        "kiosk": False,
        "version": 0,
    }


def parse_board(data: object) -> BoardBody:
    """``data`` (a decoded JSON or YAML document) as a board; :class:`BoardError` naming each field at fault."""
    if not isinstance(data, Mapping):
        raise BoardError([("body", f"expected a mapping of board fields, read {type(data).__name__}")])
    try:
        return BoardBody.model_validate(dict(data))
    except ValidationError as exc:
        raise BoardError((field_path(error["loc"]), error["msg"]) for error in exc.errors()) from exc


def field_path(loc: Iterable[int | str]) -> str:
    """``("pages", 0, "seconds")`` -> ``pages[0].seconds`` (the API's way of naming a field)."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def name_problems(name: str, body: BoardBody, names: SiteNames) -> list[tuple[str, str]]:
    """A reserved board name, and the queues, groups, teams and campaigns ``body`` names that the site lacks."""
    found: list[tuple[str, str]] = []
    if name in RESERVED:
        found.append(("name", f"{name!r} is reserved"))
    found += [(f"queues[{i}]", f"unknown queue {q!r}") for i, q in enumerate(body.queues) if q not in names.queues]
    found += [(f"groups[{i}]", f"unknown group {g!r}") for i, g in enumerate(body.groups) if g not in names.groups]
    found += [(f"teams[{i}]", f"unknown team {t!r}") for i, t in enumerate(body.teams) if t not in names.teams]
    found += [
        (f"campaigns[{i}]", f"unknown campaign {c!r}") for i, c in enumerate(body.campaigns) if c not in names.campaigns
    ]
    for p, page in enumerate(body.pages):
        found += [
            (f"pages[{p}].queues[{i}]", f"unknown queue {q!r}")
            for i, q in enumerate(page.queues)
            if q not in names.queues
        ]
    return found


def snapshot_names(snapshot: Mapping[str, Any] | None) -> SiteNames:
    """The queue, group, team and campaign names a snapshot shows (queues' groups, the teams and the agents'
    teams, the campaigns)."""
    queues = (snapshot or {}).get("queues") or {}
    groups = {str(q["group"]) for q in queues.values() if isinstance(q, Mapping) and q.get("group")}
    teams = set((snapshot or {}).get("teams") or {})
    agents = (snapshot or {}).get("agents") or {}
    teams |= {str(a["team"]) for a in agents.values() if isinstance(a, Mapping) and a.get("team")}
    campaigns = frozenset((snapshot or {}).get("campaigns") or {})
    return SiteNames(frozenset(queues), frozenset(groups), frozenset(teams), campaigns)


def site_names(site: SiteConfig, snapshot: Mapping[str, Any] | None) -> SiteNames:
    """What a board may name: the site file's queues (its groups, teams and campaigns, and the snapshot's too: a
    campaign the site file does not list is known once a dialer event named it)."""
    shown = snapshot_names(snapshot)
    groups = {queue.group for queue in site.queues.values() if queue.group}
    teams = set(site.teams) | {agent.team for agent in site.agents.values() if agent.team}
    campaigns = frozenset(site.campaigns) | shown.campaigns
    return SiteNames(
        frozenset(site.queues), frozenset(groups) | shown.groups, frozenset(teams) | shown.teams, campaigns
    )
