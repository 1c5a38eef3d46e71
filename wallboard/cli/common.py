"""What the subcommands share: the options every command takes, one-line help translated, the settings and site
from the environment and those options, and a Store on the site's Redis for commands that read or write it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wallboard.config import Settings
from wallboard.core.site import SiteConfig, load_site_file
from wallboard.core.text import printable
from wallboard.errors import EXIT_FAILED, UsageError
from wallboard.processes.messages import _, ngettext

if TYPE_CHECKING:
    from wallboard.store import Store

EXIT_OK = 0


class ConfigError(UsageError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS, [], ())
        if shown and "%(default)" not in text and "default:" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (``wallboard --site paris users list``
    and ``wallboard users list --site paris`` are the same)."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument(
        "--site",
        default=argparse.SUPPRESS,
        help="site name (default: WALLBOARD_SITE, else the site file's site:, else 'default')",  # fmt: skip
    )
    common.add_argument(
        "--site-file", type=Path, default=argparse.SUPPRESS, metavar="FILE",
        help="the site file: queues, agents, teams, thresholds, time zone (default: WALLBOARD_SITE_FILE)",
    )  # fmt: skip
    common.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
        help="where the embedded Redis keeps its data when WALLBOARD_REDIS_URL is not set "
        "(default: WALLBOARD_DATA_DIR, else the user data directory, e.g. ~/.local/share/wallboard)",
    )  # fmt: skip
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging on stderr (-v info, -vv debug)"
    )
    return common


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _command(sub: Subparsers, name: str, help_text: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A subcommand; its one-line help is translated here (the catalogs' extractor reads ``_command``'s third
    argument as a message, see ``processes.message_catalogs``: hence the name, kept like ``_``'s, in every module)."""
    shown = _(help_text)
    return sub.add_parser(name, help=shown, description=shown, parents=[common], formatter_class=HelpFormatter)


def command_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment and the options every command takes.

    The site is ``--site``, else ``WALLBOARD_SITE``, else the site file's ``site:``, else ``default``.
    """
    overrides: dict[str, Any] = {}
    for name in ("site", "site_file", "data_dir"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if args.command in ("api", "demo", "serve"):
        overrides.update({name: getattr(args, name) for name in ("host", "port") if getattr(args, name) is not None})
    settings = Settings(**overrides)
    if "site" not in settings.model_fields_set and settings.site_file is not None:
        settings = settings.model_copy(update={"site": load_site_file(settings.site_file).site})
    return settings


def site_for(settings: Settings) -> SiteConfig:
    """The site file of ``settings`` (or an empty site), named as ``settings.site``."""
    site = load_site_file(settings.site_file) if settings.site_file else SiteConfig()
    if site.site != settings.site:
        site = site.model_copy(update={"site": settings.site})
    return site


def time_zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            _("--tz {name} is not an IANA time zone name, expected e.g. Europe/Paris or UTC").format(name=repr(name))
        ) from None
    return name


def add_table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", default="queue_log", help="queue_log_db: the table (schema.table allowed)")
    parser.add_argument(
        "--table-tz", default=None, metavar="ZONE",
        help="queue_log_db: the zone the table's date-times are written in (UTC when Asterisk has "
        "queue_log_realtime_use_gmt = yes; default: the site's)",
    )  # fmt: skip


def table_zone(args: argparse.Namespace, site_zone: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(time_zone(args.table_tz) if args.table_tz else site_zone)


def with_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[int]], *, writes: bool) -> int:
    """Run ``work(store)`` against the site's Redis: ``WALLBOARD_REDIS_URL``, else the data directory's
    (``serve``'s, or started for this command and stopped after, its data kept on disk).

    A command that ``writes`` is refused (exit 2) when its Redis would be a throwaway one, started for
    this command and removed after it: the write would be lost without a word.
    """
    from redis.exceptions import RedisError

    from wallboard.store import Store, StoreError, connect
    from wallboard.store.datadir import redis_link

    settings = command_settings(args)

    async def run(url: str) -> int:
        client = connect(url, client_name="wallboard-cli")
        try:
            return await work(Store(client, prefix=settings.key_prefix, site=settings.site))
        finally:
            await client.aclose()

    with redis_link(settings) as link:
        if link.throwaway:
            if writes:
                raise ConfigError(
                    _(
                        "no data directory to write to (the user data directory cannot be created), so this would "
                        "land in a throwaway Redis and be lost: set WALLBOARD_REDIS_URL to your Redis, or "
                        "--data-dir / WALLBOARD_DATA_DIR to the directory `wallboard serve` uses"
                    )
                )
            print("wallboard: " + _("no data directory: reading an empty throwaway Redis"), file=sys.stderr)
        try:
            return asyncio.run(run(link.url))
        except StoreError as exc:  # an unreadable stored document
            print(f"wallboard: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except (RedisError, OSError) as exc:
            unreachable = _("cannot reach Redis ({kind}: {error})").format(kind=type(exc).__name__, error=exc)
            print(f"wallboard: {unreachable}", file=sys.stderr)
            return EXIT_FAILED


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def print_row(*fields: object) -> None:
    """One line of a listing, tab-separated, stored text escaped (``core.text.printable``): a label holding
    terminal escape sequences is shown as ``\\x1b]0;...``, never run by the terminal."""
    print("\t".join(printable(field) for field in fields))


def nothing_stored(where: object, problems: int) -> str:
    return ngettext("{where}: {n} problem, nothing stored", "{where}: {n} problems, nothing stored", problems).format(
        where=where, n=problems
    )
