"""A metric family kept as rows, and the label-name tuples the exporter's sections share.

Each family (``Family``, a prometheus_client ``Metric``) is filled with *rows*: a tuple of label values (one
tuple shared by a queue's rows) and a float, kept in two parallel lists. ``render`` writes the text exposition
straight from the rows; the ``samples`` that prometheus_client's own consumers read (``generate_latest``,
``get_sample_value``) are built from them on first access, so a large scrape creates no ``Sample`` (nor any other
object the garbage collector tracks) per sample.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

SITE = ("site",)
SITE_QUEUE = ("site", "queue")
SITE_QUEUE_WINDOW = ("site", "queue", "window")
SITE_QUEUE_STATE = ("site", "queue", "state")
SITE_COMPONENT = ("site", "component")
SITE_COMPONENT_REASON = ("site", "component", "reason")
SITE_AGENT = ("site", "agent")
SITE_AGENT_STATE = ("site", "agent", "state")


class Family(Metric):
    """A gauge or counter family of rows (label values, value); ``samples`` is built from the rows when read."""

    def __init__(self, name: str, documentation: str, kind: str, label_names: tuple[str, ...]) -> None:
        self._samples: list[Sample] | None = None
        super().__init__(name, documentation, kind)
        self.label_names = label_names
        self.sample_name = name + "_total" if kind == "counter" else name
        self.label_values: list[tuple[str, ...]] = []
        self.values: list[float] = []

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            names, name = self.label_names, self.sample_name
            rows = zip(self.label_values, self.values, strict=True)
            self._samples = [Sample(name, dict(zip(names, labels, strict=True)), value) for labels, value in rows]
        return self._samples

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        self._samples = samples or None  # Metric.__init__ sets [], which here means "built from the rows"

    def add(self, values: tuple[str, ...], value: Any) -> None:
        """Add one row (skipped when the value is absent or not a number)."""
        if value is None:
            return
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        self.label_values.append(values)
        self.values.append(number)
        self._samples = None


def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Family:
    return Family(f"wallboard_{name}", doc, "gauge", labels)


def counter(name: str, doc: str, labels: tuple[str, ...]) -> Family:
    return Family(f"wallboard_{name}", doc, "counter", labels)


def number(value: Any) -> float | None:
    """A float from a snapshot value or a Redis hash field (str or bytes); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
