"""The "Pipeline health" dashboard: the collectors' ingest, rejects and reconnects, the engine's lag, data age."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

from wallboard.grafana.panels import SITE, base_dashboard, series, stat_panel, target


def pipeline_health() -> Dashboard:
    """Ingest rate, stream lag, rejects, reconnects and data age of the collectors and the engine."""
    board = base_dashboard(
        "Wallboard / Pipeline health",
        "wallboard-pipeline-health",
        "The data pipeline: collectors' ingest rate, rejects and reconnects, the engine's lag, data age.",
    )
    board = board.with_row(Row("Now"))
    board = board.with_panel(
        stat_panel(
            "Collectors connected",
            "Connected collectors (1 each).",
            "short",
            f"sum(max by (component) (wallboard_collector_connected{{{SITE}}}))",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        stat_panel(
            "Stream lag",
            "Stream entries the engine has not applied yet.",
            "short",
            f"max(wallboard_stream_lag{{{SITE}}})",
            span=8,
        )  # fmt: skip
    )
    board = board.with_panel(
        stat_panel(
            "Snapshot age",
            "Seconds since the engine's latest snapshot.",
            "s",
            f"max(wallboard_snapshot_age_seconds{{{SITE}}})",
            span=8,
        )  # fmt: skip
    )
    board = board.with_row(Row("Over time"))
    rate: Callable[[str, str], str] = lambda family, by: (  # noqa: E731
        f"max by ({by}) (rate(wallboard_{family}_total{{{SITE}}}[$__rate_interval]))"
    )
    board = board.with_panel(
        series(
            "Ingest rate",
            "Records read per second by each collector.",
            "reqps",
            target(rate("events_ingested", "component"), "{{component}}"),
        )  # fmt: skip
    )
    board = board.with_panel(
        series(
            "Rejected records",
            "Records rejected per second, by component and reason.",
            "reqps",
            target(rate("events_rejected", "component, reason"), "{{component}} {{reason}}"),
        )  # fmt: skip
    )
    board = board.with_panel(
        series(
            "Reconnects",
            "Collector reconnections per $window.",
            "short",
            target(
                f"max by (component) (increase(wallboard_collector_reconnects_total{{{SITE}}}[$window]))",
                "{{component}}",
            ),
        ).interval("$window")  # fmt: skip
    )
    board = board.with_panel(
        series(
            "Stream lag",
            "Entries waiting for the engine.",
            "short",
            target(f"max(wallboard_stream_lag{{{SITE}}})", "lag"),
        )  # fmt: skip
    )
    board = board.with_panel(
        series(
            "Data age",
            "Seconds since each component's last event and the snapshot's age.",
            "s",
            target(f"max by (component) (wallboard_last_event_age_seconds{{{SITE}}})", "{{component}} last event", "A"),
            target(f"max(wallboard_snapshot_age_seconds{{{SITE}}})", "snapshot", "B"),
        )
    )
    return board.with_panel(
        series(
            "Scrapes",
            "1 while Prometheus scrapes each API replica.",
            "short",
            target('up{job="wallboard"}', "{{instance}}"),
        )  # fmt: skip
    )
