"""The text exposition (format 0.0.4) of a registry, written straight from the wallboard families' rows."""

from __future__ import annotations

import math

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from wallboard.api.exporter.family import Family

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition (format 0.0.4, served with ``CONTENT_TYPE``) of every family in ``registry``.

    Same output as ``prometheus_client.generate_latest`` (label order aside). The wallboard's own
    families are written from their rows, with each label set rendered once per scrape: about a
    fifth of generate_latest's cost, which keeps a 500-queue scrape well inside its 50 ms budget.
    """
    lines: list[str] = []
    label_text = _LabelText()
    for metric in registry.collect():
        name, kind = _exposed(metric)
        lines.append(_header(name, kind, metric.documentation))
        if isinstance(metric, Family):
            _render_rows(metric, label_text, lines)
            continue
        extra: dict[str, list[str]] = {}  # OpenMetrics-only samples become gauges of their own, as upstream does
        suffixed = {metric.name + suffix: suffix for suffix in ("_created", "_gsum", "_gcount")}
        for sample in metric.samples:
            line = f"{sample.name}{label_text(tuple(sample.labels), tuple(sample.labels.values()))} "
            suffix = suffixed.get(sample.name)
            target = lines if suffix is None else extra.setdefault(suffix, [])
            target.append(f"{line}{_go_float(sample.value)}\n")
        for suffix, samples in sorted(extra.items()):
            lines.append(_header(metric.name + suffix, "gauge", metric.documentation))
            lines.extend(samples)
    return "".join(lines).encode("utf-8")


def _render_rows(family: Family, label_text: _LabelText, lines: list[str]) -> None:
    """One line per row; label sets come from the scrape's cache, finite values are written inline."""
    prefix, names = family.sample_name, family.label_names
    texts = label_text.of(names)
    for values, value in zip(family.label_values, family.values, strict=True):
        labels = texts.get(values) or label_text(names, values)
        number = repr(value) if value - value == 0.0 else _go_float(value)
        lines.append(f"{prefix}{labels} {number}\n")


class _LabelText:
    """``{name="value",...}`` of each label set, rendered once per scrape (values escaped once each)."""

    def __init__(self) -> None:
        self._rendered: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}
        self._escaped: dict[str, str] = {}

    def of(self, names: tuple[str, ...]) -> dict[tuple[str, ...], str]:
        """The label sets of ``names`` rendered so far, by their values."""
        return self._rendered.setdefault(names, {})

    def __call__(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        rendered = self.of(names)
        text = rendered.get(values)
        if text is None:
            pairs = ",".join(f'{name}="{self._escape(value)}"' for name, value in zip(names, values, strict=True))
            text = rendered[values] = "{" + pairs + "}" if pairs else ""
        return text

    def _escape(self, raw: str) -> str:
        text = self._escaped.get(raw)
        if text is None:
            text = self._escaped[raw] = raw.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        return text


def _header(name: str, kind: str, documentation: str) -> str:
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def _exposed(metric: Metric) -> tuple[str, str]:
    """The family name and type as the 0.0.4 text format spells them."""
    if metric.type == "counter":
        return metric.name + "_total", "counter"
    if metric.type in ("info", "stateset"):
        return (metric.name + "_info" if metric.type == "info" else metric.name), "gauge"
    return metric.name, {"unknown": "untyped", "gaugehistogram": "histogram"}.get(metric.type, metric.type)


def _go_float(value: float) -> str:
    if type(value) is float and value - value == 0.0:  # finite (the common case, tested once)
        return repr(value)
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
