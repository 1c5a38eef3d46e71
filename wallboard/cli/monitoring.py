"""What Prometheus and Grafana read: ``alerts export-rules`` (the site's thresholds as alerting rules) and
``grafana build|push`` (the history dashboards, their provisioning and the recording rules)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

from wallboard.cli.common import EXIT_OK, ConfigError, _command
from wallboard.config import Settings
from wallboard.core.site import load_site_file
from wallboard.errors import EXIT_FAILED
from wallboard.processes.messages import _

if TYPE_CHECKING:
    from wallboard.cli.common import Subparsers

log = logging.getLogger("wallboard")


def add_alerts_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``alerts export-rules [--out FILE]``."""
    alerts = _command(sub, "alerts", "alert thresholds: export them as Prometheus alerting rules", common)
    asub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    rules = _command(asub, "export-rules", "write the site file's thresholds as a Prometheus rule file", common)
    rules.add_argument("--out", type=Path, default=None, help="rule file to write (default: stdout)")
    rules.add_argument("--horizon-days", type=int, default=400, help="DST changes are resolved this far ahead")
    rules.set_defaults(func=cmd_alerts_export_rules)


def _required_site_file(args: argparse.Namespace, why: str) -> Path:
    path = getattr(args, "site_file", None) or Settings().site_file
    if path is None:
        raise ConfigError(_("{why}: pass --site-file or set WALLBOARD_SITE_FILE").format(why=why))
    return cast(Path, path)


def cmd_alerts_export_rules(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from wallboard.core.alert_rules import export_rules

    site = load_site_file(_required_site_file(args, _("the thresholds come from the site file")))
    export = export_rules(site.thresholds, site, datetime.now(UTC), horizon_days=args.horizon_days)
    for skipped in export.skipped:
        log.warning(_("threshold %s is not exported to Prometheus: %s"), skipped.threshold_id, skipped.reason)
    text = export.to_yaml()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(_("cannot write {path}: {reason}").format(path=args.out, reason=exc.strerror)) from exc
    return EXIT_OK


# -- grafana: `wallboard grafana build [--check]` and `wallboard grafana push --url URL`


def add_grafana_commands(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """``grafana build [--check]`` (generated dashboards, provisioning, recording rules) and ``grafana push``."""
    grafana = _command(sub, "grafana", "history dashboards: generate the files, push them to a Grafana", common)
    gsub = grafana.add_subparsers(dest="grafana_command", required=True, metavar="ACTION")
    build = _command(
        gsub, "build", "regenerate grafana/ and deploy/prometheus/rules/recording.yml (SL formula from --site-file)",
        common,
    )  # fmt: skip
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 listing the stale files")
    build.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    build.set_defaults(func=cmd_grafana_build)
    push = _command(
        gsub, "push", "create the folder and upload the dashboards (token: WALLBOARD_GRAFANA_TOKEN)", common
    )
    push.add_argument("--url", default=None, help="Grafana's base URL (default: WALLBOARD_GRAFANA_URL)")
    push.add_argument("--folder", default="Wallboard", help="folder title (default: Wallboard)")
    push.set_defaults(func=cmd_grafana_push)


def cmd_grafana_build(args: argparse.Namespace) -> int:
    from wallboard.grafana.build import BuildError, artefacts, stale, write

    site_file = getattr(args, "site_file", None)
    formula = load_site_file(site_file).sl_formula if site_file else "offered_minus_short"
    expected = artefacts(formula)
    try:
        if args.check:
            outdated = stale(args.root, expected)
            for path in outdated:
                print(_("stale: {path}").format(path=path), file=sys.stderr)
            if outdated:
                stale_files = _("generated files are out of date: run `wallboard grafana build`")
                print(f"wallboard: {stale_files}", file=sys.stderr)
            return EXIT_FAILED if outdated else EXIT_OK
        for path in write(args.root, expected):
            print(_("wrote {path}").format(path=path))
    except BuildError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_grafana_push(args: argparse.Namespace) -> int:
    from wallboard.grafana.dashboards import board_json, dashboards
    from wallboard.grafana.push import PushError, connect, push

    settings = Settings()
    url = args.url or settings.grafana_url
    if not url:
        raise ConfigError(_("give --url or set WALLBOARD_GRAFANA_URL to Grafana's base URL"))
    if settings.grafana_token is None:
        raise ConfigError(_("set WALLBOARD_GRAFANA_TOKEN to a Grafana service-account token (never given on argv)"))
    boards = {name: board_json(board) for name, board in dashboards().items()}
    try:
        report = push(connect(url, settings.grafana_token.get_secret_value()), boards, args.folder)
    except PushError as exc:
        print(f"wallboard: {exc}", file=sys.stderr)
        return EXIT_FAILED
    counts = {"uid": report.folder_uid, "created": len(report.created), "updated": len(report.updated),
              "unchanged": len(report.unchanged)}  # fmt: skip
    if report.folder_created:
        print(_("folder {uid} (created): {created} created, {updated} updated, {unchanged} unchanged").format(**counts))
    else:
        print(_("folder {uid}: {created} created, {updated} updated, {unchanged} unchanged").format(**counts))
    return EXIT_OK
