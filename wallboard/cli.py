"""The ``wallboard`` command: the composition root.

Only this module builds settings from the environment, configures logging, and imports
``collectors`` and ``dash_app`` together with the core. Every subcommand is a small function
that builds its collaborators and hands them over.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from wallboard.site import QueueConfig, SiteConfig, SiteFileError, load_site_file

log = logging.getLogger("wallboard")

EXIT_OK = 0
EXIT_USAGE = 2


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _sl_threshold(text: str) -> tuple[str, float]:
    queue, sep, seconds = text.rpartition("=")
    if not sep or not queue:
        raise argparse.ArgumentTypeError(f"expected QUEUE=SECONDS, read {text!r}")
    try:
        value = float(seconds)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of seconds after '=', read {seconds!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"SL threshold must be >= 0, read {value}")
    return queue, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wallboard", description="Real-time contact-center wallboard.")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging on stderr (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="replay a recorded AMI transcript or queue_log and print the figures")
    rp.add_argument("path", type=Path)
    rp.add_argument("--format", required=True, choices=["ami", "queue_log", "queue_log_csv"])
    rp.add_argument("--sl-threshold", type=_sl_threshold, action="append", default=[], metavar="QUEUE=SECONDS")
    rp.add_argument("--short-abandon", type=float, default=None, metavar="SECONDS")
    rp.add_argument("--sl-formula", choices=["offered_minus_short", "answered", "offered"], default=None)
    rp.add_argument("--site-file", type=Path, default=None)
    rp.add_argument("--site", default=None, help="site name (default: the site file's, else 'default')")
    rp.add_argument("--tz", default=None, help="site time zone (IANA name), overrides the site file")
    rp.add_argument("--frame-times", type=Path, default=None, help="ami_frames.jsonl with receive times")
    rp.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    rp.set_defaults(func=cmd_replay)
    return parser


def _site_from_args(args: argparse.Namespace) -> SiteConfig:
    site = load_site_file(args.site_file) if args.site_file else SiteConfig()
    update: dict[str, object] = {}
    if getattr(args, "site", None):
        update["site"] = args.site
    if getattr(args, "tz", None):
        update["timezone"] = args.tz
    if getattr(args, "short_abandon", None) is not None:
        update["short_abandon_s"] = args.short_abandon
    if getattr(args, "sl_formula", None):
        update["sl_formula"] = args.sl_formula
    thresholds: list[tuple[str, float]] = getattr(args, "sl_threshold", [])
    if thresholds:
        queues = dict(site.queues)
        for name, seconds in thresholds:
            base = queues.get(name, QueueConfig())
            queues[name] = base.model_copy(update={"sl_threshold_s": seconds})
        update["queues"] = queues
    if not update:
        return site
    try:
        return SiteConfig.model_validate({**site.model_dump(), **update})
    except ValueError as exc:
        raise SiteFileError(f"invalid option: {exc}") from exc


def cmd_replay(args: argparse.Namespace) -> int:
    from wallboard import replay as rp
    from wallboard.report import print_replay_table, replay_progress

    site = _site_from_args(args)
    frame_times = rp.load_frame_times(args.frame_times) if args.frame_times else None
    if not args.path.is_file():
        raise rp.ReplayError(f"cannot read {args.path}: no such file")
    with replay_progress(args.path, enabled=not args.json) as progress:
        result = rp.replay(args.path, args.format, site, frame_times=frame_times, progress=progress)
    if args.json:
        json.dump(result.to_json(), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_replay_table(result.to_json())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    from wallboard.replay import ReplayError

    try:
        code: int = args.func(args)
    except (ReplayError, SiteFileError) as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
